"""The creation factories in every PyTorch signature form (shapes and dtypes against torch's), their errors, the
*_like factories, empty_strided, and Tensor.new_*."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import torch

import gpubp
from gpubp import creation

N = 40_000


def _np(t: gpubp.Tensor) -> np.ndarray:
    t = t.detach()
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()


def _close_mean(x: np.ndarray, mean: float, std: float, z: float = 5.0) -> None:
    x = np.asarray(x, dtype=np.float64).ravel()
    assert abs(x.mean() - mean) < z * std / math.sqrt(x.size), (x.mean(), mean)


def _close_var(x: np.ndarray, var: float, rel: float = 0.05) -> None:
    x = np.asarray(x, dtype=np.float64).ravel()
    assert abs(x.var() - var) < rel * var, (x.var(), var)


# ---- factories: every signature form against torch's shape and dtype ----

FORMS = [
    ("zeros", (2, 3), {}),
    ("zeros", ((2, 3),), {}),
    ("zeros", ([2, 3],), {}),
    ("zeros", ((),), {}),
    ("zeros", (0,), {}),
    ("zeros", (), {"size": (2, 3)}),
    ("zeros", (2,), {"dtype": "int32"}),
    ("ones", (2, 3), {"dtype": "float64"}),
    ("ones", ([4],), {"dtype": "bool"}),
    ("empty", (), {"size": (2, 3)}),
    ("empty", (2, 3), {"dtype": "int64"}),
    ("full", ((2, 3), 1.5), {}),
    ("full", ((2,), 3), {}),
    ("full", ((2,), True), {}),
    ("full", ([2, 1], 2), {"dtype": "float64"}),
    ("full", (), {"size": (2,), "fill_value": 3.0}),
    ("rand", (2, 3), {}),
    ("rand", ((2, 3),), {"dtype": "float64"}),
    ("rand", (), {"size": [3]}),
    ("randn", (2, 3), {}),
    ("randn", ([2, 3],), {"dtype": "float16"}),
    ("randint", (5, (2,)), {}),
    ("randint", (2, 5, (2, 3)), {}),
    ("randint", (5, (2, 3)), {"dtype": "float32"}),
    ("randint", (5, (2, 3)), {"dtype": "int32"}),
    ("randint", (5,), {"size": (2,)}),
    ("randint", (), {"low": 2, "high": 5, "size": (2,)}),
    ("randint", (), {"high": 5, "size": [2]}),
    ("randint", (0, 5, []), {}),
    ("randperm", (5,), {}),
    ("randperm", (5,), {"dtype": "float32"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), FORMS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FORMS)])
def test_factory_forms_match_torch(device, name, args, kwargs):
    ours = getattr(gpubp, name)(
        *args, device=device, **{k: getattr(gpubp, v) if k == "dtype" else v for k, v in kwargs.items()}
    )
    assert ours.device.type == gpubp.device(device).type
    if torch is None:
        return
    theirs = getattr(torch, name)(*args, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()})
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factory_requires_grad(device, name):
    t = getattr(gpubp, name)(2, 3, requires_grad=True, device=device)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="floating"):
        gpubp.randint(5, (2,), requires_grad=True, device=device)
    assert gpubp.randint(5, (2,), dtype=gpubp.float32, requires_grad=True, device=device).requires_grad


FACTORY_ERRORS = [
    ("randint", (5, 2, (2,)), {}, RuntimeError, "greater than low"),
    ("randint", (5, 2), {}, TypeError, "size"),
    ("randint", (5,), {}, TypeError, "size"),
    ("randint", (2.5, (2,)), {}, TypeError, "int"),
    ("randint", (0, 300, (2,)), {"dtype": "uint8"}, RuntimeError, "out of bounds"),
    ("full", (2, 3.0), {}, TypeError, "tuple of ints"),
    ("rand", (2,), {"dtype": "int64"}, RuntimeError, "floating point"),
    ("randn", (2,), {"dtype": "int64"}, RuntimeError, "floating point"),
    ("zeros", (-1,), {}, RuntimeError, "negative"),
    ("randperm", (-1,), {}, RuntimeError, "non-negative"),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "exc", "match"), FACTORY_ERRORS)
def test_factory_errors(device, name, args, kwargs, exc, match):
    kw = {k: getattr(gpubp, v) if k == "dtype" else v for k, v in kwargs.items()}
    with pytest.raises(exc, match=match) as info:
        getattr(gpubp, name)(*args, device=device, **kw)
    assert name in str(info.value)
    if torch is not None:
        with pytest.raises((exc, NotImplementedError)):
            getattr(torch, name)(*args, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()})


def test_randint_and_rand_values(device):
    gpubp.manual_seed(17)
    x = _np(gpubp.randint(-3, 4, (N,), device=device))
    assert x.min() == -3 and x.max() == 3
    _close_mean(x, 0.0, 2.0)
    u = _np(gpubp.rand(N, device=device, dtype=gpubp.float64))
    assert 0 <= u.min() and u.max() < 1
    _close_mean(u, 0.5, math.sqrt(1 / 12))
    z = _np(gpubp.randn(N, device=device))
    _close_mean(z, 0.0, 1.0)
    _close_var(z, 1.0)
    p = _np(gpubp.randperm(50, device=device))
    assert sorted(p) == list(range(50))


LIKES = [
    ("zeros_like", (), {}),
    ("zeros_like", (), {"dtype": "int32"}),
    ("ones_like", (), {"dtype": "float64"}),
    ("full_like", (2.5,), {}),
    ("full_like", (7,), {"dtype": "int64"}),
    ("rand_like", (), {}),
    ("rand_like", (), {"dtype": "float64"}),
    ("randn_like", (), {"dtype": "float16"}),
    ("empty_like", (), {}),
    ("empty_like", (), {"dtype": "int16"}),
    ("randint_like", (5,), {}),
    ("randint_like", (2, 5), {}),
    ("randint_like", (), {"high": 5}),
    ("randint_like", (), {"low": 1, "high": 5, "dtype": "int64"}),
]


# a float sampler of an int tensor without a float dtype= is an error (test_like_values)
LIKE_FORMS = [
    (src, *form)
    for src in ("float32", "int32")
    for form in LIKES
    if not (src == "int32" and form[0] in ("rand_like", "randn_like") and "dtype" not in form[2])
]


@pytest.mark.parametrize(
    ("src_dtype", "name", "args", "kwargs"), LIKE_FORMS, ids=[f"{n}-{i}" for i, (_, n, _, _) in enumerate(LIKE_FORMS)]
)
def test_like_factories_match_torch(device, src_dtype, name, args, kwargs):
    fn = getattr(gpubp, name, None) or getattr(creation, name)
    x = gpubp.zeros(2, 3, dtype=getattr(gpubp, src_dtype), device=device)
    ours = fn(x, *args, **{k: getattr(gpubp, v) if k == "dtype" else v for k, v in kwargs.items()})
    assert ours.shape == (2, 3) and ours.device == x.device
    if torch is None:
        return
    tx = torch.zeros(2, 3, dtype=getattr(torch, src_dtype))
    theirs = getattr(torch, name)(tx, *args, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()})
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_like_values(device):
    gpubp.manual_seed(18)
    x = gpubp.zeros(N, dtype=gpubp.int32, device=device)
    r = creation.randint_like(x, 3, 6)
    assert r.dtype == np.int32 and set(np.unique(_np(r))) == {3, 4, 5}
    assert (_np(gpubp.full_like(x, 4)) == 4).all()
    assert (_np(gpubp.zeros_like(gpubp.ones(3, device=device), dtype=gpubp.int64)) == 0).all()
    with pytest.raises(RuntimeError, match="floating point"):
        gpubp.rand_like(x)
    with pytest.raises(RuntimeError, match="greater than low"):
        creation.randint_like(x, 5, 2)


def test_empty_strided(device):
    t = creation.empty_strided((2, 3), (1, 2), device=device)
    assert t.shape == (2, 3) and t.stride() == (1, 2) and t.dtype == np.float32
    t.fill_(1.5)
    assert (_np(t) == 1.5).all()
    e = creation.empty_strided((0, 3), (3, 1), dtype=gpubp.int64, device=device)
    assert e.shape == (0, 3) and e.dtype == np.int64
    with pytest.raises(RuntimeError, match="strides"):
        creation.empty_strided((2, 3), (1,), device=device)
    if torch is not None:
        assert torch.empty_strided((2, 3), (1, 2)).stride() == t.stride()


# ---- Tensor.new_* (tensor.py) ----


@pytest.mark.parametrize("src_dtype", ["float32", "int64"])
def test_new_factories(device, src_dtype):
    x = gpubp.zeros(3, dtype=getattr(gpubp, src_dtype), device=device)
    for t, shape, fill in [
        (x.new_zeros(2, 3), (2, 3), 0),
        (x.new_zeros((2, 3)), (2, 3), 0),
        (x.new_ones([2]), (2,), 1),
        (x.new_full((2,), 5), (2,), 5),
        (x.new_empty(4), (4,), None),
        (x.new_tensor([1, 2]), (2,), None),
    ]:
        assert t.shape == shape and t.dtype == x.dtype and t.device == x.device
        if fill is not None:
            assert (_np(t) == fill).all()
    assert x.new_zeros(2, dtype=gpubp.float64).dtype == np.float64
    assert x.new_ones(2, dtype=gpubp.float32, requires_grad=True).requires_grad
    if torch is not None:
        tx = torch.zeros(3, dtype=getattr(torch, src_dtype))
        assert str(x.new_full((2,), 5.5).dtype) == str(tx.new_full((2,), 5.5).dtype).replace("torch.", "")
        np.testing.assert_array_equal(_np(x.new_full((2,), 5.5)), tx.new_full((2,), 5.5).numpy())


def test_new_factories_size_keyword(device):
    x = gpubp.zeros(3, device=device)
    assert x.new_zeros(size=(2,)).shape == (2,)
    assert x.new_empty(size=(2,)).shape == (2,)
