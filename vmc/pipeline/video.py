"""``VideoMotionCLIP``: text (or a motion) + a prepared person → frames of that person moving.

Built from components, the diffusers way: a text → motion stage (``vmc.motion.stage``), the
body model, and the subject's appearance (texture warping: the photo's UV texture re-posed,
:mod:`vmc.subject.warp`). ``check_inputs`` runs first; the call then does numbered steps and
returns a :class:`VideoOutput`. No file is written and no config is read here: ``infer.py``
turns its Hydra config into these typed arguments and writes the files.

1. the motion: generated from the prompts, or the given one fitted to the length and fps;
2. retarget it onto the subject: image-frame poses, cameras, feet on the photo's floor
   (:mod:`vmc.pipeline.retarget`);
3. framing: ``crop`` (a square around the person, widened over the whole motion so raised hands
   stay in view) or ``full`` (the photo's own frame and aspect); the background plate (the
   subject's, or with ``background="bgnet"`` the generator's BGNet over photo 0, built once per
   subject) is warped into that frame once: the same pixels in every frame;
4. render the person (texture warping) and composite over the background, with what the mesh
   does not cover (hair, loose clothes) moved by the nearest body part under it
   (:mod:`vmc.pipeline.residual`);
5. the motion on a shaded body in the same frame (for the side-by-side preview).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from vmc.lwg.generator import AttentionLWBGenerator
from vmc.motion.limits import MAX_FRAMES
from vmc.motion.resample import fit_length, resample_motion
from vmc.motion.stage import MotionStage
from vmc.motion.types import Motion
from vmc.pipeline.lwg_appearance import LWGRenderer
from vmc.pipeline.residual import Residual, ndc_to_photo, render_residual, residual_of
from vmc.pipeline.retarget import ROOT_MOTIONS, Retargeted, retarget
from vmc.render.body_render import render_smpl_params
from vmc.render.shading import face_normals
from vmc.subject.crop import CropBox
from vmc.subject.prepare import Subject
from vmc.subject.warp import SubjectRenderer, composite, source_view
from vmc.utils.timing import StepTimer

__all__ = ["BACKGROUNDS", "FRAMINGS", "VideoMotionCLIP", "VideoOutput", "frame_box"]

FRAMINGS = ("crop", "full")
#: The plate behind the person: the subject's (clean photo or inpainted) or the generator's BGNet.
BACKGROUNDS = ("plate", "bgnet")
#: Free space kept around the moving person in ``crop`` framing (fraction of the box side).
CROP_MARGIN = 0.06
#: What re-renders the subject: texture warping or the Liquid Warping GAN.
Renderer = SubjectRenderer | LWGRenderer
#: Frames rendered together (memory grows with batch x size^2 x supersample^2).
RENDER_BATCH = 8
#: Subjects whose renderer and residual layer a pipeline keeps (least recently used dropped).
SUBJECTS_KEPT = 8


@dataclass
class VideoOutput:
    """What :class:`VideoMotionCLIP` made.

    Attributes:
        frames: ``uint8 [T, H, W, 3]`` the video.
        body_frames: ``uint8 [T, H, W, 3]`` the motion on a shaded body in the same frame.
        alphas: ``float32 [T, H, W]`` the person's alpha in each frame.
        motion: the motion performed (Y-up, rebased on the subject's body).
        poses: ``float32 [T, 72]`` image-frame poses; cams: ``float32 [T, 3]`` cameras in the
            output frame's NDC (of the square before a ``full`` frame is cut to the photo).
        box: the output frame in photo 0's pixels (a square; ``full`` cuts ``rect`` from it).
        rect: ``(top, left, height, width)`` of the frame inside the rendered square.
        timings: seconds per step.
    """

    frames: np.ndarray
    body_frames: np.ndarray
    alphas: np.ndarray
    motion: Motion
    poses: np.ndarray
    cams: np.ndarray
    box: CropBox
    rect: tuple[int, int, int, int]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _SubjectParts:
    """What :class:`VideoMotionCLIP` builds once per subject (and frame size, for the GAN).

    Attributes:
        subject: the subject they belong to (kept so that a reused ``id`` cannot match).
        residual: the layer of what the mesh does not cover (None when not kept).
        renderer: texture warping or the GAN.
        plate: ``uint8 [H_0, W_0, 3]`` the background of photo 0 in its own frame.
    """

    subject: Subject
    residual: Residual | None
    renderer: Renderer
    plate: np.ndarray


def _move_cams(cams: np.ndarray, src: CropBox, dst: CropBox) -> np.ndarray:
    """Cameras ``[T, 3]`` in ``src``'s NDC re-expressed in ``dst``'s NDC.

    With photo-pixel cameras ``u = s_p (X + t_p)`` (:meth:`CropBox.cam_to_photo_pixels`), a box
    of side ``L`` centred at ``c`` has ``s = 2 s_p / L`` and ``t = t_p - c / s_p``.
    """
    photo = src.cam_to_photo_pixels(torch.as_tensor(cams, dtype=torch.float64)).numpy()
    s_p = photo[:, :1]
    centre = np.array([dst.x0 + dst.side / 2, dst.y0 + dst.side / 2])
    return np.concatenate([2 * s_p / dst.side, photo[:, 1:] - centre / s_p], axis=1).astype(
        np.float32
    )


def frame_box(
    subject: Subject, moved: Retargeted, framing: str, size: int
) -> tuple[CropBox, tuple[int, int, int, int]]:
    """The output frame in photo 0's pixels, and the photo's rect inside the rendered square.

    ``crop``: photo 0's person box, widened to a square holding every projected vertex of the
    whole motion with :data:`CROP_MARGIN` (one box for the clip: the camera does not move).
    ``full``: the square around the whole photo (long side), cut back to the photo's aspect.
    """
    box0 = subject.boxes[0]
    if framing == "full":
        h, w = subject.photos[0].shape[:2]
        side = float(max(h, w))
        box = CropBox(x0=(w - side) / 2, y0=(h - side) / 2, side=side, size=size)
        out_h, out_w = round(h * size / side), round(w * size / side)
        return box, ((size - out_h) // 2, (size - out_w) // 2, out_h, out_w)
    # NDC of box0 -> photo pixels: u = x0 + (x + 1) side / 2
    origin = np.array([box0.x0, box0.y0])
    pts = origin + (moved.vertices.reshape(-1, 2) + 1) * box0.side / 2  # photo pixels
    lo, hi = pts.min(0), pts.max(0)
    span = float((hi - lo).max()) * (1 + 2 * CROP_MARGIN)
    if span <= box0.side and (lo >= origin).all() and (hi <= origin + box0.side).all():
        return CropBox(box0.x0, box0.y0, box0.side, size), (0, 0, size, size)
    # Never tighter than the person's box, as far as that box lies inside the photo.
    photo_hw = np.array(subject.photos[0].shape[1::-1], dtype=np.float64)  # (W, H)
    lo = np.minimum(lo - CROP_MARGIN * span, np.clip(origin, 0, photo_hw))
    hi = np.maximum(hi + CROP_MARGIN * span, np.clip(origin + box0.side, 0, photo_hw))
    # A person cut by the photo's bottom edge (an upper-body photo) stays cut there: showing
    # the unseen legs would show invented pixels below the photo too.
    photo_h = subject.photos[0].shape[0]
    hi[1] = min(hi[1], max(photo_h, lo[1] + 1.0))
    side = float((hi - lo).max())
    x0 = (lo[0] + hi[0]) / 2 - side / 2
    y0 = min((lo[1] + hi[1]) / 2 - side / 2, hi[1] - side)  # keep the bottom at the cut
    return CropBox(float(x0), float(y0), side, size), (0, 0, size, size)


def _warp_into(photo: np.ndarray, box: CropBox) -> np.ndarray:
    """``photo`` resampled into the square ``box``: ``uint8 [size, size, 3]`` (edges repeated)."""
    s = box.size / box.side
    matrix = np.array([[s, 0, -box.x0 * s], [0, s, -box.y0 * s]], np.float64)
    return cv2.warpAffine(
        photo, matrix, (box.size, box.size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip


def _shaded_body(
    body: torch.nn.Module, betas: torch.Tensor, poses: np.ndarray, cams: np.ndarray, size: int
) -> np.ndarray:
    """The posed body, Lambert-shaded towards the camera over grey: ``uint8 [T, S, S, 3]``."""
    out = []
    device = body.v_template.device
    betas = betas.to(device)
    for i in range(0, len(poses), RENDER_BATCH):
        p = torch.as_tensor(poses[i : i + RENDER_BATCH]).to(device)
        c = torch.as_tensor(cams[i : i + RENDER_BATCH]).to(device)
        points, frags = render_smpl_params(body, betas.expand(len(p), -1), p, c, size)
        light = (-face_normals(points, body.faces)[..., 2]).clamp(0, 1) * 0.7 + 0.3  # [n, F]
        fim = frags.fim
        lit = torch.gather(light, 1, fim.clamp(min=0).reshape(len(p), -1)).reshape(fim.shape)
        colour = torch.tensor([0.55, 0.7, 1.0], device=device) * lit[..., None]
        grey = torch.full_like(colour, 0.16)
        out.append(torch.where((fim >= 0)[..., None], colour, grey).cpu())
    return (torch.cat(out) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


class VideoMotionCLIP:
    """Text → video of a prepared person (module docstring).

    Args:
        text_to_motion: the motion stage (``None``: only ``motion=`` calls are possible).
        body: the ``BodyModel`` the subjects were fitted with.
        supersample: anti-aliasing factor of the person's edges (1 = hard edges).
        keep_residual: move what the mesh does not cover (hair, loose clothes) with the nearest
            body part (:mod:`vmc.pipeline.residual`) instead of leaving it out.
        device: where the frames are rasterized and textured (``cpu``, ``cuda:N``, ``mps``).
        generator: a Liquid Warping GAN generator: the person is re-rendered by it
            (:mod:`vmc.pipeline.lwg_appearance`, on the CPU) instead of by texture warping.
        background: ``plate`` (the subject's background plate: its clean photo, or the photo
            inpainted at preparation) or ``bgnet`` (the generator's BGNet fills the person
            region of photo 0, :meth:`~vmc.pipeline.lwg_appearance.LWGRenderer.background_photo`;
            needs ``generator``).
    """

    def __init__(
        self,
        text_to_motion: MotionStage | None,
        body: torch.nn.Module,
        *,
        supersample: int = 2,
        keep_residual: bool = True,
        device: torch.device | str = "cpu",
        generator: AttentionLWBGenerator | None = None,
        background: str = "plate",
    ) -> None:
        if background not in BACKGROUNDS:
            raise ValueError(
                f"background must be one of {', '.join(BACKGROUNDS)}; got {background!r}"
            )
        if background == "bgnet" and generator is None:
            raise ValueError("background='bgnet' needs a generator (BGNet is part of it)")
        self.background = background
        self.text_to_motion = text_to_motion
        self.body = body
        self.supersample = int(supersample)
        self.keep_residual = keep_residual
        self.device = torch.device(device)
        self.generator = generator
        # What depends only on the subject (the residual layer, the renderer: texture tensors
        # or the generator's source encodings, the background plate) is built once per subject
        # and reused by every call, e.g. one video per prompt. A Subject is treated as fixed
        # once animated.
        # Least recently used first; bounded so that a long-lived pipeline (the demo, a prompt
        # file over many subjects) does not keep every subject it has ever seen.
        self._per_subject: OrderedDict[tuple[int, int], _SubjectParts] = OrderedDict()
        # Rasterizing runs on ``device`` with a copy of the body; the small per-frame posing
        # (retargeting, the residual) stays with ``body`` on the CPU.
        self._render_body = (
            body if self.device == body.v_template.device else (copy.deepcopy(body).to(self.device))
        )

    def check_inputs(
        self,
        subject: Subject,
        prompts: Sequence[str] | None,
        motion: Motion | None,
        num_frames: int,
        fps: float,
        framing: str,
        root_motion: str,
        image_size: int,
    ) -> None:
        """Every argument checked before any work; ValueError naming the argument otherwise."""
        if (prompts is None) == (motion is None):
            raise ValueError("give either prompts (text) or a motion, not both and not neither")
        if prompts is not None:
            if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
                raise ValueError("prompts must be non-empty texts")
            if self.text_to_motion is None:
                raise ValueError("this pipeline has no text → motion stage: pass motion=")
        if isinstance(num_frames, bool) or not isinstance(num_frames, int):
            raise ValueError(f"num_frames must be an integer, got {num_frames!r}")
        if not 2 <= num_frames <= MAX_FRAMES:
            raise ValueError(f"num_frames must be in [2, {MAX_FRAMES}], got {num_frames}")
        if not 0 < float(fps) <= 240:
            raise ValueError(f"fps must be in (0, 240], got {fps!r}")
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}; got {framing!r}")
        if root_motion not in ROOT_MOTIONS:
            raise ValueError(
                f"root_motion must be one of {', '.join(ROOT_MOTIONS)}; got {root_motion!r}"
            )
        if isinstance(image_size, bool) or not isinstance(image_size, int):
            raise ValueError(f"image_size must be an integer, got {image_size!r}")
        if not 64 <= image_size <= 2048:
            raise ValueError(f"image_size must be in [64, 2048], got {image_size}")
        nb = int(getattr(self.body, "num_betas", len(subject.betas)))
        if len(subject.betas) != nb:
            raise ValueError(
                f"subject '{subject.name}' was fitted with {len(subject.betas)} shape "
                f"coefficients ({subject.body_kind} body) but this body has {nb}: prepare it again"
            )

    def _subject_parts(self, subject: Subject, image_size: int) -> _SubjectParts:
        """The subject's residual layer, renderer and plate, built on the first call for it."""
        # The generator works at one frame size; texture warping renders any size.
        key = (id(subject), image_size if self.generator is not None else 0)
        cached = self._per_subject.get(key)
        if cached is not None and cached.subject is subject:  # the id of a live object
            self._per_subject.move_to_end(key)
            return cached
        residual = residual_of(subject, self.body) if self.keep_residual else None
        renderer: Renderer
        plate = subject.background_photo
        if self.generator is not None:
            renderer = LWGRenderer(self.generator, self.body, subject, image_size)
            if self.background == "bgnet":
                plate = renderer.background_photo(subject)
        else:
            # Colours seen in photo 0 come from it, the rest from the texture (vmc.subject.warp).
            source = source_view(
                self._render_body, subject.betas, subject.poses[0], subject.cams[0],
                subject.crops[0], subject.alphas[0],
            )  # fmt: skip
            renderer = SubjectRenderer(
                self._render_body, subject.betas, subject.texture, supersample=self.supersample,
                source=source,
            )  # fmt: skip
        parts = _SubjectParts(subject, residual, renderer, plate)
        self._per_subject[key] = parts
        while len(self._per_subject) > SUBJECTS_KEPT:
            self._per_subject.popitem(last=False)
        return parts

    def _motion(
        self,
        prompts: Sequence[str] | None,
        motion: Motion | None,
        num_frames: int,
        fps: float,
        seed: int,
    ) -> Motion:
        if prompts is not None:
            assert self.text_to_motion is not None  # check_inputs
            return self.text_to_motion.generate(list(prompts), num_frames, fps, seed)
        assert motion is not None
        if abs(motion.fps - fps) > 1e-6:
            motion = resample_motion(motion, fps).motion
        return fit_length(motion, num_frames)

    def __call__(
        self,
        subject: Subject,
        prompts: Sequence[str] | None = None,
        *,
        motion: Motion | None = None,
        num_frames: int = 60,
        fps: float = 30.0,
        framing: str = "crop",
        root_motion: str = "in_place",
        image_size: int = 512,
        seed: int = 0,
        blend_in: float = 0.0,
        progress: bool = False,
    ) -> VideoOutput:
        """Animate ``subject`` performing ``prompts`` (in order) or ``motion``.

        Args:
            subject: a prepared :class:`~vmc.subject.prepare.Subject` (fitted with ``body``).
            prompts: texts performed one after the other; or ``motion``: a :class:`Motion`.
            num_frames, fps: the video's length and rate.
            framing: ``crop`` or ``full`` (module docstring). root_motion: ``reference``,
                ``in_place`` or ``follow`` (:mod:`vmc.pipeline.retarget`).
            image_size: side of the square ``crop`` frame, or the long side for ``full``.
            seed: for the motion stage (latent noise, retrieval's library sample).
            blend_in: seconds over which the person moves from the photo's pose into the
                motion (frame 0 is the photo); 0 = the motion's first pose at once.
            progress: show a bar while rendering.
        """
        self.check_inputs(
            subject, prompts, motion, num_frames, fps, framing, root_motion, image_size
        )
        timer = StepTimer()
        # 1. motion
        torch.manual_seed(seed)
        performed = self._motion(prompts, motion, num_frames, fps, seed)
        betas = torch.as_tensor(subject.betas, dtype=torch.float32).reshape(1, -1)
        rest = self.body.shaped(betas.to(self.body.v_template.device))[1][0, 0]
        rest = rest.detach().cpu().numpy()
        performed = performed.rebased(rest)  # smplx: pelvis = J0(betas) + trans
        timer.lap("motion")
        # 2. retarget onto the subject (photo 0's camera)
        moved = retarget(
            performed, self.body, subject.betas, subject.poses[0], subject.cams[0], root_motion,
            blend_in=round(float(blend_in) * fps),
        )  # fmt: skip
        timer.lap("retarget")
        # 3. the subject's parts (built once), framing and background
        parts = self._subject_parts(subject, image_size)
        residual, renderer = parts.residual, parts.renderer
        timer.lap("subject setup")
        box, rect = frame_box(subject, moved, framing, image_size)
        cams = _move_cams(moved.cams, subject.boxes[0], box)
        background = _warp_into(parts.plate, box)
        timer.lap("background")
        # 4. the person, composited: the residual (hair, loose clothes) under the body
        residual_rgb = residual_alpha = None
        if residual is not None:
            vertex_photo = ndc_to_photo(moved.vertices, subject.boxes[0])  # [T, V, 2]
            residual_rgb, residual_alpha = render_residual(residual, vertex_photo, box)
        timer.lap("residual")
        frames, alphas = [], []
        starts = range(0, num_frames, RENDER_BATCH)
        if progress:
            starts = tqdm(starts, desc="render", unit="batch")
        for i in starts:
            rgb, alpha = renderer.render(
                moved.poses[i : i + RENDER_BATCH], cams[i : i + RENDER_BATCH], image_size,
                batch_size=RENDER_BATCH,
            )  # fmt: skip
            body_alpha = alpha
            under = background
            if residual_rgb is not None and residual_alpha is not None:
                r_alpha = torch.from_numpy(residual_alpha[i : i + RENDER_BATCH])
                r_rgb = torch.from_numpy(residual_rgb[i : i + RENDER_BATCH]).float() / 255
                under = composite(r_rgb, r_alpha, background)
                alpha = torch.maximum(alpha, r_alpha)
            frames.append(composite(rgb, body_alpha, under))
            alphas.append(alpha)
        video = (torch.cat(frames) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()
        alpha_all = torch.cat(alphas).numpy()
        timer.lap("render")
        # 5. the motion on the shaded body, same frame
        body_frames = _shaded_body(self._render_body, betas, moved.poses, cams, image_size)
        timer.lap("body preview")
        top, left, h, w = rect
        cut = (slice(None), slice(top, top + h), slice(left, left + w))
        return VideoOutput(
            frames=np.ascontiguousarray(video[cut]),
            body_frames=np.ascontiguousarray(body_frames[cut]),
            alphas=np.ascontiguousarray(alpha_all[cut]),
            motion=performed,
            poses=moved.poses,
            cams=cams,
            box=box,
            rect=rect,
            timings=timer.timings,
        )
