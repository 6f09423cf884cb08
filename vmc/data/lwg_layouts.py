"""On-disk layouts of processed person videos for LWG training: ours and iPERCore's.

Every reader returns a :class:`VideoRecord`: frame and mask paths plus per-frame SMPL parameters
(weak-perspective ``cams [T, 3] = (s, tx, ty)``, axis-angle ``poses [T, 72]`` with the root in the
HMR image frame, ``betas [T, nb]``) and the frames that make good sources (``front_ids``).
Images are loaded on demand with :func:`load_frames` / :func:`load_masks`.

Our layout (``vmc-processed-video``, versions 1 and 2; :mod:`vmc.io.processed_video` describes
it and holds its writer), one folder per video::

    <root>/<video>/
        frames/000000.png ...   RGB uint8, square, all the same size
        masks/000000.png ...    optional; person alpha as 8-bit grey (255 = person)
        smpls.npz               cams [T,3], poses [T,72], betas [T,nb] or [nb] (float32),
                                optional front_ids [K] int64 (best source frames first)
        meta.json               {"format": "vmc-processed-video", "version": 1 or 2, ...}
        background.png          optional clean background plate (synthetic clips have one)
    <root>/train.txt, val.txt   optional lists of video folder names (one per line)

A subject folder (version 2, :mod:`vmc.subject.folder`) is such a folder with more files beside
these; it reads as a video whose frames are the subject's photo crops.

iPERCore's layouts (read only; its pickles are opened with a restricted unpickler that allows
numpy arrays and plain containers only):

* v0.2 ``ProcessedVideoDataset``: ``<root>/primitives/<video>/processed/`` with ``images/``,
  ``parse/<stem>_alpha.png`` (matting, 255 = person) and ``vid_info.pkl`` (``valid_img_info``
  names and ``parse_ids``, ``processed_pose3d`` cams/pose/shape, ``processed_front_info``);
  ``<root>/train.txt`` / ``val.txt`` list the videos.
* the older ``IPERDataset``: ``<root>/processed/<video>/`` with ``images/*``,
  ``parse/*_alpha.png``, ``pose_shape.pkl`` (``cams``, ``pose`` [T,72] or quaternions [T,96]
  (x, y, z, w), ``shape``) and ``front_path.json``; ``<root>/train.txt`` / ``val.txt``.

iPERCore's SMPL parameters are for SMPL: use them with the SMPL body (the embedded body has a
different shape space, its poses would still be roughly right).

No Lightning/Hydra imports.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from vmc.body.embedded import load_embedded_body
from vmc.body.smpl_files import SMPLUnpickler, UnsafePickleError
from vmc.data.backgrounds import BackgroundSource
from vmc.data.synthetic_clips import render_synthetic_clip
from vmc.io.images import IMAGE_SUFFIXES, read_image
from vmc.io.processed_video import (
    LAYOUT_FORMAT,
    LAYOUT_VERSION,
    frontal_order,
    read_layout_meta,
    write_processed_video,
)
from vmc.render.correspondence import UVLayout
from vmc.render.texture import uv_render

__all__ = [
    "LAYOUT_FORMAT",
    "LAYOUT_VERSION",
    "VideoRecord",
    "find_videos",
    "frontal_order",
    "load_frames",
    "load_masks",
    "make_synthetic_dataset",
    "read_iper_legacy_video",
    "read_iper_video",
    "read_processed_video",
    "read_video",
    "safe_load_pickle",
    "write_processed_video",
]


@dataclass
class VideoRecord:
    """One processed video (lazy: images stay on disk).

    Attributes:
        name: video name (folder name).
        root: the video's folder.
        frame_paths: ``T`` RGB frames.
        mask_paths: ``T`` person masks (255 = person), or None (use the rendered silhouette).
        cams: ``float32 [T, 3]``; poses: ``float32 [T, 72]``; betas: ``float32 [T, nb]``.
        front_ids: candidate source frames, most frontal first (all frames when unknown).
        fps: frame rate if known.
        body: body model the parameters were made for (``"smpl"``, ``"embedded"``, ...).
        background_path: clean background plate, if any.
        layout: ``"vmc"``, ``"iper"`` or ``"iper-legacy"``.
        meta: the rest of the metadata.
    """

    name: str
    root: Path
    frame_paths: list[Path]
    mask_paths: list[Path] | None
    cams: np.ndarray
    poses: np.ndarray
    betas: np.ndarray
    front_ids: list[int]
    fps: float | None = None
    body: str | None = None
    background_path: Path | None = None
    layout: str = "vmc"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    def validate(self) -> VideoRecord:
        """Check lengths and shapes; ValueError naming the video otherwise. Returns self."""
        t = self.num_frames
        where = f"video {str(self.root)!r}"
        if t == 0:
            raise ValueError(f"{where} has no frames")
        if self.mask_paths is not None and len(self.mask_paths) != t:
            raise ValueError(f"{where}: {len(self.mask_paths)} masks for {t} frames")
        if self.cams.shape != (t, 3):
            raise ValueError(f"{where}: cams must be [{t}, 3], got {self.cams.shape}")
        if self.poses.shape != (t, 72):
            raise ValueError(f"{where}: poses must be [{t}, 72], got {self.poses.shape}")
        if self.betas.ndim != 2 or self.betas.shape[0] != t:
            raise ValueError(f"{where}: betas must be [{t}, nb], got {self.betas.shape}")
        for name, arr in (("cams", self.cams), ("poses", self.poses), ("betas", self.betas)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{where}: {name} holds NaN or inf")
        if np.any(self.cams[:, 0] <= 0):
            raise ValueError(f"{where}: camera scales must be > 0")
        bad = [i for i in self.front_ids if not 0 <= i < t]
        if bad or not self.front_ids:
            raise ValueError(f"{where}: front_ids must be non-empty frame indices, bad: {bad[:5]}")
        return self


# --------------------------------------------------------------------------------------------
# Safe pickles
# --------------------------------------------------------------------------------------------


class _NumpyOnlyUnpickler(SMPLUnpickler):
    """The SMPL unpickler narrowed to numpy arrays/scalars and plain containers."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith(("chumpy", "scipy")):
            raise UnsafePickleError(
                f"refusing to load global '{module}.{name}': only numpy arrays are allowed here"
            )
        return super().find_class(module, name)


def safe_load_pickle(path: str | os.PathLike[str]) -> Any:
    """Load a pickle that may hold only numpy arrays/scalars, dicts, lists, tuples, str, numbers.

    Raises:
        FileNotFoundError: missing file.
        ValueError: anything else in the pickle (no code is ever executed), or a corrupt file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"pickle file not found: {str(p)!r}")
    data = p.read_bytes()
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as err:
        raise ValueError(f"{str(p)!r}: {err}") from err
    except Exception as err:  # corrupt/truncated pickles raise many types
        raise ValueError(f"cannot read pickle {str(p)!r}: {err}") from err


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _as_poses72(pose: np.ndarray, where: str) -> np.ndarray:
    pose = np.asarray(pose, dtype=np.float64)
    if pose.ndim == 3:
        pose = pose.reshape(pose.shape[0], -1)
    if pose.ndim != 2:
        raise ValueError(f"{where}: pose must be [T, 72] or [T, 96], got {pose.shape}")
    if pose.shape[1] == 96:  # iPERCore's quaternions, scipy order (x, y, z, w)
        pose = Rotation.from_quat(pose.reshape(-1, 4)).as_rotvec().reshape(-1, 72)
    if pose.shape[1] != 72:
        raise ValueError(f"{where}: pose must be [T, 72] or [T, 96], got {pose.shape}")
    return pose.astype(np.float32)


def _as_betas(betas: np.ndarray, t: int, where: str) -> np.ndarray:
    b = np.asarray(betas, dtype=np.float32)
    if b.ndim == 1:
        b = np.broadcast_to(b, (t, b.shape[0])).copy()
    if b.ndim != 2 or b.shape[0] != t:
        raise ValueError(f"{where}: betas must be [nb] or [{t}, nb], got {b.shape}")
    return b


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------------------------
# Our layout: reader (the writer: vmc.io.processed_video)
# --------------------------------------------------------------------------------------------


def read_processed_video(video_dir: str | os.PathLike[str]) -> VideoRecord:
    """Read one video folder of our layout (see the module docstring).

    Raises:
        FileNotFoundError: missing ``meta.json``/``smpls.npz``/frames.
        ValueError: wrong format marker, inconsistent counts or shapes.
    """
    root = Path(video_dir)
    meta = read_layout_meta(root)
    frames_dir = root / "frames"
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"{str(frames_dir)!r} not found")
    frames = _image_files(frames_dir)
    masks_dir = root / "masks"
    masks = _image_files(masks_dir) if masks_dir.is_dir() else None
    smpl_path = root / "smpls.npz"
    if not smpl_path.is_file():
        raise FileNotFoundError(f"{str(smpl_path)!r} not found")
    with np.load(smpl_path, allow_pickle=False) as z:
        missing = {"cams", "poses", "betas"} - set(z.files)
        if missing:
            raise ValueError(f"{str(smpl_path)!r} lacks {sorted(missing)}")
        cams = np.asarray(z["cams"], np.float32)
        poses = _as_poses72(z["poses"], str(smpl_path))
        betas = _as_betas(z["betas"], len(poses), str(smpl_path))
        fids = [int(i) for i in z["front_ids"]] if "front_ids" in z.files else []
    bg_name = meta.get("background")
    bg = root / bg_name if bg_name else None
    if bg is not None and not bg.is_file():
        raise FileNotFoundError(f"{str(bg)!r} (named in meta.json) not found")
    return VideoRecord(
        name=root.name,
        root=root,
        frame_paths=frames,
        mask_paths=masks,
        cams=cams,
        poses=poses,
        betas=betas,
        front_ids=fids or list(range(len(frames))),
        fps=meta.get("fps"),
        body=meta.get("body"),
        background_path=bg,
        layout="vmc",
        meta=meta,
    ).validate()


# --------------------------------------------------------------------------------------------
# iPERCore layouts
# --------------------------------------------------------------------------------------------


def read_iper_video(processed_dir: str | os.PathLike[str]) -> VideoRecord:
    """Read an iPERCore v0.2 processed folder (``.../primitives/<video>/processed``).

    Uses ``vid_info.pkl`` like iPERCore's ``read_src_infos``: frames = ``valid_img_info.names``
    in ``images/``, SMPL = ``processed_pose3d`` rows ``parse_ids``, masks =
    ``parse/<stem>_alpha.png``, sources = ``processed_front_info.ft.ids``. Paths stored inside the
    pickle (absolute, from the machine that made it) are ignored.
    """
    root = Path(processed_dir)
    info_path = root / "vid_info.pkl"
    info = safe_load_pickle(info_path)
    where = str(info_path)
    try:
        valid = info["valid_img_info"]
        names = [str(n) for n in valid["names"]]
        pose3d = info["processed_pose3d"]
        cams = np.asarray(pose3d["cams"], np.float32).reshape(-1, 3)
        pose = np.asarray(pose3d["pose"], np.float32)
        shape = np.asarray(pose3d["shape"], np.float32)
        parse_ids = [int(i) for i in valid.get("parse_ids", [])]
        ft = [int(i) for i in info.get("processed_front_info", {}).get("ft", {}).get("ids", [])]
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{where} does not look like iPERCore's vid_info ({err!r})") from err
    pose = _as_poses72(pose, where)
    shape = shape.reshape(-1, shape.shape[-1]) if shape.ndim else shape
    if parse_ids:
        cams, pose = cams[parse_ids], pose[parse_ids]
        if len(shape) > 1:
            shape = shape[parse_ids]
    if len(shape) == 1:
        shape = shape[0]
    if len(pose) != len(names):
        raise ValueError(f"{where}: {len(pose)} SMPL rows for {len(names)} images")
    frames = [root / "images" / n for n in names]
    missing = [str(p) for p in frames if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{where}: {len(missing)} frames missing, e.g. {missing[0]!r}")
    alphas = [root / "parse" / f"{Path(n).stem}_alpha.png" for n in names]
    masks = alphas if all(p.is_file() for p in alphas) else None
    return VideoRecord(
        name=root.parent.name if root.name == "processed" else root.name,
        root=root,
        frame_paths=frames,
        mask_paths=masks,
        cams=cams,
        poses=pose,
        betas=_as_betas(shape, len(pose), where),
        front_ids=[i for i in ft if 0 <= i < len(names)] or list(range(len(names))),
        body="smpl",
        layout="iper",
        meta={"source": where},
    ).validate()


def read_iper_legacy_video(video_dir: str | os.PathLike[str]) -> VideoRecord:
    """Read a video of the older iPER layout (``<root>/processed/<video>``).

    ``images/*`` (sorted), ``parse/*_alpha.png``, ``pose_shape.pkl`` (``cams``, ``pose``, ``shape``)
    and optional ``front_path.json`` (``{"ft": {"ids": [...]}}``).
    """
    root = Path(video_dir)
    where = str(root / "pose_shape.pkl")
    data = safe_load_pickle(root / "pose_shape.pkl")
    try:
        cams = np.asarray(data["cams"], np.float32).reshape(-1, 3)
        pose = _as_poses72(data["pose"], where)
        shape = np.asarray(data["shape"], np.float32)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where} lacks cams/pose/shape ({err!r})") from err
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise FileNotFoundError(f"{str(images_dir)!r} not found")
    frames = _image_files(images_dir)
    parse = root / "parse"
    alphas = sorted(parse.glob("*_alpha.png")) if parse.is_dir() else []
    if len(frames) != len(pose):
        raise ValueError(f"{str(root)!r}: {len(frames)} images for {len(pose)} SMPL rows")
    ft: list[int] = []
    front = root / "front_path.json"
    if front.is_file():
        try:
            ft = [int(i) for i in json.loads(front.read_text())["ft"]["ids"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f"{str(front)!r}: expected {{'ft': {{'ids': [...]}}}} ({err!r})"
            ) from err
    return VideoRecord(
        name=root.name,
        root=root,
        frame_paths=frames,
        mask_paths=alphas if len(alphas) == len(frames) else None,
        cams=cams,
        poses=pose,
        betas=_as_betas(
            shape if shape.ndim == 1 else shape.reshape(len(pose), -1), len(pose), where
        ),
        front_ids=[i for i in ft if 0 <= i < len(frames)] or list(range(len(frames))),
        body="smpl",
        layout="iper-legacy",
        meta={"source": str(root)},
    ).validate()


def read_video(path: str | os.PathLike[str]) -> VideoRecord:
    """Read one video folder of any supported layout (detected from its files)."""
    p = Path(path)
    if (p / "meta.json").is_file():
        return read_processed_video(p)
    if (p / "vid_info.pkl").is_file():
        return read_iper_video(p)
    if (p / "processed" / "vid_info.pkl").is_file():
        return read_iper_video(p / "processed")
    if (p / "pose_shape.pkl").is_file():
        return read_iper_legacy_video(p)
    raise FileNotFoundError(
        f"{str(p)!r} is not a processed video: expected meta.json (vmc layout), vid_info.pkl "
        f"(iPERCore) or pose_shape.pkl (iPER)"
    )


def _split_names(root: Path, split: str | None) -> list[str] | None:
    if split is None:
        return None
    lst = root / f"{split}.txt"
    if not lst.is_file():
        return None
    return [line.strip() for line in lst.read_text().splitlines() if line.strip()]


def find_videos(root: str | os.PathLike[str], split: str | None = None) -> list[VideoRecord]:
    """All videos under a dataset root, in any supported layout.

    * a single video folder -> that video;
    * iPERCore v0.2 (``<root>/primitives/<video>/processed``) or old iPER
      (``<root>/processed/<video>``): the videos named in ``<root>/<split>.txt`` when ``split``
      is given and the list exists, else all;
    * our layout: sub-folders with ``meta.json``, filtered by ``<root>/<split>.txt`` likewise.

    Raises:
        FileNotFoundError: the root does not exist or holds no video.
    """
    r = Path(root).expanduser()
    if not r.is_dir():
        raise FileNotFoundError(f"dataset root not found: {str(r)!r}")
    if any((r / f).is_file() for f in ("meta.json", "vid_info.pkl", "pose_shape.pkl")):
        return [read_video(r)]
    names = _split_names(r, split)
    if (r / "primitives").is_dir():
        base = r / "primitives"
        names = names or sorted(d.name for d in base.iterdir() if (d / "processed").is_dir())
        records = [read_iper_video(base / n / "processed") for n in names]
    elif (r / "processed").is_dir() and not (r / "processed" / "meta.json").is_file():
        base = r / "processed"
        names = names or sorted(d.name for d in base.iterdir() if (d / "pose_shape.pkl").is_file())
        records = [read_iper_legacy_video(base / n) for n in names]
    else:
        names = names or sorted(d.name for d in r.iterdir() if (d / "meta.json").is_file())
        records = [read_processed_video(r / n) for n in names]
    if not records:
        raise FileNotFoundError(
            f"no processed videos under {str(r)!r} (vmc layout: <root>/<video>/meta.json; "
            f"iPERCore: <root>/primitives/<video>/processed/vid_info.pkl)"
        )
    return records


# --------------------------------------------------------------------------------------------
# Loading images
# --------------------------------------------------------------------------------------------


def load_frames(record: VideoRecord, ids: Sequence[int], image_size: int) -> torch.Tensor:
    """Frames ``ids`` as ``float32 [n, 3, S, S]`` in [-1, 1], resized to ``S = image_size``."""
    out = []
    for i in ids:
        img = read_image(record.frame_paths[int(i)])
        if img.shape[0] != image_size or img.shape[1] != image_size:
            img = np.asarray(Image.fromarray(img).resize((image_size, image_size), Image.BILINEAR))
        out.append(torch.from_numpy(np.array(img, dtype=np.uint8)))
    return torch.stack(out).permute(0, 3, 1, 2).float() / 127.5 - 1


def load_masks(record: VideoRecord, ids: Sequence[int], image_size: int) -> torch.Tensor:
    """Person masks ``ids`` as ``float32 [n, 1, S, S]`` in [0, 1] (1 = person).

    Raises:
        ValueError: the record has no masks.
    """
    if record.mask_paths is None:
        raise ValueError(f"video {str(record.root)!r} has no masks")
    out = []
    for i in ids:
        path = record.mask_paths[int(i)]
        if not path.is_file():
            raise FileNotFoundError(f"mask file not found: {str(path)!r}")
        with Image.open(path) as im:
            m = im.convert("L")
            if m.size != (image_size, image_size):
                m = m.resize((image_size, image_size), Image.BILINEAR)
            out.append(torch.from_numpy(np.asarray(m, dtype=np.float32) / 255.0))
    return torch.stack(out)[:, None]


# --------------------------------------------------------------------------------------------
# Synthetic datasets on disk
# --------------------------------------------------------------------------------------------


def make_synthetic_dataset(
    out_root: str | os.PathLike[str],
    num_clips: int,
    num_frames: int = 30,
    image_size: int = 256,
    seed: int = 0,
    *,
    body: Any = None,
    body_name: str | None = None,
    background_folder: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.0,
    fps: float = 30.0,
    overwrite: bool = False,
    progress: bool = False,
) -> list[Path]:
    """Render ``num_clips`` clips (``vmc.data.synthetic_clips``) into the processed layout.

    Clip ``i`` is ``<out_root>/clip_{i:05d}`` and is drawn from its own child seed of ``seed``
    (same arguments -> same files). With ``val_fraction > 0`` the last clips are listed in
    ``val.txt`` and the others in ``train.txt``.

    Args:
        body: a ``BodyModel`` (default: the embedded body).
        body_name: recorded in ``meta.json`` (default ``"embedded"`` for the default body, else
            the body file's stem).
        background_folder: images to draw backgrounds from (procedural when None).

    Returns:
        The clip folders.
    """

    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if body is None:
        body, default_name = load_embedded_body(), "embedded"
    else:
        src = str(getattr(body, "source", "") or "")
        default_name = Path(src).stem if src and not src.startswith("<") else "custom"
    name = body_name or default_name
    layout = UVLayout.from_body(body)
    uv = uv_render(layout, int(np.clip(2 * image_size, 128, 1024)))
    bgs = BackgroundSource(folder=background_folder)
    seeds = np.random.SeedSequence(seed).spawn(num_clips)
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    it = range(num_clips)
    if progress:
        it = tqdm(it, desc="synthetic clips", unit="clip")
    for i in it:
        rng = np.random.default_rng(seeds[i])
        clip = render_synthetic_clip(
            body,
            num_frames=num_frames,
            image_size=image_size,
            seed=rng,
            layout=layout,
            uv=uv,
            backgrounds=bgs,
            fps=fps,
        )
        paths.append(
            write_processed_video(
                root / f"clip_{i:05d}",
                clip.frames,
                clip.masks,
                cams=clip.cams,
                poses=clip.poses,
                betas=clip.betas,
                fps=fps,
                body=name,
                background=clip.background,
                meta={"source": "synthetic", "action": clip.action, "clip_index": i, "seed": seed},
                overwrite=overwrite,
            )
        )
    n_val = int(round(val_fraction * num_clips))
    if n_val > 0:
        names = [p.name for p in paths]
        (root / "train.txt").write_text("\n".join(names[: num_clips - n_val]) + "\n")
        (root / "val.txt").write_text("\n".join(names[num_clips - n_val :]) + "\n")
    return paths
