"""Every primary config and every group option composes; the scripts answer --help and --cfg job."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CONF_DIR, REPO_ROOT, compose_config
from omegaconf import OmegaConf

from vmc.utils.config import ConfigError

PRIMARY = ["train", "finetune", "infer"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("name", PRIMARY)
def test_primary_config_composes_and_resolves(name, tmp_path):
    overrides = ["text=hello"] if name == "infer" else []
    if name == "finetune":
        overrides = ["subject=alice"]
    cfg = compose_config(name, overrides, output_dir=tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["task_name"] == name
    assert resolved["paths"]["output_dir"] == str(tmp_path)


@pytest.mark.parametrize("group", ["trainer", "logger", "debug", "callbacks"])
def test_every_training_group_option_composes(group, tmp_path):
    for option in _options(group):
        cfg = compose_config("train", [f"{group}={option}"], output_dir=tmp_path)
        OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("group", ["body", "text_encoder"])
def test_every_inference_group_option_composes(group, tmp_path):
    for option in _options(group):
        cfg = compose_config("infer", ["text=hi", f"{group}={option}"], output_dir=tmp_path)
        assert cfg[group].kind == option


def test_every_experiment_composes(tmp_path):
    for option in _options("experiment"):
        cfg = compose_config("train", [f"experiment={option}", "debug=fast"], output_dir=tmp_path)
        assert cfg.model is not None and cfg.data is not None, option


def test_trainer_configs_build_lightning_trainers(tmp_path):
    """The CPU configs instantiate real Trainers (GPU/DDP ones need devices, checked by keys)."""
    from hydra.utils import instantiate

    cfg = compose_config("train", ["trainer=cpu"], output_dir=tmp_path)
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs
    ddp = compose_config("train", ["trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"])
    assert (ddp.trainer.strategy, ddp.trainer.devices, ddp.trainer.num_nodes) == ("ddp", 4, 2)
    amp = compose_config("train", ["trainer=gpu_amp"])
    assert amp.trainer.precision == "bf16-mixed"


def test_wandb_logger_defaults_offline(tmp_path):
    cfg = compose_config("train", output_dir=tmp_path)
    assert cfg.logger.wandb.offline is True
    assert cfg.logger.wandb._target_.startswith("lightning.pytorch.")  # never pytorch_lightning


def _run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("script", ["train.py", "finetune.py", "infer.py"])
def test_scripts_help_and_cfg_job(script):
    help_run = _run_script(script, "--help")
    assert help_run.returncode == 0, help_run.stderr
    assert "Usage:" in help_run.stdout
    assert "== Config groups" in help_run.stdout and "task_name:" in help_run.stdout
    cfg_run = _run_script(script, "--cfg", "job")
    assert cfg_run.returncode == 0, cfg_run.stderr
    printed = OmegaConf.create(cfg_run.stdout)
    assert printed.task_name == script.removesuffix(".py")


def test_train_without_experiment_is_a_clear_error(tmp_path):
    run = _run_script("train.py", "logger=csv", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 2
    assert "choose an experiment" in run.stderr
    assert "Traceback" not in run.stderr


# ------------------------------------------------------------------------ checked up front


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.max_epochs=-1"], "trainer.max_epochs must be at least 1"),
        (["trainer.max_epochs=0"], "trainer.max_epochs must be at least 1"),
        (["trainer.max_epochs=x"], "trainer.max_epochs must be an integer"),
        (["seed=99999999999999999999"], "seed must be at least 0 and at most 4294967295"),
        (["seed=x"], "seed must be an integer"),
        (["trainer.accumulate_grad_batches=0"], "accumulate_grad_batches must be at least 1"),
    ],
)
def test_trainer_values_are_checked_before_any_work(overrides, message):
    from vmc.tasks.train import check_train_config

    cfg = compose_config("train", ["experiment=motionclip_procedural", *overrides])
    with pytest.raises(ConfigError, match=message):
        check_train_config(cfg)


def test_endless_epochs_with_a_step_limit_and_the_defaults_pass():
    from vmc.tasks.train import check_train_config

    check_train_config(compose_config("train", ["experiment=motionclip_procedural"]))
    check_train_config(
        compose_config(
            "train",
            ["experiment=motionclip_procedural", "trainer.max_epochs=-1", "trainer.max_steps=5"],
        )
    )


def test_missing_accelerator_is_an_error(monkeypatch):
    import torch

    from vmc.tasks.train import check_train_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose_config("train", ["experiment=motionclip_procedural", "trainer=gpu"])
    with pytest.raises(ConfigError, match="no CUDA device: use trainer=cpu"):
        check_train_config(cfg)
