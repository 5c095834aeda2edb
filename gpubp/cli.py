"""The ``gpubp`` command: ``gpubp train EXAMPLE`` and ``gpubp info``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from . import backend, creation, serialization
    from .train import fit
    from .zoo import EXAMPLES

    ex = EXAMPLES[args.example]
    device = args.device or str(backend.default_device())
    backend.set_default_device(device)
    creation.manual_seed(args.seed)
    epochs = args.epochs or ex.epochs
    lr = args.lr or ex.lr
    batch = args.batch_size or ex.batch_size
    out = Path(args.out or Path("runs") / ex.name)
    print(f"gpubp train {ex.name}: {ex.description}  (device {device}, {epochs} epochs, lr {lr}, batch {batch})")
    train_loader, val_loader = ex.loaders(batch, device, args.seed, args.data)
    model = ex.model()
    optimizer = ex.optimizer(model, lr)
    start = time.perf_counter()
    history = fit(
        model,
        ex.loss,
        optimizer,
        train_loader,
        val_loader,
        epochs=epochs,
        metrics=ex.metrics,
        out_dir=out,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    serialization.save(model.state_dict(), out / "model.safetensors")
    final = {k: v[-1] for k, v in history.items() if k.startswith(("train_", "val_"))}
    final["seconds"] = round(seconds, 2)
    (out / "final.json").write_text(json.dumps(final, indent=2))
    print("final: " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in final.items()))
    print(
        f"wrote {out}/model.safetensors, best.safetensors, history.json"
        + (", curves.png" if (out / "curves.png").exists() else "")
    )
    missed = {k: g for k, g in ex.goal.items() if final.get(k, float("-inf")) < g}
    if missed:
        print(f"below this example's goal: {missed}")
    return 0


def _info(_: argparse.Namespace) -> int:
    from . import __version__, backend, cuda

    print(f"gpubp {__version__} (Python {platform.python_version()}, {platform.platform()})")
    import numpy

    print(f"numpy {numpy.__version__}")
    print(f"default device: {backend.default_device()}")
    try:
        cupy, _ = backend.cupy_modules()  # CuPy, or its CPU stand-in under GPUBP_EMULATE_CUDA
        emulated = " (emulated on the CPU: GPUBP_EMULATE_CUDA)" if backend.emulated() else ""
        print(f"cupy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}{emulated}")
        if not backend.device_count():
            print("  no CUDA device visible (no GPU, or no driver)")
        for i in range(backend.device_count()):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            print(f"  cuda:{i}  {props['name'].decode()}  {props['totalGlobalMem'] / 2**30:.1f} GiB")
    except ImportError:
        print("cupy: not installed (GPU support: pip install 'gpubp[cuda12]' or 'gpubp[cuda13]')")
    except Exception as e:  # CuPy present but no usable driver
        print(f"cupy: installed, but CUDA is not usable here: {e}")
    cache = cuda.kernel_cache_dir()
    n = len(list(cache.glob("*"))) if cache.is_dir() else 0
    print(f"kernels: {cuda.kernel_count()} instantiations; CuPy kernel cache {cache} ({n} files)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from .zoo import EXAMPLES

    parser = argparse.ArgumentParser(prog="gpubp", description="Train neural networks with gpubp.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a built-in example")
    t.add_argument("example", choices=sorted(EXAMPLES))
    t.add_argument("--device", help="cpu or cuda[:N] (default: cuda when available)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--out", help="output folder (default runs/EXAMPLE)")
    t.add_argument("--data", help="data folder (mnist: the IDX files)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=_train)
    i = sub.add_parser("info", help="versions, devices and the kernel cache")
    i.set_defaults(func=_info)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"gpubp: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
