"""OpenAI CLIP (ViT-B/32) as a frozen text and image encoder, loaded from a local file only.

Where the weights come from (first match wins; nothing is ever downloaded):

1. an explicit path (config key ``text_encoder.weights``),
2. ``$VMC_ASSETS/clip/ViT-B-32.pt``, then ``./assets/clip/ViT-B-32.pt`` (``vmc.io.assets``),
3. ``~/.cache/clip/ViT-B-32.pt``, where ``clip.load`` would have downloaded it on another machine.

Accepted formats:

* the official TorchScript archive. ``torch.jit.load`` runs code stored in the archive (a
  ``__setstate__`` can write any file) before anything can be checked, so an archive is loaded
  only after its SHA-256 equals the official ``ViT-B-32.pt``'s (:data:`CLIP_SHA256`; the verdict
  is cached per path, size and mtime). Any other TorchScript archive is refused with a message
  saying how to convert it;
* a plain state-dict file (read with ``torch.load(weights_only=True)``: data only);
* safetensors with OpenAI CLIP's key names, or Hugging Face's ``openai/clip-vit-base-patch32``
  layout (``text_model.*``, ``vision_model.*``: mapped to OpenAI's names, q/k/v fused).

The network is rebuilt from the state dict with the ``clip`` package's own model class, in
float32 (the official fp16 weights convert exactly).

Features follow the MotionCLIP reference: text feature = projected EOT-token embedding of the raw
string (no prompt template), 512-d, **not normalised**; image feature = ``encode_image`` of CLIP's
standard 224-px preprocessing. Texts over 77 tokens are truncated with a warning (the reference
raised an error instead).
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from vmc.io.assets import ASSETS, find_asset, missing_asset_message
from vmc.io.checkpoints import (
    CheckpointError,
    diff_state_dict,
    extract_state_dict,
    load_checkpoint_file,
)
from vmc.io.checksums import file_sha256
from vmc.text.base import TextEncoder
from vmc.text.torchvision_compat import import_clip

CLIP_FILENAME = "ViT-B-32.pt"
#: SHA-256 of the official ViT-B-32.pt (the directory name in OpenAI's download URL).
CLIP_SHA256 = ASSETS["clip"].sha256
CLIP_URL = f"https://openaipublic.azureedge.net/clip/models/{CLIP_SHA256}/{CLIP_FILENAME}"
#: Keys of the TorchScript archive that are metadata, not weights.
_METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")


def clip_package_cache() -> Path:
    """``~/.cache/clip``: where ``clip.load("ViT-B/32")`` stores its download."""
    return Path(os.path.expanduser("~/.cache/clip"))


def find_clip_weights(
    path: str | os.PathLike[str] | None = None,
    assets_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Locate the CLIP ViT-B/32 weights file (see the module docstring for the order).

    Args:
        path: explicit file (must exist when given).
        assets_dir: an extra assets root searched before ``$VMC_ASSETS`` and ``./assets``.

    Raises:
        FileNotFoundError: not found; the message says where to put the official file.
    """
    found = find_asset("clip", explicit=path, root=assets_dir)  # an explicit path must exist
    if found is not None:
        return found
    cached = clip_package_cache() / CLIP_FILENAME
    if cached.is_file():
        return cached
    raise FileNotFoundError(
        missing_asset_message("clip", root=assets_dir)
        + f" Also looked in {cached} (the clip package's cache). vmc never downloads weights: "
        f"fetch the official file yourself ({CLIP_URL}) and put it at assets/clip/{CLIP_FILENAME} "
        f"or $VMC_ASSETS/clip/{CLIP_FILENAME}."
    )


def is_torchscript_archive(path: str | os.PathLike[str]) -> bool:
    """True for a TorchScript zip (``code/``, ``constants.pkl``; torch.save files have neither)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("constants.pkl") or "/code/" in n for n in names)


#: Digests of TorchScript archives that may be loaded (code inside them runs at load time).
TRUSTED_TORCHSCRIPT_SHA256 = frozenset({CLIP_SHA256})


def _convert_hint(path: Path) -> str:
    return (
        f"convert it where you trust it: python -c \"import torch; m = torch.jit.load('{path}', "
        f"map_location='cpu'); torch.save(m.state_dict(), 'clip_state.pt')\" and point "
        "paths.clip at clip_state.pt (or use a .safetensors file)"
    )


def _load_trusted_torchscript(path: Path) -> dict[str, torch.Tensor]:
    digest = file_sha256(path)
    if digest not in TRUSTED_TORCHSCRIPT_SHA256:
        raise CheckpointError(
            f"{path}: a TorchScript archive that is not the official CLIP ViT-B/32 file "
            f"(SHA-256 {digest[:16]}...); loading TorchScript runs code from the file, so vmc "
            f"loads only the official archive. To use these weights, {_convert_hint(path)}"
        )
    with warnings.catch_warnings():
        # torch >= 2.10 flags torch.jit as deprecated; the official file is TorchScript.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*deprecated")
        try:
            scripted = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as err:
            raise CheckpointError(f"{path}: cannot read the TorchScript archive ({err})") from err
    return {k: v.detach().clone() for k, v in scripted.state_dict().items()}


_HF_LAYER = re.compile(r"^(text|vision)_model\.encoder\.layers\.(\d+)\.(.+)$")
_HF_LAYER_PARTS = {
    "self_attn.out_proj.weight": "attn.out_proj.weight",
    "self_attn.out_proj.bias": "attn.out_proj.bias",
    "layer_norm1.weight": "ln_1.weight",
    "layer_norm1.bias": "ln_1.bias",
    "layer_norm2.weight": "ln_2.weight",
    "layer_norm2.bias": "ln_2.bias",
    "mlp.fc1.weight": "mlp.c_fc.weight",
    "mlp.fc1.bias": "mlp.c_fc.bias",
    "mlp.fc2.weight": "mlp.c_proj.weight",
    "mlp.fc2.bias": "mlp.c_proj.bias",
}
_HF_TOP = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
    "vision_model.embeddings.class_embedding": "visual.class_embedding",
    "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
    "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
    "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",  # sic: Hugging Face's name
    "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
    "vision_model.post_layernorm.weight": "visual.ln_post.weight",
    "vision_model.post_layernorm.bias": "visual.ln_post.bias",
    "logit_scale": "logit_scale",
}
_HF_IGNORED = ("text_model.embeddings.position_ids", "vision_model.embeddings.position_ids")


def is_hf_clip_state_dict(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` uses Hugging Face ``CLIPModel`` key names."""
    return any(k.startswith(("text_model.", "vision_model.")) for k in state)


def hf_clip_to_openai(state: Mapping[str, torch.Tensor], source: str = "CLIP weights") -> dict:
    """Map a Hugging Face ``CLIPModel`` state dict onto OpenAI CLIP's key names.

    Hugging Face keeps q/k/v as three ``Linear`` layers and the projections as ``Linear``
    weights ``[out, in]``; OpenAI's ``nn.MultiheadAttention`` fuses q/k/v into
    ``in_proj_weight [3W, W]`` and stores the projections as ``[in, out]`` matrices.

    Raises:
        CheckpointError: a key that belongs to neither layout (listed).
    """
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if key in _HF_IGNORED:
            continue
        if key in _HF_TOP:
            out[_HF_TOP[key]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.t().contiguous()
        elif key == "visual_projection.weight":
            out["visual.proj"] = value.t().contiguous()
        elif m := _HF_LAYER.match(key):
            tower, index, rest = m.groups()
            prefix = ("" if tower == "text" else "visual.") + f"transformer.resblocks.{index}."
            attn = re.match(r"^self_attn\.([qkv])_proj\.(weight|bias)$", rest)
            if attn:
                qkv.setdefault(prefix + "attn.in_proj_" + attn.group(2), {})[attn.group(1)] = value
            elif rest in _HF_LAYER_PARTS:
                out[prefix + _HF_LAYER_PARTS[rest]] = value
            else:
                unknown.append(key)
        else:
            unknown.append(key)
    for key, parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            unknown.append(f"{key} (q/k/v incomplete: {sorted(parts)})")
            continue
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""
        )
        raise CheckpointError(f"{source}: not a Hugging Face CLIP state dict (unknown {shown})")
    return out


def read_clip_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read CLIP weights from the official TorchScript archive, a state-dict file or safetensors.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file cannot be read safely (an unofficial TorchScript archive, a
            pickle that ``weights_only`` refuses, a corrupt file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CLIP weights file not found: {path}")
    if is_torchscript_archive(path):
        return _load_trusted_torchscript(path)
    state = extract_state_dict(load_checkpoint_file(path), source=str(path))
    if is_hf_clip_state_dict(state):
        return hf_clip_to_openai(state, source=str(path))
    return state


def _count_prefix(state: Mapping[str, Any], pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for k in state if (m := regex.match(k))})


def build_clip(
    state_dict: Mapping[str, torch.Tensor], *, source: str = "CLIP weights"
) -> nn.Module:
    """Rebuild a float32 ``clip.model.CLIP`` from its state dict (strict, eval, frozen).

    Sizes are read from the weights as the ``clip`` package does (text heads = width // 64). ViT
    models are built without the package's fp16 conversion, so float32 weights stay exact; ResNet
    variants go through ``clip.model.build_model`` and are converted back to float32.

    Raises:
        CheckpointError: not a CLIP state dict, or a key/shape mismatch (all differences listed).
    """
    clip = import_clip()
    state = {k: v for k, v in state_dict.items() if k not in _METADATA_KEYS}
    needed = (
        "text_projection",
        "positional_embedding",
        "token_embedding.weight",
        "ln_final.weight",
    )
    absent = [k for k in needed if k not in state]
    if absent:
        raise CheckpointError(f"{source}: not a CLIP state dict (missing {', '.join(absent)})")
    if "visual.proj" not in state:  # ResNet image tower: defer to the package's builder
        model = clip.model.build_model(dict(state)).float()
    else:
        conv = state["visual.conv1.weight"]
        grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        width = int(state["ln_final.weight"].shape[0])
        model = clip.model.CLIP(
            embed_dim=int(state["text_projection"].shape[1]),
            image_resolution=int(conv.shape[-1]) * grid,
            vision_layers=_count_prefix(state, r"^visual\.transformer\.resblocks\.(\d+)\."),
            vision_width=int(conv.shape[0]),
            vision_patch_size=int(conv.shape[-1]),
            context_length=int(state["positional_embedding"].shape[0]),
            vocab_size=int(state["token_embedding.weight"].shape[0]),
            transformer_width=width,
            transformer_heads=max(width // 64, 1),
            transformer_layers=_count_prefix(state, r"^transformer\.resblocks\.(\d+)\."),
        )
        problems = diff_state_dict(model, state)
        if problems:
            raise CheckpointError(f"{source} does not match CLIP: " + "; ".join(problems))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def load_clip_model(path: str | os.PathLike[str] | None = None) -> nn.Module:
    """Find (see :func:`find_clip_weights`) and load CLIP as a float32 CPU model."""
    weights = find_clip_weights(path)
    return build_clip(read_clip_state_dict(weights), source=str(weights))


class ClipTextEncoder(TextEncoder):
    """CLIP text (and image) features: ``encode(list[str]) -> float32 [B, 512]`` (unnormalised).

    Args:
        weights: path of the weights file, or None to search the asset locations.
        device: where to run (float32 everywhere).
        assets_dir: extra assets root searched first when ``weights`` is None.
        name: identifier used in logs and feature-cache keys.
    """

    has_image_encoder = True

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        name: str = "clip-vit-b-32",
        assets_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._weights_path = find_clip_weights(weights, assets_dir)
        model = build_clip(read_clip_state_dict(self._weights_path), source=str(self._weights_path))
        self._setup(model, device, name)

    @classmethod
    def from_model(
        cls, model: nn.Module, device: str | torch.device = "cpu", name: str = "clip-custom"
    ) -> ClipTextEncoder:
        """Wrap an already-built ``clip.model.CLIP`` (e.g. a tiny random one in tests)."""
        self = cls.__new__(cls)
        self._weights_path = None
        self._setup(model.float(), device, name)
        return self

    def _setup(self, model: nn.Module, device: str | torch.device, name: str) -> None:
        clip = import_clip()
        super().__init__(model, device)
        self._clip = clip
        self.name = name
        self.dim = int(model.text_projection.shape[1])
        self.max_tokens = int(model.context_length)
        self.image_size = int(model.visual.input_resolution)
        #: CLIP's own preprocessing (PIL image -> normalised float [3, R, R]).
        self.preprocess = clip.clip._transform(self.image_size)

    @property
    def weights_path(self) -> Path | None:
        """File the weights were read from (None for :meth:`from_model`)."""
        return self._weights_path

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self._clip.clip._tokenizer
        return [len(tokenizer.encode(text)) + 2 for text in texts]  # + start/end tokens

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """``[B, 77]`` token ids (truncated to the context, end token kept)."""
        return self._clip.tokenize(list(texts), context_length=self.max_tokens, truncate=True)

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        return self._module.encode_text(self.tokenize(texts).to(self._device)).float()

    def encode_image(self, images: torch.Tensor | Sequence[Any]) -> torch.Tensor:
        """CLIP image features ``float32 [B, dim]`` (unnormalised).

        Args:
            images: either a preprocessed float tensor ``[B, 3, R, R]`` (output of
                :attr:`preprocess`), or a sequence of PIL images / ``uint8 [H, W, 3]`` RGB arrays,
                which are preprocessed here.
        """
        if isinstance(images, torch.Tensor):
            r = self.image_size
            if (
                images.ndim != 4
                or tuple(images.shape[1:]) != (3, r, r)
                or not images.is_floating_point()
            ):
                raise ValueError(
                    f"encode_image: a tensor must be preprocessed float [B, 3, {r}, {r}], "
                    f"got {tuple(images.shape)} {images.dtype}"
                )
            batch = images
        else:
            batch = torch.stack([self.preprocess(self._to_pil(img)) for img in images])
        with torch.no_grad():
            return self._module.encode_image(batch.to(self._device, torch.float32)).float()

    @staticmethod
    def _to_pil(image: Any) -> Any:
        if isinstance(image, Image.Image):
            return image
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(
                f"encode_image: expected PIL images or uint8 [H, W, 3] RGB arrays, got "
                f"{array.dtype} {array.shape}"
            )
        return Image.fromarray(array)

    def _weights_digest(self) -> str:
        if self._weights_path is None:
            return super()._weights_digest()
        return file_sha256(self._weights_path)
