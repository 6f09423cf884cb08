"""``train(cfg)``: the body of ``python train.py experiment=...`` (and of ``finetune``).

Sequence (lightning-hydra-template): check the config → choose the stage groups the model uses
(its text encoder and body, :func:`training_stages`; printed, and kept in the run folder as
``stages.yaml`` like ``infer`` does) → seed → datamodule, model, callbacks, loggers, trainer →
fit (resuming from ``ckpt_path``) → validate → export inference weights → return metrics.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from vmc.io.checkpoints import check_lightning_checkpoint
from vmc.io.stages import BODY_KINDS, GroupChoice, StageRequest, resolve_body
from vmc.tasks.common import available_choices, instantiate_group, record_stages, save_run_config
from vmc.tasks.recipe import run_recipe
from vmc.text import resolve_text_encoder
from vmc.utils.config import ConfigError
from vmc.utils.console import print_stage_table

log = logging.getLogger(__name__)


def resolve_ckpt_path(ckpt_path: str | None, output_dir: str | Path) -> str | None:
    """``"last"`` → ``<output_dir>/checkpoints/last.ckpt``; other paths must exist.

    The file is checked to be a Lightning training checkpoint first: Lightning itself fails on
    anything else with a bare ``KeyError: 'pytorch-lightning_version'``.

    Raises:
        ConfigError: no such file. CheckpointError: not a resumable Lightning checkpoint.
    """
    if ckpt_path in (None, ""):
        return None
    if ckpt_path == "last":
        path = Path(output_dir) / "checkpoints" / "last.ckpt"
        if not path.is_file():
            raise ConfigError(
                f"ckpt_path=last but {path} does not exist: rerun in the same run directory "
                "(hydra.run.dir=<previous run>) or pass the checkpoint's path"
            )
    else:
        path = Path(ckpt_path)
        if not path.is_file():
            raise ConfigError(f"ckpt_path {ckpt_path} does not exist")
    check_lightning_checkpoint(path)
    return str(path)


def _int_key(cfg: DictConfig, key: str, minimum: int, maximum: int | None = None) -> int | None:
    """``cfg[key]`` (dotted) as an int in range, or None when unset; else a ConfigError."""
    value = OmegaConf.select(cfg, key, default=None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigError(f"{key} must be at least {minimum}{upper}, got {value}")
    return value


def check_trainer_config(cfg: DictConfig) -> None:
    """Values Lightning would reject late (after data loading), checked before any work."""
    _int_key(cfg, "seed", 0, 2**32 - 1)  # numpy's and Lightning's seed range
    max_epochs = _int_key(cfg, "trainer.max_epochs", -1)
    max_steps = _int_key(cfg, "trainer.max_steps", -1)
    if (
        max_epochs is not None
        and max_epochs < 1
        and not (max_epochs == -1 and (max_steps or 0) > 0)
    ):
        raise ConfigError(
            f"trainer.max_epochs must be at least 1, got {max_epochs} (-1, endless training, "
            "needs trainer.max_steps > 0 to stop)"
        )
    _int_key(cfg, "trainer.min_epochs", 0)
    _int_key(cfg, "trainer.num_nodes", 1)
    _int_key(cfg, "trainer.accumulate_grad_batches", 1)
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu") or "cpu")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} but this machine has no CUDA device: use "
            "trainer=cpu (or trainer=ddp_cpu for several CPU processes)"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.accelerator=mps but Apple's MPS is not available: trainer=cpu")
    devices = OmegaConf.select(cfg, "trainer.devices", default=1)
    if (
        accelerator in ("gpu", "cuda")
        and isinstance(devices, int)
        and not isinstance(devices, bool)
    ) and devices > torch.cuda.device_count():
        raise ConfigError(
            f"trainer.devices={devices} but this machine has {torch.cuda.device_count()} "
            "CUDA device(s)"
        )


def check_train_config(cfg: DictConfig) -> None:
    """Fail before any work when the config cannot train (with the options listed)."""
    if cfg.get("model") is None or cfg.get("data") is None:
        raise ConfigError(
            "nothing to train: choose an experiment, e.g. `python train.py experiment=<name>`; "
            f"available experiments: {available_choices('experiment') or 'none yet'}"
        )
    check_trainer_config(cfg)


#: ``model.body.kind`` values outside the resolver's (:data:`vmc.io.stages.BODY_KINDS`).
_OTHER_BODIES = {
    "tiny": ("tiny procedural test body", "model.body.kind=tiny"),
    "none": ("no body (the vertex loss is off)", "model.body.kind=none"),
}


def training_stages(cfg: DictConfig) -> list[GroupChoice]:
    """The stage groups a training run uses, chosen from the config and the files present
    (:mod:`vmc.io.stages`; loads nothing): the model's ``text_encoder`` and ``body`` where the
    model config has them (MotionCLIP), none for a model without them (LWG).

    Raises:
        FileNotFoundError: a file the config asks for explicitly is missing (CLIP for
        ``text_encoder.kind=clip``, SMPL for ``body.kind=smpl``), before any data is loaded.
    """
    model = cfg.get("model") or {}
    chosen = []
    text = model.get("text_encoder")
    if text is not None:
        chosen.append(
            resolve_text_encoder(
                str(text.get("kind", "auto")), text.get("clip_path"), text.get("assets_dir")
            )
        )
    body = model.get("body")
    if body is not None:
        kind = str(body.get("kind", "auto") or "none")
        if kind in BODY_KINDS:
            request = StageRequest(
                body=kind, smpl=body.get("smpl_path"), assets_dir=body.get("assets_dir")
            )
            chosen.append(resolve_body(request))
        elif kind in _OTHER_BODIES:
            chosen.append(GroupChoice("body", kind, *_OTHER_BODIES[kind]))
    return chosen


def train(cfg: DictConfig) -> dict[str, float]:
    """Train the system the config describes; returns the final logged metrics as floats.

    A config with a ``recipe`` (a list of stages) runs them in order (:mod:`vmc.tasks.recipe`).
    """
    if cfg.get("recipe") is not None:
        return run_recipe(cfg, train)
    check_train_config(cfg)
    stages = training_stages(cfg)
    if stages:
        print_stage_table([g.row() for g in stages], title="vmc training stages")
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)

    log.info("instantiating datamodule <%s>", cfg.data.get("_target_"))
    datamodule = instantiate(cfg.data)
    log.info("instantiating model <%s>", cfg.model.get("_target_"))
    model = instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"), "callbacks")
    loggers = instantiate_group(cfg.get("logger"), "logger")
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    if trainer.is_global_zero:
        save_run_config(cfg, output_dir)
        record_stages(cfg, stages)
    init = getattr(model, "init_from_config", None)
    if callable(init):
        init(cfg)

    trainer.fit(
        model=model, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.ckpt_path, output_dir)
    )
    metrics = _as_floats(trainer.callback_metrics)
    if cfg.get("validate") and not trainer.fast_dev_run and _has_val_data(datamodule):
        # One validation pass on the final weights (fit's last one may be epochs older when
        # check_val_every_n_epoch > 1); its metrics win over fit's.
        for result in trainer.validate(model=model, datamodule=datamodule, verbose=False):
            metrics.update(_as_floats(result))

    export = getattr(model, "export_inference", None)
    if (
        cfg.get("export")
        and callable(export)
        and trainer.is_global_zero
        and not trainer.fast_dev_run
    ):
        # Exports that need the data (e.g. MotionCLIP's latent bank) take the datamodule.
        takes_data = "datamodule" in inspect.signature(export).parameters
        extra = {"datamodule": datamodule} if takes_data else {}
        path = export(output_dir / "export", cfg, **extra)
        log.info("exported inference weights to %s", path)
    return metrics


def _has_val_data(datamodule: Any) -> bool:
    """Whether the datamodule offers a validation loader (Lightning's base class raises)."""
    hook = getattr(type(datamodule), "val_dataloader", None)
    return hook is not None and hook is not pl.LightningDataModule.val_dataloader


def _as_floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out
