#!/usr/bin/env bash
# The one command a session runs when it is lent a GPU: everything a single run can tell, inside 8 minutes on a
# fresh machine with a cold kernel cache, written into OUT as each step ends.
#
#   bash benchmarks/gpu_check.sh OUT                          # on the GPU machine (sets PYTHONPATH itself)
#   GPUBP_EMULATE_CUDA=1 bash benchmarks/gpu_check.sh OUT     # the same script on the CPU stand-in (CI)
#
# Steps, each under its own `timeout` (budgets in seconds below; a failing step never stops the next):
#   env      versions, device, SM count, emulated or not                          -> OUT/env.json
#   warmup   compile every kernel family into one fresh CuPy cache (CUPY_CACHE_DIR), which every later step uses
#   tests    the test suite on the CUDA backend (pytest-xdist when present; CPU-only acceptance runs left out)
#   kernels  tests/test_cuda.py (+ test_cuda_attention.py, test_norm_fused.py): every fused kernel against its NumPy
#            reference, its own JUnit XML
#   bench    benchmarks/test_gpu_bench.py + the GPU cases of test_train_bench.py, test_attention_bench.py and
#            test_transformer_bench.py                                            -> OUT/bench.json
#   example  gpubp train digits-mlp --device cuda --epochs 3
#   summary  benchmarks/gpu_check_summary.py                                     -> OUT/summary.md, summary.json
# OUT ends with five files: summary.md, summary.json, env.json, bench.json and raw.tar.gz (every step's log, the
# JUnit XML, warmup.json, the example's outputs), all rewritten after every step, so a run cut short still says
# how far it got. Exit status: 0 when every step passed, 1 otherwise.
#
# Under GPUBP_EMULATE_CUDA the sizes shrink (GPUBP_BENCH_SMALL=1), the PyTorch-on-GPU halves skip, the test step
# runs a subset, and the budgets are CI's. Hooks, for tests and reruns:
#   GPUBP_GPU_CHECK_STEPS=bench,example   run only these steps (the others are recorded as not run)
#   GPUBP_GPU_CHECK_FAIL_STEP=example     run `false` instead of these steps (to check that a failure is reported)
#   GPUBP_GPU_CHECK_WORKERS=4             pytest-xdist workers for the test steps (default: half the cores, at most
#                                         8; emulated: 2, or serial on 2 cores; 0 or 1: serial)
set -u

out="${1:?usage: bash benchmarks/gpu_check.sh OUT_DIR}"
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
cd "$(dirname "$0")/.." || exit 2
root="$PWD"
started=$SECONDS

export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
export GPUBP_GPU_CHECK=1  # tests/test_gpu_check.py skips inside a check: no check within a check
export GPUBP_DEVICE="${GPUBP_DEVICE:-cuda}"  # the suite runs with the GPU as its default device (gpubp's default is the CPU)
work="$(mktemp -d "${TMPDIR:-/tmp}/gpubp-gpu-check.XXXXXX")" || exit 2
raw="$work/raw"
mkdir -p "$raw"
# one kernel cache, cold, shared by every step after warmup: CuPy's, and the emulator's host-compiled kernels
export CUPY_CACHE_DIR="$work/kernel-cache" GPUBP_EMULATOR_CACHE="$work/kernel-cache"
rm -f "$out/summary.md" "$out/summary.json" "$out/env.json" "$out/bench.json" "$out/raw.tar.gz"

case "${GPUBP_EMULATE_CUDA:-0}" in
"" | 0) emulated=0 ;;
*) emulated=1 ;;
esac

cores="$(nproc 2>/dev/null || echo 2)"
if [ "$emulated" = 1 ]; then
    export GPUBP_BENCH_SMALL="${GPUBP_BENCH_SMALL:-1}"
    total=300 # CI's whole run (about 90 s on 2 cores); the GPU's is 465
    workers=$((cores > 2 ? 2 : 1)) # on 2 cores two workers cost more (each imports torch) than they win
    # the engine, layers, optimizers and training loop on the (emulated) CUDA device; the CPU-only acceptance runs
    # of every example and the wheel build stay in CI's own test run
    test_targets=(tests/test_autograd.py tests/test_optim.py tests/test_training.py tests/test_no_sync.py)
    test_filter="not on_the_cpu and not built_wheel and not single_file_examples"
    budget_env=15 budget_warmup=45 budget_tests=90 budget_kernels=60 budget_bench=45 budget_example=30
else
    total=465
    workers=$((cores / 2 > 8 ? 8 : (cores / 2 < 1 ? 1 : cores / 2)))
    test_targets=(tests)
    test_filter="not on_the_cpu and not built_wheel and not single_file_examples"
    budget_env=20 budget_warmup=60 budget_tests=150 budget_kernels=60 budget_bench=100 budget_example=40
fi
budget_summary=10
grace=15 # seconds between a step's SIGINT at its budget and its SIGKILL

# pytest plugins that may be missing (a plain install has neither): then a serial run without per-test timeouts
pytest_common=(-p no:cacheprovider -q -rfE --durations=10)
workers="${GPUBP_GPU_CHECK_WORKERS:-$workers}"
parallel=()
if [ "$workers" -gt 1 ] && python3 -c "import xdist" >/dev/null 2>&1; then
    parallel=(-n "$workers")
fi
t_tests=() t_kernels=() t_bench=()  # per-test limits, with pytest-timeout
if python3 -c "import pytest_timeout" >/dev/null 2>&1; then
    t_tests=(--timeout=120) t_kernels=(--timeout=60) t_bench=(--timeout=90)
fi

note() { echo "[gpu-check $((SECONDS - started))s] $*"; }

{
    printf 'env\t%s\tenvironment -> env.json\n' "$budget_env"
    printf 'warmup\t%s\tcompile every kernel family (cold cache)\n' "$budget_warmup"
    printf 'tests\t%s\ttest suite on the CUDA backend\n' "$budget_tests"
    printf 'kernels\t%s\ttests/test_cuda.py: fused kernels vs NumPy\n' "$budget_kernels"
    printf 'bench\t%s\tbenchmarks vs PyTorch -> bench.json\n' "$budget_bench"
    printf 'example\t%s\tgpubp train digits-mlp --device cuda\n' "$budget_example"
    printf 'summary\t%s\tsummary.md\n' "$budget_summary"
} >"$raw/plan.tsv"
: >"$raw/steps.tsv"

# pack: the summary so far and every raw file into OUT (each replaced whole, so OUT is never half written)
pack() {
    timeout 20 python3 benchmarks/gpu_check_summary.py "$raw" "$out" --elapsed "$((SECONDS - started))" \
        >>"$raw/pack.log" 2>&1
    tar -czf "$work/raw.tar.gz" -C "$work" --exclude='*.safetensors' raw 2>>"$raw/pack.log" &&
        mv -f "$work/raw.tar.gz" "$out/raw.tar.gz"
}

failed=0
# run_step NAME BUDGET COMMAND...: the command under `timeout`, its output in raw/NAME.log, its record in steps.tsv
run_step() {
    local name="$1" budget="$2" rc t0 ds allowed left
    shift 2
    if [ -n "${GPUBP_GPU_CHECK_STEPS:-}" ] && [[ ",$GPUBP_GPU_CHECK_STEPS,summary," != *",$name,"* ]]; then
        printf '%s\t-\t0\t%s\tnot selected (GPUBP_GPU_CHECK_STEPS)\n' "$name" "$budget" >>"$raw/steps.tsv"
        note "$name: not selected"
        return 0
    fi
    # every step but the summary ends before the whole run's deadline, leaving the summary its own budget
    left=$((started + total - SECONDS - budget_summary - grace))
    allowed=$((budget < left || name == "summary" ? budget : left))
    if [ "$allowed" -lt 1 ]; then
        printf '%s\t124\t0\t%s\tno time left in the whole run (%ss)\n' "$name" "$budget" "$total" >>"$raw/steps.tsv"
        echo "no time left in the whole run" >"$raw/$name.log"
        failed=$((failed + 1))
        note "$name: no time left"
        return 0
    fi
    if [[ ",${GPUBP_GPU_CHECK_FAIL_STEP:-}," == *",$name,"* ]]; then
        set -- false
        echo "GPUBP_GPU_CHECK_FAIL_STEP=$GPUBP_GPU_CHECK_FAIL_STEP: this step runs 'false'" >"$raw/$name.log"
    else
        : >"$raw/$name.log"
    fi
    note "$name: start (budget ${allowed}s): $*"
    t0=$(date +%s%N)
    # SIGINT first: pytest then still writes its JUnit XML and its summary (xdist needs ~10 s); SIGKILL after that
    timeout -s INT -k "$grace" "$allowed" "$@" >>"$raw/$name.log" 2>&1
    rc=$?
    ds=$((($(date +%s%N) - t0) / 100000000))  # tenths of a second
    printf '%s\t%s\t%s.%s\t%s\t\n' "$name" "$rc" "$((ds / 10))" "$((ds % 10))" "$allowed" >>"$raw/steps.tsv"
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
    fi
    note "$name: exit $rc"
    tail -n 3 "$raw/$name.log" | sed 's/^/    /'
    [ "$name" = summary ] || pack
}

# ---- 1. the environment --------------------------------------------------------------------------------------
run_step env "$budget_env" python3 - "$out/env.json" <<'PY'
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys

info = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "python": platform.python_version(),
    "host": platform.node(),
    "cpus": os.cpu_count(),
    "emulated": os.environ.get("GPUBP_EMULATE_CUDA", "0") not in ("", "0"),
}
ok = True
try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
    info["commit"] = commit or None
except (OSError, subprocess.SubprocessError):
    info["commit"] = None
info["numpy"] = importlib.metadata.version("numpy")


def cuda_version(v: int) -> str:
    return f"{v // 1000}.{v % 1000 // 10}"


try:
    import gpubp
    from gpubp.backend import cupy_modules

    info["gpubp"] = gpubp.__version__
    cupy, _ = cupy_modules()
    info["cupy"] = cupy.__version__
    rt = cupy.cuda.runtime
    props = rt.getDeviceProperties(0)
    info.update(
        device=props["name"].decode(),
        device_count=rt.getDeviceCount(),
        sm_count=props["multiProcessorCount"],
        memory_gib=round(props["totalGlobalMem"] / 2**30, 1),
        compute_capability=f"{props['major']}.{props['minor']}",
        cuda_runtime=cuda_version(rt.runtimeGetVersion()),
        driver=cuda_version(rt.driverGetVersion()),
        gpubp_default_device=str(gpubp.default_device()),
    )
    info["emulated"] = info["emulated"] or bool(getattr(cupy, "_emulated", False))
except Exception as e:  # no CuPy, no driver, no GPU: recorded, and the step fails
    info["cuda_error"] = f"{type(e).__name__}: {e}"[:2000]
    ok = False
try:
    smi = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    if smi.returncode == 0 and smi.stdout.strip():
        info["nvidia_smi"] = smi.stdout.strip()
        info["driver"] = smi.stdout.split(",")[1].strip() + f" (CUDA {info.get('driver', '?')})"
except (OSError, subprocess.SubprocessError):
    pass
try:
    import torch

    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, torch_cuda_available=torch.cuda.is_available())
    if torch.cuda.is_available():
        info["torch_device"] = torch.cuda.get_device_name(0)
except Exception as e:
    info["torch_error"] = f"{type(e).__name__}: {e}"
with open(sys.argv[1], "w") as f:
    json.dump(info, f, indent=2)
print(json.dumps(info, indent=2))
if not ok:
    print(f"no usable CUDA device: {info['cuda_error']}")
sys.exit(0 if ok else 1)
PY

# ---- 2. every kernel family, compiled once into the shared cache ------------------------------------------------
run_step warmup "$budget_warmup" python3 - "$raw/warmup.json" <<'PY'
import json
import sys
import time
from pathlib import Path

import gpubp.cuda
from gpubp.backend import get_backend, kernels

result = {"kernels": gpubp.cuda.kernel_count(), "cache_dir": str(gpubp.cuda.kernel_cache_dir()), "families": {}}
start = time.perf_counter()


def save() -> None:  # after every family: a warm-up cut short by its budget still says how far it got
    result["seconds"] = time.perf_counter() - start
    result["compiled"] = sum(f["compiled"] for f in result["families"].values())
    cache = Path(result["cache_dir"])
    result["cache_files"] = sum(1 for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else 0
    Path(sys.argv[1]).write_text(json.dumps(result, indent=2))


try:
    be = get_backend("cuda")
    for family, (_, names) in kernels.FAMILIES.items():  # one family at a time: a broken one leaves the rest
        t0, done, error = time.perf_counter(), 0, None
        try:
            for name in names:
                be._kernel(family, name)
                done += 1
        except Exception as e:  # NVRTC's log is in the message
            error = f"{type(e).__name__}: {e}"[:4000]
        seconds = time.perf_counter() - t0
        result["families"][family] = {"kernels": len(names), "compiled": done, "seconds": seconds, "error": error}
        print(f"{family}: {done}/{len(names)} kernels in {seconds:.1f}s" + (f"\n{error}" if error else ""))
        save()
    if not any(f["error"] for f in result["families"].values()):
        result["warmup_call_s"] = gpubp.cuda.warmup()  # the public entry point; all compiled by now
except Exception as e:
    result["error"] = f"{type(e).__name__}: {e}"[:4000]
    print(result["error"])
save()
r = result
print(f"warmup: {r['compiled']}/{r['kernels']} kernels in {r['seconds']:.1f}s; {r['cache_files']} files in the cache")
sys.exit(0 if result["compiled"] == result["kernels"] and "error" not in result else 1)
PY

# ---- 3. the test suite on the CUDA backend ----------------------------------------------------------------------
# (tests/test_cuda.py is step 4 and tests/test_gpu_check.py is this script: neither runs here)
run_step tests "$budget_tests" python3 -m pytest "${test_targets[@]}" --ignore=tests/test_cuda.py \
    --ignore=tests/test_gpu_check.py -k "$test_filter" "${pytest_common[@]}" "${parallel[@]}" "${t_tests[@]}" \
    --junitxml="$raw/tests.xml"

# ---- 4. every fused kernel against its NumPy reference ----------------------------------------------------------
kernel_targets=(tests/test_cuda.py tests/test_cuda_attention.py tests/test_norm_fused.py)
run_step kernels "$budget_kernels" python3 -m pytest "${kernel_targets[@]}" "${pytest_common[@]}" "${parallel[@]}" \
    "${t_kernels[@]}" --junitxml="$raw/kernels.xml"

# ---- 5. headline measurements against PyTorch on the same GPU (serial: the GPU to itself) ---------------------
# (attention: SDPA against PyTorch's fused SDPA; a transformer-block step against PyTorch eager)
run_step bench "$budget_bench" python3 -m pytest benchmarks/test_gpu_bench.py benchmarks/test_train_bench.py \
    benchmarks/test_attention_bench.py benchmarks/test_transformer_bench.py \
    -k "test_gpu_bench or cuda" "${pytest_common[@]}" "${t_bench[@]}" --benchmark-enable \
    --benchmark-json="$out/bench.json" --junitxml="$raw/bench.xml"

# ---- 6. a built-in example, trained on the GPU ------------------------------------------------------------------
run_step example "$budget_example" python3 -m gpubp train digits-mlp --device cuda --epochs 3 --quiet \
    --out "$raw/example"

# ---- 7. the summary ---------------------------------------------------------------------------------------------
run_step summary "$budget_summary" python3 benchmarks/gpu_check_summary.py "$raw" "$out" --final \
    --elapsed "$((SECONDS - started))"
tar -czf "$work/raw.tar.gz" -C "$work" --exclude='*.safetensors' raw && mv -f "$work/raw.tar.gz" "$out/raw.tar.gz"
cat "$out/summary.md" 2>/dev/null
note "done: $failed step(s) failed; results in $out"
rm -rf "$work"
[ "$failed" -eq 0 ]
