"""PyTorch programs run on gpubp with only their imports changed (tests/compat/README.md).

Each program in tests/compat/ runs in a fresh process twice: as written, with PyTorch, and with its ``import torch``
lines rewritten to ``import gpubp`` (nothing else changed). The PyTorch run saves its initial weights with
``torch.save`` and reloads them; the gpubp run loads that same file, so both start from the same weights and must print
the same losses, step by step. Without PyTorch the gpubp run alone must train (a falling, finite loss)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import torch

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = Path(__file__).resolve().parent / "compat"

# (program, arguments for both runs); exact-comparison runs turn off shuffling and dropout, whose random draws differ
CASES = [
    ("mnist_cnn.py", ["--no-shuffle", "--dropout", "0"]),
    ("regression.py", []),
    ("word_lm.py", ["--model", "LSTM", "--dropout", "0"]),
    ("word_lm.py", ["--model", "GRU", "--dropout", "0", "--tied"]),
    ("word_lm.py", ["--model", "RNN_TANH", "--dropout", "0", "--nlayers", "1"]),
    ("word_lm.py", ["--model", "RNN_RELU", "--dropout", "0", "--lr", "1.0"]),
    ("vae.py", ["--no-shuffle"]),
    ("mnist_rnn.py", ["--no-shuffle", "--dropout", "0"]),
    ("checkpoint_resume.py", []),
    ("custom_data.py", []),
    ("wgan_gp.py", []),
]

_IMPORT = re.compile(r"^(\s*)(import|from) torch\b", re.MULTILINE)


def gpubp_source(src: str) -> str:
    """The program with its torch imports pointed at gpubp: ``import torch`` -> ``import gpubp as torch``,
    ``import torch.nn as nn`` -> ``import gpubp.nn as nn``, ``from torch.x import y`` -> ``from gpubp.x import y``."""
    src = re.sub(r"^(\s*)import torch\s*$", r"\1import gpubp as torch", src, flags=re.MULTILINE)
    return _IMPORT.sub(r"\1\2 gpubp", src)


def run(path: Path, args: list[str], cwd: Path) -> list[dict]:
    # as a user runs it: no default device chosen for it (GPUBP_DEVICE), the emulated GPU (if any) still visible
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "GPUBP_DEVICE"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(path), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise AssertionError(f"{path.name} {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def as_gpubp(name: str, cwd: Path) -> Path:
    target = cwd / f"gpubp_{name}"
    target.write_text(gpubp_source((PROGRAMS / name).read_text()))
    return target


def assert_same(ours: list[dict], theirs: list[dict], what: str) -> None:
    assert len(ours) == len(theirs), f"{what}: gpubp printed {len(ours)} records, PyTorch {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.keys() == b.keys(), f"{what}, record {i}: keys {sorted(a)} vs PyTorch's {sorted(b)}"
        for k in a:
            x, y = a[k], b[k]
            if isinstance(y, float) or isinstance(x, float):
                assert math.isclose(x, y, rel_tol=5e-4, abs_tol=1e-5), f"{what}, record {i}, {k}: {x} vs PyTorch's {y}"
            elif isinstance(y, list) and y and isinstance(y[0], float):
                assert all(math.isclose(u, v, rel_tol=5e-4, abs_tol=1e-4) for u, v in zip(x, y)), (what, i, k, x, y)
            else:
                assert x == y, f"{what}, record {i}, {k}: {x!r} vs PyTorch's {y!r}"


def losses(records: list[dict]) -> list[float]:
    return [r["loss"] for r in records if "loss" in r]


def test_imports_are_rewritten_and_nothing_else() -> None:
    src = "import torch\nimport torch.nn as nn\nfrom torch import nn, optim\nfrom torch.utils.data import DataLoader\n"
    src += "x = torch.zeros(1)  # import torch\n    import torch.nn.functional as F\n"
    assert gpubp_source(src) == (
        "import gpubp as torch\nimport gpubp.nn as nn\nfrom gpubp import nn, optim\nfrom gpubp.utils.data import "
        "DataLoader\nx = torch.zeros(1)  # import torch\n    import gpubp.nn.functional as F\n"
    )


@pytest.mark.parametrize(
    ("name", "args"), CASES, ids=[f"{n[:-3]}{'-' + a[1] if a[:1] == ['--model'] else ''}" for n, a in CASES]
)
def test_program_matches_pytorch(name: str, args: list[str], tmp_path: Path) -> None:
    init = str(tmp_path / "init.pt")
    ours_path = as_gpubp(name, tmp_path)
    if torch is None:
        ours = run(ours_path, [*args, "--save-init", init, "--load-init", init], tmp_path)
        trace = losses(ours)
        assert trace and all(math.isfinite(v) for v in trace) and min(trace[len(trace) // 2 :]) < trace[0]
        return
    theirs = run(PROGRAMS / name, [*args, "--save-init", init, "--load-init", init], tmp_path)
    ours = run(ours_path, [*args, "--load-init", init], tmp_path)
    assert losses(theirs), f"{name} printed no losses"
    assert_same(ours, theirs, name)


def test_a_resumed_run_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    prog = as_gpubp("checkpoint_resume.py", tmp_path)
    straight = losses(run(prog, ["--steps", "12"], tmp_path))
    run(prog, ["--steps", "12", "--stop-at", "5", "--checkpoint", "ck.pt", "--save-init", "w.pt"], tmp_path)
    first = losses(
        run(prog, ["--steps", "12", "--stop-at", "5", "--checkpoint", "ck2.pt", "--load-init", "w.pt"], tmp_path)
    )
    resumed = losses(run(prog, ["--steps", "12", "--resume", "ck2.pt"], tmp_path))
    again = losses(run(prog, ["--steps", "12", "--load-init", "w.pt"], tmp_path))
    assert len(first) == 6 and len(resumed) == 6 and len(straight) == 12
    assert first + resumed == pytest.approx(again, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name", ["mnist_cnn.py", "word_lm.py", "vae.py"])
def test_default_flags_train(name: str, tmp_path: Path) -> None:
    """As published: shuffling, dropout (and on a GPU a worker process with pinned memory) all on."""
    trace = losses(run(as_gpubp(name, tmp_path), ["--steps", "12"], tmp_path))
    assert len(trace) == 12 and all(math.isfinite(v) for v in trace)
    assert sum(trace[-4:]) / 4 < sum(trace[:4]) / 4
