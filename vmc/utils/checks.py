"""Argument checks shared by modules that sit in different layers (data, motion, io)."""

from __future__ import annotations

import math


def positive_number(name: str, value: object) -> float:
    """``value`` as a finite float > 0, or a ``ValueError`` that names the argument.

    Accepts anything ``float()`` takes (numpy scalars, 0-d arrays, numeric strings read from
    files), because rates often come out of ``.npz`` files as arrays.
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number
