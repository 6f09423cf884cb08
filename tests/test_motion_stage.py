"""The text → motion stage of infer: which model is chosen, and the frame and length it gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import compose_config, make_tiny_clip

from vmc.geometry.rotations import axis_angle_to_matrix
from vmc.io.checkpoints import export_inference
from vmc.io.stages import StageRequest
from vmc.motion.export import load_motion_npz
from vmc.motion.model import MotionCLIP
from vmc.motion.runs import EXPORT_FORMAT
from vmc.motion.stage import (
    MotionCLIPStage,
    MotionOptions,
    RetrievalMotionStage,
    select_motion_stage,
    split_frames,
)
from vmc.tasks.common import motion_options, motion_request
from vmc.tasks.infer import infer


def _export_tiny_run(root, up_axis: str = "y", translation: str = "root", seed: int = 0):
    """A tiny randomly initialised MotionCLIP exported like a training run (384-d latent, so
    that the offline sentence encoder drives it)."""
    torch.manual_seed(seed)
    net = MotionCLIP(latent_dim=384, ff_size=64, num_layers=1, num_heads=4, max_positions=200)
    info = {
        "format": EXPORT_FORMAT,
        "model": net.config.to_dict(),
        "text_encoder": {"kind": "sentence", "dim": 384},
        "translation": translation,
        "up_axis": up_axis,
        "num_frames": 60,
        "fps": 30.0,
    }
    export_inference(net, root, info, half=True)
    return root


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return _export_tiny_run(tmp_path_factory.mktemp("run") / "export")


def _forward_at_first_frame(poses: np.ndarray) -> np.ndarray:
    root = axis_angle_to_matrix(torch.from_numpy(poses[0, 0]).double())
    return root[:, 2].numpy()  # where the body's front (+Z body axis) points


def test_split_frames():
    assert split_frames(10, 3) == [4, 3, 3]  # fit_length: tests/test_motion_sources.py


@pytest.mark.parametrize("up_axis", ["y", "z"])
def test_run_stage_gives_requested_length_rate_and_facing(tmp_path, up_axis):
    run = _export_tiny_run(tmp_path / up_axis, up_axis=up_axis, seed=1)
    stage = select_motion_stage(StageRequest(motion="run", motion_run=str(run)))
    assert isinstance(stage, MotionCLIPStage)
    motion = stage.generate(["a person jumps"], num_frames=45, fps=15.0, seed=0)
    assert motion.poses.shape == (45, 24, 3) and motion.trans.shape == (45, 3)
    assert motion.fps == 15.0 and np.isfinite(motion.poses).all() and motion.frame == "y_up"
    assert motion.texts == ["a person jumps"] and motion.segments == [("a person jumps", 0, 45)]
    # Y-up world, the person's front turned to +Z at the first frame (whatever the model's world).
    forward = _forward_at_first_frame(motion.poses)
    assert abs(forward[0]) < 1e-4 and forward[2] > 0
    # 45 frames at 15 fps = the same 3 s as 89 frames at the model's 30 fps.
    native = stage.generate(["a person jumps"], num_frames=89, fps=30.0, seed=0)
    np.testing.assert_allclose(motion.trans[-1], native.trans[-1], atol=1e-4)


def test_run_stage_sequence_has_one_segment_per_prompt(tiny_run):
    stage = select_motion_stage(StageRequest(motion="run", motion_run=str(tiny_run)))
    motion = stage.generate(["a person walks", "a person jumps"], 120, 30.0, seed=0)
    assert motion.poses.shape == (120, 24, 3)
    assert [s[0] for s in motion.segments] == ["a person walks", "a person jumps"]
    assert motion.segments[0][1] == 0 and motion.segments[-1][2] == 120


def test_retrieval_stage_and_its_single_prompt_limit():
    stage = select_motion_stage(StageRequest(motion="retrieval", text_encoder="sentence"))
    assert isinstance(stage, RetrievalMotionStage)
    motion = stage.generate(["someone does jumping jacks"], 20, 30.0, seed=0)
    assert motion.poses.shape == (20, 24, 3) and "jumping" in stage.last_match
    with pytest.raises(ValueError, match="need a MotionCLIP model"):
        stage.generate(["walk", "jump"], 20, 30.0, seed=0)


def test_missing_files_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="motion.run="):
        select_motion_stage(StageRequest(motion="run"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        select_motion_stage(StageRequest(motion="run", motion_run=str(tmp_path / "nothing")))
    with pytest.raises(FileNotFoundError, match="checkpoint_0100"):
        select_motion_stage(StageRequest(motion="paper", assets_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="motion must be one of"):
        select_motion_stage(motion_request({"kind": "magic"}))
    import vmc.io.stages as stages_module

    monkeypatch.setattr(stages_module, "EMBEDDED_MOTIONCLIP_DIR", tmp_path / "no_weights")
    with pytest.raises(FileNotFoundError, match="experiment=motionclip_procedural"):
        select_motion_stage(StageRequest(motion="embedded"))


def test_paper_stage_uses_clip_and_the_reference_root(tmp_path):
    """motion=paper: the official checkpoint layout + CLIP from the assets folder; the root is
    upright, facing the camera, in place (the reference's generate-time overwrite)."""
    tiny_clip = make_tiny_clip()
    (tmp_path / "clip").mkdir()
    torch.save(tiny_clip.state_dict(), tmp_path / "clip" / "ViT-B-32.pt")
    net = MotionCLIP(latent_dim=64, ff_size=32, num_layers=1, max_positions=100)
    ckpt = tmp_path / "motionclip" / "paper-model" / "checkpoint_0100.pth.tar"
    ckpt.parent.mkdir(parents=True)
    torch.save(net.state_dict(), ckpt)

    stage = select_motion_stage(StageRequest(assets_dir=str(tmp_path)))
    assert isinstance(stage, MotionCLIPStage) and "paper" in stage.description
    motion = stage.generate(["a person kicks"], 30, 30.0, seed=0)
    np.testing.assert_allclose(motion.poses[:, 0], 0.0, atol=1e-6)  # identity root = upright
    np.testing.assert_allclose(motion.trans, 0.0)
    assert np.abs(motion.poses[:, 1:]).max() > 1e-3  # the body itself moves


def test_infer_sequence_and_prompt_file_with_a_run(tmp_path, tiny_run):
    common = [f"motion.run={tiny_run}", "motion=run", "num_frames=40", "image_size=64"]
    out = tmp_path / "seq.npz"
    cfg = compose_config(
        "infer", [*common, "text=[a person walks,a person waves]", f"out={out}"], tmp_path
    )
    result = infer(cfg)
    motion = load_motion_npz(out)
    assert motion.poses.shape == (40, 24, 3) and math.isclose(motion.fps, 30.0)
    assert motion.frame == "z_up" and motion.texts == ["a person walks", "a person waves"]
    assert (tmp_path / "seq.preview.mp4").is_file() and result["preview_mp4"]

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two prompts\na person jumps\n\na person bows\n")
    folder = tmp_path / "batch"
    cfg = compose_config(
        "infer", [*common, f"prompts={prompts}", f"out={folder}", "preview=false"], tmp_path
    )
    infer(cfg)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["000_a_person_jumps.npz", "001_a_person_bows.npz"]


def test_config_groups_become_typed_stage_arguments():
    """conf/motion + conf/text_encoder -> StageRequest + MotionOptions (vmc.tasks.common)."""
    motion_cfg = compose_config("infer", ["motion=run", "motion.run=/x", "motion.prior_k=null"])
    request = motion_request(motion_cfg.motion, motion_cfg.text_encoder)
    assert request.motion == "run" and request.motion_run == "/x"
    assert request.text_encoder == motion_cfg.text_encoder.kind
    assert request.assets_dir == motion_cfg.motion.assets_dir
    assert motion_options(motion_cfg.motion) == MotionOptions(None, 0.0, 0)
    assert motion_options({"latent_noise": 0.5, "overlap": 8}) == MotionOptions(8, 0.5, 4)
    assert motion_options(None) == MotionOptions() and motion_request(None) == StageRequest()


def test_motion_options_reach_the_generator(tiny_run):
    options = MotionOptions(overlap=6, latent_noise=0.25, prior_k=0)
    stage = select_motion_stage(StageRequest(motion="run", motion_run=str(tiny_run)), options)
    assert stage.generator.overlap == 6 and stage.generator.latent_noise == 0.25
    assert stage.plant_feet  # on by default
    assert stage.ballistic_flight  # on by default
    options = MotionOptions(plant_feet=False, ballistic_flight=False)
    stage = select_motion_stage(StageRequest(motion="run", motion_run=str(tiny_run)), options)
    assert not stage.plant_feet and not stage.ballistic_flight


def test_a_text_head_beside_the_export_is_used_unless_turned_off(tmp_path):
    from vmc.motion.text_head import save_text_head

    run = _export_tiny_run(tmp_path / "export")
    request = StageRequest(motion="run", motion_run=str(run))
    assert select_motion_stage(request).generator.text_head is None  # none exported
    head = 0.1 * torch.randn(384, 384)  # the tiny run's latent size (its text encoder's)
    save_text_head(run / "text_head.safetensors", head)
    stored = head.half().float()  # text heads are stored in fp16
    torch.testing.assert_close(select_motion_stage(request).generator.text_head, stored)
    off = select_motion_stage(request, MotionOptions(text_head=False))
    assert off.generator.text_head is None


def test_a_caption_prior_beside_the_export_is_used_unless_turned_off(tmp_path):
    import torch.nn.functional as F

    from vmc.motion.caption_prior import CaptionPrior, save_caption_prior

    run = _export_tiny_run(tmp_path / "export")
    request = StageRequest(motion="run", motion_run=str(run))
    assert select_motion_stage(request).generator.caption_prior is None  # none exported
    prior = CaptionPrior(
        F.normalize(torch.randn(5, 768), dim=1), F.normalize(torch.randn(5, 384), dim=1),
        torch.zeros(768),
    )  # fmt: skip
    save_caption_prior(run / "caption_prior.safetensors", prior)
    used = select_motion_stage(request).generator
    assert used.caption_prior is not None and used.prior_encoder.dim == 768
    assert used.prior_encoder.name == "all-mpnet-base-v2"
    off = select_motion_stage(request, MotionOptions(caption_prior=False))
    assert off.generator.caption_prior is None
