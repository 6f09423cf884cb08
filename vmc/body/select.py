"""The body group's model: SMPL when its file is found (paper mode), else the embedded body."""

from __future__ import annotations

from vmc.body.embedded import load_embedded_body
from vmc.body.model import BodyModel
from vmc.io.stages import BODY_KINDS, GroupChoice, StageRequest, resolve_body

__all__ = ["BODY_KINDS", "load_body", "select_body"]


def load_body(choice: GroupChoice) -> BodyModel:
    """The body model a resolved body group names (:func:`vmc.io.stages.resolve_body`)."""
    if choice.kind == "smpl":
        return BodyModel.from_file(choice.files["smpl"])
    return load_embedded_body()


def select_body(
    kind: str = "auto", smpl_path: str | None = None, assets_dir: str | None = None
) -> tuple[BodyModel, str, str]:
    """Resolve and load the body model for ``kind``.

    Args:
        kind: ``auto`` (SMPL if found, else embedded), ``smpl`` (required) or ``embedded``.
        smpl_path: explicit SMPL ``.pkl``/``.npz``; else looked up under the asset folders.
        assets_dir: extra asset folder searched first.

    Returns:
        ``(body_model, description, why)``.

    Raises:
        ValueError: unknown kind. FileNotFoundError: ``kind="smpl"`` and no SMPL file.
    """
    choice = resolve_body(StageRequest(body=kind, smpl=smpl_path, assets_dir=assets_dir))
    return load_body(choice), choice.description, choice.why
