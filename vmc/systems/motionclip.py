"""MotionCLIP training system (LightningModule).

Conventions: ``docs/conventions.md#motionclip-losses-and-training``.

The module **receives** its networks (TMR style; built by Hydra from ``conf/model/*.yaml``):

* ``net``: :class:`vmc.motion.MotionCLIP` — the only trained weights, the only thing in the
  optimizer and in checkpoints (state-dict keys ``net.encoder.*`` / ``net.decoder.*``).
* ``text_encoder``: a frozen :class:`vmc.text.TextEncoder` (CLIP ViT-B/32 in paper mode, the
  offline sentence encoder otherwise). It is not an ``nn.Module``, so it never enters the
  optimizer or a checkpoint. Its text (and image) features are computed once per distinct input
  and cached on disk (:class:`vmc.text.feature_cache.FeatureCache`, ``feature_cache_dir``): a
  training step runs only the motion model. With no image tower the image loss is switched off
  (logged).
* ``body``: a :class:`vmc.body.BodyModel` for the vertex loss and the position metrics (SMPL in
  paper mode, else the embedded body); held outside the module's children so licensed body files
  never land in a checkpoint.

Batches (``vmc.data.motion_datamodule``): ``x [B,25,6,T]``, ``mask [B,T]``, ``text`` (list of
str), ``image`` (list of rendered-frame paths, ``""`` = none), ``index``.

Losses (``vmc.motion.losses``, weights configurable; paper: 100 rc + 100 rcxyz + 100 vel +
1 text_cosine + 1 image_cosine), AdamW (lr 1e-4, weight decay 0.01, no schedule). Items with an
empty text are left out of the text loss; items without a frame out of the image loss.

Validation metrics (torchmetrics): ``val/rot6d_mse`` (rows 0..23), ``val/mpjpe_mm`` and
``val/mpve_mm`` (joints / vertices, translation added in the ``root`` translation mode),
``val/r_precision_top1`` / ``top3`` (text -> motion in the latent space, groups of 32).

Determinism: at the start of every training epoch the global RNG (dropout) is reseeded from
``(seed, epoch, rank)``; with the datamodule's epoch-seeded sampler, resuming from a checkpoint
at an epoch boundary reproduces the uninterrupted run.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from vmc.body.embedded import load_embedded_body
from vmc.body.model import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.body.select import select_body
from vmc.io.checkpoints import export_inference
from vmc.motion.caption_prior import (
    CAPTION_PRIOR_FILENAME,
    build_caption_prior,
    save_caption_prior,
)
from vmc.motion.convert import check_translation_mode
from vmc.motion.losses import LossWeights, PosedBody, motion_losses
from vmc.motion.metrics import MaskedMSE, MeanPositionError, RetrievalRPrecision
from vmc.motion.model import MotionCLIP
from vmc.motion.prior import BANK_FILENAME, compute_latent_bank, save_latent_bank
from vmc.motion.runs import EXPORT_FORMAT, rescales_text
from vmc.motion.text_head import (
    HEAD_FILENAME,
    TEXT_HEAD_SETTINGS,
    build_text_head,
    save_text_head,
)
from vmc.text.feature_cache import FeatureCache
from vmc.text.sentence_encoder import mpnet_encoder
from vmc.utils.config import to_plain

__all__ = ["EXPORT_FORMAT", "MotionCLIPSystem", "build_body", "describe_text_encoder"]

log = logging.getLogger(__name__)


def build_body(
    kind: str | None = "auto",
    smpl_path: str | None = None,
    assets_dir: str | None = None,
) -> torch.nn.Module | None:
    """The body model of the vertex loss (Hydra target of ``model.body``).

    Args:
        kind: ``"auto"`` (SMPL when found, else the embedded body), ``"smpl"``, ``"embedded"``,
            ``"tiny"`` (the small procedural test body) or ``"none"``/``None`` (no body: the
            vertex loss must then be off).
        smpl_path, assets_dir: where to look for SMPL (``conf/paths``).
    """
    if kind in (None, "none"):
        return None
    if kind == "tiny":
        return BodyModel.from_arrays(**make_tiny_body())

    body, description, why = select_body(kind, smpl_path, assets_dir)
    log.info("vertex loss body: %s (%s)", description, why)
    return body


def describe_text_encoder(encoder: Any) -> dict[str, Any]:
    """What is needed to rebuild a text encoder: ``kind``, ``name``, ``dim``, ``cache_id``.

    ``kind`` is ``"clip"`` or ``"sentence"`` for the project's encoders (``vmc.text.
    build_text_encoder``), else the class's import path.
    """
    if encoder is None:
        return {"kind": "none"}
    cls = type(encoder)
    kind = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__ == "vmc.text.clip_encoder":
        kind = "clip"
    elif cls.__module__ == "vmc.text.sentence_encoder":
        kind = "sentence"
    return {
        "kind": kind,
        "name": str(getattr(encoder, "name", "")),
        "dim": int(getattr(encoder, "dim", 0)),
        "cache_id": str(getattr(encoder, "cache_id", "")),
        "has_image_encoder": bool(getattr(encoder, "has_image_encoder", False)),
    }


def lr_factor(step: int, *, warmup: int, total: int, schedule: str) -> float:
    """Learning-rate multiplier at optimizer step ``step``: linear warm-up over ``warmup``
    steps, then ``constant`` (1) or ``cosine`` (half a cosine down to 0 at ``total``)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "cosine":
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    digest = hashlib.sha256(f"{seed}:{epoch}:{rank}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class _Held:
    """Keeps an object out of ``nn.Module`` registration (and thus out of state dicts)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj


class MotionCLIPSystem(pl.LightningModule):
    """Trains a MotionCLIP auto-encoder aligned with a frozen text (and image) encoder.

    Args:
        net: the MotionCLIP networks (trained).
        text_encoder: frozen encoder; ``None`` trains a plain motion auto-encoder.
        body: body model for ``rcxyz`` and the position metrics; ``None`` loads the embedded
            body when the vertex loss is on.
        losses: term weights (:class:`vmc.motion.losses.LossWeights` field names).
        lr, weight_decay, betas, eps: AdamW (the reference: torch defaults, lr 1e-4).
        translation: row 24's meaning (``"reference"`` or ``"root"``), recorded in exports.
        up_axis: the model's world up axis, recorded in exports.
        num_frames, fps: clip length and rate the model is trained on, recorded in exports.
        vertstrans: add row 24 to the vertices of the vertex loss (reference: False).
        num_loss_vertices: evenly spaced vertex subset for ``rcxyz`` (``None`` = all).
        feature_cache_dir: on-disk feature cache (``None`` = memory only).
        retrieval_group_size: pairs per R-precision group (32).
        seed: seed of the per-epoch RNG reseeding.
        export_half: store exported weights as fp16.
        text_center: subtract the mean feature of the training texts from every text feature
            (losses, metrics, generation). Sentence-encoder features of short captions share a
            large common component; without centering, the cosine loss is mostly met by moving
            every latent towards that common direction, which tells the captions apart poorly.
        warmup_steps, lr_schedule: linear warm-up, then ``constant`` (the reference, with 0
            warm-up steps) or ``cosine`` decay to 0 over the run's optimizer steps.
        init_from: start from these weights: an exported ``model.safetensors`` (fp16 or fp32)
            of a model with the same sizes, loaded strictly (e.g. to continue the embedded model
            on other data); ``None`` = random initialisation.
        latent_bank: the export also holds the motion latents of the training clips
            (``latent_bank.safetensors``; generation's retrieval prior, ``vmc.motion.prior``).
        text_head: with ``latent_bank``, the export also holds a text head fit on the training
            captions (``text_head.safetensors``; ``vmc.motion.text_head``).
        caption_prior: with ``latent_bank``, the export also holds the training captions'
            all-mpnet-base-v2 features and motion targets (``caption_prior.safetensors``;
            ``vmc.motion.caption_prior``; needs ``requirements/text_prior.txt``).
    """

    def __init__(
        self,
        net: MotionCLIP,
        text_encoder: Any | None = None,
        body: torch.nn.Module | None = None,
        *,
        losses: dict[str, float] | None = None,
        lr: float = 1e-4,
        weight_decay: float = 0.01,
        betas: tuple[float, float] | list[float] = (0.9, 0.999),
        eps: float = 1e-8,
        translation: str = "reference",
        up_axis: str = "z",
        num_frames: int = 60,
        fps: float = 30.0,
        vertstrans: bool = False,
        num_loss_vertices: int | None = None,
        feature_cache_dir: str | os.PathLike[str] | None = None,
        retrieval_group_size: int = 32,
        seed: int = 42,
        export_half: bool = False,
        text_center: bool = False,
        warmup_steps: int = 0,
        lr_schedule: str = "constant",
        latent_bank: bool = False,
        init_from: str | None = None,
        text_head: bool = False,
        caption_prior: bool = False,
    ) -> None:
        super().__init__()
        if lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")

        if not isinstance(net, MotionCLIP):
            raise ValueError(f"net must be a vmc.motion.MotionCLIP, got {type(net).__name__}")
        check_translation_mode(translation)
        if up_axis not in ("y", "z"):
            raise ValueError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        losses = to_plain(losses) or {}
        unknown = sorted(set(losses) - set(LossWeights().to_dict()))
        if unknown:
            raise ValueError(
                f"unknown loss names {unknown}; known: {sorted(LossWeights().to_dict())}"
            )
        self.weights = LossWeights(**{k: float(v) for k, v in losses.items()})
        self.save_hyperparameters(ignore=["net", "text_encoder", "body"])
        self.hparams["betas"] = [float(b) for b in to_plain(betas)]
        self.hparams["losses"] = self.weights.to_dict()
        self.net = net
        if init_from:
            _init_weights(net, init_from)
        # The reference's decoder keeps `actionBiases` for key compatibility but never uses it:
        # freezing it keeps AdamW's behaviour (it got no gradient there either) and lets DDP run
        # without find_unused_parameters.
        net.decoder.actionBiases.requires_grad_(False)
        self._encoder = _Held(text_encoder)
        self.features = (
            FeatureCache(text_encoder, feature_cache_dir) if text_encoder is not None else None
        )
        self._check_encoder(text_encoder)
        # Plain, checkpoint-friendly facts for rebuilding the model from a checkpoint alone.
        self.hparams["net_config"] = net.config.to_dict()
        self.hparams["text_encoder_info"] = describe_text_encoder(text_encoder)

        self._body = _Held(None)
        self._metric_body = self._body
        if body is not None or self.weights.rcxyz > 0:
            if body is None:
                log.info("no body model given: the vertex loss uses the embedded body")
                body = load_embedded_body()
            self._body = _Held(PosedBody(body, num_loss_vertices))
            self._metric_body = _Held(PosedBody(body)) if num_loss_vertices else self._body

        # Mean norm of the motion latents (EMA over training batches): text features are
        # rescaled to it before decoding (``text_rc``, and generation through the export's
        # ``text_scale``), so the decoder sees text latents of the size it was trained on.
        self.register_buffer("latent_norm", torch.tensor(0.0), persistent=True)
        # Mean feature of the distinct training texts (``text_center``; zeros when off).
        self.register_buffer("text_mean", torch.zeros(net.latent_dim), persistent=True)

        self.val_rot6d = MaskedMSE()
        self.val_mpjpe = MeanPositionError(scale=1000.0)
        self.val_mpve = MeanPositionError(scale=1000.0)
        self.val_retrieval = RetrievalRPrecision(group_size=retrieval_group_size, top_k=(1, 3))

    # ------------------------------------------------------------------ networks held aside
    @property
    def text_encoder(self) -> Any | None:
        """The frozen text encoder (not a submodule)."""
        return self._encoder.obj

    @property
    def body(self) -> PosedBody | None:
        """The posing helper of the vertex loss (not a submodule)."""
        return self._body.obj

    @property
    def text_loss_on(self) -> bool:
        return self.features is not None and (
            self.weights.text_cosine > 0 or self.weights.text_nce > 0 or self.weights.text_rc > 0
        )

    @property
    def image_loss_on(self) -> bool:
        return self._image_loss_on

    def _check_encoder(self, encoder: Any | None) -> None:
        self._image_loss_on = False
        if encoder is None:
            if self.weights.text_cosine > 0 or self.weights.image_cosine > 0:
                log.warning("no text encoder: the text and image losses are off")
            return
        dim = int(getattr(encoder, "dim", -1))
        if dim != self.net.latent_dim:
            raise ValueError(
                f"the text encoder {getattr(encoder, 'name', type(encoder).__name__)!r} gives "
                f"{dim}-d features but MotionCLIP's latent_dim is {self.net.latent_dim}: set "
                f"model.net.latent_dim={dim} (the latent is aligned with the encoder's features)"
            )
        if self.weights.image_cosine > 0:
            if getattr(encoder, "has_image_encoder", False):
                self._image_loss_on = True
            else:
                log.warning(
                    "image loss switched off: text encoder %r has no image tower",
                    getattr(encoder, "name", type(encoder).__name__),
                )

    # ------------------------------------------------------------------ Lightning hooks
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer = torch.optim.AdamW(
            [p for p in self.net.parameters() if p.requires_grad],
            lr=float(hp.lr),
            betas=tuple(hp.betas),
            eps=float(hp.eps),
            weight_decay=float(hp.weight_decay),
        )
        warmup, schedule = int(hp.get("warmup_steps", 0)), str(hp.get("lr_schedule", "constant"))
        if warmup == 0 and schedule == "constant":
            return optimizer  # the reference: constant lr
        total = int(self.trainer.estimated_stepping_batches) if self._trainer else 0
        factor = partial(lr_factor, warmup=warmup, total=max(total, warmup + 1), schedule=schedule)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_fit_start(self) -> None:
        self.warm_feature_cache()
        self.compute_text_mean()

    def on_validation_start(self) -> None:
        if self.features is not None and not len(self.features):
            self.warm_feature_cache()
        if bool(self.hparams.get("text_center")) and not self.text_mean.any():
            self.compute_text_mean()

    def compute_text_mean(self) -> None:
        """Set ``text_mean`` to the mean feature of the training set's distinct texts.

        Deterministic in the data, so every DDP rank and every resume computes the same value.
        """
        if not bool(self.hparams.get("text_center")) or self.features is None:
            return
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        train_set = getattr(datamodule, "train_set", None)
        if train_set is None and hasattr(datamodule, "setup"):
            datamodule.setup("fit")
            train_set = getattr(datamodule, "train_set", None)
        texts = [t for t in (train_set.all_texts() if train_set is not None else []) if t]
        if not texts:
            log.warning("text_center is on but the datamodule has no training texts: not centred")
            return
        feats = self.features.text_features(texts, self.text_mean.device)
        self.text_mean.copy_(feats.float().mean(0))
        log.info("text features centred on the mean of %d training texts", len(texts))

    def on_train_epoch_start(self) -> None:
        # Dropout masks depend only on (seed, epoch, rank): an epoch replays after a resume.
        torch.manual_seed(_epoch_seed(int(self.hparams.seed), self.current_epoch, self.global_rank))

    def warm_feature_cache(self) -> None:
        """Encode every text/image of the datamodule once (rank 0 first, then the others read
        the disk cache)."""
        if self.features is None:
            return
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        texts = datamodule.all_texts() if hasattr(datamodule, "all_texts") else []
        images = (
            datamodule.all_images()
            if self.image_loss_on and hasattr(datamodule, "all_images")
            else []
        )
        if self.image_loss_on and not images:
            log.warning(
                "image loss on but the datamodule has no rendered frames (data.frames_dir); "
                "items without a frame are left out of it"
            )
        strategy = self.trainer.strategy if self._trainer else None
        first = strategy is None or self.global_rank == 0 or self.features.cache_dir is None
        encoder = self.text_encoder
        home = getattr(encoder, "device", None)
        # Encode on the training GPU (one pass over the labels), then give the memory back.
        on_gpu = self.device.type == "cuda" and home is not None and home != self.device
        if on_gpu:
            encoder.to(self.device)
        try:
            if first:
                self.features.warm(texts, images)
            if strategy is not None and self.trainer.world_size > 1:
                strategy.barrier("motionclip_feature_cache")
            if not first:
                self.features.warm(texts, images)
        finally:
            if on_gpu:
                encoder.to(home)
        log.info(
            "feature cache: %d features (%d from disk, %d encoder calls)",
            len(self.features),
            self.features.disk_hits,
            self.features.encoder_calls,
        )

    # ------------------------------------------------------------------ steps
    def _features(self, batch: dict[str, Any], need_text: bool) -> dict[str, Any]:
        """Cached ``(features [b, D], valid [B] bool)`` of the batch's non-empty texts/images."""
        out: dict[str, Any] = {}
        device = batch["x"].device
        if need_text and self.features is not None:
            texts = list(batch["text"])
            valid = torch.tensor([bool(t) for t in texts], device=device)
            if valid.any():
                feats = self.features.text_features([t for t in texts if t], device)
                if bool(self.hparams.get("text_center")):
                    feats = feats - self.text_mean.to(feats)
                out["text"] = (feats, valid)
        if self.image_loss_on and "image" in batch:
            images = list(batch["image"])
            valid = torch.tensor([bool(p) for p in images], device=device)
            if valid.any():
                feats = self.features.image_features([p for p in images if p], device)
                out["image"] = (feats, valid)
        return out

    def compute_losses(
        self, batch: dict[str, Any], need_text: bool | None = None
    ) -> tuple[dict[str, torch.Tensor], Any]:
        """Forward pass and all loss terms of one batch (``terms["loss"]`` is the objective).

        Args:
            batch: see the module docstring.
            need_text: fetch text features even when the text loss is off (validation
                retrieval); default: only when the text loss is on.

        Returns:
            ``(terms, (mu, output, features))``; ``features`` maps ``"text"``/``"image"`` to
            ``(features [b, D], valid [B] bool)``.
        """
        x, mask = batch["x"], batch["mask"]
        mu, output = self.net(x, mask)
        feats = self._features(batch, self.text_loss_on if need_text is None else need_text)
        # Only items with a text (an image) take part in the text (image) loss.
        text = feats.get("text") if self.text_loss_on else None
        image = feats.get("image") if self.image_loss_on else None
        if self.training:
            self._track_latent_norm(mu)
        text_decoded = None
        if self.weights.text_rc > 0 and "text" in feats:
            f, valid = feats["text"]
            scale = mu[valid].detach().norm(dim=1, keepdim=True)
            z_text = F.normalize(f.to(mu.dtype), dim=1) * scale
            text_decoded = (self.net.decode(z_text, mask[valid]), valid)
        terms = motion_losses(
            x,
            output,
            mask,
            mu,
            self.weights,
            body=self.body,
            text_features=None if text is None else (text[0], text[1]),
            image_features=None if image is None else (image[0], image[1]),
            add_translation=bool(self.hparams.vertstrans),
            text_decoded=text_decoded,
        )
        return terms, (mu, output, feats)

    @torch.no_grad()
    def _track_latent_norm(self, mu: torch.Tensor, momentum: float = 0.01) -> None:
        # Under DDP the buffer is broadcast from rank 0 at every forward: one value everywhere.
        norm = mu.detach().norm(dim=1).mean().to(self.latent_norm)
        if self.latent_norm <= 0:
            self.latent_norm.copy_(norm)
        else:
            self.latent_norm.lerp_(norm, momentum)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        terms, _ = self.compute_losses(batch)
        self.log_dict(
            {f"train/{k}": v.detach() for k, v in terms.items() if k != "loss"},
            on_step=True,
            on_epoch=True,
            batch_size=batch["x"].shape[0],
            sync_dist=True,
        )
        return terms["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        terms, (mu, output, feats) = self.compute_losses(batch, need_text=True)
        x, mask = batch["x"], batch["mask"]
        self.log_dict(
            {f"val/{k}": v for k, v in terms.items() if k != "loss"},
            on_step=False,
            on_epoch=True,
            batch_size=x.shape[0],
            sync_dist=True,
        )
        self.val_rot6d.update(output[:, :24], x[:, :24], mask)
        body = self._metric_body.obj if self.body is not None else None
        if body is not None:
            root = self.hparams.translation == "root"
            v_gt, j_gt = body.pose_motion(x, mask, add_translation=root)
            v_out, j_out = body.pose_motion(output, mask, add_translation=root)
            self.val_mpjpe.update(j_out, j_gt)
            self.val_mpve.update(v_out, v_gt)
        if "text" in feats:
            text, valid = feats["text"]
            self.val_retrieval.update(mu[valid], text)

    def on_validation_epoch_end(self) -> None:
        values = {"val/rot6d_mse": self.val_rot6d.compute()}
        if self.body is not None:
            values["val/mpjpe_mm"] = self.val_mpjpe.compute()
            values["val/mpve_mm"] = self.val_mpve.compute()
        if self.features is not None:
            scores = self.val_retrieval.compute()
            values["val/r_precision_top1"] = scores["top1"]
            values["val/r_precision_top3"] = scores["top3"]
        for metric in (self.val_rot6d, self.val_mpjpe, self.val_mpve, self.val_retrieval):
            metric.reset()
        # Already synchronised by torchmetrics: identical on every rank.
        self.log_dict(
            {k: v.float() for k, v in values.items() if torch.isfinite(v)}, sync_dist=True
        )

    # ------------------------------------------------------------------ export
    def export_info(self) -> dict[str, Any]:
        """What ``config.yaml`` of an export says: how to rebuild and use the model."""
        hp = self.hparams
        return {
            "format": EXPORT_FORMAT,
            "model": dict(hp.net_config),
            "text_encoder": dict(hp.text_encoder_info),
            "translation": str(hp.translation),
            "up_axis": str(hp.up_axis),
            "num_frames": int(hp.num_frames),
            "fps": float(hp.fps),
            "dtype": "float16" if hp.export_half else "float32",
            # Generation rescales text features to this norm (see ``latent_norm``); null = use
            # the raw features (the paper's behaviour, and models trained without text_rc).
            "text_scale": float(self.latent_norm) if rescales_text(hp) else None,
            # Subtracted from text features before use; null = not centred.
            "text_center": ([float(v) for v in self.text_mean] if hp.get("text_center") else None),
            "losses": dict(hp.losses),
        }

    def export_inference(
        self, out_dir: str | os.PathLike[str], cfg: Any = None, datamodule: Any = None
    ) -> Path:
        """Write ``model.safetensors`` (MotionCLIP weights only) + ``config.yaml`` to ``out_dir``.

        ``config.yaml`` holds :meth:`export_info` plus, when ``cfg`` is given, the experiment
        name and seed of the run. Load it with :func:`vmc.motion.runs.load_motionclip_run`.
        With ``latent_bank=True`` it also writes ``latent_bank.safetensors`` from the training
        clips of ``datamodule`` (default: the trainer's).
        """
        info = self.export_info()
        if cfg is not None:
            plain = to_plain(cfg)
            if isinstance(plain, dict):
                info["run"] = {
                    "task_name": plain.get("task_name"),
                    "seed": plain.get("seed"),
                    "tags": plain.get("tags"),
                }
        weights = export_inference(
            self.net,
            out_dir,
            info,
            half=bool(self.hparams.export_half),
            metadata={"format": EXPORT_FORMAT},
        )
        if self.hparams.get("latent_bank"):
            dataset = None
            if datamodule is not None:
                if getattr(datamodule, "train_set", None) is None:
                    datamodule.setup("fit")  # e.g. after ddp_spawn, set up in its workers only
                dataset = datamodule.train_set
            self.export_latent_bank(out_dir, dataset)
        return weights

    def export_latent_bank(self, out_dir: str | os.PathLike[str], dataset: Any = None) -> Path:
        """Encode the training clips (their epoch-0 windows) into ``latent_bank.safetensors``.

        Args:
            out_dir: the export folder.
            dataset: the clips (default: the trainer's datamodule's ``train_set``).
        """
        if dataset is None:
            datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
            dataset = getattr(datamodule, "train_set", None)
        if dataset is None:
            raise ValueError("no training clips to build the latent bank from: pass a dataset")
        was_training = self.net.training
        bank = compute_latent_bank(self.net, dataset)
        self.net.train(was_training)
        path = save_latent_bank(Path(out_dir) / BANK_FILENAME, bank)
        log.info("latent bank: %d training latents -> %s", bank.shape[0], path)
        if self.hparams.get("text_head"):
            self.export_text_head(out_dir, dataset, bank)
        if self.hparams.get("caption_prior"):
            self.export_caption_prior(out_dir, dataset, bank)
        return path

    def export_text_head(
        self, out_dir: str | os.PathLike[str], dataset: Any, bank: torch.Tensor
    ) -> Path | None:
        """Fit the text head on the captions of ``dataset``'s clips and their latents ``bank
        [N, D]`` (same order) and write ``text_head.safetensors`` (``vmc.motion.text_head``).

        Clips without whole-clip captions (e.g. only per-frame labels) give no head: a warning,
        ``None``, and the rest of the export stands (generation then uses the text latent as
        encoded)."""
        if self.features is None:
            raise ValueError("a text head needs the text encoder the model was trained with")
        clip_texts = _clip_captions(dataset, "text head")
        if clip_texts is None:
            return None
        device = self.text_mean.device

        def text_latents(captions: list[str]) -> torch.Tensor:
            feats = self.features.text_features(captions, device).float()
            return feats - self.text_mean.to(feats) if self.hparams.get("text_center") else feats

        head, num_captions = build_text_head(clip_texts, bank, text_latents)
        path = save_text_head(Path(out_dir) / HEAD_FILENAME, head, TEXT_HEAD_SETTINGS)
        log.info("text head: fit on %d training captions -> %s", num_captions, path)
        return path

    def export_caption_prior(
        self, out_dir: str | os.PathLike[str], dataset: Any, bank: torch.Tensor
    ) -> Path | None:
        """Store the training captions' all-mpnet-base-v2 features and motion targets (from
        ``bank [N, D]``, in ``dataset``'s order) as ``caption_prior.safetensors``
        (:mod:`vmc.motion.caption_prior`). Clips without captions give no prior (a warning)."""
        clip_texts = _clip_captions(dataset, "caption prior")
        if clip_texts is None:
            return None
        encoder = mpnet_encoder(device=self.text_mean.device)
        prior = build_caption_prior(clip_texts, bank, encoder.encode, encoder=encoder.name)
        path = save_caption_prior(Path(out_dir) / CAPTION_PRIOR_FILENAME, prior)
        log.info("caption prior: %d training captions -> %s", prior.features.shape[0], path)
        return path


def _clip_captions(dataset: Any, what: str) -> list[list[str]] | None:
    """The whole-clip captions of ``dataset``'s records (in order), or ``None`` with a warning
    when no clip has one (``what`` is then exported without)."""
    clip_texts = [list(record.motion.texts) for record in dataset.records]
    if not any(t for texts in clip_texts for t in texts):
        log.warning("%s: the training clips have no captions; exporting without one", what)
        return None
    return clip_texts


def _init_weights(net: MotionCLIP, path: str | os.PathLike[str]) -> None:
    """Load an exported ``model.safetensors`` into ``net`` (strict, cast to its dtype)."""
    weights = Path(path).expanduser()
    if not weights.is_file():
        raise FileNotFoundError(
            f"model.init_from: {weights} is not a file (an exported model.safetensors, e.g. "
            "vmc/assets/motion/embedded/model.safetensors)"
        )
    state = load_file(str(weights))
    own = net.state_dict()
    try:
        net.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in state.items()})
    except RuntimeError as err:
        raise ValueError(f"model.init_from: {weights} does not fit this model: {err}") from None
