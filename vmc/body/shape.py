"""Shape coefficients across bodies.

Bodies have different numbers of shape coefficients (SMPL 10, the embedded body 16); files carry
whatever the body that wrote them had. :func:`fit_betas` makes them fit another body.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["fit_betas"]


def fit_betas(betas: torch.Tensor | np.ndarray, num_betas: int) -> torch.Tensor:
    """Pad with zeros or cut ``betas [..., k]`` to ``[..., num_betas]`` (float32 tensor).

    Shape coefficients beyond a body's ``num_betas`` cannot be represented; they are dropped
    (files written for SMPL's 10 betas work with the 16-beta embedded body and vice versa).
    """
    b = torch.as_tensor(np.asarray(betas) if not isinstance(betas, torch.Tensor) else betas)
    b = b.float()
    k = b.shape[-1]
    if k >= num_betas:
        return b[..., :num_betas].contiguous()
    return torch.cat([b, b.new_zeros(*b.shape[:-1], num_betas - k)], dim=-1)
