"""WGAN-GP on a toy 2-D mixture, in the style of the public PyTorch WGAN-GP implementations: a gradient penalty
through torch.autograd.grad(create_graph=True), activation checkpointing in the generator, and a tensor hook."""

import argparse
import json

import numpy as np
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Generator(nn.Module):
    def __init__(self, nz, hidden):
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(nz, hidden), nn.ReLU())
        self.body = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 2)

    def forward(self, z):
        h = self.inp(z)
        h = checkpoint(self.body, h, use_reentrant=False)
        return self.out(h)


class Critic(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )

    def forward(self, x):
        return self.net(x)


def gradient_penalty(critic, real, fake, alpha):
    interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(interp)
    grads = torch.autograd.grad(
        outputs=score, inputs=interp, grad_outputs=torch.ones_like(score), create_graph=True, retain_graph=True
    )[0]
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


def sample_real(rng, n):
    centers = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]) * 2
    pick = rng.integers(0, 8, n)
    return torch.from_numpy((centers[pick] + 0.05 * rng.standard_normal((n, 2))).astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--n-critic", type=int, default=3)
    parser.add_argument("--lambda-gp", type=float, default=10.0)
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    args = parser.parse_args()

    torch.manual_seed(0)
    netG, netD = Generator(8, args.hidden), Critic(args.hidden)
    if args.save_init:
        torch.save({"G": netG.state_dict(), "D": netD.state_dict()}, args.save_init)
    if args.load_init:
        init = torch.load(args.load_init)
        netG.load_state_dict(init["G"])
        netD.load_state_dict(init["D"])
    optD = torch.optim.Adam(netD.parameters(), lr=1e-3, betas=(0.5, 0.9))
    optG = torch.optim.Adam(netG.parameters(), lr=1e-3, betas=(0.5, 0.9))
    rng = np.random.default_rng(0)

    for step in range(1, args.steps + 1):
        for _ in range(args.n_critic):
            real = sample_real(rng, args.batch_size)
            z = torch.from_numpy(rng.standard_normal((args.batch_size, 8)).astype(np.float32))
            alpha = torch.from_numpy(rng.random((args.batch_size, 1)).astype(np.float32))
            with torch.no_grad():
                fake = netG(z)
            optD.zero_grad()
            wasserstein = netD(fake).mean() - netD(real).mean()
            gp = gradient_penalty(netD, real, fake, alpha)
            lossD = wasserstein + args.lambda_gp * gp
            lossD.backward()
            optD.step()

        z = torch.from_numpy(rng.standard_normal((args.batch_size, 8)).astype(np.float32))
        optG.zero_grad()
        fake = netG(z)
        fake.register_hook(lambda g: g.clamp(-1.0, 1.0))  # bound what reaches the generator per sample
        lossG = -netD(fake).mean()
        lossG.backward()
        optG.step()
        print(json.dumps({"step": step, "loss": lossD.item(), "gp": gp.item(), "loss_g": lossG.item()}))


if __name__ == "__main__":
    main()
