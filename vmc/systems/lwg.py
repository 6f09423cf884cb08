"""LWG pretraining system: the AttLWB-SPADE generator against the four-head PatchGAN.

A ``LightningModule`` with manual optimization (Lightning's GAN pattern): every training step
updates the generator, then the discriminator, each with its own Adam
(``docs/conventions.md#lwg-losses-and-training``: lr 1e-4 for both, betas (0.9, 0.999), no decay).
The networks and the loss criteria are built outside and passed in (TMR style,
``conf/model/lwg_pretrain.yaml``).

Batch (a dict; ``B`` clips, ``ns`` sources, ``nt`` targets, images RGB in [-1, 1], masks
background = 1), as ``vmc.data.lwg_dataset`` produces it:

* ``bg_inputs [B, 1, 4, H, W]``, ``src_inputs [B, ns, 6, H, W]``, ``tsf_inputs [B, nt, 6, H, W]``,
  ``Tst [B, nt, ns, H, W, 2]``: the generator's inputs (``I_syn`` is ``tsf_inputs[:, :, :3]``);
* ``src_img [B, ns, 3, H, W]``, ``src_mask [B, ns, 1, H, W]``: the real sources;
* ``tgt_img [B, nt, 3, H, W]``, ``tgt_mask [B, nt, 1, H, W]``: the real targets;
* ``head_rects``, ``body_rects`` ``[B, nt, 4]`` int ``(min_x, max_x, min_y, max_y)``, end exclusive;
* optionally ``aug_bg [B, 3, H, W]`` (a Places-style background) and
  ``aug_bg_inputs [B, 1, 4, H, W]`` (that image with a person-shaped hole): BGNet's extra
  reconstruction target and the discriminator's background head.

Generator loss (``vmc.lwg.losses.LWGLosses``; weights ``LWGLossWeights``, 0 switches a term
off and then its weight file is not needed):

    rec        = 10 * (L1(rec_src, I_s) + L1(BG(aug_bg_inputs), aug_bg)) / 2
    perceptual = 10 * VGG19(out_t, I_t)
    face       =  5 * SphereFace(out_t, I_t, head rects)
    adv        =  1 * mean_heads mean((D(fake) - 0)^2)    (LSGAN, a=-1, b=1, c=0)
    mask       =  5 * BCE([A_s, A_t], [M_s, M_t])
    tv         =  1 * TV_L1([A_s, A_t])

with ``rec_src = A_s * bg + (1 - A_s) * P_s`` and ``out_t = A_t * bg + (1 - A_t) * P_t``.
Discriminator loss: ``mean_heads mean((D(real) - 1)^2) + mean_heads mean((D(fake) + 1)^2)`` on
conditional inputs ``[I, C_t]`` (global, body crop, head crop) and ``[bg image, hole mask]``.

Checkpoints hold only ``generator.*`` and ``discriminator.*`` weights (frozen loss backbones and
metric networks stay out) and plain hyperparameters, so they load with
``torch.load(weights_only=True)`` and with :func:`vmc.lwg.loading.load_generator`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from vmc.io.checkpoints import export_inference, load_state_dict_strict
from vmc.lwg.discriminator import GlobalBodyHeadDiscriminator
from vmc.lwg.generator import AttentionLWBGenerator, GeneratorOutput
from vmc.lwg.loading import generator_file, load_generator
from vmc.lwg.losses import LWGLosses
from vmc.utils.config import to_plain

log = logging.getLogger(__name__)

__all__ = ["REQUIRED_KEYS", "LWGPretrainSystem"]

#: Batch keys the system always needs.
REQUIRED_KEYS = (
    "bg_inputs",
    "src_inputs",
    "tsf_inputs",
    "Tst",
    "src_img",
    "src_mask",
    "tgt_img",
    "tgt_mask",
    "head_rects",
    "body_rects",
)

#: Prefixes of the state_dict entries that go into checkpoints.
_CHECKPOINT_PREFIXES = ("generator.", "discriminator.")


class LWGPretrainSystem(pl.LightningModule):
    """Pretraining of the LWG generator (manual optimization, G then D every step).

    Args:
        generator: the AttLWB-SPADE generator (``vmc.lwg.AttentionLWBGenerator``).
        discriminator: ``GlobalBodyHeadDiscriminator`` (or ``GlobalDiscriminator``, or any
            module taking ``x`` and returning a dict of logits); ``None`` trains without
            adversarial loss (then ``losses.weights.adv`` must be 0).
        losses: ``vmc.lwg.losses.LWGLosses`` (weights, frozen VGG19 / SphereFace); ``None`` =
            the paper's weights, which need the VGG19 and SphereFace files.
        metrics: validation metrics (``vmc.lwg.metrics.LWGImageMetrics``): called as
            ``metrics.update(fake, real)`` then ``metrics.compute() -> {name: value}``;
            ``None`` logs the L1 only.
        lr_g, lr_d: Adam learning rates (1e-4 in the paper).
        betas: Adam betas ((0.9, 0.999) in the paper).
        d_every: update the discriminator every ``d_every`` batches (1 in the paper).

    Note: with manual optimization Lightning counts every ``optimizer.step()`` in
    ``trainer.global_step``, so one batch advances it by 2 (G and D): ``max_steps`` is twice
    the number of iterations.
    """

    def __init__(
        self,
        generator: AttentionLWBGenerator,
        discriminator: nn.Module | None = None,
        losses: LWGLosses | None = None,
        metrics: nn.Module | None = None,
        lr_g: float = 1e-4,
        lr_d: float = 1e-4,
        betas: Sequence[float] = (0.9, 0.999),
        d_every: int = 1,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.losses = LWGLosses() if losses is None else losses
        # Say which image losses run with real weights (a random or missing network changes
        # what the generator learns).
        sources = getattr(self.losses, "sources", {})
        log.info("LWG losses: %s", ", ".join(f"{term}: {src}" for term, src in sources.items()))
        self.metrics = metrics
        if self.losses.weights.enabled("adv") and discriminator is None:
            raise ValueError(
                "the adversarial loss is on (losses.weights.adv > 0) but there is no "
                "discriminator: set model.discriminator or model.losses.weights.adv=0"
            )
        betas = tuple(float(b) for b in betas)
        if len(betas) != 2 or lr_g <= 0 or lr_d <= 0 or d_every < 1:
            raise ValueError(
                f"need lr_g, lr_d > 0, two Adam betas and d_every >= 1; got lr_g={lr_g}, "
                f"lr_d={lr_d}, betas={betas}, d_every={d_every}"
            )
        self.save_hyperparameters(
            {
                "lr_g": float(lr_g),
                "lr_d": float(lr_d),
                "betas": list(betas),
                "d_every": int(d_every),
                "loss_weights": self.losses.weights.to_dict(),
                "generator_config": generator.config.to_dict(),
            }
        )

    # ------------------------------------------------------------------ optimizers
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp = self.hparams
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=hp.lr_g, betas=tuple(hp.betas))
        if self.discriminator is None:
            return [opt_g]
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr_d, betas=tuple(hp.betas))
        return [opt_g, opt_d]

    # ------------------------------------------------------------------ forward
    @staticmethod
    def check_batch(batch: Mapping[str, Any]) -> None:
        """Raise a ValueError naming the missing keys / inconsistent shapes of a batch."""
        if not isinstance(batch, Mapping):
            raise ValueError(f"LWG batches must be dicts, got {type(batch).__name__}")
        missing = [k for k in REQUIRED_KEYS if k not in batch]
        if missing:
            raise ValueError(f"LWG batch lacks keys {missing}; it has {sorted(batch)}")
        b, nt = batch["tsf_inputs"].shape[:2]
        ns = batch["src_inputs"].shape[1]
        expect = {
            "src_img": (b, ns, 3),
            "src_mask": (b, ns, 1),
            "tgt_img": (b, nt, 3),
            "tgt_mask": (b, nt, 1),
            "head_rects": (b, nt, 4),
            "body_rects": (b, nt, 4),
        }
        for key, lead in expect.items():
            if tuple(batch[key].shape[: len(lead)]) != lead:
                raise ValueError(
                    f"LWG batch: {key} has shape {tuple(batch[key].shape)}, expected it to start "
                    f"with {lead} (B, n, C) from tsf_inputs/src_inputs"
                )

    def _has_aug(self, batch: Mapping[str, Any]) -> bool:
        return "aug_bg_inputs" in batch and "aug_bg" in batch

    def forward(self, batch: Mapping[str, torch.Tensor]) -> GeneratorOutput:
        """Generator on a batch. ``bg`` is ``[B, nb, 3, H, W]`` with ``nb = 2`` when the batch
        has an augmented background (index 1), else 1; frames composite over ``bg[:, :1]``."""
        bg_in = batch["bg_inputs"]
        if self._has_aug(batch):
            bg_in = torch.cat([bg_in, batch["aug_bg_inputs"]], dim=1)
        return self.generator(bg_in, batch["src_inputs"], batch["tsf_inputs"], batch["Tst"])

    # ------------------------------------------------------------------ discriminator inputs
    def _d_inputs(
        self, batch: Mapping[str, torch.Tensor], frames: torch.Tensor, bg_img: torch.Tensor | None
    ) -> dict[str, Any]:
        """Discriminator call kwargs for target frames ``[B, nt, 3, H, W]`` (+ bg image)."""
        cond = batch["tsf_inputs"][:, :, 3:].to(frames.dtype)
        x = torch.cat([frames, cond], dim=2).flatten(0, 1)
        kwargs: dict[str, Any] = {"x": x}
        if isinstance(self.discriminator, GlobalBodyHeadDiscriminator):
            kwargs["body_rects"] = batch["body_rects"].flatten(0, 1)
            kwargs["head_rects"] = batch["head_rects"].flatten(0, 1)
            if self.discriminator.use_bg:
                if bg_img is None:
                    raise ValueError(
                        "the discriminator has a background head but the batch has no "
                        "aug_bg/aug_bg_inputs; use a discriminator with use_bg=false or "
                        "enable background augmentation in the data"
                    )
                hole = batch["aug_bg_inputs"][:, 0, 3:4].to(bg_img.dtype)
                kwargs["bg_x"] = torch.cat([bg_img, hole], dim=1)
        return kwargs

    # ------------------------------------------------------------------ losses
    def generator_losses(
        self, batch: Mapping[str, torch.Tensor], out: GeneratorOutput
    ) -> dict[str, torch.Tensor]:
        """Weighted generator terms (the enabled ones) and their sum under ``"total"``."""
        fake_t = out.frames()
        dtype = fake_t.dtype
        has_aug = self._has_aug(batch)
        d_fake = None
        if self.discriminator is not None and self.losses.weights.enabled("adv"):
            bg_img = out.bg[:, 1] if has_aug else None
            d_fake = self.discriminator(**self._d_inputs(batch, fake_t, bg_img))
        return self.losses.generator_losses(
            fake_src=out.reconstructed_sources(),
            real_src=batch["src_img"].to(dtype),
            fake_bg=out.bg[:, 1] if has_aug else None,
            real_bg=batch["aug_bg"].to(dtype) if has_aug else None,
            fake_tsf=fake_t,
            real_tsf=batch["tgt_img"].to(dtype),
            head_rects=batch["head_rects"].flatten(0, 1),
            masks=[out.src_mask, out.tsf_mask],
            mask_targets=[batch["src_mask"], batch["tgt_mask"]],
            d_fake=d_fake,
        )

    def discriminator_losses(
        self, batch: Mapping[str, torch.Tensor], out: GeneratorOutput
    ) -> dict[str, torch.Tensor]:
        """LSGAN discriminator terms on real targets vs the (detached) generated ones."""
        assert self.discriminator is not None
        fake_t = out.frames().detach()
        has_aug = self._has_aug(batch)
        fake_bg = out.bg[:, 1].detach() if has_aug else None
        real_bg = batch["aug_bg"].to(fake_t.dtype) if has_aug else None
        d_real = self.discriminator(
            **self._d_inputs(batch, batch["tgt_img"].to(fake_t.dtype), real_bg)
        )
        d_fake = self.discriminator(**self._d_inputs(batch, fake_t, fake_bg))
        return self.losses.discriminator_losses(d_real, d_fake)

    # ------------------------------------------------------------------ steps
    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self.check_batch(batch)
        optimizers = self.optimizers()
        if not isinstance(optimizers, list | tuple):
            optimizers = [optimizers]
        opt_g = optimizers[0]
        bsz = int(batch["tsf_inputs"].shape[0])

        # Generator step (D frozen through toggle_optimizer; its gradients are not needed).
        self.toggle_optimizer(opt_g)
        out = self(batch)
        terms = self.generator_losses(batch, out)
        self.manual_backward(terms["total"])
        opt_g.step()
        opt_g.zero_grad(set_to_none=True)
        self.untoggle_optimizer(opt_g)
        self.log_dict(
            {f"train/g_{k}": v.detach() for k, v in terms.items() if k != "total"},
            prog_bar=False,
            batch_size=bsz,
        )
        self.log("train/g_loss", terms["total"].detach(), prog_bar=True, batch_size=bsz)

        # Discriminator step on the same (detached) fakes.
        train_d = (
            self.discriminator is not None
            and len(optimizers) > 1
            and batch_idx % self.hparams.d_every == 0
        )
        if train_d:
            opt_d = optimizers[1]
            self.toggle_optimizer(opt_d)
            d_terms = self.discriminator_losses(batch, out)
            self.manual_backward(d_terms["total"])
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)
            self.untoggle_optimizer(opt_d)
            self.log("train/d_loss", d_terms["total"].detach(), prog_bar=True, batch_size=bsz)
            self.log_dict(
                {f"train/{k}": v.detach() for k, v in d_terms.items() if k != "total"},
                batch_size=bsz,
            )

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self.check_batch(batch)
        out = self(batch)
        # Contiguous copies: some torchmetrics updates use .view on their inputs.
        fake = out.frames().flatten(0, 1).float().contiguous()
        real = batch["tgt_img"].flatten(0, 1).float().contiguous()
        bsz = int(fake.shape[0])
        if self.metrics is not None:
            self.metrics.update(fake, real)
        else:
            self.log("val/l1", F.l1_loss(fake, real), batch_size=bsz, sync_dist=True)
        rec = F.l1_loss(out.reconstructed_sources().float(), batch["src_img"].float())
        self.log("val/rec_l1", rec, batch_size=bsz, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        if self.metrics is None:
            return
        values = self.metrics.compute()
        self.log_dict({f"val/{k}": v for k, v in values.items()}, prog_bar=True, sync_dist=False)
        self.metrics.reset()

    # ------------------------------------------------------------------ media
    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """First source, first target, its ``I_syn`` and the generated frame ``[B, 3, H, W]``
        each (for :class:`vmc.systems.media.ImageGridLogger`)."""
        out = self(batch)
        return {
            "source": batch["src_img"][:, 0].float(),
            "target": batch["tgt_img"][:, 0].float(),
            "warped": batch["tsf_inputs"][:, 0, :3].float(),
            "generated": out.frames()[:, 0].float(),
        }

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only the trained networks' weights (frozen backbones and metrics stay out)."""
        state = checkpoint.get("state_dict", {})
        checkpoint["state_dict"] = {
            k: v for k, v in state.items() if k.startswith(_CHECKPOINT_PREFIXES)
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign=False):
        """Strict for the trained networks; other entries (metrics) are taken from ``self``."""
        full = dict(state_dict)
        for key, value in self.state_dict().items():
            if not key.startswith(_CHECKPOINT_PREFIXES) and key not in full:
                full[key] = value
        return super().load_state_dict(full, strict=strict, assign=assign)

    def init_from_config(self, cfg: Any) -> None:
        """Before training: load ``init_from`` (a weights file or a run folder,
        :func:`~vmc.lwg.loading.generator_file`) into the generator (strict) and keep the
        sub-networks named by ``freeze`` fixed (per-subject fine-tuning's keys)."""
        init_from = cfg.get("init_from") if hasattr(cfg, "get") else None
        if init_from:
            source = load_generator(generator_file(Path(str(init_from)).expanduser()))
            load_state_dict_strict(self.generator, source.state_dict(), source=str(init_from))
        for name in list(cfg.get("freeze") or []) if hasattr(cfg, "get") else []:
            part = getattr(self.generator, str(name), None)
            if not isinstance(part, nn.Module):
                children = ", ".join(n for n, _ in self.generator.named_children())
                raise ValueError(f"freeze: the generator has no sub-network {name!r} ({children})")
            part.requires_grad_(False)

    def export_inference(self, out_dir: str | Path, cfg: Any = None) -> Path:
        """Write ``model.safetensors`` (the generator, keys without prefix) and ``config.yaml``.

        ``vmc.lwg.loading.load_generator`` reads the weights file alone (widths come from the
        shapes); the config holds the generator's constructor kwargs and the resolved run
        config.
        """
        gen_cfg = self.generator.config.to_dict()
        config: dict[str, Any] = {
            "format": "vmc.lwg.generator",
            "generator": {"_target_": "vmc.lwg.generator.AttentionLWBGenerator", **gen_cfg},
        }
        if cfg is not None:
            config["run"] = to_plain(cfg)
        return export_inference(
            self.generator,
            out_dir,
            config,
            metadata={"format": "vmc.lwg.generator", "config": json.dumps(gen_cfg)},
        )
