"""The caption prior: a second, stronger sentence encoder votes for where a wording's motions lie.

MotionCLIP's text latent is only as good at new wordings as the sentence encoder it was aligned
with. The embedded model's is all-MiniLM-L6-v2 (small enough to train against on a CPU), and it
places wordings that share no words with the training captions ("star jumps") near captions of
other motions. all-mpnet-base-v2 reads such wordings much better, but aligning a model to it
would mean retraining from scratch. The caption prior uses it without retraining: it keeps each
training caption's mpnet feature ``f_c`` (centred on their mean and unit length) and its motion
target ``t_c`` (the mean unit latent of the clips it labels, as for the text head), and maps a
new text with feature ``v`` to the kernel-weighted mean (Nadaraya-Watson)

    ``vote(v) = normalize(Σ_c softmax_c(cos(v, f_c) / temperature) · t_c)``  ``[B, D]``.

Generation adds the vote to MotionCLIP's own (centred, head-mapped) text latent, both unit
length, and keeps the latent's norm (:meth:`vmc.motion.generate.TextToMotion.encode_texts`), so
the model's text encoder still decides between wordings the vote leaves tied, and editing
arithmetic works on the same latents. No action labels are used, only the training captions.

Stored beside an export as ``caption_prior.safetensors``: ``features`` and ``targets`` quantised
to int8 with one fp32 scale per row (0.7 MB instead of 1.5 MB in fp16; the embedded assets stay
under 25 MB, and the votes of the evaluation's wordings are unchanged), ``center`` fp32, the
temperature and the encoder's name in the metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vmc.io.atomic import atomic_path
from vmc.motion.text_head import caption_targets

__all__ = [
    "CAPTION_PRIOR_FILENAME",
    "CAPTION_PRIOR_TEMPERATURE",
    "CaptionPrior",
    "blend_vote",
    "build_caption_prior",
    "load_caption_prior",
    "save_caption_prior",
]

CAPTION_PRIOR_FILENAME = "caption_prior.safetensors"
# The softmax temperature of the text head and of the retrieval prior's draw; not tuned.
CAPTION_PRIOR_TEMPERATURE = 0.05


@dataclass
class CaptionPrior:
    """Training captions' features and motion targets.

    Attributes:
        features: ``[C, E]`` unit, centred features of the captions (the prior's encoder).
        targets: ``[C, D]`` unit motion-latent targets
            (:func:`~vmc.motion.text_head.caption_targets`).
        center: ``[E]`` mean raw feature of the captions, subtracted from every query.
        temperature: kernel softmax temperature (> 0).
        encoder: name of the sentence encoder the features come from.
    """

    features: torch.Tensor
    targets: torch.Tensor
    center: torch.Tensor
    temperature: float = CAPTION_PRIOR_TEMPERATURE
    encoder: str = "all-mpnet-base-v2"

    def __post_init__(self) -> None:
        c, e = self.features.shape if self.features.ndim == 2 else (-1, -1)
        if c < 1 or self.targets.ndim != 2 or self.targets.shape[0] != c:
            raise ValueError(
                f"caption prior: features {tuple(self.features.shape)} and targets "
                f"{tuple(self.targets.shape)} must be [C, E] and [C, D] with the same C >= 1"
            )
        if self.center.shape != (e,):
            raise ValueError(f"caption prior: center must be [{e}], got {tuple(self.center.shape)}")
        if not self.temperature > 0:
            raise ValueError(f"caption prior: temperature must be > 0, got {self.temperature!r}")
        for name in ("features", "targets", "center"):
            if not torch.isfinite(getattr(self, name)).all():
                raise ValueError(f"caption prior: {name} has non-finite values")

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def latent_dim(self) -> int:
        return int(self.targets.shape[1])

    def vote(self, raw_features: torch.Tensor) -> torch.Tensor:
        """Raw encoder features ``[B, E]`` of new texts → unit latent votes ``[B, D]``."""
        if raw_features.ndim != 2 or raw_features.shape[1] != self.feature_dim:
            raise ValueError(
                f"caption prior: expected [B, {self.feature_dim}] features, got "
                f"{tuple(raw_features.shape)}"
            )
        query = F.normalize(raw_features.float().cpu() - self.center, dim=1)
        weights = torch.softmax(query @ self.features.T / self.temperature, dim=1)  # [B, C]
        return F.normalize(weights @ self.targets, dim=1)


def blend_vote(z: torch.Tensor, vote: torch.Tensor) -> torch.Tensor:
    """``|z| · normalize(normalize(z) + vote)``: the vote added at equal weight, norm kept.

    Args:
        z: ``[B, D]`` text latents. vote: ``[B, D]`` unit votes.
    """
    norm = z.norm(dim=-1, keepdim=True)
    return F.normalize(F.normalize(z, dim=-1) + vote.to(z), dim=-1) * norm


def build_caption_prior(
    clip_texts: Sequence[Sequence[str]],
    bank: torch.Tensor,
    encode: Callable[[list[str]], torch.Tensor],
    encoder: str = "all-mpnet-base-v2",
    temperature: float = CAPTION_PRIOR_TEMPERATURE,
) -> CaptionPrior:
    """Fit the prior on training clips (nothing is learnt: features and targets are stored).

    Args:
        clip_texts: captions of each training clip, in the bank's order (``N`` lists).
        bank: ``[N, D]`` their motion latents.
        encode: captions → raw ``[C, E]`` features of the prior's encoder.
        encoder, temperature: recorded in the prior.
    """
    captions, targets = caption_targets(clip_texts, bank)
    raw = torch.cat(
        [encode(captions[i : i + 256]).float().cpu() for i in range(0, len(captions), 256)]
    )
    center = raw.mean(0)
    return CaptionPrior(F.normalize(raw - center, dim=1), targets, center, temperature, encoder)


def _quantize(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per row: ``(q int8 [R, K], scale fp32 [R])``."""
    scale = rows.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    return (rows / scale[:, None]).round().clamp(-127, 127).to(torch.int8), scale.float()


def save_caption_prior(path: str | os.PathLike[str], prior: CaptionPrior) -> Path:
    """Write the prior (int8 rows + fp32 scales; module docstring) atomically."""
    tensors = {"center": prior.center.float().contiguous()}
    for name in ("features", "targets"):
        q, scale = _quantize(getattr(prior, name).float())
        tensors[name] = q.contiguous()
        tensors[f"{name}_scale"] = scale.contiguous()
    metadata = {
        "settings": json.dumps(
            {"temperature": prior.temperature, "encoder": prior.encoder}, sort_keys=True
        )
    }
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata)
    return target


def load_caption_prior(path: str | os.PathLike[str]) -> CaptionPrior:
    """Read a prior written by :func:`save_caption_prior` (rows back to unit fp32).

    Raises:
        ValueError: the file is not a caption prior.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
            settings = json.loads((f.metadata() or {}).get("settings", "{}"))
    except (OSError, ValueError, SafetensorError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path}: not a caption prior ({err})") from None
    needed = {"center", "features", "features_scale", "targets", "targets_scale"}
    if not needed <= set(tensors):
        raise ValueError(f"{path}: not a caption prior (needs tensors {sorted(needed)})")
    rows = {
        name: F.normalize(tensors[name].float() * tensors[f"{name}_scale"].float()[:, None], dim=1)
        for name in ("features", "targets")
    }
    return CaptionPrior(
        rows["features"],
        rows["targets"],
        tensors["center"].float(),
        float(settings.get("temperature", CAPTION_PRIOR_TEMPERATURE)),
        str(settings.get("encoder", "all-mpnet-base-v2")),
    )
