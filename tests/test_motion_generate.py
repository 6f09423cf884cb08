"""Text -> motion inference, chaining, sequences and latent editing (vmc.motion.generate)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import nn

from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    geodesic_angle,
    rot6d_rows_to_matrix,
)
from vmc.motion.convert import smpl_to_motion
from vmc.motion.export import load_motion_npz
from vmc.motion.generate import MotionResult, TextToMotion, read_prompt_file, slerp
from vmc.motion.model import REFERENCE_GENERATE_ROOT_6D, MotionCLIP
from vmc.motion.procedural import generate_motion
from vmc.text.base import TextEncoder

DIM = 16
WINDOW = 30


class StubEncoder(TextEncoder):
    """Deterministic text features: a fixed random vector per text (seeded by its hash)."""

    name = "stub"
    dim = DIM
    max_tokens = 64

    def __init__(self) -> None:
        super().__init__(nn.Identity())

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            rows.append(torch.randn(DIM, generator=torch.Generator().manual_seed(seed)) * 2.0)
        return torch.stack(rows)


@pytest.fixture(scope="module")
def model() -> MotionCLIP:
    """A tiny random MotionCLIP whose output rotations stay near identity.

    A raw random decoder emits near-zero 6D vectors, whose Gram-Schmidt rotations jump by up to
    pi between frames, so no continuity bound could fail. A small output layer around the
    identity 6D gives motion-like frame-to-frame changes (~0.06 rad) instead.
    """
    torch.manual_seed(2)
    model = MotionCLIP(
        latent_dim=DIM, ff_size=32, num_layers=2, num_heads=2, dropout=0.1, max_positions=128
    )
    with torch.no_grad():
        model.decoder.finallayer.weight.mul_(0.1)
        bias = torch.zeros(25, 6)
        bias[:24, 0] = bias[:24, 4] = 1.0
        model.decoder.finallayer.bias.copy_(bias.reshape(-1))
    return model.eval()


@pytest.fixture
def t2m(model: MotionCLIP) -> TextToMotion:
    return TextToMotion(model, StubEncoder(), translation="root", fps=30.0, window=WINDOW)


def _frame_jumps(x: torch.Tensor) -> torch.Tensor:
    """Largest joint-rotation change between consecutive frames, ``[T-1]`` (radians)."""
    rot = rot6d_rows_to_matrix(x[0, :24].permute(2, 0, 1))  # [T, 24, 3, 3]
    return geodesic_angle(rot[:-1], rot[1:]).max(dim=1).values


# ---------------------------------------------------------------- single window


def test_shapes_and_fields(t2m: TextToMotion) -> None:
    res = t2m(["a person walks", "someone jumps"], 24)
    assert isinstance(res, MotionResult)
    assert res.x.shape == (2, 25, 6, 24)
    assert len(res.motions) == 2 and res.latents.shape == (2, DIM)
    for motion, text in zip(res.motions, ["a person walks", "someone jumps"], strict=True):
        assert motion.poses.shape == (24, 24, 3) and motion.trans.shape == (24, 3)
        assert motion.fps == 30.0 and motion.texts == [text] and motion.frame == "y_up"
        assert motion.segments == [] and motion.root_rest is None  # not given to TextToMotion
    rot = rot6d_rows_to_matrix(res.x[0, :24].permute(2, 0, 1))
    assert torch.allclose(res.motions[0].rotations(), rot, atol=1e-5)


def test_single_window_equals_plain_decode(t2m: TextToMotion, model: MotionCLIP) -> None:
    texts = ["a person walks", "someone jumps"]
    # the text feature is the latent, unnormalised (docs/conventions.md#motionclip-text-to-motion)
    z = StubEncoder().encode(texts)
    with torch.no_grad():
        expected = model.decode(z, num_frames=WINDOW)
    res = t2m(texts)
    assert torch.equal(res.x, expected)
    assert torch.equal(res.latents, z)
    trans = torch.stack([torch.from_numpy(m.trans) for m in res.motions])
    assert torch.equal(trans, expected[:, 24, :3].permute(0, 2, 1))


def test_reference_behaviour_options(model: MotionCLIP) -> None:
    ref = TextToMotion(
        model, StubEncoder(), translation="reference", fps=30.0, window=WINDOW, overwrite_root=True
    )
    res = ref(["wave"])
    root = torch.tensor(REFERENCE_GENERATE_ROOT_6D)
    assert torch.equal(res.x[0, 0], root[:, None].expand(6, WINDOW))
    assert np.count_nonzero(res.motions[0].trans) == 0  # the reference row is no trajectory
    normed = TextToMotion(
        model, StubEncoder(), translation="root", fps=30.0, window=WINDOW, normalize_text=True
    )
    assert torch.allclose(normed(["wave"]).latents.norm(dim=-1), torch.ones(1))


def test_determinism_and_noise(t2m: TextToMotion, model: MotionCLIP) -> None:
    assert torch.equal(t2m(["kick"], 70).x, t2m(["kick"], 70).x)
    noisy = TextToMotion(
        model, StubEncoder(), translation="root", fps=30, window=WINDOW, latent_noise=0.2
    )
    a = noisy(["kick"], 70, torch.Generator().manual_seed(3)).x
    b = noisy(["kick"], 70, torch.Generator().manual_seed(3)).x
    c = noisy(["kick"], 70, torch.Generator().manual_seed(4)).x
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


# ---------------------------------------------------------------- chaining


def test_chaining_is_continuous(t2m: TextToMotion, model: MotionCLIP) -> None:
    res = t2m(["a person dances"], 150)
    assert res.x.shape == (1, 25, 6, 150)
    # the first window survives untouched up to its cross-faded tail
    with torch.no_grad():
        first = model.decode(res.latents, num_frames=WINDOW)
    keep = WINDOW - t2m.overlap
    r_first = rot6d_rows_to_matrix(first[0, :24, :, :keep].permute(2, 0, 1))
    assert torch.allclose(res.motions[0].rotations()[:keep], r_first, atol=1e-5)
    jumps = _frame_jumps(res.x)
    within = _frame_jumps(first).max()
    # seams: no jump larger than the model's own frame-to-frame motion (plus a little slack) ...
    assert jumps.max() <= 1.5 * within, (jumps.max(), within)
    # ... which plain concatenation of windows would break (the bound can fail)
    assert _frame_jumps(torch.cat([first, first], dim=-1))[WINDOW - 1] > 1.5 * within
    trans = torch.from_numpy(res.motions[0].trans)
    steps = (trans[1:] - trans[:-1]).norm(dim=-1)
    first_steps = (first[0, 24, :3, 1:] - first[0, 24, :3, :-1]).norm(dim=0)
    assert steps.max() <= 1.5 * first_steps.max() + 1e-4


def _procedural_window(action: str, frames: int) -> torch.Tensor:
    """``frames`` frames of ``action`` under way (the library's clips ease in from standing; a
    chained window continues a motion already going, so the test takes a later stretch)."""
    m = generate_motion(action, 2 * frames, seed=0).motion
    rot = axis_angle_to_matrix(torch.tensor(m.poses[frames:]))[None]
    return smpl_to_motion(rot, torch.tensor(m.trans[frames:])[None], translation="root")[0]


@pytest.mark.parametrize("action", ["walk_forward", "walk_circle"])
def test_chain_continues_trajectory_and_heading(t2m: TextToMotion, action: str) -> None:
    """Chain a real walk: the root keeps going (no jump back to the start)."""
    win = _procedural_window(action, WINDOW)
    key = torch.zeros(1, DIM)
    x = t2m._chain(lambda _k, _n: (key, win), win, key, 120)[None]
    assert x.shape == (1, 25, 6, 120)
    trans = x[0, 24, :3].T  # [T, 3]
    steps = (trans[1:] - trans[:-1]).norm(dim=-1)
    window_steps = (win[24, :3, 1:] - win[24, :3, :-1]).norm(dim=0)
    assert steps.max() <= 1.5 * window_steps.max() + 1e-4  # no teleport at the seams
    travelled = (trans[-1, [0, 2]] - trans[0, [0, 2]]).norm()
    one_window = (win[24, [0, 2], -1] - win[24, [0, 2], 0]).norm()
    if action == "walk_forward":
        assert travelled > 2.5 * one_window  # four windows of walking go ~4x as far
        # never walks back further than the walk itself does in one frame (the library's gait
        # dips back by about a centimetre at some heel strikes)
        own_dip = (win[24, 2, 1:] - win[24, 2, :-1]).min()
        assert bool((trans[1:, 2] - trans[:-1, 2] > min(own_dip, 0.0) - 1e-3).all())
    else:  # the circle keeps turning: the heading continues instead of snapping back
        chained, single = _headings(x[0]), _headings(win)
        assert (chained[-1] - chained[0]).abs() > 3.0 * (single[-1] - single[0]).abs()
    jumps = _frame_jumps(x)
    assert jumps.max() <= 1.5 * _frame_jumps(win[None]).max() + 1e-3


def _headings(x: torch.Tensor) -> torch.Tensor:
    """Unwrapped heading about +Y of the body's forward axis, ``x [25, 6, T]`` -> ``[T]``."""
    forward = rot6d_rows_to_matrix(x[0].T)[:, :, 2]
    angle = torch.atan2(forward[:, 0], forward[:, 2])
    steps = torch.remainder(angle.diff() + torch.pi, 2 * torch.pi) - torch.pi
    return torch.cat([angle[:1], angle[0] + steps.cumsum(0)])


def test_slerp_endpoints_and_midpoint() -> None:
    q0 = torch.tensor([1.0, 0.0, 0.0, 0.0])
    q1 = torch.tensor([0.0, 0.0, 0.0, 1.0])  # pi about z
    assert torch.allclose(slerp(q0, q1, torch.tensor([0.0])), q0)
    assert torch.allclose(slerp(q0, q1, torch.tensor([1.0])), q1)
    mid = slerp(q0, q1, torch.tensor([0.5]))
    assert torch.allclose(mid, torch.tensor([0.5**0.5, 0.0, 0.0, 0.5**0.5]), atol=1e-6)
    assert torch.allclose(slerp(q0, -q0, torch.tensor([0.3])), q0)  # same rotation, no NaN


# ---------------------------------------------------------------- sequences


def test_sequence_lengths_and_segments(t2m: TextToMotion) -> None:
    res = t2m.sequence(["walk", "jump", "sit down"], [40, 50, 25], transition=8)
    assert res.x.shape == (1, 25, 6, 115)
    assert res.latents.shape == (3, DIM)
    (motion,) = res.motions  # one chained sample performing the three prompts
    assert motion.segments == [("walk", 0, 40), ("jump", 40, 90), ("sit down", 90, 115)]
    assert motion.texts == ["walk", "jump", "sit down"] and motion.num_frames == 115
    with torch.no_grad():
        plain = t2m.model.decode(res.latents, num_frames=WINDOW)
    within = max(_frame_jumps(plain[i : i + 1]).max() for i in range(3))
    assert _frame_jumps(res.x).max() <= 1.5 * within
    same = t2m.sequence(["walk", "jump"], 20)
    assert same.num_frames == 40
    short = t2m.sequence(["walk", "jump"], 10)  # fits one window
    assert short.num_frames == 20
    with pytest.raises(ValueError, match="frames_per_prompt has 2 entries for 3 prompts"):
        t2m.sequence(["a", "b", "c"], [10, 10])
    with pytest.raises(ValueError, match="transition"):
        t2m.sequence(["a", "b"], 40, transition=-1)


def test_sequence_starts_with_first_prompt(t2m: TextToMotion, model: MotionCLIP) -> None:
    res = t2m.sequence(["walk", "jump"], [60, 60], transition=0)
    with torch.no_grad():
        first = model.decode(StubEncoder().encode(["walk"]), num_frames=WINDOW)
    keep = WINDOW - t2m.overlap
    r_first = rot6d_rows_to_matrix(first[0, :24, :, :keep].permute(2, 0, 1))
    assert torch.allclose(res.motions[0].rotations()[:keep], r_first, atol=1e-5)


# ---------------------------------------------------------------- editing


def test_interpolation_endpoints_are_pure_decodes(t2m: TextToMotion, model: MotionCLIP) -> None:
    res = t2m.interpolate("a person walks", "a person jumps", steps=5)
    assert res.x.shape == (5, 25, 6, WINDOW)
    z = StubEncoder().encode(["a person walks", "a person jumps"])
    with torch.no_grad():
        pure = model.decode(z, num_frames=WINDOW)
    assert torch.equal(res.latents[0], z[0]) and torch.equal(res.latents[-1], z[1])
    # equal up to float round-off of batched matmuls (a batch of 5 vs a batch of 2)
    assert torch.allclose(res.x[0], pure[0], atol=1e-6)
    assert torch.allclose(res.x[-1], pure[1], atol=1e-6)
    assert torch.allclose(res.latents[2], z.mean(0), atol=1e-6)
    # motions are encoded with the model's encoder
    motion = _procedural_window("wave", WINDOW)
    res2 = t2m.interpolate(motion, "a person jumps", steps=3)
    with torch.no_grad():
        mu = model.encode(motion[None])
    assert torch.allclose(res2.latents[0], mu[0], atol=1e-6)
    assert torch.allclose(res2.x[0], model.decode(mu, num_frames=WINDOW), atol=1e-6)


def test_arithmetic(t2m: TextToMotion, model: MotionCLIP) -> None:
    res = t2m.arithmetic("walk", plus=["jump"], minus=["stand"], num_frames=20)
    z = StubEncoder().encode(["walk", "jump", "stand"])
    expected_z = z[0] + z[1] - z[2]
    assert torch.allclose(res.latents[0], expected_z, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(res.x, model.decode(expected_z[None], num_frames=20), atol=1e-6)
    assert res.motions[0].texts == ["walk + jump - stand"]
    with pytest.raises(ValueError, match="lists"):
        t2m.arithmetic("walk", plus="jump")  # type: ignore[arg-type]


# ---------------------------------------------------------------- files and errors


def test_generate_from_file(t2m: TextToMotion, tmp_path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# my prompts\na person walks\n\n  someone waves  \n# done\nkick\n")
    assert read_prompt_file(prompts) == ["a person walks", "someone waves", "kick"]
    paths = t2m.generate_from_file(
        prompts, tmp_path / "out", num_frames=40, bvh=True, batch_size=2, progress=False
    )
    assert [p.name for p in paths] == [
        "000_a_person_walks.npz",
        "001_someone_waves.npz",
        "002_kick.npz",
    ]
    for path, text in zip(paths, ["a person walks", "someone waves", "kick"], strict=True):
        loaded = load_motion_npz(path)
        assert loaded.poses.shape == (40, 24, 3) and loaded.trans.shape == (40, 3)
        assert loaded.texts == [text] and loaded.fps == 30.0
        assert loaded.frame == "z_up"  # written in AMASS's frame by the one writer
        assert path.with_suffix(".bvh").is_file()
    direct = t2m(["someone waves"], 40).motions[0]
    back = load_motion_npz(paths[1]).to_frame("y_up")  # the model's world
    assert torch.allclose(back.rotations(), direct.rotations(), atol=1e-5)
    np.testing.assert_allclose(back.trans, direct.trans, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="prompt file not found"):
        t2m.generate_from_file(tmp_path / "missing.txt", tmp_path / "o2")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="no prompts"):
        t2m.generate_from_file(empty, tmp_path / "o3")


def test_bad_arguments(model: MotionCLIP) -> None:
    class Wide(StubEncoder):
        dim = DIM * 2

    with pytest.raises(ValueError, match="latent size is 16"):
        TextToMotion(model, Wide(), translation="root", fps=30)
    with pytest.raises(ValueError, match="translation must be one of"):
        TextToMotion(model, StubEncoder(), translation="none", fps=30)
    with pytest.raises(ValueError, match="overlap"):
        TextToMotion(model, StubEncoder(), translation="root", fps=30, window=10, overlap=10)
    t2m = TextToMotion(model, StubEncoder(), translation="root", fps=30, window=WINDOW)
    with pytest.raises(ValueError, match="single str"):
        t2m("walk")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_frames"):
        t2m(["walk"], 0)


def test_phase_matching_continues_the_cycle(model: MotionCLIP) -> None:
    """A repeated walk window resumes at the gait phase where the motion so far ends."""
    t2m = TextToMotion(model, StubEncoder(), translation="root", fps=30, window=60)
    win = _procedural_window("walk_forward", 60)  # about two gait cycles
    body = win[1:24].permute(2, 0, 1)  # [W, 23, 6]
    ov = t2m.overlap
    tail = body[-ov:]
    shift = t2m._best_shift(tail, body, 60 - ov - t2m.min_new_frames)

    def cost(s: int) -> float:
        return float((body[s : s + ov] - tail).pow(2).sum())

    assert shift > 0
    assert cost(shift) < 0.25 * cost(0)
