"""gpubp.save / gpubp.load as PyTorch's: checkpoints round-trip, PyTorch's own files load, and nothing in a file runs."""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn, optim
from gpubp import serialization as ser
from gpubp.backend import Device

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch to write its files")


def _host(t: gpubp.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _trained(device: str) -> tuple[nn.Module, optim.Optimizer]:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = gpubp.tensor(rng_for("trained", device).standard_normal((5, 3)).astype(np.float32), device=device)
    model(x).sum().backward()
    opt.step()
    return model, opt


class Config:
    """A user class, as checkpoints often hold (argparse.Namespace, a dataclass)."""

    def __init__(self, lr: float) -> None:
        self.lr = lr


class Payload:
    """Unpickling this runs a command: what a malicious checkpoint does."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.sentinel}",)


# ---- gpubp's own files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("to_file_object", [False, True])
def test_a_checkpoint_round_trips_structure_values_and_devices(
    tmp_path: Path, device: str, to_file_object: bool
) -> None:
    model, opt = _trained(device)
    rng = rng_for("roundtrip", device)
    base = gpubp.tensor(rng.standard_normal((3, 4)).astype(np.float32), device=device)
    w = gpubp.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    ck = {
        "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "loss": math.nan,
        "shape": (2, 3), "keys": {1: "a", (2, "b"): None, 2.5: True}, "order": collections.OrderedDict(b=1, a=2),
        "tags": {1, 2}, "z": 1 + 2j, "raw": b"\x00\xff", "dtype": gpubp.int64, "dev": Device("cpu"),
        "looks_tagged": {"__tuple__": [1]}, "nc": base.t(), "view": base[1:, 2:], "w": w, "w_again": w,
        "ints": gpubp.tensor(rng.integers(-5, 5, 4), device=device), "mask": gpubp.tensor([True, False], device=device),
        "half": gpubp.tensor(rng.standard_normal(2).astype(np.float16), device=device), "scalar": base.sum(),
    }  # fmt: skip
    path = tmp_path / "ck.pt"
    if to_file_object:
        with open(path, "wb") as f:
            gpubp.save(ck, f)
        with open(path, "rb") as f:
            got = gpubp.load(f)
    else:
        gpubp.save(ck, path)
        got = gpubp.load(path)
    assert set(got) == set(ck)
    for k in ("epoch", "shape", "keys", "order", "tags", "z", "raw", "dtype", "dev", "looks_tagged"):
        assert got[k] == ck[k] and type(got[k]) is type(ck[k]), k
    assert math.isnan(got["loss"]) and type(got["order"]) is collections.OrderedDict
    assert list(got["model"]) == list(ck["model"]) and isinstance(got["model"], collections.OrderedDict)
    for name in ("nc", "view", "w", "ints", "mask", "half", "scalar"):
        a, b = got[name], ck[name]
        assert (a.shape, a.dtype, str(a.device)) == (b.shape, b.dtype, str(b.device)), name
        np.testing.assert_array_equal(_host(a), _host(b), err_msg=name)
    assert got["w"] is got["w_again"] and got["w"].requires_grad and not got["nc"].requires_grad
    assert list(got["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]  # int keys stay ints
    assert got["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    clone = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).to(device)
    clone.load_state_dict(got["model"])
    opt2 = optim.Adam(clone.parameters(), lr=1.0)
    opt2.load_state_dict(got["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01
    for (k, a), b in zip(model.state_dict().items(), clone.state_dict().values()):
        np.testing.assert_array_equal(_host(a), _host(b), err_msg=k)
    # the tensors are plain safetensors tensors: any reader gets them, by their paths; the shared one once
    from safetensors.numpy import load_file

    names = load_file(str(path))
    assert "model.0.weight" in names and "w" in names and "w_again" not in names
    np.testing.assert_array_equal(names["nc"], _host(base).T)


def test_map_location_moves_what_a_gpubp_file_holds(tmp_path: Path, device: str) -> None:
    t = gpubp.tensor(rng_for("map", device).standard_normal(4), device=device)
    gpubp.save({"t": t}, tmp_path / "ck.pt")
    for where in ("cpu", Device("cpu"), {device: "cpu"}, lambda storage, loc: storage.cpu()):
        got = gpubp.load(tmp_path / "ck.pt", map_location=where)["t"]
        assert str(got.device) == "cpu"
        np.testing.assert_array_equal(_host(got), _host(t))
    seen = []
    got = gpubp.load(tmp_path / "ck.pt", map_location=lambda storage, loc: seen.append(loc))["t"]
    assert seen == [str(t.device)] and got.device == t.device  # None from the callable: where it was saved
    with pytest.raises(TypeError, match="load: map_location must be a device"):
        gpubp.load(tmp_path / "ck.pt", map_location=2.5)
    with pytest.raises(ValueError, match="load: map_location='bad'"):
        gpubp.load(tmp_path / "ck.pt", map_location="bad")


def test_whole_objects_pickle_and_load_only_when_allowed(tmp_path: Path, device: str) -> None:
    model, _ = _trained(device)
    model.eval()
    gpubp.save(model, tmp_path / "model.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"asks for the global 'gpubp\.nn\..*Sequential'.*add_safe_glob"):
        gpubp.load(tmp_path / "model.pt")
    again = gpubp.load(tmp_path / "model.pt", weights_only=False)
    x = gpubp.tensor(rng_for("whole", device).standard_normal((4, 3)).astype(np.float32), device=device)
    np.testing.assert_allclose(_host(again(x)), _host(model(x)), rtol=1e-6)
    assert isinstance(again[0].weight, nn.Parameter) and again[0].weight.requires_grad
    assert again[0].weight.device == model[0].weight.device
    # a custom class next to the weights: refused, unless the user allows it by name
    gpubp.save({"model": model.state_dict(), "config": Config(0.5)}, tmp_path / "ck.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"'test_serialization\.Config'"):
        gpubp.load(tmp_path / "ck.pt")
    assert ser.get_safe_globals() == []
    with ser.safe_globals([Config]):
        assert ser.get_safe_globals() == [Config]
        got = gpubp.load(tmp_path / "ck.pt")
    assert ser.get_safe_globals() == []
    assert isinstance(got["config"], Config) and got["config"].lr == 0.5 and "0.weight" in got["model"]
    ser.add_safe_globals([(Config, "test_serialization.Config")])
    try:
        assert gpubp.load(tmp_path / "ck.pt")["config"].lr == 0.5
    finally:
        ser.clear_safe_globals()
    with pytest.raises(TypeError, match="add_safe_globals: expected a list"):
        ser.add_safe_globals(Config)
    with pytest.raises(TypeError, match="add_safe_globals: expected classes or functions, got int"):
        ser.add_safe_globals([3])


def test_what_cannot_be_pickled_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    gpubp.save({"w": gpubp.ones(2)}, path)
    good = path.read_bytes()
    with pytest.raises(TypeError, match=r"save: cannot store a generator at 'opt\.1': it cannot be pickled"):
        gpubp.save({"w": gpubp.zeros(2), "opt": [1, (i for i in range(3))]}, path)
    assert path.read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]


def test_a_malicious_gpubp_file_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    gpubp.save({"w": gpubp.ones(2), "x": Payload(sentinel)}, path)  # saving only pickles the payload
    assert not sentinel.exists()
    with pytest.raises(pickle.UnpicklingError, match=r"asks for '(posix|nt|os)\.system'.*never allowed"):
        gpubp.load(path)
    with ser.safe_globals([os.system]):  # even a user's allow-list does not open os
        with pytest.raises(pickle.UnpicklingError, match="never allowed"):
            gpubp.load(path)
    assert not sentinel.exists()
    gpubp.load(path, weights_only=False)  # the user said they trust it: it runs
    assert sentinel.exists()


# ---- PyTorch's files --------------------------------------------------------------------------------------------


def _torch_file(obj: Any, path: Path) -> Path:
    torch.save(obj, path)
    return path


def _rezip(src: Path, dst: Path, edit: Any) -> Path:
    """A copy of a torch.save zip with ``edit(name, data) -> data`` applied to each record."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))
    return dst


def _same(g: Any, t: Any, path: str = "") -> None:
    """gpubp's loaded object has PyTorch's structure, types and values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(g, gpubp.Tensor), path
        assert g.shape == tuple(t.shape) and str(g.dtype) == str(t.dtype).replace("torch.", ""), path
        assert g.requires_grad == t.requires_grad and isinstance(g, nn.Parameter) == isinstance(t, torch.nn.Parameter)
        np.testing.assert_array_equal(_host(g), t.detach().numpy(), err_msg=path)
    elif isinstance(t, dict):
        assert type(g) is type(t) and list(g) == list(t), path
        for k in t:
            _same(g[k], t[k], f"{path}.{k}")
    elif isinstance(t, (list, tuple)):
        assert type(g) is type(t) and len(g) == len(t), path
        for i, (a, b) in enumerate(zip(g, t)):
            _same(a, b, f"{path}.{i}")
    else:
        assert g == t and type(g) is type(t), path


@needs_torch
@pytest.mark.parametrize("from_file_object", [False, True])
def test_pytorch_checkpoints_load_as_gpubp_tensors(tmp_path: Path, device: str, from_file_object: bool) -> None:
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    rng = rng_for("torch-file")
    tx = torch.tensor(rng.standard_normal((5, 3)), dtype=torch.float32)
    tmodel(tx).sum().backward()
    topt.step()
    base = torch.tensor(rng.standard_normal((4, 6)), dtype=torch.float32)
    obj = {
        "model": tmodel.state_dict(), "optimizer": topt.state_dict(), "epoch": 3, "nc": base.t(), "view": base[1:, 2:5],
        "row": base[2], "base": base, "ints": torch.tensor(rng.integers(-9, 9, 5)), "mask": torch.tensor([True, False]),
        "f64": torch.tensor(rng.standard_normal(3)), "f16": torch.tensor([0.5, -2.0], dtype=torch.float16),
        "u8": torch.tensor([0, 255], dtype=torch.uint8), "i8": torch.tensor([-128, 7], dtype=torch.int8),
        "i16": torch.tensor([3], dtype=torch.int16), "i32": torch.tensor([4], dtype=torch.int32),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3), "param": torch.nn.Parameter(torch.ones(2)),
        "grad": torch.ones(2, requires_grad=True), "misc": [1, (2.5, "s"), None, {1, 2}, b"ab", 1 + 1j],
    }  # fmt: skip
    path = _torch_file(obj, tmp_path / "model.pt")
    if from_file_object:
        with open(path, "rb") as f:
            got = gpubp.load(f)
    else:
        got = gpubp.load(path)
    _same(got, obj)
    assert got["model"]["1.num_batches_tracked"].dtype == np.int64 and got["model"]["1.num_batches_tracked"].shape == ()
    assert got["model"]._metadata == tmodel.state_dict()._metadata  # layer versions travel too
    assert str(got["nc"].device) == "cpu"  # saved from the CPU: back on the CPU, as PyTorch
    # what a program does with it: load it into the same model built with gpubp, and continue
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).to(device)
    model.load_state_dict(got["model"])
    opt = optim.Adam(model.parameters(), lr=1.0)
    opt.load_state_dict(got["optimizer"])
    assert opt.param_groups[0]["lr"] == 0.01
    tmodel.eval()
    model.eval()
    np.testing.assert_allclose(_host(model(gpubp.tensor(tx.numpy(), device=device))), tmodel(tx).detach().numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    # every device placement PyTorch has
    on = gpubp.load(path, map_location=device)
    assert on["base"].device == gpubp.zeros(1, device=device).device
    np.testing.assert_array_equal(_host(on["view"]), base[1:, 2:5].numpy())
    calls = []
    gpubp.load(path, map_location=lambda storage, loc: calls.append((storage.ndim, loc)) or storage)
    assert calls and all(c == (1, "cpu") for c in calls)
    assert gpubp.load(path, map_location={"cpu": device})["row"].device == on["base"].device


@needs_torch
def test_storages_on_a_gpu_go_back_to_it_or_say_how_to_map_them(tmp_path: Path) -> None:
    src = _torch_file({"w": torch.arange(4.0)}, tmp_path / "cpu.pt")

    def on(location: str) -> Any:
        return lambda name, data: data.replace(b"X\x03\x00\x00\x00cpu", b"X" + len(location).to_bytes(4, "little")
                                              + location.encode()) if name.endswith("data.pkl") else data  # fmt: skip

    gpu0 = _rezip(src, tmp_path / "gpu0.pt", on("cuda:0"))
    gpu7 = _rezip(src, tmp_path / "gpu7.pt", on("cuda:7"))
    mps = _rezip(src, tmp_path / "mps.pt", on("mps"))
    if gpubp.cuda_available():
        assert str(gpubp.load(gpu0)["w"].device) == "cuda:0"
    else:
        with pytest.raises(RuntimeError, match=r"on a CUDA device but gpubp.cuda.is_available\(\) is False.*map_loc"):
            gpubp.load(gpu0)
    if gpubp.backend.device_count() < 8:
        with pytest.raises(RuntimeError, match="on (a CUDA device|CUDA device 7)"):
            gpubp.load(gpu7)
    with pytest.raises(RuntimeError, match="don't know how to restore data location 'mps'"):
        gpubp.load(mps)
    for f in (gpu0, gpu7, mps):
        for where in ("cpu", {"cuda:0": "cpu", "cuda:7": "cpu", "mps": "cpu"}):
            assert gpubp.load(f, map_location=where)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]


@needs_torch
def test_dtypes_gpubp_lacks_are_named_with_where_they_sit(tmp_path: Path) -> None:
    path = _torch_file({"model": {"w": torch.ones(2, 3, dtype=torch.bfloat16)}, "c": [torch.ones(1, dtype=torch.cfloat)],
                        "ok": torch.ones(2)}, tmp_path / "bf16.pt")  # fmt: skip
    with pytest.raises(TypeError, match=r"dtypes gpubp does not support: 'model\.w' \(bfloat16, shape \[2, 3\]\), "
                       r"'c\.0' \(complex64, shape \[1\]\).*v\.float\(\)"):  # fmt: skip
        gpubp.load(path)


@needs_torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit's
def test_legacy_torchscript_and_corrupt_pytorch_files_are_refused_clearly(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="legacy PyTorch checkpoint .*before PyTorch 1.6"):
        gpubp.load(legacy)
    src = _torch_file({"w": torch.arange(6.0).reshape(2, 3)}, tmp_path / "ok.pt")
    cut = _rezip(src, tmp_path / "cut.pt", lambda n, d: d[:8] if "/data/" in n else d)
    with pytest.raises(ValueError, match=r"reads past its storage 0 of 2 elements"):
        gpubp.load(cut)
    gone = _rezip(src, tmp_path / "gone.pt", lambda n, d: b"" if n.endswith("data.pkl") else d)
    with pytest.raises(ValueError, match="corrupt PyTorch checkpoint"):
        gpubp.load(gone)
    half = tmp_path / "half.pt"
    half.write_bytes(src.read_bytes()[:200])
    with pytest.raises(ValueError, match="broken zip file"):
        gpubp.load(half)
    script = tmp_path / "script.pt"
    try:
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(script))
    except Exception:  # TorchScript is deprecated: a PyTorch without it skips this part
        return
    with pytest.raises(ValueError, match="TorchScript archive"):
        gpubp.load(script)


def _evil_zip(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    return path


class _Eval:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple:
        return eval, (f"open({str(self.sentinel)!r}, 'w')",)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch.load's note on protocol 4
@pytest.mark.parametrize("protocol", [2, 4])
def test_a_malicious_pytorch_file_is_refused_and_runs_nothing(tmp_path: Path, protocol: int) -> None:
    sentinel = tmp_path / "pwned"
    for evil, refused in [
        (Payload(sentinel), r"asks for '(posix|nt|os)\.system'"),
        ({"w": [1, _Eval(sentinel)]}, r"asks for 'builtins\.eval'"),
        (Config(1.0), r"asks for the global 'test_serialization\.Config'.*weights_only=False"),
    ]:
        path = _evil_zip(tmp_path, pickle.dumps(evil, protocol=protocol))
        with pytest.raises(pickle.UnpicklingError, match=refused):
            gpubp.load(path)
        if torch is not None:
            with pytest.raises(pickle.UnpicklingError):
                torch.load(path)
    # a call on an allowed but harmless object, and BUILD on a list: refused, not run
    for payload in (b"\x80\x02]q\x00}q\x01b.", b"\x80\x02ccollections\nOrderedDict\nq\x00)R}X\x01\x00\x00\x00a(tbb."):
        with pytest.raises((pickle.UnpicklingError, ValueError)):
            gpubp.load(_evil_zip(tmp_path, payload))
    assert not sentinel.exists()


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    gpubp.save({"w": gpubp.ones(2)}, path)
    with pytest.raises(TypeError, match="load: weights_only must be True or False"):
        gpubp.load(path, weights_only="yes")
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap argument"):
        gpubp.load(io.BytesIO(path.read_bytes()), mmap=True)
    assert gpubp.load(path, mmap=True)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match=r"load: expected a file path \(str or os.PathLike\), got int"):
        gpubp.load(3)
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint nor a PyTorch one"):
        gpubp.load(io.BytesIO(b"not a checkpoint"))
    with pytest.raises(TypeError, match="opened in binary mode"):
        gpubp.load(io.StringIO("text"))
