"""CPU training steps with 1 BLAS thread and with all cores, on an idle machine and on one whose cores are all busy.

    pytest benchmarks/test_cpu_load_bench.py --benchmark-enable

"loaded" starts one ``while True: pass`` process per core for the cases that ask for it and kills them after.
Each case runs a fixed number of rounds (a loaded two-thread step can take 100+ ms), so the file takes under a
minute on a quiet 2-core machine and a few on a busy one. Without ``--benchmark-enable`` (the default configuration)
every case skips: busy processes started inside the test suite would slow everything else down. PyTorch's steps,
with PyTorch's own default thread count, run beside gpubp's. The figures are in gpubp/threads.py's docstring.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

import gpubp
import gpubp.nn as nn
from gpubp import optim

try:
    import torch
except ImportError:
    torch = None

gc.freeze()  # see test_cpu_bench.py: torch's import-time objects would otherwise slow every full GC
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
ROUNDS, WARMUP = 12, 2


@pytest.fixture(scope="module", params=["idle", "loaded"])
def load(request: pytest.FixtureRequest) -> Iterator[str]:
    """'idle', or 'loaded' with one busy process per core; module scope groups the cases so they start once."""
    if request.config.getoption("benchmark_disable") and not request.config.getoption("benchmark_enable"):
        pytest.skip("load benchmarks run only with --benchmark-enable (they keep every core busy)")
    procs = []
    if request.param == "loaded":
        procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(CORES)]
        time.sleep(0.5)  # let them start spinning before the first round
    try:
        yield request.param
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@pytest.fixture(params=[1, CORES], ids=lambda n: f"{n}thr")
def threads(request: pytest.FixtureRequest) -> Iterator[int]:
    before = gpubp.get_num_threads()
    gpubp.set_num_threads(request.param)
    yield request.param
    gpubp.set_num_threads(before)


def _mlp() -> Callable[[], None]:
    """MLP 784-512-512-10, batch 256, ReLU, cross-entropy, SGD (as test_cpu_bench.py)."""
    rng = np.random.default_rng(0)
    gpubp.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = gpubp.tensor(rng.standard_normal((256, 784), dtype=np.float32), device="cpu")
    y = gpubp.tensor(rng.integers(0, 10, 256), device="cpu")

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _lstm() -> Callable[[], None]:
    """LSTM 32 -> 128, batch 32, 20 steps, linear to 10 on the last, Adam (as test_train_bench.py)."""
    rng = np.random.default_rng(0)
    gpubp.manual_seed(0)
    lstm, head = nn.LSTM(32, 128, batch_first=True), nn.Linear(128, 10)
    opt = optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
    x = gpubp.tensor(rng.standard_normal((32, 20, 32), dtype=np.float32), device="cpu")
    y = gpubp.tensor(rng.integers(0, 10, 32), device="cpu")

    def step() -> None:
        _, (h, _) = lstm(x)
        loss = nn.functional.cross_entropy(head(h[0]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _cnn() -> Callable[[], None]:
    """conv 3x3 (32), ReLU, 2x2 max-pool, linear to 10, batch 64 of 1x28x28, SGD (as test_train_bench.py)."""
    rng = np.random.default_rng(0)
    gpubp.manual_seed(0)
    conv, fc = nn.Conv2d(1, 32, 3), nn.Linear(32 * 13 * 13, 10)
    opt = optim.SGD([*conv.parameters(), *fc.parameters()], lr=0.01)
    x = gpubp.tensor(rng.standard_normal((64, 1, 28, 28), dtype=np.float32), device="cpu")
    y = gpubp.tensor(rng.integers(0, 10, 64), device="cpu")

    def step() -> None:
        logits = fc(nn.functional.max_pool2d(conv(x).relu(), 2).flatten(1))
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _torch_step(kind: str) -> Callable[[], None]:
    """The same steps in PyTorch, with PyTorch's own default thread count."""
    rng = np.random.default_rng(0)
    F, tnn = torch.nn.functional, torch.nn
    if kind == "mlp":
        model = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(), tnn.Linear(512, 10))
        x, n = torch.tensor(rng.standard_normal((256, 784), dtype=np.float32)), 256
        forward = model
    elif kind == "lstm":
        lstm, head = tnn.LSTM(32, 128, batch_first=True), tnn.Linear(128, 10)
        model = tnn.ModuleList([lstm, head])
        x, n = torch.tensor(rng.standard_normal((32, 20, 32), dtype=np.float32)), 32
        forward = lambda t: head(lstm(t)[1][0][0])
    else:
        conv, fc = tnn.Conv2d(1, 32, 3), tnn.Linear(32 * 13 * 13, 10)
        model = tnn.ModuleList([conv, fc])
        x, n = torch.tensor(rng.standard_normal((64, 1, 28, 28), dtype=np.float32)), 64
        forward = lambda t: fc(F.max_pool2d(F.relu(conv(t)), 2).flatten(1))
    y = torch.tensor(rng.integers(0, 10, n))
    opt = (torch.optim.Adam if kind == "lstm" else torch.optim.SGD)(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(forward(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


STEPS = {"mlp": _mlp, "lstm": _lstm, "cnn": _cnn}


def _run(benchmark, step: Callable[[], None], load: str, threads: int | str) -> None:  # noqa: ANN001
    benchmark.extra_info.update(load=load, threads=threads, cores=CORES)
    benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=WARMUP)


@pytest.mark.parametrize("kind", list(STEPS))
def test_step_gpubp_under_load(benchmark, kind: str, load: str, threads: int) -> None:  # noqa: ANN001
    benchmark.group = f"{kind}-step-cpu-{load}"
    _run(benchmark, STEPS[kind](), load, threads)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("kind", list(STEPS))
def test_step_torch_under_load(benchmark, kind: str, load: str) -> None:  # noqa: ANN001
    benchmark.group = f"{kind}-step-cpu-{load}"
    _run(benchmark, _torch_step(kind), load, torch.get_num_threads())
