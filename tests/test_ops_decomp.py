"""The decomp family beyond the gradient cases: dtypes, shapes, named tuples, methods, errors, the gpubp.linalg
namespace, and agreement with torch.linalg on fresh batched inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import torch

import gpubp
import gpubp.linalg as GL
from gpubp.errors import InputError, InputTypeError

RNG = np.random.default_rng(1313)


def _t(a, device, grad=False):
    return gpubp.tensor(a, device=device, requires_grad=grad)


def _np(t):
    return t.detach().cpu().numpy()


def _spd(shape):
    a = RNG.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_result_dtypes_and_shapes(device, dtype):
    a = _t(RNG.standard_normal((2, 4, 4)).astype(dtype) + 3 * np.eye(4, dtype=dtype), device)
    w = _t(RNG.standard_normal((2, 5, 3)).astype(dtype), device)
    assert GL.inv(a).dtype == dtype and GL.inv(a).shape == (2, 4, 4)
    assert GL.det(a).dtype == dtype and GL.det(a).shape == (2,)
    assert GL.cholesky(_t(_spd((3, 3)).astype(dtype), device)).dtype == dtype
    u, s, vh = GL.svd(w)
    assert (u.shape, s.shape, vh.shape) == ((2, 5, 5), (2, 3), (2, 3, 3)) and s.dtype == dtype
    u, s, vh = GL.svd(w, full_matrices=False)
    assert (u.shape, s.shape, vh.shape) == ((2, 5, 3), (2, 3), (2, 3, 3))
    q, r = GL.qr(w)
    assert (q.shape, r.shape) == ((2, 5, 3), (2, 3, 3)) and q.dtype == dtype
    q, r = GL.qr(w, mode="complete")
    assert (q.shape, r.shape) == ((2, 5, 5), (2, 5, 3))
    vals, vecs = GL.eigh(a + a.mT)
    assert vals.shape == (2, 4) and vecs.shape == (2, 4, 4) and vals.dtype == dtype
    assert GL.matrix_norm(w, "nuc").shape == (2,) and GL.norm(w).shape == ()


def test_named_tuples(device):
    a = _t(RNG.standard_normal((3, 3)) + 3 * np.eye(3), device)
    sl = GL.slogdet(a)
    assert type(sl).__name__ == "slogdet" and sl.sign is sl[0] and sl.logabsdet is sl[1]
    eh = GL.eigh(a + a.mT)
    assert type(eh).__name__ == "linalg_eigh" and eh.eigenvalues is eh[0] and eh.eigenvectors is eh[1]
    sv = GL.svd(a)
    assert type(sv).__name__ == "linalg_svd" and sv.U is sv[0] and sv.S is sv[1] and sv.Vh is sv[2]
    old = gpubp.svd(a)
    assert type(old).__name__ == "svd"
    np.testing.assert_allclose(_np(old.V), _np(sv.Vh).T, atol=1e-12)
    qr = GL.qr(a)
    assert type(qr).__name__ == "linalg_qr" and qr.Q is qr[0] and qr.R is qr[1]
    assert type(gpubp.qr(a)).__name__ == "qr"


def test_methods_and_top_level_aliases(device):
    a = _t(RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3), device)
    spd = _t(_spd((3, 3)), device)
    np.testing.assert_allclose(_np(a.det()), _np(GL.det(a)))
    np.testing.assert_allclose(_np(a.inverse()), _np(GL.inv(a)))
    np.testing.assert_allclose(_np(a.slogdet().logabsdet), _np(GL.slogdet(a).logabsdet))
    np.testing.assert_allclose(_np(spd.logdet()), np.linalg.slogdet(_np(spd))[1])
    np.testing.assert_allclose(_np(spd.cholesky()), np.linalg.cholesky(_np(spd)))
    np.testing.assert_allclose(_np(spd.cholesky(True)), np.linalg.cholesky(_np(spd)).T)
    np.testing.assert_allclose(_np(a.matrix_power(3)), np.linalg.matrix_power(_np(a), 3), rtol=1e-10)
    np.testing.assert_allclose(_np(a.pinverse()), np.linalg.pinv(_np(a)), rtol=1e-8)
    np.testing.assert_allclose(_np(a.svd().S), np.linalg.svd(_np(a), compute_uv=False))
    np.testing.assert_allclose(_np(a.qr().R), np.linalg.qr(_np(a))[1])
    for name in (
        "det",
        "logdet",
        "slogdet",
        "inverse",
        "cholesky",
        "svd",
        "qr",
        "pinverse",
        "matrix_power",
        "matrix_exp",
        "cholesky_solve",
        "cholesky_inverse",
    ):
        assert callable(getattr(gpubp, name)) and callable(getattr(gpubp.Tensor, name)), name


def test_linalg_namespace_names():
    for name in ("vector_norm", "matrix_norm", "norm", "inv", "solve", "det", "slogdet", "cholesky", "qr", "svd",
                 "svdvals", "eigh", "eigvalsh", "pinv", "matrix_power", "matrix_exp", "matmul", "LinAlgError",
                 "solve_triangular", "cond", "matrix_rank"):  # fmt: skip
        assert name in GL.__all__ and getattr(GL, name) is not None, name
        if torch is not None:
            assert hasattr(torch.linalg, name), name
    assert issubclass(GL.LinAlgError, RuntimeError)
    for name, op in (("cross", "linalg_cross"), ("multi_dot", "linalg_multi_dot")):
        assert (getattr(GL, name) is not None) == hasattr(gpubp.ops, op)


def test_input_errors_name_the_op(device):
    rect = _t(np.ones((2, 3)), device)
    with pytest.raises(InputError, match=r"linalg\.inv: A must be batches of square matrices, but they are 2 by 3"):
        GL.inv(rect)
    with pytest.raises(InputError, match=r"linalg\.det: .*at least 2 dimensions"):
        GL.det(_t(np.ones(3), device))
    with pytest.raises(InputTypeError, match=r"linalg\.inv: Expected a floating point"):
        GL.inv(gpubp.tensor(np.eye(2, dtype=np.int64), device=device))
    eye = _t(np.eye(3), device)
    with pytest.raises(InputError, match=r"linalg\.solve: Incompatible shapes .* \(3x3 and 2x1\)"):
        GL.solve(eye, _t(np.ones(2), device))
    with pytest.raises(InputError, match=r"linalg\.solve: Vector broadcasting .* left=False"):
        GL.solve(eye, _t(np.ones(3), device), left=False)
    with pytest.raises(InputTypeError, match=r"linalg\.solve: Expected A and B to have the same dtype"):
        GL.solve(eye, gpubp.tensor(np.ones((3, 1), np.float32), device=device))
    with pytest.raises(InputError, match=r"linalg\.solve: the batch dims"):
        GL.solve(_t(np.ones((2, 3, 3)), device), _t(np.ones((4, 3, 1)), device))
    with pytest.raises(InputError, match=r"linalg\.eigh: Expected UPLO"):
        GL.eigh(eye, UPLO="X")
    with pytest.raises(InputError, match=r"linalg\.qr: .*unrecognized mode 'raw'"):
        GL.qr(eye, mode="raw")
    with pytest.raises(InputError, match=r"linalg\.matrix_norm: Order 3 not supported"):
        GL.matrix_norm(eye, 3)
    with pytest.raises(InputError, match=r"linalg\.norm: If dim is not specified but ord is, .* Got 3D"):
        GL.norm(_t(np.ones((2, 2, 2)), device), 2)
    with pytest.raises(InputTypeError, match=r"linalg\.vector_norm: Expected a real number"):
        GL.vector_norm(eye, "fro")
    with pytest.raises(TypeError, match=r"linalg\.matrix_power: n must be an int"):
        GL.matrix_power(eye, 1.5)
    with pytest.raises(IndexError, match="out of range"):
        GL.matrix_norm(eye, dim=(0, 2))


def test_singular_and_indefinite_raise_on_cpu():
    singular = gpubp.tensor(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(GL.LinAlgError, match=r"linalg\.inv: .*singular"):
        GL.inv(singular)
    with pytest.raises(GL.LinAlgError, match=r"linalg\.solve: .*singular"):
        GL.solve(singular, gpubp.tensor(np.ones(2)))
    with pytest.raises(GL.LinAlgError, match=r"linalg\.cholesky: .*not positive-definite"):
        GL.cholesky(gpubp.tensor(-np.eye(2)))
    assert float(GL.det(singular)) == 0.0


def test_det_gradient_of_a_singular_matrix_is_the_cofactor_matrix():
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    x = gpubp.tensor(a, requires_grad=True)
    GL.det(x).backward()
    cof = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
                    for i in range(3)])  # fmt: skip
    np.testing.assert_allclose(_np(x.grad), cof, atol=1e-10)


def test_logdet_of_negative_and_zero_determinants(device):
    a = _t(np.array([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 3.0]]]), device)
    out = _np(gpubp.logdet(a))
    assert math.isnan(out[0]) and out[1] == -math.inf and out[2] == pytest.approx(math.log(6.0))
    sign, logabs = gpubp.slogdet(a)
    np.testing.assert_allclose(_np(sign), [-1.0, 0.0, 1.0])
    assert not sign.requires_grad


def test_empty_and_identity_cases(device):
    empty = _t(np.zeros((0, 3, 3)), device)
    assert GL.inv(empty).shape == (0, 3, 3) and GL.det(empty).shape == (0,)
    a = _t(RNG.standard_normal((2, 3, 3)), device, grad=True)
    one = GL.matrix_power(a, 0)
    np.testing.assert_array_equal(_np(one), np.broadcast_to(np.eye(3), (2, 3, 3)))
    same = GL.matrix_power(a, 1)
    assert same is not a
    np.testing.assert_array_equal(_np(same), _np(a))
    u, s, v = gpubp.svd(_t(RNG.standard_normal((4, 3)), device), compute_uv=False)
    assert u.shape == (4, 4) and v.shape == (3, 3) and not np.any(_np(u)) and not np.any(_np(v))
    assert s.shape == (3,) and np.all(np.diff(_np(s)) <= 0)


def test_vector_norm_dtype_and_keepdim(device):
    x = gpubp.tensor(RNG.standard_normal((2, 3, 4)).astype(np.float32), device=device)
    out = GL.vector_norm(x, 2, dim=(-1, 0), keepdim=True, dtype=gpubp.float64)
    assert out.dtype == np.float64 and out.shape == (1, 3, 1)
    ref = np.sqrt((_np(x).astype(np.float64) ** 2).sum(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12)
    with pytest.raises(InputTypeError, match=r"linalg\.vector_norm: Expected a floating point"):
        GL.vector_norm(gpubp.tensor(np.arange(3), device=device))


def test_qr_mode_r_and_complete_tall_are_not_differentiable(device):
    x = _t(RNG.standard_normal((4, 3)), device, grad=True)
    q, r = GL.qr(x, mode="r")
    assert q.shape == (0,)
    np.testing.assert_allclose(np.abs(_np(r)), np.abs(np.linalg.qr(_np(x))[1]), rtol=1e-12)
    with pytest.raises(RuntimeError, match="mode='r'"):
        r.sum().backward()
    q, r = GL.qr(x, mode="complete")
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        (q.sum() + r.sum()).backward()


def test_factorizations_reconstruct(device):
    a = _t(RNG.standard_normal((2, 3, 5, 4)), device)
    u, s, vh = GL.svd(a, full_matrices=False)
    np.testing.assert_allclose(_np((u * s.unsqueeze(-2)) @ vh), _np(a), atol=1e-12)
    q, r = GL.qr(a)
    np.testing.assert_allclose(_np(q @ r), _np(a), atol=1e-12)
    assert np.allclose(np.tril(_np(r), -1), 0)
    sym = a[..., :4, :] + a[..., :4, :].mT
    w, v = GL.eigh(sym)
    np.testing.assert_allclose(_np((v * w.unsqueeze(-2)) @ v.mT), _np(sym), atol=1e-12)
    spd = _t(_spd((2, 4, 4)), device)
    low = GL.cholesky(spd)
    np.testing.assert_allclose(_np(low @ low.mT), _np(spd), atol=1e-12)
    up = GL.cholesky(spd, upper=True)
    np.testing.assert_allclose(_np(up.mT @ up), _np(spd), atol=1e-12)


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_torch_batched(device, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    a = RNG.standard_normal((2, 3, 4, 4)).astype(dtype) + 4 * np.eye(4, dtype=dtype)
    b = RNG.standard_normal((3, 4, 2)).astype(dtype)
    r = RNG.standard_normal((2, 5, 3)).astype(dtype)
    g, gb, gr = _t(a, device), _t(b, device), _t(r, device)
    t, tb, tr = torch.tensor(a), torch.tensor(b), torch.tensor(r)
    pairs = [
        (GL.inv(g), torch.linalg.inv(t)),
        (GL.solve(g, gb), torch.linalg.solve(t, tb)),
        (GL.solve(g, g[..., 0], left=True), torch.linalg.solve(t, t[..., 0])),
        (GL.det(g), torch.linalg.det(t)),
        (GL.slogdet(g).logabsdet, torch.linalg.slogdet(t).logabsdet),
        (GL.slogdet(g).sign, torch.linalg.slogdet(t).sign),
        (GL.svdvals(gr), torch.linalg.svdvals(tr)),
        (GL.eigvalsh(g, UPLO="U"), torch.linalg.eigvalsh(t, UPLO="U")),
        (GL.cholesky(g @ g.mT), torch.linalg.cholesky(t @ t.mT)),
        (GL.pinv(gr), torch.linalg.pinv(tr)),
        (GL.matrix_power(g, -3), torch.linalg.matrix_power(t, -3)),
    ]
    for o in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        pairs.append((GL.matrix_norm(gr, o), torch.linalg.matrix_norm(tr, o)))
        pairs.append((GL.norm(gr, o, dim=(0, 2), keepdim=True), torch.linalg.norm(tr, o, dim=(0, 2), keepdim=True)))
    for o in (0, 1, 2, 3.5, math.inf, -math.inf, -1):
        pairs.append((GL.vector_norm(gr, o, dim=1), torch.linalg.vector_norm(tr, o, dim=1)))
    for i, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == dtype, i
        np.testing.assert_allclose(_np(ours), theirs.numpy(), rtol=tol, atol=tol, err_msg=str(i))


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_gradients_against_torch_on_raw_inputs(device):
    """Inputs used as they are (not symmetrized): the gradient conventions (which triangle is read) match."""
    a = _spd((2, 3, 3)) + 0.3 * RNG.standard_normal((2, 3, 3))
    cot = RNG.standard_normal((2, 3, 3))
    for fn_g, fn_t in (
        (lambda x: GL.cholesky(x), lambda x: torch.linalg.cholesky(x)),
        (lambda x: GL.cholesky(x, upper=True), lambda x: torch.linalg.cholesky(x, upper=True)),
        (lambda x: _spectral(*GL.eigh(x)), lambda x: _spectral(*torch.linalg.eigh(x))),
        (lambda x: _spectral(*GL.eigh(x, UPLO="U")), lambda x: _spectral(*torch.linalg.eigh(x, UPLO="U"))),
    ):
        x = _t(a, device, grad=True)
        tx = torch.tensor(a, requires_grad=True)
        fn_g(x).backward(_t(cot, device))
        fn_t(tx).backward(torch.tensor(cot))
        np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-9, atol=1e-10)


def _spectral(w, v):
    return (v * w.exp().unsqueeze(-2)) @ v.mT


def test_forward_and_backward_do_not_synchronize(device):
    """On a CUDA device (the emulated one in CI), no op here reads device data on the host."""
    if not str(device).startswith("cuda"):
        pytest.skip("synchronization is a CUDA matter")
    a = _t(RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3), device, grad=True)
    w = _t(RNG.standard_normal((4, 3)), device, grad=True)
    gpubp.cuda.set_sync_debug_mode("error")
    try:
        spd = a @ a.mT
        outs = [GL.inv(a), GL.solve(a, a[..., 0]), GL.det(a), GL.slogdet(a).logabsdet, gpubp.logdet(spd),
                GL.cholesky(spd), _spectral(*GL.eigh(spd)), GL.matrix_norm(w, "nuc"), GL.matrix_norm(w, -1),
                GL.pinv(w), GL.svd(w, full_matrices=False).U @ GL.svd(w, full_matrices=False).U.mT,
                GL.qr(w).R, GL.matrix_power(a, -2), GL.vector_norm(w, 3)]  # fmt: skip
        grads = gpubp.autograd.grad([o.sum() for o in outs], [a, w], create_graph=True)
        gpubp.autograd.grad([g.sum() for g in grads], [a, w])
    finally:
        gpubp.cuda.set_sync_debug_mode("default")


def test_out_arguments(device):
    a = _t(RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3), device)
    for fn, args in ((GL.inv, (a,)), (GL.det, (a,)), (GL.solve, (a, a[..., 0])), (GL.cholesky, (a @ a.mT,)),
                     (GL.matrix_norm, (a, "nuc")), (GL.vector_norm, (a, 3)), (GL.norm, (a,)), (GL.svdvals, (a,)),
                     (GL.eigvalsh, (a + a.mT,)), (GL.pinv, (a,)), (GL.matrix_power, (a, 2)),
                     (GL.matrix_exp, (a * 0.1,)), (gpubp.inverse, (a,))):  # fmt: skip
        ref = fn(*args)
        out = gpubp.tensor(np.zeros(ref.shape), device=device)
        version = out._vc[0]
        assert fn(*args, out=out) is out, fn
        np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12, err_msg=str(fn))
        assert out._vc[0] > version
    x = _t(RNG.standard_normal((3, 3)) + 3 * np.eye(3), device, grad=True)
    with pytest.raises(RuntimeError, match=r"linalg\.inv\(\): functions with out=... arguments don't support"):
        GL.inv(x, out=gpubp.tensor(np.zeros((3, 3)), device=device))


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_matrix_exp_against_torch(device):
    for scale in (0.01, 1.0, 8.0):
        a = RNG.standard_normal((2, 4, 4)) * scale
        ours = _np(GL.matrix_exp(_t(a, device)))
        np.testing.assert_allclose(ours, torch.linalg.matrix_exp(torch.tensor(a)).numpy(), rtol=1e-10, atol=1e-12)
    zero = GL.matrix_exp(_t(np.zeros((2, 2)), device))
    np.testing.assert_array_equal(_np(zero), np.eye(2))
    assert GL.matrix_exp(_t(np.zeros((0, 3, 3)), device)).shape == (0, 3, 3)
    x = _t(RNG.standard_normal((3, 3)), device)
    np.testing.assert_allclose(_np(x.matrix_exp()), _np(gpubp.matrix_exp(x)))


def test_matrix_rank(device):
    a = RNG.standard_normal((2, 5, 2)) @ RNG.standard_normal((2, 2, 4))  # rank 2, shape (2, 5, 4)
    r = GL.matrix_rank(_t(a, device))
    assert r.dtype == np.int64 and r.shape == (2,)
    np.testing.assert_array_equal(_np(r), [2, 2])
    sym = _t(a[:, :4, :] @ np.swapaxes(a[:, :4, :], -1, -2), device)
    np.testing.assert_array_equal(_np(GL.matrix_rank(sym, hermitian=True)), [2, 2])
    np.testing.assert_array_equal(_np(GL.matrix_rank(_t(np.eye(3) * [1.0, 1e-3, 1e-9], device), atol=1e-6)), 2)
    if torch is not None:
        b = RNG.standard_normal((3, 4, 4))
        b[1, :, 0] = b[1, :, 1]
        np.testing.assert_array_equal(_np(GL.matrix_rank(_t(b, device))), torch.linalg.matrix_rank(torch.tensor(b)))


def test_triangular_and_cholesky_solves(device):
    spd = _spd((2, 3, 3))
    low = np.linalg.cholesky(spd)
    b = RNG.standard_normal((2, 3, 2))
    gl, gb = _t(low, device), _t(b, device)
    np.testing.assert_allclose(_np(GL.solve_triangular(gl, gb, upper=False)), np.linalg.solve(low, b), rtol=1e-10)
    junk = _t(low + np.triu(RNG.standard_normal((3, 3)), 1), device)  # the other triangle is never read
    np.testing.assert_allclose(_np(GL.solve_triangular(junk, gb, upper=False)), np.linalg.solve(low, b), rtol=1e-10)
    np.testing.assert_allclose(_np(gpubp.cholesky_solve(gb, gl)), np.linalg.solve(spd, b), rtol=1e-10)
    np.testing.assert_allclose(_np(gb.cholesky_solve(gl.mT, upper=True)), np.linalg.solve(spd, b), rtol=1e-10)
    np.testing.assert_allclose(_np(gl.cholesky_inverse()), np.linalg.inv(spd), rtol=1e-10)
    with pytest.raises(TypeError, match=r"linalg\.solve_triangular: upper must be a bool"):
        GL.solve_triangular(gl, gb, upper=None)
    with pytest.raises(InputError, match=r"linalg\.solve_triangular: .*B must have at least 2 dimensions"):
        GL.solve_triangular(gl, gb[0, :, 0], upper=True)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_cond_against_torch(device):
    a = RNG.standard_normal((2, 4, 4)) + 2 * np.eye(4)
    for p in (None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        ours = _np(GL.cond(_t(a, device), p))
        np.testing.assert_allclose(ours, torch.linalg.cond(torch.tensor(a), p).numpy(), rtol=1e-9, err_msg=str(p))
    w = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(_np(GL.cond(_t(w, device))), torch.linalg.cond(torch.tensor(w)).numpy(), rtol=1e-10)
