"""The elementwise family beyond its gradient cases: dtypes, integer and bool inputs, 0-d and empty tensors,
operators, in-place and out= forms, errors, the special functions' NumPy fallbacks, and agreement with PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.special
from gpubp.backend import special as backend_special
from gpubp.errors import InputError

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def A(t: gpubp.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def G(a, device, **kw) -> gpubp.Tensor:
    return gpubp.tensor(a, device=device, **kw)


def _torch_dtype(t) -> np.dtype:
    return np.dtype(str(t.dtype).replace("torch.", ""))


def _same(g: gpubp.Tensor, t, rtol: float = 1e-6, atol: float = 1e-7) -> None:
    assert np.dtype(g.dtype) == _torch_dtype(t), (g.dtype, t.dtype)
    assert g.shape == tuple(t.shape)
    np.testing.assert_allclose(A(g), t.detach().numpy(), rtol=rtol, atol=atol, equal_nan=True)


# ---- the NumPy fallbacks of the special functions, against SciPy (called directly: SciPy stays untouched) -------

scipy_special = pytest.importorskip("scipy.special")


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    finite = np.isfinite(b)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(a[~finite & ~np.isnan(b)], b[~finite & ~np.isnan(b)])
    return float(np.max(np.abs(a[finite] - b[finite]) / np.maximum(np.abs(b[finite]), 1.0)))


def test_fallback_erfc_lgamma_digamma_match_scipy() -> None:
    rng = rng_for("fallback-gamma")
    x = np.concatenate([rng.uniform(-20, 20, 400), rng.uniform(1e-6, 3, 300), [0.0, -0.0, -1.0, -3.0, 1.0, 2.0, 1e10]])
    fb = backend_special.FALLBACKS
    assert _rel(fb["erfc"](x / 4), scipy_special.erfc(x / 4)) < 1e-14
    assert _rel(fb["lgamma"](x), scipy_special.gammaln(x)) < 1e-13
    assert _rel(fb["digamma"](x), scipy_special.digamma(x)) < 1e-12
    assert fb["digamma"](np.array([0.0]))[0] == -math.inf and math.isnan(fb["digamma"](np.array([-2.0]))[0])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_fallback_polygamma_matches_scipy(n: int) -> None:
    x = np.concatenate([rng_for("fallback-poly", n).uniform(-8, 15, 400), [0.5, 1.0, 30.0, 0.0, -1.0]])
    assert _rel(backend_special.polygamma(n, x), scipy_special.polygamma(n, x)) < 1e-12


def test_fallback_erfinv_matches_scipy_to_rounding() -> None:
    rng = rng_for("fallback-erfinv")
    tails = 1 - 10.0 ** -rng.uniform(1, 16, 200)
    y = np.concatenate([rng.uniform(-1, 1, 1000), tails, -tails, [0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -2.0, 1e-300]])
    got, want = backend_special.erfinv(y), scipy_special.erfinv(y)
    assert _rel(got, want) < 4e-15
    assert got[-4] == -math.inf and math.isnan(got[-3])


def test_fallback_i1_matches_scipy() -> None:
    x = np.concatenate([rng_for("fallback-i1").uniform(-60, 60, 500), [0.0, 1e-8, 29.999, 30.001, -700.0, 720.0]])
    assert _rel(backend_special.i1(x), scipy_special.i1(x)) < 2e-14


def test_ops_use_the_fallbacks_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_special, "_scipy_special", lambda: None)  # as if SciPy were not installed
    x = np.array([0.3, 1.7, 4.0, -2.5])
    np.testing.assert_allclose(A(gpubp.digamma(G(x, "cpu"))), scipy_special.digamma(x), rtol=1e-13)
    np.testing.assert_allclose(A(gpubp.polygamma(2, G(x, "cpu"))), scipy_special.polygamma(2, x), rtol=1e-13)
    np.testing.assert_allclose(A(gpubp.erfinv(G(x / 5, "cpu"))), scipy_special.erfinv(x / 5), rtol=1e-14)
    np.testing.assert_allclose(A(gpubp.special.i1(G(x, "cpu"))), scipy_special.i1(x), rtol=1e-14)


def test_fallbacks_keep_float32() -> None:
    x = np.float32([0.3, 0.7])
    for name, fn in backend_special.FALLBACKS.items():
        y = fn(1, x) if name == "polygamma" else fn(x)
        assert y.dtype == np.float32, name


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_special_keeps_the_input_dtype(device: str, dtype: str) -> None:
    x = G(np.array([0.25, 0.5, 1.5]), device).to(getattr(gpubp, dtype))
    for fn in (gpubp.erfc, gpubp.lgamma, gpubp.digamma, gpubp.erfinv, lambda t: gpubp.polygamma(2, t), gpubp.i0,
               gpubp.special.i1):  # fmt: skip
        assert fn(x * 0.5).dtype == np.dtype(dtype)


# ---- forward against PyTorch, dtypes ---------------------------------------------------------------------------

UNARY = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "exp2", "expm1", "log2", "log10",
         "reciprocal", "square", "erfc", "erfinv", "lgamma", "digamma", "sinc", "logit", "deg2rad", "rad2deg", "floor",
         "ceil", "trunc", "round", "frac", "sgn", "nan_to_num", "signbit", "isnan", "isinf", "isposinf", "isneginf",
         "isfinite", "fix", "i0", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "negative", "absolute",
         "positive"]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name", UNARY)
def test_unary_matches_torch(device: str, name: str) -> None:
    rng = rng_for("unary", name)
    a = np.concatenate([rng.uniform(-3, 3, 12), [0.0, -0.0, 1.0, 2.5, -2.5, np.inf, -np.inf, np.nan]])
    for dtype in ("float64", "float32"):
        x = a.astype(dtype)
        _same(getattr(gpubp, name)(G(x, device)), getattr(torch, name)(torch.tensor(x)), rtol=2e-6, atol=1e-6)
        _same(getattr(G(x, device), name)(), getattr(torch.tensor(x), name)(), rtol=2e-6, atol=1e-6)


INT_UNARY = ["floor", "ceil", "trunc", "round", "sgn", "square", "reciprocal", "exp2", "sinc", "signbit", "nan_to_num",
             "isnan", "isinf", "isfinite", "isposinf", "deg2rad", "lgamma", "erfinv", "digamma", "tan", "log2",
             "expm1", "fix"]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name", INT_UNARY)
def test_integer_inputs_give_torch_dtypes(device: str, name: str) -> None:
    for dtype in ("int64", "int32", "uint8"):
        a = np.array([0, 1, 2, 5, 7], dtype=dtype)
        _same(getattr(gpubp, name)(G(a, device)), getattr(torch, name)(torch.tensor(a)), rtol=1e-6)


@needs_torch
def test_bool_inputs(device: str) -> None:
    b = np.array([True, False, True])
    for name in ("square", "sgn", "exp2", "isnan", "isfinite", "signbit", "erfc"):
        _same(getattr(gpubp, name)(G(b, device)), getattr(torch, name)(torch.tensor(b)))
    for name in ("floor", "round", "trunc", "frac", "positive"):
        with pytest.raises(RuntimeError, match=name):
            getattr(gpubp, name)(G(b, device))
    with pytest.raises(RuntimeError, match="frac"):
        gpubp.frac(G(np.array([1, 2]), device))


def test_zero_dim_and_empty(device: str) -> None:
    x = G(0.5, device)
    for fn in (gpubp.tan, gpubp.erfinv, gpubp.floor, gpubp.sinc, gpubp.isnan, lambda t: gpubp.atan2(t, t)):
        assert fn(x).shape == ()
    e = G(np.zeros((0, 3)), device)
    for fn in (gpubp.digamma, gpubp.lgamma, gpubp.erfinv, lambda t: gpubp.polygamma(3, t), gpubp.round, gpubp.isinf):
        assert fn(e).shape == (0, 3)
    assert gpubp.hypot(e, G(np.ones(3), device)).shape == (0, 3)
    assert gpubp.equal(e, e) and gpubp.allclose(e, e)


@needs_torch
def test_special_values_match_torch(device: str) -> None:
    x = np.array([-2.0, -1.0, -0.5, 0.0, 1e-8, 0.5, 1.0, 3.0, 40.0])
    for name in ("lgamma", "digamma"):
        _same(getattr(gpubp, name)(G(x, device)), getattr(torch, name)(torch.tensor(x)), rtol=1e-12)
    for n in (1, 2, 4):
        p = np.array([0.3, 1.0, 2.5, 10.0])
        _same(gpubp.polygamma(n, G(p, device)), torch.polygamma(n, torch.tensor(p)), rtol=1e-12)
    y = np.array([-1.0, -0.999, -0.2, 0.0, 0.7, 1.0, 1.2])
    _same(gpubp.erfinv(G(y, device)), torch.erfinv(torch.tensor(y)), rtol=1e-12)
    _same(
        gpubp.sinc(G(np.array([0.0, 1.0, 0.5]), device)), torch.sinc(torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64))
    )


@needs_torch
def test_rounding_logit_nan_to_num_options(device: str) -> None:
    x = np.array([1.2345, -2.5, 0.5, 1234.5, 15.0, -0.05])
    for d in (0, 1, 2, -1, -2):
        _same(gpubp.round(G(x, device), decimals=d), torch.round(torch.tensor(x), decimals=d))
    p = np.array([-0.1, 0.0, 0.05, 0.5, 0.99, 1.0, 1.5])
    for eps in (None, 0.1):
        _same(gpubp.logit(G(p, device), eps), torch.logit(torch.tensor(p), eps))
    v = np.array([np.nan, np.inf, -np.inf, 1.5])
    _same(gpubp.nan_to_num(G(v, device)), torch.nan_to_num(torch.tensor(v)))
    _same(G(v, device).nan_to_num(2.0, posinf=9.0, neginf=-9.0), torch.tensor(v).nan_to_num(2.0, 9.0, -9.0))
    assert gpubp.signbit(G(np.array([-0.0, 0.0]), device)).tolist() == [True, False]


BINARY = ["atan2", "hypot", "fmod", "remainder", "floor_divide", "copysign", "logaddexp", "logaddexp2", "xlogy",
          "float_power", "arctan2", "logical_and", "logical_or", "logical_xor", "multiply", "subtract", "true_divide",
          "greater", "greater_equal", "less", "less_equal", "not_equal", "clamp_min", "clamp_max"]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_torch_with_broadcasting(device: str, name: str) -> None:
    rng = rng_for("binary", name)
    a = rng.uniform(-4, 4, (3, 4))
    b = np.where(rng.random(4) > 0.5, 1, -1) * rng.uniform(0.3, 2, 4)
    for dtype in ("float64", "float32"):
        ga, gb = G(a.astype(dtype), device), G(b.astype(dtype), device)
        ta, tb = torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype))
        _same(getattr(gpubp, name)(ga, gb), getattr(torch, name)(ta, tb), rtol=2e-6, atol=1e-6)
        _same(getattr(ga, name)(gb), getattr(ta, name)(tb), rtol=2e-6, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("name", ["fmod", "remainder", "floor_divide", "copysign", "atan2", "float_power", "xlogy",
                                  "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                                  "bitwise_right_shift", "logical_xor"])  # fmt: skip
def test_integer_binary_ops(device: str, name: str) -> None:
    a = np.array([-7, -3, 0, 3, 7, 100])
    b = np.array([2, -2, 3, -3, 2, 3])
    for dtype in ("int64", "int32"):
        _same(getattr(gpubp, name)(G(a.astype(dtype), device), G(b.astype(dtype), device)),
              getattr(torch, name)(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype))), rtol=1e-6)  # fmt: skip
    if name not in ("atan2", "logical_xor"):  # torch takes no Python number there
        _same(getattr(gpubp, name)(G(a, device), 3), getattr(torch, name)(torch.tensor(a), 3), rtol=1e-6)


@needs_torch
def test_divide_rounding_modes(device: str) -> None:
    a = np.array([-7, -3, 0, 3, 7, 9])
    b = np.array([2, -2, 3, -3, 2, 4])
    for mode in (None, "trunc", "floor"):
        for x, y in ((a, b), (a * 1.5, b), (a * 1.0, b * 0.7)):
            _same(gpubp.divide(G(x, device), G(y, device), rounding_mode=mode),
                  torch.div(torch.tensor(x), torch.tensor(y), rounding_mode=mode))  # fmt: skip
        _same(G(a, device).divide(2, rounding_mode=mode), torch.tensor(a).divide(2, rounding_mode=mode))
    with pytest.raises(InputError, match="divide.*rounding_mode"):
        gpubp.divide(G(a, device), 2, rounding_mode="round")


@needs_torch
def test_heaviside_lerp_addc(device: str) -> None:
    x = np.array([-1.5, 0.0, 2.0, np.nan])
    v = np.array([0.5, 0.25, 0.5, 0.5])
    _same(gpubp.heaviside(G(x, device), G(v, device)), torch.heaviside(torch.tensor(x), torch.tensor(v)))
    i = np.array([-2, 0, 3])
    _same(gpubp.heaviside(G(i, device), G(np.array([7]), device)), torch.heaviside(torch.tensor(i), torch.tensor([7])))
    with pytest.raises(RuntimeError, match="heaviside"):
        gpubp.heaviside(G(x, device), G(i[:1], device))
    rng = rng_for("lerp")
    s, e, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(-1, 2, (3, 1))
    _same(
        gpubp.lerp(G(s, device), G(e, device), G(w, device)),
        torch.lerp(torch.tensor(s), torch.tensor(e), torch.tensor(w)),
    )
    for wt in (0.2, 0.9):
        _same(G(s, device).lerp(G(e, device), wt), torch.tensor(s).lerp(torch.tensor(e), wt))
    t1, t2 = rng.standard_normal(4), rng.uniform(0.5, 2, (3, 1))
    _same(G(s, device).addcmul(G(t1, device), G(t2, device), value=-2),
          torch.tensor(s).addcmul(torch.tensor(t1), torch.tensor(t2), value=-2))  # fmt: skip
    _same(gpubp.addcdiv(G(s, device), G(t1, device), G(t2, device), value=0.5),
          torch.addcdiv(torch.tensor(s), torch.tensor(t1), torch.tensor(t2), value=0.5))  # fmt: skip
    with pytest.raises(RuntimeError, match="addcdiv"):
        gpubp.addcdiv(G(s, device), G(i, device), G(i, device))


@needs_torch
def test_xlogy_zero_and_nan(device: str) -> None:
    x = np.array([0.0, 0.0, 0.0, 2.0, 1.0])
    y = np.array([0.0, np.nan, 3.0, 0.0, -1.0])
    _same(gpubp.xlogy(G(x, device), G(y, device)), torch.xlogy(torch.tensor(x), torch.tensor(y)))
    _same(gpubp.xlogy(2.0, G(y, device)), torch.xlogy(2.0, torch.tensor(y)))
    _same(gpubp.xlogy(G(x, device), 3.0), torch.xlogy(torch.tensor(x), 3.0))
    # the gradient of xlogy with respect to x is 0 where x == 0, as PyTorch
    gx = G(x, device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    gpubp.xlogy(gx, G(np.full(5, 2.0), device)).sum().backward()
    torch.xlogy(tx, torch.full((5,), 2.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(A(gx.grad), tx.grad.numpy())


@needs_torch
def test_nan_to_num_gradient_is_zero_at_replaced_values(device: str) -> None:
    a = np.array([1.0, -1.0, 0.0, 4.0, 0.5])
    x, t = G(a, device, requires_grad=True), torch.tensor(a, requires_grad=True)
    gpubp.nan_to_num(gpubp.log(x) * 2.0, posinf=1.0).sum().backward()
    torch.nan_to_num(torch.log(t) * 2.0, posinf=1.0).sum().backward()
    np.testing.assert_allclose(A(x.grad), t.grad.numpy())  # 0 at the NaN replaced, NaN (0 * inf) at log(0)
    w = G(np.array([np.inf, 2.0, np.nan]), device, requires_grad=True)
    gpubp.nan_to_num(w * 3.0).sum().backward()
    np.testing.assert_allclose(A(w.grad), [0.0, 3.0, 0.0])


def test_closeness_and_predicates(device: str) -> None:
    a = G(np.array([1.0, np.nan, np.inf, -np.inf, 2.0]), device)
    b = G(np.array([1.0 + 1e-7, np.nan, np.inf, np.inf, 2.1]), device)
    assert gpubp.isclose(a, b).tolist() == [True, False, True, False, False]
    assert a.isclose(b, equal_nan=True).tolist() == [True, True, True, False, False]
    assert gpubp.isclose(a, b, atol=0.2).tolist()[-1] is True
    assert not gpubp.allclose(a, b) and a[:1].allclose(b[:1])
    assert gpubp.isposinf(a).tolist() == [False, False, True, False, False]
    assert a.isneginf().tolist() == [False, False, False, True, False]
    assert gpubp.isfinite(G(np.array([1, 2]), device)).tolist() == [True, True]
    i = G(np.array([1, 2, 3]), device)
    assert gpubp.equal(i, i.clone()) and not gpubp.equal(i, i[:2]) and not i.equal(i + 1)
    assert gpubp.isclose(i, i + 1, rtol=0.4).tolist() == [False, True, True]
    with pytest.raises(RuntimeError, match="isclose"):
        gpubp.isclose(i, a[:3])


def test_operators_bitwise_and_logical(device: str) -> None:
    t, f = G(np.array([True, True, False]), device), G(np.array([True, False, False]), device)
    assert (t & f).tolist() == [True, False, False] and (t | f).dtype == np.bool_
    assert (t ^ f).tolist() == [False, True, False] and (t & True).tolist() == [True, True, False]
    i = G(np.array([12, -5, 7]), device)
    assert (i & 10).tolist() == [8, 10, 2] and (6 | i).tolist() == [14, -1, 7] and (i ^ i).tolist() == [0, 0, 0]
    assert (
        (i << 2).tolist() == [48, -20, 28]
        and (i >> 1).tolist() == [6, -3, 3]
        and (1 << G(np.array([3]), device)).tolist() == [8]
    )
    x = G(np.array([1.5]), device)
    assert (t << 1).tolist() == [2, 2, 0]  # bool and an int: int64, as PyTorch
    for op in (lambda: x & x, lambda: x | 1, lambda: i ^ 1.5, lambda: x << 1, lambda: x.bitwise_xor(i)):
        with pytest.raises(RuntimeError, match="bitwise"):
            op()
    assert gpubp.logical_and(i, x.new_zeros(3)).tolist() == [False] * 3
    assert i.logical_or(0).tolist() == [True] * 3 and gpubp.logical_xor(i, t).tolist() == [False, False, True]


def test_operators_mod_floordiv_follow_python(device: str) -> None:
    vals = [-7, -3, 3, 7]
    i = G(np.array(vals), device)
    assert (i % 3).tolist() == [v % 3 for v in vals] and (i % -3).tolist() == [v % -3 for v in vals]
    assert (i // 2).tolist() == [v // 2 for v in vals] and (i // -2).tolist() == [v // -2 for v in vals]
    assert (20 // i).tolist() == [20 // v for v in vals] and (20 % i).tolist() == [20 % v for v in vals]
    f = G(np.array([-7.5, 7.5]), device)
    np.testing.assert_allclose(A(f % 2), [-7.5 % 2, 7.5 % 2])
    np.testing.assert_allclose(A(f // -2), [-7.5 // -2, 7.5 // -2])
    assert (+i) is i


def test_inplace_operators_bump_the_version(device: str) -> None:
    i = G(np.array([12, 5, 7]), device)
    ref = i
    v = i._vc[0]
    i &= 6
    i |= 1
    i ^= 2
    i <<= 1
    i >>= 1
    i %= 5
    i //= 2
    assert i is ref and i._vc[0] == v + 7
    assert i.tolist() == [
        (((((12 & 6) | 1) ^ 2) % 5) // 2),
        (((((5 & 6) | 1) ^ 2) % 5) // 2),
        (((((7 & 6) | 1) ^ 2) % 5) // 2),
    ]
    with pytest.raises(RuntimeError, match="can't be cast"):
        i %= 2.5
    with pytest.raises(InputError, match="shape"):
        i &= G(np.ones((2, 3), dtype=np.int64), device)
    assert i.tolist() == [
        (((((12 & 6) | 1) ^ 2) % 5) // 2),
        (((((5 & 6) | 1) ^ 2) % 5) // 2),
        (((((7 & 6) | 1) ^ 2) % 5) // 2),
    ]


INPLACE = ["floor_", "ceil_", "round_", "trunc_", "fix_", "frac_", "reciprocal_", "square_", "exp_", "log_",
           "sqrt_", "sigmoid_", "tanh_", "sin_", "tan_", "atan_", "sinh_", "expm1_", "log2_", "erfc_", "erfinv_",
           "lgamma_", "digamma_", "sinc_", "sgn_", "abs_", "neg_", "deg2rad_", "rad2deg_", "nan_to_num_", "logit_"]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name", INPLACE)
def test_inplace_unary_matches_torch(device: str, name: str) -> None:
    a = rng_for("inplace", name).uniform(0.1, 0.9, (2, 3))
    g, t = G(a, device), torch.tensor(a)
    v = g._vc[0]
    assert getattr(g, name)() is g and g._vc[0] == v + 1
    getattr(t, name)()
    _same(g, t, rtol=1e-6)


@needs_torch
def test_inplace_binary_matches_torch(device: str) -> None:
    rng = rng_for("inplace-binary")
    a, b, c = rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.5, 2, 3), rng.uniform(0.5, 2, (2, 1))
    for name, args in (("lerp_", (b, 0.3)), ("lerp_", (b, c)), ("addcmul_", (b, c)), ("addcdiv_", (b, c)),
                       ("clamp_min_", (1.0,)), ("clamp_max_", (b,)), ("fmod_", (b,)), ("remainder_", (0.7,)),
                       ("atan2_", (b,)), ("hypot_", (c,)), ("copysign_", (-1.0,)), ("xlogy_", (b,)),
                       ("pow_", (2,)), ("float_power_", (2,)), ("divide_", (b,))):  # fmt: skip
        g, t = G(a, device), torch.tensor(a)
        getattr(g, name)(*[G(x, device) if isinstance(x, np.ndarray) else x for x in args])
        getattr(t, name)(*[torch.tensor(x) if isinstance(x, np.ndarray) else x for x in args])
        _same(g, t, rtol=1e-6)
    g = G(a, device)
    g.polygamma_(1)
    _same(g, torch.tensor(a).polygamma_(1), rtol=1e-12)
    g = G(a, device)
    g.divide_(G(b, device), rounding_mode="floor")
    _same(g, torch.tensor(a).divide_(torch.tensor(b), rounding_mode="floor"))


@needs_torch
def test_inplace_gradients_match_torch(device: str) -> None:
    rng = rng_for("inplace-grad")
    a, e = rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.5, 2, 3)
    ga, ge = G(a, device, requires_grad=True), G(e, device, requires_grad=True)
    ta, te = torch.tensor(a, requires_grad=True), torch.tensor(e, requires_grad=True)
    for x, y in ((ga, ge), (ta, te)):
        z = x * 1.0
        z.lerp_(y, 0.3)
        z.addcmul_(y, y, value=0.5)
        z.atan2_(y)
        z.exp_()
        (z * z).sum().backward()
    np.testing.assert_allclose(A(ga.grad), ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(A(ge.grad), te.grad.numpy(), rtol=1e-10)
    # an argument alone requiring grad: the tensor written into joins the graph
    z = G(a, device)
    z.lerp_(ge, 0.25)
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        ga.floor_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        G(np.array([1, 2]), device).exp_()
    with pytest.raises(RuntimeError, match="float_power_.*float64"):
        G(np.array([1.0, 2.0]), device).float().float_power_(2)


@needs_torch
def test_frexp_nextafter_mvlgamma(device: str) -> None:
    x = np.array([1.5, -3.0, 0.0, 8.0, 1e-310, np.inf])
    m, e = gpubp.frexp(G(x, device))
    tm, te = torch.frexp(torch.tensor(x))
    _same(m, tm)
    _same(e, te)
    assert G(x, device).frexp().exponent.dtype == np.int32
    with pytest.raises(RuntimeError, match="frexp"):
        gpubp.frexp(G(np.array([1, 2]), device))
    for dtype in ("float32", "float64"):
        a, b = x[:4].astype(dtype), np.array([2.0, -4.0, -1.0, 8.0], dtype=dtype)
        _same(gpubp.nextafter(G(a, device), G(b, device)), torch.nextafter(torch.tensor(a), torch.tensor(b)))
    p = np.array([1.2, 2.5, 7.0])
    _same(G(p, device).mvlgamma(2), torch.tensor(p).mvlgamma(2), rtol=1e-12)
    _same(gpubp.special.multigammaln(G(p, device), 4), torch.special.multigammaln(torch.tensor(p), 4), rtol=1e-12)
    with pytest.raises(InputError, match="mvlgamma"):
        gpubp.mvlgamma(G(p, device), 0)


def test_out_argument(device: str) -> None:
    x = G(np.array([1.7, -0.3, 2.5]), device)
    o = gpubp.empty(3, device=device)
    assert gpubp.floor(x, out=o) is o and o.tolist() == [1.0, -1.0, 2.0]
    assert gpubp.atan2(x, x, out=o) is o
    np.testing.assert_allclose(A(o), np.arctan2(A(x), A(x)), rtol=1e-6)
    b = gpubp.empty(3, dtype=gpubp.bool, device=device)
    assert gpubp.isposinf(x, out=b) is b and gpubp.bitwise_and(x > 0, x < 2, out=b).tolist() == [True, False, False]
    with pytest.raises(RuntimeError, match="out="):
        gpubp.tan(G(np.array([0.3]), device, requires_grad=True), out=gpubp.empty(1, device=device))


def test_errors_name_the_op(device: str) -> None:
    x = G(np.ones((2, 3)), device)
    with pytest.raises(InputError, match="atan2.*broadcast"):
        gpubp.atan2(x, G(np.ones(4), device))
    with pytest.raises(InputError, match="polygamma"):
        gpubp.polygamma(-1, x)
    with pytest.raises(TypeError, match="polygamma"):
        gpubp.polygamma(1.5, x)
    with pytest.raises(TypeError, match="tan"):
        gpubp.tan(0.5)
    with pytest.raises(TypeError, match="lerp"):
        gpubp.lerp(x, x, "0.5")
    with pytest.raises(RuntimeError, match="round"):
        gpubp.round(G(np.array([1, 2]), device), decimals=1)


@needs_torch
def test_special_namespace_matches_torch(device: str) -> None:
    p = rng_for("special-ns").uniform(0.1, 0.9, (2, 3))
    g, t = G(p, device), torch.tensor(p)
    for name in ("erf", "erfc", "erfinv", "expm1", "exp2", "log1p", "gammaln", "digamma", "psi", "sinc", "logit",
                 "round", "expit", "entr", "ndtr", "i0", "i1"):  # fmt: skip
        _same(getattr(gpubp.special, name)(g), getattr(torch.special, name)(t), rtol=1e-12)
    _same(gpubp.special.polygamma(2, g), torch.special.polygamma(2, t), rtol=1e-12)
    _same(gpubp.special.xlogy(g, g), torch.special.xlogy(t, t), rtol=1e-12)
    _same(gpubp.special.xlog1py(g, g), torch.special.xlog1py(t, t), rtol=1e-12)
    _same(gpubp.special.softmax(g, 1), torch.special.softmax(t, 1), rtol=1e-12)
    _same(gpubp.special.logsumexp(g, 0), torch.special.logsumexp(t, 0), rtol=1e-12)


def test_aliases_are_the_same_functions() -> None:
    assert gpubp.arcsin is gpubp.ops.asin and gpubp.fix is gpubp.ops.trunc and gpubp.multiply is gpubp.ops.mul
    assert gpubp.greater is gpubp.ops.gt and gpubp.absolute is gpubp.ops.abs and gpubp.arctan2 is gpubp.ops.atan2
