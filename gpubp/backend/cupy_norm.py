"""The CUDA backend's row-norm primitives: kernels/norm.cu launched through CuPy (a mixin of CupyBackend)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels

NORM_BLOCK = 256  # cupy_backend.BLOCK: 8 warps (rows) a block
NORM_PART_BLOCKS = 2  # backward grid cap per SM: parts = blocks * 8 scratch rows of C values for dweight / dbias


def _flag(rms: bool) -> str:
    return "true" if rms else "false"


class FusedNorm:
    """row_norm_forward / row_norm_backward on gpubp's kernels."""

    def row_norm_forward(self, x: Any, weight: Any, bias: Any, eps: float, rms: bool) -> tuple[Any, Any, Any]:
        """kernels/norm.cu's row_norm_forward: one warp a row; x (R, C) made contiguous."""
        ct = kernels.CTYPES.get(x.dtype.name)
        if ct is None:
            self._fallback("row_norm_forward", f"dtype {x.dtype}")
            return super().row_norm_forward(x, weight, bias, eps, rms)
        xp = self.xp
        x = self._contig(x)
        rows, cols = x.shape
        mdt = self._math_dtype(x.dtype)
        y = xp.empty_like(x)
        mean = None if rms else xp.empty(rows, dtype=mdt)
        rstd = xp.empty(rows, dtype=mdt)
        if x.size == 0:  # statistics of empty rows are never read; zeros keep them finite
            rstd.fill(0)
            if mean is not None:
                mean.fill(0)
            return y, mean, rstd
        w = np.uint64(0) if weight is None else self._contig(weight.astype(mdt, copy=False))  # null: no weight
        b = np.uint64(0) if bias is None else self._contig(bias.astype(mdt, copy=False))
        args = (x, w, b, y, np.uint64(0) if mean is None else mean, rstd, np.int64(rows), np.int64(cols))
        self._launch("norm", f"row_norm_forward<{ct}, {_flag(rms)}>", rows * 32, (*args, np.float64(eps)))
        return y, mean, rstd

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
        """row_norm_backward (dx, and per-warp partial sums of dweight / dbias) then row_norm_param_grads (the
        partials reduced in a fixed order: deterministic)."""
        ct = kernels.CTYPES.get(x.dtype.name)
        if ct is None or g.dtype != x.dtype:
            self._fallback("row_norm_backward", f"dtype {x.dtype}/{g.dtype}")
            return super().row_norm_backward(g, x, weight, mean, rstd, rms, need_dx, need_dweight, need_dbias)
        xp = self.xp
        rows, cols = x.shape
        mdt = rstd.dtype
        if x.size == 0:
            zeros = xp.zeros(cols, dtype=mdt)
            dx = xp.empty(x.shape, dtype=x.dtype) if need_dx else None
            return dx, zeros if need_dweight else None, zeros.copy() if need_dbias else None
        g, x = self._contig(g), self._contig(x)
        null = np.uint64(0)
        w = null if weight is None else self._contig(weight.astype(mdt, copy=False))
        grid = (max(1, min(-(-rows // (NORM_BLOCK // 32)), self._sm_count * NORM_PART_BLOCKS)),)
        parts = grid[0] * (NORM_BLOCK // 32)
        dx = xp.empty_like(x) if need_dx else None
        pdw = xp.empty((parts, cols), dtype=mdt) if need_dweight else None
        pdb = xp.empty((parts, cols), dtype=mdt) if need_dbias else None
        args = (g, x, w, null if rms else mean, rstd)
        outs = tuple(null if a is None else a for a in (dx, pdw, pdb))
        self._launch(
            "norm", f"row_norm_backward<{ct}, {_flag(rms)}>", 0, (*args, *outs, np.int64(rows), np.int64(cols)), grid
        )
        dw = db = None
        if need_dweight or need_dbias:
            dw = xp.empty(cols, dtype=mdt) if need_dweight else None
            db = xp.empty(cols, dtype=mdt) if need_dbias else None
            ins = tuple(null if a is None else a for a in (pdw, pdb, dw, db))
            self._launch(
                "norm", f"row_norm_param_grads<{ct}, {_flag(rms)}>", cols, (*ins, np.int64(parts), np.int64(cols))
            )
        return dx, dw, db
