"""The CUDA backend over the CPU stand-in of CuPy (run with GPUBP_EMULATE_CUDA=1): the stand-in behaves as CuPy
where gpubp could go wrong, and each defect the first GPU run would have hit is fixed, with a test that fails
without its fix: device placement, stream ordering, host syncs, fused launches, layouts, compile failures.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EMULATED, rng_for

import gpubp
import gpubp.nn as nn
from gpubp import optim
from gpubp.backend import get_backend, kernels

pytestmark = pytest.mark.skipif(not EMULATED, reason="runs on the emulated CUDA device (GPUBP_EMULATE_CUDA=1)")

if EMULATED:
    from gpubp.backend.emulation import cupy_standin as cp
    from gpubp.backend.emulation.host_kernels import HostCompileError


@pytest.fixture
def two_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator with two devices, cuda:0 and cuda:1, as GPUBP_EMULATE_CUDA=2 gives."""
    monkeypatch.setattr(cp.devices, "N_DEVICES", max(cp.devices.N_DEVICES, 2))


@pytest.fixture
def sync_errors():  # noqa: ANN201
    gpubp.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        gpubp.cuda.set_sync_debug_mode("default")


# ---- the stand-in behaves as CuPy ------------------------------------------------------------------------------
def test_device_memory_is_not_host_memory() -> None:
    a = cp.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError):
        a + np.ones(3)
    with pytest.raises(TypeError):
        np.ones(3) * a
    assert np.isnan(cp.empty(4).get()).all()  # empty is never zeros
    for to_host in (np.asarray, gpubp.Tensor.numpy):  # as a GPU tensor in PyTorch
        with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu\(\)"):
            to_host(gpubp.ones(2, device="cuda"))


def test_arrays_of_another_device_are_refused(two_devices: None) -> None:
    with cp.cuda.Device(1):
        b = cp.ones(3)
        assert (b * 2).device.id == 1
    with pytest.raises(ValueError, match="Array device must be same as the current device"):
        b * 2
    with pytest.raises(ValueError, match="Array device must be same as the current device"):
        cp.exp(b)


def test_every_synchronizing_call_is_flagged(sync_errors: None) -> None:
    a = cp.arange(6, dtype=np.float64)
    calls = [
        lambda: a.item(0),
        lambda: float(a.sum()),
        lambda: bool(a.any()),
        lambda: a.get(),
        lambda: cp.asnumpy(a),
        lambda: a.tolist(),
        lambda: a[a > 2],
        lambda: cp.nonzero(a),
        lambda: cp.bincount(cp.arange(3)),
        lambda: cp.unique(a),
        lambda: gpubp.ones(2, device="cuda").item(),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="sync debug mode is 'error'"):
            call()
    cp.exp(a)[1:] * 2  # kernels and views do not synchronize


_PROBE = """
template <typename T>
__global__ void probe(T* out, long long a, double b, bool c, float d, const T* x) {
    out[0] = T(a); out[1] = T(b); out[2] = T(c); out[3] = T(d); out[4] = x[1];
}
"""


def test_kernel_arguments_are_converted_as_cupy_converts_them() -> None:
    fn = cp.RawModule(code=_PROBE, name_expressions=["probe<double>"]).get_function("probe<double>")
    out = cp.zeros(5, dtype=np.float64)
    x = cp.asarray(np.array([[1.0, 2.0], [3.0, 4.0]]).T)  # a transposed view: CuPy passes its pointer, no strides
    fn((1,), (1,), (out, 3, 2.5, True, np.float32(1.5), x))
    assert out.get().tolist() == [3.0, 2.5, 1.0, 1.5, 2.0]
    fn((1,), (1,), (out, np.int64(4), np.array([0.5]), False, np.float32(1), x))  # a size-1 host array: its value
    assert out.get()[:2].tolist() == [4.0, 0.5]
    with pytest.raises(TypeError, match="bytes"):
        fn((1,), (1,), (out, 3, 2.5, True, 1.5, x))  # a Python float is a double: 8 bytes for a float parameter
    with pytest.raises(TypeError, match="Unsupported type"):
        fn((1,), (1,), (out, 3, np.ones(2), True, np.float32(1), x))  # a host array of 2 values
    with pytest.raises(KeyError):
        cp.RawModule(code=_PROBE, name_expressions=["probe<double>"]).get_function("probe<float>")


# ---- defect 1: the side-stream copy of from_host waits for the compute stream ------------------------------------
def test_a_side_stream_copy_must_wait_for_the_compute_stream() -> None:
    out = cp.empty(3)
    side = cp.cuda.Stream(non_blocking=True)
    with pytest.raises(RuntimeError, match="races"):
        out.set(np.ones(3), stream=side)  # what from_host did: the pool's block may still be read by queued kernels
    side.wait_event(cp.cuda.get_current_stream().record())
    out.set(np.ones(3), stream=side)
    be = get_backend("cuda")
    for i in range(3):  # a loader loop: each batch's copy is ordered after the work queued before it
        got = be.from_host(np.full(4, float(i)))
        assert got.get().tolist() == [float(i)] * 4


# ---- defect 2: float16 norms stay float32 --------------------------------------------------------------------------
def test_float16_gradient_norm_does_not_overflow() -> None:
    w = gpubp.full((1000,), 1.0, dtype=gpubp.float16, device="cuda", requires_grad=True)
    (w * 20.0).sum().backward()  # every gradient 20: norm 632, sum of squares 400000 > float16's 65504
    total = nn.utils.clip_grad_norm_([w], 1.0)
    # summed in float32 (400000 would overflow float16), returned in the gradients' dtype as PyTorch
    assert total.dtype == gpubp.float16 and abs(total.item() - 20.0 * 1000**0.5) < 0.5
    np.testing.assert_allclose(w.grad.detach().cpu().numpy().astype(np.float64), 1.0 / 1000**0.5, rtol=1e-2)


# ---- defect 3: cuda:1 -----------------------------------------------------------------------------------------
def _mlp_step(device: str, steps: int = 2) -> tuple[list[float], list[np.ndarray]]:
    gpubp.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 5))
    init = [p.detach().cpu() for p in model.parameters()]
    model = model.to(device)
    for p, v in zip(model.parameters(), init):
        p._data = v.to(device)._data
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    rng = rng_for("two-devices")
    x = gpubp.tensor(rng.standard_normal((8, 12)), dtype=gpubp.float32, device=device)
    y = gpubp.tensor(rng.integers(0, 5, 8), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


def test_a_training_step_on_the_second_device_stays_there(two_devices: None) -> None:
    want_losses, want_params = _mlp_step("cpu")
    losses, params = _mlp_step("cuda:1")
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for got, want in zip(params, want_params):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    x = gpubp.randn(4, 3, device="cuda:1", requires_grad=True)
    assert x._data.device.id == 1 and gpubp.zeros_like(x)._data.device.id == 1
    (gpubp.relu(x) * x).sum().backward()
    assert x.grad._data.device.id == 1


def test_deepcopy_and_inplace_activations_enter_the_second_device(two_devices: None) -> None:
    """With cuda:0 current, a deep copy of a cuda:1 module (AveragedModel does one) and an nn inplace= form on cuda:1
    run on cuda:1: neither goes through an op that enters the device for it."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Hardtanh(inplace=True)).to("cuda:1")
    twin = optim.swa_utils.AveragedModel(model)
    assert all(p._data.device.id == 1 for p in twin.parameters())
    x = gpubp.randn(2, 3, device="cuda:1")
    np.testing.assert_allclose(twin(x).detach().cpu().numpy(), model(x).detach().cpu().numpy())
    y = gpubp.randn(5, device="cuda:1") * 3
    assert nn.functional.hardtanh(y, inplace=True) is y and float(y.abs().max().item()) <= 1.0


# ---- defect 6: backward does not synchronize where forward already did ------------------------------------------
def test_pad_and_mask_backward_do_not_synchronize(sync_errors: None) -> None:
    gpubp.cuda.set_sync_debug_mode("default")
    x = gpubp.randn(3, 4, device="cuda", requires_grad=True)
    mask = x.detach() > 0
    out = gpubp.pad(x, (2, 1), mode="reflect").sum() + x[mask].sum() * 2  # the mask's indices: found in forward
    gpubp.cuda.set_sync_debug_mode("error")
    out.backward()
    gpubp.cuda.set_sync_debug_mode("default")
    x_cpu = gpubp.tensor(x.detach().cpu().numpy(), device="cpu", requires_grad=True)
    (gpubp.pad(x_cpu, (2, 1), mode="reflect").sum() + x_cpu[x_cpu.detach() > 0].sum() * 2).backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), x_cpu.grad.detach().cpu().numpy(), rtol=1e-6)


# ---- defect 7, 9, 10: gradients, launches and step counters of training steps -------------------------------------
def _models() -> dict:
    return {
        "mlp": (nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4)), (16, 20)),
        "cnn": (
            nn.Sequential(
                nn.Conv2d(1, 4, 3, padding=1),
                nn.BatchNorm2d(4),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(4 * 4 * 4, 4),
            ),
            (6, 1, 8, 8),
        ),
        "lstm": (nn.LSTM(5, 8, batch_first=True), (3, 4, 5)),
    }


def _step(name: str, model: nn.Module, shape: tuple, opt: optim.Optimizer, x: gpubp.Tensor) -> None:
    opt.zero_grad()
    out = model(x)
    if name == "lstm":
        out = out[0][:, -1, :4]
    loss = nn.functional.cross_entropy(out, gpubp.tensor(np.arange(shape[0]) % 4, device="cuda"))
    loss.backward()
    opt.step()


@pytest.mark.parametrize("dtype", [gpubp.float32, gpubp.float16])
@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_each_optimizer_step_is_one_fused_launch(name: str, dtype: np.dtype, sync_errors: None) -> None:
    gpubp.cuda.set_sync_debug_mode("default")
    model, shape = _models()[name]
    model = model.to("cuda")
    if dtype == gpubp.float16:
        for p in model.parameters():
            p._data = p._data.astype(np.float16)
    x = gpubp.randn(*shape, device="cuda", dtype=dtype)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    be = get_backend("cuda")
    be.fallbacks.clear()
    _step(name, model, shape, opt, x)  # first step: state is made
    gpubp.cuda.set_sync_debug_mode("error")  # forward, backward and the update never wait for the GPU
    with cp.counting_launches() as counts:
        _step(name, model, shape, opt, x)
    gpubp.cuda.set_sync_debug_mode("default")
    assert counts[f"adam_multi<{kernels.CTYPES[np.dtype(dtype).name]}>"] == 1, dict(counts)
    assert not be.fallbacks, be.fallbacks
    assert all(p.grad._data.flags.c_contiguous for p in model.parameters())


def test_a_planted_item_in_a_vjp_or_an_optimizer_step_is_caught(
    monkeypatch: pytest.MonkeyPatch, sync_errors: None
) -> None:
    gpubp.cuda.set_sync_debug_mode("default")
    model, shape = _models()["mlp"]
    model = model.to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = gpubp.randn(*shape, device="cuda")
    be = type(get_backend("cuda"))
    act_backward, sgd_update = be.act_backward, be.sgd_update

    def planted_vjp(self, name, g, saved, param=0.0):  # noqa: ANN001, ANN202
        g.sum().item()
        return act_backward(self, name, g, saved, param)

    def planted_step(self, params, grads, bufs, **kw):  # noqa: ANN001, ANN202
        float(grads[0].max())
        return sgd_update(self, params, grads, bufs, **kw)

    for name, planted in (("act_backward", planted_vjp), ("sgd_update", planted_step)):
        with monkeypatch.context() as m:
            m.setattr(be, name, planted)
            gpubp.cuda.set_sync_debug_mode("error")
            with pytest.raises(RuntimeError, match="sync debug mode is 'error'"):
                _step("mlp", model, shape, opt, x)
            gpubp.cuda.set_sync_debug_mode("default")


def test_a_weight_used_transposed_gets_a_c_contiguous_gradient_and_a_fused_step() -> None:
    w = gpubp.randn(5, 3, device="cuda", requires_grad=True)  # used as w.T, like a tied embedding or kernel.T
    b = gpubp.randn(5, device="cuda", requires_grad=True)
    opt = optim.Adam([w, b], lr=1e-2)
    be = get_backend("cuda")
    be.fallbacks.clear()
    for _ in range(2):
        opt.zero_grad()
        (gpubp.tanh(gpubp.randn(4, 3, device="cuda") @ w.T + b) ** 2).sum().backward()
        assert w.grad._data.flags.c_contiguous
        with cp.counting_launches() as counts:
            opt.step()
        assert counts["adam_multi<float>"] == 1 and not be.fallbacks, (dict(counts), be.fallbacks)


def test_the_step_counter_and_pointer_tables_stay_put(monkeypatch: pytest.MonkeyPatch) -> None:
    be = get_backend("cuda")
    builds = []
    build = be._build_tables
    monkeypatch.setattr(be, "_build_tables", lambda lists: builds.append(1) or build(lists))
    w = gpubp.randn(6, device="cuda", requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    counters = []
    for _ in range(4):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        counters.append(be._steps[(id(opt), (id(w),))][0])
    assert all(c is counters[0] for c in counters)  # one device array, advanced in place
    assert counters[0].get().tolist() == [4.0]
    assert len(builds) == 1  # the table of addresses is built once, then reused


def test_cross_entropy_forward_is_two_launches() -> None:
    logits = gpubp.randn(8, 5, device="cuda", requires_grad=True)
    target = gpubp.randint(0, 5, (8,), device="cuda")
    with cp.counting_launches() as counts:
        loss = nn.functional.cross_entropy(logits, target)
    assert sum(counts.values()) == 2, dict(counts)
    loss.backward()
    want = nn.functional.cross_entropy(logits.detach().cpu().requires_grad_(), target.cpu())
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-6)


# ---- defect 8: a family that fails to compile fails at once the second time -----------------------------------
def test_a_failed_compile_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpubp.backend.cupy_backend import CupyBackend

    be = CupyBackend(0)
    compiles = []
    real = cp.RawModule
    monkeypatch.setattr(cp, "RawModule", lambda **kw: compiles.append(1) or real(**kw))
    monkeypatch.setattr(kernels, "source", lambda family: "this is not C++")
    x = cp.ones(4, dtype=np.float32)
    with pytest.raises(HostCompileError):
        be.act_forward("relu", x)
    with pytest.raises(RuntimeError, match="failed to compile earlier"):
        be.act_forward("tanh", x)
    assert len(compiles) == 1


# ---- defect 12: erf keeps float16 -----------------------------------------------------------------------------
def test_erf_keeps_the_input_dtype() -> None:
    be = get_backend("cuda")
    x = cp.asarray(np.linspace(-2, 2, 5).astype(np.float16))
    assert be.erf(x).dtype == np.float16
