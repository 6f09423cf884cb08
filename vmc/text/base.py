"""The one interface every text encoder implements.

A text encoder maps ``list[str]`` to float32 ``[B, D]`` features on its device. It is frozen
(eval mode, no gradients) and deliberately **not** an ``nn.Module``: assigning it to a
LightningModule attribute therefore never puts its weights into checkpoints or optimizers.
"""

from __future__ import annotations

import hashlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class TextTruncationWarning(UserWarning):
    """A text was longer than the encoder's token limit and was cut."""


class NoImageEncoderError(NotImplementedError):
    """The encoder has no image tower (the CLIP image loss must be switched off)."""


class TextEncoder(ABC):
    """Frozen text encoder: ``encode(list[str]) -> float32 [B, dim]``.

    Attributes (set by subclasses):
        name: short identifier (``"clip-vit-b-32"``, ``"all-minilm-l6-v2"``, ...).
        dim: feature size D.
        max_tokens: token limit per text (longer texts are truncated with a
            :class:`TextTruncationWarning`).
        has_image_encoder: True when :meth:`encode_image` works (CLIP).
    """

    name: str = "text-encoder"
    dim: int = 0
    max_tokens: int = 0
    has_image_encoder: bool = False
    #: Why this encoder was chosen (set by ``vmc.text.build_text_encoder``).
    selection_reason: str = ""

    def __init__(self, module: nn.Module, device: str | torch.device = "cpu") -> None:
        module.eval()
        for param in module.parameters():
            param.requires_grad_(False)
        self._module = module.to(device)
        self._device = torch.device(device)
        self._cache_id: str | None = None

    # ------------------------------------------------------------------ interface
    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        """Encode one batch of validated strings -> ``[b, dim]`` float32 on ``self.device``."""

    @abstractmethod
    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens each text occupies (special tokens included)."""

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """Encode texts.

        Args:
            texts: a list (or tuple) of strings; a bare ``str`` is refused to avoid encoding
                characters one by one.
            batch_size: texts per forward pass.

        Returns:
            float32 ``[len(texts), dim]`` on :attr:`device`, without gradient.

        Raises:
            TypeError: ``texts`` is a string or holds non-strings.
        """
        texts = self._check_texts(texts)
        if not texts:
            return torch.zeros(0, self.dim, device=self._device)
        self._warn_if_truncated(texts)
        with torch.no_grad():
            parts = [
                self._encode_batch(texts[i : i + batch_size])
                for i in range(0, len(texts), batch_size)
            ]
        return torch.cat(parts).float()

    def encode_image(self, images: Any) -> torch.Tensor:
        """Encode images (only encoders with an image tower)."""
        raise NoImageEncoderError(
            f"{self.name} has no image encoder; switch the CLIP image loss off "
            "(set its weight to 0) or use the CLIP text encoder"
        )

    # ------------------------------------------------------------------ device / identity
    @property
    def device(self) -> torch.device:
        """Where the encoder runs and where its outputs live."""
        return self._device

    @property
    def module(self) -> nn.Module:
        """The underlying frozen network."""
        return self._module

    def to(self, device: str | torch.device) -> TextEncoder:
        """Move the encoder; returns ``self``."""
        self._module.to(device)
        self._device = torch.device(device)
        return self

    @property
    def cache_id(self) -> str:
        """Stable id of the model *weights* (for on-disk feature caches), ``<name>-<hash16>``."""
        if self._cache_id is None:
            self._cache_id = f"{self.name}-{self._weights_digest()[:16]}"
        return self._cache_id

    def _weights_digest(self) -> str:
        digest = hashlib.sha256()
        for key, value in sorted(self._module.state_dict().items()):
            digest.update(key.encode())
            tensor = value.detach().to("cpu").contiguous().reshape(-1)
            digest.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, device={self._device})"

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_texts(texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise TypeError("encode expects a list of strings, got a single str; wrap it: [text]")
        texts = list(texts)
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"encode expects strings only, got {sorted(set(bad))}")
        return texts

    def _warn_if_truncated(self, texts: list[str]) -> None:
        counts = self.token_counts(texts)
        long = [(t, n) for t, n in zip(texts, counts, strict=True) if n > self.max_tokens]
        if long:
            text, n = long[0]
            preview = text if len(text) <= 60 else text[:57] + "..."
            warnings.warn(
                f"{len(long)} text(s) exceed {self.name}'s limit of {self.max_tokens} tokens and "
                f"were truncated (e.g. {n} tokens: {preview!r})",
                TextTruncationWarning,
                stacklevel=3,
            )
