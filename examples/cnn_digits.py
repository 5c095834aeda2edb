"""A small CNN on scikit-learn's bundled 8x8 digits (no download), with gpubp.nn layers, AdamW and a cosine schedule.

python examples/cnn_digits.py [--epochs 15] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

import gpubp
import gpubp.nn as nn
from gpubp import optim
from gpubp.data import DataLoader, datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    gpubp.manual_seed(0)
    device = args.device or ("cuda" if gpubp.cuda.is_available() else "cpu")

    train, test = datasets.load_digits(image=True)  # (N, 1, 8, 8) images, labels 0-9
    train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0, device=device)
    test_loader = DataLoader(test, batch_size=512, device=device)

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (32, 4, 4)
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    ).to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    for epoch in range(1, args.epochs + 1):
        model.train()
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()

        model.eval()
        correct = gpubp.zeros((), device=device)
        with gpubp.no_grad():
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum()
        # .item() waits for the device: once per epoch
        print(f"epoch {epoch:2d}  last batch loss {loss.item():.4f}  test accuracy {correct.item() / len(test):.3f}")


if __name__ == "__main__":
    main()
