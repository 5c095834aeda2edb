"""Every bad input gets a clear error naming the op and what was expected, before any state changes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gpubp
from gpubp import backend


def test_broadcast_mismatch(device: str) -> None:
    a, b = gpubp.ones(2, 3, device=device), gpubp.ones(4, device=device)
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match="mul: shapes"):
        a * b


def test_matmul_shape_mismatch(device: str) -> None:
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        gpubp.ones(2, 3, device=device) @ gpubp.ones(4, 5, device=device)
    with pytest.raises(ValueError, match="matmul: batch dims"):
        gpubp.ones(2, 2, 3, device=device) @ gpubp.ones(3, 3, 1, device=device)
    with pytest.raises(ValueError, match="linear: input of shape"):
        gpubp.linear(gpubp.ones(2, 3, device=device), gpubp.ones(4, 5, device=device))
    with pytest.raises(TypeError, match="matmul: dtypes differ"):
        gpubp.ones(2, 2, device=device) @ gpubp.ones(2, 2, dtype=gpubp.float64, device=device)


def test_different_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two backends standing for two devices: mixing them in one op is refused."""
    from gpubp.backend.numpy_backend import NumpyBackend

    other = NumpyBackend()
    other.device = backend.Device("cuda", 7)
    a = gpubp.ones(2, device="cpu")
    b = gpubp.Tensor._wrap(np.ones(2, np.float32), other)
    with pytest.raises(ValueError, match=r"add: tensors are on different devices \(cpu and cuda:7\)"):
        a + b
    with pytest.raises(ValueError, match="matmul: tensors are on different devices"):
        a @ b
    with pytest.raises(ValueError, match="cat: tensors are on different devices"):
        gpubp.cat([a, b])


def test_backward_on_non_scalar_without_gradient(device: str) -> None:
    x = gpubp.ones(2, 3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"single-element output, got shape \(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected the output's shape \(2, 3\)"):
        (x * 2).backward(gpubp.ones(3, device=device))


def test_backward_on_tensor_without_grad(device: str) -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        gpubp.ones(1, device=device).backward()


def test_integer_tensor_cannot_require_grad(device: str) -> None:
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        gpubp.arange(3, device=device).requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        gpubp.tensor([1, 2], requires_grad=True, device=device)


def test_leaf_inplace_while_recording(device: str) -> None:
    w = gpubp.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf tensor"):
        w[0] = 5.0
    assert w.tolist() == [1.0, 1.0, 1.0]
    assert w._vc[0] == 0


def test_inplace_dtype_and_shape_errors(device: str) -> None:
    i = gpubp.arange(3, device=device)
    with pytest.raises(RuntimeError, match="add_: the result has dtype float32, which cannot be stored in this int64"):
        i += 0.5
    with pytest.raises(RuntimeError, match="div_"):
        i /= 2
    x = gpubp.ones(3, device=device)
    with pytest.raises(
        ValueError, match=r"add_: an operand of shape \(2, 3\) does not broadcast to this tensor's shape \(3,\)"
    ):
        x += gpubp.ones(2, 3, device=device)
    assert x.tolist() == [1.0, 1.0, 1.0] and i.tolist() == [0, 1, 2]


def test_unknown_device() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        gpubp.zeros(2, device="tpu")
    with pytest.raises(ValueError, match="unknown device"):
        gpubp.set_default_device("cuda:x")


def test_cuda_without_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backend, "_cupy_installed", lambda: False)
    monkeypatch.setattr(backend, "_backends", {k: v for k, v in backend._backends.items() if k.type == "cpu"})
    with pytest.raises(RuntimeError, match=r"needs CuPy.*pip install 'gpubp\[cuda12\]'"):
        gpubp.zeros(2, device="cuda")


def test_cuda_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_cupy_installed", lambda: True)
    monkeypatch.setattr(backend, "device_count", lambda: 0)
    monkeypatch.setattr(backend, "_backends", {k: v for k, v in backend._backends.items() if k.type == "cpu"})
    with pytest.raises(RuntimeError, match="no CUDA GPU is visible"):
        gpubp.zeros(2, device="cuda:0")


def test_reduction_and_shape_errors(device: str) -> None:
    x = gpubp.ones(2, 3, device=device)
    with pytest.raises(IndexError, match="sum: dim 2 is out of range for a tensor with 2 dimensions"):
        x.sum(2)
    with pytest.raises(
        ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"
    ):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="permute: got 1 dims"):
        x.permute(0)
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 2\)"):
        gpubp.cat([x, gpubp.ones(2, 2, device=device)], 0)
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape"):
        gpubp.stack([x, gpubp.ones(3, 2, device=device)])
    with pytest.raises(ValueError, match="split: sizes"):
        x.split([1, 1], 1)
    with pytest.raises(IndexError, match=r"index: .*\(tensor shape \(2, 3\)\)"):
        x[5]
    with pytest.raises(ValueError, match="expand: cannot|broadcast_to: cannot"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match="pad: mode must be"):
        gpubp.pad(x, (1, 1), mode="mirror")


def test_loss_input_errors(device: str) -> None:
    logits = gpubp.ones(4, 3, device=device)
    with pytest.raises(ValueError, match=r"cross_entropy: target must be \(4,\) integer class indices"):
        gpubp.cross_entropy(logits, gpubp.ones(4, device=device))
    with pytest.raises(ValueError, match="cross_entropy: input must be"):
        gpubp.cross_entropy(gpubp.ones(4, device=device), gpubp.arange(4, device=device))
    with pytest.raises(ValueError, match="mse_loss: input has shape"):
        gpubp.mse_loss(logits, gpubp.ones(4, device=device))


def test_bad_dtype_and_factory_args(device: str) -> None:
    with pytest.raises(TypeError, match="dtype"):
        gpubp.zeros(2, dtype="complex64", device=device)
    with pytest.raises(RuntimeError, match="zeros: sizes must be non-negative"):
        gpubp.zeros(-1, device=device)
    with pytest.raises(TypeError, match="randn: dtype must be floating point"):
        gpubp.randn(2, dtype=gpubp.int64, device=device)
    with pytest.raises(ValueError, match="item\\(\\): only one-element"):
        gpubp.ones(2, device=device).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(gpubp.ones(2, device=device))


def test_grad_assignment_checks(device: str) -> None:
    x = gpubp.ones(3, device=device, requires_grad=True)
    with pytest.raises(ValueError, match=r"grad: assigned gradient has shape \(2,\)"):
        x.grad = gpubp.ones(2, device=device)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).requires_grad = False
