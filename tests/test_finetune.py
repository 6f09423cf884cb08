"""``finetune.py``: a subject prepared from its photo, the generator fine-tuned on it, the
weights kept in the subject folder, resumable there, and used by ``infer.py subject=...``."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO_ROOT, compose_config

from vmc.io.video import probe_video
from vmc.lwg.generator import AttentionLWBGenerator
from vmc.lwg.loading import generator_file, load_generator, save_generator
from vmc.tasks.finetune import check_finetune_inputs, finetune
from vmc.tasks.infer import infer
from vmc.utils.config import ConfigError

PERSON = REPO_ROOT / "examples" / "person.jpg"
TINY = [
    "model=lwg_tiny",
    "data.image_size=64",
    "data.train_length=2",
    "data.val_length=1",
    "trainer.max_steps=4",
    "trainer.log_every_n_steps=1",
    "logger=csv",
    "callbacks.progress_bar=null",
]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    subjects = root / "subjects"
    start = AttentionLWBGenerator(
        bg_filters=(8, 16, 16, 32), src_filters=(8, 16, 32), tsf_filters=(8, 16, 32),
        spade_hidden=16, bg_res_blocks=1, src_res_blocks=2, tsf_res_blocks=2,
    )  # fmt: skip
    # init_from names a run folder (the pretraining run's export/ is found in it)
    init = save_generator(start, root / "pretrain" / "export" / "model.safetensors")
    overrides = [
        "subject=bob", f"images=[{PERSON}]", f"paths.subjects_dir={subjects}",
        f"init_from={root / 'pretrain'}", "freeze=[bg_net]", *TINY,
    ]  # fmt: skip
    cfg = compose_config("finetune", overrides, output_dir=root / "hydra")
    metrics = finetune(cfg)
    return root, subjects / "bob", init, metrics


def test_the_generator_lands_in_the_subject_folder(finetuned):
    root, folder, init, metrics = finetuned
    assert "train/g_loss" in metrics
    tuned = load_generator(folder / "generator.safetensors")
    before = load_generator(init)
    changed = [k for k, v in tuned.state_dict().items() if not v.equal(before.state_dict()[k])]
    assert changed, "fine-tuning changed no weight"
    assert not any(k.startswith("bg_net.") for k in changed)  # frozen
    assert any(k.startswith("tsf_net") or k.startswith("tsf_") for k in changed)
    config = yaml.safe_load((folder / "generator.yaml").read_text())
    assert config["format"] == "vmc.lwg.generator"
    assert (folder / "finetune" / "checkpoints" / "last.ckpt").is_file()
    assert (folder / "source").is_dir()  # the subject was prepared first


def test_resume_in_the_subject_folder(finetuned):
    root, folder, init, _ = finetuned
    overrides = [
        "subject=bob", f"paths.subjects_dir={folder.parent}", "ckpt_path=last",
        *TINY[:-4], "trainer.max_steps=6", "logger=csv", "callbacks.progress_bar=null",
    ]  # fmt: skip
    finetune(compose_config("finetune", overrides, output_dir=root / "hydra2"))
    rows = (folder / "finetune" / "csv" / "metrics.csv").read_text().splitlines()
    assert len(rows) > 3  # appended after the first run's rows


def test_infer_uses_the_subjects_generator(finetuned, tmp_path):
    _, folder, _, _ = finetuned
    (tmp_path / "run").mkdir()
    cfg = compose_config(
        "infer",
        [f"subject={folder}", "text=a person waves", "num_frames=4", "image_size=64",
         f"out={tmp_path / 'bob.mp4'}", "preview=false"],
        output_dir=tmp_path / "run",
    )  # fmt: skip
    infer(cfg)
    assert probe_video(tmp_path / "bob.mp4").num_frames == 4
    stages = yaml.safe_load((tmp_path / "run" / "stages.yaml").read_text())
    assert stages["appearance"]["kind"] == "lwg"
    assert stages["appearance"]["files"]["generator"] == str(folder / "generator.safetensors")


def test_init_from_is_a_weights_file_or_a_folder_holding_one(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    overrides = ["subject=bob", f"images=[{PERSON}]", f"init_from={run}"]
    with pytest.raises(ConfigError, match="holds no generator: looked for model.safetensors"):
        check_finetune_inputs(compose_config("finetune", overrides))
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(b"")
    assert generator_file(run) == last  # a run without an export: its last checkpoint
    weights = run / "export" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"")
    assert generator_file(run) == weights  # the export wins
    assert generator_file(run / "export") == weights == generator_file(weights)
    check_finetune_inputs(compose_config("finetune", overrides))


def test_finetune_without_loss_network_files_trains_the_target_on_pixels(tmp_path, monkeypatch):
    """finetune.py's default (lwg_finetune: when_missing=pixel): with no VGG19 / SphereFace file
    anywhere, the run starts, the perceptual term becomes a pixel L1 and the face term is off;
    pretraining's default still stops and says which file is missing."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "no_assets"))
    nets = ["model.losses.vgg_weights=null", "model.losses.face_weights=null"]
    overrides = ["subject=s", "model=lwg_tiny", f"paths.assets_dir={tmp_path}", *nets]
    losses = instantiate(compose_config("finetune", overrides).model.losses)
    assert losses.sources["perceptual"] == "pixel L1 (VGG19 file missing)"
    assert losses.sources["face"] == "off (SphereFace file missing)"
    train = ["experiment=lwg_pretrain_tiny", f"paths.assets_dir={tmp_path}", *nets]
    with pytest.raises(InstantiationException, match="vgg19-dcbb9e9d.pth is missing"):
        instantiate(compose_config("train", train).model.losses)
