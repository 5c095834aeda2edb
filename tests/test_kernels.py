"""The CUDA kernel sources, checked without a GPU.

* every instantiation of every family compiles with nvcc for sm_80 and sm_90, warnings as errors;
* the same source compiles through NVRTC exactly as CuPy does at run time (where CuPy and NVRTC are installed);
* the kernels' scalar formulas (kernels/*.cuh), compiled for the CPU, match the NumPy references;
* the loader pastes headers into the source, so editing a header changes CuPy's cache key.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import rng_for

import gpubp
from gpubp.backend import kernels
from gpubp.backend.base import ACTIVATION_SAVES
from gpubp.backend.numpy_backend import NumpyBackend

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true")
# Compiling a source does not depend on the device the suite runs on: CI compiles every family in its plain pass and
# leaves the emulated passes (which run the same sources on the CPU) the minutes nvcc and NVRTC take.
compiled_once = pytest.mark.skipif(
    gpubp.backend.emulated(), reason="compiled in the plain pass (the source does not depend on the device)"
)


def _nvcc() -> str:
    nvcc = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None)
    if nvcc is None:
        if IN_CI:
            pytest.fail("nvcc is not on this CI machine: the kernel sources cannot be compile-checked")
        pytest.skip("nvcc is not installed")
    return nvcc


def _instantiating_source(family: str) -> str:
    """The family's source plus a table taking the address of every instantiation, which
    makes the compiler instantiate (and so type-check) each one."""
    refs = ",\n".join(f"    (void*)&{name}" for name in kernels.FAMILIES[family][1])
    return kernels.source(family) + f"\nvoid* gpubp_instances[] = {{\n{refs}\n}};\n"


@compiled_once
@pytest.mark.parametrize("family", sorted(kernels.FAMILIES))
def test_kernel_family_compiles_with_nvcc(family: str, tmp_path: Path) -> None:
    src = tmp_path / f"{family}.cu"
    src.write_text(_instantiating_source(family))
    cmd = [
        _nvcc(),
        "-std=c++17",
        "-c",
        "-o",
        str(tmp_path / f"{family}.o"),
        "-Werror",
        "all-warnings",
        "-gencode",
        "arch=compute_80,code=sm_80",
        "-gencode",
        "arch=compute_90,code=sm_90",
        str(src),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"nvcc failed for {family}:\n{result.stderr[-4000:]}"


def _nvrtc_program():  # noqa: ANN202
    try:
        from cupy.cuda import compiler

        compiler._NVRTCProgram('extern "C" __global__ void k() {}', "probe.cu").compile(("-arch=compute_80",))
    except Exception as e:  # no CuPy, or no NVRTC library: nothing to check with here
        if IN_CI:
            pytest.fail(f"CuPy's NVRTC is not usable on this CI machine: {type(e).__name__}: {e}")
        pytest.skip(f"CuPy's NVRTC is not usable here: {type(e).__name__}")
    return compiler._NVRTCProgram


def _cupy_options(arch: str) -> tuple[str, ...]:
    """The options CuPy's RawModule compiles with (cupy/cuda/compiler.py): gpubp's own, then -ftz=true,
    --device-as-default-execution-space, CuPy's include folder, and -arch=sm_XX to build a cubin for the device.
    (Read from CuPy 14.2's source: its compile entry points ask the driver for the device, which CI has not.)"""
    from cupy._core import core

    return (*kernels.OPTIONS, "-ftz=true", f"-I{core._get_header_dir_path()}", "--device-as-default-execution-space",
            f"-arch=sm_{arch}")  # fmt: skip


@compiled_once
@pytest.mark.parametrize("arch", ["80", "90"])
@pytest.mark.parametrize("family", sorted(kernels.FAMILIES))
def test_kernel_family_compiles_with_nvrtc_as_cupy_does(family: str, arch: str) -> None:
    program = _nvrtc_program()
    names = list(kernels.FAMILIES[family][1])
    prog = program(kernels.source(family), f"{family}.cu", name_expressions=names, method="cubin")
    binary, mapping = prog.compile(_cupy_options(arch))
    assert binary and set(mapping) == set(names)


def test_every_activation_has_a_kernel_id() -> None:
    assert set(kernels.ACTIVATION_IDS) == set(ACTIVATION_SAVES)
    enum = (ROOT / "kernels" / "activations.cuh").read_text()
    for name, kid in kernels.ACTIVATION_IDS.items():
        assert f"{name.upper()} = {kid}" in enum


def test_source_inlines_headers_so_cache_keys_follow_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "kernels"
    shutil.copytree(ROOT / "kernels", folder)
    monkeypatch.setattr(kernels, "kernel_dir", lambda: folder)
    kernels.source.cache_clear()
    try:
        before = kernels.source("activations")
        assert '#include "' not in before and "struct TensorTable" in before and "act_bwd" in before
        with open(folder / "common.cuh", "a") as fh:
            fh.write("\n// a change only in a header\n")
        kernels.source.cache_clear()
        after = kernels.source("activations")
        assert after != before and "a change only in a header" in after
    finally:
        kernels.source.cache_clear()


# ---- the kernels' scalar math, compiled for the CPU --------------------------------------------


@pytest.fixture(scope="module")
def host_math(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    lib = tmp_path_factory.mktemp("hostmath") / "kernel_math.so"
    cmd = [
        cxx,
        "-std=c++17",
        "-O2",
        "-shared",
        "-fPIC",
        f"-I{ROOT / 'kernels'}",
        "-o",
        str(lib),
        str(ROOT / "tests" / "kernel_math_host.cpp"),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return ctypes.CDLL(str(lib))


def _ptr(a: np.ndarray | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(None if a is None else a.ctypes.data)


_PARAM = {"leaky_relu": 0.1, "elu": 1.3, "softplus": 1.5}


@pytest.mark.parametrize("dtype,sfx,tol", [(np.float32, "f32", 3e-6), (np.float64, "f64", 1e-13)])
@pytest.mark.parametrize("name", sorted(ACTIVATION_SAVES))
def test_activation_kernel_math_matches_reference(
    host_math: ctypes.CDLL, name: str, dtype, sfx: str, tol: float
) -> None:  # noqa: ANN001
    ref = NumpyBackend()
    rng = rng_for("hostmath", name, sfx)
    x = np.concatenate([rng.standard_normal(500) * 5, [0.0, -30.0, 30.0, 1e-3]]).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    p = _PARAM.get(name, 0.0)
    kid = kernels.ACTIVATION_IDS[name]
    y = np.empty_like(x)
    getattr(host_math, f"act_fwd_{sfx}")(kid, _ptr(x), _ptr(y), ctypes.c_long(x.size), ctypes.c_double(p))
    np.testing.assert_allclose(y, ref.act_forward(name, x, p), rtol=tol, atol=tol)
    saved = y if ACTIVATION_SAVES[name] == "output" else x
    dx = np.empty_like(x)
    getattr(host_math, f"act_bwd_{sfx}")(kid, _ptr(g), _ptr(saved), _ptr(dx), ctypes.c_long(x.size), ctypes.c_double(p))
    np.testing.assert_allclose(dx, ref.act_backward(name, g, saved, p), rtol=tol * 10, atol=tol * 10)


_D = ctypes.c_double


@pytest.mark.parametrize("dtype,sfx,tol", [(np.float32, "f32", 2e-6), (np.float64, "f64", 1e-13)])
@pytest.mark.parametrize(
    "kind,kw",
    [
        ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01, "nesterov": False}),
        ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True}),
        ("adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled": False, "amsgrad": False}),
        ("adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled": True, "amsgrad": True}),
        ("rmsprop", {"lr": 1e-2, "alpha": 0.9, "weight_decay": 0.01, "momentum": 0.9, "centered": True}),
        ("rmsprop", {"lr": 1e-2, "alpha": 0.99, "weight_decay": 0.0, "momentum": 0.0, "centered": False}),
        ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
    ],
)
def test_optimizer_kernel_math_matches_reference(
    host_math: ctypes.CDLL, kind: str, kw: dict, dtype, sfx: str, tol: float
) -> None:  # noqa: ANN001
    ref = NumpyBackend()
    rng = rng_for("hostopt", kind, sorted(kw.items()), sfx)
    n = 257
    p_ref = rng.standard_normal(n).astype(dtype)
    p = p_ref.copy()
    z = lambda: np.zeros(n, dtype)  # noqa: E731
    s_ref = [z(), z(), z()]
    s = [z(), z(), z()]
    for step in range(1, 5):
        g = rng.standard_normal(n).astype(dtype)
        c_n = ctypes.c_long(n)
        if kind == "sgd":
            ref.sgd_update(
                [p_ref],
                [g],
                [s_ref[0]],
                lr=kw["lr"],
                momentum=kw["momentum"],
                dampening=kw["dampening"],
                nesterov=kw["nesterov"],
                weight_decay=kw["weight_decay"],
                first_step=step == 1,
            )
            host_math[f"sgd_{sfx}"](
                _ptr(p),
                _ptr(g),
                _ptr(s[0]),
                c_n,
                _D(kw["lr"]),
                _D(kw["momentum"]),
                _D(kw["dampening"]),
                _D(kw["weight_decay"]),
                int(kw["nesterov"]),
                int(step == 1),
            )
        elif kind == "adam":
            vmax_ref, vmax = (s_ref[2], s[2]) if kw["amsgrad"] else (None, None)
            ref.adam_update(
                [p_ref],
                [g],
                [s_ref[0]],
                [s_ref[1]],
                step=step,
                lr=kw["lr"],
                weight_decay=kw["weight_decay"],
                decoupled=kw["decoupled"],
                max_exp_avg_sqs=None if vmax_ref is None else [vmax_ref],
            )
            host_math[f"adam_{sfx}"](
                _ptr(p),
                _ptr(g),
                _ptr(s[0]),
                _ptr(s[1]),
                _ptr(vmax),
                c_n,
                _D(kw["lr"]),
                _D(0.9),
                _D(0.999),
                _D(1e-8),
                _D(kw["weight_decay"]),
                int(kw["decoupled"]),
                _D(step),
            )
        elif kind == "rmsprop":
            buf_ref, buf = (s_ref[1], s[1]) if kw["momentum"] else (None, None)
            ga_ref, ga = (s_ref[2], s[2]) if kw["centered"] else (None, None)
            ref.rmsprop_update(
                [p_ref],
                [g],
                [s_ref[0]],
                lr=kw["lr"],
                alpha=kw["alpha"],
                weight_decay=kw["weight_decay"],
                momentum=kw["momentum"],
                bufs=None if buf_ref is None else [buf_ref],
                grad_avgs=None if ga_ref is None else [ga_ref],
            )
            host_math[f"rmsprop_{sfx}"](
                _ptr(p),
                _ptr(g),
                _ptr(s[0]),
                _ptr(buf),
                _ptr(ga),
                c_n,
                _D(kw["lr"]),
                _D(kw["alpha"]),
                _D(1e-8),
                _D(kw["weight_decay"]),
                _D(kw["momentum"]),
            )
        else:
            ref.adagrad_update(
                [p_ref],
                [g],
                [s_ref[0]],
                step=step,
                lr=kw["lr"],
                lr_decay=kw["lr_decay"],
                weight_decay=kw["weight_decay"],
            )
            host_math[f"adagrad_{sfx}"](
                _ptr(p),
                _ptr(g),
                _ptr(s[0]),
                c_n,
                _D(kw["lr"]),
                _D(kw["lr_decay"]),
                _D(kw["weight_decay"]),
                _D(1e-10),
                _D(step),
            )
        np.testing.assert_allclose(p, p_ref, rtol=tol, atol=tol)


def test_built_wheel_ships_the_kernel_sources(tmp_path: Path) -> None:
    """A non-editable install must find kernels/ inside the package (gpubp/_kernels)."""
    import sys
    import zipfile

    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools installed (the test extra)")
    # no build isolation: it would fetch setuptools from a package index, which a GPU machine may not reach
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("gpubp-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path / "site")
    probe = (
        "from gpubp.backend import kernels; d = kernels.kernel_dir(); "
        "print(d); [kernels.source(f) for f in kernels.FAMILIES]"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert Path(run.stdout.strip()) == tmp_path / "site" / "gpubp" / "_kernels"


def test_cuda_extras_bring_what_a_driver_only_machine_lacks() -> None:
    """CuPy's wheels assume a CUDA toolkit (NVRTC, headers) for every RawModule compile; its [ctk] extra brings it."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, wheel in (("cuda12", "cupy-cuda12x"), ("cuda13", "cupy-cuda13x")):
        assert any(req.replace(" ", "").startswith(f"{wheel}[ctk]") for req in extras[name]), (name, extras[name])


def test_modules_per_dtype_partition_every_family() -> None:
    """The CUDA backend compiles one module per (family, dtype): together they hold each instantiation once."""
    for family, (_, names) in kernels.FAMILIES.items():
        parts = [kernels.instantiations(family, ct) for ct in kernels.CTYPES.values()]
        assert sorted(n for part in parts for n in part) == sorted(names) and all(parts), family
