"""kernels/attention.cu executed on the CPU under kernels/host_emulation.h: every instantiation, on NaN-poisoned
outputs, in forward / reverse / reverse-block orders (bit-identical: no atomics), against a float64 dense formula.

Cases cover E < D, L != S, several and partial tiles, causal masks, a bias with broadcast (stride 0) axes, grouped
key/value batches, dropout and rows that see no key (lse -inf, output and gradients 0)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for
from test_emulated_kernels import DTYPES, f64, family, i32, i64, poisoned, ptr

from gpubp.backend import kernels

BLOCK = 128  # cupy_attention.ATTN_BLOCK
ORDERS = ("forward", "reverse", "reverse_blocks")
ACC = {"float": np.float32, "double": np.float64, "half_t": np.float32}
TOL = {"float": 2e-5, "double": 1e-11, "half_t": 4e-3}
# every name expression this file launches (test_emulated_kernels checks that FAMILIES has no other)
CHECKED = {
    f"attention_{k}<{ct}, {d}>"
    for k in ("forward", "backward_dq", "backward_dkv")
    for ct in ("float", "double", "half_t")
    for d in kernels.ATTENTION_HEAD_DIMS
} | {f"attention_delta<{ct}>" for ct in ("float", "double", "half_t")}
GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


# ---- the float64 dense formula -----------------------------------------------------------------------------------
def keep_mask(B: int, L: int, S: int, seed: int, p: float) -> np.ndarray:
    """The kernels' dropout decision per score (B, L, S): a splitmix64-style hash of seed and the score's index."""
    if p == 0:
        return np.ones((B, L, S), dtype=bool)
    idx = np.arange(B * L * S, dtype=np.uint64).reshape(B, L, S)
    with np.errstate(over="ignore"):
        x = np.uint64(seed) + (idx + np.uint64(1)) * np.uint64(GOLDEN)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(MIX1)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(MIX2)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(40)) >= np.uint64(int(round(p * 2**24)))


def dense(q, k, v, bias, causal, scale, p, seed, group, g):
    """out, lse, dq, dk, dv in float64 from the (float64-cast) inputs, with the formulas of attention.cu's header."""
    q, k, v, g = (a.astype(np.float64) for a in (q, k, v, g))
    B, L, _ = q.shape
    S = k.shape[1]
    kk, vv = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)  # query batch b reads key batch b // group
    s = scale * q @ kk.transpose(0, 2, 1) + (0 if bias is None else bias.astype(np.float64))
    if causal:
        s = np.where(np.arange(S)[None, :] > np.arange(L)[:, None], -np.inf, s)
    m = s.max(axis=2, initial=-np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        lse = np.where(
            np.isfinite(m), m + np.log(np.exp(s - np.where(np.isfinite(m), m, 0)[..., None]).sum(2)), -np.inf
        )
        P = np.where(np.isfinite(lse)[..., None], np.exp(s - np.where(np.isfinite(lse), lse, 0)[..., None]), 0.0)
    M = keep_mask(B, L, S, seed, p) / (1 - p)
    out = (P * M) @ vv
    delta = (g * out).sum(2)
    dP = (g @ vv.transpose(0, 2, 1)) * M
    dS = P * (dP - delta[..., None])
    dq = scale * dS @ kk
    dk = (scale * dS.transpose(0, 2, 1) @ q).reshape(B // group, group, S, q.shape[2]).sum(1)
    dv = ((P * M).transpose(0, 2, 1) @ g).reshape(B // group, group, S, v.shape[2]).sum(1)
    return out, lse, delta, dq, dk, dv


# ---- launching ---------------------------------------------------------------------------------------------------
def launch_all(kernel, grids, args):
    """Every grid, every order, on fresh copies of the array arguments; all orders give the same bits. Returns the
    forward order's arrays per grid."""
    results = []
    for grid in grids:
        runs = {}
        for order in ORDERS:
            fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            values = [a if isinstance(a, bytes) else ptr(a) for a in fresh]
            kernel.launch((grid, 1, 1), (BLOCK if "delta" not in kernel.name else 256, 1, 1), values, order)
            runs[order] = [a for a in fresh if isinstance(a, np.ndarray)]
        for a, b, c in zip(runs["forward"], runs["reverse"], runs["reverse_blocks"]):
            assert a.tobytes() == b.tobytes(), f"{kernel.name}, grid {grid}: reversed threads change the result"
            assert a.tobytes() == c.tobytes(), f"{kernel.name}, grid {grid}: reversed blocks change the result"
        results.append(runs["forward"])
    return results


def bias_args(bias: np.ndarray | None) -> list:
    if bias is None:
        return [None, i64(0), i64(0), i64(0)]
    return [bias, *(i64(0 if n == 1 else s // bias.itemsize) for n, s in zip(bias.shape, bias.strides))]


def close(got, ref, ct, what):
    tol = TOL[ct]
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=tol, atol=tol, err_msg=what)


# (B, group, L, S, E, Ev, causal, bias shape or None, dropout p, a fully masked row)
FULL = (2, 2, 37, 45, -3, -7, True, (1, 37, 45), 0.25, True)
PLAIN = (3, 1, 20, 70, 0, -1, False, None, 0.0, False)
MORE = [
    (2, 1, 70, 33, -1, 0, False, (2, 1, 33), 0.0, False),  # key-axis bias, L > S, several query tiles
    (4, 2, 33, 33, -9, -2, True, (4, 33, 1), 0.1, True),  # per-row bias, causal square, group 2, dropout
    (1, 1, 5, 0, 0, 0, False, None, 0.0, False),  # no keys at all: lse -inf, out 0, dq 0
]


def check(ct: str, d: int, case: tuple) -> None:
    B, group, L, S, de, dev, causal, bias_shape, p, masked_row = case
    E, Ev = d + de, d + dev
    dtype, acc = DTYPES[ct], ACC[ct]
    rng = rng_for("emulated-attention", ct, d, case)
    q = rng.standard_normal((B, L, E)).astype(dtype)
    k = rng.standard_normal((B // group, S, E)).astype(dtype)
    v = rng.standard_normal((B // group, S, Ev)).astype(dtype)
    g = rng.standard_normal((B, L, Ev)).astype(dtype)
    bias = None
    if bias_shape is not None:
        bias = rng.standard_normal(bias_shape).astype(acc)
        if masked_row:
            bias[..., 3, :] = -np.inf  # a row that sees no key (the broadcast batch axis masks it everywhere)
        bias = np.broadcast_to(bias, bias_shape)
    scale = 1.0 / np.sqrt(E) * 1.3
    seed = np.array([0x1234_5678_9ABC_DEF1 + d], dtype=np.uint64)
    thr = int(round(p * 2**24))
    out_ref, lse_ref, delta_ref, dq_ref, dk_ref, dv_ref = dense(q, k, v, bias, causal, scale, p, int(seed[0]), group, g)
    what = f"attention {ct} D={d} case={case}"
    tail = [i64(group), i32(int(causal)), f64(scale), seed if thr else None, i64(thr), f64(1 / (1 - p))]
    sizes = [i64(L), i64(S), i64(E), i64(Ev)]
    rows = BLOCK // max(1, d // 32)
    mod = family("attention")

    fwd = mod.get_function(f"attention_forward<{ct}, {d}>")
    grids = sorted({1, 3, B * -(-L // rows)})
    args = [q, k, v, *bias_args(bias), poisoned((B, L, Ev), dtype), poisoned((B, L), acc), i64(B), *sizes, *tail]
    for res in launch_all(fwd, grids, args):
        out, lse = _outputs(res, 2, thr > 0)
        close(out, out_ref, ct, what + " out")
        np.testing.assert_allclose(lse, lse_ref, rtol=TOL[ct], atol=TOL[ct], err_msg=what + " lse")
        assert np.isfinite(out).all(), what

    out_t, lse_a = out_ref.astype(dtype), lse_ref.astype(acc)
    dfn = mod.get_function(f"attention_delta<{ct}>")
    for res in launch_all(dfn, [1, 3], [g, out_t, poisoned((B, L), acc), i64(B * L), i64(Ev)]):
        close(res[2], (g.astype(np.float64) * out_t).sum(2), ct, what + " delta")
    delta = (g.astype(acc) * out_t.astype(acc)).sum(2).astype(acc)

    if S == 0:
        return
    dq_fn = mod.get_function(f"attention_backward_dq<{ct}, {d}>")
    args = [g, q, k, v, lse_a, delta, *bias_args(bias), poisoned((B, L, E), dtype), i64(B), *sizes, *tail]
    for res in launch_all(dq_fn, grids, args):
        close(_outputs(res, 1, thr > 0)[0], dq_ref, ct, what + " dq")
    dkv_fn = mod.get_function(f"attention_backward_dkv<{ct}, {d}>")
    Bk = B // group
    outs = [poisoned((Bk, S, E), dtype), poisoned((Bk, S, Ev), dtype)]
    args = [g, q, k, v, lse_a, delta, *bias_args(bias), *outs, i64(Bk), *sizes, *tail]
    for res in launch_all(dkv_fn, sorted({1, 3, Bk * -(-S // rows)}), args):
        dk, dv = _outputs(res, 2, thr > 0)
        close(dk, dk_ref, ct, what + " dk")
        close(dv, dv_ref, ct, what + " dv")


def _outputs(arrays: list, n: int, has_seed: bool) -> list:
    """The ``n`` output arrays: the last arrays before the seed (if passed)."""
    end = len(arrays) - (1 if has_seed else 0)
    return arrays[end - n : end]


@pytest.mark.parametrize("d", kernels.ATTENTION_HEAD_DIMS)
@pytest.mark.parametrize("ct", list(kernels.CTYPES.values()))
def test_attention_kernels(ct: str, d: int) -> None:
    for case in (FULL, PLAIN):
        check(ct, d, case)


@pytest.mark.parametrize("case", MORE)
def test_attention_kernels_more_cases(case: tuple) -> None:
    check("float", 64, case)
    check("double", 32, case)


def test_a_planted_bug_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forward that forgets the online-softmax rescale of the running sum gives wrong rows: the check notices."""
    from test_emulated_kernels import planted

    bad = planted("attention", "l *= alpha;", "", ["attention_forward<float, 32>"])
    monkeypatch.setattr(__import__(__name__), "family", lambda _name: bad)
    with pytest.raises(AssertionError, match="out|lse"):
        check("float", 32, PLAIN)


@pytest.mark.parametrize("case", [FULL, PLAIN, *MORE])
def test_the_dense_formula_matches_the_numpy_backend(case: tuple) -> None:
    """This file's formula and NumpyBackend's blocked reference agree (dropout mask included), in float64."""
    from gpubp.backend.numpy_backend import NumpyBackend

    ref = NumpyBackend()
    if not hasattr(ref, "attention_forward"):
        pytest.skip("gpubp/backend/attention_reference.py has not landed")
    B, group, L, S, de, dev, causal, bias_shape, p, _ = case
    rng = rng_for("emulated-attention-ref", case)
    q, k, v, g = (
        rng.standard_normal(shape)
        for shape in ((B, L, 40), (B // group, S, 40), (B // group, S, 40 + dev), (B, L, 40 + dev))
    )
    bias = None if bias_shape is None else rng.standard_normal(bias_shape)
    seed = np.array([987654321], dtype=np.uint64)
    want = dense(q, k, v, bias, causal, 0.3, p, int(seed[0]), group, g)
    out, lse = ref.attention_forward(q, k, v, bias, causal, 0.3, p, seed, group)
    grads = ref.attention_backward(g, q, k, v, out, lse, bias, causal, 0.3, p, seed, group)
    for got, w in zip((out, lse, *grads), (want[0], want[1], *want[3:])):
        np.testing.assert_allclose(got, w, rtol=1e-11, atol=1e-11)
