"""Where user-supplied files (SMPL, CLIP, official checkpoints) are found, and what is missing.

Lookup order for every asset: an explicit path (config key) first, then ``$VMC_ASSETS/<layout>``,
then ``./assets/<layout>``. Nothing is ever downloaded: a missing file is reported with where to get
it and where to put it (``python -m vmc doctor`` prints the whole table).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AssetSpec:
    """One user-supplied file: its layout path under the assets root and what it is for."""

    key: str
    relpaths: tuple[str, ...]  # alternatives, first match wins
    group: str  # motion | body | appearance | losses
    purpose: str
    source: str
    #: SHA-256 of the official file when it is known (checked by ``doctor`` and loaders).
    sha256: str | None = None
    #: The official file's name carries the first hex digits of its SHA-256 (torchvision's way).
    sha256_prefix: str | None = None


ASSETS: dict[str, AssetSpec] = {
    spec.key: spec
    for spec in (
        AssetSpec(
            "smpl",
            ("smpl/SMPL_NEUTRAL.npz", "smpl/SMPL_NEUTRAL.pkl"),
            "body",
            "SMPL neutral body model (paper mode body group)",
            "https://smpl.is.tue.mpg.de (registration, licence); convert with "
            "`python -m vmc body convert-smpl SMPL_NEUTRAL.pkl SMPL_NEUTRAL.npz`",
        ),
        AssetSpec(
            "smpl_uv",
            ("smpl/uv/mapper_uv.txt",),
            "body",
            "SMPL UV layout used by the official LWG weights",
            "iPERCore assets (executables/assets)",
        ),
        AssetSpec(
            "smpl_fim_enc",
            ("smpl/uv/mapper_fim_enc.txt",),
            "body",
            "SMPL per-face correspondence code (uv_seg) of iPERCore",
            "iPERCore assets (executables/assets)",
        ),
        AssetSpec(
            "clip",
            ("clip/ViT-B-32.pt",),
            "motion",
            "CLIP ViT-B/32 (text and image encoder of the paper model)",
            "OpenAI CLIP release file ViT-B-32.pt",
            sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        ),
        AssetSpec(
            "motionclip",
            ("motionclip/paper-model/checkpoint_0100.pth.tar",),
            "motion",
            "MotionCLIP paper checkpoint (+ opt.yaml beside it)",
            "GuyTevet/MotionCLIP release (paper-model)",
        ),
        AssetSpec(
            "lwg",
            ("lwg/AttLWB-SPADE_id_G_2020-05-18.pth",),
            "appearance",
            "Liquid Warping GAN generator (AttLWB-SPADE)",
            "iPERCore release checkpoints",
        ),
        AssetSpec(
            "spin",
            ("spin/spin_ckpt.pth",),
            "appearance",
            "SPIN/HMR body regressor",
            "iPERCore release checkpoints (spin_ckpt.pth)",
        ),
        AssetSpec(
            "vgg19",
            ("losses/vgg19-dcbb9e9d.pth",),
            "losses",
            "VGG19 (torchvision layout) for the perceptual loss",
            "torchvision's vgg19-dcbb9e9d.pth",
            sha256_prefix="dcbb9e9d",
        ),
        AssetSpec(
            "sphereface",
            ("losses/sphere20a_20171020.pth",),
            "losses",
            "SphereFace-20a for the face-identity loss",
            "iPERCore release checkpoints",
        ),
    )
}


def asset_roots(extra_root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Return the directories searched for assets, in priority order."""
    roots: list[Path] = []
    if extra_root:
        roots.append(Path(extra_root).expanduser())
    env = os.environ.get("VMC_ASSETS")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.cwd() / "assets")
    return roots


def find_asset(
    key: str,
    explicit: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Locate an asset: the explicit path if given (it must exist), else the first layout match.

    Raises:
        KeyError: unknown asset key.
        FileNotFoundError: an explicit path was given and does not exist.
    """
    if key not in ASSETS:
        raise KeyError(f"unknown asset '{key}', known: {sorted(ASSETS)}")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{ASSETS[key].purpose}: configured file {path} does not exist")
        return path
    for base in asset_roots(root):
        for rel in ASSETS[key].relpaths:
            candidate = base / rel
            if candidate.is_file():
                return candidate
    return None


def missing_asset_message(key: str, root: str | os.PathLike[str] | None = None) -> str:
    """A one-paragraph message: what is missing, where to get it, where to put it."""
    spec = ASSETS[key]
    places = [str(base / spec.relpaths[0]) for base in asset_roots(root)]
    return (
        f"{spec.purpose} not found. Get it from: {spec.source}. Put it at one of: "
        + ", ".join(places)
        + " (or set the config path / $VMC_ASSETS)."
    )
