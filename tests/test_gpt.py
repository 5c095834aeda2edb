"""The small GPT of gpubp.gpt: it learns text addition, samples with temperature and top-k, and `gpubp sample`."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import rng_for

import gpubp
from gpubp import gpt, serialization
from gpubp.cli import main


def _tiny(device: str, seed: int = 0) -> gpt.GPT:
    gpubp.manual_seed(seed)
    model = gpt.GPT(len(gpt.VOCAB), 8, n_layer=1, n_head=2, n_embd=16).to(device)
    with gpubp.no_grad():
        model.tok.weight.mul_(50.0)  # logits well apart, so an untrained model has a clear most likely token
    return model


def test_addition_gpt_reaches_its_goal_on_the_cpu(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`gpubp train addition-gpt` with default settings reaches its exact-match goal; `gpubp sample` then adds."""
    from gpubp.zoo import EXAMPLES

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "addition-gpt", "--device", "cpu", "--quiet", "--out", str(tmp_path)]) == 0
    final = json.loads((tmp_path / "final.json").read_text())
    for key, goal in EXAMPLES["addition-gpt"].goal.items():
        assert final[key] >= goal, (key, final[key], goal)
    assert not [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    capsys.readouterr()
    args = ["sample", "addition-gpt", "--checkpoint", str(tmp_path), "--device", "cpu", "--top-k", "1"]
    right = 0
    for a, b in [(12, 34), (7, 95), (58, 67), (99, 99), (40, 3)]:
        assert main([*args, "--prompt", f"{a}+{b}="]) == 0
        right += f"(the sum {a + b}:" in capsys.readouterr().out
    assert right >= 4, right


def test_sample_command_reads_a_saved_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from gpubp.zoo import EXAMPLES

    gpubp.manual_seed(1)
    serialization.save(EXAMPLES["addition-gpt"].model().state_dict(), tmp_path / "model.safetensors")
    args = ["sample", "addition-gpt", "--checkpoint", str(tmp_path), "--device", "cpu", "--prompt", "3+4="]
    assert main([*args, "--num-samples", "4", "--temperature", "0.7", "--top-k", "5", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(re.fullmatch(r"03\+04=[0-9+=]{3}.*", line) for line in lines), lines
    assert main([*args, "--num-samples", "4", "--temperature", "0.7", "--top-k", "5", "--seed", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == lines  # a fixed seed gives the same samples


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--top-k", "0"], "--top-k must be"),
        (["--temperature", "0"], "--temperature must be"),
        (["--temperature", "-1"], "--temperature must be"),
        (["--num-samples", "0"], "--num-samples must be"),
        (["--prompt", "12*3="], "not in the vocabulary"),
        (["--prompt", "1234567+1=="], "takes at most"),
    ],
)
def test_sample_command_refuses_bad_arguments(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from gpubp.zoo import EXAMPLES

    serialization.save(EXAMPLES["addition-gpt"].model().state_dict(), tmp_path / "model.safetensors")
    args = ["sample", "addition-gpt", "--checkpoint", str(tmp_path), "--prompt", "1+2=", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert main(["sample", "addition-gpt", "--checkpoint", str(tmp_path / "none"), "--prompt", "1+2="]) == 2


def test_top_k_only_picks_among_the_k_most_likely(device: str) -> None:
    rng = rng_for("gpt top-k")
    logits = rng.standard_normal((400, 12)).astype(np.float32)
    gpubp.manual_seed(0)
    picked = gpt.sample_logits(gpubp.tensor(logits, device=device), top_k=3).cpu().numpy()[:, 0]  # (400,)
    top3 = np.argsort(-logits, axis=1)[:, :3]
    assert all(p in row for p, row in zip(picked, top3))
    assert len(set(picked.tolist())) > 3  # it samples: rows differ in which tokens are on top
    assert (picked != logits.argmax(1)).any()  # and not only the most likely one
    one = gpt.sample_logits(gpubp.tensor(logits, device=device), top_k=1).cpu().numpy()[:, 0]
    np.testing.assert_array_equal(one, logits.argmax(1))


def test_low_temperature_is_greedy_and_a_seed_repeats(device: str) -> None:
    model = _tiny(device)
    idx = gpubp.tensor(rng_for("gpt prompt").integers(0, len(gpt.VOCAB), (6, 3)), device=device)
    greedy = model.generate(idx, 5, do_sample=False)
    np.testing.assert_array_equal(model.generate(idx, 5, temperature=1e-6).cpu().numpy(), greedy.cpu().numpy())
    gpubp.manual_seed(7)
    first = model.generate(idx, 5, temperature=3.0).cpu().numpy()
    gpubp.manual_seed(7)
    np.testing.assert_array_equal(model.generate(idx, 5, temperature=3.0).cpu().numpy(), first)
    gpubp.manual_seed(8)
    assert (model.generate(idx, 5, temperature=3.0).cpu().numpy() != first).any()
    np.testing.assert_array_equal(first[:, :3], idx.cpu().numpy())  # the prompt is kept


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"top_k": 0}, "top_k must be"),
        ({"temperature": 0.0}, "temperature must be"),
        ({"temperature": -0.5}, "temperature must be"),
        ({"temperature": float("nan")}, "temperature must be"),
        ({"max_new_tokens": -1}, "max_new_tokens must be"),
    ],
)
def test_generate_refuses_bad_arguments(kwargs: dict, message: str, device: str) -> None:
    model = _tiny(device)
    idx = gpubp.tensor([[1, 2]], device=device)
    with pytest.raises(ValueError, match=message):
        model.generate(idx, **{"max_new_tokens": 2, **kwargs})
    with pytest.raises(ValueError, match="not in the vocabulary"):
        gpt.encode("12+x=")


def test_causal_self_attention_matches_torch(device: str) -> None:
    """Forward and backward against the same layer written with torch, on a non-contiguous input."""
    rng = rng_for("gpt attention")
    gpubp.manual_seed(0)
    layer = gpt.CausalSelfAttention(16, 4).to(device)
    x_np = rng.standard_normal((3, 16, 5)).astype(np.float32)  # made (3, 5, 16) by a transpose: not contiguous
    x = gpubp.tensor(x_np, device=device).transpose(1, 2).requires_grad_()
    out = layer(x)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(gpubp.tensor(g, device=device))
    w = {k: torch.tensor(v.cpu().numpy(), requires_grad=True) for k, v in layer.state_dict().items()}
    xt = torch.tensor(x_np).transpose(1, 2).requires_grad_()
    q, k, v = torch.nn.functional.linear(xt, w["qkv.weight"], w["qkv.bias"]).split(16, dim=2)
    q, k, v = (z.view(3, 5, 4, 4).transpose(1, 2) for z in (q, k, v))
    y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(3, 5, 16)
    ref = torch.nn.functional.linear(y, w["proj.weight"], w["proj.bias"])
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    grad = dict(layer.named_parameters())["qkv.weight"].grad.cpu().numpy()
    np.testing.assert_allclose(grad, w["qkv.weight"].grad.numpy(), rtol=1e-4, atol=1e-5)


def test_addition_data_holds_out_its_validation_sums() -> None:
    train, val = gpt.addition_data(2, n_val=100)
    seen = {tuple(r) for r in np.asarray(train.arrays[0]).tolist()}
    assert not any(tuple(r) in seen for r in np.asarray(val.arrays[0]).tolist())
    assert gpt.problem(58, 67, 2) == "58+67=521" and gpt.normalize_prompt("5+7=", 2) == "05+07="
