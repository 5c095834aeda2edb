"""Every bad input gets a clear error naming the op and what was expected, before any state changes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import rng_for, torch

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


# ---- PyTorch's exception types for arithmetic, matmul/linear, reductions and autograd (issue 10) ----------------

_F = gpubp.nn.functional


def _bad_inputs(dev: str) -> list:
    """(label, call, gpubp's class, message pattern); each class is also PyTorch's (RuntimeError for InputError)."""
    x = lambda *s, **kw: gpubp.randn(*s, device=dev, **kw)  # noqa: E731
    ints = lambda *v: gpubp.tensor(list(v), device=dev)  # noqa: E731
    mask = lambda n: gpubp.tensor([True, False, True][:n], device=dev)  # noqa: E731
    return [
        ("add broadcast", lambda: x(2, 3) + x(3, 2), RuntimeError, r"add: shapes \(2, 3\) and \(3, 2\)"),
        ("eq broadcast", lambda: x(2, 3) == x(0, 3), RuntimeError, "eq: shapes"),
        ("max other", lambda: x(3, 4).max(x(2, 4)), RuntimeError, "maximum: shapes"),
        ("sub bools", lambda: mask(3) - mask(3), RuntimeError, "sub: .*two bool tensors"),
        ("sub bool float", lambda: mask(3) - x(3), RuntimeError, "sub: .*bool tensor"),
        ("sub python bool", lambda: x(3) - True, RuntimeError, "sub: .*bool tensor"),
        ("neg bool", lambda: -mask(3), RuntimeError, "neg: .*bool tensor"),
        ("abs bool", lambda: mask(3).abs(), TypeError, "abs: not implemented for bool"),
        ("invert float", lambda: ~x(3), TypeError, r"bitwise_not: ~ \(invert\)"),
        ("add list", lambda: x(3) + [1.0, 2.0, 3.0], TypeError, "add: unsupported operand of type list"),
        ("add huge int", lambda: x(3) + 2**70, OverflowError, "add: the int .* too big"),
        ("add huge int to int", lambda: ints(1, 2) + 2**70, OverflowError, "add: the int .* too big"),
        ("pow int negative", lambda: ints(2, 3) ** -1, RuntimeError, "pow: integers to negative integer powers"),
        ("clamp nothing", lambda: x(3).clamp(), RuntimeError, "clamp: at least one of min and max"),
        ("clamp str", lambda: x(3).clamp(min="a"), TypeError, "clamp: min must be a number"),
        ("clamp broadcast", lambda: x(3).clamp(min=x(2)), RuntimeError, r"clamp: shapes \(3,\) and \(2,\)"),
        ("where float condition", lambda: gpubp.where(x(3), x(3), x(3)), RuntimeError, "where: condition must be"),
        ("where broadcast", lambda: gpubp.where(mask(2), x(3), x(3)), RuntimeError, r"where: shapes \(2,\), \(3,\)"),
        ("matmul aligned", lambda: x(3) @ x(4), RuntimeError, "matmul: shapes"),
        ("matmul 0-d", lambda: gpubp.matmul(x(()), x(3)), RuntimeError, "matmul: both operands need at least 1 dim"),
        ("matmul batch", lambda: x(2, 2, 3) @ x(3, 3, 1), RuntimeError, "matmul: batch dims"),
        ("matmul dtypes", lambda: x(2, 3) @ x(3, 2, dtype=gpubp.float64), RuntimeError, "matmul: dtypes differ"),
        ("linear in", lambda: _F.linear(x(2, 3), x(4, 5)), RuntimeError, "linear: input of shape"),
        ("linear bias", lambda: _F.linear(x(2, 3), x(4, 3), x(5)), RuntimeError, r"linear: bias has shape \(5,\)"),
        ("linear 0-d", lambda: _F.linear(x(()), x(4, 3)), RuntimeError, "linear: input and weight need at least 1"),
        ("linear 3-d", lambda: _F.linear(x(2, 3), x(1, 4, 3)), RuntimeError, "linear: weight must be 1-D or 2-D"),
        ("linear ints", lambda: _F.linear(ints(1, 2), x(4, 2)), RuntimeError, "linear: dtypes differ"),
        ("mean int", lambda: ints(1, 2).mean(), RuntimeError, "mean: could not infer output dtype"),
        ("var int", lambda: ints(1, 2).var(), RuntimeError, "var: std and var only support floating-point"),
        ("std bool", lambda: mask(3).std(), RuntimeError, "std: std and var only support floating-point"),
        ("norm int", lambda: ints(1, 2).norm(1), RuntimeError, "norm: expected a floating-point tensor"),
        ("norm str", lambda: x(3).norm("bad"), RuntimeError, "norm: p must be a number"),
        ("argmax bool", lambda: mask(3).argmax(), RuntimeError, r"argmax\(\): does not support bool"),
        ("max dim None", lambda: x(3).max(dim=None), TypeError, "max: dim must be an int"),
        ("logsumexp dim None", lambda: x(3).logsumexp(None), TypeError, "logsumexp: dim must be"),
        ("max empty dim", lambda: x(0, 3).max(0), IndexError, r"max\(\): expected reduction dim 0"),
        ("amin empty dim", lambda: x(0).amin(0), IndexError, r"amin\(\): expected reduction dim 0"),
        ("argmax empty dim", lambda: x(0, 3).argmax(0), IndexError, r"argmax\(\): expected reduction dim 0"),
        ("max empty", lambda: x(0).max(), RuntimeError, r"max\(\): expected reduction dim to be specified"),
        ("argmax empty", lambda: x(0, 2).argmax(), IndexError, r"argmax\(\): expected reduction dim to be"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_inputs("cpu"))), ids=[c[0] for c in _bad_inputs("cpu")])
def test_bad_inputs_raise_pytorchs_class(device: str, case: int) -> None:
    """Each bad input raises the class PyTorch raises (gpubp's InputError is a ValueError and a RuntimeError, so
    ``except ValueError`` and ``except RuntimeError`` both catch it), with a message naming the op."""
    label, call, cls, match = _bad_inputs(device)[case]
    with pytest.raises(cls, match=match):
        call()


def _edge_results(dev: str, lib: object) -> dict:
    """Edge inputs where PyTorch succeeds: the same call on gpubp or on torch (``lib``), as NumPy values."""
    is_torch = lib is torch
    rng = rng_for("edge_results")
    a = rng.normal(size=(3, 4)).astype(np.float32)

    def t(v: object, dtype: object = None) -> object:
        if is_torch:
            return torch.tensor(v, dtype=None if dtype is None else getattr(torch, dtype))
        return gpubp.tensor(v, dtype=None if dtype is None else getattr(gpubp, dtype), device=dev)

    def out(v: object) -> np.ndarray:
        return np.asarray(v.detach().cpu().numpy() if not is_torch else v.detach().numpy())

    return {
        "uint8 wraps": out(t([1, 200, 255], "uint8") + 300),
        "int8 wraps": out(t([1, -5], "int8") - 200),
        "two numbers": out(lib.add(2, 3)),
        "two numbers float": out(lib.mul(2, 3.5)),
        "invert ints": out(~t([0, 1, 5])),
        "invert bools": out(~t([True, False])),
        "clamp int to float": out(t([1, 5, 9]).clamp(min=2.5)),
        "argmax empty rows": out(lib.zeros(0, 3).argmax(1) if is_torch else gpubp.zeros(0, 3, device=dev).argmax(1)),
        "max empty rows": out((lib.zeros(0, 3) if is_torch else gpubp.zeros(0, 3, device=dev)).max(1)[0]),
        "amax empty rows": out((lib.zeros(0, 3) if is_torch else gpubp.zeros(0, 3, device=dev)).amax(1)),
        "var correction too big": out(t(a).var(1, correction=5)),
        "var constant correction too big": out(t([[1.0, 1.0]]).var(1, correction=2)),
        "norm p=0": out(t(np.where(a > 0, a, 0)).norm(0)),
        "norm p=-1": out(t(a).norm(-1)),
        "norm p=0.5 dim": out(t(a).norm(0.5, dim=1)),
        "linear 1-d weight": out(lib.nn.functional.linear(t(a), t(a[0]))),
        "linear 0-d bias": out(lib.nn.functional.linear(t(a), t(a[:2]), t(1.5))),
        "linear full bias": out(lib.nn.functional.linear(t(a), t(a[:2]), t(a[:, :2]))),
    }


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch warns of var with correction >= N
def test_edge_inputs_match_pytorch(device: str) -> None:
    """Where PyTorch succeeds on an edge input, gpubp gives the same values and dtype."""
    got = _edge_results(device, gpubp)
    assert got["uint8 wraps"].tolist() == [45, 244, 43] and got["uint8 wraps"].dtype == np.uint8
    assert got["invert ints"].tolist() == [-1, -2, -6]
    assert got["clamp int to float"].dtype == np.float32
    assert got["argmax empty rows"].shape == (0,) and got["argmax empty rows"].dtype == np.int64
    assert np.isinf(got["var correction too big"]).all() and np.isnan(got["var constant correction too big"]).all()
    if torch is None:
        return
    want = _edge_results(device, torch)
    for k, w in want.items():
        assert got[k].dtype == w.dtype and got[k].shape == w.shape, k
        np.testing.assert_allclose(got[k], w, rtol=1e-5, atol=1e-6, err_msg=k)


def test_backward_gradient_must_be_tensors(device: str) -> None:
    """backward/grad take Tensors (or None) as gradients, as PyTorch; a shape mismatch is a RuntimeError."""
    x = gpubp.randn(2, device=device, requires_grad=True)
    with pytest.raises(TypeError, match="backward: gradients can be Tensors or None, got float"):
        (x * 2).backward([1.0, 1.0])
    with pytest.raises(TypeError, match="backward: gradients can be Tensors or None, got ndarray"):
        (x * 2).backward(np.ones(2, np.float32))
    with pytest.raises(RuntimeError, match=r"backward: gradient has shape \(3,\)"):
        (x * 2).backward(gpubp.ones(3, device=device))
    with pytest.raises(RuntimeError, match=r"grad: gradient has shape \(3,\)"):
        gpubp.grad(x * 2, [x], gpubp.ones(3, device=device))
    assert x.grad is None
    (x * 2).backward([gpubp.ones(2, device=device)])  # a one-element sequence, as PyTorch
    assert x.grad.tolist() == [2.0, 2.0]
