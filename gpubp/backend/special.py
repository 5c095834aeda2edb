"""Special functions per backend: ``special(be, name, x, *args)`` for erfc, erfinv, lgamma, digamma, polygamma, i0
and i1.

NumPy: SciPy's ``scipy.special`` when it is importable (SciPy is only a test dependency), else the fallbacks below,
written with NumPy alone (each exact to a few float64 ulps; the tests check them against SciPy). CuPy:
``cupyx.scipy.special``. Every function keeps the input's float dtype; float16 is computed in float32, as
``CupyBackend.erf``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_SCIPY: list = []  # [scipy.special, or None without SciPy], filled at the first call: importing it costs 0.4 s


def _scipy_special() -> Any:
    if not _SCIPY:
        try:
            import scipy.special
        except ImportError:  # pragma: no cover - exercised by calling the fallbacks directly
            _SCIPY.append(None)
        else:
            _SCIPY.append(scipy.special)
    return _SCIPY[0]


# gpubp's name -> (scipy / cupyx name)
_NAMES = {"erfc": "erfc", "erfinv": "erfinv", "lgamma": "gammaln", "digamma": "digamma", "polygamma": "polygamma",
          "i0": "i0", "i1": "i1"}  # fmt: skip


def special(be: Any, name: str, x: Any, *args: Any) -> Any:
    """``name`` applied to the float array ``x`` on backend ``be`` (polygamma takes its order ``n`` first in
    ``args``: ``special(be, "polygamma", x, n)``), in ``x``'s dtype."""
    dt = x.dtype
    v = x.astype(np.float32) if dt == np.float16 else x
    if be.xp is np:
        host = _scipy_special()
        fn = getattr(host, _NAMES[name]) if host is not None else FALLBACKS[name]
        if name == "i0":  # NumPy has its own (Cephes' Chebyshev expansion)
            fn = np.i0
        y = fn(args[0], v) if name == "polygamma" else fn(v)
    else:
        fn = be.xp.i0 if name == "i0" else getattr(be._cupyx.scipy.special, _NAMES[name])
        # cupyx's polygamma broadcasts its order with cupy.broadcast_arrays, which takes arrays only
        y = fn(be.xp.asarray(args[0]), v) if name == "polygamma" else fn(v)
    return y.astype(dt, copy=False)


# ---- a float32 erf in NumPy passes ---------------------------------------------------------------------------------

# log(erfc(t)) / t on [0, 4] as a polynomial in t, degree 14, highest first: a Chebyshev least-squares fit to SciPy's
# erfc (float64). erf(t) = -expm1(t * P(t)) is then within 3e-9 relative of erf on [0, 4], and erf rounds to 1 in
# float32 beyond 4 (erfc(4) = 1.5e-8 < half an ulp of 1)
_ERF_LOG_ERFC = (-4.1581106893787553e-10, 1.2924796059782657e-08, -1.8079853426874752e-07, 1.491290271573391e-06,
                 -7.899261955689342e-06, 2.6544117474102605e-05, -4.3945597994733226e-05, -6.452052162426751e-05,
                 0.0006333972806086458, -0.0017275793268338336, 0.00022380936688541219, 0.019124308677716282,
                 -0.10277196642418304, -0.6366198150029191, -1.1283791663896738)  # fmt: skip
_ERF_LOG_ERFC_32 = tuple(np.float32(c) for c in _ERF_LOG_ERFC)


def erf32(x: Any) -> Any:
    """erf of a float32 (or float16) NumPy array in its dtype, within 3 ulp of float32 (checked over every float32 in
    [0, 4]): the fit above, evaluated in float32 by ~35 vectorized passes. Float64 evaluation would be within half an
    ulp but take 1.8x longer, and erf is GELU's main cost on the CPU; float64 input goes to SciPy, exact."""
    v = np.array(x, dtype=np.float32, ndmin=1)  # 1-d for a 0-d input, whose ufunc results are scalars
    t = np.abs(v)
    np.minimum(t, np.float32(4.0), out=t)  # NaN stays NaN
    p = _ERF_LOG_ERFC_32[0] * t
    p += _ERF_LOG_ERFC_32[1]
    for c in _ERF_LOG_ERFC_32[2:]:
        p *= t
        p += c
    p *= t  # log(erfc(|x|)), vanishing with |x|: expm1 keeps erf's relative accuracy near 0
    np.expm1(p, out=p)
    np.negative(p, out=p)
    np.copysign(p, v, out=p)  # erf is odd; -0.0 stays -0.0
    return p.astype(x.dtype, copy=False).reshape(np.shape(x))


# ---- NumPy fallbacks (used without SciPy) ------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _lgamma_scalar(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # a pole (0, -1, -2, ...): SciPy's gammaln gives +inf there
        return math.inf


_lgamma = np.vectorize(_lgamma_scalar, otypes=[np.float64])


def erfc(x: Any) -> Any:
    """1 - erf(x) without cancellation (math.erfc, elementwise)."""
    return _erfc(np.asarray(x, dtype=np.float64)).astype(_out_dtype(x), copy=False)


def lgamma(x: Any) -> Any:
    """log|Gamma(x)| (math.lgamma, elementwise; +inf at the poles)."""
    return _lgamma(np.asarray(x, dtype=np.float64)).astype(_out_dtype(x), copy=False)


def _out_dtype(x: Any) -> Any:
    dt = np.asarray(x).dtype
    return dt if dt.kind == "f" else np.dtype(np.float64)


# psi(x) ~ log x - 1/(2x) - sum_k B_2k / (2k x^2k) for x >= 10: the terms up to x^-14 leave an error below 1e-17
_PSI_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def digamma(x: Any) -> Any:
    """psi(x) = Gamma'(x) / Gamma(x): the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic
    series; psi(1 - x) - pi / tan(pi x) (reflection) for x < 0; -inf at 0 (+inf at -0.0), NaN at negative integers."""
    dt = _out_dtype(x)
    x = np.asarray(x, dtype=np.float64)
    neg = x < 0
    v = np.where(neg, 1.0 - x, x)
    shift = np.zeros_like(v)
    small = v < 10
    while small.any():
        with np.errstate(divide="ignore"):  # psi's pole at 0: the -inf is set below
            shift = np.where(small, shift + 1.0 / np.where(small, v, 1.0), shift)
        v = np.where(small, v + 1.0, v)
        small = v < 10
    inv2 = 1.0 / (v * v)
    series = np.zeros_like(v)
    for c in reversed(_PSI_ASYMPTOTIC):
        series = (series + c) * inv2
    psi = np.log(v) - 0.5 / v - series - shift
    with np.errstate(divide="ignore", invalid="ignore"):
        # tan(pi x) = tan(pi (x - round(x))): reduced first, so that pi * x does not lose x's fraction
        psi = np.where(neg, psi - np.pi / np.tan(np.pi * (x - np.round(x))), psi)
    psi = np.where(neg & (x == np.floor(x)), np.nan, psi)
    psi = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), psi)
    return psi.astype(dt, copy=False)


# (2j)! / B_2j, as Cephes' zeta
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15, 1.8152105401943546773e17,
           -7.1661652561756670113e18)  # fmt: skip


def _hurwitz_zeta(s: float, q: Any) -> Any:
    """zeta(s, q) = sum_k (q + k)^-s for an integer s >= 2: the first terms summed up to q + k >= 10, then
    Euler-Maclaurin (Cephes' method); +inf at q = 0, -1, -2, ..."""
    q = np.asarray(q, dtype=np.float64)
    terms = np.maximum(10.0, np.ceil(10.0 - q))  # the direct terms each element needs
    total = np.zeros_like(q)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for k in range(int(terms.max()) if q.size else 0):
            total = total + np.where(k < terms, np.power(q + k, -s), 0.0)
        w = q + terms
        b = np.power(w, -s)
        total = total + w * b / (s - 1) + 0.5 * b
        a, k = 1.0, 0.0
        for coef in _ZETA_A:
            a *= s + k
            b = b / w
            total = total + a * b / coef
            k += 1
            a *= s + k
            b = b / w
            k += 1
    return np.where((q <= 0) & (q == np.floor(q)), np.inf, total)


def polygamma(n: int, x: Any) -> Any:
    """The n-th derivative of digamma: (-1)^(n+1) n! zeta(n + 1, x) for n >= 1, digamma for n = 0."""
    if n == 0:
        return digamma(x)
    dt = _out_dtype(x)
    z = _hurwitz_zeta(float(n + 1), x)
    return ((-1.0) ** (n + 1) * math.factorial(n) * z).astype(dt, copy=False)


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): the single-precision version
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941)  # fmt: skip
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
               0.00943887047, 1.00167406, 2.83297682)  # fmt: skip
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _horner(coefs: tuple, t: Any) -> Any:
    p = np.full_like(t, coefs[0])
    for c in coefs[1:]:
        p = p * t + c
    return p


def erfinv(y: Any) -> Any:
    """The inverse of erf on (-1, 1): Giles' single-precision approximation refined by five Newton steps (on erf
    near 0, on log(erfc) where |y| > 0.5, whose 1 - |y| is exact), exact to float64 rounding; +-inf at +-1, NaN outside
    [-1, 1]."""
    dt = _out_dtype(y)
    y = np.asarray(y, dtype=np.float64)
    inside = np.abs(y) < 1
    a = np.where(inside, np.abs(y), 0.0)
    w = -np.log((1.0 - a) * (1.0 + a))
    central = a * _horner(_GILES_CENTRAL, w - 2.5)
    tail = a * _horner(_GILES_TAIL, np.sqrt(np.maximum(w, 5.0)) - 3.0)
    x = np.where(w < 5.0, central, tail)
    high = a > 0.5
    c = np.where(high, 1.0 - a, 1.0)
    for _ in range(5):
        slope = _TWO_OVER_SQRT_PI * np.exp(-x * x)
        ec = np.where(high, _erfc(x), 1.0)
        # Newton on log(erfc(x)) = log(1 - |y|) in the tail, where erfc falls faster than any step could follow
        step = np.where(high, (np.log(ec) - np.log(c)) * ec / slope, -(_erf(x) - a) / slope)
        x = x + step
    x = np.copysign(x, y)
    x = np.where(inside, x, np.where(np.abs(y) == 1, np.copysign(np.inf, y), np.nan))
    return x.astype(dt, copy=False)


def i1(x: Any) -> Any:
    """The modified Bessel function of the first kind, order 1: its power series (positive terms, no cancellation)
    for |x| <= 30, Hankel's asymptotic expansion beyond."""
    dt = _out_dtype(x)
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    small = np.minimum(a, 30.0)
    term = small / 2.0
    total = term.copy()
    q = small * small / 4.0
    for k in range(1, 80):
        term = term * q / (k * (k + 1))
        total = total + term
    big = np.maximum(a, 30.0)
    # e^x / sqrt(2 pi x) * sum_k (-1)^k prod_j (4 - (2j - 1)^2) / (k! (8x)^k)
    coef = np.ones_like(big)
    series = np.ones_like(big)
    for k in range(1, 12):
        coef = coef * -(4.0 - (2 * k - 1) ** 2) / (k * 8.0 * big)
        series = series + coef
    with np.errstate(over="ignore"):
        asym = np.exp(big) / np.sqrt(2 * np.pi * big) * series
    y = np.where(a <= 30.0, total, asym)
    return np.copysign(y, x).astype(dt, copy=False)


FALLBACKS = {
    "i0": np.i0,
    "i1": i1,
    "erfc": erfc,
    "erfinv": erfinv,
    "lgamma": lgamma,
    "digamma": digamma,
    "polygamma": polygamma,
}
