"""gpubp.<name> for nn.functional's functions that PyTorch also exports as torch.<name> (gpubp.NN_FUNCTIONS): each is
nn.functional's own function, and a call with positional arguments means what it means to torch.<name>."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp

# name -> (input shapes, extra positional arguments), called as gpubp.<name>(*inputs, *args) and torch.<name>(...)
CALLS: dict[str, tuple[list[tuple], tuple]] = {
    "conv1d": ([(2, 4, 9), (6, 2, 3)], (None, 2, 1, 1, 2)),
    "conv2d": ([(2, 3, 7, 6), (4, 3, 3, 2)], (None, 1, 1)),
    "conv3d": ([(1, 2, 5, 4, 4), (3, 2, 2, 2, 2)], (None, 1, 0)),
    "conv_transpose1d": ([(2, 4, 5), (4, 3, 3)], (None, 2, 1, 1)),
    "conv_transpose2d": ([(2, 3, 4, 4), (3, 2, 3, 3)], (None, 2, 1)),
    "conv_transpose3d": ([(1, 2, 3, 3, 3), (2, 2, 2, 2, 2)], (None, 1)),
    "avg_pool1d": ([(2, 3, 9)], (3, 2, 1, True, False)),
    "max_pool1d": ([(2, 3, 9)], (3, 2, 1)),
    "max_pool2d": ([(2, 3, 7, 7)], (3, 2, 1)),
    "max_pool3d": ([(1, 2, 5, 5, 5)], (2,)),
    "max_pool1d_with_indices": ([(2, 3, 9)], (2,)),
    "pixel_shuffle": ([(2, 8, 3, 3)], (2,)),
    "pixel_unshuffle": ([(2, 2, 4, 6)], (2,)),
    "channel_shuffle": ([(2, 6, 3, 3)], (3,)),
    "native_channel_shuffle": ([(2, 6, 3, 3)], (2,)),
    "cosine_similarity": ([(4, 5), (4, 5)], (1,)),
    "pairwise_distance": ([(4, 5), (4, 5)], (3.0,)),
    "pdist": ([(5, 3)], (1.5,)),
    "prelu": ([(2, 3, 4), (3,)], ()),
    "selu": ([(3, 4)], ()),
    "celu": ([(3, 4)], (0.7,)),
    "rrelu": ([(3, 4)], (0.1, 0.3)),
    "threshold": ([(3, 4)], (0.2, -1.0)),
    "hardshrink": ([(3, 4)], (0.4,)),
    "group_norm": ([(2, 6, 3)], (3,)),
    "layer_norm": ([(2, 3, 4)], ((3, 4),)),
    "rms_norm": ([(2, 3, 4)], ((4,),)),
}
IN_PLACE = {"selu_": "selu", "celu_": "celu", "rrelu_": "rrelu", "threshold_": "threshold", "relu_": None}


def test_every_top_level_twin_is_nn_functional_s_and_has_a_call() -> None:
    for name in gpubp.NN_FUNCTIONS:
        assert getattr(gpubp, name) is getattr(gpubp.nn.functional, name)
        assert name in CALLS or name in IN_PLACE, f"gpubp.{name} has no call in CALLS"


def _outputs(out: Any) -> list:
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_top_level_twin_matches_torch(device: str, name: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    shapes, args = CALLS[name]
    rng = rng_for("top", name)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = _outputs(getattr(gpubp, name)(*[gpubp.tensor(a, device=device) for a in arrays], *args))
    theirs = _outputs(getattr(torch, name)(*[torch.tensor(a) for a in arrays], *args))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.cpu().numpy(), t.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_top_level_in_place_twins_write_their_input(device: str, name: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    args = {"threshold_": (0.2, -1.0), "celu_": (0.7,), "rrelu_": (0.1, 0.3)}.get(name, ())
    a = rng_for("inplace", name).standard_normal((3, 4))
    ours, theirs = gpubp.tensor(a, device=device), torch.tensor(a)
    assert getattr(gpubp, name)(ours, *args) is ours
    getattr(torch, name)(theirs, *args)
    np.testing.assert_allclose(ours.cpu().numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
