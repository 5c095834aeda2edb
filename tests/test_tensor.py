"""Tensor creation, attributes, conversions, dtype rules and DLPack."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import torch

import gpubp


def test_tensor_from_python_data_defaults(device: str) -> None:
    assert gpubp.tensor([1.5, 2.0], device=device).dtype == gpubp.float32
    assert gpubp.tensor([1, 2], device=device).dtype == gpubp.int64
    assert gpubp.tensor([True, False], device=device).dtype == gpubp.bool
    assert gpubp.tensor(np.zeros(2, np.float64), device=device).dtype == gpubp.float64
    assert gpubp.tensor(3.0, device=device).shape == ()
    assert gpubp.tensor([[1, 2]], dtype="float64", device=device).dtype == gpubp.float64


def test_tensor_copies_its_data(device: str) -> None:
    a = np.arange(3.0)
    t = gpubp.tensor(a, device=device)
    a[0] = 100
    assert t.tolist() == [0.0, 1.0, 2.0]


def test_factories(device: str) -> None:
    assert gpubp.zeros(2, 3, device=device).shape == (2, 3)
    assert gpubp.ones((4,), device=device).detach().cpu().numpy().sum() == 4
    assert gpubp.full((2, 2), 7, device=device).dtype == gpubp.int64
    assert gpubp.full((2,), 0.5, device=device).tolist() == [0.5, 0.5]
    assert gpubp.empty(3, device=device).shape == (3,)
    assert gpubp.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
    assert gpubp.arange(0, 1, 0.25, device=device).dtype == gpubp.float32
    np.testing.assert_allclose(gpubp.linspace(0, 1, 5, device=device).detach().cpu().numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(gpubp.eye(3, device=device).detach().cpu().numpy(), np.eye(3))
    x = gpubp.randn(2, 3, dtype=gpubp.float64, device=device)
    assert gpubp.zeros_like(x).dtype == gpubp.float64 and gpubp.ones_like(x).shape == (2, 3)
    assert gpubp.randn_like(x).shape == (2, 3) and gpubp.rand_like(x).dtype == gpubp.float64
    assert gpubp.full_like(x, 2.0).detach().cpu().numpy().max() == 2.0
    r = gpubp.rand(1000, device=device).detach().cpu().numpy()
    assert r.min() >= 0 and r.max() < 1 and 0.4 < r.mean() < 0.6
    i = gpubp.randint(3, 7, (1000,), device=device).detach().cpu().numpy()
    assert i.min() >= 3 and i.max() <= 6 and i.dtype == np.int64
    assert gpubp.ones(2, requires_grad=True, device=device).requires_grad


def test_manual_seed_reproduces(device: str) -> None:
    gpubp.manual_seed(123)
    a = gpubp.randn(5, device=device).detach().cpu().numpy()
    gpubp.manual_seed(123)
    b = gpubp.randn(5, device=device).detach().cpu().numpy()
    np.testing.assert_array_equal(a, b)
    assert np.std(gpubp.randn(10000, device=device).detach().cpu().numpy()) == pytest.approx(1.0, abs=0.05)


def test_attributes(device: str) -> None:
    x = gpubp.randn(2, 3, 4, device=device, requires_grad=True)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.numel() == 24 and len(x) == 2
    assert x.device == device and str(x.device).startswith(device)
    assert x.is_leaf and x.grad is None and x.T.shape == (4, 3, 2)
    assert x.mT.shape == (2, 4, 3)


def test_conversions(device: str) -> None:
    x = gpubp.tensor([[1.5, -2.0]], device=device)
    assert x.detach().cpu().numpy().dtype == np.float32
    assert x.tolist() == [[1.5, -2.0]]
    assert x[0, 0].item() == 1.5 and float(x[0, 0]) == 1.5 and int(x[0, 1]) == -2
    assert bool(x[0, 0] > 0)
    assert x.double().dtype == gpubp.float64 and x.half().dtype == gpubp.float16
    assert x.long().tolist() == [[1, -2]] and x.int().dtype == gpubp.int32 and x.bool().dtype == gpubp.bool
    assert x.to(gpubp.float64).dtype == gpubp.float64
    assert x.cpu().device == "cpu"
    assert x.clone().tolist() == x.tolist()
    assert "tensor(" in repr(x) and "grad_fn" in repr(x.requires_grad_() * 2)
    assert f"{x[0, 0]:.2f}" == "1.50"


def test_numpy_interop_cpu() -> None:
    x = gpubp.tensor([1.0, 2.0], device="cpu")
    assert np.asarray(x).tolist() == [1.0, 2.0]
    assert (np.ones(2, np.float32) + x).tolist() == [2.0, 3.0]  # numpy defers to Tensor
    shared = np.arange(3.0)
    t = gpubp.from_numpy(shared)
    shared[0] = 9
    assert t[0].item() == 9


def test_python_scalars_keep_float32(device: str) -> None:
    x = gpubp.ones(3, device=device)
    for y in (x * 2.5, 2.5 * x, x + 1, x / 3, x**2.0, 1 - x, x * np.float64(2.0)):
        assert y.dtype == gpubp.float32
    i = gpubp.arange(3, device=device)
    assert (i * 2).dtype == gpubp.int64
    assert (i * 2.5).dtype == gpubp.float32
    assert (i / 2).dtype == gpubp.float32
    assert (gpubp.tensor([True], device=device) + 1).dtype == gpubp.int64


def test_tensor_dtype_promotion_follows_pytorch(device: str) -> None:
    f32 = gpubp.ones(2, device=device)
    f64 = gpubp.ones(2, dtype=gpubp.float64, device=device)
    i64 = gpubp.ones(2, dtype=gpubp.int64, device=device)
    i32 = gpubp.ones(2, dtype=gpubp.int32, device=device)
    assert (f32 + f64).dtype == gpubp.float64
    assert (f32 * i64).dtype == gpubp.float32  # NumPy would say float64
    assert (i32 + i64).dtype == gpubp.int64
    assert (f32 > i64).dtype == gpubp.bool


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_dlpack_roundtrip_with_torch() -> None:
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    g = gpubp.from_dlpack(t)
    t[0, 0] = 42  # no copy: the change shows through
    assert g[0, 0].item() == 42
    back = torch.from_dlpack(gpubp.tensor([[1.0, 2.0]], device="cpu"))
    assert back.tolist() == [[1.0, 2.0]]


def test_dlpack_roundtrip_with_numpy() -> None:
    x = gpubp.tensor([1.0, 2.0, 3.0], device="cpu")
    a = np.from_dlpack(x)
    a[1] = 7
    assert x[1].item() == 7
    assert gpubp.from_dlpack(np.arange(3)).dtype == gpubp.int64


def test_iteration_and_hash(device: str) -> None:
    x = gpubp.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    rows = [r.tolist() for r in x]
    assert rows == [[1.0, 2.0], [3.0, 4.0]]
    assert len({x, x}) == 1


def test_set_default_device_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpubp import backend

    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("GPUBP_DEVICE", "cpu")
    assert gpubp.default_device() == "cpu"
    gpubp.set_default_device("cpu")
    assert gpubp.zeros(1).device == "cpu"


def test_sync_debug_mode_blocks_host_reads(device: str) -> None:
    x = gpubp.ones(2, device=device)
    gpubp.set_sync_debug_mode("error")
    try:
        reads = (lambda: x.numpy(force=True), x.tolist, lambda: x[0].item(), lambda: float(x[0]), lambda: bool(x[0]))
        for read in (*reads, lambda: repr(x)):
            with pytest.raises(RuntimeError, match="sync debug mode"):
                read()
        y = (x * 2).sum()  # computing is fine: nothing is read back
    finally:
        gpubp.set_sync_debug_mode("default")
    assert y.item() == 4.0


def test_equality_with_non_tensors(device: str) -> None:
    x = gpubp.ones(2, device=device)
    assert (x == None) is False  # noqa: E711 - Python's answer, not an elementwise error
    assert (x != "a") is True
    assert (x == 1).tolist() == [True, True]
