"""The scan family beyond its gradient cases: dtypes, zeros in products, stability, 0-d and empty inputs, methods,
in-place forms, out=, named tuples and errors, against PyTorch on fresh random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp.testing import gradcheck, gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, gpubp.Tensor) else t.detach().numpy()


def _same(ours, theirs, tol=1e-6):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=tol, atol=tol)


# zeros in products: none, one, two and three in a row, at the start, middle and end
_ZEROS = np.array(
    [[1.5, -2.0, 0.5, 3.0, -1.2], [0.0, 2.0, -1.5, 0.7, 1.1], [1.3, 0.0, 2.0, 0.0, -0.8], [0.9, -1.1, 0.0, 0.0, 0.0]]
)


@needs_torch
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_gradient_with_zeros_matches_torch(device: str, dim: int) -> None:
    a = _ZEROS * rng_for("cumprod0", dim).uniform(0.5, 1.5, _ZEROS.shape)
    x = gpubp.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    g = rng_for("cumprod0-g", dim).standard_normal(a.shape)
    (gx,) = gpubp.autograd.grad(gpubp.cumprod(x, dim), [x], [gpubp.tensor(g, device=device)], create_graph=True)
    (tx,) = torch.autograd.grad(torch.cumprod(t, dim), [t], [torch.tensor(g)], create_graph=True)
    _same(gx, tx, 1e-10)
    u = rng_for("cumprod0-u", dim).standard_normal(a.shape)  # the second derivative, zeros included
    (ggx,) = gpubp.autograd.grad([gx], [x], [gpubp.tensor(u, device=device)])
    (ttx,) = torch.autograd.grad([tx], [t], [torch.tensor(u)])
    _same(ggx, ttx, 1e-10)


def test_cumprod_and_prod_gradchecks_at_zeros(device: str) -> None:
    for fn in (lambda v: gpubp.cumprod(v, 1), lambda v: gpubp.prod(v, 1), lambda v: gpubp.prod(v) * v):
        x = gpubp.tensor(_ZEROS, device=device, requires_grad=True)
        assert gradcheck(fn, [x])
        assert gradgradcheck(fn, [x])


@needs_torch
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_gradient_with_zeros_matches_torch(device: str, dim) -> None:
    a = _ZEROS[1:] if dim is None else _ZEROS  # dim None: the product of all, with several zeros; then with one
    for arr in (a, a[:1] if dim is None else a):
        x = gpubp.tensor(arr, device=device, requires_grad=True)
        t = torch.tensor(arr, requires_grad=True)
        (x.prod() if dim is None else x.prod(dim)).sum().backward()
        (t.prod() if dim is None else t.prod(dim)).sum().backward()
        _same(x.grad, t.grad, 1e-10)
    x = gpubp.tensor(np.array([2.0, 0.0, 3.0]), device=device, requires_grad=True)
    x.prod().backward()
    np.testing.assert_allclose(_np(x.grad), [0.0, 6.0, 0.0])  # one zero: only it gets a gradient


@needs_torch
@pytest.mark.parametrize("dt", ["int32", "uint8", "bool", "int64", "float64"])
def test_scan_and_product_dtypes_match_torch(device: str, dt: str) -> None:
    a = rng_for("dtypes", dt).integers(0, 3, (3, 4)).astype(dt)
    x, t = gpubp.tensor(a, device=device), torch.tensor(a)
    for name in ("cumsum", "cumprod"):
        _same(getattr(gpubp, name)(x, 1), getattr(torch, name)(t, 1))
        _same(getattr(x, name)(0, dtype=gpubp.float32), getattr(t, name)(0, dtype=torch.float32))
    _same(gpubp.prod(x), torch.prod(t))
    _same(x.prod(1, keepdim=True), t.prod(1, keepdim=True))
    _same(gpubp.nansum(x, 0), torch.nansum(t, 0))
    _same(x.count_nonzero(), t.count_nonzero())
    _same(gpubp.count_nonzero(x, (0, 1)), torch.count_nonzero(t, (0, 1)))
    _same(gpubp.count_nonzero(x, -1), torch.count_nonzero(t, -1))
    for name in ("any", "all"):
        _same(getattr(x, name)(), getattr(t, name)())
        _same(getattr(gpubp, name)(x, 1, keepdim=True), getattr(torch, name)(t, 1, keepdim=True))
        _same(getattr(gpubp, name)(x, (0, 1)), getattr(torch, name)(t, (0, 1)))


@needs_torch
def test_zero_dim_and_empty_inputs_match_torch(device: str) -> None:
    s = gpubp.tensor(2.5, device=device)
    ts = torch.tensor(2.5)
    for name in ("cumsum", "cumprod", "logcumsumexp"):
        _same(getattr(gpubp, name)(s, 0), getattr(torch, name)(ts, 0))
        _same(getattr(s, name)(-1), getattr(ts, name)(-1))
    _same(s.prod(), ts.prod())
    _same(s.prod(0), ts.prod(0))
    _same(s.any(), ts.any())
    _same(gpubp.nansum(s), torch.nansum(ts))
    e = gpubp.zeros(0, 3, device=device)
    te = torch.zeros(0, 3)
    _same(e.prod(), te.prod())
    _same(e.prod(0), te.prod(0))
    _same(e.cumsum(0), te.cumsum(0))
    _same(e.logcumsumexp(1), te.logcumsumexp(1))
    _same(e.all(), te.all())
    _same(e.any(0), te.any(0))
    _same(e.count_nonzero(), te.count_nonzero())
    _same(gpubp.nansum(e, 1), torch.nansum(te, 1))


@needs_torch
def test_logcumsumexp_is_stable_and_matches_torch(device: str) -> None:
    a = np.array([[-200.0, 0.0, -300.0, 5.0, 80.0, -1e4], [1e4, 1e4 + 1, -1e4, 0.0, 1e4 - 3, 3.0]])
    # float32 near 1e4 carries ~1e-3 of absolute rounding in x - y: the gradients agree to that
    for dt, tol in ((np.float32, 3e-3), (np.float64, 1e-9)):
        x = gpubp.tensor(a.astype(dt), device=device, requires_grad=True)
        t = torch.tensor(a.astype(dt), requires_grad=True)
        y, ty = gpubp.logcumsumexp(x, 1), torch.logcumsumexp(t, 1)
        _same(y, ty, tol)
        g = rng_for("lcse", str(dt)).standard_normal(a.shape).astype(dt)
        y.backward(gpubp.tensor(g, device=device))
        ty.backward(torch.tensor(g))
        assert np.isfinite(_np(x.grad)).all()
        _same(x.grad, t.grad, tol)
    x = gpubp.tensor(np.array([[-np.inf, -np.inf, 0.0]]), device=device)
    _same(x.logcumsumexp(1), torch.tensor([[-np.inf, -np.inf, 0.0]], dtype=torch.float64).logcumsumexp(1))


@needs_torch
def test_reduction_results_match_torch_on_fresh_inputs(device: str) -> None:
    a = rng_for("reductions").standard_normal((3, 4, 5))
    x, t = gpubp.tensor(a, device=device), torch.tensor(a)
    vm, tvm = gpubp.var_mean(x, 1), torch.var_mean(t, 1)
    assert type(vm) is tuple and len(vm) == 2
    for o, r in zip(vm, tvm):
        _same(o, r, 1e-10)
    for o, r in zip(
        gpubp.std_mean(x, (0, 2), keepdim=True, correction=0), torch.std_mean(t, (0, 2), keepdim=True, correction=0)
    ):
        _same(o, r, 1e-10)
    for o, r in zip(gpubp.var_mean(x, unbiased=False), torch.var_mean(t, unbiased=False)):
        _same(o, r, 1e-10)
    mm, tmm = x.aminmax(dim=-1, keepdim=True), t.aminmax(dim=-1, keepdim=True)
    _same(mm.min, tmm.min)
    _same(mm.max, tmm.max)
    lo, hi = gpubp.aminmax(x)
    _same(lo, torch.aminmax(t).min)
    _same(hi, torch.aminmax(t).max)
    assert type(mm).__name__ == "aminmax" and mm._fields == ("min", "max")
    _same(x.dist(x[0], math.inf), t.dist(t[0], math.inf))
    _same(gpubp.dist(x, x[:, :1], 0), torch.dist(t, t[:, :1], 0))
    _same(x.renorm(3, 1, 2.0), t.renorm(3, 1, 2.0), 1e-10)


@needs_torch
def test_nan_reductions_match_torch(device: str) -> None:
    a = rng_for("nan").standard_normal((3, 4))
    a[0, :] = np.nan  # an all-NaN row: nanmean NaN, nansum 0, no gradient there
    a[1, 2] = np.nan
    x = gpubp.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    for name in ("nansum", "nanmean"):
        x.grad, t.grad = None, None
        y, ty = getattr(x, name)(1), getattr(t, name)(1)
        _same(y, ty, 1e-12)
        gpubp.sum(gpubp.where(y.isnan() if hasattr(y, "isnan") else y != y, 0.0, y)).backward()
        torch.where(ty.isnan(), 0.0, ty).sum().backward()
        _same(x.grad[1:], t.grad[1:], 1e-12)  # the all-NaN row: 0 here, NaN (0 / 0) in PyTorch's nanmean
        assert not np.any(_np(x.grad)[0]) and _np(x.grad)[1, 2] == 0
    _same(gpubp.nansum(x, dtype=gpubp.float32), torch.nansum(t, dtype=torch.float32))
    i = rng_for("nan-int").integers(-3, 3, (3, 4)).astype(np.int32)
    _same(
        gpubp.nansum(gpubp.tensor(i, device=device), 1, dtype=gpubp.int32),
        torch.nansum(torch.tensor(i), 1, dtype=torch.int32),
    )
    _same(
        gpubp.prod(gpubp.tensor(i, device=device), 1, dtype=gpubp.int32),
        torch.prod(torch.tensor(i), 1, dtype=torch.int32),
    )
    _same(
        gpubp.cumsum(gpubp.tensor(i, device=device), 1, dtype=gpubp.int32),
        torch.cumsum(torch.tensor(i), 1, dtype=torch.int32),
    )


@needs_torch
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf])
def test_cdist_matches_torch_cdist(device: str, p: float) -> None:
    rng = rng_for("cdist", p)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 5, 4))
    b[0, 1] = a[1, 2]  # a zero distance: its gradient is 0
    x1, x2 = (gpubp.tensor(v, device=device, requires_grad=True) for v in (a, b))
    t1, t2 = (torch.tensor(v, requires_grad=True) for v in (a, b))
    y, ty = gpubp.cdist(x1, x2, p), torch.cdist(t1, t2, p)
    _same(y, ty, 1e-10)
    g = rng.standard_normal(ty.shape)
    y.backward(gpubp.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    _same(x1.grad, t1.grad, 1e-9)
    _same(x2.grad, t2.grad, 1e-9)


@needs_torch
@pytest.mark.parametrize("mode", [None, "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
def test_cdist_matmul_form_matches_torch(device: str, mode) -> None:
    rng = rng_for("cdist-mm", mode)
    a, b = rng.standard_normal((30, 6)).astype(np.float32), rng.standard_normal((2, 7, 6)).astype(np.float32)
    x1, x2 = (gpubp.tensor(v, device=device, requires_grad=True) for v in (a, b))
    t1, t2 = (torch.tensor(v, requires_grad=True) for v in (a, b))
    y = gpubp.cdist(x1, x2, compute_mode=mode)
    ty = torch.cdist(t1, t2) if mode is None else torch.cdist(t1, t2, compute_mode=mode)
    _same(y, ty, 1e-4)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(gpubp.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    _same(x1.grad, t1.grad, 1e-3)
    _same(x2.grad, t2.grad, 1e-3)
    z = gpubp.tensor(np.zeros((1, 3)), device=device, requires_grad=True)
    gpubp.cdist(z, gpubp.zeros(2, 3, dtype=gpubp.float64, device=device), compute_mode=mode).sum().backward()
    assert not np.any(_np(z.grad))  # zero distances: no gradient (not NaN)


def test_dist_gradient_is_zero_at_zero_distance(device: str) -> None:
    for p in (2, 1, 3, math.inf):
        x = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
        gpubp.dist(x, gpubp.tensor([1.0, 2.0], device=device), p).backward()
        np.testing.assert_array_equal(_np(x.grad), [0.0, 0.0])


def test_inplace_forms(device: str) -> None:
    a = rng_for("inplace").standard_normal((3, 4))
    x = gpubp.tensor(a, device=device)
    v = x._vc[0]
    assert x.cumsum_(1) is x and x._vc[0] > v
    np.testing.assert_allclose(_np(x), np.cumsum(a, 1))
    i = gpubp.tensor(np.array([[1, 2, 3]], dtype=np.int32), device=device)
    i.cumprod_(1)
    assert i.dtype == np.int32
    np.testing.assert_array_equal(_np(i), [[1, 2, 6]])
    r = gpubp.tensor(a, device=device)
    r.renorm_(2, 0, 1.0)
    np.testing.assert_allclose(np.linalg.norm(_np(r), axis=1), np.minimum(np.linalg.norm(a, axis=1), 1.0), rtol=1e-6)
    # gradients through in-place forms on a non-leaf, and the leaf refusal
    w = gpubp.tensor(a, device=device, requires_grad=True)
    h = w * 1.0
    h.cumsum_(0)
    h.renorm_(2, 1, 1.5)
    h.sum().backward()
    w2 = gpubp.tensor(a, device=device, requires_grad=True)
    gpubp.renorm(gpubp.cumsum(w2, 0), 2, 1, 1.5).sum().backward()
    np.testing.assert_allclose(_np(w.grad), _np(w2.grad), rtol=1e-12)
    with pytest.raises(RuntimeError, match="cumsum_"):
        w.cumsum_(0)


def test_out_argument(device: str) -> None:
    a = rng_for("out").standard_normal((2, 3))
    x = gpubp.tensor(a, device=device)
    o = gpubp.zeros(2, 3, dtype=gpubp.float64, device=device)
    assert gpubp.cumsum(x, 1, out=o) is o
    np.testing.assert_allclose(_np(o), np.cumsum(a, 1))
    b = gpubp.zeros(2, dtype=gpubp.bool, device=device)
    gpubp.any(x > 0.5, 1, out=b)
    np.testing.assert_array_equal(_np(b), (a > 0.5).any(1))
    p = gpubp.zeros((), dtype=gpubp.float64, device=device)
    gpubp.prod(x, out=p)
    np.testing.assert_allclose(_np(p), a.prod())


def test_errors_name_the_op(device: str) -> None:
    x = gpubp.randn(3, 4, device=device)
    with pytest.raises(IndexError, match="cumsum"):
        x.cumsum(2)
    with pytest.raises(TypeError, match="logcumsumexp"):
        gpubp.logcumsumexp(gpubp.tensor([1, 2], device=device), 0)
    with pytest.raises(TypeError, match="prod"):
        x.prod((0, 1))
    with pytest.raises(TypeError, match="nanmean"):
        gpubp.nanmean(gpubp.tensor([1, 2], device=device))
    with pytest.raises(IndexError, match="aminmax"):
        gpubp.aminmax(gpubp.zeros(0, device=device))
    with pytest.raises(IndexError, match="any"):
        x.any((0, 3))
    with pytest.raises(RuntimeError, match="cdist.*columns"):
        gpubp.cdist(x, gpubp.randn(2, 5, device=device))
    with pytest.raises(RuntimeError, match="cdist.*2D"):
        gpubp.cdist(gpubp.randn(4, device=device), x)
    with pytest.raises(RuntimeError, match="cdist.*non-negative"):
        gpubp.cdist(x, x, -1.0)
    with pytest.raises(ValueError, match="compute_mode"):
        gpubp.cdist(x, x, compute_mode="fast")
    with pytest.raises(RuntimeError, match="renorm.*2 dimensions"):
        gpubp.renorm(gpubp.randn(4, device=device), 2, 0, 1.0)
    with pytest.raises(RuntimeError, match="renorm.*maxnorm"):
        x.renorm(2, 0, -1.0)
    with pytest.raises(TypeError, match="dist"):
        gpubp.dist(gpubp.tensor([1, 2], device=device), gpubp.tensor([1, 2], device=device))


@needs_torch
def test_aminmax_ties_share_the_gradient_as_torch(device: str) -> None:
    a = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, -2.0, 0.5, -2.0]])
    x = gpubp.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    lo, hi = x.aminmax(dim=1)
    tlo, thi = t.aminmax(dim=1)
    (lo * 2 + hi * 3).sum().backward()
    (tlo * 2 + thi * 3).sum().backward()
    _same(x.grad, t.grad, 1e-12)


def test_scans_never_read_device_data_on_the_host() -> None:
    from test_no_sync import _strict, strict

    a = rng_for("scan-nosync").standard_normal((4, 5))
    a[1, 2] = 0.0
    a[2, 3] = np.nan

    def run(x):
        y = x.cumsum(1).sum() + x.cumprod(0).sum() + x.logcumsumexp(1).sum() + x.prod(1).sum() + x.prod()
        y = y + x.nansum() + x.nanmean(1).sum() + sum(v.sum() for v in gpubp.var_mean(x, 1))
        y = y + sum(v.sum() for v in x[:, :3].aminmax(dim=0)) + x.dist(x[0]) + gpubp.cdist(x, x[:2] * 0.5, 3.0).sum()
        y = y + gpubp.cdist(x, x[:2], compute_mode="use_mm_for_euclid_dist").sum() + x.renorm(2, 0, 1.0).sum()
        return y + x.any(1).sum() + x.all() + x.count_nonzero(0).sum()

    clean = np.where(np.isnan(a), 0.5, a)
    for data in (clean, a):
        ref = gpubp.tensor(data, device="cpu", requires_grad=True)
        run(ref).backward()
        x = _strict(gpubp.tensor(data, device="cpu", requires_grad=True))
        with strict():
            run(x).backward()
        np.testing.assert_allclose(np.asarray(x.grad._data), _np(ref.grad), rtol=1e-12, equal_nan=True)


def test_norm_gradient_at_zero_elements_is_zero_for_p_below_one(device: str) -> None:
    """PyTorch's norm backward gives a zero element gradient 0 for every p (0 ** (p - 1) would be inf for p < 1)."""
    a = np.array([[0.0, 1.5, -2.0], [0.3, 0.0, 0.0]])
    for p in (0.5, 3.0):
        x = gpubp.tensor(a, device=device, requires_grad=True)
        x.norm(p, 1).sum().backward()
        g = x.grad.cpu().numpy()
        assert np.isfinite(g).all() and g[0, 0] == 0 and g[1, 1] == 0 and g[1, 0] == pytest.approx(1.0)
