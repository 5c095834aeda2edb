"""A tiny residual network on scikit-learn's bundled 8x8 digits: x + F(x) blocks with batch normalization.

python examples/resnet_digits.py [--epochs 10] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

import gpubp
import gpubp.nn as nn
from gpubp import optim
from gpubp.data import DataLoader, datasets


class ResidualBlock(nn.Module):
    """out = relu(x + bn(conv(relu(bn(conv(x)))))): the identity path lets gradients skip the block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
        h = self.bn1(self.conv1(x)).relu()
        return (x + self.bn2(self.conv2(h))).relu()


class ResNet(nn.Module):
    def __init__(self, channels: int = 16, blocks: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, classes)

    def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
        h = self.blocks(self.stem(x))  # (N, C, 8, 8)
        return self.head(self.pool(h).flatten(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    gpubp.manual_seed(0)
    device = args.device or str(gpubp.default_device())

    train, test = datasets.load_digits(image=True)
    train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0, device=device)
    test_loader = DataLoader(test, batch_size=512, device=device)
    model = ResNet().to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    schedule = optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.2, epochs=args.epochs, steps_per_epoch=len(train_loader)
    )

    for epoch in range(1, args.epochs + 1):
        model.train()
        for x, y in train_loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # stays on the device
            optimizer.step()
            schedule.step()  # 1cycle steps every batch
        model.eval()
        correct = gpubp.zeros((), device=device)
        with gpubp.no_grad():
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum()
        print(f"epoch {epoch:2d}  loss {loss.item():.4f}  test accuracy {correct.item() / len(test):.3f}")


if __name__ == "__main__":
    main()
