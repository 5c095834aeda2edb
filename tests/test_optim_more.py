"""Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop, and ``maximize``/``foreach``/``fused``/``capturable``/
``differentiable`` on every optimizer, against torch.optim: step for step (several groups, shapes, weight decay,
maximize, a parameter joining late), state dicts loaded both ways, hyperparameters as PyTorch stores them, refused
arguments; and the new kernels of kernels/optim.cu run under the host emulator against the NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import optim
from gpubp.backend import kernels
from gpubp.backend.optim_reference import nadam_scalars, radam_scalars

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

NEW = [
    ("Adadelta", {"lr": 0.5, "weight_decay": 0.1}),
    ("Adadelta", {"rho": 0.8, "eps": 1e-4, "maximize": True}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adamax", {"betas": (0.6, 0.9), "maximize": True}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),  # rho_t > 5 only from step 6: both branches run
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "t0": 3, "weight_decay": 0.1}),  # mu leaves 1 after step t0 + 1
    ("ASGD", {"maximize": True}),
    ("Rprop", {"lr": 0.01}),
    ("Rprop", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.02), "maximize": True}),
]
MAXIMIZE = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "maximize": True}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.01, "maximize": True}),
]
SHAPES = [(4, 3), (3,), (2, 2, 2), (5,)]


def _ids(cases: list) -> list[str]:
    return [f"{n}-{i}" for i, (n, _) in enumerate(cases)]


def _models(device: str, dtype: str, seed: str) -> tuple[list, list]:
    rng = rng_for("init", seed, dtype)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    return [gpubp.tensor(a, device=device, requires_grad=True) for a in init], [torch.tensor(a, requires_grad=True)
                                                                                 for a in init]  # fmt: skip


def _assert_same(ours: list, theirs: list, tol: float, what: str) -> None:
    for i, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(
            o.detach().cpu().numpy(), t.detach().numpy(), rtol=tol, atol=tol, err_msg=f"{what} {i}"
        )


def _set_grads(ours: list, theirs: list, rng: np.random.Generator, dtype: str, device: str) -> None:
    for o, t in zip(ours, theirs):
        g = rng.standard_normal(o.shape).astype(dtype)
        o.grad, t.grad = gpubp.tensor(g, device=device), torch.tensor(g)


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", NEW + MAXIMIZE, ids=_ids(NEW + MAXIMIZE))
def test_step_for_step_like_torch(device: str, name: str, kw: dict, dtype: str) -> None:
    ours, theirs = _models(device, dtype, name + str(kw))
    lr = kw.get("lr", 0.01)
    # two groups, the second with its own lr; the last parameter joins in a third group after three steps
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:3], "lr": lr / 2}], **kw)
    topt = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:3], "lr": lr / 2}], **kw)
    rng = rng_for("grads", name, str(kw), dtype)
    tol = 2e-5 if dtype == "float32" else 1e-12
    for step in range(7):
        if step == 3:
            opt.add_param_group({"params": [ours[3]], "lr": lr * 2})
            topt.add_param_group({"params": [theirs[3]], "lr": lr * 2})
        n = 4 if step >= 3 else 3
        _set_grads(ours[:n], theirs[:n], rng, dtype, device)
        if step == 1:  # a parameter without a gradient is skipped, and keeps its own step count after
            ours[1].grad, theirs[1].grad = None, None
        opt.step()
        topt.step()
        _assert_same(ours, theirs, tol, f"{name} step {step}: parameter")
    for o, t in zip(ours, theirs):
        for k, v in topt.state[t].items():
            got = opt.state[o][k]
            want = v.detach().numpy() if isinstance(v, torch.Tensor) else v
            got = got.detach().cpu().numpy() if isinstance(got, gpubp.Tensor) else np.asarray(got)
            np.testing.assert_allclose(got, want, rtol=tol * 10, atol=tol, err_msg=f"{name} state {k}")


@pytest.mark.parametrize("name,kw", NEW[::2], ids=_ids(NEW[::2]))
def test_float16_parameters_keep_float32_state(device: str, name: str, kw: dict) -> None:
    """Half-precision parameters step with float32 state, close to the same steps taken in float64."""
    rng = rng_for("half", name)
    init = [rng.standard_normal(s) for s in SHAPES[:2]]
    grads = [[rng.standard_normal(s) for s in SHAPES[:2]] for _ in range(4)]
    results = {}
    for dt in ("float16", "float64"):
        ps = [gpubp.tensor(a.astype(dt), device=device, requires_grad=True) for a in init]
        opt = getattr(optim, name)(ps, **kw)
        for gs in grads:
            for p, g in zip(ps, gs):
                p.grad = gpubp.tensor(g.astype(dt), device=device)
            opt.step()
        if dt == "float16":
            assert all(
                v.dtype == gpubp.float32 for st in opt.state.values() for v in st.values() if hasattr(v, "dtype")
            )
        results[dt] = [p.detach().cpu().numpy().astype(np.float64) for p in ps]
    for h, d in zip(results["float16"], results["float64"]):
        np.testing.assert_allclose(h, d, rtol=1e-2, atol=1e-2)


def _to_torch_state(sd: dict) -> dict:
    """Our state dict as torch.optim loads it: our Tensors copied into torch's (numbers stay as they are)."""
    state = {
        i: {k: torch.tensor(v.cpu().numpy()) if isinstance(v, gpubp.Tensor) else v for k, v in st.items()}
        for i, st in sd["state"].items()
    }
    return {"state": state, "param_groups": sd["param_groups"]}


@needs_torch
@pytest.mark.parametrize("name,kw", NEW + MAXIMIZE, ids=_ids(NEW + MAXIMIZE))
def test_state_dicts_load_both_ways(device: str, name: str, kw: dict) -> None:
    """Train a few steps in one library, load its state dict into the other, continue both: the same parameters."""
    rng = rng_for("sd", name, str(kw))
    tol = 1e-12
    for direction in ("torch->gpubp", "gpubp->torch"):
        ours, theirs = _models(device, "float64", name + direction)
        groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": kw.get("lr", 0.01) / 2}]  # noqa: E731
        opt, topt = getattr(optim, name)(groups(ours), **kw), getattr(torch.optim, name)(groups(theirs), **kw)
        fresh_o, fresh_t = (
            getattr(optim, name)(groups(ours), lr=0.7),
            getattr(torch.optim, name)(groups(theirs), lr=0.7),
        )
        for _ in range(3):
            _set_grads(ours, theirs, rng, "float64", device)
            if direction == "gpubp->torch":
                opt.step()
            else:
                topt.step()
        if direction == "torch->gpubp":  # torch's tensors load as they are
            for o, t in zip(ours, theirs):
                o._data[...] = o._be.from_host(t.detach().numpy())
            fresh_o.load_state_dict(topt.state_dict())
            opt, topt = fresh_o, topt
        else:
            with torch.no_grad():
                for o, t in zip(ours, theirs):
                    t.copy_(torch.as_tensor(o.detach().cpu().numpy()))
            fresh_t.load_state_dict(_to_torch_state(opt.state_dict()))
            opt, topt = opt, fresh_t
        assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"] != 0.7  # the hyperparameters loaded too
        for _ in range(3):
            _set_grads(ours, theirs, rng, "float64", device)
            opt.step()
            topt.step()
        _assert_same(ours, theirs, tol, f"{name} {direction}: parameter")


@needs_torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", *sorted({n for n, _ in NEW})])
def test_param_groups_hold_torchs_hyperparameters(name: str) -> None:
    kw = {"foreach": False, "maximize": True} if name != "Rprop" else {"foreach": True}
    ours = getattr(optim, name)([gpubp.zeros(2, requires_grad=True)], **kw).param_groups[0]
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw).param_groups[0]
    assert set(ours) == set(theirs)
    for k, v in theirs.items():
        if k != "params":
            assert ours[k] == (tuple(v) if isinstance(v, list) else v), k


@needs_torch
def test_fused_and_capturable_are_accepted_and_kept(device: str) -> None:
    p = gpubp.tensor([1.0, -2.0], device=device, requires_grad=True)
    opt = optim.Adam([p], lr=0.1, fused=True, capturable=True)
    assert opt.param_groups[0]["fused"] is True and opt.param_groups[0]["capturable"] is True
    p.grad = gpubp.tensor([0.5, 0.5], device=device)
    opt.step()
    np.testing.assert_allclose(p.detach().cpu().numpy(), [0.9, -2.1], rtol=1e-6)


BAD = [
    ("Adadelta", {"rho": 1.5}, ValueError, r"Adadelta: invalid rho 1.5"),
    ("Adadelta", {"lr": -1.0}, ValueError, r"Adadelta: invalid learning rate -1.0"),
    ("Adamax", {"betas": (1.0, 0.9)}, ValueError, r"Adamax: invalid betas\[0\] 1.0"),
    ("NAdam", {"momentum_decay": -0.1}, ValueError, r"NAdam: invalid momentum_decay -0.1"),
    ("RAdam", {"eps": -1.0}, ValueError, r"RAdam: invalid eps -1.0"),
    ("ASGD", {"weight_decay": -1.0}, ValueError, r"ASGD: invalid weight_decay -1.0"),
    ("Rprop", {"etas": (1.5, 2.0)}, ValueError, r"Rprop: invalid etas \(1.5, 2.0\)"),
    ("Rprop", {"etas": (0.5, 0.9)}, ValueError, r"Rprop: invalid etas \(0.5, 0.9\)"),
    ("Rprop", {"step_sizes": 1e-6}, TypeError, r"Rprop: step_sizes must be a pair of floats"),  # torch: in step()
    ("Adam", {"foreach": True, "fused": True}, RuntimeError, r"Adam: `fused` and `foreach` cannot be `True` together"),
    ("SGD", {"maximize": "yes"}, TypeError, r"SGD: maximize must be True or False, got str"),
    ("NAdam", {"foreach": 1}, TypeError, r"NAdam: foreach must be None, True or False, got int 1"),
    ("RMSprop", {"differentiable": True}, ValueError, r"RMSprop: differentiable=True .* is not supported"),
]


@pytest.mark.parametrize("name,kw,exc,match", BAD, ids=[f"{n}-{i}" for i, (n, *_) in enumerate(BAD)])
def test_bad_arguments_are_refused(name: str, kw: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        getattr(optim, name)([gpubp.zeros(2, requires_grad=True)], **kw)
    if torch is not None and not {"differentiable", "maximize", "foreach", "step_sizes"} & set(kw):
        with pytest.raises(exc):  # PyTorch refuses it with the same class
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)


def test_old_state_dicts_without_the_new_flags_still_load(device: str) -> None:
    p = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, maximize=True)
    sd = opt.state_dict()
    old = {k: v for k, v in sd["param_groups"][0].items() if k not in ("maximize", "foreach", "decoupled_weight_decay")}
    opt.load_state_dict({"state": {}, "param_groups": [old]})
    assert opt.param_groups[0]["maximize"] is True and opt.param_groups[0]["decoupled_weight_decay"] is True


# ---- the new kernels, executed on the CPU under kernels/host_emulation.h ---------------------------------------
KERNELS = {  # case: (how many state lists the kernel reads, the NumPy reference's keyword arguments)
    "adadelta": (2, {"lr": 0.5, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.1}),
    "adamax": (2, {"step": 3, "lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1}),
    "nadam": (2, {"step": 3, "mu_product": 0.7, "lr": 0.01, "weight_decay": 0.1, "decoupled": True}),
    "radam": (2, {"step": 9, "lr": 0.01, "beta2": 0.9, "weight_decay": 0.1}),
    "radam_unrectified": (2, {"step": 2, "lr": 0.01, "weight_decay": 0.1, "decoupled": True}),
    "asgd": (1, {"eta": 0.01, "mu": 0.25, "lambd": 0.01, "weight_decay": 0.1}),
    "asgd_mu1": (1, {"eta": 0.01, "mu": 1.0, "lambd": 0.01, "weight_decay": 0.0}),
    "rprop": (2, {"etaminus": 0.5, "etaplus": 1.2, "step_size_min": 1e-3, "step_size_max": 0.05}),
}


_EMU = None  # tests/test_emulated_kernels.py: its launch helpers, imported by the test that uses them


def _scalars(kind: str, kw: dict) -> list:
    """The kernel's by-value arguments after the table, as cupy_multi_tensor.py passes them."""
    f64, i32 = _EMU.f64, _EMU.i32
    b1, b2 = kw.get("beta1", 0.9), kw.get("beta2", 0.999)
    eps, wd, lr = kw.get("eps", 1e-8), kw.get("weight_decay", 0.0), kw.get("lr", 0.0)
    if kind == "adadelta":
        return [f64(lr), f64(kw["rho"]), f64(kw["eps"]), f64(wd)]
    if kind == "adamax":
        return [f64(lr / (1 - b1 ** kw["step"])), f64(b1), f64(b2), f64(eps), f64(wd)]
    if kind == "nadam":
        bc2, cg, cm = nadam_scalars(kw["step"], kw["mu_product"], lr, b1, b2, 4e-3)
        return [f64(lr), f64(b1), f64(b2), f64(eps), f64(wd), i32(kw["decoupled"]), f64(bc2), f64(cg), f64(cm)]
    if kind == "radam":
        bc1, bc2_sqrt, rect = radam_scalars(kw["step"], b1, b2)
        head = [f64(lr), f64(b1), f64(b2), f64(eps), f64(wd), i32(kw.get("decoupled", False)), f64(bc1)]
        return head + [f64(bc2_sqrt), f64(rect or 0.0), i32(rect is not None)]
    if kind == "asgd":
        return [f64(kw["eta"]), f64(kw["mu"]), f64(kw["lambd"]), f64(wd)]
    return [f64(kw["etaminus"]), f64(kw["etaplus"]), f64(kw["step_size_min"]), f64(kw["step_size_max"])]


@pytest.mark.parametrize("ct", ["float", "double", "half_t"])
@pytest.mark.parametrize("case", sorted(KERNELS))
def test_new_optimizer_kernels_under_emulation(case: str, ct: str) -> None:
    """One launch over four tensors of one TensorTable, every thread and block order, against the float64 reference."""
    global _EMU
    emu = _EMU = pytest.importorskip("test_emulated_kernels")
    if getattr(emu, "pytestmark", None) is not None:
        pytest.skip("no host C++ compiler to build the kernels for the CPU")
    kind = case.split("_")[0]
    count, kw = KERNELS[case]
    dtype, acc = emu.DTYPES[ct], emu.ACC[emu.DTYPES[ct]]
    rng = rng_for("emulated-optim-more", case, ct)
    sizes = emu.OPT_SIZES
    params = [rng.standard_normal(n).astype(dtype) for n in sizes]
    grads = [rng.standard_normal(n).astype(dtype) for n in sizes]
    state = [[rng.standard_normal(n).astype(acc) for n in sizes] for _ in range(count)]
    if kind in ("adadelta", "adamax", "nadam", "radam"):  # averages of squares (and Adamax's max norm) are positive
        state[1] = [np.abs(s) + 0.5 for s in state[1]]
    if kind == "adadelta":
        state[0] = [np.abs(s) + 0.5 for s in state[0]]
    if kind == "rprop":  # step sizes in and out of the clamp; a zero previous gradient
        state[1] = [np.abs(s) * 0.05 for s in state[1]]
        state[0][0][...] = 0
    f = lambda arrays: [a.astype(np.float64) for a in arrays]  # noqa: E731
    p_ref, g_ref, s_ref = f(params), f(grads), [f(s) for s in state]
    getattr(emu.REF, f"{kind}_update")(p_ref, g_ref, *s_ref, **kw)
    lists = [params, grads, *state] + [None] * (kernels.MT_LISTS - 2 - count)
    kernel = emu.family("optim").get_function(f"{kind}_multi<{ct}>")
    n = len(sizes)
    expected = p_ref + [a for s in s_ref for a in s]
    for outs in emu.run_orders(kernel, emu.grids(max(sizes)), [lists, *_scalars(kind, kw)]):
        updated = outs[:n] + outs[2 * n :]
        for i, (out, ref) in enumerate(zip(updated, expected)):
            emu.close(out, ref, dtype, f"{case} {ct}: array {i} (params, then state)")


@needs_torch
@pytest.mark.parametrize("name", ["NAdam", "ASGD", "Rprop", "RMSprop"])
def test_a_torch_checkpoint_of_an_optimizer_loads(tmp_path, device: str, name: str) -> None:  # noqa: ANN001
    """torch.save(torch_opt.state_dict()) read by gpubp.load goes into ours, which then steps as torch does."""
    t = torch.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
    topt = getattr(torch.optim, name)([t], lr=0.01)
    rng = rng_for("ckpt", name)
    grads = [rng.standard_normal(6) for _ in range(4)]
    for g in grads[:3]:
        t.grad = torch.tensor(g)
        topt.step()
    torch.save(topt.state_dict(), tmp_path / "opt.pt")
    q = gpubp.tensor(t.detach().numpy().copy(), device=device, requires_grad=True)
    opt = getattr(optim, name)([q], lr=0.5)
    opt.load_state_dict(gpubp.load(tmp_path / "opt.pt", device=device))
    q.grad, t.grad = gpubp.tensor(grads[3], device=device), torch.tensor(grads[3])
    opt.step()
    topt.step()
    np.testing.assert_allclose(q.detach().cpu().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", *sorted({n for n, _ in NEW})])
def test_step_never_reads_device_data(name: str) -> None:
    """step() with maximize and weight decay on data that refuses every host read (tests/test_no_sync.py: a NumPy
    array, so on the CPU; the CUDA backend's overrides only add launches)."""
    nosync = pytest.importorskip("test_no_sync")
    rng = rng_for("nosync-more", name)
    ps = [gpubp.tensor(rng.standard_normal(s), device="cpu", requires_grad=True) for s in SHAPES[:2]]
    kw = {"lr": 0.01, "maximize": True} | ({"weight_decay": 0.1} if name != "Rprop" else {})
    opt = getattr(optim, name)(ps, **kw)
    for _ in range(2):
        for p in ps:
            nosync._strict(p)
            p.grad = nosync._strict(gpubp.tensor(rng.standard_normal(p.shape), device="cpu"))
        with nosync.strict():
            opt.step()
    assert all(np.isfinite(np.asarray(p._data)).all() for p in ps)
