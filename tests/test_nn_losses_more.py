"""The rest of PyTorch's losses and the distances, against PyTorch: forward and backward (check_op: float64 gradcheck,
float64 and float32 against torch), reduction modes, broadcasting, non-contiguous inputs, the modules (options,
state dicts, legacy size_average / reduce) and the error cases. CTC against torch's loss and gradient in float64."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from conftest import check_op, rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F

TF = torch.nn.functional if torch is not None else None
REDUCTIONS = ["none", "mean", "sum"]


def _pair(arr: np.ndarray, device: str) -> tuple[gpubp.Tensor, Any]:
    """A constant (a target) as a gpubp tensor on ``device`` and as a torch tensor."""
    return gpubp.tensor(arr, device=device), (torch.tensor(arr) if torch is not None else None)


def _signs(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.choice(np.array([-1, 1], dtype=np.int64), shape)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(device: str, reduction: str, log_target: bool) -> None:
    kinds = ["any", "any" if log_target else "pos"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 'mean' warns, as PyTorch
        for shapes, nc in (([(3, 4), (3, 4)], True), ([(2, 3, 4), (3, 4)], False)):
            check_op(
                device,
                lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                TF and (lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target)),
                shapes,
                kinds,
                key=("kl", reduction, log_target, nc),
                noncontig=nc,
            )


def test_kl_div_mean_warns_and_bad_reduction(device: str) -> None:
    x = gpubp.tensor(np.log([[0.2, 0.8]]), device=device)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, x.exp())
    with pytest.raises(ValueError, match="kl_div.*reduction"):
        F.kl_div(x, x.exp(), reduction="avg")
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert nn.KLDivLoss(size_average=False).reduction == "sum"
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_and_margin_ranking(device: str, reduction: str) -> None:
    rng = rng_for("cel", reduction)
    y, ty = _pair(_signs(rng, (4,)), device)
    check_op(
        device,
        lambda a, b: F.cosine_embedding_loss(a, b, y, 0.2, reduction=reduction),
        TF and (lambda a, b: TF.cosine_embedding_loss(a, b, ty, 0.2, reduction=reduction)),
        [(4, 5), (4, 5)],
        key=("cel", reduction),
        noncontig=True,
    )
    y0, ty0 = _pair(np.array(-1), device)
    check_op(
        device,
        lambda a, b: F.cosine_embedding_loss(a, b, y0, -0.5, reduction=reduction),
        TF and (lambda a, b: TF.cosine_embedding_loss(a, b, ty0, -0.5, reduction=reduction)),
        [(5,), (5,)],
        key=("cel1", reduction),
    )
    check_op(
        device,
        lambda a, b: F.margin_ranking_loss(a, b, y, 0.3, reduction=reduction),
        TF and (lambda a, b: TF.margin_ranking_loss(a, b, ty, 0.3, reduction=reduction)),
        [(4,), (1,)],
        key=("mrl", reduction),
    )


def test_pair_losses_errors(device: str) -> None:
    a = gpubp.tensor(np.ones((3, 2)), device=device)
    with pytest.raises(RuntimeError, match="cosine_embedding_loss: 1D target tensor expects 2D input"):
        F.cosine_embedding_loss(a[0], a[0], gpubp.tensor([1, 1, 1], device=device))
    with pytest.raises(RuntimeError, match="cosine_embedding_loss: 0D or 1D target"):
        F.cosine_embedding_loss(a, a, gpubp.tensor([[1]], device=device))
    with pytest.raises(RuntimeError, match="margin_ranking_loss: All input tensors should have same dimension"):
        F.margin_ranking_loss(a, a, gpubp.tensor([1, 1, 1], device=device))
    with pytest.raises(ValueError, match="margin_ranking_loss: reduction"):
        F.margin_ranking_loss(a, a, a, reduction="avg")


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss(device: str, p: float, swap: bool) -> None:
    check_op(
        device,
        lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=0.7, p=p, swap=swap),
        TF and (lambda a, b, c: TF.triplet_margin_loss(a, b, c, margin=0.7, p=p, swap=swap)),
        [(4, 3), (4, 3), (1, 3)],
        key=("tml", p, swap),
        noncontig=True,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_with_distance_loss(device: str, reduction: str) -> None:
    def cos_gp(x: Any, y: Any) -> Any:
        return 1 - F.cosine_similarity(x, y)

    def cos_t(x: Any, y: Any) -> Any:
        return 1 - TF.cosine_similarity(x, y)

    for dist_gp, dist_t in ((None, None), (cos_gp, cos_t)):
        check_op(
            device,
            lambda a, b, c, dist_gp=dist_gp: F.triplet_margin_with_distance_loss(
                a, b, c, distance_function=dist_gp, margin=0.5, swap=True, reduction=reduction
            ),
            TF
            and (
                lambda a, b, c, dist_t=dist_t: TF.triplet_margin_with_distance_loss(
                    a, b, c, distance_function=dist_t, margin=0.5, swap=True, reduction=reduction
                )
            ),
            [(3, 4), (3, 4), (3, 4)],
            key=("tmwd", reduction, dist_gp is None),
        )
    a = gpubp.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0.0)
    with pytest.raises(RuntimeError, match="anchor 2D, positive 1D, and negative 2D"):
        F.triplet_margin_with_distance_loss(a, a[0], a)
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0"):
        F.triplet_margin_loss(a, a, a, margin=-1.0)
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(RuntimeError, match="triplet_margin_loss: .*same number of dimensions"):
        F.triplet_margin_loss(a, a, a[0])


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss(device: str, log_input: bool, full: bool) -> None:
    rng = rng_for("pnll-target", log_input, full)
    counts = rng.integers(0, 5, (3, 4)).astype(np.float64)  # Stirling's term only where target > 1
    for reduction in REDUCTIONS:
        t, tt = _pair(counts, device)
        check_op(
            device,
            lambda x, t=t, r=reduction: F.poisson_nll_loss(x, t.to(x.dtype), log_input, full, reduction=r),
            TF and (lambda x, t=tt, r=reduction: TF.poisson_nll_loss(x, t.to(x.dtype), log_input, full, reduction=r)),
            [(3, 4)],
            "any" if log_input else "pos",
            key=("pnll", log_input, full, reduction),
            noncontig=True,
        )
    # a differentiable target (above 1, so the Stirling term's gradient is exercised)
    check_op(
        device,
        lambda x, y: F.poisson_nll_loss(x, y + 1, log_input, full),
        TF and (lambda x, y: TF.poisson_nll_loss(x, y + 1, log_input, full)),
        [(2, 3), (2, 3)],
        ["pos", "pos"],
        key=("pnll-t", log_input, full),
    )


@pytest.mark.parametrize(
    "var_shape", [(3, 4), (3,), (3, 1), (1, 4)], ids=["heteroscedastic", "one-short", "last-1", "first-1"]
)
def test_gaussian_nll_loss(device: str, var_shape: tuple) -> None:
    for reduction, full in (("mean", False), ("none", True), ("sum", False)):
        check_op(
            device,
            lambda x, y, v, f=full, r=reduction: F.gaussian_nll_loss(x, y, v, full=f, reduction=r),
            TF and (lambda x, y, v, f=full, r=reduction: TF.gaussian_nll_loss(x, y, v, full=f, reduction=r)),
            [(3, 4), (3, 4), var_shape],
            ["any", "any", "pos"],
            key=("gnll", var_shape, reduction),
            noncontig=True,
        )


def test_gaussian_nll_loss_clamp_and_errors(device: str) -> None:
    # var below eps: the value uses eps, the gradient passes through the clamp unchanged (as torch)
    x = np.array([[0.3, -1.2], [0.5, 2.0]])
    v = np.array([[1e-9, 0.5], [0.0, 2.0]])
    gv = gpubp.tensor(v, device=device, requires_grad=True)
    gx = gpubp.tensor(x, device=device, requires_grad=True)
    loss = F.gaussian_nll_loss(gx, gpubp.zeros_like(gx), gv, eps=1e-3)
    loss.backward()
    if torch is not None:
        tv = torch.tensor(v, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        tl = TF.gaussian_nll_loss(tx, torch.zeros_like(tx), tv, eps=1e-3)
        tl.backward()
        np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-12)
        np.testing.assert_allclose(gv.grad.cpu().numpy(), tv.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            F.gaussian_nll_loss(gx, gx * 0, 0.5).item(), TF.gaussian_nll_loss(tx, tx * 0, 0.5).item()
        )
    a = gpubp.tensor(np.ones((3, 4)), device=device)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(a, a, gpubp.tensor(np.ones((3, 2)), device=device))
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(a, a, -a)
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(a, a, -1.0)
    with pytest.raises(ValueError, match="gaussian_nll_loss: avg is not valid"):
        F.gaussian_nll_loss(a, a, a, reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_and_soft_margin(device: str, reduction: str) -> None:
    rng = rng_for("mlsm", reduction)
    y, ty = _pair((rng.random((3, 4)) > 0.5).astype(np.float64), device)
    w, tw = _pair(rng.uniform(0.5, 2, (4,)), device)
    check_op(
        device,
        lambda x: F.multilabel_soft_margin_loss(x, y.to(x.dtype), w.to(x.dtype), reduction=reduction),
        TF and (lambda x: TF.multilabel_soft_margin_loss(x, ty.to(x.dtype), tw.to(x.dtype), reduction=reduction)),
        [(3, 4)],
        key=("mlsm", reduction),
        noncontig=True,
    )
    s, ts = _pair(_signs(rng, (3, 4)), device)
    check_op(
        device,
        lambda x: F.soft_margin_loss(x * 10, s, reduction=reduction),  # large |x|: the stable form
        TF and (lambda x: TF.soft_margin_loss(x * 10, ts, reduction=reduction)),
        [(3, 4)],
        key=("sml", reduction),
        noncontig=True,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(device: str, reduction: str) -> None:
    rng = rng_for("hel", reduction)
    y, ty = _pair(rng.choice(np.array([-1, 1, 2]), (3, 4)), device)  # 2: both terms, as torch
    check_op(
        device,
        lambda x: F.hinge_embedding_loss(x, y, 0.8, reduction=reduction),
        TF and (lambda x: TF.hinge_embedding_loss(x, ty, 0.8, reduction=reduction)),
        [(3, 4)],
        key=("hel", reduction),
        noncontig=True,
    )
    y1, ty1 = _pair(_signs(rng, (4,)), device)  # broadcast over rows
    check_op(
        device,
        lambda x: F.hinge_embedding_loss(x, y1, reduction=reduction),
        TF and (lambda x: TF.hinge_embedding_loss(x, ty1, reduction=reduction)),
        [(3, 4)],
        key=("hel-b", reduction),
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss(device: str, p: int, weighted: bool) -> None:
    rng = rng_for("mml", p, weighted)
    y, ty = _pair(rng.integers(0, 5, (4,)), device)
    w, tw = _pair(rng.uniform(0.5, 2, (5,)), device)
    for reduction in REDUCTIONS:
        check_op(
            device,
            lambda x, r=reduction: F.multi_margin_loss(x, y, p, 0.6, w.to(x.dtype) if weighted else None, reduction=r),
            TF
            and (
                lambda x, r=reduction: TF.multi_margin_loss(
                    x, ty, p, 0.6, tw.to(x.dtype) if weighted else None, reduction=r
                )
            ),
            [(4, 5)],
            key=("mml", p, weighted, reduction),
            noncontig=True,
        )
    y0, ty0 = _pair(np.array(2), device)  # unbatched (C,) input, 0-d target
    check_op(
        device,
        lambda x: F.multi_margin_loss(x, y0, p, reduction="none"),
        TF and (lambda x: TF.multi_margin_loss(x, ty0, p, reduction="none")),
        [(5,)],
        key=("mml1", p, weighted),
    )


def test_multi_margin_loss_errors(device: str) -> None:
    x = gpubp.tensor(np.ones((2, 3)), device=device)
    y = gpubp.tensor([0, 2], device=device)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, y, p=3)
    with pytest.raises(ValueError, match="weight must be one-dimensional"):
        F.multi_margin_loss(x, y, weight=x)
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multi_margin_loss(x, gpubp.tensor([0, 1, 2], device=device))
    with pytest.raises(RuntimeError, match="inconsistent weight size"):
        F.multi_margin_loss(x, y, weight=gpubp.ones(2, device=device))
    if device == "cpu":
        with pytest.raises(IndexError, match="multi_margin_loss: target out of range"):
            F.multi_margin_loss(x, gpubp.tensor([0, 3], device=device))
    with pytest.raises(ValueError, match="MultiMarginLoss: only p"):
        nn.MultiMarginLoss(p=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(device: str, reduction: str) -> None:
    targets = np.array([[3, 0, -1, 1, 2], [1, -1, 0, 0, 0], [0, 1, 2, 3, 4], [-1, 1, 1, 1, 1], [2, 2, 4, -1, 3]])
    y, ty = _pair(targets, device)
    check_op(
        device,
        lambda x: F.multilabel_margin_loss(x, y, reduction=reduction),
        TF and (lambda x: TF.multilabel_margin_loss(x, ty, reduction=reduction)),
        [(5, 5)],
        key=("mlm", reduction),
        noncontig=True,
    )
    y1, ty1 = _pair(targets[0], device)
    check_op(
        device,
        lambda x: F.multilabel_margin_loss(x, y1, reduction=reduction),
        TF and (lambda x: TF.multilabel_margin_loss(x, ty1, reduction=reduction)),
        [(5,)],
        key=("mlm1", reduction),
    )
    x = gpubp.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(RuntimeError, match="multilabel_margin_loss: inconsistent target size"):
        F.multilabel_margin_loss(x, gpubp.tensor([0, 1], device=device))
    if device == "cpu":
        with pytest.raises(IndexError, match="multilabel_margin_loss: target out of range"):
            F.multilabel_margin_loss(x, gpubp.tensor([[0, 3, -1], [0, 1, 2]], device=device))


# ---- modules ----------------------------------------------------------------------------------------------------


def _module_cases(rng: np.random.Generator) -> list[tuple[str, dict, list]]:
    """(class name, constructor options, forward arguments as NumPy arrays; float ones get gradients)."""
    x, y, z = (rng.standard_normal((3, 4)) for _ in range(3))
    signs = _signs(rng, (3,))
    return [
        ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, [x, y]),
        ("CosineEmbeddingLoss", {"margin": 0.1}, [x, y, signs]),
        ("MarginRankingLoss", {"margin": 0.2, "reduction": "sum"}, [x[:, 0], y[:, 0], signs]),
        ("HingeEmbeddingLoss", {"margin": 0.5}, [x, _signs(rng, (3, 4))]),
        ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}, [x, y, z]),
        ("TripletMarginWithDistanceLoss", {"margin": 0.5, "reduction": "none"}, [x, y, z]),
        ("PoissonNLLLoss", {"full": True}, [x, np.abs(y) * 3]),
        ("GaussianNLLLoss", {"full": True, "eps": 1e-3}, [x, y, np.abs(z)]),
        ("MultiLabelSoftMarginLoss", {"weight": np.abs(z[0])}, [x, (y > 0).astype(np.float64)]),
        ("MultiLabelMarginLoss", {"reduction": "none"}, [x, np.array([[1, -1, 0, 0]] * 3)]),
        ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": np.abs(z[0])}, [x, np.array([0, 3, 1])]),
        ("SoftMarginLoss", {}, [x, _signs(rng, (3, 4))]),
        ("CosineSimilarity", {"dim": 0, "eps": 1e-6}, [x, y]),
        ("PairwiseDistance", {"p": 3.0, "keepdim": True}, [x, y]),
    ]


def test_modules_match_torch(device: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    for name, opts, args in _module_cases(rng_for("modules")):
        g_opts = {k: gpubp.tensor(v, device=device) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
        t_opts = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
        ours, theirs = getattr(nn, name)(**g_opts), getattr(torch.nn, name)(**t_opts)
        assert list(ours.state_dict()) == list(theirs.state_dict()), name
        assert repr(ours).split("(")[0] == name
        g_args = [gpubp.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in args]
        t_args = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in args]
        out, ref = ours(*g_args), theirs(*t_args)
        np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        out.sum().backward()
        ref.sum().backward()
        for g, t in zip(g_args, t_args):
            if t.grad is not None:
                np.testing.assert_allclose(g.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_modules_legacy_reduction_and_errors() -> None:
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.SoftMarginLoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.MultiMarginLoss(reduce=False).reduction == "none"
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError, match="HingeEmbeddingLoss: reduction"):
        nn.HingeEmbeddingLoss(reduction="avg")
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: expected margin"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    w = gpubp.tensor([1.0, 2.0])
    assert list(nn.MultiMarginLoss(weight=w).state_dict()) == ["weight"]
    with pytest.warns(UserWarning, match="reduction='mean'"):
        x = gpubp.tensor([[0.5, -1.0]])
        np.testing.assert_allclose(
            F.soft_margin_loss(x, x.sign(), size_average=True).item(), F.soft_margin_loss(x, x.sign()).item()
        )


# ---- distances --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes,dim", [([(3, 4), (3, 4)], 1), ([(2, 3, 4), (3, 1)], 1), ([(4, 3), (3,)], -1), ([(5,), (5,)], 0)]
)
def test_cosine_similarity(device: str, shapes: list, dim: int) -> None:
    check_op(
        device,
        lambda a, b: F.cosine_similarity(a, b, dim),
        TF and (lambda a, b: TF.cosine_similarity(a, b, dim)),
        shapes,
        key=("cos", tuple(shapes), dim),
        noncontig=True,
    )


def test_cosine_similarity_tiny_norms(device: str) -> None:
    # each norm is clamped to eps on its own, and the clamp is not differentiated (as torch's in-place clamp under
    # no_grad), so the gradient is torch's, not the true derivative: compared with torch, not with finite differences
    rng = rng_for("cos-tiny")
    a = rng.standard_normal((3, 4))
    a[1] *= 1e-10
    b = rng.standard_normal((3, 4))
    b[2] *= 1e-10
    if torch is None:
        return
    ga, gb = (gpubp.tensor(v, device=device, requires_grad=True) for v in (a, b))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    out, ref = F.cosine_similarity(ga, gb), TF.cosine_similarity(ta, tb)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ga.grad.cpu().numpy(), ta.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(gb.grad.cpu().numpy(), tb.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(device: str, p: float, keepdim: bool) -> None:
    check_op(
        device,
        lambda a, b: F.pairwise_distance(a, b, p, 1e-6, keepdim),
        TF and (lambda a, b: TF.pairwise_distance(a, b, p, 1e-6, keepdim)),
        [(3, 4), (1, 4)],
        key=("pd", p, keepdim),
        noncontig=True,
    )


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize(device: str, p: float, dim: int) -> None:
    check_op(
        device,
        lambda a: F.normalize(a, p, dim),
        TF and (lambda a: TF.normalize(a, p, dim)),
        [(3, 4)],
        key=("norm", p, dim),
        noncontig=True,
    )
    out = gpubp.empty((3, 4), device=device)
    x = gpubp.tensor(rng_for("norm-out").standard_normal((3, 4)), device=device).float()
    r = F.normalize(x, p, dim, out=out)
    assert r is out
    np.testing.assert_allclose(out.cpu().numpy(), F.normalize(x, p, dim).cpu().numpy(), rtol=1e-6)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_pdist(device: str, p: float) -> None:
    check_op(
        device,
        lambda a: F.pdist(a, p),
        TF and (lambda a: TF.pdist(a, p)),
        [(5, 3)],
        key=("pdist", p),
        noncontig=True,
    )


def test_distance_errors(device: str) -> None:
    a = gpubp.tensor(np.ones((3, 4)), device=device)
    with pytest.raises(RuntimeError, match="cosine_similarity: .*do not broadcast"):
        F.cosine_similarity(a, gpubp.ones(3, 2, device=device))
    with pytest.raises(RuntimeError, match="pairwise_distance: .*do not broadcast"):
        F.pairwise_distance(a, gpubp.ones(2, 4, device=device))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 1D"):
        F.pdist(a[0])
    with pytest.raises(RuntimeError, match="pdist only supports non-negative p"):
        F.pdist(a, -1.0)
    with pytest.raises(TypeError, match="normalize: input must be a Tensor"):
        F.normalize(np.ones(3))


# ---- CTC --------------------------------------------------------------------------------------------------------


def _ctc_case(rng: np.random.Generator) -> dict:
    t, n, c = 7, 3, 5
    return {
        "logits": rng.standard_normal((t, n, c)),
        "targets": np.array([[1, 2, 2], [3, 4, 0], [4, 1, 3]]),
        "input_lengths": (7, 5, 4),
        "target_lengths": (3, 1, 2),
    }


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["padded", "concatenated", "tensors"])
def test_ctc_loss_matches_torch(device: str, reduction: str, layout: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    case = _ctc_case(rng_for("ctc", reduction, layout))
    tg, il, tl = case["targets"], case["input_lengths"], case["target_lengths"]
    if layout == "concatenated":
        tg = np.concatenate([row[:k] for row, k in zip(tg, tl)])
    lp = torch.tensor(case["logits"]).log_softmax(2).numpy()
    g_il, g_tl, t_il, t_tl = il, tl, il, tl
    if layout == "tensors":
        g_il, g_tl = gpubp.tensor(il, device=device), gpubp.tensor(tl, device=device)
        t_il, t_tl = torch.tensor(il), torch.tensor(tl)
    ours = gpubp.tensor(lp, device=device, requires_grad=True)
    theirs = torch.tensor(lp, requires_grad=True)
    out = F.ctc_loss(ours, gpubp.tensor(tg, device=device), g_il, g_tl, reduction=reduction)
    ref = TF.ctc_loss(theirs, torch.tensor(tg), t_il, t_tl, reduction=reduction)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-12)
    cot = rng_for("ctc-cot").standard_normal(tuple(ref.shape))
    (out * gpubp.tensor(cot, device=device)).sum().backward()
    (ref * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(ours.grad.cpu().numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_ctc_loss_gradcheck_through_log_softmax(device: str) -> None:
    case = _ctc_case(rng_for("ctc-gc"))
    tg = gpubp.tensor(case["targets"], device=device)

    def loss(x: Any) -> Any:
        return F.ctc_loss(x.log_softmax(2), tg, case["input_lengths"], case["target_lengths"], reduction="sum")

    def loss_t(x: Any) -> Any:
        tt = torch.tensor(case["targets"])
        return TF.ctc_loss(x.log_softmax(2), tt, case["input_lengths"], case["target_lengths"], reduction="sum")

    check_op(device, loss, TF and loss_t, [(7, 3, 5)], key="ctc-gc")


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_infinite_and_empty(device: str, zero_infinity: bool) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    lp = torch.tensor(rng_for("ctc-inf").standard_normal((5, 3, 4))).log_softmax(2).numpy()
    tg = np.array([[1, 1, 1], [3, 3, 0], [2, 0, 0]])
    il, tl = (2, 3, 0), (3, 2, 0)  # too short for three labels; repeated labels need a blank; no frames at all
    ours = gpubp.tensor(lp, device=device, requires_grad=True)
    theirs = torch.tensor(lp, requires_grad=True)
    out = F.ctc_loss(ours, gpubp.tensor(tg, device=device), il, tl, reduction="none", zero_infinity=zero_infinity)
    ref = TF.ctc_loss(theirs, torch.tensor(tg), il, tl, reduction="none", zero_infinity=zero_infinity)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.grad.cpu().numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-13)  # NaN == NaN


def test_ctc_loss_unbatched_and_module(device: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    lp = torch.tensor(rng_for("ctc-unb").standard_normal((6, 4))).log_softmax(1).numpy()
    tg = np.array([1, 3, 3])
    mod, tmod = nn.CTCLoss(blank=2, reduction="none"), torch.nn.CTCLoss(blank=2, reduction="none")
    assert list(mod.state_dict()) == list(tmod.state_dict())
    ours = gpubp.tensor(lp, device=device, requires_grad=True)
    theirs = torch.tensor(lp, requires_grad=True)
    out = mod(ours, gpubp.tensor(tg, device=device), gpubp.tensor(6), gpubp.tensor(3))
    ref = tmod(theirs, torch.tensor(tg), torch.tensor(6), torch.tensor(3))
    assert out.shape == tuple(ref.shape) == ()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(ours.grad.cpu().numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_ctc_loss_float32(device: str) -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    case = _ctc_case(rng_for("ctc32"))
    lp = torch.tensor(case["logits"], dtype=torch.float32).log_softmax(2)
    ours = gpubp.tensor(lp.numpy(), device=device, requires_grad=True)
    theirs = lp.clone().requires_grad_()
    args = (case["input_lengths"], case["target_lengths"])
    out = F.ctc_loss(ours, gpubp.tensor(case["targets"], device=device), *args)
    ref = TF.ctc_loss(theirs, torch.tensor(case["targets"]), *args)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(ours.grad.cpu().numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_ctc_loss_errors(device: str) -> None:
    lp = gpubp.tensor(np.log(np.full((5, 2, 4), 0.25)), device=device, requires_grad=True)
    tg = gpubp.tensor([[1, 2], [3, 3]], device=device)
    with pytest.raises(RuntimeError, match="ctc_loss: blank must be in label range"):
        F.ctc_loss(lp, tg, (5, 4), (2, 1), blank=4)
    with pytest.raises(RuntimeError, match="ctc_loss: input_lengths must be of size batch_size"):
        F.ctc_loss(lp, tg, (5, 4, 3), (2, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: target_lengths must be of size batch_size"):
        F.ctc_loss(lp, tg, (5, 4), (2,))
    with pytest.raises(RuntimeError, match="ctc_loss: Expected input_lengths to have value at most 5"):
        F.ctc_loss(lp, tg, (6, 4), (2, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: Expected input_lengths to have value at least 0"):
        F.ctc_loss(lp, tg, (5, -1), (2, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: Expected tensor to have size at least 3 at dimension 1"):
        F.ctc_loss(lp, tg, (5, 4), (3, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: Expected tensor to have size 3 at dimension 0"):
        F.ctc_loss(lp, gpubp.tensor([1, 2], device=device), (5, 4), (2, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: input_lengths must be integral"):
        F.ctc_loss(lp, tg, gpubp.tensor([5.0, 4.0], device=device), (2, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: log_probs must be"):
        F.ctc_loss(lp[None], tg, (5, 4), (2, 1))
    with pytest.raises(ValueError, match="ctc_loss: reduction"):
        F.ctc_loss(lp, tg, (5, 4), (2, 1), reduction="avg")
    if device == "cpu":
        with pytest.raises(IndexError, match="ctc_loss: target class indices"):
            F.ctc_loss(lp, gpubp.tensor([[1, 7], [3, 3]], device=device), (5, 4), (2, 1))
    loss = F.ctc_loss(lp, tg, (5, 4), (2, 1))
    with pytest.raises(RuntimeError, match="ctc_loss: gradients of gradients"):
        gpubp.grad(loss, [lp], create_graph=True)


@pytest.mark.parametrize("seed", range(6))
def test_ctc_loss_random_configurations(device: str, seed: int) -> None:
    # random T, N, C, blank, lengths (0 included: empty targets, no frames) and options, against torch in float64
    if torch is None:
        pytest.skip("PyTorch is not installed")
    rng = rng_for("ctc-random", seed)
    t, n, c = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(2, 6))
    blank, s = int(rng.integers(0, c)), int(rng.integers(0, 4)) if seed else 0  # seed 0: every target empty
    il = tuple(int(i) for i in rng.integers(0, t + 1, n))
    tl = tuple(int(i) for i in rng.integers(0, s + 1, n))
    tg = rng.choice([k for k in range(c) if k != blank], (n, max(s, 1)))
    lp = torch.tensor(rng.standard_normal((t, n, c))).log_softmax(2).numpy()
    reduction, zero_infinity = REDUCTIONS[seed % 3], bool(seed % 2)
    ours = gpubp.tensor(lp, device=device, requires_grad=True)
    theirs = torch.tensor(lp, requires_grad=True)
    out = F.ctc_loss(ours, gpubp.tensor(tg, device=device), il, tl, blank, reduction, zero_infinity)
    ref = TF.ctc_loss(theirs, torch.tensor(tg), il, tl, blank, reduction, zero_infinity)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.grad.cpu().numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


# ---- the older losses: PyTorch 2.13's weight= and the legacy size_average / reduce ---------------------------------

_WEIGHTED = ["l1_loss", "mse_loss", "huber_loss"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", _WEIGHTED)
def test_regression_losses_weight(device: str, name: str, reduction: str) -> None:
    # weight has the input's shape; the target may broadcast either way (torch warns then); l1 / mse 'mean' divide by
    # weight.sum(), huber's by the element count; the weight gets a gradient too
    kw = {"delta": 0.7} if name == "huber_loss" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for shapes, nc in (([(4, 3), (4, 3), (4, 3)], True), ([(4, 3), (3,), (4, 3)], False)):
            check_op(
                device,
                lambda x, t, w: getattr(F, name)(x, t, reduction=reduction, weight=w, **kw),
                TF and (lambda x, t, w: getattr(TF, name)(x, t, reduction=reduction, weight=w, **kw)),
                shapes,
                ["any", "any", "pos"],
                key=("weighted", name, reduction, tuple(shapes)),
                noncontig=nc,
            )
        if torch is not None:  # the target larger than the input (and weight): the product broadcasts
            rng = rng_for("weighted-bcast", name, reduction)
            x, t, w = rng.standard_normal((1, 3)), rng.standard_normal((2, 4, 3)), rng.uniform(0.5, 2, (1, 3))
            gx, gw = (gpubp.tensor(a, device=device, requires_grad=True) for a in (x, w))
            tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
            out = getattr(F, name)(gx, gpubp.tensor(t, device=device), reduction=reduction, weight=gw, **kw)
            want = getattr(TF, name)(tx, torch.tensor(t), reduction=reduction, weight=tw, **kw)
            assert out.shape == tuple(want.shape)
            np.testing.assert_allclose(out.detach().cpu().numpy(), want.detach().numpy(), rtol=1e-10)
            out.sum().backward()
            want.sum().backward()
            np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-10)
            np.testing.assert_allclose(gw.grad.cpu().numpy(), tw.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", _WEIGHTED)
def test_regression_losses_weight_errors(device: str, name: str) -> None:
    x = gpubp.tensor(np.linspace(-1, 1, 6).reshape(2, 3), device=device)
    with pytest.raises(ValueError, match=f"{name}: Weights and input must have the same size"):
        getattr(F, name)(x, x * 2, weight=gpubp.ones(3, device=device, dtype=gpubp.float64))
    with pytest.raises(TypeError, match=f"{name}: weight must be a Tensor"):
        getattr(F, name)(x, x * 2, weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=f"{name}: reduction"):
        getattr(F, name)(x, x * 2, reduction="avg", weight=gpubp.ones_like(x))


def _legacy_cases(rng: np.random.Generator) -> dict[str, tuple[list[np.ndarray], dict]]:
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p, y = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3))
    labels = np.array([0, 2, 1, 2])
    return {
        "l1_loss": ([x, t], {}),
        "mse_loss": ([x, t], {}),
        "smooth_l1_loss": ([x, t], {"beta": 0.5}),
        "nll_loss": ([x, labels], {"ignore_index": 1}),
        "cross_entropy": ([x, labels], {"label_smoothing": 0.1}),
        "binary_cross_entropy": ([p, y], {}),
        "binary_cross_entropy_with_logits": ([x, y], {}),
    }


@pytest.mark.parametrize(
    "legacy,reduction",
    [({"size_average": False}, "sum"), ({"reduce": False}, "none"), ({"size_average": True, "reduce": True}, "mean")],
)
@pytest.mark.parametrize(
    "name",
    ["l1_loss", "mse_loss", "smooth_l1_loss", "nll_loss", "cross_entropy", "binary_cross_entropy",
     "binary_cross_entropy_with_logits"],
)  # fmt: skip
def test_legacy_size_average_and_reduce(device: str, name: str, legacy: dict, reduction: str) -> None:
    arrays, kw = _legacy_cases(rng_for("legacy", name))[name]
    ours = [gpubp.tensor(a, device=device) for a in arrays]
    with pytest.warns(UserWarning, match=f"please use reduction='{reduction}'"):
        out = getattr(F, name)(*ours, **legacy, **kw)
    plain = getattr(F, name)(*ours, reduction=reduction, **kw)
    np.testing.assert_allclose(out.cpu().numpy(), plain.cpu().numpy(), rtol=1e-12)
    assert out.shape == plain.shape
    if torch is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            want = getattr(TF, name)(*(torch.tensor(a) for a in arrays), **legacy, **kw)
        np.testing.assert_allclose(out.cpu().numpy(), want.numpy(), rtol=1e-10)


def test_older_losses_take_torchs_positional_order(device: str) -> None:
    # PyTorch's positional order: size_average sits before ignore_index / reduction, as torch 2.13
    rng = rng_for("positional")
    x, labels = gpubp.tensor(rng.standard_normal((4, 3)), device=device), gpubp.tensor([0, 2, 1, 1], device=device)
    out = F.nll_loss(x, labels, None, None, 1, None, "sum")
    assert out.item() == pytest.approx(F.nll_loss(x, labels, ignore_index=1, reduction="sum").item())
    out = F.cross_entropy(x, labels, None, None, 2, None, "none", 0.2)
    want = F.cross_entropy(x, labels, ignore_index=2, reduction="none", label_smoothing=0.2)
    np.testing.assert_allclose(out.cpu().numpy(), want.cpu().numpy())
    y = gpubp.tensor(rng.uniform(0, 1, (4, 3)), device=device)
    pw = gpubp.tensor(rng.uniform(0.5, 2, 3), device=device)
    out = F.binary_cross_entropy_with_logits(x, y, None, None, None, "none", pw)
    np.testing.assert_allclose(
        out.cpu().numpy(), F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw).cpu().numpy()
    )
    if torch is not None:
        import inspect

        for name in ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "nll_loss", "cross_entropy",
                     "binary_cross_entropy", "binary_cross_entropy_with_logits"]:  # fmt: skip
            ours = inspect.signature(getattr(F, name)).parameters
            theirs = inspect.signature(getattr(TF, name)).parameters
            assert [(k, v.default) for k, v in ours.items()] == [(k, v.default) for k, v in theirs.items()], name
