"""`python infer.py`: the main job end to end on the embedded default, and its input checks."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import REPO_ROOT, compose_config

from vmc.io.video import probe_video
from vmc.motion.export import load_motion_npz
from vmc.tasks import infer as infer_module
from vmc.tasks.infer import check_inputs, infer
from vmc.utils.config import ConfigError

PERSON = str(REPO_ROOT / "examples" / "person.jpg")


def _cfg(tmp_path, **overrides):
    """The infer config; Hydra's run folder is ``<tmp_path>/run`` (outputs go elsewhere)."""
    items = {"text": "a person jumps", "num_frames": 6, "image_size": 96, "seed": 0}
    items.update(overrides)
    args = [f"{k}={v}" for k, v in items.items()]
    (tmp_path / "run").mkdir(exist_ok=True)
    return compose_config("infer", args, output_dir=tmp_path / "run")


def test_text_and_photo_to_video(tmp_path):
    out = tmp_path / "clip.mp4"
    result = infer(_cfg(tmp_path, images=f"[{PERSON}]", out=str(out)))
    assert result["out"] == str(out)
    info = probe_video(out)
    assert (info.codec, info.num_frames) == ("h264", 6)
    # the run folder records which implementation each stage group used
    stages = yaml.safe_load((tmp_path / "run" / "stages.yaml").read_text())
    assert set(stages) == {"motion", "body", "person fit", "appearance", "background"}
    assert stages["body"]["kind"] in ("embedded", "smpl")
    assert (info.width, info.height) == (96, 96)  # the person in the photo's own (square) frame
    preview = probe_video(tmp_path / "clip.preview.mp4")
    assert (preview.width, preview.height) == (288, 96)  # photo | motion on the body | result
    assert (tmp_path / "clip.preview.png").is_file()


@pytest.mark.parametrize("suffix", [".npz", ".bvh"])
def test_text_to_motion_file_without_images(tmp_path, suffix):
    out = tmp_path / f"walk{suffix}"
    infer(_cfg(tmp_path, text="someone walks forward", out=str(out), num_frames=30))
    assert out.is_file()
    if suffix == ".npz":
        motion = load_motion_npz(out)
        assert motion.poses.shape == (30, 24, 3) and motion.frame == "z_up"  # AMASS's frame
        # A walk travels: the root moves more than 30 cm in one second (horizontal: X, Y).
        assert np.linalg.norm(motion.trans[-1, :2] - motion.trans[0, :2]) > 0.3
    else:
        assert out.read_text().startswith("HIERARCHY")


def test_bvh_units_key_writes_metres(tmp_path):
    """``bvh_units=m``: the same BVH as ``cm``, lengths divided by 100 (Blender: scale 1)."""
    rows = {}
    for units in ("cm", "m"):
        out = tmp_path / f"walk_{units}.bvh"
        infer(_cfg(tmp_path, out=str(out), bvh_units=units, preview="false"))
        text = out.read_text()
        offset = text.split("OFFSET")[2].split()[:3]  # the first child's offset
        rows[units] = np.array([float(v) for v in offset])
    np.testing.assert_allclose(rows["cm"], 100 * rows["m"], atol=1e-4)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"text": "' '"}, "text must be"),
        ({"out": "x.avi"}, "must end with"),
        ({"num_frames": 1}, "num_frames"),
        ({"fps": 0}, "fps"),
        ({"image_size": 10}, "image_size"),
        ({"bvh_units": "mm"}, "bvh_units must be cm or m"),
    ],
)
def test_bad_inputs_are_clear_errors(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_inputs(_cfg(tmp_path, **overrides))


def test_missing_photo_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nobody.jpg"):
        check_inputs(_cfg(tmp_path, images=f"[{tmp_path / 'nobody.jpg'}]"))


def test_interrupt_leaves_no_outputs(tmp_path, monkeypatch):
    """Ctrl-C while the video is written removes the preview files already written."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(infer_module, "_write_frames", interrupted)
    with pytest.raises(KeyboardInterrupt):
        infer(_cfg(tmp_path, out=str(tmp_path / "v.mp4")))
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == []


def test_prepared_subject_performs_a_motion_file(tmp_path):
    """``subject=<name>`` reads the folder ``python -m vmc subject prepare`` wrote; a
    ``motion_file`` drives it; ``export`` writes the motion beside the video."""
    from vmc.cli import main as vmc_main
    from vmc.motion.export import save_amass_npz
    from vmc.motion.procedural import generate_motion

    subjects = tmp_path / "subjects"
    args = ["subject", "prepare", "bob", str(PERSON), "--size", "128", "--texture-size", "128"]
    assert vmc_main([*args, "--subjects-dir", str(subjects)]) == 0
    clip = save_amass_npz(tmp_path / "squat.npz", generate_motion("squat", 20, 30.0, 0).motion)
    out = tmp_path / "bob.mp4"
    cfg = _cfg(
        tmp_path,
        text="null",
        subject="bob",
        motion_file=str(clip),
        out=str(out),
        num_frames=8,
        export="[npz]",
        **{"paths.subjects_dir": str(subjects)},
    )
    result = infer(cfg)
    assert probe_video(out).num_frames == 8
    motion = load_motion_npz(result["npz"])
    assert motion.num_frames == 8 and motion.frame == "z_up"
    with pytest.raises(FileNotFoundError, match="no prepared subject"):
        check_inputs(_cfg(tmp_path, subject="nobody", **{"paths.subjects_dir": str(subjects)}))


def test_prompt_file_with_a_photo_writes_one_video_per_prompt(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a person jumps\n# a comment\na person waves\n")
    out = tmp_path / "videos"
    result = infer(_cfg(tmp_path, prompts=str(prompts), images=f"[{PERSON}]", out=str(out),
                        preview="false", seconds=0.2, fps=30))  # fmt: skip
    videos = sorted(p.name for p in out.iterdir())
    assert videos == ["000_a_person_jumps.mp4", "001_a_person_waves.mp4"]
    assert probe_video(out / videos[0]).num_frames == 6  # seconds x fps
    assert result["a person waves"] == str(out / videos[1])


def test_appearance_lwg_with_a_generator_of_ours(tmp_path):
    """``appearance=lwg generator=<file>``: the generator re-renders the person (tiny, random;
    ``personalize=never``: used as given, tests/test_personalize.py fine-tunes first)."""
    import torch

    from vmc.lwg.generator import AttentionLWBGenerator
    from vmc.lwg.loading import save_generator

    torch.manual_seed(0)
    tiny = AttentionLWBGenerator(
        bg_filters=(4, 8, 8, 16), src_filters=(4, 8, 16), tsf_filters=(4, 8, 16), spade_hidden=8
    )
    weights = save_generator(tiny, tmp_path / "g.safetensors")
    out = tmp_path / "lwg.mp4"
    result = infer(
        _cfg(
            tmp_path,
            images=f"[{PERSON}]",
            out=str(out),
            appearance="lwg",
            generator=str(weights),
            personalize="never",
            preview="false",
        )  # fmt: skip
    )
    assert probe_video(out).num_frames == 6 and result["out"] == str(out)
    stages = yaml.safe_load((tmp_path / "run" / "stages.yaml").read_text())
    assert "body" in stages
    # background=auto with the GAN and no clean plate: BGNet fills the person's place
    assert stages["background"]["kind"] == "bgnet"
