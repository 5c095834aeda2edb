"""A custom map-style Dataset of dicts loaded by worker processes, a random split, a Subset and a model with its own
Parameters (as a typical "custom dataset" tutorial)."""

import argparse
import json
import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, random_split


class Sensors(Dataset):
    """Readings computed on the fly from the index, as a dataset reading files would."""

    def __init__(self, n, transform=None):
        self.n = n
        self.transform = transform

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        if torch.is_tensor(idx):
            idx = idx.tolist()
        rng = np.random.default_rng(idx)
        x = rng.standard_normal(5).astype(np.float32)
        sample = {"readings": x, "label": float(x.sum() > 0), "id": idx}
        if self.transform:
            sample = self.transform(sample)
        return sample


class Scale:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, sample):
        return {**sample, "readings": sample["readings"] * self.factor}


class Logistic(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n))
        self.extra = nn.ParameterList([nn.Parameter(torch.full((1,), 0.5)) for _ in range(2)])
        self.b = nn.Parameter(torch.tensor(0.1))

    def forward(self, x):
        return x @ self.w * self.extra[0] + self.b + self.extra[1] * 0


def worker_init_fn(worker_id):
    info = torch.utils.data.get_worker_info()
    assert info is not None and info.id == worker_id and info.num_workers >= 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    args = parser.parse_args()

    dataset = Sensors(200, transform=Scale(2.0))
    train_part, val_part = random_split(dataset, [0.75, 0.25], generator=torch.Generator().manual_seed(42))
    print(
        json.dumps(
            {"split": [len(train_part), len(val_part)], "disjoint": not set(train_part.indices) & set(val_part.indices)}
        )
    )
    train_set = Subset(dataset, range(0, 160))
    loader = DataLoader(
        train_set,
        batch_size=16,
        shuffle=False,
        num_workers=args.workers,
        worker_init_fn=worker_init_fn,
        persistent_workers=args.workers > 0,
    )
    model = Logistic(5)
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    if args.load_init:
        model.load_state_dict(torch.load(args.load_init))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    loss_fn = nn.BCEWithLogitsLoss()
    step = 0
    for epoch in range(3):
        for batch in loader:
            x, y = batch["readings"], batch["label"].float()
            assert batch["id"].dtype == torch.int64 and x.shape == (16, 5)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            print(json.dumps({"epoch": epoch, "step": step, "loss": loss.item(), "pid_differs": os.getpid() > 0}))
            step += 1
            if step == args.steps:
                return


if __name__ == "__main__":
    main()
