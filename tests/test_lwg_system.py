"""LWG pretraining system: the train task end to end, learning, checkpoints, exports, resume, DDP.

Every run uses the ``lwg_pretrain_tiny`` experiment (tiny widths, the small procedural body) and
its VGG19 / SphereFace loss networks with RANDOM weights (no weight files exist in tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, compose_config
from omegaconf import open_dict

from vmc.lwg.loading import load_generator
from vmc.systems.media import make_grid


def _tiny(tmp_path: Path, *overrides: str):
    return compose_config("train", ["experiment=lwg_pretrain_tiny", *overrides], tmp_path)


def _instantiate(cfg):
    from hydra.utils import instantiate

    return instantiate(cfg.data), instantiate(cfg.model)


def _trainer(root: Path, max_steps: int, **kw):
    import lightning.pytorch as pl

    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        max_epochs=-1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(root),
        **kw,
    )


# ------------------------------------------------------------------------------- train task
def test_train_task_fast_dev_run(tmp_path):
    """`train(cfg)` with experiment=lwg_pretrain_tiny debug=fast: one G+D step and validation."""
    from vmc.tasks.train import train

    metrics = train(_tiny(tmp_path, "debug=fast"))
    for key in ("train/g_loss", "train/d_loss", "val/l1", "val/psnr", "val/ssim"):
        assert key in metrics and np.isfinite(metrics[key]), key
    for term in ("rec", "perceptual", "face", "adv", "mask", "tv"):
        assert f"train/g_{term}" in metrics, term
    # The media callback wrote the validation grid (no W&B logger under debug=fast).
    pngs = sorted((tmp_path / "media").glob("val_*.png"))
    assert pngs, list(tmp_path.rglob("*"))
    from PIL import Image

    grid = np.asarray(Image.open(pngs[0]))
    # 2 rows (max_items) of 4 columns (source | target | warped | generated), 64 px + padding.
    assert grid.shape == (2 * 66 + 2, 4 * 66 + 2, 3)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """A real (not fast_dev_run) train task: 3 iterations, checkpoint, export, CSV log."""
    from vmc.tasks.train import train

    out = tmp_path_factory.mktemp("lwg_run")
    cfg = _tiny(
        out,
        "logger=csv",
        "trainer.max_steps=6",
        "data.train_length=6",
        "data.batch_size=2",
        "data.val_length=2",
    )
    metrics = train(cfg)
    return out, cfg, metrics


def test_checkpoint_is_weights_only_and_small(short_run):
    out, _, _ = short_run
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    keys = list(ckpt["state_dict"])
    assert keys and all(k.startswith(("generator.", "discriminator.")) for k in keys)
    assert ckpt["hyper_parameters"]["loss_weights"]["perceptual"] == 10.0
    assert len(ckpt["optimizer_states"]) == 2  # generator and discriminator Adam
    assert ckpt["global_step"] == 6


def test_checkpoint_and_export_load_as_generator(short_run):
    import yaml
    from hydra.utils import instantiate

    out, cfg, _ = short_run
    from_ckpt = load_generator(out / "checkpoints" / "last.ckpt")
    export = out / "export" / "model.safetensors"
    from_export = load_generator(export)
    assert from_ckpt.config == from_export.config
    assert from_ckpt.config.tsf_filters == tuple(cfg.model.generator.tsf_filters)
    for (k, a), (_, b) in zip(
        from_ckpt.state_dict().items(), from_export.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=k)
    saved = yaml.safe_load((out / "export" / "config.yaml").read_text())
    assert saved["format"] == "vmc.lwg.generator"
    rebuilt = instantiate(saved["generator"])
    assert rebuilt.config == from_export.config
    # The trained weights differ from a fresh initialisation (training happened).
    torch.manual_seed(cfg.seed)
    fresh = instantiate(cfg.model.generator)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(fresh.state_dict().values(), from_export.state_dict().values(), strict=True)
    )


def test_media_grids_and_csv_log(short_run):
    out, _, metrics = short_run
    assert (out / "csv" / "metrics.csv").is_file()
    assert sorted((out / "media").glob("train_*.png")) or sorted((out / "media").glob("val_*.png"))
    assert metrics["val/l1"] > 0


def test_make_grid_layout_and_errors():
    a = torch.full((3, 3, 8, 8), -1.0)
    b = torch.ones(3, 1, 8, 8)
    grid = make_grid({"a": a, "b": b}, max_items=2, padding=1)
    assert grid.shape == (2 * 9 + 1, 2 * 9 + 1, 3) and grid.dtype == np.uint8
    assert grid[1, 1].tolist() == [0, 0, 0] and grid[1, 10].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="b"):
        make_grid({"a": a, "b": torch.ones(3, 3, 4, 4)})
    with pytest.raises(ValueError):
        make_grid({})


# ------------------------------------------------------------------------------- learning
def test_few_steps_lower_validation_l1(tmp_path):
    """A few dozen iterations on 32 px synthetic clips lower the validation L1 of the frames.

    Small sizes to stay fast: the face loss is switched off here (weight 0) and VGG19 (random
    weights) sees 32 px images.
    """
    cfg = _tiny(
        tmp_path,
        "data.image_size=32",
        "data.train_length=48",
        "data.val_length=4",
        "data.batch_size=2",
        "model.discriminator.n_layers=1",
        "model.losses.weights.face=0",
        "model.losses.vgg_resize=32",
        "model.lr_g=1e-3",
        "model.lr_d=1e-3",
    )
    dm, model = _instantiate(cfg)
    assert model.losses.face is None  # switched off: not even built
    evaluator = _trainer(tmp_path, 1, enable_checkpointing=False)
    before = evaluator.validate(model, datamodule=dm, verbose=False)[0]
    trainer = _trainer(tmp_path, 2 * 24, enable_checkpointing=False, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    after = evaluator.validate(model, datamodule=dm, verbose=False)[0]
    assert after["val/l1"] < 0.95 * before["val/l1"], (before, after)
    assert after["val/ssim"] > before["val/ssim"], (before, after)


def test_bad_batches_and_configs_fail_clearly(tmp_path):
    cfg = _tiny(tmp_path)
    _, model = _instantiate(cfg)
    with pytest.raises(ValueError, match="lacks keys"):
        model.check_batch({"bg_inputs": torch.zeros(1)})
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    with open_dict(cfg):
        cfg.model.discriminator = None
    with pytest.raises((ValueError, InstantiationException), match="no discriminator"):
        instantiate(cfg.model)


def test_missing_vgg_file_stops_at_start(tmp_path, monkeypatch):
    """Without the VGG19 file (and not random) the model cannot be built; the message says
    which file is missing."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "no_assets"))
    cfg = _tiny(tmp_path, "model.losses.vgg_weights=null", f"paths.assets_dir={tmp_path}/none")
    with pytest.raises((FileNotFoundError, InstantiationException), match="vgg19"):
        instantiate(cfg.model)
    # Switched off, the file is not needed.
    cfg = _tiny(
        tmp_path,
        "model.losses.vgg_weights=null",
        "model.losses.weights.perceptual=0",
        f"paths.assets_dir={tmp_path}/none",
    )
    assert instantiate(cfg.model).losses.perceptual is None


# ------------------------------------------------------------------------------- resume
def _fixed_data(cfg):
    """The tiny datamodule with deterministic training items in a fixed order."""
    from hydra.utils import instantiate
    from torch.utils.data import DataLoader

    dm = instantiate(cfg.data)
    dm.setup("fit")
    dm.train_set.deterministic = True
    dm.train_dataloader = lambda: DataLoader(dm.train_set, batch_size=1, shuffle=False)
    return dm


@pytest.mark.slow
def test_resume_is_equivalent_to_an_uninterrupted_run(tmp_path):
    """2+2 iterations with a checkpoint in between equal 4 iterations straight (G, D, Adam).

    One item per epoch, so every iteration sees the same sample whatever Lightning does with the
    data position of an interrupted epoch (it does not restore a dataloader's position).
    """
    import lightning.pytorch as pl
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import ModelCheckpoint

    from vmc.systems.callbacks import PlainCheckpointContents

    cfg = _tiny(tmp_path, "data.train_length=1", "data.val_length=1")

    def fresh():
        pl.seed_everything(0)
        return instantiate(cfg.model)

    straight = fresh()
    _trainer(tmp_path / "a", 8, enable_checkpointing=False, limit_val_batches=0).fit(
        straight, datamodule=_fixed_data(cfg)
    )
    first = fresh()
    ckpt_cb = ModelCheckpoint(dirpath=tmp_path / "b", save_last=True)
    plain = PlainCheckpointContents()  # as conf/callbacks/default.yaml: weights_only-loadable
    _trainer(tmp_path / "b", 4, callbacks=[ckpt_cb, plain], limit_val_batches=0).fit(
        first, datamodule=_fixed_data(cfg)
    )
    # Same random loss backbones (they are frozen and kept out of checkpoints), but scrambled
    # G and D: their weights must all come from the checkpoint.
    resumed = fresh()
    with torch.no_grad():
        for p in resumed.parameters():
            p.add_(torch.randn_like(p))
    _trainer(tmp_path / "c", 8, enable_checkpointing=False, limit_val_batches=0).fit(
        resumed, datamodule=_fixed_data(cfg), ckpt_path=str(tmp_path / "b" / "last.ckpt")
    )
    a, b = straight.state_dict(), resumed.state_dict()
    for key in a:
        if key.startswith(("generator.", "discriminator.")):
            torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5, msg=key)
    assert not torch.equal(
        first.generator.tsf_img_reg[0].weight, straight.generator.tsf_img_reg[0].weight
    )


# ------------------------------------------------------------------------------- DDP / GPU
@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(tmp_path):
    """`python train.py experiment=lwg_pretrain_tiny trainer=ddp_cpu` with 2 gloo processes.

    G and D take turns, so each backward leaves the other network's parameters without
    gradients: DDP needs ``find_unused_parameters`` (the ``_find_unused_parameters_true`` name).
    """
    env = dict(os.environ, WANDB_MODE="offline", PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        str(REPO_ROOT / "train.py"),
        "experiment=lwg_pretrain_tiny",
        "trainer=ddp_cpu",
        "trainer.strategy=ddp_find_unused_parameters_true",
        "logger=csv",
        "trainer.max_steps=4",
        "data.train_length=8",
        "data.val_length=2",
        "data.batch_size=1",
        f"hydra.run.dir={tmp_path}",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 4
    gen = load_generator(tmp_path / "export" / "model.safetensors")
    assert gen.config.tsf_filters == (8, 16, 32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_on_gpu(tmp_path):
    """bf16 autocast on the GPU: a few steps run and the losses stay finite."""
    from vmc.tasks.train import train

    cfg = _tiny(
        tmp_path,
        "trainer=gpu_amp",
        "logger=csv",
        "trainer.max_steps=6",
        "data.train_length=6",
        "data.val_length=2",
    )
    metrics = train(cfg)
    assert np.isfinite(metrics["train/g_loss"]) and np.isfinite(metrics["val/l1"])
    assert load_generator(tmp_path / "export" / "model.safetensors") is not None
