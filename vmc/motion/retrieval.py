"""Text → motion by caption retrieval: the nearest captioned motion in a text encoder's space.

The baseline that serves before a MotionCLIP model is trained (and a sanity check after): embed
every caption of a captioned motion collection once, embed the query, take the highest cosine
similarity. It returns *which* motion matches; generating it is the collection's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch


class _Encoder(Protocol):
    def encode(self, texts: list[str]) -> torch.Tensor: ...


@dataclass(frozen=True)
class RetrievalMatch:
    """The best caption for one query: its label (e.g. an action name), caption and cosine."""

    label: str
    caption: str
    score: float


class CaptionIndex:
    """Cosine-similarity index over captions.

    Args:
        captions: N caption strings.
        labels: N labels (what each caption describes; repeated for paraphrases).
        encoder: anything with ``encode(list[str]) -> [N,D]``.
    """

    def __init__(self, captions: Sequence[str], labels: Sequence[str], encoder: _Encoder) -> None:
        if len(captions) != len(labels) or not captions:
            raise ValueError(
                f"need the same non-zero number of captions and labels, got {len(captions)} "
                f"and {len(labels)}"
            )
        self.captions = list(captions)
        self.labels = list(labels)
        self.encoder = encoder
        with torch.no_grad():
            self.embeddings = _normalise(encoder.encode(self.captions))  # [N,D]

    def query(self, texts: Sequence[str]) -> list[RetrievalMatch]:
        """Best match per query text (``len(texts)`` results)."""
        if not texts or any(not str(t).strip() for t in texts):
            raise ValueError("query texts must be non-empty strings")
        with torch.no_grad():
            queries = _normalise(self.encoder.encode([str(t) for t in texts]))  # [B,D]
        scores = queries @ self.embeddings.T  # [B,N]
        best = scores.argmax(dim=1)
        return [
            RetrievalMatch(self.labels[i], self.captions[i], float(scores[b, i]))
            for b, i in enumerate(best.tolist())
        ]


def _normalise(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)
