"""Data loading, datasets, checkpoints, the fit loop, the built-in examples and the gpubp command."""

from __future__ import annotations

import gzip
import json
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import rng_for

import gpubp
import gpubp.nn as nn
from gpubp import data, optim
from gpubp.data import datasets
from gpubp.train import NonFiniteLossError, fit

# ---- DataLoader ---------------------------------------------------------------------------------


def test_dataloader_batches_cover_everything_once(device: str) -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=3, device=device)
    assert len(loader) == 3
    seen = np.concatenate([yb.detach().cpu().numpy() for _, yb in loader])
    assert sorted(seen.tolist()) == list(range(10))
    batch_x, batch_y = next(iter(loader))
    assert batch_x.device.type == device and batch_x.shape == (4, 1) and batch_y.dtype == gpubp.int64
    np.testing.assert_array_equal(
        batch_x.detach().cpu().numpy()[:, 0], batch_y.detach().cpu().numpy()
    )  # rows stay paired
    epoch1 = [yb.detach().cpu().numpy().tolist() for _, yb in loader]
    epoch2 = [yb.detach().cpu().numpy().tolist() for _, yb in loader]
    assert epoch1 != epoch2  # a new order every epoch
    dropped = data.DataLoader(data.TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b) for _, b in dropped] == [4, 4]


def test_dataloader_seed_reproduces_order() -> None:
    ds = data.TensorDataset(np.arange(20), np.arange(20))
    a = [b.detach().cpu().numpy().tolist() for _, b in data.DataLoader(ds, batch_size=5, shuffle=True, seed=7)]
    b = [b.detach().cpu().numpy().tolist() for _, b in data.DataLoader(ds, batch_size=5, shuffle=True, seed=7)]
    assert a == b and a != [list(range(i, i + 5)) for i in range(0, 20, 5)]


class Squares(data.Dataset):
    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int) -> tuple:
        return np.float32(i), np.int64(i * i)


def test_dataloader_with_a_custom_dataset_and_errors() -> None:
    batches = list(data.DataLoader(Squares(), batch_size=3))
    assert [b[1].tolist() for b in batches] == [[0, 1, 4], [9, 16, 25], [36]]
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        data.DataLoader(Squares(), batch_size=0)
    with pytest.raises(ValueError, match="TensorDataset: array 1 has 3 rows, array 0 has 4"):
        data.TensorDataset(np.zeros(4), np.zeros(3))


def test_builtin_datasets() -> None:
    pytest.importorskip("sklearn")
    train, test = datasets.load_digits()
    assert train.arrays[0].shape == (1438, 64) and len(test) == 359 and train.arrays[1].dtype == np.int64
    img, _ = datasets.load_digits(image=True)
    assert img.arrays[0].shape[1:] == (1, 8, 8)
    bc, _ = datasets.load_breast_cancer()
    assert bc.arrays[0].shape[1] == 30 and abs(bc.arrays[0].mean()) < 0.1
    db, _ = datasets.load_diabetes()
    assert db.arrays[1].shape[1] == 1 and db.arrays[1].dtype == np.float32
    s_train, s_test = datasets.make_sentiment(n=500)
    assert s_train.arrays[0].shape == (400, 24) and 0.35 < s_train.arrays[1].mean() < 0.65


def _write_idx(path: Path, array: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def test_mnist_idx_loader_on_small_files(tmp_path: Path) -> None:
    rng = rng_for("idx")
    images = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 6).astype(np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 0x08)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 0x08)
    ds = datasets.load_mnist(tmp_path, "train")
    assert ds.arrays[0].shape == (6, 1, 28, 28) and ds.arrays[0].max() <= 1.0
    np.testing.assert_array_equal(ds.arrays[0][:, 0] * 255, images.astype(np.float32))
    np.testing.assert_array_equal(ds.arrays[1], labels)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "train-labels-idx1-ubyte"), labels)
    (tmp_path / "short").write_bytes((tmp_path / "train-labels-idx1-ubyte").read_bytes()[:-2])
    with pytest.raises(ValueError, match="holds 4 data bytes, its header promises 6"):
        datasets.read_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"\x01\x02junk")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(tmp_path / "junk")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path, "test")


# ---- checkpoints ----------------------------------------------------------------------------------


def test_save_and_load_roundtrip(tmp_path: Path, device: str) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(gpubp.randn(5, 3, device=device)).sum().backward()
    opt.step()
    gpubp.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "note": "hi"}, tmp_path / "ck.st"
    )
    ck = gpubp.load(tmp_path / "ck.st", device=device)
    assert ck["epoch"] == 7 and ck["note"] == "hi"
    clone = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).to(device)
    clone.load_state_dict(ck["model"])
    for (k, a), b in zip(model.state_dict().items(), clone.state_dict().values()):
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy(), err_msg=k)
    opt2 = optim.Adam(clone.parameters(), lr=1.0)
    opt2.load_state_dict(ck["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.state[next(iter(clone.parameters()))]["step"] == 1


def test_checkpoint_readable_by_torch_safetensors(tmp_path: Path) -> None:
    st_torch = pytest.importorskip("safetensors.torch")
    pytest.importorskip("torch")
    model = nn.Linear(3, 2)
    gpubp.save(model.state_dict(), tmp_path / "w.safetensors")
    loaded = st_torch.load_file(str(tmp_path / "w.safetensors"))
    assert set(loaded) == {"weight", "bias"}
    np.testing.assert_array_equal(loaded["weight"].detach().cpu().numpy(), model.weight.detach().cpu().numpy())


def test_bad_checkpoints_give_clear_errors_and_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ck.safetensors"
    gpubp.save({"w": gpubp.ones(3)}, path)
    good = path.read_bytes()
    with pytest.raises(TypeError, match="cannot store a function"):
        gpubp.save({"w": gpubp.zeros(3), "bad": lambda: 0}, path)
    assert path.read_bytes() == good
    import safetensors.numpy

    def broken(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        gpubp.save({"w": gpubp.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ["ck.safetensors"]
    (tmp_path / "cut.safetensors").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
        gpubp.load(tmp_path / "cut.safetensors")
    import pickle

    (tmp_path / "pickle.safetensors").write_bytes(pickle.dumps({"w": np.ones(3)}))
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
        gpubp.load(tmp_path / "pickle.safetensors")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        gpubp.load(tmp_path / "missing.safetensors")
    model = nn.Linear(3, 2)
    before = model.weight.detach().cpu().numpy().copy()
    with pytest.raises(KeyError, match="missing keys"):
        model.load_state_dict(gpubp.load(path))
    np.testing.assert_array_equal(model.weight.detach().cpu().numpy(), before)


# ---- fit ----------------------------------------------------------------------------------------------


def _blobs(n: int = 200) -> tuple[data.TensorDataset, data.TensorDataset]:
    rng = rng_for("blobs")
    centers = rng.standard_normal((3, 4)) * 3
    y = rng.integers(0, 3, n)
    x = (centers[y] + rng.standard_normal((n, 4))).astype(np.float32)
    return data.TensorDataset(x[:150], y[:150]), data.TensorDataset(x[150:], y[150:])


def test_fit_trains_and_writes_outputs(tmp_path: Path, device: str) -> None:
    gpubp.manual_seed(0)
    train, val = _blobs()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, 2, 0.5)
    seen = []
    history = fit(model, nn.CrossEntropyLoss(), opt, data.DataLoader(train, 16, shuffle=True, seed=0, device=device),
                  data.DataLoader(val, 64, device=device), epochs=4, scheduler=sched, clip_grad_norm=5.0,
                  callbacks=[lambda e, m: seen.append(e)], out_dir=tmp_path, progress=False, grad_check_every=3)  # fmt: skip
    assert history["epoch"] == [1, 2, 3, 4] and seen == [1, 2, 3, 4]
    assert history["val_accuracy"][-1] > 0.9 and history["train_loss"][-1] < history["train_loss"][0]
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05]
    assert json.loads((tmp_path / "history.json").read_text())["val_loss"] == history["val_loss"]
    assert (tmp_path / "best.safetensors").is_file()
    import importlib.util

    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "curves.png").stat().st_size > 1000
    assert "0.weight" in history.gradient_summary


def test_fit_early_stopping_and_callback_stop(device: str) -> None:
    train, val = _blobs()
    model = nn.Linear(4, 3).to(device)
    opt = optim.SGD(model.parameters(), lr=0.0)  # nothing improves
    h = fit(model, nn.CrossEntropyLoss(), opt, data.DataLoader(train, 50, device=device), data.DataLoader(val, 50, device=device),
            epochs=20, early_stopping_patience=2, progress=False)  # fmt: skip
    assert h["epoch"] == [1, 2, 3]
    h = fit(model, nn.CrossEntropyLoss(), opt, data.DataLoader(train, 50, device=device), epochs=20,
            callbacks=[lambda e, m: e == 2], progress=False)  # fmt: skip
    assert h["epoch"] == [1, 2] and "val_loss" not in h


def test_gradient_monitor_warns_naming_the_layer(device: str) -> None:
    train, _ = _blobs()
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.0)
    loss = lambda out, y: nn.functional.cross_entropy(out, y) * 1e9  # noqa: E731 - a loss scaled to explode
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model, loss, opt, data.DataLoader(train, 50, device=device), epochs=1, progress=False, grad_check_every=1)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("gradient of '1.weight' explodes" in m for m in messages), messages


def test_fit_validates_its_arguments() -> None:
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown metrics"):
        fit(model, nn.MSELoss(), opt, [], metrics=("loss", "f1"))
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit(model, nn.MSELoss(), opt, [], epochs=0)
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        fit(model, nn.MSELoss(), opt, [], nan_policy="warn")


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
        return x * self.factor


def _gradient_warnings(model: nn.Module, device: str, every: int = 1000) -> tuple[list[str], str]:
    """The RuntimeWarnings of 3 steps at lr 0, and the gradient table."""
    train, _ = _blobs()
    opt = optim.SGD(model.parameters(), lr=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, nn.CrossEntropyLoss(), opt, data.DataLoader(train, 50, device=device), epochs=1,
                progress=False, grad_check_every=every)  # fmt: skip
    return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)], h.gradient_summary


def test_gradient_monitor_checks_step_one_and_flags_a_vanishing_layer(device: str) -> None:
    gpubp.manual_seed(1)
    # the first Linear sees its input scaled by 1e-10: its weight's gradient is 1e-10 of its own scale
    model = nn.Sequential(Scale(1e-10), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    messages, summary = _gradient_warnings(model, device)  # checked every 1000 steps: only step 1 is checked
    assert len(messages) == 1 and messages[0].startswith("gradient of '1.weight' vanishes at step 1"), messages
    summary = summary.splitlines()
    assert summary[0] == "gradient norms per parameter over 1 check (||grad||, ||grad||/||param||)"
    assert [line.split()[0] for line in summary[3:]] == ["1.weight", "1.bias", "3.weight", "3.bias"]


def test_gradient_monitor_judges_a_gradient_by_its_parameter_s_scale(device: str) -> None:
    gpubp.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    with gpubp.no_grad():
        for p in model.parameters():
            p *= 1e4  # large weights, large gradients (||grad|| ~ 1e4, over the old fixed 1e3): a healthy ratio
    messages, summary = _gradient_warnings(model, device, every=1)
    assert messages == [] and max(float(line.split()[3]) for line in summary.splitlines()[3:]) > 1e3


def test_fit_raises_at_a_logging_read_naming_the_first_non_finite_loss(tmp_path: Path, device: str) -> None:
    gpubp.manual_seed(0)
    train, val = _blobs()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    calls = []

    def loss_fn(out: gpubp.Tensor, y: gpubp.Tensor) -> gpubp.Tensor:
        calls.extend([1] if out.requires_grad else [])  # training batches only, not the evaluation's
        bad = out.requires_grad and len(calls) == 15 + 3  # epoch 2 (15 batches an epoch), batch 3
        return nn.functional.cross_entropy(out, y) * (float("inf") if bad else 1.0)

    with pytest.raises(NonFiniteLossError) as err:
        fit(model, loss_fn, opt, data.DataLoader(train, 10, device=device), data.DataLoader(val, 50, device=device),
            epochs=3, out_dir=tmp_path, progress=False, log_every=4)  # fmt: skip
    e = err.value
    assert isinstance(e, RuntimeError) and (e.epoch, e.batch, e.step) == (2, 3, 18) and e.value == float("inf")
    assert "training loss is inf at epoch 2, batch 3 (step 18)" in str(e)
    assert len(calls) == 20  # noticed at the next logging read (step 20), not by a read at every step
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["epoch"] == [1] and saved["train_loss"] == e.history["train_loss"]
    assert (
        e.files == [tmp_path / "best.safetensors", tmp_path / "history.json"]
        and (tmp_path / "best.safetensors").is_file()
    )
    assert str(tmp_path / "best.safetensors") in str(e)

    calls.clear()  # without interval reads, the epoch's totals read notices it
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    with pytest.raises(NonFiniteLossError, match="epoch 2, batch 3"):
        fit(model, loss_fn, opt, data.DataLoader(train, 10, device=device), epochs=3, progress=False, log_every=0)
    assert len(calls) == 30


def test_fit_nan_policy_skip_and_ignore(tmp_path: Path, device: str) -> None:
    gpubp.manual_seed(0)
    train, _ = _blobs()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def loss_fn(out: gpubp.Tensor, y: gpubp.Tensor) -> gpubp.Tensor:
        calls.append(1)
        return nn.functional.cross_entropy(out, y) * (float("nan") if len(calls) in (2, 5) else 1.0)

    with pytest.warns(RuntimeWarning, match="skipped 2 batch"):
        h = fit(model, loss_fn, opt, data.DataLoader(train, 10, device=device), epochs=2, progress=False,
                nan_policy="skip", grad_check_every=0)  # fmt: skip
    assert h["skipped_batches"] == [2, 0] and all(np.isfinite(h["train_loss"]))
    assert all(np.isfinite(p.detach().cpu().numpy()).all() for p in model.parameters())

    always_nan = lambda out, y: nn.functional.cross_entropy(out, y) * float("nan")  # noqa: E731
    h = fit(model, always_nan, opt, data.DataLoader(train, 50, device=device), epochs=2, progress=False,
            nan_policy="ignore", out_dir=tmp_path, grad_check_every=0)  # fmt: skip
    assert h["epoch"] == [1, 2] and np.isnan(h["train_loss"]).all()
    text = (tmp_path / "history.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"history.json holds {c}"))["train_loss"] == [None] * 2
    assert not (tmp_path / "best.safetensors").exists()  # a NaN model is never the best one, and nothing says it is
    assert tmp_path / "best.safetensors" not in h.files and tmp_path / "history.json" in h.files


def test_fit_reads_the_device_only_at_its_logging_reads(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under sync debug mode "error" every host read fails, except in train._to_host (the documented reads)."""
    import gpubp.train as train_mod

    reads = []
    to_host = train_mod._to_host

    def allowed(be: object, values: list) -> list:
        reads.append(len(values))
        gpubp.set_sync_debug_mode("default")
        try:
            return to_host(be, values)
        finally:
            gpubp.set_sync_debug_mode("error")

    monkeypatch.setattr(train_mod, "_to_host", allowed)
    gpubp.manual_seed(0)
    train, val = _blobs()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loaders = data.DataLoader(train, 10, device=device), data.DataLoader(val, 50, device=device)
    gpubp.set_sync_debug_mode("error")
    try:
        h = fit(model, nn.CrossEntropyLoss(), opt, *loaders, epochs=2, clip_grad_norm=1.0, progress=False,
                log_every=3, grad_check_every=4)  # fmt: skip
    finally:
        gpubp.set_sync_debug_mode("default")
    assert h["epoch"] == [1, 2] and np.isfinite(h["val_loss"]).all()
    # 30 steps: 10 logging reads, 8 gradient checks (steps 1, 4, ..., 28), 2 epoch totals, 2 evaluations
    assert len(reads) == 22


def test_progress_bars_stay_off_when_output_is_not_a_terminal(device: str, capsys: pytest.CaptureFixture) -> None:
    train, _ = _blobs()
    model = nn.Linear(4, 3).to(device)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), data.DataLoader(train, 10, device=device),
        epochs=2, log_every=1)  # fmt: skip
    out, err = capsys.readouterr()
    assert "\r" not in out + err and "batch/s" not in err
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("epoch")] == [
        ["epoch", "1"],
        ["epoch", "2"],
    ]


# ---- the built-in examples and the gpubp command --------------------------------------------------------


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "breast-cancer", "diabetes", "sentiment-lstm"])
def test_builtin_example_reaches_its_goal_on_the_cpu(name: str, tmp_path: Path) -> None:
    """The acceptance figures of `gpubp train NAME` with default settings on the CPU; healthy training raises
    no gradient-health warning and no NumPy floating-point warning."""
    pytest.importorskip("sklearn")
    from gpubp.cli import main

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", name, "--device", "cpu", "--quiet", "--out", str(tmp_path)]) == 0
    final = json.loads((tmp_path / "final.json").read_text())
    from gpubp.zoo import EXAMPLES

    for key, goal in EXAMPLES[name].goal.items():
        assert final[key] >= goal, (name, key, final[key], goal)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "history.json").is_file()
    assert not [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_regression_metrics_match_their_definitions(device: str) -> None:
    from gpubp.train import evaluate

    rng = rng_for("r2")
    x = rng.standard_normal((37, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3 * rng.standard_normal((37, 1))).astype(np.float32)
    model = nn.Linear(3, 1).to(device)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, device=device)
    got = evaluate(model, nn.MSELoss(), loader, ("loss", "mae", "r2"))
    pred = model(gpubp.tensor(x, device=device)).detach().cpu().numpy()
    assert got["mae"] == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    # r2 = 1 - ratio: an untrained model's r2 may lie near 0, where float32 rounding of the ratio is no longer small
    # relative to it, so the tolerance is absolute too
    assert got["r2"] == pytest.approx(1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum(), rel=1e-5, abs=1e-6)
