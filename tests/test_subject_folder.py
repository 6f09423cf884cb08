"""Subjects: ``prepare_subject`` on real photos, the subject folder, ``python -m vmc subject``.

One subject is prepared per module from ``examples/person.jpg`` (128 px crops, 128 px texture,
~3 s) and written once; every other test reads or copies that folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import vmc.subject.folder as folder_mod
from vmc.body.embedded import load_embedded_body
from vmc.cli import main
from vmc.data.lwg_layouts import read_processed_video, read_video
from vmc.io.assets import ASSETS
from vmc.io.processed_video import LAYOUT_VERSION, write_processed_video
from vmc.render.body_render import render_smpl_params
from vmc.subject.folder import (
    PREVIEW_MAX_BYTES,
    read_subject_folder,
    subject_folder,
    write_subject_folder,
)
from vmc.subject.prepare import MIN_PHOTO_SIDE, Subject, prepare_subject
from vmc.subject.texture import SOURCE_NAMES, TextureAtlas

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PERSON, ASTRONAUT = EXAMPLES / "person.jpg", EXAMPLES / "astronaut.jpg"
SIZE = TEX = 128
SUBJECT_FILES = [
    "background.png",
    "background_photo.png",
    "crop.json",
    "fit_report.json",
    "frames/000000.png",
    "masks/000000.png",
    "meta.json",
    "preview.png",
    "smpls.npz",
    "source/000000.png",
    "uv_confidence.png",
    "uv_source.png",
    "uv_texture.png",
]


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def body():
    return load_embedded_body()


@pytest.fixture(scope="module")
def subject(body) -> Subject:
    return prepare_subject([str(PERSON)], body, name="person", image_size=SIZE, texture_size=TEX)


@pytest.fixture(scope="module")
def written(subject, body, tmp_path_factory) -> Path:
    return write_subject_folder(subject, tmp_path_factory.mktemp("subjects") / "person", body)


@pytest.fixture
def copy(written, tmp_path) -> Path:
    """A private copy of the written folder, to break."""
    return Path(shutil.copytree(written, tmp_path / "person"))


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _set_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


# ------------------------------------------------------------------------------ prepare_subject
def test_prepare_subject_fits_cuts_out_and_fills(subject, body) -> None:
    # The fitted body's silhouette overlaps the person alpha.
    _, frags = render_smpl_params(
        body,
        torch.from_numpy(subject.betas)[None],
        torch.from_numpy(subject.poses),
        torch.from_numpy(subject.cams),
        SIZE,
    )
    fitted = (frags.fim[0] >= 0).numpy()
    person = subject.alphas[0] > 0.5
    iou = (fitted & person).sum() / (fitted | person).sum()
    assert iou >= 0.8, f"fitted silhouette IoU {iou:.3f}"
    assert subject.reports[0].facing == "front" and not subject.warnings

    # The background plate is the photo itself far (> 30 px) from the person, and differs from
    # it on the person.
    photo, plate, box = subject.photos[0], subject.background_photo, subject.boxes[0]
    s = box.size / box.side
    to_crop = np.array([[s, 0, -box.x0 * s], [0, s, -box.y0 * s]])
    alpha = cv2.warpAffine(
        subject.alphas[0],
        to_crop,
        photo.shape[1::-1],
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
    )
    near = cv2.dilate((alpha > 0.02).astype(np.uint8), np.ones((61, 61), np.uint8)) > 0
    assert (~near).mean() > 0.3  # enough far pixels for the check to mean something
    np.testing.assert_array_equal(plate[~near], photo[~near])
    on_person = alpha > 0.9
    assert np.abs(plate[on_person].astype(int) - photo[on_person]).mean() > 10

    # Every body texel of the UV texture is filled (some source code other than off-body), and
    # most of the front of the body was seen.
    atlas = TextureAtlas.from_body(body, TEX)
    source = subject.texture.source.reshape(-1)[atlas.texel_index]
    assert (source != SOURCE_NAMES.index("off_body")).all()
    assert (source == SOURCE_NAMES.index("seen")).float().mean() > 0.25
    assert subject.texture.texture.shape == (TEX, TEX, 3)


def test_upper_body_photo_warns(body) -> None:
    astronaut = prepare_subject([str(ASTRONAUT)], body, image_size=SIZE, texture_size=TEX)
    assert any("upper body" in w for w in astronaut.warnings), astronaut.warnings


# -------------------------------------------------------------------------------------- folder
def test_folder_layout(written, subject) -> None:
    assert sorted(str(p.relative_to(written)) for p in written.rglob("*") if p.is_file()) == (
        SUBJECT_FILES
    )
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".")]  # no temp left
    meta = json.loads((written / "meta.json").read_text())
    assert (meta["format"], meta["version"], meta["kind"]) == ("vmc-processed-video", 2, "subject")
    assert (meta["name"], meta["body"], meta["image_size"]) == ("person", "embedded", [SIZE, SIZE])
    assert meta["texture_size"] == TEX and meta["num_betas"] == len(subject.betas)
    assert meta["settings"]["fit"] == "keypoints" and "iters_pose" in meta["settings"]["fit_config"]
    assert set(meta["timings"]) == {"detect", "fit", "cut-out", "background", "texture"}
    assert meta["settings"]["photo_files"] == ["person.jpg"]
    crop = json.loads((written / "crop.json").read_text())["photos"][0]
    assert (crop["photo_width"], crop["photo_height"]) == subject.photos[0].shape[1::-1]
    report = json.loads((written / "fit_report.json").read_text())["photos"][0]
    assert report["silhouette_iou"] == subject.reports[0].silhouette_iou
    assert report["file"] == "person.jpg" and report["warnings"] == []
    assert (written / "preview.png").stat().st_size <= PREVIEW_MAX_BYTES
    preview = np.asarray(Image.open(written / "preview.png"))
    assert preview.shape == (SIZE, 2 * SIZE, 3)  # small enough already: not downscaled


def test_preview_is_downscaled_to_the_limit() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (600, 300, 3), dtype=np.uint8)
    data = folder_mod._preview_png(noise, limit=60_000)
    assert len(data) <= 60_000
    import io

    img = Image.open(io.BytesIO(data))
    assert img.width < 300 and abs(img.height / img.width - 2) < 0.05


def test_round_trip(written, subject) -> None:
    back = read_subject_folder(written, expected_body="embedded")
    assert (back.name, back.body_kind) == (subject.name, subject.body_kind)
    for name in ("crops", "background", "background_photo", "betas", "poses", "cams"):
        a, b = getattr(back, name), getattr(subject, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert len(back.photos) == 1 and np.array_equal(back.photos[0], subject.photos[0])
    np.testing.assert_allclose(back.alphas, subject.alphas, atol=0.5 / 255 + 1e-6)
    assert back.boxes == subject.boxes
    tex, ref = back.texture, subject.texture
    torch.testing.assert_close(tex.texture, ref.texture, atol=0.5 / 255 + 1e-6, rtol=0)
    torch.testing.assert_close(tex.confidence, ref.confidence, atol=0.5 / 255 + 1e-6, rtol=0)
    assert tex.source.dtype == ref.source.dtype and torch.equal(tex.source, ref.source)
    assert back.reports == subject.reports
    assert back.timings == subject.timings and back.settings == subject.settings


def test_subject_folder_reads_as_a_video(written, subject) -> None:
    record = read_processed_video(written)
    assert record.num_frames == 1 and record.body == "embedded" and record.fps is None
    np.testing.assert_array_equal(record.poses, subject.poses)
    np.testing.assert_array_equal(record.betas[0], subject.betas)
    assert record.mask_paths and record.background_path == written / "background.png"
    # A version-1 folder still reads as a video.
    v1 = write_processed_video(
        written.parent.parent / "v1_video",
        subject.crops,
        subject.alphas,
        cams=subject.cams,
        poses=subject.poses,
        betas=subject.betas,
        overwrite=True,
    )
    assert json.loads((v1 / "meta.json").read_text())["version"] == LAYOUT_VERSION == 2
    _set_meta(v1, version=1)
    assert read_video(v1).num_frames == 1


def test_read_errors(copy, written, tmp_path) -> None:
    with pytest.raises(ValueError, match="prepared with the embedded body, not the smpl body"):
        read_subject_folder(written, expected_body="smpl")
    with pytest.raises(FileNotFoundError, match="not found"):
        read_subject_folder(tmp_path / "nobody")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a subject folder .*subject prepare"):
        read_subject_folder(tmp_path / "empty")
    (copy / "uv_texture.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"incomplete: uv_texture.png is missing"):
        read_subject_folder(copy)
    (copy / "source" / "000000.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"incomplete: source/000000.png is missing"):
        read_subject_folder(copy)
    _set_meta(copy, version=3)
    with pytest.raises(ValueError, match="version 3 is newer"):
        read_subject_folder(copy)
    # A version-1 folder: its video parts read, a subject it is not (no texture).
    _set_meta(copy, version=1)
    assert read_processed_video(copy).num_frames == 1
    with pytest.raises(ValueError, match="version-1 .*no texture.*re-run `python -m vmc subject"):
        read_subject_folder(copy)
    # A version-2 video that is not a subject.
    _set_meta(copy, version=2, kind=None)
    with pytest.raises(ValueError, match="not a subject folder.*subject prepare"):
        read_subject_folder(copy)


# ------------------------------------------------------------------------------ all or nothing
@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_write_is_all_or_nothing(subject, body, tmp_path, monkeypatch, error) -> None:
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(folder_mod, "_write_texture", fail)  # midway: frames etc. are written
    with pytest.raises(type(error)):
        write_subject_folder(subject, tmp_path / "new", body)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary sibling


def test_existing_folder_is_kept(subject, body, copy, monkeypatch) -> None:
    before = _digest(copy)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_subject_folder(subject, copy, body)
    assert _digest(copy) == before
    monkeypatch.setattr(folder_mod, "_write_report", lambda *a: (_ for _ in ()).throw(OSError()))
    with pytest.raises(OSError):
        write_subject_folder(subject, copy, body, overwrite=True)  # fails: the old one stays
    assert _digest(copy) == before
    assert [p.name for p in copy.parent.iterdir()] == ["person"]
    monkeypatch.undo()
    (copy / "stale.txt").write_text("from before")
    write_subject_folder(subject, copy, body, overwrite=True)
    assert not (copy / "stale.txt").exists() and (copy / "uv_texture.png").is_file()
    assert [p.name for p in copy.parent.iterdir()] == ["person"]


def test_subject_names_and_paths(tmp_path) -> None:
    assert subject_folder("alice", tmp_path) == tmp_path / "alice"
    assert subject_folder("alice", None) == Path("subjects") / "alice"
    assert subject_folder("./x/alice", tmp_path) == Path("x/alice")
    with pytest.raises(ValueError, match="plain folder name"):
        subject_folder("..", tmp_path)


# ------------------------------------------------------------------------------------------ CLI
def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_cli_prepare_and_show(tmp_path, capsys) -> None:
    subjects = tmp_path / "subjects"
    args = ["--size", str(SIZE), "--texture-size", str(TEX), "--subjects-dir", str(subjects)]
    code, out, err = _run(capsys, "subject", "prepare", "pat", str(PERSON), *args)
    assert code == 0, err
    folder = subjects / "pat"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == (
        SUBJECT_FILES
    )
    assert "person fit: mediapipe keypoints" in out  # fit=auto without SPIN
    for step in ("detect", "fit", "cut-out", "background", "texture", "write"):
        assert f"  {step}: " in out and " s\n" in out
    assert "warnings: none" in out and f"wrote {folder}" in out
    assert read_subject_folder(folder).name == "pat"

    code, out, err = _run(capsys, "subject", "show", "pat", "--subjects-dir", str(subjects))
    assert code == 0, err
    assert "person.jpg (512x512): fit IoU 0." in out and "facing front" in out
    assert "% seen" in out and "preview.png" in out

    before = _digest(folder)
    code, out, err = _run(capsys, "subject", "prepare", "pat", str(PERSON), *args)
    assert code == 2 and "exists; pass --overwrite" in _one_error_line(err)
    assert _digest(folder) == before


def _gradient(path: Path) -> Path:
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    img = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, ::-1]), -1)
    Image.fromarray(np.ascontiguousarray(img)).save(path)
    return path


def _tiny(path: Path) -> Path:
    Image.fromarray(np.full((1, 1, 3), 128, np.uint8)).save(path)
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    return path


@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (_gradient, "gradient.png", "no person found"),
        (_tiny, "tiny.png", f"1x1 pixels: a person needs at least {MIN_PHOTO_SIDE} pixels"),
        (None, "missing.jpg", "not found"),
        (_garbage, "garbage.jpg", "cannot read image"),
    ],
)
def test_cli_bad_photos(tmp_path, capsys, make, name, message) -> None:
    photo = tmp_path / "in" / name
    photo.parent.mkdir()
    if make is not None:
        make(photo)
    subjects = tmp_path / "subjects"
    code, out, err = _run(
        capsys,
        "subject",
        "prepare",
        "x",
        str(photo),
        "--size",
        "128",
        "--subjects-dir",
        str(subjects),
    )
    line = _one_error_line(err)
    assert code == 2 and message in line and name in line, line
    assert not subjects.exists() or not list(subjects.iterdir())


def test_cli_show_incomplete_folder(copy, capsys) -> None:
    (copy / "crop.json").unlink()
    code, _, err = _run(capsys, "subject", "show", str(copy))
    line = _one_error_line(err)
    assert code == 2 and "incomplete: crop.json is missing" in line


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty assets folder, and no other lookup place (no $VMC_ASSETS, no ./assets)."""
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "my_assets"
    root.mkdir()
    return root


def test_cli_fit_spin(assets, capsys) -> None:
    """``--fit spin`` without the weights, or with a file that is not SPIN: one line naming the
    file (and where it goes), nothing written. tests/test_subject_spin.py runs the wired fit."""
    argv = ["subject", "prepare", "x", str(PERSON), "--fit", "spin", "--assets", str(assets)]
    code, _, err = _run(capsys, *argv)
    line = _one_error_line(err)
    assert code == 2 and "spin/spin_ckpt.pth" in line and str(assets) in line, line
    for key in ("smpl", "spin"):  # not the real files: the SPIN file fails to load, clearly
        path = assets / ASSETS[key].relpaths[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for fit in ("spin", "auto"):
        code, _, err = _run(capsys, *argv[:4], "--fit", fit, "--assets", str(assets))
        line = _one_error_line(err)
        assert code == 2 and ("SMPL" in line or "spin_ckpt.pth" in line), line
    assert not (assets.parent / "subjects").exists()
