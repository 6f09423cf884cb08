"""The stage-choice resolver: which implementation each group runs, from the files present."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vmc.io.assets import ASSETS
from vmc.io.stages import StageRequest, embedded_motionclip_available, resolve_stages


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty assets folder, and no other lookup place (no $VMC_ASSETS, no ./assets)."""
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "my_assets"
    root.mkdir()
    return root


def _put(root: Path, *keys: str) -> None:
    for key in keys:
        path = root / ASSETS[key].relpaths[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def _resolve(root: Path, **kwargs) -> object:
    return resolve_stages(StageRequest(assets_dir=str(root), **kwargs))


def test_nothing_found_gives_the_embedded_default(assets):
    c = _resolve(assets)
    expected_motion = "embedded" if embedded_motionclip_available() else "retrieval"
    assert c.motion.kind == expected_motion and "no paper MotionCLIP" in c.motion.why
    assert (c.body.kind, c.fit.kind, c.appearance.kind, c.background.kind) == (
        "embedded", "keypoints", "warp", "inpaint"
    )  # fmt: skip
    assert [r[0] for r in c.rows()] == ["motion", "body", "person fit", "appearance", "background"]
    # the run record is plain data
    assert yaml.safe_load(yaml.safe_dump(c.to_dict()))["body"]["kind"] == "embedded"


def test_paper_motion_needs_both_files(assets):
    _put(assets, "motionclip")
    c = _resolve(assets)
    assert c.motion.kind != "paper" and "CLIP ViT-B/32 weights not found" in c.motion.why
    with pytest.raises(FileNotFoundError, match="CLIP ViT-B/32"):
        _resolve(assets, motion="paper")
    _put(assets, "clip")
    c = _resolve(assets)
    assert c.motion.kind == "paper"
    assert set(c.motion.files) == {"checkpoint", "clip"}
    assert all(p.is_file() for p in c.motion.files.values())
    # an explicit embedded request is honoured even when the paper files are there
    if embedded_motionclip_available():
        assert _resolve(assets, motion="embedded").motion.kind == "embedded"
    assert _resolve(assets, motion="retrieval").motion.why == "motion=retrieval"


def test_motion_run(assets, tmp_path):
    with pytest.raises(ValueError, match="motion.run="):
        _resolve(assets, motion="run")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _resolve(assets, motion_run=str(tmp_path / "nope"))
    run = tmp_path / "run"
    run.mkdir()
    c = _resolve(assets, motion_run=str(run))
    assert c.motion.kind == "run" and c.motion.files["run"] == run


def test_body_and_fit_groups(assets):
    with pytest.raises(FileNotFoundError, match="SMPL"):
        _resolve(assets, body="smpl")
    _put(assets, "spin")
    c = _resolve(assets)
    assert c.fit.kind == "keypoints" and "SPIN needs SMPL" in c.fit.why
    with pytest.raises(ValueError, match="fit=spin needs the SMPL body"):
        _resolve(assets, fit="spin")
    _put(assets, "smpl")
    c = _resolve(assets)
    assert c.body.kind == "smpl" and c.fit.kind == "spin"
    assert _resolve(assets, body="embedded").fit.kind == "keypoints"  # SPIN is SMPL-only
    assert _resolve(assets, fit="keypoints").fit.why == "fit=keypoints"


def test_appearance_needs_smpl_and_its_uv_files(assets):
    _put(assets, "lwg")
    c = _resolve(assets)
    assert c.appearance.kind == "warp" and "need the SMPL body" in c.appearance.why
    _put(assets, "smpl")
    c = _resolve(assets)
    assert c.appearance.kind == "warp" and "UV files" in c.appearance.why
    with pytest.raises(FileNotFoundError, match="UV files"):
        _resolve(assets, appearance="lwg")
    _put(assets, "smpl_uv", "smpl_fim_enc")
    c = _resolve(assets)
    assert c.appearance.kind == "lwg" and c.background.kind == "bgnet"
    assert c.background.files["generator"] == c.appearance.files["generator"]
    c = _resolve(assets, appearance="warp")
    assert c.appearance.kind == "warp" and c.background.kind == "inpaint"


def test_missing_generator_requested_explicitly(assets):
    with pytest.raises(FileNotFoundError, match="Liquid Warping GAN"):
        _resolve(assets, appearance="lwg")


@pytest.mark.parametrize("key", ["motion", "body", "fit", "appearance"])
def test_unknown_kind_is_rejected(key):
    with pytest.raises(ValueError, match=f"{key} must be one of"):
        StageRequest(**{key: "banana"})


def test_explicit_path_that_does_not_exist(assets, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _resolve(assets, smpl=str(tmp_path / "missing.pkl"))
