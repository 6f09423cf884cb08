"""LSGAN losses of LWG: targets real = 1, fake = -1, generator = 0.

Conventions: ``docs/conventions.md#lwg-losses-and-training``.

* discriminator: ``mean((D(real) - 1)^2) + mean((D(fake) + 1)^2)``;
* generator: ``mean((D(fake) - 0)^2)``;

each "mean" being the average over discriminator heads of the per-head mean (the reference's
per-head averaging; heads have different logit-map sizes, so this is not the pooled mean).
Heads with no sample (e.g. every head box empty) are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "LSGANTargets",
    "Logits",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "lsgan_loss",
]

#: one logit map, a list of them, or a ``{head: logits}`` dict as the discriminators return.
Logits = torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class LSGANTargets:
    """LSGAN targets ``a`` (fake, for D), ``b`` (real, for D), ``c`` (fake, for G)."""

    real: float = 1.0
    fake: float = -1.0
    generator: float = 0.0


def _heads(logits: Logits) -> list[torch.Tensor]:
    if isinstance(logits, torch.Tensor):
        items = [logits]
    elif isinstance(logits, Mapping):
        items = list(logits.values())
    else:
        items = list(logits)
    if not all(isinstance(t, torch.Tensor) for t in items):
        raise ValueError("discriminator outputs must be tensors (or a list/dict of tensors)")
    return [t for t in items if t.numel() > 0]


def lsgan_loss(logits: Logits, target: float) -> torch.Tensor:
    """Mean over non-empty heads of ``mean((logits - target)^2)`` (float32 scalar).

    Raises:
        ValueError: no head has any logit.
    """
    heads = _heads(logits)
    if not heads:
        raise ValueError("lsgan_loss: every discriminator head is empty")
    per_head = [((h.float() - target) ** 2).mean() for h in heads]
    return torch.stack(per_head).mean()


def lsgan_generator_loss(d_fake: Logits, targets: LSGANTargets | None = None) -> torch.Tensor:
    """Generator's adversarial loss on the discriminator's logits for generated images."""
    return lsgan_loss(d_fake, (targets or LSGANTargets()).generator)


def lsgan_discriminator_loss(
    d_real: Logits, d_fake: Logits, targets: LSGANTargets | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator's loss terms ``(real_term, fake_term)``; the loss is their sum.

    ``d_fake`` must come from *detached* generated images.
    """
    t = targets or LSGANTargets()
    return lsgan_loss(d_real, t.real), lsgan_loss(d_fake, t.fake)
