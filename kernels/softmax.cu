// Row-wise softmax / log-softmax and fused softmax cross-entropy, one warp per row.
//
//   softmax      y_j = exp(x_j - m) / sum_k exp(x_k - m),     m = max_k x_k
//   log_softmax  y_j = x_j - m - log sum_k exp(x_k - m)
//   backward     softmax:     dx_j = y_j (g_j - sum_k g_k y_k)
//                log_softmax: dx_j = g_j - exp(y_j) sum_k g_k
//   cross-entropy with integer targets t, label smoothing e, C classes, lse = log sum_k exp(x_k):
//       loss_i = (1 - e) (lse - x_t) + e (lse - mean_k x_k),  0 where t == ignore_index
//       dx_ij  = (softmax_ij - (1 - e) [j == t] - e / C) * g_i, 0 on ignored rows
//     A target outside [0, C) that is not ignore_index gives a NaN loss and a NaN gradient row: the host cannot
//     check targets without waiting for the GPU, so the NaN is what gets noticed, and x_t is never read then.
//     The forward saves only lse per row; backward recomputes softmax from the logits, which
//     costs one read of the logits instead of a write and a read of an N x C probability matrix.
//   cross_entropy_reduce: out = sum_i loss_i (/ count of rows with t != ignore_index, for the mean), in one block,
//     in a fixed order (deterministic, unlike atomics); the count is kept for backward, which divides by it.
// Rows are contiguous of length ``cols``; each warp owns one row and loops over it in strides of 32.
#include "common.cuh"

#define ROW_LOOP(j) for (i64 j = lane; j < cols; j += 32)

template <typename T, bool LOG>
__global__ void softmax_forward(const T* __restrict__ x, T* __restrict__ y, i64 rows, i64 cols) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        F m = -INFINITY;
        ROW_LOOP(j) m = m_max(m, load(xr, j));
        m = warp_max(m);
        if (m == -INFINITY) m = F(0);  // a row of -inf: avoid inf - inf
        F s = F(0);
        ROW_LOOP(j) s += m_exp(load(xr, j) - m);
        s = warp_sum(s);
        if (LOG) {
            const F shift = m + m_log(s);
            ROW_LOOP(j) store(yr, j, load(xr, j) - shift);
        } else {
            const F inv = F(1) / s;
            ROW_LOOP(j) store(yr, j, m_exp(load(xr, j) - m) * inv);
        }
    }
}

template <typename T, bool LOG>
__global__ void softmax_backward(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ dx, i64 rows,
                                 i64 cols) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
        const T* gr = g + r * cols;
        const T* yr = y + r * cols;
        T* dr = dx + r * cols;
        F dot = F(0);
        if (LOG) {
            ROW_LOOP(j) dot += load(gr, j);
        } else {
            ROW_LOOP(j) dot += load(gr, j) * load(yr, j);
        }
        dot = warp_sum(dot);
        if (LOG) {
            ROW_LOOP(j) store(dr, j, load(gr, j) - m_exp(load(yr, j)) * dot);
        } else {
            ROW_LOOP(j) store(dr, j, load(yr, j) * (load(gr, j) - dot));
        }
    }
}

template <typename T>
__global__ void cross_entropy_forward(const T* __restrict__ logits, const i64* __restrict__ target,
                                      T* __restrict__ loss, typename Acc<T>::type* __restrict__ lse_out, i64 rows,
                                      i64 cols, i64 ignore_index, double smoothing) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
        const T* xr = logits + r * cols;
        F m = -INFINITY, total = F(0);
        ROW_LOOP(j) {
            F v = load(xr, j);
            m = m_max(m, v);
            total += v;
        }
        m = warp_max(m);
        total = warp_sum(total);
        F s = F(0);
        ROW_LOOP(j) s += m_exp(load(xr, j) - m);
        s = warp_sum(s);
        if (lane == 0) {
            const F lse = m + m_log(s);
            const i64 t = target[r];
            F l = F(0);
            if (t != ignore_index && (t < 0 || t >= cols)) {
                l = F(NAN);  // a class index out of range: a NaN loss, not an out-of-bounds read
            } else if (t != ignore_index) {
                l = (F(1) - F(smoothing)) * (lse - load(xr, t));
                if (smoothing != 0.0) l += F(smoothing) * (lse - total / F(cols));
            }
            store(loss, r, l);
            lse_out[r] = lse;
        }
    }
}

// One block: the sum of the per-row losses, and with ``mean`` its quotient by the number of counted rows
// (written to ``count_out``; 0 counted rows give NaN, as PyTorch).
template <typename T>
__global__ void cross_entropy_reduce(const T* __restrict__ loss, const i64* __restrict__ target, T* __restrict__ out,
                                     typename Acc<T>::type* __restrict__ count_out, i64 rows, i64 ignore_index,
                                     int mean) {
    typedef typename Acc<T>::type F;
    __shared__ F scratch[32];
    F total = F(0), count = F(0);
    for (i64 r = threadIdx.x; r < rows; r += blockDim.x) {
        total += load(loss, r);
        count += target[r] != ignore_index ? F(1) : F(0);
    }
    total = block_sum(total, scratch);
    count = block_sum(count, scratch);
    if (threadIdx.x == 0) {
        store(out, 0, mean ? total / count : total);
        if (mean) count_out[0] = count;
    }
}

// g_rows[r * g_stride]: g_stride is 0 when one upstream gradient is shared by every row (mean/sum);
// ``divisor`` (the mean's row count) divides it, or is null.
template <typename T>
__global__ void cross_entropy_backward(const T* __restrict__ g_rows, i64 g_stride,
                                       const typename Acc<T>::type* __restrict__ divisor, const T* __restrict__ logits,
                                       const typename Acc<T>::type* __restrict__ lse, const i64* __restrict__ target,
                                       T* __restrict__ dx, i64 rows, i64 cols, i64 ignore_index, double smoothing) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
        const T* xr = logits + r * cols;
        T* dr = dx + r * cols;
        const i64 t = target[r];
        const bool outside = t != ignore_index && (t < 0 || t >= cols);  // a NaN row, as the forward's NaN loss
        const F g = t == ignore_index ? F(0) : load(g_rows, r * g_stride) / (divisor ? divisor[0] : F(1));
        const F l = lse[r], uniform = F(smoothing) / F(cols), hit = F(1) - F(smoothing);
        ROW_LOOP(j) {
            F d = m_exp(load(xr, j) - l) - uniform - (j == t ? hit : F(0));
            store(dr, j, outside ? F(NAN) : d * g);
        }
    }
}
