"""Exceptions raised by :mod:`neurodyn.state`."""

from __future__ import annotations

__all__ = ["StateError", "StateLeakError", "StateMismatchError", "CheckpointError"]


class StateError(RuntimeError):
    """A State was used in a way the transforms cannot support."""


class StateLeakError(StateError):
    """A traced value escaped from a transformed function through a State."""


class StateMismatchError(StateError, ValueError):
    """A write would change a State's structure, shape, dtype or unit."""


class CheckpointError(StateError, ValueError):
    """A checkpoint file does not match the module it is loaded into."""
