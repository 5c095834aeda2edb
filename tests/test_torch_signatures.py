"""The meta-test of signatures: every name gpubp shares with PyTorch's ``nn``, ``nn.functional``, ``nn.init``,
``nn.utils``, ``optim`` and ``lr_scheduler`` takes PyTorch's parameters, in PyTorch's order, with PyTorch's defaults
(a program that passes arguments by position or by keyword means the same thing on both). gpubp may take more
parameters after PyTorch's. PyTorch's private parameters (``_stacklevel``) are left out of the comparison."""

from __future__ import annotations

import importlib
import inspect
import math
from typing import Any

import pytest
import torch_coverage
from conftest import torch

# deliberate differences, each with its reason (the README lists the user-visible ones)
KNOWN: dict[str, str] = {}


def _signature(obj: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):  # a C function without a signature
        return None


def _params(sig: inspect.Signature) -> list[inspect.Parameter]:
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        p for p in sig.parameters.values() if p.name != "self" and not p.name.startswith("_") and p.kind not in skip
    ]


def _takes_anything(sig: inspect.Signature) -> bool:
    """A (*args, **kwargs) signature (PyTorch's RNN classes, its boolean-dispatched max pools): nothing to compare."""
    kinds = {p.kind for p in sig.parameters.values()}
    return inspect.Parameter.VAR_POSITIONAL in kinds and inspect.Parameter.VAR_KEYWORD in kinds


def _same_default(a: Any, b: Any) -> bool:
    if a is inspect.Parameter.empty or b is inspect.Parameter.empty:
        return a is b
    if type(a).__module__.startswith("torch"):  # a torch dtype or device default: compared by name
        return str(a).replace("torch.", "") == str(b).replace("gpubp.", "")
    if inspect.isfunction(a) and a.__module__.startswith("torch"):  # a torch function default (activation=F.relu)
        return inspect.isfunction(b) and b.__module__.startswith("gpubp") and b.__name__ == a.__name__
    if isinstance(a, float) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _mismatches() -> list[str]:
    out = []
    for ns in torch_coverage.NAMESPACES:
        theirs = importlib.import_module(ns)
        try:
            ours = importlib.import_module("gpubp" + ns[len("torch") :])
        except ImportError:
            continue
        for name in torch_coverage.namespace_names(ns):
            qual = f"{ns}.{name}"
            if qual in KNOWN or not hasattr(ours, name):
                continue
            st, sg = _signature(getattr(theirs, name)), _signature(getattr(ours, name))
            if st is None or sg is None or _takes_anything(st):
                continue
            pt, pg = _params(st), _params(sg)
            names_t, names_g = [p.name for p in pt], [p.name for p in pg]
            if names_g[: len(names_t)] != names_t:
                out.append(f"{qual}: parameters {names_g}, PyTorch's {names_t}")
                continue
            wrong = [
                f"{a.name}={b.default!r} (PyTorch {a.default!r})"
                for a, b in zip(pt, pg)
                if not _same_default(a.default, b.default)
            ]
            if wrong:
                out.append(f"{qual}: defaults {', '.join(wrong)}")
            extra = [p.name for p in pg[len(pt) :] if p.default is inspect.Parameter.empty]
            if extra:
                out.append(f"{qual}: gpubp requires parameters PyTorch does not have: {extra}")
    return out


def test_shared_names_take_torchs_parameters() -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    wrong = _mismatches()
    assert not wrong, "signatures that differ from PyTorch's:\n" + "\n".join(wrong)


def test_known_differences_are_still_differences() -> None:
    """An entry of KNOWN that gpubp no longer lacks, or that PyTorch no longer has, is stale."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    for qual in KNOWN:
        ns, name = qual.rsplit(".", 1)
        assert name in torch_coverage.namespace_names(ns), f"KNOWN lists {qual}, which PyTorch does not have"
