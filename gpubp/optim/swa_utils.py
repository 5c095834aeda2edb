"""Stochastic weight averaging, as ``torch.optim.swa_utils``: AveragedModel, SWALR, update_bn."""

from __future__ import annotations

__all__: list[str] = []
