"""gpubp's exception classes.

PyTorch raises RuntimeError for most bad inputs (a shape that does not broadcast, a size that does not fit, a dtype an
op does not take), where Python's habit is ValueError or TypeError. gpubp raises classes that are both, so code
written for either catches them: ``except RuntimeError`` as for PyTorch, ``except ValueError`` as for NumPy. (NumPy
does the same: its AxisError is both a ValueError and an IndexError.)
"""

from __future__ import annotations


class InputError(ValueError, RuntimeError):
    """A bad value, shape or size given to an op: a ValueError, and the RuntimeError PyTorch raises."""


class InputTypeError(TypeError, RuntimeError):
    """A bad dtype or kind of argument where PyTorch raises RuntimeError: a TypeError, and that RuntimeError."""


class InputIndexError(IndexError, RuntimeError):
    """An index or dim out of range where PyTorch raises RuntimeError: an IndexError, and that RuntimeError."""


class StateDictError(KeyError, RuntimeError):
    """A state dict whose keys do not match the module's: the KeyError of a missing key, and PyTorch's RuntimeError."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return RuntimeError.__str__(self)


class DirectoryPathError(IsADirectoryError, RuntimeError):
    """A directory where a checkpoint file was expected: the OS's IsADirectoryError, and PyTorch's RuntimeError."""


__all__ = ["DirectoryPathError", "InputError", "InputIndexError", "InputTypeError", "StateDictError"]
