"""An MNIST-style classifier reading each image row by row with an LSTM (as PyTorch's examples/mnist_rnn)."""

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
        self.rnn = nn.LSTM(input_size=12, hidden_size=32, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(32)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(32, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, input):
        input = input.reshape(-1, 12, 12)  # (batch, rows, columns): one row per time step
        output, hidden = self.rnn(input)
        output = output[:, -1, :]
        output = self.batchnorm(output)
        output = self.dropout1(output)
        output = self.fc1(output)
        output = F.relu(output)
        output = self.dropout2(output)
        output = self.fc2(output)
        return F.log_softmax(output, dim=1)


def digits(n, seed):
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((10, 1, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    x = protos[labels] + 0.5 * rng.standard_normal((n, 1, 12, 12)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(labels)


def main():
    parser = argparse.ArgumentParser(description="MNIST-style RNN")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--no-shuffle", action="store_true")
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    args = parser.parse_args()

    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    torch.manual_seed(0)
    if use_cuda:
        torch.cuda.manual_seed(0)

    loader = DataLoader(TensorDataset(*digits(256, 0)), batch_size=args.batch_size, shuffle=not args.no_shuffle)
    model = Net(args.dropout)
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    if args.load_init:
        model.load_state_dict(torch.load(args.load_init))
    model.to(device)
    optimizer = optim.RMSprop(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=4, gamma=args.gamma)

    model.train()
    step = 0
    while step < args.steps:
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            scheduler.step()
            print(json.dumps({"step": step, "loss": loss.item(), "lr": scheduler.get_last_lr()[0]}))
            step += 1
            if step == args.steps:
                break
    model.eval()
    with torch.no_grad():
        x, y = digits(100, 1)
        pred = model(x.to(device)).argmax(dim=1)
        print(json.dumps({"correct": int((pred.cpu() == y).sum())}))


if __name__ == "__main__":
    main()
