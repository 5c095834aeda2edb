"""Autograd in depth: gradients of gradients, tensor hooks, custom Functions, checkpointing, saved-tensor hooks and
anomaly detection, each against PyTorch's behaviour."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn
from gpubp.utils.checkpoint import checkpoint, checkpoint_sequential

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")


def _np(t: gpubp.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _pair(device: str, shape: tuple, key: str) -> tuple:
    a = rng_for(key, shape).standard_normal(shape)
    return gpubp.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)


def test_zero_dim_value_used_three_times_gets_every_contribution(device: str) -> None:
    w = gpubp.tensor(np.array(2.0), device=device, requires_grad=True)
    (w * 1 + w * 10 + w * 100).backward()
    assert float(w.grad) == 111.0
    x = gpubp.tensor(rng_for("s3", (3,)).standard_normal(3), device=device, requires_grad=True)
    s = x.sum()
    (s * 1 + s * 10 + s * 100 + s * 1000).backward()
    np.testing.assert_allclose(_np(x.grad), np.full(3, 1111.0))


# ---- gradients of gradients ------------------------------------------------------------------------------------


@needs_torch
def test_gradient_penalty_matches_torch(device: str) -> None:
    """WGAN-GP's penalty: d/dW of (||d critic(x) / dx|| - 1)^2, a second derivative through linear, tanh, softplus."""
    gx, tx = _pair(device, (5, 3), "gp-x")
    gw1, tw1 = _pair(device, (4, 3), "gp-w1")
    gw2, tw2 = _pair(device, (1, 4), "gp-w2")

    def critic(lib, F, x, w1, w2):  # noqa: ANN001, ANN202
        return F.softplus(F.linear(lib.tanh(F.linear(x, w1)), w2)).sum()

    (g,) = gpubp.autograd.grad(critic(gpubp, gpubp.nn.functional, gx, gw1, gw2), gx, create_graph=True)
    (t,) = torch.autograd.grad(critic(torch, torch.nn.functional, tx, tw1, tw2), tx, create_graph=True)
    ((g.norm(dim=1) - 1) ** 2).mean().backward()
    ((t.norm(dim=1) - 1) ** 2).mean().backward()
    for a, b in ((gw1, tw1), (gw2, tw2), (gx, tx)):
        np.testing.assert_allclose(_np(a.grad), b.grad.numpy(), rtol=1e-9, atol=1e-12)


@needs_torch
def test_third_derivative_and_create_graph_backward(device: str) -> None:
    gx, tx = _pair(device, (4,), "third")
    gy = (gx.sin() * gx.exp()).sum()
    ty = (tx.sin() * tx.exp()).sum()
    gy.backward(create_graph=True)
    ty.backward(create_graph=True)
    assert gx.grad.grad_fn is not None and gx.grad.requires_grad
    g1 = gx.grad
    gx.grad = None
    (g2,) = gpubp.autograd.grad(g1.sum(), gx, create_graph=True)
    (g3,) = gpubp.autograd.grad(g2.sum(), gx)
    t1 = tx.grad
    (t2,) = torch.autograd.grad(t1.sum(), tx, create_graph=True)
    (t3,) = torch.autograd.grad(t2.sum(), tx)
    for a, b in ((g1, t1), (g2, t2), (g3, t3)):
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-10)


@needs_torch
def test_hessian_vector_product_of_a_network_matches_torch(device: str) -> None:
    """Hv through conv, pooling, batch norm, log_softmax and cross-entropy, by double backward."""
    rng = rng_for("hvp", 0)
    x = rng.standard_normal((2, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3)) * 0.5
    v = rng.standard_normal(w.shape)
    target = np.array([1, 4])

    def loss(lib, F, w, x, target):  # noqa: ANN001, ANN202
        h = F.conv2d(x, w, padding=1)
        h = F.max_pool2d(F.gelu(h), 2)
        h = F.avg_pool2d(h, 1).reshape(2, -1)[:, :5]
        return F.cross_entropy(h, target)

    gw = gpubp.tensor(w, device=device, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    gl = loss(gpubp, gpubp.nn.functional, gw, gpubp.tensor(x, device=device), gpubp.tensor(target, device=device))
    tl = loss(torch, torch.nn.functional, tw, torch.tensor(x), torch.tensor(target))
    (g,) = gpubp.autograd.grad(gl, gw, create_graph=True)
    (t,) = torch.autograd.grad(tl, tw, create_graph=True)
    (hv,) = gpubp.autograd.grad((g * gpubp.tensor(v, device=device)).sum(), gw)
    (tv,) = torch.autograd.grad((t * torch.tensor(v)).sum(), tw)
    np.testing.assert_allclose(_np(hv), tv.numpy(), rtol=1e-8, atol=1e-10)


def test_create_graph_keeps_the_graph_and_first_order_stays_plain(device: str) -> None:
    x = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * x).sum()
    (g,) = gpubp.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (g2,) = gpubp.autograd.grad(y, x)  # retain_graph defaults to create_graph: the graph is still there
    assert not g2.requires_grad and g2.grad_fn is None
    with pytest.raises(RuntimeError, match="second time"):
        gpubp.autograd.grad(y, x)


def test_backward_inputs_and_materialize_grads(device: str) -> None:
    a = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = gpubp.tensor([3.0, 4.0], device=device, requires_grad=True)
    c = gpubp.tensor([5.0], device=device, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    np.testing.assert_allclose(_np(a.grad), [3.0, 4.0])
    assert b.grad is None
    ga, gc = gpubp.autograd.grad((a * 2).sum(), [a, c], materialize_grads=True)
    np.testing.assert_allclose(_np(gc), [0.0])
    with pytest.raises(RuntimeError, match="not used"):
        gpubp.autograd.grad((a * 2).sum(), [a, c])


def test_grad_runs_only_the_part_of_the_graph_that_leads_to_its_inputs(device: str) -> None:
    """Several plain inner steps (test-time fine-tuning, first-order MAML): each grad stops at p, so the graph
    before p is neither run nor freed, as PyTorch's."""
    w = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    p = w
    for _ in range(3):
        (g,) = gpubp.autograd.grad((p * p).sum(), p)
        p = p - 0.1 * g
    np.testing.assert_allclose(_np(p), [0.512, 1.024], rtol=1e-6)
    p.sum().backward()  # the whole chain back to w is still there
    np.testing.assert_allclose(_np(w.grad), [1.0, 1.0])


# ---- tensor hooks --------------------------------------------------------------------------------------------


@needs_torch
def test_tensor_hooks_match_torch(device: str) -> None:
    results = {}
    for lib, make in (("gpubp", lambda a: gpubp.tensor(a, device=device, requires_grad=True)),
                      ("torch", lambda a: torch.tensor(a, requires_grad=True))):  # fmt: skip
        seen: list = []
        x = make(np.array([1.0, -2.0, 3.0]))
        x.register_hook(lambda g: g * 2)
        handle = x.register_hook(lambda g, seen=seen: seen.append("removed"))
        handle.remove()
        y = x * x
        y.register_hook(lambda g, seen=seen: seen.append(("y", g.tolist())))
        y.retain_grad()
        y.register_hook(lambda g: g + 1)  # retain_grad keeps the final value, after every hook
        x.register_post_accumulate_grad_hook(lambda t, seen=seen: seen.append(("post", t.grad.tolist())))
        (y * 3).sum().backward()
        results[lib] = (seen, x.grad.tolist(), y.grad.tolist(), y.retains_grad, x.retains_grad)
    assert results["gpubp"] == results["torch"]


def test_hook_errors(device: str) -> None:
    x = gpubp.tensor([1.0], device=device)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        x.register_hook(lambda g: g)
    y = gpubp.tensor([1.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (y * 2).register_post_accumulate_grad_hook(lambda t: None)
    y.register_hook(lambda g: gpubp.zeros(3, device=device))
    with pytest.raises(ValueError, match="shape"):
        (y * 2).sum().backward()


def test_hooks_fire_in_functional_grad(device: str) -> None:
    x = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (g,) = gpubp.autograd.grad((x * 3).sum(), x)
    np.testing.assert_allclose(_np(g), [30.0, 30.0])
    assert x.grad is None


# ---- custom Functions ------------------------------------------------------------------------------------------


class _Cube(gpubp.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x)
        ctx.k = k
        return x**3 * k

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        (x,) = ctx.saved_tensors
        return g * 3 * x**2 * ctx.k, None


class _SortWithIndex(gpubp.autograd.Function):
    """Two outputs, one non-differentiable; forward without ctx, with setup_context."""

    @staticmethod
    def forward(x):  # noqa: ANN001, ANN205
        order = np.argsort(x.detach().cpu().numpy())
        idx = gpubp.tensor(order, device=x.device)
        return x[idx], idx

    @staticmethod
    def setup_context(ctx, inputs, output):  # noqa: ANN001, ANN205
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])
        ctx.n = inputs[0].shape[0]

    @staticmethod
    def backward(ctx, g, g_idx):  # noqa: ANN001, ANN205
        (idx,) = ctx.saved_tensors
        assert g_idx is None or not g_idx.requires_grad
        out = gpubp.zeros(ctx.n, dtype=g.dtype, device=g.device)
        out[idx] = g
        return out


def test_function_first_and_second_order(device: str) -> None:
    x = gpubp.tensor([1.0, 2.0, 3.0], dtype=gpubp.float64, device=device, requires_grad=True)
    y = _Cube.apply(x, 2.0)
    assert y.grad_fn is not None and "Cube" in repr(y.grad_fn)
    (g,) = gpubp.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g), 6 * np.array([1.0, 4.0, 9.0]))
    (h,) = gpubp.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_np(h), 12 * np.array([1.0, 2.0, 3.0]))
    assert gpubp.testing.gradcheck(lambda a: _Cube.apply(a, 0.5), [x])


def test_function_outputs_setup_context_and_non_differentiable(device: str) -> None:
    x = gpubp.tensor([3.0, 1.0, 2.0], device=device, requires_grad=True)
    values, idx = _SortWithIndex.apply(x)
    assert values.requires_grad and not idx.requires_grad
    (values * gpubp.tensor([1.0, 10.0, 100.0], device=device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [100.0, 1.0, 10.0])


def test_function_needs_input_grad_dirty_and_errors(device: str) -> None:
    seen = {}

    class Scale(gpubp.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):  # noqa: ANN001, ANN205
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            return g, g, g  # one too many

    class AddOneInPlace(gpubp.autograd.Function):
        @staticmethod
        def forward(ctx, a):  # noqa: ANN001, ANN205
            a.add_(1)
            ctx.mark_dirty(a)
            return a

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            return g

    a = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = gpubp.tensor([3.0, 4.0], device=device)
    out = Scale.apply(a, b)
    assert seen["needs"] == (True, False)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        out.sum().backward()
    c = a * 1
    d = AddOneInPlace.apply(c)
    assert d is c and c.grad_fn is not None
    (d * 2).sum().backward()
    np.testing.assert_allclose(_np(a.grad), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        AddOneInPlace.apply(gpubp.tensor([1.0], device=device, requires_grad=True))
    with pytest.raises(RuntimeError, match="apply"):
        Scale()


def test_once_differentiable_refuses_double_backward(device: str) -> None:
    class Square(gpubp.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @gpubp.autograd.once_differentiable
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    (g,) = gpubp.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g), [2.0, 4.0])
    assert not g.requires_grad  # as PyTorch: the result needs grad only when the incoming gradient does
    v = gpubp.ones(2, device=device, requires_grad=True)
    (g,) = gpubp.autograd.grad(Square.apply(x), x, grad_outputs=v, create_graph=True)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_saved_tensor_modified_in_place_is_refused(device: str) -> None:
    x = gpubp.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 1
    out = _Cube.apply(y, 1.0)
    with gpubp.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


# ---- checkpointing and saved-tensor hooks ----------------------------------------------------------------------


def _net(device: str) -> nn.Module:
    gpubp.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 16), nn.GELU(),
                         nn.Linear(16, 1)).to(device)  # fmt: skip


def _grads(net: nn.Module, x: gpubp.Tensor) -> list:
    out = [_np(p.grad) for p in net.parameters()] + [_np(x.grad)]
    net.zero_grad()
    x.grad = None
    return out


def test_checkpoint_gives_the_same_gradients(device: str) -> None:
    net = _net(device)
    x = gpubp.randn(4, 8, device=device, requires_grad=True)
    gpubp.manual_seed(5)
    plain = net(x).sum()
    plain.backward()
    ref = _grads(net, x)
    for run in (lambda: checkpoint(net, x, use_reentrant=False), lambda: checkpoint(net, x, use_reentrant=True),
                lambda: checkpoint_sequential(net, 3, x, use_reentrant=False)):  # fmt: skip
        gpubp.manual_seed(5)  # the same dropout masks; the recomputation replays them itself
        out = run().sum()
        assert float(out) == pytest.approx(float(plain), rel=1e-6)
        out.backward()
        for a, b in zip(ref, _grads(net, x)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoint_with_functional_grad_and_double_backward(device: str) -> None:
    net = _net(device).double().eval()
    x = gpubp.randn(3, 8, dtype=gpubp.float64, device=device, requires_grad=True)
    (g,) = gpubp.autograd.grad(checkpoint(net, x, use_reentrant=False).sum(), x, create_graph=True)
    (g_ref,) = gpubp.autograd.grad(net(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g), _np(g_ref))
    (h,) = gpubp.autograd.grad((g * g).sum(), x)
    (h_ref,) = gpubp.autograd.grad((g_ref * g_ref).sum(), x)
    np.testing.assert_allclose(_np(h), _np(h_ref), rtol=1e-10)


def test_checkpoint_holds_less_memory_between_forward_and_backward() -> None:
    """A deep MLP: with checkpointing, what forward leaves for backward is a small part of what it leaves without."""
    gpubp.manual_seed(1)
    layers = []
    for _ in range(24):
        layers += [nn.Linear(128, 128), nn.Tanh()]
    net = nn.Sequential(*layers).to("cpu")
    x = gpubp.randn(512, 128, device="cpu", requires_grad=True)

    def held(fn) -> int:  # noqa: ANN001
        tracemalloc.start()
        out = fn()
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        out.sum().backward()
        return size

    plain = held(lambda: net(x))
    ckpt = held(lambda: checkpoint_sequential(net, 4, x, use_reentrant=False))
    assert ckpt < plain / 2, (ckpt, plain)


def test_saved_tensors_hooks_pack_and_unpack(device: str) -> None:
    packed = []

    def pack(t: gpubp.Tensor) -> tuple:
        packed.append(t.shape)
        return ("mine", t.cpu())

    def unpack(p: tuple) -> gpubp.Tensor:
        assert p[0] == "mine"
        return p[1].to(device)

    x = gpubp.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    with gpubp.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = (x.exp() * x).sum()
    assert packed
    y.backward()
    xn = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(_np(x.grad), np.exp(xn) * (xn + 1), rtol=1e-6)
    with gpubp.autograd.graph.save_on_cpu():
        z = (x.sin() * x).sum()
    x.grad = None
    z.backward()
    np.testing.assert_allclose(_np(x.grad), np.cos(xn) * xn + np.sin(xn), rtol=1e-6)


# ---- anomaly detection -----------------------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_and_the_line(device: str) -> None:
    x = gpubp.tensor([1.0, 0.0, 4.0], device=device, requires_grad=True)
    with gpubp.autograd.detect_anomaly():
        assert gpubp.autograd.is_anomaly_enabled()
        y = x.sqrt()  # the NaN's origin: d sqrt / dx at 0 is inf, times 0
        loss = (y * 0).sum()
        with pytest.raises(RuntimeError, match=r"Function 'sqrt' returned nan") as err:
            loss.backward()
    assert "test_autograd_depth.py" in str(err.value) and "x.sqrt()" in str(err.value)
    assert x.grad is None
    assert not gpubp.autograd.is_anomaly_enabled()
    y = x.sqrt()
    (y * 0).sum().backward()  # without anomaly mode the NaN passes silently, as PyTorch
    assert np.isnan(_np(x.grad)[1])


def test_set_detect_anomaly(device: str) -> None:
    gpubp.autograd.set_detect_anomaly(True)
    try:
        x = gpubp.tensor([0.0, 2.0], device=device, requires_grad=True)
        loss = (x.log() * 0).sum()  # d log / dx at 0: 0 / 0
        with pytest.raises(RuntimeError, match="'log'"):
            loss.backward()
    finally:
        gpubp.autograd.set_detect_anomaly(False)
    assert not gpubp.autograd.is_anomaly_enabled()


def test_fit_with_detect_anomaly_names_the_op_in_the_model() -> None:
    """A NaN planted mid-training: sqrt's gradient at relu's zeros is inf, and relu's gradient there inf * 0 = NaN.
    fit with detect_anomaly stops at that first NaN, naming relu (as PyTorch's anomaly mode would) and the line."""
    from gpubp.data import DataLoader, TensorDataset
    from gpubp.train import fit

    class Planted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
            return self.lin(x).relu().sqrt()  # relu gives exact zeros: d sqrt / dx there is inf

    gpubp.manual_seed(0)
    model = Planted().to("cpu")
    data = TensorDataset(gpubp.randn(32, 4, device="cpu"), gpubp.randint(0, 3, (32,), device="cpu"))
    opt = gpubp.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match=r"Function 'relu' returned nan") as err:
        fit(model, nn.CrossEntropyLoss(), opt, DataLoader(data, 8), epochs=2, progress=False, detect_anomaly=True)
    assert "self.lin(x).relu().sqrt()" in str(err.value)
    assert not gpubp.autograd.is_anomaly_enabled()
