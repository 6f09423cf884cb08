"""Shared argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from vmc.utils.checks import positive_number


@pytest.mark.parametrize("value", [30, 29.97, np.float32(60.0), np.array(25.0), "24"])
def test_positive_number_accepts_rates_as_files_store_them(value) -> None:
    assert positive_number("fps", value) == pytest.approx(float(value))


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), None, "fast", [1, 2]])
def test_positive_number_names_the_argument(value) -> None:
    with pytest.raises(ValueError, match="src_fps must be a positive number"):
        positive_number("src_fps", value)
