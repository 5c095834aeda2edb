"""The NumPy fast paths: GELU keeping act'(x) for its backward, the float32 erf, and scatter_add by segment sums,
checked against the formulas they replace (the Backend references, np.add.at, SciPy) and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import rng_for

import gpubp
from gpubp.backend.base import Backend
from gpubp.backend.numpy_backend import NumpyBackend, _segment_scatter_add
from gpubp.backend.special import erf32

CPU = NumpyBackend()
_GELU = {"gelu": "none", "gelu_tanh": "tanh"}


def _erf64(x: np.ndarray) -> np.ndarray:
    import scipy.special

    return scipy.special.erf(x.astype(np.float64))


def test_erf32_is_within_three_float32_ulp_of_the_exact_erf() -> None:
    rng = rng_for("erf32")
    # dense over [0, 4] (every 4099th float32 bit pattern), the ends of the fit, both signs, and special values
    bits = np.arange(0, np.float32(4.5).view(np.uint32), 4099, dtype=np.uint32)
    x = np.concatenate([bits.view(np.float32), rng.standard_normal(10_000).astype(np.float32) * 3])
    x = np.concatenate([x, -x, np.float32([1e-45, 1e-30, 3.99, 4.0, 4.01, 10.0, np.inf, -np.inf])])
    want = _erf64(x)
    got = erf32(x)
    assert got.dtype == np.float32
    ulp = np.spacing(np.abs(want.astype(np.float32))).astype(np.float64)
    assert np.max(np.abs(got - want) / ulp) <= 3.0
    assert np.isnan(erf32(np.float32([np.nan]))).all()
    assert np.signbit(erf32(np.float32([-0.0]))).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_backend_erf_keeps_the_dtype(dtype: type) -> None:
    x = (rng_for("erf", dtype).standard_normal((3, 5)) * 2).astype(dtype)
    got = CPU.erf(x[:, ::2])  # non-contiguous
    assert got.dtype == dtype
    tol = {np.float16: 1e-3, np.float32: 4e-7, np.float64: 1e-15}[dtype]
    np.testing.assert_allclose(got, _erf64(x[:, ::2]), rtol=tol, atol=tol)
    assert CPU.erf(np.float32(0.5)).dtype == np.float32  # a 0-d input


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_kept_derivative_matches_the_reference_formulas(name: str, dtype: type) -> None:
    rng = rng_for("keep", name, dtype)
    x = (rng.standard_normal((4, 7)) * 3).astype(dtype)
    g = rng.standard_normal((4, 7)).astype(dtype)
    y, kept = CPU.act_forward_keep(name, x)
    assert y.dtype == dtype and kept.dtype == dtype
    tol = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-13}[dtype]
    np.testing.assert_allclose(y, CPU.act_forward(name, x), rtol=tol, atol=tol)
    np.testing.assert_allclose(
        CPU.act_backward_kept(name, g, x, kept), CPU.act_backward(name, g, x), rtol=tol * 2, atol=tol * 2
    )
    # a backend that keeps nothing (the CUDA kernels recompute) falls back to act_backward on the saved tensor
    y0, none = Backend.act_forward_keep(CPU, name, x)
    assert none is None
    np.testing.assert_array_equal(CPU.act_backward_kept(name, g, x, None), CPU.act_backward(name, g, x))


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh"])
def test_kept_derivative_in_cache_sized_chunks_equals_one_pass(name: str) -> None:
    """A large input goes through act_derivative chunk by chunk: the same bits as one pass, a partial last chunk
    included; a non-contiguous one takes the single pass."""
    from gpubp.backend.numpy_backend import _CACHE_CHUNK

    rng = rng_for("keep-chunks", name)
    x = (rng.standard_normal((3 * _CACHE_CHUNK // 5 + 7) * 5) * 3).astype(np.float32).reshape(-1, 5)
    for arr in (x, x[:, ::2]):
        y, kept = CPU.act_forward_keep(name, arr)
        y1, kept1 = CPU.act_derivative(name, arr)
        assert y.shape == arr.shape and kept.shape == arr.shape
        np.testing.assert_array_equal(y, y1)
        np.testing.assert_array_equal(kept, kept1)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_forward_and_backward_match_torch(device: str, approximate: str) -> None:
    rng = rng_for("gelu", approximate)
    x = (rng.standard_normal((6, 8)) * 3).astype(np.float32)
    g = rng.standard_normal((8, 6)).astype(np.float32)
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    gy = gpubp.nn.functional.gelu(gx.T, approximate=approximate)  # a non-contiguous input
    ty = torch.nn.functional.gelu(tx.T, approximate=approximate)
    np.testing.assert_allclose(gy.detach().cpu().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    gy.backward(gpubp.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient_of_gradient_stays_exact(device: str, approximate: str) -> None:
    x = rng_for("gelu2", approximate).standard_normal((5,)) * 2
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    (gd,) = gpubp.autograd.grad(gpubp.nn.functional.gelu(gx, approximate=approximate).sum(), gx, create_graph=True)
    (td,) = torch.autograd.grad(torch.nn.functional.gelu(tx, approximate=approximate).sum(), tx, create_graph=True)
    np.testing.assert_allclose(gd.detach().cpu().numpy(), td.detach().numpy(), rtol=1e-12, atol=1e-12)
    (gdd,) = gpubp.autograd.grad((gd * gd).sum(), gx)
    (tdd,) = torch.autograd.grad((td * td).sum(), tx)
    np.testing.assert_allclose(gdd.cpu().numpy(), tdd.numpy(), rtol=1e-10, atol=1e-12)


def test_gelu_keeps_nothing_without_a_gradient_to_track(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    x = rng_for("nograd").standard_normal(6).astype(np.float32)
    want = torch.nn.functional.gelu(torch.tensor(x)).numpy()

    def refuse(*args: object) -> None:
        raise AssertionError("act_forward_keep called with no gradient to track")

    for cls in {NumpyBackend, type(gpubp.tensor(x, device=device)._be)}:
        monkeypatch.setattr(cls, "act_forward_keep", refuse)
    with gpubp.no_grad():
        y = gpubp.nn.functional.gelu(gpubp.tensor(x, device=device, requires_grad=True))
    assert y.grad_fn is None
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-6, atol=1e-7)
    y = gpubp.nn.functional.gelu(gpubp.tensor(x, device=device))
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-6, atol=1e-7)


# ---- scatter_add -------------------------------------------------------------------------------------------------


def _both(target: np.ndarray, key: tuple, values: np.ndarray, segments: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The segment-sum path's result (asserting that it took the key, or declined it) and np.add.at's."""
    fast = target.copy(order="K")  # a Fortran-ordered target stays one
    slow = target.copy(order="K")
    assert _segment_scatter_add(fast, key, values) is segments
    if not segments:
        CPU.scatter_add(fast, key, values)
    np.add.at(slow, key, values)
    return fast, slow


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 3, 40])
def test_scatter_add_rows_matches_add_at(dtype: type, rows: int) -> None:
    rng = rng_for("scatter", dtype, rows)
    target = rng.standard_normal((rows, 5, 3)).astype(dtype)
    idx = rng.integers(-rows, rows, size=(7, 9))  # repeated and negative indices
    idx[0, :] = idx[0, 0]  # one index repeated 9 times and more (the long-run path)
    idx[1, :] = idx[0, 0]
    values = rng.standard_normal((7, 9, 5, 3)).astype(dtype)
    fast, slow = _both(target, (idx,), values)
    exact = target.astype(np.float64)
    np.add.at(exact, (idx,), values.astype(np.float64))
    tol = {np.float16: 4e-3, np.float32: 1e-6, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(fast, exact, rtol=tol, atol=tol * 4)
    np.testing.assert_allclose(fast, slow, rtol=tol * 8, atol=tol * 32)
    assert fast.dtype == dtype


def test_scatter_add_broadcast_and_noncontiguous_values_and_a_1d_target() -> None:
    rng = rng_for("scatter-bcast")
    target = rng.standard_normal(11)
    idx = rng.integers(0, 11, size=30)
    fast, slow = _both(target, (idx,), np.float64(2.5))  # a scalar, broadcast
    np.testing.assert_allclose(fast, slow, rtol=1e-14)
    values = rng.standard_normal((60, 4))[::2, 1]  # strided
    fast, slow = _both(target, idx, values)  # a bare index array, as well as a 1-tuple
    np.testing.assert_allclose(fast, slow, rtol=1e-14)
    target2 = rng.standard_normal((6, 4)).astype(np.float32)
    fast, slow = _both(target2, (idx % 6,), np.ones((1, 4), dtype=np.float32))
    np.testing.assert_allclose(fast, slow, rtol=1e-6)


def test_scatter_add_several_index_arrays_as_gather_keys() -> None:
    rng = rng_for("scatter-multi")
    target = rng.standard_normal((4, 5, 3)).astype(np.float32)
    key = (rng.integers(-4, 4, size=(6, 1)), rng.integers(0, 5, size=(1, 7)))  # broadcast against each other
    values = rng.standard_normal((6, 7, 3)).astype(np.float32)
    fast, slow = _both(target, key, values)
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)


def test_scatter_add_other_keys_and_bad_indices_keep_add_at() -> None:
    rng = rng_for("scatter-other")
    target = rng.standard_normal((4, 6))
    fast, slow = _both(target, (slice(None), rng.integers(0, 6, size=5)), rng.standard_normal((4, 5)), False)
    np.testing.assert_array_equal(fast, slow)
    fast, slow = _both(target, (np.zeros(0, dtype=np.int64),), np.zeros((0, 6)), False)  # empty: nothing added
    np.testing.assert_array_equal(fast, target)
    fast, slow = _both(np.asfortranarray(target), (np.array([1, 1, 3]),), np.ones((3, 6)), False)  # no row view
    np.testing.assert_array_equal(fast, slow)
    counts = np.zeros(3, dtype=np.int64)  # an integer target: add.at's exact integer sums
    CPU.scatter_add(counts, (np.array([0, 2, 2]),), np.ones(3, dtype=np.int64))
    np.testing.assert_array_equal(counts, [1, 0, 2])
    before = target.copy()
    with pytest.raises(IndexError):
        CPU.scatter_add(target, (np.array([1, 4]),), np.ones((2, 6)))
    np.testing.assert_array_equal(target[2:], before[2:])


@pytest.mark.parametrize("vocab", [7, 300])
def test_embedding_forward_and_backward_match_torch(device: str, vocab: int) -> None:
    rng = rng_for("embedding", vocab)
    w = rng.standard_normal((vocab, 6)).astype(np.float32)
    idx = rng.integers(0, vocab, size=(5, 40))  # repeats surely for vocab 7
    g = rng.standard_normal((5, 40, 6)).astype(np.float32)
    gw = gpubp.tensor(w, device=device, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    gy = gpubp.nn.functional.embedding(gpubp.tensor(idx, device=device), gw, padding_idx=-1)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=vocab - 1)
    np.testing.assert_array_equal(gy.detach().cpu().numpy(), ty.detach().numpy())
    gy.backward(gpubp.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(gw.grad.cpu().numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_index_select_and_gather_backward_match_torch(device: str) -> None:
    rng = rng_for("select-gather")
    x = rng.standard_normal((5, 4))
    i = rng.integers(0, 5, size=9)
    j = rng.integers(0, 4, size=(5, 6))
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    (
        gpubp.index_select(gx, 0, gpubp.tensor(i, device=device)).sum() * 2
        + gpubp.gather(gx, 1, gpubp.tensor(j, device=device)).pow(2).sum()
    ).backward()
    (
        torch.index_select(tx, 0, torch.tensor(i)).sum() * 2 + torch.gather(tx, 1, torch.tensor(j)).pow(2).sum()
    ).backward()
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
