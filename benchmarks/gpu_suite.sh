#!/usr/bin/env bash
# The whole GPU check in one call: environment, every test (CuPy backend included), the GPU
# benchmarks and the example, with raw results written into the folder given as $1.
#   PYTHONPATH=. bash benchmarks/gpu_suite.sh "$OUT"
set -uo pipefail
out="${1:?usage: gpu_suite.sh RESULTS_DIR}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="${PYTHONPATH:-}:$PWD" PYTHONUNBUFFERED=1
status=0

python - "$out/env.json" <<'PY'
import datetime, json, platform, sys
info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "python": platform.python_version()}
try:
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    info.update(device=props["name"].decode(), cupy=cupy.__version__,
                cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(), cuda_driver=cupy.cuda.runtime.driverGetVersion())
except Exception as e:
    info["cupy_error"] = repr(e)
try:
    import torch
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
except Exception as e:
    info["torch_error"] = repr(e)
import numpy
info["numpy"] = numpy.__version__
json.dump(info, open(sys.argv[1], "w"), indent=2)
print(json.dumps(info, indent=2))
PY

python -c "import gpubp.cuda as c; print(f'warmup: {c.warmup():.1f}s for {c.kernel_count()} kernels')" 2>&1 | tee "$out/warmup.log" || status=1
python -m pytest tests -q --junitxml="$out/tests.xml" -p no:cacheprovider 2>&1 | tee "$out/tests.log" | tail -40 || status=1
python -m pytest benchmarks/test_gpu_bench.py -q --benchmark-enable --benchmark-json="$out/gpu-bench.json" \
    -p no:cacheprovider 2>&1 | tee "$out/bench.log" | tail -40 || status=1
python examples/mlp_digits.py --device cuda --epochs 10 2>&1 | tee "$out/example.log" || status=1
exit $status
