"""Sinusoidal positional encoding of MotionCLIP (ACTOR lineage), sequence-first.

The table is ``PE[pos, 2i] = sin(pos * w_i)``, ``PE[pos, 2i+1] = cos(pos * w_i)`` with
``w_i = exp(-2i * ln(10000) / d_model)``. It is stored as a persistent buffer ``pe`` of shape
``[max_len, 1, d_model]`` because the reference checkpoint saves it (two of its 249 keys).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_table(
    max_len: int, d_model: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Return the sinusoidal table ``[max_len, d_model]``.

    Computed in float32 with the reference's operation order (``arange * exp(arange * -ln(1e4)/d)``)
    so that it matches a saved buffer to the last bit on the same platform.

    Raises:
        ValueError: ``d_model`` odd or sizes not positive.
    """
    if max_len <= 0 or d_model <= 0 or d_model % 2:
        raise ValueError(f"need max_len > 0 and an even d_model > 0, got {max_len}, {d_model}")
    position = torch.arange(0, max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(max_len, d_model, dtype=torch.float32)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term)
    return table.to(dtype)


class PositionalEncoding(nn.Module):
    """Add ``pe[:S]`` to a sequence-first tensor ``[S, B, D]``, then dropout.

    Args:
        d_model: feature size D (even).
        dropout: dropout probability applied after the addition (0.1 in the paper model).
        max_len: number of table rows (5000 in the paper model); sequences must be no longer.
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.register_buffer("pe", sinusoidal_table(max_len, d_model).unsqueeze(1), persistent=True)

    @property
    def max_len(self) -> int:
        """Longest sequence the table covers."""
        return int(self.pe.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [S, B, D]`` -> ``dropout(x + pe[:S])`` of the same shape."""
        if x.shape[0] > self.max_len:
            raise ValueError(
                f"sequence of length {x.shape[0]} exceeds the positional table "
                f"({self.max_len} rows)"
            )
        return self.dropout(x + self.pe[: x.shape[0]])
