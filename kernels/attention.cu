// Scaled dot-product attention, memory-efficient (flash-attention-2 structure): no L x S matrix in global memory.
//
//   q (B, L, E), k (Bk, S, E), v (Bk, S, Ev), contiguous; B = Bk * group: query batch b reads key batch b / group.
//   s_ij  = scale q_i . k_j + bias_ij          bias (math type) read at b*sb + i*si + j*sj (a stride 0 broadcasts)
//           (-inf where causal and j > i: top-left aligned)
//   lse_i = log sum_j exp(s_ij)                (-inf for a row that sees no key)
//   P_ij  = exp(s_ij - lse_i),   M_ij = keep_ij / (1 - p)   (M = 1 without dropout)
//   out_i = sum_j P_ij M_ij v_j                (0 for a row that sees no key: never NaN)
//   keep_ij: x = splitmix64-style hash of seed + (idx + 1) * golden, idx = (b L + i) S + j; keep = (x >> 40) >= thr,
//            thr = round(p 2^24): the NumPy reference computes the very same mask.
// Backward (FA2): Delta_i = sum_e g_ie out_ie (attention_delta);  dP_ij = (g_i . v_j) M_ij;
//   dS_ij = P_ij (dP_ij - Delta_i);  dq_i = scale sum_j dS_ij k_j;  dk_j = scale sum_i dS_ij q_i;
//   dv_j = sum_i P_ij M_ij g_i, dk/dv summed over the group's query batches.
//
// Tiling. D is the template bound of the head sizes (E, Ev <= D). Each row (a query row in forward / dq, a key row in
// dkv) belongs to G = max(1, D / 32) consecutive threads; thread ``part`` of the group holds elements e = c G + part
// (c < D / G) of its row's vectors in registers, and partial dot products meet through __shfl_xor_sync inside the
// group. A block owns blockDim / G rows of one batch; the other side's rows stream through static shared memory in
// tiles of TILE rows (32 in float, 16 in double: 2 tiles of TILE x 128 doubles stay at 32 KiB, under the 48 KiB static
// limit), in the math type. Forward keeps the FA2 online softmax: per key tile, the running max m and sum l of each
// row are updated once and the accumulator rescaled by exp(m_old - m_new); only out and lse are written. dq recomputes
// P from lse; dkv loops over the group's query batches and tiles and writes dk, dv once (no atomics: deterministic).
// Causal launches skip the tiles wholly above the diagonal on every kernel. Blocks loop over tiles (any grid covers
// any size); element offsets are 64-bit.
#include "common.cuh"

template <typename F> struct AttnTile { static const int rows = 32; };
template <> struct AttnTile<double> { static const int rows = 16; };

// The dropout decision for score (b, i, j); ``threshold`` 0 keeps everything without touching ``seed``.
__device__ __forceinline__ bool attn_keep(const unsigned long long* seed, unsigned long long threshold, i64 idx) {
    if (threshold == 0) return true;
    unsigned long long x = seed[0] + ((unsigned long long)idx + 1ull) * 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x = x ^ (x >> 31);
    return (x >> 40) >= threshold;
}

// Sum over the G threads of a row group (G a power of two <= 32; every lane of the warp takes part).
template <int G, typename F> __device__ __forceinline__ F group_sum(F v) {
    for (int o = 1; o < G; o <<= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// rows x width elements of a contiguous (., width) matrix from row ``first`` (of ``limit``) into a TILE x D tile,
// zero outside: the padded columns and rows then add nothing to dot products.
template <typename T, int D, typename F>
__device__ __forceinline__ void load_tile(F (*tile)[D], const T* __restrict__ src, i64 first, i64 limit, i64 width,
                                          int rows) {
    for (int t = threadIdx.x; t < rows * D; t += blockDim.x) {
        const int r = t / D, e = t % D;
        tile[r][e] = (first + r < limit && e < width) ? load(src, (first + r) * width + e) : F(0);
    }
}

template <typename T, int D>
__global__ void attention_forward(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                  const typename Acc<T>::type* __restrict__ bias, i64 sb, i64 si, i64 sj,
                                  T* __restrict__ out, typename Acc<T>::type* __restrict__ lse, i64 B, i64 L, i64 S,
                                  i64 E, i64 Ev, i64 group, int causal, double scale_arg,
                                  const unsigned long long* __restrict__ seed, i64 threshold_arg, double keep_scale_arg) {
    typedef typename Acc<T>::type F;
    constexpr int G = D >= 32 ? D / 32 : 1, C = D / G, TILE = AttnTile<F>::rows;
    __shared__ F ks[TILE][D];
    __shared__ F vs[TILE][D];
    const F scale = F(scale_arg);
    const unsigned long long threshold = (unsigned long long)threshold_arg;
    const F keep_scale = F(keep_scale_arg);  // 1 / (1 - p), from the host: p itself, not thr / 2^24
    const int rows = blockDim.x / G, r = threadIdx.x / G, part = threadIdx.x % G;
    const i64 tiles_per_batch = (L + rows - 1) / rows;
    for (i64 tile = blockIdx.x; tile < B * tiles_per_batch; tile += gridDim.x) {
        const i64 b = tile / tiles_per_batch, i0 = (tile % tiles_per_batch) * rows, i = i0 + r, kb = b / group;
        const bool valid = i < L;
        F qr[C], acc[C];
        for (int c = 0; c < C; ++c) {
            const i64 e = (i64)c * G + part;
            qr[c] = valid && e < E ? load(q, (b * L + i) * E + e) : F(0);
            acc[c] = F(0);
        }
        F m = -INFINITY, l = F(0);
        const i64 s_end = causal ? (S < i0 + rows ? S : i0 + rows) : S;  // causal: keys past the tile's last row
        for (i64 j0 = 0; j0 < s_end; j0 += TILE) {
            __syncthreads();  // the previous tile is still being read
            load_tile<T, D>(ks, k, kb * S + j0, kb * S + S, E, TILE);
            load_tile<T, D>(vs, v, kb * S + j0, kb * S + S, Ev, TILE);
            __syncthreads();
            F s[TILE];
            F tile_max = -INFINITY;
#pragma unroll
            for (int jj = 0; jj < TILE; ++jj) {
                F dot = F(0);
                for (int c = 0; c < C; ++c) dot += qr[c] * ks[jj][c * G + part];
                dot = group_sum<G>(dot);
                const i64 j = j0 + jj;
                F x = -INFINITY;
                if (valid && j < S && !(causal && j > i)) x = dot * scale + (bias ? bias[b * sb + i * si + j * sj] : F(0));
                s[jj] = x;
                tile_max = m_max(tile_max, x);
            }
            const F m_new = m_max(m, tile_max);
            const F m_safe = m_new == -INFINITY ? F(0) : m_new;  // nothing seen yet: exp(-inf - 0) = 0, no NaN
            const F alpha = m_exp(m - m_safe);
            l *= alpha;
            for (int c = 0; c < C; ++c) acc[c] *= alpha;
#pragma unroll
            for (int jj = 0; jj < TILE; ++jj) {
                const F p = m_exp(s[jj] - m_safe);
                l += p;
                const F pm = p != F(0) && attn_keep(seed, threshold, (b * L + i) * S + j0 + jj) ? p * keep_scale : F(0);
                for (int c = 0; c < C; ++c) acc[c] += pm * vs[jj][c * G + part];
            }
            m = m_new;
        }
        if (valid) {
            const bool none = m == -INFINITY;
            const F inv = none ? F(0) : F(1) / l;
            for (int c = 0; c < C; ++c) {
                const i64 e = (i64)c * G + part;
                if (e < Ev) store(out, (b * L + i) * Ev + e, acc[c] * inv);
            }
            if (part == 0) lse[b * L + i] = none ? F(-INFINITY) : m + m_log(l);
        }
    }
}

// Delta_i = sum_e g_ie out_ie, one warp per row (rows = B L, each of Ev elements).
template <typename T>
__global__ void attention_delta(const T* __restrict__ g, const T* __restrict__ out,
                                typename Acc<T>::type* __restrict__ delta, i64 rows, i64 Ev) {
    typedef typename Acc<T>::type F;
    const int lane = threadIdx.x & 31;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
        F d = F(0);
        for (i64 e = lane; e < Ev; e += 32) d += load(g, r * Ev + e) * load(out, r * Ev + e);
        d = warp_sum(d);
        if (lane == 0) delta[r] = d;
    }
}

// dq_i = scale sum_j P_ij (dP_ij - Delta_i) k_j: a block per query tile, key tiles streaming through shared memory.
template <typename T, int D>
__global__ void attention_backward_dq(const T* __restrict__ g, const T* __restrict__ q, const T* __restrict__ k,
                                      const T* __restrict__ v, const typename Acc<T>::type* __restrict__ lse,
                                      const typename Acc<T>::type* __restrict__ delta,
                                      const typename Acc<T>::type* __restrict__ bias, i64 sb, i64 si, i64 sj,
                                      T* __restrict__ dq, i64 B, i64 L, i64 S, i64 E, i64 Ev, i64 group, int causal,
                                      double scale_arg, const unsigned long long* __restrict__ seed,
                                      i64 threshold_arg, double keep_scale_arg) {
    typedef typename Acc<T>::type F;
    constexpr int G = D >= 32 ? D / 32 : 1, C = D / G, TILE = AttnTile<F>::rows;
    __shared__ F ks[TILE][D];
    __shared__ F vs[TILE][D];
    const F scale = F(scale_arg);
    const unsigned long long threshold = (unsigned long long)threshold_arg;
    const F keep_scale = F(keep_scale_arg);  // 1 / (1 - p), from the host: p itself, not thr / 2^24
    const int rows = blockDim.x / G, r = threadIdx.x / G, part = threadIdx.x % G;
    const i64 tiles_per_batch = (L + rows - 1) / rows;
    for (i64 tile = blockIdx.x; tile < B * tiles_per_batch; tile += gridDim.x) {
        const i64 b = tile / tiles_per_batch, i0 = (tile % tiles_per_batch) * rows, i = i0 + r, kb = b / group;
        const bool valid = i < L;
        const F row_lse = valid ? lse[b * L + i] : F(-INFINITY);
        const bool live = row_lse != -INFINITY;  // a row that saw no key has P = 0 everywhere
        const F row_delta = live ? delta[b * L + i] : F(0);
        F qr[C], gr[C], acc[C];
        for (int c = 0; c < C; ++c) {
            const i64 e = (i64)c * G + part;
            qr[c] = valid && e < E ? load(q, (b * L + i) * E + e) : F(0);
            gr[c] = valid && e < Ev ? load(g, (b * L + i) * Ev + e) : F(0);
            acc[c] = F(0);
        }
        const i64 s_end = causal ? (S < i0 + rows ? S : i0 + rows) : S;
        for (i64 j0 = 0; j0 < s_end; j0 += TILE) {
            __syncthreads();
            load_tile<T, D>(ks, k, kb * S + j0, kb * S + S, E, TILE);
            load_tile<T, D>(vs, v, kb * S + j0, kb * S + S, Ev, TILE);
            __syncthreads();
            for (int jj = 0; jj < TILE; ++jj) {
                F dot = F(0), dp = F(0);
                for (int c = 0; c < C; ++c) {
                    dot += qr[c] * ks[jj][c * G + part];
                    dp += gr[c] * vs[jj][c * G + part];
                }
                dot = group_sum<G>(dot);
                dp = group_sum<G>(dp);
                const i64 j = j0 + jj;
                if (!live || j >= S || (causal && j > i)) continue;  // after the shuffles: all lanes took part
                const F p = m_exp(dot * scale + (bias ? bias[b * sb + i * si + j * sj] : F(0)) - row_lse);
                const F mk = attn_keep(seed, threshold, (b * L + i) * S + j) ? keep_scale : F(0);
                const F ds = p * (dp * mk - row_delta);
                for (int c = 0; c < C; ++c) acc[c] += ds * ks[jj][c * G + part];
            }
        }
        if (valid) {
            for (int c = 0; c < C; ++c) {
                const i64 e = (i64)c * G + part;
                if (e < E) store(dq, (b * L + i) * E + e, acc[c] * scale);
            }
        }
    }
}

// dk_j = scale sum_i dS_ij q_i and dv_j = sum_i P_ij M_ij g_i over the group's query batches: a block per key tile of
// one key/value batch; query rows (q, g, lse, Delta) stream through shared memory; each result written once.
template <typename T, int D>
__global__ void attention_backward_dkv(const T* __restrict__ g, const T* __restrict__ q, const T* __restrict__ k,
                                       const T* __restrict__ v, const typename Acc<T>::type* __restrict__ lse,
                                       const typename Acc<T>::type* __restrict__ delta,
                                       const typename Acc<T>::type* __restrict__ bias, i64 sb, i64 si, i64 sj,
                                       T* __restrict__ dk, T* __restrict__ dv, i64 Bk, i64 L, i64 S, i64 E, i64 Ev,
                                       i64 group, int causal, double scale_arg,
                                       const unsigned long long* __restrict__ seed, i64 threshold_arg, double keep_scale_arg) {
    typedef typename Acc<T>::type F;
    constexpr int G = D >= 32 ? D / 32 : 1, C = D / G, TILE = AttnTile<F>::rows;
    __shared__ F qs[TILE][D];
    __shared__ F gs[TILE][D];
    __shared__ F ls[TILE];
    __shared__ F ds_[TILE];
    const F scale = F(scale_arg);
    const unsigned long long threshold = (unsigned long long)threshold_arg;
    const F keep_scale = F(keep_scale_arg);  // 1 / (1 - p), from the host: p itself, not thr / 2^24
    const int rows = blockDim.x / G, r = threadIdx.x / G, part = threadIdx.x % G;
    const i64 tiles_per_batch = (S + rows - 1) / rows;
    for (i64 tile = blockIdx.x; tile < Bk * tiles_per_batch; tile += gridDim.x) {
        const i64 kb = tile / tiles_per_batch, j0 = (tile % tiles_per_batch) * rows, j = j0 + r;
        const bool valid = j < S;
        F kr[C], vr[C], dka[C], dva[C];
        for (int c = 0; c < C; ++c) {
            const i64 e = (i64)c * G + part;
            kr[c] = valid && e < E ? load(k, (kb * S + j) * E + e) : F(0);
            vr[c] = valid && e < Ev ? load(v, (kb * S + j) * Ev + e) : F(0);
            dka[c] = dva[c] = F(0);
        }
        for (i64 b = kb * group; b < (kb + 1) * group; ++b) {
            for (i64 i0 = causal ? j0 : 0; i0 < L; i0 += TILE) {  // causal: query rows before the tile see none of it
                __syncthreads();
                load_tile<T, D>(qs, q, b * L + i0, b * L + L, E, TILE);
                load_tile<T, D>(gs, g, b * L + i0, b * L + L, Ev, TILE);
                for (int t = threadIdx.x; t < TILE; t += blockDim.x) {
                    const bool in = i0 + t < L;
                    ls[t] = in ? lse[b * L + i0 + t] : F(-INFINITY);
                    ds_[t] = in && ls[t] != -INFINITY ? delta[b * L + i0 + t] : F(0);
                }
                __syncthreads();
                for (int ii = 0; ii < TILE; ++ii) {
                    F dot = F(0), dp = F(0);
                    for (int c = 0; c < C; ++c) {
                        dot += kr[c] * qs[ii][c * G + part];
                        dp += vr[c] * gs[ii][c * G + part];
                    }
                    dot = group_sum<G>(dot);
                    dp = group_sum<G>(dp);
                    const i64 i = i0 + ii;
                    const F row_lse = ls[ii];
                    if (!valid || i >= L || row_lse == -INFINITY || (causal && j > i)) continue;
                    const F p = m_exp(dot * scale + (bias ? bias[b * sb + i * si + j * sj] : F(0)) - row_lse);
                    const F mk = attn_keep(seed, threshold, (b * L + i) * S + j) ? keep_scale : F(0);
                    const F ds = p * (dp * mk - ds_[ii]);
                    const F pm = p * mk;
                    for (int c = 0; c < C; ++c) {
                        dka[c] += ds * qs[ii][c * G + part];
                        dva[c] += pm * gs[ii][c * G + part];
                    }
                }
            }
        }
        if (valid) {
            for (int c = 0; c < C; ++c) {
                const i64 e = (i64)c * G + part;
                if (e < E) store(dk, (kb * S + j) * E + e, dka[c] * scale);
                if (e < Ev) store(dv, (kb * S + j) * Ev + e, dva[c]);
            }
        }
    }
}
