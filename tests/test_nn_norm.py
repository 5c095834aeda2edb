"""Normalization against PyTorch: batch (momentum None, no tracking, no affine, 3-D), instance, group, layer, RMS and
local response norm (functionals by check_op; modules with copied parameters in train and eval mode, running
statistics, state_dict keys, extra_repr, errors), and the weight_norm / spectral_norm hooks."""

from __future__ import annotations

import contextlib
import copy
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn.functional as F
from gpubp import nn
from gpubp.testing import gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")
TF = torch.nn.functional if torch is not None else None


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


@contextlib.contextmanager
def no_host_reads(device: str) -> Iterator[None]:
    """On CUDA: any host read of device data in the block raises."""
    if device == "cpu":
        yield
        return
    gpubp.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        gpubp.cuda.set_sync_debug_mode("default")


def _load_from_torch(ours: nn.Module, theirs: Any) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _randomize(theirs: Any, rng: np.random.Generator) -> None:
    """Give torch's parameters (and running statistics) values other than their 1/0 starts."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
        for name, b in theirs.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.tensor(rng.standard_normal(tuple(b.shape))))
            elif name.endswith("running_var"):
                b.copy_(torch.tensor(rng.uniform(0.5, 2.0, tuple(b.shape))))


def _step(ours: nn.Module, theirs: Any, x: np.ndarray, device: str, tol: float = 1e-10) -> None:
    """One forward + backward of both on ``x`` (float64): outputs, input and parameter gradients, buffers agree."""
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    gy, ty = ours(gx), theirs(tx)
    np.testing.assert_allclose(_np(gy), ty.detach().numpy(), rtol=tol, atol=tol)
    cot = rng_for("cot", x.shape).standard_normal(tuple(ty.shape))
    (gy * gpubp.tensor(cot, device=device)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(_np(gx.grad), tx.grad.numpy(), rtol=tol, atol=tol)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), tparams[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)
        p.grad = None
        tparams[name].grad = None
    tbufs = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(_np(b), tbufs[name].numpy(), rtol=tol, atol=tol, err_msg=name)


def _check_module(ours: nn.Module, theirs: Any, shape: tuple, device: str, key: Any, steps: int = 3) -> None:
    """Copy torch's (randomized) state into ours, then train a few steps and evaluate once, comparing each."""
    rng = rng_for(key, shape)
    theirs = theirs.double()
    _randomize(theirs, rng)
    ours = ours.double().to(device)
    _load_from_torch(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    for train in [True] * steps + [False]:
        ours.train(train)
        theirs.train(train)
        _step(ours, theirs, rng.standard_normal(shape) * 2 + 0.5, device)


# ---- functionals -------------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize(
    "shapes, groups", [([(2, 6, 3), (6,), (6,)], 3), ([(3, 4, 2, 2), (4,), (4,)], 2), ([(2, 4), (4,), (4,)], 4)]
)
def test_group_norm_op(device: str, shapes: list, groups: int) -> None:
    check_op(
        device,
        lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-3),
        lambda x, w, b: TF.group_norm(x, groups, w, b, eps=1e-3),
        shapes,
        key="group_norm",
    )
    check_op(device, lambda x: F.group_norm(x, 1), lambda x: TF.group_norm(x, 1), shapes[:1], noncontig=True)


@needs_torch
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 2, 3, 4)])
def test_instance_norm_op(device: str, shape: tuple) -> None:
    c = shape[1]
    check_op(device, F.instance_norm, TF.instance_norm, [shape], key="instance_norm", noncontig=True)
    check_op(
        device,
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3),
        [shape, (c,), (c,)],
        key="instance_norm affine",
    )


@needs_torch
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_stats(device: str, use_input_stats: bool) -> None:
    rng = rng_for("instance running", use_input_stats)
    x, w, b = rng.standard_normal((3, 4, 5)), rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    g_rm, g_rv = gpubp.tensor(rm, device=device), gpubp.tensor(rv, device=device)
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    gw, gb = gpubp.tensor(w, device=device), gpubp.tensor(b, device=device)
    ours = F.instance_norm(gpubp.tensor(x, device=device), g_rm, g_rv, gw, gb, use_input_stats, 0.3, 1e-4)
    want = TF.instance_norm(torch.tensor(x), t_rm, t_rv, torch.tensor(w), torch.tensor(b), use_input_stats, 0.3, 1e-4)
    np.testing.assert_allclose(_np(ours), want.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_np(g_rm), t_rm.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(g_rv), t_rv.numpy(), rtol=1e-12, atol=1e-12)
    assert use_input_stats == (not np.allclose(_np(g_rm), rm))


@needs_torch
@pytest.mark.parametrize("eps", [None, 1e-2])
def test_rms_norm_op(device: str, eps: float | None) -> None:
    check_op(
        device,
        lambda x, w: F.rms_norm(x, (3, 4), w, eps),
        lambda x, w: TF.rms_norm(x, (3, 4), w, eps),
        [(2, 3, 4), (3, 4)],
        key="rms",
    )
    check_op(
        device, lambda x: F.rms_norm(x, 5, eps=eps), lambda x: TF.rms_norm(x, [5], eps=eps), [(3, 5)], noncontig=True
    )


@needs_torch
def test_rms_norm_float16_and_default_eps(device: str) -> None:
    x = rng_for("rms16").standard_normal((3, 8)) * 1e-4  # small: the default eps matters
    for dt, tdt in ((np.float32, torch.float32), (np.float16, torch.float16)):
        ours = F.rms_norm(gpubp.tensor(x.astype(dt), device=device), [8])
        want = TF.rms_norm(torch.tensor(x, dtype=tdt), [8])
        assert ours.dtype == dt
        np.testing.assert_allclose(_np(ours).astype(np.float64), want.double().numpy(), rtol=2e-3, atol=2e-3)


@needs_torch
@pytest.mark.parametrize("shape, size", [((2, 5, 3), 3), ((2, 6, 2, 3), 4), ((1, 3, 2, 2, 2), 5), ((2, 4, 3), 1)])
def test_local_response_norm_op(device: str, shape: tuple, size: int) -> None:
    check_op(
        device,
        lambda x: F.local_response_norm(x, size, alpha=0.5, beta=0.6, k=1.5),
        lambda x: TF.local_response_norm(x, size, alpha=0.5, beta=0.6, k=1.5),
        [shape],
        key="lrn",
        noncontig=True,
    )
    empty = gpubp.zeros((0, 3, 2), device=device)
    assert F.local_response_norm(empty, 2).shape == (0, 3, 2)


@needs_torch
def test_batch_norm_op_without_running_stats(device: str) -> None:
    check_op(
        device,
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
        [(4, 3, 2), (3,), (3,)],
        key="bn",
        noncontig=True,
    )


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda d: F.group_norm(gpubp.randn(2, 6, 3, device=d), 4), RuntimeError, "group_norm: .*divisible"),
        (lambda d: F.group_norm(gpubp.randn(6, device=d), 2), RuntimeError, "group_norm: .*at least 2 dim"),
        (lambda d: F.group_norm(gpubp.randn(1, 2, device=d), 2), ValueError, "group_norm: .*more than 1 value"),
        (lambda d: F.group_norm(gpubp.randn(2, 4, 3, device=d), 2, gpubp.ones(3, device=d)), RuntimeError, "weight"),
        (lambda d: F.instance_norm(gpubp.randn(2, 3, 1, device=d)), ValueError, "instance_norm: .*spatial element"),
        (lambda d: F.instance_norm(gpubp.randn(2, 3, 4, device=d), use_input_stats=False), RuntimeError, "running"),
        (lambda d: F.local_response_norm(gpubp.randn(2, 3, device=d), 2), ValueError, "local_response_norm: .*3D"),
        (lambda d: F.rms_norm(gpubp.randn(2, 3, device=d), (4,)), RuntimeError, r"rms_norm: .*normalized_shape=\[4\]"),
        (lambda d: F.rms_norm(gpubp.randn(2, 3, device=d), 3, gpubp.ones(4, device=d)), RuntimeError, "rms_norm"),
        (lambda d: F.layer_norm(gpubp.randn(2, 3, device=d), (4,)), RuntimeError, "layer_norm: .*normalized_shape"),
        (lambda d: F.group_norm(gpubp.ones(2, 4, 3, dtype=gpubp.int64, device=d), 2), TypeError, "group_norm"),
    ],
)
def test_functional_errors(device: str, call: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        call(device)


# ---- batch norm ----------------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize(
    "cls, shape",
    [
        ("BatchNorm1d", (6, 3)),
        ("BatchNorm1d", (4, 3, 5)),
        ("BatchNorm2d", (3, 3, 2, 4)),
        ("BatchNorm3d", (2, 3, 2, 2, 3)),
    ],
)
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": None}, {"affine": False, "momentum": 0.4}, {"track_running_stats": False}, {"bias": False}],
)
def test_batchnorm_module(device: str, cls: str, shape: tuple, kwargs: dict) -> None:
    ours, theirs = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    _check_module(ours, theirs, shape, device, (cls, kwargs))
    if ours.track_running_stats:
        assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == 3
    else:
        assert ours.running_mean is None and ours.num_batches_tracked is None


@needs_torch
def test_batchnorm_cumulative_average_without_host_reads(device: str) -> None:
    """momentum=None: factor 1/num_batches_tracked from a host mirror; after load_state_dict (a new count) one read."""
    ours, theirs = nn.BatchNorm1d(2, momentum=None).double().to(device), torch.nn.BatchNorm1d(2, momentum=None).double()
    rng = rng_for("bn cma")
    for _ in range(3):
        x = rng.standard_normal((5, 2))
        gx = gpubp.tensor(x, device=device)
        with no_host_reads(device):
            ours(gx)
        theirs(torch.tensor(x))
    np.testing.assert_allclose(_np(ours.running_mean), theirs.running_mean.numpy(), rtol=1e-12)
    with torch.no_grad():
        theirs.num_batches_tracked.fill_(7)
        theirs.running_var.mul_(3)
    _load_from_torch(ours, theirs)
    for _ in range(2):
        x = rng.standard_normal((5, 2))
        ours(gpubp.tensor(x, device=device))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(_np(ours.running_var), theirs.running_var.numpy(), rtol=1e-12)
    assert int(ours.num_batches_tracked.item()) == 9
    ours.reset_running_stats()
    theirs.reset_running_stats()
    x = rng.standard_normal((5, 2))
    with no_host_reads(device):
        ours(gpubp.tensor(x, device=device))
    theirs(torch.tensor(x))
    np.testing.assert_allclose(_np(ours.running_var), theirs.running_var.numpy(), rtol=1e-12)


def test_batchnorm_errors(device: str) -> None:
    with pytest.raises(ValueError, match="BatchNorm3d: expected a 5-D input"):
        nn.BatchNorm3d(3).to(device)(gpubp.randn(2, 3, 4, 4, device=device))
    with pytest.raises(TypeError, match="BatchNorm1d: momentum must be a number or None"):
        nn.BatchNorm1d(3, momentum="0.1")


# ---- instance, group, layer, RMS, local response norm modules ---------------------------------------------------
@needs_torch
@pytest.mark.parametrize(
    "cls, shape",
    [("InstanceNorm1d", (3, 3, 5)), ("InstanceNorm1d", (3, 6)), ("InstanceNorm2d", (2, 3, 3, 2)),
     ("InstanceNorm3d", (2, 3, 2, 2, 2)), ("InstanceNorm3d", (3, 2, 3, 2))],
)  # fmt: skip
@pytest.mark.parametrize(
    "kwargs", [{}, {"affine": True, "track_running_stats": True, "momentum": 0.3}, {"track_running_stats": True}]
)
def test_instancenorm_module(device: str, cls: str, shape: tuple, kwargs: dict) -> None:
    ours, theirs = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    _check_module(ours, theirs, shape, device, (cls, kwargs))


def test_instancenorm_checks(device: str) -> None:
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3).to(device)(gpubp.randn(3, 4, device=device))
    with pytest.raises(ValueError, match="InstanceNorm1d: expected input's size at dim=1 to match num_features"):
        nn.InstanceNorm1d(3, affine=True).to(device)(gpubp.randn(2, 4, 5, device=device))
    with pytest.warns(UserWarning, match="input's size at dim=0 does not match num_features"):
        y = nn.InstanceNorm1d(3).to(device)(gpubp.randn(4, 5, device=device))
    assert y.shape == (4, 5)
    m = nn.InstanceNorm1d(2, track_running_stats=True).to(device)
    assert m.num_batches_tracked is not None
    m(gpubp.randn(2, 2, 4, device=device))
    assert int(m.num_batches_tracked.item()) == 0  # instance norm does not count batches, as PyTorch


@needs_torch
@pytest.mark.parametrize("shape", [(2, 6, 3), (3, 6), (2, 6, 2, 2)])
@pytest.mark.parametrize("kwargs", [{}, {"affine": False, "eps": 1e-3}, {"bias": False}])
def test_groupnorm_module(device: str, shape: tuple, kwargs: dict) -> None:
    _check_module(nn.GroupNorm(3, 6, **kwargs), torch.nn.GroupNorm(3, 6, **kwargs), shape, device, ("gn", kwargs), 1)
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


@needs_torch
@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.RMSNorm(4),
        lambda L: L.RMSNorm((3, 4), eps=1e-3),
        lambda L: L.RMSNorm([4], elementwise_affine=False),
        lambda L: L.LayerNorm(4, bias=False),
        lambda L: L.LayerNorm((3, 4), elementwise_affine=False),
        lambda L: L.LocalResponseNorm(3, alpha=0.3, beta=0.8, k=2.0),
        lambda L: L.LocalResponseNorm(2),
    ],
)
def test_last_dims_modules(device: str, make: Any) -> None:
    _check_module(make(nn), make(torch.nn), (2, 5, 3, 4), device, repr(make(torch.nn)), 1)


def test_import_paths() -> None:
    from gpubp.nn.modules import batchnorm, instancenorm, normalization

    assert batchnorm.BatchNorm3d is nn.BatchNorm3d and instancenorm.InstanceNorm2d is nn.InstanceNorm2d
    assert normalization.GroupNorm is nn.GroupNorm and normalization.RMSNorm is nn.RMSNorm
    assert normalization.LocalResponseNorm is nn.LocalResponseNorm


# ---- weight_norm and spectral_norm -----------------------------------------------------------------------------
def _torch_weight_norm(m: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.nn.utils.weight_norm(m, **kw)


@needs_torch
@pytest.mark.parametrize(
    "make, shape",
    [(lambda L: L.Linear(4, 3), (5, 4)), (lambda L: L.Conv1d(2, 3, 3), (2, 2, 6)), (lambda L: L.Conv2d(2, 3, 2), (1, 2, 3, 3))],
)  # fmt: skip
@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm(device: str, make: Any, shape: tuple, dim: int | None) -> None:
    with pytest.warns(FutureWarning, match="weight_norm` is deprecated in favor of"):
        ours = nn.utils.weight_norm(make(nn), dim=dim)
    theirs = _torch_weight_norm(make(torch.nn), dim=dim)
    assert ours.weight_g.shape == tuple(theirs.weight_g.shape)
    _check_module(ours, theirs, shape, device, ("wn", dim, shape), 2)
    assert isinstance(ours.weight, gpubp.Tensor) and not isinstance(ours.weight, nn.Parameter)
    with pytest.raises(RuntimeError, match="cannot register two weight_norm hooks on the same parameter weight"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            nn.utils.weight_norm(ours, dim=dim)
    assert nn.utils.remove_weight_norm(ours) is ours
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert isinstance(ours.weight, nn.Parameter) and not ours._forward_pre_hooks
    np.testing.assert_allclose(_np(ours.weight), theirs.weight.detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        nn.utils.remove_weight_norm(ours)


@needs_torch
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda L: L.Linear(4, 3), (5, 4)),
        (lambda L: L.Conv2d(2, 3, 2), (2, 2, 3, 3)),
        (lambda L: L.ConvTranspose2d(2, 3, 2), (2, 2, 3, 3)),
    ],
)
@pytest.mark.parametrize("kwargs", [{}, {"n_power_iterations": 3, "eps": 1e-6}])
def test_spectral_norm(device: str, make: Any, shape: tuple, kwargs: dict) -> None:
    ours, theirs = nn.utils.spectral_norm(make(nn), **kwargs), torch.nn.utils.spectral_norm(make(torch.nn), **kwargs)
    assert ours.weight_u.shape == tuple(theirs.weight_u.shape) and ours.weight_v.shape == tuple(theirs.weight_v.shape)
    np.testing.assert_allclose(np.linalg.norm(_np(ours.weight_u)), 1.0, rtol=1e-6)  # a random unit vector
    _check_module(ours, theirs, shape, device, ("sn", kwargs, shape), 3)  # u, v (buffers) follow torch's
    with pytest.raises(RuntimeError, match="cannot register two spectral_norm hooks on the same parameter weight"):
        nn.utils.spectral_norm(ours)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(_np(ours.weight), theirs.weight.detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in"):
        nn.utils.remove_spectral_norm(ours)


def test_spectral_norm_errors() -> None:
    with pytest.raises(ValueError, match="spectral_norm: expected n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="spectral_norm: cannot be applied as parameter `bias`"):
        nn.utils.spectral_norm(nn.Linear(2, 2, bias=False), name="bias")


# ---- parametrize and parametrizations ------------------------------------------------------------------------------
def _symmetric(lib: Any) -> Any:
    class Symmetric(lib.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.triu() + x.triu(1).transpose(-1, -2)

        def right_inverse(self, a: Any) -> Any:
            return a.triu()

    return Symmetric()


def _scale(lib: Any) -> Any:
    class Scale(lib.nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 2

        def right_inverse(self, a: Any) -> Any:
            return a / 2

    return Scale()


@needs_torch
def test_register_parametrization(device: str) -> None:
    from gpubp.nn.utils import parametrize as P

    TP = torch.nn.utils.parametrize
    ours, theirs = nn.Linear(3, 3), torch.nn.Linear(3, 3)
    P.register_parametrization(ours, "weight", _symmetric(gpubp))
    TP.register_parametrization(theirs, "weight", _symmetric(torch))
    P.register_parametrization(ours, "weight", _scale(gpubp))  # chained after the first
    TP.register_parametrization(theirs, "weight", _scale(torch))
    assert type(ours).__name__ == "ParametrizedLinear" and P.type_before_parametrizations(ours) is nn.Linear
    assert P.is_parametrized(ours) and P.is_parametrized(ours, "weight") and not P.is_parametrized(ours, "bias")
    _check_module(ours, theirs, (4, 3), device, "parametrize", 1)
    w = _np(ours.weight)
    np.testing.assert_allclose(w, w.T)
    new = rng_for("set").standard_normal((3, 3))
    ours.weight = gpubp.tensor(new, device=device)  # through each right_inverse, into original
    theirs.weight = torch.tensor(new)
    np.testing.assert_allclose(
        _np(ours.parametrizations.weight.original), theirs.parametrizations.weight.original.detach().numpy()
    )
    with P.cached():
        assert ours.weight is ours.weight
    assert ours.weight is not ours.weight
    copied = copy.deepcopy(ours)
    np.testing.assert_allclose(_np(copied.weight), _np(ours.weight))
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only supported through"):
        pickle.dumps(ours)
    P.remove_parametrizations(ours, "weight", leave_parametrized=False)
    TP.remove_parametrizations(theirs, "weight", leave_parametrized=False)
    assert type(ours) is nn.Linear and list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(_np(ours.weight), theirs.weight.detach().numpy())
    assert isinstance(ours.weight, nn.Parameter)


def test_parametrization_errors() -> None:
    from gpubp.nn.utils import parametrize as P

    class Shrink(nn.Module):
        def forward(self, x: Any) -> Any:
            return x[:1]

    with pytest.raises(ValueError, match="may not change the shape or dtype"):
        P.register_parametrization(nn.Linear(2, 2), "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element"):
        P.register_parametrization(nn.Linear(2, 2), "nope", Shrink())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(nn.Linear(2, 2), "weight")


@needs_torch
@pytest.mark.parametrize(
    "make, shape",
    [(lambda L: L.Linear(4, 3), (5, 4)), (lambda L: L.Conv1d(2, 3, 3), (2, 2, 6)), (lambda L: L.Conv2d(2, 3, 2), (1, 2, 3, 3))],
)  # fmt: skip
@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrizations_weight_norm(device: str, make: Any, shape: tuple, dim: int | None) -> None:
    from gpubp.nn.utils import parametrizations, parametrize

    ours = parametrizations.weight_norm(make(nn), dim=dim)
    theirs = torch.nn.utils.parametrizations.weight_norm(make(torch.nn), dim=dim)
    g0, t0 = ours.parametrizations.weight.original0, theirs.parametrizations.weight.original0
    assert g0.shape == tuple(t0.shape)
    _check_module(ours, theirs, shape, device, ("pwn", dim, shape), 2)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    np.testing.assert_allclose(_np(ours.weight), theirs.weight.detach().numpy(), rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda L: L.Conv1d(3, 4, 2), (2, 3, 4)),
        (lambda L: L.Conv2d(2, 3, 2), (2, 2, 3, 3)),
        (lambda L: L.ConvTranspose2d(2, 3, 2), (2, 2, 3, 3)),
    ],
)
@pytest.mark.parametrize("kwargs", [{}, {"n_power_iterations": 2, "eps": 1e-6}])
def test_parametrizations_spectral_norm(device: str, make: Any, shape: tuple, kwargs: dict) -> None:
    from gpubp.nn.utils import parametrizations

    ours = parametrizations.spectral_norm(make(nn), **kwargs)
    theirs = torch.nn.utils.parametrizations.spectral_norm(make(torch.nn), **kwargs)
    assert ours.parametrizations.weight[0]._u.shape == tuple(theirs.parametrizations.weight[0]._u.shape)
    _check_module(ours, theirs, shape, device, ("psn", kwargs, shape), 3)
    with pytest.raises(IndexError, match="spectral_norm: dimension out of range"):
        parametrizations.spectral_norm(make(nn), dim=4)


@needs_torch
def test_parametrizations_spectral_norm_linear_cached(device: str) -> None:
    """Linear reads its weight twice per forward (a dtype check first): under cached() the power iteration runs
    once per forward, as PyTorch's Linear (which reads it once)."""
    from gpubp.nn.utils import parametrizations, parametrize

    ours = parametrizations.spectral_norm(nn.Linear(4, 3))
    theirs = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(4, 3))
    rng = rng_for("psn linear")
    theirs = theirs.double()
    ours = ours.double().to(device)
    _load_from_torch(ours, theirs)
    for _ in range(2):
        x = rng.standard_normal((5, 4))
        with parametrize.cached(), torch.nn.utils.parametrize.cached():
            _step(ours, theirs, x, device)


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda x, w: F.group_norm(x, 2, w), [(2, 4, 3), (4,)]),
        (lambda x, w: F.rms_norm(x, 3, w), [(2, 3), (3,)]),
        (lambda x, w: F.instance_norm(x, weight=w), [(2, 3, 4), (3,)]),
        (lambda x, w: F.local_response_norm(x * w.reshape(1, -1, 1), 2, alpha=0.5), [(2, 3, 2), (3,)]),
    ],
)
def test_norm_gradients_of_gradients(device: str, fn: Any, shapes: list) -> None:
    rng = rng_for("gradgrad", shapes)
    ins = [gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in shapes]
    gradgradcheck(fn, ins)
