"""The CUDA backend: CuPy for ``xp``, custom kernels from ``kernels/`` for the fused primitives.

CuPy is imported only when a ``cuda`` device is first used. Every primitive here launches
work and returns device arrays: nothing waits for the GPU. Inputs a kernel is not
instantiated for (integer or bfloat16 data, odd layouts) take the ``xp`` reference of
``base.Backend``, which is correct, only slower.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import SWITCHING, kernels
from .base import Backend
from .cupy_attention import FusedAttention
from .cupy_multi_tensor import FusedMultiTensor
from .cupy_norm import FusedNorm

BLOCK = 256  # threads per block for every kernel; row kernels run 8 warps (rows) per block


class CupyBackend(FusedAttention, FusedNorm, FusedMultiTensor):
    """Arrays in one GPU's memory; fused primitives run gpubp's own kernels.

    Every public method runs with this backend's device current (``_on_own_device`` below), so allocations and
    launches land on ``cuda:N`` whatever device the caller had current."""

    def __init__(self, index: int) -> None:
        from . import Device, cupy_modules

        cupy, cupyx = cupy_modules()
        self.xp = cupy
        self._cupyx = cupyx
        self.device = Device("cuda", index)
        self.index = index
        self._cuda_device = cupy.cuda.Device(index)
        self._erf = cupyx.scipy.special.erf
        self._modules: dict[tuple, Any] = {}  # (family, ctype) -> compiled module, or the error its compile raised
        self._functions: dict[tuple[str, str], Any] = {}
        self._copy_stream: Any = None
        self._inflight: list = []
        self._tables_cache: dict[tuple, list] = {}
        self._steps: dict[Any, list] = {}  # optimizer key -> [device counter, the step it holds]
        self.fallbacks: collections.Counter = collections.Counter()  # (primitive, reason) -> count
        self._sm_count = int(self._cuda_device.attributes["MultiProcessorCount"])
        # seeded from the OS, not left unseeded, so gpubp.cuda.initial_seed() can say which seed it was
        self.initial_seed = int.from_bytes(os.urandom(8), "little")
        with self._cuda_device:
            self._rng = cupy.random.default_rng(self.initial_seed)

    def enter(self) -> Any:
        return self._cuda_device

    # ---- arrays, random -------------------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(data, dtype=dtype)

    def from_host(self, a: Any) -> Any:
        """Stage through pinned memory and copy on a side stream, so the copy overlaps running kernels.

        ``out`` comes from the compute stream's memory pool, which may hand out a block that kernels already
        queued on that stream still read: the copy stream first waits for an event recorded on the compute stream
        now (on the device, not the host), then the compute stream waits for the copy's event."""
        xp = self.xp
        if self._copy_stream is None:
            self._copy_stream = xp.cuda.Stream(non_blocking=True)
        compute = xp.cuda.get_current_stream()
        pinned = self._cupyx.empty_pinned(a.shape, dtype=a.dtype)
        pinned[...] = a
        out = xp.empty(a.shape, dtype=a.dtype)
        self._copy_stream.wait_event(compute.record())
        out.set(pinned, stream=self._copy_stream)
        done = self._copy_stream.record()
        compute.wait_event(done)
        # the pinned buffer must outlive its copy: keep it until its event reports done
        # (Event.done asks without waiting)
        self._inflight = [(buf, ev) for buf, ev in self._inflight if not ev.done] + [(pinned, done)]
        return out

    def to_numpy(self, a: Any) -> np.ndarray:
        return self.xp.asnumpy(a)  # device-to-host copy: synchronizes

    def erf(self, x: Any) -> Any:
        # cupyx's erf has no float16 loop (float16 in, float64 out): keep the input's dtype, as the NumPy backend
        return self._erf(x).astype(x.dtype, copy=False)

    def scatter_add(self, target: Any, key: Any, values: Any) -> None:
        self._cupyx.scatter_add(target, key, values)

    def manual_seed(self, seed: int) -> None:
        self._rng = self.xp.random.default_rng(seed)
        self.initial_seed = seed

    def randn(self, shape: tuple, dtype: Any) -> Any:
        dt = np.dtype(dtype)
        if dt in (np.float32, np.float64):
            return self._rng.standard_normal(shape, dtype=dt)
        return self._rng.standard_normal(shape, dtype=np.float32).astype(dt)

    def rand(self, shape: tuple, dtype: Any) -> Any:
        dt = np.dtype(dtype)
        u = self._rng.random(shape, dtype=np.float64)  # CuPy draws doubles whatever the dtype
        if dt == np.float64:
            return u
        # a double just below 1 rounds to 1.0 in a narrower float: clamp, so that samples stay in [0, 1)
        return self.xp.minimum(u, float(np.nextafter(dt.type(1), dt.type(0)))).astype(dt)

    def randint(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        return self._rng.integers(low, high, size=shape, dtype=np.dtype(dtype))

    def exponential(self, shape: tuple, dtype: Any) -> Any:
        dt = np.dtype(dtype)
        if dt in (np.float32, np.float64):
            return self._rng.standard_exponential(shape, dtype=dt)
        return self._rng.standard_exponential(shape, dtype=np.float32).astype(dt)

    def poisson(self, lam: Any) -> Any:
        # cupy's Generator.poisson reads float64 rates (any strides) and gives int64 counts of their shape
        return self._rng.poisson(lam.astype(np.float64, copy=False)).astype(lam.dtype, copy=False)

    # ---- kernels ----------------------------------------------------------------------------
    def _kernel(self, family: str, name: str) -> Any:
        """A compiled kernel. Its module (the family's instantiations for one dtype) compiles on first use, then comes
        from CuPy's disk cache. A module that failed to compile raises its error again at once: a compile takes
        seconds, and would otherwise repeat at every launch."""
        fn = self._functions.get((family, name))
        if fn is not None:
            return fn
        key = (family, kernels.ctype_of(name))
        module = self._modules.get(key)
        if isinstance(module, Exception):
            raise RuntimeError(f"kernel family '{family}' ({key[1]}) failed to compile earlier: {module}") from module
        if module is None:
            try:
                names = kernels.instantiations(*key)
                module = self.xp.RawModule(code=kernels.source(family), options=kernels.OPTIONS, name_expressions=names)
                fn = module.get_function(name)  # CuPy compiles here, at the first lookup
            except Exception as e:
                self._modules[key] = e
                raise
            self._modules[key] = module
        fn = self._functions[(family, name)] = module.get_function(name)
        return fn

    def warmup(self) -> None:
        """Compile every kernel of every family now."""
        for family, (_, names) in kernels.FAMILIES.items():
            for name in names:
                self._kernel(family, name)

    def _grid(self, work: int) -> tuple[int]:
        # enough blocks to fill the GPU, no more: the kernels loop (grid-stride) over the rest
        return (max(1, min(math.ceil(work / BLOCK), self._sm_count * 16)),)

    def _launch(self, family: str, name: str, work: int, args: tuple, grid: tuple[int] | None = None) -> None:
        self._kernel(family, name)(grid or self._grid(work), (BLOCK,), args)

    def _fallback(self, primitive: str, reason: str) -> None:
        """Count (and warn once about) a primitive that took the slower ``xp`` reference path."""
        key = (primitive, reason)
        if not self.fallbacks[key]:
            warnings.warn(f"gpubp {self.device}: {primitive} takes the slower reference path ({reason})", stacklevel=3)
        self.fallbacks[key] += 1

    def _contig(self, a: Any) -> Any:
        return self.xp.ascontiguousarray(a)

    # ---- activations ------------------------------------------------------------------------
    def act_forward(self, name: str, x: Any, param: float = 0.0) -> Any:
        ct = kernels.CTYPES.get(x.dtype.name)
        if ct is None:
            return super().act_forward(name, x, param)
        x = self._contig(x)
        y = self.xp.empty_like(x)
        if x.size:
            kid = kernels.ACTIVATION_IDS[name]
            self._launch(
                "activations", f"act_forward<{ct}, {kid}>", x.size, (x, y, np.int64(x.size), np.float64(param))
            )
        return y

    def act_backward(self, name: str, g: Any, saved: Any, param: float = 0.0) -> Any:
        ct = kernels.CTYPES.get(saved.dtype.name)
        if ct is None or g.dtype != saved.dtype or g.shape != saved.shape:
            return super().act_backward(name, g, saved, param)
        g, saved = self._contig(g), self._contig(saved)
        dx = self.xp.empty_like(saved)
        if dx.size:
            kid = kernels.ACTIVATION_IDS[name]
            args = (g, saved, dx, np.int64(dx.size), np.float64(param))
            self._launch("activations", f"act_backward<{ct}, {kid}>", dx.size, args)
        return dx

    # ---- softmax family: rows along the last axis; other axes are moved there first ----------
    def _rows(self, a: Any, axis: int) -> Any:
        return self._contig(self.xp.moveaxis(a, axis, -1))

    def _softmax_fwd(self, x: Any, axis: int, log: bool) -> Any:
        ct = kernels.CTYPES.get(x.dtype.name)
        if ct is None:
            return (super().log_softmax if log else super().softmax)(x, axis)
        rows = self._rows(x, axis)
        y = self.xp.empty_like(rows)
        cols = rows.shape[-1] if rows.ndim else 1
        n_rows = rows.size // max(cols, 1)
        if rows.size:
            name = f"softmax_forward<{ct}, {'true' if log else 'false'}>"
            self._launch("softmax", name, n_rows * 32, (rows, y, np.int64(n_rows), np.int64(cols)))
        return self.xp.moveaxis(y, -1, axis)

    def _softmax_bwd(self, g: Any, y: Any, axis: int, log: bool) -> Any:
        ct = kernels.CTYPES.get(y.dtype.name)
        if ct is None or g.dtype != y.dtype:
            return (super().log_softmax_backward if log else super().softmax_backward)(g, y, axis)
        gr, yr = self._rows(g, axis), self._rows(y, axis)
        dx = self.xp.empty_like(yr)
        cols = yr.shape[-1]
        n_rows = yr.size // max(cols, 1)
        if yr.size:
            name = f"softmax_backward<{ct}, {'true' if log else 'false'}>"
            self._launch("softmax", name, n_rows * 32, (gr, yr, dx, np.int64(n_rows), np.int64(cols)))
        return self.xp.moveaxis(dx, -1, axis)

    def softmax(self, x: Any, axis: int) -> Any:
        return self._softmax_fwd(x, axis, False)

    def log_softmax(self, x: Any, axis: int) -> Any:
        return self._softmax_fwd(x, axis, True)

    def softmax_backward(self, g: Any, y: Any, axis: int) -> Any:
        return self._softmax_bwd(g, y, axis, False)

    def log_softmax_backward(self, g: Any, y: Any, axis: int) -> Any:
        return self._softmax_bwd(g, y, axis, True)

    # ---- fused cross-entropy: saves (logits, lse per row), not an N x C probability matrix ----
    def cross_entropy(
        self, logits: Any, target: Any, ignore_index: int = -100, label_smoothing: float = 0.0
    ) -> tuple[Any, Any]:
        ct = kernels.CTYPES.get(logits.dtype.name)
        if ct is None:
            return super().cross_entropy(logits, target, ignore_index, label_smoothing)
        xp = self.xp
        logits = self._contig(logits)
        target = self._contig(target.astype(xp.int64, copy=False))
        n, c = logits.shape
        loss = xp.empty(n, dtype=logits.dtype)
        lse = xp.empty(n, dtype=xp.float64 if logits.dtype == xp.float64 else xp.float32)
        if n:
            args = (
                logits,
                target,
                loss,
                lse,
                np.int64(n),
                np.int64(c),
                np.int64(ignore_index),
                np.float64(label_smoothing),
            )
            self._launch("softmax", f"cross_entropy_forward<{ct}>", n * 32, args)
        return loss, (logits, lse)

    def cross_entropy_backward(
        self,
        g_rows: Any,
        saved: Any,
        target: Any,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        divisor: Any = None,
    ) -> Any:
        if not isinstance(saved, tuple):  # saved by the reference path
            return super().cross_entropy_backward(g_rows, saved, target, ignore_index, label_smoothing, divisor)
        xp = self.xp
        logits, lse = saved
        ct = kernels.CTYPES[logits.dtype.name]
        target = self._contig(target.astype(xp.int64, copy=False))
        if g_rows.ndim == 1 and g_rows.strides[0] == 0:  # one gradient for every row (mean or sum)
            g, stride = self._contig(g_rows[:1].astype(logits.dtype, copy=False)), 0
        else:
            g, stride = self._contig(g_rows.astype(logits.dtype, copy=False)), 1
        n, c = logits.shape
        dx = xp.empty_like(logits)
        if n:
            args = (
                g,
                np.int64(stride),
                np.uint64(0) if divisor is None else divisor,  # a null pointer: no divisor
                logits,
                lse,
                target,
                dx,
                np.int64(n),
                np.int64(c),
                np.int64(ignore_index),
                np.float64(label_smoothing),
            )
            self._launch("softmax", f"cross_entropy_backward<{ct}>", n * 32, args)
        return dx

    def cross_entropy_reduce(self, rows: Any, target: Any, ignore_index: int, mean: bool) -> tuple[Any, Any]:
        ct = kernels.CTYPES.get(rows.dtype.name)
        if ct is None or not rows.flags.c_contiguous or target.dtype != np.int64 or not target.flags.c_contiguous:
            return super().cross_entropy_reduce(rows, target, ignore_index, mean)
        out = self.xp.empty((), dtype=rows.dtype)
        count = self.xp.empty((), dtype=self._math_dtype(rows.dtype)) if mean else None
        args = (rows, target, out, np.uint64(0) if count is None else count, np.int64(rows.size))
        self._launch("softmax", f"cross_entropy_reduce<{ct}>", BLOCK, (*args, np.int64(ignore_index), np.int32(mean)))
        return out, count

    # ---- reductions (the multi-tensor tables: cupy_multi_tensor.py) -----------------------------
    def sq_norm(self, arrays: Sequence[Any]) -> Any:
        xp = self.xp
        if not arrays:
            return xp.zeros((), dtype=xp.float32)
        groups: dict[Any, list] = {}
        for a in arrays:
            groups.setdefault(a.dtype, []).append(self._contig(a))
        total = None
        for dtype, group in groups.items():
            ct = kernels.CTYPES.get(dtype.name)
            if ct is None:
                part = super().sq_norm(group)
            else:
                part = xp.zeros((), dtype=self._math_dtype(dtype))
                for table, largest in self._tables([group], volatile=0):
                    self._launch("reduce", f"sq_norm_multi<{ct}>", largest, (table, part))
            total = part if total is None else total + part
        return total  # in the math type: a float16 sum of squares overflows past a norm of 256

    def moments(self, x: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
        kept = [i for i in range(x.ndim) if i not in axes]
        ct = kernels.CTYPES.get(x.dtype.name)
        if ct is None or len(kept) != 1:
            return super().moments(x, axes)
        c = kept[0]
        x = self._contig(x)
        outer, channels, inner = math.prod(x.shape[:c]), x.shape[c], math.prod(x.shape[c + 1 :])
        mdt = self._math_dtype(x.dtype)
        mean = self.xp.empty(channels, dtype=mdt)
        var = self.xp.empty(channels, dtype=mdt)
        args = (x, mean, var, np.int64(outer), np.int64(channels), np.int64(inner))
        grid = (max(1, min(channels, self._sm_count * 16)),)  # one block per channel
        self._launch("reduce", f"channel_moments<{ct}>", channels, args, grid)
        return mean.astype(x.dtype, copy=False), var.astype(x.dtype, copy=False)


def _on_own_device(method: Any) -> Any:
    @functools.wraps(method)
    def run(self: CupyBackend, *args: Any, **kwargs: Any) -> Any:
        if not SWITCHING[0]:  # one GPU: cuda:0 is always current
            return method(self, *args, **kwargs)
        with self._cuda_device:
            return method(self, *args, **kwargs)

    return run


# Every public primitive runs on this backend's own device: the one place the backend enters it.
for _name in sorted({n for n in dir(Backend) if not n.startswith("_")} - {"enter", "xp", "device"} | {"warmup"}):
    setattr(CupyBackend, _name, _on_own_device(getattr(CupyBackend, _name)))
