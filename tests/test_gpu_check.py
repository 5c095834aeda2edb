"""benchmarks/gpu_check.sh, the one command a session runs on a lent GPU, run whole on the emulated CUDA device
(GPUBP_EMULATE_CUDA=1), so that a script error shows here and not in the one precious GPU call: every step passes
inside its budget, leaves its log, and the summary names every step; a step that fails is reported, the later
steps still run, and the exit status says so. About 1.5 minutes on 2 cores; skipped without the emulator."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ["env", "warmup", "tests", "kernels", "bench", "example", "summary"]
TOP_LEVEL = {"summary.md", "summary.json", "env.json", "bench.json", "raw.tar.gz"}

pytestmark = [
    pytest.mark.skipif(bool(os.environ.get("GPUBP_GPU_CHECK")), reason="inside a run of gpu_check.sh itself"),
    # the script sets up its own emulated device: once per CI, in the plain run, not again in the emulated passes
    pytest.mark.skipif(
        os.environ.get("GPUBP_EMULATE_CUDA", "0") not in ("", "0"), reason="runs in the plain (not emulated) run"
    ),
    pytest.mark.skipif(not (shutil.which("bash") and shutil.which("timeout")), reason="needs bash and timeout"),
    pytest.mark.skipif(
        importlib.util.find_spec("gpubp.backend.emulation.host_kernels") is None,
        reason="the CUDA emulator (gpubp.backend.emulation) is not here",
    ),
]


def _check(out: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the whole script into ``out`` on the emulated device; (the process, summary.json)."""
    # PYTEST_*: an xdist worker's variables would make the script's own pytest-benchmark run write no JSON
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GPUBP_", "CUPY_", "PYTEST_"))}
    environ.update(GPUBP_EMULATE_CUDA="1", **env)
    run = subprocess.run(
        ["bash", str(SCRIPT), str(out)], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=420
    )
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    return run, summary


def _results(summary: dict) -> dict[str, str]:
    return {s["step"]: s["result"] for s in summary.get("steps", [])}


def _raw_names(out: Path) -> set[str]:
    with tarfile.open(out / "raw.tar.gz") as tar:
        return {name.removeprefix("raw/") for name in tar.getnames()}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    out = tmp_path_factory.mktemp("gpu-check")
    run, summary = _check(out)
    return run, summary, out


def test_every_step_passes_on_the_emulated_device(full_run) -> None:  # noqa: ANN001
    run, summary, out = full_run
    text = (out / "summary.md").read_text() if (out / "summary.md").is_file() else run.stdout[-4000:]
    assert summary, f"no summary.json\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert _results(summary) == dict.fromkeys(STEPS, "ok"), text
    assert run.returncode == 0 and summary["ok"], text
    junit = {s["step"]: s["junit"] for s in summary["steps"]}
    tests, kernels, bench = junit["tests"], junit["kernels"], junit["bench"]
    assert tests["passed"] > 50 and kernels["passed"] > 300 and bench["passed"] > 10, (tests, kernels, bench)


def test_results_fit_what_comes_back_from_the_gpu_machine(full_run) -> None:  # noqa: ANN001
    """At most 8 files, at most two folders deep; every step's log and the raw results are in raw.tar.gz."""
    _, _, out = full_run
    files = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8 and all(len(p.parts) <= 3 for p in files), files
    assert {str(p) for p in files} == TOP_LEVEL
    raw = _raw_names(out)
    assert {f"{s}.log" for s in STEPS} <= raw, raw
    assert {"tests.xml", "kernels.xml", "bench.xml", "warmup.json", "example/final.json"} <= raw, raw
    assert not any(name.endswith(".safetensors") for name in raw)


def test_summary_names_every_step_and_the_headlines(full_run) -> None:  # noqa: ANN001
    _, summary, out = full_run
    text = (out / "summary.md").read_text()
    for step in STEPS:
        assert f"| {step} | ok |" in text, text
    assert "EMULATED" in text and "device-to-device copy" in text and "MLP step" in text, text
    env = json.loads((out / "env.json").read_text())
    assert env["emulated"] is True and env["sm_count"] >= 1 and env["device"]
    bench = json.loads((out / "bench.json").read_text())
    assert {b["group"] for b in bench["benchmarks"]} >= {"gpu-copy", "gpu-activation-backward", "gpu-mlp-step"}
    assert all(row.get("ratio") is None for row in summary["headlines"])  # no PyTorch CUDA on the emulator


def test_a_failing_step_is_reported_and_the_later_ones_still_run(tmp_path: Path) -> None:
    """env runs `false` (GPUBP_GPU_CHECK_FAIL_STEP); of the rest only the example is selected, to keep it short."""
    run, summary = _check(tmp_path, GPUBP_GPU_CHECK_FAIL_STEP="env", GPUBP_GPU_CHECK_STEPS="env,example")
    assert run.returncode == 1, run.stdout[-3000:]
    results = _results(summary)
    assert results["env"] == "FAILED (exit 1)" and results["example"] == "ok", results
    assert {results[s] for s in ("warmup", "tests", "kernels", "bench")} == {"not run"}, results
    text = (tmp_path / "summary.md").read_text()
    assert "| env | FAILED (exit 1) |" in text and "- env: env.log" in text and "GPUBP_GPU_CHECK_FAIL_STEP" in text
    assert "(no env.json" in text
    assert {f"{s}.log" for s in ("env", "example", "summary")} <= _raw_names(tmp_path)
