"""CLIP weights are read as data: TorchScript only with the official digest, HF safetensors mapped.

A TorchScript archive runs code at load time (its ``__setstate__``). The malicious archive built
here creates a marker file when loaded; it is offered through every place vmc looks for CLIP, and
the marker must never appear.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_clip
from safetensors.torch import save_file

from vmc.io.checkpoints import CheckpointError
from vmc.io.checksums import file_sha256
from vmc.text.clip_encoder import ClipTextEncoder, hf_clip_to_openai, read_clip_state_dict


class _WritesAFileWhenLoaded(torch.nn.Module):
    """A scripted module whose ``__setstate__`` (run by ``torch.jit.load``) creates a file."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))
        self.marker = marker

    @torch.jit.export
    def __getstate__(self) -> tuple[torch.Tensor, bool, str]:
        return self.w, self.training, self.marker

    @torch.jit.export
    def __setstate__(self, state: tuple[torch.Tensor, bool, str]) -> None:
        self.marker = state[2]
        # from_file(shared=True) opens the path with O_CREAT: a write outside vmc's control.
        created = torch.from_file(self.marker, shared=True, size=8, dtype=torch.uint8)
        self.w = state[0] + created.sum().float() * 0
        self.training = state[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.w


@pytest.fixture(scope="module")
def evil_archive(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("evil")
    marker = root / "pwned"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(_WritesAFileWhenLoaded(str(marker)))
        torch.jit.save(scripted, str(root / "ViT-B-32.pt"))
    assert not marker.exists()
    return root / "ViT-B-32.pt", marker


def test_the_archive_really_writes_when_loaded(evil_archive, tmp_path):
    """The attack is real: loading a copy with torch.jit.load creates its marker."""
    path, _ = evil_archive
    marker = tmp_path / "proof"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(_WritesAFileWhenLoaded(str(marker)))
        torch.jit.save(scripted, str(tmp_path / "a.pt"))
        torch.jit.load(str(tmp_path / "a.pt"))
    assert marker.exists()


@pytest.mark.parametrize("where", ["explicit", "VMC_ASSETS", "cwd_assets", "assets_dir", "cache"])
def test_untrusted_torchscript_is_never_run(evil_archive, tmp_path, monkeypatch, where):
    source, marker = evil_archive
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    places = {
        "explicit": tmp_path / "x" / "weights.pt",
        "VMC_ASSETS": tmp_path / "env_assets" / "clip" / "ViT-B-32.pt",
        "cwd_assets": tmp_path / "assets" / "clip" / "ViT-B-32.pt",
        "assets_dir": tmp_path / "mine" / "clip" / "ViT-B-32.pt",
        "cache": tmp_path / "home" / ".cache" / "clip" / "ViT-B-32.pt",
    }
    target = places[where]
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    kwargs: dict = {}
    if where == "explicit":
        kwargs["weights"] = target
    elif where == "VMC_ASSETS":
        monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "env_assets"))
    elif where == "assets_dir":
        kwargs["assets_dir"] = tmp_path / "mine"
    with pytest.raises(CheckpointError, match="not the official CLIP ViT-B/32 file") as err:
        ClipTextEncoder(**kwargs)
    assert "torch.save(m.state_dict()" in str(err.value)  # says how to convert
    assert not marker.exists()


def test_digest_verdict_is_cached_and_follows_changes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    first = file_sha256(path)
    assert first == file_sha256(path)
    path.write_bytes(b"abcd")  # size changes: hashed again
    assert file_sha256(path) != first


def _to_hugging_face(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI CLIP names → Hugging Face CLIPModel names, written out independently for the test."""
    out: dict[str, torch.Tensor] = {}
    renames = {
        "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
        "positional_embedding": "text_model.embeddings.position_embedding.weight",
        "ln_final.weight": "text_model.final_layer_norm.weight",
        "ln_final.bias": "text_model.final_layer_norm.bias",
        "visual.class_embedding": "vision_model.embeddings.class_embedding",
        "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
        "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
        "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
        "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
        "visual.ln_post.weight": "vision_model.post_layernorm.weight",
        "visual.ln_post.bias": "vision_model.post_layernorm.bias",
        "logit_scale": "logit_scale",
    }
    block = {
        "attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
        "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
    }  # fmt: skip
    for key, value in state.items():
        if key in renames:
            out[renames[key]] = value
        elif key == "text_projection":
            out["text_projection.weight"] = value.t().contiguous()
        elif key == "visual.proj":
            out["visual_projection.weight"] = value.t().contiguous()
        else:
            tower = "vision_model" if key.startswith("visual.") else "text_model"
            rest = key.removeprefix("visual.").removeprefix("transformer.resblocks.")
            index, name = rest.split(".", 1)
            prefix = f"{tower}.encoder.layers.{index}."
            if name.startswith("attn.in_proj_"):
                kind = name.rsplit("_", 1)[1]
                for part, chunk in zip("qkv", value.chunk(3, dim=0), strict=True):
                    out[prefix + f"self_attn.{part}_proj.{kind}"] = chunk.contiguous()
            else:
                module, param = name.rsplit(".", 1)
                out[prefix + block[module] + "." + param] = value
    out["text_model.embeddings.position_ids"] = torch.arange(77)[None]
    return out


def test_hugging_face_safetensors_load_and_match(tmp_path):
    model = make_tiny_clip(seed=3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    hf = _to_hugging_face(state)
    assert not set(hf) & set(state) - {"logit_scale"}  # really another naming
    path = tmp_path / "model.safetensors"
    save_file(hf, str(path))
    mapped = read_clip_state_dict(path)
    assert set(mapped) == set(state)
    for key in state:
        torch.testing.assert_close(mapped[key], state[key], atol=0, rtol=0, msg=key)  # a copy
    encoder = ClipTextEncoder(weights=path)
    texts = ["a person jumps", "someone waves"]
    with torch.no_grad():
        expected = model.encode_text(encoder.tokenize(texts))
    torch.testing.assert_close(encoder.encode(texts), expected, atol=1e-5, rtol=1e-5)


def test_hugging_face_layout_with_foreign_keys_is_refused():
    with pytest.raises(CheckpointError, match="unknown text_model.extra"):
        hf_clip_to_openai({"text_model.extra": torch.zeros(1)}, source="x")
    with pytest.raises(CheckpointError, match="q/k/v incomplete"):
        hf_clip_to_openai(
            {"text_model.encoder.layers.0.self_attn.q_proj.weight": torch.zeros(2, 2)}, source="x"
        )


def test_pickle_with_code_is_refused(tmp_path):
    """A torch.save file carrying an arbitrary object: weights_only refuses, one clear error."""
    path = tmp_path / "ViT-B-32.pt"
    torch.save({"state": Path("x")}, path)
    with pytest.raises(CheckpointError, match=str(path.name)):
        read_clip_state_dict(path)
