"""MotionCLIP training parts: losses, metrics, feature cache, windows dataset, datamodule."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from motionclip_stubs import HashTextEncoder

from vmc.body.model import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.data.motion_datamodule import EpochSampler, MotionDataModule
from vmc.data.motion_dataset import MotionWindowDataset
from vmc.data.motion_sources import MotionRecord, load_procedural
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_rot6d_rows
from vmc.motion.losses import (
    LossWeights,
    PosedBody,
    cosine_loss,
    masked_mse,
    motion_losses,
    velocity_loss,
)
from vmc.motion.metrics import MaskedMSE, MeanPositionError, RetrievalRPrecision, r_precision
from vmc.motion.types import Motion
from vmc.text.feature_cache import CACHE_MARKER, FeatureCache, clear_feature_cache


@pytest.fixture(scope="module")
def tiny_body() -> BodyModel:
    return BodyModel.from_arrays(**make_tiny_body())


def _random_motion(b: int, t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    rot = axis_angle_to_matrix(torch.randn(b, t, 24, 3, generator=g) * 0.4)
    x = torch.zeros(b, 25, 6, t)
    x[:, :24] = matrix_to_rot6d_rows(rot).permute(0, 2, 3, 1)
    x[:, 24, :3] = torch.randn(b, 3, t, generator=g) * 0.1
    return x


# ---------------------------------------------------------------------------------- losses


def test_masked_mse_ignores_padded_frames() -> None:
    x = torch.zeros(2, 25, 6, 5)
    y = torch.zeros(2, 25, 6, 5)
    y[0, :, :, :3] = 1.0  # error 1 on valid frames of sample 0
    y[:, :, :, 4] = 100.0  # huge error on padded frame 4 only
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[:, 4] = False
    # 3 of the 8 valid frames of the batch have squared error 1 everywhere.
    assert masked_mse(x, y, mask).item() == pytest.approx(3 / 8)
    assert velocity_loss(x, x + 5.0, mask).item() == pytest.approx(0.0)  # constant offset
    ramp = torch.arange(5.0).expand(2, 25, 6, 5)
    # Differences of 1 vs 0 over mask[:, 1:] (frames 1..3 valid) -> 1.
    assert velocity_loss(x, ramp, mask).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mask"):
        masked_mse(x, y, mask[:, :4])


def test_cosine_loss_values() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert cosine_loss(a, a * 3).item() == pytest.approx(0.0, abs=1e-6)
    assert cosine_loss(a, -a).item() == pytest.approx(2.0)
    assert cosine_loss(a, a.flip(1)).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="latent size"):
        cosine_loss(a, torch.zeros(2, 3))


def test_posed_body_matches_body_model(tiny_body: BodyModel) -> None:
    rot = axis_angle_to_matrix(torch.randn(4, 24, 3) * 0.5)
    ref = tiny_body(rotations=rot)
    verts, joints = PosedBody(tiny_body)(rot)
    assert torch.allclose(verts, ref.vertices, atol=1e-5)
    assert torch.allclose(joints, ref.joints, atol=1e-5)
    subset = PosedBody(tiny_body, num_vertices=50)
    v_sub, _ = subset(rot)
    assert v_sub.shape == (4, 50, 3)
    assert torch.allclose(v_sub, ref.vertices[:, subset.vertex_ids], atol=1e-5)


def test_motion_losses_total_and_vertex_term(tiny_body: BodyModel) -> None:
    x = _random_motion(3, 8)
    out = _random_motion(3, 8, seed=1)
    mask = torch.ones(3, 8, dtype=torch.bool)
    mask[2, 5:] = False
    mu, text = torch.randn(3, 16), torch.randn(3, 16)
    w = LossWeights(rc=2.0, rcxyz=3.0, vel=5.0, text_cosine=7.0, image_cosine=0.0)
    body = PosedBody(tiny_body)
    terms = motion_losses(x, out, mask, mu, w, body=body, text_features=text)
    expected = 2 * terms["rc"] + 3 * terms["rcxyz"] + 5 * terms["vel"] + 7 * terms["text_cosine"]
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert "image_cosine" not in terms
    # rcxyz = MSE of vertices of the valid frames, posed independently.
    v_x, _ = body.pose_motion(x, mask)
    v_o, _ = body.pose_motion(out, mask)
    assert v_x.shape[0] == int(mask.sum())
    assert terms["rcxyz"].item() == pytest.approx(((v_x - v_o) ** 2).mean().item(), rel=1e-5)
    # Identical motions: no reconstruction loss.
    same = motion_losses(x, x.clone(), mask, mu, w, body=body)
    assert same["mixed_without_clip"].item() == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match="body model"):
        motion_losses(x, out, mask, mu, w)


# ---------------------------------------------------------------------------------- metrics


def test_r_precision_perfect_and_chance() -> None:
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(64, 16, generator=g)
    assert r_precision(feats * 2.0, feats) == {1: 1.0, 3: 1.0}
    # Unrelated latents: chance is k / 32 (averaged over 200 groups).
    scores = r_precision(torch.randn(6400, 16, generator=g), torch.randn(6400, 16, generator=g))
    assert scores[1] == pytest.approx(1 / 32, abs=0.01)
    assert scores[3] == pytest.approx(3 / 32, abs=0.015)
    # A wrong pairing (each motion matches the next text) gives 0 at top-1.
    assert r_precision(feats, feats.roll(1, dims=0))[1] == 0.0


def test_retrieval_metric_groups_of_32_across_updates() -> None:
    metric = RetrievalRPrecision(group_size=32)
    feats = torch.randn(70, 8)
    for chunk in feats.split(20):  # batches do not align with groups
        metric.update(chunk, chunk + 0.01 * torch.randn_like(chunk))
    out = metric.compute()
    assert out["top1"].item() == 1.0 and out["top3"].item() == 1.0
    metric.reset()
    metric.update(feats[:5], torch.randn(5, 8))  # fewer than 32: one group of 5
    assert 0.0 <= metric.compute()["top1"].item() <= 1.0


def test_position_and_rot6d_metrics() -> None:
    pos = MeanPositionError(scale=1000.0)
    target = torch.zeros(2, 10, 3)
    pos.update(target + torch.tensor([0.003, 0.004, 0.0]), target)  # 5 mm everywhere
    assert pos.compute().item() == pytest.approx(5.0, rel=1e-5)
    mse = MaskedMSE()
    x = torch.zeros(1, 24, 6, 4)
    y = x.clone()
    y[..., 3] = 10.0
    mask = torch.tensor([[True, True, True, False]])
    mse.update(y, x, mask)
    assert mse.compute().item() == 0.0
    with pytest.raises(ValueError):
        pos.update(target, target[:, :5])


# ---------------------------------------------------------------------------------- cache


def test_feature_cache_memory_disk_and_clear(tmp_path) -> None:
    encoder = HashTextEncoder(dim=8)
    cache = FeatureCache(encoder, tmp_path / "features")
    feats = cache.text_features(["walk", "jump", "walk"])
    assert feats.shape == (3, 8) and torch.equal(feats[0], feats[2])
    assert encoder.calls == 1 and sorted(encoder.texts_encoded) == ["jump", "walk"]
    cache.text_features(["jump", "walk"])
    assert encoder.calls == 1  # memory hit
    assert torch.allclose(feats[1], encoder.encode(["jump"])[0])

    # A new cache over the same directory reads the disk; no encoder call.
    fresh_encoder = HashTextEncoder(dim=8)
    fresh = FeatureCache(fresh_encoder, tmp_path / "features")
    assert torch.equal(fresh.text_features(["walk", "jump", "walk"]), feats)
    assert fresh_encoder.calls == 0 and fresh.disk_hits == 2
    # Another model (different weights -> cache_id) never reads those files.
    other = HashTextEncoder(dim=8, salt=1)
    FeatureCache(other, tmp_path / "features").text_features(["walk"])
    assert other.calls == 1

    cleared = clear_feature_cache(tmp_path / "features")
    assert len(cleared) == 3 and cleared.bytes_freed == 3 * (128 + 8 * 4)  # .npy header + [8] f32
    assert [p.name for p in (tmp_path / "features").iterdir()] == [CACHE_MARKER]
    assert len(clear_feature_cache(tmp_path / "missing")) == 0
    again = HashTextEncoder(dim=8)
    FeatureCache(again, tmp_path / "features").text_features(["walk"])
    assert again.calls == 1


def test_feature_cache_images(tmp_path) -> None:
    from vmc.io.images import write_image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        path = tmp_path / f"f{i}.png"
        write_image(path, rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
        paths.append(str(path))
    encoder = HashTextEncoder(dim=8, image_tower=True)
    cache = FeatureCache(encoder, tmp_path / "features")
    feats = cache.image_features(paths + paths[:1])
    assert feats.shape == (3, 8) and torch.equal(feats[0], feats[2])
    assert encoder.images_encoded == 2
    cache.image_features(paths)
    assert encoder.images_encoded == 2
    with pytest.raises(ValueError, match="no image encoder"):
        FeatureCache(HashTextEncoder(dim=8)).image_features(paths)


# ---------------------------------------------------------------------------------- dataset


def _record(num_frames: int = 80, up_axis: str = "y", name: str = "clip", **kw) -> MotionRecord:
    rng = np.random.default_rng(len(name) + num_frames)
    poses = (rng.standard_normal((num_frames, 24, 3)) * 0.2).astype(np.float32)
    trans = np.cumsum(rng.standard_normal((num_frames, 3)) * 0.01, axis=0).astype(np.float32)
    texts = kw.pop("texts", ["a person walks", "someone walks"])
    motion = Motion(
        poses, trans, 30.0, frame=f"{up_axis}_up", texts=texts, source="test", name=name
    )
    return MotionRecord(motion, **kw)


def test_dataset_windows_are_seeded_by_index_and_epoch() -> None:
    ds = MotionWindowDataset([_record(name="a"), _record(name="bb")], num_frames=60, seed=3)
    item = ds[(0, 0)]
    assert item["x"].shape == (25, 6, 60) and item["x"].dtype == torch.float32
    assert item["mask"].all() and item["image"] == "" and item["index"] == 0
    assert torch.equal(ds[(0, 0)]["x"], item["x"])  # same (index, epoch) -> same item
    starts = set()
    for epoch in range(12):
        x = ds[(0, epoch)]["x"]
        starts.add(round(float(x[0, 0, 0]), 6))
    assert len(starts) > 3  # windows move between epochs
    # Root translation row: horizontal parts start at zero in every window.
    assert torch.allclose(item["x"][24, [0, 2], 0], torch.zeros(2), atol=1e-6)
    assert set(ds.all_texts()) == {"a person walks", "someone walks"}

    val = MotionWindowDataset([_record(name="a")], num_frames=60, train=False)
    assert torch.equal(val[0]["x"], val[0]["x"]) and val[0]["text"] == "a person walks"


def test_dataset_padding_labels_and_up_axis() -> None:
    labels = np.array(["walk"] * 40 + [""] * 20 + ["turn"] * 40)
    rec = _record(100, name="babel", texts=["x"], frame_labels=labels)
    ds = MotionWindowDataset([rec], num_frames=60, train=True, seed=0)
    texts = {ds[(0, e)]["text"] for e in range(30)}
    assert texts <= set(ds.all_texts())
    assert " and turn and walk" in ds.all_texts()  # sorted unique labels, "" included

    short = MotionWindowDataset([_record(30, name="short")], num_frames=60, min_frames=20)
    item = short[0]
    assert item["mask"].sum() == 30 and (item["x"][..., 30:] == 0).all()
    assert len(MotionWindowDataset([_record(30, name="s")], num_frames=60)) == 0  # paper: drop

    z_rec = _record(60, up_axis="z", name="amass")
    y_item = MotionWindowDataset([z_rec], num_frames=60, up_axis="y", train=False)[0]
    same = MotionWindowDataset([z_rec.to_frame("y_up")], num_frames=60, up_axis="y", train=False)
    same = same[0]
    assert torch.allclose(y_item["x"], same["x"], atol=1e-5)
    kept = MotionWindowDataset([z_rec], num_frames=60, up_axis="z", train=False)[0]
    assert not torch.allclose(kept["x"][0], y_item["x"][0], atol=1e-3)  # root differs

    with pytest.raises(ValueError, match="translation"):
        MotionWindowDataset([rec], translation="ankle")


def test_datamodule_split_batches_and_divisibility() -> None:
    records = load_procedural(12, num_frames=60, seed=0)
    dm = MotionDataModule([records], val_fraction=0.25, batch_size=4, val_text="heldout")
    dm.setup()
    assert len(dm.train_set) + len(dm.val_set) == 12 and len(dm.val_set) > 0
    names = {r.motion.name for r in dm.train_set.records}
    names &= {r.motion.name for r in dm.val_set.records}
    assert not names
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (4, 25, 6, 60) and len(batch["text"]) == 4
    held = {t for r in dm.val_set.records for t in r.texts_heldout}
    assert next(iter(dm.val_dataloader()))["text"][0] in held

    # Worker processes draw the same windows and captions (randomness = f(seed, epoch, index)).
    workers = MotionDataModule([records], val_fraction=0.25, batch_size=4, num_workers=1)
    other = next(iter(workers.train_dataloader()))
    assert torch.equal(other["x"], batch["x"]) and other["text"] == batch["text"]

    dm.trainer = SimpleNamespace(world_size=3, global_rank=0)
    with pytest.raises(ValueError, match="divisible by the 3 devices"):
        dm.train_dataloader()
    with pytest.raises(ValueError, match="training source"):
        MotionDataModule([])


def test_epoch_sampler_depends_only_on_seed_and_epoch() -> None:
    data = list(range(10))
    a, b = EpochSampler(data, num_replicas=1, rank=0, seed=1), EpochSampler(data, 1, 0, seed=1)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b) and all(e == 3 for _, e in a)
    b.set_epoch(4)
    assert [i for i, _ in a] != [i for i, _ in b]
    halves = [list(EpochSampler(data, num_replicas=2, rank=r, seed=1)) for r in (0, 1)]
    assert sorted(i for h in halves for i, _ in h) == data


def test_render_clip_frames(tmp_path, tiny_body: BodyModel) -> None:
    from vmc.data.motion_frames import frame_path, render_clip_frames
    from vmc.io.images import read_image

    records = [_record(20, name="sub/a#chunk000"), _record(20, up_axis="z", name="sub/b")]
    paths = render_clip_frames(records, tmp_path, tiny_body, image_size=32)
    assert paths == [frame_path(tmp_path, r.motion.name) for r in records]
    image = read_image(paths[0])
    assert image.shape == (32, 32, 3)
    assert image.std() > 5  # the body is drawn, not a flat background
    ds = MotionWindowDataset(records, num_frames=20, frames_dir=tmp_path)
    assert ds.all_images() == sorted(str(p) for p in paths)
    assert not math.isnan(float(image.mean()))


def test_info_nce_loss_values_and_duplicate_captions():
    from vmc.motion.losses import info_nce_loss

    torch.manual_seed(0)
    feats = torch.randn(4, 8)
    # Latents equal to their own features score far better than shuffled ones.
    aligned = info_nce_loss(feats * 3.0, feats, temperature=0.1)
    shuffled = info_nce_loss(feats[[1, 2, 3, 0]], feats, temperature=0.1)
    assert aligned < 0.1 < shuffled
    # Formula check on a tiny case: two items, orthogonal unit vectors, T = 1.
    eye = torch.eye(2)
    expected = -torch.log_softmax(torch.tensor([1.0, 0.0]), 0)[0]
    assert info_nce_loss(eye, eye, 1.0).item() == pytest.approx(expected.item(), rel=1e-5)
    # A caption carried by two items: both are positives, so matching either costs the same.
    dup = torch.stack([feats[0], feats[0], feats[1]])
    mu = torch.stack([feats[0], feats[0], feats[1]])
    loss_dup = info_nce_loss(mu, dup, 0.1)
    assert torch.isfinite(loss_dup) and loss_dup.item() == pytest.approx(
        info_nce_loss(mu[[1, 0, 2]], dup, 0.1).item(), rel=1e-5
    )


def test_lr_factor_warmup_and_cosine():
    from vmc.systems.motionclip import lr_factor

    assert lr_factor(0, warmup=4, total=100, schedule="constant") == 0.25
    assert lr_factor(3, warmup=4, total=100, schedule="cosine") == 1.0
    assert lr_factor(50, warmup=4, total=100, schedule="constant") == 1.0
    assert lr_factor(4, warmup=4, total=100, schedule="cosine") == pytest.approx(1.0)
    assert lr_factor(52, warmup=4, total=100, schedule="cosine") == pytest.approx(0.5)
    assert lr_factor(100, warmup=4, total=100, schedule="cosine") == pytest.approx(0.0)


def test_trajectory_term_supervises_row_24_alone():
    from vmc.motion.losses import LossWeights, masked_mse, motion_losses, velocity_loss

    torch.manual_seed(0)
    x, out = torch.randn(2, 25, 6, 10), torch.randn(2, 25, 6, 10)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 7:] = False
    weights = LossWeights(rc=0, rcxyz=0, vel=0, text_cosine=0, image_cosine=0, traj=2.0)
    terms = motion_losses(x, out, mask, torch.randn(2, 4), weights)
    a, b = x[:, 24, :3], out[:, 24, :3]
    expected = masked_mse(a, b, mask) + velocity_loss(a, b, mask)
    assert terms["traj"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["loss"].item() == pytest.approx(2.0 * expected.item(), rel=1e-6)
    # Only the translation numbers count: changing a rotation row leaves it unchanged.
    out2 = out.clone()
    out2[:, 3] += 1.0
    assert motion_losses(x, out2, mask, torch.randn(2, 4), weights)["traj"] == terms["traj"]
