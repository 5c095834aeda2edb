// CUDA's execution model for the host C++ compiler, so gpubp's kernels run unchanged on a CPU.
//
// gpubp/backend/emulation/host_kernels.py force-includes this header (g++ -include) before a kernel family's
// source and appends a table of the family's instantiations; it then loads the library with ctypes. The point is
// to test the real GPU code without a GPU: indexing, grid-stride loops, __syncthreads, warp shuffles, __shared__.
// It is meant to be honest, not fast.
//
// The model:
//   * blocks run one after another; a block's threads run as fibers (one stack each) on the calling OS thread;
//   * warp by warp: each lane of a warp runs until it reaches a warp operation (a shuffle, __syncwarp), a
//     __syncthreads, or exits. When every lane waits at a warp operation, the values are exchanged and the warp
//     goes on; when they all wait at __syncthreads (or have exited) the next warp runs; when the whole block waits
//     there, the barrier opens. A warp whose lanes wait at different kinds of sync point, a warp operation after
//     some lanes exited, a mask other than the warp's existing lanes, or threads at different __syncthreads lines
//     are errors, reported back by the launcher (never a hang);
//   * order: forward (blocks, warps and lanes in increasing order), reverse (warps and lanes of each block in
//     decreasing order), reverse_blocks (blocks too). A kernel whose result depends on the order has a race that
//     only some GPU schedules would show;
//   * __shared__ is a static thread_local: one copy per instantiation, shared by a block's fibers. It keeps its
//     contents from block to block (a GPU's would be garbage); kernels must not read it before writing it. No
//     dynamic (extern) shared memory;
//   * each fiber has a 64 KiB stack above a guard page: an overflow is a segfault, not an error message.
//     The stacks are made once per OS thread and reused by every block and launch.
// Build with -fvisibility=hidden (host_kernels.py does): the __shared__ statics and this file's state must stay
// private to each library, and only the gpubp_emu_* entry points at the bottom are exported.
#pragma once
#define GPUBP_EMULATE_CUDA 1

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <type_traits>
#include <utility>
#include <vector>

#if !defined(__x86_64__) || defined(GPUBP_EMULATE_UCONTEXT)
#define GPUBP_EMULATE_UCONTEXT 1
#include <ucontext.h>
#endif

// ---- CUDA's keywords (the same definitions common.cuh makes for plain host code) -----------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

namespace gpubp_emu {

struct uint3 {
    unsigned int x, y, z;
};

// ---- fibers: a saved stack pointer (x86-64) or a ucontext; 64 KiB stacks with a guard page --------------------
const size_t STACK_BYTES = 64 * 1024, GUARD_BYTES = 4096;

#if defined(GPUBP_EMULATE_UCONTEXT)
struct Context {
    ucontext_t uc;
};
inline void context_start(Context& c, char* stack, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = STACK_BYTES;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}
inline void context_switch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#else
// Saves the callee-saved registers on the current stack, stores its pointer in *from, loads ``to``, pops that
// fiber's registers and returns into it: ~10x faster than glibc's swapcontext, which also saves the signal mask
// (a syscall per switch). The SSE/x87 control words are not switched: nothing here changes rounding modes.
// Not for CPUs enforcing CET shadow stacks; compile with -DGPUBP_EMULATE_UCONTEXT there.
extern "C" __attribute__((visibility("hidden"))) void gpubp_emu_switch(void** from, void* to);
asm(R"(
    .text
    .globl gpubp_emu_switch
    .hidden gpubp_emu_switch
    .type gpubp_emu_switch, @function
gpubp_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size gpubp_emu_switch, .-gpubp_emu_switch
)");
struct Context {
    void* sp;
};
// A new fiber's stack, as gpubp_emu_switch leaves one: six zero registers, then ``entry`` as the return address,
// then a null return address for ``entry`` itself (which never returns); ``entry`` starts 16-byte aligned, as if
// called.
inline void context_start(Context& c, char* stack, void (*entry)()) {
    void** top = (void**)(stack + STACK_BYTES);
    top[-1] = nullptr;
    top[-2] = (void*)entry;
    for (int i = 3; i <= 8; ++i) top[-i] = nullptr;
    c.sp = top - 8;
}
inline void context_switch(Context& from, Context& to) { gpubp_emu_switch(&from.sp, to.sp); }
#endif

// ---- the running launch -----------------------------------------------------------------------------------------
enum Wait { READY, WARP_OP, BARRIER, EXITED };
enum WarpOp { SHFL_XOR, SHFL_DOWN, SHFL_UP, SHFL_IDX, SYNCWARP };

struct Lane {
    Context context;
    char* stack;
    uint3 thread_idx;
    Wait wait;
    int op, width, barrier_line;  // the warp operation or the __syncthreads it waits at
    long long arg;                // lane mask, delta or source lane
    unsigned mask, size;          // mask given; sizeof the value
    unsigned char value[8], result[8];
};

struct Kernel {
    const char* name;
    void (*call)(void**);
    int param_count;
    const unsigned long long* param_sizes;
};

struct State {
    uint3 block_idx, block_dim, grid_dim;
    std::vector<Lane> lanes;  // grows to the largest block seen; the stacks are reused
    Lane* current;
    Context scheduler;
    const Kernel* kernel;
    void** args;
    char error[1024];
    ~State() {
        for (Lane& l : lanes) munmap(l.stack - GUARD_BYTES, STACK_BYTES + GUARD_BYTES);
    }
};
static thread_local State state;

inline Lane& self() { return *state.current; }

// Suspend this fiber until the scheduler resumes it.
inline void wait(Wait why) {
    Lane& me = self();
    me.wait = why;
    context_switch(me.context, state.scheduler);
}

// Every fiber starts here, runs the kernel to the end and exits.
inline void fiber_main() {
    state.kernel->call(state.args);
    wait(EXITED);
    __builtin_unreachable();
}

// ---- what the kernels call ----------------------------------------------------------------------------------
inline void syncthreads(int line) {
    self().barrier_line = line;
    wait(BARRIER);
}

template <typename T> T warp_op(int op, unsigned mask, T var, long long arg, int width) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp shuffles move up to 8 bytes");
    Lane& me = self();
    me.op = op;
    me.mask = mask;
    me.arg = arg;
    me.width = width;
    me.size = sizeof(T);
    memcpy(me.value, &var, sizeof(T));
    wait(WARP_OP);
    T out;
    memcpy(&out, self().result, sizeof(T));
    return out;
}

template <typename T> T atomic_add_float(T* p, T v) {
    T old, next;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do {
        next = old + v;
    } while (!__atomic_compare_exchange(p, &old, &next, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

// ---- the scheduler ---------------------------------------------------------------------------------------------
// Sets state.error to "kernel K, block (x, y, z)[, warp W]: <message>"; returns false.
__attribute__((format(printf, 2, 3))) inline bool fail(int warp, const char* fmt, ...) {
    const uint3 b = state.block_idx;
    int len = snprintf(state.error, sizeof state.error, "kernel %s, block (%u, %u, %u)", state.kernel->name, b.x,
                       b.y, b.z);
    if (warp >= 0) len += snprintf(state.error + len, sizeof state.error - len, ", warp %d", warp);
    len += snprintf(state.error + len, sizeof state.error - len, ": ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(state.error + len, sizeof state.error - len, fmt, ap);
    va_end(ap);
    return false;
}

// Resume every ready lane of warp ``w`` (threads [32 w, 32 w + n)) until none is ready, doing the warp operations
// they meet. False, with state.error set, on an error.
inline bool run_warp(int w, int n, bool reverse) {
    Lane* lanes = &state.lanes[32 * w];
    for (;;) {
        for (int k = 0; k < n; ++k) {
            Lane& l = lanes[reverse ? n - 1 - k : k];
            if (l.wait != READY) continue;
            state.current = &l;
            context_switch(state.scheduler, l.context);
        }
        int at_op = 0, at_barrier = 0;
        for (int k = 0; k < n; ++k) {
            at_op += lanes[k].wait == WARP_OP;
            at_barrier += lanes[k].wait == BARRIER;
        }
        if (at_op == 0) return true;  // all at __syncthreads or exited: the next warp's turn
        if (at_op != n)
            return fail(w,
                        "lanes wait at different sync points: %d at a warp shuffle or __syncwarp, %d at "
                        "__syncthreads, %d exited (a warp operation needs every lane of the warp)",
                        at_op, at_barrier, n - at_op - at_barrier);
        const unsigned existing = n == 32 ? 0xffffffffu : (1u << n) - 1;
        const Lane& first = lanes[0];
        for (int k = 0; k < n; ++k) {
            const Lane& l = lanes[k];
            if (l.mask != existing)
                return fail(w, "lane %d gives mask 0x%08x; the warp's lanes are 0x%08x", k, l.mask, existing);
            if (l.op != first.op || l.width != first.width || l.size != first.size)
                return fail(w, "lanes 0 and %d wait at different warp operations", k);
        }
        const int width = first.width;
        if (width < 1 || width > 32 || (width & (width - 1)))
            return fail(w, "shuffle width %d is not a power of two from 1 to 32", width);
        for (int k = 0; first.op != SYNCWARP && k < n; ++k) {
            Lane& l = lanes[k];
            const long long start = k & ~(width - 1), end = start + width;  // the lane's segment of the warp
            long long src = l.op == SHFL_XOR    ? k ^ l.arg
                            : l.op == SHFL_DOWN ? k + l.arg
                            : l.op == SHFL_UP   ? k - l.arg
                                                : start + (l.arg & (width - 1));
            if (src >= end || (l.op == SHFL_UP && src < start)) src = k;  // out of the segment: the lane's own value
            if (src < 0 || src >= n) return fail(w, "lane %d reads lane %lld, which does not exist", k, src);
            memcpy(l.result, lanes[src].value, l.size);
        }
        for (int k = 0; k < n; ++k) lanes[k].wait = READY;
    }
}

enum Order { FORWARD = 0, REVERSE = 1, REVERSE_BLOCKS = 2 };

// Run ``kernel`` over the whole grid; 0 when it ran to the end, -1 with state.error set otherwise.
inline int launch(const Kernel& kernel, const unsigned grid[3], const unsigned block[3], void** args, int order) {
    state.error[0] = 0;
    const unsigned long long threads = (unsigned long long)block[0] * block[1] * block[2];
    const unsigned long long blocks = (unsigned long long)grid[0] * grid[1] * grid[2];
    if (threads == 0 || threads > 1024 || blocks == 0 || block[2] > 64 || grid[1] > 65535 || grid[2] > 65535 ||
        grid[0] > 0x7fffffffu || order < FORWARD || order > REVERSE_BLOCKS) {
        snprintf(state.error, sizeof state.error,
                 "kernel %s: invalid launch: grid (%u, %u, %u), block (%u, %u, %u), order %d", kernel.name, grid[0],
                 grid[1], grid[2], block[0], block[1], block[2], order);
        return -1;
    }
    while (state.lanes.size() < threads) {
        char* mem = (char*)mmap(nullptr, STACK_BYTES + GUARD_BYTES, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED || mprotect(mem, GUARD_BYTES, PROT_NONE) != 0) {
            snprintf(state.error, sizeof state.error, "kernel %s: cannot map a fiber stack", kernel.name);
            return -1;
        }
        state.lanes.emplace_back();
        state.lanes.back().stack = mem + GUARD_BYTES;  // the guard page is below: stacks grow down
    }
    state.kernel = &kernel;
    state.args = args;
    state.block_dim = {block[0], block[1], block[2]};
    state.grid_dim = {grid[0], grid[1], grid[2]};
    const int n = (int)threads, warps = (n + 31) / 32;
    const bool reverse = order != FORWARD;
    for (unsigned long long i = 0; i < blocks; ++i) {
        const unsigned long long bl = order == REVERSE_BLOCKS ? blocks - 1 - i : i;
        state.block_idx = {(unsigned)(bl % grid[0]), (unsigned)(bl / grid[0] % grid[1]),
                           (unsigned)(bl / grid[0] / grid[1])};
        for (int t = 0; t < n; ++t) {
            Lane& l = state.lanes[t];
            l.thread_idx = {t % block[0], t / block[0] % block[1], t / block[0] / block[1]};
            l.wait = READY;
            context_start(l.context, l.stack, fiber_main);
        }
        for (;;) {
            for (int k = 0; k < warps; ++k) {
                const int w = reverse ? warps - 1 - k : k;
                if (!run_warp(w, w == warps - 1 ? n - 32 * w : 32, reverse)) return -1;
            }
            const Lane* waiting = nullptr;  // every thread now waits at __syncthreads or has exited
            for (int t = 0; t < n; ++t) {
                const Lane& l = state.lanes[t];
                if (l.wait != BARRIER) continue;
                if (waiting && l.barrier_line != waiting->barrier_line) {
                    fail(-1, "threads wait at different __syncthreads (line %d for thread %d, line %d for thread %d)",
                         waiting->barrier_line, (int)(waiting - &state.lanes[0]), l.barrier_line, t);
                    return -1;
                }
                waiting = &l;
            }
            if (!waiting) break;  // all exited: the block is done
            for (int t = 0; t < n; ++t)
                if (state.lanes[t].wait == BARRIER) state.lanes[t].wait = READY;
        }
    }
    return 0;
}

// ---- the launch table: each instantiation's parameter sizes and a trampoline unpacking void** arguments --------
template <typename F> struct Signature;
template <typename... P> struct Signature<void (*)(P...)> {
    static constexpr int count = sizeof...(P);
    static constexpr unsigned long long sizes[sizeof...(P) + 1] = {sizeof(P)..., 0};
};

template <typename T> T unpack(void* p) {
    std::remove_cv_t<T> v;
    memcpy((void*)&v, p, sizeof v);
    return v;
}
template <auto F, typename... P, size_t... I>
void call_unpacked(void (*)(P...), void** args, std::index_sequence<I...>) {
    F(unpack<P>(args[I])...);
}
template <auto F> void trampoline(void** args) {
    call_unpacked<F>(F, args, std::make_index_sequence<Signature<decltype(F)>::count>());
}
template <auto F> constexpr Kernel kernel(const char* name) {
    return {name, &trampoline<F>, Signature<decltype(F)>::count, Signature<decltype(F)>::sizes};
}

}  // namespace gpubp_emu

// ---- CUDA's built-in variables and functions ----------------------------------------------------------------
#define threadIdx (gpubp_emu::self().thread_idx)
#define blockIdx (gpubp_emu::state.block_idx)
#define blockDim (gpubp_emu::state.block_dim)
#define gridDim (gpubp_emu::state.grid_dim)
constexpr int warpSize = 32;

#define __syncthreads() gpubp_emu::syncthreads(__LINE__)
inline void __syncwarp(unsigned mask = 0xffffffffu) { gpubp_emu::warp_op(gpubp_emu::SYNCWARP, mask, 0, 0, 32); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <typename T> T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
    return gpubp_emu::warp_op(gpubp_emu::SHFL_IDX, mask, var, src_lane, width);
}
template <typename T> T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
    return gpubp_emu::warp_op(gpubp_emu::SHFL_XOR, mask, var, lane_mask, width);
}
template <typename T> T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return gpubp_emu::warp_op(gpubp_emu::SHFL_DOWN, mask, var, delta, width);
}
template <typename T> T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return gpubp_emu::warp_op(gpubp_emu::SHFL_UP, mask, var, delta, width);
}

// Atomics return the old value, as CUDA's. One OS thread runs a launch, but two launches may run at once on
// different threads, so these are real atomics.
inline float atomicAdd(float* p, float v) { return gpubp_emu::atomic_add_float(p, v); }
inline double atomicAdd(double* p, double v) { return gpubp_emu::atomic_add_float(p, v); }
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

// ---- the C entry points host_kernels.py calls; the table itself is generated after the family's source ----------
extern const gpubp_emu::Kernel gpubp_emu_kernels[];
extern const int gpubp_emu_kernel_count;
#define GPUBP_EMU_EXPORT extern "C" __attribute__((visibility("default")))

GPUBP_EMU_EXPORT int gpubp_emu_count() { return gpubp_emu_kernel_count; }
GPUBP_EMU_EXPORT const char* gpubp_emu_name(int k) { return gpubp_emu_kernels[k].name; }
GPUBP_EMU_EXPORT int gpubp_emu_param_count(int k) { return gpubp_emu_kernels[k].param_count; }
GPUBP_EMU_EXPORT unsigned long long gpubp_emu_param_size(int k, int i) { return gpubp_emu_kernels[k].param_sizes[i]; }
GPUBP_EMU_EXPORT const char* gpubp_emu_error() { return gpubp_emu::state.error; }
GPUBP_EMU_EXPORT int gpubp_emu_launch(int k, const unsigned* grid, const unsigned* block, void** args, int order) {
    return gpubp_emu::launch(gpubp_emu_kernels[k], grid, block, args, order);
}
