"""Shared fixtures: deterministic seeds, offline logging, composed configs."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"

# Tests never touch the network: W&B writes offline runs, Hugging Face reads only local files.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def compose_config(
    config_name: str, overrides: list[str] | None = None, output_dir: Path | None = None
):
    """Compose ``conf/<config_name>.yaml`` like the scripts do, with ``paths.output_dir`` set.

    Hydra's ``${hydra:runtime.output_dir}`` only resolves inside a Hydra run, so tests set it.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose(config_name, overrides=list(overrides or []))
    if output_dir is not None:
        from omegaconf import open_dict

        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
            cfg.paths.log_dir = str(output_dir / "logs")
            cfg.paths.cache_dir = str(output_dir / "cache")
    return cfg


REFERENCE_DIR = Path(
    os.environ.get("VMC_REFERENCE_DIR", REPO_ROOT / "tests" / "data" / "reference")
)


def reference_file(name: str) -> Path:
    """A committed parity fixture (tests/data/reference, copied from the shared reference data).

    A missing fixture fails the test: parity must never be skipped silently.
    """
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.fail(f"reference fixture {path} is missing (set VMC_REFERENCE_DIR or restore it)")
    return path
