"""Tensor creation, attributes, conversions, dtype rules and DLPack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp.ops import view


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
    assert x.device.type == device and str(x.device).startswith(device)
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
    assert x.cpu().device.type == "cpu"
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
    assert gpubp.default_device() == gpubp.device("cpu")
    gpubp.set_default_device("cpu")
    assert gpubp.zeros(1).device.type == "cpu"


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


# ---- bad input raises as PyTorch does; PyTorch's edge cases succeed as PyTorch's ----------------------------------


def _same_error(exc: type, match: str, ours: Callable[[], Any], theirs: Callable[[], Any] | None) -> None:
    """``ours`` raises ``exc`` (a gpubp message matching ``match``) and PyTorch's ``theirs`` raises ``exc`` too."""
    with pytest.raises(exc, match=match):
        ours()
    if torch is not None and theirs is not None:
        with pytest.raises(exc):
            theirs()


def test_tensor_refuses_data_that_is_not_numbers(device: str) -> None:
    d = {"device": device}
    _same_error(ValueError, "tensor: too many dimensions 'str'", lambda: gpubp.tensor(["a", "b"], **d),
                lambda: torch.tensor(["a", "b"]))  # fmt: skip
    _same_error(TypeError, "tensor: invalid data type 'str'", lambda: gpubp.tensor([1, "a"], **d),
                lambda: torch.tensor([1, "a"]))  # fmt: skip
    for data in (None, [1.0, None], {"a": 1}, {1, 2}, object()):
        _same_error(RuntimeError, "tensor: could not infer dtype of", lambda v=data: gpubp.tensor(v, **d),
                    lambda v=data: torch.tensor(v))  # fmt: skip
    _same_error(ValueError, "tensor: overflow", lambda: gpubp.tensor([2**70], **d), lambda: torch.tensor([2**70]))
    _same_error(ValueError, "as_tensor: too many dimensions", lambda: gpubp.as_tensor(["a"], **d),
                lambda: torch.as_tensor(["a"]))  # fmt: skip


def test_tensor_of_tensors_takes_one_element_tensors(device: str) -> None:
    vals = rng_for("tensor of tensors").standard_normal(3).astype(np.float32)
    parts = [gpubp.tensor(vals[0], device=device), gpubp.tensor([vals[1]], device=device),
             gpubp.tensor([[vals[2]]], device=device)]  # fmt: skip
    t = gpubp.tensor(parts, device=device)
    assert t.shape == (3,) and t.dtype == gpubp.float32
    np.testing.assert_array_equal(t.cpu().numpy(), vals)
    two = [gpubp.tensor(vals[:2], device=device)] * 2
    _same_error(ValueError, "tensor: only one-element tensors", lambda: gpubp.tensor(two, device=device),
                lambda: torch.tensor([torch.tensor(vals[:2])] * 2))  # fmt: skip


def test_tensor_refuses_python_numbers_that_overflow_the_dtype(device: str) -> None:
    for data, dt in (([-1, 300], "uint8"), ([128], "int8"), ([1.5, 255.5], "uint8"), ([float("nan")], "int64")):
        _same_error(RuntimeError, f"tensor: value cannot be converted to type {dt} without overflow",
                    lambda v=data, t=dt: gpubp.tensor(v, dtype=getattr(gpubp, t), device=device),
                    lambda v=data, t=dt: torch.tensor(v, dtype=getattr(torch, t)))  # fmt: skip
    # an int wraps into an unsigned dtype from as far below zero as its maximum, and floats truncate, as PyTorch
    assert gpubp.tensor([-1, -255], dtype=gpubp.uint8, device=device).tolist() == [255, 1]
    assert gpubp.tensor([1.7, -2.7], dtype=gpubp.int64, device=device).tolist() == [1, -2]


def test_factories_refuse_as_pytorch(device: str) -> None:
    d = {"device": device}
    cases = [
        (TypeError, "zeros\\(\\) missing 1 required", lambda: gpubp.zeros(**d), lambda: torch.zeros()),
        (RuntimeError, "zeros: storage size calculation overflowed", lambda: gpubp.zeros(2**62, **d),
         lambda: torch.zeros(2**62)),
        (RuntimeError, "randn: storage size", lambda: gpubp.randn(2**31, 2**31, 2**31, **d),
         lambda: torch.randn(2**31, 2**31, 2**31)),
        (RuntimeError, "requires_grad: only floating-point", lambda: gpubp.zeros(2, dtype=gpubp.int64,
         requires_grad=True, **d), lambda: torch.zeros(2, dtype=torch.int64, requires_grad=True)),
        (TypeError, "full: size must be a tuple of ints, not int", lambda: gpubp.full(2, 1.5, **d),
         lambda: torch.full(2, 1.5)),
        (TypeError, "full: argument 'fill_value' must be a number, not str", lambda: gpubp.full((2,), "a", **d),
         lambda: torch.full((2,), "a")),
        (TypeError, "full_like: argument 'fill_value'", lambda: gpubp.full_like(gpubp.ones(2, **d), None),
         lambda: torch.full_like(torch.ones(2), None)),
        (RuntimeError, "arange: unsupported range", lambda: gpubp.arange(float("nan"), **d),
         lambda: torch.arange(float("nan"))),
        (TypeError, "arange: argument 'end' must be a number", lambda: gpubp.arange("a", **d),
         lambda: torch.arange("a")),
        (ValueError, "arange: step must be nonzero", lambda: gpubp.arange(0, 5, 0.5, dtype=gpubp.int64, **d),
         lambda: torch.arange(0, 5, 0.5, dtype=torch.int64)),
        (TypeError, "linspace: argument 'start' must be a number", lambda: gpubp.linspace("a", 1, 3, **d),
         lambda: torch.linspace("a", 1, 3)),
        (RuntimeError, "randint: high \\(0\\) must be greater than low \\(5\\)", lambda: gpubp.randint(5, 0, (3,), **d),
         lambda: torch.randint(5, 0, (3,))),
        (TypeError, "randint\\(\\) missing 1 required argument: 'size'", lambda: gpubp.randint(0, 5, **d),
         lambda: torch.randint(0, 5)),
        (TypeError, "zeros_like: argument 'input' must be a Tensor", lambda: gpubp.zeros_like([1.0]),
         lambda: torch.zeros_like([1.0])),
        (RuntimeError, "from_dlpack: expected an array or tensor", lambda: gpubp.from_dlpack([1.0]),
         lambda: torch.from_dlpack([1.0])),
        (TypeError, "from_numpy: arrays of dtype <U1 are not supported", lambda: gpubp.from_numpy(np.array(["a"])),
         lambda: torch.from_numpy(np.array(["a"]))),
    ]  # fmt: skip
    for exc, match, ours, theirs in cases:
        _same_error(exc, match, ours, theirs)


def test_factory_edge_cases_as_pytorch(device: str) -> None:
    r = gpubp.randint(0, 5, (50,), dtype=gpubp.float32, device=device)  # integers held in a float tensor
    vals = r.cpu().numpy()
    assert r.dtype == gpubp.float32 and vals.min() >= 0 and vals.max() <= 4 and (vals == np.round(vals)).all()
    gpubp.manual_seed(-1)  # wraps to 2**64 - 1, as PyTorch
    a = gpubp.randn(4, device=device).cpu().numpy()
    gpubp.manual_seed(2**64 - 1)
    np.testing.assert_array_equal(gpubp.randn(4, device=device).cpu().numpy(), a)
    gpubp.manual_seed(1.5)  # int(seed), as PyTorch
    b = gpubp.randn(4, device=device).cpu().numpy()
    gpubp.manual_seed(1)
    np.testing.assert_array_equal(gpubp.randn(4, device=device).cpu().numpy(), b)
    assert gpubp.full((2,), gpubp.tensor(2.5), device=device).tolist() == [2.5, 2.5]


def _x(device: str, *shape: int, key: str = "x") -> Any:
    return gpubp.tensor(rng_for("shape", key, shape).standard_normal(shape).astype(np.float32), device=device)


def test_shape_ops_raise_as_pytorch(device: str) -> None:
    x = _x(device, 2, 3, 4)
    cases = [
        (RuntimeError, "reshape: cannot reshape", lambda: x.reshape(5, -1), lambda t: t.reshape(5, -1)),
        (RuntimeError, "permute: dims .* repeat", lambda: x.permute(0, 1, 1), lambda t: t.permute(0, 1, 1)),
        (TypeError, "permute\\(\\) missing", lambda: x.permute(), lambda t: t.permute()),
        (RuntimeError, "flatten: start_dim 2 comes after", lambda: x.flatten(2, 0), lambda t: t.flatten(2, 0)),
        (RuntimeError, "expand: .*non-singleton", lambda: x[..., :1].expand(2, 3, 4, 5),
         lambda t: t[..., :1].expand(2, 3, 4, 5)),
        (RuntimeError, "expand: size -1 at dim 0", lambda: x.expand(-1, 2, 3, 4), lambda t: t.expand(-1, 2, 3, 4)),
        (RuntimeError, "broadcast_to: cannot broadcast", lambda: gpubp.broadcast_to(x, (2, 3, 5)),
         lambda t: torch.broadcast_to(t, (2, 3, 5))),
        (RuntimeError, "cat: tensor 1 has shape", lambda: gpubp.cat([x, x[..., :2]]),
         lambda t: torch.cat([t, t[..., :2]])),
        (RuntimeError, "cat: tensors must have the same number of dims", lambda: gpubp.cat([x, x[0]]),
         lambda t: torch.cat([t, t[0]])),
        (TypeError, "cat: argument 'tensors' must be a list or tuple", lambda: gpubp.cat(x), lambda t: torch.cat(t)),
        (RuntimeError, "stack: expected a non-empty", lambda: gpubp.stack([]), lambda t: torch.stack([])),
        (RuntimeError, "split: sizes \\[1, 2\\]", lambda: x.split([1, 2]), lambda t: t.split([1, 2])),
        (RuntimeError, "pad: expected an even number", lambda: gpubp.nn.functional.pad(x, (1,)),
         lambda t: torch.nn.functional.pad(t, (1,))),
        (TypeError, "pad: pad must be a tuple of ints", lambda: gpubp.nn.functional.pad(x, (1.5, 1)),
         lambda t: torch.nn.functional.pad(t, (1.5, 1))),
        (TypeError, "pad: argument 'value' must be a number", lambda: gpubp.nn.functional.pad(x, (1, 1), value="a"),
         lambda t: torch.nn.functional.pad(t, (1, 1), value="a")),
        (RuntimeError, "mT: only supported on matrices", lambda: x[0, 0].mT, lambda t: t[0, 0].mT),
        (RuntimeError, "item\\(\\): only one-element", lambda: x.item(), lambda t: t.item()),
        (RuntimeError, "bool\\(\\): the truth value", lambda: bool(x[0, 0, :0]), lambda t: bool(t[0, 0, :0])),
    ]  # fmt: skip
    tx = torch.tensor(x.cpu().numpy()) if torch is not None else None
    for exc, match, ours, theirs in cases:
        _same_error(exc, match, ours, (lambda f=theirs: f(tx)) if tx is not None else None)


def test_view_refuses_memory_it_cannot_view(device: str) -> None:
    x = _x(device, 2, 3, key="view")
    _same_error(RuntimeError, "view: shape \\(-1,\\) is not compatible", lambda: view(x.transpose(0, 1), -1),
                lambda: torch.ones(2, 3).transpose(0, 1).view(-1))  # fmt: skip
    v = view(x.transpose(0, 1), 3, 1, 2)  # splitting a dim needs no copy: still a view
    assert v.shape == (3, 1, 2)
    np.testing.assert_array_equal(v.cpu().numpy(), x.cpu().numpy().T.reshape(3, 1, 2))
    assert view(x, 6).shape == (6,)


def test_shape_edge_cases_as_pytorch(device: str) -> None:
    x = _x(device, 3, key="edge")
    b = gpubp.broadcast_to(x, (2, -1))  # -1 keeps the size, as expand
    np.testing.assert_array_equal(b.cpu().numpy(), np.broadcast_to(x.cpu().numpy(), (2, 3)))
    w = _x(device, 2, 3, key="legacy")
    w.requires_grad = True
    e = gpubp.zeros(0, dtype=gpubp.float64, device=device, requires_grad=True)
    out = gpubp.cat([w, e])  # a 1-d empty tensor joins anything, and still takes part in the dtype
    assert out.shape == (2, 3) and out.dtype == gpubp.float64
    np.testing.assert_array_equal(out.detach().cpu().numpy(), w.detach().cpu().numpy())
    out.sum().backward()
    assert e.grad.shape == (0,) and w.grad.tolist() == [[1.0] * 3] * 2
    if torch is not None:
        assert torch.cat([torch.ones(2, 3), torch.zeros(0, dtype=torch.float64)]).shape == (2, 3)


def test_indexing_as_pytorch(device: str) -> None:
    x = _x(device, 3, 4, key="index")
    a = x.cpu().numpy()
    np.testing.assert_array_equal(x[..., ...].cpu().numpy(), a)
    np.testing.assert_array_equal(x[[0.5, 2.7]].cpu().numpy(), a[[0, 2]])  # floats in a list truncate, as PyTorch
    tx = torch.tensor(a) if torch is not None else None
    cases = [
        (ValueError, "index: slice step must be greater than zero", lambda t: t[::-1]),
        (ValueError, "index: slice step must be greater than zero", lambda t: t[::0]),
        (IndexError, "index: the shape of the mask \\(2, 2\\)", lambda t: t[t[:2, :2] > 0]),
        (IndexError, "index: the shape of the mask \\(4,\\)", lambda t: t[t[0] == t[0]]),
        (IndexError, "index: tensors used as indices must be long, int, byte or bool", lambda t: t[t[0, :2]]),
    ]
    for exc, match, f in cases:
        _same_error(exc, match, lambda f=f: f(x), (lambda f=f: f(tx)) if tx is not None else None)


def test_setitem_raises_as_pytorch_and_changes_nothing(device: str) -> None:
    x = _x(device, 3, 4, key="setitem")
    before = x.cpu().numpy().copy()
    tx = torch.tensor(before) if torch is not None else None
    cases = [
        (IndexError, "setitem: index 3 is out of bounds", 3, lambda t: 1.0),
        (RuntimeError, "setitem: cannot assign a value of shape \\(5,\\)", 0, lambda t: t[0, :1].expand(5) * 1),
        (RuntimeError, "setitem: cannot assign a value of shape \\(3, 1\\)", (slice(None), 0), lambda t: t[:, :1] * 1),
        (TypeError, "setitem: can't assign a list", 0, lambda t: [1.0, 2.0, 3.0, 4.0]),
        (TypeError, "setitem: can't assign a str", 0, lambda t: "a"),
    ]  # fmt: skip
    for exc, match, key, value in cases:

        def theirs(k: Any = key, v: Callable = value) -> None:
            tx[k] = v(tx)

        def ours(k: Any = key, v: Callable = value) -> None:
            x[k] = v(x)

        _same_error(exc, match, ours, theirs if tx is not None else None)
        np.testing.assert_array_equal(x.cpu().numpy(), before)
    if device == "cpu":  # integer indices are range-checked on the CPU only (a GPU check would read them back)
        with pytest.raises(IndexError, match="setitem: index 5 is out of bounds"):
            x[gpubp.tensor([0, 5], device=device)] = 1.0
        np.testing.assert_array_equal(x.cpu().numpy(), before)


def test_inplace_ops_raise_as_pytorch(device: str) -> None:
    x = _x(device, 3, key="inplace")
    before = x.cpu().numpy().copy()
    tx = torch.tensor(before) if torch is not None else None
    cases = [
        (RuntimeError, "add_: an operand of shape \\(2, 3\\)", lambda t: t.add_(t.expand(2, 3))),
        (RuntimeError, "copy_: src of shape \\(2,\\)", lambda t: t.copy_(t[:2])),
        (RuntimeError, "fill_: value must have one element", lambda t: t.fill_(t[:2])),
        (TypeError, "fill_: can't assign a str", lambda t: t.fill_("a")),
        (RuntimeError, "clamp_: at least one of 'min' or 'max'", lambda t: t.clamp_()),
        (RuntimeError, "add_: unsupported operation: more than one element", lambda t: t[:1].expand(3).add_(1.0)),
    ]
    for exc, match, f in cases:
        _same_error(exc, match, lambda f=f: f(x), (lambda f=f: f(tx)) if tx is not None else None)
        np.testing.assert_array_equal(x.cpu().numpy(), before)


def test_zero_dim_results_take_in_place_writes(device: str) -> None:
    """NumPy's ufuncs return scalars for 0-d input; the tensor still holds a writable 0-d array."""
    x = gpubp.tensor([3.0, 4.0], device=device)
    y = (x * x).sum().sqrt()
    y.copy_(gpubp.tensor(2.0, device=device))
    y.add_(1.0)
    assert y.item() == 3.0 and y.shape == ()
