"""kernels/norm.cu executed on the CPU under kernels/host_emulation.h: every instantiation on NaN-poisoned outputs,
in forward / reverse / reverse_blocks order, on several grids, against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for
from test_emulated_kernels import DTYPES, close, f64, family, grids, i64, poisoned, run_orders

from gpubp.backend.numpy_backend import NumpyBackend

REF = NumpyBackend()
ACC = {np.float16: np.float32, np.float32: np.float32, np.float64: np.float64}
SHAPES = [(1, 1), (7, 3), (1, 1031), (33, 65), (9, 128)]
CHECKED = {f"row_norm_{k}<{ct}, {r}>" for k in ("forward", "backward", "param_grads") for ct in DTYPES
           for r in ("false", "true")}  # fmt: skip


def _ref(x, w, b, g, rms):
    """float64 forward statistics and gradients (NumPy reference)."""
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    y, mean, rstd = REF.row_norm_forward(x64, w.astype(np.float64), b.astype(np.float64), 1e-5, rms)
    dx, dw, db = REF.row_norm_backward(g64, x64, w.astype(np.float64), mean, rstd, rms)
    return y, mean, rstd, dx, dw, db


@pytest.mark.parametrize("ct", DTYPES)
@pytest.mark.parametrize("rms", [False, True])
def test_row_norm_kernels(ct: str, rms: bool) -> None:
    dtype, flag = DTYPES[ct], "true" if rms else "false"
    acc = ACC[dtype]
    module = family("norm")
    for rows, cols in SHAPES:
        rng = rng_for("emulated-norm", ct, rms, rows, cols)
        x = (rng.standard_normal((rows, cols)) * 2 + 0.5).astype(dtype)
        g = rng.standard_normal((rows, cols)).astype(dtype)
        w = rng.standard_normal(cols).astype(acc)
        b = rng.standard_normal(cols).astype(acc)
        y_ref, mean_ref, rstd_ref, dx_ref, dw_ref, db_ref = _ref(x, w, b, g, rms)
        what = f"row_norm {ct} rms={rms} ({rows}, {cols})"
        fwd = module.get_function(f"row_norm_forward<{ct}, {flag}>")
        mean_buf = None if rms else poisoned(rows, acc)
        args = [x, w, b, poisoned(x.shape, dtype), mean_buf, poisoned(rows, acc), i64(rows), i64(cols), f64(1e-5)]
        for out in run_orders(fwd, grids(rows * 32), args):
            close(out[3], y_ref, dtype, what + " y")
            if not rms:
                close(out[4], mean_ref, dtype, what + " mean")
            close(out[-1], rstd_ref, dtype, what + " rstd")
        # the statistics backward reads, as the forward stored them
        mean_in = None if rms else mean_ref.astype(acc)
        rstd_in = rstd_ref.astype(acc)
        bwd = module.get_function(f"row_norm_backward<{ct}, {flag}>")
        red = module.get_function(f"row_norm_param_grads<{ct}, {flag}>")
        for grid in grids(rows * 32):
            parts = grid * 8
            bargs = [g, x, w, mean_in, rstd_in, poisoned(x.shape, dtype), poisoned((parts, cols), acc),
                     poisoned((parts, cols), acc), i64(rows), i64(cols)]  # fmt: skip
            (outs,) = run_orders(bwd, [grid], bargs)
            dx = outs[-3]
            close(dx, dx_ref, dtype, what + f" dx, grid {grid}", atol=3 * TOLS[dtype])
            pdw, pdb = outs[-2], outs[-1]
            for (*_, dw, db) in run_orders(red, grids(cols), [pdw, pdb, poisoned(cols, acc), poisoned(cols, acc),
                                                              i64(parts), i64(cols)]):  # fmt: skip
                close(dw, dw_ref, np.float32 if dtype == np.float16 else dtype, what + " dweight", atol=1e-4 * rows
                      if acc == np.float32 else None)  # fmt: skip
                close(db, db_ref, np.float32 if dtype == np.float16 else dtype, what + " dbias", atol=1e-4 * rows
                      if acc == np.float32 else None)  # fmt: skip


TOLS = {np.float16: 3e-3, np.float32: 2e-5, np.float64: 1e-11}


def test_dx_only_and_param_grads_only() -> None:
    """Null outputs are skipped: dx without the partials, the partials without dx."""
    module = family("norm")
    rng = rng_for("emulated-norm-null")
    rows, cols = 11, 40
    x = rng.standard_normal((rows, cols))
    g = rng.standard_normal((rows, cols))
    w = rng.standard_normal(cols)
    _, mean, rstd, dx_ref, dw_ref, _ = _ref(x, w, w, g, False)
    bwd = module.get_function("row_norm_backward<double, false>")
    (outs,) = run_orders(
        bwd, [2], [g, x, w, mean, rstd, poisoned(x.shape, np.float64), None, None, i64(rows), i64(cols)]
    )
    close(outs[-1], dx_ref, np.float64, "dx only")
    parts = np.full((16, cols), np.nan)
    (outs,) = run_orders(bwd, [2], [g, x, w, mean, rstd, None, parts, None, i64(rows), i64(cols)])
    close(outs[-1].sum(0), dw_ref, np.float64, "dweight partials only")
