"""The products family beyond its gradient cases: integer dtypes, 0-d and empty inputs, methods, in-place forms,
out=, einsum's equation forms and errors, agreement with PyTorch on fresh random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp.errors import InputError, InputTypeError

G = gpubp.ops


def _np(t: gpubp.Tensor) -> np.ndarray:
    t = t.detach()
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()


def _rand(key: str, *shapes: tuple, dtype: str = "float64") -> list[np.ndarray]:
    rng = rng_for("products", key, shapes)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _ints(key: str, *shapes: tuple) -> list[np.ndarray]:
    rng = rng_for("products-int", key, shapes)
    return [rng.integers(-5, 6, s) for s in shapes]


# ---- einsum ----

EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(4, 4)]),
    ("iji->j", [(2, 3, 2)]),
    ("...ij->...ji", [(2, 3, 4)]),
    ("...ij->ij", [(2, 3, 4)]),  # the ellipsis dims are summed (NumPy refuses this one: see _NUMPY_EQ)
    ("b...i,b...i->b...", [(2, 1, 3), (2, 4, 3)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(0,), (0,)]),
    ("ij->j", [(0, 3)]),
    (",i->i", [(), (3,)]),
    ("", [()]),
    ("bij,bjk,bkl->bil", [(2, 2, 3), (2, 3, 4), (2, 4, 2)]),
    ("Ab,bA", [(2, 3), (3, 2)]),
    ("cb,bA", [(4, 3), (3, 2)]),  # implicit output: upper case sorts first (Ac)
    (" i j , j k -> i k ", [(2, 3), (3, 2)]),
]


_NUMPY_EQ = {"...ij->ij": "kij->ij"}


@pytest.mark.parametrize("eq,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_matches_numpy_and_torch(device: str, eq: str, shapes: list) -> None:
    arrays = _rand(eq, *shapes)
    got = gpubp.einsum(eq, *[gpubp.tensor(a, device=device) for a in arrays])
    want = np.einsum(_NUMPY_EQ.get(eq, eq.replace(" ", "")), *arrays)
    assert got.shape == want.shape
    np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-12)
    if torch is not None:
        ref = torch.einsum(eq, *[torch.tensor(a) for a in arrays])
        assert tuple(ref.shape) == got.shape
        np.testing.assert_allclose(_np(got), ref.numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_forms(device: str) -> None:
    a, b = _rand("forms", (2, 3), (3, 4))
    ta, tb = gpubp.tensor(a, device=device), gpubp.tensor(b, device=device)
    want = a @ b
    for got in (
        gpubp.einsum("ij,jk->ik", [ta, tb]),
        gpubp.einsum("ij,jk->ik", (ta, tb)),
        gpubp.einsum(ta, [0, 1], tb, [1, 2], [0, 2]),
        gpubp.einsum(ta, [0, 1], tb, [1, 2]),
    ):
        np.testing.assert_allclose(_np(got), want, rtol=1e-12)


def test_einsum_output_owns_its_memory(device: str) -> None:
    (a,) = _rand("own", (2, 3))
    ta = gpubp.tensor(a, device=device)
    out = gpubp.einsum("ij->ji", ta)
    out[0, 0] = 100.0
    np.testing.assert_array_equal(_np(ta), a)
    total = gpubp.einsum("ij->", ta)  # a 0-d result is an array too (NumPy returns a scalar there): writable
    total.add_(1.0)
    np.testing.assert_allclose(_np(total), a.sum() + 1.0, rtol=1e-12)


def test_einsum_integer(device: str) -> None:
    a, b = _ints("einsum", (2, 3), (3, 4))
    got = gpubp.einsum("ij,jk->ik", gpubp.tensor(a, device=device), gpubp.tensor(b, device=device))
    assert got.dtype == gpubp.int64
    np.testing.assert_array_equal(_np(got), a @ b)
    got32 = gpubp.einsum("ii", gpubp.tensor(a[:, :2].astype(np.int32), device=device))
    assert got32.dtype == gpubp.int32


def test_einsum_double_backward_through_a_diagonal(device: str) -> None:
    (a,) = _rand("ddiag", (3, 3))
    x = gpubp.tensor(a, device=device, requires_grad=True)
    y = gpubp.einsum("ii->i", x) ** 3
    (g,) = gpubp.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g), np.diag(3 * np.diag(a) ** 2), rtol=1e-12)
    (gg,) = gpubp.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_np(gg), np.diag(6 * np.diag(a)), rtol=1e-12)


@pytest.mark.parametrize(
    "eq,shapes,match",
    [
        ("ij,jk->ii", [(2, 3), (3, 4)], "appears more than once"),
        ("ij->k", [(2, 3)], "does not appear in the equation"),
        ("i,j", [(2,)], "fewer operands"),
        ("i", [(2,), (2,)], "more operands"),
        ("ij", [(2,)], "number of subscripts"),
        ("i,i", [(2,), (3,)], "does not broadcast"),
        ("ii", [(2, 3)], "repeated for operand 0"),
        ("i#", [(2,)], "invalid subscript"),
        ("i..", [(2,)], "ellipsis"),
    ],
)
def test_einsum_errors(device: str, eq: str, shapes: list, match: str) -> None:
    ts = [gpubp.tensor(a, device=device) for a in _rand(eq, *shapes)]
    with pytest.raises(InputError, match=f"einsum.*{match}"):
        gpubp.einsum(eq, *ts)


def test_einsum_dtype_errors(device: str) -> None:
    a = gpubp.ones(3, device=device)
    with pytest.raises(InputTypeError, match="einsum"):
        gpubp.einsum("i,i", a, gpubp.ones(3, dtype=gpubp.float64, device=device))
    with pytest.raises(InputTypeError, match="einsum.*bool"):
        gpubp.einsum("i,i", a > 0, a > 0)
    with pytest.raises(TypeError, match="einsum"):
        gpubp.einsum("i,i", a, [1.0, 2.0, 3.0])


# ---- the add-products and their in-place forms ----

ADD_PRODUCTS = [
    ("addmm", [(2,), (2, 3), (3, 2)]),
    ("addmv", [(2,), (2, 3), (3,)]),
    ("baddbmm", [(2, 1, 2), (2, 2, 3), (2, 3, 2)]),
    ("addbmm", [(2, 2), (4, 2, 3), (4, 3, 2)]),
]


@pytest.mark.parametrize("name,shapes", ADD_PRODUCTS, ids=[n for n, _ in ADD_PRODUCTS])
def test_add_products_integer_and_torch(device: str, name: str, shapes: list) -> None:
    arrays = _ints(name, *shapes)
    ts = [gpubp.tensor(a, device=device) for a in arrays]
    got = getattr(gpubp, name)(*ts, beta=3, alpha=-2)
    assert got.dtype == gpubp.int64
    if torch is not None:
        ref = getattr(torch, name)(*[torch.tensor(a) for a in arrays], beta=3, alpha=-2)
        np.testing.assert_array_equal(_np(got), ref.numpy())
        # float coefficients on integer tensors are truncated, as PyTorch
        ref = getattr(torch, name)(*[torch.tensor(a) for a in arrays], beta=0.5, alpha=2.5)
        np.testing.assert_array_equal(_np(getattr(ts[0], name)(*ts[1:], beta=0.5, alpha=2.5)), ref.numpy())


@pytest.mark.parametrize("name,shapes", ADD_PRODUCTS, ids=[n for n, _ in ADD_PRODUCTS])
def test_add_products_beta_zero_ignores_nan(device: str, name: str, shapes: list) -> None:
    arrays = _rand(name, *shapes)
    arrays[0][...] = np.nan
    inp = gpubp.tensor(arrays[0], device=device, requires_grad=True)
    a, b = (gpubp.tensor(x, device=device) for x in arrays[1:])
    got = getattr(gpubp, name)(inp, a, b, beta=0)
    assert not np.isnan(_np(got)).any()
    got.sum().backward()
    np.testing.assert_array_equal(_np(inp.grad), np.zeros(shapes[0]))


@pytest.mark.parametrize("name,shapes", ADD_PRODUCTS, ids=[n for n, _ in ADD_PRODUCTS])
def test_add_products_inplace(device: str, name: str, shapes: list) -> None:
    out_shape = np.broadcast_shapes(
        shapes[0], (np.zeros(shapes[1]) @ np.zeros(shapes[2])).sum(0 if name == "addbmm" else ()).shape
    )
    base, a, b = _rand(name + "_", out_shape, shapes[1], shapes[2])
    ta = gpubp.tensor(a, device=device, requires_grad=True)
    tb = gpubp.tensor(b, device=device)
    x = gpubp.tensor(base, device=device)
    v0 = x._vc[0]
    r = getattr(x, name + "_")(ta, tb, beta=0.5, alpha=2.0)
    assert r is x and x._vc[0] == v0 + 1
    prod = a @ b
    if name == "addbmm":
        prod = prod.sum(0)
    np.testing.assert_allclose(_np(x), 0.5 * base + 2.0 * prod, rtol=1e-12)
    # the write is recorded: the gradient reaches the operand through x
    x.sum().backward()
    g = np.ones(out_shape)
    want = 2.0 * (g @ np.swapaxes(b, -1, -2) if name != "addmv" else np.outer(g, b))
    np.testing.assert_allclose(_np(ta.grad), np.broadcast_to(want, a.shape), rtol=1e-12)


def test_inplace_gradient_reaches_the_old_value(device: str) -> None:
    base, a, b = _rand("old", (2, 2), (2, 3), (3, 2))
    leaf = gpubp.tensor(base, device=device, requires_grad=True)
    x = leaf * 1.0
    x.addmm_(gpubp.tensor(a, device=device), gpubp.tensor(b, device=device), beta=-3.0)
    np.testing.assert_allclose(_np(x), -3.0 * base + a @ b, rtol=1e-12)
    (x * x).sum().backward()
    np.testing.assert_allclose(_np(leaf.grad), -3.0 * 2 * (-3.0 * base + a @ b), rtol=1e-12)


def test_inplace_refuses_a_leaf_that_requires_grad(device: str) -> None:
    x = gpubp.ones((2, 2), device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="addmm_"):
        x.addmm_(gpubp.ones((2, 3), device=device), gpubp.ones((3, 2), device=device))
    y = gpubp.ones((2,), device=device)
    with pytest.raises(InputError, match="addmm_"):  # the result would not fit in the tensor written to
        y.addmm_(gpubp.ones((2, 3), device=device), gpubp.ones((3, 2), device=device))


def test_add_product_errors(device: str) -> None:
    o = gpubp.ones
    with pytest.raises(InputError, match="addmm.*mat1 must be a 2-D"):
        gpubp.addmm(o((2, 2), device=device), o((2,), device=device), o((2, 2), device=device))
    with pytest.raises(InputError, match="addmm.*cannot be multiplied"):
        gpubp.addmm(o((2, 2), device=device), o((2, 3), device=device), o((2, 2), device=device))
    with pytest.raises(InputError, match="addmm.*does not broadcast"):
        gpubp.addmm(o((3, 2), device=device), o((2, 3), device=device), o((3, 2), device=device))
    with pytest.raises(InputTypeError, match="addmv.*same dtype"):
        gpubp.addmv(o(2, device=device), o((2, 3), device=device, dtype=gpubp.float64), o(3, device=device))
    with pytest.raises(InputError, match="baddbmm.*batch size"):
        gpubp.baddbmm(o((2, 2), device=device), o((2, 2, 3), device=device), o((3, 3, 2), device=device))
    with pytest.raises(TypeError, match="addbmm.*beta"):
        gpubp.addbmm(o((2, 2), device=device), o((2, 2, 3), device=device), o((2, 3, 2), device=device), beta="x")


# ---- vector products ----


def test_vector_products_match_torch(device: str) -> None:
    a, b, m = _rand("vec", (4,), (4,), (3, 4))
    ta, tb, tm = (gpubp.tensor(x, device=device) for x in (a, b, m))
    np.testing.assert_allclose(_np(gpubp.dot(ta, tb)), a @ b, rtol=1e-12)
    np.testing.assert_allclose(_np(ta.vdot(tb)), np.vdot(a, b), rtol=1e-12)
    np.testing.assert_allclose(_np(tm.mv(ta)), m @ a, rtol=1e-12)
    np.testing.assert_allclose(_np(gpubp.outer(ta, tb[:3])), np.outer(a, b[:3]), rtol=1e-12)
    np.testing.assert_allclose(_np(ta.ger(tb)), np.outer(a, b), rtol=1e-12)
    np.testing.assert_allclose(_np(gpubp.inner(tm, ta)), np.inner(m, a), rtol=1e-12)
    assert gpubp.dot(ta, tb).shape == ()
    assert gpubp.dot(ta[:0], tb[:0]).shape == () and float(gpubp.dot(ta[:0], tb[:0])) == 0.0


def test_vector_products_integer(device: str) -> None:
    a, b, m = _ints("vec", (4,), (4,), (3, 4))
    ta, tb, tm = (gpubp.tensor(x, device=device) for x in (a, b, m))
    for got, want in ((gpubp.dot(ta, tb), a @ b), (tm.mv(ta), m @ a), (ta.outer(tb), np.outer(a, b)),
                      (gpubp.inner(tm, ta), np.inner(m, a)), (gpubp.kron(tm, ta), np.kron(m, a))):  # fmt: skip
        assert got.dtype == gpubp.int64
        np.testing.assert_array_equal(_np(got), want)
    # outer, kron and cross promote mixed dtypes, as PyTorch
    tf = gpubp.tensor(b.astype(np.float32), device=device)
    assert gpubp.outer(ta, tf).dtype == gpubp.float32
    assert gpubp.kron(ta, tf).dtype == gpubp.float32


def test_vector_product_errors(device: str) -> None:
    o = gpubp.ones
    with pytest.raises(InputError, match="dot: 1D tensors expected, but got 2D and 1D"):
        gpubp.dot(o((3, 1), device=device), o(3, device=device))
    with pytest.raises(InputTypeError, match="dot: expected both vectors to have same dtype"):
        gpubp.dot(o(3, device=device), o(3, device=device, dtype=gpubp.float64))
    with pytest.raises(InputError, match="dot: inconsistent tensor size"):
        gpubp.dot(o(3, device=device), o(4, device=device))
    with pytest.raises(InputTypeError, match="dot.*bool"):
        gpubp.dot(o(3, device=device) > 0, o(3, device=device) > 0)
    with pytest.raises(InputError, match="mv: size mismatch"):
        gpubp.mv(o((2, 3), device=device), o(4, device=device))
    with pytest.raises(InputError, match="outer: Expected 1-D argument self"):
        gpubp.outer(o((3, 1), device=device), o(2, device=device))
    with pytest.raises(InputTypeError, match="inner: both inputs should have same dtype"):
        gpubp.inner(o(3, device=device), o(3, device=device, dtype=gpubp.float64))
    with pytest.raises(InputError, match="inner: last dimension"):
        gpubp.inner(o((2, 3), device=device), o((2, 4), device=device))
    with pytest.raises(TypeError, match="dot"):
        gpubp.dot(o(3, device=device), np.ones(3))


# ---- tensordot, kron, cross, chains ----


@pytest.mark.parametrize(
    "shapes,dims",
    [([(2, 3), (3, 4)], 1), ([(2, 3), (2, 3)], 2), ([(2, 3), (4,)], 0), ([(2, 3, 4), (4, 2, 3)], ([1, 2], [2, 0])),
     ([(2, 3), (3, 2)], (1, 0)), ([(2, 3), (3, 2)], [[0, 1], [1, 0]]), ([(0, 3), (3, 2)], 1)],
)  # fmt: skip
def test_tensordot_matches_torch(device: str, shapes: list, dims: object) -> None:
    a, b = _rand(f"td{dims}", *shapes)
    got = gpubp.tensordot(gpubp.tensor(a, device=device), gpubp.tensor(b, device=device), dims=dims)
    want = np.tensordot(a, b, axes=dims)
    assert got.shape == want.shape
    np.testing.assert_allclose(_np(got), want, rtol=1e-12, atol=1e-12)
    if torch is not None and not (isinstance(dims, tuple) and isinstance(dims[0], int)):  # torch wants lists there
        np.testing.assert_allclose(_np(got), torch.tensordot(torch.tensor(a), torch.tensor(b), dims).numpy())


def test_tensordot_errors(device: str) -> None:
    a = gpubp.ones((2, 3), device=device)
    with pytest.raises(InputError, match="tensordot expects dims >= 0"):
        gpubp.tensordot(a, a, -1)
    with pytest.raises(InputError, match="tensordot expects dims < ndim_a or ndim_b"):
        gpubp.tensordot(a, a, 3)
    with pytest.raises(InputError, match="contracted dimensions need to match"):
        gpubp.tensordot(a, a, ([0, 1], [1, 0]))
    with pytest.raises(IndexError, match="tensordot"):
        gpubp.tensordot(a, a, ([2], [0]))


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((2,), (3, 2)), ((2, 2, 1), (3,)), ((), (3,)), ((0, 2), (2, 2))])
def test_kron_matches_numpy(device: str, sa: tuple, sb: tuple) -> None:
    a, b = _rand("kron", sa, sb)
    got = gpubp.kron(gpubp.tensor(a, device=device), gpubp.tensor(b, device=device))
    want = np.kron(a, b)
    assert got.shape == want.shape
    np.testing.assert_allclose(_np(got), want, rtol=1e-12)


def test_cross(device: str) -> None:
    a, b = _rand("cross", (4, 3), (1, 3))
    ta, tb = gpubp.tensor(a, device=device), gpubp.tensor(b, device=device)
    want = np.cross(a, b)
    np.testing.assert_allclose(_np(gpubp.cross(ta, tb)), want, rtol=1e-12)
    np.testing.assert_allclose(_np(G.linalg_cross(ta, tb)), want, rtol=1e-12)
    np.testing.assert_allclose(_np(ta.cross(tb, dim=-1)), want, rtol=1e-12)
    # dim=None takes the first dim of size 3 (PyTorch's old default), linalg.cross takes -1
    c, d = _rand("cross3", (3, 3), (3, 3))
    tc, td = gpubp.tensor(c, device=device), gpubp.tensor(d, device=device)
    np.testing.assert_allclose(_np(gpubp.cross(tc, td)), np.cross(c, d, axis=0), rtol=1e-12)
    np.testing.assert_allclose(_np(G.linalg_cross(tc, td)), np.cross(c, d, axis=-1), rtol=1e-12)
    i1, i2 = np.array([1, 2, 3]), np.array([-2, 0, 5])
    got = gpubp.cross(gpubp.tensor(i1, device=device), gpubp.tensor(i2, device=device), dim=0)
    assert got.dtype == gpubp.int64
    np.testing.assert_array_equal(_np(got), np.cross(i1, i2))
    mixed = gpubp.cross(gpubp.tensor(i1, device=device), gpubp.tensor(i2.astype(np.float32), device=device), dim=0)
    assert mixed.dtype == gpubp.float32
    with pytest.raises(InputError, match="linalg.cross: inputs dimension 0 must have length 3. Got 2 and 2"):
        G.linalg_cross(gpubp.ones((2, 3), device=device), gpubp.ones((2, 3), device=device), dim=0)
    with pytest.raises(InputError, match="linalg.cross: inputs must have the same number of dimensions"):
        gpubp.cross(ta, tb[0], dim=-1)
    with pytest.raises(InputError, match="cross: no dimension of size 3"):
        gpubp.cross(gpubp.ones((2, 4), device=device), gpubp.ones((2, 4), device=device))


def test_chains(device: str) -> None:
    a, b, c, v = _rand("chain", (2, 5), (5, 1), (1, 4), (4,))
    ta, tb, tc, tv = (gpubp.tensor(x, device=device) for x in (a, b, c, v))
    np.testing.assert_allclose(_np(gpubp.chain_matmul(ta, tb, tc)), a @ b @ c, rtol=1e-12)
    np.testing.assert_allclose(_np(G.linalg_multi_dot([ta, tb, tc, tv])), a @ b @ c @ v, rtol=1e-12)
    got = G.linalg_multi_dot([ta[0], tb, tc, tv])
    assert got.shape == ()
    np.testing.assert_allclose(_np(got), a[0] @ b @ c @ v, rtol=1e-12)
    one = gpubp.chain_matmul(ta)
    assert one.shape == (2, 5) and one is not ta
    with pytest.raises(InputError, match="chain_matmul: Tensor dimension is 1, expected 2"):
        gpubp.chain_matmul(ta, tv)
    with pytest.raises(InputError, match="multi_dot\\(\\): expected at least 2 tensors but got 1"):
        G.linalg_multi_dot([ta])
    with pytest.raises(InputError, match="multi_dot\\(\\): the last tensor must be 1D or 2D but got 3D"):
        G.linalg_multi_dot([tv, gpubp.ones((4, 2, 1), device=device)])
    with pytest.raises(InputError, match="multi_dot: tensors 0 and 1"):
        G.linalg_multi_dot([ta, tc])


def test_not_top_level() -> None:
    assert not hasattr(gpubp, "linalg_cross") and not hasattr(gpubp, "linalg_multi_dot")
    assert callable(gpubp.einsum) and callable(gpubp.tensordot)


# ---- out= ----


def test_out(device: str) -> None:
    a, b, m = _rand("out", (3,), (3,), (2, 3))
    ta, tb, tm = (gpubp.tensor(x, device=device) for x in (a, b, m))
    out = gpubp.empty((2,), dtype=gpubp.float64, device=device) if hasattr(gpubp, "empty") else gpubp.zeros(
        (2,), dtype=gpubp.float64, device=device)  # fmt: skip
    v0 = out._vc[0]
    r = gpubp.mv(tm, ta, out=out)
    assert r is out and out._vc[0] > v0
    np.testing.assert_allclose(_np(out), m @ a, rtol=1e-12)
    o2 = gpubp.zeros((3, 3), dtype=gpubp.float64, device=device)
    gpubp.outer(ta, tb, out=o2)
    np.testing.assert_allclose(_np(o2), np.outer(a, b), rtol=1e-12)
    o3 = gpubp.zeros((), dtype=gpubp.float64, device=device)
    gpubp.dot(ta, tb, out=o3)
    np.testing.assert_allclose(_np(o3), a @ b, rtol=1e-12)
    o4 = gpubp.zeros((2, 3), dtype=gpubp.float64, device=device)
    gpubp.addmm(tm, tm, gpubp.eye(3, dtype=gpubp.float64, device=device) if hasattr(gpubp, "eye")
                else gpubp.tensor(np.eye(3), device=device), out=o4)  # fmt: skip
    np.testing.assert_allclose(_np(o4), 2 * m, rtol=1e-12)
    with pytest.raises(RuntimeError, match="out="):
        gpubp.dot(gpubp.tensor(a, device=device, requires_grad=True), tb, out=o3)
