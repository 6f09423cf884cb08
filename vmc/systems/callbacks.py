"""Lightning callbacks shared by every system."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from vmc.utils.config import to_plain


class PlainCheckpointContents(pl.Callback):
    """Store hyperparameters as plain dicts/lists so checkpoints load with ``weights_only=True``.

    ``save_hyperparameters`` keeps whatever it was given; an OmegaConf ``DictConfig`` inside a
    checkpoint makes ``torch.load(weights_only=True)`` refuse the whole file.
    """

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        for key in ("hyper_parameters", "datamodule_hyper_parameters"):
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])
