"""Frozen helper networks (VGG, SphereFace, LPIPS backbones) and where their weights come from.

Two jobs:

* :class:`FrozenNet` keeps a pretrained network **outside** its owner's module tree, so that it
  never enters ``state_dict()`` (Lightning checkpoints stay small and loadable without the
  user's licensed/third-party files), never reaches an optimizer, is never wrapped by DDP and
  always stays in ``eval()`` mode. It follows its inputs to their device on first use.
* :func:`resolve_weights` turns a ``weights`` argument into a file: ``None`` looks the asset up
  (``$VMC_ASSETS`` then ``./assets``, see :mod:`vmc.io.assets`) and fails with a message saying
  which file is missing and where it goes; a path must exist; ``"random"`` means random weights
  on purpose (tests) and logs a warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from vmc.io.assets import ASSETS, find_asset, missing_asset_message

__all__ = ["RANDOM", "FrozenNet", "WeightsArg", "resolve_weights"]

log = logging.getLogger(__name__)

#: The ``weights`` value that builds a helper network with random weights (tests only).
RANDOM = "random"

WeightsArg = str | os.PathLike[str] | None


class FrozenNet:
    """Holds a frozen ``nn.Module`` without registering it in the owner's module tree.

    Parameters get ``requires_grad=False`` (gradients still flow to the *inputs*) and the
    module is put in ``eval()`` mode for good.
    """

    def __init__(self, net: nn.Module) -> None:
        net.eval()
        net.requires_grad_(False)
        self.net = net

    def on(self, device: torch.device) -> nn.Module:
        """The network, moved to ``device`` if it is elsewhere (once; later calls are free)."""
        param = next(self.net.parameters(), None)
        if param is not None and param.device != device:
            self.net.to(device)
        return self.net


def resolve_weights(
    key: str,
    weights: WeightsArg,
    *,
    what: str,
    root: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Find the weight file of a helper network.

    Args:
        key: asset key in :data:`vmc.io.assets.ASSETS` (``"vgg19"``, ``"sphereface"``).
        weights: ``None`` (look the asset up), a path (must exist) or ``"random"``.
        what: human name used in messages, e.g. ``"VGG19 perceptual loss"``.
        root: an extra assets root searched first.

    Returns:
        the file, or ``None`` for ``"random"``.

    Raises:
        FileNotFoundError: the asset is not found / the given path does not exist. The message
            names the file, where it goes, and how to run without it.
    """
    if isinstance(weights, str) and weights == RANDOM:
        log.warning(
            "%s: built with RANDOM weights (weights='random'); its values are meaningless "
            "outside tests. Put %s under assets/ or $VMC_ASSETS for real training.",
            what,
            ASSETS[key].relpaths[0],
        )
        return None
    if weights is None:
        path = find_asset(key, root=root)
        if path is None:
            raise FileNotFoundError(
                f"{what}: weight file {Path(ASSETS[key].relpaths[0]).name} is missing. "
                + missing_asset_message(key, root)
                + " To run without it, switch this loss off (its weight 0 or null), or build it "
                "with weights='random' (tests only)."
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{what}: configured weight file {path} does not exist "
            f"(expected a copy of {Path(ASSETS[key].relpaths[0]).name}; default place: "
            f"assets/{ASSETS[key].relpaths[0]} or $VMC_ASSETS/{ASSETS[key].relpaths[0]})."
        )
    return path
