"""``infer.py personalize=``: the generator fine-tuned on the subject first, through
``finetune.py``'s code path, kept in the subject folder and then used for the video."""

from __future__ import annotations

import pytest
import torch
import yaml
from conftest import REPO_ROOT, compose_config

import vmc.tasks.infer as infer_module
from vmc.io.video import probe_video
from vmc.lwg.generator import AttentionLWBGenerator
from vmc.lwg.loading import load_generator, save_generator
from vmc.tasks.infer import infer
from vmc.utils.config import ConfigError

PERSON = REPO_ROOT / "examples" / "person.jpg"
#: finetune.py keys of a 2-iteration run at 64 px (G and D steps are counted apart).
TINY_RUN = [
    "model=lwg_tiny", "data.image_size=64", "data.train_length=2", "data.val_length=1",
    "trainer.max_steps=4", "trainer.log_every_n_steps=1", "logger=csv",
    "callbacks.progress_bar=null",
]  # fmt: skip


def _tiny_generator(tmp_path):
    torch.manual_seed(0)
    start = AttentionLWBGenerator(
        bg_filters=(8, 16, 16, 32), src_filters=(8, 16, 32), tsf_filters=(8, 16, 32),
        spade_hidden=16, bg_res_blocks=1, src_res_blocks=2, tsf_res_blocks=2,
    )  # fmt: skip
    return save_generator(start, tmp_path / "init.safetensors")


def _cfg(tmp_path, *overrides: str):
    (tmp_path / "run").mkdir(exist_ok=True)
    base = [
        f"images=[{PERSON}]", "text=a person waves", "num_frames=4", "image_size=64",
        f"out={tmp_path / 'me.mp4'}", "preview=false",
    ]  # fmt: skip
    return compose_config("infer", base + list(overrides), output_dir=tmp_path / "run")


def test_personalize_always_fine_tunes_then_renders_with_the_tuned_weights(tmp_path, monkeypatch):
    init = _tiny_generator(tmp_path)
    used = []
    real = infer_module.VideoMotionCLIP

    def spy(*args, **kwargs):
        used.append(kwargs["generator"])
        return real(*args, **kwargs)

    monkeypatch.setattr(infer_module, "VideoMotionCLIP", spy)
    quoted = ",".join(f'"{o}"' for o in TINY_RUN)
    infer(
        _cfg(
            tmp_path,
            "appearance=lwg",
            f"generator={init}",
            "personalize=always",
            f"personalize_overrides=[{quoted}]",
        )  # fmt: skip
    )
    assert probe_video(tmp_path / "me.mp4").num_frames == 4
    folder = tmp_path / "run" / "subject"  # images=[...]: the subject folder of this run
    assert (folder / "meta.json").is_file() and (folder / "generator.yaml").is_file()
    tuned = load_generator(folder / "generator.safetensors").state_dict()
    before = load_generator(init).state_dict()
    assert any(not v.equal(before[k]) for k, v in tuned.items()), "no weight changed"
    rows = (folder / "finetune" / "csv" / "metrics.csv").read_text().splitlines()
    assert len(rows) >= 2  # the fine-tuning run logged its two iterations
    # The video was made with the fine-tuned weights, not the ones given.
    assert len(used) == 1
    assert all(v.equal(tuned[k]) for k, v in used[0].state_dict().items())
    stages = yaml.safe_load((tmp_path / "run" / "stages.yaml").read_text())
    assert stages["appearance"]["files"]["generator"] == str(folder / "generator.safetensors")


def test_personalize_auto_with_texture_warping_does_nothing_and_says_so(tmp_path, monkeypatch):
    rows = []
    monkeypatch.setattr(infer_module, "print_stage_table", rows.extend)
    infer(_cfg(tmp_path, "appearance=warp", "num_frames=2"))
    row = next(r for r in rows if r[0] == "personalize")
    assert row[1] == "off" and "appearance=warp" in row[2]
    assert not (tmp_path / "run" / "subject").exists()


def test_personalize_always_without_a_generator_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"personalize=always.*generator=<weights>"):
        infer(_cfg(tmp_path, "personalize=always"))
    with pytest.raises(ConfigError, match=r"appearance=warp uses none"):
        infer(_cfg(tmp_path, "personalize=always", "appearance=warp"))
