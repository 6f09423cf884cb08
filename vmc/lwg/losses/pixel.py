"""Pixel-level LWG losses: reconstruction L1, attention-mask BCE and total variation.

Conventions (``docs/conventions.md#lwg-losses-and-training``): images are float RGB in [-1, 1];
masks are **background masks** in [0, 1] (1 = background, 0 = person), both for the generator's
attention masks ``A`` and for their targets (the matting/body mask converted with ``1 - alpha``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["as_image_batch", "mask_bce", "reconstruction_l1", "stack_masks", "total_variation"]


def as_image_batch(name: str, x: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """Validate an image batch and flatten ``[B, n, C, H, W]`` to ``[B*n, C, H, W]``.

    Raises:
        ValueError: not a 4-D/5-D tensor with ``channels`` channels.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.dim() == 5:
        x = x.reshape(-1, *x.shape[2:])
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(
            f"{name} must have shape [N, {channels}, H, W] or [B, n, {channels}, H, W], "
            f"got {tuple(x.shape)}"
        )
    return x


def _same_shape(a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} {tuple(a.shape)} and {b_name} {tuple(b.shape)} must have the same shape"
        )


def reconstruction_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between two image tensors of the same shape (scalar)."""
    _same_shape("pred", pred, "target", target)
    return F.l1_loss(pred, target)


def stack_masks(masks: torch.Tensor | Sequence[torch.Tensor], name: str = "masks") -> torch.Tensor:
    """Flatten one mask tensor or a list of them (``[..., 1, H, W]`` or ``[..., H, W]``, all the
    same ``H, W``) into one ``[M, H, W]`` tensor."""
    items = [masks] if isinstance(masks, torch.Tensor) else list(masks)
    if not items:
        raise ValueError(f"{name}: no masks given")
    flat = []
    for i, m in enumerate(items):
        if not isinstance(m, torch.Tensor) or m.dim() < 2:
            raise ValueError(f"{name}[{i}] must be a tensor [..., H, W], got {m!r:.60}")
        flat.append(m.reshape(-1, *m.shape[-2:]))
    sizes = {tuple(m.shape[-2:]) for m in flat}
    if len(sizes) != 1:
        raise ValueError(f"{name}: all masks must share H, W; got sizes {sorted(sizes)}")
    return torch.cat(flat, dim=0)


def mask_bce(
    pred: torch.Tensor | Sequence[torch.Tensor],
    target: torch.Tensor | Sequence[torch.Tensor],
) -> torch.Tensor:
    """Binary cross-entropy between predicted attention masks and target background masks.

    Args:
        pred: sigmoid outputs ``A`` in [0, 1] (1 = background); one tensor or a list (e.g.
            source and target masks), flattened with :func:`stack_masks`.
        target: the matching background masks in [0, 1], same shapes.

    Returns:
        scalar mean BCE over all mask pixels, computed in float32 with autocast off (BCE on
        probabilities is not autocast-safe in half precision).
    """
    p = stack_masks(pred, "pred masks")
    t = stack_masks(target, "target masks")
    _same_shape("pred masks", p, "target masks", t)
    with torch.autocast(device_type=p.device.type, enabled=False):
        return F.binary_cross_entropy(p.float(), t.float().to(p.device))


def total_variation(masks: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Anisotropic TV-L1 smoothness: ``mean|A[..., :, 1:] - A[..., :, :-1]| + mean|A[..., 1:, :] -
    A[..., :-1, :]|`` over all masks (scalar)."""
    m = stack_masks(masks)
    if m.shape[-1] < 2 or m.shape[-2] < 2:
        raise ValueError(f"total_variation needs masks of at least 2x2, got {tuple(m.shape[-2:])}")
    dx = (m[..., :, 1:] - m[..., :, :-1]).abs().mean()
    dy = (m[..., 1:, :] - m[..., :-1, :]).abs().mean()
    return dx + dy
