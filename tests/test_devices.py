"""Devices as PyTorch has them: gpubp.device, the default device and its context, gpubp.cuda, gpubp.accelerator and
gpubp.backends, against the installed (CPU-only) PyTorch where it can answer, and on each device present."""

from __future__ import annotations

import copy
import os
import pickle
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.accelerator as accelerator
import gpubp.backends
import gpubp.backends.cudnn as cudnn
import gpubp.cuda as gcuda
from gpubp import backend
from gpubp.backend import CudaUnavailableError, Device, get_backend, get_default_device, parse_device

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_gpu = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs a CUDA device (real or emulated)")
needs_two = pytest.mark.skipif(backend.device_count() < 2, reason="needs two CUDA devices (GPUBP_EMULATE_CUDA=2)")


@pytest.fixture
def restore_current() -> Iterator[None]:
    """Put the current CUDA device and the default device back as they were."""
    before, default = backend.current_cuda_index(), backend._default
    yield
    if backend.current_cuda_index() != before:
        backend.set_current_cuda(before)
    backend._default = default


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """gpubp as on a machine with CuPy but without a GPU (what a CPU-only PyTorch answers is compared against)."""
    monkeypatch.setattr(backend, "device_count", lambda: 0)
    monkeypatch.setattr(backend, "_backends", {k: v for k, v in backend._backends.items() if k.type == "cpu"})


def test_public_names() -> None:
    """The torch-shaped names: gpubp.device, gpubp.get_default_device, gpubp.accelerator, gpubp.backends and the
    determinism switches, each the one implementation."""
    assert gpubp.device is Device and gpubp.get_default_device is get_default_device
    assert gpubp.accelerator is accelerator and gpubp.backends.cudnn is cudnn
    assert gpubp.use_deterministic_algorithms is gpubp.backends.use_deterministic_algorithms
    assert gpubp.are_deterministic_algorithms_enabled is gpubp.backends.are_deterministic_algorithms_enabled
    assert gpubp.set_float32_matmul_precision is gpubp.backends.set_float32_matmul_precision


# ---- gpubp.device ---------------------------------------------------------------------------------------------------
_FORMS = [
    (("cuda",), {}), (("cuda:1",), {}), (("cuda", 1), {}), ((), {"type": "cuda", "index": 1}), (("cuda", None), {}),
    (("cpu",), {}), (("cpu:0",), {}), (("cpu", 0), {}), (("meta",), {}), (("xpu:3",), {}), (("cuda:12",), {}),
]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("args,kwargs", _FORMS, ids=[repr(a or k) for a, k in _FORMS])
def test_device_forms_match_torch(args: tuple, kwargs: dict) -> None:
    ours, theirs = Device(*args, **kwargs), torch.device(*args, **kwargs)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs) and f"{ours}" == f"{theirs}"
    copied = Device(ours)
    assert copied == ours and hash(copied) == hash(ours) and copied.index == theirs.index


@needs_torch
def test_device_equality_and_hash_match_torch() -> None:
    names = [("cuda",), ("cuda:0",), ("cuda", 0), ("cuda:1",), ("cpu",), ("cpu:0",), ("cpu", 0)]
    for a in names:
        for b in names:
            assert (Device(*a) == Device(*b)) == (torch.device(*a) == torch.device(*b)), (a, b)
            assert (Device(*a) != Device(*b)) == (torch.device(*a) != torch.device(*b)), (a, b)
    for name in ["cpu", "cuda", "cuda:0"]:  # never equal to a string, as PyTorch
        assert (Device(name) == name) == (torch.device(name) == name) == (name == Device(name))
    assert Device("cuda") != Device("cuda:0")
    assert len({Device("cuda:1"), Device("cuda", 1), Device("cuda")}) == 2
    with pytest.raises(TypeError):
        torch.device("cpu") < torch.device("cuda")  # noqa: B015
    with pytest.raises(TypeError):
        Device("cpu") < Device("cuda")  # noqa: B015


_BAD = [
    ("",), ("cuda:",), ("cuda:-1",), ("gpu",), ("CUDA",), (" cuda",), ("cuda:0 ",), ("cuda:01",), ("cuda:1:2",),
    ("cuda:a",), ("cuda:1.0",), ("tpu",), (-1,), ("cuda", -1), ("cuda:1", 1), ("cuda:1", None), ("cuda", "1"),
    ("cuda", 1.0), ("cuda", True), (1.0,), (None,), (True,), ([1],), (),
]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("args", _BAD, ids=[repr(a) for a in _BAD])
def test_bad_devices_raise_as_torch(args: tuple) -> None:
    with pytest.raises(Exception) as theirs:
        torch.device(*args)
    with pytest.raises(type(theirs.value)) as ours:
        Device(*args)
    if isinstance(theirs.value, RuntimeError):  # PyTorch's message, in gist
        gist = str(theirs.value).split(":")[0].split(",")[0].strip()
        assert gist.lower() in str(ours.value).lower(), (str(theirs.value), str(ours.value))


def test_an_int_is_a_cuda_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """device(1) is cuda:1 where gpubp can drive CUDA, as PyTorch's accelerator index; without CUDA it raises."""
    if backend._cupy_installed():
        assert Device(1) == Device("cuda", 1) == parse_device(1)
        assert repr(parse_device(np.int64(2))) == "device(type='cuda', index=2)"
    monkeypatch.setattr(backend, "_cupy_installed", lambda: False)
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        Device(1)
    if torch is not None:
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            torch.device(1)


@needs_torch
def test_device_is_immutable_picklable_and_copyable() -> None:
    d = Device("cuda:3")
    for attr in ("index", "type"):
        with pytest.raises(AttributeError):
            setattr(torch.device("cuda:3"), attr, 2)
        with pytest.raises(AttributeError):
            setattr(d, attr, 2)
    for x in (d, Device("cuda"), Device("cpu")):
        back = pickle.loads(pickle.dumps(x))
        assert back == x and back.index == x.index and isinstance(back, Device)
        assert copy.copy(x) == x and copy.deepcopy(x) == x
    assert isinstance(gpubp.zeros(1).device, Device)


def test_parse_device_is_the_one_place(device: str) -> None:
    """A Device, a string or an int wherever a device is taken: creation, Tensor.to, get_backend, DataLoader."""
    rng = rng_for("parse", device)
    values = rng.standard_normal(5).astype(np.float32)
    dev = Device(device)
    for where in (device, dev) + ((0,) if device == "cuda" else ()):
        t = gpubp.tensor(values, device=where)
        assert t.device.type == device and t.tolist() == values.tolist()
        assert gpubp.zeros(2, device=where).device == t.device
        assert gpubp.tensor(values).to(where).device == t.device
        assert get_backend(where) is t._be
        assert {p.device for p in gpubp.nn.Linear(2, 3).to(where).parameters()} == {t.device}
    assert parse_device(dev) is dev and parse_device(device) is parse_device(device)
    with pytest.raises(TypeError, match="device"):
        parse_device(1.5)
    loader = gpubp.utils.data.DataLoader if hasattr(gpubp, "utils") else gpubp.data.DataLoader
    batch = next(iter(loader(gpubp.data.TensorDataset(values.reshape(5, 1)), batch_size=5, device=dev)))
    batch = batch[0] if isinstance(batch, (list, tuple)) else batch
    assert batch.device == t.device


def test_tensor_device_has_an_index_on_cuda_only(device: str) -> None:
    t = gpubp.randn(3, device=device)
    if device == "cpu":
        assert t.device.index is None and repr(t.device) == "device(type='cpu')"
        if torch is not None:
            assert repr(torch.zeros(1, device="cpu:0").device) == repr(gpubp.zeros(1, device="cpu:0").device)
    else:
        assert t.device.index == backend.current_cuda_index() and t.device == Device("cuda", t.device.index)
        assert t.device != Device("cuda")
    assert get_backend(t.device) is t._be


def test_devices_gpubp_cannot_hold_tensors_raise() -> None:
    for name in ("meta", "mps", "xpu:0"):
        Device(name)  # parses, as PyTorch's
        with pytest.raises(RuntimeError, match=f"not on '{name.split(':')[0]}'"):
            gpubp.zeros(2, device=name)


# ---- the default device and its context ------------------------------------------------------------------------------
def test_device_context_sets_the_default_for_new_tensors(device: str, restore_current: None) -> None:
    before = get_default_device()
    rng = rng_for("context", device)
    values = rng.standard_normal(4).tolist()
    with Device(device) as d:
        assert d == Device(device)
        inside = gpubp.tensor(values)
        assert inside.device.type == device and gpubp.randn(2).device.type == device
        assert get_default_device().type == device and get_default_device().index == inside.device.index
        with Device("cpu"):
            assert gpubp.ones(1).device == Device("cpu")
        assert gpubp.zeros(1).device.type == device
    assert get_default_device() == before and gpubp.zeros(1).device == before
    with pytest.raises(ZeroDivisionError), Device(device):
        1 / 0  # noqa: B018
    assert get_default_device() == before
    if torch is not None:
        with torch.device("cpu"):
            assert torch.get_default_device() == torch.device("cpu") and torch.zeros(1).device.type == "cpu"


def test_set_default_device_and_get_default_device(device: str, restore_current: None) -> None:
    gpubp.set_default_device(device)
    got = get_default_device()
    assert got.type == device and isinstance(got, Device)
    assert (got.index is None) == (device == "cpu")  # cuda with its index, as PyTorch's get_default_device
    assert gpubp.zeros(1).device == got and get_backend() is get_backend(got)
    gpubp.set_default_device(Device("cpu"))
    assert get_default_device() == Device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        gpubp.set_default_device("tpu")
    assert get_default_device() == Device("cpu")  # nothing changed by the refused call


def test_gpubp_device_env_is_the_first_default(monkeypatch: pytest.MonkeyPatch) -> None:
    env = os.environ.get("GPUBP_DEVICE")
    monkeypatch.setattr(backend, "_default", None)
    if env:
        assert get_default_device() == get_backend(env).device
    monkeypatch.setenv("GPUBP_DEVICE", "cpu")
    monkeypatch.setattr(backend, "_default", None)
    assert get_default_device() == Device("cpu") and gpubp.zeros(1).device == Device("cpu")


# ---- gpubp.cuda without a GPU: as a CPU-only PyTorch --------------------------------------------------------------------
_ANSWERING = [  # (call, args, what a CPU-only PyTorch returns)
    ("is_available", (), False), ("device_count", (), 0), ("memory_allocated", (), 0),
    ("max_memory_allocated", (), 0), ("memory_reserved", (), 0), ("max_memory_reserved", (), 0),
    ("memory_stats", (), {}), ("empty_cache", (), None), ("manual_seed", (1,), None), ("manual_seed_all", (2,), None),
    ("seed", (), None), ("seed_all", (), None), ("set_device", (-1,), None), ("is_bf16_supported", (), False),
    ("is_initialized", (), False),
]  # fmt: skip
_RAISING = [
    ("current_device", ()), ("set_device", (0,)), ("set_device", ("cuda:0",)), ("synchronize", ()),
    ("initial_seed", ()), ("reset_peak_memory_stats", ()), ("get_device_name", ()), ("get_device_name", (0,)),
    ("get_device_properties", (0,)), ("get_device_capability", ()), ("mem_get_info", ()), ("init", ()),
]  # fmt: skip


@pytest.mark.parametrize("name,args,expected", _ANSWERING, ids=[f"{n}{a}" for n, a, _ in _ANSWERING])
def test_cuda_without_gpu_answers_as_torch(name: str, args: tuple, expected: object, no_gpu: None) -> None:
    assert getattr(gcuda, name)(*args) == expected
    if torch is not None and not torch.cuda.is_available():
        assert getattr(torch.cuda, name)(*args) == expected


@pytest.mark.parametrize("name,args", _RAISING, ids=[f"{n}{a}" for n, a in _RAISING])
def test_cuda_without_gpu_raises_as_torch(name: str, args: tuple, no_gpu: None) -> None:
    with pytest.raises(CudaUnavailableError, match=name.split("(")[0]) as ours:
        getattr(gcuda, name)(*args)
    assert isinstance(ours.value, RuntimeError) and isinstance(ours.value, AssertionError)
    if torch is not None and not torch.cuda.is_available():
        with pytest.raises(Exception) as theirs:  # noqa: PT011 - AssertionError, or a missing-binding AttributeError
            getattr(torch.cuda, name)(*args)
        if isinstance(theirs.value, (AssertionError, RuntimeError)):
            assert isinstance(ours.value, type(theirs.value))


def test_cuda_device_context_without_gpu(no_gpu: None) -> None:
    with gcuda.device(None), gcuda.device(-1):  # no change asked: nothing to fail, as PyTorch
        pass
    with pytest.raises(CudaUnavailableError), gcuda.device(0):
        pass
    if torch is not None and not torch.cuda.is_available():
        with pytest.raises(RuntimeError), torch.cuda.device(0):
            pass


def test_cuda_wants_a_cuda_device() -> None:
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        gcuda.set_device("cpu")
    if torch is not None:
        with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
            torch.cuda.set_device("cpu")
    with pytest.raises(ValueError, match="seed must be an int"):
        gcuda.manual_seed("a")
    with pytest.raises(TypeError, match="seed must be an int"):
        gcuda.manual_seed_all(None)


def test_cuda_without_cupy_is_an_assertion_error_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_cupy_installed", lambda: False)
    monkeypatch.setattr(backend, "device_count", lambda: 0)
    with pytest.raises(AssertionError, match="CuPy is not installed"):
        gcuda.current_device()
    assert gcuda.memory_allocated() == 0 and accelerator.current_accelerator() is None


# ---- gpubp.cuda with a GPU (real or emulated) ----------------------------------------------------------------------
@needs_gpu
def test_memory_numbers_follow_allocations(restore_current: None) -> None:
    index = backend.current_cuda_index()
    rng = rng_for("memory")
    gcuda.reset_peak_memory_stats()
    before = gcuda.memory_allocated()
    assert gcuda.max_memory_allocated() == before
    x = gpubp.tensor(rng.standard_normal(1 << 16).astype(np.float32), device="cuda")
    nbytes = 4 << 16
    during = gcuda.memory_allocated()
    assert during >= before + nbytes and gcuda.memory_allocated(index) == during
    assert gcuda.memory_allocated(Device("cuda", index)) == during == gcuda.memory_allocated(f"cuda:{index}")
    assert gcuda.memory_reserved() >= during and gcuda.max_memory_reserved() >= gcuda.memory_reserved()
    stats = gcuda.memory_stats()
    assert stats["allocated_bytes.all.current"] == during and stats["allocated_bytes.all.peak"] >= during
    del x
    assert gcuda.memory_allocated() <= during - nbytes
    assert gcuda.max_memory_allocated() >= during  # the peak seen stays until a reset
    gcuda.reset_peak_memory_stats()
    assert gcuda.max_memory_allocated() == gcuda.memory_allocated()
    free, total = gcuda.mem_get_info()
    assert 0 <= free <= total
    gcuda.empty_cache()
    assert gcuda.memory_reserved() >= gcuda.memory_allocated()
    with pytest.raises(ValueError, match="invalid device ordinal"):
        gcuda.memory_allocated(backend.device_count())


@needs_gpu
def test_device_queries() -> None:
    props = gcuda.get_device_properties()
    assert isinstance(props.name, str) and props.name == gcuda.get_device_name() == gcuda.get_device_name(0)
    assert props.total_memory > 0 and props.multi_processor_count > 0
    assert gcuda.get_device_capability() == (props.major, props.minor) and props.major >= 3
    assert "_CudaDeviceProperties(name=" in repr(props)
    assert gcuda.is_available() and gcuda.device_count() == backend.device_count() >= 1
    assert gcuda.current_device() == backend.current_cuda_index()
    assert gcuda.is_bf16_supported() is False


@needs_gpu
def test_synchronize_is_not_an_implicit_sync() -> None:
    x = gpubp.randn(8, device="cuda")
    gpubp.set_sync_debug_mode("error")
    try:
        y = x * 2
        gcuda.synchronize()
        gcuda.synchronize(0)
        accelerator.synchronize()
    finally:
        gpubp.set_sync_debug_mode("default")
    np.testing.assert_allclose(y.cpu().numpy(), x.cpu().numpy() * 2)


@needs_gpu
def test_cuda_seeds_are_reproducible(restore_current: None) -> None:
    gcuda.manual_seed(1234)
    assert gcuda.initial_seed() == 1234
    a = gpubp.randn(16, device="cuda").cpu().numpy()
    gcuda.manual_seed(1234)
    b = gpubp.randn(16, device="cuda").cpu().numpy()
    gcuda.manual_seed_all(99)
    c = gpubp.randn(16, device="cuda").cpu().numpy()
    gcuda.manual_seed_all(99)
    d = gpubp.randn(16, device="cuda").cpu().numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, c) and gcuda.initial_seed() == 99
    gcuda.manual_seed(-1)
    assert gcuda.initial_seed() == 2**64 - 1
    gcuda.seed()
    assert 0 <= gcuda.initial_seed() < 2**64


@needs_gpu
def test_set_device_and_device_context(restore_current: None) -> None:
    n = backend.device_count()
    gcuda.set_device(0)
    assert gcuda.current_device() == 0 and gpubp.zeros(1, device="cuda").device == Device("cuda", 0)
    with gcuda.device(n - 1):
        assert gcuda.current_device() == n - 1
        assert gpubp.zeros(1, device="cuda").device == Device("cuda", n - 1)
    assert gcuda.current_device() == 0
    with pytest.raises(ValueError, match="invalid device ordinal"):
        gcuda.set_device(n)
    assert gcuda.current_device() == 0  # nothing changed by the refused call


@needs_two
def test_two_devices(restore_current: None) -> None:
    rng = rng_for("two")
    gcuda.set_device(1)
    assert gcuda.current_device() == 1 and accelerator.current_device_index() == 1
    x = gpubp.tensor(rng.standard_normal(1 << 14).astype(np.float32), device="cuda")
    assert x.device == Device("cuda", 1)
    with Device("cuda"):
        assert gpubp.ones(2).device == Device("cuda", 1) and get_default_device() == Device("cuda", 1)
        with gcuda.device(0):
            assert gpubp.ones(2).device == Device("cuda", 0)  # "cuda" follows the current device
            assert get_default_device() == Device("cuda", 0)
    zero_before, one_before = gcuda.memory_allocated(0), gcuda.memory_allocated(1)
    y = gpubp.tensor(rng.standard_normal(1 << 14).astype(np.float32), device="cuda:1")
    assert gcuda.memory_allocated(1) >= one_before + (4 << 14) and gcuda.memory_allocated("cuda:1") >= 4 << 14
    assert gcuda.memory_allocated(0) <= zero_before
    np.testing.assert_allclose((x + y).cpu().numpy(), x.cpu().numpy() + y.cpu().numpy(), rtol=1e-6)
    with accelerator.device_index(0):
        assert accelerator.current_device_index() == 0
    assert accelerator.current_device_index() == 1
    accelerator.set_device_index(0)
    assert gcuda.current_device() == 0


# ---- gpubp.accelerator ---------------------------------------------------------------------------------------------------
def test_accelerator() -> None:
    expected = Device("cuda") if backend._cupy_installed() else None
    assert accelerator.current_accelerator() == expected
    assert accelerator.current_accelerator(check_available=True) == (expected if gpubp.cuda_available() else None)
    assert accelerator.device_count() == gcuda.device_count() and accelerator.is_available() == gcuda.is_available()
    with accelerator.device_index(None):
        pass
    if gpubp.cuda_available():
        assert accelerator.current_device_index() == gcuda.current_device()
        assert accelerator.memory_allocated() == gcuda.memory_allocated()
        assert accelerator.get_memory_info() == gcuda.mem_get_info()
        with pytest.warns(FutureWarning, match="current_device_index"):
            assert accelerator.current_device_idx() == gcuda.current_device()


@pytest.mark.parametrize(
    "name,args", [("current_device_index", ()), ("set_device_index", (0,)), ("synchronize", ()),
                  ("memory_allocated", ()), ("empty_cache", ()), ("get_memory_info", ())],
)  # fmt: skip
def test_accelerator_without_gpu_raises_as_torch(name: str, args: tuple, no_gpu: None) -> None:
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        getattr(accelerator, name)(*args)
    if torch is not None and not torch.accelerator.is_available():
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            getattr(torch.accelerator, name)(*args)


# ---- gpubp.backends ----------------------------------------------------------------------------------------------------
@pytest.fixture
def keep_flags() -> Iterator[None]:
    ours = [(cudnn, k, getattr(cudnn, k)) for k in ("enabled", "benchmark", "deterministic", "allow_tf32")]
    mm = gpubp.backends.cuda.matmul
    ours += [(mm, k, getattr(mm, k)) for k in ("allow_tf32", "allow_fp16_reduced_precision_reduction")]
    theirs = []
    if torch is not None:
        theirs = [(torch.backends.cudnn, k, getattr(torch.backends.cudnn, k)) for _, k, _ in ours[:4]]
        tm = torch.backends.cuda.matmul
        theirs += [(tm, k, getattr(tm, k)) for k in ("allow_tf32", "allow_fp16_reduced_precision_reduction")]
    det = gpubp.backends.are_deterministic_algorithms_enabled()
    yield
    for owner, k, v in ours + theirs:
        setattr(owner, k, v)
    gpubp.backends.use_deterministic_algorithms(det)
    if torch is not None:
        torch.use_deterministic_algorithms(False)
        torch.set_float32_matmul_precision("highest")


_FLAGS = [
    ("cudnn", "enabled"), ("cudnn", "benchmark"), ("cudnn", "deterministic"), ("cudnn", "allow_tf32"),
    ("cuda.matmul", "allow_tf32"), ("cuda.matmul", "allow_fp16_reduced_precision_reduction"),
]  # fmt: skip


def _owner(root: object, path: str) -> object:
    for part in path.split("."):
        root = getattr(root, part)
    return root


@needs_torch
@pytest.mark.parametrize("path,flag", _FLAGS, ids=[f"{p}.{f}" for p, f in _FLAGS])
def test_backend_flags_assign_and_check_as_torch(path: str, flag: str, keep_flags: None) -> None:
    ours, theirs = _owner(gpubp.backends, path), _owner(torch.backends, path)
    assert getattr(ours, flag) == getattr(theirs, flag)  # the same defaults
    for value in (True, False, True):
        setattr(ours, flag, value)
        setattr(theirs, flag, value)
        assert getattr(ours, flag) is getattr(theirs, flag) is value
    for bad in ("x", 1, None):
        with pytest.raises(Exception) as t_err:  # noqa: PT011
            setattr(theirs, flag, bad)
        with pytest.raises(type(t_err.value)):
            setattr(ours, flag, bad)
        assert getattr(ours, flag) is True  # a refused value leaves the flag as it was


@needs_torch
def test_backends_queries_and_contexts_match_torch(keep_flags: None) -> None:
    b, tb = gpubp.backends, torch.backends
    assert b.mps.is_available() is tb.mps.is_available() is False and b.mps.is_built() is False
    assert b.cudnn.is_available() is False and b.cudnn.version() is None
    assert b.cuda.is_built() is backend._cupy_installed()
    assert isinstance(b.mkldnn.is_available(), bool) and isinstance(b.openmp.is_available(), bool)
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        tb.cuda.matmul.foo  # noqa: B018
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        b.cuda.matmul.foo  # noqa: B018
    with cudnn.flags(enabled=False, benchmark=True), tb.cudnn.flags(enabled=False, benchmark=True):
        assert (cudnn.enabled, cudnn.benchmark) == (tb.cudnn.enabled, tb.cudnn.benchmark) == (False, True)
    assert (cudnn.enabled, cudnn.benchmark) == (tb.cudnn.enabled, tb.cudnn.benchmark)
    for kind in ("flash", "mem_efficient", "math", "cudnn"):
        getattr(b.cuda, f"enable_{kind}_sdp")(False)
        getattr(tb.cuda, f"enable_{kind}_sdp")(False)
        assert getattr(b.cuda, f"{kind}_sdp_enabled")() is getattr(tb.cuda, f"{kind}_sdp_enabled")() is False
        getattr(b.cuda, f"enable_{kind}_sdp")(True)
        getattr(tb.cuda, f"enable_{kind}_sdp")(True)
        with pytest.raises(RuntimeError):
            getattr(b.cuda, f"enable_{kind}_sdp")("x")
        with pytest.raises(RuntimeError):
            getattr(tb.cuda, f"enable_{kind}_sdp")("x")


@needs_torch
def test_determinism_and_matmul_precision_as_torch(keep_flags: None) -> None:
    b = gpubp.backends
    for mode, warn_only in ((True, False), (True, True), (False, False)):
        b.use_deterministic_algorithms(mode, warn_only=warn_only)
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
        assert b.are_deterministic_algorithms_enabled() is torch.are_deterministic_algorithms_enabled() is mode
        assert (
            b.is_deterministic_algorithms_warn_only_enabled() is torch.is_deterministic_algorithms_warn_only_enabled()
        )
    for bad in ("x", 1, None):
        with pytest.raises(TypeError):
            torch.use_deterministic_algorithms(bad)
        with pytest.raises(TypeError, match="must be bool"):
            b.use_deterministic_algorithms(bad)
    assert b.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    for precision in ("high", "medium", "highest"):
        b.set_float32_matmul_precision(precision)
        torch.set_float32_matmul_precision(precision)
        assert b.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == precision
        assert b.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32
    b.cuda.matmul.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    assert b.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "high"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b.set_float32_matmul_precision("fastest")
        torch.set_float32_matmul_precision("fastest")
    assert [w.category for w in caught] == [UserWarning, UserWarning]
    assert b.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "high"


def test_a_numbers_only_op_first_in_a_process_lands_on_gpubp_device_cuda_1() -> None:
    """With GPUBP_DEVICE=cuda:1 the default device is chosen lazily, possibly inside an op with no tensor argument
    (``add(2, 3)``): that op must still run with cuda:1 current (it once ran its kernel with cuda:0 current)."""
    import subprocess
    import sys

    env = {**os.environ, "GPUBP_EMULATE_CUDA": "2", "GPUBP_DEVICE": "cuda:1"}
    code = "import gpubp; y = gpubp.add(2, 3); print(y.device, y.item())"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["cuda:1", "5"]
