"""The gpubp command: bad values are refused in one line with exit status 2, runs report exactly what they wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gpubp
from gpubp.cli import main
from gpubp.zoo import EXAMPLES

ROOT = Path(__file__).resolve().parents[1]


def _error_line(err: str) -> str:
    """The one line of stderr, checked to be a gpubp train error."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpubp train: error: "), err
    return lines[0]


def test_info(capsys: pytest.CaptureFixture) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"gpubp {gpubp.__version__}" in out and f"kernels: {gpubp.cuda.kernel_count()} instantiations" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--lr", "0"], "--lr must be a positive finite number, got 0.0"),
        (["--lr", "-0.1"], "--lr must be a positive finite number, got -0.1"),
        (["--lr", "nan"], "--lr must be a positive finite number, got nan"),
        (["--lr", "inf"], "--lr must be a positive finite number, got inf"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (["--device", "tpu"], "--device tpu: unknown device 'tpu'"),
        (["--device", "cuda:7"], "--device cuda:7: "),
        (["--data", "."], "--data is not used by digits-mlp"),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
    ],
)
def test_bad_values_are_refused_before_anything_is_written(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    assert main(["train", "digits-mlp", "--out", str(out), *args]) == 2
    assert message in _error_line(capsys.readouterr().err)
    assert not out.exists()


def test_data_is_checked_for_the_examples_that_read_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "mnist", "--out", str(tmp_path / "run")]) == 2
    assert "mnist needs --data PATH" in _error_line(capsys.readouterr().err)
    assert main(["train", "mnist", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run")]) == 2
    assert f"got {tmp_path / 'missing'} (missing)" in _error_line(capsys.readouterr().err)
    (tmp_path / "file").write_text("x")
    assert main(["train", "mnist", "--data", str(tmp_path / "file"), "--out", str(tmp_path / "run")]) == 2
    assert "(a file)" in _error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_a_bad_out_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["train", "digits-mlp", "--out", str(tmp_path / "file")]) == 2
    assert f"--out {tmp_path / 'file'} is a file; expected a folder" in _error_line(capsys.readouterr().err)
    assert main(["train", "digits-mlp", "--out", str(tmp_path / "file" / "run")]) == 2
    assert f"{tmp_path / 'file'} is a file, not a folder" in _error_line(capsys.readouterr().err)
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes through any mode bits: refuse the probe file as a read-only disk would

        def refuse(*a: object, **k: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("gpubp.cli.tempfile.TemporaryFile", refuse)
    else:
        locked.chmod(0o500)
    try:
        assert main(["train", "digits-mlp", "--out", str(locked / "run")]) == 2
    finally:
        locked.chmod(0o700)
    assert "is not writable: Permission denied" in _error_line(capsys.readouterr().err)


def test_the_old_example_name_is_gone(capsys: pytest.CaptureFixture) -> None:
    assert "house-prices" not in EXAMPLES
    assert main(["train", "house-prices"]) == 2
    assert "invalid choice: 'house-prices'" in _error_line(capsys.readouterr().err)


def test_help_lists_each_example_with_its_defaults() -> None:
    run = subprocess.run([sys.executable, "-m", "gpubp", "train", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    for name, ex in EXAMPLES.items():
        assert f"  {name:<15} {ex.description}" in run.stdout
        assert f"{ex.epochs} epochs, lr {ex.lr:g}, batch size {ex.batch_size}; goal: " in run.stdout
    assert "val_r2 >= 0.45" in run.stdout


def test_a_run_reports_exactly_the_files_it_wrote(device: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("sklearn")
    before = gpubp.default_device()
    out = tmp_path / "run"
    args = ["train", "diabetes", "--device", device, "--epochs", "2", "--lr", "0.01", "--batch-size", "64"]
    assert main([*args, "--out", str(out)]) == 0
    assert gpubp.default_device() == before  # in-process, the command leaves the default device as it found it
    stdout = capsys.readouterr().out
    assert "(device " + device in stdout and "2 epochs, lr 0.01, batch 64" in stdout
    wrote = [line for line in stdout.splitlines() if line.startswith("wrote ")]
    assert len(wrote) == 1
    listed = wrote[0].split(": ", 1)[1].split(", ")
    assert sorted(listed) == sorted(p.name for p in out.iterdir())
    assert {"model.safetensors", "best.safetensors", "history.json", "final.json"} <= set(listed)
    assert json.loads((out / "history.json").read_text())["epoch"] == [1, 2]


def test_a_diverging_run_stops_with_exit_1_and_names_its_files(
    device: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "run"
    assert main(["train", "diabetes", "--device", device, "--epochs", "2", "--lr", "1e6", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    line = _error_line(captured.err)
    assert "the training loss is" in line and "at epoch 1, batch " in line
    assert "model.safetensors" not in captured.out and "wrote " not in captured.out
    written = sorted(p.name for p in out.iterdir())
    assert written == ["history.json"] and f"wrote {out / 'history.json'}." in line


def test_info_into_a_closed_pipe_stops_quietly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`gpubp info | head -1`: the reader has left, so writing raises BrokenPipeError; gpubp stops with the SIGPIPE
    status and no traceback (stdout then points at /dev/null, so Python's final flush cannot fail again)."""
    target = os.open(tmp_path / "stdout", os.O_WRONLY | os.O_CREAT)

    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return target

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    try:
        assert main(["info"]) == 141
    finally:
        os.close(target)


def test_pyproject_lists_every_package() -> None:
    """``pip install .`` (not editable) ships only the packages pyproject.toml names: a new subpackage must be listed."""
    import tomllib
    from setuptools import find_packages

    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    missing = set(find_packages(str(root), include=["gpubp*"])) - listed
    assert not missing, f"pyproject.toml's [tool.setuptools] packages lack {sorted(missing)}"
