"""The row-norm primitives' references (layer norm and RMS norm over the last axis), on ``xp``: a mixin of
``Backend`` (the NumPy backend's own path; the CUDA backend overrides them with kernels/norm.cu).

x is (R, C): R rows of C values, normalized one row at a time. With the row statistics in the math type (float32
for float16/float32 data, float64 for float64): mean = sum_j x_j / C (0 and unused for RMS), rstd = 1 / sqrt(var +
eps) with var = sum_j (x_j - mean)^2 / C (layer norm) or sum_j x_j^2 / C (RMS norm), and xhat = (x - mean) rstd,

    y      = xhat * weight + bias
    dx     = rstd (gw - mean_j(gw) - xhat mean_j(gw xhat)),   gw = g * weight   (RMS: no mean_j(gw) term)
    dweight = sum_rows g xhat,   dbias = sum_rows g

The backward is written in x, not xhat (as PyTorch's CPU kernel): with a = mean_j(gw), s = mean_j(gw x) and
b = rstd (s - mean a) = mean_j(gw xhat), dx = rstd gw - rstd^2 b x + rstd (rstd b mean - a), so no (R, C) xhat is
ever formed, and dweight = rstd @ (g (x - mean)) is a matrix-vector product (BLAS)."""

from __future__ import annotations

from typing import Any


class NormReferences:
    """row_norm_forward / row_norm_backward on raw arrays."""

    def row_norm_forward(self, x: Any, weight: Any, bias: Any, eps: float, rms: bool) -> tuple[Any, Any, Any]:
        """Normalize each row of x (R, C): (y (R, C) in x's dtype, mean (R,) or None for RMS, rstd (R,)), the
        statistics in the math type. ``weight``/``bias`` (C,) or None."""
        xp = self.xp
        mdt = self._math_dtype(x.dtype)
        rows, cols = x.shape
        if x.size == 0:  # no values to average: statistics of empty rows are never read
            zeros = xp.zeros(rows, dtype=mdt)
            return xp.empty(x.shape, dtype=x.dtype), None if rms else zeros, zeros.copy()
        xm = x.astype(mdt, copy=False)  # float16 data is read once into float32
        if rms:
            mean = None
            rstd = xp.einsum("ij,ij->i", xm, xm)  # (R,) sum of squares, one pass, no (R, C) temporary
            y = xm * _rsqrt_(xp, rstd, cols, eps)[:, None]
        else:
            mean = xm @ xp.full(cols, 1.0 / cols, dtype=mdt)  # (R,): a BLAS matrix-vector product, ~20x xm.mean(1)
            y = xm - mean[:, None]  # the output buffer: centred first (two passes, exact, unlike E[x^2] - mean^2)
            rstd = xp.einsum("ij,ij->i", y, y)
            y *= _rsqrt_(xp, rstd, cols, eps)[:, None]
        if weight is not None:
            y *= weight.astype(mdt, copy=False)
        if bias is not None:
            y += bias.astype(mdt, copy=False)
        return y.astype(x.dtype, copy=False), mean, rstd

    def row_norm_backward(
        self,
        g: Any,
        x: Any,
        weight: Any,
        mean: Any,
        rstd: Any,
        rms: bool,
        need_dx: bool = True,
        need_dweight: bool = True,
        need_dbias: bool = True,
    ) -> tuple[Any, Any, Any]:
        """(dx (R, C) in x's dtype, dweight (C,), dbias (C,)) in the math type, each None unless asked for, from the
        upstream g (R, C), the input x and the forward's statistics."""
        xp = self.xp
        mdt = rstd.dtype
        rows, cols = x.shape
        dx = dweight = dbias = None
        if x.size == 0:
            dx = xp.empty(x.shape, dtype=x.dtype) if need_dx else None
            zeros = xp.zeros(cols, dtype=mdt)
            return dx, zeros if need_dweight else None, zeros.copy() if need_dbias else None
        xm = x.astype(mdt, copy=False)
        gm = g.astype(mdt, copy=False)
        tmp = None
        if need_dweight:
            tmp = xm * gm if rms else xm - mean[:, None]  # (R, C), reused below for dx
            if not rms:  # centred first: sum_rows g x - mean sum_rows g would cancel when |mean| >> std
                tmp *= gm
            dweight = rstd @ tmp  # sum_rows g (x - mean) rstd as one BLAS matrix-vector product
        if need_dbias:
            dbias = xp.ones(rows, dtype=mdt) @ gm  # the column sums, as a matrix-vector product too
        if need_dx:  # dx = rstd gw + k1 x + k0 per row, in two (R, C) buffers: gw (then dx) and tmp
            gw = gm if weight is None else gm * weight.astype(mdt, copy=False)
            s = xp.einsum("ij,ij->i", gw, xm) / cols  # mean_j(gw x)
            if rms:
                k1 = -(rstd * rstd * rstd) * s
                k0 = None
            else:
                a = gw @ xp.full(cols, 1.0 / cols, dtype=mdt)  # mean_j(gw)
                b = rstd * (s - mean * a)  # mean_j(gw xhat)
                k1 = -(rstd * rstd) * b
                k0 = rstd * (rstd * b * mean - a)
            if weight is None:
                out = gm * rstd[:, None]  # a fresh buffer: never write into g
            else:
                out = gw
                out *= rstd[:, None]
            tmp = xp.multiply(xm, k1[:, None], out=tmp)
            if k0 is not None:
                tmp += k0[:, None]
            out += tmp
            dx = out.astype(x.dtype, copy=False)
        return dx, dweight, dbias


def _rsqrt_(xp: Any, sq_sum: Any, cols: int, eps: float) -> Any:
    """sq_sum (R,) -> 1 / sqrt(sq_sum / cols + eps), in place (rstd, as saved for backward)."""
    sq_sum /= cols
    sq_sum += eps
    xp.sqrt(sq_sum, out=sq_sum)
    xp.reciprocal(sq_sum, out=sq_sum)
    return sq_sum
