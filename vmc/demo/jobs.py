"""The demo's job runner: ``infer.py``'s inference, kept loaded and shared by the page's requests.

:class:`DemoRunner` turns a page's inputs into the request ``infer.py`` would build
(:func:`vmc.tasks.infer.check_inputs` on the ``conf/infer.yaml`` config with the page's values)
and runs it with the same functions ``infer_person`` and ``infer`` call: the stage resolution
and models (``_person_stages``, ``_select_stages``), the person's preparation
(``_person_subject``), the pipeline (``_person_video``) and the writers (``_write_person``,
``_write_outputs``). What it adds is the life of a server:

* the models are loaded once per device and appearance, and stay loaded;
* a prepared person is kept (the last :data:`SUBJECTS_KEPT`), keyed by a hash of the photos'
  pixels and the video size, so the next video of the same person skips the fit;
* one job runs at a time per device (a lock per device; a job waiting for it says so);
* each job writes into its own folder under the runner's work folder;
* the page's own limits (number and size of uploads, length) are checked first.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import itertools
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict
from PIL import Image

from vmc.demo.errors import DemoInputError
from vmc.demo.progress import (
    MOTION_STAGES,
    VIDEO_STAGES,
    JobProgress,
    JobSize,
    StageEstimates,
    printed_steps,
)
from vmc.io.atomic import result_set
from vmc.motion.generate import slugify
from vmc.pipeline.video import VideoMotionCLIP
from vmc.subject.prepare import Subject
from vmc.tasks.entry import CONF_DIR

# The steps of infer.py, reused as they are (private there: infer_person runs them in one go).
from vmc.tasks.infer import (
    InferRequest,
    PersonStages,
    _person_stages,
    _person_subject,
    _person_video,
    _select_stages,
    _write_outputs,
    _write_person,
    check_inputs,
)
from vmc.utils.device import resolve_device

__all__ = [
    "MAX_PHOTOS",
    "MAX_SECONDS",
    "MAX_UPLOAD_MB",
    "SUBJECTS_KEPT",
    "DemoRunner",
    "MotionResult",
    "VideoOptions",
    "VideoResult",
    "demo_config",
    "photo_key",
]

#: Largest upload (each file), in megabytes; the server refuses bigger files too.
MAX_UPLOAD_MB = 20
#: Bytes in a megabyte, as Gradio counts them when it refuses a file (2^20).
MEGABYTE = 2**20
#: Largest photo, in megapixels (a photo is decoded whole to find the person).
MAX_MEGAPIXELS = 40
#: Photos of one person per request.
MAX_PHOTOS = 8
#: Longest video the page makes, in seconds (``infer.py`` takes up to 120).
MAX_SECONDS = 20.0
#: Prepared people kept in memory.
SUBJECTS_KEPT = 8
#: Job folders kept on disk.
JOBS_KEPT = 20


def demo_config(output_dir: Path, overrides: Sequence[str] = ()) -> DictConfig:
    """``conf/infer.yaml`` composed as ``infer.py`` would (with ``overrides``), writing into
    ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("infer", overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        # The page keeps one pipeline per device for every visitor: it never fine-tunes a
        # generator on a visitor's photos (finetune.py does, once, for a subject of yours).
        cfg.personalize = "never"
    return cfg


def photo_key(images: Sequence[np.ndarray], *settings: object) -> str:
    """A hash of the photos' pixels (in order) and the settings a preparation depends on."""
    digest = hashlib.sha256(repr(settings).encode())
    for image in images:
        digest.update(repr(image.shape).encode())
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class VideoOptions:
    """The page's options of a person video (``conf/infer.yaml`` keys of the same names)."""

    seconds: float | None = 2.0
    image_size: int = 512
    framing: str = "full"
    root_motion: str = "in_place"
    appearance: str = "auto"
    seed: int | None = 0
    device: str = "auto"


@dataclass
class VideoResult:
    """A finished person video: its files, the fitted body, what ran and how long it took."""

    video: Path
    preview: Path
    fitted: np.ndarray  # uint8 [N*S, 2*S, 3]: each photo's crop beside the fitted body over it
    stages: list[tuple[str, str, str]]
    downloads: list[Path]
    seconds: dict[str, float]
    reused: bool


@dataclass
class MotionResult:
    """A finished motion: its preview, files, what ran and how long it took."""

    preview: Path
    downloads: list[Path]
    stages: list[tuple[str, str, str]]
    seconds: dict[str, float]


class _MarkedStage:
    """The motion stage, telling the running job when its motion is made (motion, then
    frames). One job at a time uses a pipeline (its device's lock), so one callback is enough."""

    def __init__(self, stage) -> None:
        self.stage = stage
        self.made: Callable[[], None] | None = None

    def generate(self, *args, **kwargs):
        motion = self.stage.generate(*args, **kwargs)
        if self.made is not None:
            self.made()
        return motion

    def __getattr__(self, name: str):
        if name == "stage":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.stage, name)


@dataclass
class _Loaded:
    """What ``_person_stages`` built for one device and appearance, and its pipeline."""

    stages: PersonStages
    stage: _MarkedStage
    pipeline: VideoMotionCLIP

    @property
    def body(self) -> torch.nn.Module:
        return self.stages.body

    @property
    def body_kind(self) -> str:
        return self.stages.body_kind

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        return self.stages.rows


class DemoRunner:
    """Runs the page's jobs (module docstring).

    Args:
        workdir: where each job's folder goes (the app's temporary folder).
        cfg: the infer config (default: :func:`demo_config` of ``workdir``).
        max_upload_mb: the largest file accepted.
    """

    def __init__(
        self, workdir: Path, cfg: DictConfig | None = None, *, max_upload_mb: float = MAX_UPLOAD_MB
    ) -> None:
        self.workdir = Path(workdir)
        self.cfg = demo_config(self.workdir) if cfg is None else cfg
        self.max_upload_mb = float(max_upload_mb)
        self._lock = threading.Lock()  # guards the dictionaries below
        self._device_locks: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
        self._holders: dict[str, str] = {}  # device -> what its running job does
        self._loaded: dict[tuple[str, str], _Loaded] = {}
        self._motion: tuple[torch.nn.Module, object, list[tuple[str, str, str]]] | None = None
        self._subjects: collections.OrderedDict[str, tuple[Subject, np.ndarray]] = (
            collections.OrderedDict()
        )
        self._job_numbers = itertools.count(1)
        self.preparations = 0  # people prepared (fitted) so far
        self.estimates = StageEstimates()  # expected seconds per stage, learnt from the jobs

    # ------------------------------------------------------------------------ the inputs

    def check_photos(self, photos: Sequence[str | Path] | None) -> list[Path]:
        """The uploaded photos, within the page's limits (a clear message otherwise)."""
        paths = [Path(p) for p in photos or []]
        if not paths:
            raise DemoInputError(
                "Add a photo of the person: upload one or more photos, or pick an example."
            )
        if len(paths) > MAX_PHOTOS:
            raise DemoInputError(
                f"{len(paths)} photos: at most {MAX_PHOTOS} photos of one person at a time."
            )
        for path in paths:
            size_mb = path.stat().st_size / MEGABYTE if path.is_file() else 0.0
            if size_mb > self.max_upload_mb:
                raise DemoInputError(
                    f"{path.name} is {size_mb:.1f} MB: photos may be at most "
                    f"{self.max_upload_mb:g} MB each."
                )
            width = height = 0
            with contextlib.suppress(OSError, ValueError), Image.open(path) as image:
                width, height = image.size  # the header only; a non-image is refused later
            if width * height > MAX_MEGAPIXELS * 1e6:
                raise DemoInputError(
                    f"{path.name} is {width}x{height} ({width * height / 1e6:.0f} megapixels): "
                    f"at most {MAX_MEGAPIXELS} megapixels; make it smaller first."
                )
        return paths

    @staticmethod
    def prompts(text: str | None) -> list[str]:
        """The prompts of the text box, one a line."""
        lines = [line.strip() for line in (text or "").splitlines()]
        prompts = [line for line in lines if line]
        if not prompts:
            raise DemoInputError(
                'Type what the person should do, e.g. "a person raises both arms" (several '
                "prompts: one a line, performed in order)."
            )
        return prompts

    @staticmethod
    def _check_seconds(seconds: float | None) -> float:
        if seconds is None:
            raise DemoInputError("Seconds: enter the length of the video in seconds.")
        if not 0 < float(seconds) <= MAX_SECONDS:
            raise DemoInputError(
                f"Seconds must be more than 0 and at most {MAX_SECONDS:g} in this demo; "
                f"got {seconds:g}."
            )
        return float(seconds)

    def _job_config(self, folder: Path, **keys: object) -> DictConfig:
        """The infer config of one job: the page's values, outputs into ``folder``."""
        cfg = OmegaConf.merge(self.cfg, keys)
        assert isinstance(cfg, DictConfig)
        with open_dict(cfg):
            cfg.paths.output_dir = str(folder)
        return cfg

    def _new_folder(self) -> Path:
        """A folder for the next job's files; the oldest beyond :data:`JOBS_KEPT` go (the
        page has its copies)."""
        folder = self.workdir / "jobs" / f"{next(self._job_numbers):06d}"
        folder.mkdir(parents=True)
        for old in sorted(folder.parent.iterdir())[:-JOBS_KEPT]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    # ----------------------------------------------------------------- devices and models

    @contextlib.contextmanager
    def _device(
        self, device: torch.device, progress: JobProgress, doing: str = "another job is running"
    ) -> Iterator[None]:
        """One job at a time on ``device``; a job that waits says for what."""
        with self._lock:
            lock = self._device_locks[str(device)]
        if not lock.acquire(blocking=False):
            with self._lock:
                holder = self._holders.get(str(device), "another job is running")
            progress.note(f"waiting: {holder} on {device}")
            lock.acquire()
        with self._lock:
            self._holders[str(device)] = doing
        try:
            yield
        finally:
            lock.release()

    def _person_models(
        self, cfg: DictConfig, request: InferRequest, progress: JobProgress
    ) -> _Loaded:
        """The body, motion stage and pipeline for the request's device and appearance,
        built on first use (call with the device's lock held)."""
        key = (str(request.device), request.appearance)
        with self._lock:
            loaded = self._loaded.get(key)
        if loaded is None:
            progress.note(f"loading the models on {request.device} (once)")
            stages = _person_stages(cfg, request)
            marked = _MarkedStage(stages.stage)
            pipeline = VideoMotionCLIP(
                marked, stages.body, device=request.device, generator=stages.generator,
                background=stages.background,
            )  # fmt: skip
            loaded = _Loaded(stages, marked, pipeline)
            with self._lock:
                self._loaded[key] = loaded
        return loaded

    def warm_up(self, device: str = "auto") -> None:
        """Load the models of the default request on ``device`` now, not at the first click."""
        resolved = resolve_device(device)
        request = InferRequest(
            prompts=["warm up"], images=[], image_paths=[], out=self.workdir / "warm_up.mp4",
            num_frames=2, fps=30.0, image_size=64, seed=0, device=resolved,
        )  # fmt: skip
        progress = JobProgress(VIDEO_STAGES, self.estimates)
        with self._device(resolved, progress, "the models are loading"):
            self._person_models(self.cfg, request, progress)
        with self._device(torch.device("cpu"), progress, "the models are loading"):
            self._motion_models(self.cfg, progress)

    def _motion_models(self, cfg: DictConfig, progress: JobProgress):
        with self._lock:
            loaded = self._motion
        if loaded is None:
            progress.note("loading the text → motion model (once)")
            loaded = _select_stages(cfg)
            with self._lock:
                self._motion = loaded
        return loaded

    # ---------------------------------------------------------------------------- the jobs

    def video(
        self,
        photos: Sequence[str | Path] | None,
        text: str | None,
        options: VideoOptions,
        progress: JobProgress | None = None,
    ) -> VideoResult:
        """A video of the person of ``photos`` performing ``text`` (one prompt a line);
        ``progress`` follows its stages."""
        progress = progress or JobProgress(VIDEO_STAGES, self.estimates)
        paths = self.check_photos(photos)
        prompts = self.prompts(text)
        seconds = self._check_seconds(options.seconds)
        folder = self._new_folder()
        cfg = self._job_config(
            folder, seconds=seconds, image_size=options.image_size, framing=options.framing,
            root_motion=options.root_motion, appearance=options.appearance, seed=options.seed,
            device=options.device, export=["npz", "bvh"], preview=True,
        )  # fmt: skip
        request = check_inputs(
            cfg,
            text=prompts,
            images=[str(p) for p in paths],
            out=str(folder / f"{slugify(prompts[0])}.mp4"),
        )
        progress.plan(JobSize(len(paths), request.num_frames, request.image_size**2))
        with self._device(request.device, progress):
            loaded = self._person_models(cfg, request, progress)
            torch.manual_seed(request.seed)
            key = photo_key(request.images, request.image_size, loaded.body_kind)
            with self._lock:
                kept = self._subjects.get(key)
                if kept is not None:
                    self._subjects.move_to_end(key)
            if kept is None:
                progress.begin("fit")

                def step_done(step: str) -> None:
                    if step == "fit":  # the preparation's next steps make the texture
                        progress.begin("texture")

                with printed_steps(step_done):
                    subject = _person_subject(cfg, request, loaded.stages)
                if progress.current == "fit":  # the step lines were not seen
                    progress.begin("texture")
                kept = (subject, subject.preview(loaded.body))
                with self._lock:
                    self.preparations += 1
                    self._subjects[key] = kept
                    while len(self._subjects) > SUBJECTS_KEPT:
                        self._subjects.popitem(last=False)
            else:
                for stage in ("fit", "texture"):
                    progress.skip(stage, "reused")
            subject, fitted = kept
            progress.begin("motion")
            loaded.stage.made = lambda: progress.begin("frames")
            video = _person_video(request, loaded.pipeline, subject)
            progress.begin("encoding")
            with result_set(folder) as results:
                files = _write_person(cfg, request, video, subject, loaded.body, results)
            progress.finish()
        person = (
            ("person", "reused: the same photos came earlier", "prepared subjects are kept")
            if progress.skipped
            else ("person", f"prepared from {len(paths)} photo(s)", "new photos")
        )
        return VideoResult(
            video=Path(files["out"]),
            preview=Path(files["preview_mp4"]),
            fitted=fitted,
            stages=[*loaded.rows, person],
            downloads=[Path(files[k]) for k in ("out", "npz", "bvh")],
            seconds=dict(progress.durations),
            reused=bool(progress.skipped),
        )

    def motion(
        self,
        text: str | None,
        seconds: float | None,
        seed: int | None,
        progress: JobProgress | None = None,
    ) -> MotionResult:
        """The motion of ``text`` alone: its preview on the body, ``.npz`` and ``.bvh``."""
        progress = progress or JobProgress(MOTION_STAGES, self.estimates)
        prompts = self.prompts(text)
        length = self._check_seconds(seconds)
        folder = self._new_folder()
        cfg = self._job_config(folder, seconds=length, seed=seed, preview=True, image_size=512)
        out = folder / f"{slugify(prompts[0])}.npz"
        request = check_inputs(cfg, text=prompts, images=[], out=str(out))
        progress.plan(JobSize(0, request.num_frames, request.image_size**2))
        with self._device(torch.device("cpu"), progress):  # infer.py's motion runs on the CPU
            body, stage, rows = self._motion_models(cfg, progress)
            progress.begin("motion")
            motion = stage.generate(request.prompts, request.num_frames, request.fps, request.seed)
            progress.begin("preview")
            bvh = dataclasses.replace(request, out=out.with_suffix(".bvh"))
            without_preview = self._job_config(folder, preview=False)
            with result_set(folder) as results:
                files = _write_outputs(cfg, request, motion, body, results)
                _write_outputs(without_preview, bvh, motion, body, results)
            progress.finish()
        return MotionResult(
            preview=Path(files["preview_mp4"]),
            downloads=[out, bvh.out],
            stages=[row for row in rows if row[0] != "person"],
            seconds=dict(progress.durations),
        )
