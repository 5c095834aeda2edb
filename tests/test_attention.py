"""F.scaled_dot_product_attention, the fused op: against torch forward and backward (masks, causal, fully masked
rows, GQA, float16/float32, transposed views), dropout (a deterministic mask drawn from the seed, its kept fraction,
gradients against a dense recomputation with the same mask), torch's error cases, and memory at large L."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn.functional as F
from gpubp.backend.attention_reference import dropout_keep

if torch is None:
    pytest.skip("torch is needed to compare with", allow_module_level=True)

import torch.nn.functional as TF  # noqa: E402

_TOL = {np.float64: 1e-10, np.float32: 2e-5, np.float16: 2e-2}


def _pair(a: np.ndarray, dtype, device: str):
    g = gpubp.tensor(a.astype(dtype), device=device, requires_grad=True)
    t = torch.tensor(a.astype(dtype).astype(np.float64), requires_grad=True)  # torch in float64: the reference
    return g, t


def _compare(device, shapes, dtype=np.float64, mask=None, key=(), **kw):
    """Forward and backward of gpubp (in ``dtype``) against torch in float64 on the same values."""
    rng = rng_for("sdpa", shapes, str(np.dtype(dtype)), key)
    arrays = [rng.standard_normal(s) for s in shapes]
    pairs = [_pair(a, dtype, device) for a in arrays]
    gm = tm = None
    if mask is not None:
        gm = gpubp.tensor(mask if mask.dtype == bool else mask.astype(dtype), device=device)
        tm = torch.tensor(mask if mask.dtype == bool else mask.astype(dtype).astype(np.float64))
    out = F.scaled_dot_product_attention(*[p[0] for p in pairs], attn_mask=gm, **kw)
    ref = TF.scaled_dot_product_attention(*[p[1] for p in pairs], attn_mask=tm, **kw)
    assert out.dtype == np.dtype(dtype) and tuple(out.shape) == tuple(ref.shape)
    tol = _TOL[dtype]
    np.testing.assert_allclose(out.detach().cpu().numpy().astype(np.float64), ref.detach().numpy(), rtol=tol, atol=tol)
    cot = rng.standard_normal(tuple(ref.shape))
    out.backward(gpubp.tensor(cot.astype(dtype), device=device))
    ref.backward(torch.tensor(cot))
    for g, t in pairs:
        assert g.grad.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g.grad.cpu().numpy().astype(np.float64), t.grad.numpy(), rtol=tol * 5, atol=tol * 5)
    return out


_BOOL = rng_for("bool-mask").random((2, 3, 6, 7)) > 0.4
_BOOL[0, 1, 2] = False  # a row that sees no key
_ADD = rng_for("add-mask").standard_normal((6, 7))
_ADD_INF = _ADD.copy()
_ADD_INF[3] = -np.inf  # a row masked out by an additive -inf

CONFIGS = [
    ("plain", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], None, {}),
    ("large-scores", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], None, {"scale": 20.0}),  # the row-max shift path
    ("causal", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], None, {"is_causal": True}),
    ("causal-l>s", [(2, 9, 4), (2, 3, 4), (2, 3, 4)], None, {"is_causal": True}),
    ("bool", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], _BOOL, {}),
    ("bool-bcast", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], _BOOL[:1, :1, :1], {}),
    ("additive", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], _ADD, {"scale": 0.5}),
    ("additive-inf", [(2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5)], _ADD_INF, {}),
    ("gqa", [(2, 6, 6, 8), (2, 2, 7, 8), (2, 2, 7, 8)], _BOOL[:, :1], {"enable_gqa": True}),
    ("bcast-batch", [(2, 3, 6, 8), (3, 7, 8), (1, 7, 5)], None, {}),
    ("empty-key", [(2, 4, 8), (2, 0, 8), (2, 0, 5)], None, {}),
]


@pytest.mark.parametrize("name, shapes, mask, kw", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(device: str, name: str, shapes: list, mask, kw: dict, dtype) -> None:
    _compare(device, shapes, dtype, mask, key=name, **kw)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}], ids=["plain", "causal"])
def test_float16(device: str, kw: dict) -> None:
    _compare(device, [(2, 2, 9, 16), (2, 2, 9, 16), (2, 2, 9, 16)], np.float16, **kw)


def test_fully_masked_row_is_zero_with_zero_gradient(device: str) -> None:
    rng = rng_for("masked-row")
    q, k, v = (
        gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in ((4, 8), (5, 8), (5, 3))
    )
    mask = np.ones((4, 5), dtype=bool)
    mask[2] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=gpubp.tensor(mask, device=device))
    out.sum().backward()
    assert not np.any(out.detach().cpu().numpy()[2]) and np.any(out.detach().cpu().numpy()[1])
    assert not np.any(q.grad.cpu().numpy()[2]) and np.all(np.isfinite(k.grad.cpu().numpy()))


def test_transposed_head_views(device: str) -> None:
    """Heads split out of (N, L, H*E) by view + transpose, as MultiheadAttention does: gradients reach the leaves."""
    rng = rng_for("heads")
    n, length, h, e = 2, 5, 3, 4
    arrays = [rng.standard_normal((n, length, h * e)) for _ in range(3)]
    g_leaves = [gpubp.tensor(a, device=device, requires_grad=True) for a in arrays]
    t_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    g_out = F.scaled_dot_product_attention(*[x.view(n, length, h, e).transpose(1, 2) for x in g_leaves], is_causal=True)
    t_out = TF.scaled_dot_product_attention(
        *[x.view(n, length, h, e).transpose(1, 2) for x in t_leaves], is_causal=True
    )
    np.testing.assert_allclose(g_out.detach().cpu().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    g_out.transpose(1, 2).reshape(n, length, h * e).pow(2).sum().backward()
    t_out.transpose(1, 2).reshape(n, length, h * e).pow(2).sum().backward()
    for g, t in zip(g_leaves, t_leaves):
        np.testing.assert_allclose(g.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_output_is_a_new_tensor(device: str) -> None:
    v = gpubp.tensor(rng_for("alias").standard_normal((1, 1, 4)), device=device)
    q = gpubp.tensor(rng_for("alias-q").standard_normal((1, 1, 4)), device=device)
    out = F.scaled_dot_product_attention(q, q, v)  # one key: the output equals v's values
    np.testing.assert_allclose(out.cpu().numpy(), v.cpu().numpy())
    out.mul_(2.0)
    assert not np.allclose(out.cpu().numpy(), v.cpu().numpy())


def _splitmix_keep(seed: int, idx: int, p: float) -> bool:
    mask = 2**64 - 1
    x = (seed + (idx + 1) * 0x9E3779B97F4A7C15) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    x ^= x >> 31
    return (x >> 40) >= round(p * 2**24)


def test_dropout_keep_is_splitmix64() -> None:
    seed = np.array([2**62 + 12345], dtype=np.uint64)
    keep = dropout_keep(np, seed, 1, 3, 2, 5, 6, 7, 0.3, 5)  # batches 1-2, rows 2-4, keys 0-4 of (L, S) = (6, 7)
    assert keep.shape == (2, 3, 5)
    for b in range(2):
        for i in range(3):
            for j in range(5):
                assert keep[b, i, j] == _splitmix_keep(int(seed[0]), ((b + 1) * 6 + i + 2) * 7 + j, 0.3)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_kept_fraction(p: float) -> None:
    keep = dropout_keep(np, np.array([987654321], dtype=np.uint64), 0, 4, 0, 64, 64, 128, p)
    n = keep.size
    bound = 5 * np.sqrt(n * p * (1 - p))  # five binomial standard deviations
    assert abs(keep.sum() - n * (1 - p)) < bound


def _dense_dropout(q, k, v, keep, p, causal):
    """torch's attention written out, with the given keep-mask (the reference for gradients with dropout)."""
    s = q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1])
    if causal:
        s = s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).triu(1), -torch.inf)
    w = torch.softmax(s, -1) * torch.tensor(keep) / (1 - p)
    return w @ v


@pytest.mark.parametrize("causal", [False, True])
def test_dropout_deterministic_and_matches_dense(device: str, causal: bool) -> None:
    rng = rng_for("dropout", causal)
    shapes = ((2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 5))
    arrays = [rng.standard_normal(s) for s in shapes]
    p = 0.4
    outs = []
    for _ in range(2):
        gpubp.manual_seed(1234)
        ins = [gpubp.tensor(a, device=device, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*ins, dropout_p=p, is_causal=causal)
        outs.append(out.detach().cpu().numpy())
    np.testing.assert_array_equal(outs[0], outs[1])  # the same mask under the same seed
    gpubp.manual_seed(1235)
    other = F.scaled_dot_product_attention(*ins, dropout_p=p, is_causal=causal).detach().cpu().numpy()
    assert not np.allclose(other, outs[0])
    # the mask comes from the seed the op drew from the device generator after manual_seed(1234)
    gpubp.manual_seed(1234)
    be = ins[0]._be
    with be.enter():
        seed = be.to_numpy(be.randint(0, 2**62, (1,), np.int64)).astype(np.uint64)
    keep = dropout_keep(np, seed, 0, 6, 0, 6, 6, 7, p).reshape(2, 3, 6, 7)
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = _dense_dropout(*t_in, keep, p, causal)
    np.testing.assert_allclose(outs[1], ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    cot = rng.standard_normal(ref.shape)
    out.backward(gpubp.tensor(cot, device=device))
    ref.backward(torch.tensor(cot))
    for g, t in zip(ins, t_in):
        np.testing.assert_allclose(g.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_dropout_zero_and_one(device: str) -> None:
    rng = rng_for("p0")
    arrays = [rng.standard_normal((2, 5, 4)) for _ in range(3)]
    ins = [gpubp.tensor(a, device=device) for a in arrays]
    ref = TF.scaled_dot_product_attention(*[torch.tensor(a) for a in arrays]).numpy()
    np.testing.assert_allclose(F.scaled_dot_product_attention(*ins, dropout_p=0.0).cpu().numpy(), ref, atol=1e-12)
    assert not np.any(F.scaled_dot_product_attention(*ins, dropout_p=1.0).cpu().numpy())


def test_second_derivative_with_dropout(device: str) -> None:
    """create_graph: the dense rule with the same mask; d/dq of <g, d out/dq> checked by finite differences."""
    rng = rng_for("gradgrad-dropout")
    shapes = ((1, 3, 4), (1, 4, 4), (1, 4, 2))
    q, k, v = (gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in shapes)

    def inner(qq):
        gpubp.manual_seed(7)
        out = F.scaled_dot_product_attention(qq, k, v, dropout_p=0.3)
        (gq,) = gpubp.autograd.grad(out.pow(2).sum(), [qq], create_graph=True)
        return gq

    gq = inner(q)
    (hq,) = gpubp.autograd.grad(gq.sum(), [q])
    base = q.detach().cpu().numpy()
    eps = 1e-6
    fd = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        up, dn = base.copy(), base.copy()
        up[idx] += eps
        dn[idx] -= eps
        fu = inner(gpubp.tensor(up, device=device, requires_grad=True)).sum().item()
        fm = inner(gpubp.tensor(dn, device=device, requires_grad=True)).sum().item()
        fd[idx] = (fu - fm) / (2 * eps)
    np.testing.assert_allclose(hq.cpu().numpy(), fd, rtol=1e-5, atol=1e-6)


_ERRORS = [
    ("1-d", [(8,), (8,), (8,)], {}),
    ("E", [(2, 4, 8), (2, 5, 7), (2, 5, 8)], {}),
    ("S", [(2, 4, 8), (2, 5, 8), (2, 6, 8)], {}),
    ("causal+mask", [(2, 4, 8), (2, 5, 8), (2, 5, 8)], {"attn_mask": ("bool", (4, 5)), "is_causal": True}),
    ("gqa", [(2, 6, 4, 8), (2, 4, 5, 8), (2, 4, 5, 8)], {"enable_gqa": True}),
    ("heads", [(2, 6, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)], {}),
    ("p", [(2, 4, 8), (2, 5, 8), (2, 5, 8)], {"dropout_p": 1.5}),
    ("mask-int", [(2, 4, 8), (2, 5, 8), (2, 5, 8)], {"attn_mask": ("int64", (4, 5))}),
    ("mask-f64", [(2, 4, 8), (2, 5, 8), (2, 5, 8)], {"attn_mask": ("float64", (4, 5))}),
    ("mask-shape", [(2, 4, 8), (2, 5, 8), (2, 5, 8)], {"attn_mask": ("bool", (3, 5))}),
    ("mask-ndim", [(2, 4, 8), (2, 5, 8), (2, 5, 8)], {"attn_mask": ("bool", (1, 2, 4, 5))}),
    ("dtype", [(2, 4, 8), (2, 5, 8, "float64"), (2, 5, 8)], {}),
]


@pytest.mark.parametrize("name, shapes, kw", _ERRORS, ids=[e[0] for e in _ERRORS])
def test_errors_match_torch(device: str, name: str, shapes: list, kw: dict) -> None:
    rng = rng_for("errors", name)

    def arr(s):
        dt = s[-1] if isinstance(s[-1], str) else "float32"
        s = tuple(x for x in s if not isinstance(x, str))
        return rng.standard_normal(s).astype(dt) if dt.startswith("float") else np.ones(s, dtype=dt)

    arrays = [arr(s) for s in shapes]
    g_kw, t_kw = dict(kw), dict(kw)
    if "attn_mask" in kw:
        dt, s = kw["attn_mask"]
        m = np.ones(s, dtype=dt)
        g_kw["attn_mask"] = gpubp.tensor(m, device=device)
        t_kw["attn_mask"] = torch.tensor(m)
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(*[torch.tensor(a) for a in arrays], **t_kw)
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(*[gpubp.tensor(a, device=device) for a in arrays], **g_kw)


def test_integer_inputs_refused(device: str) -> None:
    x = gpubp.ones((2, 3, 4), dtype=gpubp.int64, device=device)
    with pytest.raises(TypeError, match="floating point"):
        F.scaled_dot_product_attention(x, x, x)


def test_long_sequence_holds_one_block_of_scores(device: str) -> None:
    """L = S = 4096: forward and backward without an L x S array (peak well under L * S * 4 bytes)."""
    if device != "cpu":
        pytest.skip("host memory is traced on the CPU only (emulated sizes stay small)")
    n = 4096
    rng = rng_for("long")
    q, k, v = (
        gpubp.tensor(rng.standard_normal((1, n, 8)).astype(np.float32), device=device, requires_grad=True)
        for _ in range(3)
    )
    tracemalloc.start()
    try:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.sum().backward()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * n * 4 // 3, f"peak {peak} bytes against {n * n * 4} for the L x S scores"
    assert np.all(np.isfinite(q.grad.numpy())) and np.any(k.grad.numpy())
    # the first rows against torch (row i sees keys 0..i only, so a prefix is exact)
    tq, tk, tv = (torch.tensor(t.detach().numpy()[:, :64]) for t in (q, k, v))
    ref = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True).numpy()
    np.testing.assert_allclose(out.detach().numpy()[:, :64], ref, rtol=1e-5, atol=1e-5)


def test_additive_mask_gradient(device: str) -> None:
    """An additive attn_mask that requires grad gets dS (summed over its broadcast dims), as torch's."""
    rng = rng_for("mask-grad")
    arrays = [rng.standard_normal(s) for s in ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3), (3, 1, 6))]
    g = [gpubp.tensor(a, device=device, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*g[:3], attn_mask=g[3])
    ref = TF.scaled_dot_product_attention(*t[:3], attn_mask=t[3])
    cot = rng.standard_normal(tuple(ref.shape))
    out.backward(gpubp.tensor(cot, device=device))
    ref.backward(torch.tensor(cot))
    for a, b in zip(g, t):
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-10)
