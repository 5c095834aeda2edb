// Fused optimizer steps: ONE launch updates every parameter of a list (up to MT_MAX tensors,
// see TensorTable in common.cuh), grid-stride over each tensor in turn. Lists in the table:
//   sgd:     0 param, 1 grad, 2 momentum buffer
//   adam:    0 param, 1 grad, 2 exp_avg, 3 exp_avg_sq, 4 max_exp_avg_sq (amsgrad)
//   rmsprop: 0 param, 1 grad, 2 square_avg, 3 momentum buffer, 4 grad_avg (centered)
//   adagrad: 0 param, 1 grad, 2 sum of squares
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
