"""Which of PyTorch's public ``torch.*`` functions and ``Tensor`` methods gpubp has.

PyTorch's public surface is taken as the callables of ``torch`` and ``torch.Tensor`` whose names do not start with an
underscore and that carry a docstring (PyTorch documents what it means users to call; its internal entry points have
none). ``python tests/torch_coverage.py`` writes the table to ``docs/torch_coverage.md``; ``test_torch_coverage.py``
checks that the table is current and that every gpubp function is classified (a differentiable op needs a gradient
case: ``test_ops_grad.py``).
"""

from __future__ import annotations

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
        "# gpubp's coverage of PyTorch's tensor API",
        "",
        f"Measured against PyTorch {torch.__version__} by `python tests/torch_coverage.py` (checked by",
        "`tests/test_torch_coverage.py`): PyTorch's public functions and Tensor methods are the documented callables of",
        "`torch` and `torch.Tensor` whose names do not start with an underscore.",
        "",
        f"- `torch.*` functions: gpubp has **{len(hf)} of {len(hf) + len(mf)}**.",
        f"- `Tensor` methods: gpubp has **{len(hm)} of {len(hm) + len(mm)}**.",
        "",
    ]
    for title, has, missing in (("torch.* functions", hf, mf), ("Tensor methods", hm, mm)):
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
