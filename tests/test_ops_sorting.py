"""The sorting family beyond its gradient cases: dtypes, ties, NaN, 0-d and empty inputs, methods, named tuples,
out=, errors, and agreement with PyTorch on fresh random inputs."""

from __future__ import annotations

import types

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp.ops import sorting_core

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def N(t):  # a gpubp tensor's values as NumPy
    return t.detach().cpu().numpy()


def same(g, t, exact=True):
    assert tuple(g.shape) == tuple(t.shape), (g.shape, t.shape)
    assert g.dtype == np.dtype(str(t.dtype).replace("torch.", "")), (g.dtype, t.dtype)
    if exact:
        np.testing.assert_array_equal(N(g), t.numpy())
    else:
        np.testing.assert_allclose(N(g), t.numpy(), rtol=1e-6, atol=1e-6)


def _ties(rng, shape, dtype=np.int64):
    return rng.integers(0, 4, shape).astype(dtype)


def _with_nans(rng, shape):
    a = rng.standard_normal(shape)
    a[rng.random(shape) < 0.3] = np.nan
    return a


# ---- sort, argsort, msort ------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.float32, np.float64, np.bool_])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_stable_matches_torch_with_ties(device, dtype, descending):
    rng = rng_for("sort", dtype, descending)
    a = _ties(rng, (3, 9), dtype) if dtype != np.bool_ else rng.random((3, 9)) > 0.5
    g = gpubp.tensor(a, device=device)
    t = torch.tensor(a)
    for dim in (-1, 0):
        gv, gi = gpubp.sort(g, dim, descending=descending, stable=True)
        tv, ti = torch.sort(t, dim=dim, descending=descending, stable=True)
        same(gv, tv)
        same(gi, ti)
        same(
            gpubp.argsort(g, dim, descending=descending, stable=True),
            torch.argsort(t, dim=dim, descending=descending, stable=True),
        )


@needs_torch
@pytest.mark.parametrize("descending", [False, True])
def test_sort_nan_placement(device, descending):
    a = _with_nans(rng_for("sortnan", descending), (4, 7))
    res = gpubp.sort(gpubp.tensor(a, device=device), descending=descending)
    tv, ti = torch.sort(torch.tensor(a), descending=descending, stable=True)
    same(res.values, tv)
    same(res.indices, ti)


def test_sort_zero_d_empty_and_methods(device):
    z = gpubp.tensor(2.5, device=device)
    v, i = z.sort()
    assert v.shape == () and float(N(v)) == 2.5 and i.shape == () and int(N(i)) == 0
    assert z.argsort().shape == ()
    e = gpubp.zeros((2, 0), device=device)
    v, i = e.sort(1)
    assert v.shape == (2, 0) and i.shape == (2, 0) and i.dtype == np.int64
    x = gpubp.tensor([[3.0, 1.0], [0.0, 2.0]], device=device)
    np.testing.assert_array_equal(N(x.msort()), [[0.0, 1.0], [3.0, 2.0]])
    np.testing.assert_array_equal(N(gpubp.msort(x)), N(x.sort(0).values))
    r = gpubp.sort(x)
    assert type(r).__name__ == "sort" and r[0] is r.values and r[1] is r.indices


def test_sort_out(device):
    x = gpubp.tensor([[3.0, 1.0, 2.0]], device=device)
    vo, io = gpubp.empty((1, 3), device=device), gpubp.zeros((1, 3), dtype=gpubp.int64, device=device)
    r = gpubp.sort(x, descending=True, out=(vo, io))
    assert r.values is vo and r.indices is io
    np.testing.assert_array_equal(N(vo), [[3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(N(io), [[0, 2, 1]])
    mo = gpubp.empty((1, 3), device=device)
    assert gpubp.msort(x, out=mo) is mo
    with pytest.raises(TypeError, match="sort"):
        gpubp.sort(x, out=vo)


def test_sort_errors(device):
    x = gpubp.ones((2, 3), device=device)
    with pytest.raises(IndexError, match="sort"):
        gpubp.sort(x, 2)
    with pytest.raises(IndexError, match="argsort"):
        gpubp.argsort(gpubp.tensor(1.0, device=device), 1)
    with pytest.raises(TypeError, match="sort"):
        gpubp.sort([1, 2])


def test_sort_gradient_through_view(device):
    x = gpubp.tensor([[0.3, -1.0, 2.0], [1.5, 0.2, -0.7]], device=device, requires_grad=True)
    v = x.t().sort(0, descending=True).values  # (3, 2)
    (v * gpubp.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device)).sum().backward()
    np.testing.assert_array_equal(N(x.grad), [[3.0, 5.0, 1.0], [2.0, 4.0, 6.0]])


# ---- topk, kthvalue --------------------------------------------------------------------------------------------


@needs_torch
def test_topk_matches_torch(device):
    a = rng_for("topk").standard_normal((3, 4, 6))
    g, t = gpubp.tensor(a, device=device), torch.tensor(a)
    for k, dim, largest in ((2, -1, True), (3, 1, False), (0, 0, True), (3, 0, True)):
        gv, gi = gpubp.topk(g, k, dim, largest)
        tv, ti = torch.topk(t, k, dim, largest)
        same(gv, tv)
        same(gi, ti)
    m = g.topk(2, largest=False, sorted=False)
    same(m.values, torch.topk(t, 2, largest=False).values)
    assert type(m).__name__ == "topk"


@needs_torch
def test_topk_ties_and_nan_values(device):
    rng = rng_for("topk-ties")
    a = _ties(rng, (3, 8))
    same(gpubp.topk(gpubp.tensor(a, device=device), 3).values, torch.topk(torch.tensor(a), 3).values)
    b = _with_nans(rng, (2, 6))
    same(gpubp.topk(gpubp.tensor(b, device=device), 4).values, torch.topk(torch.tensor(b), 4).values)
    same(
        gpubp.topk(gpubp.tensor(b, device=device), 2, largest=False).values,
        torch.topk(torch.tensor(b), 2, largest=False).values,
    )


def test_topk_edges_and_errors(device):
    z = gpubp.tensor(4.0, device=device)
    for k in (0, 1):
        v, i = z.topk(k)
        assert v.shape == () and float(N(v)) == 4.0 and int(N(i)) == 0
    x = gpubp.tensor([1.0, 5.0, 3.0], device=device)
    vo, io = gpubp.empty((2,), device=device), gpubp.empty((2,), dtype=gpubp.int64, device=device)
    gpubp.topk(x, 2, out=(vo, io))
    np.testing.assert_array_equal(N(vo), [5.0, 3.0])
    np.testing.assert_array_equal(N(io), [1, 2])
    with pytest.raises(RuntimeError, match="topk.*out of range"):
        gpubp.topk(x, 4)
    with pytest.raises(RuntimeError, match="topk.*out of range"):
        gpubp.topk(x, -1)
    with pytest.raises(TypeError, match="topk.*bool"):
        gpubp.topk(gpubp.tensor([True, False], device=device), 1)
    with pytest.raises(TypeError, match="topk"):
        gpubp.topk(x, 1.5)


@needs_torch
def test_kthvalue_matches_torch(device):
    rng = rng_for("kth")
    a = rng.standard_normal((4, 5))
    g, t = gpubp.tensor(a, device=device), torch.tensor(a)
    for k, dim, keepdim in ((1, -1, False), (5, 1, True), (3, 0, False)):
        gv, gi = gpubp.kthvalue(g, k, dim, keepdim)
        tv, ti = torch.kthvalue(t, k, dim, keepdim)
        same(gv, tv)
        same(gi, ti)
    b = _ties(rng, (3, 7))  # with ties, the values agree (PyTorch's index among equal ones is its quickselect's)
    for k in range(1, 8):
        r = gpubp.tensor(b, device=device).kthvalue(k)
        same(r.values, torch.kthvalue(torch.tensor(b), k).values)
        np.testing.assert_array_equal(np.take_along_axis(b, N(r.indices)[:, None], 1)[:, 0], N(r.values))
    assert type(r).__name__ == "kthvalue"


def test_kthvalue_errors(device):
    x = gpubp.ones((2, 3), device=device)
    for k in (0, 4):
        with pytest.raises(RuntimeError, match="kthvalue.*out of range"):
            gpubp.kthvalue(x, k)
    with pytest.raises(IndexError, match="kthvalue"):
        gpubp.kthvalue(x, 1, 3)
    with pytest.raises(TypeError, match="kthvalue.*bool"):
        gpubp.kthvalue(gpubp.tensor([True], device=device), 1)
    v, i = gpubp.tensor(7, device=device).kthvalue(1)
    assert v.shape == () and int(N(v)) == 7 and v.dtype == np.int64 and int(N(i)) == 0


# ---- median, nanmedian, mode ---------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_matches_torch_with_nans_and_ties(device, op):
    rng = rng_for(op)
    for a in (_with_nans(rng, (5, 6)), _ties(rng, (4, 7)).astype(np.float32), _ties(rng, (3, 5))):
        g, t = gpubp.tensor(a, device=device), torch.tensor(a)
        same(getattr(gpubp, op)(g), getattr(torch, op)(t))
        for dim, keepdim in ((1, False), (0, True), (-1, False)):
            gv, gi = getattr(g, op)(dim, keepdim)
            tv, ti = getattr(t, op)(dim, keepdim)
            same(gv, tv)
            same(gi, ti)
    allnan = np.full((2, 3), np.nan)
    gv, gi = getattr(gpubp, op)(gpubp.tensor(allnan, device=device), 1)
    tv, ti = getattr(torch, op)(torch.tensor(allnan), 1)
    same(gv, tv)
    same(gi, ti)
    assert type(getattr(gpubp, op)(gpubp.tensor(allnan, device=device), 1)).__name__ == op


@needs_torch
def test_median_all_gradient_is_shared_by_ties(device):
    a = np.array([[1.0, 3.0, 2.0], [2.0, 5.0, 2.0]])
    g = gpubp.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    (gpubp.median(g) * 3).backward()
    (torch.median(t) * 3).backward()
    np.testing.assert_allclose(N(g.grad), t.grad.numpy())
    g.grad = None
    t.grad = None
    gpubp.nanmedian(g).backward()
    torch.nanmedian(t).backward()
    np.testing.assert_allclose(N(g.grad), t.grad.numpy())


def test_median_edges_and_errors(device):
    e = gpubp.median(gpubp.zeros((0,), device=device))
    assert e.shape == () and np.isnan(N(e))
    v, i = gpubp.tensor(3.0, device=device).median(0)
    assert v.shape == () and float(N(v)) == 3.0 and int(N(i)) == 0
    with pytest.raises(IndexError, match="median.*non-zero size"):
        gpubp.median(gpubp.zeros((2, 0), device=device), 1)
    with pytest.raises(TypeError, match="median.*bool"):
        gpubp.median(gpubp.tensor([True], device=device))
    x = gpubp.tensor([[1.0, 4.0, 2.0]], device=device)
    vo, io = gpubp.empty((1,), device=device), gpubp.empty((1,), dtype=gpubp.int64, device=device)
    gpubp.median(x, 1, out=(vo, io))
    assert float(N(vo)[0]) == 2.0 and int(N(io)[0]) == 2
    o = gpubp.empty((), device=device)
    assert gpubp.nanmedian(x, out=o) is o and float(N(o)) == 2.0


@needs_torch
@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.bool_])
def test_mode_matches_torch(device, dtype):
    rng = rng_for("mode", dtype)
    a = _ties(rng, (4, 9), dtype) if dtype != np.bool_ else rng.random((4, 9)) > 0.5
    g, t = gpubp.tensor(a, device=device), torch.tensor(a)
    for dim, keepdim in ((-1, False), (0, True), (1, False)):
        gv, gi = gpubp.mode(g, dim, keepdim)
        tv, ti = torch.mode(t, dim, keepdim)
        same(gv, tv)
        same(gi, ti)  # the last index of the most frequent (smallest on ties) value, as PyTorch on the CPU
    r = g.mode()
    assert type(r).__name__ == "mode"


def test_mode_edges(device):
    v, i = gpubp.tensor(2.0, device=device).mode()
    assert v.shape == () and float(N(v)) == 2.0 and int(N(i)) == 0
    v, i = gpubp.tensor([1.0, float("nan"), float("nan"), 3.0], device=device).mode()
    assert float(N(v)) == 1.0 and int(N(i)) == 0  # each NaN counts once, as PyTorch
    with pytest.raises(IndexError, match="mode"):
        gpubp.mode(gpubp.zeros((3, 0), device=device))


# ---- quantile ---------------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
def test_quantile_matches_torch(device, interpolation, op):
    rng = rng_for(op, interpolation)
    a = rng.standard_normal((3, 5, 4))
    a[0, 1, 2] = np.nan
    q = np.array([0.0, 0.125, 0.5, 0.625, 0.9, 1.0])
    for dt, tdt in ((np.float64, torch.float64), (np.float32, torch.float32)):
        g, t = gpubp.tensor(a.astype(dt), device=device), torch.tensor(a.astype(dt))
        gq, tq = gpubp.tensor(q.astype(dt), device=device), torch.tensor(q, dtype=tdt)
        for qq, tqq in ((gq, tq), (0.37, 0.37), (gq[2], tq[2])):
            for dim, keepdim in ((None, False), (None, True), (1, False), (-1, True), (0, False)):
                got = getattr(gpubp, op)(g, qq, dim, keepdim, interpolation=interpolation)
                want = getattr(torch, op)(t, tqq, dim, keepdim, interpolation=interpolation)
                assert tuple(got.shape) == tuple(want.shape)
                assert got.dtype == dt
                np.testing.assert_allclose(N(got), want.numpy(), rtol=1e-5, atol=1e-6)


def test_quantile_method_out_and_zero_d(device):
    x = gpubp.tensor([4.0, 1.0, 3.0, 2.0], device=device)
    assert float(N(x.quantile(0.5))) == 2.5
    assert float(N(x.nanquantile(0.5, interpolation="lower"))) == 2.0
    o = gpubp.empty((), device=device)
    assert gpubp.quantile(x, 1.0, out=o) is o and float(N(o)) == 4.0
    z = gpubp.tensor(5.0, device=device)
    assert gpubp.quantile(z, 0.3).shape == () and float(N(gpubp.quantile(z, 0.3, dim=0))) == 5.0


def test_quantile_errors(device):
    x = gpubp.ones((2, 3), device=device)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be in the range"):
        gpubp.quantile(x, 1.5)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q values must be in the range"):
        gpubp.quantile(x, gpubp.tensor([0.5, -0.1], device=device))
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be a scalar or 1D"):
        gpubp.quantile(x, gpubp.full((2, 2), 0.5, device=device))
    with pytest.raises(RuntimeError, match="same dtype"):
        gpubp.quantile(x, gpubp.tensor([0.5], dtype=gpubp.float64, device=device))
    with pytest.raises(RuntimeError, match="float or double"):
        gpubp.quantile(gpubp.tensor([1, 2], device=device), 0.5)
    with pytest.raises(RuntimeError, match="interpolation"):
        gpubp.nanquantile(x, 0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match="non-empty"):
        gpubp.quantile(gpubp.zeros((0,), device=device), 0.5)
    with pytest.raises(IndexError, match="quantile"):
        gpubp.quantile(x, 0.5, dim=2)


# ---- cummax, cummin ------------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cumulative_matches_torch_with_ties_and_nans(device, op):
    rng = rng_for(op)
    cases = [_ties(rng, (3, 9)), _with_nans(rng, (4, 6)), rng.random((2, 5)) > 0.5, _ties(rng, (3, 40), np.float32)]
    for a in cases:
        g, t = gpubp.tensor(a, device=device), torch.tensor(a)
        for dim in (0, 1, -1):
            gv, gi = getattr(gpubp, op)(g, dim)
            tv, ti = getattr(torch, op)(t, dim)
            same(gv, tv)
            same(gi, ti)
    assert type(getattr(g, op)(0)).__name__ == op


@needs_torch
def test_cummax_gradient_adds_up_at_repeated_indices(device):
    a = np.array([[1.0, 3.0, 2.0, 0.5, 4.0], [2.0, 1.0, 0.0, 2.5, 2.0]])
    w = np.arange(10.0).reshape(2, 5)
    for op in ("cummax", "cummin"):
        g = gpubp.tensor(a, device=device, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        (getattr(gpubp, op)(g, 1).values * gpubp.tensor(w, device=device)).sum().backward()
        (getattr(torch, op)(t, 1).values * torch.tensor(w)).sum().backward()
        np.testing.assert_array_equal(N(g.grad), t.grad.numpy())


def test_cumulative_edges(device):
    v, i = gpubp.tensor(1.5, device=device).cummax(0)
    assert v.shape == () and i.shape == () and int(N(i)) == 0
    v, i = gpubp.cummin(gpubp.zeros((0, 3), device=device), 0)
    assert v.shape == (0, 3) and i.dtype == np.int64
    x = gpubp.tensor([2.0, 1.0, 3.0], device=device)
    vo, io = gpubp.empty((3,), device=device), gpubp.empty((3,), dtype=gpubp.int64, device=device)
    gpubp.cummin(x, 0, out=(vo, io))
    np.testing.assert_array_equal(N(vo), [2.0, 1.0, 1.0])
    np.testing.assert_array_equal(N(io), [0, 1, 1])
    with pytest.raises(IndexError, match="cummax"):
        gpubp.cummax(x, 1)


def test_running_doubling_scan_matches_accumulate():
    """Off NumPy (CuPy has no maximum.accumulate) the running extreme is a doubling scan: check it on NumPy arrays
    behind a namespace that is not NumPy itself."""
    xp = types.SimpleNamespace(maximum=np.maximum, minimum=np.minimum, concatenate=np.concatenate)
    rng = rng_for("doubling")
    for shape, axis in (((37,), 0), ((3, 17, 2), 1), ((5, 1), 1), ((4, 0), 1), ((8, 3), 0)):
        a = _with_nans(rng, shape)
        for largest, ufunc in ((True, np.maximum), (False, np.minimum)):
            np.testing.assert_array_equal(sorting_core.running(xp, a, axis, largest), ufunc.accumulate(a, axis=axis))


# ---- unique, unique_consecutive -------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_unique_matches_torch(device, dim):
    rng = rng_for("unique", dim)
    for a in (_ties(rng, (5, 3)), _ties(rng, (4, 6)).astype(np.float32) - 1.5, rng.random((6, 2)) > 0.5):
        g, t = gpubp.tensor(a, device=device), torch.tensor(a)
        for inv in (False, True):
            for cnt in (False, True):
                got = gpubp.unique(g, return_inverse=inv, return_counts=cnt, dim=dim)
                want = torch.unique(t, return_inverse=inv, return_counts=cnt, dim=dim)
                got = got if isinstance(got, tuple) else (got,)
                want = want if isinstance(want, tuple) else (want,)
                assert len(got) == len(want)
                for a_, b_ in zip(got, want):
                    same(a_, b_)
                got = gpubp.unique_consecutive(g, return_inverse=inv, return_counts=cnt, dim=dim)
                want = torch.unique_consecutive(t, return_inverse=inv, return_counts=cnt, dim=dim)
                got = got if isinstance(got, tuple) else (got,)
                want = want if isinstance(want, tuple) else (want,)
                for a_, b_ in zip(got, want):
                    same(a_, b_)
        same(g.unique(sorted=False), t.unique())


def test_unique_zero_d_and_empty(device):
    u, inv, cnt = gpubp.unique(gpubp.tensor(3, device=device), return_inverse=True, return_counts=True)
    assert N(u).tolist() == [3] and inv.shape == () and N(cnt).tolist() == [1]
    u, cnt = gpubp.tensor([], device=device).unique_consecutive(return_counts=True)
    assert u.shape == (0,) and cnt.shape == (0,)
    with pytest.raises(IndexError, match="unique"):
        gpubp.unique(gpubp.ones((2, 2), device=device), dim=2)


# ---- searchsorted, bucketize ----------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_matches_torch(device, right):
    rng = rng_for("searchsorted", right)
    seq1 = np.sort(_ties(rng, (9,)).astype(np.float64) + rng.integers(0, 2, 9))
    seq1 = np.concatenate([seq1, [np.nan]])  # NaN sorts last
    seq2 = np.sort(rng.standard_normal((2, 3, 6)), axis=-1)
    vals1 = np.concatenate([_ties(rng, (8,)) - 0.5, [0.0, 1.0, 2.0, 3.0, np.nan, -np.inf]])
    vals2 = rng.standard_normal((2, 3, 4))
    side = "right" if right else "left"
    for s, v in ((seq1, vals1), (seq1, vals1.reshape(2, 7)), (seq2, vals2), (seq2[..., :1], vals2)):
        gs, ts = gpubp.tensor(s, device=device), torch.tensor(s)
        gv, tv = gpubp.tensor(v, device=device), torch.tensor(v)
        same(gpubp.searchsorted(gs, gv, right=right), torch.searchsorted(ts, tv, right=right))
        same(
            gpubp.searchsorted(gs, gv, side=side, out_int32=True), torch.searchsorted(ts, tv, side=side, out_int32=True)
        )
    perm = rng.permutation(10)
    sh = seq1[perm]
    sorter = np.argsort(sh, kind="stable")
    got = gpubp.searchsorted(gpubp.tensor(sh, device=device), gpubp.tensor(vals1, device=device), right=right,
                             sorter=gpubp.tensor(sorter, device=device))  # fmt: skip
    same(got, torch.searchsorted(torch.tensor(sh), torch.tensor(vals1), right=right, sorter=torch.tensor(sorter)))
    s2sorter = np.argsort(-seq2, axis=-1, kind="stable")[..., ::-1].copy()
    got = gpubp.searchsorted(gpubp.tensor(seq2, device=device), gpubp.tensor(vals2, device=device), right=right,
                             sorter=gpubp.tensor(s2sorter, device=device))  # fmt: skip
    same(got, torch.searchsorted(torch.tensor(seq2), torch.tensor(vals2), right=right, sorter=torch.tensor(s2sorter)))
    r = gpubp.searchsorted(gpubp.tensor(seq1, device=device), 2.0, right=right)
    same(r, torch.searchsorted(torch.tensor(seq1), 2.0, right=right))
    b = np.array([-1.0, 0.0, 0.5, 2.0])
    x = rng.choice([-2.0, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0], (3, 4))
    gb = gpubp.tensor(b, device=device)
    same(
        gpubp.bucketize(gpubp.tensor(x, device=device), gb, right=right),
        torch.bucketize(torch.tensor(x), torch.tensor(b), right=right),
    )
    same(
        gpubp.bucketize(0.5, gb, right=right, out_int32=True),
        torch.bucketize(0.5, torch.tensor(b), right=right, out_int32=True),
    )


def test_searchsorted_out_and_errors(device):
    s = gpubp.tensor([1.0, 3.0, 5.0], device=device)
    o = gpubp.empty((2,), dtype=gpubp.int64, device=device)
    assert gpubp.searchsorted(s, gpubp.tensor([2.0, 6.0], device=device), out=o) is o
    np.testing.assert_array_equal(N(o), [1, 3])
    with pytest.raises(RuntimeError, match="searchsorted.*first N-1 dimensions"):
        gpubp.searchsorted(gpubp.ones((2, 3), device=device), gpubp.ones((3, 1), device=device))
    with pytest.raises(RuntimeError, match="searchsorted.*scalar"):
        gpubp.searchsorted(gpubp.ones((2, 3), device=device), 1.0)
    with pytest.raises(RuntimeError, match="searchsorted.*opposites"):
        gpubp.searchsorted(s, 1.0, right=True, side="left")
    with pytest.raises(RuntimeError, match="searchsorted.*side"):
        gpubp.searchsorted(s, 1.0, side="middle")
    with pytest.raises(RuntimeError, match="searchsorted.*sorter"):
        gpubp.searchsorted(s, 1.0, sorter=gpubp.tensor([0, 1], device=device))
    with pytest.raises(RuntimeError, match="bucketize.*1 dimension"):
        gpubp.bucketize(gpubp.tensor(2.0, device=device), gpubp.ones((1, 2), device=device))
    with pytest.raises(TypeError, match="searchsorted"):
        gpubp.searchsorted(s, "a")


def test_no_gradient_for_indices(device):
    x = gpubp.tensor([[2.0, 1.0, 3.0]], device=device, requires_grad=True)
    r = gpubp.sort(x)
    assert r.values.requires_grad and not r.indices.requires_grad
    assert not gpubp.argsort(x).requires_grad
    assert not gpubp.searchsorted(x.detach(), x).requires_grad


def test_forward_and_backward_never_read_device_data_on_the_host():
    """No op here but unique (and a tensor q's range check) synchronizes: proven with test_no_sync's StrictArray."""
    from test_no_sync import _strict, strict

    rng = rng_for("sorting-nosync")
    a = rng.standard_normal((4, 6))
    a[1, 2] = np.nan
    seq = _strict(gpubp.tensor(np.sort(rng.standard_normal((4, 5)), axis=-1), device="cpu"))

    def run(x):
        parts = [
            gpubp.sort(x, 1, descending=True).values,
            x.msort(),
            x.topk(3).values,
            x.kthvalue(2, 0).values,
            x.median(),
            x.median(1).values,
            x.nanmedian(),
            x.nanmedian(0, keepdim=True).values,
            x.mode(1).values,
            x.quantile(0.3, dim=1),
            x.nanquantile(0.6, interpolation="nearest"),
            x.cummax(1).values,
            x.cummin(0).values,
        ]
        return sum(gpubp.where(p != p, 0.0, p).sum() for p in parts)  # NaN-free, so the gradients compare

    ref = gpubp.tensor(a, device="cpu", requires_grad=True)
    run(ref).backward()
    x = _strict(gpubp.tensor(a, device="cpu", requires_grad=True))
    with strict():
        loss = run(x)
        loss.backward()
        idx = gpubp.searchsorted(seq, x.detach()[:, :3], right=True)
        gpubp.bucketize(x.detach(), seq[0])
        gpubp.argsort(x, 0)
    np.testing.assert_allclose(np.asarray(x.grad._data), N(ref.grad))
    assert idx.dtype == np.int64
