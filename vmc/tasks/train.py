"""``train(cfg)``: the body of ``python train.py experiment=...`` (and of ``finetune``).

Sequence (lightning-hydra-template): seed → datamodule, model, callbacks, loggers, trainer →
fit (resuming from ``ckpt_path``) → validate → export inference weights → return metrics.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from vmc.io.checkpoints import check_lightning_checkpoint
from vmc.tasks.common import available_choices, instantiate_group, save_run_config
from vmc.utils.config import ConfigError

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


def check_train_config(cfg: DictConfig) -> None:
    """Fail before any work when the config cannot train (with the options listed)."""
    if cfg.get("model") is None or cfg.get("data") is None:
        raise ConfigError(
            "nothing to train: choose an experiment, e.g. `python train.py experiment=<name>`; "
            f"available experiments: {available_choices('experiment') or 'none yet'}"
        )


def train(cfg: DictConfig) -> dict[str, float]:
    """Train the system the config describes; returns the final logged metrics as floats."""
    check_train_config(cfg)
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
    init = getattr(model, "init_from_config", None)
    if callable(init):
        init(cfg)

    trainer.fit(
        model=model, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.ckpt_path, output_dir)
    )
    metrics = _as_floats(trainer.callback_metrics)

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


def _as_floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out
