"""``Generator``: a seedable random stream for samplers and ``random_split``, as ``torch.Generator``.

Each wraps a ``numpy.random.Generator`` (PCG64) on the host: samplers draw indices on the CPU whatever the device.
``default_generator`` is the process-wide one, reseeded by ``gpubp.manual_seed``, so a seeded program shuffles
reproducibly, as PyTorch's global seed does.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .backend import Device, parse_device
from .errors import InputError, InputTypeError

__all__ = ["Generator", "default_generator"]

# the seed of a fresh torch.Generator(): PyTorch's default_rng_seed_val
DEFAULT_SEED = 67280421310721
_MASK64 = 2**64 - 1
# get_state's layout: PCG64 state (16 bytes) and increment (16), has_uint32 (1), uinteger (4), initial seed (8)
_STATE_BYTES = 45


def _seed_value(seed: Any, op: str) -> int:
    """``seed`` as an unsigned 64-bit seed, as PyTorch: ``int(seed)``, a negative one wrapping (-1 is 2**64 - 1)."""
    if isinstance(seed, (str, bytes)):
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
    try:
        value = int(seed)
    except TypeError:
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}") from None
    except ValueError:
        raise InputError(f"{op}: seed must be an int, got {seed!r}") from None
    if not -(2**63) <= value < 2**64:
        raise InputError(f"{op}: seed {value} overflows a 64-bit seed")
    return value & _MASK64


class Generator:
    """A random stream with its own seed and state, as ``torch.Generator(device)``; numbers are drawn on the host."""

    def __init__(self, device: str | Device = "cpu") -> None:
        self._device = parse_device(device)
        self.manual_seed(DEFAULT_SEED)

    @property
    def device(self) -> Device:
        """The device this generator was made for (its numbers are drawn on the host either way)."""
        return self._device

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns the generator, as PyTorch's."""
        self._seed = _seed_value(seed, "Generator.manual_seed")
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        value = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    def get_state(self) -> Any:
        """The stream's state as a 1-D uint8 CPU tensor, to give back to ``set_state``."""
        from .backend import get_backend
        from .tensor import Tensor

        st = self._rng.bit_generator.state
        raw = (
            st["state"]["state"].to_bytes(16, "little")
            + st["state"]["inc"].to_bytes(16, "little")
            + bytes([int(st["has_uint32"])])
            + int(st["uinteger"]).to_bytes(4, "little")
            + self._seed.to_bytes(8, "little")
        )
        return Tensor._wrap(np.frombuffer(raw, np.uint8).copy(), get_backend("cpu"))

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state from ``get_state``; returns the generator."""
        from .tensor import Tensor

        if not isinstance(new_state, Tensor):
            raise InputTypeError(f"Generator.set_state: expected a uint8 Tensor, got {type(new_state).__name__}")
        raw = new_state._be.to_numpy(new_state._data)
        if raw.dtype != np.uint8 or raw.shape != (_STATE_BYTES,):
            raise InputError(
                f"Generator.set_state: RNG state is wrong size or dtype: got {raw.dtype} of shape {raw.shape}, "
                f"expected uint8 of shape ({_STATE_BYTES},) as get_state gives"
            )
        raw = raw.tobytes()
        state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[:16], "little"), "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": raw[32],
            "uinteger": int.from_bytes(raw[33:37], "little"),
        }
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state
        self._rng = rng
        self._seed = int.from_bytes(raw[37:], "little")
        return self

    def __repr__(self) -> str:
        return f"<gpubp.Generator device='{self._device}' initial_seed={self._seed}>"


def _rng(generator: Generator | None, op: str) -> np.random.Generator:
    """The NumPy stream to draw from: ``generator``'s, or (None) a fresh one seeded from ``default_generator``,
    as PyTorch's samplers seed a generator of their own from the global one."""
    if generator is None:
        return np.random.Generator(np.random.PCG64(default_generator._rng.integers(0, 2**63, dtype=np.int64)))
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a gpubp.Generator or None, got {type(generator).__name__}")
    return generator._rng


class _HostDraws:
    """A ``Generator``'s draws, made on the host and copied to backend ``be``'s device: the same methods as a
    backend's own random primitives (``rand``, ``randn``, ``randint``, ``exponential``, ``poisson``)."""

    def __init__(self, rng: np.random.Generator, be: Any) -> None:
        self._rng = rng
        self._be = be

    def _float(self, draw: Any, shape: tuple, dtype: Any) -> Any:
        dt = np.dtype(dtype)
        if dt in (np.float32, np.float64):
            return self._be.from_host(np.ascontiguousarray(draw(shape, dtype=dt)))
        return self._be.from_host(np.ascontiguousarray(draw(shape).astype(dt)))

    def rand(self, shape: tuple, dtype: Any) -> Any:
        dt = np.dtype(dtype)
        if dt in (np.float32, np.float64):
            return self._float(self._rng.random, shape, dt)
        # a double just below 1 rounds to 1.0 in float16: clamp, so that samples stay in [0, 1)
        u = np.minimum(self._rng.random(shape), float(np.nextafter(dt.type(1), dt.type(0))))
        return self._be.from_host(np.ascontiguousarray(u.astype(dt)))

    def randn(self, shape: tuple, dtype: Any) -> Any:
        return self._float(self._rng.standard_normal, shape, dtype)

    def exponential(self, shape: tuple, dtype: Any) -> Any:
        return self._float(self._rng.standard_exponential, shape, dtype)

    def randint(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        return self._be.from_host(np.ascontiguousarray(self._rng.integers(low, high, size=shape, dtype=dtype)))

    def poisson(self, lam: Any) -> Any:
        rates = self._be.to_numpy(lam)  # the rates come to the host: a device-to-host copy (synchronizes on a GPU)
        return self._be.from_host(np.ascontiguousarray(np.asarray(self._rng.poisson(rates)).astype(rates.dtype)))


def draws(generator: Generator | None, be: Any, op: str) -> Any:
    """Where a sampler draws from: the device's own stream (seeded by ``gpubp.manual_seed``) without a generator,
    else ``generator``'s host stream, copied to ``be``'s device (reproducible whatever the device)."""
    if generator is None:
        return be
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a gpubp.Generator or None, got {type(generator).__name__}")
    return _HostDraws(generator._rng, be)


# the process-wide stream; seeded from the OS at import as PyTorch's, reseeded by gpubp.manual_seed
default_generator = Generator()
default_generator.seed()
