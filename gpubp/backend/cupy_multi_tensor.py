"""The CUDA backend's multi-tensor kernels: the tables of pointers one launch takes, and the fused optimizer steps
over whole parameter lists (one launch per MT_MAX parameters). A part of ``CupyBackend``, kept apart by family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import kernels
from .base import Backend
from .optim_reference import nadam_scalars, radam_scalars

_TABLE = np.dtype(
    [
        ("ptr", np.uint64, (kernels.MT_LISTS, kernels.MT_MAX)),
        ("numel", np.int64, (kernels.MT_MAX,)),
        ("count", np.int64),
    ]
)


class FusedMultiTensor(Backend):
    """Multi-tensor launches for ``CupyBackend``, which provides ``_launch``, ``_fallback``, ``_tables_cache`` and
    ``_steps``."""

    def _tables(self, lists: Sequence[Sequence[Any] | None], volatile: int) -> list[tuple[np.ndarray, int]]:
        """TensorTables (passed by value) for the arrays in ``lists``, MT_MAX tensors each, with the size of the
        largest tensor of each (to size the grid). A training loop keeps its parameters and their state where they
        are, so their tables are cached by address; only list ``volatile`` (the gradients, new every backward) is
        written anew, with one vectorized store per table instead of several field writes per parameter."""
        key = tuple(
            None if arrays is None or li == volatile else tuple(a.data.ptr for a in arrays)
            for li, arrays in enumerate(lists)
        )
        key += (tuple(a.size for a in lists[0]),)
        cached = self._tables_cache.get(key)
        if cached is None:
            if len(self._tables_cache) > 64:
                self._tables_cache.clear()
            cached = self._tables_cache[key] = self._build_tables(lists)
            return cached
        fresh = np.fromiter((a.data.ptr for a in lists[volatile]), dtype=np.uint64, count=len(lists[volatile]))
        for k, (table, _) in enumerate(cached):
            part = fresh[k * kernels.MT_MAX : (k + 1) * kernels.MT_MAX]
            table["ptr"][0, volatile, : len(part)] = part
        return cached

    def _build_tables(self, lists: Sequence[Sequence[Any] | None]) -> list[tuple[np.ndarray, int]]:
        count = len(lists[0])
        out = []
        for start in range(0, count, kernels.MT_MAX):
            stop = min(start + kernels.MT_MAX, count)
            table = np.zeros(1, dtype=_TABLE)
            for li, arrays in enumerate(lists):
                if arrays is None:
                    continue
                for j, a in enumerate(arrays[start:stop]):
                    table["ptr"][0, li, j] = a.data.ptr
            sizes = [a.size for a in lists[0][start:stop]]
            table["numel"][0, : stop - start] = sizes
            table["count"][0] = stop - start
            out.append((table, max(sizes, default=0)))
        return out

    def _fusable(self, lists: Sequence[Sequence[Any] | None], state_dtype: Any) -> bool:
        """Can a multi-tensor kernel take these lists? Contiguous, one parameter dtype it is
        instantiated for, gradients of that dtype, state in the kernel's math type."""
        params = lists[0]
        if not params or kernels.CTYPES.get(params[0].dtype.name) is None:
            return False
        for li, arrays in enumerate(lists):
            if arrays is None:
                continue
            want = params[0].dtype if li < 2 else state_dtype
            for a in arrays:
                if a.dtype != want or not a.flags.c_contiguous:
                    why = "non-contiguous" if a.dtype == want else f"{a.dtype} where the kernel takes {want}"
                    self._fallback("fused multi-tensor kernel", f"list {li}: {why} arrays")
                    return False
        return True

    # ---- fused optimizer steps: one launch per MT_MAX parameters -------------------------------
    def step_counter(self, key: Any, step: int) -> Any:
        """A float64 device counter holding ``step``: made once per ``key``, then advanced on the device by one
        tiny in-place launch per step (no allocation, nothing sent from the host)."""
        entry = self._steps.get(key)
        if entry is None:
            entry = self._steps[key] = [self.xp.full(1, float(step), dtype=self.xp.float64), step]
        elif entry[1] == step - 1:
            entry[0] += 1.0
        elif entry[1] != step:  # restarted or loaded from a state dict: set it anew
            entry[0].fill(float(step))
        entry[1] = step
        return entry[0]

    def _device_step(self, step: Any) -> Any:
        if isinstance(step, self.xp.ndarray):
            if step.dtype == np.float64 and step.shape == (1,):
                return step
            return step.astype(self.xp.float64).reshape(1)
        return self.xp.full(1, float(step), dtype=self.xp.float64)  # a Python int: written, not read back

    def _fused_step(self, kernel: str, lists: list, scalars: tuple) -> bool:
        """Launch optimizer ``kernel`` over ``lists`` (one launch per MT_MAX parameters);
        False, with nothing launched, when the kernel cannot take these arrays."""
        params = lists[0]
        if not params:
            return True  # nothing to update
        if kernels.CTYPES.get(params[0].dtype.name) is None:
            self._fallback(kernel, f"{params[0].dtype} parameters")
            return False
        if not self._fusable(lists, self._math_dtype(params[0].dtype)):
            return False
        ct = kernels.CTYPES[params[0].dtype.name]
        for table, largest in self._tables(lists, volatile=1):
            self._launch("optim", f"{kernel}<{ct}>", largest, (table, *scalars))
        return True

    def sgd_update(
        self,
        params,
        grads,
        bufs,
        *,
        lr,
        momentum=0.0,
        dampening=0.0,
        nesterov=False,  # noqa: ANN001
        weight_decay=0.0,
        first_step=False,
    ) -> None:
        f64 = np.float64
        scalars = (f64(lr), f64(momentum), f64(dampening), f64(weight_decay), np.int32(nesterov), np.int32(first_step))
        if not self._fused_step("sgd_multi", [params, grads, bufs if momentum else None], scalars):
            super().sgd_update(
                params,
                grads,
                bufs,
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                nesterov=nesterov,
                weight_decay=weight_decay,
                first_step=first_step,
            )

    def adam_update(
        self,
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        *,
        step,
        lr,
        beta1=0.9,
        beta2=0.999,  # noqa: ANN001
        eps=1e-8,
        weight_decay=0.0,
        decoupled=False,
        max_exp_avg_sqs=None,
    ) -> None:
        f64 = np.float64
        scalars = (
            self._device_step(step),
            f64(lr),
            f64(beta1),
            f64(beta2),
            f64(eps),
            f64(weight_decay),
            np.int32(decoupled),
            np.int32(max_exp_avg_sqs is not None),
        )
        if not self._fused_step("adam_multi", [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs], scalars):
            super().adam_update(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                step=step,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                weight_decay=weight_decay,
                decoupled=decoupled,
                max_exp_avg_sqs=max_exp_avg_sqs,
            )

    def rmsprop_update(
        self,
        params,
        grads,
        square_avgs,
        *,
        lr,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,  # noqa: ANN001
        momentum=0.0,
        bufs=None,
        grad_avgs=None,
    ) -> None:
        f64 = np.float64
        scalars = (f64(lr), f64(alpha), f64(eps), f64(weight_decay), f64(momentum), np.int32(grad_avgs is not None))
        lists = [params, grads, square_avgs, bufs if momentum else None, grad_avgs]
        if not self._fused_step("rmsprop_multi", lists, scalars):
            super().rmsprop_update(
                params,
                grads,
                square_avgs,
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                bufs=bufs,
                grad_avgs=grad_avgs,
            )

    def adagrad_update(
        self,
        params,
        grads,
        sums,
        *,
        step,
        lr,
        lr_decay=0.0,
        weight_decay=0.0,  # noqa: ANN001
        eps=1e-10,
    ) -> None:
        f64 = np.float64
        scalars = (self._device_step(step), f64(lr), f64(lr_decay), f64(weight_decay), f64(eps))
        if not self._fused_step("adagrad_multi", [params, grads, sums], scalars):
            super().adagrad_update(
                params, grads, sums, step=step, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps
            )

    # the optimizers below take their step-dependent scalars from the host (a host step count: nothing read back)
    def adadelta_update(
        self, params, grads, square_avgs, acc_deltas, *, lr, rho=0.9, eps=1e-6, weight_decay=0.0
    ) -> None:  # noqa: ANN001
        f64 = np.float64
        scalars = (f64(lr), f64(rho), f64(eps), f64(weight_decay))
        if not self._fused_step("adadelta_multi", [params, grads, square_avgs, acc_deltas], scalars):
            super().adadelta_update(
                params, grads, square_avgs, acc_deltas, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay
            )

    def adamax_update(
        self,
        params,
        grads,
        exp_avgs,
        exp_infs,
        *,
        step,
        lr,
        beta1=0.9,
        beta2=0.999,  # noqa: ANN001
        eps=1e-8,
        weight_decay=0.0,
    ) -> None:
        f64 = np.float64
        scalars = (f64(lr / (1.0 - beta1**step)), f64(beta1), f64(beta2), f64(eps), f64(weight_decay))
        if not self._fused_step("adamax_multi", [params, grads, exp_avgs, exp_infs], scalars):
            super().adamax_update(
                params, grads, exp_avgs, exp_infs, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                weight_decay=weight_decay,
            )  # fmt: skip

    def nadam_update(
        self,
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        *,
        step,
        mu_product,
        lr,
        beta1=0.9,  # noqa: ANN001
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled=False,
    ) -> None:
        f64 = np.float64
        bc2, coef_g, coef_m = nadam_scalars(step, mu_product, lr, beta1, beta2, momentum_decay)
        scalars = (f64(lr), f64(beta1), f64(beta2), f64(eps), f64(weight_decay), np.int32(decoupled), f64(bc2))
        scalars += (f64(coef_g), f64(coef_m))
        if not self._fused_step("nadam_multi", [params, grads, exp_avgs, exp_avg_sqs], scalars):
            super().nadam_update(
                params, grads, exp_avgs, exp_avg_sqs, step=step, mu_product=mu_product, lr=lr, beta1=beta1,
                beta2=beta2, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay, decoupled=decoupled,
            )  # fmt: skip

    def radam_update(
        self,
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        *,
        step,
        lr,
        beta1=0.9,
        beta2=0.999,  # noqa: ANN001
        eps=1e-8,
        weight_decay=0.0,
        decoupled=False,
    ) -> None:
        f64 = np.float64
        bc1, bc2_sqrt, rect = radam_scalars(step, beta1, beta2)
        scalars = (f64(lr), f64(beta1), f64(beta2), f64(eps), f64(weight_decay), np.int32(decoupled), f64(bc1))
        scalars += (f64(bc2_sqrt), f64(0.0 if rect is None else rect), np.int32(rect is not None))
        if not self._fused_step("radam_multi", [params, grads, exp_avgs, exp_avg_sqs], scalars):
            super().radam_update(
                params, grads, exp_avgs, exp_avg_sqs, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                weight_decay=weight_decay, decoupled=decoupled,
            )  # fmt: skip

    def asgd_update(self, params, grads, axs, *, eta, mu, lambd=1e-4, weight_decay=0.0) -> None:  # noqa: ANN001
        f64 = np.float64
        scalars = (f64(eta), f64(mu), f64(lambd), f64(weight_decay))
        if not self._fused_step("asgd_multi", [params, grads, axs], scalars):
            super().asgd_update(params, grads, axs, eta=eta, mu=mu, lambd=lambd, weight_decay=weight_decay)

    def rprop_update(
        self,
        params,
        grads,
        prevs,
        step_sizes,
        *,
        etaminus=0.5,
        etaplus=1.2,  # noqa: ANN001
        step_size_min=1e-6,
        step_size_max=50.0,
    ) -> None:
        f64 = np.float64
        scalars = (f64(etaminus), f64(etaplus), f64(step_size_min), f64(step_size_max))
        if not self._fused_step("rprop_multi", [params, grads, prevs, step_sizes], scalars):
            super().rprop_update(
                params, grads, prevs, step_sizes, etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
                step_size_max=step_size_max,
            )  # fmt: skip
