"""A learnt text head: text latent → where the captioned motions' latents lie.

MotionCLIP aligns motion latents with a *frozen* text encoder, so a new wording lands where the
sentence encoder puts it: near captions that share its words, which need not be captions of the
same motion ("a woman bows deeply" shares "a woman" with every other "a woman ..." caption).
The text head is a small learnt prior in the DALL·E 2 sense, fit after training on the training
captions alone: a residual linear map ``u ↦ normalize(u + u W)`` of the unit text latent ``u``,
trained so that each training caption's mapped latent is nearest (cosine, softmax over all
captions at ``temperature``) to the mean motion latent of the clips it labels (the latent bank),
with weight decay on ``W``. It learns which directions of the sentence space tell motions apart
and which (who does it, the article) do not; no action labels are used. Generation then picks
bank latents near the mapped text latent (:mod:`vmc.motion.prior`), and the text latent keeps
its norm.

The head is saved beside an export as ``text_head.safetensors`` (``[D, D]`` fp16: its entries
are small corrections, |W| < 0.05, which fp16 keeps to about 2e-5; the fitting settings in its
metadata) and loaded with the run (:mod:`vmc.motion.runs`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from vmc.io.atomic import atomic_path

__all__ = [
    "HEAD_FILENAME",
    "TEXT_HEAD_SETTINGS",
    "apply_text_head",
    "build_text_head",
    "caption_targets",
    "fit_text_head",
    "load_text_head",
    "save_text_head",
]

HEAD_FILENAME = "text_head.safetensors"

# How exports fit the head. The weight decay and temperature were chosen by 5-fold
# cross-validation over the embedded model's training captions (all eight settings tried scored
# 0.987-1.000 there: the choice matters little).
TEXT_HEAD_SETTINGS: dict[str, int | float] = {
    "weight_decay": 0.01,
    "temperature": 0.05,
    "steps": 300,
    "lr": 1e-3,
}


def caption_targets(
    clip_texts: Sequence[Sequence[str]], bank: torch.Tensor
) -> tuple[list[str], torch.Tensor]:
    """Each distinct caption and the mean unit latent of the clips it labels.

    Args:
        clip_texts: the captions of each training clip, in the bank's order (``N`` lists).
        bank: ``[N, D]`` motion latents of those clips.

    Returns:
        ``(captions [C], targets [C, D])``: captions sorted, targets unit vectors.
    """
    if len(clip_texts) != bank.shape[0]:
        raise ValueError(f"{len(clip_texts)} caption lists for a bank of {bank.shape[0]} clips")
    captions = sorted({t for texts in clip_texts for t in texts if t})
    if not captions:
        raise ValueError("the training clips have no captions to fit a text head on")
    index = {c: i for i, c in enumerate(captions)}
    unit = F.normalize(bank.float(), dim=1)
    sums = torch.zeros(len(captions), bank.shape[1])
    for texts, z in zip(clip_texts, unit, strict=True):
        for t in set(texts):
            if t:
                sums[index[t]] += z
    return captions, F.normalize(sums, dim=1)


def fit_text_head(
    features: torch.Tensor,
    targets: torch.Tensor,
    *,
    weight_decay: float = 0.01,
    temperature: float = 0.05,
    steps: int = 300,
    lr: float = 1e-3,
) -> torch.Tensor:
    """Fit ``W [D, D]`` (deterministic: zero start, full-batch Adam).

    Args:
        features: ``[C, D]`` text latents of the captions (as generation computes them:
            centred when the model was trained with ``text_center``).
        targets: ``[C, D]`` unit motion-latent targets (:func:`caption_targets`).
        weight_decay: L2 weight on ``W`` (keeps the map near the identity).
        temperature: softmax temperature of the caption-matching cross-entropy.
        steps, lr: Adam steps and learning rate.
    """
    if features.shape != targets.shape or features.ndim != 2:
        raise ValueError(
            f"features {tuple(features.shape)} and targets {tuple(targets.shape)} must both be "
            "[C, D]"
        )
    unit = F.normalize(features.detach().float().cpu(), dim=1)
    goal = targets.detach().float().cpu()
    labels = torch.arange(unit.shape[0])
    weights = torch.zeros(unit.shape[1], unit.shape[1], requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            mapped = F.normalize(unit + unit @ weights, dim=1)
            loss = F.cross_entropy(mapped @ goal.T / temperature, labels)
            loss = loss + weight_decay * weights.pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return weights.detach()


def build_text_head(
    clip_texts: Sequence[Sequence[str]],
    bank: torch.Tensor,
    text_latents: Callable[[list[str]], torch.Tensor],
) -> tuple[torch.Tensor, int]:
    """The head of an export: targets from the training clips, fit with
    :data:`TEXT_HEAD_SETTINGS`.

    Args:
        clip_texts: captions of each training clip, in the bank's order.
        bank: ``[N, D]`` their motion latents.
        text_latents: captions → ``[C, D]`` text latents as generation computes them (centred
            when the model was trained with ``text_center``).

    Returns:
        ``(head [D, D], number of distinct captions)``.
    """
    captions, targets = caption_targets(clip_texts, bank)
    feats = torch.cat([text_latents(captions[i : i + 256]) for i in range(0, len(captions), 256)])
    return fit_text_head(feats.float().cpu(), targets, **TEXT_HEAD_SETTINGS), len(captions)


def apply_text_head(z: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    """``z [B, D]`` → ``|z| · normalize(u + u W)`` with ``u = z / |z|``: ``[B, D]``."""
    norm = z.norm(dim=-1, keepdim=True)
    unit = F.normalize(z, dim=-1)
    return F.normalize(unit + unit @ head.to(z), dim=-1) * norm


def save_text_head(
    path: str | os.PathLike[str],
    head: torch.Tensor,
    settings: dict[str, int | float] | None = None,
) -> Path:
    """Write ``head [D, D]`` (as fp16) atomically; ``settings`` go into the file's metadata (one
    ``settings`` entry, JSON with sorted keys: safetensors writes several entries in a random
    order, and the same head must give the same bytes)."""
    if head.ndim != 2 or head.shape[0] != head.shape[1] or not torch.isfinite(head).all():
        raise ValueError(f"a text head is a finite square [D, D] tensor, got {tuple(head.shape)}")
    metadata = {"settings": json.dumps(settings or {}, sort_keys=True)}
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file({"head": head.detach().cpu().half().contiguous()}, str(tmp), metadata)
    return target


def load_text_head(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read a head written by :func:`save_text_head`: ``float32 [D, D]``."""
    head = load_file(str(path)).get("head")
    if head is None or head.ndim != 2 or head.shape[0] != head.shape[1]:
        raise ValueError(f"{path}: not a text head (expected one square tensor 'head')")
    return head.float()
