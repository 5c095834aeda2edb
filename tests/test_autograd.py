"""The tape: accumulation, fan-out, retain_graph, freeing, deep graphs, grad modes, functional grad,
version counters and in-place ops."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng_for

import gpubp


def _t(device: str, shape: tuple, key: str, requires_grad: bool = True) -> gpubp.Tensor:
    return gpubp.tensor(rng_for(key, shape).standard_normal(shape), device=device, requires_grad=requires_grad)


def test_tensor_used_twice_gets_both_gradients(device: str) -> None:
    x = _t(device, (3,), "twice")
    y = x * x + x  # d/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), 2 * x.detach().cpu().numpy() + 1)


def test_grad_accumulates_across_backward_calls(device: str) -> None:
    x = _t(device, (4,), "acc")
    (x * 3).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), np.full(4, 5.0))


def test_leaf_grads_never_alias(device: str) -> None:
    """add's VJP hands one array to both inputs; the leaves must still own separate buffers."""
    a, b = _t(device, (3,), "a"), _t(device, (3,), "b")
    (a + b).sum().backward()
    a.grad.mul_(10)
    np.testing.assert_allclose(b.grad.detach().cpu().numpy(), np.ones(3))
    c = _t(device, (2, 3), "c")
    d = _t(device, (6,), "d")
    (c.reshape(6) + d).sum().backward()
    c.grad.zero_()
    np.testing.assert_allclose(d.grad.detach().cpu().numpy(), np.ones(6))


def test_user_gradient_is_copied(device: str) -> None:
    x = _t(device, (3,), "usergrad")
    g = gpubp.ones(3, dtype=gpubp.float64, device=device)
    (x + 0.0).backward(g)
    x.grad.mul_(5)
    np.testing.assert_allclose(g.detach().cpu().numpy(), np.ones(3))


def test_retain_graph_allows_second_backward(device: str) -> None:
    x = _t(device, (3,), "retain")
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), 4 * np.exp(x.detach().cpu().numpy()))


def test_second_backward_through_freed_graph_raises_and_changes_nothing(device: str) -> None:
    x = _t(device, (3,), "freed")
    y = (x.exp() * 2).sum()
    y.backward()
    before = x.grad.detach().cpu().numpy().copy()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad.detach().cpu().numpy(), before)


def test_saved_buffers_are_released_after_backward(device: str) -> None:
    x = _t(device, (3,), "release")
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node.vals is None and node.saved == ()


def test_deep_chain_has_no_recursion_limit(device: str) -> None:
    x = gpubp.tensor([0.5], device=device, requires_grad=True)
    h = x
    for _ in range(100_000):
        h = h + 1e-6
    h.backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), [1.0])


def test_no_grad_and_enable_grad(device: str) -> None:
    x = _t(device, (2,), "modes")
    with gpubp.no_grad():
        y = x * 2
        with gpubp.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert gpubp.is_grad_enabled()

    @gpubp.no_grad()
    def f(t: gpubp.Tensor) -> gpubp.Tensor:
        return t * 2

    assert not f(x).requires_grad
    with gpubp.set_grad_enabled(False):
        assert not (x + 1).requires_grad


def test_functional_grad_leaves_dot_grad_alone(device: str) -> None:
    x, w = _t(device, (3,), "fx"), _t(device, (3,), "fw")
    h = x * w
    y = (h * h).sum()
    gx, gh = gpubp.grad(y, [x, h], retain_graph=True)
    assert x.grad is None and w.grad is None
    np.testing.assert_allclose(gh.detach().cpu().numpy(), 2 * h.detach().cpu().numpy())
    np.testing.assert_allclose(gx.detach().cpu().numpy(), 2 * h.detach().cpu().numpy() * w.detach().cpu().numpy())
    (gw,) = gpubp.grad(y, w)
    np.testing.assert_allclose(gw.detach().cpu().numpy(), 2 * h.detach().cpu().numpy() * x.detach().cpu().numpy())


def test_functional_grad_unused_input(device: str) -> None:
    x, u = _t(device, (2,), "ux"), _t(device, (2,), "uu")
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used"):
        gpubp.grad(y, [x, u], retain_graph=True)
    gx, gu = gpubp.grad(y, [x, u], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.detach().cpu().numpy(), [2.0, 2.0])


def test_inplace_on_saved_tensor_is_detected(device: str) -> None:
    x = _t(device, (3,), "ver")
    y = x.exp()  # saves its output
    z = y * 1
    y += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        (z + y).sum().backward()
    assert x.grad is None


def test_inplace_on_view_of_saved_tensor_is_detected(device: str) -> None:
    x = _t(device, (2, 3), "view")
    h = x * 1
    y = h.sin()  # saves h
    v = h[0]
    with gpubp.no_grad():
        v[1] = 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_setitem_with_grad(device: str) -> None:
    x = _t(device, (3, 4), "setx")
    v = _t(device, (4,), "setv")
    h = x * 2
    h[1] = v * 3
    h.sum().backward()
    expect = np.full((3, 4), 2.0)
    expect[1] = 0
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), expect)
    np.testing.assert_allclose(v.grad.detach().cpu().numpy(), np.full(4, 3.0))


def test_inplace_arithmetic_with_grad(device: str) -> None:
    x, y = _t(device, (3,), "iax"), _t(device, (3,), "iay")
    h = x * 1
    h *= y  # the old h is needed for y's gradient: kept in a snapshot
    h += 2
    h.sum().backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), y.detach().cpu().numpy())
    np.testing.assert_allclose(y.grad.detach().cpu().numpy(), x.detach().cpu().numpy())


def test_parameter_update_under_no_grad(device: str) -> None:
    w = _t(device, (3,), "upd")
    before = w.detach().cpu().numpy().copy()
    (w * w).sum().backward()
    with gpubp.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.detach().cpu().numpy(), before - 0.2 * before)
    assert w.is_leaf and w.requires_grad


def test_detach_and_requires_grad(device: str) -> None:
    x = _t(device, (3,), "det")
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    i = gpubp.arange(3, device=device)
    assert not (i * 2).requires_grad


def test_integer_result_does_not_require_grad(device: str) -> None:
    x = _t(device, (4,), "argm")
    assert not x.argmax().requires_grad
    assert not (x > 0).requires_grad


def test_backward_on_non_scalar_with_gradient(device: str) -> None:
    x = _t(device, (2, 3), "vec")
    y = x * 3
    g = gpubp.tensor(rng_for("g").standard_normal((2, 3)), device=device)
    y.backward(g)
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), 3 * g.detach().cpu().numpy())


def test_multiple_roots_backward(device: str) -> None:
    x = _t(device, (2,), "roots")
    a, b = (x * 2).sum(), (x * x).sum()
    gpubp.backward([a, b])
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), 2 + 2 * x.detach().cpu().numpy())


def test_grad_dtype_follows_leaf(device: str) -> None:
    x = gpubp.randn(3, device=device, requires_grad=True)  # float32
    y = gpubp.randn(3, dtype=gpubp.float64, device=device)
    (x * y).sum().backward()
    assert x.grad.dtype == gpubp.float32
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), y.detach().cpu().numpy().astype(np.float32), rtol=1e-6)


def test_accumulated_gradients_stay_exact_when_shared(device: str) -> None:
    """A sum the engine accumulated, handed on by add's VJP to two inputs, is never changed in place."""
    x = _t(device, (3,), "shared")
    a = x * 2
    b = x * 3
    s = a + a + a  # a's gradient is a sum the engine owns
    u = s + b  # add's VJP hands one array to s and to b
    v = (u * 1.0) + (u * 1.0) + s.sin()
    v.sum().backward()
    xs = x.detach().cpu().numpy()
    # v = 2u + sin(s), u = s + b, s = 6x, b = 3x -> dv/dx = 2 * (6 + 3) + 6 cos(6x)
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), 18 + 6 * np.cos(6 * xs), rtol=1e-12)
