"""gpubp's CUDA kernels executed on the CPU, unchanged, under kernels/host_emulation.h (no GPU needed).

* every instantiation of every family compiles for the host and runs with the CUDA backend's launch conventions
  (256 threads a block; grids of one block, of a few, and smaller than the work), on NaN-poisoned outputs, and
  matches the NumPy reference;
* each launch gives the same bits with warps and lanes run in reverse order (a race between threads of a block
  would show here), and with the blocks reversed too (up to the order of float atomicAdds);
* planted bugs (a wrong shuffle offset, a grid-stride loop that skips, a missing __syncthreads) are caught;
* the emulator's own rules: shuffle semantics, atomics, thread coordinates, float16 conversions bit for bit,
  and errors (divergent barriers, shuffles after an exit, bad masks, wrong arguments) raised, never hung.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import struct
import threading
from collections.abc import Sequence

import numpy as np
import pytest
from conftest import rng_for

from gpubp.backend import kernels
from gpubp.backend.base import ACTIVATION_SAVES
from gpubp.backend.emulation.host_kernels import EmulatedKernelError, HostCompileError, HostKernel, HostModule
from gpubp.backend.numpy_backend import NumpyBackend

if not (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")):
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail("no host C++ compiler on this CI machine: the kernels cannot run on the CPU", pytrace=False)
    pytestmark = pytest.mark.skip(reason="no host C++ compiler (g++) to build the kernels for the CPU")

BLOCK = 256  # cupy_backend.BLOCK: threads per block for every kernel
SM_COUNT = 1  # a small device: cupy_backend's grid cap (sm_count * 16 blocks) is reached by 4099 elements
ORDERS = ("forward", "reverse", "reverse_blocks")
REF = NumpyBackend()
DTYPES = {"float": np.float32, "double": np.float64, "half_t": np.float16}
TOL = {np.float16: 3e-3, np.float32: 2e-5, np.float64: 1e-11}  # relative, against float64 references
ACC = {np.float16: np.float32, np.float32: np.float32, np.float64: np.float64}  # the kernels' math type
TABLE = np.dtype(  # common.cuh's TensorTable, passed by value
    [
        ("ptr", np.uint64, (kernels.MT_LISTS, kernels.MT_MAX)),
        ("numel", np.int64, (kernels.MT_MAX,)),
        ("count", np.int64),
    ]
)


# ---- launching -------------------------------------------------------------------------------------------------
def ptr(a: np.ndarray | None) -> bytes:
    return struct.pack("<Q", 0 if a is None else a.ctypes.data)


def i64(v: int) -> bytes:
    return struct.pack("<q", v)


def i32(v: int) -> bytes:
    return struct.pack("<i", v)


def f64(v: float) -> bytes:
    return struct.pack("<d", v)


def grids(work: int) -> list[int]:
    """One block, three, and cupy_backend's grid for ``work`` threads (capped at sm_count * 16 blocks)."""
    return sorted({1, 3, max(1, min(math.ceil(work / BLOCK), SM_COUNT * 16))})


def poisoned(shape: int | tuple, dtype: type) -> np.ndarray:
    """An output buffer full of NaN: an element the kernel forgets to write fails the comparison."""
    return np.full(shape, np.nan, dtype=dtype)


# A kernel argument as the checks give it: a C value's bytes; an array (passed by pointer; every launch gets a fresh
# copy, so outputs poisoned with NaN start poisoned each time); None (a null pointer); or a TensorTable's lists.
Arg = bytes | np.ndarray | None | list


def _fresh(arg: Arg) -> Arg:
    if isinstance(arg, np.ndarray):
        return arg.copy()
    if isinstance(arg, list):
        return [None if arrays is None else [a.copy() for a in arrays] for arrays in arg]
    return arg


def _arrays(arg: Arg) -> list[np.ndarray]:
    if isinstance(arg, np.ndarray):
        return [arg]
    if isinstance(arg, list):
        return [a for arrays in arg if arrays is not None for a in arrays]
    return []


def _c_value(arg: Arg) -> bytes:
    if isinstance(arg, list):
        return table(arg)
    return arg if isinstance(arg, bytes) else ptr(arg)


def run_orders(
    kernel: HostKernel, grid_list: Sequence[int], args: Sequence[Arg], block_rtol: float | None = None
) -> list[list[np.ndarray]]:
    """Launch ``kernel`` on each grid in every order, on fresh copies of the array arguments. Reverse order must give
    forward's bits in every array; so must reversed blocks, or within ``block_rtol`` for kernels that add with
    atomics. Returns, per grid, the forward launch's arrays in argument order (a table's list by list)."""
    results = []
    for grid in grid_list:
        runs = {}
        for order in ORDERS:
            fresh = [_fresh(a) for a in args]  # alive until the launch returns
            kernel.launch((grid, 1, 1), (BLOCK, 1, 1), [_c_value(a) for a in fresh], order)
            runs[order] = [a for arg in fresh for a in _arrays(arg)]
        for a, b, c in zip(runs["forward"], runs["reverse"], runs["reverse_blocks"]):
            assert a.tobytes() == b.tobytes(), f"{kernel.name}, grid {grid}: reversed warps and lanes change the result"
            if block_rtol is None:
                assert a.tobytes() == c.tobytes(), f"{kernel.name}, grid {grid}: reversed blocks change the result"
            else:
                np.testing.assert_allclose(c, a, rtol=block_rtol, err_msg=f"{kernel.name}, grid {grid}")
        results.append(runs["forward"])
    return results


def close(out: np.ndarray, ref: np.ndarray, dtype: type, what: str, atol: float | None = None) -> None:
    tol = TOL[dtype]
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=tol, atol=tol if atol is None else atol, err_msg=what)


@functools.cache
def family(name: str) -> HostModule:
    """Every instantiation of family ``name``, compiled once per test process (then from the disk cache)."""
    return HostModule(kernels.source(name), kernels.FAMILIES[name][1])


def planted(name: str, old: str, new: str, names: Sequence[str]) -> HostModule:
    """Family ``name`` with one textual change (which must apply), compiled for ``names`` only."""
    source = kernels.source(name)
    assert old in source, f"the planted bug's target is gone from {name}: {old!r}"
    return HostModule(source.replace(old, new), names)


# ---- the families' checks: each takes the module, so the planted-bug tests run the very same check ----------------
ACT_PARAM = {"leaky_relu": 0.1, "elu": 1.3, "softplus": 1.5}


def check_activation(module: HostModule, act: str, ct: str, sizes: Sequence[int] = (1, 7, 1000, 33 * 65, 4099)) -> None:
    """act_forward and act_backward (reading the saved input or output, as ACTIVATION_SAVES says)."""
    dtype, kid, p = DTYPES[ct], kernels.ACTIVATION_IDS[act], ACT_PARAM.get(act, 0.0)
    for n in sizes:
        rng = rng_for("emulated-act", act, ct, n)
        x = (rng.standard_normal(n) * 3).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
        y_ref = REF.act_forward(act, x.astype(np.float64), p)
        saved = y_ref.astype(dtype) if ACTIVATION_SAVES[act] == "output" else x
        dx_ref = REF.act_backward(act, g.astype(np.float64), saved.astype(np.float64), p)

        fwd = module.get_function(f"act_forward<{ct}, {kid}>")
        for _, y in run_orders(fwd, grids(n), [x, poisoned(n, dtype), i64(n), f64(p)]):
            close(y, y_ref, dtype, f"{act} forward, {ct}, n={n}")
        bwd = module.get_function(f"act_backward<{ct}, {kid}>")
        for *_, dx in run_orders(bwd, grids(n), [g, saved, poisoned(n, dtype), i64(n), f64(p)]):
            close(dx, dx_ref, dtype, f"{act} backward, {ct}, n={n}")


ROWS = [(1, 1), (7, 1), (1, 1031), (33, 65), (5, 1031)]


def check_softmax(module: HostModule, ct: str, log: bool, shapes: Sequence[tuple] = ROWS) -> None:
    """softmax_forward and softmax_backward (from the saved output) over rows of ``shapes``, one warp a row."""
    dtype, flag = DTYPES[ct], "true" if log else "false"
    for rows, cols in shapes:
        rng = rng_for("emulated-softmax", ct, log, rows, cols)
        x = (rng.standard_normal((rows, cols)) * 2).astype(dtype)
        g = rng.standard_normal((rows, cols)).astype(dtype)
        x64 = x.astype(np.float64)
        y_ref = REF.log_softmax(x64, 1) if log else REF.softmax(x64, 1)
        y = y_ref.astype(dtype)  # the saved output backward reads
        y64 = y.astype(np.float64)
        if log:
            dx_ref = REF.log_softmax_backward(g.astype(np.float64), y64, 1)
        else:
            dx_ref = REF.softmax_backward(g.astype(np.float64), y64, 1)
        atol = TOL[dtype] / cols  # probabilities are about 1 / cols

        what = f"{'log_' if log else ''}softmax {ct} ({rows}, {cols})"
        fwd = module.get_function(f"softmax_forward<{ct}, {flag}>")
        for _, out in run_orders(fwd, grids(rows * 32), [x, poisoned(x.shape, dtype), i64(rows), i64(cols)]):
            close(out, y_ref, dtype, what + " forward", None if log else atol)
        bwd = module.get_function(f"softmax_backward<{ct}, {flag}>")
        for *_, dx in run_orders(bwd, grids(rows * 32), [g, y, poisoned(x.shape, dtype), i64(rows), i64(cols)]):
            close(dx, dx_ref, dtype, what + " backward", TOL[dtype] if log else atol)


def targets(rng: np.random.Generator, rows: int, cols: int, ignore_index: int) -> np.ndarray:
    t = rng.integers(0, cols, rows).astype(np.int64)
    t[rng.random(rows) < 0.3] = ignore_index
    return t


def check_cross_entropy(module: HostModule, ct: str, smoothing: float, shapes: Sequence[tuple] = ROWS) -> None:
    """cross_entropy_forward (loss and lse per row, ignored rows) and cross_entropy_backward (per-row, shared and
    divided upstream gradients)."""
    dtype, acc, ii = DTYPES[ct], ACC[DTYPES[ct]], -100
    for rows, cols in shapes:
        rng = rng_for("emulated-ce", ct, smoothing, rows, cols)
        logits = (rng.standard_normal((rows, cols)) * 2).astype(dtype)
        target = targets(rng, rows, cols, ii)
        x64 = logits.astype(np.float64)
        loss_ref = REF.cross_entropy(x64, target, ii, smoothing)[0]
        m = x64.max(axis=1)
        lse_ref = m + np.log(np.exp(x64 - m[:, None]).sum(axis=1))

        what = f"cross-entropy {ct} ({rows}, {cols}), smoothing {smoothing}"
        fwd = module.get_function(f"cross_entropy_forward<{ct}>")
        args = [logits, target, poisoned(rows, dtype), poisoned(rows, acc), i64(rows), i64(cols), i64(ii)]
        for *_, loss, lse in run_orders(fwd, grids(rows * 32), [*args, f64(smoothing)]):
            close(loss, loss_ref, dtype, what + " loss")
            close(lse, lse_ref, dtype, what + " lse")
        lse = lse_ref.astype(acc)
        probs = REF.softmax(x64, 1)
        bwd = module.get_function(f"cross_entropy_backward<{ct}>")
        for shared, divisor in ((False, None), (True, None), (True, 3.0)):
            # shared: one upstream gradient for every row, read with stride 0 (a mean or sum loss)
            g = rng.standard_normal(1 if shared else rows).astype(dtype)
            g_rows = np.broadcast_to(g.astype(np.float64), (rows,)) if shared else g.astype(np.float64)
            div = None if divisor is None else np.array([divisor], dtype=acc)
            dx_ref = REF.cross_entropy_backward(g_rows, probs, target, ii, smoothing, divisor)
            args = [g, i64(0 if shared else 1), div, logits, lse, target, poisoned(x64.shape, dtype)]
            for *_, dx in run_orders(bwd, grids(rows * 32), [*args, i64(rows), i64(cols), i64(ii), f64(smoothing)]):
                close(dx, dx_ref, dtype, f"{what} backward, shared {shared}, divisor {divisor}")


def check_cross_entropy_reduce(module: HostModule, ct: str, sizes: Sequence[int] = (1, 7, 1000, 1031)) -> None:
    """The sum, or mean over counted rows, of per-row losses, in one block (two block_sums)."""
    dtype, acc, ii = DTYPES[ct], ACC[DTYPES[ct]], -100
    for rows in sizes:
        rng = rng_for("emulated-ce-reduce", ct, rows)
        loss = rng.uniform(0, 3, rows).astype(dtype)
        target = targets(rng, rows, 10, ii)
        target[0] = 1  # at least one counted row: no 0/0
        for mean in (False, True):
            value_ref, count_ref = REF.cross_entropy_reduce(loss.astype(np.float64), target, ii, mean)

            count = poisoned(1, acc) if mean else None
            args = [loss, target, poisoned(1, dtype), count, i64(rows), i64(ii), i32(mean)]
            # cupy_backend launches it as one block: it loops over the rows with the block's threads
            for outs in run_orders(module.get_function(f"cross_entropy_reduce<{ct}>"), [1], args):
                close(outs[2], np.reshape(value_ref, 1), dtype, f"cross_entropy_reduce {ct}, rows {rows}, mean {mean}")
                if mean:
                    assert outs[3][0] == count_ref


def table(lists: Sequence[Sequence[np.ndarray] | None]) -> bytes:
    """A TensorTable holding ``lists`` (list 0 gives the sizes), as the bytes of the by-value kernel argument."""
    t = np.zeros(1, dtype=TABLE)
    for li, arrays in enumerate(lists):
        for j, a in enumerate(arrays or ()):
            t["ptr"][0, li, j] = a.ctypes.data
    t["numel"][0, : len(lists[0])] = [a.size for a in lists[0]]
    t["count"][0] = len(lists[0])
    return t.tobytes()


def check_sq_norm(module: HostModule, ct: str, sizes: Sequence[int]) -> None:
    """The sum of squares of every tensor in one TensorTable, blocks adding with atomicAdd."""
    dtype, acc = DTYPES[ct], ACC[DTYPES[ct]]
    rng = rng_for("emulated-sqnorm", ct, tuple(sizes))
    arrays = [rng.standard_normal(n).astype(dtype) for n in sizes]
    ref = sum(float(np.dot(a.astype(np.float64), a.astype(np.float64))) for a in arrays)

    out = np.zeros(1, dtype=acc)  # the kernel adds each block's share with atomicAdd
    kernel = module.get_function(f"sq_norm_multi<{ct}>")
    for *_, total in run_orders(kernel, grids(max(sizes)), [[arrays], out], block_rtol=TOL[acc] / 10):
        close(total, np.array([ref]), dtype, f"sq_norm_multi {ct}, sizes {sizes}")


MOMENT_SHAPES = [(1, 1, 1), (3, 7, 5), (2, 33, 65), (4, 5, 300)]  # (outer, channels, inner)


def check_moments(module: HostModule, ct: str, shapes: Sequence[tuple] = MOMENT_SHAPES) -> None:
    """Per-channel mean and biased variance of (outer, channels, inner) data, a block per channel."""
    dtype, acc = DTYPES[ct], ACC[DTYPES[ct]]
    for outer, channels, inner in shapes:
        x = rng_for("emulated-moments", ct, outer, channels, inner).standard_normal((outer, channels, inner)) + 1.5
        x = x.astype(dtype)
        mean_ref, var_ref = REF.moments(x.astype(np.float64), (0, 2))

        # cupy_backend: one block per channel (capped); one and three blocks loop over the channels
        grid_list = sorted({1, 3, max(1, min(channels, SM_COUNT * 16))})
        kernel = module.get_function(f"channel_moments<{ct}>")
        args = [x, poisoned(channels, acc), poisoned(channels, acc), i64(outer), i64(channels), i64(inner)]
        for _, mean, var in run_orders(kernel, grid_list, args):
            close(mean, mean_ref, dtype, f"channel_moments {ct} mean, ({outer}, {channels}, {inner})")
            close(var, var_ref, dtype, f"channel_moments {ct} var, ({outer}, {channels}, {inner})")


OPTIMIZERS = [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01, "nesterov": False, "first": False}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True, "first": True}),
    ("sgd", {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "first": False}),
    ("adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled": False, "amsgrad": False}),
    ("adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled": True, "amsgrad": True}),
    ("rmsprop", {"lr": 1e-2, "alpha": 0.9, "weight_decay": 0.01, "momentum": 0.9, "centered": True}),
    ("rmsprop", {"lr": 1e-2, "alpha": 0.99, "weight_decay": 0.0, "momentum": 0.0, "centered": False}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
]
OPT_SIZES = (1, 7, 1000, 33 * 65)


def check_optimizer(module: HostModule, kind: str, kw: dict, ct: str) -> None:
    """One step from random state, on four tensors in one TensorTable, against the float64 reference."""
    dtype, acc = DTYPES[ct], ACC[DTYPES[ct]]
    rng = rng_for("emulated-optim", kind, sorted(kw.items()), ct)
    params = [rng.standard_normal(n).astype(dtype) for n in OPT_SIZES]
    grads = [rng.standard_normal(n).astype(dtype) for n in OPT_SIZES]
    # the state the kernel reads, by TensorTable list, in the math type (optim.cu's header lists them)
    if kind == "sgd":
        used = [2] if kw["momentum"] else []
    elif kind == "adam":
        used = [2, 3, 4] if kw["amsgrad"] else [2, 3]
    elif kind == "rmsprop":
        used = [2] + ([3] if kw["momentum"] else []) + ([4] if kw["centered"] else [])
    else:
        used = [2]
    state = {li: [rng.standard_normal(n).astype(acc) for n in OPT_SIZES] for li in used}
    positive = {"adam": (3, 4), "rmsprop": (2,), "adagrad": (2,)}.get(kind, ())  # averages of squares
    for li in state:
        if li in positive:
            state[li] = [np.abs(s) + 1.0 for s in state[li]]
        elif kind == "rmsprop" and li == 4:
            state[li] = [s * np.float32(0.1) for s in state[li]]  # the centered mean: keeps v - mean^2 > 0
    step = np.array([3.0])
    f = lambda arrays: [a.astype(np.float64) for a in arrays]  # noqa: E731
    p_ref, s_ref = f(params), {li: f(s) for li, s in state.items()}
    g_ref = f(grads)
    if kind == "sgd":
        REF.sgd_update(
            p_ref,
            g_ref,
            s_ref.get(2),
            lr=kw["lr"],
            momentum=kw["momentum"],
            dampening=kw["dampening"],
            nesterov=kw["nesterov"],
            weight_decay=kw["weight_decay"],
            first_step=kw["first"],
        )
        scalars = [f64(kw["lr"]), f64(kw["momentum"]), f64(kw["dampening"]), f64(kw["weight_decay"])]
        scalars += [i32(kw["nesterov"]), i32(kw["first"])]
    elif kind == "adam":
        REF.adam_update(
            p_ref,
            g_ref,
            s_ref[2],
            s_ref[3],
            step=3,
            lr=kw["lr"],
            weight_decay=kw["weight_decay"],
            decoupled=kw["decoupled"],
            max_exp_avg_sqs=s_ref.get(4),
        )
        scalars = [ptr(step), f64(kw["lr"]), f64(0.9), f64(0.999), f64(1e-8), f64(kw["weight_decay"])]
        scalars += [i32(kw["decoupled"]), i32(kw["amsgrad"])]
    elif kind == "rmsprop":
        REF.rmsprop_update(
            p_ref,
            g_ref,
            s_ref[2],
            lr=kw["lr"],
            alpha=kw["alpha"],
            weight_decay=kw["weight_decay"],
            momentum=kw["momentum"],
            bufs=s_ref.get(3),
            grad_avgs=s_ref.get(4),
        )
        scalars = [f64(kw["lr"]), f64(kw["alpha"]), f64(1e-8), f64(kw["weight_decay"]), f64(kw["momentum"])]
        scalars += [i32(kw["centered"])]
    else:
        REF.adagrad_update(
            p_ref, g_ref, s_ref[2], step=3, lr=kw["lr"], lr_decay=kw["lr_decay"], weight_decay=kw["weight_decay"]
        )
        scalars = [ptr(step), f64(kw["lr"]), f64(kw["lr_decay"]), f64(kw["weight_decay"]), f64(1e-10)]

    lists = [params, grads] + [state.get(li) for li in range(2, kernels.MT_LISTS)]
    expected = p_ref + [a for li in sorted(s_ref) for a in s_ref[li]]
    kernel = module.get_function(f"{kind}_multi<{ct}>")
    n = len(OPT_SIZES)
    for outs in run_orders(kernel, grids(max(OPT_SIZES)), [lists, *scalars]):
        updated = outs[:n] + outs[2 * n :]  # the parameters and the state; outs[n:2n] are the gradients
        for i, (out, ref) in enumerate(zip(updated, expected)):
            close(out, ref, dtype, f"{kind} {kw} {ct}: array {i} (params, then state)")


# ---- every family, every instantiation ---------------------------------------------------------------------------
def test_every_instantiation_is_checked() -> None:
    """The checks below launch every name expression of every family: a new instantiation needs a check."""
    checked = {f"act_{d}<{ct}, {k}>" for d in ("forward", "backward") for ct in DTYPES for k in range(9)}
    checked |= {f"softmax_{d}<{ct}, {b}>" for d in ("forward", "backward") for ct in DTYPES for b in ("true", "false")}
    checked |= {f"cross_entropy_{d}<{ct}>" for d in ("forward", "backward", "reduce") for ct in DTYPES}
    checked |= {f"{k}<{ct}>" for k in ("sq_norm_multi", "channel_moments") for ct in DTYPES}
    # sgd..adagrad are checked below; the newer six by test_optim_more.py::test_new_optimizer_kernels_under_emulation
    checked |= {f"{k}_multi<{ct}>" for k in kernels.OPTIMIZERS for ct in DTYPES}
    # the attention and row-norm families are checked in their own files, each listing what it launches
    from test_emulated_attention import CHECKED as attention_checked
    from test_emulated_norm import CHECKED as norm_checked

    checked |= attention_checked | norm_checked
    assert {n for _, names in kernels.FAMILIES.values() for n in names} == checked


@pytest.mark.parametrize("family_name", sorted(kernels.FAMILIES))
def test_family_compiles_for_the_host_with_every_parameter_size(family_name: str) -> None:
    module = family(family_name)
    for name in kernels.FAMILIES[family_name][1]:
        sizes = module.get_function(name).param_sizes
        assert sizes and all(s in (4, 8, TABLE.itemsize) for s in sizes), (name, sizes)


@pytest.mark.parametrize("ct", DTYPES)
@pytest.mark.parametrize("act", sorted(kernels.ACTIVATION_IDS))
def test_activations(act: str, ct: str) -> None:
    check_activation(family("activations"), act, ct)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("ct", DTYPES)
def test_softmax(ct: str, log: bool) -> None:
    check_softmax(family("softmax"), ct, log)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ct", DTYPES)
def test_cross_entropy(ct: str, smoothing: float) -> None:
    check_cross_entropy(family("softmax"), ct, smoothing)


@pytest.mark.parametrize("ct", DTYPES)
def test_cross_entropy_reduce(ct: str) -> None:
    check_cross_entropy_reduce(family("softmax"), ct)


@pytest.mark.parametrize("sizes", [(1,), (7, 1000, 33 * 65), (3,) * kernels.MT_MAX], ids=["one", "mixed", "full"])
@pytest.mark.parametrize("ct", DTYPES)
def test_sq_norm_multi(ct: str, sizes: tuple) -> None:
    check_sq_norm(family("reduce"), ct, sizes)


@pytest.mark.parametrize("ct", DTYPES)
def test_channel_moments(ct: str) -> None:
    check_moments(family("reduce"), ct)


@pytest.mark.parametrize("ct", DTYPES)
@pytest.mark.parametrize("kind,kw", OPTIMIZERS)
def test_optimizers(kind: str, kw: dict, ct: str) -> None:
    check_optimizer(family("optim"), kind, kw, ct)


# ---- planted bugs: the same checks fail on a broken copy of the source -----------------------------------------
WARP_SUM = "for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);"
STRIDE = "i += (i64)blockDim.x * gridDim.x)"
FIRST_BARRIER = "__syncthreads();  // scratch may still be read from a previous call"
MOMENTS_BARRIER = "__syncthreads();  // the shared arrays may still be read for the previous channel"


def test_planted_wrong_shuffle_offset_in_warp_sum_is_caught() -> None:
    names = ["softmax_forward<float, false>", "softmax_backward<float, false>"]
    module = planted("softmax", WARP_SUM, WARP_SUM.replace("o > 0", "o > 1"), names)
    with pytest.raises(AssertionError, match="softmax float"):
        check_softmax(module, "float", False, [(33, 65)])


def test_planted_grid_stride_loop_that_skips_is_caught() -> None:
    names = ["act_forward<float, 0>", "act_backward<float, 0>"]
    module = planted("activations", STRIDE, STRIDE.replace("i +=", "i += 2 *"), names)
    with pytest.raises(AssertionError, match="relu forward"):
        check_activation(module, "relu", "float", [1000])  # one block of 256 threads loops 4 times: skips


def test_planted_missing_first_barrier_in_block_sum_is_caught() -> None:
    # cross_entropy_reduce calls block_sum twice: without the barrier, a warp's second call overwrites scratch while
    # another warp still reads the first sum. Forward order happens to hide it; reverse order does not.
    module = planted("softmax", FIRST_BARRIER, "", ["cross_entropy_reduce<float>"])
    with pytest.raises(AssertionError, match="reversed warps and lanes change the result"):
        check_cross_entropy_reduce(module, "float", [1000])


def test_planted_missing_barrier_in_channel_moments_is_caught() -> None:
    module = planted("reduce", MOMENTS_BARRIER, "", ["channel_moments<float>"])
    with pytest.raises(AssertionError, match="reversed warps and lanes change the result"):
        check_moments(module, "float", [(3, 7, 200)])  # one block loops over the 7 channels, every thread busy


# ---- the emulator itself ---------------------------------------------------------------------------------------
EMULATOR_TEST_SOURCE = r"""
#include "common.cuh"

// every shuffle form, for each thread: out is (6, blockDim.x)
__global__ void shuffles(int* out, int width) {
    const int v = 100 * (threadIdx.x >> 5) + (threadIdx.x & 31), n = blockDim.x;
    int* o = out + threadIdx.x;
    o[0 * n] = __shfl_xor_sync(0xffffffffu, v, 5, width);
    o[1 * n] = __shfl_down_sync(0xffffffffu, v, 3, width);
    o[2 * n] = __shfl_up_sync(0xffffffffu, v, 3, width);
    o[3 * n] = __shfl_sync(0xffffffffu, v, 7, width);
    o[4 * n] = __shfl_sync(0xffffffffu, v, -1, width);
    o[5 * n] = (int)__shfl_xor_sync(0xffffffffu, (double)v + 0.25, 16, width);
}

__global__ void atomics(int* ci, unsigned* cu, unsigned long long* cl, float* cf, double* cd, int* olds) {
    olds[blockIdx.x * blockDim.x + threadIdx.x] = atomicAdd(ci, 1);
    atomicAdd(cu, 2u);
    atomicAdd(cl, 3ull);
    atomicAdd(cf, 0.5f);
    atomicAdd(cd, 0.25);
}

__global__ void coordinates(unsigned* out) {
    const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned* o = out + 6 * (b * blockDim.x * blockDim.y * blockDim.z + t);
    o[0] = blockIdx.x, o[1] = blockIdx.y, o[2] = blockIdx.z, o[3] = threadIdx.x, o[4] = threadIdx.y, o[5] = threadIdx.z;
}

// lanes trade values through shared memory; __syncwarp orders the writes before the reads
__global__ void syncwarp_exchange(int* out) {
    __shared__ int s[1024];
    s[threadIdx.x] = 3 * threadIdx.x;
    __syncwarp();
    out[threadIdx.x] = s[threadIdx.x ^ 1];
}

__global__ void to_half(const float* x, half_t* y, i64 n) { GRID_STRIDE(i, n) store(y, i, x[i]); }
__global__ void to_float(const half_t* x, float* y, i64 n) { GRID_STRIDE(i, n) y[i] = load(x, i); }

// ---- broken on purpose -------------------------------------------------------------------------------------------
__global__ void barrier_in_half_a_warp(float* out) {  // half the lanes wait at __syncthreads, half at a shuffle
    float v = threadIdx.x;
    if ((threadIdx.x & 31) < 16) __syncthreads();
    out[threadIdx.x] = warp_sum(v);
}
__global__ void two_barriers(float* out) {  // every thread reaches a __syncthreads, but not the same one
    if ((threadIdx.x & 31) < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}
__global__ void shuffle_after_exit(float* out) {
    if (threadIdx.x & 1) return;
    out[threadIdx.x] = warp_sum(1.0f);
}
__global__ void half_mask(float* out) { out[threadIdx.x] = __shfl_xor_sync(0xffffu, 1.0f, 1); }
__global__ void full_mask_sum(float* out) { out[threadIdx.x] = warp_sum(1.0f); }

// reads its __shared__ before writing it, on purpose: is another library's copy the same variable?
template <int K> __global__ void peek_shared(int* out) {
    __shared__ int flag;
    out[0] = flag;
    flag = MARK;
}
"""
EMULATOR_TEST_NAMES = [
    "shuffles",
    "atomics",
    "coordinates",
    "syncwarp_exchange",
    "to_half",
    "to_float",
    "barrier_in_half_a_warp",
    "two_barriers",
    "shuffle_after_exit",
    "half_mask",
    "full_mask_sum",
    "peek_shared<0>",
]


@functools.cache
def emulator_module(fibers: str, mark: int = 1) -> HostModule:
    """The test kernels above, with -I to find common.cuh and NVRTC options that must be ignored; ``fibers``:
    the header's x86-64 stack switch ("asm") or its ucontext fallback."""
    options = [f"-I{kernels.kernel_dir()}", f"-DMARK={mark}", "-std=c++17", "-arch=compute_80"]
    if fibers == "ucontext":
        options.append("--define-macro=GPUBP_EMULATE_UCONTEXT")
    return HostModule(EMULATOR_TEST_SOURCE, EMULATOR_TEST_NAMES, options)


@pytest.fixture(params=["asm", "ucontext"])
def emu(request: pytest.FixtureRequest) -> HostModule:
    return emulator_module(request.param)


@pytest.mark.parametrize("width", [32, 8])
def test_shuffles_follow_cuda_semantics(emu: HostModule, width: int) -> None:
    n = 64
    out = np.full((6, n), -1, dtype=np.int32)
    emu.get_function("shuffles").launch((1, 1, 1), (n, 1, 1), [ptr(out), i32(width)])
    t = np.arange(n)
    lane, value = t % 32, 100 * (t // 32) + t % 32
    start = lane & ~(width - 1)  # each lane's segment of ``width`` lanes

    def read(src: np.ndarray, inside: np.ndarray) -> np.ndarray:
        return np.where(inside, value[t - lane + np.where(inside, src, lane)], value)

    xor = lane ^ 5
    np.testing.assert_array_equal(out[0], read(xor, xor < start + width))
    np.testing.assert_array_equal(out[1], read(lane + 3, lane + 3 < start + width))
    np.testing.assert_array_equal(out[2], read(lane - 3, lane - 3 >= start))
    np.testing.assert_array_equal(out[3], read(start + 7 % width, np.ones(n, bool)))
    np.testing.assert_array_equal(out[4], read(start + width - 1, np.ones(n, bool)))
    np.testing.assert_array_equal(out[5], read(lane ^ 16, (lane ^ 16) < start + width))


def test_atomics_return_the_old_value(emu: HostModule) -> None:
    counters = [np.zeros(1, dt) for dt in (np.int32, np.uint32, np.uint64, np.float32, np.float64)]
    olds = np.full(3 * 96, -1, dtype=np.int32)
    emu.get_function("atomics").launch((3, 1, 1), (96, 1, 1), [*map(ptr, counters), ptr(olds)])
    np.testing.assert_array_equal(olds, np.arange(olds.size))  # forward order: threads in turn
    assert [c[0] for c in counters] == [288, 576, 864, 144.0, 72.0]


@pytest.mark.parametrize("order", ORDERS)
def test_thread_and_block_coordinates(emu: HostModule, order: str) -> None:
    grid, block = (2, 3, 2), (4, 2, 3)
    out = np.full((2 * 3 * 2, 4 * 2 * 3, 6), 99, dtype=np.uint32)
    emu.get_function("coordinates").launch(grid, block, [ptr(out)], order)
    bz, by, bx = np.indices(grid[::-1]).reshape(3, -1)
    tz, ty, tx = np.indices(block[::-1]).reshape(3, -1)
    np.testing.assert_array_equal(out[..., :3], np.broadcast_to(np.stack([bx, by, bz], 1)[:, None], (12, 24, 3)))
    np.testing.assert_array_equal(out[..., 3:], np.broadcast_to(np.stack([tx, ty, tz], 1)[None], (12, 24, 3)))


@pytest.mark.parametrize("order", ORDERS)
def test_syncwarp_orders_shared_memory(emu: HostModule, order: str) -> None:
    out = np.full(BLOCK, -1, dtype=np.int32)
    emu.get_function("syncwarp_exchange").launch((2, 1, 1), (BLOCK, 1, 1), [ptr(out)], order)
    np.testing.assert_array_equal(out, 3 * (np.arange(BLOCK) ^ 1))


def test_float16_conversions_are_bit_exact(emu: HostModule) -> None:
    every_half = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    as_float = np.full(every_half.size, np.nan, dtype=np.float32)
    emu.get_function("to_float").launch((64, 1, 1), (BLOCK, 1, 1), [ptr(every_half), ptr(as_float), i64(1 << 16)])
    nan = np.isnan(every_half)
    assert np.isnan(as_float[nan]).all()
    np.testing.assert_array_equal(as_float[~nan].view(np.uint32), every_half[~nan].astype(np.float32).view(np.uint32))
    # floats: every half value, the midpoints between neighbours (ties to even) and one float ulp either side,
    # values past the largest half, subnormal floats, and random bit patterns
    finite = np.sort(every_half[np.isfinite(every_half)].astype(np.float64))
    mid = ((finite[1:] + finite[:-1]) / 2).astype(np.float32)  # exact in float32
    bits = np.random.default_rng(0).integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    edges = np.array([65504, 65519.996, 65520, 65536, 1e30, np.inf, 2.0**-24, 2.0**-25, 2.0**-26, 1e-40], np.float32)
    x = np.concatenate([finite.astype(np.float32), mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)])
    x = np.concatenate([x, edges, -edges, bits.view(np.float32)])
    halves = np.full(x.size, np.nan, dtype=np.float16)
    emu.get_function("to_half").launch((64, 1, 1), (BLOCK, 1, 1), [ptr(x), ptr(halves), i64(x.size)])
    nan = np.isnan(x)
    assert np.isnan(halves[nan]).all()
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(halves[~nan].view(np.uint16), x[~nan].astype(np.float16).view(np.uint16))


@pytest.mark.parametrize(
    "name,block,message",
    [
        ("barrier_in_half_a_warp", 64, "16 at a warp shuffle or __syncwarp, 16 at __syncthreads, 0 exited"),
        ("two_barriers", 64, "threads wait at different __syncthreads"),
        ("shuffle_after_exit", 64, "16 exited"),
        ("half_mask", 64, "mask 0x0000ffff; the warp's lanes are 0xffffffff"),
        ("full_mask_sum", 40, "warp 1: lane 0 gives mask 0xffffffff; the warp's lanes are 0x000000ff"),
    ],
)
@pytest.mark.parametrize("order", ORDERS)
def test_broken_synchronization_raises(emu: HostModule, name: str, block: int, message: str, order: str) -> None:
    out = np.zeros(64, dtype=np.float32)
    with pytest.raises(EmulatedKernelError, match=f"kernel {name}, block") as info:
        emu.get_function(name).launch((2, 1, 1), (block, 1, 1), [ptr(out)], order)
    assert message in str(info.value)
    # the failed launch left nothing behind: the next one runs normally
    emu.get_function("full_mask_sum").launch((1, 1, 1), (64, 1, 1), [ptr(out)], order)
    np.testing.assert_array_equal(out[:64], 32.0)


def test_shared_memory_is_private_to_each_library() -> None:
    """The same template instantiation in two libraries: each has its own __shared__ variable (-fvisibility=hidden;
    without it, g++ makes such statics process-wide unique symbols even under RTLD_LOCAL)."""
    first, second = emulator_module("asm", 1), emulator_module("asm", 2)
    out = np.zeros(1, dtype=np.int32)
    seen = []
    for module in (first, second, first, second):
        module.get_function("peek_shared<0>").launch((1, 1, 1), (1, 1, 1), [ptr(out)])
        seen.append(int(out[0]))
    assert seen[2:] == [1, 2]


def test_ucontext_fibers_give_the_same_results() -> None:
    names = ["softmax_forward<float, false>", "softmax_backward<float, false>"]
    module = HostModule(kernels.source("softmax"), names, ["-DGPUBP_EMULATE_UCONTEXT"])
    check_softmax(module, "float", False, [(33, 65)])


def test_launches_on_two_threads_at_once_keep_their_own_state() -> None:
    """The emulator's state and __shared__ are per OS thread; ctypes lets go of the GIL, so launches overlap.
    (Shared between threads, block_sum's scratch is overwritten mid-launch in most runs of this test, not all.)"""
    kernel = family("softmax").get_function("cross_entropy_reduce<float>")
    target = np.zeros(1000, dtype=np.int64)
    losses = [np.full(1000, v, dtype=np.float32) for v in (1.0, 2.0)]
    outs = [np.zeros(300, dtype=np.float32) for _ in losses]
    start = threading.Barrier(2)

    def work(i: int) -> None:
        start.wait()
        for k in range(outs[i].size):
            args = [ptr(losses[i]), ptr(target), ptr(outs[i][k:]), ptr(None), i64(1000), i64(-100), i32(0)]
            kernel.launch((1, 1, 1), (BLOCK, 1, 1), args)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(outs[0], 1000.0)
    np.testing.assert_array_equal(outs[1], 2000.0)


# ---- the Python interface --------------------------------------------------------------------------------------
def test_wrong_arguments_raise_type_error_before_running() -> None:
    kernel = family("activations").get_function("act_forward<float, 0>")
    assert kernel.param_sizes == (8, 8, 8, 8)
    x, y = np.ones(4, np.float32), poisoned(4, np.float32)
    with pytest.raises(TypeError, match=r"act_forward<float, 0> takes 4 arguments, 3 given"):
        kernel.launch((1, 1, 1), (BLOCK, 1, 1), [ptr(x), ptr(y), i64(4)])
    with pytest.raises(TypeError, match=r"act_forward<float, 0>: argument 2 has 4 bytes, the parameter takes 8"):
        kernel.launch((1, 1, 1), (BLOCK, 1, 1), [ptr(x), ptr(y), i32(4), f64(0.0)])
    with pytest.raises(TypeError, match="argument 3 must be bytes"):
        kernel.launch((1, 1, 1), (BLOCK, 1, 1), [ptr(x), ptr(y), i64(4), 0.0])
    assert np.isnan(y).all()
    with pytest.raises(ValueError, match="order must be one of"):
        kernel.launch((1, 1, 1), (BLOCK, 1, 1), [ptr(x), ptr(y), i64(4), f64(0.0)], "sideways")
    with pytest.raises(EmulatedKernelError, match="invalid launch"):
        kernel.launch((1, 1, 1), (2048, 1, 1), [ptr(x), ptr(y), i64(4), f64(0.0)])
    kernel.launch((1,), (BLOCK,), [ptr(x), ptr(y), i64(4), f64(0.0)])  # short tuples, as CuPy takes them
    np.testing.assert_array_equal(y, x)


def test_get_function_takes_exact_name_expressions() -> None:
    module = family("reduce")
    assert module.get_function("sq_norm_multi<float>") is module.get_function("sq_norm_multi<float>")
    with pytest.raises(KeyError, match=r"'sq_norm_multi<float >'.*it has: sq_norm_multi<float>, "):
        module.get_function("sq_norm_multi<float >")


def test_compile_errors_carry_the_compiler_output() -> None:
    with pytest.raises(HostCompileError, match=r"(?s)error.*not_a_type.*command: .*-include"):
        HostModule("__global__ void k(not_a_type x) {}", ["k"])
