"""LWG training data: synthetic clips, processed-video layouts, samples and the datamodule.

Everything runs at 64 px with the tiny procedural body (``vmc.body.procedural``).
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import compose_config
from hydra.utils import instantiate
from PIL import Image
from scipy.spatial.transform import Rotation

from vmc.body.model import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.data.backgrounds import BackgroundSource, procedural_background, random_resized_crop
from vmc.data.lwg_datamodule import LWGDataModule
from vmc.data.lwg_dataset import LWGSampleBuilder, LWGVideoDataset, SyntheticLWGDataset
from vmc.data.lwg_layouts import (
    find_videos,
    load_frames,
    load_masks,
    make_synthetic_dataset,
    read_processed_video,
    read_video,
    safe_load_pickle,
    write_processed_video,
)
from vmc.data.synthetic_clips import render_synthetic_clip
from vmc.render.body_render import render_smpl_params, render_textured
from vmc.render.clothing import ROLE_NAMES, Outfit, face_roles, make_clothing_texture
from vmc.render.correspondence import UVLayout
from vmc.render.flow import warp
from vmc.render.texture import uv_render

S = 64


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_arrays(**make_tiny_body())


@pytest.fixture(scope="module")
def layout(body) -> UVLayout:
    return UVLayout.from_body(body)


@pytest.fixture(scope="module")
def clip(body, layout):
    return render_synthetic_clip(body, num_frames=6, image_size=S, seed=3, layout=layout)


@pytest.fixture(scope="module")
def builder(body, layout) -> LWGSampleBuilder:
    # At 64 px the tiny body's limbs are 2-3 px wide: the reference's 3x3 confident-mask
    # erosion would delete them, so the warp checks use no erosion and a finer UV texture.
    return LWGSampleBuilder(body, S, layout, uv_size=128, conf_erode_ks=1, out_dilate_ks=3)


# --------------------------------------------------------------------------------------------
# Synthetic clips
# --------------------------------------------------------------------------------------------


def test_synthetic_clip_person_is_where_the_mask_says(body, clip):
    t = clip.num_frames
    assert clip.frames.shape == (t, S, S, 3) and clip.frames.dtype == np.uint8
    assert clip.masks.shape == (t, S, S) and clip.masks.dtype == np.bool_
    cover = clip.masks.mean()
    assert 0.03 < cover < 0.6
    # Outside the mask every pixel is the clean background; inside, the body differs from it.
    bg = np.broadcast_to(clip.background, clip.frames.shape)
    assert np.array_equal(clip.frames[~clip.masks], bg[~clip.masks])
    inside = np.abs(clip.frames.astype(int) - bg.astype(int))[clip.masks].mean()
    assert inside > 20
    # The stored SMPL parameters reproduce the render exactly.
    n = clip.poses.shape[0]
    _, frags = render_smpl_params(
        body,
        torch.from_numpy(clip.betas)[None].expand(n, -1),
        torch.from_numpy(clip.poses),
        torch.from_numpy(clip.cams),
        S,
    )
    assert torch.equal(frags.fim >= 0, torch.from_numpy(clip.masks))
    # Upright: the head (top of the mask) is above the feet in every frame.
    rows = np.nonzero(clip.masks[0].any(1))[0]
    head_faces = (face_roles(body) == ROLE_NAMES.index("head")).numpy()
    head_rows = np.nonzero(np.isin(clip.fragments.fim[0].numpy(), np.nonzero(head_faces)[0]))[0]
    assert head_rows.mean() < rows.mean()


def test_textures_differ_by_part(body, layout):
    outfit = Outfit(
        skin=(0.9, 0.7, 0.6),
        hair=(0.1, 0.05, 0.0),
        shirt=(0.9, 0.1, 0.1),
        shirt2=(0.9, 0.1, 0.1),
        trousers=(0.1, 0.2, 0.9),
        trousers2=(0.1, 0.2, 0.9),
        shoes=(0.1, 0.8, 0.1),
        sleeve=0.0,
        trouser_length=1.0,
        noise=0.0,
    )
    uv = uv_render(layout, 128)
    tex = make_clothing_texture(body, layout, outfit, uv, np.random.default_rng(0))
    assert tex.shape == (3, 128, 128) and float(tex.min()) >= -1 and float(tex.max()) <= 1
    pose = torch.zeros(1, 72)
    pose[0, 0] = np.pi  # upright, facing the camera
    points, frags = render_smpl_params(
        body, torch.zeros(1, 10), pose, torch.tensor([[0.9, 0.0, 0.1]]), S
    )
    img = render_textured(tex, layout, points, frags, torch.zeros(3, S, S), shading=0.0)[0]
    roles = face_roles(body)[frags.fim[0].clamp(min=0)]
    roles[frags.fim[0] < 0] = -1
    expect = {"leg": outfit.trousers, "foot": outfit.shoes, "hand": outfit.skin}
    means = {}
    for name, rgb in expect.items():
        sel = roles == ROLE_NAMES.index(name)
        assert sel.sum() > 3, name
        means[name] = ((img[:, sel] + 1) / 2).mean(1)
        # Interior pixels carry exactly the outfit colour; edges blend a little with neighbours.
        assert torch.allclose(means[name], torch.tensor(rgb), atol=0.08), (name, means[name])
    names = list(means)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert (means[names[i]] - means[names[j]]).abs().max() > 0.3


def test_backgrounds(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [procedural_background(32, rng, k) for k in ("gradient", "noise", "shapes", "stripes")]
    for im in imgs:
        assert im.shape == (32, 32, 3) and im.dtype == np.uint8 and im.std() > 1
    crop = random_resized_crop(np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3), 16, rng)
    assert crop.shape == (16, 16, 3)
    for i in range(2):
        Image.fromarray(imgs[i]).save(tmp_path / f"bg{i}.jpg")
    src = BackgroundSource(folder=tmp_path)
    assert src.num_images == 2 and src.sample(24, rng).shape == (24, 24, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        BackgroundSource(folder=tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown background kind"):
        procedural_background(8, rng, "plasma")


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------


def test_processed_layout_round_trip(tmp_path, clip):
    out = write_processed_video(
        tmp_path / "v0",
        clip.frames,
        clip.masks,
        cams=clip.cams,
        poses=clip.poses,
        betas=clip.betas,
        fps=25.0,
        body="tiny",
        background=clip.background,
        meta={"action": clip.action},
    )
    rec = read_processed_video(out)
    t = clip.num_frames
    assert rec.num_frames == t and rec.layout == "vmc" and rec.body == "tiny" and rec.fps == 25.0
    assert rec.meta["action"] == clip.action
    np.testing.assert_array_equal(rec.cams, clip.cams)
    np.testing.assert_array_equal(rec.poses, clip.poses)
    np.testing.assert_array_equal(rec.betas, np.broadcast_to(clip.betas, (t, len(clip.betas))))
    assert torch.equal(load_frames(rec, range(t), S), clip.frames_float())
    assert torch.equal(load_masks(rec, [0, 3], S)[:, 0] > 0.5, torch.from_numpy(clip.masks[[0, 3]]))
    assert sorted(rec.front_ids) == sorted(set(rec.front_ids)) and rec.front_ids
    assert np.array_equal(np.asarray(Image.open(rec.background_path)), clip.background)
    # Float frames in [-1, 1] (model convention) give the same files.
    out2 = write_processed_video(
        tmp_path / "v1",
        clip.frames_float(),
        None,
        cams=clip.cams,
        poses=clip.poses,
        betas=clip.betas,
    )
    rec2 = read_video(out2)
    assert rec2.mask_paths is None
    assert torch.equal(load_frames(rec2, [1], S), clip.frames_float()[1:2])
    assert [r.name for r in find_videos(tmp_path)] == ["v0", "v1"]


def test_layout_errors(tmp_path, clip):
    kw = {"cams": clip.cams, "poses": clip.poses, "betas": clip.betas}
    with pytest.raises(ValueError, match="square"):
        write_processed_video(tmp_path / "a", clip.frames[:, :, :32], **kw)
    with pytest.raises(ValueError, match="poses"):
        write_processed_video(
            tmp_path / "a", clip.frames, cams=clip.cams, poses=clip.poses[:2], betas=clip.betas
        )
    write_processed_video(tmp_path / "a", clip.frames, **kw)
    with pytest.raises(FileExistsError):
        write_processed_video(tmp_path / "a", clip.frames, **kw)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    with pytest.raises(FileNotFoundError, match="meta.json"):
        read_processed_video(tmp_path)
    (tmp_path / "a" / "frames" / "000002.png").unlink()
    with pytest.raises(ValueError, match="cams must be"):
        read_processed_video(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="not a processed video"):
        read_video(tmp_path / "nowhere")


def _write_frames(folder, n, size=16, stem="frame_{:08d}"):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        name = stem.format(i) + ".png"
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / name)
        names.append(name)
    return names


def test_iper_v02_layout_reader(tmp_path):
    proc = tmp_path / "primitives" / "vidA" / "processed"
    names = _write_frames(proc / "images", 4)
    (proc / "parse").mkdir()
    for n in names:
        alpha = np.zeros((16, 16), np.uint8)
        alpha[4:12, 6:10] = 255
        Image.fromarray(alpha).save(proc / "parse" / n.replace(".png", "_alpha.png"))
    rng = np.random.default_rng(1)
    cams = rng.uniform(0.5, 1.0, (5, 3)).astype(np.float32)
    pose = rng.normal(0, 0.2, (5, 72)).astype(np.float32)
    shape = rng.normal(0, 1, (5, 10)).astype(np.float32)
    info = {
        "input_info": {"meta_input": {"path": "/somewhere/else.mp4"}},
        "out_img_dir": "/absolute/path/that/does/not/exist",
        "orig_shape": (720, 1280, 3),
        "valid_img_info": {"names": names, "ids": [0, 1, 2, 3], "parse_ids": [0, 1, 3, 4]},
        "processed_pose3d": {"cams": cams, "pose": pose, "shape": shape},
        "processed_front_info": {"ft": {"ids": [2, 0], "body_num": [9, 8]}, "bk": {"ids": [1]}},
        "has_finished": True,
    }
    with open(proc / "vid_info.pkl", "wb") as f:
        pickle.dump(info, f, protocol=2)
    (tmp_path / "train.txt").write_text("vidA\n")
    (recs,) = [find_videos(tmp_path, "train")]
    (rec,) = recs
    assert rec.layout == "iper" and rec.name == "vidA" and rec.body == "smpl"
    keep = [0, 1, 3, 4]
    np.testing.assert_array_equal(rec.cams, cams[keep])
    np.testing.assert_allclose(rec.poses, pose[keep])
    np.testing.assert_array_equal(rec.betas, shape[keep])
    assert rec.front_ids == [2, 0]
    masks = load_masks(rec, [1], 16)
    assert masks.shape == (1, 1, 16, 16) and masks[0, 0, 8, 8] == 1 and masks[0, 0, 0, 0] == 0
    assert load_frames(rec, [0, 3], 8).shape == (2, 3, 8, 8)


def test_iper_legacy_layout_reader(tmp_path):
    vid = tmp_path / "processed" / "person_01"
    _write_frames(vid / "images", 3, stem="{:06d}")
    (vid / "parse").mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 255, np.uint8)).save(vid / "parse" / f"{i:06d}_alpha.png")
    rot = Rotation.random(3 * 24, random_state=0)
    quats = rot.as_quat().reshape(3, 96).astype(np.float32)  # (x, y, z, w), iPERCore's order
    data = {"cams": np.ones((3, 3), np.float32), "pose": quats, "shape": np.zeros((3, 10))}
    with open(vid / "pose_shape.pkl", "wb") as f:
        pickle.dump(data, f)
    (vid / "front_path.json").write_text(json.dumps({"ft": {"ids": [1]}, "bk": {"ids": [0]}}))
    (rec,) = find_videos(tmp_path)
    assert rec.layout == "iper-legacy" and rec.front_ids == [1] and rec.mask_paths is not None
    back = Rotation.from_rotvec(rec.poses.reshape(-1, 3).astype(np.float64))
    assert np.allclose((back.inv() * rot).magnitude(), 0, atol=1e-4)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickles_are_loaded_safely(tmp_path):
    path = tmp_path / "vid_info.pkl"
    path.write_bytes(pickle.dumps({"x": _Evil()}))
    with pytest.raises(ValueError, match="refusing to load global"):
        safe_load_pickle(path)
    path.write_bytes(pickle.dumps({"a": np.arange(3), "b": [1, (2, "c")]}))
    got = safe_load_pickle(path)
    assert np.array_equal(got["a"], np.arange(3)) and got["b"] == [1, (2, "c")]
    with pytest.raises(FileNotFoundError):
        safe_load_pickle(tmp_path / "missing.pkl")


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------


def _masked_mean(x: torch.Tensor, m: torch.Tensor) -> float:
    return float((x * m).sum() / m.sum().clamp(min=1))


def test_synthetic_sample_shapes_ranges_and_warp(builder, body):
    ns, nt = 2, 2
    ds = SyntheticLWGDataset(builder, ns, nt, length=4, clip_frames=12, deterministic=True, seed=5)
    x = ds[1]
    shapes = {
        "bg_inputs": (1, 4, S, S),
        "src_inputs": (ns, 6, S, S),
        "tsf_inputs": (nt, 6, S, S),
        "Tst": (nt, ns, S, S, 2),
        "src_img": (ns, 3, S, S),
        "tgt_img": (nt, 3, S, S),
        "src_mask": (ns, 1, S, S),
        "tgt_mask": (nt, 1, S, S),
        "aug_bg": (3, S, S),
        "aug_bg_inputs": (1, 4, S, S),
        "bg_img": (3, S, S),
        "body_rects": (nt, 4),
        "head_rects": (nt, 4),
        "src_poses": (ns, 72),
        "tgt_betas": (nt, body.num_betas),
    }
    for key, shape in shapes.items():
        assert tuple(x[key].shape) == shape, key
    for key in ("src_img", "tgt_img", "aug_bg", "bg_img", "src_inputs", "tsf_inputs"):
        assert float(x[key].min()) >= -1 and float(x[key].max()) <= 1, key
    for key in ("src_mask", "tgt_mask"):
        assert set(x[key].unique().tolist()) <= {0.0, 1.0}
    # Masks, codes and flows agree: background code channel = target bg mask, sentinel outside.
    bgm = x["tgt_mask"][:, 0].bool()
    assert torch.equal(x["tsf_inputs"][:, 5] == 1, bgm)
    tst = x["Tst"]
    assert bool((tst[bgm[:, None].expand(-1, ns, -1, -1)] == -2).all())
    inside = tst[~bgm[:, None].expand(-1, ns, -1, -1)]
    assert float(inside.abs().max()) <= 1.0 + 1e-4
    # Boxes: inside the image, the head box in the upper part of the body box.
    for r in (x["body_rects"], x["head_rects"]):
        assert bool(((r >= 0) & (r <= S)).all()) and bool((r[:, 0] < r[:, 1]).all())
    hb, bb = x["head_rects"].float(), x["body_rects"].float()
    assert bool(((hb[:, 2] + hb[:, 3]) / 2 < (bb[:, 2] + bb[:, 3]) / 2).all())
    # Deterministic samples are reproducible.
    assert torch.equal(ds[1]["Tst"], tst)

    # The generator's geometric inputs reproduce the target inside the body. Baseline: how much
    # the target's colours vary over its body (a random pixel pairing).
    errs_syn, errs_warp, base = [], [], []
    for i in range(3):
        x = ds[i]
        body_m = 1 - x["tgt_mask"]
        tgt = x["tgt_img"]
        syn = x["tsf_inputs"][:, :3]
        errs_syn.append(_masked_mean((syn - tgt).abs().mean(1, keepdim=True), body_m))
        # Warp the source whose body covers the target pixel best (visibility per source).
        w = torch.stack(
            [
                warp(x["src_img"][j : j + 1].expand(nt, -1, -1, -1), x["Tst"][:, j])
                for j in range(ns)
            ]
        )  # [ns, nt, 3, S, S]
        err = (w - tgt[None]).abs().mean(2, keepdim=True).amin(0)
        errs_warp.append(_masked_mean(err, body_m))
        flat = tgt.permute(1, 0, 2, 3).reshape(3, -1)[:, body_m.reshape(-1) > 0]
        perm = flat[:, torch.randperm(flat.shape[1])]
        base.append(float((flat - perm).abs().mean()))
    assert np.mean(errs_warp) < 0.15 * np.mean(base), (errs_warp, base)
    assert np.mean(errs_syn) < 0.25 * np.mean(base), (errs_syn, base)


def test_video_dataset_from_disk(tmp_path, body, builder):
    make_synthetic_dataset(tmp_path, 2, num_frames=6, image_size=S, seed=1, body=body)
    videos = find_videos(tmp_path)
    assert [v.body for v in videos] == ["custom", "custom"]
    ds = LWGVideoDataset(videos, builder, num_source=3, time_step=2, length=4, seed=0)
    x = ds[1]
    v = videos[1]
    assert int(x["video_index"]) == 1 and int(x["src_ids"][0]) == v.front_ids[0]
    assert x["tgt_ids"].tolist() == sorted(x["tgt_ids"].tolist())
    assert bool(x["has_bg"])
    bg = torch.from_numpy(np.array(Image.open(v.background_path))).permute(2, 0, 1) / 127.5 - 1
    assert torch.allclose(x["bg_img"], bg)
    # The on-disk masks are the rendered silhouettes, so masks and correspondence maps agree.
    assert torch.equal(x["tsf_inputs"][:, 5] == 1, x["tgt_mask"][:, 0].bool())
    assert len(ds) == 4
    with pytest.raises(IndexError):
        ds[4]


def test_datamodule_batches(tmp_path):
    make_synthetic_dataset(
        tmp_path,
        2,
        num_frames=5,
        image_size=S,
        seed=2,
        body=BodyModel.from_arrays(**make_tiny_body()),
        val_fraction=0.5,
    )
    assert (tmp_path / "val.txt").read_text().split() == ["clip_00001"]
    kw = {
        "body": {"kind": "tiny"},
        "image_size": S,
        "num_source": 2,
        "time_step": 1,
        "batch_size": 2,
        "train_length": 4,
        "val_length": 2,
    }
    dm = LWGDataModule(root=str(tmp_path), **kw)
    batch = next(iter(dm.train_dataloader()))
    assert batch["src_inputs"].shape == (2, 2, 6, S, S)
    assert batch["Tst"].shape == (2, 1, 2, S, S, 2)
    assert batch["bg_inputs"].shape == (2, 1, 4, S, S)
    assert batch["aug_bg_inputs"].shape == (2, 1, 4, S, S)
    val = list(dm.val_dataloader())
    assert len(val) == 1 and bool((val[0]["video_index"] == 0).all())  # the one val video
    # On-the-fly synthetic clips need no files.
    dm2 = LWGDataModule(root=None, **kw)
    b2 = next(iter(dm2.val_dataloader()))
    assert b2["tsf_inputs"].shape == (2, 1, 6, S, S) and bool(b2["has_bg"].all())


def test_data_configs_compose_and_instantiate(tmp_path):
    for name in ("lwg_synthetic", "lwg_processed", "lwg_iper"):
        cfg = compose_config("train", [f"data={name}"], output_dir=tmp_path)
        assert cfg.data._target_ == "vmc.data.lwg_datamodule.LWGDataModule"
    cfg = compose_config(
        "train",
        [
            "data=lwg_synthetic",
            "data.body.kind=tiny",
            f"data.image_size={S}",
            "data.num_workers=0",
            "data.num_source=1",
            "data.time_step=1",
            "data.val_length=1",
        ],
        output_dir=tmp_path,
    )
    dm = instantiate(cfg.data)
    batch = next(iter(dm.val_dataloader()))
    assert batch["src_inputs"].shape == (1, 1, 6, S, S)
