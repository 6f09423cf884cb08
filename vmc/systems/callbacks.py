"""Lightning callbacks shared by every system."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import RichProgressBar

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


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar, counting epochs as "Epoch 3/10" (1-based, of the total).

    Lightning's own prints ``Epoch {i}/{max_epochs - 1}``, which reads "Epoch 2/-2" for endless
    training (``max_epochs=-1`` with a step limit); then only the epoch is shown.
    """

    def _get_train_description(self, current_epoch: int) -> str:
        max_epochs = self.trainer.max_epochs
        text = f"Epoch {current_epoch + 1}"
        if max_epochs is not None and max_epochs > 0:
            text += f"/{max_epochs}"
        width = len(self.validation_description)
        return f"{text:{width}}" if width > len(text) else text  # no flicker beside "Validation"
