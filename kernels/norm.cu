// Row-wise layer norm and RMS norm (RMS = true), one warp per row; x is (rows, cols), contiguous.
//
// Statistics per row, in the math type F (float for half and float, double for double):
//   layer norm  mean = sum_j x_j / C,  var = sum_j (x_j - mean)^2 / C (two passes: exact, unlike E[x^2] - mean^2)
//   RMS norm    mean = 0 (not stored), var = sum_j x_j^2 / C
//   rstd = 1 / sqrt(var + eps),  xhat_j = (x_j - mean) rstd
// forward     y_j = xhat_j w_j + b_j               (w, b: F arrays of C, or null for none)
// backward    gw_j = g_j w_j,  a = sum_j gw_j / C,  c = sum_j gw_j xhat_j / C
//             dx_j = rstd (gw_j - a - xhat_j c)    (RMS: no a)
// param grads dweight_j = sum_rows g_j xhat_j,  dbias_j = sum_rows g_j
//   The backward kernel's warp number p (of parts = gridDim.x * blockDim.x / 32) adds the rows it owns into row p
//   of the scratch arrays part_dw / part_db (parts, C): each value has one owner thread, so no atomics and no race.
//   row_norm_param_grads then sums the parts of each column in order p = 0, 1, ...: the result does not depend on
//   the schedule (deterministic, unlike atomicAdd), at the cost of parts * C scratch values.
#include "common.cuh"

#define ROW_LOOP(j) for (i64 j = lane; j < cols; j += 32)
#define WARP_ROWS(r)                                                                                    \
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows;                  \
         r += (i64)gridDim.x * (blockDim.x >> 5))

template <typename T, bool RMS>
__global__ void row_norm_forward(const T* __restrict__ x, const typename Acc<T>::type* __restrict__ w,
                                 const typename Acc<T>::type* __restrict__ b, T* __restrict__ y,
                                 typename Acc<T>::type* __restrict__ mean_out,
                                 typename Acc<T>::type* __restrict__ rstd_out, i64 rows, i64 cols, double eps) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    WARP_ROWS(r) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        F mean = F(0);
        if (!RMS) {
            F s = F(0);
            ROW_LOOP(j) s += load(xr, j);
            mean = warp_sum(s) / F(cols);
        }
        F sq = F(0);
        ROW_LOOP(j) {
            const F d = load(xr, j) - mean;
            sq += d * d;
        }
        const F rstd = F(1) / m_sqrt(warp_sum(sq) / F(cols) + F(eps));
        ROW_LOOP(j) {
            F v = (load(xr, j) - mean) * rstd;
            if (w) v *= w[j];
            if (b) v += b[j];
            store(yr, j, v);
        }
        if (lane == 0) {
            if (!RMS) mean_out[r] = mean;
            rstd_out[r] = rstd;
        }
    }
}

template <typename T, bool RMS>
__global__ void row_norm_backward(const T* __restrict__ g, const T* __restrict__ x,
                                  const typename Acc<T>::type* __restrict__ w,
                                  const typename Acc<T>::type* __restrict__ mean_in,
                                  const typename Acc<T>::type* __restrict__ rstd_in, T* __restrict__ dx,
                                  typename Acc<T>::type* __restrict__ part_dw, typename Acc<T>::type* __restrict__ part_db,
                                  i64 rows, i64 cols) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    const i64 part = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);  // this warp's scratch row
    F* pw = part_dw ? part_dw + part * cols : nullptr;
    F* pb = part_db ? part_db + part * cols : nullptr;
    ROW_LOOP(j) {  // every part is written, also by warps that own no row
        if (pw) pw[j] = F(0);
        if (pb) pb[j] = F(0);
    }
    WARP_ROWS(r) {
        const T* gr = g + r * cols;
        const T* xr = x + r * cols;
        const F mean = RMS ? F(0) : mean_in[r], rstd = rstd_in[r];
        F a = F(0), c = F(0);
        ROW_LOOP(j) {
            const F gv = load(gr, j), xhat = (load(xr, j) - mean) * rstd;
            const F gw = w ? gv * w[j] : gv;
            a += gw;
            c += gw * xhat;
            if (pw) pw[j] += gv * xhat;
            if (pb) pb[j] += gv;
        }
        if (dx) {
            a = RMS ? F(0) : warp_sum(a) / F(cols);
            c = warp_sum(c) / F(cols);
            T* dr = dx + r * cols;
            ROW_LOOP(j) {
                const F gv = load(gr, j), xhat = (load(xr, j) - mean) * rstd;
                const F gw = w ? gv * w[j] : gv;
                store(dr, j, rstd * (gw - a - xhat * c));
            }
        }
    }
}

// Sum the (parts, C) scratch rows of row_norm_backward per column, in a fixed order; one thread a column.
template <typename T, bool RMS>
__global__ void row_norm_param_grads(const typename Acc<T>::type* __restrict__ part_dw,
                                     const typename Acc<T>::type* __restrict__ part_db,
                                     typename Acc<T>::type* __restrict__ dw, typename Acc<T>::type* __restrict__ db,
                                     i64 parts, i64 cols) {
    typedef typename Acc<T>::type F;
    GRID_STRIDE(j, cols) {
        F sw = F(0), sb = F(0);
        for (i64 p = 0; p < parts; ++p) {
            if (part_dw) sw += part_dw[p * cols + j];
            if (part_db) sb += part_db[p * cols + j];
        }
        if (dw) dw[j] = sw;
        if (db) db[j] = sb;
    }
}
