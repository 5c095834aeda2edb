// Optimizer updates for one element, in the math type F (float for half/float parameters).
// Each matches its reference in gpubp/backend/base.py and torch.optim:
//   SGD      g += wd p;  buf = first ? g : mu buf + (1 - dampening) g;  g = nesterov ? g + mu buf : buf;  p -= lr g
//   Adam     g += wd p (AdamW instead: p *= 1 - lr wd);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//            (amsgrad: vmax = max(vmax, v), used for v);  p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
//            with bc1 = 1 - b1^t, bc2 = 1 - b2^t
//   RMSprop  g += wd p;  v = a v + (1 - a) g^2;  centered: gbar = a gbar + (1 - a) g, avg = sqrt(v - gbar^2) + eps,
//            else avg = sqrt(v) + eps;  momentum: buf = mu buf + g / avg, p -= lr buf;  else p -= lr g / avg
//   Adagrad  g += wd p;  s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
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
