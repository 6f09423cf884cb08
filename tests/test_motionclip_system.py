"""MotionCLIP training system: train(cfg) end to end, checkpoints, cache, export, DDP, resume."""

from __future__ import annotations

import logging
from pathlib import Path

import motionclip_stubs
import pytest
import torch
import yaml
from conftest import compose_config
from motionclip_stubs import TINY_MODEL_OVERRIDES, HashTextEncoder
from omegaconf import open_dict

from vmc.body.model import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.data.motion_datamodule import MotionDataModule
from vmc.data.motion_sources import load_procedural
from vmc.io.checkpoints import CheckpointError
from vmc.motion.model import MotionCLIP
from vmc.motion.runs import load_motionclip_run
from vmc.systems.motionclip import MotionCLIPSystem
from vmc.tasks.train import train

TINY = [
    "experiment=motionclip_procedural",
    *TINY_MODEL_OVERRIDES,
    "data.train_sources.0.num=16",
    "data.val_sources.0.num=8",
    "data.batch_size=4",
    "data.val_batch_size=4",
    "callbacks.progress_bar=null",
]
# A real (short) run: checkpoints, export, no logger.
FULL = ["logger=[]", "trainer.enable_model_summary=false", "trainer.check_val_every_n_epoch=1"]


# Tiny models: one intra-op thread is faster than several fighting over a shared CPU.
pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(tmp: Path, extra: list[str], cache_dir: Path | None = None):
    cfg = compose_config("train", TINY + extra, tmp)
    if cache_dir is not None:
        with open_dict(cfg):
            cfg.paths.cache_dir = str(cache_dir)
    return cfg


def _tiny_system(**kwargs) -> MotionCLIPSystem:
    net = MotionCLIP(latent_dim=32, ff_size=64, num_layers=1, dropout=0.0, max_positions=100)
    body = BodyModel.from_arrays(**make_tiny_body())
    kwargs.setdefault("text_encoder", HashTextEncoder(dim=32))
    return MotionCLIPSystem(net, body=body, translation="root", up_axis="y", **kwargs)


def test_train_fast_dev_run(tmp_path) -> None:
    metrics = train(_cfg(tmp_path, ["debug=fast"]))
    for key in ("train/mixed_with_clip", "val/rot6d_mse", "val/mpjpe_mm", "val/r_precision_top1"):
        assert key in metrics and metrics[key] == metrics[key]  # present and not NaN
    assert 0.0 <= metrics["val/r_precision_top1"] <= metrics["val/r_precision_top3"] <= 1.0
    assert not (tmp_path / "export").exists()  # debug runs export nothing
    # The stage groups the model uses, chosen before any work and kept like infer's.
    stages = yaml.safe_load((tmp_path / "stages.yaml").read_text())
    assert list(stages) == ["text encoder", "body"]
    assert stages["text encoder"]["kind"] == "sentence" and stages["body"]["kind"] == "tiny"
    assert stages["body"]["why"] == "model.body.kind=tiny" and stages["body"]["files"] == {}


def test_missing_clip_stops_training_before_any_work(tmp_path, monkeypatch) -> None:
    """text_encoder.kind=clip without the weights: the stage choice fails first (no data loaded,
    no run config or stage record written)."""
    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    cfg = _cfg(run, ["debug=fast", "model.text_encoder.kind=clip", f"paths.assets_dir={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="ViT-B-32"):
        train(cfg)
    assert list(run.iterdir()) == []


def test_a_few_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    system = _tiny_system(lr=1e-3)
    dm = MotionDataModule(
        [load_procedural(8, num_frames=60, seed=3)], val_fraction=0.0, batch_size=8
    )
    batch = next(iter(dm.train_dataloader()))
    optimizer = system.configure_optimizers()
    losses = []
    for _ in range(40):
        loss = system.compute_losses(batch)[0]["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::8]
    # The frozen parts stay out of the optimizer.
    params = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert id(system.net.decoder.actionBiases) not in params
    assert len(params) == sum(1 for p in system.net.parameters() if p.requires_grad)


def test_text_reconstruction_term_and_latent_norm() -> None:
    """text_rc decodes the text latent, rescaled to the motion latent's norm, and compares it
    with the motion; the latent-norm statistic reaches the export info as ``text_scale``."""
    torch.manual_seed(0)
    system = _tiny_system(losses={"text_rc": 1.0})
    dm = MotionDataModule(
        [load_procedural(4, num_frames=60, seed=3)], val_fraction=0.0, batch_size=4
    )
    batch = next(iter(dm.train_dataloader()))
    system.train()
    terms, (mu, _, feats) = system.compute_losses(batch)
    text, valid = feats["text"]
    z = torch.nn.functional.normalize(text, dim=1) * mu[valid].norm(dim=1, keepdim=True)
    decoded = system.net.decode(z, batch["mask"][valid])
    from vmc.motion.losses import masked_mse, velocity_loss

    x, mask = batch["x"][valid], batch["mask"][valid]
    expected = masked_mse(x, decoded, mask) + velocity_loss(x, decoded, mask)
    assert terms["text_rc"].item() == pytest.approx(expected.item(), rel=1e-4)
    recon = 100 * (terms["rc"] + terms["rcxyz"] + terms["vel"]) + terms["text_rc"]
    assert terms["mixed_without_clip"].item() == pytest.approx(recon.item(), rel=1e-5)
    norm = float(system.latent_norm)
    assert norm == pytest.approx(mu.norm(dim=1).mean().item(), rel=1e-5)
    assert system.export_info()["text_scale"] == pytest.approx(norm)
    assert _tiny_system().export_info()["text_scale"] is None  # off: raw features, as the paper


def test_image_loss_switch_and_dimension_check(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="vmc.systems.motionclip"):
        system = _tiny_system(losses={"image_cosine": 1.0})
    assert not system.image_loss_on and "image loss switched off" in caplog.text
    assert _tiny_system(text_encoder=HashTextEncoder(dim=32, image_tower=True)).image_loss_on
    with pytest.raises(ValueError, match="latent_dim=16"):
        _tiny_system(text_encoder=HashTextEncoder(dim=16))
    with pytest.raises(ValueError, match="unknown loss names"):
        _tiny_system(losses={"kl": 1.0})


def test_image_features_enter_the_loss(tmp_path) -> None:
    from vmc.data.motion_frames import render_clip_frames

    records = load_procedural(4, num_frames=60, seed=5)
    system = _tiny_system(text_encoder=HashTextEncoder(dim=32, image_tower=True))
    render_clip_frames(
        records[:2], tmp_path, BodyModel.from_arrays(**make_tiny_body()), image_size=32
    )
    dm = MotionDataModule([records], val_fraction=0.0, batch_size=4, frames_dir=tmp_path)
    batch = next(iter(dm.train_dataloader()))
    assert sum(bool(p) for p in batch["image"]) == 2
    terms, (mu, _, feats) = system.compute_losses(batch)
    image, valid = feats["image"]
    assert valid.sum() == 2 and image.shape == (2, 32)
    expected = (1 - torch.nn.functional.cosine_similarity(mu[valid], image)).mean()
    assert terms["image_cosine"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_checkpoint_cache_and_export_round_trip(tmp_path) -> None:
    motionclip_stubs.ENCODED_TEXTS.clear()
    motionclip_stubs.EPOCH_ENCODER_CALLS.clear()
    cache = tmp_path / "cache"
    run = tmp_path / "run"
    recorder = "+callbacks.recorder._target_=motionclip_stubs.FeatureCallRecorder"
    train(_cfg(run, [*FULL, "trainer.max_epochs=2", recorder], cache))

    # Every distinct text was encoded exactly once; epoch 2 used only cached features.
    encoded = motionclip_stubs.ENCODED_TEXTS
    assert encoded and len(encoded) == len(set(encoded))
    calls = motionclip_stubs.EPOCH_ENCODER_CALLS
    assert len(calls) == 2 and calls[0] >= 1 and calls[1] == calls[0]

    # The checkpoint is weights_only-loadable and holds the motion model only.
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    keys = set(ckpt["state_dict"])
    net = MotionCLIP(latent_dim=32, ff_size=64, num_layers=1, max_positions=100)
    # The motion model plus two text statistics; no text encoder, no body.
    assert keys == {f"net.{k}" for k in net.state_dict()} | {"latent_norm", "text_mean"}
    assert (
        ckpt["hyper_parameters"]["text_encoder_info"]["kind"] == "motionclip_stubs.HashTextEncoder"
    )

    # Export (fp16 in this config) and our loader agree with the checkpoint.
    model, info = load_motionclip_run(run / "export")
    assert info["translation"] == "root" and info["up_axis"] == "y"
    assert info["text_encoder"]["dim"] == 32 and info["model"]["latent_dim"] == 32
    from_ckpt, ckpt_info = load_motionclip_run(run / "checkpoints" / "last.ckpt")
    assert ckpt_info["translation"] == "root" and ckpt_info["epoch"] == 1
    # The embedded recipe centres text features on the training texts' mean and rescales text
    # latents: both statistics reach the export and the checkpoint loader alike.
    from motionclip_stubs import HashTextEncoder as Encoder

    # The training clips' captions, as conf/data/motion_procedural.yaml draws them (base captions).
    clips = load_procedural(16, num_frames=60, seed=0, extra_captions=False)
    texts = sorted({t for r in clips for t in r.motion.texts})
    mean = Encoder(dim=32).encode(texts).mean(0)
    assert torch.allclose(torch.tensor(info["text_center"]), mean, atol=1e-5)
    assert torch.allclose(torch.tensor(ckpt_info["text_center"]), mean, atol=1e-5)
    assert info["text_scale"] == pytest.approx(ckpt_info["text_scale"]) and info["text_scale"] > 0
    # ... and the latent bank of the 16 training clips (generation's retrieval prior).
    assert tuple(info["latent_bank"].shape) == (16, 32) and ckpt_info["latent_bank"] is None
    # ... and the text head fit on their captions (vmc.motion.text_head), which the stage uses.
    assert tuple(info["text_head"].shape) == (32, 32) and info["text_head"].abs().sum() > 0
    assert ckpt_info["text_head"] is None
    z = torch.randn(3, 32)
    with torch.no_grad():
        a, b = model.decode(z, num_frames=60), from_ckpt.decode(z, num_frames=60)
    assert torch.allclose(a, b, atol=2e-2) and not torch.equal(a, torch.zeros_like(a))
    assert load_motionclip_run(run)[1]["source"].endswith("model.safetensors")

    # A second run over the same cache directory encodes nothing.
    motionclip_stubs.ENCODED_TEXTS.clear()
    train(_cfg(tmp_path / "run2", ["debug=fast"], cache))
    assert motionclip_stubs.ENCODED_TEXTS == []


def test_wandb_offline_and_csv_loggers_together(tmp_path, monkeypatch) -> None:
    """logger=many: W&B writes an offline run (no account, no network) beside the CSV log."""
    monkeypatch.setenv("WANDB_MODE", "offline")  # belt and braces: never reach the network
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = tmp_path / "run"
    extra = ["logger=many", "trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"]
    train(_cfg(run, [*extra, "export=false", "trainer.log_every_n_steps=1"]))
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("*.wandb"))
    metrics = (run / "csv" / "metrics.csv").read_text()
    assert "train/mixed_with_clip" in metrics and "val/r_precision_top1" in metrics


def test_load_motionclip_run_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no MotionCLIP model"):
        load_motionclip_run(tmp_path)
    system = _tiny_system()
    out = system.export_inference(tmp_path / "export")
    assert out.name == "model.safetensors"
    model, info = load_motionclip_run(out)
    for k, v in system.net.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    config = tmp_path / "export" / "config.yaml"
    config.write_text(config.read_text().replace("latent_dim: 32", "latent_dim: 48"))
    with pytest.raises(CheckpointError, match="mis-shaped"):
        load_motionclip_run(tmp_path / "export")
    config.write_text("format: something-else\n")
    with pytest.raises(ValueError, match="not a MotionCLIP export"):
        load_motionclip_run(out)


@pytest.mark.slow
def test_ddp_cpu_two_processes(tmp_path) -> None:
    metrics = train(
        _cfg(
            tmp_path,
            [*FULL, "trainer=ddp_cpu", "trainer.strategy=ddp_spawn", "trainer.max_epochs=1"],
        )
    )
    assert "val/r_precision_top1" in metrics
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # 16 clips, global batch 4 over 2 processes: 4 optimizer steps per epoch on each.
    assert ckpt["global_step"] == 4
    model, _ = load_motionclip_run(tmp_path / "export")
    assert model.latent_dim == 32


@pytest.mark.slow
def test_resuming_twice_at_epoch_boundaries_matches_uninterrupted_run(tmp_path) -> None:
    def weights(run: Path) -> dict[str, torch.Tensor]:
        ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        return ckpt["state_dict"]

    common = [*FULL, "export=false", "model.net.dropout=0.1"]
    train(_cfg(tmp_path / "full", [*common, "trainer.max_epochs=3"]))
    train(_cfg(tmp_path / "part", [*common, "trainer.max_epochs=1"]))
    # Resumed twice in the same run directory: each resume must pick up the newest last.ckpt
    # (a stale one, or a last-v1.ckpt beside it, would silently repeat epochs).
    train(_cfg(tmp_path / "part", [*common, "trainer.max_epochs=2", "ckpt_path=last"]))
    after_two = weights(tmp_path / "part")
    train(_cfg(tmp_path / "part", [*common, "trainer.max_epochs=3", "ckpt_path=last"]))
    assert not list((tmp_path / "part" / "checkpoints").glob("last-v*.ckpt"))
    full, resumed = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.allclose(full[key], resumed[key], atol=1e-6), key
    # The third epoch really ran after the resume (the weights moved on from epoch 2).
    assert any(not torch.allclose(after_two[k], resumed[k]) for k in resumed)


def test_init_from_loads_an_export_strictly(tmp_path) -> None:
    from safetensors.torch import save_file

    source = MotionCLIP(latent_dim=32, ff_size=64, num_layers=1, dropout=0.0, max_positions=100)
    weights = tmp_path / "model.safetensors"
    save_file({k: v.half().contiguous() for k, v in source.state_dict().items()}, str(weights))
    system = _tiny_system(init_from=str(weights))
    for key, value in source.state_dict().items():
        torch.testing.assert_close(system.net.state_dict()[key], value.half().float())
    other = MotionCLIP(latent_dim=48, ff_size=64, num_layers=1, dropout=0.0, max_positions=100)
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(weights))
    with pytest.raises(ValueError, match="does not fit this model"):
        _tiny_system(init_from=str(weights))
    with pytest.raises(FileNotFoundError, match="model.init_from"):
        _tiny_system(init_from=str(tmp_path / "missing.safetensors"))
