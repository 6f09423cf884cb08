"""Safe, strict loading of SPIN regressor weights.

Readable files (nothing is unpickled beyond tensors and plain containers):

* iPERCore's ``spin_ckpt.pth``: a bare state dict (331 keys, mean-parameter buffers included);
* SPIN's own training checkpoints ``{"model": state_dict, "optimizer": ..., "epoch": ...}``
  (also ``{"state_dict": ...}`` / ``{"net": ...}``); a DataParallel ``module.`` prefix is
  stripped; other key prefixes (e.g. a Lightning attribute name) are found from the anchor key
  ``decpose.weight``;
* ``.safetensors`` files and ``.npz`` archives (``w::<key>`` arrays, like the parity fixture).

Torch files are read with ``torch.load(weights_only=True)`` only. Loading is STRICT: every
missing, unexpected and mis-shaped key is listed in one :class:`CheckpointError`. The
only partial load is the explicit ``parts="head"`` (IEF head + mean buffers; the backbone keeps
its current weights), for head-only files such as the parity fixture.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch

from vmc.io.checkpoints import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
)
from vmc.lwg.spin.regressor import SPINRegressor

__all__ = ["SPIN_ANCHOR", "SPINParts", "load_spin", "load_spin_state_dict", "read_spin_state_dict"]

SPIN_ANCHOR = "decpose.weight"
SPINParts = Literal["all", "head"]
_WRAPPERS = ("state_dict", "model", "net")
_MAX_LISTED = 25


def _listing(keys: list[str]) -> str:
    more = f" ... and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return f"[{', '.join(keys[:_MAX_LISTED])}{more}] ({len(keys)} in all)"


def read_spin_state_dict(
    path: str | os.PathLike[str], *, prefix: str | None = None
) -> dict[str, torch.Tensor]:
    """Read the SPIN tensors of a file, wrappers and key prefixes removed.

    Args:
        path: ``.pth``/``.pt``/``.ckpt``, ``.safetensors`` or ``.npz``.
        prefix: key prefix in front of the SPIN keys (auto-detected from ``decpose.weight``
            when ``None``; ``""`` for none).

    Returns:
        ``{key: tensor}`` with SPIN's own key names.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, unsafe or not SPIN weights (one line, naming the file).
    """
    p = Path(path)
    return extract_state_dict(
        load_checkpoint_file(p),
        prefix,
        anchor=SPIN_ANCHOR if prefix is None else None,
        wrappers=_WRAPPERS,
        source=str(p),
    )


def load_spin_state_dict(
    model: SPINRegressor,
    state_dict: Mapping[str, torch.Tensor],
    *,
    parts: SPINParts = "all",
    source: str = "state_dict",
) -> SPINRegressor:
    """Load weights into ``model`` strictly (``parts="all"``) or only its head (``"head"``).

    With ``parts="head"`` the file must hold every head key (``fc1``, ``fc2``, ``decpose``,
    ``decshape``, ``deccam``, ``init_pose/shape/cam``) with the right shapes; backbone keys, if
    present, are ignored; keys that belong to no part of SPIN are still an error.

    Raises:
        CheckpointError: every missing, unexpected and mis-shaped key, in one message.
        ValueError: unknown ``parts``.
    """
    if parts == "all":
        try:
            load_state_dict_strict(model, state_dict, source=source)
        except CheckpointError as err:
            if state_dict and all(SPINRegressor.is_head_key(k) for k in state_dict):
                raise CheckpointError(
                    f"{err} -- the file holds only head weights; pass parts='head' to load "
                    "just the head"
                ) from err
            raise
        return model
    if parts != "head":
        raise ValueError(f"parts must be 'all' or 'head', got {parts!r}")
    full = model.state_dict()
    unexpected = sorted(k for k in state_dict if k not in full)
    head = {k: v for k, v in state_dict.items() if k in full and SPINRegressor.is_head_key(k)}
    expected_head = {k for k in full if SPINRegressor.is_head_key(k)}
    missing = sorted(expected_head - set(head))
    mismatched = sorted(
        f"{k}: file {tuple(v.shape)} vs model {tuple(full[k].shape)}"
        for k, v in head.items()
        if tuple(v.shape) != tuple(full[k].shape)
    )
    problems = [
        f"{what} {_listing(keys)}"
        for what, keys in (
            ("missing head keys", missing),
            ("unexpected keys", unexpected),
            ("mis-shaped keys", mismatched),
        )
        if keys
    ]
    if problems:
        raise CheckpointError(
            f"{source} does not fit the SPIN head (parts='head'): " + "; ".join(problems)
        )
    with torch.no_grad():
        for k, v in head.items():
            full[k].copy_(v)
    return model


def load_spin(
    path: str | os.PathLike[str],
    *,
    parts: SPINParts = "all",
    prefix: str | None = None,
    model: SPINRegressor | None = None,
) -> SPINRegressor:
    """Build (or fill) a :class:`SPINRegressor` from a checkpoint file.

    Args:
        path: ``spin_ckpt.pth`` or any file :func:`read_spin_state_dict` reads.
        parts: ``"all"`` (default, strict: every key must match) or ``"head"`` (explicit
            partial load of the IEF head and mean buffers only; the backbone stays as it is).
        prefix: key prefix of the SPIN weights (auto-detected when ``None``).
        model: load into this model instead of a new one.

    Returns:
        The model on the CPU (or its current device) in ``eval()`` mode.

    Raises:
        FileNotFoundError, ValueError (unreadable file), CheckpointError (key lists).
    """
    sd = read_spin_state_dict(path, prefix=prefix)
    model = SPINRegressor() if model is None else model
    load_spin_state_dict(model, sd, parts=parts, source=str(path))
    return model.eval()
