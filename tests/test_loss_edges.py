"""Losses, embedding and batch norm at the edges, against PyTorch: saturated probabilities, logits of exactly 0,
out-of-range class targets and indices (IndexError on the CPU, NaN on CUDA without a host sync), mixed dtypes,
and argument checks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn.functional as F
from gpubp import nn
from gpubp.backend import get_backend
from gpubp.testing import gradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")
FLOATS = [(np.float32, 1e-5), (np.float64, 1e-12)]


@contextlib.contextmanager
def no_host_reads(device: str) -> Iterator[None]:
    """On CUDA: any host read of device data in the block raises (the emulated device covers CuPy's syncs too)."""
    if device == "cpu":
        yield
        return
    gpubp.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        gpubp.cuda.set_sync_debug_mode("default")


def _np(t: gpubp.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _close(ours: gpubp.Tensor, theirs: object, tol: float) -> None:
    np.testing.assert_allclose(_np(ours), theirs.detach().cpu().numpy(), rtol=tol, atol=tol)


# ---- binary_cross_entropy ----------------------------------------------------------------------------------------
def _bce_inputs(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = rng_for("bce-edges", dtype)
    edges = np.array([0.0, 1.0, 1.0, 0.0, 2e-9, 1 - 1e-7, 1e-30, 0.5])
    p = np.concatenate([edges, rng.uniform(0.01, 0.99, 8)]).astype(dtype)
    y = np.concatenate([[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.3, 0.6], rng.uniform(0, 1, 8)]).astype(dtype)
    return p, y


@needs_torch
@pytest.mark.parametrize("dtype,tol", FLOATS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_matches_torch_at_saturated_probabilities(device: str, dtype: type, tol: float, reduction: str) -> None:
    p, y = _bce_inputs(dtype)
    w = rng_for("bce-w", dtype).uniform(0.5, 2.0, p.shape).astype(dtype)
    gp, gy = (gpubp.tensor(a, device=device, requires_grad=True) for a in (p, y))
    tp, ty = (torch.tensor(a, requires_grad=True) for a in (p, y))
    with no_host_reads(device):
        loss = F.binary_cross_entropy(gp, gy, gpubp.tensor(w, device=device), reduction=reduction)
        loss.sum().backward()
    tloss = torch.nn.functional.binary_cross_entropy(tp, ty, torch.tensor(w), reduction=reduction)
    tloss.sum().backward()
    assert loss.dtype == dtype
    _close(loss, tloss, tol)
    assert np.isfinite(_np(gp.grad)).all()  # p = 0 and p = 1 included: PyTorch's clamp, no NaN
    _close(gp.grad, tp.grad, tol)
    _close(gy.grad, ty.grad, tol)  # -logit(p): +-inf at 0 and 1, as PyTorch


@needs_torch
def test_bce_log1p_keeps_tiny_probabilities(device: str) -> None:
    p = gpubp.tensor(np.array([2e-9, 3e-8], np.float32), device=device)
    loss = F.binary_cross_entropy(p, gpubp.zeros(2, device=device), reduction="none")
    want = torch.nn.functional.binary_cross_entropy(torch.tensor([2e-9, 3e-8]), torch.zeros(2), reduction="none")
    assert (_np(loss) > 0).all()  # -log(1 - p) in float32 would be 0
    np.testing.assert_allclose(_np(loss), want.numpy(), rtol=1e-6)


@needs_torch
def test_bce_after_a_saturated_float32_sigmoid(device: str) -> None:
    logits = np.array([30.0, -30.0, 20.0, 0.5, -104.0], np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.3, 0.0], np.float32)
    gx = gpubp.tensor(logits, device=device, requires_grad=True)
    tx = torch.tensor(logits, requires_grad=True)
    F.binary_cross_entropy(gx.sigmoid(), gpubp.tensor(y, device=device)).backward()
    torch.nn.functional.binary_cross_entropy(tx.sigmoid(), torch.tensor(y)).backward()
    assert np.isfinite(_np(gx.grad)).all()
    _close(gx.grad, tx.grad, 1e-5)


def test_bce_gradcheck(device: str) -> None:
    rng = rng_for("bce-gc")
    p = gpubp.tensor(rng.uniform(0.05, 0.95, (3, 4)), device=device, requires_grad=True)
    y = gpubp.tensor(rng.uniform(0, 1, (3, 4)), device=device, requires_grad=True)
    w = gpubp.tensor(rng.uniform(0.5, 2, (4,)), device=device)
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w), [p, y])
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), [p, y])


@pytest.mark.parametrize("bad", [1.5, -0.25, float("nan")])
def test_bce_input_outside_0_1(device: str, bad: float) -> None:
    p = gpubp.tensor(np.array([0.2, bad, 0.7], np.float32), device=device, requires_grad=True)
    y = gpubp.tensor(np.array([0.0, 1.0, 1.0], np.float32), device=device)
    if device == "cpu":
        with pytest.raises(
            RuntimeError, match=r"binary_cross_entropy: all elements of input should be between 0 and 1"
        ):
            F.binary_cross_entropy(p, y)
        if torch is not None:
            with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
                torch.nn.functional.binary_cross_entropy(torch.tensor(p.detach().numpy()), torch.tensor(y.numpy()))
        return
    # CUDA: the range is not read back; the element's loss and gradient are NaN, the others untouched
    with no_host_reads(device):
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    out, grad = _np(loss), _np(p.grad)
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()
    assert np.isnan(grad[1]) and np.isfinite(grad[[0, 2]]).all()


def test_bce_message_names_min_and_max() -> None:
    with pytest.raises(RuntimeError, match=r"from -0\.5 to 2"):
        F.binary_cross_entropy(
            gpubp.tensor([0.5, -0.5, 2.0], device="cpu"), gpubp.tensor([0.0, 1.0, 1.0], device="cpu")
        )


def test_bce_weight_checks(device: str) -> None:
    p, y = gpubp.full((2, 3), 0.5, device=device), gpubp.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: weight of shape \(4,\) does not broadcast"):
        F.binary_cross_entropy(p, y, gpubp.ones(4, device=device))
    with pytest.raises(RuntimeError, match="not differentiable with respect to weight"):
        F.binary_cross_entropy(p, y, gpubp.ones(3, device=device, requires_grad=True))
    with pytest.raises(TypeError, match="binary_cross_entropy: weight must be a Tensor"):
        F.binary_cross_entropy(p, y, [1.0, 1.0, 1.0])


# ---- binary_cross_entropy_with_logits ----------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("dtype,tol", FLOATS)
@pytest.mark.parametrize("case", ["zero", "huge", "random", "pos_weight", "pos_weight-row", "weight"])
def test_bce_with_logits_matches_torch(device: str, dtype: type, tol: float, case: str) -> None:
    rng = rng_for("bcel", case, dtype)
    x = rng.standard_normal((4, 3)) * 3
    y = rng.uniform(0, 1, (4, 3))
    kw, tkw = {}, {}
    if case == "zero":
        x[:] = 0.0
        y = np.tile([0.0, 1.0, 0.5], (4, 1))
    if case == "huge":
        x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 50.0], [-50.0, 1e4, -1e4], [30.0, -30.0, 1e-8]])
        y = np.tile([0.0, 1.0, 0.3], (4, 1))
    if case.startswith("pos_weight"):
        pw = rng.uniform(0.5, 3.0, (3,) if case == "pos_weight" else (4, 1)).astype(dtype)
        kw["pos_weight"], tkw["pos_weight"] = gpubp.tensor(pw, device=device), torch.tensor(pw)
    if case == "weight":
        w = rng.uniform(0.5, 2.0, (1, 3)).astype(dtype)
        kw["weight"], tkw["weight"] = gpubp.tensor(w, device=device), torch.tensor(w)
    x, y = x.astype(dtype), y.astype(dtype)
    for reduction in ("mean", "sum", "none"):
        gx, gy = (gpubp.tensor(a, device=device, requires_grad=True) for a in (x, y))
        tx, ty = (torch.tensor(a, requires_grad=True) for a in (x, y))
        with no_host_reads(device):
            loss = F.binary_cross_entropy_with_logits(gx, gy, reduction=reduction, **kw)
            loss.sum().backward()
        tloss = torch.nn.functional.binary_cross_entropy_with_logits(tx, ty, reduction=reduction, **tkw)
        tloss.sum().backward()
        scale = max(1.0, float(np.abs(tloss.detach().numpy()).max()))
        np.testing.assert_allclose(_np(loss), tloss.detach().numpy(), rtol=tol, atol=tol * scale)
        assert np.isfinite(_np(gx.grad)).all()
        _close(gx.grad, tx.grad, tol)
        np.testing.assert_allclose(_np(gy.grad), ty.grad.numpy(), rtol=tol, atol=tol * scale)


def test_bce_with_logits_gradient_at_zero(device: str) -> None:
    """abs and relu have derivative 0 at 0: the composed form gave [0.5, 0]; the exact one is [0.25, -0.25]."""
    x = gpubp.zeros(2, device=device, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, gpubp.tensor([0.0, 1.0], device=device)).backward()
    np.testing.assert_allclose(_np(x.grad), [0.25, -0.25])


def test_bce_with_logits_gradcheck(device: str) -> None:
    rng = rng_for("bcel-gc")
    x = rng.standard_normal((3, 4)) * 2
    x[0, :2] = 0.0  # the point where abs/relu are not differentiable
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    gy = gpubp.tensor(rng.uniform(0, 1, (3, 4)), device=device, requires_grad=True)
    pw = gpubp.tensor(rng.uniform(0.5, 2, (4,)), device=device)
    w = gpubp.tensor(rng.uniform(0.5, 2, (3, 1)), device=device)
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b), [gx, gy])
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction="sum", pos_weight=pw), [gx, gy])


def test_bce_with_logits_pos_weight_must_broadcast(device: str) -> None:
    x, y = gpubp.zeros(2, 3, device=device), gpubp.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"pos_weight of shape \(4,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=gpubp.ones(4, device=device))
    with pytest.raises(RuntimeError, match=r"pos_weight of shape \(2, 2, 3\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=gpubp.ones(2, 2, 3, device=device))
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.nn.functional.binary_cross_entropy_with_logits(
                torch.zeros(2, 3), torch.zeros(2, 3), pos_weight=torch.ones(4)
            )


# ---- class targets out of range: cross_entropy and nll_loss --------------------------------------------------------
CLASS_PATHS = {
    "fused": ((5, 4), {}),
    "smooth": ((5, 4), {"label_smoothing": 0.2}),
    "weight": ((5, 4), {"weight": True}),
    "weight-smooth": ((5, 4), {"weight": True, "label_smoothing": 0.1}),
    "spatial": ((5, 4, 3), {}),
    "spatial-smooth": ((5, 4, 3), {"label_smoothing": 0.1}),
    "nll": ((5, 4), {"nll": True}),
    "nll-spatial": ((5, 4, 3), {"nll": True, "weight": True}),
}


def _class_case(device: str, path: str, bad: int) -> tuple:
    shape, opts = CLASS_PATHS[path]
    rng = rng_for("ce-range", path, bad)
    x = rng.standard_normal(shape)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t[(1,) + (0,) * (len(shape) - 2)] = bad
    t[(3,) + (0,) * (len(shape) - 2)] = -100  # ignore_index: never an error
    w = rng.uniform(0.5, 2, shape[1]) if opts.get("weight") else None
    return x, t, w, opts


def _ours(device: str, x: np.ndarray, t: np.ndarray, w: object, opts: dict, reduction: str) -> tuple:
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    gt = gpubp.tensor(t, device=device)
    gw = None if w is None else gpubp.tensor(w, device=device)
    if opts.get("nll"):
        return gx, F.nll_loss(gx, gt, gw, reduction=reduction)
    return gx, F.cross_entropy(gx, gt, gw, reduction=reduction, label_smoothing=opts.get("label_smoothing", 0.0))


@pytest.mark.parametrize("bad", [4, 7, -1, -5])
@pytest.mark.parametrize("path", list(CLASS_PATHS))
def test_out_of_range_target(device: str, path: str, bad: int) -> None:
    x, t, w, opts = _class_case(device, path, bad)
    op = "nll_loss" if opts.get("nll") else "cross_entropy"
    if device == "cpu":
        with pytest.raises(IndexError, match=rf"{op}: Target {bad} is out of bounds.*\[0, 4\)"):
            _ours(device, x, t, w, opts, "mean")
        if torch is not None:
            fn = torch.nn.functional.nll_loss if opts.get("nll") else torch.nn.functional.cross_entropy
            tw = None if w is None else torch.tensor(w)
            with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
                fn(torch.tensor(x), torch.tensor(t), tw)
        return
    # CUDA: no host read, no out-of-bounds read, no wrap to the last class: the bad row's loss is NaN
    with no_host_reads(device):
        gx, loss = _ours(device, x, t, w, opts, "none")
        loss.sum().backward()
    rows = _np(loss)
    assert np.isnan(rows[1]).any() if rows.ndim > 1 else np.isnan(rows[1])
    assert np.isfinite(np.delete(rows, 1, axis=0)).all()
    assert np.isnan(_np(gx.grad)[1]).any()
    with no_host_reads(device):
        mean = _ours(device, x, t, w, opts, "mean")[1]
    assert np.isnan(_np(mean))


def test_fused_cross_entropy_nan_rows_on_cuda(device: str) -> None:
    """The fused kernel (real on CUDA, compiled for the CPU under emulation): NaN loss and a whole NaN gradient row
    for an out-of-range target, the other rows as PyTorch."""
    if device == "cpu":
        pytest.skip("the CPU raises instead (test_out_of_range_target)")
    rng = rng_for("fused-nan")
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 5, 2, -3, -100, 4])
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    with no_host_reads(device):
        loss = gpubp.cross_entropy(gx, gpubp.tensor(t, device=device), reduction="none", label_smoothing=0.1)
        loss.backward(gpubp.ones(6, device=device))
    rows, grad = _np(loss), _np(gx.grad)
    assert np.isnan(rows[[1, 3]]).all() and np.isnan(grad[[1, 3]]).all()
    assert rows[4] == 0 and not grad[4].any()
    if torch is not None:
        keep = [0, 2, 5]
        tx = torch.tensor(x[keep], requires_grad=True)
        tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t[keep]), reduction="none", label_smoothing=0.1)
        tl.sum().backward()
        np.testing.assert_allclose(rows[keep], tl.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad[keep], tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_primitive_out_of_range_rows(device: str, smoothing: float) -> None:
    """The backend primitive (NumPy reference on the CPU, the kernel on CUDA) marks out-of-range rows NaN in the
    loss and the gradient, whatever the reduction's divisor, and both agree."""
    rng = rng_for("ce-prim", smoothing)
    x = rng.standard_normal((7, 3))
    t = np.array([0, 3, -1, 2, -100, 1, 1000])
    ref = get_backend("cpu")
    want_rows, probs = ref.cross_entropy(x, t, -100, smoothing)
    want_dx = ref.cross_entropy_backward(np.full(7, 0.5), probs, t, -100, smoothing, np.asarray(4.0))
    bad = [1, 2, 6]
    assert np.isnan(want_rows[bad]).all() and np.isfinite(np.delete(want_rows, bad)).all()
    assert np.isnan(want_dx[bad]).all() and np.isfinite(np.delete(want_dx, bad, axis=0)).all()
    be = get_backend(device)
    with no_host_reads(device):
        rows, saved = be.cross_entropy(be.asarray(x), be.asarray(t), -100, smoothing)
        dx = be.cross_entropy_backward(be.xp.full(7, 0.5), saved, be.asarray(t), -100, smoothing, be.asarray(4.0))
    np.testing.assert_allclose(be.to_numpy(rows), want_rows, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(dx), want_dx, rtol=1e-12, atol=1e-12)


def test_custom_negative_ignore_index_is_not_out_of_range(device: str) -> None:
    x = gpubp.tensor(rng_for("ii").standard_normal((4, 3)), device=device)
    t = gpubp.tensor([0, -1, 2, -1], device=device)
    for loss in (F.cross_entropy(x, t, ignore_index=-1), F.nll_loss(x, t, ignore_index=-1)):
        assert np.isfinite(_np(loss))
    if torch is not None:
        want = torch.nn.functional.cross_entropy(torch.tensor(_np(x)), torch.tensor([0, -1, 2, -1]), ignore_index=-1)
        np.testing.assert_allclose(_np(F.cross_entropy(x, t, ignore_index=-1)), want.numpy(), rtol=1e-6)


def test_cross_entropy_target_dtype(device: str) -> None:
    x = gpubp.zeros(4, 3, device=device)
    for target in (gpubp.ones(4, device=device), gpubp.tensor([True, False, True, True], device=device)):
        for fn in (F.cross_entropy, F.nll_loss, gpubp.cross_entropy):
            with pytest.raises(RuntimeError, match=r"target must be .*integer class indices.*\(expected dtype int64"):
                fn(x, target)
    if torch is not None:
        with pytest.raises(RuntimeError, match="expected target dtype"):
            torch.nn.functional.cross_entropy(torch.zeros(4, 3), torch.ones(4))
        with pytest.raises(RuntimeError):
            torch.nn.functional.cross_entropy(torch.zeros(4, 3), torch.ones(4, 2))
    with pytest.raises(RuntimeError, match=r"cross_entropy: probability targets must have the input's shape"):
        F.cross_entropy(x, gpubp.ones(4, 2, device=device))
    with pytest.raises(ValueError, match=r"cross_entropy: target must be \(4,\) integer class indices for input"):
        F.cross_entropy(x, gpubp.tensor([0, 1], device=device))


# ---- embedding -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [-1, 5, -6, 100])
def test_embedding_index_out_of_range(device: str, bad: int) -> None:
    w = gpubp.tensor(rng_for("emb", bad).standard_normal((5, 3)), device=device, requires_grad=True)
    idx = np.array([[0, bad], [4, 2]])
    if device == "cpu":
        with pytest.raises(IndexError, match=rf"embedding: index {bad} is out of range in self.*\[0, 5\)"):
            F.embedding(gpubp.tensor(idx, device=device), w)
        if torch is not None:
            with pytest.raises(IndexError, match="index out of range in self"):
                torch.nn.functional.embedding(torch.tensor(idx), torch.zeros(5, 3))
        return
    with no_host_reads(device):
        out = F.embedding(gpubp.tensor(idx, device=device), w)
        out.sum().backward()
    rows = _np(out)
    assert np.isnan(rows[0, 1]).all()  # not the last row (a wrap), not another row of the table
    np.testing.assert_array_equal(rows[[0, 1, 1], [0, 0, 1]], _np(w)[[0, 4, 2]])
    assert np.isfinite(_np(w.grad)).all()


@needs_torch
@pytest.mark.parametrize("padding_idx", [-1, -5, 0, 3])
def test_embedding_padding_idx_matches_torch(device: str, padding_idx: int) -> None:
    rng = rng_for("emb-pad", padding_idx)
    w = rng.standard_normal((5, 3))
    idx = np.array([[4, 1, 0], [3, 4, 2]])
    gw = gpubp.tensor(w, device=device, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    cot = rng.standard_normal((2, 3, 3))
    with no_host_reads(device):
        out = F.embedding(gpubp.tensor(idx, device=device), gw, padding_idx=padding_idx)
        out.backward(gpubp.tensor(cot, device=device))
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx)
    tout.backward(torch.tensor(cot))
    _close(out, tout, 1e-12)
    _close(gw.grad, tw.grad, 1e-12)
    assert not _np(gw.grad)[padding_idx % 5].any()


def test_embedding_padding_idx_out_of_range(device: str) -> None:
    w = gpubp.zeros(5, 3, device=device)
    idx = gpubp.tensor([1], device=device)
    for p in (5, -6):
        with pytest.raises(ValueError, match=rf"embedding: padding_idx must be within num_embeddings.*got {p}"):
            F.embedding(idx, w, padding_idx=p)


def test_embedding_module_negative_padding_idx(device: str) -> None:
    emb = nn.Embedding(6, 2, padding_idx=-1).to(device)
    emb(gpubp.tensor([5, 0, 5], device=device)).sum().backward()
    grad = _np(emb.weight.grad)
    assert not grad[5].any() and grad[0].all()


# ---- batch_norm -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_mixed_dtype(device: str, training: bool) -> None:
    bn = nn.BatchNorm1d(3).to(device)
    bn.train(training)
    x = gpubp.tensor(rng_for("bn-mixed").standard_normal((4, 3)), dtype=gpubp.float64, device=device)
    before = _np(bn.running_mean).copy()
    with pytest.raises(RuntimeError, match="batch_norm: mixed dtype: input is float64 but running_mean float32"):
        bn(x)
    np.testing.assert_array_equal(_np(bn.running_mean), before)  # nothing half-updated
    if torch is not None:
        tbn = torch.nn.BatchNorm1d(3)
        tbn.train(training)
        with pytest.raises(RuntimeError, match="mixed dtype"):
            tbn(torch.zeros(4, 3, dtype=torch.float64))


def test_batch_norm_argument_checks(device: str) -> None:
    x = gpubp.tensor(rng_for("bn-args").standard_normal((4, 3)).astype(np.float32), device=device)
    z, o = gpubp.zeros(3, device=device), gpubp.ones(3, device=device)
    with pytest.raises(RuntimeError, match="batch_norm: running_mean should contain 3 elements"):
        F.batch_norm(x, gpubp.zeros(4, device=device), o)
    with pytest.raises(RuntimeError, match="batch_norm: weight should contain 3 elements"):
        F.batch_norm(x, None, None, gpubp.ones(4, device=device), training=True)
    with pytest.raises(RuntimeError, match="batch_norm: mixed dtype: input is float32 but .*weight float64"):
        F.batch_norm(x, z, o, gpubp.ones(3, dtype=gpubp.float64, device=device))
    with pytest.raises(TypeError, match="batch_norm: input must be a Tensor"):
        F.batch_norm(np.zeros((4, 3)), z, o)


@needs_torch
def test_batch_norm_float16_input_with_float32_statistics(device: str) -> None:
    """PyTorch's one mixed case: float16 data, float32 statistics and parameters; the output stays float16."""
    x = rng_for("bn-half").standard_normal((6, 3)).astype(np.float16)
    w, b = gpubp.ones(3, device=device), gpubp.zeros(3, device=device)
    ours = F.batch_norm(gpubp.tensor(x, device=device), None, None, w, b, training=True)
    want = torch.nn.functional.batch_norm(torch.tensor(x), None, None, torch.ones(3), torch.zeros(3), training=True)
    assert ours.dtype == np.float16
    np.testing.assert_allclose(_np(ours).astype(np.float32), want.float().numpy(), rtol=1e-2, atol=1e-2)


# ---- reduction and operand checks ------------------------------------------------------------------------------
def _losses(device: str) -> dict:
    x = gpubp.full((4, 3), 0.5, device=device)
    y = gpubp.zeros(4, 3, device=device)
    t = gpubp.tensor([0, 1, 2, 1], device=device)
    return {
        "mse_loss": lambda r, a=x: F.mse_loss(a, y, reduction=r),
        "l1_loss": lambda r, a=x: F.l1_loss(a, y, reduction=r),
        "huber_loss": lambda r, a=x: F.huber_loss(a, y, reduction=r),
        "smooth_l1_loss": lambda r, a=x: F.smooth_l1_loss(a, y, reduction=r),
        "binary_cross_entropy": lambda r, a=x: F.binary_cross_entropy(a, y, reduction=r),
        "binary_cross_entropy_with_logits": lambda r, a=x: F.binary_cross_entropy_with_logits(a, y, reduction=r),
        "cross_entropy": lambda r, a=x: F.cross_entropy(a, t, reduction=r),
        "nll_loss": lambda r, a=x: F.nll_loss(a, t, reduction=r),
    }


def test_every_loss_validates_reduction(device: str) -> None:
    for name, fn in _losses(device).items():
        for reduction in ("mean", "sum", "none"):
            fn(reduction)
        for bad in ("avg", None, "MEAN"):
            with pytest.raises(ValueError, match=rf"^{name}: reduction must be one of"):
                fn(bad)
    if torch is not None:
        with pytest.raises(ValueError):
            torch.nn.functional.binary_cross_entropy(torch.zeros(2), torch.zeros(2), reduction="avg")


def test_every_loss_rejects_non_tensor_input(device: str) -> None:
    for name, fn in _losses(device).items():
        with pytest.raises(TypeError, match=rf"^{name}: input and target must be Tensors, got list"):
            fn("mean", [[0.5, 0.5, 0.5]] * 4)


def test_huber_and_smooth_l1_parameters(device: str) -> None:
    x, y = gpubp.ones(3, device=device), gpubp.zeros(3, device=device)
    with pytest.raises(RuntimeError, match="huber_loss: delta must be positive"):
        F.huber_loss(x, y, delta=0.0)
    with pytest.raises(RuntimeError, match="smooth_l1_loss: beta must be non-negative"):
        F.smooth_l1_loss(x, y, beta=-1.0)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.nn.functional.huber_loss(torch.ones(3), torch.zeros(3), delta=0.0)


@pytest.mark.parametrize("bad", [1.5, -0.5, float("nan")])
def test_bce_target_outside_0_1(device: str, bad: float) -> None:
    p = gpubp.tensor(np.array([0.2, 0.4, 0.7], np.float32), device=device, requires_grad=True)
    y = gpubp.tensor(np.array([0.0, bad, 1.0], np.float32), device=device)
    if device == "cpu":
        with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of target should be between 0"):
            F.binary_cross_entropy(p, y)
        if torch is not None:
            with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
                torch.nn.functional.binary_cross_entropy(torch.tensor(p.detach().numpy()), torch.tensor(y.numpy()))
        return
    with no_host_reads(device):
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    assert np.isnan(_np(loss)[1]) and np.isfinite(_np(loss)[[0, 2]]).all()
    assert np.isnan(_np(p.grad)[1]) and np.isfinite(_np(p.grad)[[0, 2]]).all()


def test_bce_integer_operands_raise_runtime_error(device: str) -> None:
    p, t = gpubp.full((3,), 0.5, device=device), gpubp.tensor([0, 1, 1], device=device)
    for fn in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(RuntimeError, match=rf"{fn.__name__}: target must be floating point, got int64"):
            fn(p, t)
    with pytest.raises(RuntimeError, match="binary_cross_entropy: input must be floating point"):
        F.binary_cross_entropy(t, p)


@needs_torch
@pytest.mark.parametrize("kind", ["index", "probs"])
def test_unbatched_cross_entropy_and_nll_match_torch(device: str, kind: str) -> None:
    rng = rng_for("unbatched", kind)
    x = rng.standard_normal(5)
    t = rng.dirichlet(np.ones(5)) if kind == "probs" else np.array(3)
    for reduction in ("mean", "none"):
        gx = gpubp.tensor(x, device=device, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        ours = F.cross_entropy(gx, gpubp.tensor(t, device=device), reduction=reduction, label_smoothing=0.1)
        theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction, label_smoothing=0.1)
        assert ours.shape == tuple(theirs.shape) == ()
        ours.backward()
        theirs.backward()
        _close(ours, theirs, 1e-12)
        _close(gx.grad, tx.grad, 1e-12)
    if kind == "index":
        ours = F.nll_loss(gpubp.tensor(x, device=device), gpubp.tensor(t, device=device))
        _close(ours, torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(t)), 1e-12)


def test_class_target_and_option_errors(device: str) -> None:
    x = gpubp.zeros(4, 3, device=device)
    t = gpubp.tensor([0, 1, 2, 1], device=device)
    with pytest.raises(RuntimeError, match=r"cross_entropy: target must be \(4,\) integer class indices"):
        F.cross_entropy(x, gpubp.tensor([[0], [1], [2], [1]], device=device))  # PyTorch: multi-target
    with pytest.raises(RuntimeError, match="cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="cross_entropy: label_smoothing must be between"):
        gpubp.cross_entropy(x, t, label_smoothing=1.5)
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(RuntimeError, match=rf"{fn.__name__}: weight must have one entry per class, shape \(3,\)"):
            fn(x, t, gpubp.ones(2, device=device))
        with pytest.raises(TypeError, match=rf"{fn.__name__}: weight must be a Tensor or None, got list"):
            fn(x, t, [1.0, 1.0, 1.0])
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.nn.functional.cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 2, 1]), label_smoothing=1.5)
        with pytest.raises(RuntimeError):
            torch.nn.functional.cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 2, 1]), weight=torch.ones(2))
        rng = rng_for("neg-smoothing")
        xs, ts = rng.standard_normal((4, 3)), np.array([0, 1, 2, 1])
        ours = F.cross_entropy(gpubp.tensor(xs, device=device), gpubp.tensor(ts, device=device), label_smoothing=-0.1)
        theirs = torch.nn.functional.cross_entropy(torch.tensor(xs), torch.tensor(ts), label_smoothing=-0.1)
        _close(ours, theirs, 1e-12)  # PyTorch smooths only above 0: a negative value means none


# ---- activations and regression losses: dtypes, arguments and shapes as PyTorch ------------------------------------
_FLOAT_ONLY = ("gelu", "silu", "softplus", "elu", "leaky_relu")


@pytest.mark.parametrize("op", _FLOAT_ONLY + ("softmax", "log_softmax"))
def test_float_only_activations_refuse_integers_and_bools(device: str, op: str) -> None:
    fn = getattr(F, op)
    for dtype in (gpubp.int64, gpubp.bool):
        x = gpubp.tensor(rng_for("act-int", op).integers(0, 2, 3), device=device).to(dtype)
        with pytest.raises(TypeError, match=rf"{op}: not implemented for {dtype} input"):
            fn(x)
        with pytest.raises(RuntimeError):  # PyTorch raises NotImplementedError: both classes catch gpubp's
            fn(x)
        if torch is not None:
            with pytest.raises(NotImplementedError):
                args = (-1,) if "softmax" in op else ()
                getattr(torch.nn.functional, op)(torch.tensor(x.cpu().numpy()), *args)


def test_relu_keeps_an_integer_dtype_and_refuses_bools(device: str) -> None:
    a = rng_for("relu-int").integers(-5, 5, 7)
    y = F.relu(gpubp.tensor(a, device=device))
    assert y.dtype == gpubp.int64
    np.testing.assert_array_equal(y.cpu().numpy(), np.maximum(a, 0))
    with pytest.raises(RuntimeError, match="relu: Boolean inputs not supported"):
        F.relu(gpubp.tensor([True, False], device=device))
    for op in ("sigmoid", "tanh"):  # PyTorch computes these of integers and bools, as float32
        out = getattr(F, op)(gpubp.tensor([True, False], device=device))
        assert out.dtype == gpubp.float32
    if torch is not None:
        assert torch.relu(torch.tensor(a)).dtype == torch.int64
        np.testing.assert_array_equal(y.cpu().numpy(), torch.relu(torch.tensor(a)).numpy())


@pytest.mark.parametrize("beta", [0.0, -1.0, -2.5])
def test_softplus_takes_any_beta_as_torch(device: str, beta: float) -> None:
    xs = rng_for("softplus-beta", beta).standard_normal(6) * 10
    x = gpubp.tensor(xs, device=device, requires_grad=True)
    y = F.softplus(x, beta=beta)
    y.sum().backward()
    if torch is not None:
        tx = torch.tensor(xs, requires_grad=True)
        ty = torch.nn.functional.softplus(tx, beta=beta)
        ty.sum().backward()
        np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-12)


def test_activation_arguments_are_checked(device: str) -> None:
    x = gpubp.tensor(rng_for("act-args").standard_normal(3), device=device)
    for fn, kw in ((F.leaky_relu, "negative_slope"), (F.elu, "alpha"), (F.softplus, "beta")):
        with pytest.raises(TypeError, match=rf"{fn.__name__}: argument '{kw}' must be a number, got str"):
            fn(x, "a")
    with pytest.raises(RuntimeError, match="gelu: approximate argument must be either 'none' or 'tanh', got 'bad'"):
        F.gelu(x, approximate="bad")
    with pytest.raises(ValueError, match="gelu: approximate"):
        nn.GELU(approximate="bad")(x)
    if torch is not None:
        with pytest.raises(TypeError):
            torch.nn.functional.leaky_relu(torch.zeros(3), "a")
        with pytest.raises(RuntimeError):
            torch.nn.functional.gelu(torch.zeros(3), approximate="bad")


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_rows_with_no_elements_is_empty(device: str, op: str) -> None:
    x = gpubp.zeros(3, 0, device=device, requires_grad=True)
    y = getattr(F, op)(x, 1)
    assert y.shape == (3, 0) and y.dtype == gpubp.float32
    y.sum().backward()
    assert x.grad.shape == (3, 0)
    if torch is not None:
        assert tuple(getattr(torch.nn.functional, op)(torch.zeros(3, 0), 1).shape) == (3, 0)


@pytest.mark.parametrize("op", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("shapes", [((3,), (1,)), ((1,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5))])
def test_regression_losses_broadcast_as_torch(device: str, op: str, shapes: tuple) -> None:
    rng = rng_for("loss-broadcast", op, shapes)
    a, b = (rng.standard_normal(s) for s in shapes)
    x = gpubp.tensor(a, device=device, requires_grad=True)
    t = gpubp.tensor(b, device=device, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        x.grad = t.grad = None
        y = getattr(F, op)(x, t, reduction=reduction)
        y.sum().backward()
        assert x.grad.shape == x.shape and t.grad.shape == t.shape
        if torch is not None:
            tx, tt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
            with pytest.warns(UserWarning):  # PyTorch warns that the sizes differ; gpubp follows it quietly
                ty = getattr(torch.nn.functional, op)(tx, tt, reduction=reduction)
            ty.sum().backward()
            _close(y, ty, 1e-12)
            _close(x.grad, tx.grad, 1e-12)
            _close(t.grad, tt.grad, 1e-12)


@pytest.mark.parametrize("op", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
def test_regression_losses_refuse_shapes_that_do_not_broadcast(device: str, op: str) -> None:
    x, t = gpubp.ones(3, device=device), gpubp.ones(2, device=device)
    for exc in (ValueError, RuntimeError):  # PyTorch: RuntimeError "The size of tensor a (3) must match ..."
        with pytest.raises(exc, match=rf"{op}: input has shape \(3,\) but target has shape \(2,\)"):
            getattr(F, op)(x, t)
    if torch is not None:
        with pytest.raises(RuntimeError), pytest.warns(UserWarning):  # it warns of the sizes, then raises
            getattr(torch.nn.functional, op)(torch.ones(3), torch.ones(2))


def test_mse_loss_takes_an_integer_target_but_not_two(device: str) -> None:
    rng = rng_for("mse-int")
    a, b = rng.standard_normal(5), rng.integers(-3, 3, 5)
    x = gpubp.tensor(a.astype(np.float32), device=device)
    y = F.mse_loss(x, gpubp.tensor(b, device=device))
    assert y.dtype == gpubp.float32
    np.testing.assert_allclose(_np(y), np.mean((a.astype(np.float32) - b) ** 2), rtol=1e-6)
    with pytest.raises(TypeError, match="mse_loss: not implemented for int64 input and int64 target"):
        F.mse_loss(gpubp.tensor(b, device=device), gpubp.tensor(b, device=device))
    if torch is not None:
        ty = torch.nn.functional.mse_loss(torch.tensor(a.astype(np.float32)), torch.tensor(b))
        _close(y, ty, 1e-6)


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_class_targets_must_be_int64_or_uint8(device: str, op: str) -> None:
    rng = rng_for("target-dtype", op)
    x = gpubp.tensor(rng.standard_normal((4, 3)).astype(np.float32), device=device)
    ts = np.array([0, 1, 2, 1])
    for dtype in ("int32", "int16", "int8"):
        with pytest.raises(RuntimeError, match=rf"{op}: expected target dtype to be int64 or uint8 .* got {dtype}"):
            getattr(F, op)(x, gpubp.tensor(ts.astype(dtype), device=device))
        if torch is not None:
            with pytest.raises(RuntimeError):
                getattr(torch.nn.functional, op)(torch.tensor(x.cpu().numpy()), torch.tensor(ts.astype(dtype)))
    ours = getattr(F, op)(x, gpubp.tensor(ts.astype(np.uint8), device=device))
    assert np.isfinite(_np(ours))
    if torch is not None:
        theirs = getattr(torch.nn.functional, op)(torch.tensor(x.cpu().numpy()), torch.tensor(ts.astype(np.uint8)))
        _close(ours, theirs, 1e-6)
