"""Every differentiable op: float64 gradcheck plus forward/backward against PyTorch, on fresh
random inputs of several shapes (broadcasting, size-1 dims, 0-d, non-contiguous views)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from conftest import check_op, torch

import gpubp
import gpubp.ops

if torch is not None:
    import torch.nn.functional as F
else:
    F = None

_COND = np.random.default_rng(7).random((3, 4)) > 0.5
_IDX = np.array([0, 2, 2, 1, 0])
_MASK = np.array([True, False, True, True])
_TARGET = np.array([1, 0, 3, 3, 2, 1])
_TARGET_IGN = np.array([1, -100, 3, 3, -100, 1])
_PUT = (slice(None), np.array([1, 3]))


def T(a):  # a constant torch tensor from NumPy data, for the torch side of a case
    return torch.tensor(a)


# (op, gpubp fn, torch fn, input shapes, input kinds[, gradcheck options])
CASES = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (4,)], "any"),
    ("add", lambda a, b: a + b, lambda a, b: a + b, [(2, 1, 3), (4, 1)], "any"),
    ("add", lambda a, b: gpubp.add(a, b) + 2.5, lambda a, b: a + b + 2.5, [(), (3,)], "any"),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [(3, 1), (1, 4)], "any"),
    ("sub", lambda a: 1.5 - a, lambda a: 1.5 - a, [(2, 3)], "any"),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [(2, 3, 4), (3, 1)], "any"),
    ("mul", lambda a: 3 * a * a, lambda a: 3 * a * a, [(5,)], "any"),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [(3, 4), (1, 4)], ["any", "away"]),
    ("div", lambda a: 2.0 / a, lambda a: 2.0 / a, [(2, 3)], "away"),
    ("pow", lambda a, b: a**b, lambda a, b: a**b, [(3, 4), (4,)], ["pos", "any"]),
    ("pow", lambda a: a**3, lambda a: a**3, [(2, 3)], "any"),
    ("pow", lambda a: a**2 + a**0.5 + a**0, lambda a: a**2 + a**0.5 + a**0, [(4,)], "pos"),
    ("pow", lambda a: 2.0**a, lambda a: 2.0**a, [(3,)], "any"),
    ("neg", lambda a: -a, lambda a: -a, [(2, 3)], "any"),
    ("abs", lambda a: gpubp.abs(a), lambda a: torch.abs(a), [(3, 4)], "away"),
    ("exp", lambda a: a.exp(), lambda a: a.exp(), [(3, 4)], "any"),
    ("exp", lambda a: a.exp(), lambda a: a.exp(), [()], "any"),
    ("log", lambda a: a.log(), lambda a: a.log(), [(3, 4)], "pos"),
    ("log1p", lambda a: a.log1p(), lambda a: a.log1p(), [(3, 4)], "pos"),
    ("sqrt", lambda a: a.sqrt(), lambda a: a.sqrt(), [(3, 4)], "pos"),
    ("rsqrt", lambda a: a.rsqrt(), lambda a: a.rsqrt(), [(3, 4)], "pos"),
    ("sin", lambda a: a.sin(), lambda a: a.sin(), [(3, 4)], "any"),
    ("cos", lambda a: a.cos(), lambda a: a.cos(), [(3, 4)], "any"),
    ("erf", lambda a: a.erf(), lambda a: a.erf(), [(3, 4)], "any"),
    ("erf", lambda a: gpubp.erf(a * 3), lambda a: torch.erf(a * 3), [(5,)], "any"),
    ("sign", lambda a: a.sign() * a + gpubp.sign(a), lambda a: a.sign() * a + torch.sign(a), [(3, 4)], "away"),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [(4, 5)], "any"),
    ("clamp", lambda a: gpubp.clamp(a, min=0.1), lambda a: torch.clamp(a, min=0.1), [(6,)], "any"),
    ("clamp", lambda a, lo, hi: a.clamp(lo, hi + 2), lambda a, lo, hi: a.clamp(lo, hi + 2), [(3, 4), (4,), (3, 1)], "any"),
    ("maximum", gpubp.maximum, lambda a, b: torch.maximum(a, b), [(3, 4), (4,)], "any"),
    ("minimum", gpubp.minimum, lambda a, b: torch.minimum(a, b), [(2, 1), (2, 3)], "any"),
    ("where", lambda a, b: gpubp.where(gpubp.tensor(_COND, device=a.device), a, b),
     lambda a, b: torch.where(T(_COND), a, b), [(3, 4), (4,)], "any"),
    ("where", lambda a: gpubp.where(a > 0, a, 0.0), lambda a: torch.where(a > 0, a, 0.0), [(5,)], "away"),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)], "any"),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4, 5)], "any"),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4,)], "any"),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4,)], "any"),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 2)], "any"),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)], "any"),
    ("linear", gpubp.linear, lambda x, w, b: F.linear(x, w, b), [(6, 4), (3, 4), (3,)], "any"),
    ("linear", gpubp.linear, lambda x, w, b: F.linear(x, w, b), [(2, 5, 4), (3, 4), (3,)], "any"),
    ("linear", lambda x, w: gpubp.linear(x, w), lambda x, w: F.linear(x, w), [(4,), (3, 4)], "any"),
    ("linear", lambda x, w: gpubp.linear(x, w), lambda x, w: F.linear(x, w), [(5, 4), (4,)], "any"),  # 1-D weight
    ("linear", gpubp.linear, lambda x, w, b: F.linear(x, w, b), [(6, 4), (3, 4), ()], "any"),  # 0-d bias
    ("linear", gpubp.linear, lambda x, w, b: F.linear(x, w, b), [(2, 4), (3, 4), (2, 3)], "any"),  # bias as output
    ("sum", lambda a: a.sum(), lambda a: a.sum(), [(3, 4)], "any"),
    ("sum", lambda a: a.sum(1), lambda a: a.sum(1), [(3, 4)], "any"),
    ("sum", lambda a: a.sum((0, 2), keepdim=True), lambda a: a.sum((0, 2), keepdim=True), [(2, 3, 4)], "any"),
    ("mean", lambda a: a.mean(), lambda a: a.mean(), [(3, 4)], "any"),
    ("mean", lambda a: a.mean(-1, keepdim=True), lambda a: a.mean(-1, keepdim=True), [(2, 3, 4)], "any"),
    ("max", lambda a: a.max(), lambda a: a.max(), [(3, 4)], "any"),
    ("max", lambda a: a.max(1).values, lambda a: a.max(1).values, [(3, 4)], "any"),
    ("max", lambda a: a.max(0, keepdim=True)[0], lambda a: a.max(0, keepdim=True)[0], [(3, 4)], "any"),
    ("min", lambda a: a.min(), lambda a: a.min(), [(3, 4)], "any"),
    ("min", lambda a: a.min(-1).values, lambda a: a.min(-1).values, [(2, 3, 4)], "any"),
    ("amax", lambda a: a.amax((0, 2)), lambda a: a.amax((0, 2)), [(2, 3, 4)], "any"),
    ("amin", lambda a: a.amin(1, keepdim=True), lambda a: a.amin(1, keepdim=True), [(3, 4)], "any"),
    ("var", lambda a: a.var(), lambda a: a.var(), [(3, 4)], "any"),
    ("var", lambda a: a.var(1, correction=0), lambda a: a.var(1, correction=0), [(3, 4)], "any"),
    ("std", lambda a: a.std(0, keepdim=True), lambda a: a.std(0, keepdim=True), [(5, 3)], "any"),
    ("std", lambda a: a.std(), lambda a: a.std(), [(7,)], "any"),
    ("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), [(3, 4)], "any"),
    ("logsumexp", lambda a: gpubp.logsumexp(a * 100, (0, 1)), lambda a: torch.logsumexp(a * 100, (0, 1)), [(2, 3)], "any"),
    ("norm", lambda a: a.norm(), lambda a: torch.linalg.vector_norm(a), [(3, 4)], "any"),
    ("norm", lambda a: a.norm(1, dim=1), lambda a: torch.linalg.vector_norm(a, 1, dim=1), [(3, 4)], "away"),
    ("norm", lambda a: a.norm(math.inf, dim=0), lambda a: torch.linalg.vector_norm(a, math.inf, dim=0), [(3, 4)], "any"),
    ("norm", lambda a: a.norm(3, dim=-1, keepdim=True), lambda a: torch.linalg.vector_norm(a, 3, dim=-1, keepdim=True), [(2, 5)], "away"),
    ("norm", lambda a: a.norm(-1.5, dim=1), lambda a: torch.linalg.vector_norm(a, -1.5, dim=1), [(3, 4)], "away"),
    ("norm", lambda a: a.norm(0) + a.sum(), lambda a: torch.linalg.vector_norm(a, 0) + a.sum(), [(3, 4)], "away"),
    ("reshape", lambda a: a.reshape(4, -1) * 2, lambda a: a.reshape(4, -1) * 2, [(2, 3, 2)], "any"),
    ("flatten", lambda a: a.flatten(1) * 2, lambda a: a.flatten(1) * 2, [(2, 3, 2)], "any"),
    ("transpose", lambda a: a.transpose(0, 2) * 2, lambda a: a.transpose(0, 2) * 2, [(2, 3, 4)], "any"),
    ("t", lambda a: a.t() * 2, lambda a: a.t() * 2, [(3, 4)], "any"),
    ("t", lambda a: gpubp.t(a) * 2, lambda a: torch.t(a) * 2, [(5,)], "any"),
    ("narrow", lambda a: a.narrow(1, 1, 2) * 2, lambda a: a.narrow(1, 1, 2) * 2, [(3, 4, 2)], "any"),
    ("narrow", lambda a: gpubp.narrow(a, -1, -3, 3) * 2, lambda a: torch.narrow(a, -1, -3, 3) * 2, [(2, 5)], "any"),
    ("mm", lambda a, b: a.mm(b), lambda a, b: a.mm(b), [(3, 4), (4, 5)], "any"),
    ("mm", lambda a, b: gpubp.mm(a, b.t()), lambda a, b: torch.mm(a, b.t()), [(3, 4), (5, 4)], "any"),
    ("bmm", lambda a, b: gpubp.bmm(a, b), lambda a, b: torch.bmm(a, b), [(2, 3, 4), (2, 4, 5)], "any"),
    ("permute", lambda a: a.permute(1, 2, 0) * 2, lambda a: a.permute(1, 2, 0) * 2, [(2, 3, 4)], "any"),
    ("permute", lambda a: a.T * 2, lambda a: a.T * 2, [(2, 3)], "any"),
    ("expand", lambda a: a.expand(2, 3, -1) * 2, lambda a: a.expand(2, 3, -1) * 2, [(3, 1)], "any"),
    ("broadcast_to", lambda a: gpubp.broadcast_to(a, (4, 3)) * 2, lambda a: torch.broadcast_to(a, (4, 3)) * 2, [(3,)], "any"),
    ("squeeze", lambda a: a.squeeze() * 2, lambda a: a.squeeze() * 2, [(1, 3, 1)], "any"),
    ("squeeze", lambda a: a.squeeze(0) * 2, lambda a: a.squeeze(0) * 2, [(1, 3, 1)], "any"),
    ("unsqueeze", lambda a: a.unsqueeze(-1) * 2, lambda a: a.unsqueeze(-1) * 2, [(2, 3)], "any"),
    ("cat", lambda a, b: gpubp.cat([a, b, a], 1), lambda a, b: torch.cat([a, b, a], 1), [(2, 3), (2, 1)], "any"),
    ("stack", lambda a, b: gpubp.stack([a, b], -1), lambda a, b: torch.stack([a, b], -1), [(2, 3), (2, 3)], "any"),
    ("split", lambda a: a.split(2, 1), lambda a: a.split(2, 1), [(3, 5)], "any"),
    ("split", lambda a: gpubp.split(a, [1, 3], 0), lambda a: torch.split(a, [1, 3], 0), [(4, 2)], "any"),
    ("chunk", lambda a: a.chunk(3, -1), lambda a: a.chunk(3, -1), [(2, 7)], "any"),
    ("pad", lambda a: gpubp.pad(a, (1, 2), value=0.5), lambda a: F.pad(a, (1, 2), value=0.5), [(2, 3)], "any"),
    ("pad", lambda a: gpubp.pad(a, (1, 1, 2, 0), mode="reflect"), lambda a: F.pad(a, (1, 1, 2, 0), mode="reflect"), [(1, 3, 4)], "any"),
    ("pad", lambda a: gpubp.pad(a, (2, 1), mode="replicate"), lambda a: F.pad(a, (2, 1), mode="replicate"), [(1, 2, 3)], "any"),
    ("pad", lambda a: gpubp.pad(a, (1, 2), mode="circular"), lambda a: F.pad(a, (1, 2), mode="circular"), [(1, 2, 3)], "any"),
    ("getitem", lambda a: a[1:, ::2] * 2, lambda a: a[1:, ::2] * 2, [(3, 5)], "any"),
    ("getitem", lambda a: a[..., None, 1], lambda a: a[..., None, 1], [(2, 3, 4)], "any"),
    ("getitem", lambda a: a[_IDX], lambda a: a[T(_IDX)], [(3, 4)], "any"),
    ("getitem", lambda a: a[:, _MASK], lambda a: a[:, T(_MASK)], [(3, 4)], "any"),
    ("getitem", lambda a: a[a > 0], lambda a: a[a > 0], [(3, 4)], "away"),
    ("getitem", lambda a: a[_IDX, 1:], lambda a: a[T(_IDX), 1:], [(3, 4)], "any"),
    ("index_put", lambda a, v: gpubp.ops.index_put(a, _PUT, v), lambda a, v: a.index_put((T(np.arange(3))[:, None], T(_PUT[1])), v), [(3, 4), (3, 2)], "any"),
    ("index_put", lambda a, v: gpubp.ops.index_put(a * 1, (slice(1, 3),), v), lambda a, v: torch.cat([a[:1], v.expand(2, 4), a[3:]]), [(4, 4), (4,)], "any"),
    ("contiguous", lambda a: a.T.contiguous() * 2, lambda a: a.T.contiguous() * 2, [(3, 4)], "any"),
    ("clone", lambda a: a.clone() * 2, lambda a: a.clone() * 2, [(3, 4)], "any"),
    # a float32 round trip: finite differences need a step far above float32's rounding
    ("astype", lambda a: a.float().double() * 2, lambda a: a.float().double() * 2, [(3, 4)], "any", {"eps": 1e-2}),
    ("relu", gpubp.relu, lambda a: F.relu(a), [(3, 4)], "away"),
    ("leaky_relu", lambda a: gpubp.leaky_relu(a, 0.2), lambda a: F.leaky_relu(a, 0.2), [(3, 4)], "away"),
    ("elu", lambda a: gpubp.elu(a, 1.5), lambda a: F.elu(a, 1.5), [(3, 4)], "away"),
    ("sigmoid", gpubp.sigmoid, torch.sigmoid if torch else None, [(3, 4)], "any"),
    ("sigmoid", lambda a: gpubp.sigmoid(a * 40), lambda a: torch.sigmoid(a * 40), [(6,)], "any"),
    ("tanh", gpubp.tanh, torch.tanh if torch else None, [(3, 4)], "any"),
    ("softplus", lambda a: gpubp.softplus(a, beta=2.0), lambda a: F.softplus(a, beta=2.0), [(3, 4)], "any"),
    ("softplus", lambda a: gpubp.softplus(a * 15), lambda a: F.softplus(a * 15), [(8,)], "away"),
    ("gelu", gpubp.gelu, lambda a: F.gelu(a), [(3, 4)], "any"),
    ("gelu", lambda a: gpubp.gelu(a, approximate="tanh"), lambda a: F.gelu(a, approximate="tanh"), [(3, 4)], "any"),
    ("silu", gpubp.silu, lambda a: F.silu(a), [(3, 4)], "any"),
    ("softmax", lambda a: gpubp.softmax(a, 1), lambda a: F.softmax(a, 1), [(3, 4)], "any"),
    ("softmax", lambda a: gpubp.softmax(a * 30, 0), lambda a: F.softmax(a * 30, 0), [(3, 2, 4)], "any"),
    ("log_softmax", lambda a: gpubp.log_softmax(a, -1), lambda a: F.log_softmax(a, -1), [(3, 4)], "any"),
    ("log_softmax", lambda a: gpubp.log_softmax(a * 30, 1), lambda a: F.log_softmax(a * 30, 1), [(2, 3, 2)], "any"),
    ("cross_entropy", lambda a: gpubp.cross_entropy(a, gpubp.tensor(_TARGET, device=a.device)),
     lambda a: F.cross_entropy(a, T(_TARGET)), [(6, 4)], "any"),
    ("cross_entropy", lambda a: gpubp.cross_entropy(a, gpubp.tensor(_TARGET_IGN, device=a.device), label_smoothing=0.1),
     lambda a: F.cross_entropy(a, T(_TARGET_IGN), label_smoothing=0.1), [(6, 4)], "any"),
    ("cross_entropy", lambda a: gpubp.cross_entropy(a, gpubp.tensor(_TARGET_IGN, device=a.device), reduction="none"),
     lambda a: F.cross_entropy(a, T(_TARGET_IGN), reduction="none"), [(6, 4)], "any"),
    ("cross_entropy", lambda a: gpubp.cross_entropy(a * 20, gpubp.tensor(_TARGET, device=a.device), reduction="sum"),
     lambda a: F.cross_entropy(a * 20, T(_TARGET), reduction="sum"), [(6, 4)], "any"),
    ("conv2d", lambda x, w, b: gpubp.ops.conv2d(x, w, b, 1, 1), lambda x, w, b: F.conv2d(x, w, b, 1, 1), [(2, 3, 5, 4), (4, 3, 3, 3), (4,)], "any"),
    ("conv2d", lambda x, w: gpubp.ops.conv2d(x, w, None, 2, 0, 2, 2), lambda x, w: F.conv2d(x, w, None, 2, 0, 2, 2), [(1, 4, 7, 7), (2, 2, 2, 2)], "any"),
    ("max_pool2d", lambda x: gpubp.ops.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2), [(2, 2, 4, 6)], "any"),
    ("max_pool2d", lambda x: gpubp.ops.max_pool2d(x, 3, 2, 1), lambda x: F.max_pool2d(x, 3, 2, 1), [(1, 2, 5, 5)], "any"),
    ("avg_pool2d", lambda x: gpubp.ops.avg_pool2d(x, 2, 1), lambda x: F.avg_pool2d(x, 2, 1), [(2, 2, 4, 5)], "any"),
    ("mse_loss", gpubp.mse_loss, lambda a, b: F.mse_loss(a, b), [(4, 3), (4, 3)], "any"),
    ("mse_loss", lambda a, b: gpubp.mse_loss(a, b, reduction="none"), lambda a, b: F.mse_loss(a, b, reduction="none"), [(5,), (5,)], "any"),
]  # fmt: skip

# the op families' cases, one file each (tests/cases_<family>.py)
for _family in gpubp.ops.FAMILIES:
    CASES += importlib.import_module(f"cases_{_family}").CASES

_IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_op(device: str, case: tuple) -> None:
    name, gp_fn, torch_fn, shapes, kinds, *opts = case
    check_op(
        device, gp_fn, torch_fn if torch is not None else None, shapes, kinds, key=name, **(opts[0] if opts else {})
    )


@pytest.mark.parametrize("case", [c for c in CASES if any(len(s) >= 2 for s in c[3])], ids=lambda c: c[0])
def test_op_noncontiguous(device: str, case: tuple) -> None:
    name, gp_fn, torch_fn, shapes, kinds, *opts = case
    check_op(device, gp_fn, None, shapes, kinds, key=name, noncontig=True, **(opts[0] if opts else {}))


def test_every_differentiable_op_has_a_case() -> None:
    covered = {c[0] for c in CASES}
    missing = set(gpubp.ops.DIFFERENTIABLE) - covered
    assert not missing, f"differentiable ops without a gradient case: {sorted(missing)}"


def test_every_public_op_is_classified() -> None:
    """A new op must be listed as differentiable (and get a case) or as having no gradient."""
    import inspect

    public = {
        n
        for n, f in vars(gpubp.ops).items()
        if inspect.isfunction(f) and not n.startswith("_") and f.__module__.startswith("gpubp.ops.")
    } - {"attach_methods"}
    listed = set(gpubp.ops.DIFFERENTIABLE) | set(gpubp.ops.NON_DIFFERENTIABLE)
    assert public - listed == set(), f"unclassified ops: {sorted(public - listed)}"
