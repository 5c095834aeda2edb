"""Which of PyTorch's public ``torch.*`` functions, ``Tensor`` methods and ``nn``/``optim`` names gpubp has.

PyTorch's public surface is taken as the callables of ``torch`` and ``torch.Tensor`` whose names do not start with an
underscore and that carry a docstring (PyTorch documents what it means users to call; its internal entry points have
none); in the namespaces of ``NAMESPACES`` (``torch.nn``, ``torch.nn.functional``, ``torch.optim``, ...), the
documented classes and functions defined there (not names imported from elsewhere, such as typing helpers). ``python tests/torch_coverage.py`` writes the table to ``docs/torch_coverage.md``; ``test_torch_coverage.py``
checks that the table is current and that every gpubp function is classified (a differentiable op needs a gradient
case: ``test_ops_grad.py``).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "torch_coverage.md"


def _public(obj: object) -> list[str]:
    names = []
    for n in dir(obj):
        if n.startswith("_"):
            continue
        o = getattr(obj, n, None)
        if o is None or isinstance(o, (types.ModuleType, type)) or not callable(o) or not getattr(o, "__doc__", None):
            continue
        names.append(n)
    return sorted(names)


def torch_functions() -> list[str]:
    import torch

    return _public(torch)


def tensor_methods() -> list[str]:
    import torch

    return _public(torch.Tensor)


# the namespaces whose names gpubp mirrors under gpubp.<the rest> (gpubp.nn.functional for torch.nn.functional)
NAMESPACES = (
    "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.nn.utils.rnn", "torch.optim",
    "torch.optim.lr_scheduler", "torch.optim.swa_utils",
)  # fmt: skip


def namespace_names(namespace: str) -> list[str]:
    """The documented public classes and functions that ``namespace`` defines (their ``__module__`` is inside it, or
    they are PyTorch's own C functions): not what it imports, such as typing helpers or torch.overrides."""
    mod = importlib.import_module(namespace)
    names = []
    for n in dir(mod):
        o = getattr(mod, n, None)
        if n.startswith("_") or o is None or isinstance(o, types.ModuleType) or not callable(o):
            continue
        home = getattr(o, "__module__", "") or ""
        # PyTorch's C functions (F.conv2d, F.linear) name torch or torch._C._nn as their module
        own = home.startswith(namespace) or (inspect.isbuiltin(o) and home in ("torch", "torch._C._nn"))
        if not own or not inspect.getdoc(o):
            continue
        names.append(n)
    return sorted(names)


def namespace_coverage() -> dict[str, tuple[list[str], list[str]]]:
    """{namespace: (has, missing)}: the names of each of NAMESPACES that gpubp's twin namespace has."""
    out = {}
    for ns in NAMESPACES:
        try:
            twin = importlib.import_module("gpubp" + ns[len("torch") :])
        except ImportError:
            twin = None
        names = namespace_names(ns)
        has = [n for n in names if twin is not None and callable(getattr(twin, n, None))]
        out[ns] = (has, [n for n in names if n not in has])
    return out


def coverage() -> dict[str, tuple[list[str], list[str]]]:
    """{"functions": (has, missing), "methods": (has, missing)} against the installed PyTorch."""
    import torch

    import gpubp

    funcs = torch_functions()
    meths = tensor_methods()
    has_f = [n for n in funcs if callable(getattr(gpubp, n, None))]
    has_m = [n for n in meths if callable(getattr(gpubp.Tensor, n, None))]
    del torch
    return {
        "functions": (has_f, [n for n in funcs if n not in has_f]),
        "methods": (has_m, [n for n in meths if n not in has_m]),
    }


def render() -> str:
    import torch

    cov = coverage()
    (hf, mf), (hm, mm) = cov["functions"], cov["methods"]
    lines = [
        "# gpubp's coverage of PyTorch's API",
        "",
        f"Measured against PyTorch {torch.__version__} by `python tests/torch_coverage.py` (checked by",
        "`tests/test_torch_coverage.py`): PyTorch's public functions and Tensor methods are the documented callables of",
        "`torch` and `torch.Tensor` whose names do not start with an underscore; in each of the namespaces below, the",
        "documented public classes and functions it defines (gpubp's twin is `gpubp.nn` for `torch.nn`, and so on).",
        "",
        f"- `torch.*` functions: gpubp has **{len(hf)} of {len(hf) + len(mf)}**.",
        f"- `Tensor` methods: gpubp has **{len(hm)} of {len(hm) + len(mm)}**.",
    ]
    spaces = namespace_coverage()
    for ns, (has, missing) in spaces.items():
        lines.append(f"- `{ns}`: gpubp has **{len(has)} of {len(has) + len(missing)}**.")
    lines.append("")
    sections = [("torch.* functions", hf, mf), ("Tensor methods", hm, mm)]
    sections += [(f"`{ns}`", has, missing) for ns, (has, missing) in spaces.items()]
    for title, has, missing in sections:
        lines += [f"## {title}: present ({len(has)})", "", _wrap(has), "", f"## {title}: missing ({len(missing)})", ""]
        lines += [_wrap(missing), ""]
    return "\n".join(lines)


def _wrap(names: list[str], width: int = 116) -> str:
    out, line = [], ""
    for n in names:
        item = f"`{n}`"
        if line and len(line) + len(item) + 1 > width:
            out.append(line)
            line = item
        else:
            line = f"{line} {item}" if line else item
    if line:
        out.append(line)
    return "\n".join(out) if out else "(none)"


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render() + "\n")
    print(f"wrote {DOC}", file=sys.stderr)
