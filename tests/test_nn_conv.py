"""Convolutions against PyTorch: F.conv1d/2d/3d ('same', 'valid', unbatched), F.conv_transpose1d/2d/3d (stride,
padding, output_padding, groups, dilation), their gradients of gradients, the modules with copied weights (every
padding_mode, output_size, state_dict keys, extra_repr, init bounds) and the error cases."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F
from gpubp.testing import gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
TF = torch.nn.functional if torch is not None else None
TNN = torch.nn if torch is not None else None


def _fn(name: str, **kw: Any) -> tuple:
    """(ours, PyTorch's) functional ``name`` with keyword arguments ``kw``, taking (input, weight[, bias])."""
    ours, theirs = getattr(F, name), getattr(TF, name) if TF is not None else None
    return (lambda *a: ours(*a, **kw)), ((lambda *a: theirs(*a, **kw)) if theirs is not None else None)


# (id, functional name, kwargs, shapes (input, weight[, bias]), non-contiguous input)
FUNCTIONAL = [
    ("t1d-stride-outpad", "conv_transpose1d", dict(stride=3, padding=1, output_padding=2), [(2, 3, 4), (3, 2, 3), (2,)], False),
    ("t1d-groups-dil", "conv_transpose1d", dict(groups=2, dilation=2, padding=2), [(1, 4, 5), (4, 3, 3)], True),
    ("t1d-unbatched", "conv_transpose1d", dict(stride=2), [(2, 4), (2, 3, 2), (3,)], False),
    ("t2d-plain", "conv_transpose2d", {}, [(2, 3, 3, 4), (3, 2, 2, 3), (2,)], False),
    ("t2d-all", "conv_transpose2d", dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2), groups=2, dilation=(2, 1)),
     [(2, 4, 3, 3), (4, 1, 3, 2), (2,)], False),
    ("t2d-outpad-dilation", "conv_transpose2d", dict(dilation=2, output_padding=1), [(1, 2, 3, 3), (2, 3, 2, 2)], True),
    ("t2d-crop", "conv_transpose2d", dict(stride=2, padding=2), [(2, 2, 3, 4), (2, 2, 3, 3), (2,)], True),
    ("t2d-unbatched", "conv_transpose2d", dict(stride=2, output_padding=1), [(2, 3, 2), (2, 2, 2, 2)], False),
    ("t3d", "conv_transpose3d", dict(stride=(1, 2, 2), padding=(0, 1, 0), output_padding=(0, 1, 1)),
     [(1, 2, 2, 3, 2), (2, 2, 2, 2, 2), (2,)], False),
    ("t3d-groups", "conv_transpose3d", dict(groups=2, dilation=(1, 1, 2)), [(1, 2, 2, 2, 3), (2, 1, 2, 1, 2)], True),
    ("c3d-all", "conv3d", dict(stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2),
     [(2, 4, 3, 4, 3), (4, 2, 2, 2, 2), (4,)], False),
    ("c3d-noncontig", "conv3d", dict(padding=1), [(1, 2, 3, 3, 2), (3, 2, 2, 2, 1)], True),
    ("c3d-same-unbatched", "conv3d", dict(padding="same", dilation=(1, 2, 1)), [(2, 3, 4, 3), (2, 2, 2, 2, 3), (2,)], False),
    ("c3d-valid", "conv3d", dict(padding="valid", stride=2), [(1, 2, 4, 3, 5), (2, 2, 2, 2, 2), (2,)], False),
    ("c2d-same-even", "conv2d", dict(padding="same"), [(2, 2, 4, 5), (3, 2, 2, 4), (3,)], True),
    ("c2d-same-dilated", "conv2d", dict(padding="same", dilation=(2, 3), groups=2), [(1, 4, 5, 6), (2, 2, 3, 2)], False),
    ("c2d-valid-stride", "conv2d", dict(padding="valid", stride=(2, 1)), [(2, 2, 5, 4), (3, 2, 3, 2), (3,)], False),
    ("c2d-unbatched", "conv2d", dict(padding=1, stride=2), [(2, 5, 4), (3, 2, 3, 3), (3,)], False),
    ("c1d-same", "conv1d", dict(padding="same", dilation=2), [(2, 3, 7), (2, 3, 4), (2,)], True),
    ("c1d-unbatched-same", "conv1d", dict(padding="same"), [(3, 6), (2, 3, 2)], False),
    ("c1d-valid-tuple", "conv1d", dict(padding="valid", stride=(2,), dilation=(1,)), [(2, 2, 7), (3, 2, 3)], False),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own zero-padded copy
@pytest.mark.parametrize("case", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_functional_matches_torch(device: str, case: tuple) -> None:
    name, fn, kw, shapes, noncontig = case
    ours, theirs = _fn(fn, **kw)
    check_op(device, ours, theirs, shapes, key=name, noncontig=noncontig)


@pytest.mark.parametrize(
    "fn, kw, shapes",
    [
        ("conv_transpose2d", dict(stride=2, padding=1, output_padding=1, groups=2), [(1, 2, 2, 3), (2, 1, 3, 2), (2,)]),
        ("conv_transpose1d", dict(dilation=2, output_padding=1), [(1, 2, 3), (2, 2, 2)]),
        ("conv3d", dict(stride=(1, 2, 1), padding=1), [(1, 2, 2, 3, 2), (2, 2, 2, 2, 2), (2,)]),
    ],
    ids=["t2d", "t1d", "c3d"],
)
def test_gradients_of_gradients(device: str, fn: str, kw: dict, shapes: list) -> None:
    """The composed convolutions differentiate twice (their backward is recorded from differentiable ops)."""
    rng = rng_for("gradgrad", fn)
    ins = [gpubp.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in shapes]
    ours, _ = _fn(fn, **kw)
    gradgradcheck(ours, ins)


def test_transposed_is_conv_input_gradient(device: str) -> None:
    """conv_transpose2d(g, w) is the gradient of <g, conv2d(x, w)> with respect to x, whatever the geometry."""
    rng = rng_for("adjoint")
    x = gpubp.tensor(rng.standard_normal((2, 4, 8, 7)), device=device, requires_grad=True)
    w = gpubp.tensor(rng.standard_normal((6, 2, 3, 2)), device=device)
    kw = dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1), groups=2)
    y = F.conv2d(x, w, **kw)
    g = gpubp.tensor(rng.standard_normal(tuple(y.shape)), device=device)
    (gx,) = gpubp.grad([y], [x], [g])
    # the output_padding that takes y's size back to x's (8, 7): (1, 0) here, each below its stride
    extra = tuple(
        n - ((m - 1) * s - 2 * p + d * (k - 1) + 1)
        for n, m, s, p, d, k in zip((8, 7), y.shape[2:], kw["stride"], kw["padding"], kw["dilation"], (3, 2))
    )
    assert extra == (1, 0)
    back = F.conv_transpose2d(g, w, None, kw["stride"], kw["padding"], extra, 2, kw["dilation"])
    np.testing.assert_allclose(back.detach().cpu().numpy(), gx.detach().cpu().numpy(), rtol=1e-12, atol=1e-12)


# ---- modules ------------------------------------------------------------------------------------------------------


def _compare(device: str, ours: nn.Module, theirs: Any, x_np: np.ndarray, key: str, **fwd: Any) -> None:
    """Same weights, same input: outputs, input and parameter gradients, state_dict keys and repr agree."""
    theirs = theirs.double()
    ours.to(device=device, dtype=gpubp.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: gpubp.tensor(v.detach().numpy(), device=device) for k, v in theirs.state_dict().items()})
    tx = torch.tensor(x_np, requires_grad=True)
    gx = gpubp.tensor(x_np, device=device, requires_grad=True)
    t_out, g_out = theirs(tx, **fwd), ours(gx, **fwd)
    assert tuple(g_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(g_out.detach().cpu().numpy(), t_out.detach().numpy(), rtol=1e-9, atol=1e-10)
    cot = rng_for(key, "cot").standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(cot))
    g_out.backward(gpubp.tensor(cot, device=device))
    np.testing.assert_allclose(gx.grad.detach().cpu().numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    tgrads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad.detach().cpu().numpy(), tgrads[name].grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name
        )


# (id, class name, args, kwargs, input shape, forward kwargs)
MODULES = [
    ("T1d", "ConvTranspose1d", (4, 6, 3), dict(stride=3, padding=2, output_padding=1, groups=2), (2, 4, 5), {}),
    ("T1d-output_size", "ConvTranspose1d", (2, 3, 3), dict(stride=3, padding=1), (2, 2, 4), dict(output_size=[11])),
    ("T2d", "ConvTranspose2d", (4, 6, (3, 2)), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2,
                                                   bias=False), (2, 4, 4, 3), {}),
    ("T2d-output_size", "ConvTranspose2d", (2, 3, 3), dict(stride=2), (2, 2, 3, 4), dict(output_size=(2, 3, 8, 9))),
    ("T2d-unbatched", "ConvTranspose2d", (2, 3, 2), dict(stride=(1, 2)), (2, 3, 3), dict(output_size=[3, 4, 7])),
    ("T3d", "ConvTranspose3d", (2, 4, (2, 3, 2)), dict(stride=(2, 1, 2), padding=1), (2, 2, 3, 3, 2), {}),
    ("C3d", "Conv3d", (4, 6, (2, 3, 2)), dict(stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2),
     (2, 4, 4, 5, 3), {}),
    ("C3d-unbatched", "Conv3d", (2, 3, 2), dict(padding="valid"), (2, 3, 4, 3), {}),
    ("C2d-unbatched", "Conv2d", (2, 3, 3), dict(padding=1), (2, 5, 4), {}),
    ("C1d-unbatched", "Conv1d", (2, 3, 3), dict(stride=2), (2, 7), {}),
]  # fmt: skip
for _mode in ("zeros", "reflect", "replicate", "circular"):
    MODULES += [
        (f"C2d-{_mode}", "Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=2,
                                                      padding_mode=_mode), (2, 4, 6, 7), {}),
        (f"C2d-same-{_mode}", "Conv2d", (2, 3, (2, 3)), dict(padding="same", dilation=(3, 1), padding_mode=_mode),
         (1, 2, 7, 5), {}),
        (f"C1d-same-{_mode}", "Conv1d", (4, 2, 4), dict(padding="same", dilation=2, groups=2, padding_mode=_mode),
         (2, 4, 9), {}),
        (f"C3d-{_mode}", "Conv3d", (2, 2, (2, 3, 2)), dict(padding=(1, 2, 1), stride=(1, 2, 1), padding_mode=_mode),
         (2, 3, 4, 3), {}),
    ]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("case", MODULES, ids=[c[0] for c in MODULES])
def test_module_matches_torch(device: str, case: tuple) -> None:
    name, cls, args, kw, shape, fwd = case
    torch.manual_seed(0)
    _compare(device, getattr(nn, cls)(*args, **kw), getattr(TNN, cls)(*args, **kw), rng_for(name).standard_normal(shape),
             name, **fwd)  # fmt: skip


@pytest.mark.parametrize(
    "cls, args, shape",
    [
        ("ConvTranspose2d", (8, 40, (3, 2), 1, 0, 0, 4), (8, 10, 3, 2)),
        ("ConvTranspose1d", (3, 50, 4), (3, 50, 4)),
        ("Conv3d", (4, 30, 3, 1, 0, 1, 2), (30, 2, 3, 3, 3)),
    ],
)
def test_init_uses_the_weights_fan(device: str, cls: str, args: tuple, shape: tuple) -> None:
    """Weights and biases are U(+-1/sqrt(fan_in)) with fan_in = weight.shape[1] * prod(kernel) (kaiming_uniform with
    a = sqrt(5), as PyTorch): for a transposed convolution that is out_channels / groups * prod(kernel)."""
    gpubp.manual_seed(3)
    m = getattr(nn, cls)(*args, device=device)
    assert tuple(m.weight.shape) == shape and m.weight.device.type == gpubp.device(device).type
    bound = 1 / math.sqrt(math.prod(shape[1:]))
    for p in (m.weight, m.bias):
        a = np.abs(p.detach().cpu().numpy())
        assert a.max() <= bound and a.max() > 0.8 * bound, (p.shape, a.max(), bound)


@needs_torch
def test_output_size_errors_match_torch(device: str) -> None:
    m, t = nn.ConvTranspose2d(2, 3, 3, stride=2, device=device), TNN.ConvTranspose2d(2, 3, 3, stride=2)
    x, tx = gpubp.zeros(1, 2, 4, 4, device=device), torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"requested an output size of \[11, 8\], but valid sizes range from \[9, 9\]"):
        m(x, output_size=[11, 8])
    with pytest.raises(ValueError, match=r"requested an output size"):
        t(tx, output_size=[11, 8])
    with pytest.raises(ValueError, match=r"ConvTranspose2d: for 4D input, output_size must have 2 or 4 elements"):
        m(x, output_size=[1, 9, 9])
    assert tuple(m(x[0], output_size=[10, 9]).shape) == tuple(t(tx[0], output_size=[10, 9]).shape) == (3, 10, 9)


# ---- errors -------------------------------------------------------------------------------------------------------


def _t(device: str, *shape: int) -> Any:
    return gpubp.tensor(rng_for("err", shape).standard_normal(shape).astype(np.float32), device=device)


# (id, PyTorch's exception class, regex naming the op, call on a library L = (F, nn, tensor-maker))
ERRORS = [
    ("outpad-stride", RuntimeError, "conv_transpose2d: output padding must be smaller than either stride or dilation",
     lambda F, nn, t: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 3, 3, 3), stride=2, output_padding=2)),
    ("outpad-default", RuntimeError, "conv_transpose1d: output padding must be smaller",
     lambda F, nn, t: F.conv_transpose1d(t(1, 2, 4), t(2, 3, 3), output_padding=1)),
    ("outpad-negative", RuntimeError, "conv_transpose2d: negative output_padding",
     lambda F, nn, t: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 3, 3, 3), output_padding=-1)),
    ("t-channels", RuntimeError, r"conv_transpose2d: weight of shape \(3, 3, 3, 3\) .* expects an input with 3 channels",
     lambda F, nn, t: F.conv_transpose2d(t(1, 2, 4, 4), t(3, 3, 3, 3))),
    ("t-groups", RuntimeError, "conv_transpose2d: .* groups=2",
     lambda F, nn, t: F.conv_transpose2d(t(1, 3, 4, 4), t(3, 3, 3, 3), groups=2)),
    ("t-bias", RuntimeError, r"conv_transpose2d: bias has shape \(2,\), expected \(3,\)",
     lambda F, nn, t: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 3, 3, 3), t(2))),
    ("t-too-small", RuntimeError, "conv_transpose2d: .*output size per channel .* is too small",
     lambda F, nn, t: F.conv_transpose2d(t(1, 2, 2, 2), t(2, 3, 2, 2), padding=2)),
    ("t-stride-zero", RuntimeError, "conv_transpose3d: non-positive stride",
     lambda F, nn, t: F.conv_transpose3d(t(1, 2, 2, 2, 2), t(2, 3, 2, 2, 2), stride=0)),
    ("t-padding-same", TypeError, "conv_transpose2d: padding must be an int or a tuple of 2 ints",
     lambda F, nn, t: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 3, 3, 3), padding="same")),
    ("t-input-2d", RuntimeError, r"conv_transpose2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input",
     lambda F, nn, t: F.conv_transpose2d(t(4, 4), t(2, 3, 3, 3))),
    ("same-strided", RuntimeError, "conv2d: padding='same' is not supported for strided convolutions",
     lambda F, nn, t: F.conv2d(t(1, 2, 5, 5), t(3, 2, 3, 3), stride=2, padding="same")),
    ("bad-padding-string", RuntimeError, "conv1d: invalid padding string 'full'",
     lambda F, nn, t: F.conv1d(t(1, 2, 5), t(3, 2, 3), padding="full")),
    ("c2d-input-2d", RuntimeError, r"conv2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input",
     lambda F, nn, t: F.conv2d(t(5, 5), t(3, 2, 3, 3))),
    ("c3d-kernel", RuntimeError, r"conv3d: kernel \(3, 3, 3\) .* is larger than the padded input \(2, 5, 5\)",
     lambda F, nn, t: F.conv3d(t(1, 2, 2, 5, 5), t(3, 2, 3, 3, 3))),
    ("c3d-channels", RuntimeError, r"conv3d: weight of shape \(3, 2, 2, 2, 2\) .* expects an input with 2 channels",
     lambda F, nn, t: F.conv3d(t(1, 3, 3, 3, 3), t(3, 2, 2, 2, 2))),
    ("c3d-dilation", RuntimeError, "conv3d: dilation should be greater than zero",
     lambda F, nn, t: F.conv3d(t(1, 2, 3, 3, 3), t(3, 2, 2, 2, 2), dilation=0)),
    ("c3d-padding", RuntimeError, "conv3d: negative padding",
     lambda F, nn, t: F.conv3d(t(1, 2, 3, 3, 3), t(3, 2, 2, 2, 2), padding=(1, -1, 0))),
    ("c3d-stride-len", RuntimeError, "conv3d: stride must be an int or a tuple of 3 ints",
     lambda F, nn, t: F.conv3d(t(1, 2, 3, 3, 3), t(3, 2, 2, 2, 2), stride=(1, 2))),
    ("T-reflect", ValueError, "ConvTranspose2d: only \"zeros\" padding mode is supported",
     lambda F, nn, t: nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect")),
    ("T-groups", ValueError, r"ConvTranspose2d: in_channels \(3\) and out_channels \(4\) must be divisible by groups",
     lambda F, nn, t: nn.ConvTranspose2d(3, 4, 3, groups=2)),
    ("C3d-same-strided", ValueError, "Conv3d: padding='same' is not supported for strided convolutions",
     lambda F, nn, t: nn.Conv3d(2, 3, 3, stride=2, padding="same")),
    ("circular-wraps", RuntimeError, "Conv2d: circular padding .* wraps around more than once",
     lambda F, nn, t: nn.Conv2d(2, 3, 3, padding=2, padding_mode="circular")(t(1, 2, 1, 1))),
    ("reflect-too-big", RuntimeError, "pad: reflect padding",
     lambda F, nn, t: nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect")(t(1, 2, 2, 2))),
]  # fmt: skip


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors(device: str, case: tuple) -> None:
    _, cls, msg, call = case
    with pytest.raises(cls, match=msg):
        call(F, nn, lambda *s: _t(device, *s))
    if torch is not None:  # PyTorch raises the same class
        with pytest.raises(cls):
            call(TF, TNN, lambda *s: torch.randn(*s))
