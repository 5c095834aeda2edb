// Host harness: the kernels' scalar formulas (kernels/*.cuh are __host__ __device__),
// compiled for the CPU and called from tests/test_kernels.py through ctypes, so CI checks
// the CUDA math against the NumPy references without a GPU.
#include "activations.cuh"
#include "optim.cuh"

template <int K, typename F> static void fwd(const F* x, F* y, long n, double p) {
    for (long i = 0; i < n; ++i) y[i] = act_fwd<K, F>(x[i], F(p));
}
template <int K, typename F> static void bwd(const F* g, const F* s, F* dx, long n, double p) {
    for (long i = 0; i < n; ++i) dx[i] = act_bwd<K, F>(g[i], s[i], F(p));
}

#define DISPATCH(kind, CALL) \
    switch (kind) {          \
        case 0: CALL(0); break; case 1: CALL(1); break; case 2: CALL(2); break; \
        case 3: CALL(3); break; case 4: CALL(4); break; case 5: CALL(5); break; \
        case 6: CALL(6); break; case 7: CALL(7); break; default: CALL(8); break; \
    }

// one entry point per precision and direction; ``kind`` is the Activation enum
#define FWD32(K) fwd<K, float>(x, y, n, p)
#define FWD64(K) fwd<K, double>(x, y, n, p)
#define BWD32(K) bwd<K, float>(g, s, dx, n, p)
#define BWD64(K) bwd<K, double>(g, s, dx, n, p)

extern "C" void act_fwd_f32(int kind, const float* x, float* y, long n, double p) { DISPATCH(kind, FWD32) }
extern "C" void act_fwd_f64(int kind, const double* x, double* y, long n, double p) { DISPATCH(kind, FWD64) }
extern "C" void act_bwd_f32(int kind, const float* g, const float* s, float* dx, long n, double p) { DISPATCH(kind, BWD32) }
extern "C" void act_bwd_f64(int kind, const double* g, const double* s, double* dx, long n, double p) { DISPATCH(kind, BWD64) }

template <typename F>
static void sgd(F* p, const F* g, F* buf, long n, double lr, double mu, double damp, double wd, int nesterov, int first) {
    for (long i = 0; i < n; ++i) sgd_elem<F>(p[i], g[i], buf[i], F(lr), F(mu), F(damp), F(wd), nesterov, first);
}
template <typename F>
static void adam(F* p, const F* g, F* m, F* v, F* vmax, long n, double lr, double b1, double b2, double eps, double wd,
                 int decoupled, double step) {
    const F bc1 = F(1.0 - pow(b1, step)), bc2_sqrt = F(sqrt(1.0 - pow(b2, step)));
    for (long i = 0; i < n; ++i)
        adam_elem<F>(p[i], g[i], m[i], v[i], vmax ? vmax + i : nullptr, F(lr), F(b1), F(b2), F(eps), F(wd), decoupled,
                     bc1, bc2_sqrt);
}
template <typename F>
static void rmsprop(F* p, const F* g, F* v, F* buf, F* gavg, long n, double lr, double alpha, double eps, double wd,
                    double mu) {
    for (long i = 0; i < n; ++i)
        rmsprop_elem<F>(p[i], g[i], v[i], buf ? buf + i : nullptr, gavg ? gavg + i : nullptr, F(lr), F(alpha), F(eps),
                        F(wd), F(mu));
}
template <typename F>
static void adagrad(F* p, const F* g, F* s, long n, double lr, double lr_decay, double wd, double eps, double step) {
    const F clr = F(lr / (1.0 + (step - 1.0) * lr_decay));
    for (long i = 0; i < n; ++i) adagrad_elem<F>(p[i], g[i], s[i], clr, F(wd), F(eps));
}

#define OPTIM_ENTRIES(F, sfx)                                                                                        \
    extern "C" void sgd_##sfx(F* p, const F* g, F* buf, long n, double lr, double mu, double damp, double wd,       \
                              int nesterov, int first) { sgd<F>(p, g, buf, n, lr, mu, damp, wd, nesterov, first); }  \
    extern "C" void adam_##sfx(F* p, const F* g, F* m, F* v, F* vmax, long n, double lr, double b1, double b2,      \
                               double eps, double wd, int decoupled, double step) {                                 \
        adam<F>(p, g, m, v, vmax, n, lr, b1, b2, eps, wd, decoupled, step);                                          \
    }                                                                                                                \
    extern "C" void rmsprop_##sfx(F* p, const F* g, F* v, F* buf, F* gavg, long n, double lr, double alpha,         \
                                  double eps, double wd, double mu) { rmsprop<F>(p, g, v, buf, gavg, n, lr, alpha, eps, wd, mu); } \
    extern "C" void adagrad_##sfx(F* p, const F* g, F* s, long n, double lr, double lr_decay, double wd, double eps, \
                                  double step) { adagrad<F>(p, g, s, n, lr, lr_decay, wd, eps, step); }

OPTIM_ENTRIES(float, f32)
OPTIM_ENTRIES(double, f64)
