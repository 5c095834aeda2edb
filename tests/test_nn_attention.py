"""nn.MultiheadAttention and F.multi_head_attention_forward against torch, with the same weights: outputs, attention
weights and the gradients of every input and parameter, in float64 (tight) and float32 (loose); masks of each kind,
key padding, kdim / vdim, add_bias_kv, add_zero_attn, batch_first, unbatched input; state dicts both ways; warnings
and errors as torch's."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn
from gpubp.nn import functional as F

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

TOLS = {"float64": (1e-9, 1e-8), "float32": (2e-4, 2e-3)}  # (forward, gradients)


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def twins(theirs: Any, ours: Any, device: str, dtype: str) -> tuple[Any, Any]:
    """(ours, theirs) in ``dtype``, torch's (randomly initialized) parameters copied into ours; keys must agree."""
    theirs = theirs.to(getattr(torch, dtype))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours.to(device=device, dtype=getattr(gpubp, dtype)), theirs


def mask_pair(arr: np.ndarray | None, device: str, dtype: str) -> tuple[Any, Any]:
    """A mask as (ours, theirs): bool stays bool, a float mask takes ``dtype``."""
    if arr is None:
        return None, None
    if arr.dtype != bool:
        arr = arr.astype(dtype)
    return gpubp.tensor(arr, device=device), torch.tensor(arr)


def check(
    ours: Any,
    theirs: Any,
    call: Callable,
    arrays: list[np.ndarray],
    masks: dict[str, np.ndarray | None],
    device: str,
    dtype: str,
    key: Any,
    noncontig: bool = False,
) -> None:
    """Run ``call(module, inputs, masks)`` on both; compare every float output, then (after one backward with random
    cotangents) the gradients of each input and each parameter. ``noncontig``: our inputs are transposed views."""
    tol, gtol = TOLS[dtype]
    g_leaves, g_in = [], []
    for a in arrays:
        a = a.astype(dtype)
        if noncontig and a.ndim >= 2:
            leaf = gpubp.tensor(np.ascontiguousarray(a.swapaxes(0, 1)), device=device, requires_grad=True)
            g_in.append(leaf.transpose(0, 1))
        else:
            leaf = gpubp.tensor(a, device=device, requires_grad=True)
            g_in.append(leaf)
        g_leaves.append(leaf)
    t_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    g_masks, t_masks = {}, {}
    for name, arr in masks.items():
        g_masks[name], t_masks[name] = mask_pair(arr, device, dtype)
    g_out, t_out = call(ours, g_in, g_masks), call(theirs, t_in, t_masks)
    g_out = g_out if isinstance(g_out, tuple) else (g_out,)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    assert len(g_out) == len(t_out)
    rng = rng_for("cotangent", key)
    g_loss, t_loss = 0, 0
    for go, to in zip(g_out, t_out):
        if to is None:
            assert go is None
            continue
        assert tuple(go.shape) == tuple(to.shape) and str(go.dtype) == dtype
        np.testing.assert_allclose(_np(go), _np(to), rtol=tol, atol=tol)
        w = rng.standard_normal(tuple(to.shape))
        g_loss = g_loss + (go * gpubp.tensor(w.astype(dtype), device=device)).sum()
        t_loss = t_loss + (to * torch.tensor(w.astype(dtype))).sum()
    g_loss.backward()
    t_loss.backward()
    for g_leaf, t_leaf in zip(g_leaves, t_in):
        if t_leaf.grad is None:  # an input the result does not use (a key replaced by static_k)
            assert g_leaf.grad is None or not np.any(_np(g_leaf.grad))
            continue
        grad = _np(g_leaf.grad)
        np.testing.assert_allclose(
            grad.swapaxes(0, 1) if noncontig and grad.ndim >= 2 else grad, _np(t_leaf.grad), rtol=gtol, atol=gtol
        )
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        if q.grad is None:
            assert p.grad is None or not np.any(_np(p.grad)), name
            continue
        np.testing.assert_allclose(_np(p.grad), _np(q.grad), rtol=gtol, atol=gtol, err_msg=name)


def _mha(kw: dict, device: str, dtype: str, e: int = 8, h: int = 2) -> tuple[Any, Any]:
    theirs = torch.nn.MultiheadAttention(e, h, **kw)
    if kw.get("bias", True):  # torch zeroes the biases; random ones test them
        with torch.no_grad():
            for name, p in theirs.named_parameters():
                if "bias" in name:
                    p.normal_()
    return twins(theirs, nn.MultiheadAttention(e, h, **kw), device, dtype)


def _self(need_weights: bool = True, average: bool = True, **extra: Any) -> Callable:
    """Self-attention: query, key and value the same tensor."""
    return lambda m, x, mk: m(x[0], x[0], x[0], need_weights=need_weights, average_attn_weights=average, **mk, **extra)


def _cross(need_weights: bool = True, average: bool = True, **extra: Any) -> Callable:
    return lambda m, x, mk: m(x[0], x[1], x[2], need_weights=need_weights, average_attn_weights=average, **mk, **extra)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_self_attention(device: str, dtype: str, batch_first: bool, need_weights: bool, average: bool) -> None:
    """Self-attention, both layouts, with weights averaged, per head, or not formed; non-contiguous input."""
    key = ("self", batch_first, need_weights, average)
    rng = rng_for(*key)
    ours, theirs = _mha({"batch_first": batch_first}, device, dtype)
    x = rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    check(ours, theirs, _self(need_weights, average), [x], {}, device, dtype, key, noncontig=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"kdim": 3, "vdim": 5},
        {"add_bias_kv": True},
        {"add_zero_attn": True},
        {"kdim": 6, "vdim": 4, "add_bias_kv": True, "add_zero_attn": True, "batch_first": True},
        {"bias": False},
        {"bias": False, "kdim": 3},
    ],
)
def test_cross_attention(device: str, dtype: str, need_weights: bool, kw: dict) -> None:
    """Query over separate key / value (kdim / vdim), bias_k / bias_v, a zero attention slot, no biases."""
    key = ("cross", tuple(sorted(kw.items())), need_weights)
    rng = rng_for(*key)
    ours, theirs = _mha(kw, device, dtype)
    bf = kw.get("batch_first", False)
    shape = (lambda n, ln, e: (n, ln, e)) if bf else (lambda n, ln, e: (ln, n, e))
    arrays = [rng.standard_normal(shape(2, 4, 8)), rng.standard_normal(shape(2, 6, kw.get("kdim", 8)))]
    arrays.append(rng.standard_normal(shape(2, 6, kw.get("vdim", 8))))
    kpm = np.zeros((2, 6), bool)
    kpm[1, 4:] = True
    check(ours, theirs, _cross(need_weights, False), arrays, {"key_padding_mask": kpm}, device, dtype, key)


def _masks(rng: np.random.Generator, n: int, h: int, tl: int, s: int) -> dict[str, np.ndarray]:
    """Masks that leave every row at least one key: bool (True = masked out) and float (additive, -inf and finite)."""
    bool2 = rng.random((tl, s)) < 0.4
    bool2[:, 0] = False
    bool3 = rng.random((n * h, tl, s)) < 0.4
    bool3[:, :, 1] = False
    float2 = rng.standard_normal((tl, s))
    float2[bool2] = -np.inf
    kpm = np.zeros((n, s), bool)
    kpm[0, s - 2 :] = True
    return {"bool2": bool2, "bool3": bool3, "float2": float2, "float3": rng.standard_normal((n * h, tl, s)), "kpm": kpm}


MASK_CASES = [
    {"attn_mask": "bool2"},
    {"attn_mask": "bool3"},
    {"attn_mask": "float2"},
    {"attn_mask": "float3"},
    {"key_padding_mask": "kpm"},
    {"key_padding_mask": "kpm_float"},
    {"attn_mask": "bool2", "key_padding_mask": "kpm"},
    {"attn_mask": "float3", "key_padding_mask": "kpm_float"},
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("which", MASK_CASES, ids=lambda w: "+".join(w.values()))
def test_masks(device: str, dtype: str, need_weights: bool, which: dict) -> None:
    """Boolean and additive masks, 2-D and 3-D attn_mask (N * num_heads, L, S), bool and float key padding."""
    key = ("masks", tuple(which.items()), need_weights)
    rng = rng_for(*key)
    ours, theirs = _mha({}, device, dtype)
    arrays = [rng.standard_normal((4, 2, 8)), rng.standard_normal((5, 2, 8))]
    pool = _masks(rng, 2, 2, 4, 5)
    pool["kpm_float"] = np.where(pool["kpm"], -np.inf, rng.standard_normal((2, 5)))
    masks = {arg: pool[name] for arg, name in which.items()}
    call = lambda m, x, mk: m(x[0], x[1], x[1], need_weights=need_weights, **mk)  # noqa: E731 (key is value)
    check(ours, theirs, call, arrays, masks, device, dtype, key)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("padding", [False, True])
def test_is_causal(device: str, dtype: str, need_weights: bool, padding: bool) -> None:
    """is_causal with its causal mask: the fused causal path without key padding, the merged mask with it."""
    key = ("causal", need_weights, padding)
    rng = rng_for(*key)
    ours, theirs = _mha({"batch_first": True}, device, dtype)
    causal = np.triu(np.ones((5, 5), bool), 1)
    masks = {"attn_mask": causal}
    if padding:
        masks["key_padding_mask"] = np.array([[False] * 4 + [True], [False] * 5])
    call = lambda m, x, mk: m(x[0], x[0], x[0], need_weights=need_weights, is_causal=True, **mk)  # noqa: E731
    check(ours, theirs, call, [rng.standard_normal((2, 5, 8))], masks, device, dtype, key)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_unbatched(device: str, dtype: str, need_weights: bool, average: bool) -> None:
    """2-D query / key / value, with a 3-D (num_heads, L, S) mask and a 1-D key padding mask."""
    key = ("unbatched", need_weights, average)
    rng = rng_for(*key)
    ours, theirs = _mha({"kdim": 3, "vdim": 3, "add_bias_kv": True}, device, dtype)
    mask = rng.random((2, 4, 6)) < 0.3
    mask[..., 0] = False
    masks = {"attn_mask": mask, "key_padding_mask": np.array([False, False, True, False, False, True])}
    arrays = [rng.standard_normal((4, 8)), rng.standard_normal((6, 3))]
    call = lambda m, x, mk: m(x[0], x[1], x[1], need_weights=need_weights, average_attn_weights=average, **mk)  # noqa: E731
    check(ours, theirs, call, arrays, masks, device, dtype, key)


@pytest.mark.parametrize("need_weights", [True, False])
def test_functional_static_kv(device: str, need_weights: bool) -> None:
    """F.multi_head_attention_forward called directly, with static_k / static_v (N * num_heads, S, head_dim)."""
    key = ("static", need_weights)
    rng = rng_for(*key)
    ours, theirs = _mha({}, device, "float64")
    arrays = [rng.standard_normal((4, 2, 8)), rng.standard_normal((5, 2, 8)), rng.standard_normal((4, 6, 4))]
    arrays.append(rng.standard_normal((4, 6, 4)))

    def call(m: Any, x: list, mk: dict) -> Any:
        fn = (
            F.multi_head_attention_forward
            if isinstance(m, nn.Module)
            else torch.nn.functional.multi_head_attention_forward
        )
        return fn(
            x[0], x[1], x[1], 8, 2, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0, m.out_proj.weight,
            m.out_proj.bias, training=False, need_weights=need_weights, static_k=x[2], static_v=x[3],
        )  # fmt: skip

    check(ours, theirs, call, arrays, {}, device, "float64", key)


def test_state_dict_both_ways_and_init(device: str) -> None:
    """Keys and shapes as torch's for every layout; ours loads into torch and gives its result; PyTorch's init."""
    for kw in ({}, {"kdim": 3, "vdim": 5}, {"add_bias_kv": True, "bias": False}):
        ours, theirs = nn.MultiheadAttention(8, 2, **kw), torch.nn.MultiheadAttention(8, 2, **kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ]
        assert type(ours.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
        if ours.in_proj_bias is not None:  # torch's _reset_parameters: zero biases, xavier-uniform projections
            assert not np.any(_np(ours.in_proj_bias)) and not np.any(_np(ours.out_proj.bias))
        w = _np(ours.in_proj_weight if ours.in_proj_weight is not None else ours.q_proj_weight)
        bound = np.sqrt(6.0 / sum(w.shape))
        assert np.all(np.abs(w) <= bound) and np.abs(w).max() > bound / 2
    rng = rng_for("sd")
    ours = nn.MultiheadAttention(8, 2, kdim=3).to(device)
    theirs = torch.nn.MultiheadAttention(8, 2, kdim=3)
    theirs.load_state_dict({k: torch.tensor(_np(v)) for k, v in ours.state_dict().items()})
    q, k = rng.standard_normal((3, 2, 8)).astype(np.float32), rng.standard_normal((4, 2, 3)).astype(np.float32)
    v = rng.standard_normal((4, 2, 8)).astype(np.float32)
    got = ours(*(gpubp.tensor(a, device=device) for a in (q, k, v)))
    want = theirs(*(torch.tensor(a) for a in (q, k, v)))
    for g, t in zip(got, want):
        np.testing.assert_allclose(_np(g), _np(t), rtol=2e-4, atol=2e-5)


def test_training_dropout(device: str) -> None:
    """Dropout on the attention weights in training: finite, differs between calls; none in eval."""
    rng = rng_for("dropout")
    m = nn.MultiheadAttention(8, 2, dropout=0.5).to(device)
    x = gpubp.tensor(rng.standard_normal((4, 2, 8)).astype(np.float32), device=device, requires_grad=True)
    for need_weights in (True, False):
        a, b = m(x, x, x, need_weights=need_weights)[0], m(x, x, x, need_weights=need_weights)[0]
        assert np.all(np.isfinite(_np(a))) and not np.allclose(_np(a), _np(b))
        a.sum().backward()
        assert np.all(np.isfinite(_np(x.grad)))
    m.eval()
    np.testing.assert_array_equal(_np(m(x, x, x)[0]), _np(m(x, x, x)[0]))


def test_mismatched_mask_warning(device: str) -> None:
    """A bool key padding mask with a float attn_mask warns, as torch's, and still merges both."""
    ours = nn.MultiheadAttention(4, 1).to(device)
    x = gpubp.tensor(rng_for("warn").standard_normal((3, 1, 4)).astype(np.float32), device=device)
    kpm = gpubp.tensor([[False, False, True]], device=device)
    mask = gpubp.zeros(3, 3, device=device)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        _, w = ours(x, x, x, key_padding_mask=kpm, attn_mask=mask)
    assert not np.any(_np(w)[..., 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours(x, x, x, key_padding_mask=kpm, attn_mask=mask.bool())


def _raises_like_torch(ours: Callable, theirs: Callable, match: str) -> None:
    """Both raise; ours with a message matching ``match``, of a class torch's error class catches."""
    with pytest.raises(Exception) as t_err:
        theirs()
    with pytest.raises(t_err.type, match=match):
        ours()


def test_errors(device: str) -> None:
    """Bad construction, shapes, masks and hints raise as torch's (AssertionError / RuntimeError / ValueError)."""
    _raises_like_torch(lambda: nn.MultiheadAttention(6, 4), lambda: torch.nn.MultiheadAttention(6, 4), "divisible")
    _raises_like_torch(lambda: nn.MultiheadAttention(0, 1), lambda: torch.nn.MultiheadAttention(0, 1), "greater than 0")
    ours, theirs = _mha({}, device, "float32")
    rng = rng_for("errors")
    q = rng.standard_normal((3, 2, 8)).astype(np.float32)
    s = rng.standard_normal((5, 2, 8)).astype(np.float32)
    cases = [
        ((q, s, s), {"attn_mask": np.zeros((3, 4), bool)}, "2D attn_mask"),
        ((q, s, s), {"attn_mask": np.zeros((2, 3, 5), bool)}, "3D attn_mask"),
        ((q, s, s), {"attn_mask": np.zeros((1, 1, 3, 5), bool)}, "2-D or 3-D"),
        ((q, s, s), {"key_padding_mask": np.zeros((2, 4), bool)}, "key_padded_mask"),
        ((q, s, s), {"key_padding_mask": np.zeros(5, bool)}, "key_padding_mask"),
        ((q, s, s), {"attn_mask": np.zeros((3, 5), np.int64)}, "only bool and floating"),
        ((q, s, s), {"is_causal": True}, "Need attn_mask"),
        ((q, s[:4], s), {}, "does not match value shape"),
        ((q[..., :6], s, s), {}, "embedding dimension of 8"),
        ((q[0], s, s), {}, "2-D"),
        ((q[None], s, s), {}, "unbatched 2D or batched 3D"),
    ]
    for args, kw, match in cases:
        g_kw = {k: gpubp.tensor(v, device=device) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        _raises_like_torch(
            lambda args=args, g_kw=g_kw: ours(*(gpubp.tensor(a, device=device) for a in args), **g_kw),
            lambda args=args, t_kw=t_kw: theirs(*(torch.tensor(a) for a in args), **t_kw),
            match,
        )
