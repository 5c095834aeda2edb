// Optimizer updates for one element, in the math type F (float for half/float parameters).
// Each matches its reference in gpubp/backend/base.py and torch.optim:
//   SGD      g += wd p;  buf = first ? g : mu buf + (1 - dampening) g;  g = nesterov ? g + mu buf : buf;  p -= lr g
//   Adam     g += wd p (AdamW instead: p *= 1 - lr wd);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//            (amsgrad: vmax = max(vmax, v), used for v);  p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
//            with bc1 = 1 - b1^t, bc2 = 1 - b2^t
//   RMSprop  g += wd p;  v = a v + (1 - a) g^2;  centered: gbar = a gbar + (1 - a) g, avg = sqrt(v - gbar^2) + eps,
//            else avg = sqrt(v) + eps;  momentum: buf = mu buf + g / avg, p -= lr buf;  else p -= lr g / avg
//   Adagrad  g += wd p;  s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
//   Adadelta g += wd p;  v = rho v + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(v + eps) g;  u = rho u + (1 - rho) d^2;
//            p -= lr d
//   Adamax   g += wd p;  m = lerp(m, g, 1 - b1);  u = max(b2 u, |g| + eps);  p -= clr m / u,  clr = lr / (1 - b1^t)
//   NAdam    g += wd p (decoupled: p *= 1 - lr wd);  m = lerp(m, g, 1 - b1);  v = b2 v + (1 - b2) g^2;
//            d = sqrt(v / bc2) + eps;  p += cg g / d;  p += cm m / d  (bc2, cg, cm: host scalars of the step)
//   RAdam    g, m, v as NAdam;  u = m / bc1 * lr;  rectified (rho_t > 5): u = u * (sqrt(bc2) / (sqrt(v) + eps)) * r;
//            p -= u
//   ASGD     g += wd p;  p *= 1 - lambd eta;  p -= eta g;  ax = mu == 1 ? p : ax + (p - ax) mu
//   Rprop    s = sign(g prev);  f = s > 0 ? etaplus : s < 0 ? etaminus : 1;  size = clamp(size f, min, max);
//            g = s < 0 ? 0 : g;  p -= sign(g) size;  prev = g
#pragma once
#include "common.cuh"

template <typename F>
__host__ __device__ __forceinline__ void sgd_elem(F& p, F g, F& buf, F lr, F momentum, F dampening, F wd,
                                                  bool nesterov, bool first) {
    if (wd != F(0)) g += wd * p;
    if (momentum != F(0)) {
        buf = first ? g : momentum * buf + (F(1) - dampening) * g;
        g = nesterov ? g + momentum * buf : buf;
    }
    p -= lr * g;
}

template <typename F>
__host__ __device__ __forceinline__ void adam_elem(F& p, F g, F& m, F& v, F* vmax, F lr, F b1, F b2, F eps, F wd,
                                                   bool decoupled, F bc1, F bc2_sqrt) {
    if (wd != F(0)) {
        if (decoupled)
            p *= F(1) - lr * wd;
        else
            g += wd * p;
    }
    m = b1 * m + (F(1) - b1) * g;
    v = b2 * v + ((F(1) - b2) * g) * g;  // as PyTorch's addcmul: g * g alone overflows float32 above ~1.8e19
    F vv = v;
    if (vmax) {
        *vmax = m_max(*vmax, v);
        vv = *vmax;
    }
    const F denom = m_sqrt(vv) / bc2_sqrt + eps;
    p -= (lr / bc1) * (m / denom);
}

template <typename F>
__host__ __device__ __forceinline__ void rmsprop_elem(F& p, F g, F& v, F* buf, F* gavg, F lr, F alpha, F eps, F wd,
                                                      F momentum) {
    if (wd != F(0)) g += wd * p;
    v = alpha * v + ((F(1) - alpha) * g) * g;
    F avg;
    if (gavg) {
        *gavg = alpha * *gavg + (F(1) - alpha) * g;
        avg = m_sqrt(v - *gavg * *gavg) + eps;
    } else {
        avg = m_sqrt(v) + eps;
    }
    if (buf) {
        *buf = momentum * *buf + g / avg;
        p -= lr * *buf;
    } else {
        p -= lr * (g / avg);
    }
}

template <typename F>
__host__ __device__ __forceinline__ void adagrad_elem(F& p, F g, F& s, F clr, F wd, F eps) {
    if (wd != F(0)) g += wd * p;
    s += g * g;
    p -= clr * (g / (m_sqrt(s) + eps));
}

// PyTorch's lerp: exact at both ends, m + w (g - m) below w = 0.5, g - (g - m) (1 - w) from there
template <typename F>
__host__ __device__ __forceinline__ F lerp_elem(F m, F g, F w) {
    return w < F(0.5) ? m + w * (g - m) : g - (g - m) * (F(1) - w);
}

template <typename F>
__host__ __device__ __forceinline__ void adadelta_elem(F& p, F g, F& v, F& u, F lr, F rho, F eps, F wd) {
    if (wd != F(0)) g += wd * p;
    v = rho * v + ((F(1) - rho) * g) * g;
    const F delta = m_sqrt(u + eps) / m_sqrt(v + eps) * g;
    u = rho * u + ((F(1) - rho) * delta) * delta;
    p -= lr * delta;
}

template <typename F>
__host__ __device__ __forceinline__ void adamax_elem(F& p, F g, F& m, F& u, F clr, F b1, F b2, F eps, F wd) {
    if (wd != F(0)) g += wd * p;
    m = lerp_elem(m, g, F(1) - b1);
    const F a = b2 * u, b = (g < F(0) ? -g : g) + eps;
    u = (a != a || a > b) ? a : b;  // torch.maximum: NaN propagates
    p -= clr * (m / u);
}

// NAdam and RAdam share the moment updates and the weight decay
template <typename F>
__host__ __device__ __forceinline__ F adam_moments(F& p, F g, F& m, F& v, F lr, F b1, F b2, F wd, bool decoupled) {
    if (wd != F(0)) {
        if (decoupled)
            p *= F(1) - lr * wd;
        else
            g += wd * p;
    }
    m = lerp_elem(m, g, F(1) - b1);
    v = b2 * v + ((F(1) - b2) * g) * g;
    return g;
}

template <typename F>
__host__ __device__ __forceinline__ void nadam_elem(F& p, F g, F& m, F& v, F lr, F b1, F b2, F eps, F wd,
                                                    bool decoupled, F bc2, F cg, F cm) {
    g = adam_moments(p, g, m, v, lr, b1, b2, wd, decoupled);
    const F denom = m_sqrt(v / bc2) + eps;
    p += cg * (g / denom);
    p += cm * (m / denom);
}

template <typename F>
__host__ __device__ __forceinline__ void radam_elem(F& p, F g, F& m, F& v, F lr, F b1, F b2, F eps, F wd,
                                                    bool decoupled, F bc1, F bc2_sqrt, F rect, bool rectified) {
    adam_moments(p, g, m, v, lr, b1, b2, wd, decoupled);
    F update = m / bc1 * lr;
    if (rectified) update = update * (bc2_sqrt / (m_sqrt(v) + eps)) * rect;
    p -= update;
}

template <typename F>
__host__ __device__ __forceinline__ void asgd_elem(F& p, F g, F& ax, F eta, F mu, F lambd, F wd) {
    if (wd != F(0)) g += wd * p;
    p *= F(1) - lambd * eta;
    p -= eta * g;
    ax = mu == F(1) ? p : ax + (p - ax) * mu;
}

template <typename F>
__host__ __device__ __forceinline__ void rprop_elem(F& p, F g, F& prev, F& size, F etaminus, F etaplus, F lo, F hi) {
    const F gp = g * prev;
    const F s = gp > F(0) ? F(1) : (gp < F(0) ? F(-1) : gp);  // sign, NaN kept
    const F f = s > F(0) ? etaplus : (s < F(0) ? etaminus : (s == F(0) ? F(1) : s));
    size = size * f;
    size = size < lo ? lo : (size > hi ? hi : size);  // clamp: NaN kept
    if (s < F(0)) g = F(0);
    const F sg = g > F(0) ? F(1) : (g < F(0) ? F(-1) : g);
    p -= sg * size;
    prev = g;
}
