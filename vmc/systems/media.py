"""Image grids of a generative system, logged from a callback (not from the module).

:class:`ImageGridLogger` asks the LightningModule for named image batches through its
``visuals(batch) -> dict[str, Tensor [N, 3, H, W] in [-1, 1]]`` method (the LWG systems return
``source | target | warped | generated``), tiles them into one grid (a row per sample, a column per
name) and logs it:

* through the trainer's :class:`~lightning.pytorch.loggers.WandbLogger` when one is attached
  (``log_image`` with the column names as caption);
* otherwise as a PNG ``<run dir>/media/<stage>_step<step>.png`` (atomic write).

Only global rank zero logs; the module's forward for the grid runs under ``no_grad`` on the batch
that was just trained (every ``every_n_steps`` optimizer steps) and on the first validation batch
of every validation run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from PIL import Image

from vmc.io.atomic import atomic_path

log = logging.getLogger(__name__)

__all__ = ["ImageGridLogger", "make_grid"]


def make_grid(
    columns: Mapping[str, torch.Tensor], max_items: int = 4, padding: int = 2
) -> np.ndarray:
    """Tile named image batches: a row per sample, a column per name (in mapping order).

    Args:
        columns: name -> ``[N, 3, H, W]`` float in [-1, 1] (N, H, W equal across names; a 1-channel
            batch is repeated to grey RGB).
        max_items: keep the first ``max_items`` samples.
        padding: white pixels between tiles.

    Returns:
        ``uint8 [rows * (H + p) + p, cols * (W + p) + p, 3]`` RGB.

    Raises:
        ValueError: empty mapping or mismatched shapes.
    """
    if not columns:
        raise ValueError("make_grid: no image batches given")
    tiles = []
    ref = None
    for name, x in columns.items():
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"make_grid: {name!r} must be [N, 1|3, H, W], got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        shape = (x.shape[0], *x.shape[2:])
        if ref is None:
            ref = shape
        elif shape != ref:
            raise ValueError(f"make_grid: {name!r} has [N, H, W] = {shape}, expected {ref}")
        tiles.append(x[:max_items].detach().float().cpu())
    n, h, w = min(ref[0], max_items), ref[1], ref[2]
    cols = len(tiles)
    grid = torch.ones(3, n * (h + padding) + padding, cols * (w + padding) + padding)
    for c, batch in enumerate(tiles):
        for r in range(n):
            y, x0 = padding + r * (h + padding), padding + c * (w + padding)
            grid[:, y : y + h, x0 : x0 + w] = (batch[r].clamp(-1, 1) + 1) / 2
    return (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


class ImageGridLogger(pl.Callback):
    """Log ``pl_module.visuals(batch)`` as an image grid every ``every_n_steps`` steps.

    Args:
        every_n_steps: training interval in optimizer steps (``trainer.global_step``); 0 disables
            training grids.
        max_items: samples (rows) per grid.
        log_validation: also log the first validation batch of every validation run.
        key: W&B key / file prefix.
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        max_items: int = 4,
        log_validation: bool = True,
        key: str = "media",
    ) -> None:
        super().__init__()
        if every_n_steps < 0 or max_items < 1:
            raise ValueError(
                f"ImageGridLogger: every_n_steps must be >= 0 and max_items >= 1, got "
                f"{every_n_steps} and {max_items}"
            )
        self.every_n_steps = every_n_steps
        self.max_items = max_items
        self.log_validation = log_validation
        self.key = key
        self._last_logged_step = -1
        self.saved: list[Path] = []  # PNG files written (when no W&B logger)

    # ------------------------------------------------------------------ hooks
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if (
            not self.every_n_steps
            or step % self.every_n_steps
            or step == self._last_logged_step
            or trainer.sanity_checking
        ):
            return
        self._last_logged_step = step
        self._log(trainer, pl_module, batch, "train")

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.log_validation and batch_idx == 0 and not trainer.sanity_checking:
            self._log(trainer, pl_module, batch, "val")

    # ------------------------------------------------------------------ logging
    @rank_zero_only
    def _log(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, stage: str):
        visuals = getattr(pl_module, "visuals", None)
        if not callable(visuals):
            return
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                columns = visuals(batch)
        finally:
            pl_module.train(was_training)
        grid = make_grid(columns, self.max_items)
        names = list(columns)
        wandb_logger = _find_wandb(trainer.loggers)
        if wandb_logger is not None:
            wandb_logger.log_image(
                key=f"{stage}/{self.key}",
                images=[grid],
                caption=[" | ".join(names)],
                step=trainer.global_step,
            )
            return
        out_dir = Path(trainer.default_root_dir) / "media"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{stage}_{self.key}_step{trainer.global_step:07d}.png"

        with atomic_path(path) as tmp:
            Image.fromarray(grid).save(tmp, format="PNG")
        self.saved.append(path)
        log.debug("wrote %s (%s)", path, " | ".join(names))


def _find_wandb(loggers: Sequence[Any]) -> Any | None:
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            return logger
    return None
