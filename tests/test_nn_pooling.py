"""Pooling against PyTorch in float64: max/avg pooling over 1-3 dims (dilation, ceil_mode, count_include_pad,
divisor_override, return_indices), adaptive pooling, Lp pooling, max unpooling; modules, reprs and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F
from gpubp.testing import gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
TF = torch.nn.functional if torch is not None else None

# (name, args, kwargs, input shape): the same call on gpubp.nn.functional and torch.nn.functional
FUNCTIONAL = [
    ("max_pool1d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}, (2, 3, 9)),
    ("max_pool1d", (2,), {}, (3, 7)),
    ("max_pool2d", (3, 2, 1), {"dilation": (2, 1), "ceil_mode": True}, (2, 2, 8, 7)),
    ("max_pool2d", ((3, 2), (2, 1), (1, 0)), {"ceil_mode": True}, (2, 6, 5)),
    ("max_pool2d", (3, 2, 1), {}, (2, 2, 7, 6)),
    ("max_pool3d", (2, 2, 1), {"ceil_mode": True}, (1, 2, 5, 4, 5)),
    ("avg_pool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 3, 8)),
    ("avg_pool1d", (3, 2, 1), {"ceil_mode": True}, (2, 8)),
    ("avg_pool2d", (3, 2, 1), {"ceil_mode": True}, (2, 2, 8, 7)),
    ("avg_pool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 2, 8, 7)),
    ("avg_pool2d", ((3, 2), 1, (1, 0)), {"divisor_override": 4}, (2, 6, 5)),
    ("avg_pool2d", (3, 2, 1), {}, (2, 2, 7, 6)),
    ("avg_pool3d", (2, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (1, 2, 5, 4, 5)),
    ("adaptive_avg_pool1d", (3,), {}, (2, 3, 7)),
    ("adaptive_avg_pool2d", ((3, None),), {}, (2, 2, 7, 5)),
    ("adaptive_avg_pool2d", (4,), {}, (2, 5, 6)),
    ("adaptive_avg_pool3d", ((2, 3, 2),), {}, (1, 2, 5, 4, 3)),
    ("adaptive_max_pool1d", (3,), {}, (2, 3, 7)),
    ("adaptive_max_pool2d", ((3, 4),), {}, (2, 2, 7, 5)),
    ("adaptive_max_pool3d", (2,), {}, (1, 2, 5, 4, 3)),
    ("lp_pool1d", (2, 3, 2), {}, (2, 3, 8)),
    ("lp_pool2d", (3, 2), {"ceil_mode": True}, (2, 2, 7, 6)),
    ("lp_pool3d", (2, 2), {}, (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("case", FUNCTIONAL, ids=lambda c: f"{c[0]}-{c[3]}-{sorted(c[2])}")
def test_functional_pools_match_torch(device: str, case: tuple) -> None:
    name, args, kw, shape = case
    kinds = "pos" if name.startswith("lp_pool") else "any"  # x^p of a negative x and a fractional 1/p
    tfn = getattr(TF, name) if TF is not None else None
    check_op(
        device,
        lambda x: getattr(F, name)(x, *args, **kw),
        (lambda x: tfn(x, *args, **kw)) if tfn is not None else None,
        [shape],
        kinds,
        key=name,
        noncontig=len(shape) > 3,
    )


INDICES = [
    ("max_pool1d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}, (2, 3, 9)),
    ("max_pool2d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}, (2, 2, 9, 8)),
    ("max_pool2d", (2,), {}, (3, 4, 6)),
    ("max_pool3d", (2, 1), {}, (1, 2, 3, 4, 3)),
    ("adaptive_max_pool1d", (4,), {}, (2, 3, 9)),
    ("adaptive_max_pool2d", ((3, 2),), {}, (2, 2, 7, 5)),
    ("adaptive_max_pool3d", (2,), {}, (1, 2, 5, 4, 3)),
]


@needs_torch
@pytest.mark.parametrize("case", INDICES, ids=lambda c: f"{c[0]}-{c[3]}")
def test_return_indices_match_torch(device: str, case: tuple) -> None:
    name, args, kw, shape = case
    a = rng_for("indices", case).standard_normal(shape)
    out, idx = getattr(F, name)(gpubp.tensor(a, device=device), *args, return_indices=True, **kw)
    tout, tidx = getattr(TF, name)(torch.tensor(a), *args, return_indices=True, **kw)
    assert idx.dtype == gpubp.int64 and tuple(idx.shape) == tuple(tidx.shape)
    np.testing.assert_array_equal(idx.cpu().numpy(), tidx.numpy())
    np.testing.assert_allclose(out.cpu().numpy(), tout.numpy(), rtol=1e-12)
    if name.startswith("max_pool"):
        o2, i2 = getattr(F, name + "_with_indices")(gpubp.tensor(a, device=device), *args, **kw)
        np.testing.assert_array_equal(i2.cpu().numpy(), tidx.numpy())


@needs_torch
def test_ties_and_nan_pick_torchs_index(device: str) -> None:
    # plateaus: the first maximum of each window wins; a NaN takes over; an all -inf window points at its first tap
    a = np.array([[[1.0, 3.0, 3.0, 2.0, 3.0, -np.inf, -np.inf, np.nan, 1.0, 2.0]]])
    for kw in ({"kernel_size": 3, "stride": 1}, {"kernel_size": 2, "stride": 2, "padding": 1}):
        _, idx = F.max_pool1d(gpubp.tensor(a, device=device), return_indices=True, **kw)
        _, tidx = TF.max_pool1d(torch.tensor(a), return_indices=True, **kw)
        np.testing.assert_array_equal(idx.cpu().numpy(), tidx.numpy())
    x = gpubp.tensor(np.tile(a[..., :5], (1, 1, 1)), device=device, requires_grad=True)
    F.max_pool1d(x, 3, 1, dilation=1, ceil_mode=True).sum().backward()
    tx = torch.tensor(a[..., :5], requires_grad=True)
    TF.max_pool1d(tx, 3, 1, dilation=1, ceil_mode=True).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), tx.grad.numpy())


@needs_torch
def test_integer_max_pool_matches_torch(device: str) -> None:
    a = rng_for("int pool").integers(-50, 50, (2, 3, 7, 6))
    out, idx = F.max_pool2d(gpubp.tensor(a, device=device), 3, 2, 1, ceil_mode=True, return_indices=True)
    tout, tidx = TF.max_pool2d(torch.tensor(a), 3, 2, 1, ceil_mode=True, return_indices=True)
    assert out.dtype == gpubp.int64
    np.testing.assert_array_equal(out.cpu().numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.cpu().numpy(), tidx.numpy())


UNPOOL = [
    (1, (3, 2, 1), None, (2, 3, 8)),
    (2, (2,), None, (2, 2, 6, 4)),
    (2, (3, 2, 1), (8, 7), (1, 2, 7, 7)),
    (2, (2,), [1, 2, 7, 5], (1, 2, 6, 4)),
    (3, (2,), None, (1, 2, 4, 4, 2)),
]


@needs_torch
@pytest.mark.parametrize("case", UNPOOL, ids=lambda c: f"{c[0]}d-{c[3]}-{c[2]}")
def test_max_unpool_matches_torch(device: str, case: tuple) -> None:
    d, args, output_size, shape = case
    a = rng_for("unpool", case).standard_normal(shape)
    pool, unpool = f"max_pool{d}d", f"max_unpool{d}d"
    v, idx = getattr(F, pool)(gpubp.tensor(a, device=device), *args, return_indices=True)
    tv, tidx = getattr(TF, pool)(torch.tensor(a), *args, return_indices=True)
    gv = gpubp.tensor(v.cpu().numpy(), device=device, requires_grad=True)
    tv = tv.detach().requires_grad_()
    out = getattr(F, unpool)(gv, idx, *args, output_size=output_size)
    tout = getattr(TF, unpool)(tv, tidx, *args, output_size=output_size)
    np.testing.assert_allclose(out.detach().cpu().numpy(), tout.detach().numpy(), rtol=1e-12)
    cot = rng_for("unpool cot", case).standard_normal(tuple(tout.shape))
    out.backward(gpubp.tensor(cot, device=device))
    tout.backward(torch.tensor(cot))
    np.testing.assert_allclose(gv.grad.cpu().numpy(), tv.grad.numpy(), rtol=1e-12)
    # the module gives the same
    m = getattr(nn, f"MaxUnpool{d}d")(*args)
    tm = getattr(torch.nn, f"MaxUnpool{d}d")(*args)
    assert repr(m) == repr(tm)
    np.testing.assert_allclose(m(gv, idx, output_size).detach().cpu().numpy(), tout.detach().numpy(), rtol=1e-12)


def _module_cases() -> list:
    return [
        ("MaxPool1d", (3, 2, 1, 2), {"ceil_mode": True}, (2, 3, 9)),
        ("MaxPool2d", (3, 2, 1), {"dilation": 2, "return_indices": True}, (2, 2, 9, 8)),
        ("MaxPool2d", (2,), {}, (3, 4, 4)),
        ("MaxPool3d", (2,), {"ceil_mode": True}, (1, 2, 5, 4, 3)),
        ("AvgPool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 3, 8)),
        ("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "divisor_override": 2}, (2, 2, 7, 6)),
        ("AvgPool3d", (2,), {"stride": 1}, (1, 2, 3, 4, 3)),
        ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 7)),
        ("AdaptiveAvgPool2d", ((2, None),), {}, (2, 5, 6)),
        ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 5, 4, 3)),
        ("AdaptiveMaxPool1d", (3,), {"return_indices": True}, (2, 3, 7)),
        ("AdaptiveMaxPool2d", ((3, 2),), {}, (2, 2, 7, 5)),
        ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 5, 4, 3)),
        ("LPPool1d", (2, 3), {}, (2, 3, 7)),
        ("LPPool2d", (1.5, 2), {"stride": 1, "ceil_mode": True}, (2, 2, 5, 4)),
        ("LPPool3d", (2, 2), {}, (1, 2, 4, 4, 4)),
    ]


@needs_torch
@pytest.mark.parametrize("case", _module_cases(), ids=lambda c: f"{c[0]}-{c[3]}")
def test_modules_match_torch(device: str, case: tuple) -> None:
    name, args, kw, shape = case
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    rng = rng_for("module", case)
    a = rng.uniform(0.5, 2.0, shape) if name.startswith("LP") else rng.standard_normal(shape)
    gx, tx = gpubp.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    g_out, t_out = ours(gx), theirs(tx)
    if kw.get("return_indices"):
        np.testing.assert_array_equal(g_out[1].cpu().numpy(), t_out[1].numpy())
        g_out, t_out = g_out[0], t_out[0]
    np.testing.assert_allclose(g_out.detach().cpu().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(tuple(t_out.shape))
    g_out.backward(gpubp.tensor(cot, device=device))
    t_out.backward(torch.tensor(cot))
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradients_of_gradients(device: str) -> None:
    rng = rng_for("pool gradgrad")
    x = gpubp.tensor(rng.standard_normal((1, 2, 5, 5)), device=device, requires_grad=True)
    for fn in (
        lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True),
        lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False),
        lambda t: F.lp_pool2d(t * t + 0.5, 2, 2),
    ):
        gradgradcheck(lambda t, fn=fn: fn(t) ** 2, [x])


def _errors() -> list:
    def x(*shape: int) -> np.ndarray:
        return rng_for("errors", shape).standard_normal(shape)

    return [
        (RuntimeError, "max_pool1d: expected input", lambda m, t: m.max_pool1d(t(x(5)), 2)),
        (RuntimeError, "max_pool2d: pad should be at most half", lambda m, t: m.max_pool2d(t(x(1, 5, 5)), 3, 1, 2)),
        (RuntimeError, "max_pool1d: stride should not be zero", lambda m, t: m.max_pool1d(t(x(1, 1, 5)), 2, 0)),
        (RuntimeError, r"avg_pool2d: kernel \(3, 3\) is larger", lambda m, t: m.avg_pool2d(t(x(1, 2, 2)), 3)),
        (RuntimeError, r"max_pool3d: kernel", lambda m, t: m.max_pool3d(t(x(1, 1, 2, 2, 2)), 3)),
        (RuntimeError, "adaptive_max_pool2d: expected input", lambda m, t: m.adaptive_max_pool2d(t(x(5)), 2)),
        (RuntimeError, "avg_pool2d: divisor must be not zero",
         lambda m, t: m.avg_pool2d(t(x(1, 1, 4, 4)), 2, divisor_override=0)),
        (ValueError, r"invalid output_size .*must be between",
         lambda m, t: m.max_unpool2d(t(x(1, 1, 2, 2)), t(np.zeros((1, 1, 2, 2), dtype=np.int64)), 2, output_size=(9, 9))),
        (ValueError, "output_size should be a sequence containing 2 or 4 elements",
         lambda m, t: m.max_unpool2d(t(x(1, 1, 2, 2)), t(np.zeros((1, 1, 2, 2), dtype=np.int64)), 2, output_size=(4,))),
    ]  # fmt: skip


@pytest.mark.parametrize("k", range(len(_errors())))
def test_errors_match_torchs_class(device: str, k: int) -> None:
    exc, match, call = _errors()[k]
    with pytest.raises(exc, match=match):
        call(F, lambda a: gpubp.tensor(a, device=device))
    if torch is not None:
        with pytest.raises(exc):
            call(TF, torch.tensor)


def test_fused_and_general_paths_agree(device: str) -> None:
    # the 4-D default-flag pools run the fused ops; the unbatched input takes the general path: same numbers
    a = rng_for("paths").standard_normal((2, 3, 7, 6))
    for fn in (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: F.avg_pool2d(t, 3, 2, 1)):
        x = gpubp.tensor(a, device=device, requires_grad=True)
        batched = fn(x)
        batched.sum().backward()
        g1 = x.grad.cpu().numpy()
        x2 = gpubp.tensor(a, device=device, requires_grad=True)
        parts = [fn(x2[i]) for i in range(2)]
        gpubp.stack(parts).sum().backward()
        np.testing.assert_allclose(gpubp.stack(parts).detach().cpu().numpy(), batched.detach().cpu().numpy(), 1e-12)
        np.testing.assert_allclose(x2.grad.cpu().numpy(), g1, rtol=1e-12)


FRACTIONAL = [
    (2, (2, 3, 9, 8), 2, {"output_size": (5, 4)}),
    (2, (2, 3, 11, 10), (3, 2), {"output_ratio": (0.5, 0.5)}),
    (2, (3, 9, 9), 2, {"output_size": 4}),
    (3, (1, 2, 7, 8, 6), 2, {"output_size": (4, 5, 3)}),
]


@needs_torch
@pytest.mark.parametrize("case", FRACTIONAL, ids=lambda c: f"{c[0]}d-{c[1]}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fractional_max_pool_matches_torch_for_the_same_samples(device: str, case: tuple, dtype: type) -> None:
    d, shape, k, kw = case
    rng = rng_for("fractional", case, dtype)
    a = rng.standard_normal(shape).astype(dtype)
    u = rng.uniform(0, 1, (1 if len(shape) == d + 1 else shape[0], shape[-d - 1], d)).astype(dtype)
    fn, tfn = getattr(F, f"fractional_max_pool{d}d"), getattr(TF, f"fractional_max_pool{d}d")
    gx, tx = gpubp.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, idx = fn(gx, k, return_indices=True, _random_samples=gpubp.tensor(u, device=device), **kw)
    tout, tidx = tfn(tx, k, return_indices=True, _random_samples=torch.tensor(u), **kw)
    np.testing.assert_array_equal(idx.cpu().numpy(), tidx.numpy())
    np.testing.assert_array_equal(out.detach().cpu().numpy(), tout.detach().numpy())
    cot = rng.standard_normal(tuple(tout.shape)).astype(dtype)
    out.backward(gpubp.tensor(cot, device=device))
    tout.backward(torch.tensor(cot))
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-6)


def test_fractional_max_pool_module_draws_its_windows(device: str) -> None:
    a = rng_for("fractional module").standard_normal((2, 3, 10, 9))
    m = nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True)
    assert repr(m) == "FractionalMaxPool2d()" and m.output_ratio == (0.5, 0.5) and not m.state_dict()
    out, idx = m(gpubp.tensor(a, device=device))
    assert tuple(out.shape) == (2, 3, 5, 4)
    flat = a.reshape(2, 3, -1)
    np.testing.assert_array_equal(out.cpu().numpy(), np.take_along_axis(flat, idx.cpu().numpy().reshape(2, 3, -1), -1)
                                  .reshape(out.shape))  # fmt: skip
    with pytest.raises(ValueError, match=r"output_ratio must be between 0 and 1 \(got 1.5\)"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="requires specifying either an output size, or a pooling ratio"):
        nn.FractionalMaxPool3d(2)
    with pytest.raises(RuntimeError, match="fractional_max_pool2d.*pool height 3 too large relative to input height"):
        F.fractional_max_pool2d(gpubp.tensor(a, device=device), 3, output_size=(9, 2))
    if torch is not None:
        with pytest.raises(RuntimeError):
            TF.fractional_max_pool2d(torch.tensor(a), 3, output_size=(9, 2))
