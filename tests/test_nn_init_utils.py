"""nn.init (every public torch.nn.init name: statistics on big tensors, exact eye_/dirac_/sparse_ structure,
generators, the deprecated aliases and their warnings, errors), the nn.utils gradient-norm family and parameter
vectors against PyTorch, and nn.Unflatten / nn.Identity."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
from gpubp.nn import init

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

NONLINEARITIES = [
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
    "tanh", "relu", "leaky_relu", "selu",
]  # fmt: skip


@needs_torch
def test_public_names_match_torch() -> None:
    theirs = {n for n in dir(torch.nn.init) if not n.startswith("_") and callable(getattr(torch.nn.init, n))}
    theirs -= {"Callable", "Literal", "ParamSpec", "Tensor", "TypeVar"}
    missing = {n for n in theirs if not callable(getattr(init, n, None))}
    assert not missing


@needs_torch
@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain(name: str) -> None:
    assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    if name == "leaky_relu":
        for p in (0.2, 1, 0):
            assert init.calculate_gain(name, p) == torch.nn.init.calculate_gain(name, p)


def test_calculate_gain_errors() -> None:
    with pytest.raises(ValueError, match="calculate_gain: Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="calculate_gain: negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def _stats(t: gpubp.Tensor) -> tuple[float, float]:
    a = t.detach().cpu().numpy().astype(np.float64)
    return float(a.mean()), float(a.std())


# (initializer call, expected mean, expected std); shape (256, 400) -> fan_in 400, fan_out 256
FAN_IN, FAN_OUT = 400, 256
STATS = [
    ("uniform", lambda t, g: init.uniform_(t, -1.0, 3.0, generator=g), 1.0, 4 / math.sqrt(12)),
    ("normal", lambda t, g: init.normal_(t, 0.5, 2.0, generator=g), 0.5, 2.0),
    ("xavier_uniform", lambda t, g: init.xavier_uniform_(t, 2.0, generator=g), 0.0, 2 * math.sqrt(2 / 656)),
    ("xavier_normal", lambda t, g: init.xavier_normal_(t, 0.5, generator=g), 0.0, 0.5 * math.sqrt(2 / 656)),
    (
        "kaiming_uniform",
        lambda t, g: init.kaiming_uniform_(t, 0.1, "fan_out", generator=g),
        0.0,
        math.sqrt(2 / 1.01) / math.sqrt(FAN_OUT),
    ),
    ("kaiming_normal", lambda t, g: init.kaiming_normal_(t, nonlinearity="relu", generator=g), 0.0, 0.0707107),
    ("trunc_normal", lambda t, g: init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, generator=g), 0.0, 0.879626),
]


@pytest.mark.parametrize("name,fn,mean,std", STATS, ids=[s[0] for s in STATS])
def test_statistics_and_generator(device: str, name: str, fn: object, mean: float, std: float) -> None:
    t = gpubp.empty(FAN_OUT, FAN_IN, device=device)
    assert fn(t, None) is t
    m, s = _stats(t)
    assert abs(m - mean) < 4 * std / math.sqrt(t.numel()) + 1e-12
    assert abs(s - std) < 0.01 * std
    # the same generator seed gives the same values, on any device
    a = fn(gpubp.empty(4, 5, device=device), gpubp.Generator().manual_seed(7)).cpu().numpy()
    b = fn(gpubp.empty(4, 5, device=device), gpubp.Generator().manual_seed(7)).cpu().numpy()
    c = fn(gpubp.empty(4, 5, device=device), gpubp.Generator().manual_seed(8)).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_trunc_normal_bounds_and_shifted_mean(device: str) -> None:
    t = init.trunc_normal_(gpubp.empty(200, 300, device=device), mean=0.5, std=2.0, a=-1.0, b=1.5)
    a = t.cpu().numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5 and t.dtype == gpubp.float32
    # the mean of N(0.5, 4) truncated to [-1, 1.5]: 0.5 + 2 (phi(alpha) - phi(beta)) / (Phi(beta) - Phi(alpha))
    alpha, beta = -0.75, 0.5
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    expected = 0.5 + 2 * (phi(alpha) - phi(beta)) / (cdf(beta) - cdf(alpha))
    assert abs(a.mean() - expected) < 0.01
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(gpubp.empty(3, device=device), mean=10.0)


def test_orthogonal(device: str) -> None:
    for shape in [(3, 5), (6, 2), (4, 2, 3)]:
        t = init.orthogonal_(gpubp.empty(*shape, device=device, dtype=gpubp.float64), gain=2.0)
        q = t.cpu().numpy().reshape(shape[0], -1)
        small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(small, 4 * np.eye(min(q.shape)), atol=1e-10)
    a = init.orthogonal_(gpubp.empty(3, 3, device=device), generator=gpubp.Generator().manual_seed(1))
    b = init.orthogonal_(gpubp.empty(3, 3, device=device), generator=gpubp.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    with pytest.raises(ValueError, match="orthogonal_: Only tensors with 2 or more dimensions"):
        init.orthogonal_(gpubp.empty(3, device=device))


@needs_torch
@pytest.mark.parametrize("shape", [(3, 5), (4, 2), (3, 3)])
def test_eye(device: str, shape: tuple) -> None:
    t = init.eye_(gpubp.full(shape, 7.0, device=device))
    np.testing.assert_array_equal(t.cpu().numpy(), torch.nn.init.eye_(torch.empty(shape)).numpy())


@needs_torch
@pytest.mark.parametrize("shape,groups", [((4, 2, 3), 1), ((6, 4, 3, 3), 2), ((4, 3, 3, 2, 3), 1), ((6, 2, 3), 3)])
def test_dirac(device: str, shape: tuple, groups: int) -> None:
    t = init.dirac_(gpubp.full(shape, 7.0, device=device), groups)
    np.testing.assert_array_equal(t.cpu().numpy(), torch.nn.init.dirac_(torch.empty(shape), groups).numpy())
    # a dirac conv weight is the identity on the channels it covers
    if len(shape) == 3 and groups == 1:
        x = gpubp.tensor(rng_for("dirac").standard_normal((1, 2, 5)).astype(np.float32), device=device)
        y = nn.functional.conv1d(x, t, padding=1)
        np.testing.assert_allclose(y[:, :2].cpu().numpy(), x.cpu().numpy(), rtol=1e-6)


def test_sparse(device: str) -> None:
    t = init.sparse_(gpubp.empty(10, 300, device=device), 0.25, std=0.5)
    a = t.cpu().numpy()
    np.testing.assert_array_equal((a == 0).sum(axis=0), np.full(300, 3))  # ceil(0.25 * 10) zeros per column
    nonzero = a[a != 0]
    assert abs(nonzero.std() - 0.5) < 0.03
    b = init.sparse_(gpubp.empty(10, 4, device=device), 0.5, generator=gpubp.Generator().manual_seed(3))
    c = init.sparse_(gpubp.empty(10, 4, device=device), 0.5, generator=gpubp.Generator().manual_seed(3))
    np.testing.assert_array_equal(b.cpu().numpy(), c.cpu().numpy())


def test_fills(device: str) -> None:
    t = gpubp.empty(2, 3, device=device)
    np.testing.assert_array_equal(init.constant_(t, 2.5).cpu().numpy(), np.full((2, 3), 2.5))
    np.testing.assert_array_equal(init.zeros_(t).cpu().numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones_(t).cpu().numpy(), np.ones((2, 3)))
    p = nn.Parameter(gpubp.zeros(2, 2, device=device))
    init.normal_(p)  # a leaf that requires grad: initializers run under no_grad
    assert p.requires_grad and p.grad is None and np.any(p.detach().cpu().numpy())


DEPRECATED = [
    ("uniform", (), {}),
    ("normal", (), {}),
    ("constant", (0.3,), {}),
    ("eye", (), {}),
    ("xavier_uniform", (), {}),
    ("xavier_normal", (), {}),
    ("kaiming_uniform", (), {}),
    ("kaiming_normal", (), {}),
    ("orthogonal", (), {}),
    ("sparse", (0.5,), {}),
]


@pytest.mark.parametrize("name,args,kw", DEPRECATED, ids=[d[0] for d in DEPRECATED])
def test_deprecated_aliases_warn(device: str, name: str, args: tuple, kw: dict) -> None:
    t = gpubp.empty(4, 3, device=device)
    with pytest.warns(FutureWarning, match=rf"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`"):
        assert getattr(init, name)(t, *args, **kw) is t
    assert getattr(init, name).__name__ == name
    with pytest.warns(FutureWarning, match="nn.init.dirac"):
        init.dirac(gpubp.empty(2, 2, 3, device=device))


def test_init_errors(device: str) -> None:
    with pytest.raises(ValueError, match="eye_: Only tensors with 2 dimensions"):
        init.eye_(gpubp.empty(2, 2, 2, device=device))
    with pytest.raises(ValueError, match="dirac_: Only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(gpubp.empty(2, 2, device=device))
    with pytest.raises(ValueError, match="dirac_: dim 0 must be divisible by groups"):
        init.dirac_(gpubp.empty(5, 2, 3, device=device), 2)
    with pytest.raises(ValueError, match="sparse_: Only tensors with 2 dimensions"):
        init.sparse_(gpubp.empty(5, device=device), 0.1)
    with pytest.raises(ValueError, match="kaiming init: mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(gpubp.empty(2, 2, device=device), mode="fan")
    with pytest.raises(ValueError, match="fan in and fan out"):
        init.xavier_uniform_(gpubp.empty(3, device=device))
    with pytest.raises(TypeError, match="generator must be a gpubp.Generator"):
        init.uniform_(gpubp.empty(3, device=device), generator=3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(gpubp.empty(0, 3, device=device))


# --- nn.utils: gradient norms --------------------------------------------------------------------------------------


def _params(device: str, key: object, dtype: type = np.float64) -> tuple[list, list]:
    rng = rng_for("clip", key)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    grads = [rng.standard_normal(s) * 3 for s in shapes]
    ours, theirs = [], []
    for g in grads:
        p = nn.Parameter(gpubp.zeros(*g.shape, device=device, dtype=gpubp.float64))
        p.grad = gpubp.tensor(g, device=device)
        ours.append(p)
        if torch is not None:
            tp = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64))
            tp.grad = torch.tensor(g)
            theirs.append(tp)
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(device: str, norm_type: float, max_norm: float) -> None:
    ours, theirs = _params(device, (norm_type, max_norm))
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type, foreach=None)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.ndim == 0 and total.dtype == gpubp.float64
    np.testing.assert_allclose(total.cpu().numpy(), t_total.numpy(), rtol=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.cpu().numpy(), tp.grad.numpy(), rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.5, math.inf])
def test_get_total_norm_and_clip_grads_with_norm(device: str, norm_type: float) -> None:
    ours, theirs = _params(device, ("total", norm_type))
    grads, t_grads = [p.grad for p in ours], [p.grad for p in theirs]
    total = nn.utils.get_total_norm(grads, norm_type)
    t_total = torch.nn.utils.get_total_norm(t_grads, norm_type)
    np.testing.assert_allclose(total.cpu().numpy(), t_total.numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        nn.utils.get_total_norm(grads[0], norm_type).cpu().numpy(),
        torch.nn.utils.get_total_norm(t_grads[0], norm_type).numpy(),
        rtol=1e-12,
    )
    assert nn.utils.get_total_norm([]).item() == 0.0
    assert nn.utils.clip_grads_with_norm_(ours, 1.0, total) is None
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, t_total)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.cpu().numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_generator_single_tensor_and_no_grads(device: str) -> None:
    ours, _ = _params(device, "gen")
    expected = math.sqrt(sum(float((p.grad.cpu().numpy() ** 2).sum()) for p in ours))
    total = nn.utils.clip_grad_norm_((p for p in ours), 1.0)  # a generator, consumed once
    assert abs(total.item() - expected) < 1e-9
    assert abs(nn.utils.get_total_norm([p.grad for p in ours]).item() - 1.0) < 1e-5
    p = nn.Parameter(gpubp.ones(2, device=device))
    p.grad = gpubp.tensor([3.0, 4.0], device=device)
    assert abs(nn.utils.clip_grad_norm_(p, 10.0).item() - 5.0) < 1e-6
    np.testing.assert_allclose(p.grad.cpu().numpy(), [3.0, 4.0], rtol=1e-6)  # under max_norm: (almost) unchanged
    assert nn.utils.clip_grad_norm_([nn.Parameter(gpubp.ones(2, device=device))], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite(device: str) -> None:
    p = nn.Parameter(gpubp.ones(3, device=device))
    p.grad = gpubp.tensor([1.0, float("inf"), 2.0], device=device)
    with pytest.raises(RuntimeError, match="clip_grad_norm_: The total norm of order 2.0 .* is non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.cpu().numpy(), [1.0, float("inf"), 2.0])  # unchanged
    with pytest.raises(RuntimeError, match="get_total_norm: The total norm of order inf"):
        nn.utils.get_total_norm([p.grad], math.inf, error_if_nonfinite=True)
    assert math.isinf(nn.utils.clip_grad_norm_([p], 1.0).item())  # no error by default, as PyTorch


def test_clip_grad_norm_deprecated_alias(device: str) -> None:
    p = nn.Parameter(gpubp.ones(2, device=device))
    p.grad = gpubp.tensor([3.0, 4.0], device=device)
    with pytest.warns(FutureWarning, match="`torch.nn.utils.clip_grad_norm` is now deprecated in favor of"):
        total = nn.utils.clip_grad_norm(p, 1.0)
    assert abs(total.item() - 5.0) < 1e-6
    np.testing.assert_allclose(p.grad.cpu().numpy(), [0.6, 0.8], rtol=1e-5)


@needs_torch
def test_clip_grad_value_matches_torch(device: str) -> None:
    ours, theirs = _params(device, "value")
    assert nn.utils.clip_grad_value_(ours, 1.2, foreach=False) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.2)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.cpu().numpy(), tp.grad.numpy())


def test_clip_errors(device: str) -> None:
    p = nn.Parameter(gpubp.ones(2, device=device))
    p.grad = gpubp.ones(2, device=device)
    with pytest.raises(TypeError, match="clip_grad_norm_: foreach must be a bool or None"):
        nn.utils.clip_grad_norm_([p], 1.0, foreach="yes")
    with pytest.raises(TypeError, match="clip_grads_with_norm_: total_norm must be a Tensor"):
        nn.utils.clip_grads_with_norm_([p], 1.0, 2.0)
    with pytest.raises(TypeError, match="get_total_norm: expected Tensors, got list"):
        nn.utils.get_total_norm([[1.0]])
    with pytest.raises(TypeError, match="clip_grad_value_: clip_value must be a real number"):
        nn.utils.clip_grad_value_([p], "1")


# --- nn.utils: parameter vectors ----------------------------------------------------------------------------------


@needs_torch
def test_parameters_to_vector_and_back(device: str) -> None:
    m = nn.Linear(3, 2, device=device, dtype=gpubp.float64)
    tm = torch.nn.Linear(3, 2).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    v = nn.utils.parameters_to_vector(m.parameters())
    tv = torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(v.detach().cpu().numpy(), tv.detach().numpy())
    assert v.requires_grad  # differentiable, as PyTorch's
    (v * gpubp.arange(8.0, dtype=gpubp.float64, device=device)).sum().backward()
    np.testing.assert_array_equal(m.weight.grad.cpu().numpy(), np.arange(6.0).reshape(2, 3))
    new = gpubp.arange(8.0, dtype=gpubp.float64, device=device) / 10
    nn.utils.vector_to_parameters(new, m.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(8.0, dtype=torch.float64) / 10, tm.parameters())
    for p, tp in zip(m.parameters(), tm.parameters()):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), tp.detach().numpy())
        assert isinstance(p, nn.Parameter) and p.requires_grad
    with pytest.raises(TypeError, match="expected gpubp.Tensor, but got: list"):
        nn.utils.vector_to_parameters([0.0] * 8, m.parameters())
    with pytest.raises(RuntimeError, match="vector_to_parameters: .* too short"):
        nn.utils.vector_to_parameters(gpubp.ones(5, device=device), m.parameters())
    with pytest.raises(RuntimeError, match="expected a non-empty"):
        nn.utils.parameters_to_vector([])


# --- Unflatten / Identity -------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("dim,size,shape", [(1, (2, 3), (4, 6, 5)), (-1, [2, -1], (3, 4)), (0, (1, 3), (3,))])
def test_unflatten_matches_torch(device: str, dim: int, size: tuple, shape: tuple) -> None:
    a = rng_for("unflatten", shape).standard_normal(shape)
    m, tm = nn.Unflatten(dim, size), torch.nn.Unflatten(dim, size)
    x = gpubp.tensor(a, device=device, requires_grad=True)
    y = m(x)
    ty = tm(torch.tensor(a))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), ty.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.ones(shape))
    assert repr(m) == repr(tm)
    start = dim % len(shape)
    assert nn.Flatten(start, start + len(size) - 1)(y).shape == tuple(shape)  # Flatten undoes it


def test_unflatten_errors_and_identity(device: str) -> None:
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints, but found element of type float"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(RuntimeError, match="unflatten: Provided sizes"):
        nn.Unflatten(1, (2, 3))(gpubp.ones(3, 5, device=device))
    ident = nn.Identity(54, unused_argument1=0.1, unused_argument2=False)
    x = gpubp.ones(2, 3, device=device)
    assert ident(x) is x and repr(ident) == "Identity()"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(ident.parameters()) == []
