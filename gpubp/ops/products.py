"""Matrix and tensor products beyond matmul: mv, the add-products (addmm, addmv, baddbmm, addbmm) and their in-place
forms, outer/ger, dot/vdot/inner, tensordot, kron, cross, chain_matmul/multi_dot and einsum (``products_einsum``).

The add-products are one op each (out = beta * input + alpha * product, with a rule of matmuls); the others are
written from matmul, einsum and the shape ops, so their gradients (of any order) come from those."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import arith, index, inplace, linalg, shape
from ._core import check_same_device, make, norm_dim, spec, write_out
from .products_einsum import einsum

DIFFERENTIABLE = (
    "mv", "addmm", "addmv", "baddbmm", "addbmm", "outer", "ger", "dot", "vdot", "inner", "tensordot", "kron",
    "cross", "linalg_cross", "chain_matmul", "linalg_multi_dot", "einsum",
)  # fmt: skip
NON_DIFFERENTIABLE: tuple[str, ...] = ()
METHODS = (
    "mv", "addmm", "addmv", "baddbmm", "addbmm", "outer", "ger", "dot", "vdot", "inner", "kron", "cross",
    "addmm_", "addmv_", "baddbmm_", "addbmm_",
)  # fmt: skip
# linalg.cross and linalg.multi_dot live under gpubp.linalg (exported there, not as gpubp.*)
TOP_LEVEL = tuple(n for n in DIFFERENTIABLE if not n.startswith("linalg_"))


def _tensors(op: str, *ts: Any) -> None:
    for t in ts:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    for t in ts[1:]:
        check_same_device(op, ts[0], t)


def _same_dtype(op: str, *ts: Tensor) -> None:
    """The BLAS-backed products take one dtype (no promotion) and no bool, as PyTorch."""
    if any(t.dtype != ts[0].dtype for t in ts):
        names = ", ".join(str(t.dtype) for t in ts)
        raise InputTypeError(f"{op}: expected all tensors to have the same dtype, but got {names}")
    if ts[0].dtype.kind == "b":
        raise InputTypeError(f"{op}: not implemented for bool tensors")


def _ndims(op: str, ts: Sequence[Tensor], names: Sequence[str], ndims: Sequence[int]) -> None:
    for t, name, n in zip(ts, names, ndims):
        if t.ndim != n:
            raise InputError(f"{op}: {name} must be a {n}-D tensor, got shape {tuple(t.shape)}")


def _coefficient(op: str, v: Any, t: Tensor, name: str) -> Any:
    if not isinstance(v, numbers.Number) or isinstance(v, complex):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    return int(v) if t.dtype.kind in "iu" else v  # integer tensors take integer coefficients (PyTorch truncates)


# ---- the add-products: out = beta * input + alpha * (a @ b) ----


def _addprod(op: str, kind: str, inp: Tensor, a: Tensor, b: Tensor, beta: Any, alpha: Any) -> Tensor:
    """beta * inp + alpha * P(a, b), P the product ``kind`` names: "mm", "mv", "bmm" or "addbmm" (bmm summed over
    the batch); inp broadcasts to P's shape. With beta == 0, inp is ignored (its NaNs too), as PyTorch."""
    xp = a._be.xp
    prod = xp.matmul(a._data, b._data)
    if kind == "addbmm":
        prod = prod.sum(0)
    try:
        fits = np.broadcast_shapes(inp.shape, prod.shape) == prod.shape
    except ValueError:
        fits = False
    if not fits:
        raise InputError(f"{op}: input of shape {tuple(inp.shape)} does not broadcast to the product's {prod.shape}")
    beta = _coefficient(op, beta, inp, "beta")
    alpha = _coefficient(op, alpha, inp, "alpha")
    y = prod if alpha == 1 else prod * alpha
    if beta != 0:
        y = y + (inp._data if beta == 1 else inp._data * beta)
    if y.dtype != a.dtype:
        y = y.astype(a.dtype)
    si, sa, sb = spec(inp), spec(a), spec(b)

    def rule(m: Any, g: Any, av: Any, bv: Any) -> tuple:
        gi = None if si is None else m.unbroadcast(g if beta == 1 else g * beta, si)
        gp = g if alpha == 1 else g * alpha
        ga = gb = None
        if sa is not None:
            if kind == "mv":  # outer(g, vec)
                ga = m.matmul(gp.reshape((gp.shape[0], 1)), bv.reshape((1, bv.shape[0])))
            else:  # mm, bmm; for addbmm g (n, m) broadcasts against each batch's b^T
                ga = m.matmul(gp, m.swapaxes(bv, -1, -2))
        if sb is not None:
            gb = m.matmul(m.swapaxes(av, -1, -2), gp)
        return gi, m.unbroadcast(ga, sa), m.unbroadcast(gb, sb)

    saved = (a if sb is not None else None, b if sa is not None else None)
    return make(op, y, a._be, (inp, a, b), rule, saved=saved)


def _checked_addprod(op: str, kind: str, inp: Tensor, a: Tensor, b: Tensor, beta: Any, alpha: Any) -> Tensor:
    _tensors(op, inp, a, b)
    _same_dtype(op, inp, a, b)
    names = {"mm": ("mat1", "mat2"), "mv": ("mat", "vec"), "bmm": ("batch1", "batch2"), "addbmm": ("batch1", "batch2")}
    ndims = {"mm": (2, 2), "mv": (2, 1), "bmm": (3, 3), "addbmm": (3, 3)}[kind]
    _ndims(op, (a, b), names[kind], ndims)
    if kind in ("bmm", "addbmm") and a.shape[0] != b.shape[0]:
        raise InputError(f"{op}: batch1 and batch2 must have the same batch size, got {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0 if kind in ("mm", "mv") else 1]:
        pair = f"{names[kind][0]} and {names[kind][1]}"
        raise InputError(f"{op}: {pair} shapes cannot be multiplied ({tuple(a.shape)} and {tuple(b.shape)})")
    return _addprod(op, kind, inp, a, b, beta, alpha)


def addmm(
    input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1, out: Tensor | None = None
) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2): mat1 (n, k), mat2 (k, m), input broadcasting to (n, m)."""
    return write_out(_checked_addprod("addmm", "mm", input, mat1, mat2, beta, alpha), out, "addmm")


def addmv(
    input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1, out: Tensor | None = None
) -> Tensor:
    """beta * input + alpha * (mat @ vec): mat (n, k), vec (k,), input broadcasting to (n,)."""
    return write_out(_checked_addprod("addmv", "mv", input, mat, vec, beta, alpha), out, "addmv")


def baddbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1, out: Tensor | None = None
) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2): batches (B, n, k) and (B, k, m), input broadcasting to (B, n, m)."""
    return write_out(_checked_addprod("baddbmm", "bmm", input, batch1, batch2, beta, alpha), out, "baddbmm")


def addbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1, out: Tensor | None = None
) -> Tensor:
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]: input broadcasting to (n, m)."""
    return write_out(_checked_addprod("addbmm", "addbmm", input, batch1, batch2, beta, alpha), out, "addbmm")


def _inplace(t: Tensor, name: str, fn: Callable[[Tensor], Tensor], *others: Tensor) -> Tensor:
    """Write ``fn(t)`` into ``t`` (``inplace.apply_``; it records when ``t`` or one of ``others`` requires grad)."""
    return inplace.apply_(t, lambda s, *_: fn(s), name, *others)


def addmm_(self: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """In-place addmm: self = beta * self + alpha * (mat1 @ mat2)."""
    return _inplace(self, "addmm_", lambda s: addmm(s, mat1, mat2, beta=beta, alpha=alpha), mat1, mat2)


def addmv_(self: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """In-place addmv: self = beta * self + alpha * (mat @ vec)."""
    return _inplace(self, "addmv_", lambda s: addmv(s, mat, vec, beta=beta, alpha=alpha), mat, vec)


def baddbmm_(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """In-place baddbmm: self = beta * self + alpha * bmm(batch1, batch2)."""
    return _inplace(self, "baddbmm_", lambda s: baddbmm(s, batch1, batch2, beta=beta, alpha=alpha), batch1, batch2)


def addbmm_(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """In-place addbmm: self = beta * self + alpha * sum_b batch1[b] @ batch2[b]."""
    return _inplace(self, "addbmm_", lambda s: addbmm(s, batch1, batch2, beta=beta, alpha=alpha), batch1, batch2)


# ---- vector products ----


def mv(input: Tensor, vec: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    _tensors("mv", input, vec)
    _same_dtype("mv", input, vec)
    _ndims("mv", (input, vec), ("input", "vec"), (2, 1))
    if input.shape[1] != vec.shape[0]:
        raise InputError(f"mv: size mismatch, got mat ({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})")
    return write_out(linalg.matmul(input, vec), out, "mv")


def _vectors(op: str, a: Tensor, b: Tensor) -> None:
    _tensors(op, a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise InputError(f"{op}: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")


def dot(input: Tensor, tensor: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The inner product of two 1-D tensors of one dtype and size, as a 0-d tensor."""
    _vectors("dot", input, tensor)
    if input.dtype != tensor.dtype:
        raise InputTypeError(
            f"dot: expected both vectors to have same dtype, but found {input.dtype} and {tensor.dtype}"
        )
    _same_dtype("dot", input, tensor)
    if input.shape[0] != tensor.shape[0]:
        raise InputError(
            f"dot: inconsistent tensor size, expected tensors of the same number of elements, got {input.shape[0]} "
            f"and {tensor.shape[0]}"
        )
    return write_out(linalg.matmul(input, tensor), out, "dot")


def vdot(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """conj(input) . other for 1-D tensors: gpubp has real tensors only, where it is ``dot``."""
    _vectors("vdot", input, other)
    if input.dtype != other.dtype:
        raise InputTypeError(
            f"vdot: expected both vectors to have same dtype, but found {input.dtype} and {other.dtype}"
        )
    return write_out(dot(input, other), out, "vdot")


def outer(input: Tensor, vec2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The outer product of two 1-D tensors, (n,) x (m,) -> (n, m); dtypes promote, as PyTorch."""
    _tensors("outer", input, vec2)
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise InputError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    r = arith.mul(shape.reshape(input, (input.shape[0], 1)), shape.reshape(vec2, (1, vec2.shape[0])))
    return write_out(r, out, "outer")


def ger(input: Tensor, vec2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``outer`` under its old BLAS name."""
    return write_out(outer(input, vec2), out, "ger")


def inner(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Sum over the last dims of both, (..a, k) x (..b, k) -> (..a, ..b); a 0-d operand multiplies."""
    _tensors("inner", input, other)
    if input.dtype != other.dtype:
        raise InputTypeError(f"inner: both inputs should have same dtype, got {input.dtype} and {other.dtype}")
    if input.ndim == 0 or other.ndim == 0:
        return write_out(arith.mul(input, other), out, "inner")
    if input.shape[-1] != other.shape[-1]:
        raise InputError(
            f"inner: last dimension of both inputs must match, got shapes {tuple(input.shape)} and {tuple(other.shape)}"
        )
    return write_out(tensordot(input, other, ([-1], [-1])), out, "inner")


def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Tensor | None = None) -> Tensor:
    """Contract ``a`` and ``b`` over dims: an int n (a's last n with b's first n), a pair of dim lists
    ``([1, 0], [0, 1])``, or a pair of ints; the result's dims are a's free dims then b's."""
    _tensors("tensordot", a, b)
    _same_dtype("tensordot", a, b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()  # a tensor of dims is read back to the host, as PyTorch does
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        n = int(dims)
        if n < 0:
            raise InputError(f"tensordot expects dims >= 0, but got dims={n}")
        if n > min(a.ndim, b.ndim):
            raise InputError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={n}")
        da, db = list(range(a.ndim - n, a.ndim)), list(range(n))
    elif isinstance(dims, (list, tuple)) and len(dims) == 2:
        da, db = ([d] if isinstance(d, numbers.Integral) else list(d) for d in dims)
        if len(da) != len(db):
            raise InputError(f"tensordot: both dim lists should have the same length, got {da} and {db}")
        da = [norm_dim(d, max(a.ndim, 1), "tensordot") for d in da]
        db = [norm_dim(d, max(b.ndim, 1), "tensordot") for d in db]
    else:
        raise TypeError(f"tensordot: dims must be an int or a pair of lists of dims, got {dims!r}")
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise InputError(f"tensordot: a dim is contracted twice ({da}, {db})")
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise InputError(
                f"tensordot: contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and "
                f"second has size {b.shape[y]} in dim {y}"
            )
    if a.ndim + b.ndim - len(da) > 52:
        raise InputError("tensordot: more than 52 dims in all are not supported")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [sa[da[db.index(j)]] if j in db else next(letters) for j in range(b.ndim)]
    free = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb) if j not in db]
    return write_out(einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(free)}", a, b), out, "tensordot")


def kron(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The Kronecker product; the operand with fewer dims gets leading 1s first, as PyTorch; dtypes promote."""
    _tensors("kron", input, other)
    n = max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0 * b0, a1 * b1, ...)
    pa = shape.reshape(input, tuple(x for d in sa for x in (d, 1)))
    pb = shape.reshape(other, tuple(x for d in sb for x in (1, d)))
    r = shape.reshape(arith.mul(pa, pb), tuple(x * y for x, y in zip(sa, sb)))
    return write_out(r, out, "kron")


def _cross(a: Tensor, b: Tensor, dim: int) -> Tensor:
    """a x b along ``dim`` (a negative position, counted from the end, so it names the same dim in both)."""
    key_tail = (slice(None),) * (-dim - 1)
    i1, i2 = np.array([1, 2, 0]), np.array([2, 0, 1])
    a1, a2 = index.getitem(a, (Ellipsis, i1, *key_tail)), index.getitem(a, (Ellipsis, i2, *key_tail))
    b1, b2 = index.getitem(b, (Ellipsis, i1, *key_tail)), index.getitem(b, (Ellipsis, i2, *key_tail))
    return arith.sub(arith.mul(a1, b2), arith.mul(a2, b1))


def _broadcast_shape(op: str, a: Tensor, b: Tensor) -> tuple:
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise InputError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together") from None


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1, out: Tensor | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (size 3 in both); inputs of one ndim whose other dims broadcast;
    dtypes promote."""
    _tensors("linalg.cross", input, other)
    if input.ndim != other.ndim:
        raise InputError(
            f"linalg.cross: inputs must have the same number of dimensions, got shapes {tuple(input.shape)} and "
            f"{tuple(other.shape)}"
        )
    full = _broadcast_shape("linalg.cross", input, other)
    d = norm_dim(dim, max(len(full), 1), "linalg.cross")
    if not full or input.shape[d] != 3 or other.shape[d] != 3:
        sizes = (input.shape[d], other.shape[d]) if full else (1, 1)
        raise InputError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {sizes[0]} and {sizes[1]}")
    return write_out(_cross(input, other, d - len(full)), out, "linalg.cross")


def cross(input: Tensor, other: Tensor, dim: int | None = None, *, out: Tensor | None = None) -> Tensor:
    """The cross product along ``dim``; with dim=None the first dim of size 3 (PyTorch's deprecated default, which
    differs from ``linalg.cross``'s -1)."""
    _tensors("cross", input, other)
    if dim is None:
        full = _broadcast_shape("cross", input, other)
        dim = next((i for i, n in enumerate(full) if n == 3), None)
        if dim is None:
            shapes = f"{tuple(input.shape)} and {tuple(other.shape)}"
            raise InputError(f"cross: no dimension of size 3 in input (shapes {shapes})")
    return write_out(linalg_cross(input, other, dim=dim), out, "cross")


# ---- chains of matrix products ----


def _chain(mats: list[Tensor]) -> Tensor:
    """The product of a chain of matrices, in the order that needs the fewest multiplications (the classic dynamic
    program over split points)."""
    n = len(mats)
    dims = [mats[0].shape[0]] + [t.shape[1] for t in mats]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min(
                (cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k) for k in range(i, j)
            )

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return mats[i]
        k = split[i][j]
        return linalg.matmul(product(i, k), product(k + 1, j))

    return product(0, n - 1)


def _check_chain(op: str, mats: list[Tensor]) -> None:
    _tensors(op, *mats)
    _same_dtype(op, *mats)
    for i in range(len(mats) - 1):
        if mats[i].shape[-1] != mats[i + 1].shape[0]:
            raise InputError(
                f"{op}: tensors {i} and {i + 1} with shapes {tuple(mats[i].shape)} and {tuple(mats[i + 1].shape)} "
                "cannot be multiplied"
            )


def chain_matmul(*matrices: Tensor, out: Tensor | None = None) -> Tensor:
    """The product of 2-D matrices, multiplied in the cheapest order (PyTorch deprecates it for linalg.multi_dot)."""
    if not matrices:
        raise InputError("chain_matmul(): Expected one or more matrices")
    for t in matrices:
        if isinstance(t, Tensor) and t.ndim != 2:
            raise InputError(f"chain_matmul: Tensor dimension is {t.ndim}, expected 2 instead.")
    mats = list(matrices)
    _check_chain("chain_matmul", mats)
    r = shape.clone(mats[0]) if len(mats) == 1 else _chain(mats)
    return write_out(r, out, "chain_matmul")


def linalg_multi_dot(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """The product of two or more tensors, in the cheapest order: the first and last may be 1-D (a row and a column
    vector, whose dim the result drops), the others are 2-D."""
    mats = list(tensors)
    if len(mats) < 2:
        raise InputError(f"multi_dot(): expected at least 2 tensors but got {len(mats)}")
    _tensors("multi_dot", *mats)
    for i, t in enumerate(mats):
        if i in (0, len(mats) - 1):
            if t.ndim not in (1, 2):
                where = "first" if i == 0 else "last"
                raise InputError(f"multi_dot(): the {where} tensor must be 1D or 2D but got {t.ndim}D")
        elif t.ndim != 2:
            raise InputError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    first_vec, last_vec = mats[0].ndim == 1, mats[-1].ndim == 1
    if first_vec:
        mats[0] = shape.reshape(mats[0], (1, mats[0].shape[0]))
    if last_vec:
        mats[-1] = shape.reshape(mats[-1], (mats[-1].shape[0], 1))
    _check_chain("multi_dot", mats)
    r = _chain(mats)
    final = tuple(n for n, drop in zip(r.shape, (first_vec, last_vec)) if not drop)
    if final != tuple(r.shape):
        r = shape.reshape(r, final)
    return write_out(r, out, "linalg.multi_dot")
