"""A latent prior by retrieval: text latent → the motion latents nearest to it in the joint space.

MotionCLIP decodes the text feature itself (the reference). That works when text and motion
latents coincide; a small model trained briefly aligns them by *direction* (R-precision well above
chance) long before the text latents lie where the decoder was trained (the motion latents), and
decoding a text latent then gives a motion the decoder never learned. The retrieval prior closes
that gap without another network: the model's encoder embeds the training clips once (the *latent
bank*, saved beside an export as ``latent_bank.safetensors``), and generation decodes one of the
``k`` bank latents most similar (cosine) to the text latent (:func:`pick_latents`: the nearest,
or with a seeded ``torch.Generator`` one drawn with probability ``softmax(cos / temperature)``).
The choice is made in the joint space the model learned, so paraphrases work as well as the
alignment does; decoded latents are ones the decoder knows.

Why one latent and not the mean of several (:func:`nearest_latents`, the first version): the
``k`` nearest clips of a caption are different performances of the action (another side, phase,
speed); the mean of their latents lies between them, where the decoder gives an average motion,
and averages of opposite phases cancel out. One clip's latent decodes crisply, and the seed gives
the variation a user expects from re-running a prompt.
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
    "pick_latents",
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
    bank, top = _most_similar(z, bank, k)
    return bank[top.indices].mean(1)


def _most_similar(z: torch.Tensor, bank: torch.Tensor, k: int):
    """``(bank on z's device, topk of cosine similarity [B, k])`` after checking the shapes."""
    if z.ndim != 2 or bank.ndim != 2 or z.shape[1] != bank.shape[1]:
        raise ValueError(f"z {tuple(z.shape)} and bank {tuple(bank.shape)} must be [*, D]")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    bank = bank.to(z)
    sims = F.normalize(z, dim=1) @ F.normalize(bank, dim=1).T  # [B, N]
    return bank, sims.topk(min(k, bank.shape[0]), dim=1)


def pick_latents(
    z: torch.Tensor,
    bank: torch.Tensor,
    k: int,
    generator: torch.Generator | None = None,
    temperature: float = 0.05,
) -> torch.Tensor:
    """One bank row per row of ``z [B, D]``: ``[B, D]``, chosen among the ``k`` most
    cosine-similar rows (module docstring).

    Args:
        z: query latents ``[B, D]``.
        bank: ``[N, D]``.
        k: candidates per query (``>= 1``; more than ``N`` means all rows).
        generator: ``None`` picks the nearest row (deterministic); a generator draws one
            candidate with probability ``softmax(cos / temperature)`` (on the CPU, so a seed
            gives the same choice on every device).
        temperature: sharpness of the draw (``> 0``; lower favours the nearest).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    bank, top = _most_similar(z, bank, k)  # values/indices [B, k], best first
    if generator is None:
        return bank[top.indices[:, 0]]
    probs = torch.softmax(top.values.float().cpu() / temperature, dim=1)  # [B, k]
    choice = torch.multinomial(probs, 1, generator=generator)[:, 0]  # [B]
    return bank[top.indices[torch.arange(z.shape[0]), choice.to(top.indices.device)]]
