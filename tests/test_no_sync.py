"""Backward never reads device data on the host, proven on the CPU.

The tensors here hold ``StrictArray`` data: a NumPy array that refuses every conversion to
a host value (bool(), float(), int(), item(), tolist(), and indexing with it as a Python
int). Any ``if array.any():``, ``.item()`` or ``float(...)`` in an op or in the engine fails
the test, exactly as it would stall a GPU.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from conftest import rng_for

import gpubp


class HostRead(AssertionError):
    pass


class StrictArray(np.ndarray):
    strict = False

    def _refuse(self, what: str) -> None:
        if StrictArray.strict:
            raise HostRead(f"{what} on device data")

    def __bool__(self) -> bool:
        self._refuse("bool()")
        return super().__bool__()

    def __float__(self) -> float:
        self._refuse("float()")
        return super().__float__()

    def __int__(self) -> int:
        self._refuse("int()")
        return super().__int__()

    def __index__(self) -> int:
        self._refuse("__index__")
        return super().__index__()

    def item(self, *args: object) -> object:
        self._refuse("item()")
        return super().item(*args)

    def tolist(self) -> object:
        self._refuse("tolist()")
        return super().tolist()


@contextlib.contextmanager
def strict() -> object:
    StrictArray.strict = True
    try:
        yield
    finally:
        StrictArray.strict = False


def _strict(t: gpubp.Tensor) -> gpubp.Tensor:
    t._data = t._data.view(StrictArray)
    return t


def test_strict_array_catches_host_reads() -> None:
    a = np.ones(3).view(StrictArray)
    with strict(), pytest.raises(HostRead):
        if (a > 0).any():
            pass
    with strict(), pytest.raises(HostRead):
        a.sum().item()


def _model(params: list[gpubp.Tensor], x: gpubp.Tensor, y: gpubp.Tensor) -> gpubp.Tensor:
    """A graph touching every family of ops."""
    w1, b1, w2, b2 = params
    h = gpubp.linear(x, w1, b1)
    h = gpubp.gelu(h) + gpubp.silu(h) * 0.5 + gpubp.leaky_relu(h) + gpubp.elu(h) - gpubp.softplus(h)
    h = gpubp.relu(h) + gpubp.sigmoid(h) * gpubp.tanh(h)
    h = gpubp.cat([h, h[:, :2] * 2], 1)[:, : h.shape[1]]
    h = h / (h.std(1, keepdim=True) + 1) + gpubp.pad(h, (1, 0))[:, 1:]
    h = h.clamp(-3, 3) + gpubp.maximum(h, h * 0.5) + gpubp.where(h > 0, h, 0.0)
    logits = gpubp.linear(h, w2, b2)
    loss = gpubp.cross_entropy(logits, y, label_smoothing=0.1)
    loss = loss + gpubp.log_softmax(logits, 1).mean() * 0.01 + logits.logsumexp(1).var() * 0.01
    loss = loss + w1.norm() * 1e-3 + w2.abs().max() * 1e-3 + (w1**2).sum().sqrt() * 1e-3
    loss = loss + gpubp.softmax(logits, 0)[y, 0].sum() * 0.01 + logits.reshape(-1).split(5)[1].sum() * 0.01
    return loss + (x @ w1.T).exp().mean() * 1e-3


def test_backward_never_reads_device_data_on_the_host() -> None:
    rng = rng_for("nosync")
    shapes = [(16, 8), (16,), (4, 16), (4,)]
    raw = [rng.standard_normal(s) * 0.3 for s in shapes]
    x_np, y_np = rng.standard_normal((6, 8)), np.array([0, 3, 1, 1, 2, 3])

    ref = [gpubp.tensor(p, device="cpu", requires_grad=True) for p in raw]
    _model(ref, gpubp.tensor(x_np, device="cpu"), gpubp.tensor(y_np, device="cpu")).backward()

    params = [_strict(gpubp.tensor(p, device="cpu", requires_grad=True)) for p in raw]
    x, y = _strict(gpubp.tensor(x_np, device="cpu")), _strict(gpubp.tensor(y_np, device="cpu"))
    with strict():
        loss = _model(params, x, y)
        loss.backward()
    for p, r in zip(params, ref):
        assert isinstance(p.grad._data, StrictArray) or isinstance(p.grad._data, np.ndarray)
        np.testing.assert_allclose(np.asarray(p.grad._data), r.grad.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)


def test_fused_optimizer_updates_never_read_device_data() -> None:
    from gpubp.backend import get_backend

    be = get_backend("cpu")
    rng = rng_for("nosync-opt")
    p = [rng.standard_normal(5).view(StrictArray) for _ in range(2)]
    g = [rng.standard_normal(5).view(StrictArray) for _ in range(2)]

    def z() -> list:
        return [np.zeros(5).view(StrictArray) for _ in range(2)]

    step = np.asarray(3.0).view(StrictArray)
    with strict():
        be.sgd_update(p, g, z(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
        be.adam_update(p, g, z(), z(), step=step, lr=1e-3, weight_decay=0.01, decoupled=True)
        be.rmsprop_update(p, g, z(), lr=1e-3, momentum=0.9, bufs=z(), grad_avgs=z())
        be.adagrad_update(p, g, z(), step=step, lr=1e-2, lr_decay=0.1)
        be.sq_norm(g)
