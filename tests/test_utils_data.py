"""gpubp.utils.data behaves as torch.utils.data: datasets, samplers, collation, the DataLoader's options and checks,
worker processes (ordering, sharding, seeding, errors, shutdown), random_split and Generator."""

from __future__ import annotations

import collections
import gc
import os
import random
import time

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.utils.data as D
from gpubp.generator import Generator, default_generator

TD = None if torch is None else torch.utils.data
Point = collections.namedtuple("Point", ["x", "y"])


def same(g, t) -> bool:  # noqa: ANN001
    """gpubp's ``g`` and torch's ``t`` have the same structure, container types, dtypes and values."""
    if isinstance(g, gpubp.Tensor):
        return (
            isinstance(t, torch.Tensor)
            and str(t.dtype).replace("torch.", "") == str(g.dtype)
            and tuple(t.shape) == g.shape
            and np.array_equal(g.detach().cpu().numpy(), t.numpy())
        )
    if isinstance(g, dict):
        return type(g) is type(t) and g.keys() == t.keys() and all(same(g[k], t[k]) for k in g)
    if isinstance(g, (list, tuple)):
        return type(g) is type(t) and len(g) == len(t) and all(same(a, b) for a, b in zip(g, t))
    return type(g) is type(t) and g == t


def as_torch(x):  # noqa: ANN001, ANN201
    """The same sample with gpubp tensors as torch tensors."""
    if isinstance(x, gpubp.Tensor):
        return torch.from_numpy(x.detach().cpu().numpy().copy())
    if isinstance(x, dict):
        return {k: as_torch(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*map(as_torch, x))
    if isinstance(x, (list, tuple)):
        return type(x)(map(as_torch, x))
    return x


def pair(make, n: int):  # noqa: ANN001, ANN201
    """A gpubp and a torch map-style dataset whose sample i is ``make(i)``."""

    class G(D.Dataset):
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int):  # noqa: ANN204
            return make(i)

    if torch is None:
        return G(), None

    class T(TD.Dataset):
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int):  # noqa: ANN204
            return as_torch(make(i))

    return G(), T()


def rich(i: int) -> dict:
    """A nested sample of every collatable kind."""
    x = rng_for("rich", i).standard_normal(3).astype(np.float32)
    return {
        "x": x,
        "t": gpubp.tensor(x * 2),
        "n": i,
        "f": i / 3,
        "b": i % 2 == 0,
        "s": f"s{i}",
        "p": Point(np.int32(i), [np.float64(i), i]),
        "tup": (i, "w"),
    }


# ---- import paths -------------------------------------------------------------------------------------------------


def test_torch_paths_reexport_one_implementation() -> None:
    from gpubp.utils.data import dataloader, dataset, sampler

    assert D.DataLoader is gpubp.data.DataLoader is dataloader.DataLoader
    assert dataloader.default_collate is D.default_collate is gpubp.data.loader.default_collate
    assert dataset.TensorDataset is D.TensorDataset and dataset.random_split is D.random_split
    assert sampler.BatchSampler is D.BatchSampler and sampler.WeightedRandomSampler is D.WeightedRandomSampler
    assert D.get_worker_info() is None  # the main process
    if torch is not None:
        missing = {n for n in ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
                               "ChainDataset", "StackDataset", "random_split", "default_collate", "default_convert",
                               "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                               "WeightedRandomSampler", "BatchSampler", "DataLoader", "get_worker_info"]
                   if hasattr(TD, n) and not hasattr(D, n)}  # fmt: skip
        assert not missing


# ---- datasets -----------------------------------------------------------------------------------------------------


def test_dataset_base_classes_as_pytorch() -> None:
    with pytest.raises(NotImplementedError):
        D.Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(D.IterableDataset())

    class Only(D.Dataset):  # __getitem__ alone is enough, as PyTorch's
        def __getitem__(self, i: int) -> int:
            return 10 * i

    assert Only()[4] == 40
    a, b = pair(lambda i: i, 3)[0], pair(lambda i: -i, 2)[0]
    cat = a + b
    assert isinstance(cat, D.ConcatDataset) and len(cat) == 5 and [cat[i] for i in range(-5, 5)] == [0, 1, 2, 0, -1] * 2
    assert cat.cumulative_sizes == [3, 5]
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-6]
    with pytest.raises(ValueError, match="ConcatDataset does not support IterableDataset"):
        D.ConcatDataset([a, D.IterableDataset()])
    sub = D.Subset(cat, [4, 0, 2])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [-1, 0, 2] and sub.__getitems__([2, 0]) == [2, -1]
    st = D.StackDataset(x=a, y=D.Subset(b, [0, 1, 1]))
    assert st[2] == {"x": 2, "y": -1} and D.StackDataset(a, a)[1] == (1, 1)
    with pytest.raises(ValueError, match="size mismatch"):
        D.StackDataset(a, b)
    if torch is not None:
        ta, tb = pair(lambda i: i, 3)[1], pair(lambda i: -i, 2)[1]
        assert [(ta + tb)[i] for i in range(-5, 5)] == [cat[i] for i in range(-5, 5)]
        with pytest.raises(ValueError):
            TD.StackDataset(ta, tb)


class Count(D.IterableDataset):
    """0 .. n-1, each worker taking every num_workers-th from its id (PyTorch's sharding recipe)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):  # noqa: ANN204
        info = D.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self) -> int:
        return self.n


def test_chain_and_iterable_datasets() -> None:
    chain = Count(3) + Count(2)
    assert isinstance(chain, D.ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5
    loader = D.DataLoader(Count(7), batch_size=3)
    assert len(loader) == 3 and [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in D.DataLoader(Count(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(D.DataLoader(Count(7), batch_size=3, drop_last=True)) == 2
    assert list(D.DataLoader(Count(3), batch_size=None)) == [0, 1, 2]  # default_convert leaves ints alone


def test_tensor_dataset_items_are_tensors_sharing_memory(device: str) -> None:
    rng = rng_for("tensor-dataset")
    x = gpubp.tensor(rng.standard_normal((6, 3)).astype(np.float32), device=device)
    y = rng.integers(0, 5, 6)
    ds = D.TensorDataset(x, y)
    assert ds.tensors[0] is x and isinstance(ds.tensors[1], gpubp.Tensor) and ds.tensors[1].device.type == "cpu"
    xi, yi = ds[2]
    assert xi.device.type == device and xi.shape == (3,) and yi.shape == () and yi.dtype == gpubp.int64
    np.testing.assert_array_equal(xi.detach().cpu().numpy(), x.detach().cpu().numpy()[2])
    y[2] = 99  # the NumPy array's memory is shared, as torch.from_numpy's
    assert ds[2][1].item() == 99
    assert ds.arrays[1] is y or np.shares_memory(ds.arrays[1], y)
    assert [t.shape for t in ds[1:4]] == [(3, 3), (3,)]
    if torch is not None:
        tds = TD.TensorDataset(torch.from_numpy(x.detach().cpu().numpy()), torch.from_numpy(y))
        assert all(same(g, t) for g, t in zip(ds[4], tds[4])) and len(tds) == len(ds)
    with pytest.raises(IndexError, match="TensorDataset: index 6 is out of range for 6 examples"):
        ds[6]


def test_tensor_dataset_batches_by_one_fancy_index_per_tensor(monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    rng = rng_for("fast-path")
    x = rng.standard_normal((11, 2)).astype(np.float32)
    y = rng.integers(0, 3, 11)
    ds = D.TensorDataset(gpubp.tensor(x, device=device), y)
    per_item = pair(lambda i: (gpubp.tensor(x[i], device=device), gpubp.tensor(y[i], device="cpu")), 11)[0]
    calls = []
    real = D.TensorDataset.__getitem__
    monkeypatch.setattr(D.TensorDataset, "__getitem__", lambda self, i: calls.append(i) or real(self, i))
    gen = [Generator().manual_seed(5), Generator().manual_seed(5)]
    fast = list(D.DataLoader(ds, batch_size=4, shuffle=True, generator=gen[0]))
    slow = list(D.DataLoader(per_item, batch_size=4, shuffle=True, generator=gen[1]))
    assert not calls  # no per-sample Python
    assert len(fast) == 3 and all(isinstance(b, list) and len(b) == 2 for b in fast)
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.device.type == device and fx.dtype == sx.dtype and fy.dtype == sy.dtype == gpubp.int64
        np.testing.assert_array_equal(fx.detach().cpu().numpy(), sx.detach().cpu().numpy())
        assert fy.device.type == sy.device.type == "cpu"
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
    # a Subset of it (random_split) takes the same path
    part = D.random_split(ds, [0.5, 0.5], generator=Generator().manual_seed(1))[1]
    got = np.concatenate([b[1].numpy() for b in D.DataLoader(part, batch_size=2)])
    np.testing.assert_array_equal(got, y[np.asarray(part.indices)])
    assert not calls


# ---- collation ----------------------------------------------------------------------------------------------------


def test_default_collate_of_nested_samples_matches_pytorch() -> None:
    batch = [rich(i) for i in range(3)]
    got = D.default_collate(batch)
    assert got["n"].dtype == gpubp.int64 and got["f"].dtype == gpubp.float64 and got["b"].dtype == gpubp.bool
    assert got["s"] == ["s0", "s1", "s2"] and isinstance(got["p"], Point) and isinstance(got["tup"], list)
    assert got["p"].x.dtype == gpubp.int32 and got["tup"][1] == ("w", "w", "w")
    assert D.default_collate([1, 2.5]).dtype == gpubp.float32  # torch.tensor of mixed numbers: the default dtype
    if torch is None:
        return
    assert same(got, TD.default_collate([as_torch(b) for b in batch]))
    for case in ([1, 2.5], [2.5, 1], [True, False], [np.float16(1), np.float16(2)], [(1, 2), (3, 4)], [[1, "a"]]):
        assert same(D.default_collate(case), TD.default_collate(case)), case
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        D.default_collate([[1, 2], [3]])
    with pytest.raises(KeyError, match="lacks keys"):
        D.default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(KeyError):
        TD.default_collate([{"a": 1}, {"b": 2}])


def test_default_convert_matches_pytorch() -> None:
    sample = {
        "a": np.arange(3),
        "b": (np.float32(2), 3, "s"),
        "c": [np.ones((2, 2)), np.array(["x"])],
        "p": Point(1, 2),
    }
    got = D.default_convert(sample)
    assert isinstance(got["a"], gpubp.Tensor) and np.shares_memory(got["a"].numpy(), sample["a"])
    assert isinstance(got["b"], list) and got["b"][1:] == [3, "s"] and isinstance(got["c"][1], np.ndarray)
    if torch is not None:
        theirs = TD.default_convert(sample)
        assert same(got["a"], theirs["a"]) and same(got["b"], theirs["b"]) and got["p"] == theirs["p"]


# ---- DataLoader against PyTorch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [{"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": 9, "drop_last": True},
     {"batch_size": None}, {"batch_size": 20}, {"batch_sampler": [[4, 0], [6], [1, 2, 3]]},
     {"batch_size": 2, "sampler": [6, 5, 0, 1]}],
    ids=["3", "drop_last", "too_big_drop_last", "no_batching", "one_batch", "batch_sampler", "sampler"],
)  # fmt: skip
def test_batches_match_pytorch(kw: dict) -> None:
    ours, theirs = pair(rich, 7)
    got = list(D.DataLoader(ours, **kw))
    assert len(D.DataLoader(ours, **kw)) == len(got)
    if torch is not None:
        want = list(TD.DataLoader(theirs, **kw))
        assert len(got) == len(want) and all(same(g, t) for g, t in zip(got, want))


def test_batches_are_cpu_tensors_unless_device_is_given(device: str) -> None:
    x = rng_for("where").standard_normal((5, 2)).astype(np.float32)
    ds = D.TensorDataset(x)
    assert all(b[0].device.type == "cpu" for b in D.DataLoader(ds, batch_size=2))
    assert all(b[0].device.type == device for b in D.DataLoader(ds, batch_size=2, device=device))
    assert all(b[0].device.type == device for b in D.DataLoader(ds, batch_size=2, device=device, num_workers=1))


@pytest.mark.parametrize(
    "kw",
    [{"shuffle": True, "sampler": [0, 1]}, {"batch_sampler": [[0]], "batch_size": 2},
     {"batch_sampler": [[0]], "drop_last": True}, {"batch_sampler": [[0]], "shuffle": True},
     {"batch_size": None, "drop_last": True}, {"num_workers": -1}, {"timeout": -1.0}, {"prefetch_factor": 2},
     {"persistent_workers": True}, {"multiprocessing_context": "fork"},
     {"num_workers": 1, "multiprocessing_context": "no-such-method"},
     {"num_workers": 1, "multiprocessing_context": 3}, {"batch_size": 0}],
    ids=["sampler_shuffle", "batch_sampler_batch_size", "batch_sampler_drop_last", "batch_sampler_shuffle",
         "no_batching_drop_last", "workers", "timeout", "prefetch", "persistent", "context", "context_name",
         "context_type", "batch_zero"],
)  # fmt: skip
def test_argument_checks_raise_as_pytorch(kw: dict) -> None:
    ours, theirs = pair(lambda i: i, 4)
    with pytest.raises((ValueError, TypeError)) as e:
        D.DataLoader(ours, **kw)
    assert "DataLoader" in str(e.value) or "batch_size" in str(e.value)
    if torch is not None:
        with pytest.raises(e.type):
            TD.DataLoader(theirs, **kw)


def test_iterable_dataset_refuses_samplers_and_attributes_are_frozen() -> None:
    for kw in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
            D.DataLoader(Count(3), **kw)
    loader = D.DataLoader(Count(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 2
    loader.num_workers = 0  # not frozen, as PyTorch's


# ---- samplers -----------------------------------------------------------------------------------------------------


def test_samplers_draw_what_pytorch_draws() -> None:
    data = list(range(10))
    assert list(D.SequentialSampler(data)) == data
    g = Generator().manual_seed(3)
    perms = [list(D.RandomSampler(data, generator=g)) for _ in range(2)]
    assert all(sorted(p) == data for p in perms) and perms[0] != perms[1]  # a new order every epoch
    assert list(D.RandomSampler(data, generator=Generator().manual_seed(3))) == perms[0]
    more = list(D.RandomSampler(data, num_samples=25, generator=g))
    assert len(more) == 25 and np.bincount(more, minlength=10).min() >= 2  # two whole permutations and a part
    rep = list(D.RandomSampler(data, replacement=True, num_samples=40, generator=g))
    assert len(rep) == 40 and set(rep) <= set(data) and len(set(rep)) < 40
    sub = list(D.SubsetRandomSampler([7, 3, 9], generator=g))
    assert sorted(sub) == [3, 7, 9] and len(D.SubsetRandomSampler([7, 3, 9])) == 3
    w = [0.0, 1.0, 0.0, 3.0, 0.5]
    draws = list(D.WeightedRandomSampler(w, 200, generator=g))
    assert set(draws) == {1, 3, 4} and draws.count(3) > draws.count(1) > draws.count(4)
    assert sorted(D.WeightedRandomSampler(w, 3, replacement=False, generator=g)) == [1, 3, 4]
    four = list(D.WeightedRandomSampler(w, 4, replacement=False, generator=g))  # then a zero weight, as torch's
    assert sorted(four[:3]) == [1, 3, 4] and four[3] in (0, 2)
    with pytest.raises(RuntimeError, match="without replacement"):
        list(D.WeightedRandomSampler(w, 6, replacement=False))
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        list(D.WeightedRandomSampler([0.0, 0.0], 1))
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        D.RandomSampler([])
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        D.RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        D.WeightedRandomSampler([[1.0]], 2)
    if torch is not None:
        with pytest.raises(ValueError):
            TD.RandomSampler([])
        with pytest.raises(TypeError):
            TD.RandomSampler(data, replacement=1)
        with pytest.raises(RuntimeError):
            list(TD.WeightedRandomSampler(w, 6, replacement=False))
        assert {1, 3, 4} < set(TD.WeightedRandomSampler(w, 4, replacement=False))
        for sampler, bs, drop in [(range(7), 3, False), (range(7), 3, True), (D.SequentialSampler(data), 4, True)]:
            ours = D.BatchSampler(sampler, bs, drop)
            want = list(TD.BatchSampler(list(sampler), bs, drop))
            assert list(ours) == want and len(ours) == len(want)


# ---- random_split and Generator -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n,lengths", [(10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [0.1, 0.1, 0.8]), (9, [4, 5])])
def test_random_split_lengths_match_pytorch(n: int, lengths: list) -> None:
    parts = D.random_split(range(n), lengths, generator=Generator().manual_seed(0))
    assert sorted(i for p in parts for i in p) == list(range(n))
    again = D.random_split(range(n), lengths, generator=Generator().manual_seed(0))
    assert [list(p) for p in parts] == [list(p) for p in again]
    if torch is not None:
        assert [len(p) for p in parts] == [len(p) for p in TD.random_split(range(n), lengths)]


def test_random_split_refuses_bad_lengths() -> None:
    for lengths in ([3, 3], [0.5, 0.6], [11]):
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            D.random_split(range(10), lengths)
        if torch is not None:
            with pytest.raises(ValueError):
                TD.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1"):
        D.random_split(range(10), [1.5, -0.5])


def test_generator_seed_and_state() -> None:
    g = Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7 and g.device.type == "cpu"
    assert Generator().initial_seed() == 67280421310721  # a fresh torch.Generator()'s seed
    state = g.get_state()
    assert isinstance(state, gpubp.Tensor) and state.dtype == gpubp.uint8 and state.ndim == 1
    first = list(D.RandomSampler(range(20), generator=g))
    assert g.set_state(state) is g and list(D.RandomSampler(range(20), generator=g)) == first
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    assert g.manual_seed(-1).initial_seed() == 2**64 - 1  # wraps, as torch's
    with pytest.raises(ValueError, match="RNG state is wrong size"):
        g.set_state(gpubp.tensor(np.zeros(3, np.uint8)))
    with pytest.raises(TypeError, match="seed must be an int"):
        g.manual_seed("3")
    with pytest.raises(TypeError, match="generator must be a gpubp.Generator"):
        D.RandomSampler(range(3), generator=np.random.default_rng(0))


def test_default_generator_makes_shuffling_reproducible() -> None:
    ds = D.TensorDataset(np.arange(30))

    def epoch() -> list:
        return [b[0].tolist() for b in D.DataLoader(ds, batch_size=10, shuffle=True)]

    default_generator.manual_seed(11)
    a = epoch()
    default_generator.manual_seed(11)
    assert epoch() == a and sorted(sum(a, [])) == list(range(30))
    gpubp.manual_seed(12)  # reseeds default_generator, as torch.manual_seed does the global generator
    b = epoch()
    gpubp.manual_seed(12)
    assert epoch() == b != a


# ---- worker processes ---------------------------------------------------------------------------------------------


class Who(D.Dataset):
    """Sample i: (i, the worker's id, its seed, a draw of ``random``, a NumPy draw, what worker_init_fn set)."""

    def __len__(self) -> int:
        return 9

    def __getitem__(self, i: int) -> tuple:
        info = D.get_worker_info()
        return i, info.id, info.seed, random.random(), float(np.random.random()), os.environ.get("GPUBP_T_INIT", "")


def _init(worker_id: int) -> None:
    os.environ["GPUBP_T_INIT"] = f"init{worker_id}"


def test_workers_load_in_order_with_their_own_seeds() -> None:
    x = rng_for("workers").standard_normal((13, 2)).astype(np.float32)
    ds = D.TensorDataset(x, np.arange(13))
    one = [b[1].tolist() for b in D.DataLoader(ds, batch_size=3, shuffle=True, generator=Generator().manual_seed(4))]
    two = D.DataLoader(ds, batch_size=3, shuffle=True, generator=Generator().manual_seed(4), num_workers=2)
    assert [b[1].tolist() for b in two] == one  # in order, the same batches as in the main process
    batches = list(D.DataLoader(Who(), batch_size=2, num_workers=2, worker_init_fn=_init, prefetch_factor=1))
    ids, workers, seeds = (np.concatenate([b[k].numpy() for b in batches]) for k in range(3))
    assert ids.tolist() == list(range(9)) and workers.tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0]
    assert seeds[workers == 1][0] == seeds[workers == 0][0] + 1  # base_seed + worker_id
    assert all(set(b[5]) == {f"init{w}"} for b, w in zip(batches, [0, 1, 0, 1, 0]))
    draws = np.concatenate([b[3].numpy() for b in batches])
    assert draws[0] != draws[2]  # each worker's random is seeded apart
    assert D.get_worker_info() is None and "GPUBP_T_INIT" not in os.environ


def test_iterable_dataset_shards_across_workers_as_pytorch() -> None:
    got = [b.tolist() for b in D.DataLoader(Count(10), batch_size=3, num_workers=2)]
    assert got == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    assert sorted(D.DataLoader(Count(5), batch_size=None, num_workers=2)) == [0, 1, 2, 3, 4]
    if torch is not None:

        class TCount(TD.IterableDataset):
            def __iter__(self):  # noqa: ANN204
                info = TD.get_worker_info()
                return iter(range(info.id, 10, info.num_workers))

        assert [b.tolist() for b in TD.DataLoader(TCount(), batch_size=3, num_workers=2)] == got


class Fails(D.Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> int:
        if i == 5:
            raise ValueError(f"sample {i} is broken")
        return i


def test_worker_errors_are_raised_in_the_main_process_with_their_traceback() -> None:
    it = iter(D.DataLoader(Fails(), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0") as e:
        next(it)
    assert (
        "Original Traceback" in str(e.value) and "sample 5 is broken" in str(e.value) and "__getitem__" in str(e.value)
    )
    assert next(it).tolist() == [6, 7]  # the iterator goes on, as PyTorch's
    if torch is not None:

        class TFails(TD.Dataset):
            def __len__(self) -> int:
                return 8

            def __getitem__(self, i: int) -> int:
                return Fails()[i]

        with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0"):
            list(TD.DataLoader(TFails(), batch_size=2, num_workers=2))


class Slow(D.Dataset):
    def __len__(self) -> int:
        return 100

    def __getitem__(self, i: int) -> int:
        if i == 3:
            time.sleep(1.0)
        if i == 50:
            os._exit(3)  # a worker that dies
        return i


def test_workers_shut_down_on_early_break_timeout_and_death() -> None:
    it = iter(D.DataLoader(Slow(), batch_size=1, num_workers=2))
    assert next(it).item() == 0
    workers = list(it._source.pool.workers)
    assert all(w.is_alive() for w in workers)
    del it
    gc.collect()
    assert not any(w.is_alive() for w in workers)  # joined: no orphans, no zombies
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        list(D.DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(D.DataLoader(D.Subset(Slow(), range(45, 60)), batch_size=1, num_workers=1))


def test_persistent_workers_serve_every_epoch() -> None:
    loader = D.DataLoader(D.TensorDataset(np.arange(10)), batch_size=4, num_workers=2, persistent_workers=True)
    first = [b[0].tolist() for b in loader]
    pids = [w.pid for w in loader._iterator._source.pool.workers]
    for _ in loader:
        break  # a partial epoch leaves no stale batch behind
    assert [b[0].tolist() for b in loader] == first == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [w.pid for w in loader._iterator._source.pool.workers] == pids
    chained = D.DataLoader(Count(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in chained] == [b.tolist() for b in chained] == [[0, 2], [1, 3], [4], [5]]


def test_workers_refuse_a_dataset_on_the_gpu(device: str) -> None:
    ds = D.TensorDataset(gpubp.tensor(np.arange(4.0), device=device))
    loader = D.DataLoader(ds, batch_size=2, num_workers=1)
    if device == "cpu":
        assert [b[0].tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0]]
    else:
        with pytest.raises(RuntimeError, match="num_workers > 0 needs the dataset's tensors on the CPU"):
            iter(loader)
