"""gpubp.set_num_threads / get_num_threads and GPUBP_NUM_THREADS: the CPU BLAS pool, sized as PyTorch's API says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import threadpoolctl
from conftest import rng_for, torch

import gpubp
from gpubp import threads

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
THREAD_VARS = ("GPUBP_NUM_THREADS", *threads.USER_VARS)


def blas_threads() -> list[int]:
    """The thread count of every BLAS pool in this process, as threadpoolctl reads it."""
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture(autouse=True)
def restore_threads() -> Iterator[None]:
    """The setting is process-wide: put it back for the tests that follow."""
    before = gpubp.get_num_threads()
    yield
    gpubp.set_num_threads(before)


def test_set_get_round_trip(device: str) -> None:
    for n in (2, 1, 3):
        gpubp.set_num_threads(n)
        assert gpubp.get_num_threads() == n
        assert blas_threads() and set(blas_threads()) == {n}
    gpubp.set_num_threads(np.int64(2))  # any integer type, as torch.set_num_threads
    assert gpubp.get_num_threads() == 2
    assert isinstance(gpubp.get_num_threads(), int)


def test_math_is_the_same_with_any_thread_count(device: str) -> None:
    rng = rng_for("threads-matmul", device)
    a = rng.standard_normal((96, 200)).astype(np.float32)
    b = rng.standard_normal((200, 64)).astype(np.float32)
    results = []
    for n in (1, 2):
        gpubp.set_num_threads(n)
        x = gpubp.tensor(a, device=device, requires_grad=True)
        out = x @ gpubp.tensor(b, device=device)
        out.sum().backward()
        results.append((out.detach().cpu().numpy(), x.grad.detach().cpu().numpy()))
    for one, two in zip(*results):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[0][0], a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("value", "kind", "words"),
    [
        (0, ValueError, "positive integer, but got 0"),
        (-2, ValueError, "positive integer, but got -2"),
        (2.0, TypeError, "int, but got float (2.0)"),
        ("2", TypeError, "int, but got str ('2')"),
        (True, TypeError, "int, but got bool (True)"),
        (None, TypeError, "int, but got NoneType (None)"),
    ],
)
def test_bad_values_raise_and_change_nothing(device: str, value: object, kind: type, words: str) -> None:
    gpubp.set_num_threads(2)
    with pytest.raises(kind, match="set_num_threads") as caught:
        gpubp.set_num_threads(value)
    assert words in str(caught.value)
    assert gpubp.get_num_threads() == 2 and set(blas_threads()) == {2}
    if torch is not None:  # PyTorch raises RuntimeError for each of these; gpubp's error is one too
        with pytest.raises(RuntimeError) as theirs:
            torch.set_num_threads(value)
        assert isinstance(caught.value, type(theirs.value))


def _child(env: dict[str, str], device: str, first: str = "") -> subprocess.CompletedProcess:
    """A fresh Python with ``env`` over a copy of ours without thread variables: imports gpubp, runs ``first``,
    computes on ``device``, and prints get_num_threads and the thread counts of the BLAS pools loaded with gpubp
    (NumPy's; SciPy's, which gpubp loads later for erf and never calls BLAS through, is left out)."""
    full = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    full.update(env)
    code = (
        "import json, threadpoolctl, gpubp\n"
        "ours = threadpoolctl.ThreadpoolController().select(user_api='blas')\n"
        f"{first}\n"
        f"x = gpubp.ones(8, 8, device={device!r})\n"
        "(x @ x).sum().item()\n"
        "blas = [lib.num_threads for lib in ours.lib_controllers]\n"
        "print(json.dumps({'get': gpubp.get_num_threads(), 'blas': blas}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)


def _numpy_alone(env: dict[str, str]) -> list[int]:
    """What the BLAS library itself makes of ``env`` in a process that never imports gpubp."""
    full = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    full.update(env)
    code = "import json, numpy, threadpoolctl\nprint(json.dumps([i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']))"
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _report(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_default_is_one_thread_and_env_var_sets_it(device: str) -> None:
    default = _report(_child({}, device))
    assert default == {"get": 1, "blas": [1] * len(default["blas"])} and default["blas"]
    two = _report(_child({"GPUBP_NUM_THREADS": "2"}, device))
    assert two["get"] == 2 and set(two["blas"]) == {2}
    # gpubp's own variable wins over the libraries' ones
    one = _report(_child({"GPUBP_NUM_THREADS": " 1 ", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}, device))
    assert one["get"] == 1 and set(one["blas"]) == {1}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "1_0"])
def test_bad_env_var_fails_at_import(device: str, value: str) -> None:
    done = _child({"GPUBP_NUM_THREADS": value}, device)
    assert done.returncode != 0
    assert "ValueError" in done.stderr and "GPUBP_NUM_THREADS" in done.stderr and repr(value) in done.stderr


@pytest.mark.skipif(CORES < 2, reason="needs 2 cores: with one, the library's own count is 1 like gpubp's default")
@pytest.mark.parametrize("var", threads.USER_VARS)
def test_user_thread_variables_are_respected(device: str, var: str) -> None:
    env = {var: "2"}
    theirs = _numpy_alone(env)
    ours = _report(_child(env, device))
    assert ours["blas"] == theirs and ours["get"] == max(theirs)
    assert max(theirs) > 1  # else this would not tell gpubp's default from the user's choice


def test_set_num_threads_overrides_user_variable_when_called(device: str) -> None:
    done = _report(_child({"OPENBLAS_NUM_THREADS": "2"}, device, first="gpubp.set_num_threads(1)"))
    assert done["get"] == 1 and set(done["blas"]) == {1}


def test_gpubp_imports_without_threadpoolctl() -> None:
    """Run from source without its dependencies (as on a lent GPU machine), gpubp still imports and trains; only
    set_num_threads, which needs threadpoolctl, says what is missing."""
    program = (
        "import sys; sys.modules['threadpoolctl'] = None\n"
        "import gpubp\n"
        "assert gpubp.get_num_threads() >= 1\n"
        "w = gpubp.randn(3, 2, requires_grad=True); (gpubp.randn(4, 3) @ w).sum().backward()\n"
        "try:\n    gpubp.set_num_threads(2)\nexcept RuntimeError as e:\n    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "set_num_threads(2): sizing NumPy's BLAS at run time needs the threadpoolctl package" in r.stdout
