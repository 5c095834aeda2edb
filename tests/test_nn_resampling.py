"""Resampling, padding layers and dropout variants against PyTorch: F.interpolate (every mode, align_corners,
scale factors, recompute_scale_factor, antialias), Upsample*, pixel/channel shuffles, Fold/Unfold, the padding
layers, and the statistics of Dropout1d/2d/3d, AlphaDropout and FeatureAlphaDropout."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
TF = torch.nn.functional if torch is not None else None

INTERP = [
    ((2, 3, 5), {"size": 8, "mode": "nearest"}),
    ((2, 3, 5), {"scale_factor": 1.7, "mode": "nearest"}),
    ((2, 3, 7, 5), {"scale_factor": (0.6, 2), "mode": "nearest"}),
    ((2, 3, 5, 4), {"size": (7, 3), "mode": "nearest-exact"}),
    ((1, 2, 3, 4, 3), {"scale_factor": 1.5, "mode": "nearest"}),
    ((2, 3, 5), {"size": 9, "mode": "linear"}),
    ((2, 3, 5), {"scale_factor": 0.7, "mode": "linear", "align_corners": True}),
    ((2, 3, 5, 4), {"scale_factor": 1.6, "mode": "bilinear"}),
    ((2, 3, 5, 4), {"size": (7, 3), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 4), {"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True}),
    ((2, 3, 5, 4), {"scale_factor": 1.7, "mode": "bicubic"}),
    ((2, 3, 5, 4), {"size": (3, 6), "mode": "bicubic", "align_corners": True}),
    ((1, 2, 3, 4, 3), {"size": (4, 3, 5), "mode": "trilinear"}),
    ((2, 3, 7, 5), {"size": (3, 2), "mode": "area"}),
    ((2, 3, 9, 8), {"size": (4, 3), "mode": "bilinear", "antialias": True}),
    ((2, 3, 9, 8), {"scale_factor": 0.45, "mode": "bicubic", "antialias": True, "align_corners": True}),
]


@pytest.mark.parametrize("case", INTERP, ids=lambda c: f"{c[1]['mode']}-{c[0]}-{sorted(c[1].items())}")
def test_interpolate_matches_torch(device: str, case: tuple) -> None:
    shape, kw = case
    check_op(
        device,
        lambda x: F.interpolate(x, **kw),
        (lambda x: TF.interpolate(x, **kw)) if TF is not None else None,
        [shape],
        key=("interpolate", kw),
        noncontig=True,
    )


@needs_torch
def test_nearest_index_rounding_matches_torch(device: str) -> None:
    # PyTorch rounds nearest source indices in float32 (in double from sizes on float64): the same picks
    for dtype in (np.float64, np.float32):
        a = np.arange(1.0, 28.0, dtype=dtype).reshape(1, 1, 27)
        for n, size in ((26, 22), (13, 11), (27, 19), (5, 94), (7, 3)):
            for mode in ("nearest", "nearest-exact"):
                ours = F.interpolate(gpubp.tensor(a[..., :n], device=device), size=size, mode=mode).cpu().numpy()
                theirs = TF.interpolate(torch.tensor(a[..., :n]), size=size, mode=mode).numpy()
                np.testing.assert_array_equal(ours, theirs)
        if dtype == np.float64:
            continue  # from a scale_factor, PyTorch's float64 rounding differs in rare ties (see ops/pool.py)
        for scale in (0.3, 0.7, 1.09, 1.5, 2.0, 2.7, 3.0, 3.7):
            for mode in ("nearest", "nearest-exact"):
                ours = F.interpolate(gpubp.tensor(a, device=device), scale_factor=scale, mode=mode).cpu().numpy()
                theirs = TF.interpolate(torch.tensor(a), scale_factor=scale, mode=mode).numpy()
                np.testing.assert_array_equal(ours, theirs)


@needs_torch
def test_upsample_modules_match_torch(device: str) -> None:
    a = rng_for("upsample").standard_normal((2, 3, 4, 5))
    builds = [
        lambda m: m.Upsample(scale_factor=2),
        lambda m: m.Upsample(size=(5, 7), mode="bilinear"),
        lambda m: m.Upsample(scale_factor=(1.5, 2.0), mode="bicubic", align_corners=True),
        lambda m: m.UpsamplingNearest2d(scale_factor=3),
        lambda m: m.UpsamplingBilinear2d(size=6),
    ]
    for build in builds:
        ours, theirs = build(nn), build(torch.nn)
        assert repr(ours) == repr(theirs)
        assert ours.scale_factor == theirs.scale_factor
        gx, tx = gpubp.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
        go, to = ours(gx), theirs(tx)
        np.testing.assert_allclose(go.detach().cpu().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
        go.sum().backward()
        to.sum().backward()
        np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
def test_deprecated_upsample_functions_warn_and_match(device: str) -> None:
    a = rng_for("upsample fns").standard_normal((1, 2, 3, 4))
    for name, kw in (("upsample", {"scale_factor": 2, "mode": "bilinear"}), ("upsample_nearest", {"size": 5}),
                     ("upsample_bilinear", {"scale_factor": 2})):  # fmt: skip
        with pytest.warns(UserWarning, match=f"nn.functional.{name}` is deprecated"):
            ours = getattr(F, name)(gpubp.tensor(a, device=device), **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(TF, name)(torch.tensor(a), **kw)
        np.testing.assert_allclose(ours.cpu().numpy(), theirs.numpy(), rtol=1e-12)


def _interp_errors() -> list:
    return [
        (ValueError, "only one of size or scale_factor", {"size": 2, "scale_factor": 2}, (1, 2, 3)),
        (ValueError, "either size or scale_factor should be defined", {}, (1, 2, 3)),
        (ValueError, "Input and output must have the same number of spatial dimensions", {"size": (2, 3)}, (1, 2, 3)),
        (ValueError, "Input and scale_factor must have the same number", {"scale_factor": (2, 3)}, (1, 2, 3)),
        (ValueError, "align_corners option can only be set", {"size": 4, "align_corners": True}, (1, 2, 3)),
        (ValueError, "recompute_scale_factor is not meaningful", {"size": 4, "recompute_scale_factor": True},
         (1, 2, 3)),
        (NotImplementedError, "Got 3D input, but bilinear mode needs 4D input", {"size": 4, "mode": "bilinear"},
         (1, 2, 3)),
        (ValueError, "Anti-alias option is restricted", {"size": 4, "mode": "linear", "antialias": True}, (1, 2, 3)),
        (NotImplementedError, "Only 3D, 4D and 5D input", {"size": 4}, (2, 3)),
    ]  # fmt: skip


@pytest.mark.parametrize("k", range(len(_interp_errors())))
def test_interpolate_errors_match_torch(device: str, k: int) -> None:
    exc, match, kw, shape = _interp_errors()[k]
    a = rng_for("interp errors", k).standard_normal(shape)
    with pytest.raises(exc, match=match):
        F.interpolate(gpubp.tensor(a, device=device), **kw)
    if torch is not None:
        with pytest.raises(exc, match=match):
            TF.interpolate(torch.tensor(a), **kw)


SHUFFLES = [
    ("pixel_shuffle", (2,), (2, 8, 3, 4)),
    ("pixel_shuffle", (3,), (9, 2, 2)),
    ("pixel_unshuffle", (2,), (2, 2, 4, 6)),
    ("pixel_unshuffle", (2,), (3, 2, 2, 4, 2)),
    ("channel_shuffle", (3,), (2, 6, 3)),
    ("channel_shuffle", (2,), (2, 4, 3, 2)),
]


@pytest.mark.parametrize("case", SHUFFLES, ids=lambda c: f"{c[0]}-{c[2]}")
def test_shuffles_match_torch(device: str, case: tuple) -> None:
    name, args, shape = case
    tfn = getattr(TF, name) if TF is not None else None
    check_op(
        device,
        lambda x: getattr(F, name)(x, *args),
        (lambda x: tfn(x, *args)) if tfn is not None else None,
        [shape],
        key=name,
        noncontig=True,
    )


@needs_torch
def test_shuffle_and_fold_modules_match_torch(device: str) -> None:
    rng = rng_for("shuffle modules")
    cases = [
        (lambda m: m.PixelShuffle(2), (1, 8, 2, 3)),
        (lambda m: m.PixelUnshuffle(2), (1, 2, 4, 6)),
        (lambda m: m.ChannelShuffle(2), (2, 4, 3, 3)),
        (lambda m: m.Unfold(2, dilation=1, padding=1, stride=2), (2, 3, 5, 4)),
        (lambda m: m.Fold((4, 5), 2, padding=0, stride=1), (2, 12, 12)),
    ]
    for build, shape in cases:
        ours, theirs = build(nn), build(torch.nn)
        assert repr(ours) == repr(theirs)
        a = rng.standard_normal(shape)
        gx, tx = gpubp.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
        go, to = ours(gx), theirs(tx)
        np.testing.assert_allclose(go.detach().cpu().numpy(), to.detach().numpy(), rtol=1e-12)
        cot = rng.standard_normal(tuple(to.shape))
        go.backward(gpubp.tensor(cot, device=device))
        to.backward(torch.tensor(cot))
        np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12)


@needs_torch
def test_shuffle_errors(device: str) -> None:
    x = gpubp.tensor(rng_for("shuffle errors").standard_normal((1, 3, 2, 2)), device=device)
    with pytest.raises(RuntimeError, match="pixel_shuffle expects its input's 'channel' dimension"):
        F.pixel_shuffle(x, 2)
    with pytest.raises(RuntimeError, match="pixel_unshuffle expects height and width"):
        F.pixel_unshuffle(x[:, :, :, :1], 2)
    with pytest.raises(RuntimeError, match="channel_shuffle: number of channels must be divisible by groups"):
        F.channel_shuffle(x, 2)
    with pytest.raises(RuntimeError):
        TF.pixel_shuffle(torch.ones(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError):
        TF.channel_shuffle(torch.ones(1, 3, 2, 2), 2)


PADS = [
    ("ConstantPad1d", (2, 3.5), (2, 3, 4)),
    ("ConstantPad2d", ((1, 0, 2, 1), -1.0), (3, 3, 4)),
    ("ConstantPad3d", (1, 2.0), (1, 2, 2, 3, 2)),
    ("ZeroPad1d", ((0, 2),), (3, 4)),
    ("ZeroPad2d", ((1, 2, 0, 1),), (1, 2, 3, 4)),
    ("ZeroPad3d", (1,), (2, 2, 3, 2)),
    ("ReflectionPad1d", ((2, 1),), (2, 3, 4)),
    ("ReflectionPad2d", (1,), (2, 3, 4)),
    ("ReflectionPad3d", ((1, 0, 1, 2, 0, 1),), (1, 2, 3, 4, 3)),
    ("ReplicationPad1d", (2,), (3, 4)),
    ("ReplicationPad2d", ((1, 2, 3, 0),), (1, 2, 3, 4)),
    ("ReplicationPad3d", (1,), (2, 2, 3, 2)),
    ("CircularPad1d", ((2, 1),), (2, 3, 4)),
    ("CircularPad2d", (1,), (1, 2, 3, 4)),
    ("CircularPad3d", ((1, 0, 1, 2, 0, 1),), (2, 3, 4, 3)),
]


@needs_torch
@pytest.mark.parametrize("case", PADS, ids=lambda c: f"{c[0]}-{c[2]}")
def test_padding_layers_match_torch(device: str, case: tuple) -> None:
    name, args, shape = case
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding
    rng = rng_for("pad", case)
    a = rng.standard_normal(shape)
    gx, tx = gpubp.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    go, to = ours(gx.transpose(-1, -2).transpose(-1, -2)), theirs(tx)
    np.testing.assert_allclose(go.detach().cpu().numpy(), to.detach().numpy(), rtol=1e-12)
    cot = rng.standard_normal(tuple(to.shape))
    go.backward(gpubp.tensor(cot, device=device))
    to.backward(torch.tensor(cot))
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12)


def test_padding_layers_check_the_input_rank(device: str) -> None:
    x = gpubp.tensor(rng_for("pad rank").standard_normal((3, 4)), device=device)
    with pytest.raises(ValueError, match=r"CircularPad2d: expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(x)
    with pytest.raises(RuntimeError, match=r"ReflectionPad3d: expected 4D or 5D input"):
        nn.ReflectionPad3d(1)(x)


# ---- dropout variants ----------------------------------------------------------------------------------------------


def _planes(y: np.ndarray, x: np.ndarray, scale: float) -> np.ndarray:
    """Per (N, C) plane: True where it is kept (y = x scale), False where dropped (y = 0); fails on a mixed plane."""
    n_planes = int(np.prod(y.shape[:2]))
    y, x = y.reshape(n_planes, -1), x.reshape(n_planes, -1)
    kept = np.all(np.isclose(y, x * scale, rtol=1e-6, atol=0), axis=1)
    dropped = np.all(y == 0, axis=1)
    assert np.all(kept ^ dropped), "a channel is partly dropped"
    return kept


@pytest.mark.parametrize(
    "name,shape", [("Dropout1d", (40, 30, 5)), ("Dropout2d", (40, 30, 3, 2)), ("Dropout3d", (30, 40, 2, 2, 2))]
)
def test_feature_dropout_zeroes_whole_channels(device: str, name: str, shape: tuple) -> None:
    p = 0.3
    a = rng_for("feature dropout", name).uniform(0.5, 2.0, shape)
    gpubp.manual_seed(3)
    layer = getattr(nn, name)(p)
    assert repr(layer) == f"{name}(p=0.3, inplace=False)"
    x = gpubp.tensor(a, device=device, requires_grad=True)
    y = layer(x)
    kept = _planes(y.detach().cpu().numpy(), a, 1 / (1 - p))
    assert abs((1 - kept.mean()) - p) < 0.06  # 1200 channels: 5 sigma is 0.066
    y.sum().backward()  # the gradient is the same mask and scale
    _planes(x.grad.cpu().numpy(), np.ones(shape), 1 / (1 - p))
    layer.eval()
    assert layer(x) is x
    # unbatched (C, *) input: one draw per channel, as PyTorch's dropout1d/3d
    unb = a[0] if name != "Dropout2d" else a[0, :, 0]
    if name != "Dropout2d":
        layer.train()
        z = layer(gpubp.tensor(unb, device=device)).cpu().numpy()
        _planes(z[None], unb[None], 1 / (1 - p))


def test_dropout2d_on_3d_input_warns_as_torch(device: str) -> None:
    x = gpubp.tensor(rng_for("d2 3d").uniform(0.5, 2.0, (20, 10, 6)), device=device)
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout behavior is desired"):
        y = F.dropout2d(x, 0.5)
    _planes(y.cpu().numpy(), x.cpu().numpy(), 2.0)  # (N, C, L): channels are dim 1
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(x[0], 0.5)
    if torch is not None:
        with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout behavior is desired"):
            TF.dropout2d(torch.ones(2, 3, 4), 0.5)


def test_alpha_dropout_keeps_mean_and_variance(device: str) -> None:
    p = 0.2
    a = rng_for("alpha").standard_normal((400, 500))
    x = gpubp.tensor(a, device=device, requires_grad=True)
    assert F.alpha_dropout(x, p) is x  # training defaults to False in the functional form, as PyTorch
    layer = nn.AlphaDropout(p)
    y = layer(x)
    v = y.detach().cpu().numpy()
    assert abs(v.mean()) < 0.01 and abs(v.std() - 1.0) < 0.01
    alpha = 1.7580993408473766
    scale = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    dropped = np.isclose(v, -alpha * scale + alpha * scale * p, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - p) < 0.005
    np.testing.assert_allclose(v[~dropped], a[~dropped] * scale + alpha * scale * p, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.where(dropped, 0.0, scale), rtol=1e-12)
    zeros = nn.AlphaDropout(1.0)(x).detach().cpu().numpy()
    assert not zeros.any()


def test_feature_alpha_dropout_works_per_channel(device: str) -> None:
    p = 0.4
    a = rng_for("feature alpha").standard_normal((50, 40, 8, 8))
    x = gpubp.tensor(a, device=device)
    y = nn.FeatureAlphaDropout(p)(x).cpu().numpy().reshape(2000, -1)
    alpha = 1.7580993408473766
    scale = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    low = -alpha * scale + alpha * scale * p
    dropped = np.all(np.isclose(y, low, rtol=0, atol=1e-12), axis=1)
    kept = np.all(np.isclose(y, a.reshape(2000, -1) * scale + alpha * scale * p, rtol=1e-12), axis=1)
    assert np.all(dropped ^ kept)
    assert abs(dropped.mean() - p) < 0.06
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1.0) < 0.05


def test_dropout_variants_inplace_and_errors(device: str) -> None:
    a = rng_for("dropout inplace").uniform(0.5, 2.0, (8, 6, 4))
    x = gpubp.tensor(a, device=device)
    out = F.dropout1d(x, 0.5, inplace=True)
    assert out is x
    _planes(x.cpu().numpy(), a, 2.0)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout2d(x, 1.5)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(x[None], 0.5)
    with pytest.raises(ValueError, match="Dropout3d: dropout probability p must be between 0 and 1"):
        nn.Dropout3d(-0.1)
    if torch is not None:
        with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
            TF.dropout1d(torch.ones(1, 2, 3, 4))
        with pytest.raises(ValueError):
            torch.nn.Dropout3d(-0.1)


# ---- affine_grid and grid_sample -----------------------------------------------------------------------------------

GRID = [
    ((2, 3, 5, 6), (2, 4, 3, 2), "bilinear", "zeros", False),
    ((2, 3, 5, 6), (2, 4, 3, 2), "bilinear", "border", True),
    ((1, 2, 4, 5), (1, 3, 4, 2), "bilinear", "reflection", False),
    ((1, 2, 4, 5), (1, 3, 4, 2), "bilinear", "reflection", True),
    ((2, 2, 4, 5), (2, 3, 3, 2), "nearest", "zeros", False),
    ((2, 2, 4, 5), (2, 3, 3, 2), "nearest", "reflection", True),
    ((1, 2, 4, 5), (1, 3, 2, 2), "bicubic", "zeros", False),
    ((1, 2, 4, 5), (1, 3, 2, 2), "bicubic", "border", True),
    ((1, 2, 4, 5), (1, 3, 2, 2), "bicubic", "reflection", False),
    ((1, 2, 3, 4, 3), (1, 2, 3, 2, 3), "bilinear", "zeros", True),
    ((1, 2, 3, 4, 3), (1, 2, 3, 2, 3), "nearest", "border", False),
]


@pytest.mark.parametrize("case", GRID, ids=lambda c: f"{c[2]}-{c[3]}-{c[4]}-{len(c[0])}d")
def test_grid_sample_matches_torch(device: str, case: tuple) -> None:
    shape, gshape, mode, padding_mode, align = case
    check_op(
        device,
        lambda x, g: F.grid_sample(x, g * 1.4, mode, padding_mode, align),
        (lambda x, g: TF.grid_sample(x, g * 1.4, mode, padding_mode, align)) if TF is not None else None,
        [shape, gshape],
        ["any", "unit"],
        key=("grid_sample", case),
        noncontig=True,
    )


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 3, 2, 4, 3)])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_matches_torch(device: str, size: tuple, align: bool) -> None:
    theta = (2, 2, 3) if len(size) == 4 else (2, 3, 4)
    check_op(
        device,
        lambda t: F.affine_grid(t, size, align),
        (lambda t: TF.affine_grid(t, size, align)) if TF is not None else None,
        [theta],
        key=("affine_grid", size, align),
    )


def test_grid_errors_and_warnings(device: str) -> None:
    x = gpubp.tensor(rng_for("grid errors").standard_normal((1, 2, 3, 3)), device=device)
    g = gpubp.zeros(1, 2, 2, 2, dtype=gpubp.float64, device=device)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, g)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'area'"):
        F.grid_sample(x, g, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
        F.grid_sample(x, g, padding_mode="wrap", align_corners=False)
    with pytest.raises(RuntimeError, match="grid_sampler"):
        F.grid_sample(x, g[..., :1], align_corners=False)
    with pytest.raises(ValueError, match="Expected a batch of 2D affine matrices of shape Nx2x3"):
        F.affine_grid(gpubp.zeros(1, 3, 4, dtype=gpubp.float64, device=device), (1, 2, 3, 3), False)
    if torch is not None:
        with pytest.raises(ValueError, match="Expected a batch of 2D affine matrices of shape Nx2x3"):
            TF.affine_grid(torch.zeros(1, 3, 4, dtype=torch.float64), (1, 2, 3, 3), False)
