"""LBFGS against torch.optim.LBFGS: the iterates, losses and state in float64 on a quadratic and on Rosenbrock,
with and without the strong-Wolfe line search, several steps; a small model's loss falls; argument errors."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn, optim

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")


def _rosenbrock(x: Any) -> Any:
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def _quadratic(a: Any, b: Any) -> Any:
    def f(x: Any) -> Any:
        return 0.5 * (x * (a @ x)).sum() - (b * x).sum()

    return f


def _problem(name: str, lib: Any, device: str | None) -> tuple[Any, Any]:
    """(objective, start) for ``lib`` (gpubp or torch), the same numbers for both."""
    rng = rng_for("lbfgs", name)
    if name == "rosenbrock":
        x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.3])
        fn = _rosenbrock
    else:
        m = rng.standard_normal((6, 6))
        a = m @ m.T + 0.5 * np.eye(6)  # symmetric positive definite
        b = rng.standard_normal(6)
        kw = {"device": device} if lib is gpubp else {}
        fn = _quadratic(lib.tensor(a, **kw), lib.tensor(b, **kw))
        x0 = rng.standard_normal(6)
    kw = {"device": device} if lib is gpubp else {}
    return fn, lib.tensor(x0, requires_grad=True, **kw)


CASES = [
    ("quadratic", {"history_size": 3}),
    ("quadratic", {"lr": 0.5, "max_iter": 4, "line_search_fn": "strong_wolfe"}),
    ("rosenbrock", {"lr": 0.05, "max_iter": 6, "history_size": 4}),
    ("rosenbrock", {"max_iter": 5, "line_search_fn": "strong_wolfe"}),
    ("rosenbrock", {"max_iter": 8, "max_eval": 10, "history_size": 2, "line_search_fn": "strong_wolfe"}),
    ("rosenbrock", {"max_iter": 30, "tolerance_change": 1e-5, "line_search_fn": "strong_wolfe"}),
]


@needs_torch
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_lbfgs_iterates_match_torch(device: str, name: str, kw: dict) -> None:
    fn, x = _problem(name, gpubp, device)
    tfn, tx = _problem(name, torch, None)
    opt, topt = optim.LBFGS([x], **kw), torch.optim.LBFGS([tx], **kw)

    def closure() -> Any:
        opt.zero_grad()
        loss = fn(x)
        loss.backward()
        return loss

    def tclosure() -> Any:
        topt.zero_grad()
        loss = tfn(tx)
        loss.backward()
        return loss

    losses = []
    for _ in range(4):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert isinstance(loss, gpubp.Tensor)  # the closure's first loss, as PyTorch
        losses.append(float(loss))
        assert float(loss) == pytest.approx(float(tloss.detach()), rel=1e-6, abs=1e-12)
        np.testing.assert_allclose(x.detach().cpu().numpy(), tx.detach().numpy(), rtol=1e-6, atol=1e-9)
        st, tst = opt.state[x], topt.state[tx]
        assert sorted(st) == sorted(tst)
        assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])
        assert len(st["old_dirs"]) == len(tst["old_dirs"])
        np.testing.assert_allclose(st["d"].cpu().numpy(), tst["d"].numpy(), rtol=1e-5, atol=1e-8)
        assert float(st["t"]) == pytest.approx(float(tst["t"]), rel=1e-5)
    assert losses[-1] < losses[0]


def test_lbfgs_trains_a_small_model(device: str) -> None:
    rng = rng_for("lbfgs-model")
    x = gpubp.tensor(rng.standard_normal((32, 3)).astype("float32"), device=device)
    y = gpubp.tensor(rng.standard_normal((32, 1)).astype("float32"), device=device)
    gpubp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)
    opt = optim.LBFGS(model.parameters(), lr=0.5, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    first = float(opt.step(closure))
    for _ in range(3):
        opt.step(closure)
    assert float(closure()) < 0.8 * first
    state = opt.state_dict()
    assert set(state["state"][0]) >= {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag"}
    assert state["param_groups"][0]["max_eval"] == 25  # max_iter * 5 // 4, as PyTorch


def test_lbfgs_stops_at_once_when_the_gradient_is_zero() -> None:
    x = gpubp.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.LBFGS([x])
    calls = []

    def closure() -> Any:
        calls.append(1)
        opt.zero_grad()
        loss = ((x - gpubp.tensor([1.0, -2.0])) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 1 and x.tolist() == [1.0, -2.0]
    assert opt.state[x]["func_evals"] == 1 and opt.state[x]["n_iter"] == 0


def test_lbfgs_refuses_bad_arguments() -> None:
    a, b = gpubp.zeros(2, requires_grad=True), gpubp.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match=r"LBFGS: only 'strong_wolfe' is supported as line_search_fn, got 'armijo'"):
        optim.LBFGS([a], line_search_fn="armijo")
    with pytest.raises(ValueError, match=r"LBFGS: invalid learning rate -1.0"):
        optim.LBFGS([a], lr=-1)
    with pytest.raises(ValueError, match=r"LBFGS: expected an integer max_iter >= 1, but got 0"):
        optim.LBFGS([a], max_iter=0)
    with pytest.raises(TypeError, match=r"LBFGS: history_size must be an integer, got float"):
        optim.LBFGS([a], history_size=2.5)
    with pytest.raises(ValueError, match=r"LBFGS: tolerance_grad must be a number >= 0"):
        optim.LBFGS([a], tolerance_grad=float("nan"))
    opt = optim.LBFGS([a])
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        opt.add_param_group({"params": [b]})
    with pytest.raises(TypeError, match=r"LBFGS.step needs a closure that recomputes the loss, got NoneType"):
        opt.step(None)
    if torch is not None:
        ta, tb = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
        with pytest.raises(ValueError):
            torch.optim.LBFGS([{"params": [ta]}, {"params": [tb]}])
        with pytest.raises(ValueError):
            torch.optim.LBFGS([ta], lr=-1)


@needs_torch
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_round_trip_and_torchs_state(device: str, line_search_fn: str | None) -> None:
    kw = {
        "lr": 0.5 if line_search_fn is None else 1.0,
        "max_iter": 3,
        "history_size": 3,
        "line_search_fn": line_search_fn,
    }

    def run(lib: Any, opt: Any, x: Any, fn: Any, steps: int) -> list[float]:
        def closure() -> Any:
            opt.zero_grad()
            loss = fn(x)
            loss.backward()
            return loss

        return [float(opt.step(closure).detach()) for _ in range(steps)]

    fn, x = _problem("rosenbrock", gpubp, device)
    tfn, tx = _problem("rosenbrock", torch, None)
    opt, topt = optim.LBFGS([x], **kw), torch.optim.LBFGS([tx], **kw)
    run(gpubp, opt, x, fn, 2)
    run(torch, topt, tx, tfn, 2)
    saved = opt.state_dict()
    # ours and torch's state dicts, taken at the same point, both load and carry on as torch does
    starts = [(saved, x.detach().cpu().numpy()), (copy.deepcopy(topt.state_dict()), tx.detach().numpy().copy())]
    n_iter = topt.state[tx]["n_iter"]
    want = run(torch, topt, tx, tfn, 3)
    for state, x_saved in starts:
        fn2, x2 = _problem("rosenbrock", gpubp, device)
        x2.data.copy_(gpubp.tensor(x_saved, device=device))
        opt2 = optim.LBFGS([x2], **kw)
        opt2.load_state_dict(state)
        assert opt2.state[x2]["n_iter"] == n_iter
        assert run(gpubp, opt2, x2, fn2, 3) == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match=r"LBFGS.load_state_dict: state 'd' of parameter 0 has shape \(3,\)"):
        bad = {**saved, "state": {0: {**saved["state"][0], "d": np.zeros(3)}}}
        optim.LBFGS([gpubp.zeros(5, requires_grad=True)], **kw).load_state_dict(bad)


def _closure(opt: Any, fn: Any, x: Any) -> Any:
    def closure() -> Any:
        opt.zero_grad()
        loss = fn(x)
        loss.backward()
        return loss

    return closure


@needs_torch
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_float32_follows_torch(device: str, line_search_fn: str | None) -> None:
    rng = rng_for("lbfgs32")
    m = rng.standard_normal((5, 5))
    a, b, x0 = (m @ m.T + np.eye(5)).astype("float32"), rng.standard_normal(5).astype("float32"), rng.standard_normal(5)
    x = gpubp.tensor(x0.astype("float32"), requires_grad=True, device=device)
    tx = torch.tensor(x0.astype("float32"), requires_grad=True)
    fn, tfn = (
        _quadratic(gpubp.tensor(a, device=device), gpubp.tensor(b, device=device)),
        _quadratic(torch.tensor(a), torch.tensor(b)),
    )
    opt = optim.LBFGS([x], max_iter=4, history_size=3, line_search_fn=line_search_fn)
    topt = torch.optim.LBFGS([tx], max_iter=4, history_size=3, line_search_fn=line_search_fn)
    for _ in range(2):
        opt.step(_closure(opt, fn, x))
        topt.step(_closure(topt, tfn, tx))
        np.testing.assert_allclose(x.detach().cpu().numpy(), tx.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert x.dtype == gpubp.float32 and opt.state[x]["d"].dtype == gpubp.float32
    assert opt.state[x]["func_evals"] == topt.state[tx]["func_evals"]
