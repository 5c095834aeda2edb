"""GPU only: every kernel against its NumPy reference on fresh random data (many shapes,
non-contiguous inputs, float32/float64/float16), the fused optimizer steps against the NumPy
backend step for step, and proof that backward and the optimizer step never wait for the GPU.
Skipped without CuPy and a CUDA GPU."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import EMULATED, rng_for

import gpubp
from gpubp.backend import get_backend, kernels
from gpubp.backend.base import ACTIVATION_SAVES
from gpubp.backend.numpy_backend import NumpyBackend

pytestmark = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs CuPy and a CUDA GPU")

REF = NumpyBackend()
TOL = {"float16": 2e-2, "float32": 2e-5, "float64": 1e-12}
SHAPES = [(1,), (7,), (1000,), (33, 65), (4, 3, 129), (257, 1031)]
_PARAM = {"leaky_relu": 0.1, "elu": 1.3, "softplus": 1.5}


@pytest.fixture(scope="module")
def gpu():  # noqa: ANN201
    return get_backend("cuda")


def _pair(gpu, data: np.ndarray, noncontig: bool):  # noqa: ANN001, ANN202
    """(host array, device array); with ``noncontig`` the device array is a transposed view."""
    if noncontig and data.ndim >= 2:
        dev = gpu.asarray(np.ascontiguousarray(data.T)).T
    else:
        dev = gpu.asarray(data)
    return data, dev


def _close(got, want: np.ndarray, dtype: str) -> None:  # noqa: ANN001
    np.testing.assert_allclose(
        np.asarray(got.get(), dtype=np.float64), want.astype(np.float64), rtol=TOL[dtype], atol=TOL[dtype]
    )


@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(ACTIVATION_SAVES))
def test_activation_kernels_match_reference(gpu, name: str, shape: tuple, dtype: str, noncontig: bool) -> None:  # noqa: ANN001
    rng = rng_for("cuda-act", name, shape, dtype, noncontig)
    x, dx_in = _pair(gpu, (rng.standard_normal(shape) * 4).astype(dtype), noncontig)
    g, dg = _pair(gpu, rng.standard_normal(shape).astype(dtype), noncontig)
    p = _PARAM.get(name, 0.0)
    ref_x = x.astype(np.float64 if dtype == "float64" else np.float32)
    want_y = REF.act_forward(name, ref_x, p)
    y = gpu.act_forward(name, dx_in, p)
    assert y.dtype == np.dtype(dtype)
    _close(y, want_y, dtype)
    saved_host = want_y.astype(dtype) if ACTIVATION_SAVES[name] == "output" else x
    saved_dev = y if ACTIVATION_SAVES[name] == "output" else dx_in
    want_dx = REF.act_backward(name, g.astype(ref_x.dtype), saved_host.astype(ref_x.dtype), p)
    _close(gpu.act_backward(name, dg, saved_dev, p), want_dx, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape,axis", [((5, 7), 1), ((4, 3, 6), 0), ((300, 1000), 1), ((2, 50000), 1), ((64, 1), 1)])
def test_softmax_kernels_match_reference(gpu, shape: tuple, axis: int, dtype: str) -> None:  # noqa: ANN001
    rng = rng_for("cuda-softmax", shape, axis, dtype)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    ref_dt = np.float64 if dtype == "float64" else np.float32
    for fwd, bwd, rfwd, rbwd in (
        (gpu.softmax, gpu.softmax_backward, REF.softmax, REF.softmax_backward),
        (gpu.log_softmax, gpu.log_softmax_backward, REF.log_softmax, REF.log_softmax_backward),
    ):
        y = fwd(gpu.asarray(x), axis)
        want = rfwd(x.astype(ref_dt), axis)
        _close(y, want, dtype)
        _close(bwd(gpu.asarray(g), y, axis), rbwd(g.astype(ref_dt), y.get().astype(ref_dt), axis), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("n,c", [(1, 2), (37, 10), (1024, 1000), (8, 50257)])
def test_cross_entropy_kernels_match_reference(gpu, n: int, c: int, smoothing: float, dtype: str) -> None:  # noqa: ANN001
    rng = rng_for("cuda-xent", n, c, smoothing, dtype)
    logits = (rng.standard_normal((n, c)) * 3).astype(dtype)
    target = rng.integers(0, c, n)
    target[:: max(n // 3, 2)] = -100
    g = rng.standard_normal(n).astype(dtype)
    ref_dt = np.float64 if dtype == "float64" else np.float32
    rows, saved = gpu.cross_entropy(gpu.asarray(logits), gpu.asarray(target), -100, smoothing)
    want_rows, probs = REF.cross_entropy(logits.astype(ref_dt), target, -100, smoothing)
    _close(rows, want_rows, dtype)
    dx = gpu.cross_entropy_backward(gpu.asarray(g), saved, gpu.asarray(target), -100, smoothing)
    _close(dx, REF.cross_entropy_backward(g.astype(ref_dt), probs, target, -100, smoothing), dtype)
    shared = gpu.xp.broadcast_to(gpu.asarray(g[:1]), (n,))  # one gradient for every row, stride 0
    dx = gpu.cross_entropy_backward(shared, saved, gpu.asarray(target), -100, smoothing)
    want = REF.cross_entropy_backward(np.full(n, g[0], ref_dt), probs, target, -100, smoothing)
    _close(dx, want, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_sq_norm_over_more_tensors_than_one_table(gpu, dtype: str) -> None:  # noqa: ANN001
    rng = rng_for("cuda-norm", dtype)
    arrays = [rng.standard_normal(int(s)).astype(dtype) for s in rng.integers(1, 5000, kernels.MT_MAX * 2 + 3)]
    total = gpu.sq_norm([gpu.asarray(a) for a in arrays])
    want = sum(float((a.astype(np.float64) ** 2).sum()) for a in arrays)
    assert abs(float(total.get()) - want) <= (1e-2 if dtype == "float16" else 1e-4) * want


@pytest.mark.parametrize("shape,axes", [((64, 16), (0,)), ((8, 3, 17, 19), (0, 2, 3)), ((2, 5, 1000), (0, 2))])
def test_channel_moments_match_reference(gpu, shape: tuple, axes: tuple) -> None:  # noqa: ANN001
    x = rng_for("cuda-moments", shape).standard_normal(shape) * 3 + 1
    for dtype, tol in (("float32", 1e-5), ("float64", 1e-12)):
        mean, var = gpu.moments(gpu.asarray(x.astype(dtype)), axes)
        np.testing.assert_allclose(mean.get(), x.mean(axes), rtol=tol, atol=tol)
        np.testing.assert_allclose(var.get(), x.var(axes), rtol=tol * 10, atol=tol)


_OPT = [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("adam", {"lr": 1e-2, "weight_decay": 0.1}),
    ("adamw", {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {"lr": 1e-2, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
]


def _step(be, kind: str, kw: dict, p: list, g: list, st: dict, step: int, state_dtype) -> None:  # noqa: ANN001
    xp = be.xp
    z = lambda: [xp.zeros(a.shape, dtype=state_dtype) for a in p]  # noqa: E731
    kw = dict(kw)
    if kind == "sgd":
        be.sgd_update(p, g, st.setdefault("buf", z()), first_step=step == 1, **kw)
    elif kind in ("adam", "adamw"):
        vmax = st.setdefault("vmax", z()) if kw.pop("amsgrad", False) else None
        be.adam_update(
            p,
            g,
            st.setdefault("m", z()),
            st.setdefault("v", z()),
            step=step,
            decoupled=kind == "adamw",
            max_exp_avg_sqs=vmax,
            **kw,
        )
    elif kind == "rmsprop":
        centered = kw.pop("centered", False)
        be.rmsprop_update(
            p,
            g,
            st.setdefault("v", z()),
            bufs=st.setdefault("buf", z()),
            grad_avgs=st.setdefault("ga", z()) if centered else None,
            **kw,
        )
    else:
        be.adagrad_update(p, g, st.setdefault("s", z()), step=step, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("kind,kw", _OPT, ids=[f"{k}-{i}" for i, (k, _) in enumerate(_OPT)])
def test_fused_optimizer_steps_match_numpy_backend(gpu, kind: str, kw: dict, dtype: str) -> None:  # noqa: ANN001
    rng = rng_for("cuda-opt", kind, dtype)
    shapes = [tuple(int(v) for v in rng.integers(1, 40, rng.integers(1, 4))) for _ in range(kernels.MT_MAX + 5)]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    state_dt = np.float64 if dtype == "float64" else np.float32
    ref_p = [a.astype(state_dt) for a in init]  # the reference runs in the kernels' math type
    dev_p = [gpu.asarray(a) for a in init]
    ref_st: dict = {}
    dev_st: dict = {}
    for step in range(1, 5):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        _step(REF, kind, kw, ref_p, [gr.astype(state_dt) for gr in grads], ref_st, step, state_dt)
        _step(gpu, kind, kw, dev_p, [gpu.asarray(gr) for gr in grads], dev_st, step, state_dt)
        if dtype == "float16":
            ref_p = [a.astype(np.float16).astype(np.float32) for a in ref_p]  # parameters are stored in half
    for got, want in zip(dev_p, ref_p):
        _close(got, want, dtype)


def _spin(gpu, ms: float):  # noqa: ANN001, ANN202
    """Keep the GPU busy for about ``ms`` milliseconds on the current stream."""
    kernel = gpu.xp.RawKernel(
        r"""extern "C" __global__ void spin(long long cycles) {
            long long start = clock64(); while (clock64() - start < cycles) {} }""",
        "spin",
    )
    rate_khz = gpu.xp.cuda.runtime.getDeviceProperties(gpu.index)["clockRate"]
    kernel((1,), (1,), (np.int64(rate_khz * ms),))


def _mlp_and_cnn_step(device: str) -> list[gpubp.Tensor]:
    """One training step of an MLP and of a small CNN (convolution as patches @ kernel, from
    primitives), with the optimizer update through the fused primitive."""
    gpubp.manual_seed(0)
    x = gpubp.randn(32, 1, 8, 8, device=device)
    y = gpubp.randint(0, 10, (32,), device=device)
    kernel = (gpubp.randn(8, 9, device=device) * 0.3).requires_grad_()
    w1 = (gpubp.randn(64, 8 * 36, device=device) * 0.05).requires_grad_()
    b1 = gpubp.zeros(64, device=device, requires_grad=True)
    w2 = (gpubp.randn(10, 64, device=device) * 0.1).requires_grad_()
    params = [kernel, w1, b1, w2]
    # im2col for a 3x3 'valid' convolution: (32, 36, 9) patches
    patches = gpubp.stack([x[:, 0, i : i + 6, j : j + 6] for i in range(3) for j in range(3)], -1).reshape(32, 36, 9)
    fmap = gpubp.relu(patches @ kernel.T)  # (32, 36, 8)
    h = gpubp.gelu(gpubp.linear(fmap.reshape(32, -1), w1, b1))
    loss = gpubp.cross_entropy(gpubp.linear(h, w2), y, label_smoothing=0.1) + 1e-4 * (w1 * w1).sum()
    loss.backward()
    be = get_backend(device)
    with gpubp.no_grad():
        state = [be.xp.zeros_like(p._data) for p in params]
        be.adam_update(
            [p._data for p in params],
            [p.grad._data for p in params],
            state,
            [be.xp.zeros_like(p._data) for p in params],
            step=1,
            lr=1e-3,
        )
        be.sgd_update([p._data for p in params], [p.grad._data for p in params], state, lr=0.01, momentum=0.9)
        be.sq_norm([p.grad._data for p in params])
    return params


def test_training_step_under_sync_debug_mode() -> None:
    gpubp.set_sync_debug_mode("error")
    try:
        params = _mlp_and_cnn_step("cuda")
    finally:
        gpubp.set_sync_debug_mode("default")
    assert all(np.isfinite(p.detach().cpu().numpy()).all() for p in params)


@pytest.mark.skipif(EMULATED, reason="needs a real GPU: a busy kernel for the host to wait on")
def test_backward_and_step_do_not_wait_for_the_gpu(gpu) -> None:  # noqa: ANN001
    """With the GPU busy for 2 s, a whole forward + backward + optimizer step must return on the
    host long before: any synchronization inside would wait for the busy kernel."""
    _mlp_and_cnn_step("cuda")  # compile everything first
    gpu.xp.cuda.Device(gpu.index).synchronize()
    _spin(gpu, 2000)
    start = time.perf_counter()
    _mlp_and_cnn_step("cuda")
    host_seconds = time.perf_counter() - start
    still_busy = not gpu.xp.cuda.get_current_stream().done
    gpu.xp.cuda.Device(gpu.index).synchronize()
    assert still_busy and host_seconds < 1.0, f"the step waited for the GPU ({host_seconds:.2f}s on the host)"


def test_warmup_compiles_every_kernel() -> None:
    seconds = gpubp.cuda.warmup()
    be = get_backend("cuda")
    want = {(f, ct) for f in kernels.FAMILIES for ct in kernels.CTYPES.values()}
    assert set(be._modules) == want and seconds >= 0
