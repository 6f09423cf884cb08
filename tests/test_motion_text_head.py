"""The learnt text head (vmc.motion.text_head): targets, fitting, files, and generation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vmc.motion.generate import TextToMotion
from vmc.motion.model import MotionCLIP
from vmc.motion.text_head import (
    apply_text_head,
    build_text_head,
    caption_targets,
    fit_text_head,
    load_text_head,
    save_text_head,
)


def test_caption_targets_average_the_clips_each_caption_labels():
    bank = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 1.0]])
    captions, targets = caption_targets([["a", "b"], ["b"], ["c", ""]], bank)
    assert captions == ["a", "b", "c"]  # sorted, empty captions dropped
    torch.testing.assert_close(targets[0], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(targets[1], F.normalize(torch.tensor([1.0, 1.0]), dim=0))
    torch.testing.assert_close(targets[2], torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="caption lists for a bank"):
        caption_targets([["a"]], bank)
    with pytest.raises(ValueError, match="no captions"):
        caption_targets([[], [""], []], bank)


def _nuisance_problem(seed: int = 0):
    """Captions = action direction + a strong 'who does it' direction shared across actions.

    Unmapped, a new caption of action 0 by the same subject as action 1's training captions
    lands nearer action 1; the head must learn to ignore the subject directions."""
    g = torch.Generator().manual_seed(seed)
    d, actions, subjects = 16, 4, 3
    basis = torch.linalg.qr(torch.randn(d, d, generator=g))[0]
    act, who = basis[:actions], basis[actions : actions + subjects]
    feats, labels, subject_of = [], [], []
    for a in range(actions):
        for s in range(subjects):
            if (a + s) % subjects == 0:
                continue  # each action misses one subject in training
            feats.append(act[a] + 1.5 * who[s] + 0.05 * torch.randn(d, generator=g))
            labels.append(a)
            subject_of.append(s)
    # The motion latents were aligned to their captions, so they carry their subjects too.
    seen = [[s for s in range(subjects) if (a + s) % subjects] for a in range(actions)]
    motion = F.normalize(
        torch.stack([act[a] + 1.5 * who[seen[a]].mean(0) for a in range(actions)]), dim=1
    )
    test = torch.stack([act[a] + 1.5 * who[(-a) % subjects] for a in range(actions)])
    return torch.stack(feats), torch.tensor(labels), motion, test


def test_the_head_learns_to_ignore_what_does_not_tell_motions_apart():
    feats, labels, motion, test = _nuisance_problem()
    targets = motion[labels]
    head = fit_text_head(feats, targets, weight_decay=1e-3, temperature=0.1, steps=400, lr=1e-2)
    before = (F.normalize(test, dim=1) @ motion.T).argmax(1)
    after = (F.normalize(apply_text_head(test, head), dim=1) @ motion.T).argmax(1)
    truth = torch.arange(4)
    assert (before == truth).float().mean() <= 0.5  # the subject wins without the head
    assert (after == truth).all()
    # The head keeps the latent's norm (the decoder and text_scale see the size they expect).
    torch.testing.assert_close(apply_text_head(3 * test, head).norm(dim=1), 3 * test.norm(dim=1))


def test_fitting_is_deterministic_and_build_uses_the_shipped_settings():
    feats, labels, motion, _ = _nuisance_problem()
    clip_texts = [[f"caption {i}"] for i in range(len(labels))]
    bank = motion[labels]
    lookup = {f"caption {i}": feats[i] for i in range(len(labels))}

    def text_latents(captions: list[str]) -> torch.Tensor:
        return torch.stack([lookup[c] for c in captions])

    a, n = build_text_head(clip_texts, bank, text_latents)
    b, _ = build_text_head(clip_texts, bank, text_latents)
    assert n == len(labels) and torch.equal(a, b) and a.abs().sum() > 0


def test_file_round_trip_and_generation_applies_it(tmp_path):
    head = 0.1 * torch.randn(8, 8)
    path = save_text_head(tmp_path / "text_head.safetensors", head, {"temperature": 0.05})
    # Stored as fp16: the round trip keeps each entry to fp16's relative precision (2^-11).
    loaded = load_text_head(path)
    assert loaded.dtype == torch.float32
    torch.testing.assert_close(loaded, head, rtol=2.0**-11, atol=0.0)
    with pytest.raises(ValueError, match="square"):
        save_text_head(tmp_path / "bad.safetensors", torch.zeros(8, 4))
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(Exception):  # noqa: B017 - safetensors' own error type
        load_text_head(tmp_path / "junk.safetensors")

    class Encoder:
        name, dim = "fixed", 8

        def encode(self, texts: list[str]) -> torch.Tensor:
            return torch.ones(len(texts), 8)

    model = MotionCLIP(latent_dim=8, ff_size=16, num_layers=1, num_heads=2, max_positions=70)
    plain = TextToMotion(model, Encoder(), translation="root", fps=30.0)
    mapped = TextToMotion(model, Encoder(), translation="root", fps=30.0, text_head=head)
    torch.testing.assert_close(
        mapped.encode_texts(["x"]), apply_text_head(plain.encode_texts(["x"]), head)
    )
    with pytest.raises(ValueError, match="text_head must be"):
        TextToMotion(model, Encoder(), translation="root", fps=30.0, text_head=head[:4])


def test_an_export_without_captions_skips_the_head(tmp_path, caplog):
    from types import SimpleNamespace

    from motionclip_stubs import HashTextEncoder

    from vmc.systems.motionclip import MotionCLIPSystem

    net = MotionCLIP(latent_dim=32, ff_size=64, num_layers=1, max_positions=100)
    system = MotionCLIPSystem(
        net, text_encoder=HashTextEncoder(dim=32), translation="root", up_axis="y", text_head=True
    )
    uncaptioned = SimpleNamespace(records=[SimpleNamespace(motion=SimpleNamespace(texts=[]))] * 3)
    with caplog.at_level("WARNING"):
        assert system.export_text_head(tmp_path, uncaptioned, torch.randn(3, 32)) is None
    assert "no captions" in caplog.text and not list(tmp_path.iterdir())
    captioned = SimpleNamespace(
        records=[SimpleNamespace(motion=SimpleNamespace(texts=[t])) for t in ("a", "b", "a")]
    )
    path = system.export_text_head(tmp_path, captioned, torch.randn(3, 32))
    assert load_text_head(path).shape == (32, 32)
