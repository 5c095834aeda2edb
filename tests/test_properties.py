"""Property tests (Hypothesis): broadcasting and reductions on arbitrary shapes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gpubp
from gpubp.testing import gradcheck

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
fast = settings(max_examples=60, deadline=None)


@st.composite
def broadcastable_pair(draw: st.DrawFn) -> tuple[tuple, tuple]:
    a, b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)).input_shapes
    return a, b


@st.composite
def array_of(draw: st.DrawFn, shape: tuple) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).standard_normal(shape)


@fast
@given(data=st.data(), op=st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
def test_binary_ops_broadcast_like_numpy(data: st.DataObject, op: str) -> None:
    sa, sb = data.draw(broadcastable_pair())
    a_np, b_np = data.draw(array_of(sa)), data.draw(array_of(sb))
    if op == "div":
        b_np = np.where(np.abs(b_np) < 0.3, 1.0, b_np)
    a = gpubp.tensor(a_np, requires_grad=True)
    b = gpubp.tensor(b_np, requires_grad=True)
    out = getattr(gpubp, op)(a, b)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "maximum": np.maximum}[op]
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref(a_np, b_np), rtol=1e-12)
    out.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    if op == "mul":
        # d/da sum(a*b) = b summed over the dims broadcasting added
        expect = np.broadcast_to(b_np, np.broadcast_shapes(sa, sb))
        lead = expect.ndim - len(sa)
        expect = expect.sum(axis=tuple(range(lead))) if lead else expect
        expect = expect.sum(axis=tuple(i for i, n in enumerate(sa) if n == 1), keepdims=True) if sa else expect
        np.testing.assert_allclose(a.grad.detach().cpu().numpy(), np.reshape(expect, sa), rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_broadcast_gradients_pass_gradcheck(data: st.DataObject) -> None:
    sa, sb = data.draw(broadcastable_pair())
    a = gpubp.tensor(data.draw(array_of(sa)), requires_grad=True)
    b = gpubp.tensor(data.draw(array_of(sb)), requires_grad=True)
    gradcheck(lambda x, y: x * y + x.exp() - y, [a, b])


@st.composite
def shape_and_dims(draw: st.DrawFn) -> tuple[tuple, object]:
    shape = draw(shapes)
    if not shape or draw(st.booleans()):
        return shape, None
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    if draw(st.booleans()):
        dims = [d - len(shape) for d in dims]  # negative dims too
    return shape, tuple(dims) if len(dims) > 1 or draw(st.booleans()) else dims[0]


@fast
@given(data=st.data(), op=st.sampled_from(["sum", "mean", "amax", "amin", "logsumexp", "var"]), keepdim=st.booleans())
def test_reductions_match_numpy(data: st.DataObject, op: str, keepdim: bool) -> None:
    shape, dim = data.draw(shape_and_dims())
    x_np = data.draw(array_of(shape))
    if op == "logsumexp" and dim is None:  # PyTorch's logsumexp takes no dim=None: name every dim instead
        dim = tuple(range(len(shape))) if shape else 0
    x = gpubp.tensor(x_np, requires_grad=True)
    out = getattr(x, op)(dim, keepdim=keepdim) if op != "var" else x.var(dim, correction=0, keepdim=keepdim)
    axis = dim if shape else None
    ref = {
        "sum": lambda: x_np.sum(axis=axis, keepdims=keepdim),
        "mean": lambda: x_np.mean(axis=axis, keepdims=keepdim),
        "amax": lambda: x_np.max(axis=axis, keepdims=keepdim),
        "amin": lambda: x_np.min(axis=axis, keepdims=keepdim),
        "logsumexp": lambda: np.log(np.exp(x_np).sum(axis=axis, keepdims=keepdim)),
        "var": lambda: x_np.var(axis=axis, keepdims=keepdim),
    }[op]()
    assert out.shape == np.shape(ref)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    assert x.grad.shape == shape
    if op == "sum":
        np.testing.assert_array_equal(x.grad.detach().cpu().numpy(), np.ones(shape))
