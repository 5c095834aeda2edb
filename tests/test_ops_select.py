"""The select family beyond its gradient cases: dtypes, 0-d and empty inputs, in-place forms, out=, errors, index
checks, the GPU paths of scatter's multiply and max/min, and agreement with PyTorch on fresh random inputs."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp.ops import select as sel
from gpubp.ops import select_gather
from gpubp.testing import gradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")


def G(a, device, **kw):  # noqa: N802
    return gpubp.tensor(a, device=device, **kw)


def host(t):
    return t.detach().cpu().numpy()


def _dup_index(rng, shape, high):
    return rng.integers(0, high, shape)


# --- scatter_reduce against torch: every reduction, with and without self, repeated indices, zeros for prod ---


@needs_torch
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(device, reduce, include_self):
    rng = rng_for("scatter_reduce", reduce, include_self)
    x = rng.standard_normal((4, 5))
    src = rng.standard_normal((4, 6))
    idx = _dup_index(rng, (4, 6), 5)
    if reduce == "prod":  # exact zeros: one alone at a position, two together, and in self
        x[0, 1] = 0.0
        idx[0, :3] = [1, 2, 2]
        src[0, :3] = [2.0, 0.0, 0.0]
        idx[1, :2] = [4, 4]
        src[1, :2] = [0.0, 3.0]
    gx, gs = G(x, device, requires_grad=True), G(src, device, requires_grad=True)
    tx, ts = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    go = gpubp.scatter_reduce(gx, 1, G(idx, device), gs, reduce, include_self=include_self)
    to = torch.scatter_reduce(tx, 1, torch.tensor(idx), ts, reduce, include_self=include_self)
    np.testing.assert_allclose(host(go), to.detach().numpy(), rtol=1e-12, atol=1e-12)
    cot = rng.standard_normal(x.shape)
    go.backward(G(cot, device))
    to.backward(torch.tensor(cot))
    np.testing.assert_allclose(host(gx.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(gs.grad), ts.grad.numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
def test_scatter_reduce_ties_share_the_gradient(device):
    x = np.array([[1.0, 5.0, 2.0]])
    src = np.array([[5.0, 5.0, 3.0]])
    idx = np.array([[1, 1, 2]])
    for reduce in ("amax", "amin"):
        gx, gs = G(x, device, requires_grad=True), G(src, device, requires_grad=True)
        tx, ts = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
        gpubp.scatter_reduce(gx, 1, G(idx, device), gs, reduce).sum().backward()
        torch.scatter_reduce(tx, 1, torch.tensor(idx), ts, reduce).sum().backward()
        np.testing.assert_allclose(host(gx.grad), tx.grad.numpy())
        np.testing.assert_allclose(host(gs.grad), ts.grad.numpy())
    assert host(gs.grad).tolist() != [[0.0, 0.0, 0.0]]


@needs_torch
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("dt", ["int64", "int32", "float32"])
def test_scatter_reduce_dtypes(device, reduce, dt):
    rng = rng_for("sr dtypes", reduce, dt)
    x = rng.integers(-4, 5, (3, 4)).astype(dt)
    src = rng.integers(-4, 5, (3, 5)).astype(dt)
    idx = _dup_index(rng, (3, 5), 4)
    for inc in (True, False):
        got = gpubp.scatter_reduce(G(x, device), -1, G(idx, device), G(src, device), reduce, include_self=inc)
        want = torch.scatter_reduce(torch.tensor(x), -1, torch.tensor(idx), torch.tensor(src), reduce, include_self=inc)
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        np.testing.assert_allclose(host(got), want.numpy(), rtol=1e-6)


def _fake_gpu(xp=np):
    """A backend whose device is not the CPU, over NumPy: runs scatter's GPU-only paths here."""

    def scatter_add(target, key, values):
        np.add.at(target, key, values)

    return SimpleNamespace(xp=xp, device=SimpleNamespace(type="cuda"), scatter_add=scatter_add)


@pytest.mark.parametrize("dt", [np.float64, np.int64])
def test_scatter_multiply_and_extremes_without_ufunc_at(dt):
    """The paths a GPU takes (no multiply.at / maximum.at in CuPy) agree with NumPy's ufunc.at."""
    rng = rng_for("gpu paths", dt)
    out = rng.integers(-3, 4, (4, 5)).astype(dt)
    vals = rng.integers(-3, 4, (4, 7)).astype(dt)
    vals[0, :2] = 0
    idx = rng.integers(0, 5, (4, 7))
    key = select_gather.dim_key(np, idx, 1)
    for name, ufunc in (("mul", np.multiply), ("max", np.maximum), ("min", np.minimum)):
        want = out.copy()
        ufunc.at(want, key, vals)
        got = out.copy()
        if name == "mul":
            select_gather.scatter_mul(_fake_gpu(), got, key, vals)
        else:
            select_gather.scatter_extreme(_fake_gpu(), got, key, vals, name == "max")
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert got.dtype == want.dtype


@pytest.mark.parametrize("op", ["scatter", "scatter_add", "scatter_reduce"])
def test_src_larger_than_index_gradcheck(device, op):
    """src may be larger than index in every dim: only its leading block is read (torch's backward errors here)."""
    rng = rng_for("src larger", op)
    idx = G(np.array([[0, 2], [1, 3]]), device)
    x = G(rng.standard_normal((3, 4)), device, requires_grad=True)
    s = G(rng.standard_normal((3, 5)), device, requires_grad=True)
    fns = {
        "scatter": lambda a, b: gpubp.scatter(a, 1, idx, b),
        "scatter_add": lambda a, b: gpubp.scatter_add(a, 1, idx, b),
        "scatter_reduce": lambda a, b: gpubp.scatter_reduce(a, 1, idx, b, "amax"),
    }
    gradcheck(fns[op], [x, s])
    fns[op](x, s).sum().backward()
    assert not np.any(host(s.grad)[2:]) and not np.any(host(s.grad)[:, 2:])
    assert np.any(host(s.grad)[:2, :2])


# --- index checks and errors ---


def test_index_dtypes_as_torch(device):
    x = G(np.arange(12.0).reshape(3, 4), device)
    i32 = G(np.array([[0, 1]], dtype=np.int32), device)
    with pytest.raises(RuntimeError, match="gather"):
        gpubp.gather(x, 1, i32)
    with pytest.raises(RuntimeError, match="take"):
        gpubp.take(x, i32)
    with pytest.raises(RuntimeError, match="index_copy"):
        gpubp.index_copy(x, 1, i32.reshape(-1), x[:, :2])
    with pytest.raises(RuntimeError, match="index_fill"):
        gpubp.index_fill(x, 1, i32.reshape(-1), 1.0)
    # index_select and index_add take int32 too
    np.testing.assert_array_equal(host(gpubp.index_select(x, 1, i32.reshape(-1))), host(x)[:, :2])
    assert host(gpubp.index_add(x, 1, i32.reshape(-1), x[:, :2]))[0, 1] == 2.0
    with pytest.raises(TypeError, match="gather"):
        gpubp.gather(x, 1, [[0, 1]])


def test_out_of_range_indices_raise_on_the_cpu():
    def C(a):  # noqa: N802
        return gpubp.tensor(a, device="cpu")

    x = C(np.arange(12.0).reshape(3, 4))
    bad = C(np.array([[0, 4]]))
    with pytest.raises(IndexError, match="gather.*4"):
        gpubp.gather(x, 1, bad)
    with pytest.raises(IndexError, match="gather.*-1"):
        gpubp.gather(x, 1, C(np.array([[-1]])))
    with pytest.raises(IndexError, match="scatter"):
        gpubp.scatter(x, 1, bad, 1.0)
    with pytest.raises(IndexError, match="scatter_add"):
        gpubp.scatter_add(x, 1, bad, x)
    with pytest.raises(IndexError, match="index_select"):
        gpubp.index_select(x, 0, C(np.array([3])))
    with pytest.raises(IndexError, match="take"):
        gpubp.take(x, C(np.array([12])))
    with pytest.raises(IndexError, match="take_along_dim"):
        gpubp.take_along_dim(x, C(np.array([[-5]])), 1)
    assert host(gpubp.take(x, C(np.array([-1, -12])))).tolist() == [11.0, 0.0]


def test_gather_shape_errors_name_the_op(device):
    x = G(np.zeros((3, 4)), device)
    with pytest.raises(RuntimeError, match="gather.*same number of dimensions"):
        gpubp.gather(x, 1, G(np.zeros((1, 1, 1), dtype=np.int64), device))
    with pytest.raises(RuntimeError, match="gather.*no larger"):
        gpubp.gather(x, 1, G(np.zeros((4, 1), dtype=np.int64), device))
    with pytest.raises(IndexError, match="gather"):
        gpubp.gather(x, 2, G(np.zeros((1, 1), dtype=np.int64), device))
    with pytest.raises(RuntimeError, match="scatter.*src"):
        gpubp.scatter(x, 1, G(np.zeros((2, 2), dtype=np.int64), device), G(np.zeros((1, 2)), device))
    with pytest.raises(RuntimeError, match="scatter.*dtype"):
        gpubp.scatter_add(x, 1, G(np.zeros((1, 1), dtype=np.int64), device), G(np.zeros((1, 1), np.float32), device))
    with pytest.raises(RuntimeError, match="scatter_reduce.*reduce"):
        gpubp.scatter_reduce(x, 1, G(np.zeros((1, 1), dtype=np.int64), device), x, "max")
    with pytest.raises(RuntimeError, match="index_select.*vector"):
        gpubp.index_select(x, 1, G(np.zeros((1, 1), dtype=np.int64), device))
    with pytest.raises(RuntimeError, match="index_add.*scalar type"):
        gpubp.index_add(x, 1, G(np.array([0]), device), G(np.zeros((3, 1), np.float32), device))
    with pytest.raises(RuntimeError, match="index_copy.*source"):
        gpubp.index_copy(x, 1, G(np.array([0]), device), G(np.zeros((3, 2)), device))
    with pytest.raises(RuntimeError, match="take_along_dim.*dimensions"):
        gpubp.take_along_dim(x, G(np.zeros((1,), dtype=np.int64), device), 1)


def test_scatter_with_reduce_has_no_gradient(device):
    x = G(np.ones((2, 3)), device, requires_grad=True)
    y = gpubp.scatter(x, 1, G(np.array([[0, 0]]), device), 2.0, reduce="multiply")
    assert host(y).tolist() == [[4.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    with pytest.raises(RuntimeError, match="scatter.*reduce"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="scatter"):
        gpubp.scatter(x, 1, G(np.array([[0]]), device), 2.0, reduce="max")


# --- dtypes, 0-d and empty inputs ---


@needs_torch
def test_integer_and_bool_inputs(device):
    rng = rng_for("int inputs")
    xi = rng.integers(-9, 9, (3, 4))
    xb = xi > 0
    idx = rng.integers(0, 4, (3, 2))
    for x in (xi, xb, xi.astype(np.int32)):
        tx, gx = torch.tensor(x), G(x, device)
        pairs = [
            (gpubp.gather(gx, 1, G(idx, device)), torch.gather(tx, 1, torch.tensor(idx))),
            (gpubp.index_select(gx, 0, G(np.array([2, 0]), device)), torch.index_select(tx, 0, torch.tensor([2, 0]))),
            (gpubp.take(gx, G(idx, device)), torch.take(tx, torch.tensor(idx))),
            (gpubp.tril(gx, 1), torch.tril(tx, 1)),
            (gpubp.triu(gx), torch.triu(tx)),
            (gpubp.diagonal(gx, -1), torch.diagonal(tx, -1)),
            (gpubp.diag_embed(gx), torch.diag_embed(tx)),
            (gpubp.masked_select(gx, G(xb, device)), torch.masked_select(tx, torch.tensor(xb))),
            (gpubp.masked_fill(gx, G(~xb, device), 1), torch.masked_fill(tx, torch.tensor(~xb), 1)),
        ]
        if x.dtype != bool:
            pairs.append((gpubp.trace(gx), torch.trace(tx)))
        for got, want in pairs:
            assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (got.dtype, want.dtype)
            np.testing.assert_array_equal(host(got), want.numpy())


def test_masked_fill_value_and_dtype(device):
    x = G(np.array([1, 2, 3]), device)
    m = G(np.array([True, False, True]), device)
    y = gpubp.masked_fill(x, m, 1.7)
    assert y.dtype == np.int64 and host(y).tolist() == [1, 2, 1]
    v = G(np.array(2.5), device, requires_grad=True)
    a = G(np.arange(6.0).reshape(2, 3), device, requires_grad=True)
    z = gpubp.masked_fill(a, m, v)
    assert host(z).tolist() == [[2.5, 1.0, 2.5], [2.5, 4.0, 2.5]]
    (z * G(np.arange(1.0, 7.0).reshape(2, 3), device)).sum().backward()
    assert host(v.grad).item() == 1 + 3 + 4 + 6
    assert host(a.grad).tolist() == [[0.0, 2.0, 0.0], [0.0, 5.0, 0.0]]
    with pytest.raises(RuntimeError, match="masked_fill.*0-dimensional"):
        gpubp.masked_fill(a, m, G(np.array([1.0]), device))
    with pytest.raises(RuntimeError, match="masked_fill.*boolean"):
        gpubp.masked_fill(a, G(np.array([1, 0, 1]), device), 1.0)
    with pytest.raises(RuntimeError, match="masked_fill"):
        gpubp.masked_fill(a, G(np.array([True, False]), device), 1.0)


def test_zero_dim_and_empty(device):
    s = G(np.array(3.0), device, requires_grad=True)
    i0 = G(np.array(0), device)
    assert host(gpubp.gather(s, 0, i0)).item() == 3.0 and gpubp.gather(s, 0, i0).shape == ()
    assert host(gpubp.scatter(s, -1, i0, 5.0)).item() == 5.0
    assert host(gpubp.scatter_add(s, 0, i0, G(np.array(2.0), device))).item() == 5.0
    assert gpubp.index_select(s, 0, G(np.array([0, 0]), device)).shape == (2,)
    assert host(gpubp.take(s, G(np.array([0, -1]), device))).tolist() == [3.0, 3.0]
    assert host(gpubp.masked_fill(s, G(np.array(True), device), 1.0)).item() == 1.0
    assert host(gpubp.masked_select(s, G(np.array(True), device))).tolist() == [3.0]
    gpubp.gather(s, 0, i0).backward()
    assert host(s.grad).item() == 1.0
    x = G(np.arange(6.0).reshape(2, 3), device)
    empty = G(np.zeros((2, 0), dtype=np.int64), device)
    assert gpubp.gather(x, 1, empty).shape == (2, 0)
    assert gpubp.index_select(x, 1, G(np.zeros(0, dtype=np.int64), device)).shape == (2, 0)
    assert gpubp.masked_select(x, x > 10).shape == (0,)
    assert gpubp.nonzero(x > 10).shape == (0, 2)
    assert gpubp.diagonal(x, 5).shape == (0,)
    assert gpubp.tril_indices(0, 3).shape == (2, 0)


def test_nonzero_argwhere_and_one_argument_where(device):
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    x = G(a, device)
    nz = gpubp.nonzero(x)
    assert nz.dtype == np.int64 and host(nz).tolist() == [[0, 1], [1, 0], [1, 2]]
    rows, cols = gpubp.nonzero(x, as_tuple=True)
    assert host(rows).tolist() == [0, 1, 1] and host(cols).tolist() == [1, 0, 2]
    assert host(x.nonzero()).tolist() == host(gpubp.argwhere(x)).tolist() == host(x.argwhere()).tolist()
    w = gpubp.where(x != 0)
    assert isinstance(w, tuple) and [host(t).tolist() for t in w] == [[0, 1, 1], [1, 0, 2]]
    assert gpubp.nonzero(G(np.array(2.0), device)).shape == (1, 0)
    assert gpubp.nonzero(G(np.array(0.0), device)).shape == (0, 0)
    assert [host(t).tolist() for t in gpubp.nonzero(G(np.array(2.0), device), as_tuple=True)] == [[0]]
    with pytest.raises(TypeError, match="where"):
        gpubp.where(x > 0, x)
    assert host(gpubp.where(x > 0, x, 0.0)).tolist() == [[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]]


def test_select_and_unbind_are_views(device):
    x = G(np.arange(12.0).reshape(3, 4), device)
    col = x.select(1, -1)
    rows = gpubp.unbind(x)
    assert host(col).tolist() == [3.0, 7.0, 11.0] and len(rows) == 3 and rows[1].shape == (4,)
    x.add_(1.0)
    assert host(col).tolist() == [4.0, 8.0, 12.0] and host(rows[2]).tolist() == [9.0, 10.0, 11.0, 12.0]
    assert gpubp.select(x, 0, 1).shape == (4,)
    with pytest.raises(IndexError, match="select.*out of range"):
        x.select(1, 4)
    with pytest.raises(IndexError):
        x.select(2, 0)
    with pytest.raises(RuntimeError, match="select"):
        gpubp.select(G(np.array(1.0), device), 0, 0)


# --- triangles and diagonals ---


@needs_torch
def test_tri_indices_match_torch(device):
    for row, col, off in ((3, 4, 0), (4, 3, -1), (3, 3, 2), (1, 5, -3), (4, 4, 7)):
        for ours, theirs in ((gpubp.tril_indices, torch.tril_indices), (gpubp.triu_indices, torch.triu_indices)):
            got = ours(row, col, off, device=device)
            assert got.dtype == np.int64 and str(got.device).startswith(device)
            np.testing.assert_array_equal(host(got), theirs(row, col, off).numpy())
    assert gpubp.tril_indices(3, 3, dtype=gpubp.int32).dtype == np.int32


def test_tri_and_diag_errors(device):
    v = G(np.arange(3.0), device)
    with pytest.raises(RuntimeError, match="tril"):
        gpubp.tril(v)
    with pytest.raises(RuntimeError, match="diag.*1D or 2D"):
        gpubp.diag(G(np.zeros((2, 2, 2)), device))
    with pytest.raises(RuntimeError, match="diagonal.*identical"):
        gpubp.diagonal(G(np.zeros((2, 2)), device), 0, 1, -1)
    with pytest.raises(RuntimeError, match="trace.*matrix"):
        gpubp.trace(v)
    with pytest.raises(IndexError):
        gpubp.diag_embed(v, 0, 0, 2)


@needs_torch
def test_diagonal_family_matches_torch_on_batches(device):
    rng = rng_for("diagonal batches")
    y = rng.standard_normal((2, 3, 4, 5))
    for off in (-2, 0, 3):
        for d1, d2 in ((0, 1), (3, 1), (-1, -3)):
            np.testing.assert_allclose(
                host(gpubp.diagonal(G(y, device), off, d1, d2)), torch.diagonal(torch.tensor(y), off, d1, d2).numpy()
            )
            np.testing.assert_allclose(
                host(gpubp.diag_embed(G(y, device), off, d1, d2)),
                torch.diag_embed(torch.tensor(y), off, d1, d2).numpy(),
            )


# --- in-place forms ---


@needs_torch
@pytest.mark.filterwarnings("ignore:index_reduce")  # torch: index_reduce is in beta
def test_inplace_forms_value_version_and_gradient(device):
    rng = rng_for("inplace")
    a = rng.standard_normal((3, 4))
    s = rng.standard_normal((3, 4))
    idx = rng.integers(0, 4, (3, 4))
    uniq = np.array([[3, 0], [1, 2], [0, 1]])
    vec = np.array([2, 0])
    mask = a > 0
    ops = [
        ("scatter_", lambda t, src, mk: t.scatter_(1, mk(uniq), src[:, :2])),
        ("scatter_add_", lambda t, src, mk: t.scatter_add_(1, mk(idx), src)),
        ("scatter_reduce_", lambda t, src, mk: t.scatter_reduce_(1, mk(idx), src, "amax", include_self=False)),
        ("index_add_", lambda t, src, mk: t.index_add_(1, mk(vec), src[:, :2], alpha=-2.0)),
        ("index_copy_", lambda t, src, mk: t.index_copy_(1, mk(vec), src[:, :2])),
        ("index_fill_", lambda t, src, mk: t.index_fill_(0, mk(vec), src[0, 0])),
        ("masked_fill_", lambda t, src, mk: t.masked_fill_(mk(mask), src[1, 1])),
        ("masked_scatter_", lambda t, src, mk: t.masked_scatter_(mk(mask), src)),
        ("put_", lambda t, src, mk: t.put_(mk(idx[:2]), src[:2], accumulate=True)),
        ("index_reduce_", lambda t, src, mk: t.index_reduce_(1, mk(vec), src[:, :2], "prod")),
        ("tril_", lambda t, src, mk: t.tril_(-1)),
        ("triu_", lambda t, src, mk: t.triu_(1)),
    ]
    cot = rng.standard_normal((3, 4))
    for name, fn in ops:
        ga, gs = G(a, device, requires_grad=True), G(s, device, requires_grad=True)
        ta, ts = torch.tensor(a, requires_grad=True), torch.tensor(s, requires_grad=True)
        gy = ga * 1.0
        before = gy._vc[0]
        r = fn(gy, gs, lambda v: G(v, device))
        assert r is gy and gy._vc[0] > before, name
        ty = ta * 1.0
        fn(ty, ts, torch.tensor)
        np.testing.assert_allclose(host(gy), ty.detach().numpy(), err_msg=name)
        (gy * G(cot, device)).sum().backward()
        (ty * torch.tensor(cot)).sum().backward()
        np.testing.assert_allclose(host(ga.grad), ta.grad.numpy(), err_msg=name)
        if ts.grad is None:
            assert gs.grad is None or not np.any(host(gs.grad)), name
        else:
            np.testing.assert_allclose(host(gs.grad), ts.grad.numpy(), err_msg=name)


def test_inplace_refusals_and_plain_writes(device):
    leaf = G(np.ones((2, 3)), device, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_"):
        leaf.masked_fill_(G(np.array([True, False, True]), device), 0.0)
    x = G(np.ones((2, 3)), device)
    with pytest.raises(RuntimeError, match="masked_fill_"):
        x.masked_fill_(G(np.ones((4, 2, 3), dtype=bool), device), 0.0)
    v = x._vc[0]
    x.scatter_(1, G(np.array([[0, 0]]), device), 2.0, reduce="add")
    x.index_fill_(0, G(np.array([1]), device), -1.0)
    assert host(x).tolist() == [[5.0, 1.0, 1.0], [-1.0, -1.0, -1.0]] and x._vc[0] == v + 2
    with gpubp.no_grad():
        leaf.index_fill_(1, G(np.array([2]), device), 0.0)
    assert host(leaf).tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
    # a value tensor that requires grad records even on a tensor that does not
    w = G(np.array(2.0), device, requires_grad=True)
    y = G(np.zeros(3), device)
    y.masked_fill_(G(np.array([True, False, True]), device), w)
    y.sum().backward()
    assert host(w.grad).item() == 2.0


# --- out=, methods, named functions ---


def test_out_and_methods(device):
    x = G(np.arange(12.0).reshape(3, 4), device)
    out = G(np.zeros(1), device)
    r = gpubp.gather(x, 1, G(np.array([[1], [0], [3]]), device), out=out)
    assert r is out and host(out).tolist() == [[1.0], [4.0], [11.0]]
    out = G(np.zeros((3, 4)), device)
    assert gpubp.tril(x, out=out) is out and host(out)[0].tolist() == [0.0, 0.0, 0.0, 0.0]
    out = G(np.zeros(0), device)
    gpubp.masked_select(x, x > 9, out=out)
    assert host(out).tolist() == [10.0, 11.0]
    gpubp.index_select(x, 0, G(np.array([2]), device), out=out)
    assert out.shape == (1, 4)
    gpubp.take(x, G(np.array([5]), device), out=out)
    assert host(out).tolist() == [5.0]
    for name in sel.METHODS:
        assert callable(getattr(gpubp.Tensor, name)), name
    for name in ("gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_copy",
                 "index_fill", "take", "take_along_dim", "masked_fill", "masked_select", "masked_scatter", "nonzero",
                 "argwhere", "select", "unbind", "tril", "triu", "tril_indices", "triu_indices", "diag", "diagonal",
                 "diag_embed", "trace"):  # fmt: skip
        assert callable(getattr(gpubp, name)), name


@needs_torch
def test_take_along_dim_broadcasting_matches_torch(device):
    rng = rng_for("take_along_dim")
    x = rng.standard_normal((2, 1, 5))
    for ishape in ((1, 3, 2), (2, 4, 1), (1, 1, 3)):
        idx = rng.integers(-5, 5, ishape)
        got = gpubp.take_along_dim(G(x, device), G(idx, device), 2)
        want = torch.take_along_dim(torch.tensor(x), torch.tensor(idx), 2)
        np.testing.assert_allclose(host(got), want.numpy())
    idx = rng.integers(0, 10, (4,))
    np.testing.assert_allclose(
        host(gpubp.take_along_dim(G(x, device), G(idx, device))),
        torch.take_along_dim(torch.tensor(x), torch.tensor(idx)),
    )


@needs_torch
def test_put_index_reduce_and_scatter_views(device):
    rng = rng_for("extras")
    x = rng.integers(-5, 6, (3, 4))
    gx, tx = G(x, device), torch.tensor(x)
    idx = np.array([[1, 1], [-1, 0]])
    src = rng.integers(-5, 6, (2, 2))
    for acc in (False, True):
        got = gpubp.put(gx, G(idx[1:], device), G(src[0], device), accumulate=acc)
        np.testing.assert_array_equal(host(got), torch.put(tx, torch.tensor(idx[1:]), torch.tensor(src[0]), acc))
    got = gpubp.put(gx, G(idx, device), G(src, device), accumulate=True)
    np.testing.assert_array_equal(host(got), torch.put(tx, torch.tensor(idx), torch.tensor(src), accumulate=True))
    v = np.array([2, 0, 2], dtype=np.int32)
    s3 = rng.integers(-5, 6, (3, 3))
    for reduce in ("prod", "mean", "amax", "amin"):
        for inc in (True, False):
            got = gpubp.index_reduce(gx, 1, G(v, device), G(s3, device), reduce, include_self=inc)
            with warnings.catch_warnings():  # torch: index_reduce is in beta
                warnings.simplefilter("ignore", UserWarning)
                want = torch.index_reduce(tx, 1, torch.tensor(v), torch.tensor(s3), reduce, include_self=inc)
            assert got.dtype == np.int64
            np.testing.assert_array_equal(host(got), want.numpy(), err_msg=f"{reduce} {inc}")
    np.testing.assert_array_equal(
        host(gpubp.select_scatter(gx, G(src[0], device).reshape(2)[:1].expand(4), 0, 1)),
        torch.select_scatter(tx, torch.tensor(src[0]).reshape(2)[:1].expand(4), 0, 1),
    )
    np.testing.assert_array_equal(
        host(gx.slice_scatter(G(s3[:, :2], device), 1, 0, 4, 3)), tx.slice_scatter(torch.tensor(s3[:, :2]), 1, 0, 4, 3)
    )
    np.testing.assert_array_equal(host(gpubp.diagflat(gx[:1], 2)), torch.diagflat(tx[:1], 2))


def test_extras_errors(device):
    x = G(np.zeros((3, 4)), device)
    with pytest.raises(IndexError, match="put.*same number of elements"):
        gpubp.put(x, G(np.array([0, 1]), device), G(np.zeros(3), device))
    with pytest.raises(RuntimeError, match="put"):
        gpubp.put(x, G(np.array([0], dtype=np.int32), device), G(np.zeros(1), device))
    with pytest.raises(RuntimeError, match="index_reduce.*sum"):
        gpubp.index_reduce(x, 0, G(np.array([0]), device), G(np.zeros((1, 4)), device), "sum")
    with pytest.raises(RuntimeError, match="index_reduce.*source"):
        gpubp.index_reduce(x, 0, G(np.array([0]), device), G(np.zeros((2, 4)), device), "amax")
    with pytest.raises(RuntimeError, match="select_scatter.*size"):
        gpubp.select_scatter(x, G(np.zeros(3), device), 0, 0)
    with pytest.raises(IndexError, match="select_scatter"):
        gpubp.select_scatter(x, G(np.zeros(4), device), 0, 3)
    with pytest.raises(RuntimeError, match="slice_scatter.*size"):
        gpubp.slice_scatter(x, G(np.zeros((3, 3)), device), 1, 0, None, 2)
    with pytest.raises(RuntimeError, match="diagonal_scatter.*size"):
        gpubp.diagonal_scatter(x, G(np.zeros(4), device))
