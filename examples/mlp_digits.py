"""Train a two-layer MLP on scikit-learn's bundled 8x8 digits, with raw gpubp tensor ops.

    python examples/mlp_digits.py [--epochs 30] [--device cpu|cuda]

Runs on the GPU when CuPy and a GPU are present, else on the CPU. No layer library:
parameters are plain tensors, the update is written out, and each line maps to the math.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gpubp


def load_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """1,797 8x8 images of handwritten digits (shipped with scikit-learn: no download), split 80/20."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    x = data.data.astype(np.float32) / 16.0  # pixels are 0..16
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_train = int(0.8 * len(x))
    mean, std = x[:n_train].mean(0), x[:n_train].std(0) + 1e-6
    x = (x - mean) / std
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    gpubp.manual_seed(args.seed)
    dev = args.device or ("cuda" if gpubp.cuda.is_available() else "cpu")
    x_train, y_train, x_test, y_test = load_digits(args.seed)
    print(f"gpubp {gpubp.__version__} on {dev}: digits, {len(x_train)} train / {len(x_test)} test images")

    # the data lives on the device for the whole run
    xtr, ytr = gpubp.tensor(x_train, device=dev), gpubp.tensor(y_train, device=dev)
    xte, yte = gpubp.tensor(x_test, device=dev), gpubp.tensor(y_test, device=dev)

    # parameters: He-initialized weights (out, in), zero biases
    n_in, n_hidden, n_out = x_train.shape[1], args.hidden, 10
    w1 = (gpubp.randn(n_hidden, n_in, device=dev) * (2 / n_in) ** 0.5).requires_grad_()
    b1 = gpubp.zeros(n_hidden, device=dev, requires_grad=True)
    w2 = (gpubp.randn(n_out, n_hidden, device=dev) * (2 / n_hidden) ** 0.5).requires_grad_()
    b2 = gpubp.zeros(n_out, device=dev, requires_grad=True)
    params = [w1, b1, w2, b2]

    def forward(x: gpubp.Tensor) -> gpubp.Tensor:
        hidden = (x @ w1.T + b1).relu()  # (N, hidden)
        return hidden @ w2.T + b2  # (N, 10) logits

    n = len(x_train)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = gpubp.tensor(np.random.default_rng(args.seed + epoch).permutation(n), device=dev)
        total = gpubp.zeros((), device=dev)  # summed on the device: no sync per batch
        for i in range(0, n, args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = gpubp.cross_entropy(forward(xtr[idx]), ytr[idx])
            loss.backward()
            with gpubp.no_grad():
                for p in params:
                    p -= args.lr * p.grad  # plain SGD
                    p.grad = None
                total += loss.detach() * len(idx)
        with gpubp.no_grad():
            accuracy = (forward(xte).argmax(1) == yte).float().mean()
        # .item() waits for the device: once per epoch, for the log line
        print(f"epoch {epoch:3d}  train loss {total.item() / n:.4f}  test accuracy {accuracy.item():.3f}")
    print(f"done in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
