"""Bilinear, EmbeddingBag (+ F.bilinear, F.embedding_bag), F.gumbel_softmax, NLLLoss2d and nn.utils' fusion and
skip_init: against PyTorch in float64 (outputs, input and parameter gradients, state_dict keys, repr, errors),
gradchecked, gumbel_softmax statistically and its straight-through gradient exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F
from gpubp.errors import InputError
from gpubp.nn.utils import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
    skip_init,
)
from gpubp.testing import gradcheck, gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _np(t: object) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _copy_from_torch(ours: nn.Module, theirs: object, device: str) -> None:
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: gpubp.tensor(v.detach().numpy(), device=device) for k, v in theirs.state_dict().items()})


# ---- bilinear ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes, noncontig",
    [
        ([(3, 4), (3, 5), (2, 4, 5), (2,)], False),
        ([(2, 3, 4), (2, 3, 2), (3, 4, 2), (3,)], True),
        ([(4,), (3,), (2, 4, 3), (2,)], False),
    ],
)
def test_bilinear_matches_torch(device: str, shapes: list, noncontig: bool) -> None:
    check_op(
        device,
        F.bilinear,
        torch and torch.nn.functional.bilinear,
        shapes,
        key=("bilinear", shapes),
        noncontig=noncontig,
    )
    no_bias = shapes[:3]
    check_op(device, F.bilinear, torch and torch.nn.functional.bilinear, no_bias, key=("bilinear-nb", shapes))


def test_bilinear_and_embedding_bag_gradgrad(device: str) -> None:
    rng = rng_for("gradgrad-linear")
    a, b, w, bias = (
        gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True)
        for s in ((2, 3), (2, 4), (2, 3, 4), (2,))
    )
    gradgradcheck(F.bilinear, [a, b, w, bias])
    table = gpubp.tensor(rng.standard_normal((5, 2)), device=device, requires_grad=True)
    psw = gpubp.tensor(rng.standard_normal(6), device=device, requires_grad=True)
    idx, offs = gpubp.tensor([0, 4, 4, 1, 2, 3], device=device), gpubp.tensor([0, 2, 5], device=device)
    gradgradcheck(lambda t, p: F.embedding_bag(idx, t, offs, mode="sum", per_sample_weights=p) ** 2, [table, psw])


@needs_torch
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_module_matches_torch(device: str, bias: bool) -> None:
    theirs = torch.nn.Bilinear(3, 4, 5, bias=bias).double()
    ours = nn.Bilinear(3, 4, 5, bias=bias, device=device, dtype=gpubp.float64)
    assert repr(ours) == repr(theirs)
    _copy_from_torch(ours, theirs, device)
    rng = rng_for("Bilinear", bias)
    a, b, v = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 4)), rng.standard_normal((2, 6, 5))
    ga, gb = (gpubp.tensor(x, device=device, requires_grad=True) for x in (a, b))
    ta, tb = (torch.tensor(x, requires_grad=True) for x in (a, b))
    out, ref = ours(ga, gb), theirs(ta, tb)
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-10, atol=1e-12)
    (out * gpubp.tensor(v, device=device)).sum().backward()
    (ref * torch.tensor(v)).sum().backward()
    for g, t in [(ga, ta), (gb, tb)] + list(zip(ours.parameters(), theirs.parameters())):
        np.testing.assert_allclose(_np(g.grad), _np(t.grad), rtol=1e-10, atol=1e-12)


def test_bilinear_init_and_errors(device: str) -> None:
    m = nn.Bilinear(4, 9, 3, device=device, dtype=gpubp.float64)
    assert tuple(m.weight.shape) == (3, 4, 9) and tuple(m.bias.shape) == (3,)
    w = _np(m.weight)
    assert np.abs(w).max() <= 0.5 and np.abs(w).max() > 0.3 and np.abs(_np(m.bias)).max() <= 0.5  # U(+-1/sqrt(4))
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        nn.Bilinear(0, 2, 3)
    x1, x2 = (
        gpubp.randn(2, 4, device=device, dtype=gpubp.float64),
        gpubp.randn(3, 9, device=device, dtype=gpubp.float64),
    )
    with pytest.raises(InputError, match=r"bilinear\(\): input batch dimensions do not match"):
        m(x1, x2)
    with pytest.raises(InputError, match=r"bilinear\(\): input1 size does not match weight size"):
        m(gpubp.randn(2, 5, device=device, dtype=gpubp.float64), x2[:2])
    with pytest.raises(InputError, match=r"bilinear\(\): input2 size does not match"):
        m(x1, gpubp.randn(2, 8, device=device, dtype=gpubp.float64))
    with pytest.raises(InputError, match=r"bilinear\(\): weight must be three-dimensional"):
        F.bilinear(x1, x2[:2], m.weight[0])


# ---- embedding_bag -----------------------------------------------------------------------------------------------

# (input, offsets, extra kwargs): 2-D bags; 1-D with an empty bag; include_last_offset; padding_idx (an all-padding
# bag); max_norm; scale_grad_by_freq
BAGS = [
    ([[1, 4, 4, 0], [2, 7, 3, 3], [9, 0, 5, 8]], None, {}),
    ([3, 1, 4, 1, 5, 9, 2, 6, 5], [0, 2, 2, 7], {}),
    ([3, 1, 4, 1, 5, 9, 2, 6, 5], [0, 3, 3, 8], {"include_last_offset": True}),
    ([2, 1, 2, 2, 2, 4, 5, 2], [0, 3, 5, 6], {"padding_idx": 2}),
    ([[1, 2, 3], [2, 2, 0]], None, {"padding_idx": -8}),
    ([3, 1, 4, 1, 5, 9, 2, 6, 5], [0, 4], {"max_norm": 1.5}),
    ([3, 1, 3, 3, 5, 9, 1, 6, 5], [0, 4, 6], {"scale_grad_by_freq": True}),
]


@needs_torch
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", range(len(BAGS)))
def test_embedding_bag_matches_torch(device: str, mode: str, case: int) -> None:
    idx, offs, kw = BAGS[case]
    if mode == "max" and kw.get("scale_grad_by_freq"):
        return  # refused (checked in the errors test)
    rng = rng_for("embedding_bag", mode, case)
    table = rng.standard_normal((10, 3))
    psw = rng.standard_normal(np.shape(idx)) if mode == "sum" else None
    gw, tw = gpubp.tensor(table, device=device, requires_grad=True), torch.tensor(table, requires_grad=True)
    gp = None if psw is None else gpubp.tensor(psw, device=device, requires_grad=True)
    tp = None if psw is None else torch.tensor(psw, requires_grad=True)
    g_off = None if offs is None else gpubp.tensor(offs, device=device)
    t_off = None if offs is None else torch.tensor(offs)
    out = F.embedding_bag(gpubp.tensor(idx, device=device), gw, g_off, mode=mode, per_sample_weights=gp, **kw)
    if kw.get("scale_grad_by_freq"):
        # PyTorch 2.13's CPU embedding_bag divides by the wrong index's count (pytorch/pytorch#190063, fixed by #190264):
        # the reference is the documented rule, F.embedding's scaling, summed or averaged per bag
        rows = torch.nn.functional.embedding(torch.tensor(idx), tw, scale_grad_by_freq=True)
        rows = rows if tp is None else rows * tp[:, None]
        bounds = list(offs) + [len(idx)]
        red = torch.sum if mode == "sum" else torch.mean
        ref = torch.stack([red(rows[a:b], 0) for a, b in zip(bounds[:-1], bounds[1:])])
    else:
        ref = torch.nn.functional.embedding_bag(torch.tensor(idx), tw, t_off, mode=mode, per_sample_weights=tp, **kw)
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(gw), _np(tw), rtol=1e-12, atol=1e-12)  # max_norm's in-place renorm
    v = rng.standard_normal(tuple(ref.shape))
    (out * gpubp.tensor(v, device=device)).sum().backward()
    (ref * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(_np(gw.grad), _np(tw.grad), rtol=1e-12, atol=1e-12)
    if psw is not None:
        np.testing.assert_allclose(_np(gp.grad), _np(tp.grad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradcheck(device: str, mode: str) -> None:
    rng = rng_for("embedding_bag-gc", mode)
    table = gpubp.tensor(rng.standard_normal((6, 3)), device=device, requires_grad=True)
    idx = gpubp.tensor([0, 3, 3, 5, 1, 2, 4], device=device)
    offs = gpubp.tensor([0, 3, 3, 5], device=device)
    if mode == "sum":
        psw = gpubp.tensor(rng.standard_normal(7), device=device, requires_grad=True)
        gradcheck(lambda w, p: F.embedding_bag(idx, w, offs, mode=mode, per_sample_weights=p), [table, psw])
    else:
        gradcheck(lambda w: F.embedding_bag(idx, w, offs, mode=mode, padding_idx=5), [table])


@needs_torch
def test_embedding_bag_max_tie_goes_to_first(device: str) -> None:
    table = [[1.0, 2.0], [1.0, -2.0], [0.5, 2.0]]
    gw, tw = gpubp.tensor(table, device=device, requires_grad=True), torch.tensor(table, requires_grad=True)
    idx = [[2, 0, 1], [1, 0, 0]]
    F.embedding_bag(gpubp.tensor(idx, device=device), gw, mode="max").sum().backward()
    torch.nn.functional.embedding_bag(torch.tensor(idx), tw, mode="max").sum().backward()
    np.testing.assert_array_equal(_np(gw.grad), tw.grad.numpy())


def test_embedding_bag_empty_input(device: str) -> None:
    w = gpubp.randn(4, 3, device=device, dtype=gpubp.float64)
    out = F.embedding_bag(gpubp.tensor([], dtype=gpubp.int64, device=device), w, gpubp.tensor([0, 0], device=device))
    assert tuple(out.shape) == (2, 3) and not _np(out).any()
    assert out.dtype == gpubp.float64


def test_embedding_bag_errors(device: str) -> None:
    w = gpubp.randn(5, 3, device=device, dtype=gpubp.float64)
    i1, i2 = gpubp.tensor([0, 1, 2], device=device), gpubp.tensor([[0, 1], [2, 3]], device=device)
    off = gpubp.tensor([0, 1], device=device)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(i2, w, off)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(i1, w)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
        F.embedding_bag(i1, w, i2)
    with pytest.raises(ValueError, match="input has to be 1D or 2D Tensor, but got Tensor of dimension 3"):
        F.embedding_bag(i2[None], w)
    with pytest.raises(ValueError, match="weight has to be a 2D Tensor"):
        F.embedding_bag(i2, w[0])
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(i2, w, mode="min")
    with pytest.raises(ValueError, match="max mode does not support scaling the gradient"):
        F.embedding_bag(i2, w, mode="max", scale_grad_by_freq=True)
    with pytest.raises(ValueError, match="embedding_bag: If per_sample_weights"):
        F.embedding_bag(i2, w, mode="sum", per_sample_weights=gpubp.ones(3, device=device, dtype=gpubp.float64))
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(i2, w, mode="mean", per_sample_weights=gpubp.ones(2, 2, device=device, dtype=gpubp.float64))
    with pytest.raises(InputError, match=r"embedding_bag: offsets\[0\] has to be 0"):
        F.embedding_bag(i1, w, gpubp.tensor([1, 2], device=device))
    with pytest.raises(InputError, match=r"embedding_bag: offsets\[-1\] can not be greater than input's length 3"):
        F.embedding_bag(i1, w, gpubp.tensor([0, 4], device=device))
    with pytest.raises(InputError, match="embedding_bag: padding_idx must be within"):
        F.embedding_bag(i2, w, padding_idx=5)
    with pytest.raises(ValueError, match="embedding_bag: sparse=True"):
        F.embedding_bag(i2, w, sparse=True)
    if device == "cpu":  # out-of-range indices are read only on the CPU (as F.embedding)
        with pytest.raises(IndexError, match="embedding: index 7 is out of range"):
            F.embedding_bag(gpubp.tensor([[0, 7]], device=device), w)


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"mode": "sum", "padding_idx": 1}, {"mode": "max", "include_last_offset": True}])
def test_embedding_bag_module_matches_torch(device: str, kw: dict) -> None:
    theirs = torch.nn.EmbeddingBag(7, 4, **kw).double()
    ours = nn.EmbeddingBag(7, 4, device=device, dtype=gpubp.float64, **kw)
    assert repr(ours) == repr(theirs)
    if "padding_idx" in kw:
        assert not _np(ours.weight)[1].any() and _np(ours.weight).any()
    _copy_from_torch(ours, theirs, device)
    idx, offs = [0, 1, 3, 6, 1, 2], [0, 2, 5, 6]
    out = ours(gpubp.tensor(idx, device=device), gpubp.tensor(offs, device=device))
    ref = theirs(torch.tensor(idx), torch.tensor(offs))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(_np(ours.weight.grad), _np(theirs.weight.grad), rtol=1e-12, atol=1e-12)


@needs_torch
def test_embedding_bag_from_pretrained(device: str) -> None:
    table = rng_for("pretrained").standard_normal((5, 2))
    ours = nn.EmbeddingBag.from_pretrained(gpubp.tensor(table, device=device), mode="sum", padding_idx=0)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(table), mode="sum", padding_idx=0)
    assert repr(ours) == repr(theirs) and ours.weight.requires_grad is False
    idx = [[0, 1, 4], [2, 2, 0]]
    np.testing.assert_allclose(_np(ours(gpubp.tensor(idx, device=device))), _np(theirs(torch.tensor(idx))))
    assert nn.EmbeddingBag.from_pretrained(gpubp.tensor(table, device=device), freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match="EmbeddingBag.from_pretrained: embeddings must be 2-D"):
        nn.EmbeddingBag.from_pretrained(gpubp.tensor(table[0], device=device))
    with pytest.raises(ValueError, match="EmbeddingBag: padding_idx must be within"):
        nn.EmbeddingBag(5, 2, padding_idx=5)


# ---- gumbel_softmax ----------------------------------------------------------------------------------------------


def test_gumbel_softmax_hard_frequencies_follow_softmax(device: str) -> None:
    logits = gpubp.tensor([1.0, 0.0, -1.0, 0.5], device=device, dtype=gpubp.float64)
    n = 20000
    gpubp.manual_seed(3)
    y = F.gumbel_softmax(logits.expand(n, 4), tau=0.7, hard=True)
    y_np = _np(y)
    assert set(np.unique(y_np)) == {0.0, 1.0} and (y_np.sum(1) == 1).all()
    freq = y_np.mean(0)
    p = np.exp([1.0, 0.0, -1.0, 0.5])
    p /= p.sum()  # the argmax of logits + Gumbel noise is a sample of softmax(logits), whatever tau
    assert np.abs(freq - p).max() < 5 * np.sqrt(p * (1 - p) / n).max()
    soft = _np(F.gumbel_softmax(logits.expand(n, 4), tau=0.7))
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-12)
    assert (soft > 0).all() and soft.std(0).min() > 0.05  # samples, not one fixed vector


@pytest.mark.parametrize("hard, tau, dim", [(True, 0.5, -1), (False, 2.0, 0), (True, 1.0, 1)])
def test_gumbel_softmax_exact_with_seeded_noise(device: str, hard: bool, tau: float, dim: int) -> None:
    rng = rng_for("gumbel", hard, tau, dim)
    x, v = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    logits = gpubp.tensor(x, device=device, requires_grad=True)
    gpubp.manual_seed(11)
    out = F.gumbel_softmax(logits, tau=tau, hard=hard, dim=dim)
    gpubp.manual_seed(11)  # the same draw again: the noise the call used
    noise = _np(-gpubp.empty_like(logits).exponential_().log())
    (out * gpubp.tensor(v, device=device)).sum().backward()
    z = (x + noise) / tau
    soft = np.exp(z - z.max(dim, keepdims=True))
    soft /= soft.sum(dim, keepdims=True)
    if hard:
        want = np.zeros_like(soft)
        np.put_along_axis(want, np.expand_dims(soft.argmax(dim), dim), 1.0, dim)
        np.testing.assert_array_equal(_np(out), want)
    else:
        np.testing.assert_allclose(_np(out), soft, rtol=1e-12)
    # either way the gradient is the soft sample's: d softmax(z)/dx applied to v, divided by tau
    grad = soft * (v - (v * soft).sum(dim, keepdims=True)) / tau
    np.testing.assert_allclose(_np(logits.grad), grad, rtol=1e-10, atol=1e-12)
    if torch is not None:  # the same formula in PyTorch, from the same noise
        tx = torch.tensor(x, requires_grad=True)
        ys = ((tx + torch.tensor(noise)) / tau).softmax(dim)
        ys.backward(torch.tensor(v))
        np.testing.assert_allclose(_np(logits.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gumbel_softmax_errors_and_eps_warning(device: str) -> None:
    x = gpubp.randn(2, 3, device=device, dtype=gpubp.float64)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(x, eps=1e-5)
    with pytest.raises(Exception, match="gumbel_softmax"):
        F.gumbel_softmax(gpubp.tensor([[1, 2]], device=device))
    with pytest.raises(IndexError):
        F.gumbel_softmax(x, dim=2)


# ---- NLLLoss2d ---------------------------------------------------------------------------------------------------


@needs_torch
def test_nllloss2d_is_nllloss(device: str) -> None:
    rng = rng_for("nll2d")
    x = rng.standard_normal((2, 4, 3, 3))
    t = rng.integers(0, 4, (2, 3, 3))
    t[0, 0, 0] = -100
    w = rng.uniform(0.5, 2, 4)
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        ours = nn.NLLLoss2d(weight=gpubp.tensor(w, device=device), reduction="mean")
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        theirs = torch.nn.NLLLoss2d(weight=torch.tensor(w), reduction="mean")
    assert isinstance(ours, nn.NLLLoss) and repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    gx, tx = gpubp.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(gx, gpubp.tensor(t, device=device)), theirs(tx, torch.tensor(t))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(_np(gx.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


# ---- fusion ------------------------------------------------------------------------------------------------------


def _eval_bn(bn: nn.Module, rng: np.random.Generator, device: str) -> nn.Module:
    c = bn.num_features
    bn.running_mean.data = gpubp.tensor(rng.standard_normal(c), device=device)
    bn.running_var.data = gpubp.tensor(rng.uniform(0.5, 2, c), device=device)
    if bn.weight is not None:
        bn.weight.data = gpubp.tensor(rng.standard_normal(c), device=device)
        bn.bias.data = gpubp.tensor(rng.standard_normal(c), device=device)
    return bn.eval()


CONV_CASES = [
    ("Conv1d", "BatchNorm1d", (2, 3, 7), {"bias": True}, False),
    ("Conv2d", "BatchNorm2d", (2, 3, 6, 5), {"bias": False, "groups": 3}, False),
    ("Conv3d", "BatchNorm3d", (1, 3, 4, 4, 4), {"bias": True}, False),
    ("ConvTranspose2d", "BatchNorm2d", (2, 3, 4, 5), {"bias": True, "stride": 2}, True),
    ("ConvTranspose1d", "BatchNorm1d", (2, 3, 5), {"bias": False}, True),
]


@pytest.mark.parametrize("conv_cls, bn_cls, shape, kw, transpose", CONV_CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_conv_bn_eval(
    device: str, conv_cls: str, bn_cls: str, shape: tuple, kw: dict, transpose: bool, affine: bool
) -> None:
    rng = rng_for("fuse-conv", conv_cls, affine)
    conv = getattr(nn, conv_cls)(3, 6, 3, device=device, dtype=gpubp.float64, **kw).eval()
    bn = _eval_bn(getattr(nn, bn_cls)(6, affine=affine, device=device, dtype=gpubp.float64), rng, device)
    fused = fuse_conv_bn_eval(conv, bn, transpose=transpose)
    assert type(fused) is type(conv) and fused is not conv
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused.weight.requires_grad and fused.bias.requires_grad is kw["bias"]
    assert list(fused.state_dict()) == ["weight", "bias"]
    x = gpubp.tensor(rng.standard_normal(shape), device=device)
    np.testing.assert_allclose(_np(fused(x)), _np(bn(conv(x))), rtol=1e-10, atol=1e-12)
    assert conv.bias is None or not np.allclose(_np(conv.bias), _np(fused.bias))  # the original is left as it was
    if torch is not None:
        args = [conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias, transpose]
        ours = fuse_conv_bn_weights(*args)
        theirs = torch.nn.utils.fuse_conv_bn_weights(
            *[torch.tensor(_np(a)) if isinstance(a, gpubp.Tensor) else a for a in args]
        )
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(_np(o), t.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("features, bias, in_shape", [(5, True, (4, 3)), (5, False, (4, 3)), (1, True, (4, 3))])
def test_fuse_linear_bn_eval(device: str, features: int, bias: bool, in_shape: tuple) -> None:
    rng = rng_for("fuse-linear", features, bias)
    lin = nn.Linear(3, 5, bias=bias, device=device, dtype=gpubp.float64).eval()
    bn = _eval_bn(nn.BatchNorm1d(features, device=device, dtype=gpubp.float64), rng, device)
    fused = fuse_linear_bn_eval(lin, bn)
    x = gpubp.tensor(rng.standard_normal(in_shape), device=device)
    want = bn(lin(x)) if features == 5 else bn(lin(x).unsqueeze(1)).squeeze(1)
    np.testing.assert_allclose(_np(fused(x)), _np(want), rtol=1e-10, atol=1e-12)
    assert isinstance(fused.weight, nn.Parameter) and fused.bias.requires_grad is bias
    if torch is not None:
        args = [lin.weight, lin.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias]
        ours = fuse_linear_bn_weights(*args)
        theirs = torch.nn.utils.fuse_linear_bn_weights(
            *[torch.tensor(_np(a)) if isinstance(a, gpubp.Tensor) else a for a in args]
        )
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(_np(o), t.detach().numpy(), rtol=1e-12)


def test_fusion_errors(device: str) -> None:
    conv, bn = nn.Conv2d(2, 4, 1, device=device), nn.BatchNorm2d(4, device=device)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fuse_conv_bn_eval(conv, bn)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fuse_conv_bn_eval(conv.eval(), bn.train())
    untracked = nn.BatchNorm2d(4, track_running_stats=False, device=device).eval()
    with pytest.raises(AssertionError, match="running_mean and bn.running_var must not be None"):
        fuse_conv_bn_eval(conv.eval(), untracked)
    with pytest.raises(AssertionError, match="To fuse, linear.out_features == bn.num_features"):
        fuse_linear_bn_eval(nn.Linear(2, 3, device=device).eval(), nn.BatchNorm1d(4, device=device).eval())


# ---- skip_init ---------------------------------------------------------------------------------------------------


def test_skip_init(device: str) -> None:
    m = skip_init(nn.Linear, 5, 3, device=device, dtype=gpubp.float64)
    assert type(m) is nn.Linear and tuple(m.weight.shape) == (3, 5) and m.weight.device.type == device
    assert m.weight.dtype == gpubp.float64 and m.weight.requires_grad
    m2 = skip_init(nn.Conv2d, in_channels=2, out_channels=4, kernel_size=3)
    assert m2.weight.device.type == "cpu" and tuple(m2.weight.shape) == (4, 2, 3, 3)  # "cpu" by default, as PyTorch
    x = gpubp.randn(2, 5, device=device, dtype=gpubp.float64)
    assert tuple(m(x).shape) == (2, 3)  # usable once its values are set
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        skip_init(nn.ReLU)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        skip_init(dict)
    assert math.isfinite(float(m.weight.sum()))
