"""Activations against PyTorch: every functional form (forward, backward, gradients of gradients, values and
derivatives exactly at the kinks, in-place variants), the modules (arguments, extra_repr, PReLU's parameter,
RReLU's training and eval modes) and the error cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F
from gpubp.testing import gradcheck, gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
TF = torch.nn.functional if torch is not None else None

# (name, kwargs): elementwise functions of one tensor, compared with PyTorch at tight float64 tolerance
ELEMENTWISE = [
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 1.5}),
    ("relu6", {}),
    ("hardswish", {}),
    ("mish", {}),
    ("selu", {}),
    ("celu", {}),
    ("softsign", {}),
    ("logsigmoid", {}),
    ("tanhshrink", {}),
    ("softshrink", {}),
    ("softshrink", {"lambd": 1.2}),
    ("hardshrink", {"lambd": 0.3}),
    ("threshold", {"threshold": 0.2, "value": -1.5}),
    ("rrelu", {"lower": 0.1, "upper": 0.3}),  # eval mode: leaky relu with the mean slope
]


def _pair(name: str, **kw: Any) -> tuple[Callable, Callable | None]:
    ours = getattr(F, name)
    theirs = getattr(TF, name) if TF is not None else None
    return (lambda x: ours(x, **kw)), ((lambda x: theirs(x, **kw)) if theirs is not None else None)


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ELEMENTWISE)])
def test_elementwise_matches_torch(device: str, name: str, kw: dict) -> None:
    ours, theirs = _pair(name, **kw)
    check_op(device, ours, theirs, [(3, 5)], "any", key=(name, "a"))
    check_op(device, ours, theirs, [(2, 3, 4)], "any", key=(name, "b"), noncontig=True)


# every kink of each piecewise function, and points either side of it
KINKS = [-6.0, -3.0, -2.0, -1.5, -1.0, -0.5, -0.2, 0.0, 0.2, 0.3, 0.5, 1.0, 1.5, 3.0, 6.0, 7.0, -30.0, 30.0]
AT_KINKS = ELEMENTWISE + [("hardsigmoid", {}), ("celu", {"alpha": 0.7}), ("relu6", {"inplace": False})]


@needs_torch
@pytest.mark.parametrize("name,kw", AT_KINKS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(AT_KINKS)])
def test_values_and_derivatives_at_kinks(device: str, name: str, kw: dict) -> None:
    ours, theirs = _pair(name, **kw)
    x = gpubp.tensor(KINKS, dtype=gpubp.float64, device=device, requires_grad=True)
    t = torch.tensor(KINKS, dtype=torch.float64, requires_grad=True)
    y, ty = ours(x), theirs(t)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().cpu().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    # PyTorch's hardsigmoid backward uses 1/6 rounded to float32 and its celu backward 1/alpha in float32: ours are
    # exact, so those two compare at float32's precision
    rtol = 1e-6 if name in ("hardsigmoid", "celu") else 1e-12
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("name", ["hardtanh", "hardswish", "hardsigmoid", "mish", "selu", "celu", "softshrink"])
def test_gradients_of_gradients(device: str, name: str) -> None:
    x = gpubp.tensor(rng_for(name).uniform(-4, 4, (7,)), device=device, requires_grad=True)
    gradgradcheck(getattr(F, name), [x])


def test_hardsigmoid_matches_torch(device: str) -> None:
    check_op(device, F.hardsigmoid, None, [(4, 5)], key="hardsigmoid")  # gradcheck only (PyTorch: float32 1/6)
    if torch is None:
        return
    a = rng_for("hs").uniform(-4, 4, (6, 5))
    x = gpubp.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    F.hardsigmoid(x).sum().backward()
    TF.hardsigmoid(t).sum().backward()
    np.testing.assert_allclose(F.hardsigmoid(x).detach().cpu().numpy(), TF.hardsigmoid(t).detach().numpy(), 1e-12)
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-7)


def test_celu_alpha(device: str) -> None:
    f = lambda x: F.celu(x, 0.6)  # noqa: E731
    check_op(device, f, None, [(3, 4)], key="celu")
    if torch is not None:
        a = rng_for("celu").standard_normal((3, 4))
        np.testing.assert_allclose(
            f(gpubp.tensor(a, device=device)).cpu().numpy(), TF.celu(torch.tensor(a), 0.6).numpy(), rtol=1e-12
        )


@pytest.mark.parametrize(
    "xshape,wshape", [((2, 3, 4), (3,)), ((2, 3), (1,)), ((2, 3, 2, 2), (3,)), ((5,), (1,)), ((), (1,))]
)
def test_prelu_matches_torch(device: str, xshape: tuple, wshape: tuple) -> None:
    tf = TF.prelu if TF is not None else None
    check_op(device, F.prelu, tf, [xshape, wshape], ["any", "pos"], key=("prelu", xshape))


@pytest.mark.parametrize("dim,shape", [(-1, (3, 4)), (0, (6, 2)), (1, (2, 4, 3))])
def test_glu_matches_torch(device: str, dim: int, shape: tuple) -> None:
    theirs = (lambda x: TF.glu(x, dim)) if TF is not None else None
    check_op(device, lambda x: F.glu(x, dim), theirs, [shape], key=("glu", dim), noncontig=True)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmin_matches_torch(device: str, dim: int) -> None:
    theirs = (lambda x: TF.softmin(x, dim)) if TF is not None else None
    check_op(device, lambda x: F.softmin(x, dim), theirs, [(3, 4)], key=("softmin", dim))


@needs_torch
def test_softmin_dtype_and_legacy_dim(device: str) -> None:
    a = rng_for("smd").standard_normal((2, 3)).astype(np.float32)
    y = F.softmin(gpubp.tensor(a, device=device), 1, dtype=gpubp.float64)
    assert y.dtype == gpubp.float64
    np.testing.assert_allclose(y.cpu().numpy(), TF.softmin(torch.tensor(a), 1, dtype=torch.float64).numpy(), 1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        y = nn.Softmin()(gpubp.tensor(a, device=device))
    np.testing.assert_allclose(y.cpu().numpy(), TF.softmin(torch.tensor(a), 1).numpy(), rtol=1e-6)


@needs_torch
def test_softmax2d(device: str) -> None:
    a = rng_for("sm2d").standard_normal((2, 3, 4, 2))
    for arr in (a, a[0]):
        ours = nn.Softmax2d()(gpubp.tensor(arr, device=device))
        np.testing.assert_allclose(ours.cpu().numpy(), torch.nn.Softmax2d()(torch.tensor(arr)).numpy(), rtol=1e-12)
    check_op(device, nn.Softmax2d(), torch.nn.Softmax2d(), [(2, 3, 2, 2)], key="sm2d")
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        nn.Softmax2d()(gpubp.ones(2, 3, device=device))


INPLACE = [
    ("hardtanh_", "hardtanh", {"min_val": -0.5, "max_val": 0.7}),
    ("selu_", "selu", {}),
    ("celu_", "celu", {"alpha": 1.3}),
    ("threshold_", "threshold", {"threshold": 0.1, "value": 2.0}),
    ("rrelu_", "rrelu", {}),
    ("elu_", "elu", {}),
    ("leaky_relu_", "leaky_relu", {}),
]


@pytest.mark.parametrize("inplace_name,name,kw", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_variants(device: str, inplace_name: str, name: str, kw: dict) -> None:
    a = rng_for(inplace_name).standard_normal((3, 4)) * 2
    expected = getattr(F, name)(gpubp.tensor(a, device=device), **kw).cpu().numpy()
    x = gpubp.tensor(a, device=device)
    assert getattr(F, inplace_name)(x, **kw) is x
    np.testing.assert_allclose(x.cpu().numpy(), expected, rtol=1e-12)
    y = gpubp.tensor(a, device=device)
    assert getattr(F, name)(y, inplace=True, **kw) is y
    np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-12)
    # through the graph: the in-place result of a non-leaf has the out-of-place gradient
    leaf = gpubp.tensor(a, device=device, requires_grad=True)
    getattr(F, inplace_name)(leaf * 1.0, **kw).sum().backward()
    ref = gpubp.tensor(a, device=device, requires_grad=True)
    getattr(F, name)(ref, **kw).sum().backward()
    np.testing.assert_allclose(leaf.grad.cpu().numpy(), ref.grad.cpu().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=inplace_name):
        getattr(F, inplace_name)(gpubp.tensor(a, device=device, requires_grad=True), **kw)


@pytest.mark.parametrize("name", ["relu6", "hardswish", "hardsigmoid", "mish", "selu", "celu", "rrelu", "threshold"])
def test_inplace_flag(device: str, name: str) -> None:
    kw = {"threshold": 0.3, "value": 0.0} if name == "threshold" else {}
    a = rng_for(name).uniform(-5, 5, (4, 3))
    expected = getattr(F, name)(gpubp.tensor(a, device=device), **kw).cpu().numpy()
    x = gpubp.tensor(a, device=device)
    assert getattr(F, name)(x, inplace=True, **kw) is x
    np.testing.assert_allclose(x.cpu().numpy(), expected, rtol=1e-12)


@needs_torch
def test_integer_inputs_as_torch(device: str) -> None:
    xi = [-4, 0, 1, 2, 7]
    for ours, theirs in [
        (lambda x: F.hardtanh(x), lambda x: TF.hardtanh(x)),
        (lambda x: F.hardtanh(x, -1.5, 1.5), lambda x: TF.hardtanh(x, -1.5, 1.5)),
        (F.relu6, TF.relu6),
        (lambda x: F.threshold(x, 0.5, 2.5), lambda x: TF.threshold(x, 0.5, 2.5)),
        (F.softsign, TF.softsign),
    ]:
        y, ty = ours(gpubp.tensor(xi, device=device)), theirs(torch.tensor(xi))
        assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
        np.testing.assert_allclose(y.cpu().numpy(), ty.numpy(), rtol=1e-6)
    for name in ["hardswish", "hardsigmoid", "mish", "selu", "celu", "logsigmoid", "softshrink", "hardshrink", "glu"]:
        with pytest.raises(TypeError, match=f"{name}: not implemented for int64"):
            getattr(F, name)(gpubp.tensor([2, 4], device=device))
    with pytest.raises(TypeError, match="hardtanh: Bool inputs not supported"):
        F.hardtanh(gpubp.tensor([True, False], device=device))


def test_rrelu_training_samples_slopes(device: str) -> None:
    gpubp.manual_seed(0)
    a = -rng_for("rrelu").uniform(0.5, 2.0, (200, 50))
    x = gpubp.tensor(a, device=device, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slope = y.detach().cpu().numpy() / a
    assert slope.min() >= 0.1 and slope.max() <= 0.3
    assert abs(slope.mean() - 0.2) < 0.005 and abs(slope.std() - 0.2 / np.sqrt(12)) < 0.005
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), slope, rtol=1e-10)  # d/dx (r x) = r, the sampled slope
    pos = gpubp.tensor(np.abs(a), device=device)
    np.testing.assert_array_equal(F.rrelu(pos, training=True).cpu().numpy(), np.abs(a))
    m = nn.RReLU(0.1, 0.3)
    assert m.training
    slope_m = m(gpubp.tensor(a, device=device)).cpu().numpy() / a
    assert slope_m.std() > 0.03
    m.eval()
    np.testing.assert_allclose(m(gpubp.tensor(a, device=device)).cpu().numpy(), a * 0.2, rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("num,shape", [(1, (2, 3, 4)), (3, (2, 3, 4)), (3, (4, 3))])
def test_prelu_module_against_torch(device: str, num: int, shape: tuple) -> None:
    tm = torch.nn.PReLU(num, init=0.1).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(rng_for("w", num).uniform(0.05, 0.5, num)))
    m = nn.PReLU(num, init=0.1, device=device, dtype=gpubp.float64)
    np.testing.assert_array_equal(m.weight.detach().cpu().numpy(), np.full(num, 0.1))
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
    m.load_state_dict({"weight": tm.weight.detach().numpy()})
    a = rng_for("x", shape).standard_normal(shape)
    x, tx = gpubp.tensor(a, device=device), torch.tensor(a)
    y, ty = m(x), tm(tx)
    np.testing.assert_allclose(y.detach().cpu().numpy(), ty.detach().numpy(), rtol=1e-12)
    c = rng_for("c", shape).standard_normal(shape)
    (y * gpubp.tensor(c, device=device)).sum().backward()
    (ty * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(m.weight.grad.cpu().numpy(), tm.weight.grad.numpy(), rtol=1e-10)
    assert repr(m) == repr(tm)
    assert m.weight.dtype == gpubp.float64


@needs_torch
def test_module_reprs_and_defaults() -> None:
    pairs = [
        (nn.Hardtanh(), torch.nn.Hardtanh()),
        (nn.Hardtanh(-2, 2, True), torch.nn.Hardtanh(-2, 2, True)),
        (nn.ReLU6(), torch.nn.ReLU6()),
        (nn.ReLU6(True), torch.nn.ReLU6(True)),
        (nn.Hardswish(True), torch.nn.Hardswish(True)),
        (nn.Hardsigmoid(True), torch.nn.Hardsigmoid(True)),
        (nn.Mish(True), torch.nn.Mish(True)),
        (nn.SELU(True), torch.nn.SELU(True)),
        (nn.SELU(), torch.nn.SELU()),
        (nn.CELU(2.0, True), torch.nn.CELU(2.0, True)),
        (nn.PReLU(), torch.nn.PReLU()),
        (nn.RReLU(), torch.nn.RReLU()),
        (nn.RReLU(0.1, 0.3, True), torch.nn.RReLU(0.1, 0.3, True)),
        (nn.Softsign(), torch.nn.Softsign()),
        (nn.LogSigmoid(), torch.nn.LogSigmoid()),
        (nn.GLU(), torch.nn.GLU()),
        (nn.GLU(1), torch.nn.GLU(1)),
        (nn.Softmin(), torch.nn.Softmin()),
        (nn.Softmin(1), torch.nn.Softmin(1)),
        (nn.Softmax2d(), torch.nn.Softmax2d()),
        (nn.Threshold(0.1, 2.0, True), torch.nn.Threshold(0.1, 2.0, True)),
        (nn.Tanhshrink(), torch.nn.Tanhshrink()),
        (nn.Softshrink(), torch.nn.Softshrink()),
        (nn.Hardshrink(0.3), torch.nn.Hardshrink(0.3)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    assert (nn.ReLU6().min_val, nn.ReLU6().max_val) == (0.0, 6.0)
    assert nn.PReLU().weight.shape == (1,) and nn.PReLU().init == 0.25
    with pytest.warns(FutureWarning, match="min_value` is deprecated"):
        assert nn.Hardtanh(min_value=-3.0).min_val == -3.0
    with pytest.warns(FutureWarning, match="max_value` is deprecated"):
        assert nn.Hardtanh(max_value=3.0).max_val == 3.0


@needs_torch
@pytest.mark.parametrize(
    "ours,theirs",
    [
        (lambda: nn.Hardswish(), lambda: torch.nn.Hardswish()),
        (lambda: nn.Mish(), lambda: torch.nn.Mish()),
        (lambda: nn.SELU(), lambda: torch.nn.SELU()),
        (lambda: nn.CELU(), lambda: torch.nn.CELU()),
        (lambda: nn.Softsign(), lambda: torch.nn.Softsign()),
        (lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
        (lambda: nn.GLU(1), lambda: torch.nn.GLU(1)),
        (lambda: nn.Softmin(1), lambda: torch.nn.Softmin(1)),
        (lambda: nn.Threshold(0.1, -1.0), lambda: torch.nn.Threshold(0.1, -1.0)),
        (lambda: nn.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
        (lambda: nn.Softshrink(0.4), lambda: torch.nn.Softshrink(0.4)),
        (lambda: nn.Hardshrink(0.4), lambda: torch.nn.Hardshrink(0.4)),
        (lambda: nn.Hardtanh(-0.5, 0.5), lambda: torch.nn.Hardtanh(-0.5, 0.5)),
        (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6()),
        (lambda: nn.RReLU().eval(), lambda: torch.nn.RReLU().eval()),
    ],
)
def test_modules_match_torch(device: str, ours: Callable, theirs: Callable) -> None:
    check_op(device, ours(), theirs(), [(2, 4, 3)], key=repr(theirs()))


def test_errors(device: str) -> None:
    x = gpubp.ones(2, 3, device=device)
    with pytest.raises(ValueError, match="hardtanh: min_val cannot be greater than max_val"):
        F.hardtanh(x, 1.0, 0.0)
    with pytest.raises(AssertionError, match=r"Hardtanh: max_val \(0.0\) must be greater than min_val \(1.0\)"):
        nn.Hardtanh(1.0, 0.0)
    with pytest.raises(RuntimeError, match="softshrink: lambda must be in range"):
        F.softshrink(x, -1.0)
    with pytest.raises(RuntimeError, match="celu: ZeroDivisionError: alpha cannot be 0 for CELU"):
        F.celu(x, 0.0)
    with pytest.raises(RuntimeError, match="rrelu: Lower bound should be less than or equal to the upper bound"):
        F.rrelu(x, 0.5, 0.2, training=True)
    with pytest.raises(RuntimeError, match="glu: Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(x)
    with pytest.raises(RuntimeError, match="glu: glu does not support scalars"):
        F.glu(gpubp.tensor(1.0, device=device))
    with pytest.raises(RuntimeError, match="prelu: Mismatch of parameter numbers and input channel size. Found "):
        F.prelu(x, gpubp.ones(2, device=device))
    with pytest.raises(RuntimeError, match="prelu: Mismatch .* parameter numbers = 3 and channel size = 1"):
        F.prelu(gpubp.ones(3, device=device), gpubp.ones(3, device=device))
    with pytest.raises(RuntimeError, match="prelu: Not allow zero-dim input"):
        F.prelu(gpubp.tensor(1.0, device=device), gpubp.ones(3, device=device))
    with pytest.raises(RuntimeError, match="prelu: Expected `weight` to be a scalar or 1D tensor"):
        F.prelu(x, gpubp.ones(3, 1, device=device))
    with pytest.raises(RuntimeError, match="prelu: Type promoting not supported"):
        F.prelu(x, gpubp.ones(3, dtype=gpubp.float64, device=device))
    with pytest.raises(TypeError, match="threshold: argument 'value' must be a number"):
        F.threshold(x, 0.5, "a")
    with pytest.raises(TypeError, match="hardswish: input must be a Tensor"):
        F.hardswish([1.0, 2.0])
    with pytest.raises(TypeError, match="PReLU: num_parameters must be an int"):
        nn.PReLU(2.5)


def test_prelu_gradcheck_weight_per_channel(device: str) -> None:
    rng = rng_for("prelu-gc")
    x = gpubp.tensor(rng.standard_normal((2, 3, 2)), device=device, requires_grad=True)
    w = gpubp.tensor(rng.uniform(0.1, 0.5, 3), device=device, requires_grad=True)
    gradcheck(F.prelu, [x, w])
    gradgradcheck(F.prelu, [x, w])


@needs_torch
@pytest.mark.parametrize("name,kw", AT_KINKS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(AT_KINKS)])
def test_nan_propagates_as_torch(device: str, name: str, kw: dict) -> None:
    ours, theirs = _pair(name, **kw)
    vals = [float("nan"), 1.0, -1.0]
    x = gpubp.tensor(vals, dtype=gpubp.float64, device=device, requires_grad=True)
    t = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    y, ty = ours(x), theirs(t)
    np.testing.assert_array_equal(np.isnan(y.detach().cpu().numpy()), np.isnan(ty.detach().numpy()))
    if name in ("selu", "celu"):  # their NaN gradient comes from ops.elu, whose derivative at NaN is NaN
        return
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-6, equal_nan=True)


class _HostRead(AssertionError):
    pass


class _StrictArray(np.ndarray):
    """A NumPy array that refuses every read back to a Python value while ``strict`` (as tests/test_no_sync.py)."""

    strict = False

    def _refuse(self, what: str) -> None:
        if _StrictArray.strict:
            raise _HostRead(f"{what} on device data")

    def __bool__(self) -> bool:
        self._refuse("bool()")
        return super().__bool__()

    def __float__(self) -> float:
        self._refuse("float()")
        return super().__float__()

    def __int__(self) -> int:
        self._refuse("int()")
        return super().__int__()

    def item(self, *args: object) -> object:
        self._refuse("item()")
        return super().item(*args)

    def tolist(self) -> object:
        self._refuse("tolist()")
        return super().tolist()


def test_no_host_reads_in_forward_backward_or_clipping() -> None:
    """Every activation's forward and backward, PReLU's weight gradient, RReLU's sampling and clip_grad_norm_ /
    clip_grad_value_ run without reading device data on the host. (A partial proof: arrays stay strict through
    ufuncs and reductions, but np.where and the fused norm return plain arrays, whose later reads go unseen.)"""
    rng = rng_for("strict")
    x = gpubp.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    w = gpubp.tensor(rng.uniform(0.1, 0.5, 6), requires_grad=True)
    x._data = x._data.view(_StrictArray)
    w._data = w._data.view(_StrictArray)
    fns = [getattr(F, n) for n in ["hardtanh", "relu6", "hardswish", "hardsigmoid", "mish", "selu", "celu"]]
    fns += [getattr(F, n) for n in ["softsign", "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "glu"]]
    fns += [lambda t: F.softmin(t, 1), lambda t: F.threshold(t, 0.1, 2.0), lambda t: F.rrelu(t, training=True)]
    fns += [lambda t: F.prelu(t, w), lambda t: F.hardtanh(t * 1.0, inplace=True)]
    _StrictArray.strict = True
    try:
        for fn in fns:
            fn(x).sum().backward()
        p = nn.Parameter(gpubp.ones(3))
        p.grad = gpubp.tensor([3.0, 4.0, 1.0])
        p.grad._data = p.grad._data.view(_StrictArray)
        nn.utils.clip_grad_norm_([p], 1.0)
        nn.utils.clip_grad_norm_([p], 1.0, norm_type=3.0)
        nn.utils.clip_grad_value_([p], 0.1)
    finally:
        _StrictArray.strict = False
    assert x.grad is not None and w.grad is not None
    _StrictArray.strict = True
    try:
        with pytest.raises(_HostRead), x._be.enter():  # the check can fail: an op's output stays strict
            bool((x * 2.0 > 0)._data.any())  # `if a.any():` is caught
    finally:
        _StrictArray.strict = False


def test_float16_sigmoid_family_keeps_its_dtype_and_elu_gradient_at_nan(device: str) -> None:
    """SciPy's expit computes float16 in float32: the result is cast back (sigmoid, silu, glu stay float16); elu's
    derivative at a NaN input is the identity branch's 1, as PyTorch's."""
    x = gpubp.tensor(np.array([1.0, -2.0, 0.5, 3.0]), dtype=gpubp.float16, device=device)
    for out in (gpubp.sigmoid(x), F.silu(x), F.glu(x)):
        assert out.dtype == gpubp.float16
    x = gpubp.tensor([1.0, -2.0, float("nan")], dtype=gpubp.float64, device=device, requires_grad=True)
    F.elu(x).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.0, np.exp(-2.0), 1.0], rtol=1e-12)
