"""L-BFGS with a closure, and the strong-Wolfe line search, as ``torch.optim.LBFGS`` (a faithful port: the same
two-loop recursion, cubic interpolation and zoom, so the iterates match PyTorch's).

All parameters are handled as one flattened vector. The algorithm's branches (convergence tests on the gradient,
the step and the loss; the curvature test; the line search's Wolfe conditions) read scalars back to the host: that
is inherent to L-BFGS, and PyTorch reads the same values (a GPU sync per test)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import enable_grad
from ..errors import InputError
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_interpolate(
    x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, bounds: tuple[float, float] | None = None
) -> float:
    """The minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds`` (Nocedal & Wright
    eq. 3.59); the bounds' midpoint when the cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(
    obj_func: Callable[[Any, float, Any], tuple[float, Any]],
    x: list[Any],
    t: float,
    d: Any,
    f: float,
    g: Any,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Any, float, int]:
    """Line search along ``d`` for a step ``t`` meeting the strong Wolfe conditions (Nocedal & Wright alg. 3.5-3.6):
    bracket, then zoom by cubic interpolation. Returns (loss, flat gradient, t, function evaluations)."""
    d_norm = float(abs(d).max())  # host read: the zoom's stopping test
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(g_new.dot(d))  # host read: the Wolfe tests branch on it (as PyTorch)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:  # bracketing phase
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)  # extrapolate, at most 10x
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:  # reached the evaluation limit: bracket the whole step
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # zoom phase
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t away from the bracket's ends unless the last steps made no progress (as PyTorch / Moré-Thuente)
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"LBFGS: {name} must be an integer, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"LBFGS: expected an integer {name} >= {low}, but got {value}")
    return int(value)


def _tolerance(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"LBFGS: {name} must be a real number, got {type(value).__name__} {value!r}")
    if not float(value) >= 0:
        raise ValueError(f"LBFGS: {name} must be a number >= 0, but got {value}")
    return float(value)


def _raw(v: Any) -> Any:
    """A state value as the algorithm uses it: a Tensor's array, anything else as it is."""
    return v._data if isinstance(v, Tensor) else v


class LBFGS(Optimizer):
    """L-BFGS (Nocedal & Wright alg. 7.4): d = -H g from the last ``history_size`` curvature pairs (s, y), x += t d,
    with t = lr (the first iteration: min(1, 1/|g|_1) * lr) or a strong-Wolfe line search. ``step(closure)``
    runs up to ``max_iter`` iterations; the closure clears the gradients, computes the loss, calls backward and
    returns the loss. One parameter group only; all parameters are one flattened vector."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        max_iter = _count("max_iter", max_iter, 1)
        max_eval = max_iter * 5 // 4 if max_eval is None else _count("max_eval", max_eval, 1)
        if line_search_fn not in (None, "strong_wolfe"):  # PyTorch refuses it at the first step, with RuntimeError
            raise InputError(f"LBFGS: only 'strong_wolfe' is supported as line_search_fn, got {line_search_fn!r}")
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": _tolerance("tolerance_grad", tolerance_grad),
            "tolerance_change": _tolerance("tolerance_change", tolerance_change),
            "history_size": _count("history_size", history_size, 1),
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]
        self._numel_cache: int | None = None
        bes = {id(p._be) for p in self._params}
        dtypes = {p.dtype for p in self._params}
        if len(bes) > 1 or len(dtypes) > 1:
            raise ValueError(
                "LBFGS: all parameters must be on one device and of one dtype (they form one flat vector), got "
                f"{sorted({str(p.device) for p in self._params})} and {sorted(map(str, dtypes))}"
            )

    def add_param_group(self, group: dict[str, Any]) -> None:
        if getattr(self, "_params", None) is not None:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(group)

    def _loaded_state(self, name: str, idx: int, key: str, value: Any, p: Tensor) -> Any:
        """One entry of a loaded state: the counts ints, t and prev_loss numbers, the rest flat vectors, scalars or
        lists of them as tensors on the parameters' device (PyTorch's tensors are read through NumPy)."""
        where = f"{name}: state '{key}' of parameter {idx}"
        if key in ("func_evals", "n_iter"):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{where} is {value!r}: expected a count, an integer >= 0")
            return int(value)
        if key in ("t", "prev_loss"):
            if hasattr(value, "item"):
                value = value.item()  # a host read at load time, not in step()
            if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)):
                raise TypeError(f"{where} is a {type(value).__name__}, expected a number")
            return value
        if key in ("old_dirs", "old_stps", "ro", "al"):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"{where} is a {type(value).__name__}, expected a list")
            return [self._loaded_array(where, v) for v in value]
        if key in ("d", "prev_flat_grad", "H_diag"):
            return self._loaded_array(where, value)
        raise ValueError(f"{where}: LBFGS keeps no such state")

    def _loaded_array(self, where: str, value: Any) -> Any:
        if value is None or isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            return value
        if isinstance(value, Tensor):
            value = value.detach().cpu().numpy()
        elif hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor, perhaps on a GPU
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        if value.dtype.kind not in "iuf" or value.ndim > 1 or (value.ndim == 1 and value.size != self._numel()):
            raise ValueError(
                f"{where} has shape {value.shape} and dtype {value.dtype}: expected a number or a flat vector of "
                f"{self._numel()} numbers (all parameters)"
            )
        p = self._params[0]
        return Tensor(value, dtype=p.dtype, device=p.device)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Unused: LBFGS's step needs a closure and updates all parameters together in ``step``."""
        raise TypeError("LBFGS.step needs a closure that recomputes the loss: call step(closure)")

    def _numel(self) -> int:
        if self._numel_cache is None:
            self._numel_cache = sum(p.numel() for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self) -> Any:
        """All gradients as one flat array (zeros for a parameter without one)."""
        xp = self._params[0]._be.xp
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(xp.zeros(p.numel(), dtype=p.dtype))
            else:
                views.append(xp.ascontiguousarray(p.grad._data).reshape(-1))
        return xp.concatenate(views, 0)

    def _add_grad(self, step_size: float, update: Any) -> None:
        """x += step_size * update, parameter by parameter."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p._data[...] = p._data + update[offset : offset + n].reshape(p.shape) * step_size
            p._vc[0] += 1
            offset += n

    def _clone_param(self) -> list[Any]:
        return [p._data.copy() for p in self._params]

    def _set_param(self, params_data: list[Any]) -> None:
        for p, data in zip(self._params, params_data):
            p._data[...] = data
            p._vc[0] += 1

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float]:
        with enable_grad():
            loss = closure()
        return loss, float(loss)  # host read: the loss steers the algorithm (as PyTorch's float(closure()))

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[Any], t: float, d: Any) -> tuple[float, Any]:
        self._add_grad(t, d)
        loss = self._evaluate(closure)[1]
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` L-BFGS iterations; returns the loss the closure gave at the start."""
        if not callable(closure):
            raise TypeError(f"LBFGS.step needs a closure that recomputes the loss, got {type(closure).__name__}")
        with self._params[0]._be.enter():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        be = self._params[0]._be
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if float(abs(flat_grad).max()) <= tolerance_grad:  # host read: already optimal
            return orig_loss

        d, t = _raw(state.get("d")), state.get("t")
        old_dirs = [_raw(v) for v in state.get("old_dirs", [])]
        old_stps = [_raw(v) for v in state.get("old_stps", [])]
        ro = [_raw(v) for v in state.get("ro", [])]
        h_diag = _raw(state.get("H_diag"))
        prev_flat_grad = _raw(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")
        al = [_raw(v) for v in state["al"]] if "al" in state else None

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if float(ys) > 1e-10:  # host read: keep the pair only if the curvature is positive (as PyTorch)
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if al is None:
                    al = [None] * history_size
                q = -flat_grad  # two-loop recursion: d = -H g
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q = q - old_dirs[i] * al[i]
                r = q * h_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r = r + old_stps[i] * (al[i] - be_i)
                d = r
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:  # host read: the first step is scaled by the gradient's 1-norm
                t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))  # host read: stop if d is no descent direction
            if gtd > -tolerance_change:
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x: list[Any], t: float, d: Any) -> tuple[float, Any]:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # re-evaluate, except after the last iteration (as PyTorch)
                    loss = self._evaluate(closure)[1]
                    flat_grad = self._gather_flat_grad()
                    opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(abs(d * t).max()) <= tolerance_change:  # host read: the step no longer moves x
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        def wrap(v: Any) -> Any:
            if v is None or isinstance(v, int) or not hasattr(v, "shape"):
                return v
            return Tensor._wrap(be.xp.asarray(v), be)  # 0-d arrays for ro, al, H_diag; torch keeps tensors there

        state["d"] = wrap(d)
        state["t"] = t
        state["old_dirs"] = [wrap(v) for v in old_dirs]
        state["old_stps"] = [wrap(v) for v in old_stps]
        state["ro"] = [wrap(v) for v in ro]
        state["H_diag"] = wrap(h_diag)
        state["prev_flat_grad"] = wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if al is not None:
            state["al"] = [wrap(v) for v in al]
        return orig_loss
