"""All LWG generator/discriminator loss terms behind one module.

Conventions: ``docs/conventions.md#lwg-losses-and-training``.

Weighted terms (paper weights in :class:`LWGLossWeights`)::

    rec        = 10 * mean(L1(src_hat, src), L1(bg_hat, bg))   # over the pairs given
    perceptual = 10 * VGG19(tsf_hat, tsf)
    face       =  5 * SphereFace(tsf_hat, tsf, head boxes)
    adv        =  1 * LSGAN_G(D(tsf_hat))                       # target 0
    mask       =  5 * BCE(A, M_bg)                              # all source + target masks
    tv         =  1 * TV_L1(A)

A weight of ``0`` or ``None`` switches its term off; the VGG19 / SphereFace networks are then
not built and their files are not needed. Without their files, ``when_missing="pixel"`` runs the
perceptual term as a pixel L1 on the target frames and switches the face term off
(:class:`LWGLosses`). The discriminator loss is
``adv * (LSGAN(D(real), 1) + LSGAN(D(fake), -1))``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vmc.io.assets import find_asset
from vmc.lwg.losses.adversarial import (
    Logits,
    LSGANTargets,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from vmc.lwg.losses.frozen import RANDOM, WeightsArg
from vmc.lwg.losses.pixel import mask_bce, reconstruction_l1, total_variation
from vmc.lwg.losses.sphereface import FaceIdentityLoss
from vmc.lwg.losses.vgg import VGGPerceptualLoss

__all__ = ["LWGLossWeights", "LWGLosses"]

log = logging.getLogger(__name__)

MaskArg = torch.Tensor | Sequence[torch.Tensor]


@dataclass
class LWGLossWeights:
    """Weight of each generator loss term; ``0`` or ``None`` switches the term off."""

    rec: float | None = 10.0
    perceptual: float | None = 10.0
    face: float | None = 5.0
    adv: float | None = 1.0
    mask: float | None = 5.0
    tv: float | None = 1.0

    def enabled(self, name: str) -> bool:
        """Whether term ``name`` is on."""
        w = getattr(self, name)
        return w is not None and float(w) != 0.0

    def weight(self, name: str) -> float:
        """The term's weight as a float (0.0 when off)."""
        return float(getattr(self, name)) if self.enabled(name) else 0.0

    def to_dict(self) -> dict[str, float | None]:
        """Plain dict (safe for ``save_hyperparameters`` / ``weights_only`` checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_any(cls, value: LWGLossWeights | Mapping[str, Any] | None) -> LWGLossWeights:
        """Build from an instance, a mapping (e.g. a Hydra ``DictConfig``) or ``None``.

        Raises:
            ValueError: unknown keys or non-numeric weights.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        data = dict(value.items())
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown LWG loss weights {unknown}; known: {sorted(names)}")
        for k, v in data.items():
            if v is not None and not isinstance(v, int | float):
                raise ValueError(f"loss weight {k} must be a number or null, got {v!r}")
            if v is not None and v < 0:
                raise ValueError(f"loss weight {k} must be >= 0, got {v}")
        return cls(**data)


def _source(weights: WeightsArg, key: str, root: Any) -> str:
    """What computes a frozen-network term: ``"random weights"`` or the weight file's name."""
    if isinstance(weights, str) and weights == RANDOM:
        return "random weights"
    path = find_asset(key, root=root) if weights is None else weights
    return f"{key} ({os.path.basename(str(path))})"


class LWGLosses(nn.Module):
    """Computes the weighted LWG loss terms; holds the frozen VGG19 / SphereFace when needed.

    Args:
        weights: :class:`LWGLossWeights` or a mapping of them (paper defaults when ``None``).
        vgg_weights: VGG19 file, ``None`` (asset lookup) or ``"random"`` (tests).
        face_weights: SphereFace-20a file, ``None`` (asset lookup) or ``"random"`` (tests).
        vgg_resize: side images are resized to before VGG19 (224 in the paper).
        gan_targets: LSGAN targets (paper: real 1, fake -1, generator 0).
        assets_root: extra assets root searched first.
        when_missing: what an enabled perceptual or face term does when its weight file is not
            found by the asset lookup (``vgg_weights`` / ``face_weights`` = ``None``):
            ``"error"`` (stop, saying where the file goes) or ``"pixel"`` (the perceptual term
            becomes a pixel L1 on the target frames, with the same weight; the face term is
            switched off). Why ``"pixel"``: the paper trains the target frame only through
            these two terms, so without their networks the person would get no pixel signal
            at all, and random-weight networks let it drift (fine-tuning then makes novel poses
            worse: docs/subject_appearance.md).

    Raises:
        FileNotFoundError: an enabled loss's weight file is missing and ``when_missing`` is
            ``"error"`` (at construction, so a run stops at start).

    :attr:`sources` says, per image term, what computes it (a file, ``"random weights"``,
    ``"pixel L1 (VGG19 file missing)"``, ``"off (SphereFace file missing)"`` or ``"off"``).

    The frozen networks are not submodules: ``state_dict()`` of this module is empty.
    """

    def __init__(
        self,
        weights: LWGLossWeights | Mapping[str, Any] | None = None,
        *,
        vgg_weights: WeightsArg = None,
        face_weights: WeightsArg = None,
        vgg_resize: int | None = 224,
        gan_targets: LSGANTargets | None = None,
        assets_root: str | os.PathLike[str] | None = None,
        when_missing: str = "error",
    ) -> None:
        super().__init__()
        if when_missing not in ("error", "pixel"):
            raise ValueError(f"when_missing must be 'error' or 'pixel', got {when_missing!r}")
        self.weights = LWGLossWeights.from_any(weights)
        self.gan_targets = gan_targets or LSGANTargets()
        self.sources: dict[str, str] = {}
        self.perceptual: VGGPerceptualLoss | None = None
        self.perceptual_as_pixel = False
        if self.weights.enabled("perceptual"):
            if self._missing("vgg19", vgg_weights, assets_root, when_missing):
                self.perceptual_as_pixel = True
                self.sources["perceptual"] = "pixel L1 (VGG19 file missing)"
            else:
                self.perceptual = VGGPerceptualLoss(
                    vgg_weights, resize=vgg_resize, assets_root=assets_root
                )
                self.sources["perceptual"] = _source(vgg_weights, "vgg19", assets_root)
        else:
            self.sources["perceptual"] = "off"
        self.face: FaceIdentityLoss | None = None
        if not self.weights.enabled("face"):
            self.sources["face"] = "off"
        elif self._missing("sphereface", face_weights, assets_root, when_missing):
            self.sources["face"] = "off (SphereFace file missing)"
        else:
            self.face = FaceIdentityLoss(face_weights, assets_root=assets_root)
            self.sources["face"] = _source(face_weights, "sphereface", assets_root)
        for term in ("perceptual", "face"):
            if "missing" in self.sources[term]:
                log.warning("LWG loss %s: %s", term, self.sources[term])

    @staticmethod
    def _missing(key: str, weights: WeightsArg, root: Any, when_missing: str) -> bool:
        """True when the fallback applies: an asset lookup (``weights=None``) that finds
        nothing, with ``when_missing="pixel"``."""
        return when_missing == "pixel" and weights is None and find_asset(key, root=root) is None

    def generator_losses(
        self,
        *,
        fake_src: torch.Tensor | None = None,
        real_src: torch.Tensor | None = None,
        fake_bg: torch.Tensor | None = None,
        real_bg: torch.Tensor | None = None,
        fake_tsf: torch.Tensor | None = None,
        real_tsf: torch.Tensor | None = None,
        head_rects: torch.Tensor | None = None,
        masks: MaskArg | None = None,
        mask_targets: MaskArg | None = None,
        d_fake: Logits | None = None,
    ) -> dict[str, torch.Tensor]:
        """Weighted generator loss terms and their sum.

        Args:
            fake_src, real_src: reconstructed / real sources ``[B, ns, 3, H, W]`` (or 4-D).
            fake_bg, real_bg: BGNet output / background target ``[B, (1,) 3, H, W]``.
            fake_tsf, real_tsf: composited / real target frames ``[B, nt, 3, H, W]`` (or 4-D).
            head_rects: ``[B*nt, 4]`` head boxes for the face loss (``None``: whole frames).
            masks, mask_targets: attention masks and target background masks (tensors or lists,
                1 = background).
            d_fake: discriminator logits on the generated (not detached) frames.

        Returns:
            ``{term: weighted scalar}`` for every enabled term whose inputs were given, plus
            ``"total"`` (their sum). Images are RGB in [-1, 1].

        Raises:
            ValueError: half of a pair is missing, or no term could be computed.
        """
        w = self.weights
        out: dict[str, torch.Tensor] = {}

        def pair(a_name: str, a: Any, b_name: str, b: Any) -> bool:
            if (a is None) != (b is None):
                raise ValueError(f"{a_name} and {b_name} must be given together")
            return a is not None

        if w.enabled("rec"):
            recs = []
            if pair("fake_src", fake_src, "real_src", real_src):
                recs.append(reconstruction_l1(fake_src, real_src))
            if pair("fake_bg", fake_bg, "real_bg", real_bg):
                recs.append(reconstruction_l1(fake_bg, real_bg))
            if recs:
                out["rec"] = w.weight("rec") * torch.stack(recs).mean()
        has_tsf = pair("fake_tsf", fake_tsf, "real_tsf", real_tsf)
        if has_tsf and self.perceptual is not None:
            out["perceptual"] = w.weight("perceptual") * self.perceptual(fake_tsf, real_tsf)
        elif has_tsf and self.perceptual_as_pixel:
            out["perceptual"] = w.weight("perceptual") * reconstruction_l1(fake_tsf, real_tsf)
        if has_tsf and self.face is not None:
            out["face"] = w.weight("face") * self.face(fake_tsf, real_tsf, head_rects)
        if d_fake is not None and w.enabled("adv"):
            out["adv"] = w.weight("adv") * lsgan_generator_loss(d_fake, self.gan_targets)
        if pair("masks", masks, "mask_targets", mask_targets) and w.enabled("mask"):
            out["mask"] = w.weight("mask") * mask_bce(masks, mask_targets)
        if masks is not None and w.enabled("tv"):
            out["tv"] = w.weight("tv") * total_variation(masks)
        if not out:
            raise ValueError(
                "generator_losses: no enabled loss term had its inputs "
                f"(weights: {self.weights.to_dict()})"
            )
        out["total"] = torch.stack([v.float() for v in out.values()]).sum()
        return out

    def discriminator_losses(self, d_real: Logits, d_fake: Logits) -> dict[str, torch.Tensor]:
        """Weighted LSGAN discriminator terms ``{"d_real", "d_fake", "total"}``.

        ``d_fake`` must be computed on detached generated images.

        Raises:
            ValueError: the adversarial loss is switched off (there is no D to train).
        """
        if not self.weights.enabled("adv"):
            raise ValueError(
                "discriminator_losses: the adversarial loss is switched off "
                f"(weights.adv={self.weights.adv}); do not train a discriminator"
            )
        real, fake = lsgan_discriminator_loss(d_real, d_fake, self.gan_targets)
        wa = self.weights.weight("adv")
        return {"d_real": wa * real, "d_fake": wa * fake, "total": wa * (real + fake)}
