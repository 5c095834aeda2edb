"""The examples that train through gradients of gradients (WGAN-GP's penalty, MAML's meta-gradient) reach their goals
in their CI setting, and say so in their exit status. They train on the CPU, in the plain pass only: the emulated
CUDA passes check every op they use already, and would spend minutes on emulated kernel launches here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GPUBP_EMULATE_CUDA")),
    reason="trains on the CPU in the plain pass (the ops run emulated there)",
)

# the CI settings: a fraction of each example's default length, enough to reach its goal
WGAN_CI = ["--iters", "600"]
MAML_CI = ["--iters", "1000"]


def run_example(script: str, args: list[str], device: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args, "--device", device],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_wgan_gp_puts_samples_on_every_mode() -> None:
    proc = run_example("wgan_gp.py", WGAN_CI, "cpu")
    out = proc.stdout
    assert proc.returncode == 0 and "goal reached" in out, out + proc.stderr
    goal = out.strip().splitlines()[-1]
    found = re.fullmatch(
        r"goal reached: distance to mode ([0-9.]+) .*, on a mode ([0-9.]+) .*, modes covered 8/8 \(all\)", goal
    )
    assert found is not None, out
    assert float(found[1]) < 0.5 and float(found[2]) > 0.25, out


def test_maml_adapts_to_new_tasks_in_one_step() -> None:
    proc = run_example("maml_fewshot.py", MAML_CI, "cpu")
    out = proc.stdout
    assert proc.returncode == 0 and "goal reached" in out, out + proc.stderr
    results = {
        name: [float(v) for v in nums]
        for name, *nums in re.findall(
            r"^\s*(MAML|first-order MAML)  new tasks: query MSE ([0-9.]+) before adapting, ([0-9.]+) after 1 step, "
            r"([0-9.]+) after 10 steps",
            out,
            re.MULTILINE,
        )
    }
    assert set(results) == {"MAML", "first-order MAML"}, out
    before, one, ten = results["MAML"]
    assert one < 0.5 * before and one < 1.5 and ten < one, out
    fo_before, fo_one, fo_ten = results["first-order MAML"]
    assert fo_ten < fo_one < fo_before, out  # the first-order variant learns too, if less


@pytest.mark.parametrize("script", ["wgan_gp.py", "maml_fewshot.py"])
def test_examples_exit_nonzero_when_the_goal_is_missed(script: str) -> None:
    proc = run_example(script, ["--iters", "1", "--no-first-order"] if "maml" in script else ["--iters", "1"], "cpu")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("goal MISSED"), proc.stdout
