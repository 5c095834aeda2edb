"""Gradient cases of the normalization family, in tests/test_ops_grad.py's format (its CASES takes them in)."""

from __future__ import annotations

CASES: list = []
