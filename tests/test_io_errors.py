"""State dicts and gradient clipping refuse bad input clearly: Module.load_state_dict names the key it cannot
use; clipping refuses NaN and non-numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
from gpubp.nn.utils import clip_grad_norm_, clip_grad_value_

ROOT = Path(__file__).resolve().parents[1]

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


def test_load_state_dict_lists_every_problem_and_assign_changes_nothing_on_error(device: str) -> None:
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(device)
    rng = rng_for("msd assign")
    good = {k: gpubp.tensor(rng.standard_normal(v.shape), device=device).to(v.dtype) for k, v in m.state_dict().items()}
    weight, before = m[0].weight, {k: v.detach().cpu().numpy().copy() for k, v in m.state_dict().items()}
    bad = {**good, "0.bias": gpubp.zeros(5, device=device), "extra": gpubp.zeros(1, device=device)}
    del bad["1.running_var"]
    for assign in (False, True):
        with pytest.raises(RuntimeError) as e:
            m.load_state_dict(bad, assign=assign)
        text = str(e.value)
        assert 'Missing key(s) in state_dict: "1.running_var".' in text
        assert 'Unexpected key(s) in state_dict: "extra".' in text
        assert "'0.bias' has shape (5,) in the state dict, expected (4,)" in text
        with pytest.raises(ValueError, match=r"'0.bias' has shape \(5,\)"):  # without strict: the size error alone
            m.load_state_dict(bad, strict=False, assign=assign)
    assert m[0].weight is weight
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.detach().cpu().numpy(), before[k])
    if torch is not None:
        t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        with pytest.raises(RuntimeError, match="Missing key"):
            t.load_state_dict({k: v for k, v in t.state_dict().items() if k != "1.running_var"})
