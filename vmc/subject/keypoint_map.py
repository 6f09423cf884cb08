"""The 33 mediapipe (BlazePose) landmarks mapped onto an SMPL-format body.

Every landmark becomes one body point whose 2-D projection is compared with the detection:

* **joints** -- shoulders, elbows, wrists, hips, knees and ankles are SMPL joints of the same
  name (BlazePose places them at the joint centres, as SMPL's regressor does);
* **vertices** -- face, hand and foot landmarks lie on the surface, so they map to body
  vertices. The vertices are *found* on the given body by geometry in its rest pose (Y up,
  facing +Z, the person's left = +x), never by hard-coded ids, so the same code serves the
  embedded body and SMPL:

  - nose: the most forward (max z) head vertex near the mid-sagittal plane (the nose tip);
  - eyes (inner, centre, outer): the body's eyeball meshes when it has them (small separate
    connected components inside the head, e.g. the embedded body's); otherwise the most
    forward head vertex around anthropometric eye positions. Centre = the eyeball's front-most
    vertex (the pupil), inner/outer = its vertices nearest to / farthest from the midline;
  - ears: the head vertices farthest from the midline between mouth and eye height;
  - mouth corners: the most forward head vertex at the mouth's height and width (the
    mouth's height/width come from the body's separate mouth mesh when it has one, else from
    proportions between nose and chin);
  - hands (BlazePose's pinky/index knuckles and thumb): in the rest pose the palm faces down
    and the thumb points forward, so the index knuckle is the hand's most forward vertex in the
    cross-section through SMPL's ``*_hand`` joint (which sits at the knuckles), the pinky
    knuckle the most backward one there, and the thumb the hand's most forward vertex overall;
  - feet: heel = the foot's most backward vertex near the sole, foot index (the big toe) = its
    most forward vertex.

Body regions come from ``body.face_part``/``part_names`` (``head``, ``left_hand`` ...) when the
body has part labels, else from each vertex's dominant skinning joint.

Weights (``KeypointMap.weights``) say how much each landmark counts relative to a joint: the
eleven face landmarks share the head's say (so the face is not worth eleven joints), hand
landmarks are noisy and get little, the feet are trusted like joints at half weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vmc.body.joints import SMPL_JOINT_NAMES, flip_permutation, joint_index

__all__ = [
    "LANDMARK_BODY_POINTS",
    "LANDMARK_FLIP",
    "MEDIAPIPE_LANDMARK_NAMES",
    "NUM_LANDMARKS",
    "KeypointMap",
    "body_keypoints",
    "build_keypoint_map",
]

MEDIAPIPE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
"""BlazePose's 33 landmarks in mediapipe's order (left/right are the person's own)."""

NUM_LANDMARKS = 33

LANDMARK_FLIP: tuple[int, ...] = flip_permutation(MEDIAPIPE_LANDMARK_NAMES)
"""Landmark ``i`` with left and right exchanged is landmark ``LANDMARK_FLIP[i]``."""

#: The landmarks that are SMPL joints of the same name (shoulders, elbows, wrists, hips, knees,
#: ankles), in mediapipe's order.
_JOINT_LANDMARKS = tuple(n for n in MEDIAPIPE_LANDMARK_NAMES if n in SMPL_JOINT_NAMES)

LANDMARK_BODY_POINTS: dict[str, str] = {
    **{n: f"joint:{n}" for n in _JOINT_LANDMARKS},
    "nose": "vertex: nose tip",
    "left_eye_inner": "vertex: left eyeball, nearest the midline",
    "left_eye": "vertex: left eyeball, front-most (pupil)",
    "left_eye_outer": "vertex: left eyeball, farthest from the midline",
    "right_eye_inner": "vertex: right eyeball, nearest the midline",
    "right_eye": "vertex: right eyeball, front-most (pupil)",
    "right_eye_outer": "vertex: right eyeball, farthest from the midline",
    "left_ear": "vertex: head, farthest left between mouth and eyes",
    "right_ear": "vertex: head, farthest right between mouth and eyes",
    "mouth_left": "vertex: left mouth corner",
    "mouth_right": "vertex: right mouth corner",
    "left_pinky": "vertex: left hand, back-most at the knuckles",
    "right_pinky": "vertex: right hand, back-most at the knuckles",
    "left_index": "vertex: left hand, front-most at the knuckles",
    "right_index": "vertex: right hand, front-most at the knuckles",
    "left_thumb": "vertex: left hand, front-most (thumb)",
    "right_thumb": "vertex: right hand, front-most (thumb)",
    "left_heel": "vertex: left foot, back-most near the sole",
    "right_heel": "vertex: right foot, back-most near the sole",
    "left_foot_index": "vertex: left foot, front-most (big toe)",
    "right_foot_index": "vertex: right foot, front-most (big toe)",
}
"""Human-readable target of every landmark (``joint:<SMPL name>`` or ``vertex: <rule>``)."""

# Relative trust per landmark group (a joint = 1). The 11 face points together weigh ~2.2
# joints: enough to orient the head, not enough to outvote the shoulders.
_GROUP_WEIGHTS = {"joint": 1.0, "face": 0.2, "hand": 0.25, "foot": 0.5}

# Dominant skinning joints of each region, for bodies without part labels.
_REGION_JOINTS = {
    "head": ("head",),
    "left_hand": ("left_wrist", "left_hand"),
    "right_hand": ("right_wrist", "right_hand"),
    "left_foot": ("left_ankle", "left_foot"),
    "right_foot": ("right_ankle", "right_foot"),
}


@dataclass(frozen=True)
class KeypointMap:
    """Where each of the 33 landmarks sits on a body.

    Attributes:
        is_joint: ``bool [33]``, True where the landmark is an SMPL joint.
        index: ``long [33]``, the SMPL joint index (``is_joint``) or the vertex index.
        weights: ``float32 [33]``, relative trust (a joint = 1).
    """

    is_joint: torch.Tensor
    index: torch.Tensor
    weights: torch.Tensor

    def describe(self) -> list[str]:
        """One line per landmark: ``name -> joint j`` or ``name -> vertex v``."""
        return [
            f"{n} -> {'joint' if bool(j) else 'vertex'} {int(i)} ({LANDMARK_BODY_POINTS[n]})"
            for n, j, i in zip(MEDIAPIPE_LANDMARK_NAMES, self.is_joint, self.index, strict=True)
        ]


def _components(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """Connected-component label of every vertex ``[V]``."""
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adj = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(num_vertices, num_vertices))
    return connected_components(adj, directed=False)[1]


def _region_vertices(body: torch.nn.Module, region: str) -> np.ndarray:
    """Vertex ids of a body region (part labels if present, else dominant skinning joint)."""
    faces = body.faces.cpu().numpy()
    names = getattr(body, "part_names", None)
    face_part = getattr(body, "face_part", None)
    if names is not None and face_part is not None and region in names:
        fp = face_part.cpu().numpy()
        return np.unique(faces[fp == names.index(region)])
    dominant = body.lbs_weights.argmax(1).cpu().numpy()
    ids = [joint_index(j) for j in _REGION_JOINTS[region]]
    return np.flatnonzero(np.isin(dominant, ids))


def _argbest(ids: np.ndarray, score: np.ndarray) -> int:
    """The id in ``ids`` with the largest ``score`` (same length)."""
    if ids.size == 0:
        raise ValueError("keypoint map: an empty vertex region (is this an SMPL-format body?)")
    return int(ids[int(np.argmax(score))])


def _face_vertices(v: np.ndarray, head: np.ndarray, labels: np.ndarray) -> dict[str, int]:
    """Nose, eyes, ears and mouth corners on the head (rest pose, metres)."""
    main = np.bincount(labels).argmax()  # the skin: by far the largest component
    skin = head[labels[head] == main]
    hv = v[skin]
    top, chin = hv[:, 1].max(), hv[:, 1].min()
    near_mid = skin[np.abs(hv[:, 0]) < 0.01]
    nose = _argbest(near_mid, v[near_mid, 2])
    nose_y = v[nose, 1]
    width = hv[:, 0].max() - hv[:, 0].min()
    out: dict[str, int] = {"nose": nose}

    # Separate small components fully inside the head region: eyeballs (a pair, off the
    # midline, above the nose) and the mouth (teeth/tongue, on the midline, below the nose).
    extra = [c for c in np.unique(labels[head]) if c != main]
    eyes, mouth = {}, None
    for c in extra:
        ids = np.flatnonzero(labels == c)
        centre = v[ids].mean(0)
        if centre[1] > nose_y and abs(centre[0]) > 0.01:
            eyes["left" if centre[0] > 0 else "right"] = ids
        elif centre[1] < nose_y and abs(centre[0]) <= 0.01:
            mouth = ids
    for side, sign in (("left", 1.0), ("right", -1.0)):
        if side in eyes:
            ids = eyes[side]
        else:
            # Proportions of an adult head: eyes ~ a quarter of the way from the nose tip to
            # the crown, ~ 0.18 head widths off the midline; the pupil is the most forward
            # surface point there.
            target = np.array([sign * 0.18 * width, nose_y + 0.26 * (top - nose_y)])
            ids = skin[np.linalg.norm(v[skin, :2] - target, axis=1) < 0.15 * width]
        out[f"{side}_eye"] = _argbest(ids, v[ids, 2])
        out[f"{side}_eye_inner"] = _argbest(ids, -np.abs(v[ids, 0]) + 1e-3 * v[ids, 2])
        out[f"{side}_eye_outer"] = _argbest(ids, np.abs(v[ids, 0]) + 1e-3 * v[ids, 2])
    eye_y = 0.5 * (v[out["left_eye"], 1] + v[out["right_eye"], 1])
    if mouth is not None:
        mouth_y = v[mouth, 1].mean()
        half = 0.5 * (v[mouth, 0].max() - v[mouth, 0].min())
        front = v[mouth, 2].max()
    else:
        mouth_y = nose_y - 0.45 * (nose_y - chin)
        half = 0.14 * width
        front = v[nose, 2] - 0.1 * width
    for side, sign in (("left", 1.0), ("right", -1.0)):
        band = skin[(v[skin, 1] > mouth_y) & (v[skin, 1] < eye_y)]
        out[f"{side}_ear"] = _argbest(band, sign * v[band, 0])
        # The lips' corners sit just in front of the mouth's lateral ends: nearest skin vertex.
        corner = np.array([sign * half, mouth_y, front])
        out[f"mouth_{side}"] = _argbest(skin, -np.linalg.norm(v[skin] - corner, axis=1))
    return out


def _hand_vertices(v: np.ndarray, hand: np.ndarray, knuckle: np.ndarray) -> dict[str, int]:
    """Pinky/index knuckles and thumb of one hand (rest T-pose: palm down, thumb forward).

    ``knuckle`` is SMPL's ``*_hand`` joint ``[3]``. The knuckle cross-section keeps only the
    vertices at or above the joint's height (the back of the hand): the thumb hangs below the
    palm's plane and would otherwise win the "most forward" test.
    """
    section = hand[(np.abs(v[hand, 0] - knuckle[0]) < 0.01) & (v[hand, 1] > knuckle[1] - 0.005)]
    return {
        "pinky": _argbest(section, -v[section, 2]),
        "index": _argbest(section, v[section, 2]),
        "thumb": _argbest(hand, v[hand, 2]),
    }


def _foot_vertices(v: np.ndarray, foot: np.ndarray) -> dict[str, int]:
    """Heel and big toe of one foot."""
    sole = v[foot, 1].min()
    low = foot[v[foot, 1] < sole + 0.04]
    return {"heel": _argbest(low, -v[low, 2]), "foot_index": _argbest(foot, v[foot, 2])}


def build_keypoint_map(body: torch.nn.Module) -> KeypointMap:
    """Find the 33 landmarks on ``body`` (a ``BodyModel``; rules in the module docstring)."""
    with torch.no_grad():
        verts, joints = body.shaped()
    v = verts[0].double().cpu().numpy()
    j = joints[0].double().cpu().numpy()
    labels = _components(body.faces.cpu().numpy(), v.shape[0])
    found = _face_vertices(v, _region_vertices(body, "head"), labels)
    for side in ("left", "right"):
        knuckles = j[joint_index(f"{side}_hand")]
        hand = _hand_vertices(v, _region_vertices(body, f"{side}_hand"), knuckles)
        foot = _foot_vertices(v, _region_vertices(body, f"{side}_foot"))
        found.update({f"{side}_{k}": i for k, i in (hand | foot).items()})

    is_joint, index, weights = [], [], []
    for name in MEDIAPIPE_LANDMARK_NAMES:
        if name in _JOINT_LANDMARKS:
            is_joint.append(True)
            index.append(joint_index(name))
            weights.append(_GROUP_WEIGHTS["joint"])
        else:
            is_joint.append(False)
            index.append(found[name])
            group = (
                "hand"
                if any(k in name for k in ("pinky", "index", "thumb")) and "foot" not in name
                else "foot"
                if ("heel" in name or "foot" in name)
                else "face"
            )
            weights.append(_GROUP_WEIGHTS[group])
    return KeypointMap(
        is_joint=torch.tensor(is_joint),
        index=torch.tensor(index, dtype=torch.long),
        weights=torch.tensor(weights, dtype=torch.float32),
    )


def body_keypoints(vertices: torch.Tensor, joints: torch.Tensor, kmap: KeypointMap) -> torch.Tensor:
    """The 33 landmark positions of posed bodies.

    Args:
        vertices: ``[B, V, 3]`` posed (or projected) vertices.
        joints: ``[B, 24, 3]`` posed (or projected) SMPL joints, same frame as ``vertices``.
        kmap: from :func:`build_keypoint_map`.

    Returns:
        ``[B, 33, 3]`` in the frame of the inputs.
    """
    idx = kmap.index.to(joints.device)
    is_joint = kmap.is_joint.to(joints.device)
    # Gather both ways with in-range indices, then pick per landmark.
    from_joints = joints[:, torch.where(is_joint, idx, 0)]
    from_verts = vertices[:, torch.where(is_joint, 0, idx)]
    mask = is_joint[None, :, None]
    return torch.where(mask, from_joints, from_verts)
