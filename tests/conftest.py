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


def make_tiny_clip(seed: int = 0) -> torch.nn.Module:
    """A randomly initialised CLIP through the OpenAI package's own class (64-d features; text
    width 64 -> 1 head, the head count the loader infers from a file; real 77-token context and
    vocabulary), in eval mode."""
    from vmc.text.torchvision_compat import import_clip

    clip = import_clip()
    torch.manual_seed(seed)
    return clip.model.CLIP(
        embed_dim=64,
        image_resolution=32,
        vision_layers=2,
        vision_width=64,
        vision_patch_size=8,
        context_length=77,
        vocab_size=49408,
        transformer_width=64,
        transformer_heads=1,
        transformer_layers=2,
    ).eval()


@pytest.fixture
def one_thread():
    """Run a test with one intra-op torch thread (tiny models run faster than with several
    threads fighting over a shared CPU); the previous count is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
