"""PyTorch's transformer modules against torch, with the same weights: outputs and the gradients of every input and
parameter in float64 (tight) and float32 (loose), eval mode; norm_first, batch_first, unbatched input, activations as
strings and callables, bias=False, every mask, key padding and causal hint; encoder / decoder stacks with a final norm,
the full Transformer, generate_square_subsequent_mask; state dicts, dropout in training, warnings and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch
from test_nn_attention import _np, _raises_like_torch, check, twins

import gpubp
from gpubp import nn
from gpubp.nn import functional as F

pytestmark = [
    pytest.mark.skipif(torch is None, reason="PyTorch is not installed"),
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:Support for mismatched"),  # a float causal mask with bool key padding
]

D, H, FF = 8, 2, 16  # d_model, heads, feed-forward width: small, so emulated runs stay quick


def _randomize(theirs: Any) -> Any:
    """Random 1-D parameters (torch starts biases at 0 and LayerNorm weights at 1): every one is then tested."""
    with torch.no_grad():
        for p in theirs.parameters():
            if p.ndim == 1:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
    return theirs.eval()


def _pair(kind: str, args: tuple, kw: dict, device: str, dtype: str, acts: tuple | None = None) -> tuple[Any, Any]:
    """(ours, theirs) of nn.<kind>(*args, **kw), in eval mode, with torch's weights; ``acts``: (ours, theirs)
    activation callables."""
    g_kw, t_kw = dict(kw), dict(kw)
    if acts is not None:
        g_kw["activation"], t_kw["activation"] = acts
    torch.manual_seed(len(kind) + len(kw))
    ours, theirs = twins(
        _randomize(getattr(torch.nn, kind)(*args, **t_kw)), getattr(nn, kind)(*args, **g_kw), device, dtype
    )
    return ours.eval(), theirs


def _seq(rng: np.random.Generator, n: int, length: int, batch_first: bool, batched: bool = True) -> np.ndarray:
    if not batched:
        return rng.standard_normal((length, D))
    return rng.standard_normal((n, length, D) if batch_first else (length, n, D))


ACTIVATIONS = {
    "relu": None,
    "gelu": None,
    "callable": (lambda x: gpubp.tanh(x), lambda x: torch.tanh(x)),
    "module": (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_encoder_layer(device: str, dtype: str, norm_first: bool, batch_first: bool, activation: str) -> None:
    """One encoder layer with a bool src_mask and key padding, each layout, norm placement and activation."""
    key = ("enc", norm_first, batch_first, activation)
    rng = rng_for(*key)
    acts = ACTIVATIONS[activation]
    kw = {"dim_feedforward": FF, "dropout": 0.0, "norm_first": norm_first, "batch_first": batch_first}
    if acts is None:
        kw["activation"] = activation
    ours, theirs = _pair("TransformerEncoderLayer", (D, H), kw, device, dtype, acts)
    assert ours.activation_relu_or_gelu == theirs.activation_relu_or_gelu
    mask = rng.random((5, 5)) < 0.3
    np.fill_diagonal(mask, False)
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3] = True
    mask[:, 3] = False
    masks = {"src_mask": mask, "src_key_padding_mask": kpm}
    call = lambda m, x, mk: m(x[0], **mk)  # noqa: E731
    check(ours, theirs, call, [_seq(rng, 2, 5, batch_first)], masks, device, dtype, key, noncontig=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "masks",
    ["none", "float", "causal", "causal+kpm", "float_kpm", "unbatched"],
)
def test_encoder_layer_masks(device: str, dtype: str, masks: str) -> None:
    """Float src_mask, the is_causal hint (with and without key padding), float key padding, unbatched input;
    bias=False."""
    key = ("enc-masks", masks)
    rng = rng_for(*key)
    ours, theirs = _pair("TransformerEncoderLayer", (D, H), {"dim_feedforward": FF, "dropout": 0.0, "bias": False},
                         device, dtype)  # fmt: skip
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=gpubp.float64)
    given: dict[str, Any] = {
        "none": {},
        "float": {"src_mask": rng.standard_normal((4, 4))},
        "causal": {"src_mask": _np(causal), "is_causal": True},
        "causal+kpm": {
            "src_mask": _np(causal),
            "is_causal": True,
            "src_key_padding_mask": np.array([[0, 0, 0, 1]] * 3, bool),
        },
        "float_kpm": {"src_key_padding_mask": rng.standard_normal((3, 4))},
        "unbatched": {"src_mask": rng.random((4, 4)) < 0.3, "src_key_padding_mask": np.array([0, 0, 1, 0], bool)},
    }[masks]
    if masks == "unbatched":
        given["src_mask"][:, 0] = False
    hint = given.pop("is_causal", False)
    call = lambda m, x, mk: m(x[0], is_causal=hint, **mk)  # noqa: E731
    check(ours, theirs, call, [_seq(rng, 3, 4, False, masks != "unbatched")], given, device, dtype, key)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "all", "causal"])
def test_decoder_layer(device: str, dtype: str, norm_first: bool, batch_first: bool, masks: str) -> None:
    """One decoder layer: tgt_mask, memory_mask, both key padding masks, tgt_is_causal; gradients reach memory."""
    key = ("dec", norm_first, batch_first, masks)
    rng = rng_for(*key)
    kw = {"dim_feedforward": FF, "dropout": 0.0, "norm_first": norm_first, "batch_first": batch_first,
          "activation": "gelu"}  # fmt: skip
    ours, theirs = _pair("TransformerDecoderLayer", (D, H), kw, device, dtype)
    causal = _np(nn.Transformer.generate_square_subsequent_mask(4, dtype=gpubp.float64))
    memory_mask = rng.random((4, 5)) < 0.3
    memory_mask[:, 0] = False
    given = {
        "none": {},
        "all": {
            "tgt_mask": causal,
            "memory_mask": memory_mask,
            "tgt_key_padding_mask": np.array([[0, 0, 0, 1], [0, 0, 0, 0]], bool),
            "memory_key_padding_mask": np.array([[0, 0, 0, 0, 1], [0, 1, 0, 0, 0]], bool),
        },
        "causal": {"tgt_mask": causal},
    }[masks]
    hint = masks == "causal"
    call = lambda m, x, mk: m(x[0], x[1], tgt_is_causal=hint, **mk)  # noqa: E731
    arrays = [_seq(rng, 2, 4, batch_first), _seq(rng, 2, 5, batch_first)]
    check(ours, theirs, call, arrays, given, device, dtype, key)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stacks_with_final_norm(device: str, dtype: str, batch_first: bool) -> None:
    """TransformerEncoder and TransformerDecoder of 2 deep-copied layers each, with a final LayerNorm."""
    key = ("stacks", batch_first)
    rng = rng_for(*key)
    kw = {"dim_feedforward": FF, "dropout": 0.0, "batch_first": batch_first}
    t_enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, H, **kw), 2, torch.nn.LayerNorm(D))
    g_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, **kw), 2, nn.LayerNorm(D))
    assert g_enc.layers[0] is not g_enc.layers[1] and g_enc.num_layers == 2
    ours, theirs = twins(_randomize(t_enc), g_enc, device, dtype)
    kpm = np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], bool)
    call = lambda m, x, mk: m(x[0], **mk)  # noqa: E731
    check(ours.eval(), theirs, call, [_seq(rng, 2, 5, batch_first)], {"src_key_padding_mask": kpm}, device, dtype, key)
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, H, **kw), 2, torch.nn.LayerNorm(D))
    ours, theirs = twins(_randomize(t_dec), nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, **kw), 2,
                                                                  nn.LayerNorm(D)), device, dtype)  # fmt: skip
    causal = _np(nn.Transformer.generate_square_subsequent_mask(4))
    call = lambda m, x, mk: m(x[0], x[1], **mk)  # noqa: E731
    arrays = [_seq(rng, 2, 4, batch_first), _seq(rng, 2, 5, batch_first)]
    check(ours.eval(), theirs, call, arrays, {"tgt_mask": causal}, device, dtype, key)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_transformer(device: str, dtype: str, batch_first: bool, norm_first: bool) -> None:
    """The full Transformer (2 + 2 layers): src / tgt / memory masks and key padding, tgt_is_causal."""
    key = ("transformer", batch_first, norm_first)
    rng = rng_for(*key)
    kw = {"num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": FF, "dropout": 0.0,
          "batch_first": batch_first, "norm_first": norm_first}  # fmt: skip
    ours, theirs = _pair("Transformer", (D, H), kw, device, dtype)
    src_mask = rng.random((5, 5)) < 0.3
    np.fill_diagonal(src_mask, False)
    masks = {
        "src_mask": src_mask,
        "tgt_mask": _np(nn.Transformer.generate_square_subsequent_mask(4)),
        "memory_mask": np.zeros((4, 5), bool),
        "src_key_padding_mask": np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 0]], bool),
        "memory_key_padding_mask": np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 0]], bool),
    }
    call = lambda m, x, mk: m(x[0], x[1], tgt_is_causal=True, **mk)  # noqa: E731
    arrays = [_seq(rng, 2, 5, batch_first), _seq(rng, 2, 4, batch_first)]
    check(ours, theirs, call, arrays, masks, device, dtype, key)


def test_transformer_unbatched(device: str) -> None:
    """The full Transformer on unbatched (S, E) / (T, E) input."""
    rng = rng_for("unbatched")
    kw = {"num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": FF, "dropout": 0.0}
    ours, theirs = _pair("Transformer", (D, H), kw, device, "float64")
    call = lambda m, x, mk: m(x[0], x[1], **mk)  # noqa: E731
    arrays = [rng.standard_normal((5, D)), rng.standard_normal((3, D))]
    check(ours, theirs, call, arrays, {"tgt_mask": _np(nn.Transformer.generate_square_subsequent_mask(3))}, device,
          "float64", "unbatched")  # fmt: skip


def test_generate_square_subsequent_mask(device: str) -> None:
    """-inf above the diagonal, 0 on and below; the dtype and device asked for (float32 by default)."""
    for sz, dtype in ((1, None), (4, None), (5, gpubp.float64)):
        got = nn.Transformer.generate_square_subsequent_mask(sz, device=device, dtype=dtype)
        want = torch.nn.Transformer.generate_square_subsequent_mask(sz, dtype=None if dtype is None else torch.float64)
        assert str(got.dtype) == str(want.dtype).replace("torch.", "") and got.device.type == device.split(":")[0]
        np.testing.assert_array_equal(_np(got), want.numpy())


def test_state_dict_keys_and_init(device: str) -> None:
    """Keys and shapes as torch's (bias=False too); torch's init: xavier-uniform matrices in the Transformer; ours
    loads into torch and gives its output."""
    for kind, args, kw in (
        ("TransformerEncoderLayer", (D, H), {"dim_feedforward": FF}),
        ("TransformerDecoderLayer", (D, H), {"dim_feedforward": FF, "bias": False}),
        ("Transformer", (D, H), {"num_encoder_layers": 2, "num_decoder_layers": 1, "dim_feedforward": FF}),
    ):
        ours, theirs = getattr(nn, kind)(*args, **kw), getattr(torch.nn, kind)(*args, **kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ]
    linear1 = _np(ours.encoder.layers[0].linear1.weight)  # xavier, not Linear's kaiming bound 1/sqrt(fan_in)
    assert np.abs(linear1).max() > 1 / np.sqrt(D) and np.abs(linear1).max() <= np.sqrt(6 / (D + FF))
    ours = ours.to(device).eval()
    theirs.load_state_dict({k: torch.tensor(_np(v)) for k, v in ours.state_dict().items()})
    theirs.eval()
    rng = rng_for("sd")
    src, tgt = rng.standard_normal((5, 2, D)).astype(np.float32), rng.standard_normal((3, 2, D)).astype(np.float32)
    got = ours(gpubp.tensor(src, device=device), gpubp.tensor(tgt, device=device))
    np.testing.assert_allclose(_np(got), theirs(torch.tensor(src), torch.tensor(tgt)).detach().numpy(), rtol=2e-4,
                               atol=2e-4)  # fmt: skip


def test_training_dropout(device: str) -> None:
    """Training mode with dropout: finite results that differ between calls, gradients flow; eval is deterministic."""
    rng = rng_for("train")
    m = nn.Transformer(D, H, 1, 1, FF, dropout=0.3).to(device)
    src = gpubp.tensor(rng.standard_normal((5, 2, D)).astype(np.float32), device=device, requires_grad=True)
    tgt = gpubp.tensor(rng.standard_normal((3, 2, D)).astype(np.float32), device=device)
    a, b = m(src, tgt), m(src, tgt)
    assert np.all(np.isfinite(_np(a))) and not np.allclose(_np(a), _np(b))
    a.sum().backward()
    assert np.all(np.isfinite(_np(src.grad))) and m.encoder.layers[0].linear1.weight.grad is not None
    m.eval()
    np.testing.assert_array_equal(_np(m(src, tgt)), _np(m(src, tgt)))


def test_nested_tensor_flag_warning() -> None:
    """enable_nested_tensor is accepted; torch's warning where torch warns (norm_first, batch_first=False, ...)."""
    for kw in ({"norm_first": True, "batch_first": True}, {"batch_first": False}):
        with pytest.warns(UserWarning, match="enable_nested_tensor is True") as got:
            nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, **kw), 1)
        with pytest.warns(UserWarning) as want:
            torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, H, FF, **kw), 1)
        assert [str(w.message) for w in got] == [str(w.message) for w in want]
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, batch_first=True), 1, enable_nested_tensor=False)
    assert enc.enable_nested_tensor is False and enc.mask_check is True


def test_errors(device: str) -> None:
    """Unknown activation, batch and feature mismatches, a causal hint without a mask, bad mask shapes: as torch's."""
    _raises_like_torch(lambda: nn.TransformerEncoderLayer(D, H, activation="tanh"),
                       lambda: torch.nn.TransformerEncoderLayer(D, H, activation="tanh"), "relu/gelu")  # fmt: skip
    _raises_like_torch(lambda: nn.TransformerDecoderLayer(6, 4), lambda: torch.nn.TransformerDecoderLayer(6, 4),
                       "divisible")  # fmt: skip
    kw = {"num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": FF}
    ours, theirs = nn.Transformer(D, H, **kw).to(device), torch.nn.Transformer(D, H, **kw)
    rng = rng_for("errors")

    def both(*shapes: tuple, **masks: Any) -> tuple[Any, Any]:
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        g_masks = {k: gpubp.tensor(v, device=device) if isinstance(v, np.ndarray) else v for k, v in masks.items()}
        t_masks = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in masks.items()}
        return (lambda: ours(*(gpubp.tensor(a, device=device) for a in arrays), **g_masks),
                lambda: theirs(*(torch.tensor(a) for a in arrays), **t_masks))  # fmt: skip

    _raises_like_torch(*both((5, 2, D), (3, 3, D)), "batch number")
    _raises_like_torch(*both((5, 2, D), (3, 2, 4)), "feature number")
    _raises_like_torch(*both((5, 2, D), (3, 2, D), tgt_is_causal=True), "Need attn_mask")
    _raises_like_torch(*both((5, 2, D), (3, 2, D), src_mask=np.zeros((4, 4), bool)), "2D attn_mask")
    _raises_like_torch(*both((5, 2, D), (3, 2, D), memory_key_padding_mask=np.zeros((2, 4), bool)), "key_padded")
    layer = nn.TransformerEncoderLayer(D, H, FF).to(device)
    with pytest.raises(TypeError, match="only bool and floating"):
        layer(gpubp.zeros(3, 2, D, device=device), src_mask=gpubp.zeros(3, 3, dtype=gpubp.int64, device=device))
    assert F.relu is nn.TransformerEncoderLayer(D, H, FF).activation


def test_transformer_training_step_never_reads_device_data() -> None:
    """Forward, backward and an AdamW step of a decoder-style stack (causal mask, key padding, dropout in attention
    and the feed-forward) with no host read of device data: what a GPU step must not wait for."""
    from test_no_sync import _strict, strict

    gpubp.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, activation="gelu", batch_first=True, norm_first=True)
    model = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)
    opt = gpubp.optim.AdamW(model.parameters(), lr=1e-3)
    for p in model.parameters():
        _strict(p.data)
    rng = rng_for("nosync-transformer")
    x = _strict(gpubp.tensor(rng.standard_normal((3, 5, 8)).astype(np.float32), requires_grad=True))
    causal = _strict(nn.Transformer.generate_square_subsequent_mask(5))
    padding = _strict(gpubp.tensor(np.array([[False] * 5, [False] * 4 + [True], [False] * 3 + [True] * 2])))
    with strict():
        out = model(x, mask=causal, src_key_padding_mask=padding, is_causal=True)
        (out * out).mean().backward()
        opt.step()
    assert x.grad is not None and all(p.grad is not None for p in model.parameters())
