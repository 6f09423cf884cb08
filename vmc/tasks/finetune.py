"""``finetune(cfg)``: per-subject fine-tuning of the generator from a few photos.

Fine-tuning is the training task with a subject's photos as data and a starting checkpoint
(nanoGPT style: a configuration, not new code). The subject data module and the LWG fine-tuning
system are built in the fine-tuning issue; until then this checks its inputs and says so.
"""

from __future__ import annotations

from omegaconf import DictConfig

from vmc.tasks.common import available_choices
from vmc.tasks.train import train
from vmc.utils.config import ConfigError, as_path_list


def check_finetune_inputs(cfg: DictConfig) -> list[str]:
    """Validate ``subject`` and ``images`` (every file must be a readable image)."""
    from vmc.io.images import read_image

    subject = str(cfg.get("subject") or "").strip()
    if not subject or any(c in subject for c in "/\\"):
        raise ConfigError("'subject' must be a non-empty name without slashes, e.g. subject=alice")
    images = as_path_list(cfg.get("images"), "images")
    if not images:
        raise ConfigError("finetune needs the subject's photos: images=[front.jpg,side.jpg]")
    for path in images:
        read_image(path)  # raises a clear error naming the file
    return images


def finetune(cfg: DictConfig) -> dict[str, float]:
    """Fine-tune on one subject. Requires a fine-tuning experiment (see ``conf/experiment``)."""
    check_finetune_inputs(cfg)
    if cfg.get("model") is None:
        raise ConfigError(
            "per-subject fine-tuning needs a fine-tuning experiment (experiment=<name>); "
            f"available experiments: {available_choices('experiment') or 'none yet'}. "
            "The subject fine-tuning system is not part of this release yet."
        )
    return train(cfg)
