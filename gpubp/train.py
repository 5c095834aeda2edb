"""``fit``: the training loop, with progress, metrics, gradient health, early stopping and checkpoints.

It reads like a textbook loop: forward, loss, zero_grad, backward, (clip), step. Metrics are
summed on the device and read back (one synchronization) once per logging interval and once
per epoch; nothing else waits for the GPU.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import serialization
from .autograd import no_grad
from .nn.module import Module
from .nn.utils import clip_grad_norm_
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor

METRICS = ("loss", "accuracy", "mae", "r2")


class History(dict):
    """Per-epoch metrics: history['train_loss'], history['val_accuracy'], ... plus 'lr' and 'epoch'."""

    def best(self, key: str = "val_loss", mode: str = "min") -> float:
        values = self[key]
        return min(values) if mode == "min" else max(values)


class _Totals:
    """Running sums kept on the device: loss * n, correct predictions, |error|, squared error,
    target sums for R^2. ``read`` is the one place they come back to the host."""

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, Any] = {}

    def add(self, name: str, value: Any) -> None:
        self.sums[name] = value if name not in self.sums else self.sums[name] + value

    def read(self, metrics: Sequence[str]) -> dict[str, float]:
        out = {}
        for name in metrics:
            if name == "r2":
                if "sse" in self.sums:  # total variance from running sums: sum y^2 - (sum y)^2 / count
                    count = float(self.sums["ycount"])
                    sst = float(self.sums["ysq"]) - float(self.sums["ysum"]) ** 2 / count
                    out["r2"] = 1.0 - float(self.sums["sse"]) / sst if sst > 0 else float("nan")
            elif name in self.sums:
                out[name] = float(self.sums[name]) / max(self.n, 1)  # float() of a device value: the sync
        return out


def _accumulate(totals: _Totals, metrics: Sequence[str], out: Tensor, y: Tensor, loss: Tensor) -> None:
    n = y.shape[0]
    totals.n += n
    with no_grad():
        totals.add("loss", loss.detach().data * n)
        classification = out.ndim == 2 and y.dtype.kind in "iu"
        if "accuracy" in metrics and classification:
            totals.add("accuracy", (out.data.argmax(1) == y.data).sum())
        if not classification and y.dtype.kind == "f" and out.shape == y.shape:
            err = out.data - y.data
            if "mae" in metrics:
                totals.add("mae", abs(err).sum() / max(int(np.prod(y.shape[1:])), 1))
            if "r2" in metrics:
                totals.add("sse", (err * err).sum())
                totals.add("ysum", y.data.sum())  # device sums: the total variance needs no per-batch copy
                totals.add("ysq", (y.data * y.data).sum())
                totals.add("ycount", y.data.size)


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


class GradientMonitor:
    """Per-layer gradient norms every ``every`` steps: one synchronization per check. Warns,
    naming the layer, when a gradient vanishes (norm < low), explodes (> high) or is not finite."""

    def __init__(self, model: Module, every: int = 50, low: float = 1e-7, high: float = 1e3) -> None:
        self.named = [(n, p) for n, p in model.named_parameters()]
        self.every, self.low, self.high = every, low, high
        self.stats: dict[str, list[float]] = {n: [] for n, _ in self.named}
        self.warned: set[str] = set()

    def check(self, step: int) -> None:
        if self.every <= 0 or step % self.every:
            return
        with_grad = [(n, p) for n, p in self.named if p.grad is not None]
        if not with_grad:
            return
        be = with_grad[0][1]._be
        with be.enter():
            norms = be.xp.stack([be.xp.sqrt(be.sq_norm([p.grad.data])).astype("float64") for _, p in with_grad])
        for (name, _), norm in zip(with_grad, be.to_numpy(norms).tolist()):  # one device-to-host copy
            self.stats[name].append(norm)
            problem = (
                "is not finite"
                if not math.isfinite(norm)
                else "vanishes"
                if norm < self.low
                else "explodes"
                if norm > self.high
                else None
            )
            if problem and (name, problem) not in self.warned:
                self.warned.add((name, problem))
                warnings.warn(
                    f"gradient of '{name}' {problem} at step {step}: norm {norm:.3g}", RuntimeWarning, stacklevel=3
                )

    def summary(self) -> str:
        """A table of each layer's gradient norm: min, mean, max over the checks."""
        rows = [(n, v) for n, v in self.stats.items() if v]
        if not rows:
            return "gradient health: no checks recorded"
        width = max(len(n) for n, _ in rows)
        lines = [f"{'parameter':<{width}}  {'min':>10}  {'mean':>10}  {'max':>10}"]
        for n, v in rows:
            lines.append(f"{n:<{width}}  {min(v):10.3g}  {sum(v) / len(v):10.3g}  {max(v):10.3g}")
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
) -> History:
    """Train ``model`` for ``epochs`` and return its History.

    Each epoch: train on every batch (forward, loss, zero_grad, backward, optional clipping,
    step), then evaluate on ``val_loader``. ``scheduler`` steps per epoch or per batch
    (``scheduler_interval``); a ReduceLROnPlateau steps on the validation loss. With
    ``early_stopping_patience``, training stops when the monitored loss has not improved for
    that many epochs. With ``out_dir``: the best model (by validation loss, else training loss)
    is saved as best.safetensors, the history as history.json, the curves as curves.png.
    ``callbacks`` are called as ``cb(epoch, metrics)``; one returning True stops training.
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"fit: unknown metrics {sorted(unknown)}; expected some of {METRICS}")
    if epochs < 1:
        raise ValueError(f"fit: epochs must be >= 1, got {epochs}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    monitor = GradientMonitor(model, grad_check_every)
    history = History(epoch=[], lr=[])
    best, bad_epochs, step = math.inf, 0, 0
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are a nicety
        progress = False

    for epoch in range(1, epochs + 1):
        model.train()
        totals = _Totals()
        batches = train_loader
        bar = None
        if progress:
            bar = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch")
            batches = bar
        for x, y in batches:
            out_b = model(x)
            loss = loss_fn(out_b, y)
            optimizer.zero_grad()
            loss.backward()
            if clip_grad_norm is not None:
                clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            step += 1
            _accumulate(totals, metrics, out_b, y, loss)
            monitor.check(step)
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
            if bar is not None and log_every > 0 and step % log_every == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")  # .item() waits for the GPU: once per interval
        if bar is not None:
            bar.close()
        record = {f"train_{k}": v for k, v in totals.read(metrics).items()}
        if val_loader is not None:
            record.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, val_loader, metrics).items()})
        history["epoch"].append(epoch)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        for k, v in record.items():
            history.setdefault(k, []).append(v)
        if scheduler is not None and scheduler_interval == "epoch":
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(record.get("val_loss", record["train_loss"]))
            else:
                scheduler.step()
        shown = "  ".join(f"{k} {v:.4f}" for k, v in record.items())
        if progress:
            print(f"epoch {epoch:3d}  {shown}")
        monitored = record.get("val_loss", record.get("train_loss", math.inf))
        if monitored < best:
            best, bad_epochs = monitored, 0
            if out is not None:
                serialization.save(model.state_dict(), out / "best.safetensors")
        else:
            bad_epochs += 1
        if out is not None:
            (out / "history.json").write_text(json.dumps(history, indent=2))
        stop = any(cb(epoch, record) is True for cb in callbacks)
        if early_stopping_patience is not None and bad_epochs >= early_stopping_patience:
            if progress:
                print(f"early stopping: no improvement for {bad_epochs} epochs")
            stop = True
        if stop:
            break
    if out is not None:
        _plot(history, out / "curves.png")
    if progress and grad_check_every > 0:
        print(monitor.summary())
    history.gradient_summary = monitor.summary()
    return history
