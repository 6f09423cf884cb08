"""The body group's model: SMPL when its file is found (paper mode), else the embedded body.

Motions from AMASS carry betas fitted on the male or female SMPL model (``Motion.gender``):
:func:`select_body` with ``gender`` (or :func:`body_for_motion`) takes the SMPL model of that
gender when it sits beside the neutral one, and warns when only the neutral one is there.
"""

from __future__ import annotations

import logging
from typing import Protocol

from vmc.body.embedded import load_embedded_body
from vmc.body.model import BodyModel
from vmc.io.stages import BODY_KINDS, GroupChoice, StageRequest, gender_warning, resolve_body

__all__ = ["BODY_KINDS", "body_for_motion", "load_body", "select_body"]

log = logging.getLogger(__name__)


class _Gendered(Protocol):
    """Anything with the ``gender`` of :class:`vmc.motion.types.Motion` (body sits below the
    motion layer, so it does not import it)."""

    gender: str | None


def load_body(choice: GroupChoice) -> BodyModel:
    """The body model a resolved body group names (:func:`vmc.io.stages.resolve_body`)."""
    if choice.kind == "smpl":
        return BodyModel.from_file(choice.files["smpl"])
    return load_embedded_body()


def select_body(
    kind: str = "auto",
    smpl_path: str | None = None,
    assets_dir: str | None = None,
    gender: str | None = None,
) -> tuple[BodyModel, str, str]:
    """Resolve and load the body model for ``kind``.

    Args:
        kind: ``auto`` (SMPL if found, else embedded), ``smpl`` (required) or ``embedded``.
        smpl_path: explicit SMPL ``.pkl``/``.npz``; else looked up under the asset folders.
        assets_dir: extra asset folder searched first.
        gender: the gender of the SMPL model the posed betas belong to (``"male"``,
            ``"female"``; ``None``/``"neutral"``: the neutral model). That model is used when
            it is beside the neutral file; otherwise a warning is logged (and part of ``why``).

    Returns:
        ``(body_model, description, why)``.

    Raises:
        ValueError: unknown kind. FileNotFoundError: ``kind="smpl"`` and no SMPL file.
    """
    choice = resolve_body(StageRequest(body=kind, smpl=smpl_path, assets_dir=assets_dir), gender)
    why = choice.why
    warning = gender_warning(choice, gender)
    if warning is not None:
        log.warning("%s", warning)
        why = f"{why}; {warning}"
    return load_body(choice), choice.description, why


def body_for_motion(
    motion: _Gendered,
    kind: str = "auto",
    smpl_path: str | None = None,
    assets_dir: str | None = None,
) -> tuple[BodyModel, str, str]:
    """:func:`select_body` for the gender of ``motion`` (``motion.gender``), so that its
    ``betas`` shape the SMPL model they were fitted on when the user has it."""
    return select_body(kind, smpl_path, assets_dir, gender=motion.gender)
