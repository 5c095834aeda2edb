// Activation forward and derivative kernels: one pass each, bandwidth-bound.
// Forward reads x, writes y. Backward reads g and one saved tensor s, writes dx.
// The formulas are in activations.cuh; T is float, double or half_t (math in float).
// p is passed as double so float64 kernels see the parameter the user gave, not a float32 rounding.
#include "activations.cuh"

template <typename T, int K>
__global__ void act_forward(const T* __restrict__ x, T* __restrict__ y, i64 n, double p) {
    typedef typename Acc<T>::type F;
    GRID_STRIDE(i, n) { store(y, i, act_fwd<K, F>(load(x, i), F(p))); }
}

template <typename T, int K>
__global__ void act_backward(const T* __restrict__ g, const T* __restrict__ s, T* __restrict__ dx, i64 n,
                             double p) {
    typedef typename Acc<T>::type F;
    GRID_STRIDE(i, n) { store(dx, i, act_bwd<K, F>(load(g, i), load(s, i), F(p))); }
}
