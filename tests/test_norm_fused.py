"""The fused layer_norm / rms_norm ops against PyTorch: forward, backward, double backward, float16, views, empty."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn.functional as F

if torch is None:
    pytest.skip("needs torch", allow_module_level=True)
import torch.nn.functional as TF  # noqa: E402

TOL = {np.float64: 1e-9, np.float32: 2e-4, np.float16: 2e-2}


def _pair(a, device, dtype, grad=True):
    return (gpubp.tensor(a.astype(dtype), device=device, requires_grad=grad),
            torch.tensor(a.astype(dtype), requires_grad=grad))  # fmt: skip


def _compare(device, shape, nshape, rms, dtype, affine=True, noncontig=False):
    rng = rng_for("norm-fused", shape, nshape, rms, dtype, affine, noncontig)
    full = shape[:-1] + (shape[-1] * 2,) if noncontig else shape
    x = rng.standard_normal(full) * 2 + 0.7
    gx, tx = _pair(x, device, dtype)
    vx, vt = (gx[..., ::2], tx[..., ::2]) if noncontig else (gx, tx)
    w = b = (None, None)
    if affine:
        w = _pair(rng.standard_normal(nshape), device, dtype)
        b = _pair(rng.standard_normal(nshape), device, dtype)
    if rms:
        go, to = F.rms_norm(vx, nshape, w[0]), TF.rms_norm(vt, nshape, w[1])
    else:
        go, to = F.layer_norm(vx, nshape, w[0], b[0]), TF.layer_norm(vt, nshape, w[1], b[1])
    tol = TOL[dtype]
    assert go.dtype == np.dtype(dtype)
    np.testing.assert_allclose(go.detach().cpu().numpy().astype(np.float64), to.detach().double().numpy(),
                               rtol=tol, atol=tol)  # fmt: skip
    cot = rng.standard_normal(tuple(to.shape)).astype(dtype)
    go.backward(gpubp.tensor(cot, device=device))
    to.backward(torch.tensor(cot))
    pairs = [(gx, tx)] + ([w, b] if affine and not rms else [w] if affine else [])
    for gi, ti in pairs:
        assert gi.grad.dtype == np.dtype(dtype)
        scale = max(1.0, float(np.abs(ti.grad.double().numpy()).max()))
        np.testing.assert_allclose(gi.grad.cpu().numpy().astype(np.float64), ti.grad.double().numpy(),
                                   rtol=tol * 10, atol=tol * 10 * scale)  # fmt: skip


@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("shape,nshape", [((5, 8), (8,)), ((2, 3, 4, 5), (4, 5)), ((3, 130), (130,)), ((7,), (7,))])
def test_against_torch(device: str, rms: bool, dtype: type, shape: tuple, nshape: tuple) -> None:
    _compare(device, shape, nshape, rms, dtype)


@pytest.mark.parametrize("rms", [False, True])
def test_no_affine_and_noncontiguous(device: str, rms: bool) -> None:
    _compare(device, (4, 3, 6), (6,), rms, np.float32, affine=False)
    _compare(device, (4, 3, 6), (3, 6), rms, np.float64, noncontig=True)


def test_float16_input_float32_params(device: str) -> None:
    rng = rng_for("norm-fused-mixed")
    x = rng.standard_normal((6, 16))
    w, b = rng.standard_normal(16), rng.standard_normal(16)
    gx = gpubp.tensor(x.astype(np.float16), device=device, requires_grad=True)
    gw = gpubp.tensor(w.astype(np.float32), device=device, requires_grad=True)
    gb = gpubp.tensor(b.astype(np.float32), device=device, requires_grad=True)
    tx = torch.tensor(x.astype(np.float16), requires_grad=True)
    tw, tb = (
        torch.tensor(w.astype(np.float32), requires_grad=True),
        torch.tensor(b.astype(np.float32), requires_grad=True),
    )
    go, to = F.layer_norm(gx, (16,), gw, gb), TF.layer_norm(tx, (16,), tw, tb)
    assert go.dtype == np.float16
    np.testing.assert_allclose(go.detach().cpu().numpy(), to.detach().numpy(), atol=1e-2)
    go.sum().backward()
    to.sum().backward()
    assert gw.grad.dtype == np.float32
    np.testing.assert_allclose(gw.grad.cpu().numpy(), tw.grad.numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(gb.grad.cpu().numpy(), tb.grad.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("rms", [False, True])
def test_double_backward_matches_torch(device: str, rms: bool) -> None:
    rng = rng_for("norm-fused-gg", rms)
    x, w, b = rng.standard_normal((3, 5)) + 0.3, rng.standard_normal(5), rng.standard_normal(5)
    c = rng.standard_normal((3, 5))
    g_in = [gpubp.tensor(a, device=device, requires_grad=True) for a in (x, w, b)]
    t_in = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]

    def gp(x, w, b):
        return F.rms_norm(x, (5,), w) if rms else F.layer_norm(x, (5,), w, b)

    def tt(x, w, b):
        return TF.rms_norm(x, (5,), w) if rms else TF.layer_norm(x, (5,), w, b)

    n = 2 if rms else 3
    gg = gpubp.autograd.grad((gp(*g_in) * gpubp.tensor(c, device=device)).sum(), g_in[:n], create_graph=True)
    tg = torch.autograd.grad((tt(*t_in) * torch.tensor(c)).sum(), t_in[:n], create_graph=True)
    for a, e in zip(gg, tg):
        np.testing.assert_allclose(a.detach().cpu().numpy(), e.detach().numpy(), rtol=1e-9, atol=1e-9)
    gs = sum(((a * a).sum() for a in gg[:2]), gpubp.tensor(0.0, dtype=np.float64, device=device))
    ts = sum((a * a).sum() for a in tg[:2])
    gs.backward()
    ts.backward()
    for a, e in zip(g_in[:2], t_in[:2]):  # x and weight (dx and dweight do not depend on the bias)
        np.testing.assert_allclose(a.grad.cpu().numpy(), e.grad.numpy(), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("module", ["LayerNorm", "RMSNorm"])
def test_modules_match_torch(device: str, module: str) -> None:
    rng = rng_for("norm-fused-module", module)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    ours, theirs = getattr(gpubp.nn, module)((4, 6)), getattr(torch.nn, module)((4, 6))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.standard_normal((4, 6)).astype(np.float32)))
    ours.load_state_dict({k: gpubp.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    ours.to(device)
    gx, tx = gpubp.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    go, to = ours(gx), theirs(tx)
    np.testing.assert_allclose(go.detach().cpu().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    (go * go).sum().backward()
    (to * to).sum().backward()
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.cpu().numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_empty_input(device: str) -> None:
    x = gpubp.zeros((0, 4), device=device, requires_grad=True)
    w = gpubp.ones(4, device=device, requires_grad=True)
    b = gpubp.ones(4, device=device, requires_grad=True)
    y = F.layer_norm(x, (4,), w, b)
    assert y.shape == (0, 4)
    y.sum().backward()
    assert np.all(w.grad.cpu().numpy() == 0) and np.all(b.grad.cpu().numpy() == 0) and x.grad.shape == (0, 4)
    assert F.rms_norm(gpubp.zeros((2, 0), device=device), (0,)).shape == (2, 0)


def test_bad_parameters(device: str) -> None:
    x = gpubp.randn(2, 4, device=device)
    with pytest.raises(RuntimeError, match="layer_norm: expected weight to be of same shape"):
        F.layer_norm(x, (4,), gpubp.ones(3, device=device))
    with pytest.raises(RuntimeError, match="layer_norm: expected bias"):
        F.layer_norm(x, (4,), None, gpubp.ones(3, device=device))
    with pytest.raises(RuntimeError, match="layer_norm: mixed dtype"):
        F.layer_norm(x, (4,), gpubp.ones(4, dtype=np.float64, device=device))
