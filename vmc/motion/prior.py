"""A latent prior by retrieval: text latent → the motion latents nearest to it in the joint space.

MotionCLIP decodes the text feature itself (the reference). That works when text and motion
latents coincide; a small model trained briefly aligns them by *direction* (R-precision well above
chance) long before the text latents lie where the decoder was trained (the motion latents), and
decoding a text latent then gives a motion the decoder never learned. The retrieval prior closes
that gap without another network: the model's encoder embeds the training clips once (the *latent
bank*, saved beside an export as ``latent_bank.safetensors``), and generation decodes the mean of
the ``k`` bank latents most similar (cosine) to the text latent. The choice is made in the joint
space the model learned, so paraphrases work as well as the alignment does; decoded latents are
ones the decoder knows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from vmc.io.atomic import atomic_path

__all__ = [
    "BANK_FILENAME",
    "compute_latent_bank",
    "load_latent_bank",
    "nearest_latents",
    "save_latent_bank",
]

BANK_FILENAME = "latent_bank.safetensors"


@torch.no_grad()
def compute_latent_bank(
    model: torch.nn.Module, dataset: Sequence, batch_size: int = 64
) -> torch.Tensor:
    """Encode every item of a motion dataset: ``float32 [N, D]``.

    Args:
        model: a :class:`~vmc.motion.model.MotionCLIP` (put in eval mode).
        dataset: items with ``x [25, 6, T]`` and ``mask [T]`` (e.g.
            :class:`vmc.data.motion_dataset.MotionWindowDataset`).
        batch_size: clips per encoder call.
    """
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        x = torch.stack([item["x"] for item in items]).to(device)
        mask = torch.stack([item["mask"] for item in items]).to(device)
        out.append(model.encode(x, mask).float().cpu())
    if not out:
        raise ValueError("the dataset is empty: no latent bank to compute")
    return torch.cat(out)


def save_latent_bank(path: str | os.PathLike[str], bank: torch.Tensor) -> Path:
    """Write ``bank [N, D]`` as fp16 safetensors, atomically."""
    if bank.ndim != 2 or not torch.isfinite(bank).all():
        raise ValueError(f"a latent bank is a finite [N, D] tensor, got {tuple(bank.shape)}")
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file({"latents": bank.detach().cpu().half().contiguous()}, str(tmp))
    return target


def load_latent_bank(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read a bank written by :func:`save_latent_bank`: ``float32 [N, D]``."""
    tensors = load_file(str(path))
    bank = tensors.get("latents")
    if bank is None or bank.ndim != 2:
        raise ValueError(f"{path}: not a latent bank (expected one [N, D] tensor 'latents')")
    return bank.float()


def nearest_latents(z: torch.Tensor, bank: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of the ``k`` bank rows most cosine-similar to each row of ``z [B, D]``: ``[B, D]``."""
    if z.ndim != 2 or bank.ndim != 2 or z.shape[1] != bank.shape[1]:
        raise ValueError(f"z {tuple(z.shape)} and bank {tuple(bank.shape)} must be [*, D]")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    bank = bank.to(z)
    sims = F.normalize(z, dim=1) @ F.normalize(bank, dim=1).T  # [B, N]
    index = sims.topk(min(k, bank.shape[0]), dim=1).indices  # [B, k]
    return bank[index].mean(1)
