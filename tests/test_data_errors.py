"""Data loading refuses bad input clearly: default_collate as PyTorch's (strings stay lists, unsupported dtypes
are a TypeError naming the item), DataLoader and TensorDataset arguments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import data

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
    assert isinstance(xb, gpubp.Tensor) and xb.device.type == device and xb.dtype == gpubp.float32
    np.testing.assert_array_equal(xb.detach().cpu().numpy(), x[:2])
    # strings stay as the collated tuple of them, inside lists as PyTorch's
    assert wb == ("abc", "def") and all(type(w) is str for w in wb)
    assert pairs == [("abc", "def"), ("mno", "jkl")]
    if torch is not None:
        theirs = _torch_batches(make)[0]
        assert theirs[1] == wb and theirs[2] == pairs
    # a TensorDataset with a 1-D string array (its fast path): the same tuples of str
    ds = data.TensorDataset(x, np.array(words))
    assert ds[1][1] == "def" and type(ds[1][1]) is str
    got = [b[1] for b in data.DataLoader(ds, batch_size=2, device=device)]
    assert got == [("abc", "def"), ("ghi", "jkl"), ("mno",)] and all(type(w) is str for w in got[0])
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
    assert batch["x"].tolist() == [1.0, 2.0, 3.0] and batch["x"].device.type == device and batch["n"] == 3
    with pytest.raises(TypeError, match=r"DataLoader: the collate_fn returned an array of dtype object"):
        loader = data.DataLoader(
            data.TensorDataset(x), batch_size=3, collate_fn=lambda it: np.array([None]), device=device
        )
        next(iter(loader))


@pytest.mark.parametrize(
    "kw,exc,match",
    [
        ({"batch_size": 1.5}, ValueError, r"batch_size should be a positive integer value, but got batch_size=1.5"),
        ({"batch_size": 0}, ValueError, r"batch_size should be a positive integer value, but got batch_size=0"),
        ({"batch_size": -2}, ValueError, r"batch_size should be a positive integer value, but got batch_size=-2"),
        ({"batch_size": True}, ValueError, r"but got batch_size=True"),
        ({"batch_size": "4"}, ValueError, r"but got batch_size='4'"),
        ({"batch_size": None, "drop_last": True}, ValueError, r"batch_size=None option disables auto-batching"),
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
    if torch is not None and ("drop_last" in kw or "batch_size" in kw):  # PyTorch checks these two
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
