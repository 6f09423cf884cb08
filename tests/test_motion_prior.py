"""The retrieval prior: nearest motion latents to a text latent, saved beside an export."""

from __future__ import annotations

import pytest
import torch

from vmc.motion.generate import TextToMotion
from vmc.motion.model import MotionCLIP
from vmc.motion.prior import load_latent_bank, nearest_latents, save_latent_bank


class AxisEncoder:
    """Text i of ``TEXTS`` -> the i-th basis vector (a known, exact text space)."""

    name, dim = "axis", 8
    TEXTS = ["walk", "jump", "wave"]

    def encode(self, texts: list[str]) -> torch.Tensor:
        return torch.eye(self.dim)[[self.TEXTS.index(t) for t in texts]]


def test_nearest_latents_mean_of_the_k_most_similar():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    z = torch.tensor([[2.0, 0.1], [0.1, 3.0]])
    torch.testing.assert_close(nearest_latents(z, bank, 1), bank[[0, 2]])
    torch.testing.assert_close(nearest_latents(z, bank, 2)[0], bank[:2].mean(0))
    assert nearest_latents(z, bank, 99).shape == (2, 2)  # k beyond the bank: all rows
    with pytest.raises(ValueError, match="k must be"):
        nearest_latents(z, bank, 0)
    with pytest.raises(ValueError, match="must be"):
        nearest_latents(z, bank[:, :1], 1)


def test_bank_round_trip_and_generation_uses_it(tmp_path):
    bank = torch.randn(5, 8)
    bank[2] = torch.eye(8)[1] * 7.0  # the bank latent nearest to "jump"
    path = save_latent_bank(tmp_path / "latent_bank.safetensors", bank)
    loaded = load_latent_bank(path)
    torch.testing.assert_close(loaded, bank, atol=1e-2, rtol=1e-3)  # stored as fp16
    torch.manual_seed(0)
    model = MotionCLIP(latent_dim=8, ff_size=16, num_layers=1, num_heads=2, max_positions=80)
    t2m = TextToMotion(
        model, AxisEncoder(), translation="root", fps=30.0, latent_bank=loaded, prior_k=1
    )
    torch.testing.assert_close(t2m.generation_latents(["jump"])[0], loaded[2])
    result = t2m(["jump"], num_frames=20)
    torch.testing.assert_close(result.x[0], model.decode(loaded[2:3], num_frames=20)[0])
    plain = TextToMotion(model, AxisEncoder(), translation="root", fps=30.0)
    torch.testing.assert_close(plain.generation_latents(["jump"])[0], torch.eye(8)[1])
    with pytest.raises(ValueError, match="latent_bank must be"):
        TextToMotion(model, AxisEncoder(), translation="root", fps=30.0, latent_bank=bank[:, :3])


def test_pick_latents_takes_one_bank_row_never_a_mean():
    from vmc.motion.prior import pick_latents

    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    z = torch.tensor([[1.0, 0.02], [0.1, 1.0]])
    torch.testing.assert_close(pick_latents(z, bank, 3), bank[[0, 2]])  # no generator: nearest
    seen = set()
    for seed in range(40):
        out = pick_latents(z[:1], bank, 2, torch.Generator().manual_seed(seed), temperature=1.0)
        row = int((bank - out).abs().sum(1).argmin())
        assert torch.equal(out[0], bank[row])  # always a whole row of the bank
        seen.add(row)
    assert seen == {0, 1}  # the draw stays among the k nearest and reaches both
    again = pick_latents(z, bank, 2, torch.Generator().manual_seed(7), temperature=1.0)
    torch.testing.assert_close(
        again, pick_latents(z, bank, 2, torch.Generator().manual_seed(7), 1.0)
    )
    with pytest.raises(ValueError, match="temperature"):
        pick_latents(z, bank, 2, temperature=0.0)
