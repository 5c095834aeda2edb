// Activation functions and their derivatives, as scalar formulas.
//
// Forward:  y = act(x; p)       p: negative slope (leaky_relu), alpha (elu), beta (softplus)
// Backward: dx = g * act'(.)    reading ONE saved tensor s: the output y (relu, sigmoid, tanh)
//                               or the input x (the others), as gpubp/backend/base.py's
//                               ACTIVATION_SAVES says.
//   relu        y = max(x, 0)                         dx = g * (y > 0)
//   leaky_relu  y = x > 0 ? x : p x                   dx = x > 0 ? g : p g
//   elu         y = x > 0 ? x : p (e^x - 1)           dx = x <= 0 ? g p e^x : g  (NaN x: g)
//   sigmoid     y = 1 / (1 + e^-x)                    dx = g y (1 - y)
//   tanh        y = tanh x                            dx = g (1 - y^2)
//   softplus    y = log(1 + e^(p x)) / p, = x where p x > 20     dx = g sigmoid(p x)  (g where p x > 20)
//   gelu        y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2        dx = g (Phi(x) + x phi(x))
//   gelu_tanh   y = x (1 + tanh(k (x + c x^3))) / 2, k = sqrt(2/pi), c = 0.044715
//               dx = g ((1 + t) / 2 + x (1 - t^2) k (1 + 3 c x^2) / 2)
//   silu        y = x sigmoid(x)                      dx = g s (1 + x (1 - s)),  s = sigmoid(x)
#pragma once
#include "common.cuh"

enum Activation { RELU = 0, LEAKY_RELU = 1, ELU = 2, SIGMOID = 3, TANH = 4, SOFTPLUS = 5, GELU = 6, GELU_TANH = 7, SILU = 8 };

template <int K, typename F> __host__ __device__ __forceinline__ F act_fwd(F x, F p) {
    const F k = F(0.7978845608028654), c = F(0.044715), rsqrt2 = F(0.7071067811865476);
    if (K == RELU) return x < F(0) ? F(0) : x;  // NaN propagates, as max(x, 0) in NumPy
    if (K == LEAKY_RELU) return x > F(0) ? x : x * p;
    if (K == ELU) return x > F(0) ? x : p * m_expm1(x);
    if (K == SIGMOID) return m_sigmoid(x);
    if (K == TANH) return m_tanh(x);
    if (K == SOFTPLUS) {
        F z = x * p;
        return z > F(20) ? x : (m_max(z, F(0)) + m_log1p(m_exp(-m_abs(z)))) / p;
    }
    if (K == GELU) return F(0.5) * x * (F(1) + m_erf(x * rsqrt2));
    if (K == GELU_TANH) return F(0.5) * x * (F(1) + m_tanh(k * (x + c * x * x * x)));
    return x * m_sigmoid(x);  // SILU
}

template <int K, typename F> __host__ __device__ __forceinline__ F act_bwd(F g, F s, F p) {
    const F k = F(0.7978845608028654), c = F(0.044715), rsqrt2 = F(0.7071067811865476);
    const F inv_sqrt_2pi = F(0.3989422804014327);
    if (K == RELU) return s > F(0) ? g : F(0);
    if (K == LEAKY_RELU) return s > F(0) ? g : g * p;
    if (K == ELU) return s <= F(0) ? g * p * m_exp(s) : g;  // a NaN input takes g, as PyTorch
    if (K == SIGMOID) return g * s * (F(1) - s);
    if (K == TANH) return g * (F(1) - s * s);
    if (K == SOFTPLUS) {
        F z = s * p;
        return z > F(20) ? g : g * m_sigmoid(z);
    }
    if (K == GELU) {
        F cdf = F(0.5) * (F(1) + m_erf(s * rsqrt2));
        F pdf = m_exp(F(-0.5) * s * s) * inv_sqrt_2pi;
        return g * (cdf + s * pdf);
    }
    if (K == GELU_TANH) {
        F t = m_tanh(k * (s + c * s * s * s));
        F du = k * (F(1) + F(3) * c * s * s);
        return g * (F(0.5) * (F(1) + t) + F(0.5) * s * (F(1) - t * t) * du);
    }
    F sg = m_sigmoid(s);  // SILU
    return g * (sg * (F(1) + s * (F(1) - sg)));
}
