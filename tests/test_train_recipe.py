"""One ``train.py`` command for several stages: the recipe runs each stage as its own command
would, keeps finished stages when stopped, and continues after them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import compose_config
from motionclip_stubs import TINY_MODEL_OVERRIDES
from omegaconf import OmegaConf, open_dict

from vmc.tasks.common import RECIPE_STAGE_DONE
from vmc.tasks.recipe import recipe_stages, run_recipe
from vmc.tasks.train import train
from vmc.utils.config import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")

# Every stage on a tiny model and a tiny library (typed on the command line: the stages' own
# overrides come after and win).
TYPED = [
    *TINY_MODEL_OVERRIDES,
    "data.train_sources.0.num=12",
    "data.val_sources.0.num=4",
    "data.batch_size=4",
    "data.val_batch_size=4",
    "callbacks.progress_bar=null",
    "logger=[]",
    "trainer.enable_model_summary=false",
]
# The shipped recipe's shape at a few epochs: train, resume to more epochs, continue on other
# data from the second stage's export.
TINY_RECIPE = [
    {"name": "first", "overrides": ["experiment=motionclip_procedural", "trainer.max_epochs=2"]},
    {
        "name": "second",
        "overrides": [
            "experiment=motionclip_procedural",
            "trainer.max_epochs=3",
            "ckpt_path='${paths.output_dir}/first/checkpoints/last.ckpt'",
        ],
    },
    {
        "name": "third",
        "overrides": [
            "experiment=motionclip_procedural_onset",
            "trainer.max_epochs=2",
            "model.init_from='${paths.output_dir}/second/export/model.safetensors'",
        ],
    },
]


def _recipe_cfg(root: Path, recipe: list[dict] | None = None):
    cfg = compose_config("train", ["experiment=motionclip_embedded"], root)
    if recipe is not None:
        with open_dict(cfg):
            cfg.recipe = OmegaConf.create(recipe)
    return cfg


def _stage_cfg(overrides: list[str], folder: Path):
    cfg = compose_config("train", [*TYPED, *overrides], folder)
    with open_dict(cfg):  # the recipe shares the feature cache of its run folder
        cfg.paths.cache_dir = str(folder.parent / "cache")
    return cfg


def test_the_shipped_recipe_is_the_three_documented_commands(tmp_path) -> None:
    cfg = _recipe_cfg(tmp_path)
    stages = recipe_stages(cfg)
    assert [s.name for s in stages] == ["stage1", "stage2", "stage3"]
    seen = []
    run_recipe(cfg, command_line=["logger=csv"], train_fn=lambda c: seen.append(c) or {})
    first, second, third = seen
    assert [c.trainer.max_epochs for c in seen] == [25, 40, 60]
    assert first.task_name == second.task_name == "motionclip_procedural"
    assert second.ckpt_path == str(tmp_path / "stage1" / "checkpoints" / "last.ckpt")
    assert third.task_name == "motionclip_procedural_onset"
    assert third.model.init_from == str(tmp_path / "stage2" / "export" / "model.safetensors")
    assert all(c.seed == 42 and "csv" in c.logger for c in seen)
    assert [c.paths.output_dir for c in seen] == [str(tmp_path / s.name) for s in stages]


def test_a_recipe_trains_exactly_what_its_stages_train_one_by_one(tmp_path) -> None:
    root = tmp_path / "recipe"
    run_recipe(_recipe_cfg(root, TINY_RECIPE), train, command_line=TYPED)
    # The same stages as three separate commands.
    alone = tmp_path / "alone"
    for stage in TINY_RECIPE:
        overrides = [o.replace("${paths.output_dir}", str(alone)) for o in stage["overrides"]]
        train(_stage_cfg(overrides, alone / stage["name"]))
    for name in ("model.safetensors", "latent_bank.safetensors", "text_head.safetensors"):
        ours = (root / "export" / name).read_bytes()
        assert ours == (alone / "third" / "export" / name).read_bytes(), name
        assert ours == (root / "third" / "export" / name).read_bytes(), name
    # The second stage resumed the first (3 epochs in all), not a fresh start.
    second = (root / "second" / "export" / "model.safetensors").read_bytes()
    assert second == (alone / "second" / "export" / "model.safetensors").read_bytes()
    assert second != (root / "first" / "export" / "model.safetensors").read_bytes()


def test_a_stopped_recipe_keeps_finished_stages_and_continues_after_them(tmp_path) -> None:
    recipe = [{"name": n, "overrides": ["experiment=motionclip_procedural"]} for n in "abc"]

    def stop_in_b(cfg):
        out = Path(cfg.paths.output_dir)
        out.mkdir(parents=True)
        (out / "partial.ckpt").write_text("half")
        if out.name == "b":
            raise KeyboardInterrupt
        return {"loss": float(ord(out.name))}

    with pytest.raises(KeyboardInterrupt):
        run_recipe(_recipe_cfg(tmp_path, recipe), command_line=[], train_fn=stop_in_b)
    assert (tmp_path / "a" / RECIPE_STAGE_DONE).is_file()
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    ran = []

    def record(cfg):
        ran.append(Path(cfg.paths.output_dir).name)
        return {"loss": 1.0}

    metrics = run_recipe(_recipe_cfg(tmp_path, recipe), command_line=[], train_fn=record)
    assert ran == ["b", "c"] and metrics == {"loss": 1.0}
    assert (tmp_path / "a" / "partial.ckpt").read_text() == "half"  # a's files untouched
    assert not (tmp_path / "export").exists()  # the stub exported nothing: nothing copied


@pytest.mark.parametrize(
    "recipe, match",
    [
        ([], "non-empty list"),
        ([{"name": "a/b", "overrides": []}], "plain folder name"),
        ([{"name": "export", "overrides": []}], "taken"),
        ([{"name": "a", "overrides": []}, {"name": "a", "overrides": []}], "taken"),
        ([{"name": "a", "overrides": "experiment=x"}], "list of key=value"),
    ],
)
def test_bad_recipes_are_one_clear_error(tmp_path, recipe, match) -> None:
    cfg = _recipe_cfg(tmp_path)
    with open_dict(cfg):
        cfg.recipe = OmegaConf.create(recipe)
    with pytest.raises(ConfigError, match=match):
        run_recipe(cfg, command_line=[], train_fn=lambda c: {})
    assert not any(tmp_path.iterdir())


def test_the_command_line_of_a_recipe_is_checked_for_every_stage() -> None:
    from vmc.tasks.entry import command_line_problem

    ok = ["experiment=motionclip_embedded", "logger=csv", "data.batch_size=8", "trainer=cpu"]
    assert command_line_problem("train", ok) is None
    problem = command_line_problem("train", [*ok, "model.net.latnt_dim=32"])
    assert problem is not None and "unknown config key 'model.net.latnt_dim'" in problem
    assert "model.net.latent_dim" in problem


def _train_py_recipe(tmp_path: Path, extra: list[str], timeout: int) -> tuple[Path, str]:
    """``python train.py experiment=motionclip_embedded`` as a user types it, every stage on the
    tiny model and one batch per epoch (+ ``extra``): ``(run folder, its output)``; asserts
    that it succeeded."""
    repo = Path(__file__).resolve().parents[1]
    run = tmp_path / "run"
    typed = [o for o in TYPED if not o.startswith("logger=")] + [
        "logger=csv",
        "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1",
        *extra,
    ]
    done = subprocess.run(
        [sys.executable, str(repo / "train.py"), "experiment=motionclip_embedded", *typed,
         f"hydra.run.dir={run}", f"paths.cache_dir={tmp_path / 'cache'}"],
        cwd=repo, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(repo / "tests"), "WANDB_MODE": "offline"},
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return run, output


def test_train_py_runs_a_recipe_as_a_user_types_it(tmp_path) -> None:
    # Typed keys reach every stage and the model lands in <run>/export.
    run, _ = _train_py_recipe(tmp_path, [], timeout=600)
    for name, epochs in (("stage1", 25), ("stage2", 40), ("stage3", 60)):
        cfg = yaml.safe_load((run / name / "config.yaml").read_text())
        assert cfg["trainer"]["max_epochs"] == epochs and cfg["model"]["net"]["latent_dim"] == 32
        assert "csv" in cfg["logger"] and (run / name / RECIPE_STAGE_DONE).is_file()
    files = ("model.safetensors", "latent_bank.safetensors", "text_head.safetensors")
    for file in (*files, "caption_prior.safetensors"):  # stage 3 exports the caption prior too
        ours = (run / "export" / file).read_bytes()
        assert ours == (run / "stage3" / "export" / file).read_bytes()


@pytest.mark.slow
def test_the_recipe_runs_under_ddp_on_two_cpu_processes(tmp_path) -> None:
    # trainer=ddp_cpu (gloo, 2 spawned processes) for every stage: only rank zero writes the
    # stage markers and the final export, and each stage resumes from the one before (46 s).
    ddp = ["trainer=ddp_cpu", "trainer.strategy=ddp_spawn"]
    run, output = _train_py_recipe(tmp_path, ddp, timeout=900)
    assert "GLOBAL_RANK: 1" in output  # really two processes
    for name in ("stage1", "stage2", "stage3"):
        assert (run / name / RECIPE_STAGE_DONE).is_file()
    exported = sorted(p.name for p in (run / "export").iterdir())
    assert exported == sorted(p.name for p in (run / "stage3" / "export").iterdir())
    assert "caption_prior.safetensors" in exported
