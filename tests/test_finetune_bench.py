"""``bench/bench_finetune_quality.py``'s pieces: its documented pretraining command composes to
the tiny model on the embedded body, and a ground-truth synthetic subject goes through
``finetune.py``'s task and renders before and after (2 iterations, 64 px)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, compose_config

sys.path.insert(0, str(REPO_ROOT / "bench"))
bench = pytest.importorskip("bench_finetune_quality")


def test_the_pretraining_command_is_the_tiny_model_on_the_embedded_body() -> None:
    cmd = bench.pretrain_command(Path("outputs/run"), 64, 300)
    assert cmd[:3] == ["python", "train.py", "experiment=lwg_pretrain_tiny"]
    assert "hydra.run.dir=outputs/run" in cmd
    cfg = compose_config("train", [a for a in cmd[2:] if not a.startswith("hydra.")])
    assert cfg.data.body.kind == "embedded"  # the subjects' body, not the tiny one
    assert cfg.data.image_size == 64
    assert cfg.trainer.max_steps == 600  # 300 iterations of a G and a D step
    assert cfg.data.train_length == 2 * 300 and cfg.data.batch_size == 2  # one epoch
    assert cfg.model.losses.vgg_weights == "random"


def test_a_ground_truth_subject_fine_tunes_and_renders(tmp_path) -> None:
    from vmc.body.embedded import load_embedded_body
    from vmc.lwg.generator import AttentionLWBGenerator
    from vmc.lwg.loading import save_generator
    from vmc.render.correspondence import UVLayout
    from vmc.render.texture import uv_render
    from vmc.subject.texture import TextureAtlas

    body = load_embedded_body()
    layout = UVLayout.from_body(body)
    atlas = TextureAtlas.from_body(body, 128, layout=layout)
    case = bench.make_subject(
        body, layout, uv_render(layout, 128), atlas, 0, size=64, frames=2, photos=1
    )
    assert case.truth.shape == (2, 64, 64, 3) and case.masks.any(axis=(1, 2)).all()
    folder = bench.write_subject_folder(case.subject, tmp_path / "s0", body)
    start = AttentionLWBGenerator(
        bg_filters=(8, 16, 16, 32), src_filters=(8, 16, 32), tsf_filters=(8, 16, 32),
        spade_hidden=16, bg_res_blocks=1, src_res_blocks=2, tsf_res_blocks=2,
    )  # fmt: skip
    init = save_generator(start, tmp_path / "init.safetensors")
    before = bench.score_lwg(init, body, case)
    seconds = bench.run_finetune(bench.finetune_overrides(folder, init, 64, 2), tmp_path)
    tuned = folder / bench.GENERATOR_FILE
    assert tuned.is_file() and seconds["cpu_s"] > 0
    after = bench.score_lwg(tuned, body, case)
    assert all(math.isfinite(v) for v in (*before.values(), *after.values()))
    assert before != after  # the weights changed
    warp = bench.score(bench.render_warp(body, case), case.truth, case.masks)
    assert warp["psnr"] > 20 and 0 < warp["ssim"] <= 1  # texture warping from the true body
    assert np.isclose(bench.score(case.truth, case.truth, case.masks)["ssim"], 1.0)
    assert set(after) == {"psnr", "ssim", "photo_psnr", "photo_ssim"}
