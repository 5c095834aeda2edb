"""The CUDA backend's Python side, without a GPU: every kernel launch it makes passes arguments
that match the kernel's C signature (read from kernels/*.cu), for every primitive and dtype.

The backend object is built without CuPy (``xp`` is NumPy) and launches are recorded instead of
run. A wrong argument count, a float32 where the kernel takes a double, or an int64 array where it
takes floats would corrupt memory on a GPU; here it fails on the CPU.
"""

from __future__ import annotations

import collections
import contextlib
import re

import numpy as np
import pytest

from gpubp.backend import kernels
from gpubp.backend.base import ACTIVATION_SAVES
from gpubp.backend.cupy_backend import CupyBackend
from gpubp.backend.cupy_multi_tensor import _TABLE

_NUMPY_OF = {"float": np.float32, "double": np.float64, "half_t": np.float16, "i64": np.int64}
_SCALARS = {"i64": np.int64, "double": np.float64, "float": np.float32, "int": np.int32}


class _Ptr:
    def __init__(self, ptr: int) -> None:
        self.ptr = ptr


class DeviceLike(np.ndarray):
    """A NumPy array with CuPy's ``.data.ptr``."""

    @property
    def data(self) -> _Ptr:  # type: ignore[override]
        return _Ptr(self.ctypes.data)


def _signature(family: str, name: str) -> list[str]:
    base = name.split("<")[0]
    src = kernels.source(family)
    m = re.search(r"__global__ void " + re.escape(base) + r"\((.*?)\)\s*\{", src, re.S)
    assert m, f"kernel {base} not found in family {family}"
    return [" ".join(p.replace("__restrict__", "").split()[:-1]) for p in m.group(1).split(",")]


def _check(family: str, name: str, args: tuple) -> None:
    params = _signature(family, name)
    assert len(args) == len(params), f"{name}: {len(args)} arguments for {len(params)} parameters {params}"
    t = name[name.index("<") + 1 :].split(",")[0].strip(" >")
    t_np = _NUMPY_OF[t]
    acc_np = np.float64 if t == "double" else np.float32
    for p, a in zip(params, args):
        if p == "TensorTable":
            assert isinstance(a, np.ndarray) and a.dtype == _TABLE and a.shape == (1,), f"{name}: {p} got {a!r}"
        elif "*" in p and type(a) is np.uint64:
            assert a == 0, f"{name}: pointer '{p}' got the integer {a}: only 0 (a null pointer) is allowed"
        elif "*" in p:
            assert isinstance(a, np.ndarray), f"{name}: pointer parameter '{p}' got {type(a).__name__}"
            elem = p.replace("const", "").replace("*", "").strip()
            want = acc_np if elem.startswith("typename Acc") else (t_np if elem == "T" else _NUMPY_OF[elem])
            assert a.dtype == want, f"{name}: '{p}' points to {np.dtype(want)}, got an array of {a.dtype}"
            assert a.flags.c_contiguous or a.strides in ((0,),), f"{name}: '{p}' got a non-contiguous array"
        else:
            assert type(a) is _SCALARS[p], f"{name}: scalar '{p}' got {type(a).__name__}"


@pytest.fixture
def gpu_like() -> tuple[CupyBackend, list]:
    """A CupyBackend on NumPy that records (family, kernel, grid, args) instead of launching."""
    be = object.__new__(CupyBackend)
    be.xp = np
    be._cuda_device = contextlib.nullcontext()
    be._sm_count = 132
    be._contig = lambda a: np.ascontiguousarray(a).view(DeviceLike)
    be._device_step = lambda step: np.full(1, float(step))
    be._tables_cache, be._steps, be.fallbacks = {}, {}, collections.Counter()
    launches: list = []

    def kernel(family: str, name: str):  # noqa: ANN202
        assert name in kernels.FAMILIES[family][1], f"{name} is not instantiated in family {family}"
        return lambda grid, block, args: launches.append((family, name, grid, args))

    be._kernel = kernel
    return be, launches


def _arr(shape: tuple, dtype: str, seed: int = 0) -> DeviceLike:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype).view(DeviceLike)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_activation_launches_match_their_kernels(gpu_like, dtype: str) -> None:  # noqa: ANN001
    be, launches = gpu_like
    x = _arr((33, 17), dtype)
    for name in ACTIVATION_SAVES:
        be.act_forward(name, x.T, 0.1)  # a non-contiguous input is made contiguous first
        be.act_backward(name, x, x, 0.1)
    assert len(launches) == 2 * len(ACTIVATION_SAVES)
    for family, name, grid, args in launches:
        _check(family, name, args)
        assert 1 <= grid[0] <= be._sm_count * 16


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_softmax_and_cross_entropy_launches_match_their_kernels(gpu_like, dtype: str) -> None:  # noqa: ANN001
    be, launches = gpu_like
    x = _arr((4, 3, 6), dtype)
    for axis in (0, 2):
        y = be.softmax(x, axis)
        be.softmax_backward(x, y.view(DeviceLike), axis)
        y = be.log_softmax(x, axis)
        be.log_softmax_backward(x, y.view(DeviceLike), axis)
    logits, target = _arr((8, 5), dtype), np.arange(8) % 5
    rows, saved = be.cross_entropy(logits, target, -100, 0.1)
    assert rows.shape == (8,) and isinstance(saved, tuple)
    rows = rows.view(DeviceLike)
    be.cross_entropy_reduce(rows, target, -100, False)
    _, count = be.cross_entropy_reduce(rows, target, -100, True)
    be.cross_entropy_backward(_arr((8,), dtype), saved, target, -100, 0.1)
    shared = np.broadcast_to(np.ones(1, dtype), (8,))
    be.cross_entropy_backward(shared, saved, target, divisor=count.view(DeviceLike))  # one shared gradient
    assert launches[-1][3][1] == np.int64(0)  # ... passed with row stride 0
    for family, name, _, args in launches:
        _check(family, name, args)


def test_reduction_launches_match_their_kernels(gpu_like) -> None:  # noqa: ANN001
    be, launches = gpu_like
    arrays = [_arr((int(n),), "float32", i) for i, n in enumerate(np.arange(1, kernels.MT_MAX + 9))]
    be.sq_norm(arrays + [_arr((3, 4), "float64")])  # two dtypes: one group each, two tables for float32
    tables = [args[0]["count"][0] for _, name, _, args in launches if name.startswith("sq_norm")]
    assert sorted(tables) == [1, 8, kernels.MT_MAX]
    be.moments(_arr((8, 3, 5, 5), "float32"), (0, 2, 3))
    be.moments(_arr((16, 4), "float64"), (0,))
    for family, name, _, args in launches:
        _check(family, name, args)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_optimizer_launches_match_their_kernels(gpu_like, dtype: str) -> None:  # noqa: ANN001
    be, launches = gpu_like
    state_dt = "float64" if dtype == "float64" else "float32"
    p = [_arr((5,), dtype), _arr((70,), dtype)]
    g = [_arr((5,), dtype), _arr((70,), dtype)]

    def st() -> list:
        return [_arr((5,), state_dt), _arr((70,), state_dt)]

    be.sgd_update(p, g, st(), lr=0.1, momentum=0.9, nesterov=True)
    be.adam_update(p, g, st(), st(), step=3, lr=1e-3, max_exp_avg_sqs=st())
    be.rmsprop_update(p, g, st(), lr=1e-3, momentum=0.9, bufs=st(), grad_avgs=st())
    be.adagrad_update(p, g, st(), step=2, lr=1e-2)
    assert [name.split("<")[0] for _, name, _, _ in launches] == [
        "sgd_multi",
        "adam_multi",
        "rmsprop_multi",
        "adagrad_multi",
    ]
    for family, name, _, args in launches:
        _check(family, name, args)
        table = args[0]
        assert table["count"][0] == 2 and list(table["numel"][0, :2]) == [5, 70]
        assert table["ptr"][0, 0, 0] == p[0].data.ptr and table["ptr"][0, 1, 1] == g[1].data.ptr


def test_optimizer_falls_back_when_the_kernel_cannot_take_the_arrays(gpu_like) -> None:  # noqa: ANN001
    be, launches = gpu_like
    p, g = [_arr((4,), "float32")], [_arr((4,), "float32")]
    bufs = [_arr((4,), "float64")]  # state in the wrong dtype for the float kernel
    before = p[0].copy()
    with pytest.warns(UserWarning, match="takes the slower reference path"):
        be.sgd_update(p, g, bufs, lr=0.5, momentum=0.9, first_step=True)
    be.sgd_update(p, g, bufs, lr=0.5, momentum=0.9)  # counted again, warned once
    assert launches == []
    assert sum(be.fallbacks.values()) == 2
    first = before - 0.5 * g[0]
    np.testing.assert_allclose(p[0], first - 0.5 * (0.9 * g[0] + g[0]), rtol=1e-5)  # the reference ran instead
