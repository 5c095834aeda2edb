"""The backend's fused primitives against PyTorch: activations, softmax family, cross-entropy,
norms, batch statistics and the optimizer updates (step for step against torch.optim)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp.backend import get_backend
from gpubp.backend.base import ACTIVATION_SAVES

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

_TORCH_ACT = {
    "relu": lambda x, p: torch.relu(x),
    "leaky_relu": lambda x, p: torch.nn.functional.leaky_relu(x, p),
    "elu": lambda x, p: torch.nn.functional.elu(x, p),
    "sigmoid": lambda x, p: torch.sigmoid(x),
    "tanh": lambda x, p: torch.tanh(x),
    "softplus": lambda x, p: torch.nn.functional.softplus(x, p),
    "gelu": lambda x, p: torch.nn.functional.gelu(x),
    "gelu_tanh": lambda x, p: torch.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda x, p: torch.nn.functional.silu(x),
}
_PARAM = {"leaky_relu": 0.1, "elu": 1.3, "softplus": 1.5}


@needs_torch
@pytest.mark.parametrize("name", sorted(ACTIVATION_SAVES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (33, 65), (2, 3, 129)])
def test_activation_primitives_match_torch(device: str, name: str, dtype: str, shape: tuple) -> None:
    be = get_backend(device)
    rng = rng_for(name, dtype, shape)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    p = _PARAM.get(name, 0.0)
    tx = torch.tensor(x, requires_grad=True)
    ty = _TORCH_ACT[name](tx, p)
    ty.backward(torch.tensor(g))
    y = be.act_forward(name, be.asarray(x), p)
    saved = y if ACTIVATION_SAVES[name] == "output" else be.asarray(x)
    dx = be.act_backward(name, be.asarray(g), saved, p)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert y.dtype == np.dtype(dtype) and dx.dtype == np.dtype(dtype)
    np.testing.assert_allclose(be.to_numpy(y), ty.detach().cpu().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(be.to_numpy(dx), tx.grad.detach().cpu().numpy(), rtol=tol * 10, atol=tol * 10)


@needs_torch
@pytest.mark.parametrize("shape,axis", [((5, 7), 1), ((4, 3, 6), 0), ((300, 1000), 1)])
def test_softmax_primitives_match_torch(device: str, shape: tuple, axis: int) -> None:
    be = get_backend(device)
    rng = rng_for("softmax", shape)
    x, g = rng.standard_normal(shape) * 10, rng.standard_normal(shape)
    for fwd, bwd, tfn in (
        (be.softmax, be.softmax_backward, torch.softmax),
        (be.log_softmax, be.log_softmax_backward, torch.log_softmax),
    ):
        tx = torch.tensor(x, requires_grad=True)
        ty = tfn(tx, axis)
        ty.backward(torch.tensor(g))
        y = fwd(be.asarray(x), axis)
        np.testing.assert_allclose(be.to_numpy(y), ty.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            be.to_numpy(bwd(be.asarray(g), y, axis)), tx.grad.detach().cpu().numpy(), rtol=1e-9, atol=1e-12
        )


@needs_torch
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("n,c", [(1, 2), (37, 10), (256, 1000)])
def test_cross_entropy_primitive_matches_torch(device: str, smoothing: float, n: int, c: int) -> None:
    be = get_backend(device)
    rng = rng_for("xent", n, c, smoothing)
    logits = rng.standard_normal((n, c)) * 5
    target = rng.integers(0, c, n)
    target[:: max(n // 4, 2)] = -100
    g = rng.standard_normal(n)
    tl = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tl, torch.tensor(target), reduction="none", label_smoothing=smoothing)
    tloss.backward(torch.tensor(g))
    rows, probs = be.cross_entropy(be.asarray(logits), be.asarray(target), -100, smoothing)
    d = be.cross_entropy_backward(be.asarray(g), probs, be.asarray(target), -100, smoothing)
    np.testing.assert_allclose(be.to_numpy(rows), tloss.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(d), tl.grad.detach().cpu().numpy(), rtol=1e-9, atol=1e-12)


def test_sq_norm_and_moments(device: str) -> None:
    be = get_backend(device)
    rng = rng_for("norms")
    arrays = [rng.standard_normal(s) for s in [(3, 4), (17,), (2, 2, 5)]]
    total = be.sq_norm([be.asarray(a) for a in arrays])
    assert total.shape == ()
    np.testing.assert_allclose(be.to_numpy(total), sum((a**2).sum() for a in arrays), rtol=1e-12)
    x = rng.standard_normal((8, 3, 4, 5))
    mean, var = be.moments(be.asarray(x), (0, 2, 3))
    np.testing.assert_allclose(be.to_numpy(mean), x.mean((0, 2, 3)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(var), x.var((0, 2, 3)), rtol=1e-10)


_OPTIMIZERS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
]


def _torch_optimizer(kind: str, params: list, kw: dict):  # noqa: ANN202
    cls = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
    }[kind]
    return cls(params, **kw)


def _our_step(be, kind: str, kw: dict, p: list, g: list, state: dict, step: int) -> None:  # noqa: ANN001
    zeros = lambda: [be.xp.zeros_like(a) for a in p]  # noqa: E731
    if kind == "sgd":
        state.setdefault("buf", zeros())
        be.sgd_update(p, g, state["buf"], first_step=step == 1, **kw)
    elif kind in ("adam", "adamw"):
        state.setdefault("m", zeros())
        state.setdefault("v", zeros())
        amsgrad = kw.get("amsgrad", False)
        if amsgrad:
            state.setdefault("vmax", zeros())
        args = {k: v for k, v in kw.items() if k != "amsgrad"}
        if kind == "adamw":
            args.setdefault("weight_decay", 0.01)
        be.adam_update(
            p,
            g,
            state["m"],
            state["v"],
            step=step,
            decoupled=kind == "adamw",
            max_exp_avg_sqs=state.get("vmax"),
            **args,
        )
    elif kind == "rmsprop":
        state.setdefault("v", zeros())
        centered = kw.get("centered", False)
        args = {k: v for k, v in kw.items() if k != "centered"}
        if kw.get("momentum"):
            state.setdefault("buf", zeros())
        if centered:
            state.setdefault("gavg", zeros())
        be.rmsprop_update(p, g, state["v"], bufs=state.get("buf"), grad_avgs=state.get("gavg"), **args)
    else:
        state.setdefault("sum", zeros())
        be.adagrad_update(p, g, state["sum"], step=step, **kw)


@needs_torch
@pytest.mark.parametrize("kind,kw", _OPTIMIZERS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(_OPTIMIZERS)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimizer_updates_match_torch_step_for_step(device: str, kind: str, kw: dict, dtype: str) -> None:
    be = get_backend(device)
    rng = rng_for(kind, sorted(kw.items()), dtype)
    init = [rng.standard_normal(s).astype(dtype) for s in [(4, 3), (3,), (2, 2, 2)]]
    tp = [torch.tensor(a, requires_grad=True) for a in init]
    opt = _torch_optimizer(kind, tp, kw)
    p = [be.asarray(a.copy()) for a in init]
    state: dict = {}
    for step in range(1, 6):
        grads = [rng.standard_normal(a.shape).astype(dtype) for a in init]
        for t, gr in zip(tp, grads):
            t.grad = torch.tensor(gr)
        opt.step()
        _our_step(be, kind, kw, p, [be.asarray(gr) for gr in grads], state, step)
        tol = 1e-5 if dtype == "float32" else 1e-12
        for ours, theirs in zip(p, tp):
            assert ours.dtype == np.dtype(dtype)
            np.testing.assert_allclose(be.to_numpy(ours), theirs.detach().cpu().numpy(), rtol=tol, atol=tol)


def test_gpubp_cross_entropy_uses_the_fused_primitive(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    be = get_backend(device)
    calls = []
    orig = be.cross_entropy_backward
    monkeypatch.setattr(be, "cross_entropy_backward", lambda *a: calls.append(1) or orig(*a))
    logits = gpubp.randn(4, 3, device=device, requires_grad=True)
    gpubp.cross_entropy(logits, gpubp.tensor([0, 1, 2, 1], device=device)).backward()
    assert calls == [1]


def test_cpu_backend_keeps_freed_memory_on_glibc() -> None:
    """Documented CPU allocator tuning: on Linux/glibc it is on unless GPUBP_MALLOC_TUNING=0."""
    import os
    import platform

    be = get_backend("cpu")
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert be.malloc_tuned is (glibc and os.environ.get("GPUBP_MALLOC_TUNING", "1") != "0")
