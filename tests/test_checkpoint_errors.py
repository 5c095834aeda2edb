"""Checkpoints refuse bad input clearly: formats, paths, nesting and dtypes, and saves survive being killed."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import torch

import gpubp
from gpubp import serialization

ROOT = Path(__file__).resolve().parents[1]

# ---- checkpoints --------------------------------------------------------------------------------------------


def _write_safetensors(
    path: Path, entries: dict[str, tuple[str, list[int], int]], metadata: dict | None = None
) -> None:
    """A safetensors file written by hand: {name: (dtype code, shape, byte count)}, zero-filled."""
    header, offset = {}, 0
    for name, (code, shape, nbytes) in entries.items():
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def test_unknown_format_versions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ck.safetensors"
    gpubp.save({"w": gpubp.ones(2), "epoch": 3}, path)
    assert gpubp.load(path)["epoch"] == 3
    for fmt, more in [(99, "written by a newer gpubp"), (0, ""), ("1", ""), (True, "")]:
        meta = {"gpubp": json.dumps({"format": fmt, "skeleton": {"w": {"__tensor__": "w"}}})}
        _write_safetensors(path, {"w": ("F32", [2], 8)}, meta)
        with pytest.raises(ValueError, match=rf"load: {re.escape(str(path))} is a gpubp checkpoint of format "
                           rf"{re.escape(repr(fmt))}; this gpubp reads format 1.*{more}"):  # fmt: skip
            gpubp.load(path)
    _write_safetensors(path, {"w": ("F32", [2], 8)}, {"gpubp": json.dumps({"skeleton": {}})})
    with pytest.raises(ValueError, match="has corrupt gpubp metadata"):
        gpubp.load(path)


def test_paths_none_directories_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"load: expected a file path \(str or os.PathLike\), got NoneType"):
        gpubp.load(None)
    with pytest.raises(TypeError, match=r"save: expected a file path \(str or os.PathLike\), got int"):
        gpubp.save({"w": gpubp.ones(1)}, 3)
    where = re.escape(str(tmp_path))
    with pytest.raises(IsADirectoryError, match=rf"save: {where} is a directory; give a file path"):
        gpubp.save({"w": gpubp.ones(1)}, tmp_path)
    with pytest.raises(IsADirectoryError, match=rf"load: {where} is a directory, not a checkpoint file"):
        gpubp.load(tmp_path)
    if torch is not None:
        with pytest.raises(IsADirectoryError):
            torch.load(tmp_path)
    missing = tmp_path / "nope" / "ck.safetensors"
    with pytest.raises(FileNotFoundError, match=rf"load: no checkpoint at {re.escape(str(missing))}"):
        gpubp.load(missing)
    gpubp.save({"w": gpubp.ones(1)}, str(missing).encode())  # bytes paths and missing folders are fine for save
    assert gpubp.load(missing)["w"].tolist() == [1.0] and os.listdir(missing.parent) == ["ck.safetensors"]


def test_nesting_depth_is_capped_on_save_and_load(tmp_path: Path) -> None:
    def nested(depth: int) -> dict:
        root = node = {}
        for _ in range(depth - 1):
            node["a"] = {}
            node = node["a"]
        node["w"] = gpubp.ones(2)
        return root

    path = tmp_path / "deep.safetensors"
    gpubp.save(nested(100), path)  # 100 levels: fine both ways
    node = gpubp.load(path)
    for _ in range(99):
        node = node["a"]
    assert node["w"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"save: the object nests dicts/lists deeper than 100 levels"):
        gpubp.save(nested(101), path)
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match=r"deeper than 100 levels .*a container that contains itself"):
        gpubp.save(loop, path)
    assert gpubp.load(path) is not None  # the good file is untouched
    for skeleton in ["[" * 150 + "]" * 150, "[" * 100_000 + "]" * 100_000]:  # a crafted header, or a JSON bomb
        text = '{"format": 1, "skeleton": ' + skeleton + "}"
        _write_safetensors(path, {"w": ("F32", [2], 8)}, {"gpubp": text})
        with pytest.raises(ValueError, match=r"deeper than 100 levels|corrupt gpubp metadata: RecursionError"):
            gpubp.load(path)


@pytest.mark.parametrize("code,nbytes", [("BF16", 4), ("F8_E4M3", 2), ("F8_E5M2", 2), ("C64", 16), ("U16", 4)])
def test_unsupported_safetensors_dtypes_name_the_tensor(tmp_path: Path, code: str, nbytes: int) -> None:
    path = tmp_path / "foreign.safetensors"
    _write_safetensors(path, {"ok": ("F32", [2], 8), "layer.weight": (code, [2], nbytes)})
    with pytest.raises(TypeError, match=rf"load: {re.escape(str(path))} holds tensors of dtypes gpubp does not support: "
                       rf"'layer.weight' \({code}\); supported are F16 \(float16\), F32 \(float32\)"):  # fmt: skip
        gpubp.load(path)
    try:
        from safetensors.numpy import save_file
    except ImportError:
        return
    if code in ("C64", "U16"):  # NumPy has these: the safetensors package writes the same header
        save_file({"z": np.zeros(2, np.complex64 if code == "C64" else np.uint16)}, str(path))
        with pytest.raises(TypeError, match=rf"'z' \({code}\)"):
            gpubp.load(path)


def _leftover(target: Path, pid: int, writer: str, age_s: float = 0.0) -> Path:
    """A staging folder as a save killed midway leaves it: a full-size partial file inside."""
    folder = target.with_name(f"{target.name}.gpubp-tmp.{pid}.deadbeef.{writer}")
    folder.mkdir()
    (folder / ".tmpAbC123").write_bytes(b"\0" * 4096)  # what safetensors itself writes before its rename
    if age_s:
        then = time.time() - age_s
        for p in (folder / ".tmpAbC123", folder):
            os.utime(p, (then, then))
    return folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # just exited and reaped: no process has it (pids are not reused so soon)


def test_a_save_removes_what_killed_saves_of_the_same_target_left(tmp_path: Path) -> None:
    target = tmp_path / "ck.safetensors"
    me = serialization._writer_id()
    dead = _leftover(target, _dead_pid(), me)
    old_elsewhere = _leftover(target, 12345, "another-host", age_s=7200)  # silent for two hours, on any host
    live_here = _leftover(target, os.getpid(), me)  # a parallel save in this very process
    live_elsewhere = _leftover(target, 1, "another-host", age_s=60)  # another machine, still writing a minute ago
    other_target = _leftover(tmp_path / "other.safetensors", _dead_pid(), me)
    (tmp_path / "ck.safetensors.gpubp-tmp.notes.txt").write_text("not ours: not the pattern")
    gpubp.save({"w": gpubp.ones(3)}, target)
    assert not dead.exists() and not old_elsewhere.exists()
    assert live_here.exists() and live_elsewhere.exists() and other_target.exists()
    assert (tmp_path / "ck.safetensors.gpubp-tmp.notes.txt").exists()
    assert gpubp.load(target)["w"].tolist() == [1.0, 1.0, 1.0]
    # nothing of the save itself stays behind, and a failed save leaves the old file and no staging folder
    names = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(TypeError, match="save: cannot store a function at 'bad': it cannot be pickled"):
        gpubp.save({"bad": lambda: 0}, target)  # (a set saves now, as PyTorch's; a lambda pickles nowhere)
    assert sorted(p.name for p in tmp_path.iterdir()) == names


_CHILD = """
import sys, numpy as np, gpubp
from safetensors import numpy as stnp
path, mode = sys.argv[1], sys.argv[2]
if mode == "hang":  # write the new file in full, then stop before the rename: killed at the worst moment
    real = stnp.save_file
    def slow(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        print("written", flush=True)
        import time; time.sleep(600)
    stnp.save_file = slow
i = 0
while True:
    i += 1
    gpubp.save({"w": gpubp.tensor(np.full(250_000, float(i), np.float32)), "i": i}, path)
    print("saved", i, flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("mode", ["hang", "loop"])
def test_a_save_killed_midway_leaves_the_old_checkpoint_loadable(tmp_path: Path, mode: str) -> None:
    target = tmp_path / "ck.safetensors"
    gpubp.save({"w": gpubp.zeros(250_000), "i": 0}, target)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(target), mode], stdout=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip
    try:
        first = proc.stdout.readline()
        if mode == "loop":  # kill it somewhere inside one of its saves
            assert first.startswith("saved"), first
            proc.stdout.readline()
        else:
            assert first.startswith("written"), first
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ck = gpubp.load(target)  # the old checkpoint or a complete new one, never half of one
    w = ck["w"].detach().cpu().numpy()
    assert w.shape == (250_000,) and np.all(w == ck["i"])
    if mode == "hang":
        assert ck["i"] == 0
        assert [p.name for p in tmp_path.iterdir() if ".gpubp-tmp." in p.name]  # its full-size leftover
    gpubp.save({"w": gpubp.ones(3), "i": 1}, target)  # the next save cleans up after the killed one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.safetensors"]
