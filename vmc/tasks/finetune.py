"""``finetune(cfg)``: per-subject fine-tuning of the generator from a few photos.

Fine-tuning is the training task with a subject's photos as data and a starting checkpoint
(nanoGPT style: a configuration, not new code). The subject data module and the LWG fine-tuning
system are built in the fine-tuning issue; until then this checks its inputs and says so.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from vmc.io.images import read_image
from vmc.tasks.common import available_choices
from vmc.utils.config import ConfigError, as_path_list


def check_finetune_inputs(cfg: DictConfig) -> list[str]:
    """Validate ``subject`` and ``images`` (every file must be a readable image)."""
    subject = str(cfg.get("subject") or "").strip()
    if not subject or any(c in subject for c in "/\\"):
        raise ConfigError("'subject' must be a non-empty name without slashes, e.g. subject=alice")
    images = as_path_list(cfg.get("images"), "images")
    if not images:
        raise ConfigError("finetune needs the subject's photos: images=[front.jpg,side.jpg]")
    for path in images:
        read_image(path)  # raises a clear error naming the file
    init_from = cfg.get("init_from")
    if init_from and not Path(str(init_from)).expanduser().exists():
        raise ConfigError(f"init_from={init_from} does not exist (a run folder or weights file)")
    freeze = cfg.get("freeze")
    if freeze is not None and (
        isinstance(freeze, str) or not all(isinstance(name, str) and name for name in freeze)
    ):
        raise ConfigError(
            f"freeze must be a list of sub-network names, e.g. [bg_net]; got {freeze!r}"
        )
    return images


def finetune(cfg: DictConfig) -> dict[str, float]:
    """Fine-tune on one subject: not built yet, so it says so instead of ignoring the photos.

    Running the training task here would ignore ``images``, ``init_from`` and ``freeze`` and
    exit 0 as if the subject had been learned; the inputs are checked, then a clear error.
    """
    check_finetune_inputs(cfg)
    raise ConfigError(
        "per-subject fine-tuning (finetune.py) is not built yet: the subject preparation and "
        "the LWG fine-tuning system arrive with the subjects issue; nothing was trained. "
        f"Generator pretraining works today: python train.py experiment=lwg_pretrain "
        f"(experiments: {', '.join(available_choices('experiment'))})"
    )
