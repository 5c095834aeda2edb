"""Resampling layers: Upsample, PixelShuffle/PixelUnshuffle, Fold/Unfold, ChannelShuffle."""

from __future__ import annotations

__all__: list[str] = []
