"""gpubp.autograd.functional against torch.autograd.functional: vjp, jvp, jacobian, hessian, vhp, hvp on float64
functions (values, result nesting, create_graph, strict mode and the errors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import rng_for

import gpubp
import gpubp.autograd.functional as F

torch = pytest.importorskip("torch")
TF = torch.autograd.functional


# Each case: name -> (builder(lib, consts) -> function, input shapes, constant shapes). The builder closes over
# constants made in that library, so one formula runs on gpubp and on PyTorch.
def _poly(lib: Any, c: tuple) -> Callable:
    return lambda x: x**3 - 2.0 * x**2 * c[0] + 0.5 * x


def _trig(lib: Any, c: tuple) -> Callable:
    return lambda x: (x.sin() * (0.3 * x).exp()).tanh() + x.cos() * c[0]


def _matmul(lib: Any, c: tuple) -> Callable:
    return lambda x: (x @ c[0]).tanh()


def _softmax(lib: Any, c: tuple) -> Callable:
    return lambda x: (x @ c[0]).softmax(dim=-1)


def _two_inputs(lib: Any, c: tuple) -> Callable:
    return lambda x, y: (x * y).sin() + x.exp() * y**2


def _two_outputs(lib: Any, c: tuple) -> Callable:
    return lambda x, y: ((x * c[0]).tanh() * y.sum(), (x**2).sum() * y.sigmoid())


def _scalar_fanout(lib: Any, c: tuple) -> Callable:
    def f(x: Any) -> Any:
        s = (x * c[0]).sum()  # one 0-d value feeding three ops: its gradient sums three parts
        return s * x.sin() + s.exp() * x + s * 2.0

    return f


def _mlp_loss(lib: Any, c: tuple) -> Callable:
    def loss(x: Any, w1: Any, b1: Any, w2: Any) -> Any:
        h = (x @ w1 + b1).tanh()
        return ((h @ w2 - c[0]) ** 2).mean()

    return loss


VECTOR_CASES = {  # functions from tensors to tensors, for jacobian, vjp and jvp
    "poly_vec": (_poly, [(4,)], [(4,)]),
    "poly_mat": (_poly, [(2, 3)], [(2, 3)]),
    "trig": (_trig, [(3, 2)], [(3, 2)]),
    "matmul": (_matmul, [(2, 3)], [(3, 4)]),
    "softmax": (_softmax, [(2, 4)], [(4, 3)]),
    "scalar_fanout": (_scalar_fanout, [(3,)], [(3,)]),
    "two_inputs": (_two_inputs, [(3,), (3,)], []),
    "two_outputs": (_two_outputs, [(2, 2), (3,)], [(2, 2)]),
    "mlp": (_mlp_loss, [(3, 2), (2, 4), (4,), (4, 1)], [(3, 1)]),
}


def _summed(case: tuple) -> tuple:
    """The case made scalar (sum of all outputs), for hessian, vhp and hvp."""
    build, shapes, consts = case

    def builder(lib: Any, c: tuple) -> Callable:
        f = build(lib, c)

        def scalar(*xs: Any) -> Any:
            out = f(*xs)
            outs = out if isinstance(out, tuple) else (out,)
            total = outs[0].sum()
            for o in outs[1:]:
                total = total + o.sum()
            return total

        return scalar

    return builder, shapes, consts


SCALAR_CASES = {name: _summed(case) for name, case in VECTOR_CASES.items() if name != "matmul"}


def _arrays(rng: np.random.Generator, shapes: list) -> list:
    return [rng.standard_normal(s) for s in shapes]


def _gp(arrays: list, device: str, requires_grad: bool = False) -> tuple:
    return tuple(gpubp.tensor(a, device=device, requires_grad=requires_grad) for a in arrays)


def _th(arrays: list, requires_grad: bool = False) -> tuple:
    return tuple(torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad) for a in arrays)


def _setup(case: tuple, device: str, key: Any) -> tuple:
    """(gpubp function, torch function, input arrays, rng) for one case on fresh random data."""
    build, shapes, const_shapes = case
    rng = rng_for(key)
    consts = _arrays(rng, const_shapes)
    return build(gpubp, _gp(consts, device)), build(torch, _th(consts)), _arrays(rng, shapes), rng


def _flatten(results: Any) -> tuple:
    """The tensors of a (nested) result, in order."""
    if isinstance(results, (tuple, list)):
        return tuple(t for r in results for t in _flatten(r))
    return (results,)


def _unpack(xs: tuple, as_tuple: bool) -> Any:
    return xs if as_tuple else xs[0]


def assert_same(got: Any, want: Any, rtol: float = 1e-9) -> None:
    """Same nesting (Tensor vs tuples), shapes, dtypes and values. PyTorch's forward-mode jacobian of tuples gives
    lists of lists, against its documentation; gpubp gives the documented tuples."""
    if isinstance(want, (tuple, list)):
        assert isinstance(got, tuple), f"expected a tuple, got {type(got).__name__}"
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, rtol)
        return
    assert isinstance(got, gpubp.Tensor), f"expected a Tensor, got {type(got).__name__}"
    assert tuple(got.shape) == tuple(want.shape)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("name", sorted(VECTOR_CASES))
def test_jacobian_matches_torch(device: str, name: str, vectorize: bool) -> None:
    f, tf, arrays, _ = _setup(VECTOR_CASES[name], device, ("jacobian", name))
    as_tuple = len(arrays) > 1
    got = F.jacobian(f, _unpack(_gp(arrays, device), as_tuple), vectorize=vectorize)
    assert_same(got, TF.jacobian(tf, _unpack(_th(arrays), as_tuple), vectorize=vectorize))


@pytest.mark.parametrize("name", ["poly_mat", "softmax", "two_outputs", "mlp"])
def test_forward_mode_jacobian_matches_torch(device: str, name: str) -> None:
    f, tf, arrays, _ = _setup(VECTOR_CASES[name], device, ("jacfwd", name))
    as_tuple = len(arrays) > 1
    got = F.jacobian(f, _unpack(_gp(arrays, device), as_tuple), vectorize=True, strategy="forward-mode")
    want = TF.jacobian(tf, _unpack(_th(arrays), as_tuple), vectorize=True, strategy="forward-mode")
    assert_same(got, want)


def test_single_input_in_a_tuple_gives_tuples(device: str) -> None:
    f, tf, arrays, _ = _setup(VECTOR_CASES["trig"], device, "one-tuple")
    assert_same(F.jacobian(f, _gp(arrays, device)), TF.jacobian(tf, _th(arrays)))
    g, tg, arrays2, _ = _setup(VECTOR_CASES["two_outputs"], device, "one-tuple-2")
    assert_same(F.jacobian(g, _gp(arrays2, device)), TF.jacobian(tg, _th(arrays2)))


@pytest.mark.parametrize("name", sorted(VECTOR_CASES))
def test_vjp_and_jvp_match_torch(device: str, name: str) -> None:
    f, tf, arrays, rng = _setup(VECTOR_CASES[name], device, ("vjp", name))
    as_tuple = len(arrays) > 1
    out = tf(*_th(arrays))
    outs = out if isinstance(out, tuple) else (out,)
    u = _arrays(rng, [tuple(o.shape) for o in outs])
    v = _arrays(rng, [a.shape for a in arrays])
    got = F.vjp(f, _unpack(_gp(arrays, device), as_tuple), _unpack(_gp(u, device), isinstance(out, tuple)))
    want = TF.vjp(tf, _unpack(_th(arrays), as_tuple), _unpack(_th(u), isinstance(out, tuple)))
    assert_same(got, want)
    got = F.jvp(f, _unpack(_gp(arrays, device), as_tuple), _unpack(_gp(v, device), as_tuple))
    want = TF.jvp(tf, _unpack(_th(arrays), as_tuple), _unpack(_th(v), as_tuple))
    assert_same(got, want)


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_hessian_matches_torch(device: str, name: str) -> None:
    f, tf, arrays, _ = _setup(SCALAR_CASES[name], device, ("hessian", name))
    as_tuple = len(arrays) > 1
    assert_same(F.hessian(f, _unpack(_gp(arrays, device), as_tuple)), TF.hessian(tf, _unpack(_th(arrays), as_tuple)))


@pytest.mark.parametrize("name", ["poly_vec", "two_inputs", "mlp"])
def test_hessian_forward_over_reverse_matches_torch(device: str, name: str) -> None:
    f, tf, arrays, _ = _setup(SCALAR_CASES[name], device, ("hessian-fwd", name))
    as_tuple = len(arrays) > 1
    kw = {"vectorize": True, "outer_jacobian_strategy": "forward-mode"}
    got = F.hessian(f, _unpack(_gp(arrays, device), as_tuple), **kw)
    assert_same(got, TF.hessian(tf, _unpack(_th(arrays), as_tuple), **kw))


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_vhp_and_hvp_match_torch(device: str, name: str) -> None:
    f, tf, arrays, rng = _setup(SCALAR_CASES[name], device, ("hvp", name))
    as_tuple = len(arrays) > 1
    v = _arrays(rng, [a.shape for a in arrays])
    for ours, theirs in ((F.vhp, TF.vhp), (F.hvp, TF.hvp)):
        got = ours(f, _unpack(_gp(arrays, device), as_tuple), _unpack(_gp(v, device), as_tuple))
        assert_same(got, theirs(tf, _unpack(_th(arrays), as_tuple), _unpack(_th(v), as_tuple)))


def test_non_contiguous_inputs(device: str) -> None:
    f, tf, arrays, rng = _setup(VECTOR_CASES["trig"], device, "noncontig")
    a = arrays[0].T.copy()  # (2, 3): its transpose is the (3, 2) input, a strided view
    v = rng.standard_normal((3, 2))
    g_in, t_in = gpubp.tensor(a, device=device).t(), torch.tensor(a).t()
    assert_same(F.jacobian(f, g_in), TF.jacobian(tf, t_in))
    assert_same(F.jvp(f, g_in, gpubp.tensor(v, device=device)), TF.jvp(tf, t_in, torch.tensor(v)))


def test_v_may_be_omitted_for_one_element(device: str) -> None:
    x = np.array([0.7])
    for ours, theirs, fn in (
        (F.vjp, TF.vjp, lambda t: (t.sin() * t).sum()),
        (F.jvp, TF.jvp, lambda t: t.exp() * t),
        (F.vhp, TF.vhp, lambda t: (t**3).sum()),
        (F.hvp, TF.hvp, lambda t: (t.tanh() * t).sum()),
    ):
        got = ours(fn, gpubp.tensor(x, device=device))
        assert_same(got, theirs(fn, torch.tensor(x)))


def test_user_inputs_are_left_alone(device: str) -> None:
    f, _, arrays, rng = _setup(SCALAR_CASES["two_inputs"], device, "alone")
    xs = _gp(arrays, device)
    v = _gp(_arrays(rng, [a.shape for a in arrays]), device)
    for result in (F.vjp(f, xs), F.jvp(f, xs, v), F.jacobian(f, xs), F.hessian(f, xs), F.hvp(f, xs, v)):
        assert all(r.grad_fn is None and not r.requires_grad for r in _flatten(result))
    assert all(not x.requires_grad and x.grad is None for x in xs)
    leaves = _gp(arrays, device, requires_grad=True)
    F.jacobian(f, leaves)
    F.vjp(f, leaves)
    assert all(x.grad is None and x.is_leaf for x in leaves)


def test_works_under_no_grad(device: str) -> None:
    f, tf, arrays, _ = _setup(VECTOR_CASES["softmax"], device, "nograd")
    with gpubp.no_grad():
        got = F.jacobian(f, _gp(arrays, device)[0])
        assert gpubp.is_grad_enabled() is False
    assert_same(got, TF.jacobian(tf, _th(arrays)[0]))


def _grad_of(results: Any, inputs: tuple, weights: list, lib: Any) -> tuple:
    """Gradient of sum(weight * result) over the flattened results, with respect to ``inputs``."""
    flat = _flatten(results)
    total = sum((r * w).sum() for r, w in zip(flat, weights))
    return lib.autograd.grad(total, inputs, allow_unused=True)


def _flat_shapes(results: Any) -> list:
    return [tuple(r.shape) for r in _flatten(results)]


CREATE_GRAPH = {
    "jacobian": (F.jacobian, TF.jacobian, "two_outputs", False),
    "vjp": (F.vjp, TF.vjp, "mlp", False),
    "jvp": (F.jvp, TF.jvp, "two_inputs", True),
    "hessian": (F.hessian, TF.hessian, "two_inputs", False),
    "vhp": (F.vhp, TF.vhp, "mlp", True),
    "hvp": (F.hvp, TF.hvp, "two_inputs", True),
}


@pytest.mark.parametrize("op", sorted(CREATE_GRAPH))
def test_create_graph_results_differentiate_again(device: str, op: str) -> None:
    """With create_graph=True the results carry a graph back to the user's inputs (and to v): their gradients match."""
    ours, theirs, name, takes_v = CREATE_GRAPH[op]
    scalar = op in ("hessian", "vhp", "hvp") or name == "mlp"
    f, tf, arrays, rng = _setup((SCALAR_CASES if scalar else VECTOR_CASES)[name], device, ("create_graph", op))
    gx, tx = _gp(arrays, device, requires_grad=True), _th(arrays, requires_grad=True)
    gargs, targs = [gx], [tx]
    if takes_v:
        v = _arrays(rng, [a.shape for a in arrays])
        gv, tv = _gp(v, device, requires_grad=True), _th(v, requires_grad=True)
        gargs.append(gv)
        targs.append(tv)
    got = ours(f, *gargs, create_graph=True)
    want = theirs(tf, *targs, create_graph=True)
    assert_same(got, want)
    weights = _arrays(rng, _flat_shapes(want))
    wrt_g = gx + (gv if takes_v else ())
    wrt_t = tx + (tv if takes_v else ())
    g_grads = _grad_of(got, wrt_g, _gp(weights, device), gpubp)
    t_grads = _grad_of(want, wrt_t, _th(weights), torch)
    for g, t, ref in zip(g_grads, t_grads, wrt_t):
        g = gpubp.zeros(tuple(ref.shape), dtype=gpubp.float64) if g is None else g
        assert_same(g, torch.zeros_like(ref) if t is None else t)


def test_create_graph_hessian_of_mlp_third_order(device: str) -> None:
    f, tf, arrays, rng = _setup(SCALAR_CASES["mlp"], device, "third")
    gx, tx = _gp(arrays, device, requires_grad=True), _th(arrays, requires_grad=True)
    got, want = F.hessian(f, gx, create_graph=True), TF.hessian(tf, tx, create_graph=True)
    assert_same(got, want)
    weights = _arrays(rng, _flat_shapes(want))
    assert_same(_grad_of(got, gx, _gp(weights, device), gpubp), _grad_of(want, tx, _th(weights), torch))


def _unused_second(lib: Any, c: tuple) -> Callable:
    return lambda x, y: (x**2).sum() * 3.0


def _linear(lib: Any, c: tuple) -> Callable:
    return lambda x, y: (x * 2.0).sum() + (y**2).sum()


def _constant(lib: Any, c: tuple) -> Callable:
    return lambda x, y: c[0] * 2.0


STRICT = {  # ops that raise in strict mode for the function, and give zeros otherwise
    "unused": (_unused_second, ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]),
    "linear": (_linear, ["hessian", "vhp", "hvp"]),
    "constant": (_constant, ["vjp", "jvp", "jacobian"]),
}


def _call(lib_f: Any, op: str, fn: Callable, xs: tuple, vs: tuple, strict: bool) -> Any:
    if op in ("jacobian", "hessian"):
        return getattr(lib_f, op)(fn, xs, strict=strict)
    return getattr(lib_f, op)(fn, xs, vs if op != "vjp" else None, strict=strict)


@pytest.mark.parametrize("case", sorted(STRICT))
def test_strict_raises_and_non_strict_gives_zeros(device: str, case: str) -> None:
    build, ops = STRICT[case]
    shape = (3,) if case != "constant" else ()  # vjp's v may be omitted only for a one-element output
    f, tf, arrays, rng = _setup((build, [(3,), (2,)], [shape]), device, ("strict", case))
    v = _arrays(rng, [(3,), (2,)])
    for op in ops:
        with pytest.raises(RuntimeError, match="strict"):
            _call(TF, op, tf, _th(arrays), _th(v), strict=True)
        with pytest.raises(RuntimeError, match="strict"):
            _call(F, op, f, _gp(arrays, device), _gp(v, device), strict=True)
        got = _call(F, op, f, _gp(arrays, device), _gp(v, device), strict=False)
        assert_same(got, _call(TF, op, tf, _th(arrays), _th(v), strict=False))


def test_strict_accepts_dependent_functions(device: str) -> None:
    f, tf, arrays, rng = _setup(SCALAR_CASES["two_inputs"], device, "strict-ok")
    v = _arrays(rng, [(3,), (3,)])
    for op in ("vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"):
        assert_same(
            _call(F, op, f, _gp(arrays, device), _gp(v, device), True), _call(TF, op, tf, _th(arrays), _th(v), True)
        )


def test_v_shape_and_length_errors(device: str) -> None:
    x2 = (gpubp.tensor(np.ones(3), device=device), gpubp.tensor(np.ones(2), device=device))
    x1 = gpubp.tensor(np.linspace(0.1, 0.9, 4), device=device)
    with pytest.raises(RuntimeError, match="invalid size"):
        F.vjp(lambda x: x.sin(), x1, gpubp.tensor(np.ones(3), device=device))
    with pytest.raises(RuntimeError, match=r"Entry 1 in v has invalid size: should be \(2,\) but got \(3,\)"):
        F.jvp(lambda x, y: x.sum() * y, x2, (x2[0], x2[0]))
    with pytest.raises(RuntimeError, match="invalid length: should be 2 but got 1"):
        F.hvp(lambda x, y: (x.sum() * y).sum(), x2, (x2[0],))
    with pytest.raises(RuntimeError, match="single Tensor"):
        F.vhp(lambda x: (x**3).sum(), x1, (x1, x1))
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda x: x.sin(), x1)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.jvp(lambda x: x.sin(), x1)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.hvp(lambda x: (x**3).sum(), x1)


def test_argument_errors_match_torch(device: str) -> None:
    x = np.linspace(-1.0, 1.0, 4).reshape(2, 2)
    cases = [
        (TypeError, "jacobian", lambda m, t: m.jacobian(lambda a: a.sin(), [t])),
        (TypeError, "vjp", lambda m, t: m.vjp(lambda a: a.sin(), (t, 3.0))),
        (TypeError, "outputs", lambda m, t: m.jacobian(lambda a: [a.sin()], t)),
        (RuntimeError, "single element", lambda m, t: m.hessian(lambda a: a.sin(), t)),
        (RuntimeError, "single Tensor", lambda m, t: m.vhp(lambda a: (a.sum(), a.sum()), t, t)),
        (RuntimeError, "single element", lambda m, t: m.hvp(lambda a: a.exp(), t, t)),
        (AssertionError, "strategy", lambda m, t: m.jacobian(lambda a: a.sin(), t, strategy="sideways")),
        (AssertionError, "strategy", lambda m, t: m.hessian(lambda a: a.sum(), t, outer_jacobian_strategy="up")),
        (NotImplementedError, "vectorize=True", lambda m, t: m.jacobian(lambda a: a, t, strategy="forward-mode")),
        (
            NotImplementedError,
            "create_graph",
            lambda m, t: m.jacobian(lambda a: a, t, create_graph=True, strategy="forward-mode", vectorize=True),
        ),
        (RuntimeError, "strict", lambda m, t: m.jacobian(lambda a: a.sin(), t, strict=True, vectorize=True)),
        (
            RuntimeError,
            "strict",
            lambda m, t: m.jacobian(lambda a: a.sin(), t, strict=True, vectorize=True, strategy="forward-mode"),
        ),
    ]
    for exc, words, call in cases:
        with pytest.raises(exc, match=words):
            call(TF, torch.tensor(x))
        with pytest.raises(exc, match=words):
            call(F, gpubp.tensor(x, device=device))
    with pytest.raises(ValueError, match="strategy"):  # gpubp's error is a ValueError too
        F.jacobian(lambda a: a, gpubp.tensor(x, device=device), strategy="sideways")
