"""nn.Module hooks against PyTorch: forward pre-hooks and hooks (replaced args and outputs, with_kwargs, prepend,
always_call), full backward pre-hooks and hooks (call order, grad_input and grad_output values, replaced gradients,
inputs that need no gradient, tuple outputs), global hooks, removable handles and the no-hooks fast path.

Most tests run one scenario twice, once on gpubp and once on torch, recording what the hooks see into a log, and
compare the two logs (tensors numerically, everything else exactly)."""

from __future__ import annotations

import copy
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
from gpubp.nn import _hooks
from gpubp.nn.modules import module as gmodule

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


class Lib:
    """One library (gpubp on a device, or torch on the CPU) as a scenario sees it."""

    def __init__(self, lib: Any, device: str) -> None:
        self.lib, self.nn, self.device = lib, lib.nn, device

    def t(self, arr: Any, rg: bool = False) -> Any:
        return self.lib.tensor(np.asarray(arr, dtype=np.float64), device=self.device, requires_grad=rg)

    def linear(self, rng: np.random.Generator, i: int, o: int) -> Any:
        m = self.nn.Linear(i, o).double()
        m.load_state_dict({"weight": self.lib.tensor(rng.standard_normal((o, i))),
                           "bias": self.lib.tensor(rng.standard_normal(o))})  # fmt: skip
        return m.to(self.device)

    def mlp(self, rng: np.random.Generator) -> Any:
        return self.nn.Sequential(self.linear(rng, 3, 4), self.nn.ReLU(), self.linear(rng, 4, 2))

    def module_ns(self) -> Any:
        return gmodule if self.lib is gpubp else torch.nn.modules.module


def _plain(x: Any) -> Any:
    """A log entry with tensors as NumPy arrays (tuples and lists as tuples)."""
    if hasattr(x, "detach"):
        return np.array(x.detach().cpu().numpy())  # a copy: torch accumulates into a gradient it handed out
    if isinstance(x, (tuple, list)):
        return tuple(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _assert_same(ours: Any, theirs: Any, where: str = "log") -> None:
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: {ours!r} is not an array"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} != {theirs.shape}"
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=where)
    elif isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{where}: {ours!r} != {theirs!r}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{k}]")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), f"{where}: {ours!r} != {theirs!r}"
        for k in theirs:
            _assert_same(ours[k], theirs[k], f"{where}[{k!r}]")
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


class Log(list):
    """What hooks saw, as NumPy copies taken at once (a tensor logged now may change later)."""

    def append(self, entry: Any) -> None:
        super().append(_plain(entry))


def _both(device: str, scenario: Callable[[Lib, list], None]) -> list:
    """Run ``scenario(lib, log)`` on gpubp and on torch; the logs must agree. Returns gpubp's log."""
    logs = []
    for lib, dev in ((gpubp, device), (torch, "cpu")):
        log = Log()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the no-input-grad warning is checked on its own
            scenario(Lib(lib, dev), log)
        logs.append(tuple(log))
    assert len(logs[0]) == len(logs[1]), f"{logs[0]!r}\n!=\n{logs[1]!r}"
    _assert_same(logs[0], logs[1])
    assert logs[0], "the scenario recorded nothing"
    return logs[0]


def _param_grads(model: Any) -> list:
    return [(name, p.grad) for name, p in model.named_parameters()]


# ---- forward hooks --------------------------------------------------------------------------------------------
@needs_torch
def test_forward_hook_call_order_and_arguments(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("order")
        m = L.linear(rng, 3, 2)
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre", args)))
        m.register_forward_hook(lambda mod, args, out: log.append(("fwd", args, out)))
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("bw_pre", go)))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", gi, go)))
        x = L.t(rng.standard_normal((5, 3)), rg=True)
        log.append(("called", m(x)))
        (m(x) ** 2).sum().backward()
        log.append(("x.grad", x.grad, _param_grads(m)))

    log = _both(device, scenario)
    assert [e[0] for e in log] == ["pre", "fwd", "called", "pre", "fwd", "bw_pre", "bw", "x.grad"]


@needs_torch
def test_forward_pre_hook_and_forward_hook_replace_args_and_output(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("replace")
        m = L.linear(rng, 3, 2)
        a, b = L.t(rng.standard_normal((4, 3))), L.t(rng.standard_normal((4, 3)))
        h1 = m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # a single value is wrapped in a tuple
        log.append(m(a))
        h1.remove()
        h2 = m.register_forward_pre_hook(lambda mod, args: (args[0] + b,))
        h3 = m.register_forward_hook(lambda mod, args, out: log.append(("saw", args)) or out * 3)
        h4 = m.register_forward_hook(lambda mod, args, out: log.append(("then", out)))  # None keeps the output
        log.append(m(a))
        for h in (h2, h3, h4):
            h.remove()
        log.append(m(a))

    _both(device, scenario)


@needs_torch
def test_hooks_with_kwargs(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("kwargs")

        class Scale(L.nn.Module):
            def forward(self, x: Any, scale: float = 1.0, shift: Any = None) -> Any:
                return x * scale + (0 if shift is None else shift)

        m = Scale()
        x, s = L.t(rng.standard_normal(3)), L.t(rng.standard_normal(3))

        def pre(mod: Any, args: tuple, kwargs: dict) -> Any:
            log.append(("pre", args, dict(kwargs)))
            return (args[0] + 1,), {**kwargs, "shift": s}

        def fwd(mod: Any, args: tuple, kwargs: dict, out: Any) -> Any:
            log.append(("fwd", args, dict(kwargs), out))
            return out - 1

        m.register_forward_pre_hook(pre, with_kwargs=True)
        m.register_forward_pre_hook(lambda mod, args: log.append(("plain pre", args)))
        m.register_forward_hook(fwd, with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("plain fwd", args, out)))
        log.append(m(x, scale=2.5))

    _both(device, scenario)


def test_with_kwargs_pre_hook_must_return_args_and_kwargs(device: str) -> None:
    m = nn.Identity()
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    x = gpubp.tensor(rng_for("bad pre").standard_normal(3), device=device)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of \(new_args, new_kwargs\)"):
        m(x)
    if torch is not None:
        t = torch.nn.Identity()
        t.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
        with pytest.raises(RuntimeError, match="forward pre-hook must return None"):
            t(torch.tensor(x.cpu().numpy()))


@needs_torch
def test_prepend_puts_a_hook_first(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("prepend")
        m = L.linear(rng, 2, 2)
        for k in ("a", "b"):
            m.register_forward_pre_hook(lambda mod, args, k=k: log.append(("pre", k)), prepend=k == "b")
            m.register_forward_hook(lambda mod, args, out, k=k: log.append(("fwd", k)), prepend=k == "b")
            m.register_full_backward_pre_hook(lambda mod, go, k=k: log.append(("bw_pre", k)), prepend=k == "b")
            m.register_full_backward_hook(lambda mod, gi, go, k=k: log.append(("bw", k)), prepend=k == "b")
        m.register_forward_hook(lambda mod, args, out: log.append(("fwd", "c")))
        m(L.t(rng.standard_normal((1, 2)), rg=True)).sum().backward()

    log = _both(device, scenario)
    assert log[:2] == (("pre", "b"), ("pre", "a")) and log[2:5] == (("fwd", "b"), ("fwd", "a"), ("fwd", "c"))


@needs_torch
def test_always_call_runs_when_forward_raises(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        class Fails(L.nn.Module):
            def forward(self, x: Any) -> Any:
                log.append("forward")
                raise ValueError("forward failed")

        m = Fails()
        m.register_forward_hook(lambda mod, args, out: log.append(("not called", out)))
        m.register_forward_hook(lambda mod, args, out: log.append(("always", len(args), out)), always_call=True)
        m.register_forward_hook(lambda mod, args, kw, out: log.append(("always kw", kw, out)), with_kwargs=True,
                                always_call=True)  # fmt: skip

        def broken(mod: Any, args: tuple, out: Any) -> None:
            log.append("broken")
            raise KeyError("hook failed")

        m.register_forward_hook(broken, always_call=True)
        with pytest.raises(ValueError, match="forward failed"):
            m(L.t([1.0, 2.0]))
        log.append("raised")

    with pytest.warns(UserWarning, match="always_call=True.*raised an exception that was silenced"):
        scenario(Lib(gpubp, device), [])
    _both(device, scenario)


@needs_torch
def test_always_call_hook_that_already_ran_is_not_run_again(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        m = L.nn.Identity()
        m.register_forward_hook(lambda mod, args, out: log.append("always"), always_call=True)

        def fails(mod: Any, args: tuple, out: Any) -> None:
            log.append("fails")
            raise ValueError("a later hook failed")

        m.register_forward_hook(fails)
        m.register_forward_hook(lambda mod, args, out: log.append("always, after"), always_call=True)
        with pytest.raises(ValueError, match="a later hook failed"):
            m(L.t([1.0]))

    assert _both(device, scenario) == ("always", "fails", "always, after")


def test_handles_remove_hooks_and_work_as_context_managers(device: str) -> None:
    m = nn.Linear(2, 2).to(device)
    seen: list = []
    h = m.register_forward_hook(lambda mod, args, out: seen.append("fwd"), with_kwargs=False, always_call=True)
    assert isinstance(h, gpubp.utils.hooks.RemovableHandle)
    with m.register_forward_pre_hook(lambda mod, args, kw: seen.append("pre"), with_kwargs=True) as h2:
        m(gpubp.ones(1, 2, device=device))
        assert h2.id in m._forward_pre_hooks_with_kwargs
    assert seen == ["pre", "fwd"]
    assert not m._forward_pre_hooks and not m._forward_pre_hooks_with_kwargs
    h.remove()
    h.remove()  # a second remove does nothing
    assert not m._forward_hooks and not m._forward_hooks_always_called
    for register in (m.register_full_backward_hook, m.register_full_backward_pre_hook):
        register(lambda *a: seen.append("bw")).remove()
    m(gpubp.ones(1, 2, device=device, requires_grad=True)).sum().backward()
    assert seen == ["pre", "fwd"]


def test_registering_a_non_callable_is_a_type_error() -> None:
    m = nn.Identity()
    for register in (m.register_forward_pre_hook, m.register_forward_hook, m.register_full_backward_pre_hook,
                     m.register_full_backward_hook, gmodule.register_module_forward_hook):  # fmt: skip
        with pytest.raises(TypeError, match="hook must be callable, got int"):
            register(3)


# ---- global hooks ---------------------------------------------------------------------------------------------
@needs_torch
def test_global_hooks_apply_to_every_module_before_its_own(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("global")
        model = L.mlp(rng)
        names = {id(m): type(m).__name__ for m in model.modules()}
        ns = L.module_ns()
        model[0].register_forward_pre_hook(lambda mod, args: log.append(("own pre", names[id(mod)])))
        model[0].register_forward_hook(lambda mod, args, out: log.append(("own fwd", names[id(mod)])))
        model[2].register_full_backward_pre_hook(lambda mod, go: log.append(("own bw_pre", go)))
        model[2].register_full_backward_hook(lambda mod, gi, go: log.append(("own bw", gi)))
        handles = [
            ns.register_module_forward_pre_hook(lambda mod, args: log.append(("pre", names.get(id(mod))))),
            ns.register_module_forward_hook(lambda mod, args, out: log.append(("fwd", names.get(id(mod))))),
            ns.register_module_forward_hook(lambda mod, args, kw, out: log.append(("fwd kw", kw)), with_kwargs=True),
            ns.register_module_full_backward_pre_hook(lambda mod, go: log.append(("bw_pre", names[id(mod)], go))),
            ns.register_module_full_backward_hook(lambda mod, gi, go: log.append(("bw", names[id(mod)], gi, go))),
        ]
        try:
            x = L.t(rng.standard_normal((3, 3)), rg=True)
            model(x).sum().backward()
            log.append(("grads", x.grad, _param_grads(model)))
        finally:
            for h in handles:
                h.remove()
        log.append(("after removal", model(x)))

    _both(device, scenario)
    assert not any(_hooks.GLOBAL_HOOKS) and not _hooks._global_forward_hooks_with_kwargs and not _hooks.global_hook_ids


def test_global_hooks_reachable_as_in_torch() -> None:
    for name in ("register_module_forward_pre_hook", "register_module_forward_hook",
                 "register_module_full_backward_pre_hook", "register_module_full_backward_hook",
                 "register_module_backward_hook"):  # fmt: skip
        assert callable(getattr(gpubp.nn.modules.module, name))
        if torch is not None:
            assert hasattr(torch.nn.modules.module, name)


# ---- backward hooks -------------------------------------------------------------------------------------------
@needs_torch
def test_sequential_backward_hooks_on_each_layer(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("seq")
        model = L.mlp(rng)
        for k, layer in enumerate(model):
            layer.register_full_backward_pre_hook(lambda mod, go, k=k: log.append(("bw_pre", k, go)))
            layer.register_full_backward_hook(lambda mod, gi, go, k=k: log.append(("bw", k, gi, go)))
        model.register_full_backward_hook(lambda mod, gi, go: log.append(("whole", gi, go)))
        x = L.t(rng.standard_normal((6, 3)), rg=True)
        target = L.t(rng.standard_normal((6, 2)))
        ((model(x) - target) ** 2).mean().backward()
        log.append(("grads", x.grad, _param_grads(model)))

    log = _both(device, scenario)
    assert [e[:2] for e in log[:6]] == [("bw_pre", 2), ("bw", 2), ("bw_pre", 1), ("bw", 1), ("bw_pre", 0), ("bw", 0)]


@needs_torch
def test_backward_hooks_replace_grad_input_and_grad_output(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("replace grads")
        model = L.mlp(rng)
        model[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
        model[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] - 0.5,))
        model[0].register_full_backward_hook(lambda mod, gi, go: log.append(("layer 0 sees", gi, go)))
        model[0].register_full_backward_hook(lambda mod, gi, go: tuple(g * 2 for g in gi))
        x = L.t(rng.standard_normal((4, 3)), rg=True)
        model(x).sum().backward()
        log.append(("grads", x.grad, _param_grads(model)))

    _both(device, scenario)


@needs_torch
def test_input_that_needs_no_gradient(device: str) -> None:
    """No input requires grad: the hooks fire at grad_output with grad_input of Nones, and PyTorch's warning."""

    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("no input grad")
        m = L.linear(rng, 3, 2)
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("bw_pre", go)))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", gi, go)))
        m.register_full_backward_hook(lambda mod, gi, go: (None,))  # all None is allowed
        (m(L.t(rng.standard_normal((5, 3)))) * 2).sum().backward()
        log.append(("grads", _param_grads(m)))

    _both(device, scenario)
    m = nn.Linear(2, 2).to(device)
    m.register_full_backward_hook(lambda mod, gi, go: None)
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with respect"):
        m(gpubp.ones(1, 2, device=device)).sum().backward()
    m.register_full_backward_hook(lambda mod, gi, go: (go[0],))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return None"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m(gpubp.ones(1, 2, device=device)).sum().backward()


@needs_torch
def test_tuple_outputs_and_mixed_inputs(device: str) -> None:
    """A tensor input that needs no grad gets zeros in grad_input, a non-tensor None; an output that got no
    gradient (unused, or an integer one) has None in grad_output."""

    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("tuple")

        class Mixed(L.nn.Module):
            def forward(self, x: Any, y: Any, k: float, idx: Any) -> Any:
                return x * y * k, (x + y).sum(), idx + 1

        m = Mixed()
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("bw_pre", go)))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", gi, go)))
        x, y = L.t(rng.standard_normal((2, 3)), rg=True), L.t(rng.standard_normal((2, 3)))
        idx = L.lib.tensor([1, 2], device=L.device)
        a, b, c = m(x, y, 1.5, idx)
        log.append(("needs grad", a.requires_grad, b.requires_grad, c.requires_grad))
        (a**2).sum().backward()
        a, b, c = m(x, y, -2.0, idx)
        (a.sum() * b).backward()
        log.append(("x.grad", x.grad))

    _both(device, scenario)


@needs_torch
def test_hooks_fire_on_each_backward_of_a_retained_graph(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("retain")
        m = L.linear(rng, 3, 3)
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", gi, go)))
        x = L.t(rng.standard_normal((2, 3)), rg=True)
        loss = m(x).tanh().sum()
        loss.backward(retain_graph=True)
        loss.backward()
        log.append(("x.grad", x.grad))
        log.append(("grad only", L.lib.autograd.grad(m(x).sum(), x)))

    assert len(_both(device, scenario)) == 5


@needs_torch
def test_double_backward_through_hooked_modules(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("double")
        model = L.nn.Sequential(L.linear(rng, 3, 4), L.nn.Tanh(), L.linear(rng, 4, 1))
        for k, layer in enumerate(model):
            layer.register_full_backward_hook(lambda mod, gi, go, k=k: log.append(("bw", k, gi, go)))
        x = L.t(rng.standard_normal((2, 3)), rg=True)
        (gx,) = L.lib.autograd.grad(model(x).sum(), x, create_graph=True)
        log.append(("gx", gx))
        (gx**2).sum().backward()
        log.append(("grads", x.grad, _param_grads(model)))

    _both(device, scenario)


@needs_torch
def test_wrong_number_or_shape_of_gradients_from_a_hook(device: str) -> None:
    rng = rng_for("wrong")
    for lib, dev in ((gpubp, device), (torch, "cpu")):
        L = Lib(lib, dev)
        x = L.t(rng.standard_normal((2, 3)), rg=True)
        cases = [
            ("register_full_backward_hook", lambda mod, gi, go: (gi[0], gi[0]), "invalid number of grad_input"),
            ("register_full_backward_pre_hook", lambda mod, go: (go[0], go[0]), "invalid number of grad_output"),
            ("register_full_backward_hook", lambda mod, gi, go: (gi[0][:1],), "changed the size"),
        ]
        for method, hook, match in cases:
            m = L.linear(rng, 3, 2)
            getattr(m, method)(hook)
            with pytest.raises(RuntimeError, match=match):
                m(x).sum().backward()


def test_backward_hooks_need_a_tensor_or_tuple_output(device: str) -> None:
    class Listy(nn.Module):
        def forward(self, x: gpubp.Tensor) -> list:
            return [x * 2]

    m, seen = Listy(), []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
    x = gpubp.tensor(rng_for("listy").standard_normal(3), device=device, requires_grad=True)
    with pytest.warns(UserWarning, match="module output should be a Tensor or a tuple of Tensors"):
        out = m(x)
    out[0].sum().backward()
    assert seen == []
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2.0)


def test_no_backward_wrapping_under_no_grad(device: str) -> None:
    m, seen = nn.Linear(3, 2).to(device), []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append("bw"))
    m.register_forward_hook(lambda mod, args, out: seen.append("fwd"))
    x = gpubp.tensor(rng_for("nograd").standard_normal((2, 3)), device=device, dtype=gpubp.float32, requires_grad=True)
    with gpubp.no_grad():
        out = m(x)
    assert not out.requires_grad and out.grad_fn is None and seen == ["fwd"]
    m(x).sum().backward()
    assert seen == ["fwd", "fwd", "bw"]


@needs_torch
def test_register_backward_hook_behaves_as_the_full_hook(device: str) -> None:
    def scenario(L: Lib, log: list) -> None:
        rng = rng_for("old")
        m = L.nn.Sequential(L.linear(rng, 3, 3), L.nn.Tanh())
        register = m.register_full_backward_hook if L.lib is torch else m.register_backward_hook
        register(lambda mod, gi, go: log.append(("bw", gi, go)))
        x = L.t(rng.standard_normal((2, 3)), rg=True)
        m(x).sum().backward()
        log.append(x.grad)

    _both(device, scenario)


# ---- the fast path, pickling ----------------------------------------------------------------------------------
def test_modules_without_hooks_skip_the_hook_machinery(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    real = _hooks.call_with_hooks
    monkeypatch.setattr(_hooks, "call_with_hooks", lambda *a: calls.append(a[0]) or real(*a))
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU()).to(device)
    x = gpubp.ones(1, 2, device=device)
    model(x)
    assert calls == []
    with model[1].register_forward_hook(lambda *a: None):
        model(x)
    assert calls == [model[1]]
    with gmodule.register_module_forward_pre_hook(lambda *a: None):
        model(x)
    assert calls[1:] == [model, model[0], model[1]]
    model(x)
    assert len(calls) == 4
    with model[0].register_full_backward_hook(lambda *a: None):
        model[0]._backward_hooks.clear()  # emptied behind the handle's back: slower, still right
        np.testing.assert_allclose(model(x).detach().cpu().numpy(), model.forward(x).detach().cpu().numpy())
    assert calls[4:] == [model[0], model[0]] and not model[0]._hook_ids  # through model(x), then model.forward(x)


def test_pickles_keep_hooks_and_old_pickles_get_empty_tables(device: str) -> None:
    m = nn.Linear(2, 2).to(device)
    state = dict(m.__dict__)
    for name in (*_hooks.HOOK_DICTS, "_is_full_backward_hook", "_hook_ids"):
        del state[name]
    old = nn.Linear.__new__(nn.Linear)
    old.__setstate__(dict(state))  # as unpickling a module saved before hooks existed
    x = gpubp.ones(1, 2, device=device)
    np.testing.assert_allclose(old(x).detach().cpu().numpy(), m(x).detach().cpu().numpy())
    assert old._forward_hooks == {} and old._backward_hooks == {}
    # a PyTorch pickle brings its hook tables (not gpubp's table of ids): its hooks still run
    theirs = nn.Linear.__new__(nn.Linear)
    theirs.__setstate__({**state, "_forward_hooks": OrderedDict({7: _double_output})})
    np.testing.assert_allclose(theirs(x).detach().cpu().numpy(), 2 * m(x).detach().cpu().numpy())
    m.register_forward_hook(_double_output)
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        np.testing.assert_allclose(other(x).detach().cpu().numpy(), m(x).detach().cpu().numpy())
        assert list(other._forward_hooks.values()) == [_double_output]


def _double_output(mod: Any, args: tuple, out: Any) -> Any:
    return out * 2
