// gpubp kernels: shared helpers.
//
// The CUDA backend inlines this header into each kernel source before handing it to NVRTC,
// so CuPy's kernel cache (which hashes the source string, not #included files) sees every
// change. The math helpers are __host__ __device__ so the same formulas also compile for the
// CPU, where the test suite checks them against the NumPy references without a GPU.
#pragma once

#if !defined(__CUDACC__)
#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#endif

#if !defined(__CUDACC_RTC__)
#include <math.h>
#include <string.h>
#endif

typedef long long i64;

#if defined(__CUDACC_RTC__) && !defined(INFINITY)
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
#endif

// Up to MT_MAX tensors, MT_LISTS arrays each (param, grad, states...), passed BY VALUE as a
// kernel argument (3 KiB, under the 4 KiB limit): one launch covers a whole parameter list
// without uploading a pointer table. gpubp/backend/cupy_backend.py builds the matching dtype.
#define MT_LISTS 5
#define MT_MAX 64
struct TensorTable {
    unsigned long long ptr[MT_LISTS][MT_MAX];
    i64 numel[MT_MAX];
    i64 count;
};

// float16 storage without cuda_fp16.h (NVRTC-friendly): converted with one PTX instruction.
struct half_t {
    unsigned short bits;
};

// Accumulation / math type: float for half and float, double for double.
template <typename T> struct Acc { typedef T type; };
template <> struct Acc<half_t> { typedef float type; };

// ---- float/double math, one name for both precisions -------------------------------------
__host__ __device__ __forceinline__ float m_exp(float x) { return expf(x); }
__host__ __device__ __forceinline__ double m_exp(double x) { return exp(x); }
__host__ __device__ __forceinline__ float m_expm1(float x) { return expm1f(x); }
__host__ __device__ __forceinline__ double m_expm1(double x) { return expm1(x); }
__host__ __device__ __forceinline__ float m_log(float x) { return logf(x); }
__host__ __device__ __forceinline__ double m_log(double x) { return log(x); }
__host__ __device__ __forceinline__ float m_log1p(float x) { return log1pf(x); }
__host__ __device__ __forceinline__ double m_log1p(double x) { return log1p(x); }
__host__ __device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__host__ __device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__host__ __device__ __forceinline__ float m_erf(float x) { return erff(x); }
__host__ __device__ __forceinline__ double m_erf(double x) { return erf(x); }
__host__ __device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__host__ __device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__host__ __device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__host__ __device__ __forceinline__ double m_abs(double x) { return fabs(x); }
__host__ __device__ __forceinline__ float m_max(float a, float b) { return fmaxf(a, b); }
__host__ __device__ __forceinline__ double m_max(double a, double b) { return fmax(a, b); }

// sigmoid without overflow: exp(-|x|) is at most 1, each branch exact on its half-line
template <typename F> __host__ __device__ __forceinline__ F m_sigmoid(F x) {
    F e = m_exp(-m_abs(x));
    return x >= F(0) ? F(1) / (F(1) + e) : e / (F(1) + e);
}

#if defined(__CUDACC__) || defined(GPUBP_EMULATE_CUDA)
// ---- float16 <-> float: one PTX instruction on the GPU; elsewhere (nvcc's host pass, and the CPU emulation of
// kernels/host_emulation.h) the same IEEE conversion in integer code, bit for bit: float16 -> float is exact;
// float -> float16 rounds to nearest even, with subnormals, overflow to infinity, and NaN kept a (quiet) NaN.
__host__ __device__ __forceinline__ float half_bits_to_float(unsigned short h) {
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    const unsigned sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
        const float f = (float)mant * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    // infinity and NaN keep an all-ones exponent; normals move from bias 15 to bias 127
    const unsigned bits = sign | (exp == 0x1fu ? 0x7f800000u : (exp + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

__host__ __device__ __forceinline__ unsigned short float_to_half_bits(float f) {
#if defined(__CUDA_ARCH__)
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    unsigned x;
    memcpy(&x, &f, sizeof x);
    const unsigned sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // NaN
    if (ax >= 0x47800000u) return (unsigned short)(sign | 0x7c00u);  // |f| >= 2^16 (or inf): infinity
    // |f| = full * 2^(e - 23). A normal half keeps the top 11 bits of ``full`` (drop 13); a subnormal counts units
    // of 2^-24 (drop 13 + (-14 - e)). Rounding up may carry into the exponent, up to infinity: the encoding allows.
    const int e = (int)(ax >> 23) - 127;
    const unsigned full = (ax & 0x7fffffu) | 0x800000u;
    const int drop = e >= -14 ? 13 : -1 - e;
    const unsigned base = e >= -14 ? (unsigned)(e + 14) << 10 : 0u;
    if (drop > 24) return (unsigned short)sign;  // below 2^-25: rounds to zero
    unsigned q = full >> drop;
    const unsigned rest = full & ((1u << drop) - 1), halfway = 1u << (drop - 1);
    if (rest > halfway || (rest == halfway && (q & 1u))) ++q;  // to nearest, ties to even
    return (unsigned short)(sign | (base + q));
#endif
}

// ---- loads and stores through the math type ------------------------------------------------
template <typename T> __device__ __forceinline__ typename Acc<T>::type load(const T* p, i64 i) { return p[i]; }
template <> __device__ __forceinline__ float load<half_t>(const half_t* p, i64 i) {
    return half_bits_to_float(p[i].bits);
}
template <typename T> __device__ __forceinline__ void store(T* p, i64 i, typename Acc<T>::type v) { p[i] = v; }
template <> __device__ __forceinline__ void store<half_t>(half_t* p, i64 i, float v) {
    p[i].bits = float_to_half_bits(v);
}

// Grid-stride loop with 64-bit indices: any grid size covers any n.
#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

template <typename F> __device__ __forceinline__ F warp_sum(F v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <typename F> __device__ __forceinline__ F warp_max(F v) {
    for (int o = 16; o > 0; o >>= 1) v = m_max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the whole block; every thread gets the result. ``scratch`` holds 32 values.
template <typename F> __device__ __forceinline__ F block_sum(F v, F* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read from a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : F(0);
    return warp_sum(v);
}
#endif
