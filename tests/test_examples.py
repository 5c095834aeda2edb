"""The README's main job: the raw-ops MLP example trains, and its loss falls epoch by epoch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mlp_digits_example_learns(device: str) -> None:
    pytest.importorskip("sklearn")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlp_digits.py"), "--epochs", "5", "--device", device],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    losses = [float(v) for v in re.findall(r"train loss ([0-9.]+)", out)]
    accuracy = [float(v) for v in re.findall(r"test accuracy ([0-9.]+)", out)]
    assert len(losses) == 5
    assert all(b < a for a, b in zip(losses, losses[1:])), out
    assert accuracy[-1] > 0.9, out


@pytest.mark.parametrize("script,epochs", [("cnn_digits.py", 2), ("resnet_digits.py", 3), ("lstm_sentiment.py", 2)])
def test_single_file_examples_run_and_learn(script: str, epochs: int) -> None:
    pytest.importorskip("sklearn")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--epochs", str(epochs), "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    accuracy = [float(v) for v in re.findall(r"test accuracy ([0-9.]+)", out)]
    assert len(accuracy) == epochs and accuracy[-1] > 0.85, out


def test_single_file_examples_gpt_addition_learns() -> None:
    """examples/gpt_addition.py: the causal transformer learns 2-digit addition (greedy exact match on held-out sums)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "gpt_addition.py"), "--steps", "1500", "--device", "cpu"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    exact = [float(v) for v in re.findall(r"held-out exact match ([0-9.]+)", out)]
    assert exact and exact[-1] > 0.9, out
