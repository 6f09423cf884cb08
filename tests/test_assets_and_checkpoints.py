"""Asset lookup order and safe checkpoint I/O."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from vmc.io.assets import find_asset, missing_asset_message
from vmc.io.checkpoints import (
    CheckpointError,
    export_inference,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
)


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
    from safetensors.torch import load_file

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
