"""MotionCLIP networks: key-for-key layout, numerical parity, official loading, invariances."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import reference_file
from safetensors.torch import save_file

import vmc.motion.official
from vmc.io.checkpoints import CheckpointError
from vmc.motion import MotionCLIP, MotionCLIPConfig, lengths_to_mask, overwrite_root_orientation
from vmc.motion.official import PE_KEYS, read_official_checkpoint
from vmc.motion.positional import sinusoidal_table

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


def _reference(name: str) -> Path:
    return reference_file(name)


@pytest.fixture(scope="module")
def parity() -> dict[str, np.ndarray]:
    with np.load(_reference("motionclip_parity_small.npz")) as data:
        return {k: data[k] for k in data.files}


def _fixture_state(parity: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k[3:]: torch.from_numpy(v.copy()) for k, v in parity.items() if k.startswith("w::")}


def _write_checkpoint(tmp: Path, state: dict[str, torch.Tensor], opt: str | None = None) -> Path:
    """A checkpoint laid out like the release: flat state dict + sibling opt.yaml."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "checkpoint_0100.pth.tar"
    torch.save(state, path)
    if opt is not None:
        (tmp / "opt.yaml").write_text(opt)
    return path


# Keys as in the release's opt.yaml (written here from the spec's table, sizes of the fixture).
SMALL_OPT_YAML = """\
activation: gelu
archiname: transformer
batch_size: 20
glob: true
glob_rot:
- 3.141592653589793
- 0
- 0
jointstype: vertices
latent_dim: 64
lr: 0.0001
max_len: -1
modeltype: cvae
normalize_encoder_output: false
num_frames: 60
num_layers: 2
pose_rep: rot6d
translation: true
vertstrans: false
"""


def _small(**kwargs) -> MotionCLIP:
    cfg = dict(latent_dim=32, ff_size=48, num_layers=3, num_heads=2, dropout=0.1)
    cfg.update(kwargs)
    return MotionCLIP(**cfg).eval()


# ---------------------------------------------------------------------------- layout


def test_paper_model_matches_state_dict_manifest() -> None:
    manifest = json.loads(_reference("motionclip_paper_state_dict.json").read_text())
    with torch.device("meta"):  # shapes only: no 42 M random numbers
        model = MotionCLIP()
    state = model.state_dict()
    assert list(state) == list(manifest["keys"])  # same names, same order
    assert {k: list(v.shape) for k, v in state.items()} == manifest["keys"]
    assert len(state) == manifest["num_keys"] == 249
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == manifest["num_parameters"]["total"] == 42_213_526
    assert sum(p.numel() for p in model.encoder.parameters()) == 16_900_608
    assert all(k.startswith(("encoder.", "decoder.")) for k in state)
    buffers = {k: list(v.shape) for k, v in model.named_buffers()}
    assert buffers == manifest["buffers"]


def test_positional_table_matches_reference_rows(parity) -> None:
    rows = parity["pe_rows_0_to_63"]
    # float32 sin/cos of arguments up to 63 rad: the argument alone carries ~63 * 6e-8 = 4e-6 of
    # rounding, and vectorised kernels differ by CPU, so 1e-5 is the honest bound.
    np.testing.assert_allclose(sinusoidal_table(64, rows.shape[1]).numpy(), rows, atol=1e-5)


# ---------------------------------------------------------------------------- parity


@pytest.fixture(scope="module")
def parity_model(parity, tmp_path_factory) -> MotionCLIP:
    config = json.loads(str(parity["config_json"]))
    path = _write_checkpoint(
        tmp_path_factory.mktemp("ckpt"), _fixture_state(parity), SMALL_OPT_YAML
    )
    model = MotionCLIP.from_official(path, num_heads=config["num_heads"])
    assert model.config.latent_dim == config["latent_dim"]
    assert model.config.ff_size == config["ff_size"]
    assert model.config.num_layers == config["num_layers"]
    return model


def test_parity_encoder_and_round_trip(parity_model, parity) -> None:
    assert not parity_model.training
    x = torch.from_numpy(parity["in_x"])
    mask = torch.from_numpy(parity["in_mask"])
    assert not bool(mask.all())  # the fixture holds a padded sample
    with torch.no_grad():
        mu = parity_model.encode(x, mask)
        recon = parity_model.decode(mu, mask=mask)
        out = parity_model(x, mask)
    np.testing.assert_allclose(mu.numpy(), parity["out_mu"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(recon.numpy(), parity["out_recon"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.output.numpy(), parity["out_recon"], atol=1e-5, rtol=0)
    assert torch.equal(recon[2][..., ~mask[2]], torch.zeros_like(recon[2][..., ~mask[2]]))


def test_parity_decode_text_latent_and_root_overwrite(parity_model, parity) -> None:
    z = torch.from_numpy(parity["in_z_text"])
    with torch.no_grad():
        motion = parity_model.decode(z, num_frames=parity["out_from_z_text"].shape[-1])
    np.testing.assert_allclose(motion.numpy(), parity["out_from_z_text"], atol=1e-5, rtol=0)
    fixed = overwrite_root_orientation(motion)
    np.testing.assert_allclose(
        fixed.numpy(), parity["out_from_z_text_globfixed"], atol=1e-5, rtol=0
    )


def test_parity_from_safetensors(parity, tmp_path) -> None:
    path = tmp_path / "model.safetensors"
    save_file(_fixture_state(parity), str(path))
    model = MotionCLIP.from_official(path)  # no opt.yaml: defaults (num_heads 4) + weights
    with torch.no_grad():
        mu = model.encode(torch.from_numpy(parity["in_x"]), torch.from_numpy(parity["in_mask"]))
    np.testing.assert_allclose(mu.numpy(), parity["out_mu"], atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------- invariances


def test_padding_invariance_other_sizes() -> None:
    model = _small()
    lengths = torch.tensor([17, 9, 23])
    total = 30
    x = torch.randn(3, 25, 6, total)
    mask = lengths_to_mask(lengths, total)
    garbage = x.clone()
    garbage[~mask[:, None, None, :].expand_as(x)] = 1e3  # padded content must not matter
    with torch.no_grad():
        mu_padded = model.encode(garbage, mask)
        out_padded = model.decode(mu_padded, mask=mask)
        for i, length in enumerate(lengths.tolist()):
            mu_i = model.encode(x[i : i + 1, ..., :length])
            torch.testing.assert_close(mu_padded[i : i + 1], mu_i, atol=2e-5, rtol=1e-5)
            out_i = model.decode(mu_padded[i : i + 1], num_frames=length)
            torch.testing.assert_close(
                out_padded[i : i + 1, ..., :length], out_i, atol=2e-5, rtol=1e-5
            )
            assert torch.count_nonzero(out_padded[i, ..., length:]) == 0


def test_encoder_uses_frame_order_and_batch_independence() -> None:
    model = _small(activation="relu")
    x = torch.randn(4, 25, 6, 12)
    with torch.no_grad():
        mu = model.encode(x)
        reversed_mu = model.encode(x.flip(-1))
        single = torch.cat([model.encode(x[i : i + 1]) for i in range(4)])
    assert (mu - reversed_mu).abs().max() > 1e-3  # positional encoding makes order matter
    torch.testing.assert_close(mu, single, atol=2e-5, rtol=1e-5)


def test_gradients_reach_the_used_parameters_only() -> None:
    model = _small(dropout=0.0).train()
    x = torch.randn(2, 25, 6, 10)
    out = model(x)
    (out.output.square().mean() + out.mu.square().mean()).backward()
    assert model.decoder.actionBiases.grad is None  # unused in the reference's default path
    for name, param in model.named_parameters():
        if name != "decoder.actionBiases":
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_cross_attention_contribution_is_frame_constant() -> None:
    """With a single memory token, cross-attention adds the same vector to every frame."""
    model = _small(num_layers=1, dropout=0.0)
    layer = model.decoder.seqTransDecoder.layers[0]
    z = torch.randn(2, 32)
    tgt = torch.randn(7, 2, 32)
    with torch.no_grad():
        attn = layer.multihead_attn(tgt, z[None], z[None], need_weights=False)[0]
    torch.testing.assert_close(attn, attn[:1].expand_as(attn), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------- root overwrite


def test_overwrite_root_orientation_values(parity) -> None:
    motion = torch.randn(2, 25, 6, 8)
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 5:] = False
    motion[1, ..., 5:] = 0
    before = motion.clone()
    fixed = overwrite_root_orientation(motion)
    assert torch.equal(motion, before)  # input untouched
    assert torch.equal(fixed[:, 1:], motion[:, 1:])
    expected = torch.tensor([1.0, 0, 0, 0, -1, 0])
    assert torch.equal(fixed[:, 0], expected[None, :, None].expand(2, 6, 8))
    # The 6D value is the first two rows of diag(1,-1,-1) (= R_x(pi)), as the fixture says.
    rot = torch.from_numpy(parity["rot_matrix_of_generate_glob6d"])
    assert torch.equal(rot[:2].reshape(6), expected)
    masked = overwrite_root_orientation(motion, mask=mask)
    assert torch.count_nonzero(masked[1, ..., 5:]) == 0
    assert torch.equal(masked[0], fixed[0])


# ---------------------------------------------------------------------------- API errors


def test_decode_argument_errors() -> None:
    model = _small()
    z = torch.randn(2, 32)
    with pytest.raises(ValueError, match="exactly one"):
        model.decode(z)
    with pytest.raises(ValueError, match="exactly one"):
        model.decode(z, mask=torch.ones(2, 5, dtype=torch.bool), num_frames=5)
    with pytest.raises(ValueError, match=r"\[B, 32\]"):
        model.decode(torch.randn(2, 31), num_frames=5)
    with pytest.raises(ValueError, match="torch.bool"):
        model.decode(z, mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="at least one valid frame"):
        model.decode(z, mask=torch.tensor([[True, False], [False, False]]))
    with pytest.raises(ValueError, match="positional table"):
        model.decode(z, num_frames=5001)


def test_encode_argument_errors() -> None:
    model = _small()
    with pytest.raises(ValueError, match=r"\[B, 25, 6, T\]"):
        model.encode(torch.randn(2, 24, 6, 10))
    with pytest.raises(ValueError, match=r"mask must be \[B=2, T=10\]"):
        model.encode(torch.randn(2, 25, 6, 10), torch.ones(2, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="num_heads"):
        MotionCLIPConfig(latent_dim=30, num_heads=4)


# ---------------------------------------------------------------------------- strict loading


def test_official_loading_reports_key_differences(parity, tmp_path) -> None:
    state = _fixture_state(parity)
    broken = dict(state)
    del broken["decoder.finallayer.bias"]
    broken["encoder.extra.weight"] = torch.zeros(1)
    broken["decoder.seqTransDecoder.layers.1.norm3.weight"] = torch.ones(65)
    path = _write_checkpoint(tmp_path / "a", broken)
    with pytest.raises(CheckpointError) as err:
        MotionCLIP.from_official(path)
    text = str(err.value)
    assert "decoder.finallayer.bias" in text and "encoder.extra.weight" in text
    assert "layers.1.norm3.weight" in text and "(65,)" in text


def test_official_loading_ignores_clip_keys_and_checks_pe(parity, tmp_path) -> None:
    state = _fixture_state(parity)
    state["clip_model.token_embedding.weight"] = torch.zeros(3, 2)
    good = dict(state)
    for key in PE_KEYS:
        good[key] = sinusoidal_table(5000, 64).unsqueeze(1)
    model = MotionCLIP.from_official(_write_checkpoint(tmp_path / "good", good))
    assert model.config.max_positions == 5000
    bad = dict(good)
    bad[PE_KEYS[1]] = bad[PE_KEYS[1]].clone()
    bad[PE_KEYS[1]][10] += 0.5
    with pytest.raises(CheckpointError, match="not the sinusoidal table"):
        MotionCLIP.from_official(_write_checkpoint(tmp_path / "bad", bad))


def test_official_loading_rejects_contradicting_options(parity, tmp_path) -> None:
    state = _fixture_state(parity)
    path = _write_checkpoint(
        tmp_path / "a", state, SMALL_OPT_YAML.replace("latent_dim: 64", "latent_dim: 512")
    )
    with pytest.raises(ValueError, match="latent_dim: opt.yaml says 512, weights have 64"):
        MotionCLIP.from_official(path)
    path = _write_checkpoint(tmp_path / "b", state, SMALL_OPT_YAML)
    with pytest.raises(ValueError, match="ff_size: override says 1024, weights have 128"):
        MotionCLIP.from_official(path, ff_size=1024)
    with pytest.raises(ValueError, match="njoints"):
        MotionCLIP.from_official(path, njoints=24)
    with pytest.raises(ValueError, match="unknown MotionCLIP option"):
        MotionCLIP.from_official(path, lr=1e-4)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MotionCLIP.from_official(path, num_heads=5)
    with pytest.raises(FileNotFoundError, match="missing.pth.tar"):
        MotionCLIP.from_official(tmp_path / "missing.pth.tar")
    model = MotionCLIP.from_official(path, dropout=0.0, activation="gelu")
    assert model.config.dropout == 0.0 and model.official_opt["num_frames"] == 60


def test_official_reader_builds_nothing(parity, tmp_path) -> None:
    """The reader returns (config, state dict, options); only MotionCLIP.from_official builds."""
    path = _write_checkpoint(tmp_path / "a", _fixture_state(parity), SMALL_OPT_YAML)
    found = read_official_checkpoint(path, MotionCLIPConfig().to_dict())
    model = MotionCLIP.from_official(path)
    assert found.config == model.config.to_dict() and found.opt == model.official_opt
    assert set(found.state_dict) | set(PE_KEYS) == set(model.state_dict())
    tree = ast.parse(Path(vmc.motion.official.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "vmc.motion.model" not in imported and "vmc.motion" not in imported


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_parity_on_cuda(parity_model, parity) -> None:
    model = MotionCLIP.from_config(parity_model.config).eval()
    model.load_state_dict(parity_model.state_dict())
    model = model.cuda()
    x = torch.from_numpy(parity["in_x"]).cuda()
    mask = torch.from_numpy(parity["in_mask"]).cuda()
    with torch.no_grad():
        mu = model.encode(x, mask)
        recon = model.decode(mu, mask=mask)
    np.testing.assert_allclose(mu.cpu().numpy(), parity["out_mu"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(recon.cpu().numpy(), parity["out_recon"], atol=1e-5, rtol=0)
