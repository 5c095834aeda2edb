"""The sampling family: distributions (means and variances over many samples, generous tolerances, fixed seeds),
reproducibility per device, shapes and dtypes, the in-place samplers (checks, version counter, autograd), errors as
PyTorch's, and one_hot / type_as."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import torch

import gpubp
from gpubp import creation
from gpubp.tensor import get_sync_debug_mode

G = gpubp.ops
N = 40_000  # samples per distribution check: a mean is then within ~0.5% of a unit std (z = 5 bounds below)


def _np(t: gpubp.Tensor) -> np.ndarray:
    t = t.detach()
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()


def _close_mean(x: np.ndarray, mean: float, std: float, z: float = 5.0) -> None:
    """The sample mean lies within z standard errors of ``mean``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    se = std / math.sqrt(x.size)
    assert abs(x.mean() - mean) < z * se + 1e-12, (x.mean(), mean, se)


def _close_var(x: np.ndarray, var: float, rel: float = 0.05) -> None:
    x = np.asarray(x, dtype=np.float64).ravel()
    assert abs(x.var() - var) < rel * var, (x.var(), var)


# ---- in-place samplers: distributions ----


def test_uniform_(device):
    gpubp.manual_seed(1)
    x = _np(gpubp.empty(N, device=device).uniform_(-2.0, 3.0))
    assert x.min() >= -2.0 and x.max() < 3.0
    _close_mean(x, 0.5, 5 / math.sqrt(12))
    _close_var(x, 25 / 12)


def test_normal_(device):
    gpubp.manual_seed(2)
    x = _np(gpubp.empty(N, dtype=gpubp.float64, device=device).normal_(1.5, 0.5))
    _close_mean(x, 1.5, 0.5)
    _close_var(x, 0.25)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool", "uint8"])
def test_bernoulli_number_p(device, dtype):
    gpubp.manual_seed(3)
    t = gpubp.zeros(N, dtype=getattr(gpubp, dtype), device=device)
    out = t.bernoulli_(0.3)
    assert out is t and t.dtype == np.dtype(dtype)
    x = _np(t).astype(np.float64)
    assert set(np.unique(x)) <= {0.0, 1.0}
    _close_mean(x, 0.3, math.sqrt(0.21))


def test_bernoulli_tensor_p_broadcasts(device):
    gpubp.manual_seed(4)
    p = gpubp.tensor([0.1, 0.5, 0.9], device=device)
    x = _np(gpubp.zeros(N // 3, 3, device=device).bernoulli_(p))
    for j, pj in enumerate([0.1, 0.5, 0.9]):
        _close_mean(x[:, j], pj, math.sqrt(pj * (1 - pj)))


def test_bernoulli_edges(device):
    assert _np(gpubp.zeros(100, device=device).bernoulli_(1.0)).min() == 1
    assert _np(gpubp.ones(100, device=device).bernoulli_(0.0)).max() == 0


@pytest.mark.parametrize(
    ("dtype", "args", "lo", "hi"),
    [
        ("float32", (), 0, 2**24),
        ("float64", (), 0, 2**53),
        ("float16", (), 0, 2**11),
        ("int64", (), 0, 2**63 - 1),
        ("int32", (), 0, 2**31 - 1),
        ("uint8", (), 0, 255),
        ("bool", (), 0, 1),
        ("float32", (10,), 0, 9),
        ("int64", (-3, 4), -3, 3),
        ("int16", (5, None), 5, 2**15 - 1),
        ("int8", (-128, 128), -128, 127),
    ],
)
def test_random_ranges(device, dtype, args, lo, hi):
    gpubp.manual_seed(5)
    t = gpubp.zeros(20_000, dtype=getattr(gpubp, dtype), device=device)
    assert t.random_(*args) is t and t.dtype == np.dtype(dtype)
    x = _np(t).astype(np.float64)
    assert x.min() >= lo and x.max() <= hi
    assert np.all(x == np.round(x))
    width = float(hi) - float(lo) + 1
    _close_mean(x, (float(lo) + float(hi)) / 2, width / math.sqrt(12))
    if width <= 256:  # small ranges: every value turns up
        assert x.min() == lo and x.max() == hi


def test_random_from_keyword(device):
    x = _np(gpubp.zeros(1000, dtype=gpubp.int64, device=device).random_(**{"from": 7, "to": 9}))
    assert set(np.unique(x)) == {7, 8}
    x = _np(gpubp.zeros(1000, dtype=gpubp.int64, device=device).random_(to=3))
    assert set(np.unique(x)) == {0, 1, 2}


def test_exponential_(device):
    gpubp.manual_seed(6)
    x = _np(gpubp.empty(N, device=device).exponential_(2.0))
    assert x.min() >= 0
    _close_mean(x, 0.5, 0.5)
    _close_var(x, 0.25, rel=0.08)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_geometric_(device, dtype):
    gpubp.manual_seed(7)
    p = 0.25
    x = _np(gpubp.zeros(N, dtype=getattr(gpubp, dtype), device=device).geometric_(p)).astype(np.float64)
    assert x.min() == 1 and np.all(x == np.round(x))
    _close_mean(x, 1 / p, math.sqrt(1 - p) / p)
    assert abs((x == 1).mean() - p) < 0.02  # P(first trial succeeds) = p


def test_log_normal_(device):
    gpubp.manual_seed(8)
    x = _np(gpubp.empty(N, dtype=gpubp.float64, device=device).log_normal_(0.5, 0.75))
    assert x.min() > 0
    _close_mean(np.log(x), 0.5, 0.75)
    _close_var(np.log(x), 0.75**2)


def test_cauchy_(device):
    gpubp.manual_seed(9)
    x = _np(gpubp.empty(N, dtype=gpubp.float64, device=device).cauchy_(2.0, 0.5))
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    assert abs(med - 2.0) < 0.03 and abs((q3 - q1) - 1.0) < 0.05  # median, and IQR = 2 sigma


def test_defaults_match_torch_parameters(device):
    """Default arguments are PyTorch's: log_normal_(1, 2), exponential_(1), uniform_(0, 1), normal_(0, 1)."""
    gpubp.manual_seed(10)
    e = gpubp.empty(N, dtype=gpubp.float64, device=device)
    _close_mean(np.log(_np(e.log_normal_())), 1.0, 2.0)
    _close_mean(_np(e.exponential_()), 1.0, 1.0)
    _close_mean(_np(e.uniform_()), 0.5, math.sqrt(1 / 12))
    _close_mean(_np(e.normal_()), 0.0, 1.0)


# ---- in-place samplers: checks, version counter, autograd ----

INPLACE = [
    ("uniform_", ()),
    ("normal_", ()),
    ("bernoulli_", (0.5,)),
    ("random_", (0, 10)),
    ("exponential_", ()),
    ("geometric_", (0.5,)),
    ("log_normal_", ()),
    ("cauchy_", ()),
]


@pytest.mark.parametrize(("name", "args"), INPLACE)
def test_inplace_version_and_leaf(device, name, args):
    t = gpubp.zeros(4, 3, dtype=gpubp.float64, device=device)
    v = t._vc[0]
    assert getattr(t, name)(*args) is t
    assert t._vc[0] == v + 1 and t.dtype == np.float64 and t.shape == (4, 3)
    leaf = gpubp.zeros(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match=name):
        getattr(leaf, name)(*args)
    with gpubp.no_grad():
        getattr(leaf, name)(*args)  # an initializer's write
    assert leaf.requires_grad and leaf.is_leaf


@pytest.mark.parametrize(("name", "args"), INPLACE)
def test_inplace_on_a_non_leaf_cuts_the_gradient(device, name, args):
    x = gpubp.ones(2, 3, requires_grad=True, device=device)
    y = x * 2
    getattr(y, name)(*args)  # overwritten by samples: no gradient flows through y any more
    ((y * 3).sum() + (x * 5).sum()).backward()
    np.testing.assert_array_equal(_np(x.grad), np.full((2, 3), 5.0))


def test_inplace_on_a_view_writes_through(device):
    base = gpubp.zeros(4, 4, device=device)
    base[:, 1].uniform_(5.0, 6.0)
    b = _np(base)
    assert (b[:, 1] >= 5).all() and (np.delete(b, 1, axis=1) == 0).all()


INPLACE_ERRORS = [
    ("uniform_", (1.0, 0.0), "from=1.0 > to=0.0"),
    ("normal_", (0.0, -1.0), "std >= 0.0"),
    ("bernoulli_", (1.5,), r"\[0, 1\]"),
    ("bernoulli_", (-0.1,), r"\[0, 1\]"),
    ("random_", (5, 3), "less than 'to'"),
    ("random_", (0,), "less than 'to'"),
    ("exponential_", (0.0,), "lambda > 0.0"),
    ("exponential_", (-1.0,), "lambda > 0.0"),
    ("geometric_", (0.0,), r"\(0, 1\)"),
    ("geometric_", (1.0,), r"\(0, 1\)"),
    ("log_normal_", (1.0, 0.0), "std > 0.0"),
    ("cauchy_", (0.0, -1.0), "sigma > 0.0"),
]


@pytest.mark.parametrize(("name", "args", "match"), INPLACE_ERRORS)
def test_inplace_errors(device, name, args, match):
    t = gpubp.full((3,), 7.0, device=device)
    v = t._vc[0]
    with pytest.raises(RuntimeError, match=match) as info:
        getattr(t, name)(*args)
    assert name in str(info.value)
    assert t._vc[0] == v and (_np(t) == 7).all()  # nothing written
    if torch is not None:
        with pytest.raises(RuntimeError):
            getattr(torch.full((3,), 7.0), name)(*args)


@pytest.mark.parametrize("name", ["uniform_", "normal_", "exponential_", "log_normal_", "cauchy_"])
def test_continuous_samplers_refuse_integer_tensors(device, name):
    t = gpubp.zeros(3, dtype=gpubp.int64, device=device)
    with pytest.raises(RuntimeError, match=name):
        getattr(t, name)()
    if torch is not None:
        with pytest.raises((RuntimeError, NotImplementedError)):
            getattr(torch.zeros(3, dtype=torch.int64), name)()


@pytest.mark.parametrize(
    ("dtype", "args", "match"),
    [("uint8", (0, 300), "to - 1"), ("uint8", (-1, 3), "from"), ("bool", (3,), "to - 1"), ("int8", (0, 129), "to - 1")],
)
def test_random_out_of_dtype_bounds(device, dtype, args, match):
    with pytest.raises(RuntimeError, match=match):
        gpubp.zeros(3, dtype=getattr(gpubp, dtype), device=device).random_(*args)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.zeros(3, dtype=getattr(torch, dtype)).random_(*args)


def test_bernoulli_tensor_p_errors(device):
    t = gpubp.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="broadcast"):
        t.bernoulli_(gpubp.rand(3, 3, device=device))
    with pytest.raises(TypeError, match="floating-point"):
        t.bernoulli_(gpubp.ones(3, dtype=gpubp.int64, device=device))
    if device == "cpu":  # only the CPU checks the values (a GPU would synchronize)
        with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
            t.bernoulli_(gpubp.tensor([0.5, 1.2, 0.0], device=device))


# ---- generators and seeds ----


SAMPLERS = {
    "rand": lambda d, g: gpubp.rand(5, device=d, generator=g),
    "randn": lambda d, g: gpubp.randn(2, 3, device=d, generator=g),
    "randint": lambda d, g: gpubp.randint(0, 100, (6,), device=d, generator=g),
    "randperm": lambda d, g: gpubp.randperm(8, device=d, generator=g),
    "multinomial": lambda d, g: gpubp.multinomial(gpubp.tensor([1.0, 2, 3, 4], device=d), 3, generator=g),
    "multinomial_r": lambda d, g: gpubp.multinomial(gpubp.tensor([1.0, 2, 3, 4], device=d), 6, True, generator=g),
    "bernoulli": lambda d, g: gpubp.bernoulli(gpubp.full((8,), 0.5, device=d), generator=g),
    "normal": lambda d, g: gpubp.normal(gpubp.zeros(4, device=d), gpubp.ones(4, device=d), generator=g),
    "normal_numbers": lambda d, g: gpubp.normal(1.0, 2.0, (4,), generator=g, device=d),
    "poisson": lambda d, g: gpubp.poisson(gpubp.full((6,), 3.0, device=d), generator=g),
    "uniform_": lambda d, g: gpubp.empty(5, device=d).uniform_(generator=g),
    "normal_": lambda d, g: gpubp.empty(5, device=d).normal_(generator=g),
    "bernoulli_": lambda d, g: gpubp.empty(8, device=d).bernoulli_(0.5, generator=g),
    "random_": lambda d, g: gpubp.empty(5, device=d).random_(0, 1000, generator=g),
    "exponential_": lambda d, g: gpubp.empty(5, device=d).exponential_(generator=g),
    "geometric_": lambda d, g: gpubp.empty(5, device=d).geometric_(0.2, generator=g),
    "log_normal_": lambda d, g: gpubp.empty(5, device=d).log_normal_(generator=g),
    "cauchy_": lambda d, g: gpubp.empty(5, device=d).cauchy_(generator=g),
    "randint_like": lambda d, g: creation.randint_like(gpubp.zeros(5, device=d), 1000, generator=g),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_manual_seed_reproduces_per_device(device, name):
    draw = SAMPLERS[name]
    gpubp.manual_seed(123)
    a = _np(draw(device, None))
    gpubp.manual_seed(123)
    b = _np(draw(device, None))
    c = _np(draw(device, None))  # the stream moved on
    np.testing.assert_array_equal(a, b)
    if name not in ("multinomial", "randperm"):  # short permutations may repeat by chance
        assert not np.array_equal(b, c)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_generator_reproduces_on_every_device(device, name):
    """A Generator's stream lives on the host: the same seed gives the same values on every device."""
    draw = SAMPLERS[name]
    a = _np(draw(device, gpubp.Generator().manual_seed(7)))
    b = _np(draw("cpu", gpubp.Generator().manual_seed(7)))
    np.testing.assert_array_equal(a, b)
    g = gpubp.Generator().manual_seed(7)
    gpubp.manual_seed(0)
    draw(device, g)
    after = _np(draw(device, None))
    gpubp.manual_seed(0)
    np.testing.assert_array_equal(after, _np(draw(device, None)))  # the generator left the device stream alone


def test_generator_type_is_checked(device):
    with pytest.raises(TypeError, match="generator"):
        gpubp.rand(3, device=device, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="generator"):
        gpubp.empty(3, device=device).uniform_(generator=1)


# ---- multinomial ----


def test_multinomial_with_replacement_frequencies(device):
    gpubp.manual_seed(11)
    w = np.array([[1.0, 0.0, 3.0, 6.0], [0.0, 5.0, 0.0, 5.0], [0.0, 0.0, 0.0, 2.0]])
    s = _np(gpubp.multinomial(gpubp.tensor(w, device=device), 20_000, replacement=True))
    assert s.shape == (3, 20_000) and s.dtype == np.int64
    for r in range(3):
        freq = np.bincount(s[r], minlength=4) / s.shape[1]
        p = w[r] / w[r].sum()
        assert np.all(freq[p == 0] == 0)  # a zero weight is never drawn
        assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / s.shape[1]) + 1e-12), (freq, p)


def test_multinomial_without_replacement(device):
    gpubp.manual_seed(12)
    w = np.array([1.0, 2.0, 0.0, 5.0, 2.0])
    rows = gpubp.tensor(np.tile(w, (8000, 1)), dtype=gpubp.float64, device=device)
    s = _np(gpubp.multinomial(rows, 4))
    assert s.shape == (8000, 4)
    assert all(len(set(r)) == 4 for r in s[:200])  # distinct within a row
    assert not (s[:, :4] == 2).any()  # four of the five: the zero-weight category is never needed
    first = np.bincount(s[:, 0], minlength=5) / len(s)
    p = w / w.sum()
    assert np.all(np.abs(first - p) < 5 * np.sqrt(p * (1 - p) / len(s)) + 1e-12), (first, p)
    full = _np(gpubp.multinomial(gpubp.tensor(w, device=device), 5))
    assert sorted(full) == [0, 1, 2, 3, 4] and full[-1] == 2  # all of them; the zero weight comes last


def test_multinomial_shapes_and_forms(device):
    p = gpubp.tensor([0.2, 0.8], device=device)
    assert p.multinomial(1).shape == (1,)
    assert gpubp.multinomial(p, 5, True).shape == (5,)
    assert gpubp.multinomial(gpubp.ones(0, 3, device=device), 2).shape == (0, 2)
    out = gpubp.zeros(3, dtype=gpubp.int64, device=device)
    r = gpubp.multinomial(gpubp.ones(4, dtype=gpubp.float16, device=device), 3, out=out)
    assert r is out and sorted(_np(out)) == sorted(set(_np(out)))


MULTINOMIAL_ERRORS = [
    (lambda: [1.0, 2.0, 0.0], 4, False, "without replacement"),
    (lambda: [1.0, -2.0, 0.0], 2, True, "< 0"),
    (lambda: [1.0, float("inf"), 0.0], 2, True, "infinity or NaN"),
    (lambda: [1.0, float("nan"), 0.0], 2, False, "infinity or NaN"),
    (lambda: [0.0, 0.0], 1, False, "sum of probabilities"),
    (lambda: [[0.0, 0.0], [1.0, 1.0]], 2, True, "sum of probabilities"),
    (lambda: 1.0, 1, False, "1 or 2 dim"),
    (lambda: np.ones((2, 2, 2)), 1, False, "1 or 2 dim"),
    (lambda: [1.0, 1.0], 0, False, "n_sample <= 0"),
    (lambda: [1.0, 1.0], -1, True, "n_sample <= 0"),
    (lambda: [1, 2], 1, False, "floating-point"),
]


@pytest.mark.parametrize(("data", "n", "repl", "match"), MULTINOMIAL_ERRORS)
def test_multinomial_errors(device, data, n, repl, match):
    with pytest.raises(RuntimeError, match=match) as info:
        gpubp.multinomial(gpubp.tensor(data(), device=device), n, repl)
    assert "multinomial" in str(info.value)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(data()), n, repl)


# ---- bernoulli, normal, poisson ----


def test_bernoulli(device):
    gpubp.manual_seed(13)
    probs = gpubp.tensor([[0.1, 0.9]], dtype=gpubp.float64, device=device).expand(N // 2, 2)
    s = gpubp.bernoulli(probs)
    assert s.dtype == np.float64 and s.shape == (N // 2, 2)
    x = _np(s)
    _close_mean(x[:, 0], 0.1, 0.3)
    _close_mean(x[:, 1], 0.9, 0.3)
    y = _np(gpubp.rand(N, device=device).bernoulli(0.25))
    _close_mean(y, 0.25, math.sqrt(0.25 * 0.75))
    out = gpubp.empty(3, device=device)
    assert gpubp.bernoulli(gpubp.ones(3, device=device), out=out) is out and (_np(out) == 1).all()


def test_bernoulli_errors(device):
    with pytest.raises(TypeError, match="bernoulli"):
        gpubp.bernoulli(gpubp.tensor([1, 0], device=device))
    with pytest.raises(RuntimeError, match=r"p to be in \[0, 1\]"):
        gpubp.bernoulli(gpubp.rand(2, device=device), 1.5)
    if device == "cpu":
        with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
            gpubp.bernoulli(gpubp.tensor([0.5, 2.0], device=device))
        if torch is not None:
            with pytest.raises(RuntimeError):
                torch.bernoulli(torch.tensor([0.5, 2.0]))


def test_normal_tensor_forms(device):
    gpubp.manual_seed(14)
    mean = gpubp.tensor([0.0, 10.0, -5.0], dtype=gpubp.float64, device=device)
    std = gpubp.full((N // 4, 1), 2.0, dtype=gpubp.float64, device=device)
    s = gpubp.normal(mean, std)
    assert s.shape == (N // 4, 3) and s.dtype == np.float64
    x = _np(s)
    for j, m in enumerate([0.0, 10.0, -5.0]):
        _close_mean(x[:, j], m, 2.0)
        _close_var(x[:, j], 4.0, rel=0.1)
    y = _np(gpubp.normal(gpubp.full((N,), 3.0, device=device), 0.5))
    _close_mean(y, 3.0, 0.5)
    z = _np(gpubp.normal(1.0, gpubp.full((N,), 0.5, device=device)))
    _close_mean(z, 1.0, 0.5)
    _close_var(z, 0.25)


def test_normal_number_form(device):
    gpubp.manual_seed(15)
    s = gpubp.normal(2.0, 3.0, (N,), device=device, dtype=gpubp.float64)
    assert s.dtype == np.float64 and s.device.type == gpubp.device(device).type
    _close_mean(_np(s), 2.0, 3.0)
    _close_var(_np(s), 9.0)
    assert gpubp.normal(2, 3, size=(2, 3), device=device).dtype == np.float32
    assert gpubp.normal(0.0, 1.0, (2,), requires_grad=True, device=device).requires_grad


def test_normal_matches_torch_result_forms(device):
    if torch is None:
        pytest.skip("no torch")
    for args, kw in [
        ((gpubp.zeros(3, device=device), gpubp.ones(2, 1, device=device)), {}),
        ((gpubp.zeros(3, dtype=gpubp.float64, device=device), gpubp.ones(3, device=device)), {}),
        ((0.0, gpubp.ones(2, 1, device=device)), {}),
        ((gpubp.zeros(2, 2, device=device), 1.0), {}),
        ((2.0, 3.0, (2, 3)), {"device": device}),
    ]:
        ours = gpubp.normal(*args, **kw)
        theirs = torch.normal(*(torch.from_numpy(_np(a)) if isinstance(a, gpubp.Tensor) else a for a in args))
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_normal_errors(device):
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        gpubp.normal(gpubp.zeros(3, device=device), gpubp.tensor([1.0, -1.0, 1.0], device=device))
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        gpubp.normal(gpubp.zeros(3, device=device), -1.0)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        gpubp.normal(2.0, -3.0, (2,), device=device)
    with pytest.raises(RuntimeError, match="broadcast"):
        gpubp.normal(gpubp.zeros(3, device=device), gpubp.ones(4, device=device))
    with pytest.raises(TypeError, match="normal"):
        gpubp.normal(gpubp.zeros(3, dtype=gpubp.int64, device=device), 1.0)
    with pytest.raises(TypeError, match="size"):
        gpubp.normal(2.0, 3.0)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.normal(torch.zeros(3), torch.tensor([1.0, -1.0, 1.0]))
        with pytest.raises(TypeError):
            torch.normal(2.0, 3.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson(device, dtype):
    gpubp.manual_seed(16)
    lam = gpubp.tensor([[0.5, 4.0, 0.0]], dtype=getattr(gpubp, dtype), device=device).expand(N // 2, 3)
    s = gpubp.poisson(lam)
    assert s.dtype == np.dtype(dtype) and s.shape == (N // 2, 3)
    x = _np(s)
    assert np.all(x == np.round(x)) and x.min() >= 0 and (x[:, 2] == 0).all()
    for j, r in enumerate([0.5, 4.0]):
        _close_mean(x[:, j], r, math.sqrt(r))
        _close_var(x[:, j], r, rel=0.08)


def test_poisson_errors(device):
    with pytest.raises(TypeError, match="poisson"):
        gpubp.poisson(gpubp.tensor([1, 2], device=device))
    if device == "cpu":
        with pytest.raises(RuntimeError, match="non-negative"):
            gpubp.poisson(gpubp.tensor([1.0, -1.0], device=device))
        if torch is not None:
            with pytest.raises(RuntimeError):
                torch.poisson(torch.tensor([1.0, -1.0]))


def test_zero_gradients_as_torch(device):
    """normal and poisson record a zero gradient, as PyTorch's (no reparameterization); bernoulli records none."""
    m = gpubp.zeros(3, requires_grad=True, device=device)
    s = gpubp.ones(2, 1, requires_grad=True, device=device)
    y = gpubp.normal(m, s)
    assert y.requires_grad and y.shape == (2, 3)
    y.sum().backward()
    assert (_np(m.grad) == 0).all() and (_np(s.grad) == 0).all() and m.grad.shape == (3,) and s.grad.shape == (2, 1)
    lam = gpubp.full((4,), 2.0, requires_grad=True, device=device)
    c = gpubp.poisson(lam)
    assert c.requires_grad
    (c * 3).sum().backward()
    assert (_np(lam.grad) == 0).all()
    assert not gpubp.bernoulli(gpubp.rand(3, requires_grad=True, device=device)).requires_grad
    if torch is not None:
        tm = torch.zeros(3, requires_grad=True)
        torch.normal(tm, 1.0).sum().backward()
        assert (tm.grad.numpy() == 0).all()


# ---- one_hot ----


def test_one_hot_matches_torch(device):
    idx = np.array([[0, 3], [2, 1], [3, 3]])
    t = gpubp.tensor(idx, device=device)
    for args in [(), (5,), (-1,)]:
        ours = G.one_hot(t, *args)
        assert ours.dtype == np.int64 and ours.device == t.device
        expected = np.eye(args[0] if args and args[0] > 0 else 4, dtype=np.int64)[idx]
        np.testing.assert_array_equal(_np(ours), expected)
        if torch is not None:
            np.testing.assert_array_equal(_np(ours), torch.nn.functional.one_hot(torch.tensor(idx), *args).numpy())
    assert G.one_hot(gpubp.tensor(2, device=device), 3).shape == (3,)
    assert G.one_hot(gpubp.zeros(0, dtype=gpubp.int64, device=device), 3).shape == (0, 3)


def test_one_hot_errors(device):
    def idx(v):
        return gpubp.tensor(v, device=device)

    with pytest.raises(TypeError, match="LongTensor"):
        G.one_hot(idx([0.0, 1.0]), 3)
    with pytest.raises(TypeError, match="LongTensor"):
        G.one_hot(gpubp.tensor([0, 1], dtype=gpubp.int32, device=device), 3)
    with pytest.raises(RuntimeError, match="empty tensor"):
        G.one_hot(gpubp.zeros(0, dtype=gpubp.int64, device=device))
    with pytest.raises(RuntimeError, match="non-negative"):
        G.one_hot(idx([0, -1]))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        G.one_hot(idx([1]), -2)
    if device == "cpu":  # with num_classes given, only the CPU checks the values (a GPU would synchronize)
        with pytest.raises(RuntimeError, match="smaller than num_classes"):
            G.one_hot(idx([0, 2]), 2)
        with pytest.raises(RuntimeError, match="non-negative"):
            G.one_hot(idx([0, -1]), 3)


# ---- type_as ----


def test_type_as(device):
    x = gpubp.tensor([1.5, -2.5], requires_grad=True, device=device)
    assert x.type_as(gpubp.zeros(1, dtype=gpubp.int64, device=device)).dtype == np.int64
    y = x.type_as(gpubp.zeros(1, dtype=gpubp.float64, device=device))
    assert y.dtype == np.float64 and y.device == x.device
    (y * 2).sum().backward()  # a cast: differentiable
    np.testing.assert_array_equal(_np(x.grad), [2.0, 2.0])
    assert x.type_as(x) is x
    if gpubp.cuda_available():
        c = gpubp.zeros(2, device="cpu").type_as(gpubp.zeros(1, dtype=gpubp.int64, device="cuda"))
        assert c.is_cuda and c.dtype == np.int64
    with pytest.raises(TypeError, match="type_as"):
        x.type_as(np.float64)
    if torch is not None:
        tx = torch.tensor([1.5, -2.5])
        np.testing.assert_array_equal(
            _np(x.type_as(gpubp.zeros(1, dtype=gpubp.int32, device=device))),
            tx.type_as(torch.zeros(1, dtype=torch.int32)).numpy(),
        )


def test_registered():
    assert {"multinomial", "bernoulli", "one_hot"} <= set(G.NON_DIFFERENTIABLE)
    assert {"normal", "poisson"} <= set(G.DIFFERENTIABLE)
    for name in ("multinomial", "bernoulli", "normal", "poisson"):
        assert getattr(gpubp, name) is getattr(G, name)
    for name in ("bernoulli_", "random_", "exponential_", "geometric_", "log_normal_", "cauchy_", "type_as"):
        assert callable(getattr(gpubp.Tensor, name))


def test_zero_d_and_empty_inputs(device):
    gpubp.manual_seed(19)
    for shape in [(), (0,), (2, 0)]:
        p = gpubp.full(shape, 0.5, device=device)
        for t in (
            gpubp.bernoulli(p),
            gpubp.normal(p, 1.0),
            gpubp.normal(0.0, p),
            gpubp.poisson(p),
            p.clone().bernoulli_(0.5),
            p.clone().uniform_(),
            p.clone().random_(3),
            p.clone().geometric_(0.5),
            gpubp.rand(shape, device=device),
            gpubp.randint(3, shape, device=device),
            creation.randint_like(p, 3),
        ):
            assert t.shape == shape and t.device == p.device


def test_multinomial_on_zero_categories(device):
    with pytest.raises(RuntimeError, match="multinomial"):
        gpubp.multinomial(gpubp.ones(0, device=device), 1)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.ones(0), 1)


def test_multinomial_single_draw_frequencies(device):
    """num_samples=1 (the token-sampling path) draws each category with its probability."""
    gpubp.manual_seed(20)
    w = np.array([0.5, 0.0, 1.5, 2.0])
    s = _np(gpubp.multinomial(gpubp.tensor(np.tile(w, (N // 2, 1)), device=device), 1))
    assert s.shape == (N // 2, 1)
    freq = np.bincount(s[:, 0], minlength=4) / len(s)
    p = w / w.sum()
    assert freq[1] == 0 and np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / len(s)) + 1e-12), (freq, p)


def test_manual_seed_returns_the_default_generator():
    g = gpubp.manual_seed(5)
    assert g is gpubp.default_generator and g.initial_seed() == 5


def test_samplers_do_not_synchronize(device):
    """On a GPU the samplers stay on the device: only multinomial's and normal's argument checks and one_hot's
    inferred size read data back (as PyTorch's)."""
    if device == "cpu":
        pytest.skip("the host never waits for itself")
    x = gpubp.zeros(4, 3, device=device)
    p = gpubp.rand(3, device=device)
    lam = gpubp.rand(4, device=device) * 3
    idx = gpubp.tensor([0, 2], device=device)
    g = gpubp.Generator().manual_seed(1)
    calls = [
        lambda: x.uniform_(),
        lambda: x.normal_(),
        lambda: x.bernoulli_(0.2),
        lambda: x.bernoulli_(p),
        lambda: x.random_(3),
        lambda: x.exponential_(),
        lambda: x.geometric_(0.3),
        lambda: x.log_normal_(),
        lambda: x.cauchy_(),
        lambda: x.uniform_(generator=g),
        lambda: gpubp.bernoulli(p),
        lambda: gpubp.normal(p, 1.0),
        lambda: gpubp.normal(0.0, 1.0, (3,), device=device),
        lambda: gpubp.poisson(lam),
        lambda: G.one_hot(idx, 4),
        lambda: gpubp.rand(3, device=device, generator=g),
        lambda: gpubp.randint(0, 4, (3,), device=device),
        lambda: gpubp.randperm(5, device=device),
        lambda: creation.randint_like(x, 4),
    ]
    before = get_sync_debug_mode()
    gpubp.set_sync_debug_mode("error")
    try:
        for call in calls:
            call()
    finally:
        gpubp.set_sync_debug_mode(before)
