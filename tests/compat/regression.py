"""Polynomial regression with a hand-written SGD update through .data (as PyTorch's examples/regression)."""

import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F

POLY_DEGREE = 4


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    W_target = torch.from_numpy(rng.standard_normal((POLY_DEGREE, 1)).astype(np.float32)) * 5
    b_target = torch.from_numpy(rng.standard_normal(1).astype(np.float32)) * 5

    def f(x):
        """Approximated function."""
        return x.mm(W_target) + b_target.item()

    fc = torch.nn.Linear(W_target.size(0), 1)
    if args.save_init:
        torch.save(fc.state_dict(), args.save_init)
    if args.load_init:
        fc.load_state_dict(torch.load(args.load_init))

    for batch_idx in range(1, args.steps + 1):
        random = torch.from_numpy(rng.standard_normal(32).astype(np.float32))
        batch_x = make_features(random)
        batch_y = f(batch_x)
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        print(json.dumps({"batch": batch_idx, "loss": loss}))

    w = fc.weight.view(-1)
    print(json.dumps({"weights": w.tolist(), "bias": fc.bias.tolist()}))


if __name__ == "__main__":
    main()
