"""Second derivatives of every differentiable op: float64 gradgradcheck, then d/dx and d/dv of
<u, d<v, f(x)>/dx> against PyTorch, on the inputs of tests/test_ops_grad.py's CASES (contiguous and through
non-contiguous views)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import _as_list, _leaf, make_input, rng_for, torch
from test_ops_grad import _IDS, CASES

import gpubp
import gpubp.ops
from gpubp.testing import GradcheckError, gradgradcheck

if torch is not None:
    import torch.nn.functional as TF
else:
    TF = None
GF = gpubp.nn.functional
_T = np.array([1, 0, 3, 3, 2, 1])
_P = np.random.default_rng(3).random((6, 4))
_IDX = np.array([[0, 2, 2], [1, 0, 4]])


def _g(a: np.ndarray) -> Any:  # a constant gpubp tensor on the default device of the inputs (set per call)
    return gpubp.tensor(a, device=_DEVICE[0])


def _t(a: np.ndarray) -> Any:
    return torch.tensor(a)


_DEVICE = ["cpu"]

# nn.functional ops written from the ops above, or fused in gpubp.ops.loss: second order too
NN_CASES = [
    ("binary_cross_entropy", lambda a: GF.binary_cross_entropy(gpubp.sigmoid(a), _g(_P)),
     lambda a: TF.binary_cross_entropy(torch.sigmoid(a), _t(_P)), [(6, 4)], "any"),
    ("binary_cross_entropy_with_logits",
     lambda a: GF.binary_cross_entropy_with_logits(a, _g(_P), weight=_g(_P[0]), pos_weight=_g(_P[1] + 0.5)),
     lambda a: TF.binary_cross_entropy_with_logits(a, _t(_P), weight=_t(_P[0]), pos_weight=_t(_P[1] + 0.5)),
     [(6, 4)], "any"),
    ("batch_norm", lambda x, w, b: GF.batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [(5, 3, 2), (3,), (3,)], "any"),
    ("layer_norm", lambda x, w, b: GF.layer_norm(x, (4,), w, b), lambda x, w, b: TF.layer_norm(x, (4,), w, b),
     [(3, 4), (4,), (4,)], "any"),
    ("embedding", lambda w: GF.embedding(_g(_IDX), w) ** 2, lambda w: TF.embedding(_t(_IDX), w) ** 2, [(5, 3)], "any"),
    ("nll_loss", lambda a: GF.nll_loss(gpubp.log_softmax(a, 1), _g(_T)),
     lambda a: TF.nll_loss(torch.log_softmax(a, 1), _t(_T)), [(6, 4)], "any"),
    ("cross_entropy", lambda a, b: GF.cross_entropy(a, gpubp.softmax(b, 1)),
     lambda a, b: TF.cross_entropy(a, torch.softmax(b, 1)), [(6, 4), (6, 4)], "any"),
    ("huber_loss", lambda a, b: GF.huber_loss(a, b, delta=0.5), lambda a, b: TF.huber_loss(a, b, delta=0.5),
     [(4, 3), (4, 3)], "any"),
    ("smooth_l1_loss", lambda a, b: GF.smooth_l1_loss(a, b, beta=0.7), lambda a, b: TF.smooth_l1_loss(a, b, beta=0.7),
     [(4, 3), (4, 3)], "any"),
    ("conv1d", lambda x, w, b: GF.conv1d(x, w, b, padding=1), lambda x, w, b: TF.conv1d(x, w, b, padding=1),
     [(2, 3, 6), (4, 3, 3), (4,)], "any"),
    ("adaptive_avg_pool2d", lambda x: GF.adaptive_avg_pool2d(x, (2, 3)) ** 2,
     lambda x: TF.adaptive_avg_pool2d(x, (2, 3)) ** 2, [(1, 2, 4, 6)], "any"),
]  # fmt: skip
_NN_IDS = [f"{c[0]}-nn{i}" for i, c in enumerate(NN_CASES)]

_NONCONTIG = [(i, c) for i, c in enumerate(CASES) if any(len(s) >= 2 for s in c[3])]


def _arrays(i: int, case: tuple, noncontig: bool) -> list[np.ndarray]:
    name, _, _, shapes, kinds, *_ = case
    kinds = [kinds] * len(shapes) if isinstance(kinds, str) else list(kinds)
    rng = rng_for("gradgrad", name, i, shapes, noncontig)
    return [make_input(rng, s, k) for s, k in zip(shapes, kinds)]


def _torch_leaf(arr: np.ndarray, noncontig: bool) -> tuple[Any, Any]:
    """The torch twin of conftest._leaf: (leaf, input), a permuted view of a reversed-dims leaf when noncontig."""
    if noncontig and arr.ndim >= 2:
        leaf = torch.tensor(np.ascontiguousarray(arr.transpose()), dtype=torch.float64, requires_grad=True)
        return leaf, leaf.permute(*range(arr.ndim - 1, -1, -1))
    leaf = torch.tensor(arr, dtype=torch.float64, requires_grad=True)
    return leaf, leaf


def _np(t: Any) -> np.ndarray:
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # torch's double backward can give a ZeroTensor
    return t.detach().cpu().numpy()


def _second_order(
    grad: Callable, fn: Callable, xs: list, vs: list, us: list[np.ndarray], as_tensor: Callable
) -> tuple[list, list]:
    """(first, second): first = d<v, fn(x)>/dx recorded with create_graph, second = its gradient against u
    w.r.t. the x leaves then the v leaves. ``xs``/``vs`` are (leaf, input) pairs; None stands for zeros."""
    outs = _as_list(fn(*[inp for _, inp in xs]))
    x_leaves, v_leaves = [leaf for leaf, _ in xs], [leaf for leaf, _ in vs]
    first = list(grad(outs, x_leaves, [inp for _, inp in vs], create_graph=True, allow_unused=True))
    live = [(g, u) for g, u in zip(first, us) if g is not None and g.requires_grad]
    if not live:  # the first-order gradient is a constant: every second derivative is zero
        return first, [None] * (len(x_leaves) + len(v_leaves))
    second = grad([g for g, _ in live], x_leaves + v_leaves, [as_tensor(u) for _, u in live], allow_unused=True)
    return first, list(second)


def _assert_same(what: str, ours: Any, theirs: Any, shape: tuple) -> None:
    a = np.zeros(shape) if ours is None else _np(ours)
    b = np.zeros(shape) if theirs is None else _np(theirs)
    assert a.shape == b.shape == tuple(shape), (what, a.shape, b.shape, shape)
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, err_msg=what)


def _check_case(device: str, i: int, case: tuple, noncontig: bool) -> None:
    name, gp_fn, torch_fn, shapes, _, *opts = case
    eps = (opts[0] if opts else {}).get("eps", 1e-6)
    arrays = _arrays(i, case, noncontig)

    # float64 gradgradcheck, the inputs reaching the op through views of the checked leaves when noncontig
    pairs = [_leaf(a, device, noncontig) for a in arrays]

    def through_views(*ls: gpubp.Tensor) -> Any:
        return gp_fn(*[inp if leaf is given else given for given, (leaf, inp) in zip(ls, pairs)])

    gradgradcheck(through_views, [p[0] for p in pairs], eps=eps)
    if torch is None or torch_fn is None:
        return

    # second derivatives against PyTorch, with random cotangents v (through views too) and grad-of-grad u
    rng = rng_for("gradgrad-vu", name, i, shapes, noncontig)
    t_xs = [_torch_leaf(a, noncontig) for a in arrays]
    t_outs = _as_list(torch_fn(*[inp for _, inp in t_xs]))
    v_arrays = [rng.standard_normal(tuple(o.shape)) for o in t_outs]
    t_vs = [_torch_leaf(v, noncontig) for v in v_arrays]
    g_xs = [_leaf(a, device, noncontig) for a in arrays]
    g_vs = [_leaf(v, device, noncontig) for v in v_arrays]
    x_shapes = [tuple(leaf.shape) for leaf, _ in g_xs]  # the derivatives are w.r.t. the leaves (dims reversed)
    v_shapes = [tuple(leaf.shape) for leaf, _ in g_vs]
    u_arrays = [rng.standard_normal(s) for s in x_shapes]
    t_first, t_second = _second_order(
        torch.autograd.grad, torch_fn, t_xs, t_vs, u_arrays, lambda u: torch.tensor(u, dtype=torch.float64)
    )
    g_first, g_second = _second_order(
        gpubp.autograd.grad, gp_fn, g_xs, g_vs, u_arrays, lambda u: gpubp.tensor(u, device=device)
    )
    for k, (shape, ours, theirs) in enumerate(zip(x_shapes, g_first, t_first)):
        _assert_same(f"{name}: first-order grad of input {k} (create_graph=True)", ours, theirs, shape)
    leaf_shapes = x_shapes + v_shapes
    labels = [f"input {k}" for k in range(len(arrays))] + [f"grad_output {k}" for k in range(len(v_arrays))]
    for label, shape, ours, theirs in zip(labels, leaf_shapes, g_second, t_second):
        _assert_same(f"{name}: second-order grad w.r.t. {label}", ours, theirs, shape)


@pytest.mark.parametrize("i, case", list(enumerate(CASES)), ids=_IDS)
def test_op_gradgrad(device: str, i: int, case: tuple) -> None:
    _check_case(device, i, case, noncontig=False)


@pytest.mark.parametrize("i, case", _NONCONTIG, ids=[_IDS[i] for i, _ in _NONCONTIG])
def test_op_gradgrad_noncontiguous(device: str, i: int, case: tuple) -> None:
    _check_case(device, i, case, noncontig=True)


@pytest.mark.parametrize("i, case", list(enumerate(NN_CASES)), ids=_NN_IDS)
def test_nn_functional_gradgrad(device: str, i: int, case: tuple) -> None:
    _DEVICE[0] = device
    _check_case(device, 1000 + i, case, noncontig=False)


def test_every_differentiable_op_has_a_gradgrad_case() -> None:
    covered = {c[0] for c in CASES}
    missing = set(gpubp.ops.DIFFERENTIABLE) - covered
    assert not missing, f"differentiable ops without a second-order case: {sorted(missing)}"


class _Square(gpubp.autograd.Function):
    """x * x with a backward written in differentiable ops, or (detach=True) one that drops its x-dependence."""

    detach = False

    @staticmethod
    def forward(ctx: Any, x: gpubp.Tensor) -> gpubp.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Any, g: gpubp.Tensor) -> gpubp.Tensor:
        (x,) = ctx.saved_tensors
        return g * 2 * (x.detach() if _Square.detach else x)


def test_gradgradcheck_catches_a_wrong_second_derivative(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    x = gpubp.tensor(rng_for("square").standard_normal((3, 2)), device=device, requires_grad=True)
    assert gradgradcheck(_Square.apply, [x])
    monkeypatch.setattr(_Square, "detach", True)  # first order still right, d/dx of it now zero instead of 2v
    gpubp.testing.gradcheck(_Square.apply, [x])
    with pytest.raises(GradcheckError, match=r"gradgradcheck: input 0 \(shape \(3, 2\)\).*analytic 0\.0"):
        gradgradcheck(_Square.apply, [x])


class _SinDetachedBackward(gpubp.autograd.Function):
    """sin, whose backward g.detach() * cos(x) is right to first order but drops its dependence on g."""

    @staticmethod
    def forward(ctx: Any, x: gpubp.Tensor) -> gpubp.Tensor:
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx: Any, g: gpubp.Tensor) -> gpubp.Tensor:
        (x,) = ctx.saved_tensors
        return g.detach() * x.cos()


def test_gradgradcheck_checks_the_cotangent(device: str) -> None:
    rng = rng_for("cotangent")
    x = gpubp.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    v = gpubp.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    assert gradgradcheck(lambda a: a.sin(), x, grad_outputs=[v])
    gpubp.testing.gradcheck(_SinDetachedBackward.apply, [x])
    with pytest.raises(GradcheckError, match="gradgradcheck: grad_outputs 0"):  # d/dv: analytic 0, numeric cos(x)
        gradgradcheck(_SinDetachedBackward.apply, x, grad_outputs=[v])


def test_gradgradcheck_validates_its_inputs(device: str) -> None:
    x32 = gpubp.tensor(np.ones(3, np.float32) * 0.5, device=device, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradgradcheck(lambda a: a * a, [x32])
    x = gpubp.tensor(np.arange(3.0), device=device)
    with pytest.raises(ValueError, match="no input requires grad"):
        gradgradcheck(lambda a: a * a, [x])
    x.requires_grad_()
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] must be a Tensor of shape \(3,\)"):
        gradgradcheck(lambda a: a * a, [x], grad_outputs=[gpubp.tensor(np.ones(2), device=device)])
