"""CPU threads: how many threads NumPy's BLAS (gpubp's CPU matmuls and convolutions) may use, as torch.set_num_threads.

gpubp uses 1 BLAS thread unless asked for more, because extra threads gain little on the small steps gpubp trains
on the CPU and lose a lot when the cores are busy with other work: OpenBLAS threads spin-wait for each other and
fight the other processes for the cores. NumPy's elementwise ops run on one core whatever this says. Median ms per
training step on the project's 2-core machine, "loaded" with both cores kept busy by two ``while True: pass``
processes (benchmarks/results/cpu-2core-load-2026-12-01.json):

    pytest benchmarks/test_cpu_load_bench.py --benchmark-enable

    step                                       idle 1 thread | idle 2 threads | loaded 1 thread | loaded 2 threads
    MLP 784-512-512-10, batch 256, SGD                  17.5 |            9.8 |            14.8 |             31.4
    LSTM 32->128, batch 32, 20 steps, Adam              16.3 |           19.6 |            26.3 |             63.9
    CNN conv3x3x32, batch 64, 28x28, SGD                25.8 |           25.1 |            55.8 |             68.2
    (PyTorch, its default 2 threads: MLP 10.6 idle, 40.2 loaded)

Two threads gain 1.8x at best (the MLP, on idle cores) and cost 1.2-2.4x under load; in earlier runs on a machine
with more background work (load average 4-8) two threads were 2-23x slower than one in every case, the loaded LSTM
step 4.1 s against 0.18 s. One thread never collapses, so it is the default.

Everything here is process-wide, as in PyTorch: the setting sizes each BLAS pool loaded when it is applied, so it
governs every NumPy BLAS call in the process, the user's own included (a BLAS library loaded later, such as
SciPy's, keeps its own count; gpubp never calls BLAS through it). ``GPUBP_NUM_THREADS`` sets it at import. A user
who set ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS`` (and not ``GPUBP_NUM_THREADS``) keeps
what the BLAS library made of it: gpubp leaves the BLAS pool alone then, until ``set_num_threads`` is called.
"""

from __future__ import annotations

import operator
import os

import numpy  # noqa: F401 - loads NumPy's BLAS before threadpoolctl looks for it

try:  # a dependency of gpubp; absent only where gpubp runs from source (PYTHONPATH=.) without its dependencies
    from threadpoolctl import ThreadpoolController
except ImportError:  # then BLAS keeps its own thread count, and set_num_threads says what is missing
    ThreadpoolController = None

__all__ = ["get_num_threads", "set_num_threads"]

ENV_VAR = "GPUBP_NUM_THREADS"
# variables with which a user sizes the BLAS pool themselves (read by OpenBLAS, MKL and OpenMP at load time)
USER_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_NUM_THREADS = 1


class ThreadCountTypeError(TypeError, RuntimeError):
    """A TypeError for Python's habits, also the RuntimeError that torch.set_num_threads raises."""


class ThreadCountValueError(ValueError, RuntimeError):
    """A ValueError for Python's habits, also the RuntimeError that torch.set_num_threads raises."""


# the BLAS libraries gpubp's math runs on: NumPy's (loaded above), and any the user loaded before; get_num_threads
# reads their live thread counts, and set_num_threads refreshes the list
_blas = ThreadpoolController().select(user_api="blas") if ThreadpoolController is not None else None
# what set_num_threads asked for, for get_num_threads where threadpoolctl finds no BLAS it can read
_requested: int | None = None


def _apply(n: int) -> None:
    """Sizes every BLAS pool now loaded in the process (threadpoolctl: OpenBLAS reads its variable only at load)."""
    global _blas, _requested
    if ThreadpoolController is None:
        raise RuntimeError(
            f"set_num_threads({n}): sizing NumPy's BLAS at run time needs the threadpoolctl package "
            "(pip install threadpoolctl; it is a dependency of gpubp), or set OPENBLAS_NUM_THREADS before Python starts"
        )
    controller = ThreadpoolController()
    controller.limit(limits=n, user_api="blas")
    _blas = controller.select(user_api="blas")
    _requested = n


def set_num_threads(n: int) -> None:
    """Sets the number of threads the CPU BLAS uses (matmul, convolution), process-wide, as torch.set_num_threads.

    The BLAS library may cap it (OpenBLAS at its build's maximum); get_num_threads says what is in effect.
    """
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise ThreadCountTypeError(f"set_num_threads expects an int, but got {type(n).__name__} ({n!r})")
    n = operator.index(n)
    if n < 1:
        raise ThreadCountValueError(f"set_num_threads expects a positive integer, but got {n}")
    _apply(n)


def get_num_threads() -> int:
    """The number of threads the CPU BLAS uses now (the largest over its libraries), as torch.get_num_threads.

    1 unless set_num_threads, GPUBP_NUM_THREADS or the user's OMP/OPENBLAS/MKL_NUM_THREADS said otherwise.
    """
    if _blas is None:  # no threadpoolctl: BLAS sized itself from the user's variables, else from the cores
        for var in USER_VARS:
            raw = os.environ.get(var, "").strip()
            if raw.isdigit() and int(raw) > 0:
                return int(raw)
        return os.cpu_count() or 1
    counts = [lib.num_threads for lib in _blas.lib_controllers]
    counts = [c for c in counts if isinstance(c, int) and c > 0]
    if counts:
        return max(counts)
    return _requested if _requested is not None else DEFAULT_NUM_THREADS


def _from_environment() -> int | None:
    """The thread count to apply at import: GPUBP_NUM_THREADS, else 1 unless the user sized the BLAS pool."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:  # unset or empty, as OpenBLAS treats its own variable
        if any(os.environ.get(var, "").strip() for var in USER_VARS):
            return None
        return DEFAULT_NUM_THREADS
    # An error, not a warning and the default: the variable is gpubp's own, so a bad value is a typo the user wants
    # to hear about, and a warning scrolls away in a training log while a wrong thread count can cost 10x.
    n = int(raw) if raw.isascii() and raw.isdigit() else 0  # not int(raw), which also takes "1_0" and "+2"
    if n < 1:
        raise ThreadCountValueError(
            f"environment variable {ENV_VAR} must be a positive integer (CPU threads for NumPy's BLAS), got {raw!r}"
        )
    return n


_initial = _from_environment()
if _initial is not None and ThreadpoolController is not None:
    _apply(_initial)
