"""WGAN-GP (Gulrajani et al. 2017) on eight 2-D Gaussians on a circle: the gradient penalty is a gradient of a gradient.

    python examples/wgan_gp.py [--iters 2000] [--device cpu|cuda]

The critic is pushed to be 1-Lipschitz by penalizing lambda * (||d critic(x_hat) / d x_hat||_2 - 1)^2 at points
x_hat between real and generated samples. That gradient is taken with create_graph=True, so the critic's update
differentiates through it (second derivatives of the critic). Goal: the generator puts its samples on the modes,
and on all eight of them; the script exits non-zero when it does not.
"""

from __future__ import annotations

import argparse
import math
import time

import gpubp
import gpubp.nn as nn
from gpubp import optim

N_MODES, RADIUS, STD = 8, 2.0, 0.05  # the data: 8 Gaussians with std 0.05 on a circle of radius 2


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Module:
    """Two hidden ReLU layers: the generator (2 -> 2) and the critic (2 -> 1) have the same shape."""
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
    )


def gradient_penalty(critic: nn.Module, real: gpubp.Tensor, fake: gpubp.Tensor) -> gpubp.Tensor:
    """mean over x_hat of (||grad critic(x_hat)||_2 - 1)^2, x_hat uniform on the segments from fake to real."""
    eps = gpubp.rand(len(real), 1, device=real.device)  # (N, 1): one mixing weight per pair
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_()
    # create_graph=True records this backward pass, so the penalty can be differentiated w.r.t. the critic
    (grad,) = gpubp.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)  # (N, 2)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000, help="generator steps")
    parser.add_argument("--critic-steps", type=int, default=5, help="critic steps per generator step")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-4)
    # the paper's lambda is 10; its own toy-data code (gan_toy.py) uses 0.1, which trains far more steadily here
    parser.add_argument("--gp-weight", type=float, default=0.1, help="lambda")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    gpubp.manual_seed(args.seed)
    dev = args.device or ("cuda" if gpubp.cuda.is_available() else "cpu")
    angles = [2 * math.pi * k / N_MODES for k in range(N_MODES)]
    modes = gpubp.tensor([[RADIUS * math.cos(a), RADIUS * math.sin(a)] for a in angles], device=dev)  # (8, 2)
    print(
        f"gpubp {gpubp.__version__} on {dev}: WGAN-GP, {N_MODES} Gaussians (std {STD}) on a circle of radius {RADIUS}"
    )

    generator = mlp(2, args.hidden, 2).to(dev)
    critic = mlp(2, args.hidden, 1).to(dev)
    # betas (0.5, 0.9) as in the paper; its lr is 1e-4, 3e-4 gets there in fewer steps on this small problem
    opt_g = optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.9))
    opt_c = optim.Adam(critic.parameters(), lr=args.lr, betas=(0.5, 0.9))

    def sample_real(n: int) -> gpubp.Tensor:
        return modes[gpubp.randint(0, N_MODES, (n,), device=dev)] + STD * gpubp.randn(n, 2, device=dev)

    def sample_fake(n: int) -> gpubp.Tensor:
        return generator(gpubp.randn(n, 2, device=dev))  # 2-D Gaussian noise in, a 2-D point out

    def evaluate(n: int = 2000) -> tuple[float, float, int]:
        """(mean distance to the nearest mode, fraction within 4 std of one, modes holding at least 1% of samples)."""
        with gpubp.no_grad():
            x = sample_fake(n)
            dist = ((x[:, None, :] - modes[None]) ** 2).sum(-1).sqrt()  # (n, 8)
            nearest = dist.min(1)
            on_mode = (nearest.values < 4 * STD).float()  # (n,)
            per_mode = (nearest.indices[:, None] == gpubp.arange(N_MODES, device=dev)).float() * on_mode[:, None]
            covered = (per_mode.sum(0) >= 0.01 * n).sum()
        # .item() waits for the device: once per log line
        return nearest.values.mean().item(), on_mode.mean().item(), int(covered.item())

    start = time.perf_counter()
    for it in range(1, args.iters + 1):
        # critic: maximize E[critic(real)] - E[critic(fake)], its gradient norm pulled toward 1 by the penalty
        for _ in range(args.critic_steps):
            real = sample_real(args.batch_size)
            with gpubp.no_grad():
                fake = sample_fake(args.batch_size)
            penalty = gradient_penalty(critic, real, fake)
            w_dist = critic(real).mean() - critic(fake).mean()  # the critic's estimate of the Wasserstein-1 distance
            loss_c = -w_dist + args.gp_weight * penalty
            opt_c.zero_grad()
            loss_c.backward()  # through the penalty's gradient: second derivatives of the critic
            opt_c.step()
        # generator: move its samples to where the critic scores high
        loss_g = -critic(sample_fake(args.batch_size)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if it % max(1, args.iters // 10) == 0 or it == args.iters:
            dist, on_mode, covered = evaluate()
            print(
                f"iter {it:5d}  W-distance {w_dist.item():.3f}  penalty {penalty.item():.4f}  "
                f"distance to mode {dist:.3f}  on a mode {on_mode:.3f}  modes covered {covered}/{N_MODES}"
            )
    print(f"done in {time.perf_counter() - start:.1f}s")

    # goal: samples close to the modes (they start near the origin, ~1.8 away), a good share on one, none left empty
    dist, on_mode, covered = evaluate(n=5000)
    reached = dist < 0.5 and on_mode > 0.25 and covered == N_MODES
    print(
        f"goal {'reached' if reached else 'MISSED'}: distance to mode {dist:.3f} (< 0.5), "
        f"on a mode {on_mode:.3f} (> 0.25), modes covered {covered}/{N_MODES} (all)"
    )
    if not reached:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
