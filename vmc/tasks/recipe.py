"""``run_recipe(cfg)``: several training stages run by one ``python train.py experiment=...``.

A recipe experiment (e.g. ``conf/experiment/motionclip_embedded.yaml``) lists stages instead of
naming a model and data::

    recipe:
      - name: stage1
        overrides: [experiment=motionclip_procedural]
      - name: stage2
        overrides: [experiment=motionclip_procedural, trainer.max_epochs=40,
                    "ckpt_path=${paths.output_dir}/stage1/checkpoints/last.ckpt"]

Each stage is the config ``python train.py <command-line overrides> <stage overrides>`` would
compose (the stage's overrides win), trained by :func:`vmc.tasks.train.train` in its own folder
``<run>/<name>``, exactly as if it were run as its own command with that folder as
``hydra.run.dir``: the same seeds, data order and files. A later stage reads an earlier one's
files through ``${paths.output_dir}`` (the recipe's run folder). The last stage's ``export`` is
copied to ``<run>/export``, so the recipe's run folder loads like any run
(``python infer.py motion=run motion.run=<run>``).

A stage that finishes writes ``<run>/<name>/recipe_stage.json``. Running the same command again
in the same folder (``hydra.run.dir=<run>``) skips the finished stages, so hours of work survive
a Ctrl-C or a crash; the stage that was interrupted is removed and starts again.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, ListConfig, OmegaConf

from vmc.io.atomic import atomic_folder, atomic_path
from vmc.tasks.common import RECIPE_STAGE_DONE
from vmc.tasks.entry import compose_config
from vmc.utils.config import ConfigError
from vmc.utils.console import console

__all__ = ["RecipeStage", "recipe_stages", "run_recipe"]

log = logging.getLogger(__name__)

#: Command-line overrides that belong to the recipe itself, not to its stages.
_RECIPE_ONLY = ("experiment=", "hydra.", "recipe")


@dataclass(frozen=True)
class RecipeStage:
    """One stage: its folder name and the overrides composed on top of the command line's."""

    name: str
    overrides: list[str]


def recipe_stages(cfg: DictConfig) -> list[RecipeStage]:
    """The checked stages of ``cfg.recipe`` (interpolations resolved against ``cfg``).

    Raises:
        ConfigError: not a non-empty list of ``{name, overrides}`` with unique plain names.
    """
    recipe = cfg.get("recipe")
    if not isinstance(recipe, ListConfig) or len(recipe) == 0:
        raise ConfigError(f"recipe must be a non-empty list of stages, got {recipe!r}")
    stages: list[RecipeStage] = []
    for i, item in enumerate(recipe):
        name = item.get("name") if isinstance(item, DictConfig) else None
        overrides = item.get("overrides") if isinstance(item, DictConfig) else None
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ConfigError(f"recipe[{i}].name must be a plain folder name, got {name!r}")
        if name == "export" or name in {s.name for s in stages}:
            raise ConfigError(f"recipe[{i}].name {name!r} is taken (unique names, not 'export')")
        if not isinstance(overrides, ListConfig) or not all(
            isinstance(o, str) for o in OmegaConf.to_container(overrides, resolve=True)
        ):
            raise ConfigError(f"recipe[{i}].overrides must be a list of key=value strings")
        stages.append(RecipeStage(name, list(OmegaConf.to_container(overrides, resolve=True))))
    return stages


def _command_line_overrides() -> list[str]:
    """The overrides typed after ``train.py`` that apply to every stage (``logger=csv``,
    ``trainer=gpu``...): all but the recipe's own (``experiment=``, ``hydra.*``)."""
    if not HydraConfig.initialized():
        return []
    typed = list(HydraConfig.get().overrides.task)
    return [o for o in typed if not o.lstrip("+~").startswith(_RECIPE_ONLY)]


def run_recipe(
    cfg: DictConfig,
    train_fn: Callable[[DictConfig], dict[str, float]],
    command_line: Sequence[str] | None = None,
) -> dict[str, float]:
    """Train ``cfg.recipe``'s stages in order under ``cfg.paths.output_dir`` (module docstring).

    Args:
        cfg: the recipe experiment's config (``recipe`` and ``paths.output_dir``).
        train_fn: trains one stage's config (:func:`vmc.tasks.train.train`).
        command_line: overrides applied to every stage before its own; ``None`` takes the ones
            typed on the command line of the running Hydra app.

    Returns:
        The last stage's final metrics.
    """
    stages = recipe_stages(cfg)
    root = Path(str(cfg.paths.output_dir))
    typed = list(_command_line_overrides() if command_line is None else command_line)
    metrics: dict[str, float] = {}
    for number, stage in enumerate(stages, 1):
        folder = root / stage.name
        done = folder / RECIPE_STAGE_DONE
        title = f"recipe stage {number}/{len(stages)}: {stage.name}"
        if done.is_file():
            console.print(f"[green]{title}[/green]: finished before, kept ({folder})")
            metrics = json.loads(done.read_text())["metrics"]
            continue
        if folder.exists():  # left by an interrupted attempt: it starts again
            log.info("removing the unfinished %s from an earlier attempt", folder)
            shutil.rmtree(folder)
        overrides = [*typed, *stage.overrides, f"paths.output_dir='{folder}'"]
        console.print(f"[bold]{title}[/bold]: train.py {' '.join(stage.overrides)}")
        try:
            metrics = train_fn(compose_config("train", overrides))
        except BaseException:
            # Finished stages stay (rerunning the command continues after them); this one goes.
            shutil.rmtree(folder, ignore_errors=True)
            finished = [s.name for s in stages[: number - 1]]
            if finished:
                console.print(
                    f"[yellow]stage {stage.name} stopped[/yellow]: kept the finished "
                    f"{', '.join(finished)} in {root}; the same command with "
                    f"hydra.run.dir={root} continues from stage {stage.name}"
                )
            raise
        if rank_zero_only.rank == 0:  # under DDP every process runs the recipe; one writes
            with atomic_path(done) as tmp:
                Path(tmp).write_text(
                    json.dumps({"stage": stage.name, "metrics": metrics}, indent=1)
                )
    if rank_zero_only.rank == 0:
        _publish_export(root / stages[-1].name / "export", root / "export")
    return metrics


def _publish_export(source: Path, target: Path) -> Path | None:
    """Copy the last stage's export to the recipe's own ``export`` folder (atomically)."""
    if not source.is_dir():
        log.info("the last stage exported nothing (export=false?): no %s", target)
        return None
    with atomic_folder(target, overwrite=True) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
    console.print(f"recipe finished: the model is in {target}")
    return target
