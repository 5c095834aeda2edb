"""``fit``: the training loop, with progress, metrics, gradient health, early stopping and checkpoints.

It reads like a textbook loop: forward, loss, zero_grad, backward, (clip), step. Metrics and the
first non-finite loss are kept on the device and read back (one synchronization, in ``_to_host``)
once per logging interval, once per gradient check and once per epoch; nothing else waits for the GPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import serialization
from .autograd import detect_anomaly as _detect_anomaly
from .autograd import no_grad
from .nn.module import Module
from .nn.utils import clip_grad_norm_
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor

METRICS = ("loss", "accuracy", "mae", "r2")
NAN_POLICIES = ("raise", "skip", "ignore")


class NonFiniteLossError(RuntimeError):
    """fit stopped: the training loss became NaN or infinite. A RuntimeError, as PyTorch's anomaly mode reports
    NaN; ``epoch``, ``batch`` (1-based, in the epoch), ``step``, ``value``, ``history`` and ``files`` say where and
    what was written."""

    def __init__(
        self, message: str, epoch: int, batch: int, step: int, value: float, history: History, files: list[Path]
    ) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.step, self.value = epoch, batch, step, value
        self.history, self.files = history, files


class History(dict):
    """Per-epoch metrics: history['train_loss'], history['val_accuracy'], ... plus 'lr' and 'epoch'."""

    def best(self, key: str = "val_loss", mode: str = "min") -> float:
        values = self[key]
        return min(values) if mode == "min" else max(values)


def _to_host(be: Any, values: Sequence[Any]) -> list[float]:
    """Device scalars (and plain numbers) as Python floats, in one device-to-host copy: the only place fit and
    evaluate wait for the GPU."""
    out = [float(v) if isinstance(v, numbers.Number) else None for v in values]
    on_device = [i for i, v in enumerate(out) if v is None]
    if on_device:
        xp = be.xp
        with be.enter():
            stacked = xp.stack([xp.asarray(values[i]).astype(xp.float64) for i in on_device])
        for i, v in zip(on_device, be.to_numpy(stacked).tolist()):  # device-to-host copy: waits for the GPU
            out[i] = v
    return out


def _json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None, so json.dumps(..., allow_nan=False) writes strict JSON (null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(_json_safe(obj), indent=2, allow_nan=False))


class _Totals:
    """Running sums kept on the device: loss * n, correct predictions, |error|, squared error,
    target sums for R^2. ``read`` is the one place they come back to the host."""

    def __init__(self) -> None:
        self.n = 0
        self.be: Any = None
        self.sums: dict[str, Any] = {}

    def add(self, name: str, value: Any) -> None:
        self.sums[name] = value if name not in self.sums else self.sums[name] + value

    def read(self, metrics: Sequence[str], extra: dict[str, Any] | None = None) -> dict[str, float]:
        """The metrics, plus the ``extra`` device values under their own names, from one copy to the host."""
        extra = extra or {}
        names = [*self.sums, *extra]
        host = dict(zip(names, _to_host(self.be, [*self.sums.values(), *extra.values()])))
        out = {}
        for name in metrics:
            if name == "r2":
                if "sse" in host:  # total variance from running sums: sum y^2 - (sum y)^2 / count
                    sst = host["ysq"] - host["ysum"] ** 2 / host["ycount"]
                    out["r2"] = 1.0 - host["sse"] / sst if sst > 0 else float("nan")
            elif name in host:
                out[name] = host[name] / max(self.n, 1)
        out.update({k: host[k] for k in extra})
        return out


def _accumulate(totals: _Totals, metrics: Sequence[str], out: Tensor, y: Tensor, loss: Tensor) -> None:
    n = y.shape[0]
    totals.n += n
    totals.be = loss._be
    with no_grad():
        totals.add("loss", loss.detach()._data * n)
        classification = out.ndim == 2 and y.dtype.kind in "iu"
        if "accuracy" in metrics and classification:
            totals.add("accuracy", (out._data.argmax(1) == y._data).sum())
        if not classification and y.dtype.kind == "f" and out.shape == y.shape:
            err = out._data - y._data
            if "mae" in metrics:
                totals.add("mae", abs(err).sum() / max(int(np.prod(y.shape[1:])), 1))
            if "r2" in metrics:
                totals.add("sse", (err * err).sum())
                totals.add("ysum", y._data.sum())  # device sums: the total variance needs no per-batch copy
                totals.add("ysq", (y._data * y._data).sum())
                totals.add("ycount", y._data.size)


def evaluate(
    model: Module, loss_fn: Callable, loader: Iterable, metrics: Sequence[str] = ("loss", "accuracy")
) -> dict[str, float]:
    """Metrics of ``model`` on every batch of ``loader``, in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    totals = _Totals()
    with no_grad():
        for x, y in loader:
            out = model(x)
            _accumulate(totals, metrics, out, y, loss_fn(out, y))
    model.train(was_training)
    return totals.read(metrics)


class _FirstNonFinite:
    """The first step whose loss is NaN or infinite, and that loss, kept on the device by array ops (xp.where),
    so watching costs no synchronization; fit reads them with its logging reads. 0 means none yet."""

    def __init__(self) -> None:
        self.step: Any = None
        self.value: Any = None

    def update(self, loss: Tensor, step: int) -> None:
        be = loss._be
        xp = be.xp
        with be.enter():
            if self.step is None:
                self.step = xp.zeros((), dtype=xp.int64)
                self.value = xp.zeros((), dtype=xp.float64)
            new = (self.step == 0) & ~xp.isfinite(loss._data)
            self.step = xp.where(new, step, self.step)
            self.value = xp.where(new, loss._data.astype(xp.float64), self.value)

    def values(self) -> dict[str, Any]:
        return {} if self.step is None else {"bad_step": self.step, "bad_value": self.value}


class GradientMonitor:
    """Per-parameter gradient norms at step 1 and every ``every`` steps, one synchronization per check. Warns,
    naming the parameter, when ||grad|| / (||param|| + tiny) falls below ``low`` (vanishing) or rises above
    ``high`` (exploding), or when the gradient is not finite."""

    # tiny is 1e-3 per element (1e-3 * sqrt(numel)): a zero-initialized bias, or one crossing zero, has no scale of
    # its own, and "+ 1e-12" would call its ordinary gradient exploding. Checked at every step, the built-in examples'
    # healthy ratios lie in [2e-5, 50]; the thresholds leave two decades of room on each side.
    tiny_per_element = 1e-3

    def __init__(self, model: Module, every: int = 50, low: float = 1e-7, high: float = 1e4) -> None:
        self.named = [(n, p) for n, p in model.named_parameters()]
        self.every, self.low, self.high = every, low, high
        self.checks = 0
        self.stats: dict[str, list[tuple[float, float]]] = {n: [] for n, _ in self.named}  # (||grad||, ratio)
        self.warned: set[tuple[str, str]] = set()

    def check(self, step: int) -> None:
        if self.every <= 0 or (step != 1 and step % self.every):
            return
        with_grad = [(n, p) for n, p in self.named if p.grad is not None]
        if not with_grad:
            return
        be = with_grad[0][1]._be
        with be.enter():
            norms = [be.xp.sqrt(be.sq_norm([p.grad._data])) for _, p in with_grad]
            norms += [be.xp.sqrt(be.sq_norm([p._data])) for _, p in with_grad]
        host = _to_host(be, norms)  # one device-to-host copy per check
        self.checks += 1
        for (name, p), g, w in zip(with_grad, host, host[len(with_grad) :]):
            ratio = g / (w + self.tiny_per_element * math.sqrt(p.numel()))
            self.stats[name].append((g, ratio))
            problem = None
            if not math.isfinite(g):
                problem = "is not finite"
            elif ratio < self.low:
                problem = "vanishes"
            elif ratio > self.high:
                problem = "explodes"
            if problem and (name, problem) not in self.warned:
                self.warned.add((name, problem))
                warnings.warn(
                    f"gradient of '{name}' {problem} at step {step}: ||grad|| {g:.3g}, ||param|| {w:.3g}, "
                    f"||grad||/||param|| {ratio:.3g} (warned outside [{self.low:g}, {self.high:g}])",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def summary(self) -> str:
        """A table of each parameter's ||grad|| and ||grad||/||param||: min, mean, max over the checks."""
        rows = [(n, v) for n, v in self.stats.items() if v]
        if not rows:
            return "gradient health: no checks recorded"
        width = max(len(n) for n, _ in rows + [("parameter", [])])
        checks = f"{self.checks} check" + ("s" if self.checks != 1 else "")
        lines = [
            f"gradient norms per parameter over {checks} (||grad||, ||grad||/||param||)",
            f"{'':<{width}}  {' ||grad|| ':-^31}    {' ||grad||/||param|| ':-^31}",
            f"{'parameter':<{width}}  {'min':>9}  {'mean':>9}  {'max':>9}    {'min':>9}  {'mean':>9}  {'max':>9}",
        ]
        for n, v in rows:
            g = [a for a, _ in v]
            r = [b for _, b in v]
            lines.append(
                f"{n:<{width}}  {min(g):9.3g}  {sum(g) / len(g):9.3g}  {max(g):9.3g}    "
                f"{min(r):9.3g}  {sum(r) / len(r):9.3g}  {max(r):9.3g}"
            )
        return "\n".join(lines)


def _plot(history: History, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = [k for k in history if k.startswith(("train_", "val_")) and history[k]]
    names = sorted({k.split("_", 1)[1] for k in keys})
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        for split in ("train", "val"):
            if f"{split}_{name}" in history:
                ax.plot(history["epoch"], history[f"{split}_{name}"], marker="o", label=split)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def fit(
    model: Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    epochs: int = 10,
    scheduler: Any = None,
    scheduler_interval: str = "epoch",
    metrics: Sequence[str] = ("loss", "accuracy"),
    clip_grad_norm: float | None = None,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    early_stopping_patience: int | None = None,
    out_dir: str | Path | None = None,
    log_every: int = 50,
    grad_check_every: int = 50,
    progress: bool = True,
    nan_policy: str = "raise",
    detect_anomaly: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` and return its History.

    Each epoch: train on every batch (forward, loss, zero_grad, backward, optional clipping,
    step), then evaluate on ``val_loader``. ``scheduler`` steps per epoch or per batch
    (``scheduler_interval``); a ReduceLROnPlateau steps on the validation loss. With
    ``early_stopping_patience``, training stops when the monitored loss has not improved for
    that many epochs. With ``out_dir``: the best model (by validation loss, else training loss)
    is saved as best.safetensors, the history as history.json (strict JSON: NaN is null), the
    curves as curves.png; ``history.files`` lists the files written.
    ``callbacks`` are called as ``cb(epoch, metrics)``; one returning True stops training.

    ``nan_policy`` says what a NaN or infinite training loss does. ``"raise"``: the first one is
    recorded on the device (no synchronization) and read with the loss every ``log_every`` steps
    and at the end of the epoch; fit then writes history.json (the epochs before) and raises
    NonFiniteLossError naming the epoch and batch. ``"skip"``: a batch whose loss is not finite
    gets no backward, optimizer or scheduler step and no metrics; this reads the loss on the host
    every step (one GPU synchronization per batch). ``"ignore"``: train on regardless.
    ``detect_anomaly=True`` trains under ``gpubp.autograd.detect_anomaly()``: the first backward whose gradient
    turns NaN raises, naming the op and the line of the model's code that created it (a sync per op: debugging only).
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"fit: unknown metrics {sorted(unknown)}; expected some of {METRICS}")
    if epochs < 1:
        raise ValueError(f"fit: epochs must be >= 1, got {epochs}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"fit: nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    monitor = GradientMonitor(model, grad_check_every)
    history = History(epoch=[], lr=[])
    history.files = []
    if nan_policy == "skip":
        history["skipped_batches"] = []
    best, bad_epochs, step = math.inf, 0, 0
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are a nicety
        tqdm = None

    def wrote(path: Path) -> None:
        if path not in history.files:
            history.files.append(path)

    def write_history() -> None:
        if out is not None:
            _write_json(out / "history.json", history)
            wrote(out / "history.json")

    def stop_if_non_finite(host: dict[str, float], epoch: int, epoch_start: int) -> None:
        bad = int(host.get("bad_step", 0))
        if not bad:
            return
        history.gradient_summary = monitor.summary()
        write_history()
        value = host["bad_value"]
        batch = bad - epoch_start
        written = ", ".join(str(p) for p in history.files) or "nothing"
        raise NonFiniteLossError(
            f"fit: the training loss is {value} at epoch {epoch}, batch {batch} (step {bad}); "
            f"stopped after {len(history['epoch'])} complete epoch(s), wrote {written}. Lower the learning rate, "
            "clip gradients (clip_grad_norm), or pass nan_policy='skip'",
            epoch,
            batch,
            bad,
            value,
            history,
            list(history.files),
        )

    for epoch in range(1, epochs + 1):
        model.train()
        totals = _Totals()
        watch = _FirstNonFinite()
        epoch_start, skipped = step, 0
        batches = train_loader
        bar = None
        if progress and tqdm is not None:
            # disable=None: no bar when stderr is not a terminal, so piped output is not flooded with redraws
            bar = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch", disable=None)
            batches = bar
        show_loss = bar is not None and not bar.disable
        anomaly = _detect_anomaly() if detect_anomaly else contextlib.nullcontext()
        for x, y in batches:
            with anomaly:  # forward notes where each op is called; backward checks each gradient
                out_b = model(x)
                loss = loss_fn(out_b, y)
            if nan_policy == "skip" and not math.isfinite(_to_host(loss._be, [loss.detach()._data])[0]):
                skipped += 1  # the host read above waits for the GPU: once per batch, the price of "skip"
                continue
            optimizer.zero_grad()
            with anomaly:
                loss.backward()
            monitor.check(step + 1)  # the raw gradient, before clipping, against the parameter it was taken at
            if clip_grad_norm is not None:
                clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            step += 1
            if nan_policy == "raise":
                watch.update(loss.detach(), step)
            _accumulate(totals, metrics, out_b, y, loss)
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
            if log_every > 0 and step % log_every == 0 and (show_loss or nan_policy == "raise"):
                names = ["loss", *watch.values()]
                host = dict(zip(names, _to_host(loss._be, [loss.detach()._data, *watch.values().values()])))
                if show_loss:
                    bar.set_postfix(loss=f"{host['loss']:.4f}")
                stop_if_non_finite(host, epoch, epoch_start)
        if bar is not None:
            bar.close()
        host = totals.read(metrics, watch.values())
        stop_if_non_finite(host, epoch, epoch_start)
        record = {f"train_{k}": v for k, v in host.items() if k in METRICS}
        if val_loader is not None:
            record.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, val_loader, metrics).items()})
        history["epoch"].append(epoch)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        for k, v in record.items():
            history.setdefault(k, []).append(v)
        if nan_policy == "skip":
            history["skipped_batches"].append(skipped)
            if skipped:
                warnings.warn(
                    f"fit: skipped {skipped} batch(es) with a non-finite loss in epoch {epoch}",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if scheduler is not None and scheduler_interval == "epoch":
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(record.get("val_loss", record.get("train_loss", math.nan)))
            else:
                scheduler.step()
        shown = "  ".join(f"{k} {v:.4f}" for k, v in record.items())
        if progress:
            print(f"epoch {epoch:3d}  {shown}" + (f"  skipped {skipped} batches" if skipped else ""))
        monitored = record.get("val_loss", record.get("train_loss", math.inf))
        if monitored < best:  # False for NaN: a NaN model is never the best one
            best, bad_epochs = monitored, 0
            if out is not None:
                serialization.save(model.state_dict(), out / "best.safetensors")
                wrote(out / "best.safetensors")
        else:
            bad_epochs += 1
        write_history()
        stop = any(cb(epoch, record) is True for cb in callbacks)
        if early_stopping_patience is not None and bad_epochs >= early_stopping_patience:
            if progress:
                print(f"early stopping: no improvement for {bad_epochs} epochs")
            stop = True
        if stop:
            break
    if out is not None and _plot(history, out / "curves.png"):
        wrote(out / "curves.png")
    if progress and grad_check_every > 0:
        print(monitor.summary())
    history.gradient_summary = monitor.summary()
    return history
