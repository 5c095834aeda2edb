// Fused optimizer steps: ONE launch updates every parameter of a list (up to MT_MAX tensors,
// see TensorTable in common.cuh), grid-stride over each tensor in turn. Lists in the table:
//   sgd:     0 param, 1 grad, 2 momentum buffer
//   adam:    0 param, 1 grad, 2 exp_avg, 3 exp_avg_sq, 4 max_exp_avg_sq (amsgrad)
//   rmsprop: 0 param, 1 grad, 2 square_avg, 3 momentum buffer, 4 grad_avg (centered)
//   adagrad: 0 param, 1 grad, 2 sum of squares
//   adadelta: 0 param, 1 grad, 2 square_avg, 3 acc_delta
//   adamax:  0 param, 1 grad, 2 exp_avg, 3 exp_inf
//   nadam, radam: 0 param, 1 grad, 2 exp_avg, 3 exp_avg_sq
//   asgd:    0 param, 1 grad, 2 ax
//   rprop:   0 param, 1 grad, 2 prev, 3 step_size
// Adadelta .. Rprop take their step-dependent scalars (bias corrections, NAdam's mu products, RAdam's
// rectification, ASGD's eta and mu) from the host, which computes them from its own step count.
// T is the parameter/gradient type (half_t, float, double); state is kept in the math type F
// (float for half parameters). The step counter ``step`` lives on the device, so a training
// loop never tells the GPU the step number from the host. Formulas: optim.cuh.
#include "optim.cuh"

#define TENSOR(list, type) ((type*)tt.ptr[list][t])

template <typename T>
__global__ void sgd_multi(TensorTable tt, double lr, double momentum, double dampening, double wd, int nesterov,
                          int first) {
    typedef typename Acc<T>::type F;
    for (i64 t = 0; t < tt.count; ++t) {
        T* p = TENSOR(0, T);
        const T* g = TENSOR(1, const T);
        F* buf = TENSOR(2, F);
        GRID_STRIDE(i, tt.numel[t]) {
            F pv = load(p, i);
            F bv = momentum != 0.0 ? buf[i] : F(0);
            sgd_elem<F>(pv, load(g, i), bv, F(lr), F(momentum), F(dampening), F(wd), nesterov != 0, first != 0);
            store(p, i, pv);
            if (momentum != 0.0) buf[i] = bv;
        }
    }
}

template <typename T>
__global__ void adam_multi(TensorTable tt, const double* __restrict__ step, double lr, double beta1, double beta2,
                           double eps, double wd, int decoupled, int amsgrad) {
    typedef typename Acc<T>::type F;
    const double tstep = *step;
    const F bc1 = F(1.0 - pow(beta1, tstep));
    const F bc2_sqrt = F(sqrt(1.0 - pow(beta2, tstep)));
    for (i64 t = 0; t < tt.count; ++t) {
        T* p = TENSOR(0, T);
        const T* g = TENSOR(1, const T);
        F* m = TENSOR(2, F);
        F* v = TENSOR(3, F);
        F* vmax = amsgrad ? TENSOR(4, F) : nullptr;
        GRID_STRIDE(i, tt.numel[t]) {
            F pv = load(p, i), mv = m[i], vv = v[i];
            adam_elem<F>(pv, load(g, i), mv, vv, vmax ? vmax + i : nullptr, F(lr), F(beta1), F(beta2), F(eps),
                         F(wd), decoupled != 0, bc1, bc2_sqrt);
            store(p, i, pv);
            m[i] = mv;
            v[i] = vv;
        }
    }
}

template <typename T>
__global__ void rmsprop_multi(TensorTable tt, double lr, double alpha, double eps, double wd, double momentum,
                              int centered) {
    typedef typename Acc<T>::type F;
    for (i64 t = 0; t < tt.count; ++t) {
        T* p = TENSOR(0, T);
        const T* g = TENSOR(1, const T);
        F* v = TENSOR(2, F);
        F* buf = momentum != 0.0 ? TENSOR(3, F) : nullptr;
        F* gavg = centered ? TENSOR(4, F) : nullptr;
        GRID_STRIDE(i, tt.numel[t]) {
            F pv = load(p, i), vv = v[i];
            rmsprop_elem<F>(pv, load(g, i), vv, buf ? buf + i : nullptr, gavg ? gavg + i : nullptr, F(lr), F(alpha),
                            F(eps), F(wd), F(momentum));
            store(p, i, pv);
            v[i] = vv;
        }
    }
}

template <typename T>
__global__ void adagrad_multi(TensorTable tt, const double* __restrict__ step, double lr, double lr_decay, double wd,
                              double eps) {
    typedef typename Acc<T>::type F;
    const F clr = F(lr / (1.0 + (*step - 1.0) * lr_decay));
    for (i64 t = 0; t < tt.count; ++t) {
        T* p = TENSOR(0, T);
        const T* g = TENSOR(1, const T);
        F* s = TENSOR(2, F);
        GRID_STRIDE(i, tt.numel[t]) {
            F pv = load(p, i), sv = s[i];
            adagrad_elem<F>(pv, load(g, i), sv, clr, F(wd), F(eps));
            store(p, i, pv);
            s[i] = sv;
        }
    }
}

// the kernels below: list 0 the parameters, 1 the gradients, 2 and 3 two state arrays of the math type F
#define STATE2_LOOP(body)                                  \
    for (i64 t = 0; t < tt.count; ++t) {                  \
        T* p = TENSOR(0, T);                              \
        const T* g = TENSOR(1, const T);                  \
        F* s0 = TENSOR(2, F);                             \
        F* s1 = TENSOR(3, F);                             \
        GRID_STRIDE(i, tt.numel[t]) {                     \
            F pv = load(p, i), a = s0[i], b = s1[i];      \
            body;                                         \
            store(p, i, pv);                              \
            s0[i] = a;                                    \
            s1[i] = b;                                    \
        }                                                 \
    }

template <typename T>
__global__ void adadelta_multi(TensorTable tt, double lr, double rho, double eps, double wd) {
    typedef typename Acc<T>::type F;
    STATE2_LOOP(adadelta_elem<F>(pv, load(g, i), a, b, F(lr), F(rho), F(eps), F(wd)))
}

template <typename T>
__global__ void adamax_multi(TensorTable tt, double clr, double beta1, double beta2, double eps, double wd) {
    typedef typename Acc<T>::type F;
    STATE2_LOOP(adamax_elem<F>(pv, load(g, i), a, b, F(clr), F(beta1), F(beta2), F(eps), F(wd)))
}

template <typename T>
__global__ void nadam_multi(TensorTable tt, double lr, double beta1, double beta2, double eps, double wd,
                            int decoupled, double bc2, double coef_g, double coef_m) {
    typedef typename Acc<T>::type F;
    STATE2_LOOP(nadam_elem<F>(pv, load(g, i), a, b, F(lr), F(beta1), F(beta2), F(eps), F(wd), decoupled != 0, F(bc2),
                              F(coef_g), F(coef_m)))
}

template <typename T>
__global__ void radam_multi(TensorTable tt, double lr, double beta1, double beta2, double eps, double wd,
                            int decoupled, double bc1, double bc2_sqrt, double rect, int rectified) {
    typedef typename Acc<T>::type F;
    STATE2_LOOP(radam_elem<F>(pv, load(g, i), a, b, F(lr), F(beta1), F(beta2), F(eps), F(wd), decoupled != 0, F(bc1),
                              F(bc2_sqrt), F(rect), rectified != 0))
}

template <typename T>
__global__ void rprop_multi(TensorTable tt, double etaminus, double etaplus, double lo, double hi) {
    typedef typename Acc<T>::type F;
    STATE2_LOOP(rprop_elem<F>(pv, load(g, i), a, b, F(etaminus), F(etaplus), F(lo), F(hi)))
}

template <typename T>
__global__ void asgd_multi(TensorTable tt, double eta, double mu, double lambd, double wd) {
    typedef typename Acc<T>::type F;
    for (i64 t = 0; t < tt.count; ++t) {
        T* p = TENSOR(0, T);
        const T* g = TENSOR(1, const T);
        F* ax = TENSOR(2, F);
        GRID_STRIDE(i, tt.numel[t]) {
            F pv = load(p, i), av = ax[i];
            asgd_elem<F>(pv, load(g, i), av, F(eta), F(mu), F(lambd), F(wd));
            store(p, i, pv);
            ax[i] = av;
        }
    }
}
