"""Data loading, checkpoints and state dicts refuse bad input clearly: default_collate as PyTorch's
(strings stay lists, unsupported dtypes are a TypeError naming the item), DataLoader arguments,
checkpoint formats, paths, nesting and dtypes, saves that survive being killed, and
Module.load_state_dict naming the key it cannot use."""

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
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
from gpubp import data, serialization
from gpubp.nn.utils import clip_grad_norm_, clip_grad_value_

ROOT = Path(__file__).resolve().parents[1]


class Items(data.Dataset):
    """A dataset whose examples come from ``make(i)``."""

    def __init__(self, make, n: int = 5) -> None:  # noqa: ANN001
        self.make, self.n = make, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):  # noqa: ANN204
        return self.make(i)


def _torch_batches(make, n: int = 5, batch_size: int = 2):  # noqa: ANN001, ANN202
    class TorchItems(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int):  # noqa: ANN204
            return make(i)

    return list(torch.utils.data.DataLoader(TorchItems(), batch_size=batch_size))


# ---- default_collate and DataLoader ------------------------------------------------------------------------


def test_strings_batch_to_lists_of_str_as_pytorch(device: str) -> None:
    rng = rng_for("strings")
    x = rng.standard_normal((5, 3)).astype(np.float32)
    words = ["abc", "def", "ghi", "jkl", "mno"]

    def make(i: int) -> tuple:
        return x[i], words[i], [words[i], words[-1 - i]]

    batches = list(data.DataLoader(Items(make), batch_size=2, device=device))
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    xb, wb, pairs = batches[0]
    assert isinstance(xb, gpubp.Tensor) and xb.device == device and xb.dtype == gpubp.float32
    np.testing.assert_array_equal(xb.detach().cpu().numpy(), x[:2])
    assert wb == ["abc", "def"] and all(type(w) is str for w in wb)
    assert pairs == [["abc", "def"], ["mno", "jkl"]]
    if torch is not None:
        theirs = _torch_batches(make)[0]
        assert list(theirs[1]) == wb and [list(p) for p in theirs[2]] == pairs
    # a TensorDataset with a 1-D string array (its fast path): the same lists of str
    ds = data.TensorDataset(x, np.array(words))
    got = [b[1] for b in data.DataLoader(ds, batch_size=2, device=device)]
    assert got == [["abc", "def"], ["ghi", "jkl"], ["mno"]] and all(type(w) is str for w in got[0])
    # dicts collate key by key, as PyTorch's
    d = next(iter(data.DataLoader(Items(lambda i: {"x": x[i], "name": words[i]}), batch_size=3, device=device)))
    assert d["name"] == words[:3] and d["x"].shape == (3, 3)


@pytest.mark.parametrize(
    "item,found",
    [
        (lambda i: (np.array([object(), i], dtype=object), i), "object"),
        (lambda i: (np.array(["ab", "cd"]), i), "<U2"),
        (lambda i: (np.zeros(2, np.complex64), i), "complex64"),
        (lambda i: (np.zeros(2, np.uint16), i), "uint16"),
        (lambda i: (None, i), "<class 'NoneType'>"),
        (lambda i: (object(), i), "<class 'object'>"),
    ],
    ids=["object-array", "str-array", "complex", "uint16", "None", "object"],
)
def test_unsupported_items_raise_type_error_naming_collate_item_and_dtype(device: str, item, found: str) -> None:  # noqa: ANN001
    loader = data.DataLoader(Items(item), batch_size=2, device=device)
    with pytest.raises(TypeError, match=r"default_collate: batch must contain tensors, numpy arrays, numbers") as e:
        next(iter(loader))
    assert f"found {found} at dataset item 0" in str(e.value)
    if torch is not None and found not in ("complex64", "uint16"):  # PyTorch has tensors of those
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            _torch_batches(item)
    with pytest.raises(TypeError, match=f"found {found} at batch element 0"):
        data.default_collate([item(0), item(1)])


def test_mixed_and_ragged_batches_name_both_items() -> None:
    def ragged(i: int) -> np.ndarray:
        return np.ones(2 + (i == 3), np.float32)

    with pytest.raises(RuntimeError, match=r"stack expects each example to be of equal size, but got \(2,\) at "
                       r"dataset item 2 and \(3,\) at dataset item 3"):  # fmt: skip
        list(data.DataLoader(Items(ragged), batch_size=2))
    if torch is not None:
        with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
            _torch_batches(ragged)
    with pytest.raises(RuntimeError, match=r"each element in list of batch should be of equal size"):
        list(data.DataLoader(Items(lambda i: (1, 2.0) if i != 1 else (1,)), batch_size=2))
    with pytest.raises(TypeError, match=r"found <class 'NoneType'> at dataset item 4"):
        list(data.DataLoader(Items(lambda i: 1.5 if i < 4 else None), batch_size=5))


def test_a_dataset_of_single_arrays_batches_to_one_tensor(device: str) -> None:
    x = rng_for("single").standard_normal((6, 2)).astype(np.float32)
    batches = list(data.DataLoader(Items(lambda i: x[i], n=6), batch_size=4, device=device))
    assert [b.shape for b in batches] == [(4, 2), (2, 2)]
    np.testing.assert_array_equal(batches[1].detach().cpu().numpy(), x[4:])
    if torch is not None:
        assert [tuple(b.shape) for b in _torch_batches(lambda i: x[i], n=6, batch_size=4)] == [(4, 2), (2, 2)]


def test_tensor_dataset_subclasses_and_collate_fn_are_honoured(device: str) -> None:
    x = np.arange(6, dtype=np.float32)

    class Doubled(data.TensorDataset):
        def __getitem__(self, i):  # noqa: ANN001, ANN204
            return tuple(2 * a[i] for a in self.arrays)

    assert next(iter(data.DataLoader(Doubled(x), batch_size=3)))[0].tolist() == [0.0, 2.0, 4.0]

    def collate(items: list) -> dict:
        return {"x": np.stack([it[0] for it in items]) + 1, "n": len(items)}

    batch = next(iter(data.DataLoader(data.TensorDataset(x), batch_size=3, collate_fn=collate, device=device)))
    assert batch["x"].tolist() == [1.0, 2.0, 3.0] and batch["x"].device == device and batch["n"] == 3
    with pytest.raises(TypeError, match=r"DataLoader: the collate_fn returned an array of dtype object"):
        next(iter(data.DataLoader(data.TensorDataset(x), batch_size=3, collate_fn=lambda it: np.array([None]))))


@pytest.mark.parametrize(
    "kw,exc,match",
    [
        ({"batch_size": 1.5}, ValueError, r"batch_size should be a positive integer value, but got batch_size=1.5"),
        ({"batch_size": 0}, ValueError, r"batch_size should be a positive integer value, but got batch_size=0"),
        ({"batch_size": -2}, ValueError, r"batch_size should be a positive integer value, but got batch_size=-2"),
        ({"batch_size": True}, ValueError, r"but got batch_size=True"),
        ({"batch_size": "4"}, ValueError, r"but got batch_size='4'"),
        ({"batch_size": None}, ValueError, r"batch_size=None \(no automatic batching\) is not supported"),
        ({"drop_last": "yes"}, ValueError, r"drop_last should be a boolean value, but got drop_last='yes'"),
        ({"drop_last": 1}, ValueError, r"drop_last should be a boolean value, but got drop_last=1"),
        ({"shuffle": "yes"}, ValueError, r"shuffle should be a boolean value, but got shuffle='yes'"),
        ({"seed": -1}, TypeError, r"seed must be None or an integer >= 0, got -1"),
        ({"collate_fn": 3}, TypeError, r"collate_fn must be callable, got int"),
    ],
)
def test_dataloader_arguments(kw: dict, exc: type, match: str) -> None:
    ds = data.TensorDataset(np.arange(4.0))
    with pytest.raises(exc, match=match):
        data.DataLoader(ds, **kw)
    if torch is not None and ("drop_last" in kw or kw.get("batch_size") is not None):  # PyTorch checks these two
        with pytest.raises(exc):
            torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(4.0)), **kw)
    with pytest.raises(TypeError, match=r"DataLoader: the dataset must have __len__ and __getitem__, got int"):
        data.DataLoader(5)


def test_tensor_dataset_refuses_what_cannot_batch() -> None:
    with pytest.raises(ValueError, match=r"TensorDataset: array 1 has 3 rows, array 0 has 4: the first dimension"):
        data.TensorDataset(np.zeros(4), np.zeros(3))
    with pytest.raises(IndexError, match=r"TensorDataset: array 1 is 0-dimensional"):
        data.TensorDataset(np.zeros(4), np.float32(1.0))
    if torch is not None:
        with pytest.raises(IndexError):
            torch.utils.data.TensorDataset(torch.zeros(4), torch.tensor(1.0))
    with pytest.raises(
        TypeError, match=r"array 0 has dtype object, .*strings\? give them as np.asarray\(x, dtype=str\)"
    ):
        data.TensorDataset(np.array(["a", "b"], dtype=object))
    with pytest.raises(TypeError, match=r"TensorDataset: array 0 has dtype complex64"):
        data.TensorDataset(np.zeros(3, np.complex64))
    with pytest.raises(TypeError, match=r"a string array must be 1-D"):
        data.TensorDataset(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"TensorDataset: array 0 is not a rectangular array"):
        data.TensorDataset([[1.0, 2.0], [3.0]])


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
    with pytest.raises(TypeError, match="cannot store a set"):
        gpubp.save({"bad": {1}}, target)
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


# ---- state dicts and clipping --------------------------------------------------------------------------


def test_module_load_state_dict_names_a_key_whose_value_is_not_a_tensor(device: str) -> None:
    rng = rng_for("msd")
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).to(device)
    before = {k: v.detach().cpu().numpy().copy() for k, v in m.state_dict().items()}
    good = {k: gpubp.tensor(rng.standard_normal(v.shape).astype(np.float32), device=device)
            for k, v in m.state_dict().items()}  # fmt: skip
    for value, kind in [(None, "NoneType"), ([[0.0] * 4] * 2, "list"), ("w", "str"), (1.5, "float")]:
        with pytest.raises(TypeError, match=rf"load_state_dict: '1.weight' is a {kind} in the state dict, expected "
                           r"a Tensor \(or an array\) of shape \(2, 4\) and dtype float32"):  # fmt: skip
            m.load_state_dict({**good, "1.weight": value})
    with pytest.raises(TypeError, match=r"'0.bias' is an array of dtype object in the state dict"):
        m.load_state_dict({**good, "0.bias": np.array([None] * 4)})
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(3, 4\) in the state dict, expected \(4, 3\)"):
        m.load_state_dict({**good, "0.weight": gpubp.zeros(3, 4, device=device)})
    with pytest.raises(TypeError, match=r"load_state_dict: expected state_dict to be dict-like, got NoneType"):
        m.load_state_dict(None)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.detach().cpu().numpy(), before[k])  # nothing changed: '0.weight' comes first
    if torch is not None:
        with pytest.raises(TypeError):
            torch.nn.Linear(2, 3).load_state_dict(None)
    m.load_state_dict({**good, "1.bias": good["1.bias"].detach().cpu().numpy()})  # a NumPy array is fine
    np.testing.assert_array_equal(m[1].bias.detach().cpu().numpy(), good["1.bias"].detach().cpu().numpy())


def test_clipping_refuses_nan_and_non_numbers(device: str) -> None:
    w = gpubp.tensor(rng_for("clip").standard_normal(3), device=device, requires_grad=True)
    (w * 3).sum().backward()
    before = w.grad.detach().cpu().numpy().copy()
    with pytest.raises(ValueError, match=r"clip_grad_norm_: max_norm must be positive, got nan"):
        clip_grad_norm_([w], float("nan"))
    with pytest.raises(TypeError, match=r"clip_grad_norm_: max_norm must be a real number, got str"):
        clip_grad_norm_([w], "1.0")
    with pytest.raises(ValueError, match=r"clip_grad_norm_: norm_type must be a positive number"):
        clip_grad_norm_([w], 1.0, norm_type=-1)
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be non-negative, got nan"):
        clip_grad_value_([w], float("nan"))
    np.testing.assert_array_equal(w.grad.detach().cpu().numpy(), before)
