"""``finetune(cfg)``: per-subject fine-tuning of the Liquid Warping GAN from a few photos.

Fine-tuning is the training task with a subject's photos as data and a starting generator
(nanoGPT style: a configuration, ``conf/experiment/lwg_finetune.yaml``, not new code):

1. the subject: its prepared folder (``subject=NAME`` under ``paths.subjects_dir``), or prepared
   here from ``images=[...]`` first;
2. train on that folder (``data.videos``), starting from ``init_from`` and keeping ``freeze``
   fixed (:meth:`vmc.systems.lwg.LWGPretrainSystem.init_from_config`); the run folder is
   ``<subject>/finetune``, so ``ckpt_path=last`` resumes there;
3. the weights go into the subject folder as ``generator.safetensors`` + ``generator.yaml``,
   where ``infer.py subject=NAME`` finds them (``appearance=auto`` then uses the GAN).

:func:`personalize` is the same run started by ``infer.py`` (its ``personalize`` key: the
reference fine-tunes a new subject before every imitation, ``docs/person_video.md``): the
finetune config composed with the weights' own widths, then :func:`finetune`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from vmc.body.select import load_body
from vmc.io.images import read_image
from vmc.io.stages import StageRequest, resolve_body
from vmc.lwg.loading import generator_file
from vmc.subject.folder import (
    read_subject_folder,
    subject_folder,
    subjects_dir_of,
    write_subject_folder,
)
from vmc.subject.prepare import prepare_subject
from vmc.tasks.entry import compose_config
from vmc.tasks.train import train
from vmc.utils.config import ConfigError, as_path_list
from vmc.utils.console import console

#: Where a subject keeps its fine-tuned generator (read by infer.py).
GENERATOR_FILE = "generator.safetensors"
GENERATOR_CONFIG = "generator.yaml"
#: ``infer.py personalize=``: fine-tune a new subject first (``auto``), every time, or never.
PERSONALIZE_MODES = ("auto", "always", "never")


def check_finetune_inputs(cfg: DictConfig) -> tuple[Path, list[str]]:
    """Validate ``subject``, ``images``, ``init_from`` and ``freeze``; returns the subject's
    folder and the photos (empty when the subject is prepared already)."""
    name = str(cfg.get("subject") or "").strip()
    if not name or name in (".", ".."):
        raise ConfigError("'subject' must be a name or a folder, e.g. subject=alice")
    folder = subject_folder(name, subjects_dir_of(cfg.get("paths") or {}))
    images = as_path_list(cfg.get("images"), "images")
    for path in images:
        read_image(path)  # raises a clear error naming the file
    if not images and not (folder / "meta.json").is_file():
        raise ConfigError(
            f"finetune needs the subject's photos: images=[front.jpg,side.jpg] (no prepared "
            f"subject at {folder})"
        )
    init_from = cfg.get("init_from")
    if init_from:
        try:
            generator_file(Path(str(init_from)).expanduser())
        except FileNotFoundError as err:
            raise ConfigError(f"init_from={init_from}: {err}") from None
    freeze = cfg.get("freeze")
    if freeze is not None and (
        isinstance(freeze, str) or not all(isinstance(name, str) and name for name in freeze)
    ):
        raise ConfigError(
            f"freeze must be a list of sub-network names, e.g. freeze=[bg_net]; got {freeze!r}"
        )
    return folder, images


def _subject(cfg: DictConfig, folder: Path, images: list[str]) -> str:
    """The subject folder, prepared from ``images`` when it does not exist yet; its body."""
    body_cfg = OmegaConf.select(cfg, "data.body", default=None) or {}
    choice = resolve_body(
        StageRequest(
            body=str(body_cfg.get("kind", "embedded")),
            smpl=body_cfg.get("smpl_path"),
            assets_dir=body_cfg.get("assets_dir"),
        )
    )
    if (folder / "meta.json").is_file():
        if images:
            console.print(f"subject {folder} is prepared already: its photos are used")
        read_subject_folder(folder, expected_body=choice.kind)  # complete, same body
        return choice.kind
    body = load_body(choice)
    console.print(f"preparing subject {folder.name} from {len(images)} photo(s)")
    subject = prepare_subject(images, body, name=folder.name, body_kind=choice.kind, progress=True)
    write_subject_folder(subject, folder, body)
    return choice.kind


def finetune(cfg: DictConfig) -> dict[str, float]:
    """Fine-tune the generator on one subject (module docstring)."""
    folder, images = check_finetune_inputs(cfg)
    body_kind = _subject(cfg, folder, images)
    run_dir = folder / "finetune"
    with open_dict(cfg):
        cfg.data.videos = [str(folder)]
        cfg.data.root = None
        cfg.data.body.kind = body_kind
        cfg.paths.output_dir = str(run_dir)
        cfg.export = True
    metrics = train(cfg)
    export = run_dir / "export"
    if not (export / "model.safetensors").is_file():  # fast_dev_run exports nothing
        return metrics
    for src, dst in (("model.safetensors", GENERATOR_FILE), ("config.yaml", GENERATOR_CONFIG)):
        tmp = folder / f".{dst}.tmp-{os.getpid()}"
        shutil.copyfile(export / src, tmp)
        os.replace(tmp, folder / dst)
    console.print(f"[green]wrote[/green] {folder / GENERATOR_FILE}")
    return metrics


def personalize_config(
    folder: Path,
    init_from: Path,
    generator_config: Mapping[str, Any],
    *,
    body_kind: str,
    smpl_path: str | None = None,
    paths: DictConfig | None = None,
    overrides: Sequence[str] = (),
) -> DictConfig:
    """The ``finetune.py`` config of a personalization run (what :func:`personalize` runs).

    Args:
        folder: the prepared subject folder (the run and the weights go there).
        init_from: the generator weights to start from.
        generator_config: their architecture (:meth:`GeneratorConfig.to_dict`): the model is
            built with these widths, so any generator file fine-tunes without naming a model.
        body_kind, smpl_path: the body the subject was fitted with (``data.body``).
        paths: the caller's ``paths`` node (assets, logs; ``output_dir`` is the subject's run).
        overrides: ``finetune.py`` overrides (``infer.py personalize_overrides=[...]``), e.g.
            ``trainer.max_steps=400`` or ``logger=csv``.
    """
    cfg = compose_config("finetune", overrides)
    with open_dict(cfg):
        if paths is not None:
            cfg.paths = paths
        cfg.subject = str(folder)
        cfg.images = []
        cfg.init_from = str(init_from)
        for key, value in generator_config.items():
            cfg.model.generator[key] = value
        cfg.data.body.kind = body_kind
        if smpl_path:
            cfg.data.body.smpl_path = str(smpl_path)
    return cfg


def personalize(cfg: DictConfig) -> Path:
    """Run a personalization config (:func:`personalize_config`) through :func:`finetune`;
    returns the subject's fine-tuned ``generator.safetensors``.

    Raises:
        ConfigError: the run exported no weights (``trainer.fast_dev_run`` exports nothing).
    """
    folder = Path(str(cfg.subject))
    steps = OmegaConf.select(cfg, "trainer.max_steps", default=None)
    iterations = f"{steps // 2} iterations" if isinstance(steps, int) and steps > 0 else "a run"
    console.print(
        f"personalizing: fine-tuning the generator on the subject in {folder} ({iterations} "
        f"from {Path(str(cfg.init_from)).name}; the run is kept in its finetune/ folder)"
    )
    weights = folder / GENERATOR_FILE
    before = weights.stat().st_mtime_ns if weights.is_file() else None
    finetune(cfg)
    if not weights.is_file() or weights.stat().st_mtime_ns == before:
        raise ConfigError(
            f"personalization exported no generator into {folder}: drop trainer.fast_dev_run "
            "from personalize_overrides"
        )
    return weights
