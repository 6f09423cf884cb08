"""Face-identity loss ``L_face`` of LWG training, with the SphereFace-20a face network.

The network is rebuilt by hand in the key layout of ``sphere20a_20171020.pth`` (the file
iPERCore ships): ``conv{s}_{k}.weight/bias`` (3x3 convs), ``relu{s}_{k}.weight`` (PReLU slopes)
and ``fc5.weight/bias``; the file's classifier ``fc6.*`` (AngleLinear) is ignored.

Architecture (input ``[N, 3, 112, 96]``, images in [-1, 1] as iPERCore feeds them): four stages,
each a stride-2 conv + PReLU followed by residual units ``x + PReLU(conv(PReLU(conv(x))))``
(1, 2, 4, 1 units at 64, 128, 256, 512 channels), then ``fc5`` (512*7*6 -> 512). The features
compared are the four stage outputs and the fc5 embedding, with weights 1/32, 1/16, 1/8, 1/4, 1;
L1 per level, the real image's features carry no gradient.

Head crops: ``(min_x, max_x, min_y, max_y)`` pixel boxes, exclusive ends, resized bilinearly
(``align_corners=True``) to 112x96; samples with an empty box are skipped (reference behaviour).
:func:`head_rects_from_keypoints` makes such boxes from 2-D head keypoints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vmc.io.checkpoints import extract_state_dict, load_checkpoint_file, load_state_dict_strict
from vmc.lwg.discriminator import crop_and_resize
from vmc.lwg.losses.frozen import FrozenNet, WeightsArg, resolve_weights
from vmc.lwg.losses.pixel import as_image_batch

__all__ = [
    "FACE_LAYER_WEIGHTS",
    "SPHERE20A_INPUT_SIZE",
    "FaceIdentityLoss",
    "Sphere20a",
    "build_sphere20a",
    "head_rects_from_keypoints",
    "load_sphere20a",
]

#: ``(height, width)`` SphereFace-20a expects.
SPHERE20A_INPUT_SIZE = (112, 96)
FACE_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

# (channels, number of residual units) per stage; every stage starts with a stride-2 conv.
_STAGES = ((64, 1), (128, 2), (256, 4), (512, 1))


class Sphere20a(nn.Module):
    """SphereFace-20a feature extractor (no classifier).

    ``forward(x [N, 3, 112, 96]) -> [s1 [N,64,56,48], s2 [N,128,28,24], s3 [N,256,14,12],
    s4 [N,512,7,6], emb [N,512]]``.
    """

    def __init__(self) -> None:
        super().__init__()
        in_ch = 3
        for s, (ch, units) in enumerate(_STAGES, start=1):
            for k in range(1, 2 * units + 2):
                stride = 2 if k == 1 else 1
                self.add_module(f"conv{s}_{k}", nn.Conv2d(in_ch, ch, 3, stride, 1))
                self.add_module(f"relu{s}_{k}", nn.PReLU(ch))
                in_ch = ch
        h, w = SPHERE20A_INPUT_SIZE
        self.fc5 = nn.Linear(512 * (h // 16) * (w // 16), 512)

    def _unit(self, s: int, k: int, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"relu{s}_{k}")(getattr(self, f"conv{s}_{k}")(x))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != SPHERE20A_INPUT_SIZE:
            raise ValueError(
                f"Sphere20a expects [N, 3, {SPHERE20A_INPUT_SIZE[0]}, {SPHERE20A_INPUT_SIZE[1]}] "
                f"inputs, got {tuple(x.shape)}"
            )
        feats = []
        for s, (_, units) in enumerate(_STAGES, start=1):
            x = self._unit(s, 1, x)
            for u in range(units):
                k = 2 + 2 * u
                x = x + self._unit(s, k + 1, self._unit(s, k, x))
            feats.append(x)
        feats.append(self.fc5(x.flatten(1)))
        return feats


def load_sphere20a(path: str | os.PathLike[str]) -> Sphere20a:
    """Load ``sphere20a_20171020.pth`` (``weights_only=True``) strictly, ignoring ``fc6.*``.

    Raises:
        FileNotFoundError, vmc.io.checkpoints.CheckpointError (listing mismatching keys).
    """
    path = Path(path)
    state = extract_state_dict(load_checkpoint_file(path), source=str(path))
    state = {k: v for k, v in state.items() if not k.startswith("fc6.")}
    net = Sphere20a()
    load_state_dict_strict(net, state, source=f"{path} (SphereFace-20a)")
    return net


def build_sphere20a(
    weights: WeightsArg = None, root: str | os.PathLike[str] | None = None
) -> Sphere20a:
    """SphereFace-20a from the user's file (``None`` = asset lookup, a path) or ``"random"``."""
    path = resolve_weights("sphereface", weights, what="SphereFace face-identity loss", root=root)
    return Sphere20a() if path is None else load_sphere20a(path)


@torch.no_grad()
def head_rects_from_keypoints(
    keypoints: torch.Tensor, height: int, width: int, margin: float = 0.05
) -> torch.Tensor:
    """Head boxes from 2-D head keypoints, iPERCore's rule.

    Args:
        keypoints: ``[N, K, 2]`` head keypoints ``(x, y)`` in normalised image coordinates
            [-1, 1] (y down); for the 19 cocoplus joints pass joints 12..18 (neck, head top,
            nose, eyes, ears).
        height, width: image size in pixels.
        margin: margin in [0, 1] image units added left, right and above (not below).

    Returns:
        ``[N, 4]`` long ``(min_x, max_x, min_y, max_y)``, ends exclusive, clamped to the image.
    """
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2 or keypoints.shape[1] < 1:
        raise ValueError(f"keypoints must have shape [N, K, 2], got {tuple(keypoints.shape)}")
    kps = (keypoints.float() + 1.0) / 2.0
    min_x = (kps[..., 0].amin(dim=1) - margin).clamp(min=0.0)
    max_x = (kps[..., 0].amax(dim=1) + margin).clamp(max=1.0)
    min_y = (kps[..., 1].amin(dim=1) - margin).clamp(min=0.0)
    max_y = kps[..., 1].amax(dim=1).clamp(max=1.0)
    rects = torch.stack([min_x * width, max_x * width, min_y * height, max_y * height], dim=1)
    return rects.long()


class FaceIdentityLoss(nn.Module):
    """Multi-level L1 between SphereFace-20a features of head crops of two image batches.

    Args:
        weights: ``sphere20a_20171020.pth`` (``None``: find ``sphereface`` asset; ``"random"``:
            random weights, tests only).
        network: an already built :class:`Sphere20a` to use instead.
        layer_weights: weights of the 5 feature levels (paper: 1/32 ... 1).
        assets_root: extra assets root searched first.
    """

    def __init__(
        self,
        weights: WeightsArg = None,
        *,
        network: Sphere20a | None = None,
        layer_weights: Sequence[float] = FACE_LAYER_WEIGHTS,
        assets_root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if len(layer_weights) != 5:
            raise ValueError(f"layer_weights needs 5 values, got {len(layer_weights)}")
        net = network if network is not None else build_sphere20a(weights, assets_root)
        self._net = FrozenNet(net)
        self.layer_weights = tuple(float(w) for w in layer_weights)

    @property
    def network(self) -> Sphere20a:
        """The frozen SphereFace (not a registered submodule)."""
        return self._net.net  # type: ignore[return-value]

    def crop(self, images: torch.Tensor, head_rects: torch.Tensor | None) -> torch.Tensor:
        """Head crops ``[n, 3, 112, 96]`` (whole images resized when ``head_rects`` is None)."""
        if head_rects is None:
            if tuple(images.shape[-2:]) == SPHERE20A_INPUT_SIZE:
                return images
            return F.interpolate(
                images, size=SPHERE20A_INPUT_SIZE, mode="bilinear", align_corners=True
            )
        crops, _ = crop_and_resize(images, head_rects, SPHERE20A_INPUT_SIZE)
        return crops

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, head_rects: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Face-identity distance (scalar).

        Args:
            pred: ``[N, 3, H, W]`` (or ``[B, n, 3, H, W]``) generated images in [-1, 1].
            target: real images, same shape (no gradient).
            head_rects: ``[N, 4]`` ``(min_x, max_x, min_y, max_y)`` pixel boxes shared by both
                images, or ``None`` to use the whole images.

        Returns:
            the loss; exactly 0 (still attached to ``pred``) when every box is empty.
        """
        pred = as_image_batch("pred", pred)
        target = as_image_batch("target", target)
        if pred.shape != target.shape:
            raise ValueError(
                f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must match"
            )
        if head_rects is not None:
            head_rects = head_rects.reshape(-1, 4)
        fake_crops = self.crop(pred, head_rects)
        if fake_crops.shape[0] == 0:
            return pred.sum() * 0.0
        net = self._net.on(pred.device)
        fake = net(fake_crops)
        with torch.no_grad():
            real = net(self.crop(target, head_rects))
        loss = pred.new_zeros(())
        for w, f, r in zip(self.layer_weights, fake, real, strict=True):
            loss = loss + w * F.l1_loss(f, r)
        return loss
