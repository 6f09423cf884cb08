"""What every task does first: seeding, run-directory bookkeeping, instantiating config groups."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from vmc.io.atomic import atomic_path
from vmc.io.stages import GroupChoice, StageChoices, StageRequest
from vmc.motion.stage import MotionOptions
from vmc.utils.config import ConfigError
from vmc.utils.console import console


def available_choices(group: str) -> list[str]:
    """Names of the configs in ``conf/<group>/`` (for error messages that list the options)."""
    conf_dir = Path(__file__).resolve().parents[2] / "conf" / group
    return sorted(p.stem for p in conf_dir.glob("*.yaml"))


def instantiate_group(group_cfg: DictConfig | None, what: str) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (callbacks, loggers); None → []."""
    if not group_cfg:
        return []
    if not isinstance(group_cfg, DictConfig):
        raise ConfigError(f"'{what}' must be a mapping of name → config, got {type(group_cfg)}")
    objects = []
    for name, entry in group_cfg.items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            objects.append(instantiate(entry))
        elif entry is not None:
            raise ConfigError(
                f"'{what}.{name}' has no _target_; remove it or set {what}.{name}=null"
            )
    return objects


def git_revision() -> str | None:
    """The current git commit of the vmc checkout, if any (recorded in run directories)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def save_run_config(cfg: DictConfig, output_dir: str | Path) -> Path:
    """Write the resolved config (and git sha) to ``<output_dir>/config.yaml`` atomically."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    resolved["_vmc"] = {"git": git_revision()}
    path = out / "config.yaml"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))
    return path


#: Set by :func:`vmc.tasks.entry.check_command_line` before Hydra creates the run folder.
RUN_STARTED_ENV = "VMC_RUN_STARTED"

#: Written into a recipe stage's folder when it finishes (:mod:`vmc.tasks.recipe`).
RECIPE_STAGE_DONE = "recipe_stage.json"


def discard_failed_run_dir(cfg: DictConfig) -> Path | None:
    """Remove the run folder Hydra made for a run that failed on a user error.

    Only a folder that this run created: every file in it is newer than the moment the script
    started (a run resumed in an older folder keeps it whole). Returns the removed folder.
    """
    started = os.environ.get(RUN_STARTED_ENV)
    try:
        out = Path(str(OmegaConf.select(cfg, "paths.output_dir", default="") or ""))
    except Exception:  # an unresolvable interpolation: nothing to clean
        return None
    if not started or not str(out) or not out.is_dir() or out.resolve() == Path.cwd().resolve():
        return None
    if any(out.glob(f"*/{RECIPE_STAGE_DONE}")):  # finished recipe stages are results, kept
        return None
    files = [p for p in out.rglob("*") if p.is_file()]
    if any(p.stat().st_mtime < float(started) - 1.0 for p in files):
        return None
    shutil.rmtree(out, ignore_errors=True)
    parent = out.parent  # ".../runs" left empty by the only run in it goes too
    if parent.name in ("runs", "multiruns") and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
    return out


def run_task(task: Any, cfg: DictConfig) -> Any:
    """Run ``task(cfg)`` for a command-line script: user errors become one clear line, exit 2.

    Bad input (a missing file, a wrong shape, a bad config value) is reported without a stack
    trace; set ``HYDRA_FULL_ERROR=1`` to see it anyway. Ctrl-C exits with 130; writers are atomic,
    so nothing half-written is left behind.
    """
    try:
        return task(cfg)
    except KeyboardInterrupt:
        discard_failed_run_dir(cfg)
        console.print("[yellow]interrupted[/yellow]: no partial outputs were kept")
        sys.exit(130)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        discard_failed_run_dir(cfg)  # a failed run leaves no folder that looks like a real run
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        console.print(f"[bold red]error:[/bold red] {err}", soft_wrap=True)  # one line, any width
        sys.exit(2)


# ------------------------------------------------ config groups -> the typed stage arguments


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    """``cfg[key]`` of a config group that may be missing (``None``), a dict or a DictConfig."""
    if cfg is None:
        return default
    getter = getattr(cfg, "get", None)
    return getter(key, default) if callable(getter) else getattr(cfg, key, default)


def motion_request(motion_cfg: Any, text_cfg: Any = None) -> StageRequest:
    """The resolver request (:class:`vmc.io.stages.StageRequest`) of the ``conf/motion`` and
    ``conf/text_encoder`` keys."""
    return StageRequest(
        motion=str(_get(motion_cfg, "kind", "auto")),
        motion_run=_get(motion_cfg, "run"),
        motionclip=_get(motion_cfg, "official"),
        clip=_get(text_cfg, "clip_path"),
        text_encoder=str(_get(text_cfg, "kind", "auto")),
        assets_dir=_get(motion_cfg, "assets_dir") or _get(text_cfg, "assets_dir"),
    )


def motion_options(motion_cfg: Any) -> MotionOptions:
    """:class:`vmc.motion.stage.MotionOptions` of ``conf/motion`` (``overlap``,
    ``latent_noise``, ``prior_k``, ``plant_feet``, ``text_head``, ``caption_prior``,
    ``ballistic_flight``; a null ``prior_k`` means 0)."""
    return MotionOptions(
        overlap=_get(motion_cfg, "overlap"),
        latent_noise=float(_get(motion_cfg, "latent_noise", 0.0) or 0.0),
        prior_k=int(_get(motion_cfg, "prior_k", 4) or 0),
        plant_feet=bool(_get(motion_cfg, "plant_feet", True)),
        text_head=bool(_get(motion_cfg, "text_head", True)),
        caption_prior=bool(_get(motion_cfg, "caption_prior", True)),
        ballistic_flight=bool(_get(motion_cfg, "ballistic_flight", True)),
    )


def record_stages(cfg: DictConfig, choices: StageChoices | Sequence[GroupChoice]) -> Path | None:
    """Keep the resolved choices in the run folder (``stages.yaml``) beside Hydra's config.

    Args:
        cfg: the run's config (``paths.output_dir`` is the run folder).
        choices: every group of an inference (:func:`vmc.io.stages.resolve_stages`), or the
            groups a run uses, in order.

    Returns the file written, or ``None`` when the config names no existing ``paths.output_dir``.
    """
    out = OmegaConf.select(cfg, "paths.output_dir", default=None, throw_on_resolution_failure=False)
    if not out or not Path(str(out)).is_dir():
        return None
    groups = choices.groups() if isinstance(choices, StageChoices) else tuple(choices)
    path = Path(str(out)) / "stages.yaml"
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump({g.group: g.to_dict() for g in groups}, sort_keys=False))
    return path
