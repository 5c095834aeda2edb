"""The built-in examples of ``gpubp train``: a model, its data and its training settings each."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import gpt, nn, optim
from .data import DataLoader, datasets
from .tensor import Tensor


class LastStep(nn.Module):
    """Embedding -> LSTM -> linear on the final hidden state: a sequence classifier."""

    def __init__(self, vocab: int, embed: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens: Tensor) -> Tensor:
        out, (h, _) = self.lstm(self.embed(tokens))  # h: (1, N, hidden)
        return self.head(h[0])


def _digits_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def _digits_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),  # BN makes a bias moot
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (32, 4, 4)
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def _mnist_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # (32, 13, 13)
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # (64, 5, 5)
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


@dataclass
class Example:
    """One built-in training task."""

    name: str
    description: str
    data: Callable[[Any], tuple]
    model: Callable[[], nn.Module]
    loss: Callable
    epochs: int
    lr: float
    batch_size: int
    metrics: tuple = ("loss", "accuracy")
    weight_decay: float = 0.0
    goal: dict = field(default_factory=dict)
    takes_data: bool = False  # reads local files given with --data; the others use bundled or synthetic data
    final_metrics: Callable[[nn.Module, DataLoader], dict] | None = None  # after training, into final.json
    clip_grad_norm: float | None = None
    scheduler: Callable[[optim.Optimizer, int], Any] | None = None  # (optimizer, total steps) -> a per-batch schedule
    generative: bool = False  # a gpt.GPT over gpt.VOCAB: `gpubp sample` draws text from its checkpoint

    def loaders(self, batch_size: int, device: Any, seed: int, data_path: Any = None) -> tuple[DataLoader, DataLoader]:
        train, test = self.data(data_path)
        return (DataLoader(train, batch_size, shuffle=True, seed=seed, device=device),
                DataLoader(test, 512, device=device))  # fmt: skip

    def optimizer(self, model: nn.Module, lr: float) -> optim.Optimizer:
        return optim.AdamW(model.parameters(), lr=lr, weight_decay=self.weight_decay)


def _mnist(path: Any) -> tuple:
    if path is None:
        raise ValueError("mnist: give the folder holding the MNIST IDX files with --data PATH")
    return datasets.load_mnist(path, "train"), datasets.load_mnist(path, "test")


ADDITION_DIGITS = 2  # operand width of addition-gpt: 9,000 training sums, 1,000 held out


def _addition_gpt() -> nn.Module:
    return gpt.GPT(len(gpt.VOCAB), 3 * ADDITION_DIGITS + 2, n_layer=2, n_head=4, n_embd=64)  # 0.1M parameters


def _warmup_cosine(optimizer: optim.Optimizer, steps: int) -> Any:
    """Linear warm-up over the first 10% of steps (early Adam steps on a transformer are large), then cosine decay
    to a tenth of the peak: nanoGPT's schedule."""
    warmup = max(1, steps // 10)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return optim.lr_scheduler.LambdaLR(optimizer, factor)


def _addition_exact_match(model: nn.Module, val: DataLoader) -> dict:
    return {"val_exact_match": gpt.exact_match(model, val, ADDITION_DIGITS)}


EXAMPLES = {
    e.name: e
    for e in [
        Example("digits-mlp", "MLP on scikit-learn's 8x8 digits", lambda _: datasets.load_digits(),
                _digits_mlp, nn.CrossEntropyLoss(), 40, 2e-3, 64, goal={"val_accuracy": 0.97}),
        Example("digits-cnn", "small CNN on scikit-learn's 8x8 digits as images",
                lambda _: datasets.load_digits(image=True), _digits_cnn, nn.CrossEntropyLoss(), 30, 2e-3, 64,
                goal={"val_accuracy": 0.98}),
        Example("breast-cancer", "MLP on scikit-learn's Wisconsin breast cancer features",
                lambda _: datasets.load_breast_cancer(),
                lambda: nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 2)), nn.CrossEntropyLoss(),
                40, 1e-3, 32, goal={"val_accuracy": 0.95}),
        Example("diabetes", "regression on scikit-learn's diabetes data (disease progression after a year)",
                lambda _: datasets.load_diabetes(),
                lambda: nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 1)), nn.MSELoss(), 25, 3e-3,
                32, metrics=("loss", "mae", "r2"), weight_decay=0.05, goal={"val_r2": 0.45}),
        Example("sentiment-lstm", "LSTM on generated token sequences (synthetic sentiment)",
                lambda _: datasets.make_sentiment(),
                lambda: LastStep(60, 32, 64, 2), nn.CrossEntropyLoss(), 12, 5e-3, 64, goal={"val_accuracy": 0.90}),
        Example("mnist", "CNN on MNIST or Fashion-MNIST from local IDX files (--data PATH)", _mnist, _mnist_cnn,
                nn.CrossEntropyLoss(), 5, 1e-3, 128, takes_data=True),
        Example("addition-gpt", f"GPT on {ADDITION_DIGITS}-digit sums as text (12+34=640: answer digits reversed)",
                lambda _: gpt.addition_data(ADDITION_DIGITS), _addition_gpt, gpt.answer_loss, 8, 3e-3, 64,
                metrics=("loss",), goal={"val_exact_match": 0.95}, final_metrics=_addition_exact_match,
                clip_grad_norm=1.0, scheduler=_warmup_cosine,
                generative=True),
    ]
}  # fmt: skip
