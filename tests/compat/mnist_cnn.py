"""An MNIST-style convolutional classifier (as PyTorch's examples/mnist), on synthetic 12x12 digits."""

import argparse
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(self.bn1(x))
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def synthetic_digits(n, seed):
    """Ten fixed 12x12 prototypes, each example one of them plus noise."""
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((10, 1, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    images = protos[labels] + 0.5 * rng.standard_normal((n, 1, 12, 12)).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(labels)


def train(args, model, device, loader, optimizer, epoch, log):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        log.append(loss.item())
        print(json.dumps({"epoch": epoch, "batch": batch_idx, "loss": loss.item()}))
        if len(log) >= args.steps:
            return


def test(model, device, loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(loader.dataset)
    print(json.dumps({"test_loss": test_loss, "correct": correct}))


def main():
    parser = argparse.ArgumentParser(description="MNIST-style CNN")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--no-shuffle", action="store_true")
    parser.add_argument("--no-accel", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    parser.add_argument("--save-model", default=None)
    args = parser.parse_args()

    use_cuda = not args.no_accel and torch.cuda.is_available()
    use_mps = not args.no_accel and torch.backends.mps.is_available()
    torch.manual_seed(args.seed)
    if use_cuda:
        device = torch.device("cuda")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    torch.backends.cudnn.benchmark = True

    train_kwargs = {"batch_size": args.batch_size, "shuffle": not args.no_shuffle}
    test_kwargs = {"batch_size": 100}
    if use_cuda:
        cuda_kwargs = {"num_workers": 1, "pin_memory": True}
        train_kwargs.update(cuda_kwargs)
        test_kwargs.update(cuda_kwargs)
    train_loader = DataLoader(TensorDataset(*synthetic_digits(256, 0)), **train_kwargs)
    test_loader = DataLoader(TensorDataset(*synthetic_digits(200, 1)), **test_kwargs)

    model = Net(args.dropout)
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    if args.load_init:
        model.load_state_dict(torch.load(args.load_init, map_location="cpu", weights_only=True))
    model = model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    log = []
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch, log)
        test(model, device, test_loader)
        scheduler.step()
        if len(log) >= args.steps:
            break
    if args.save_model:
        torch.save(model.state_dict(), args.save_model)


if __name__ == "__main__":
    main()
