// Reductions.
//
//   sq_norm_multi:    out += sum_t sum_i x_t[i]^2 over up to MT_MAX tensors in ONE launch
//                     (gradient clipping's global norm). ``out`` starts at zero; each block
//                     reduces its share and adds it with one atomicAdd.
//   channel_moments:  for x viewed as (outer, C, inner): per channel c, over outer * inner values,
//                     mean_c and biased var_c in one pass (Welford; blocks merge with Chan's rule).
#include "common.cuh"

template <typename T>
__global__ void sq_norm_multi(TensorTable tt, typename Acc<T>::type* __restrict__ out) {
    typedef typename Acc<T>::type F;
    __shared__ F scratch[32];
    F acc = F(0);
    for (i64 t = 0; t < tt.count; ++t) {
        const T* x = (const T*)tt.ptr[0][t];
        GRID_STRIDE(i, tt.numel[t]) {
            F v = load(x, i);
            acc += v * v;
        }
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) atomicAdd(out, acc);
}

template <typename F> __device__ __forceinline__ void welford_merge(F& n, F& mean, F& m2, F n2, F mean2, F m22) {
    const F total = n + n2;
    if (total == F(0)) return;
    const F d = mean2 - mean;
    mean += d * (n2 / total);
    m2 += m22 + d * d * (n * n2 / total);
    n = total;
}

template <typename T>
__global__ void channel_moments(const T* __restrict__ x, typename Acc<T>::type* __restrict__ mean_out,
                                typename Acc<T>::type* __restrict__ var_out, i64 outer, i64 channels, i64 inner) {
    typedef typename Acc<T>::type F;
    __shared__ F sn[32], smean[32], sm2[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    const i64 count = outer * inner;
    for (i64 c = blockIdx.x; c < channels; c += gridDim.x) {
        F n = F(0), mean = F(0), m2 = F(0);
        for (i64 k = threadIdx.x; k < count; k += blockDim.x) {
            const i64 o = k / inner, j = k - o * inner;
            const F v = load(x, (o * channels + c) * inner + j);
            n += F(1);
            const F d = v - mean;
            mean += d / n;
            m2 += d * (v - mean);
        }
        for (int off = 16; off > 0; off >>= 1) {
            F n2 = __shfl_down_sync(0xffffffffu, n, off);
            F mean2 = __shfl_down_sync(0xffffffffu, mean, off);
            F m22 = __shfl_down_sync(0xffffffffu, m2, off);
            welford_merge(n, mean, m2, n2, mean2, m22);
        }
        __syncthreads();  // the shared arrays may still be read for the previous channel
        if (lane == 0) {
            sn[warp] = n;
            smean[warp] = mean;
            sm2[warp] = m2;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < nwarps; ++w) welford_merge(sn[0], smean[0], sm2[0], sn[w], smean[w], sm2[w]);
            mean_out[c] = smean[0];
            var_out[c] = sn[0] > F(0) ? sm2[0] / sn[0] : F(NAN);
        }
    }
}
