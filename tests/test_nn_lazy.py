"""Lazy modules: UninitializedParameter / UninitializedBuffer, LazyModuleMixin and the Lazy* layers, against
PyTorch's (forward and gradients after materialization, repr, state dicts, the class switch, errors)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn
from gpubp.nn.parameter import is_lazy

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# (name, constructor args, constructor kwargs, input shape)
CASES = [
    ("LazyLinear", (3,), {}, (2, 5)),
    ("LazyLinear", (4,), {"bias": False}, (2, 3, 6)),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 7)),
    ("LazyConv2d", (4, 3), {"stride": 2, "groups": 2}, (2, 4, 7, 6)),
    ("LazyConv3d", (2, 2), {"bias": False}, (1, 3, 4, 4, 3)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2, "output_padding": 1}, (2, 3, 5)),
    ("LazyConvTranspose2d", (2, 3), {"groups": 2}, (2, 4, 4, 5)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 3, 3, 2)),
    ("LazyBatchNorm1d", (), {}, (4, 3, 5)),
    ("LazyBatchNorm2d", (), {"momentum": None}, (4, 3, 2, 3)),
    ("LazyBatchNorm3d", (), {"affine": False}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {"bias": False}, (2, 2, 3, 3, 3)),
]
EAGER = {name: name[4:] for name, *_ in CASES}


def _ids(case: tuple) -> str:
    return f"{case[0]}-{len(case[3])}d-" + ",".join(f"{k}={v}" for k, v in case[2].items())


def _torch_sd(m: object, device: str) -> dict:
    return {k: gpubp.tensor(v.detach().numpy(), device=device) for k, v in m.state_dict().items()}


@needs_torch
@pytest.mark.filterwarnings("ignore:input's size at dim=1 does not match num_features")  # both warn, as PyTorch
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_lazy_matches_torch(device: str, case: tuple) -> None:
    """At the first forward the module takes its sizes from the input and becomes the eager class; with PyTorch's
    weights copied in, outputs, parameter gradients and running statistics equal PyTorch's."""
    name, args, kwargs, shape = case
    rng = rng_for("lazy", case)
    x = rng.standard_normal(shape)
    ours = getattr(nn, name)(*args, device=device, dtype=gpubp.float64, **kwargs)
    theirs = getattr(torch.nn, name)(*args, dtype=torch.float64, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params() and type(ours).__name__ == name
    assert list(ours.state_dict()) == list(theirs.state_dict())

    xo, xt = gpubp.tensor(x, device=device), torch.tensor(x)
    ours(xo)
    theirs(xt)
    assert type(ours) is getattr(nn, EAGER[name]) and not any(is_lazy(t) for t in ours.state_dict().values())
    assert not hasattr(ours, "_initialize_hook")
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert p.shape == tuple(q.shape) and p.device.type == device, k

    ours.load_state_dict(_torch_sd(theirs, device))
    xo, xt = gpubp.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.detach().cpu().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = rng.standard_normal(tuple(yt.shape))
    (yo * gpubp.tensor(w, device=device)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=k)
    for (k, b), (_, c) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(b.cpu().numpy(), c.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize(
    "lazy, eager, shape",
    [
        (lambda d: nn.LazyLinear(3, device=d), lambda d: nn.Linear(5, 3, device=d), (2, 5)),
        (
            lambda d: nn.LazyConv2d(4, 3, groups=2, device=d),
            lambda d: nn.Conv2d(6, 4, 3, groups=2, device=d),
            (1, 6, 5, 5),
        ),
        (lambda d: nn.LazyConvTranspose1d(4, 2, device=d), lambda d: nn.ConvTranspose1d(3, 4, 2, device=d), (3, 6)),
        (lambda d: nn.LazyBatchNorm2d(device=d), lambda d: nn.BatchNorm2d(3, device=d), (2, 3, 2, 2)),
    ],
)
def test_initialized_as_eager(device: str, lazy: object, eager: object, shape: tuple) -> None:
    """The materialized tensors are initialized exactly as the eager constructor would (same draws, same order, from
    the generator of the device they live on)."""
    x = gpubp.tensor(rng_for("init", shape).standard_normal(shape), device=device, dtype=gpubp.float32)
    gpubp.manual_seed(7)
    m = lazy(device)
    m(x)
    gpubp.manual_seed(7)
    e = eager(device)
    e(x)  # batch norm's running statistics move on both
    sd, se = m.state_dict(), e.state_dict()
    assert list(sd) == list(se)
    for k in se:
        np.testing.assert_array_equal(sd[k].cpu().numpy(), se[k].cpu().numpy(), err_msg=k)
    assert type(m) is type(e) and repr(m) == repr(e)


def test_placeholders_before_materialization(device: str) -> None:
    m = nn.LazyLinear(3, device=device)
    w = m.weight
    assert isinstance(w, nn.UninitializedParameter) and isinstance(w, nn.Parameter) and is_lazy(w)
    assert repr(w) == "<UninitializedParameter>" and w.requires_grad and w.dtype == gpubp.float32
    assert w.device.type == device and w.grad is None
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"uninitialized parameter LazyLinear\.weight"):
        w + 1
    with pytest.raises(ValueError, match=r"uninitialized parameter LazyLinear\.bias"):
        m.bias.numel()
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        _ = w.shape
    with pytest.raises(ValueError, match="uninitialized parameter"):
        nn.functional.linear(gpubp.ones(2, 4, device=device), w)
    with pytest.raises(ValueError, match=r"uninitialized buffer LazyBatchNorm1d\.running_mean"):
        nn.LazyBatchNorm1d(device=device).running_mean.sum()
    assert m.weight is w  # nothing changed


def test_materialize_and_conversions(device: str) -> None:
    p = nn.UninitializedParameter(device=device)
    q = p.double()
    assert isinstance(q, nn.UninitializedParameter) and q.dtype == gpubp.float64 and is_lazy(p)
    p.materialize((2, 3), dtype=gpubp.float64)
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == gpubp.float64 and p.requires_grad
    assert p.device.type == device and p.is_leaf
    b = nn.UninitializedBuffer(device=device, persistent=False)
    assert repr(b) == "<UninitializedBuffer>" and not b.requires_grad and not b.persistent
    b.materialize(4)
    assert type(b) is nn.Buffer and b.shape == (4,) and not b.persistent
    with pytest.raises(TypeError, match="floating-point"):
        nn.UninitializedParameter(dtype=gpubp.int64)

    # Module.to / double / half before materialization set what will be materialized, as PyTorch
    m = nn.LazyConv1d(2, 3).to(device).double()
    assert m.weight.dtype == gpubp.float64 and m.weight.device.type == device and is_lazy(m.weight)
    m(gpubp.ones(1, 3, 5, device=device, dtype=gpubp.float64))
    assert m.weight.dtype == gpubp.float64 and m.weight.shape == (2, 3, 3)
    bn = nn.LazyBatchNorm1d().to(device).half()
    assert bn.running_mean.dtype == gpubp.float16 and bn.num_batches_tracked.dtype == gpubp.int64


def test_buffer_assignment_registers() -> None:
    m = nn.Module()
    m.a = nn.UninitializedBuffer()
    m.b = nn.UninitializedBuffer(persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["a", "b"] and list(m.state_dict()) == ["a"]


@needs_torch
def test_state_dict_round_trips(device: str) -> None:
    # lazy -> lazy: nothing to copy; both stay uninitialized (PyTorch's behaviour)
    src = nn.LazyBatchNorm1d(device=device)
    sd = src.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert is_lazy(sd["weight"]) and sd["weight"] is src.weight
    dst = nn.LazyBatchNorm1d(device=device)
    assert repr(dst.load_state_dict(sd)) == "<All keys matched successfully>"
    assert dst.has_uninitialized_params() and type(dst) is nn.LazyBatchNorm1d

    # eager -> lazy: load materializes from the state dict's shapes; the first forward switches the class
    theirs = torch.nn.Linear(4, 3, dtype=torch.float64)
    lazy = nn.LazyLinear(3, device=device, dtype=gpubp.float64)
    lazy.load_state_dict(_torch_sd(theirs, device))
    assert not lazy.has_uninitialized_params() and type(lazy) is nn.LazyLinear and lazy.in_features == 4
    x = rng_for("sd").standard_normal((2, 4))
    y = lazy(gpubp.tensor(x, device=device))
    assert type(lazy) is nn.Linear
    np.testing.assert_allclose(y.detach().cpu().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)

    conv = nn.LazyConvTranspose2d(4, 3, groups=2, device=device)
    conv.load_state_dict(_torch_sd(torch.nn.ConvTranspose2d(6, 4, 3, groups=2), device))
    assert conv.in_channels == 6 and conv.weight.shape == (6, 2, 3, 3)
    bn = nn.LazyInstanceNorm1d(device=device)
    bn.load_state_dict(_torch_sd(torch.nn.InstanceNorm1d(5, affine=True, track_running_stats=True), device))
    assert bn.num_features == 5 and not bn.has_uninitialized_params()

    # lazy -> eager: the uninitialized values cannot be loaded, as PyTorch
    eager = nn.Linear(4, 3, device=device)
    with pytest.raises(ValueError, match="uninitialized"):
        eager.load_state_dict(nn.LazyLinear(3, device=device).state_dict())

    # nested in a container, materialized: keys and values equal PyTorch's after the round trip
    seq = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(2)).to(device)
    tseq = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.ReLU(), torch.nn.LazyLinear(2))
    assert list(seq.state_dict()) == list(tseq.state_dict())
    tseq(torch.zeros(1, 5))
    seq.load_state_dict(_torch_sd(tseq, device))
    assert [type(c).__name__ for c in seq] == ["LazyLinear", "ReLU", "LazyLinear"]
    seq(gpubp.ones(1, 5, device=device))
    assert [type(c).__name__ for c in seq] == ["Linear", "ReLU", "Linear"]
    for k, v in tseq.state_dict().items():
        np.testing.assert_array_equal(seq.state_dict()[k].cpu().numpy(), v.numpy())


def test_errors_leave_module_lazy(device: str) -> None:
    conv = nn.LazyConv2d(4, 3, device=device)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"):
        conv(gpubp.ones(2, 3, 5, 5, 5, device=device))
    grouped = nn.LazyConv1d(4, 3, groups=2, device=device)
    with pytest.raises(ValueError, match=r"LazyConv1d: in_channels \(3, from the input\) must be divisible by groups"):
        grouped(gpubp.ones(1, 3, 8, device=device))
    bn = nn.LazyBatchNorm2d(device=device)
    with pytest.raises(ValueError, match="LazyBatchNorm2d: expected a 4-D input"):
        bn(gpubp.ones(2, 3, 4, device=device))
    lin = nn.LazyLinear(2, device=device)
    with pytest.raises(ValueError, match="LazyLinear: expected an input of shape"):
        lin(gpubp.tensor(1.0, device=device))
    for m in (conv, grouped, bn, lin):
        assert m.has_uninitialized_params() and type(m).__name__.startswith("Lazy")
    inorm = nn.LazyInstanceNorm1d(device=device)
    inorm(gpubp.ones(3, 5, device=device))  # unbatched (C, L): C features (PyTorch reads L here, then raises)
    assert inorm.num_features == 3 and inorm.weight.shape == (3,)
    lin(gpubp.ones(3, 5, device=device))  # a good input still works after a bad one
    assert type(lin) is nn.Linear and lin.weight.shape == (2, 5)
    with pytest.raises(ValueError, match="out_features"):
        nn.LazyLinear(-1)
    with pytest.raises(NotImplementedError, match="initialize_parameters is not implemented for Custom"):

        class Custom(nn.modules.lazy.LazyModuleMixin, nn.Module):
            pass

        Custom()(gpubp.ones(1))


def test_hooks_copy_pickle(device: str) -> None:
    m = nn.LazyLinear(3, device=device)
    thawed = pickle.loads(pickle.dumps(m))
    seen = []
    m.register_forward_pre_hook(lambda mod, args: seen.append(is_lazy(mod.weight)))
    twin = copy.deepcopy(m)
    assert is_lazy(twin.weight) and twin.weight is not m.weight and twin.weight.device.type == device
    assert is_lazy(thawed.bias) and thawed.bias.dtype == gpubp.float32
    with pytest.raises(ValueError, match=r"uninitialized parameter LazyLinear\.bias"):
        thawed.bias * 2
    m(gpubp.ones(2, 4, device=device))
    assert seen == [False]  # the lazy hook runs first, as PyTorch's
    assert is_lazy(twin.weight)  # the copies are their own modules
    thawed(gpubp.ones(1, 6, device=device))
    assert type(thawed) is nn.Linear and thawed.in_features == 6 and is_lazy(twin.weight)


@needs_torch
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_optimizer_built_before_materialization(device: str, opt: str) -> None:
    """An optimizer over uninitialized parameters holds the same objects, so it trains them once materialized;
    a step before then finds no gradients and changes nothing."""
    kw = {"lr": 0.1, "momentum": 0.9} if opt == "SGD" else {"lr": 0.1}
    ours = nn.LazyLinear(2, device=device, dtype=gpubp.float64)
    theirs = torch.nn.LazyLinear(2, dtype=torch.float64)
    o_ours = getattr(gpubp.optim, opt)(ours.parameters(), **kw)
    o_theirs = getattr(torch.optim, opt)(theirs.parameters(), **kw)
    o_ours.step()
    o_theirs.step()
    x = rng_for("opt", opt).standard_normal((4, 3))
    theirs(torch.tensor(x))
    ours(gpubp.tensor(x, device=device))
    ours.load_state_dict(_torch_sd(theirs, device))
    for _ in range(3):
        for m, o, t in ((ours, o_ours, gpubp.tensor(x, device=device)), (theirs, o_theirs, torch.tensor(x))):
            o.zero_grad()
            (m(t) ** 2).sum().backward()
            o.step()
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].cpu().numpy(), v.numpy(), rtol=1e-10, err_msg=k)


def test_custom_lazy_module(device: str) -> None:
    """A user's lazy module (PyTorch's recipe): the mixin first, placeholders, initialize_parameters; with no
    cls_to_become it keeps its class, and the initializing hook is gone after the first call."""
    assert nn.modules.lazy.LazyModuleMixin is nn.LazyModuleMixin
    assert nn.parameter.UninitializedParameter is nn.UninitializedParameter

    class Scale(nn.modules.lazy.LazyModuleMixin, nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.UninitializedParameter(device=device)

        def initialize_parameters(self, x: gpubp.Tensor) -> None:
            self.w.materialize(x.shape[-1:])
            with gpubp.no_grad():
                self.w.copy_(gpubp.arange(1.0, x.shape[-1] + 1, device=device))

        def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
            return x * self.w

    m = Scale()
    assert m.has_uninitialized_params() and len(m._forward_pre_hooks) == 1
    y = m(gpubp.ones(2, 3, device=device))
    assert type(m) is Scale and m.w.shape == (3,) and not m.has_uninitialized_params() and not m._forward_pre_hooks
    np.testing.assert_array_equal(y.detach().cpu().numpy(), [[1.0, 2.0, 3.0]] * 2)
    y.sum().backward()
    np.testing.assert_array_equal(m.w.grad.cpu().numpy(), [2.0, 2.0, 2.0])
