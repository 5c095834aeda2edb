"""The layout family beyond its gradient cases: dtypes, 0-d and empty inputs, method forms, views, out=, errors,
and agreement with PyTorch on fresh random inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import EMULATED, rng_for, torch

import gpubp
import gpubp.ops
from gpubp.ops import layout_join

GF = gpubp.ops


def _np(t: gpubp.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _same(ours: gpubp.Tensor, theirs: object) -> None:
    """Same values, shape and dtype as a torch tensor."""
    ref = theirs.detach().numpy()
    a = _np(ours)
    assert a.shape == ref.shape, (a.shape, ref.shape)
    assert a.dtype == ref.dtype, (a.dtype, ref.dtype)
    np.testing.assert_allclose(a, ref, rtol=1e-6, atol=1e-7)


needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _data(key: str, shp: tuple, dtype: str = "float32") -> np.ndarray:
    rng = rng_for("layout", key, shp, dtype)
    if dtype == "bool":
        return rng.random(shp) > 0.5
    if dtype.startswith("int"):
        return rng.integers(-50, 50, shp).astype(dtype)
    return rng.standard_normal(shp).astype(dtype)


# ---------------------------------------------------------------- agreement with torch, several dtypes


_UNARY = [
    ("flip", lambda m, x: m.flip(x, (0, -1))),
    ("flip-method", lambda m, x: x.flip(1)),
    ("fliplr", lambda m, x: m.fliplr(x)),
    ("flipud", lambda m, x: x.flipud()),
    ("roll", lambda m, x: m.roll(x, (2, -1), (1, 0))),
    ("roll-flat", lambda m, x: x.roll(-5)),
    ("rot90", lambda m, x: m.rot90(x, 3, (2, 0))),
    ("rot90-2", lambda m, x: x.rot90(2)),
    ("rot90-0", lambda m, x: x.rot90(4, (0, 1))),
    ("repeat", lambda m, x: x.repeat(2, 1, 1, 2)),
    ("tile", lambda m, x: m.tile(x, (2, 1))),
    ("repeat_interleave", lambda m, x: m.repeat_interleave(x, 3, dim=1)),
    ("repeat_interleave-flat", lambda m, x: x.repeat_interleave(2)),
    ("movedim", lambda m, x: m.movedim(x, 0, -1)),
    ("moveaxis", lambda m, x: x.moveaxis((2, 0), (0, 1))),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 2)),
    ("swapdims", lambda m, x: x.swapdims(-1, 1)),
    ("unflatten", lambda m, x: x.unflatten(1, (1, -1, 1))),
    ("unfold", lambda m, x: x.unfold(2, 2, 1)),
    ("unfold-step", lambda m, x: x.unfold(0, 1, 2)),
    ("atleast_3d", lambda m, x: m.atleast_3d(x)),
]


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
@pytest.mark.parametrize("name,fn", _UNARY, ids=[c[0] for c in _UNARY])
def test_unary_matches_torch(device: str, name: str, fn: object, dtype: str) -> None:
    a = _data(name, (3, 2, 4), dtype)
    _same(fn(gpubp, gpubp.tensor(a, device=device)), fn(torch, torch.tensor(a)))


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_joins_match_torch(device: str, dtype: str) -> None:
    a, b, v = _data("j-a", (2, 3), dtype), _data("j-b", (2, 3), dtype), _data("j-v", (3,), dtype)
    for name in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
        ours = getattr(gpubp, name)([gpubp.tensor(a, device=device), gpubp.tensor(b, device=device)])
        _same(ours, getattr(torch, name)([torch.tensor(a), torch.tensor(b)]))
    g = [gpubp.tensor(x, device=device) for x in (v, v)]
    t = [torch.tensor(x) for x in (v, v)]
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        _same(getattr(gpubp, name)(g), getattr(torch, name)(t))


@needs_torch
def test_joins_promote_dtypes(device: str) -> None:
    a, b = _data("p-a", (2, 3), "int32"), _data("p-b", (2, 3), "float64")
    ours = gpubp.hstack([gpubp.tensor(a, device=device), gpubp.tensor(b, device=device)])
    _same(ours, torch.hstack([torch.tensor(a), torch.tensor(b)]))


@needs_torch
@pytest.mark.parametrize(
    "spec",
    [(3, 0), ([1, 4], 0), ([2, -1, 1, 9], 1), (torch.tensor([1, 2]) if torch is not None else None, -1), (5, 2)],
    ids=["sections", "indices", "neg-and-clamped", "tensor-indices", "more-sections-than-elements"],
)
def test_tensor_split_matches_torch(device: str, spec: tuple) -> None:
    a = _data("ts", (5, 4, 3))
    which, dim = spec
    gwhich = gpubp.tensor(which.numpy()) if torch is not None and isinstance(which, torch.Tensor) else which
    ours = gpubp.tensor_split(gpubp.tensor(a, device=device), gwhich, dim)
    theirs = torch.tensor_split(torch.tensor(a), which, dim)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        _same(o, t)


@needs_torch
def test_hsplit_vsplit_dsplit_match_torch(device: str) -> None:
    a = _data("hvd", (4, 6, 2))
    x, t = gpubp.tensor(a, device=device), torch.tensor(a)
    for name, arg in (("hsplit", 3), ("hsplit", [1, 4]), ("vsplit", 2), ("vsplit", [3]), ("dsplit", 2)):
        ours, theirs = getattr(x, name)(arg), getattr(torch, name)(t, arg)
        assert len(ours) == len(theirs)
        for o, r in zip(ours, theirs):
            _same(o, r)
    for o, r in zip(gpubp.hsplit(x[0, :, 0], 2), torch.hsplit(t[0, :, 0], 2)):  # 1-D: along dim 0
        _same(o, r)


@needs_torch
def test_repeat_interleave_tensor_repeats(device: str) -> None:
    a = _data("ri", (3, 4))
    reps = np.array([1, 0, 2, 3])
    x, t = gpubp.tensor(a, device=device), torch.tensor(a)
    r = gpubp.tensor(reps, device=device)
    _same(gpubp.repeat_interleave(x, r, dim=1), torch.repeat_interleave(t, torch.tensor(reps), dim=1))
    _same(x.repeat_interleave(r, -1, output_size=6), t.repeat_interleave(torch.tensor(reps), -1, output_size=6))
    one = gpubp.tensor([2], device=device)
    _same(gpubp.repeat_interleave(x, one, dim=0), torch.repeat_interleave(t, torch.tensor([2]), dim=0))
    _same(gpubp.repeat_interleave(r), torch.repeat_interleave(torch.tensor(reps)))  # the counts-only form
    _same(gpubp.repeat_interleave(gpubp.tensor(2.5, device=device), 3), torch.repeat_interleave(torch.tensor(2.5), 3))


def test_repeat_interleave_gradient_adds_per_element(device: str) -> None:
    x = gpubp.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = gpubp.repeat_interleave(x, gpubp.tensor([3, 0, 2], device=device))
    (y * gpubp.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device=device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [6.0, 0.0, 9.0])


def test_repeat_interleave_with_output_size_does_not_synchronize(device: str) -> None:
    x = gpubp.tensor(_data("ri-sync", (3, 2)), device=device, requires_grad=True)
    reps = gpubp.tensor([2, 1, 1], device=device)
    gpubp.cuda.set_sync_debug_mode("error")
    try:
        y = gpubp.repeat_interleave(x, reps, dim=0, output_size=4)
        y.sum().backward()
    finally:
        gpubp.cuda.set_sync_debug_mode("default")
    assert y.shape == (4, 2)
    np.testing.assert_allclose(_np(x.grad), [[2.0, 2.0], [1.0, 1.0], [1.0, 1.0]])


@pytest.mark.skipif(not EMULATED, reason="the emulated CUDA device reports every synchronization")
def test_repeat_interleave_without_output_size_synchronizes() -> None:
    """The result's length is the repeats' sum, read back from the GPU (documented), unless output_size is given."""
    x = gpubp.tensor(_data("ri-sync2", (3,)), device="cuda")
    reps = gpubp.tensor([2, 1, 1], device="cuda")
    gpubp.cuda.set_sync_debug_mode("error")
    try:
        with pytest.raises(RuntimeError, match="synchronizes"):
            gpubp.repeat_interleave(x, reps)
        assert gpubp.repeat_interleave(x, reps, output_size=4).shape == (4,)
    finally:
        gpubp.cuda.set_sync_debug_mode("default")


@needs_torch
def test_unfold_and_fold_match_torch(device: str) -> None:
    tf = torch.nn.functional
    a = _data("uf", (2, 3, 5, 4), "float64")
    x, t = gpubp.tensor(a, device=device), torch.tensor(a)
    kw = {"dilation": (2, 1), "padding": (1, 0), "stride": (1, 2)}
    cols = GF.nn_unfold(x, (2, 3), **kw)
    _same(cols, tf.unfold(t, (2, 3), **kw))
    _same(GF.nn_unfold(x[0], 2), tf.unfold(t[0], 2))  # unbatched (C, H, W)
    c = _data("fo", cols.shape, "float64")
    _same(
        GF.nn_fold(gpubp.tensor(c, device=device), (5, 4), (2, 3), **kw), tf.fold(torch.tensor(c), (5, 4), (2, 3), **kw)
    )
    _same(
        GF.nn_fold(gpubp.tensor(c[0], device=device), (5, 4), (2, 3), **kw),
        tf.fold(torch.tensor(c[0]), (5, 4), (2, 3), **kw),
    )


def test_fold_of_unfold_counts_the_overlaps(device: str) -> None:
    """fold(unfold(ones)) gives each pixel the number of blocks that cover it."""
    x = gpubp.ones(1, 1, 3, 3, device=device)
    counts = GF.nn_fold(GF.nn_unfold(x, 2), (3, 3), 2)
    np.testing.assert_allclose(_np(counts)[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@needs_torch
def test_meshgrid_and_broadcast_tensors_match_torch(device: str) -> None:
    a, b = _data("m-a", (3,), "int64"), _data("m-b", (2,), "int64")
    for indexing in ("ij", "xy"):
        ours = gpubp.meshgrid(gpubp.tensor(a, device=device), gpubp.tensor(b, device=device), indexing=indexing)
        theirs = torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=indexing)
        for o, t in zip(ours, theirs):
            _same(o, t)
    c, d = _data("bt-c", (2, 1, 3)), _data("bt-d", (4, 1))
    ours = gpubp.broadcast_tensors(gpubp.tensor(c, device=device), gpubp.tensor(d, device=device))
    for o, t in zip(ours, torch.broadcast_tensors(torch.tensor(c), torch.tensor(d))):
        _same(o, t)


@needs_torch
def test_broadcast_shapes_matches_torch() -> None:
    for shapes in [((2, 1), (3,)), ((1,), (4, 1, 5), 5), ((0, 1), (1, 3)), ((), (2,)), ()]:
        assert gpubp.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    with pytest.raises(RuntimeError, match="broadcast_shapes"):
        gpubp.broadcast_shapes((2, 3), (4,))


# ---------------------------------------------------------------- 0-d and empty inputs


def test_zero_d_inputs(device: str) -> None:
    x = gpubp.tensor(1.5, device=device)
    assert gpubp.flip(x, (0,)).shape == ()
    assert gpubp.roll(x, 2).shape == ()
    assert gpubp.roll(x, 1, 0).shape == ()
    assert x.repeat(2, 3).shape == (2, 3)
    assert gpubp.tile(x, (3,)).shape == (3,)
    assert gpubp.repeat_interleave(x, 2).shape == (2,)
    assert x.unfold(0, 1, 1).shape == (1,)
    assert gpubp.movedim(x, 0, 0).shape == ()
    assert gpubp.unflatten(x, 0, (1, 1)).shape == (1, 1)
    assert [t.shape for t in (gpubp.atleast_1d(x), gpubp.atleast_2d(x), gpubp.atleast_3d(x))] == [
        (1,),
        (1, 1),
        (1, 1, 1),
    ]
    assert gpubp.hstack([x, x]).shape == (2,)
    assert gpubp.vstack([x, x]).shape == (2, 1)
    assert gpubp.column_stack([x, x]).shape == (1, 2)
    assert [t.shape for t in gpubp.meshgrid(x, gpubp.arange(3.0, device=device), indexing="ij")] == [(1, 3), (1, 3)]


@needs_torch
def test_empty_inputs(device: str) -> None:
    a = np.zeros((0, 3), np.float32)
    x, t = gpubp.tensor(a, device=device), torch.tensor(a)
    for fn in (
        lambda m, z: m.flip(z, (0, 1)),
        lambda m, z: m.roll(z, 1, 1),
        lambda m, z: z.repeat(2, 2),
        lambda m, z: m.tile(z, (3,)),
        lambda m, z: m.repeat_interleave(z, 2, dim=0),
        lambda m, z: m.repeat_interleave(z, 0, dim=1),
        lambda m, z: m.rot90(z),
        lambda m, z: z.unfold(1, 2, 1),
        lambda m, z: m.hstack([z, z]),
    ):
        _same(fn(gpubp, x), fn(torch, t))
    assert [p.shape for p in gpubp.tensor_split(x, 2)] == [(0, 3), (0, 3)]
    y = gpubp.repeat_interleave(x, gpubp.tensor(np.zeros(0, np.int64), device=device), dim=0)
    assert y.shape == (0, 3)


# ---------------------------------------------------------------- views, gradients, out=, warnings


def test_views_share_memory_and_versions(device: str) -> None:
    x = gpubp.arange(12.0, device=device).reshape(3, 4)
    for v in (x.unfold(1, 2, 2), x.movedim(0, 1), x.swapaxes(0, 1), x.unflatten(1, (2, 2)), x.tensor_split(2)[1]):
        before = _np(v).copy()
        with gpubp.no_grad():
            x.add_(1.0)
        np.testing.assert_allclose(_np(v), before + 1.0)  # the view sees the write
    flipped = x.flip(0)
    with gpubp.no_grad():
        x.add_(1.0)
    assert _np(flipped)[0, 0] != _np(x)[2, 0]  # flip copies, as PyTorch's


def test_unfold_gradient_adds_over_overlapping_windows(device: str) -> None:
    x = gpubp.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device=device, requires_grad=True)
    x.unfold(0, 3, 1).sum().backward()  # windows [0:3], [1:4], [2:5]
    np.testing.assert_allclose(_np(x.grad), [1.0, 2.0, 3.0, 2.0, 1.0])


def test_roll_and_flip_gradients(device: str) -> None:
    x = gpubp.tensor([[1.0, 2.0, 3.0]], device=device, requires_grad=True)
    w = gpubp.tensor([[10.0, 20.0, 30.0]], device=device)
    (x.roll(1, 1) * w).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [[20.0, 30.0, 10.0]])
    x.grad = None
    (x.flip(1) * w).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [[30.0, 20.0, 10.0]])


def test_view_as_reshape_as_expand_as(device: str) -> None:
    x = gpubp.arange(6.0, device=device)
    other = gpubp.zeros(2, 3, device=device)
    assert x.view_as(other).shape == (2, 3)
    np.testing.assert_allclose(_np(x.reshape(3, 2).t().reshape_as(other)), [[0, 2, 4], [1, 3, 5]])
    assert gpubp.tensor([[1.0], [2.0]], device=device).expand_as(other).shape == (2, 3)
    with pytest.raises(RuntimeError, match="view"):
        x.reshape(2, 3).t().view_as(gpubp.zeros(6))
    with pytest.raises(TypeError, match="expand_as"):
        x.expand_as((6,))


def test_stack_out(device: str) -> None:
    a, b = gpubp.tensor([1.0, 2.0], device=device), gpubp.tensor([3.0, 4.0], device=device)
    out = gpubp.empty(0, device=device)
    res = gpubp.vstack([a, b], out=out)
    assert res is out and out.shape == (2, 2)
    np.testing.assert_allclose(_np(out), [[1, 2], [3, 4]])
    gpubp.hstack([a, b], out=out)
    np.testing.assert_allclose(_np(out), [1, 2, 3, 4])


def test_meshgrid_warns_once_without_indexing(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout_join, "_MESHGRID_WARNED", [False])
    a, b = gpubp.arange(2, device=device), gpubp.arange(3, device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = gpubp.meshgrid(a, b)
        gpubp.meshgrid(a, b)
    assert [str(w.message) for w in caught if w.category is UserWarning] == [
        "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
    ]
    assert [t.shape for t in first] == [(2, 3), (2, 3)]  # 'ij'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpubp.meshgrid([a, b], indexing="xy")


def test_methods_are_attached() -> None:
    for name in ("repeat", "repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll", "rot90", "movedim",
                 "moveaxis", "swapaxes", "swapdims", "unflatten", "view_as", "reshape_as", "expand_as",
                 "tensor_split", "hsplit", "vsplit", "dsplit", "unfold"):  # fmt: skip
        assert callable(getattr(gpubp.Tensor, name)), name
    assert not hasattr(gpubp, "nn_unfold") and not hasattr(gpubp, "nn_fold")
    assert callable(gpubp.ops.nn_unfold) and callable(gpubp.ops.nn_fold)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda x: x.repeat(2), RuntimeError, "repeat"),
        (lambda x: x.repeat(2, -1), RuntimeError, "repeat"),
        (lambda x: gpubp.tile(x, (1.5,)), TypeError, "tile"),
        (lambda x: gpubp.flip(x, (0, 0)), RuntimeError, "flip"),
        (lambda x: gpubp.flip(x, (2,)), IndexError, "flip"),
        (lambda x: gpubp.fliplr(x[0]), RuntimeError, "fliplr"),
        (lambda x: gpubp.roll(x, (1, 2)), RuntimeError, "roll"),
        (lambda x: gpubp.roll(x, (1, 2), 0), RuntimeError, "roll"),
        (lambda x: gpubp.rot90(x, 1, (0, 0)), RuntimeError, "rot90"),
        (lambda x: gpubp.rot90(x, 1, (0,)), RuntimeError, "rot90"),
        (lambda x: gpubp.rot90(x[0]), RuntimeError, "rot90"),
        (lambda x: gpubp.movedim(x, (0, 1), 0), RuntimeError, "movedim"),
        (lambda x: gpubp.movedim(x, (0, 0), (0, 1)), RuntimeError, "movedim"),
        (lambda x: gpubp.moveaxis(x, 3, 0), IndexError, "moveaxis"),
        (lambda x: gpubp.unflatten(x, 1, (2, 2)), RuntimeError, "unflatten"),
        (lambda x: gpubp.unflatten(x, 1, ()), RuntimeError, "unflatten"),
        (lambda x: x.unfold(1, 4, 1), RuntimeError, "unfold"),
        (lambda x: x.unfold(1, 2, 0), RuntimeError, "unfold"),
        (lambda x: gpubp.repeat_interleave(x, -1), RuntimeError, "repeat_interleave"),
        (lambda x: gpubp.repeat_interleave(x, gpubp.tensor([1, 2])), RuntimeError, "repeat_interleave"),
        (lambda x: gpubp.repeat_interleave(x, gpubp.tensor([1.0, 2.0]), 0), RuntimeError, "repeat_interleave"),
        (lambda x: gpubp.repeat_interleave(x, [1, 2], 0), TypeError, "repeat_interleave"),
        (lambda x: gpubp.tensor_split(x, 0), RuntimeError, "tensor_split"),
        (lambda x: gpubp.tensor_split(x[0, 0], 2), RuntimeError, "tensor_split"),
        (lambda x: gpubp.hsplit(x, 2), RuntimeError, "hsplit"),
        (lambda x: gpubp.vsplit(x[0], 1), RuntimeError, "vsplit"),
        (lambda x: gpubp.dsplit(x, 1), RuntimeError, "dsplit"),
        (lambda x: gpubp.hstack([]), RuntimeError, "hstack"),
        (lambda x: gpubp.vstack(x), TypeError, "vstack"),
        (lambda x: gpubp.meshgrid(x, indexing="ij"), RuntimeError, "meshgrid"),
        (lambda x: gpubp.meshgrid(x[0], indexing="yx"), RuntimeError, "meshgrid"),
        (lambda x: gpubp.meshgrid(x[0], x[0].long(), indexing="ij"), RuntimeError, "meshgrid"),
        (lambda x: gpubp.broadcast_tensors(x, x[:, :2]), RuntimeError, "broadcast_tensors"),
        (lambda x: GF.nn_unfold(x, 2), RuntimeError, "unfold"),
        (lambda x: GF.nn_unfold(x[None], 3), RuntimeError, "unfold"),
        (lambda x: GF.nn_unfold(x[None], (2, 2, 2)), TypeError, "unfold"),
        (lambda x: GF.nn_fold(x, (3, 4), 2), RuntimeError, "fold"),
        (lambda x: GF.nn_fold(x[None], (2, 3), 1), RuntimeError, "fold"),
        (lambda x: GF.nn_fold(x[None], (4, 4), (1, 2)), RuntimeError, "fold"),
    ],
)
def test_errors_name_the_op(device: str, call: object, err: type, match: str) -> None:
    x = gpubp.tensor(_data("err", (2, 3)), device=device)
    with pytest.raises(err, match=match):
        call(x)
