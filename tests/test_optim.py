"""Optimizers and schedules against torch.optim, step for step: parameters, optimizer state and
learning rates; parameter groups, state_dict round trips, validation, and a model whose loss falls."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
from gpubp import optim
from gpubp.optim import lr_scheduler as sched

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
]


def _pair(device: str, dtype: str, seed: str) -> tuple[list, list, list]:
    rng = rng_for(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in [(4, 3), (3,), (2, 2, 2)]]
    ours = [gpubp.tensor(a, device=device, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    return init, ours, theirs


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizer_matches_torch_step_for_step(device: str, name: str, kw: dict, dtype: str) -> None:
    init, ours, theirs = _pair(device, dtype, name + str(sorted(kw.items())))
    # two groups: the second with its own learning rate
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], "lr": kw["lr"] / 2}], **kw)
    topt = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": kw["lr"] / 2}], **kw)
    rng = rng_for("grads", name, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for _ in range(5):
        grads = [rng.standard_normal(a.shape).astype(dtype) for a in init]
        for o, t, g in zip(ours, theirs, grads):
            o.grad = gpubp.tensor(g, device=device)
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.detach().cpu().numpy(), t.detach().cpu().numpy(), rtol=tol, atol=tol)
    # the optimizer state after several steps agrees too
    names = {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "sum"}
    for o, t in zip(ours, theirs):
        for k, v in topt.state[t].items():
            if k in names and v is not None:
                np.testing.assert_allclose(
                    opt.state[o][k].detach().cpu().numpy(), v.detach().cpu().numpy(), rtol=tol * 10, atol=tol, err_msg=k
                )


def test_state_dict_roundtrip_continues_identically(device: str) -> None:
    rng = rng_for("sd-grads")
    a = [gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in [(4, 3), (3,)]]
    b = [gpubp.tensor(p.detach().cpu().numpy().copy(), device=device, requires_grad=True) for p in a]
    opt_a = optim.Adam(a, lr=0.01)
    for _ in range(3):
        for p in a:
            p.grad = gpubp.tensor(rng.standard_normal(p.shape), device=device)
        opt_a.step()
    for pa, pb in zip(a, b):
        pb._data[...] = pa._data
    opt_b = optim.Adam(b, lr=0.5)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.param_groups[0]["lr"] == 0.01
    grads = [rng.standard_normal(p.shape) for p in a]
    for pa, pb, g in zip(a, b, grads):
        pa.grad, pb.grad = gpubp.tensor(g, device=device), gpubp.tensor(g, device=device)
    opt_a.step()
    opt_b.step()
    for pa, pb in zip(a, b):
        np.testing.assert_allclose(pa.detach().cpu().numpy(), pb.detach().cpu().numpy(), rtol=1e-14)


def test_optimizer_validation_and_errors(device: str) -> None:
    w = gpubp.zeros(3, device=device, requires_grad=True)
    with pytest.raises(ValueError, match=r"SGD: invalid learning rate -0.1"):
        optim.SGD([w], lr=-0.1)
    with pytest.raises(ValueError, match="invalid betas"):
        optim.Adam([w], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="must be a leaf tensor that requires grad"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="invalid learning rate"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="expected 1 parameter groups, got 2"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})


def test_zero_grad_and_params_without_grad(device: str) -> None:
    a = gpubp.ones(2, device=device, requires_grad=True)
    b = gpubp.ones(2, device=device, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    (a * 3).sum().backward()
    opt.step()  # b has no gradient: left alone
    assert a.tolist() == [-0.5, -0.5] and b.tolist() == [1.0, 1.0]
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 6], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 4}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 12}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 12, "anneal_strategy": "linear", "pct_start": 0.25}),
]


@needs_torch
@pytest.mark.parametrize("name,kw", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedules_match_torch(name: str, kw: dict) -> None:
    w = gpubp.zeros(2, requires_grad=True)
    tw = torch.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    ours, theirs = getattr(sched, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(11):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"])
        opt.step()
        topt.step()
        ours.step()
        theirs.step()


@needs_torch
def test_warmup_then_cosine_and_plateau_match_torch() -> None:
    w, tw = gpubp.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt, topt = optim.SGD([w], lr=1.0), torch.optim.SGD([tw], lr=1.0)
    ours = sched.SequentialLR(opt, [sched.LinearLR(opt, 0.25, total_iters=3), sched.CosineAnnealingLR(opt, 5)], [3])
    theirs = torch.optim.lr_scheduler.SequentialLR(
        topt,
        [
            torch.optim.lr_scheduler.LinearLR(topt, 0.25, total_iters=3),
            torch.optim.lr_scheduler.CosineAnnealingLR(topt, 5),
        ],
        [3],
    )
    for _ in range(8):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-9)
        topt.step()
        ours.step()
        theirs.step()
    opt, topt = optim.SGD([w], lr=1.0), torch.optim.SGD([tw], lr=1.0)
    ours, theirs = (
        sched.ReduceLROnPlateau(opt, patience=2, factor=0.5),
        torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=2, factor=0.5),
    )
    for metric in [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 2, 2, 2, 2]:
        ours.step(metric)
        theirs.step(metric)
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"])


def test_small_model_loss_falls_with_every_optimizer(device: str) -> None:
    rng = rng_for("fall")
    x_np = rng.standard_normal((64, 5)).astype("float32")
    y_np = (x_np @ rng.standard_normal((5, 1)) + 0.1).astype("float32")
    for name, kw in [("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01}), ("AdamW", {"lr": 0.01}),
                     ("RMSprop", {"lr": 0.005}), ("Adagrad", {"lr": 0.1})]:  # fmt: skip
        gpubp.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)
        opt = getattr(optim, name)(model.parameters(), **kw)
        x, y = gpubp.tensor(x_np, device=device), gpubp.tensor(y_np, device=device)
        losses = []
        for _ in range(60):
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.3 * losses[0], (name, losses[0], losses[-1])
