"""A tabular regressor trained, checkpointed (model, optimizer, scheduler, epoch in one file) and resumed, as
PyTorch's "saving and loading a general checkpoint" recipe; prints the model's repr and state-dict keys too."""

import argparse
import json
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Regressor(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.body = nn.Sequential(
            OrderedDict(
                [
                    ("fc1", nn.Linear(n_features, 32)),
                    ("norm", nn.LayerNorm(32)),
                    ("act", nn.ReLU(inplace=True)),
                    ("fc2", nn.Linear(32, 16)),
                    ("act2", nn.Tanh()),
                ]
            )
        )
        self.heads = nn.ModuleDict({"mean": nn.Linear(16, 1), "log_scale": nn.Linear(16, 1)})
        self.register_buffer("target_mean", torch.zeros(1))
        self.register_buffer("calls", torch.zeros(1), persistent=False)

    def forward(self, x):
        h = self.body(x)
        return self.heads["mean"](h).squeeze(-1) + self.target_mean, self.heads["log_scale"](h).squeeze(-1)


def init_weights(m):
    if isinstance(m, nn.Linear):
        torch.nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.01)


def gaussian_nll(mean, log_scale, y):
    return (log_scale + 0.5 * ((y - mean) / log_scale.exp()) ** 2).mean()


def batches(step, n_features):
    rng = np.random.default_rng(1000 + step)
    x = rng.standard_normal((32, n_features)).astype(np.float32)
    y = (x[:, 0] * 2 - x[:, 1] ** 2 + 0.1 * rng.standard_normal(32)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--stop-at", type=int, default=None, help="save a checkpoint at this step and exit")
    parser.add_argument("--resume", default=None)
    parser.add_argument("--checkpoint", default="checkpoint.pt")
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    args = parser.parse_args()

    n_features = 6
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    model = Regressor(n_features)
    model.apply(init_weights)
    print(json.dumps({"repr": repr(model), "keys": list(model.state_dict().keys())}))
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    if args.load_init:
        missing, unexpected = model.load_state_dict(torch.load(args.load_init), strict=False)
        print(json.dumps({"missing": missing, "unexpected": unexpected}))
    model.to(device)
    optimizer = optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    start = 0
    if args.resume:
        checkpoint = torch.load(args.resume, map_location=device, weights_only=True)
        model.load_state_dict(checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start = checkpoint["epoch"] + 1

    model.train()
    for step in range(start, args.steps):
        x, y = batches(step, n_features)
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        mean, log_scale = model(x)
        loss = gaussian_nll(mean, log_scale, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        print(json.dumps({"step": step, "loss": loss.item()}))
        if step == args.stop_at:
            torch.save(
                {
                    "epoch": step,
                    "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "loss": loss.item(),
                },
                args.checkpoint,
            )
            return
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(json.dumps({"params": params, "final": [round(v, 4) for v in model.heads.mean.weight.view(-1).tolist()]}))


if __name__ == "__main__":
    main()
