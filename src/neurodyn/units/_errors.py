"""Exceptions raised by :mod:`neurodyn.units`."""

from __future__ import annotations

__all__ = ["UnitMismatchError", "UnitParseError"]


class UnitMismatchError(TypeError):
    """Raised when an operation receives quantities of incompatible dimensions.

    It subclasses :class:`TypeError` because a unit mismatch is a type error
    of physics: the values are fine, their kinds do not go together.
    """


class UnitParseError(ValueError):
    """Raised when a unit string cannot be parsed.

    Attributes:
        text: the string that was given.
        position: index of the first character that could not be understood.
    """

    def __init__(self, message: str, text: str, position: int):
        pointer = " " * (position + 4) + "^"
        super().__init__(f"{message} (at position {position})\n    {text}\n{pointer}")
        self.text = text
        self.position = position
