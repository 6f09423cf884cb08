"""Asset lookup order and safe checkpoint I/O."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vmc.io.assets import find_asset, missing_asset_message
from vmc.io.checkpoints import (
    CheckpointError,
    check_lightning_checkpoint,
    export_inference,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
    save_checkpoint,
)
from vmc.tasks.train import resolve_ckpt_path


def test_asset_lookup_order(tmp_path, monkeypatch):
    env_root, cwd_root = tmp_path / "env", tmp_path / "cwd"
    for root in (env_root, cwd_root / "assets"):
        (root / "clip").mkdir(parents=True)
        (root / "clip" / "ViT-B-32.pt").write_bytes(b"x")
    monkeypatch.chdir(cwd_root)
    monkeypatch.setenv("VMC_ASSETS", str(env_root))
    assert find_asset("clip") == env_root / "clip" / "ViT-B-32.pt"
    monkeypatch.delenv("VMC_ASSETS")
    assert find_asset("clip") == cwd_root / "assets" / "clip" / "ViT-B-32.pt"
    explicit = tmp_path / "mine.pt"
    explicit.write_bytes(b"y")
    assert find_asset("clip", explicit=explicit) == explicit
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_asset("clip", explicit=tmp_path / "absent.pt")
    assert find_asset("smpl") is None
    assert "SMPL_NEUTRAL" in missing_asset_message("smpl")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_unsafe_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"x": _Evil()}, f, protocol=2)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint_file(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "missing.pt")


def test_strict_loading_lists_every_difference():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["1.weight"] = torch.zeros(5, 4)
    del state["0.bias"]
    state["extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_state_dict_strict(model, state, "file.pt")
    message = str(err.value)
    assert "0.bias" in message and "extra" in message and "1.weight" in message


def test_extract_state_dict_unwraps_and_strips_prefixes():
    inner = {"module.a.weight": torch.ones(2)}
    assert set(extract_state_dict({"state_dict": inner})) == {"a.weight"}
    lightning_like = {"state_dict": {"net.w": torch.ones(1), "other.w": torch.ones(1)}}
    assert set(extract_state_dict(lightning_like, prefix="net.")) == {"w"}


def test_export_inference_roundtrip(tmp_path):
    model = nn.Linear(3, 2)
    weights = export_inference(model, tmp_path / "export", {"model": {"in": 3}}, half=True)
    loaded = load_file(str(weights))
    assert loaded["weight"].dtype == torch.float16
    torch.testing.assert_close(
        loaded["weight"].float(), model.weight.detach(), atol=1e-3, rtol=1e-3
    )
    assert (tmp_path / "export" / "config.yaml").read_text().startswith("model:")
    again = load_checkpoint_file(weights)
    assert set(again) == {"weight", "bias"}


# ---------------------------------------------------------------- one clear error per failure
def _one_line_error(path, call=load_checkpoint_file) -> str:
    """The CheckpointError raised for ``path``: one line that names the file and a fix."""
    with pytest.raises(CheckpointError) as err:
        call(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "fix:" in message, message
    return message


def _tiny_state() -> dict[str, torch.Tensor]:
    return dict(nn.Linear(3, 2).state_dict())


def test_truncated_torch_file(tmp_path):
    whole = tmp_path / "whole.pt"
    torch.save(_tiny_state(), whole)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "truncated or corrupt" in _one_line_error(cut)


def test_corrupt_torch_files(tmp_path):
    for name, data in (("noise.pt", b"definitely not a checkpoint"), ("empty.pth", b"")):
        (tmp_path / name).write_bytes(data)
        assert "not a torch checkpoint" in _one_line_error(tmp_path / name)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unrelated_pickles_are_refused_with_the_reason(tmp_path):
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}))
    assert "plain pickle" in _one_line_error(plain)
    objects = tmp_path / "objects.pt"
    torch.save({"w": torch.zeros(1), "cfg": _Evil()}, objects)
    assert "Unsupported global: GLOBAL print" in _one_line_error(objects)


def test_not_a_mapping(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    assert "holds a list" in _one_line_error(tmp_path / "list.pt")


def test_truncated_and_corrupt_safetensors(tmp_path):
    whole = tmp_path / "w.safetensors"
    save_file(_tiny_state(), str(whole))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole.read_bytes()[:-8])
    assert "safetensors" in _one_line_error(cut)
    noise = tmp_path / "noise.safetensors"
    noise.write_bytes(b"\xff" * 64)
    assert "truncated or corrupt" in _one_line_error(noise)


def test_lightning_checkpoint_without_weights(tmp_path):
    path = tmp_path / "stripped.ckpt"
    torch.save({"epoch": 3, "pytorch-lightning_version": "2.5.0"}, path)
    message = _one_line_error(
        path, lambda p: extract_state_dict(load_checkpoint_file(p), source=str(p))
    )
    assert "without 'state_dict'" in message


def test_resume_needs_a_lightning_checkpoint(tmp_path):
    plain = tmp_path / "weights.pt"
    torch.save(_tiny_state(), plain)
    message = _one_line_error(plain, check_lightning_checkpoint)
    assert "'pytorch-lightning_version'" in message and "last.ckpt" in message
    good = tmp_path / "last.ckpt"
    torch.save({"pytorch-lightning_version": "2.5.0", "state_dict": _tiny_state()}, good)
    check_lightning_checkpoint(good)


def test_wrong_model_and_wrong_shapes(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": dict(nn.Conv2d(1, 1, 1).state_dict())}, path)
    model = nn.Linear(3, 2)

    def load(p):
        load_state_dict_strict(model, extract_state_dict(load_checkpoint_file(p)), str(p))

    assert "mis-shaped keys (2): weight: file (1, 1, 1, 1) vs model (2, 3)" in _one_line_error(
        path, load
    )
    torch.save({"netG.weight": torch.zeros(2, 3)}, path)
    message = _one_line_error(path, load)
    assert (
        "missing keys (2): bias, weight" in message
        and "unexpected keys (1): netG.weight" in message
    )


def test_wrappers_prefixes_and_anchor():
    state = {"generator.block.w": torch.ones(1), "discriminator.block.w": torch.ones(1)}
    assert set(extract_state_dict({"netG": state}, "generator.")) == {"block.w"}
    assert set(extract_state_dict({"state_dict": state})) == set(state)
    with pytest.raises(CheckpointError, match="several candidate networks"):
        extract_state_dict(state, anchor="block.w")
    with pytest.raises(CheckpointError, match="no key ends in 'nope'"):
        extract_state_dict(state, anchor="nope")
    with pytest.raises(CheckpointError, match="no key starts with prefix 'x.'"):
        extract_state_dict(state, "x.")


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_save_checkpoint_round_trip_is_atomic(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    save_checkpoint(_tiny_state(), path, {"format": "test", "config": {"a": 1}})
    assert set(extract_state_dict(load_checkpoint_file(path))) == {"weight", "bias"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_train_resume_checks_the_checkpoint_first(tmp_path):
    plain = tmp_path / "model.pt"
    torch.save(_tiny_state(), plain)
    with pytest.raises(CheckpointError, match="not a Lightning training checkpoint"):
        resolve_ckpt_path(str(plain), tmp_path)
