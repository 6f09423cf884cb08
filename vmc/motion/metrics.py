"""Validation metrics of a MotionCLIP model (torchmetrics; synchronised across DDP ranks).

* :class:`MaskedMSE`: reconstruction error of the ``[B, 25, 6, T]`` tensor over valid frames.
* :class:`MeanPositionError`: mean Euclidean distance between predicted and true points
  (joints or vertices, ``[N, P, 3]`` in metres), reported in millimetres by default.
* :class:`RetrievalRPrecision`: text -> motion matching in the latent space, as in the
  text-to-motion literature (Guo et al. 2022): the validation pairs are cut, in order, into groups
  of ``group_size`` (32); inside a group every motion latent is compared (cosine) with the texts
  of all the group's pairs, and R-precision top-k is the fraction of motions whose own text ranks
  among the k most similar. Chance level is ``k / group_size``. Ties count in the motion's favour
  (two pairs with the same caption both match). The last, incomplete group is dropped unless it
  is the only one (fewer than ``group_size`` pairs in all; then chance is ``k / N``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = ["MaskedMSE", "MeanPositionError", "RetrievalRPrecision", "r_precision"]


class MaskedMSE(Metric):
    """Mean squared error over the valid frames of ``[B, ..., T]`` tensors (``mask [B, T]``)."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("sum_sq", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
        if preds.shape != target.shape:
            raise ValueError(f"shapes differ: {tuple(preds.shape)} vs {tuple(target.shape)}")
        if tuple(mask.shape) != (preds.shape[0], preds.shape[-1]) or mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool [B, T], got {mask.dtype} {tuple(mask.shape)}")
        sq = (preds.detach() - target.detach()).double().pow(2).flatten(1, -2).sum(1)  # [B, T]
        self.sum_sq += (sq * mask).sum()
        self.count += mask.sum() * preds[0, ..., 0].numel()

    def compute(self) -> torch.Tensor:
        return (self.sum_sq / self.count.clamp(min=1)).float()


class MeanPositionError(Metric):
    """Mean per-point position error (MPJPE for joints, MPVE for vertices).

    Args:
        scale: multiplies the distances (1000: metres -> millimetres).
    """

    full_state_update = False
    higher_is_better = False

    def __init__(self, scale: float = 1000.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.add_state("sum_dist", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds``, ``target``: ``[..., 3]`` points of the same shape (valid frames only)."""
        if preds.shape != target.shape or preds.shape[-1] != 3:
            raise ValueError(
                f"expected two [..., 3] point tensors of one shape, got {tuple(preds.shape)} "
                f"and {tuple(target.shape)}"
            )
        dist = (preds.detach() - target.detach()).double().norm(dim=-1)
        self.sum_dist += dist.sum()
        self.count += dist.numel()

    def compute(self) -> torch.Tensor:
        return (self.scale * self.sum_dist / self.count.clamp(min=1)).float()


def r_precision(
    motion: torch.Tensor,
    text: torch.Tensor,
    group_size: int = 32,
    top_k: Sequence[int] = (1, 3),
) -> dict[int, float]:
    """R-precision of text -> motion matching (see the module docstring).

    Args:
        motion: ``[N, D]`` motion latents, row i paired with ``text[i]``.
        text: ``[N, D]`` text features.
        group_size: pairs per group (32 in the literature).
        top_k: the k values to report.

    Returns:
        ``{k: fraction in [0, 1]}``; NaN for every k when ``N == 0``.
    """
    if motion.shape != text.shape or motion.ndim != 2:
        raise ValueError(
            f"motion {tuple(motion.shape)} and text {tuple(text.shape)} must both be [N, D]"
        )
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    n = motion.shape[0]
    if n == 0:
        return {k: float("nan") for k in top_k}
    size = min(group_size, n)
    num_groups = n // size
    m = F.normalize(motion[: num_groups * size].double(), dim=1).reshape(num_groups, size, -1)
    t = F.normalize(text[: num_groups * size].double(), dim=1).reshape(num_groups, size, -1)
    sim = m @ t.transpose(1, 2)  # [G, size, size]: motion i vs text j
    own = sim.diagonal(dim1=1, dim2=2)[..., None]  # [G, size, 1]
    # Rank of the own text = how many other texts score strictly higher.
    rank = (sim > own + 1e-12).sum(-1)  # [G, size]
    return {k: float((rank < k).double().mean()) for k in top_k}


class RetrievalRPrecision(Metric):
    """Accumulates ``(motion latent, text feature)`` pairs; computes :func:`r_precision`.

    The states are concatenated across DDP ranks before grouping (Lightning's distributed
    sampler interleaves ranks, so the groups are a fixed function of the validation set).

    Args:
        group_size: pairs per group (32).
        top_k: k values; ``compute()`` returns ``{"top1": ..., "top3": ...}`` tensors.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, group_size: int = 32, top_k: Sequence[int] = (1, 3), **kwargs) -> None:
        super().__init__(**kwargs)
        if group_size < 1 or not top_k or min(top_k) < 1:
            raise ValueError(f"need group_size >= 1 and k >= 1, got {group_size}, {top_k}")
        self.group_size = int(group_size)
        self.top_k = tuple(int(k) for k in top_k)
        self.add_state("motion", default=[], dist_reduce_fx="cat")
        self.add_state("text", default=[], dist_reduce_fx="cat")

    def update(self, motion: torch.Tensor, text: torch.Tensor) -> None:
        """``motion [B, D]`` latents and ``text [B, D]`` features of the same pairs."""
        if motion.shape != text.shape or motion.ndim != 2:
            raise ValueError(
                f"motion {tuple(motion.shape)} and text {tuple(text.shape)} must both be [B, D]"
            )
        self.motion.append(motion.detach().float())
        self.text.append(text.detach().float())

    def compute(self) -> dict[str, torch.Tensor]:
        motion, text = _cat(self.motion), _cat(self.text)  # a tensor after a DDP sync
        scores = r_precision(motion, text, self.group_size, self.top_k)
        return {f"top{k}": torch.tensor(v) for k, v in scores.items()}


def _cat(state: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    if isinstance(state, torch.Tensor):
        return state
    return dim_zero_cat(state) if len(state) else torch.zeros(0, 1)
