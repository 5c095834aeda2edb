"""Optimizers and schedules at their edges: every hyperparameter checked as PyTorch checks it (NaN,
tensors, a betas that is not a pair), in the constructor, add_param_group and load_state_dict, with
nothing changed by a refused call; and Adam/AdamW/RMSprop steps that stay finite at huge gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import optim
from gpubp.optim import lr_scheduler as sched

NAN = float("nan")

# (optimizer, keyword arguments, exception, message): each refused by gpubp; the same type as PyTorch's where it refuses
BAD_HYPERPARAMETERS = [
    ("AdamW", {"lr": NAN}, ValueError, r"AdamW: invalid learning rate nan"),
    ("Adam", {"lr": -1e-3}, ValueError, r"Adam: invalid learning rate -0.001"),
    ("Adam", {"eps": NAN}, ValueError, r"Adam: invalid eps nan"),
    ("Adam", {"eps": -1.0}, ValueError, r"Adam: invalid eps -1.0"),
    ("Adam", {"weight_decay": NAN}, ValueError, r"Adam: invalid weight_decay nan"),
    ("AdamW", {"weight_decay": -0.1}, ValueError, r"AdamW: invalid weight_decay -0.1"),
    ("Adam", {"betas": 0.9}, TypeError, r"Adam: betas must be a pair of floats \(beta1, beta2\), got float 0.9"),
    ("Adam", {"betas": (NAN, 0.999)}, ValueError, r"Adam: invalid betas\[0\] nan"),
    ("AdamW", {"betas": (0.9, 1.0)}, ValueError, r"AdamW: invalid betas\[1\] 1.0 .*each must be in \[0, 1\)"),
    ("Adam", {"betas": (0.9, "x")}, TypeError, r"Adam: betas\[1\] must be a real number, got str"),
    ("Adam", {"lr": "0.1"}, TypeError, r"Adam: lr must be a real number, got str '0.1'"),
    ("Adam", {"lr": None}, TypeError, r"Adam: lr must be a real number, got NoneType"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, ValueError, r"SGD: invalid momentum -0.5"),
    ("SGD", {"lr": 0.1, "weight_decay": -1.0}, ValueError, r"SGD: invalid weight_decay -1.0"),
    ("RMSprop", {"alpha": NAN}, ValueError, r"RMSprop: invalid alpha nan"),
    ("RMSprop", {"alpha": -0.1}, ValueError, r"RMSprop: invalid alpha -0.1"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, ValueError, r"Adagrad: invalid initial_accumulator_value -1.0"),
    ("RMSprop", {"momentum": -1.0}, ValueError, r"RMSprop: invalid momentum -1.0"),
    ("RMSprop", {"eps": -1.0}, ValueError, r"RMSprop: invalid eps -1.0"),
    ("Adagrad", {"lr_decay": NAN}, ValueError, r"Adagrad: invalid lr_decay nan"),
    ("Adagrad", {"lr_decay": -1.0}, ValueError, r"Adagrad: invalid lr_decay -1.0"),
    ("Adagrad", {"eps": -1.0}, ValueError, r"Adagrad: invalid eps -1.0"),
    # PyTorch lets these through (its SGD checks lr < 0, which NaN passes); a NaN can only poison the weights
    ("SGD", {"lr": NAN}, ValueError, r"SGD: invalid learning rate nan"),
    ("SGD", {"lr": 0.1, "momentum": NAN}, ValueError, r"SGD: invalid momentum nan"),
    ("SGD", {"lr": 0.1, "dampening": NAN}, ValueError, r"SGD: invalid dampening nan"),
    ("SGD", {"lr": 0.1, "weight_decay": NAN}, ValueError, r"SGD: invalid weight_decay nan"),
    ("Adam", {"betas": (0.9,)}, IndexError, r"Adam: betas must be a pair of floats .*got 1 values"),
    ("Adam", {"betas": (0.9, 0.99, 0.9)}, ValueError, r"Adam: betas must be a pair of floats .*got 3 values"),
    ("Adam", {"amsgrad": "yes"}, TypeError, r"Adam: amsgrad must be True or False, got str 'yes'"),
    ("RMSprop", {"centered": None}, TypeError, r"RMSprop: centered must be True or False"),
]


def _torch_raises(name: str, kw: dict) -> type | None:
    try:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    except Exception as e:  # noqa: BLE001 - whichever PyTorch raises
        return type(e)
    return None


@pytest.mark.parametrize("name,kw,exc,match", BAD_HYPERPARAMETERS, ids=[f"{c[0]}-{c[1]}" for c in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_are_refused_as_pytorch_refuses_them(
    device: str, name: str, kw: dict, exc: type, match: str
) -> None:
    w = gpubp.tensor(rng_for("bad-hyper", name).standard_normal(3), device=device, requires_grad=True)
    with pytest.raises(exc, match=match):
        getattr(optim, name)([w], **kw)
    if torch is not None:
        theirs = _torch_raises(name, kw)
        if theirs is not None:
            assert issubclass(exc, theirs), (name, kw, theirs)
    # the same values in a group of their own are refused by add_param_group, which then adds nothing
    good = {"lr": 0.1} if name == "SGD" else {}
    opt = getattr(optim, name)([w], **good)
    before = [dict(g) for g in opt.param_groups]
    extra = gpubp.tensor(rng_for("extra", name).standard_normal(2), device=device, requires_grad=True)
    with pytest.raises(exc, match=match):
        opt.add_param_group({"params": [extra], **kw})
    assert opt.param_groups == before


def test_hyperparameters_are_normalized_and_tensors_accepted(device: str) -> None:
    w = gpubp.tensor(rng_for("normalize").standard_normal(3), device=device, requires_grad=True)
    opt = optim.Adam([w], lr=gpubp.tensor(0.01), betas=[np.float32(0.8), 0.9], eps=np.float64(1e-6))
    g = opt.param_groups[0]
    assert g["lr"] == pytest.approx(0.01) and type(g["lr"]) is float
    assert g["betas"] == (pytest.approx(0.8), 0.9) and type(g["betas"]) is tuple and g["eps"] == 1e-6
    with pytest.raises(ValueError, match="Invalid learning rate|invalid learning rate nan"):
        optim.Adam([w], lr=gpubp.tensor(NAN))
    with pytest.raises(ValueError, match=r"Adam: Tensor lr must be 1-element"):
        optim.Adam([w], lr=gpubp.tensor([0.1, 0.2]))
    if torch is not None:
        with pytest.raises(ValueError):
            torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(TypeError, match=r"SGD: params must be an ordered iterable .* got Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match=r"got set"):
        optim.SGD({w}, lr=0.1)
    with pytest.raises(TypeError, match=r"a set's order changes between runs"):
        optim.SGD([w], lr=0.1).add_param_group({"params": {gpubp.zeros(2, requires_grad=True)}})


def test_parameter_lists_as_pytorch_takes_them(device: str) -> None:
    rng = rng_for("param-lists")
    w = gpubp.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    frozen = gpubp.tensor(rng.standard_normal(2), device=device)  # a leaf without requires_grad: kept, never stepped
    opt = optim.SGD([w, frozen], lr=0.1)
    w.grad = gpubp.tensor(np.ones(3), device=device)
    before = frozen.detach().cpu().numpy().copy()
    opt.step()
    np.testing.assert_array_equal(frozen.detach().cpu().numpy(), before)
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor: params\[0\] is the result of an op"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.warns(UserWarning, match="lists a parameter more than once; it is kept once"):
        twice = optim.Adam([w, w])
    assert len(twice.param_groups[0]["params"]) == 1
    with pytest.raises(KeyError, match=r"SGD: the parameter group \['lr'\] has no 'params' key"):
        opt.add_param_group({"lr": 0.1})
    with pytest.raises(TypeError, match=r"SGD: a parameter group must be a dict with a 'params' key, got list"):
        opt.add_param_group([w])
    if torch is not None:
        topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(KeyError):
            topt.add_param_group({"lr": 0.1})
        torch.optim.SGD([torch.zeros(2)], lr=0.1)  # PyTorch takes a leaf without requires_grad too


def test_adagrad_initial_accumulator_value_matches_torch(device: str) -> None:
    rng = rng_for("adagrad-init")
    init = rng.standard_normal(5).astype(np.float32)
    grads = [rng.standard_normal(5).astype(np.float32) for _ in range(3)]
    w = gpubp.tensor(init, device=device, requires_grad=True)
    opt = optim.Adagrad([w], lr=0.1, initial_accumulator_value=0.7)
    for g in grads:
        w.grad = gpubp.tensor(g, device=device)
        opt.step()
    assert w.detach().cpu().numpy().tolist() != init.tolist()
    old = {k: v for k, v in opt.state_dict()["param_groups"][0].items() if k != "initial_accumulator_value"}
    opt.load_state_dict({"state": {}, "param_groups": [old]})  # a state dict from before the hyperparameter existed
    assert opt.param_groups[0]["initial_accumulator_value"] == 0.7
    if torch is None:
        return
    tw = torch.tensor(init, requires_grad=True)
    topt = torch.optim.Adagrad([tw], lr=0.1, initial_accumulator_value=0.7)
    for g in grads:
        tw.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(w.detach().cpu().numpy(), tw.detach().numpy(), rtol=1e-6, atol=1e-6)


def _trained_adam(device: str, key: str) -> tuple[optim.Adam, list]:
    rng = rng_for("sd", key)
    ps = [gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in [(3, 2), (4,)]]
    opt = optim.Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.02}], lr=0.01)
    for _ in range(2):
        for p in ps:
            p.grad = gpubp.tensor(rng.standard_normal(p.shape), device=device)
        opt.step()
    return opt, ps


def _snapshot(opt: optim.Optimizer) -> tuple:
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    state = {id(p): {k: v.detach().cpu().numpy().copy() if isinstance(v, gpubp.Tensor) else v for k, v in s.items()}
             for p, s in opt.state.items()}  # fmt: skip
    return groups, state


def _same(a: tuple, b: tuple) -> None:
    assert a[0] == b[0] and a[1].keys() == b[1].keys()
    for k in a[1]:
        for name, v in a[1][k].items():
            np.testing.assert_array_equal(v, b[1][k][name])


def test_load_state_dict_refuses_what_does_not_match_and_changes_nothing(device: str) -> None:
    opt, _ = _trained_adam(device, "a")
    sd = opt.state_dict()
    target, _ = _trained_adam(device, "b")
    before = _snapshot(target)

    def refused(bad: dict, exc: type, match: str) -> None:
        with pytest.raises(exc, match=match):
            target.load_state_dict(bad)
        _same(_snapshot(target), before)

    refused(None, TypeError, r"Adam.load_state_dict: expected a dict with 'state' and 'param_groups', got NoneType")
    refused({"state": {}}, KeyError, r"the state dict has no \['param_groups'\]")
    refused({**sd, "param_groups": sd["param_groups"][:1]}, ValueError, "expected 2 parameter groups, got 1")
    groups = [dict(g) for g in sd["param_groups"]]
    groups[1] = {**groups[1], "params": [1, 2]}
    refused({**sd, "param_groups": groups}, ValueError, "group 1 has 1 parameters, the state dict 2")
    sgd = optim.SGD([gpubp.zeros(3, 2, device=device, requires_grad=True)], lr=0.1, momentum=0.9)
    sgd_groups = [{**sd["param_groups"][0], **sgd.state_dict()["param_groups"][0]} for _ in range(2)]
    for g in sgd_groups:
        for k in ("betas", "eps", "amsgrad"):
            g.pop(k)
    sgd_groups[1]["params"] = [1]
    refused({**sd, "param_groups": sgd_groups}, ValueError, r"parameter group 0 of the state dict has no \['amsgrad'")
    for k, v, exc, match in [
        ("lr", NAN, ValueError, "invalid learning rate nan"),
        ("betas", 0.9, TypeError, "betas must be a pair of floats"),
        ("eps", -1.0, ValueError, "invalid eps -1.0"),
    ]:
        groups = [dict(g) for g in sd["param_groups"]]
        groups[1][k] = v
        refused({**sd, "param_groups": groups}, exc, match)
    refused({**sd, "state": {**sd["state"], 7: {}}}, ValueError, r"state for unknown parameter 7")
    st = {i: dict(s) for i, s in sd["state"].items()}
    st[0]["exp_avg"] = gpubp.zeros(2, 3, device=device)
    refused({**sd, "state": st}, ValueError, r"state 'exp_avg' of parameter 0 has shape \(2, 3\), expected \(3, 2\)")
    st = {i: dict(s) for i, s in sd["state"].items()}
    st[1]["momentum_buffer"] = gpubp.zeros(4, device=device)
    refused({**sd, "state": st}, ValueError, r"parameter 1 has \['momentum_buffer'\], which Adam does not keep")
    st = {i: dict(s) for i, s in sd["state"].items()}
    st[1]["exp_avg_sq"] = None
    refused({**sd, "state": st}, TypeError, r"state 'exp_avg_sq' of parameter 1 is a NoneType, expected a Tensor")
    st = {i: dict(s) for i, s in sd["state"].items()}
    st[0]["step"] = -1
    refused({**sd, "state": st}, ValueError, r"state 'step' of parameter 0 is -1: expected a step count")
    # a good one loads: state keys as strings (a checkpoint's JSON makes them so), float64 state cast to float32
    st = {str(i): dict(s) for i, s in sd["state"].items()}
    st["0"]["exp_avg"] = gpubp.tensor(st["0"]["exp_avg"].detach().cpu().numpy().astype(np.float64), device=device)
    target.load_state_dict({**sd, "state": st})
    p0 = target.param_groups[0]["params"][0]
    assert target.state[p0]["exp_avg"].dtype == p0.dtype and target.state[p0]["step"] == 2
    assert target.param_groups[1]["lr"] == 0.02


def test_a_checkpointed_optimizer_state_round_trips(tmp_path, device: str) -> None:  # noqa: ANN001
    opt, ps = _trained_adam(device, "ck")
    gpubp.save({"opt": opt.state_dict()}, tmp_path / "opt.safetensors")
    clone, _ = _trained_adam(device, "other")
    clone.load_state_dict(gpubp.load(tmp_path / "opt.safetensors", device=device)["opt"])
    assert clone.param_groups[0]["betas"] == (0.9, 0.999)  # a JSON list again a tuple
    for p, q in zip(ps, clone.param_groups[0]["params"] + clone.param_groups[1]["params"]):
        np.testing.assert_array_equal(
            opt.state[p]["exp_avg"].detach().cpu().numpy(), clone.state[q]["exp_avg"].detach().cpu().numpy()
        )


# ---- learning-rate schedules ------------------------------------------------------------------------------

BAD_SCHEDULES = [
    ("StepLR", {"step_size": 0}, ValueError, r"StepLR: expected an integer step_size >= 1, but got 0"),
    ("StepLR", {"step_size": 1.5}, ValueError, r"StepLR: expected an integer step_size >= 1, but got 1.5"),
    ("StepLR", {"step_size": "2"}, TypeError, r"StepLR: step_size must be an integer, got str"),
    ("StepLR", {"step_size": 2, "gamma": NAN}, ValueError, r"StepLR: gamma must be a number >= 0"),
    ("StepLR", {"step_size": 2, "gamma": -0.5}, ValueError, r"StepLR: gamma must be a number >= 0"),
    ("StepLR", {"step_size": 2, "last_epoch": -2}, ValueError, r"StepLR: expected an integer last_epoch >= -1"),
    ("MultiStepLR", {"milestones": 3}, TypeError, r"MultiStepLR: milestones must be a list of epochs, got int"),
    ("MultiStepLR", {"milestones": [2, 1.5]}, ValueError, r"MultiStepLR: expected an integer milestones\[1\]"),
    ("ExponentialLR", {"gamma": NAN}, ValueError, r"ExponentialLR: gamma must be a number >= 0"),
    ("CosineAnnealingLR", {"T_max": 0}, ValueError, r"CosineAnnealingLR: expected an integer T_max >= 1"),
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": NAN}, ValueError, r"CosineAnnealingLR: eta_min must be"),
    ("LinearLR", {"start_factor": 0.0}, ValueError, r"LinearLR: start_factor must be in \(0, 1\]"),
    ("LinearLR", {"start_factor": NAN}, ValueError, r"LinearLR: start_factor must be in \(0, 1\], but got nan"),
    ("LinearLR", {"end_factor": 1.5}, ValueError, r"LinearLR: end_factor must be in \[0, 1\]"),
    ("LinearLR", {"total_iters": -1}, ValueError, r"LinearLR: expected an integer total_iters >= 0"),
    ("OneCycleLR", {"max_lr": 0.1}, ValueError, r"OneCycleLR: you must define either total_steps"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 0}, ValueError, r"expected an integer total_steps >= 2"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 1.5}, ValueError, r"expected an integer total_steps >= 2"),
    ("OneCycleLR", {"max_lr": 0.1, "epochs": 0, "steps_per_epoch": 3}, ValueError, r"integer epochs >= 1"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9, "pct_start": 1.5}, ValueError, r"pct_start must be in"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9, "anneal_strategy": "x"}, ValueError, r"anneal_strategy must"),
    ("OneCycleLR", {"max_lr": [0.1, 0.2], "total_steps": 9}, ValueError, r"max_lr has 2 values, but the optimizer"),
    ("OneCycleLR", {"max_lr": NAN, "total_steps": 9}, ValueError, r"OneCycleLR: max_lr must be a number >= 0"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9, "div_factor": 0}, ValueError, r"div_factor must be a number"),
    ("ReduceLROnPlateau", {"mode": "x"}, ValueError, r"ReduceLROnPlateau: mode 'x' is unknown"),
    ("ReduceLROnPlateau", {"threshold_mode": "x"}, ValueError, r"ReduceLROnPlateau: threshold mode 'x' is unknown"),
    ("ReduceLROnPlateau", {"factor": 1.0}, ValueError, r"ReduceLROnPlateau: factor must be in \[0, 1\)"),
    ("ReduceLROnPlateau", {"factor": NAN}, ValueError, r"ReduceLROnPlateau: factor must be in \[0, 1\)"),
    ("ReduceLROnPlateau", {"patience": -1}, ValueError, r"expected an integer patience >= 0"),
    ("ReduceLROnPlateau", {"min_lr": [0.1, 0.2]}, ValueError, r"expected 1 min_lrs \(one per param group\), got 2"),
    ("ReduceLROnPlateau", {"min_lr": -1.0}, ValueError, r"ReduceLROnPlateau: min_lr must be a number >= 0"),
]


@pytest.mark.parametrize("name,kw,exc,match", BAD_SCHEDULES, ids=[f"{c[0]}-{c[1]}" for c in BAD_SCHEDULES])
def test_bad_schedule_arguments_are_refused(name: str, kw: dict, exc: type, match: str) -> None:
    opt = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(exc, match=match):
        getattr(sched, name)(opt, **kw)
    assert opt.param_groups[0]["lr"] == 0.1
    if torch is not None:
        topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
        try:
            getattr(torch.optim.lr_scheduler, name)(topt, **kw)
        except Exception as e:  # noqa: BLE001 - where PyTorch refuses, it is with the same type
            if not isinstance(e, (KeyError, ZeroDivisionError)):  # PyTorch's accidents: resume without initial_lr, /0
                assert issubclass(exc, type(e)), (name, kw, type(e), e)


def test_schedules_check_optimizers_schedulers_and_their_state() -> None:
    opt = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    for cls, kw in [(sched.StepLR, {"step_size": 2}), (sched.ReduceLROnPlateau, {})]:
        with pytest.raises(TypeError, match=rf"{cls.__name__}: expected an Optimizer, got int"):
            cls(5, **kw)
    other = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"SequentialLR: expects at least one scheduler"):
        sched.SequentialLR(opt, [], [])
    with pytest.raises(TypeError, match=r"SequentialLR: schedulers\[1\] is a int, expected an LRScheduler"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), 5], [3])
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] \(StepLR\) belongs to another optimizer"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.StepLR(other, 2)], [3])
    with pytest.raises(ValueError, match=r"SequentialLR: milestones must be in increasing order, got \[4, 2\]"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.StepLR(opt, 2), sched.StepLR(opt, 2)], [4, 2])
    plateau = sched.ReduceLROnPlateau(opt)
    with pytest.raises(TypeError, match=r"ReduceLROnPlateau.step: the metric must be a number, got None"):
        plateau.step(None)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.step: the metric must be a number, got 'low'"):
        plateau.step("low")
    step = sched.StepLR(opt, 3, gamma=0.5)
    state = step.state_dict()
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: the state dict has \['T_max', 'eta_min'\]"):
        step.load_state_dict(sched.CosineAnnealingLR(other, 4).state_dict())
    with pytest.raises(TypeError, match=r"StepLR.load_state_dict: expected a dict, got list"):
        step.load_state_dict([])
    assert step.state_dict() == state


def test_plateau_min_lr_per_group() -> None:
    a, b = gpubp.zeros(2, requires_grad=True), gpubp.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    plateau = sched.ReduceLROnPlateau(opt, factor=0.5, patience=0, min_lr=[0.08, 0.1])
    for metric in [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        plateau.step(metric)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.08, 0.1])  # each group stops at its own floor
    if torch is not None:
        ta, tb = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
        topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 1.0}], lr=0.1)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, factor=0.5, patience=0, min_lr=[0.08, 0.1])
        for metric in [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
            theirs.step(metric)
        assert [g["lr"] for g in topt.param_groups] == pytest.approx([g["lr"] for g in opt.param_groups])


# ---- huge gradients -----------------------------------------------------------------------------------------

HUGE = [("Adam", {"lr": 0.01}), ("AdamW", {"lr": 0.01, "weight_decay": 0.1}), ("Adam", {"lr": 0.01, "amsgrad": True}),
        ("RMSprop", {"lr": 0.01}), ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5})]  # fmt: skip


@pytest.mark.parametrize("scale", [1e20, 3e19])
@pytest.mark.parametrize("name,kw", HUGE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(HUGE)])
def test_huge_float32_gradients_step_like_torch(device: str, name: str, kw: dict, scale: float) -> None:
    """g*g overflows float32 above ~1.8e19; PyTorch's addcmul computes ((1 - b2) * g) * g, which does not."""
    rng = rng_for("huge", name, scale)
    init = rng.standard_normal(64).astype(np.float32)
    grads = [(rng.choice([-1.0, 1.0], 64) * rng.uniform(0.5, 1.0, 64) * scale).astype(np.float32) for _ in range(3)]
    w = gpubp.tensor(init, device=device, requires_grad=True)
    opt = getattr(optim, name)([w], **kw)
    for k, g in enumerate(grads):
        w.grad = gpubp.tensor(g, device=device)
        opt.step()
        now = w.detach().cpu().numpy()
        assert np.isfinite(now).all(), (k, now)
        if k == 0:
            assert np.abs(now - init).min() > 1e-4  # every element moved: nothing turned into 0 / inf
    if torch is None:
        return
    tw = torch.tensor(init, requires_grad=True)
    topt = getattr(torch.optim, name)([tw], **kw)
    for g in grads:
        tw.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(w.detach().cpu().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert math.isfinite(float(tw.detach().abs().max()))
