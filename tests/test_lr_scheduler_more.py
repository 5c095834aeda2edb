"""Learning-rate schedules against torch.optim.lr_scheduler: lr (and momentum) sequences, schedules composed on one
optimizer, step(epoch), state dicts and resuming."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import optim
from gpubp.optim import lr_scheduler as sched

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")


def _pair(opt_name: str = "SGD", groups: int = 1, **kw: Any) -> tuple[Any, Any]:
    """The same optimizer in gpubp and in torch, with ``groups`` parameter groups (lr 0.1, 0.05, ...)."""
    kw = kw or ({"lr": 0.1, "momentum": 0.9} if opt_name == "SGD" else {"lr": 0.1})
    ours = [{"params": [gpubp.zeros(2, requires_grad=True)], "lr": 0.1 / (i + 1)} for i in range(groups)]
    theirs = [{"params": [torch.zeros(2, requires_grad=True)], "lr": 0.1 / (i + 1)} for i in range(groups)]
    return getattr(optim, opt_name)(ours, **kw), getattr(torch.optim, opt_name)(theirs, **kw)


def _momenta(opt: Any) -> list[Any]:
    return [g.get("betas", (g.get("momentum"),))[0] for g in opt.param_groups]


def _run(opt: Any, scheds: list[Any], steps: int, epochs: list[Any] | None = None) -> list[tuple]:
    """(lrs, momenta) after construction and after each of ``steps`` steps."""
    out = [(_lrs(opt), _momenta(opt))]
    for i in range(steps):
        opt.step()
        for s in scheds:
            if epochs is None:
                s.step()
            else:
                s.step(epochs[i])
        out.append((_lrs(opt), _momenta(opt)))
    return out


def _lrs(opt: Any) -> list[float]:
    return [float(g["lr"]) for g in opt.param_groups]


def _same(ours: list[tuple], theirs: list[tuple]) -> None:
    assert len(ours) == len(theirs)
    for i, ((lo, mo), (lt, mt)) in enumerate(zip(ours, theirs)):
        assert lo == pytest.approx(lt, rel=1e-12, abs=1e-15), i
        assert mo == pytest.approx(mt, rel=1e-12, abs=1e-15), i


def _lam(e: int) -> float:
    return 0.9**e + 0.01 * e


def _mul(e: int) -> float:
    return 0.95 if e % 3 else 1.02


# (name, kwargs, optimizer, groups): each run 30 steps against torch
SINGLE = [
    ("LambdaLR", {"lr_lambda": _lam}, "SGD", 2),
    ("LambdaLR", {"lr_lambda": [_lam, lambda e: 1.0 / (e + 1)]}, "SGD", 2),
    ("MultiplicativeLR", {"lr_lambda": _mul}, "SGD", 1),
    ("ConstantLR", {"factor": 0.25, "total_iters": 4}, "SGD", 2),
    ("PolynomialLR", {"total_iters": 12, "power": 2.0}, "SGD", 1),
    ("PolynomialLR", {}, "SGD", 1),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.002}, "SGD", 1),  # past T_max: the recursive form's rise
    ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.001}, "SGD", 2),
    ("CosineAnnealingWarmRestarts", {"T_0": 5}, "SGD", 1),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}, "SGD", 1),
    ("CyclicLR", {"base_lr": [0.01, 0.02], "max_lr": 0.2, "step_size_up": 3, "step_size_down": 5,
                  "mode": "triangular2"}, "SGD", 2),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "mode": "exp_range", "gamma": 0.9}, "Adam", 1),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "scale_fn": lambda x: 0.5 ** x,
                  "scale_mode": "iterations", "cycle_momentum": False}, "Adam", 1),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 30, "three_phase": True}, "Adam", 1),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 7}, "SGD", 1),
]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name,kw,opt_name,groups", SINGLE, ids=[f"{c[0]}-{i}" for i, c in enumerate(SINGLE)])
def test_schedule_matches_torch_over_30_steps(name: str, kw: dict, opt_name: str, groups: int) -> None:
    opt, topt = _pair(opt_name, groups)
    ours = getattr(sched, name)(opt, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    steps = 29 if name == "OneCycleLR" else 30
    _same(_run(opt, [ours], steps), _run(topt, [theirs], steps))
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)


COMPOSED: list[tuple[str, Callable[[Any, Any], list[Any]]]] = [
    ("exponential+step", lambda L, o: [L.ExponentialLR(o, 0.9), L.StepLR(o, 4, gamma=0.5)]),
    ("cosine+multistep", lambda L, o: [L.CosineAnnealingLR(o, 10), L.MultiStepLR(o, [3, 7, 7], gamma=0.5)]),
    ("linear+multiplicative", lambda L, o: [L.LinearLR(o, 0.1, total_iters=5), L.MultiplicativeLR(o, _mul)]),
    ("constant+polynomial", lambda L, o: [L.ConstantLR(o, 0.5, total_iters=3), L.PolynomialLR(o, 20, 1.5)]),
    ("chained", lambda L, o: [L.ChainedScheduler([L.ConstantLR(o, 0.1, total_iters=2), L.ExponentialLR(o, 0.9)])]),
    ("chained-opt", lambda L, o: [L.ChainedScheduler([L.StepLR(o, 3), L.ExponentialLR(o, 0.95)], optimizer=o)]),
    ("sequential", lambda L, o: [L.SequentialLR(o, [L.ConstantLR(o, 0.1, total_iters=2), L.ExponentialLR(o, 0.9)],
                                                milestones=[4])]),
    ("sequential3", lambda L, o: [L.SequentialLR(o, [L.LinearLR(o, 0.2, total_iters=3), L.StepLR(o, 2, 0.5),
                                                     L.CosineAnnealingLR(o, 8)], milestones=[3, 9])]),
]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name,make", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_schedules_compose_on_one_optimizer_as_torch(name: str, make: Callable) -> None:
    opt, topt = _pair("SGD", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about nested schedulers' construction steps
        ours, theirs = make(sched, opt), make(torch.optim.lr_scheduler, topt)
        _same(_run(opt, ours, 30), _run(topt, theirs, 30))
    assert ours[-1].get_last_lr() == pytest.approx(theirs[-1].get_last_lr(), rel=1e-12)


@needs_torch
@pytest.mark.parametrize(
    "name,kw,epochs",
    [
        ("StepLR", {"step_size": 3, "gamma": 0.5}, [5, 2, 9, 9, 0]),
        ("MultiStepLR", {"milestones": [2, 4, 4]}, [3, 5, 1]),
        ("ExponentialLR", {"gamma": 0.8}, [4, 1, 7]),
        ("LinearLR", {"start_factor": 0.5, "total_iters": 4}, [2, 6, 1]),
        ("ConstantLR", {"factor": 0.5, "total_iters": 3}, [1, 3, 2]),
        ("PolynomialLR", {"total_iters": 6, "power": 0.5}, [2, 9, 4]),
        ("CosineAnnealingLR", {"T_max": 5}, [2, 7, 3]),
        ("LambdaLR", {"lr_lambda": _lam}, [3, 1, 8]),
        ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, [0.5, 1.25, 2.9, 3.0, 7.5, 10.1, 22.0, 1.0]),
        ("CosineAnnealingWarmRestarts", {"T_0": 4, "eta_min": 0.01}, [0.1, 3.99, 4.5, 13.2]),
    ],
)
def test_step_with_epoch_uses_torchs_closed_form(name: str, kw: dict, epochs: list) -> None:
    opt, topt = _pair("SGD")
    ours, theirs = getattr(sched, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the epoch argument is deprecated (both warn)
        _same(_run(opt, [ours], len(epochs), epochs), _run(topt, [theirs], len(epochs), epochs))


def test_step_with_epoch_warns_as_torch() -> None:
    opt = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    s = sched.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        s.step(3)
    assert s.last_epoch == 3 and opt.param_groups[0]["lr"] == pytest.approx(0.01)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()


STATEFUL: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("StepLR", lambda L, o: L.StepLR(o, 3, 0.5)),
    ("MultiStepLR", lambda L, o: L.MultiStepLR(o, [2, 6], 0.5)),
    ("LambdaLR", lambda L, o: L.LambdaLR(o, _lam)),
    ("MultiplicativeLR", lambda L, o: L.MultiplicativeLR(o, _mul)),
    ("ConstantLR", lambda L, o: L.ConstantLR(o, 0.5, 4)),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, 15, 2.0)),
    ("CosineAnnealingLR", lambda L, o: L.CosineAnnealingLR(o, 9, 0.001)),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, 2)),
    ("CyclicLR", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3)),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, 0.3, total_steps=20)),
    ("SequentialLR", lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.5, 2), L.ExponentialLR(o, 0.9)], [3])),
    ("ChainedScheduler", lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), L.ExponentialLR(o, 0.9)])),
    ("ReduceLROnPlateau", lambda L, o: L.ReduceLROnPlateau(o, patience=1)),
]


@needs_torch
@pytest.mark.parametrize("name,make", STATEFUL, ids=[c[0] for c in STATEFUL])
def test_state_dict_keys_and_round_trip(name: str, make: Callable) -> None:
    opt, topt = _pair("SGD")
    ours, theirs = make(sched, opt), make(torch.optim.lr_scheduler, topt)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    if "_schedulers" in theirs.state_dict():
        for a, b in zip(ours.state_dict()["_schedulers"], theirs.state_dict()["_schedulers"]):
            assert set(a) == set(b)
    plateau = name == "ReduceLROnPlateau"
    metrics = [3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    for i in range(5):
        opt.step()
        ours.step(metrics[i]) if plateau else ours.step()
    saved, opt_saved = ours.state_dict(), opt.state_dict()
    expected = []
    for i in range(5, 12):
        opt.step()
        ours.step(metrics[i]) if plateau else ours.step()
        expected += _lrs(opt)
    # a fresh optimizer and schedule, restored, carry on the same way
    opt2 = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    again = make(sched, opt2)
    opt2.load_state_dict(opt_saved)
    again.load_state_dict(saved)
    got = []
    for i in range(5, 12):
        opt2.step()
        again.step(metrics[i]) if plateau else again.step()
        got += _lrs(opt2)
    assert got == pytest.approx(expected, rel=1e-12)


@needs_torch
@pytest.mark.parametrize(
    "name,kw",
    [("StepLR", {"step_size": 3}), ("CosineAnnealingLR", {"T_max": 7}), ("ExponentialLR", {"gamma": 0.9}),
     ("PolynomialLR", {"total_iters": 9}), ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2})],
)  # fmt: skip
def test_resume_with_last_epoch_matches_torch(name: str, kw: dict) -> None:
    opt, topt = _pair("SGD")
    for o in (opt, topt):
        o.param_groups[0]["initial_lr"] = 0.2
    ours = getattr(sched, name)(opt, last_epoch=4, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, last_epoch=4, **kw)
    assert ours.base_lrs == [0.2] and ours.last_epoch == theirs.last_epoch == 5
    _same(_run(opt, [ours], 12), _run(topt, [theirs], 12))


def test_initial_lr_is_recorded_and_resume_needs_it() -> None:
    opt = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    sched.ExponentialLR(opt, 0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    fresh = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match=r"StepLR: param 'initial_lr' is not specified in param_groups\[0\]"):
        sched.StepLR(fresh, 2, last_epoch=3)


def test_bad_arguments_are_refused() -> None:
    w = gpubp.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [gpubp.zeros(1, requires_grad=True)]}], lr=0.1)
    with pytest.raises(ValueError, match=r"LambdaLR: expected 2 lr_lambdas, but got 3"):
        sched.LambdaLR(opt, [_lam] * 3)
    with pytest.raises(TypeError, match=r"MultiplicativeLR: lr_lambda should be a function, but got float"):
        sched.MultiplicativeLR(opt, 0.5)
    with pytest.raises(ValueError, match=r"ConstantLR: factor must be in \[0, 1\], but got 1.5"):
        sched.ConstantLR(opt, 1.5)
    with pytest.raises(ValueError, match=r"CyclicLR: mode 'zigzag' is invalid and scale_fn is None"):
        sched.CyclicLR(opt, 0.01, 0.1, mode="zigzag")
    with pytest.raises(ValueError, match=r"CyclicLR: max_lr has 3 values, but the optimizer has 2 param_groups"):
        sched.CyclicLR(opt, 0.01, [0.1] * 3)
    adagrad = optim.Adagrad([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"CyclicLR: optimizer must support momentum or beta1"):
        sched.CyclicLR(adagrad, 0.01, 0.1)
    assert adagrad.param_groups[0]["lr"] == 0.1 and "initial_lr" not in adagrad.param_groups[0]
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: expected an integer T_0 >= 1, but got 0"):
        sched.CosineAnnealingWarmRestarts(opt, 0)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1"):
        sched.CosineAnnealingWarmRestarts(opt, 2, T_mult=0)
    warm = sched.CosineAnnealingWarmRestarts(opt, 2)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts.step: epoch must be a number >= 0"):
        warm.step(-1)
    with pytest.raises(ValueError, match=r"ChainedScheduler: expects at least one scheduler"):
        sched.ChainedScheduler([])
    with pytest.raises(ValueError, match=r"SequentialLR: does not support ReduceLROnPlateau"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.ReduceLROnPlateau(opt)], [2])
    other = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"ChainedScheduler: schedulers\[1\] \(StepLR\) belongs to another"):
        sched.ChainedScheduler([sched.StepLR(opt, 2), sched.StepLR(other, 2)])
    if torch is not None:  # torch refuses these with the same classes
        topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError):
            torch.optim.lr_scheduler.CyclicLR(topt, 0.01, 0.1, mode="zigzag")
        with pytest.raises(ValueError):
            torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, 0)


def test_cyclic_lr_momentum_with_betas_and_callable_scale_state() -> None:
    class Halving:
        def __init__(self) -> None:
            self.base = 0.5

        def __call__(self, x: float) -> float:
            return self.base**x

    opt = optim.Adam([gpubp.zeros(2, requires_grad=True)], lr=0.1, betas=(0.9, 0.99))
    fn = Halving()
    s = sched.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=fn, base_momentum=0.8, max_momentum=0.9)
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)
    opt.step()
    s.step()
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.9 - 0.1 * 0.5 * 0.5)
    assert opt.param_groups[0]["betas"][1] == 0.99
    fn.base = 0.25
    state = s.state_dict()
    assert state["_scale_fn_custom"] == {"base": 0.25}
    fn.base = 0.5
    s.load_state_dict(state)
    assert fn.base == 0.25
    assert math.isclose(s.scale_fn(1), 0.25)


# ---- swa_utils: SWALR, AveragedModel, update_bn ----------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("kw", [{"anneal_epochs": 5}, {"anneal_epochs": 4, "anneal_strategy": "linear"},
                                {"anneal_epochs": 0}, {"anneal_epochs": 3, "swa_lr": [0.05, 0.2]}])  # fmt: skip
def test_swalr_matches_torch(kw: dict) -> None:
    from gpubp.optim import swa_utils

    kw = {"swa_lr": 0.02, **kw}
    opt, topt = _pair("SGD", 2)
    ours, theirs = swa_utils.SWALR(opt, **kw), torch.optim.swa_utils.SWALR(topt, **kw)
    _same(_run(opt, [ours], 12), _run(topt, [theirs], 12))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    saved = ours.state_dict()
    ours.step()
    after = _lrs(opt)
    ours.load_state_dict(saved)
    for g, lr in zip(opt.param_groups, saved["_last_lr"]):
        g["lr"] = lr
    ours.step()
    assert _lrs(opt) == after


def _models(seed: int) -> tuple[Any, Any]:
    """The same Linear-BatchNorm-Linear model in gpubp and torch (float64)."""
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    ours = gpubp.nn.Sequential(gpubp.nn.Linear(3, 4), gpubp.nn.BatchNorm1d(4), gpubp.nn.Linear(4, 2)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _numpy_state(model: Any) -> dict[str, Any]:
    return {k: np.asarray(v.detach().cpu().numpy()) for k, v in model.state_dict().items()}


AVERAGERS = [
    ("swa", lambda L: {}),
    ("ema-multi", lambda L: {"multi_avg_fn": L.get_ema_multi_avg_fn(0.9)}),
    ("ema", lambda L: {"avg_fn": L.get_ema_avg_fn(0.8)}),
    ("swa-fn-buffers", lambda L: {"avg_fn": L.get_swa_avg_fn(), "use_buffers": True}),
    ("swa-buffers", lambda L: {"use_buffers": True}),  # torch's swa_multi_avg_fn fails on the int64 buffer
]


@needs_torch
@pytest.mark.parametrize("name,make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_averaged_model_matches_torch(name: str, make: Callable) -> None:
    from gpubp.optim import swa_utils

    ours, theirs = _models(0)
    avg, tavg = (
        swa_utils.AveragedModel(ours, **make(swa_utils)),
        torch.optim.swa_utils.AveragedModel(theirs, **make(torch.optim.swa_utils)),
    )
    assert list(avg.state_dict()) == list(tavg.state_dict())
    rng = rng_for("swa", name)
    # on a GPU both average with a lerp whose weight 1/(n+1) is float32 (PyTorch's foreach path); torch on the CPU
    # divides in float64
    tol = 1e-6 if avg.n_averaged.device.type == "cuda" and name.startswith("swa") else 1e-12
    for _ in range(4):
        # a training step's worth of change, the same in both, and the BatchNorm statistics moved by a batch
        for p, tp in zip(ours.parameters(), theirs.parameters()):
            delta = rng.standard_normal(tuple(tp.shape))
            with torch.no_grad():
                tp.add_(torch.tensor(delta))
            p.data.copy_(gpubp.tensor(tp.detach().numpy()))
        batch = rng.standard_normal((5, 3))
        ours.train()
        theirs.train()
        ours(gpubp.tensor(batch))
        theirs(torch.tensor(batch))
        avg.update_parameters(ours)
        tavg.update_parameters(theirs)
        got, want = _numpy_state(avg), {k: v.detach().numpy() for k, v in tavg.state_dict().items()}
        assert list(got) == list(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=tol, atol=tol, err_msg=k)
    assert int(avg.n_averaged.item()) == 4
    x = rng.standard_normal((6, 3))
    avg.eval()
    tavg.eval()
    np.testing.assert_allclose(
        avg(gpubp.tensor(x)).detach().cpu().numpy(), tavg(torch.tensor(x)).detach().numpy(), rtol=tol
    )


@needs_torch
def test_update_bn_matches_torch() -> None:
    from gpubp.optim import swa_utils

    ours, theirs = _models(1)
    rng = rng_for("update_bn")
    batches = [rng.standard_normal((n, 3)) for n in (4, 7, 5)]
    ours.eval()
    theirs.eval()
    swa_utils.update_bn([(gpubp.tensor(b), 0) for b in batches], ours)
    torch.optim.swa_utils.update_bn([(torch.tensor(b), 0) for b in batches], theirs)
    got, want = _numpy_state(ours), {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-14, err_msg=k)
    assert got["1.num_batches_tracked"] == 3
    assert not ours.training and ours[1].momentum == 0.1  # mode and momentum restored
    swa_utils.update_bn([gpubp.tensor(b) for b in batches[:1]], ours)  # plain batches work too
    h = batches[0] @ theirs[0].weight.detach().numpy().T + theirs[0].bias.detach().numpy()  # one batch: its stats
    np.testing.assert_allclose(ours[1].running_mean.cpu().numpy(), h.mean(0), rtol=1e-12)
    np.testing.assert_allclose(ours[1].running_var.cpu().numpy(), h.var(0, ddof=1), rtol=1e-12)


def test_swa_utils_refuse_bad_arguments() -> None:
    from gpubp.optim import swa_utils

    with pytest.raises(ValueError, match=r"get_ema_multi_avg_fn: decay must be in \[0, 1\], but got 1.5"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match=r"get_ema_avg_fn: decay must be in \[0, 1\]"):
        swa_utils.get_ema_avg_fn(-0.1)
    model = gpubp.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"AveragedModel: only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    avg = swa_utils.AveragedModel(model)
    with pytest.raises(ValueError, match=r"AveragedModel.update_parameters: the model has 4 tensors to average"):
        avg.update_parameters(gpubp.nn.Sequential(model, gpubp.nn.Linear(2, 2)))
    opt = optim.SGD([gpubp.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"SWALR: anneal_strategy must be one of 'cos' or 'linear'"):
        swa_utils.SWALR(opt, 0.01, anneal_strategy="step")
    with pytest.raises(ValueError, match=r"SWALR: anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt, 0.01, anneal_epochs=-1)
    assert "swa_lr" not in opt.param_groups[0]  # refused before any change
    if torch is not None:
        with pytest.raises(ValueError):
            torch.optim.swa_utils.get_ema_avg_fn(-0.1)
        topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError):
            torch.optim.swa_utils.SWALR(topt, 0.01, anneal_epochs=-1)
