"""Layers and losses against PyTorch (forward, input and parameter gradients, in float64), float64
gradchecks of every layer, train/eval behaviour, and the Module API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F
from gpubp.testing import gradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
TNN = torch.nn if torch is not None else None


def _copy_params(ours: nn.Module, theirs) -> None:  # noqa: ANN001
    ours.load_state_dict({k: gpubp.tensor(v.detach().cpu().numpy(), device=next(iter(ours.parameters()), gpubp.zeros(1)).device)
                          for k, v in theirs.state_dict().items() if k != "num_batches_tracked"})  # fmt: skip


def _compare(device: str, ours: nn.Module, theirs, x_np: np.ndarray, key: str, int_input: bool = False) -> None:  # noqa: ANN001
    """Same weights, same input: outputs, input gradient and every parameter gradient agree."""
    theirs = theirs.double()
    ours.to(device=device, dtype=gpubp.float64)
    _copy_params(ours, theirs)
    if int_input:
        tx, gx = torch.tensor(x_np), gpubp.tensor(x_np, device=device)
    else:
        tx = torch.tensor(x_np, requires_grad=True)
        gx = gpubp.tensor(x_np, device=device, requires_grad=True)
    t_out, g_out = theirs(tx), ours(gx)
    t_out = t_out[0] if isinstance(t_out, tuple) else t_out
    g_out = g_out[0] if isinstance(g_out, tuple) else g_out
    np.testing.assert_allclose(g_out.detach().cpu().numpy(), t_out.detach().cpu().numpy(), rtol=1e-9, atol=1e-10)
    cot = rng_for(key, "cot").standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(cot))
    g_out.backward(gpubp.tensor(cot, device=device))
    if not int_input:
        np.testing.assert_allclose(
            gx.grad.detach().cpu().numpy(), tx.grad.detach().cpu().numpy(), rtol=1e-8, atol=1e-10
        )
    tgrads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad.detach().cpu().numpy(), tgrads[name].grad.detach().cpu().numpy(), rtol=1e-8, atol=1e-10, err_msg=name
        )


LAYERS = [
    ("Linear", lambda: nn.Linear(5, 3), lambda: TNN.Linear(5, 3), (4, 5)),
    ("Linear-nobias", lambda: nn.Linear(5, 3, bias=False), lambda: TNN.Linear(5, 3, bias=False), (2, 4, 5)),
    ("Conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), lambda: TNN.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    ("Conv2d", lambda: nn.Conv2d(2, 4, 3, padding=1), lambda: TNN.Conv2d(2, 4, 3, padding=1), (2, 2, 6, 5)),
    ("Conv2d-groups", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), dilation=2, groups=2),
     lambda: TNN.Conv2d(4, 6, (3, 2), stride=(2, 1), dilation=2, groups=2), (2, 4, 9, 7)),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), lambda: TNN.MaxPool2d(2), (2, 3, 6, 6)),
    ("MaxPool2d-pad", lambda: nn.MaxPool2d(3, 2, 1), lambda: TNN.MaxPool2d(3, 2, 1), (2, 2, 7, 6)),
    ("AvgPool2d", lambda: nn.AvgPool2d(3, 1, 1), lambda: TNN.AvgPool2d(3, 1, 1), (2, 2, 5, 5)),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: TNN.AdaptiveAvgPool2d((2, 3)), (2, 2, 6, 6)),
    ("AdaptiveAvgPool2d-uneven", lambda: nn.AdaptiveAvgPool2d(3), lambda: TNN.AdaptiveAvgPool2d(3), (1, 2, 7, 5)),
    ("AdaptiveAvgPool2d-1", lambda: nn.AdaptiveAvgPool2d(1), lambda: TNN.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    ("Flatten", lambda: nn.Flatten(), lambda: TNN.Flatten(), (2, 3, 4)),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(4), lambda: TNN.BatchNorm1d(4), (8, 4)),
    ("BatchNorm1d-3d", lambda: nn.BatchNorm1d(3), lambda: TNN.BatchNorm1d(3), (4, 3, 5)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3), lambda: TNN.BatchNorm2d(3), (4, 3, 5, 5)),
    ("LayerNorm", lambda: nn.LayerNorm(6), lambda: TNN.LayerNorm(6), (3, 4, 6)),
    ("LayerNorm-2d", lambda: nn.LayerNorm((4, 6)), lambda: TNN.LayerNorm((4, 6)), (3, 4, 6)),
    ("RNN", lambda: nn.RNN(4, 5, 2), lambda: TNN.RNN(4, 5, 2), (6, 3, 4)),
    ("RNN-relu", lambda: nn.RNN(4, 5, nonlinearity="relu", batch_first=True),
     lambda: TNN.RNN(4, 5, nonlinearity="relu", batch_first=True), (3, 6, 4)),
    ("LSTM", lambda: nn.LSTM(4, 5, 2, batch_first=True), lambda: TNN.LSTM(4, 5, 2, batch_first=True), (3, 6, 4)),
    ("GRU", lambda: nn.GRU(4, 5, 2), lambda: TNN.GRU(4, 5, 2), (6, 3, 4)),
    ("ReLU", lambda: nn.ReLU(), lambda: TNN.ReLU(), (3, 4)),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda: TNN.LeakyReLU(0.2), (3, 4)),
    ("ELU", lambda: nn.ELU(0.7), lambda: TNN.ELU(0.7), (3, 4)),
    ("Sigmoid", lambda: nn.Sigmoid(), lambda: TNN.Sigmoid(), (3, 4)),
    ("Tanh", lambda: nn.Tanh(), lambda: TNN.Tanh(), (3, 4)),
    ("Softplus", lambda: nn.Softplus(beta=2.0), lambda: TNN.Softplus(beta=2.0), (3, 4)),
    ("GELU", lambda: nn.GELU(approximate="tanh"), lambda: TNN.GELU(approximate="tanh"), (3, 4)),
    ("SiLU", lambda: nn.SiLU(), lambda: TNN.SiLU(), (3, 4)),
    ("Softmax", lambda: nn.Softmax(dim=1), lambda: TNN.Softmax(dim=1), (3, 4)),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), lambda: TNN.LogSoftmax(dim=-1), (3, 4)),
    ("Sequential", lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)),
     lambda: TNN.Sequential(TNN.Linear(4, 6), TNN.Tanh(), TNN.Linear(6, 2)), (5, 4)),
]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(device: str, case: tuple) -> None:
    name, ours, theirs, shape = case
    torch.manual_seed(0)
    _compare(device, ours(), theirs(), rng_for(name).standard_normal(shape), name)


@needs_torch
def test_embedding_matches_torch(device: str) -> None:
    idx = np.array([[1, 0, 3], [3, 3, 2]])
    _compare(device, nn.Embedding(5, 4, padding_idx=0), TNN.Embedding(5, 4, padding_idx=0), idx, "emb", int_input=True)


@pytest.mark.parametrize("case", [c for c in LAYERS if "Pool" not in c[0] or "Max" not in c[0]], ids=lambda c: c[0])
def test_layer_gradcheck(device: str, case: tuple) -> None:
    name, ours, _, shape = case
    gpubp.manual_seed(1)
    layer = ours().to(device=device, dtype=gpubp.float64)
    x = gpubp.tensor(rng_for(name, "gc").standard_normal(shape), device=device, requires_grad=True)
    params = list(layer.parameters())

    def fn(inp: gpubp.Tensor, *ps: gpubp.Tensor) -> gpubp.Tensor:
        out = layer(inp)
        return out[0] if isinstance(out, tuple) else out

    gradcheck(fn, [x, *params])


def test_maxpool_gradcheck(device: str) -> None:
    x = gpubp.tensor(rng_for("mp").permutation(72).reshape(2, 1, 6, 6) / 10.0, device=device, requires_grad=True)
    gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1), [x])


@needs_torch
def test_batchnorm_train_eval_and_running_stats(device: str) -> None:
    torch.manual_seed(0)
    ours, theirs = nn.BatchNorm2d(3).to(device=device, dtype=gpubp.float64), TNN.BatchNorm2d(3).double()
    rng = rng_for("bn")
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
        np.testing.assert_allclose(
            ours(gpubp.tensor(x, device=device)).detach().cpu().numpy(),
            theirs(torch.tensor(x)).detach().cpu().numpy(),
            atol=1e-10,
        )
    np.testing.assert_allclose(
        ours.running_mean.detach().cpu().numpy(), theirs.running_mean.detach().cpu().numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        ours.running_var.detach().cpu().numpy(), theirs.running_var.detach().cpu().numpy(), rtol=1e-10
    )
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 5, 5))
    np.testing.assert_allclose(
        ours(gpubp.tensor(x, device=device)).detach().cpu().numpy(),
        theirs(torch.tensor(x)).detach().cpu().numpy(),
        atol=1e-10,
    )


def test_dropout_train_and_eval(device: str) -> None:
    gpubp.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = gpubp.ones(200, 200, device=device, requires_grad=True)
    y = layer(x)
    kept = y.detach().cpu().numpy() != 0
    assert 0.72 < kept.mean() < 0.78
    np.testing.assert_allclose(y.detach().cpu().numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.detach().cpu().numpy(), kept / 0.75)
    layer.eval()
    assert layer(x) is x


# ---- losses -------------------------------------------------------------------------------------


def _loss_case(device: str, ours, theirs, x_np: np.ndarray, t_np: np.ndarray, float_target: bool = True) -> None:  # noqa: ANN001
    tx = torch.tensor(x_np, requires_grad=True)
    gx = gpubp.tensor(x_np, device=device, requires_grad=True)
    tt, gt = torch.tensor(t_np), gpubp.tensor(t_np, device=device)
    tl, gl = theirs(tx, tt), ours(gx, gt)
    np.testing.assert_allclose(gl.detach().cpu().numpy(), tl.detach().cpu().numpy(), rtol=1e-9, atol=1e-12)
    cot = rng_for("loss-cot", x_np.shape).standard_normal(tuple(tl.shape))
    tl.backward(torch.tensor(cot))
    gl.backward(gpubp.tensor(cot, device=device))
    np.testing.assert_allclose(gx.grad.detach().cpu().numpy(), tx.grad.detach().cpu().numpy(), rtol=1e-8, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "bce", "bce_logits"])
def test_regression_and_binary_losses(device: str, name: str, reduction: str) -> None:
    rng = rng_for(name, reduction)
    x, t = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3)) * 2
    tf = torch.nn.functional
    if name == "bce":
        x, t = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
        w = rng.uniform(0.5, 2, (4, 3))
        ours = lambda a, b: F.binary_cross_entropy(a, b, gpubp.tensor(w, device=device), reduction=reduction)  # noqa: E731
        theirs = lambda a, b: tf.binary_cross_entropy(a, b, torch.tensor(w), reduction=reduction)  # noqa: E731
    elif name == "bce_logits":
        t = rng.uniform(0, 1, (4, 3))
        pw = rng.uniform(0.5, 2, 3)
        ours = lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, reduction=reduction, pos_weight=gpubp.tensor(pw, device=device)
        )  # noqa: E731
        theirs = lambda a, b: tf.binary_cross_entropy_with_logits(
            a, b, reduction=reduction, pos_weight=torch.tensor(pw)
        )  # noqa: E731
    elif name in ("huber_loss", "smooth_l1_loss"):
        kw = {"delta": 0.8} if name == "huber_loss" else {"beta": 0.8}
        ours = lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw)  # noqa: E731
        theirs = lambda a, b: getattr(tf, name)(a, b, reduction=reduction, **kw)  # noqa: E731
    else:
        ours = lambda a, b: getattr(F, name)(a, b, reduction=reduction)  # noqa: E731
        theirs = lambda a, b: getattr(tf, name)(a, b, reduction=reduction)  # noqa: E731
    _loss_case(device, ours, theirs, x, t)


CE_CASES = [
    ("plain", (6, 5), {}),
    ("weight", (6, 5), {"weight": True}),
    ("weight-ignore-smooth", (6, 5), {"weight": True, "ignore_index": 2, "label_smoothing": 0.2}),
    ("ignore-smooth", (6, 5), {"ignore_index": 1, "label_smoothing": 0.1}),
    ("spatial", (3, 4, 2, 3), {"label_smoothing": 0.1}),
    ("probs", (6, 5), {"probs": True}),
    ("probs-weight-smooth", (6, 5), {"probs": True, "weight": True, "label_smoothing": 0.1}),
]


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_matches_torch(device: str, case: tuple, reduction: str) -> None:
    name, shape, opts = case
    rng = rng_for("ce", name)
    x = rng.standard_normal(shape) * 2
    c = shape[1]
    if opts.get("probs"):
        t = rng.dirichlet(np.ones(c), shape[0])
    else:
        t = rng.integers(0, c, (shape[0],) + shape[2:])
    kw = {k: v for k, v in opts.items() if k in ("ignore_index", "label_smoothing")}
    w = rng.uniform(0.5, 2, c) if opts.get("weight") else None
    ours = lambda a, b: F.cross_entropy(
        a, b, None if w is None else gpubp.tensor(w, device=device), reduction=reduction, **kw
    )  # noqa: E731
    theirs = lambda a, b: torch.nn.functional.cross_entropy(
        a, b, None if w is None else torch.tensor(w), reduction=reduction, **kw
    )  # noqa: E731
    _loss_case(device, ours, theirs, x, t)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_torch(device: str, reduction: str) -> None:
    rng = rng_for("nll", reduction)
    x = rng.standard_normal((6, 4))
    t = np.array([0, 3, 1, -100, 2, 3])
    w = rng.uniform(0.5, 2, 4)
    _loss_case(device, lambda a, b: F.nll_loss(a, b, gpubp.tensor(w, device=device), reduction=reduction),
               lambda a, b: torch.nn.functional.nll_loss(a, b, torch.tensor(w), reduction=reduction), x, t)  # fmt: skip


def test_loss_modules_call_their_functional_forms(device: str) -> None:
    x = gpubp.randn(4, 3, dtype=gpubp.float64, device=device)
    y = gpubp.randn(4, 3, dtype=gpubp.float64, device=device)
    labels = gpubp.tensor([0, 2, 1, 1], device=device)
    assert nn.MSELoss()(x, y).item() == pytest.approx(F.mse_loss(x, y).item())
    assert nn.L1Loss(reduction="sum")(x, y).item() == pytest.approx(F.l1_loss(x, y, reduction="sum").item())
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(x, labels).item() == pytest.approx(
        F.cross_entropy(x, labels, label_smoothing=0.1).item()
    )
    assert nn.HuberLoss()(x, y).shape == () and nn.SmoothL1Loss()(x, y).shape == ()
    assert nn.NLLLoss()(F.log_softmax(x, 1), labels).shape == ()
    assert nn.BCEWithLogitsLoss()(x, y.sigmoid()).shape == () and nn.BCELoss()(x.sigmoid(), y.sigmoid()).shape == ()
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="avg")


# ---- Module API and errors -----------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 2)])

    def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
        h = x + self.bn(self.fc(x)).relu()  # a residual connection
        for layer in self.layers:
            h = layer(h)
        return h


def test_module_registration_and_state_dict(device: str) -> None:
    m = Block().to(device)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc.weight", "fc.bias", "bn.weight", "bn.bias", "layers.0.weight", "layers.0.bias",
                     "layers.1.weight", "layers.1.bias"]  # fmt: skip
    sd = m.state_dict()
    assert "bn.running_mean" in sd and "bn.running_var" in sd and "bn.num_batches_tracked" in sd and len(sd) == 11
    other = Block().to(device)
    other.load_state_dict(sd)
    x = gpubp.randn(5, 4, device=device)
    m.eval()
    other.eval()
    np.testing.assert_allclose(m(x).detach().cpu().numpy(), other(x).detach().cpu().numpy())
    assert not m.training and not m.bn.training
    assert "Linear(in_features=4, out_features=4, bias=True)" in repr(m)


def test_load_state_dict_errors_change_nothing(device: str) -> None:
    m = Block().to(device)
    before = {k: v.detach().cpu().numpy().copy() for k, v in m.state_dict().items()}
    good = {k: v.clone() + 1 for k, v in m.state_dict().items()}
    missing = dict(good)
    missing.pop("fc.weight")
    for exc in (KeyError, RuntimeError):  # a KeyError, and the RuntimeError PyTorch raises
        with pytest.raises(exc, match=r"missing keys \['fc.weight'\]"):
            m.load_state_dict(missing)
        with pytest.raises(exc, match=r"unexpected keys \['extra'\]"):
            m.load_state_dict({**good, "extra": gpubp.zeros(1, device=device)})
    bad_shape = {**good, "layers.1.weight": gpubp.zeros(3, 4, device=device)}
    for exc in (ValueError, RuntimeError):
        with pytest.raises(exc, match=r"'layers.1.weight' has shape \(3, 4\) in the state dict, expected \(2, 4\)"):
            m.load_state_dict(bad_shape)
        with pytest.raises(exc, match=r"'layers.1.weight' has shape \(3, 4\) in the state dict"):
            m.load_state_dict(bad_shape, strict=False)  # a size mismatch is an error without strict too, as PyTorch
    with pytest.raises(TypeError, match=r"load_state_dict: 'fc.bias' is a NoneType in the state dict"):
        m.load_state_dict({**good, "fc.bias": None})
    # an error later in the dict (fc.bias comes after fc.weight) changes nothing, not even the keys before it
    with pytest.raises(TypeError, match=r"'fc.bias' is a list"):
        m.load_state_dict({**good, "fc.bias": [0.0] * 4})
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.detach().cpu().numpy(), before[k])
    missing_ok, unexpected = m.load_state_dict(missing, strict=False)
    assert missing_ok == ["fc.weight"] and unexpected == []


def test_load_state_dict_casts_another_dtype_as_torch(device: str) -> None:
    """A float64 or integer value loaded into a float32 parameter is cast on copy (PyTorch's copy_ semantics)."""
    rng = rng_for("load cast")
    m = nn.Linear(3, 2).to(device)
    w = rng.standard_normal((2, 3))
    b = rng.integers(-5, 5, 2)
    m.load_state_dict({"weight": gpubp.tensor(w, device=device), "bias": gpubp.tensor(b, device=device)})
    assert m.weight.dtype == gpubp.float32 and m.bias.dtype == gpubp.float32 and m.weight.requires_grad
    np.testing.assert_allclose(m.weight.detach().cpu().numpy(), w.astype(np.float32))
    np.testing.assert_array_equal(m.bias.detach().cpu().numpy(), b.astype(np.float32))
    if torch is not None:
        t = torch.nn.Linear(3, 2)
        t.load_state_dict({"weight": torch.tensor(w), "bias": torch.tensor(b)})
        np.testing.assert_allclose(m.weight.detach().cpu().numpy(), t.weight.detach().numpy())
        np.testing.assert_array_equal(m.bias.detach().cpu().numpy(), t.bias.detach().numpy())


def test_zero_grad_and_train_step(device: str) -> None:
    gpubp.manual_seed(0)
    m = Block().to(device)
    x = gpubp.randn(8, 4, device=device)
    loss = m(x).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_layer_input_errors(device: str) -> None:
    with pytest.raises(ValueError, match=r"Linear: expected input of shape \(\.\.\., 4\), got \(2, 3\)"):
        nn.Linear(4, 2).to(device)(gpubp.ones(2, 3, device=device))
    with pytest.raises(ValueError, match=r"Conv2d: expected input \(N, C, H, W\) with C = 3, got shape \(1, 2, 5, 5\)"):
        nn.Conv2d(3, 4, 3).to(device)(gpubp.ones(1, 2, 5, 5, device=device))
    with pytest.raises(ValueError, match="BatchNorm2d: expected a 4-D input with 3 channels"):
        nn.BatchNorm2d(3).to(device)(gpubp.ones(2, 4, 5, 5, device=device))
    with pytest.raises(ValueError, match=r"LSTM: expected input \(T, N, input_size\) with input_size=4"):
        nn.LSTM(4, 3).to(device)(gpubp.ones(5, 2, 3, device=device))
    with pytest.raises(ValueError, match="cross_entropy: probability targets must have the input's shape"):
        F.cross_entropy(gpubp.ones(4, 3, device=device), gpubp.ones(4, 2, device=device))
    with pytest.raises(ValueError, match="nll_loss: target must be integer class indices"):
        F.nll_loss(gpubp.ones(4, 3, device=device), gpubp.ones(4, device=device))


def test_init_functions(device: str) -> None:
    gpubp.manual_seed(0)
    w = gpubp.empty(300, 200, device=device)
    nn.init.xavier_uniform_(w)
    assert abs(w.detach().cpu().numpy().std() - np.sqrt(2 / 500)) < 0.01 and w.detach().cpu().numpy().max() <= np.sqrt(
        6 / 500
    )
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.detach().cpu().numpy().std() - np.sqrt(2 / 200)) < 0.01
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert w.detach().cpu().numpy().max() <= np.sqrt(6 / 200) + 1e-6
    nn.init.xavier_normal_(w)
    assert abs(w.detach().cpu().numpy().std() - np.sqrt(2 / 500)) < 0.01
    q = gpubp.empty(6, 4, dtype=gpubp.float64, device=device)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.detach().cpu().numpy().T @ q.detach().cpu().numpy(), np.eye(4), atol=1e-10)
    nn.init.zeros_(q)
    assert not q.detach().cpu().numpy().any()
    nn.init.ones_(q)
    assert (q.detach().cpu().numpy() == 1).all()
    nn.init.constant_(q, 0.5)
    assert (q.detach().cpu().numpy() == 0.5).all()


@needs_torch
def test_clip_grad_norm_and_value_match_torch(device: str) -> None:
    rng = rng_for("clip")
    shapes = [(3, 4), (5,), (2, 2, 2)]
    grads = [rng.standard_normal(s) * 3 for s in shapes]
    for norm_type in (2.0, float("inf"), 1.0):
        ours = [gpubp.zeros(s, dtype=gpubp.float64, device=device, requires_grad=True) for s in shapes]
        theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
        for o, t, g in zip(ours, theirs, grads):
            o.grad = gpubp.tensor(g, device=device)
            t.grad = torch.tensor(g)
        n_ours = nn.utils.clip_grad_norm_(ours, 1.5, norm_type)
        n_theirs = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
        assert n_ours.item() == pytest.approx(n_theirs.item(), rel=1e-10)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.detach().cpu().numpy(), t.grad.detach().cpu().numpy(), rtol=1e-10)
    p = gpubp.zeros(4, device=device, requires_grad=True)
    p.grad = gpubp.tensor([-3.0, 0.5, 2.0, -0.1], device=device)
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0, pytest.approx(-0.1)]
    assert nn.utils.l2_penalty([p]).item() == pytest.approx(0.0)


@needs_torch
def test_max_pool_ties_send_the_gradient_to_the_first_maximum(device: str) -> None:
    x = np.zeros((1, 2, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 1.0  # ties inside windows, and all-zero windows
    for k, s, p in [(2, None, 0), (3, 1, 1), (2, 1, 0)]:
        tx = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(tx, k, s, p).sum().backward()
        gx = gpubp.tensor(x, device=device, requires_grad=True)
        F.max_pool2d(gx, k, s, p).sum().backward()
        np.testing.assert_array_equal(gx.grad.detach().cpu().numpy(), tx.grad.detach().cpu().numpy())


def test_assigning_a_buffer_keeps_it_in_the_state_dict(device: str) -> None:
    bn = nn.BatchNorm1d(3).to(device)
    bn.running_mean = gpubp.full((3,), 2.0, device=device)
    assert bn.state_dict()["running_mean"].tolist() == [2.0, 2.0, 2.0]
    bn.extra = gpubp.zeros(1, device=device)  # a plain tensor attribute is not state
    assert "extra" not in bn.state_dict()


# ---- bad arguments and inputs raise what PyTorch raises (gpubp.errors: ValueError/TypeError and RuntimeError) -------
_BAD_BUILDS = [
    (RuntimeError, "Linear: in_features must be >= 0, got -1", lambda m: m.Linear(-1, 3)),
    (RuntimeError, "Conv2d: kernel_size must be positive, got -1", lambda m: m.Conv2d(3, 4, -1)),
    (TypeError, r"Conv2d: kernel_size must be an int or a tuple of 2 ints, got 2.5", lambda m: m.Conv2d(3, 4, 2.5)),
    (RuntimeError, "BatchNorm1d: num_features must be positive, got -1", lambda m: m.BatchNorm1d(-1)),
    (RuntimeError, "LayerNorm: normalized_shape must be >= 0, got -1", lambda m: m.LayerNorm(-1)),
    (RuntimeError, "Embedding: embedding_dim must be >= 0, got -3", lambda m: m.Embedding(10, -3)),
    (TypeError, "Dropout: dropout probability p must be a number, got str", lambda m: m.Dropout("a")),
    (RuntimeError, "Embedding: num_embeddings must be positive, got -1", lambda m: m.Embedding(-1, 3)),
]  # fmt: skip


@pytest.mark.parametrize(
    "exc,match,build", _BAD_BUILDS, ids=[c[1].split(":")[0] + str(i) for i, c in enumerate(_BAD_BUILDS)]
)
def test_layer_constructors_raise_torchs_exception_class(device: str, exc: type, match: str, build: Any) -> None:
    with pytest.raises(exc, match=match):
        build(nn)
    if torch is not None:
        with pytest.raises(exc):
            build(TNN)


def _forward_cases(device: str) -> list:
    rng = rng_for("bad forwards")

    def x(*shape: int, dtype: str = "float32") -> gpubp.Tensor:
        return gpubp.tensor(rng.standard_normal(shape).astype(dtype), device=device)

    return [
        (RuntimeError, r"Linear: expected input of shape \(\.\.\., 3\), got \(\)", lambda m: m.Linear(3, 4), x()),
        (RuntimeError, "Linear: input dtype float64 does not match weight dtype float32", lambda m: m.Linear(3, 4),
         x(2, 3, dtype="float64")),
        (RuntimeError, "Conv2d: expected input", lambda m: m.Conv2d(2, 3, 3), x(1, 3, 5, 5)),
        (RuntimeError, r"conv2d: kernel \(3, 3\) .* is larger than the padded input", lambda m: m.Conv2d(2, 3, 3),
         x(1, 2, 2, 2)),
        (RuntimeError, "conv1d: kernel size 3 .* is larger than the padded input length 2", lambda m: m.Conv1d(2, 3, 3),
         x(1, 2, 2)),
        (RuntimeError, r"max_pool2d: kernel \(2, 2\) is larger than the input", lambda m: m.MaxPool2d(2), x(1, 1, 1, 1)),
        (RuntimeError, "adaptive_avg_pool2d: expected input", lambda m: m.AdaptiveAvgPool2d(2), x(5)),
        (RuntimeError, "BatchNorm1d: expected a 2-D or 3-D input with 3 channels", lambda m: m.BatchNorm1d(3), x(2, 4)),
        (RuntimeError, r"layer_norm: input shape \(2, 3\) does not end with normalized_shape \(4,\)",
         lambda m: m.LayerNorm(4), x(2, 3)),
        (RuntimeError, "embedding: indices must be integers", lambda m: m.Embedding(10, 3), x(2)),
        (RuntimeError, r"RNN: expected input .*\(input.size\(-1\) = 3\)", lambda m: m.RNN(4, 5), x(3, 2, 3)),
        (ValueError, "LSTM: input dtype float64 does not match weight dtype float32", lambda m: m.LSTM(4, 5),
         x(3, 2, 4, dtype="float64")),
    ]  # fmt: skip


@pytest.mark.parametrize("k", range(12))
def test_layer_forwards_raise_torchs_exception_class(device: str, k: int) -> None:
    exc, match, build, x = _forward_cases(device)[k]
    m = build(nn).to(device)
    before = {n: v.detach().cpu().numpy().copy() for n, v in m.state_dict().items()}
    with pytest.raises(exc, match=match):
        m(x)
    for n, v in m.state_dict().items():  # nothing changed (batch norm's running statistics included)
        np.testing.assert_array_equal(v.detach().cpu().numpy(), before[n])
    if torch is not None:
        arr = x.cpu().numpy()
        with pytest.raises(exc):
            build(TNN)(torch.tensor(arr))


def test_batch_norm_of_integers_is_a_type_error(device: str) -> None:
    m = nn.BatchNorm2d(3).to(device)
    x = gpubp.tensor(rng_for("bn-int").integers(0, 5, (2, 3, 2, 2)), device=device)
    with pytest.raises(TypeError, match="batch_norm: not implemented for int64 input"):
        m(x)
    np.testing.assert_array_equal(m.running_mean.cpu().numpy(), np.zeros(3, np.float32))
    if torch is not None:
        with pytest.raises(NotImplementedError):
            TNN.BatchNorm2d(3)(torch.tensor(x.cpu().numpy()))


def test_recurrent_initial_states_are_checked(device: str) -> None:
    rng = rng_for("rnn-h0")
    x = gpubp.tensor(rng.standard_normal((3, 2, 4)).astype(np.float32), device=device)
    h_bad = gpubp.zeros(1, 3, 5, device=device)
    with pytest.raises(RuntimeError, match=r"RNN: initial state h_0 must have shape \(1, 2, 5\), got \(1, 3, 5\)"):
        nn.RNN(4, 5).to(device)(x, h_bad)
    lstm = nn.LSTM(4, 5).to(device)
    with pytest.raises(IndexError, match=r"LSTM: hx must be a tuple \(h_0, c_0\) of two tensors, got Tensor"):
        lstm(x, gpubp.zeros(1, 2, 5, device=device))
    with pytest.raises(RuntimeError, match=r"LSTM: initial state c_0 must have shape \(1, 2, 5\), got \(1, 3, 5\)"):
        lstm(x, (gpubp.zeros(1, 2, 5, device=device), h_bad))
    if torch is not None:
        tx = torch.tensor(x.cpu().numpy())
        with pytest.raises(RuntimeError):
            TNN.RNN(4, 5)(tx, torch.zeros(1, 3, 5))
        with pytest.raises(IndexError):
            TNN.LSTM(4, 5)(tx, torch.zeros(1, 2, 5))
        with pytest.raises(RuntimeError):
            TNN.LSTM(4, 5)(tx, (torch.zeros(1, 2, 5), torch.zeros(1, 3, 5)))


def test_register_parameter_and_buffer_refuse_what_torch_refuses(device: str) -> None:
    m = nn.Linear(2, 2).to(device)
    t = gpubp.zeros(3, device=device)
    with pytest.raises(TypeError, match="register_parameter: cannot assign a Tensor to parameter 'p'"):
        m.register_parameter("p", t)
    with pytest.raises(KeyError, match="register_buffer: attribute 'weight' already exists"):
        m.register_buffer("weight", t)
    with pytest.raises(KeyError, match="register_parameter: attribute 'training' already exists"):
        m.register_parameter("training", None)
    assert "p" not in dict(m.named_parameters()) and isinstance(m.weight, nn.Parameter)
    m.register_buffer("b", t)  # a new name, and a registered one replaced, are fine
    m.register_buffer("b", gpubp.ones(3, device=device))
    m.register_parameter("bias", None)
    assert m.bias is None and m.b.shape == (3,)
    if torch is not None:
        tm = TNN.Linear(2, 2)
        with pytest.raises(TypeError):
            tm.register_parameter("p", torch.zeros(3))
        with pytest.raises(KeyError):
            tm.register_buffer("weight", torch.zeros(3))


@pytest.mark.parametrize(
    "kw",
    [
        {"max_norm": 1.0},
        {"scale_grad_by_freq": True},
        {"max_norm": 0.5, "norm_type": 1.0, "scale_grad_by_freq": True, "padding_idx": 2},
    ],
)
def test_embedding_max_norm_and_scale_grad_by_freq_match_torch(device: str, kw: dict) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    rng = np.random.default_rng(7)
    w, idx = rng.standard_normal((10, 4)), np.array([[1, 2, 2], [5, 1, 2]])
    ours = gpubp.tensor(w, device=device, requires_grad=True)
    theirs = torch.tensor(w, requires_grad=True)
    out = F.embedding(gpubp.tensor(idx, device=device), ours, **kw)
    ref = torch.nn.functional.embedding(torch.tensor(idx), theirs, **kw)
    cot = rng.standard_normal(tuple(ref.shape))
    (out * gpubp.tensor(cot, device=device)).sum().backward()
    (ref * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.grad.cpu().numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)  # renormed
    with pytest.raises(ValueError, match="embedding: sparse=True"):
        F.embedding(gpubp.tensor(idx, device=device), ours, sparse=True)


def test_embedding_module_options_and_from_pretrained_match_torch(device: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    w = np.random.default_rng(3).standard_normal((6, 3))
    ours = nn.Embedding.from_pretrained(gpubp.tensor(w, device=device), max_norm=1.0, padding_idx=1)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), max_norm=1.0, padding_idx=1)
    assert repr(ours) == repr(theirs)
    assert not ours.weight.requires_grad
    idx = np.array([0, 3, 3, 5])
    out = ours(gpubp.tensor(idx, device=device))
    np.testing.assert_allclose(out.cpu().numpy(), theirs(torch.tensor(idx)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.detach().cpu().numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    trainable = nn.Embedding.from_pretrained(gpubp.tensor(w, device=device), freeze=False, scale_grad_by_freq=True)
    assert trainable.weight.requires_grad and "scale_grad_by_freq=True" in repr(trainable)
