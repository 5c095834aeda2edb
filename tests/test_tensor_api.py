"""The Tensor API PyTorch programs lean on: ``.data`` as a detached tensor, type names and casts, ``new_*``,
strides, ``t``/``narrow``/``mm``/``bmm`` and their errors, in-place random fills, ``randperm``, factory keywords,
and the grad-mode decorators; each against PyTorch where installed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp


def _pair(device: str, shape: tuple, key: str) -> tuple:
    a = rng_for(key, shape).standard_normal(shape).astype(np.float32)
    return gpubp.tensor(a, device=device), (torch.tensor(a) if torch is not None else None)


# ---- .data -----------------------------------------------------------------------------------------------------


def test_data_is_a_detached_tensor_sharing_memory(device: str) -> None:
    w = gpubp.tensor(rng_for("data").standard_normal((3, 2)), dtype=gpubp.float32, device=device, requires_grad=True)
    d = w.data
    assert isinstance(d, gpubp.Tensor) and not d.requires_grad and d.is_leaf and d.device == w.device
    before = w.detach().cpu().numpy().copy()
    d.add_(1.5)  # the classic manual SGD step: no error, no graph, w changes with it
    np.testing.assert_allclose(w.detach().cpu().numpy(), before + 1.5, rtol=1e-6)
    w.data.uniform_(-0.1, 0.1)
    assert float(w.detach().abs().max()) <= 0.1
    loss = (w * w).sum()
    w.data.mul_(2)  # .data has its own version counter: autograd does not see this change, as in PyTorch
    loss.backward()
    assert w.grad.shape == (3, 2)


def test_data_assignment_replaces_values_shape_and_dtype(device: str) -> None:
    w = gpubp.zeros(2, 3, device=device, requires_grad=True)
    new = gpubp.tensor(rng_for("assign").standard_normal((4,)), device=device)  # float64
    w.data = new
    assert w.shape == (4,) and w.dtype == gpubp.float64 and w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.detach().cpu().numpy(), new.cpu().numpy())
    with pytest.raises(TypeError, match=r"data: expected a Tensor, got list"):
        w.data = [1.0, 2.0]
    with pytest.raises(TypeError, match=r"requires grad needs floating-point data, got dtype int64"):
        w.data = gpubp.arange(3, device=device)
    if torch is not None:
        tw = torch.zeros(2, 3, requires_grad=True)
        tw.data = torch.randn(4, dtype=torch.float64)
        assert tuple(tw.shape) == (4,) and tw.dtype == torch.float64 and tw.requires_grad


# ---- types, new_*, strides -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"])
def test_type_names_and_casts_match_pytorch(device: str, dt: str) -> None:
    x = gpubp.ones(2, dtype=getattr(gpubp, dt), device=device)
    name = x.type()
    if torch is not None:
        assert name.replace("torch.cuda.", "torch.") == torch.ones(2, dtype=getattr(torch, dt)).type()
    assert name.startswith("torch.cuda." if device != "cpu" else "torch.") and x.is_cuda == (device != "cpu")
    assert x.is_cpu == (device == "cpu")
    assert x.type(gpubp.float64).dtype == gpubp.float64 and x.type("torch.LongTensor").dtype == gpubp.int64
    assert x.type(x.dtype) is x
    with pytest.raises(ValueError, match=r"invalid type 'torch.Banana'"):
        x.type("torch.Banana")


def test_new_factories_take_dtype_and_device_from_self(device: str) -> None:
    x = gpubp.ones(2, dtype=gpubp.float64, device=device)
    for out, shape, value in [
        (x.new_zeros(2, 3), (2, 3), 0.0),
        (x.new_zeros((2, 3)), (2, 3), 0.0),
        (x.new_ones([4]), (4,), 1.0),
        (x.new_full((3, 1), 2.5), (3, 1), 2.5),
    ]:
        assert out.shape == shape and out.dtype == gpubp.float64 and out.device == x.device
        np.testing.assert_array_equal(out.cpu().numpy(), np.full(shape, value))
    assert x.new_empty(3, 2).shape == (3, 2) and x.new_zeros(2, dtype=gpubp.int32).dtype == gpubp.int32
    t = x.new_tensor([[1, 2], [3, 4]])
    assert t.dtype == gpubp.float64 and t.device == x.device and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert x.new_zeros(2, requires_grad=True).requires_grad
    if torch is not None:
        tx = torch.ones(2, dtype=torch.float64)
        assert tx.new_tensor([[1, 2], [3, 4]]).dtype == torch.float64 and tx.new_zeros((2, 3)).shape == (2, 3)


def test_strides_contiguity_and_sizes_match_pytorch(device: str) -> None:
    x, tx = _pair(device, (3, 4, 5), "stride")
    views = [lambda a: a, lambda a: a.transpose(0, 2), lambda a: a[:, 1:3], lambda a: a.permute(1, 0, 2)[::2]]
    for view in views:
        v = view(x)
        assert v.numel() == v.nelement() and v.element_size() == 4
        if tx is not None:
            tv = view(tx)
            assert v.stride() == tv.stride() and v.stride(-1) == tv.stride(-1)
            assert v.is_contiguous() == tv.is_contiguous() and v.is_floating_point() == tv.is_floating_point()
    assert x.data_ptr() != 0 and x[1:].data_ptr() == x.data_ptr() + 20 * 4


# ---- t, narrow, mm, bmm ----------------------------------------------------------------------------------------


def test_t_narrow_mm_bmm_values_and_views(device: str) -> None:
    a, ta = _pair(device, (3, 4), "tn")
    b, tb = _pair(device, (4, 2), "tn2")
    p, tp = _pair(device, (2, 3, 4), "b1")
    q, tq = _pair(device, (2, 4, 5), "b2")
    v, tv = _pair(device, (5,), "v")
    outs = [
        a.t(),
        gpubp.t(v),
        a.narrow(1, 1, 2),
        a.narrow(0, -2, 2),
        gpubp.narrow(p, 2, 0, 4),
        a.mm(b),
        gpubp.bmm(p, q),
    ]
    if torch is None:
        return
    want = [ta.t(), tv.t(), ta.narrow(1, 1, 2), ta.narrow(0, -2, 2), tp.narrow(2, 0, 4), ta.mm(tb), torch.bmm(tp, tq)]
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.cpu().numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    n = a.narrow(1, 1, 2)
    n.mul_(0)  # a view: the change shows in a, as in PyTorch
    assert float(a[:, 1:3].abs().sum()) == 0


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda L, x, y: L.t(L.ones(2, 2, 2)),
            RuntimeError,
            r"t: expects a tensor with <= 2 dimensions, but self is 3D",
        ),
        (
            lambda L, x, y: x.narrow(0, 1, 3),
            RuntimeError,
            r"narrow: start \(1\) \+ length \(3\) exceeds dimension size \(3\)",
        ),
        (lambda L, x, y: x.narrow(1, 5, 1), IndexError, r"narrow: start \(5\) out of range for dimension 1 of size 4"),
        (lambda L, x, y: x.narrow(2, 0, 1), IndexError, r"narrow: Dimension out of range"),
        (lambda L, x, y: x.mm(x), RuntimeError, r"mm: mat1 and mat2 shapes cannot be multiplied \(3x4 and 3x4\)"),
        (
            lambda L, x, y: x.mm(y),
            RuntimeError,
            r"mm: both operands must be 2-D matrices, got shapes \(3, 4\) and \(4,\)",
        ),
        (lambda L, x, y: L.bmm(x, x), RuntimeError, r"bmm: both operands must be 3-D"),
    ],
)
def test_t_narrow_mm_bmm_errors_match_pytorch_types(device: str, call, exc: type, match: str) -> None:  # noqa: ANN001
    x, y = gpubp.ones(3, 4, device=device), gpubp.ones(4, device=device)
    with pytest.raises(exc, match=match):
        call(gpubp, x, y)
    if torch is not None:
        with pytest.raises(exc):
            call(torch, torch.ones(3, 4), torch.ones(4))


# ---- random fills, randperm, factory keywords ------------------------------------------------------------------


def test_uniform_and_normal_fill_in_place_with_autograd_checks(device: str) -> None:
    gpubp.manual_seed(3)
    x = gpubp.empty(20000, device=device)
    assert x.uniform_(-2, 3) is x
    vals = x.cpu().numpy()
    assert vals.min() >= -2 and vals.max() < 3 and abs(vals.mean() - 0.5) < 0.05
    x.normal_(1.0, 0.5)
    vals = x.cpu().numpy()
    assert abs(vals.mean() - 1.0) < 0.02 and abs(vals.std() - 0.5) < 0.02
    g = gpubp.Generator().manual_seed(7)
    a = gpubp.empty(5, device=device).uniform_(generator=g).cpu().numpy()
    b = gpubp.empty(5, device=device).uniform_(generator=gpubp.Generator().manual_seed(7)).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    w = gpubp.zeros(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"uniform_: a leaf tensor that requires grad cannot be changed in place"):
        w.uniform_()
    with gpubp.no_grad():
        w.normal_()
    assert float(w.detach().abs().sum()) > 0
    with pytest.raises(ValueError, match=r"normal_: expects std >= 0.0"):
        x.normal_(0, -1)
    with pytest.raises(TypeError, match=r"uniform_: dtype must be floating point"):
        gpubp.zeros(2, dtype=gpubp.int64, device=device).uniform_()


def test_randperm_is_a_permutation_and_follows_its_generator(device: str) -> None:
    p = gpubp.randperm(50, device=device)
    assert p.dtype == gpubp.int64 and sorted(p.tolist()) == list(range(50))
    g1, g2 = gpubp.Generator().manual_seed(5), gpubp.Generator().manual_seed(5)
    assert gpubp.randperm(20, generator=g1).tolist() == gpubp.randperm(20, generator=g2).tolist()
    assert (
        gpubp.randperm(0, device=device).shape == (0,) and gpubp.randperm(4, dtype=gpubp.float32).dtype == gpubp.float32
    )
    with pytest.raises(RuntimeError, match=r"randperm: n must be non-negative, got -1"):
        gpubp.randperm(-1)


def test_factories_take_size_by_keyword_and_randint_by_name(device: str) -> None:
    for fn in (gpubp.zeros, gpubp.ones, gpubp.empty, gpubp.rand, gpubp.randn):
        assert fn(size=(2, 3), device=device).shape == (2, 3)
        with pytest.raises(TypeError, match=r"got the size both as positional arguments"):
            fn(2, size=(2, 3))
    r = gpubp.randint(high=7, size=(100,), device=device)
    assert r.dtype == gpubp.int64 and 0 <= int(r.min()) and int(r.max()) < 7
    assert gpubp.randint(3, 9, (50,)).min().item() >= 3 and gpubp.randint(5, (2, 2)).shape == (2, 2)
    if torch is not None:
        assert tuple(torch.randint(high=7, size=(3,)).shape) == (3,) and tuple(torch.zeros(size=(2, 3)).shape) == (2, 3)


# ---- grad modes and small module-level helpers -----------------------------------------------------------------


def test_grad_mode_decorators_bare_and_called() -> None:
    x = gpubp.ones(2, requires_grad=True)

    @gpubp.no_grad
    def bare(t):  # noqa: ANN001, ANN202
        return t * 2

    @gpubp.inference_mode()
    def inf(t):  # noqa: ANN001, ANN202
        return t * 2

    assert not bare(x).requires_grad and not inf(x).requires_grad and gpubp.is_grad_enabled()
    with gpubp.inference_mode(False):
        assert (x * 2).requires_grad
    with gpubp.no_grad(), gpubp.enable_grad():
        assert (x * 2).requires_grad
    assert gpubp.get_default_dtype() == gpubp.float32 and isinstance(gpubp.float16, gpubp.dtype)
    assert gpubp.finfo(gpubp.float32).eps == pytest.approx(2**-23) and gpubp.iinfo(gpubp.int8).max == 127
    assert gpubp.is_floating_point(x) and gpubp.numel(gpubp.ones(2, 3)) == 6


def test_tensors_pickle_and_deepcopy_on_their_device(device: str) -> None:
    import copy
    import pickle

    x = gpubp.tensor(rng_for("pickle").standard_normal((2, 3)), device=device, requires_grad=True)
    (x * x).sum().backward()
    y = pickle.loads(pickle.dumps(x))
    assert y.device == x.device and y.requires_grad and y.grad is None and y.dtype == x.dtype
    np.testing.assert_array_equal(y.detach().cpu().numpy(), x.detach().cpu().numpy())
    z = copy.deepcopy(x)
    assert z is not x and z.device == x.device and z.requires_grad
    np.testing.assert_array_equal(z.grad.cpu().numpy(), x.grad.cpu().numpy())
    with gpubp.no_grad():
        z.add_(1)
    assert not np.array_equal(z.detach().cpu().numpy(), x.detach().cpu().numpy())  # a copy, not a view
    shared = [x, x]
    a, b = copy.deepcopy(shared)
    assert a is b  # one tensor held twice stays one
    with pytest.raises(RuntimeError, match=r"deepcopy: only tensors created explicitly by the user \(graph leaves\)"):
        copy.deepcopy(x * 2)
    if torch is not None:
        with pytest.raises(RuntimeError, match="graph leaves"):
            copy.deepcopy(torch.ones(2, requires_grad=True) * 2)


def test_parameters_and_buffers_deepcopy_keep_their_type_and_flags(device: str) -> None:
    import copy

    p = gpubp.nn.Parameter(gpubp.randn(3, device=device))
    (p * 2).sum().backward()
    b = gpubp.nn.Buffer(gpubp.ones(2, device=device), persistent=False)
    q, c = copy.deepcopy(p), copy.deepcopy(b)
    assert type(q) is gpubp.nn.Parameter and q.requires_grad and q.device == p.device and q.grad is not None
    assert type(c) is gpubp.nn.Buffer and c.persistent is False and c.device == b.device
    np.testing.assert_array_equal(q.grad.cpu().numpy(), p.grad.cpu().numpy())
