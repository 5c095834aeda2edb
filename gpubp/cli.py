"""The ``gpubp`` command: ``gpubp train EXAMPLE``, ``gpubp sample EXAMPLE`` and ``gpubp info``."""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``gpubp train: error: ...`` on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _examples_epilog() -> str:
    from .zoo import EXAMPLES

    lines = ["examples (defaults: epochs, learning rate, batch size; the goal a default run reaches on held-out data):"]
    for name in sorted(EXAMPLES):
        ex = EXAMPLES[name]
        goal = ", ".join(f"{k} >= {v:g}" for k, v in ex.goal.items()) or "none set"
        lines.append(f"  {name:<15} {ex.description}")
        lines.append(f"  {'':<15} {ex.epochs} epochs, lr {ex.lr:g}, batch size {ex.batch_size}; goal: {goal}")
    generative = ", ".join(n for n in sorted(EXAMPLES) if EXAMPLES[n].generative)
    lines.append(f"text from a trained model ({generative}): gpubp sample EXAMPLE --checkpoint OUT --prompt TEXT")
    lines.append("  e.g. gpubp train addition-gpt --out runs/add; gpubp sample addition-gpt --checkpoint runs/add "
                 "--prompt 12+34= --top-k 3")  # fmt: skip
    return "\n".join(lines)


def _out_problem(out: Path) -> str | None:
    """Why ``out`` cannot be the output folder, or None once it exists and takes a file."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; expected a folder"
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"--out {out}: {parent} is a file, not a folder"
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # the one sure test of writability (os.access says yes to root)
            pass
    except OSError as e:
        return f"--out {out} is not writable: {e.strerror or e}"
    return None


def _check_train_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse bad values with ``parser.error`` (exit 2) before anything trains; the output folder is made last."""
    from . import backend
    from .zoo import EXAMPLES

    ex = EXAMPLES[args.example]
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive integer, got {args.epochs}")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"--lr must be a positive finite number, got {args.lr}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    if args.device is not None:
        try:
            backend.get_backend(backend.parse_device(args.device))
        except (ValueError, RuntimeError) as e:
            parser.error(f"--device {args.device}: {e}")
    if args.data is not None and not ex.takes_data:
        users = ", ".join(n for n, e in EXAMPLES.items() if e.takes_data)
        parser.error(f"--data is not used by {ex.name} ({ex.description}); examples that read --data: {users}")
    if ex.takes_data and args.data is None:
        parser.error(f"{ex.name} needs --data PATH: the folder holding its IDX files")
    if args.data is not None and not Path(args.data).is_dir():
        what = "a file" if Path(args.data).exists() else "missing"
        parser.error(f"--data must be a folder holding {ex.name}'s files, got {args.data} ({what})")
    problem = _out_problem(Path(args.out or Path("runs") / ex.name))
    if problem:
        parser.error(problem)


def _train(args: argparse.Namespace) -> int:
    from . import backend, creation, serialization
    from .train import NonFiniteLossError, _write_json, fit
    from .zoo import EXAMPLES

    ex = EXAMPLES[args.example]
    device = args.device or ("cuda" if backend.cuda_available() else "cpu")  # the main job uses the GPU when present
    previous = backend._default  # None (follow the current GPU) stays None afterwards
    backend.set_default_device(device)
    try:
        creation.manual_seed(args.seed)
        epochs = ex.epochs if args.epochs is None else args.epochs
        lr = ex.lr if args.lr is None else args.lr
        batch = ex.batch_size if args.batch_size is None else args.batch_size
        out = Path(args.out or Path("runs") / ex.name)
        settings = f"device {device}, {epochs} epoch{'s' if epochs != 1 else ''}, lr {lr}, batch {batch}"
        print(f"gpubp train {ex.name}: {ex.description}  ({settings})")
        train_loader, val_loader = ex.loaders(batch, device, args.seed, args.data)
        model = ex.model()
        optimizer = ex.optimizer(model, lr)
        scheduler = None if ex.scheduler is None else ex.scheduler(optimizer, epochs * len(train_loader))
        start = time.perf_counter()
        try:
            history = fit(model, ex.loss, optimizer, train_loader, val_loader, epochs=epochs, metrics=ex.metrics,
                          out_dir=out, progress=not args.quiet, scheduler=scheduler, scheduler_interval="batch",
                          clip_grad_norm=ex.clip_grad_norm)  # fmt: skip
        except NonFiniteLossError as e:
            print(f"gpubp train: error: {e}", file=sys.stderr)
            return 1  # the run failed, the command line was fine: not argparse's 2
        seconds = time.perf_counter() - start
        serialization.save(model.state_dict(), out / "model.safetensors")
        final: dict[str, Any] = {k: v[-1] for k, v in history.items() if k.startswith(("train_", "val_"))}
        if ex.final_metrics is not None:  # e.g. exact match of generated answers: not a per-batch metric of fit
            final.update(ex.final_metrics(model, val_loader))
        final["seconds"] = round(seconds, 2)
        _write_json(out / "final.json", final)
        print("final: " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in final.items()))
        written = ["model.safetensors", *(p.name for p in history.files), "final.json"]
        print(f"wrote {out}/: " + ", ".join(written))  # exactly what was written: best.safetensors only when saved
        missed = {k: g for k, g in ex.goal.items() if not final.get(k, float("-inf")) >= g}  # NaN misses its goal
        if missed:
            print(f"below this example's goal: {missed}")
        return 0
    finally:
        backend._default = previous  # in-process callers (tests) keep their default device


def _checkpoint_file(path: str) -> Path:
    """The weights file of ``--checkpoint``: a folder's model.safetensors, or the file itself."""
    p = Path(path)
    return p / "model.safetensors" if p.is_dir() else p


def _check_sample_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse bad values with ``parser.error`` (exit 2) before the model is built."""
    from . import backend, gpt

    if not (math.isfinite(args.temperature) and args.temperature > 0):
        parser.error(f"--temperature must be a finite number > 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        parser.error(f"--top-k must be an integer >= 1, got {args.top_k}")
    if args.num_samples < 1:
        parser.error(f"--num-samples must be a positive integer, got {args.num_samples}")
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        parser.error(f"--max-new-tokens must be a positive integer, got {args.max_new_tokens}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    try:
        gpt.encode(args.prompt)
    except ValueError as e:
        parser.error(f"--prompt: {e}")
    if not args.prompt:
        parser.error("--prompt must not be empty")
    if args.device is not None:
        try:
            backend.get_backend(backend.parse_device(args.device))
        except (ValueError, RuntimeError) as e:
            parser.error(f"--device {args.device}: {e}")
    if not _checkpoint_file(args.checkpoint).is_file():
        parser.error(f"--checkpoint {args.checkpoint}: no model.safetensors there (the --out folder of gpubp train)")


def _sample(args: argparse.Namespace) -> int:
    from . import backend, creation, gpt, serialization
    from .zoo import ADDITION_DIGITS, EXAMPLES

    ex = EXAMPLES[args.example]
    device = args.device or ("cuda" if backend.cuda_available() else "cpu")
    model = ex.model().to(device)
    model.load_state_dict(serialization.load(_checkpoint_file(args.checkpoint), map_location=device))
    prompt = gpt.normalize_prompt(args.prompt, ADDITION_DIGITS)  # operands padded to the trained width
    if len(prompt) > model.block_size:  # a command-line error, as _check_sample_args' (it needs the model first)
        print(f"gpubp sample: error: the prompt {prompt!r} has {len(prompt)} tokens; {ex.name} takes at most "
              f"{model.block_size}", file=sys.stderr)  # fmt: skip
        return 2
    new = ADDITION_DIGITS + 1 if args.max_new_tokens is None else args.max_new_tokens
    new = min(new, model.block_size + 1 - len(prompt))  # the last token is predicted from block_size before it
    creation.manual_seed(args.seed)
    idx = creation.tensor([gpt.encode(prompt)] * args.num_samples, device=device)  # (num_samples, T)
    out = model.generate(idx, new, temperature=args.temperature, top_k=args.top_k)
    for row in out.tolist():
        text = gpt.decode(row[len(prompt) :])
        reads = (
            f"  (the sum {int(text[::-1])}: answers are written reversed)"
            if prompt.endswith("=") and text.isdigit()
            else ""
        )
        print(f"{prompt}{text}{reads}")
    return 0


def _info(_: argparse.Namespace) -> int:
    from . import __version__, backend, cuda

    print(f"gpubp {__version__} (Python {platform.python_version()}, {platform.platform()})")
    import numpy

    print(f"numpy {numpy.__version__}")
    from . import threads

    print(f"CPU threads for NumPy's BLAS: {threads.get_num_threads()} (gpubp.set_num_threads, GPUBP_NUM_THREADS)")
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
    """Run the gpubp command with ``argv`` (default: sys.argv[1:]) and return its exit status."""
    from .zoo import EXAMPLES

    parser = _Parser(
        prog="gpubp",
        description="Train neural networks with gpubp.",
        epilog="gpubp train EXAMPLE trains a built-in example (gpubp train --help lists them); gpubp sample "
        "EXAMPLE --checkpoint OUT --prompt TEXT [--temperature T --top-k K --num-samples N --max-new-tokens M] "
        "continues TEXT with a trained text model, e.g. gpubp sample addition-gpt --checkpoint runs/addition-gpt "
        "--prompt 12+34=",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train",
        help="train a built-in example",
        description="Train a built-in example and write its model, best checkpoint, history and curves to --out.",
        epilog=_examples_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("example", choices=sorted(EXAMPLES), help="which example (listed below)")
    t.add_argument("--device", help="cpu or cuda[:N] (default: cuda when available)")
    t.add_argument("--epochs", type=int, help="epochs to train, >= 1 (default: the example's)")
    t.add_argument("--lr", type=float, help="learning rate, > 0 (default: the example's)")
    t.add_argument("--batch-size", type=int, help="training batch size, >= 1 (default: the example's)")
    t.add_argument("--out", help="output folder (default runs/EXAMPLE)")
    t.add_argument("--data", help="data folder, for the examples that read local files (mnist: the IDX files)")
    t.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    t.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    t.set_defaults(func=_train)
    generative = sorted(n for n, e in EXAMPLES.items() if e.generative)
    s = sub.add_parser(
        "sample",
        help="generate text from a trained example's checkpoint",
        description="Continue --prompt with a model that `gpubp train` saved; answers of addition-gpt are the sum's "
        "digits reversed (12+34= -> 640 reads 46). Operands of 'a+b=' are zero-padded to the trained width.",
    )
    s.add_argument("example", choices=generative, help="which trained example")
    s.add_argument("--checkpoint", required=True, help="the --out folder of gpubp train (or its model.safetensors)")
    s.add_argument("--prompt", required=True, help="text to continue, e.g. 12+34=")
    s.add_argument("--temperature", type=float, default=1.0, help="softmax temperature, > 0 (default 1)")
    s.add_argument("--top-k", type=int, default=None, help="sample among the K most likely tokens, >= 1")
    s.add_argument("--num-samples", type=int, default=1, help="how many continuations (default 1)")
    s.add_argument("--max-new-tokens", type=int, default=None, help="tokens to generate (default: an answer's)")
    s.add_argument("--device", help="cpu or cuda[:N] (default: cuda when available)")
    s.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    s.set_defaults(func=_sample)
    i = sub.add_parser("info", help="versions, devices and the kernel cache")
    i.set_defaults(func=_info)
    try:
        args = parser.parse_args(argv)
        if args.command == "train":
            _check_train_args(t, args)
        elif args.command == "sample":
            _check_sample_args(s, args)
    except SystemExit as e:  # parser.error and --help: hand back the status instead of leaving the caller
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    try:
        return args.func(args)
    except BrokenPipeError:  # `gpubp info | head`: the reader left; stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141  # 128 + SIGPIPE, the shell's status for a writer whose pipe closed
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"gpubp {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
