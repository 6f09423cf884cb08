"""Pose and shape priors of the person fit.

* :class:`PosePrior`: a Gaussian mixture over the 69 body-joint axis-angle values (SMPL joints
  1-23, root excluded), fitted on the poses of vmc's procedural motion library
  (:mod:`vmc.motion.procedural`: walking, waving, squatting, dancing ...). The library leaves
  many degrees of freedom at exactly zero (no wrist twist, no toe bend), so every component's
  covariance gets a variance floor (``floor_std`` radians): a pose slightly outside the library
  stays cheap, a contorted one does not. The energy is SMPLify's max-mixture approximation,
  ``min_k [0.5 d_k^2 + 0.5 log det S_k - log w_k]`` (``d_k`` = Mahalanobis distance), shifted so
  the best possible value is 0.
* :func:`joint_limit_penalty`: knees and elbows must not bend backwards (SMPLify's angle prior,
  written as a squared hinge on the wrong-direction angle).
* :func:`shape_prior`: L2 on betas (the body's shape space is whitened: unit variance).

The committed prior ``vmc/assets/subject/pose_prior.npz`` is rebuilt with
``python -m vmc.subject.priors`` (:func:`build_pose_prior`); it is deterministic.
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from vmc.body.joints import joint_index
from vmc.motion.procedural import generate_motion, list_actions

__all__ = [
    "POSE_PRIOR_PATH",
    "PosePrior",
    "build_pose_prior",
    "joint_limit_penalty",
    "load_pose_prior",
    "shape_prior",
]

POSE_PRIOR_PATH = Path(__file__).resolve().parent.parent / "assets" / "subject" / "pose_prior.npz"
"""The committed Gaussian-mixture pose prior."""

# (joint, axis, sign of the natural bend) in SMPL's rest frame (Y up, facing +Z, left = +x):
# a knee flexes about +x (the shin swings backwards), the left elbow about -y and the right
# elbow about +y (the forearm swings forwards). A rotation against the sign is hyper-extension.
_HINGES = (
    ("left_knee", 0, 1.0),
    ("right_knee", 0, 1.0),
    ("left_elbow", 1, -1.0),
    ("right_elbow", 1, 1.0),
)
# Hinge joints also barely rotate about their other two axes; allow ~0.3 rad of slack.
_OFF_AXIS_SLACK = 0.3


def _poses_from_library(frames_per_motion: int, seeds: int) -> np.ndarray:
    """Body poses ``[M, 69]`` of every procedural action with ``seeds`` variations each."""
    out = []
    for action in list_actions():
        for seed in range(seeds):
            m = generate_motion(action, frames_per_motion, 30.0, seed).motion
            out.append(m.poses.reshape(m.num_frames, 72)[:, 3:])
    return np.concatenate(out).astype(np.float64)


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: ``k`` rows of ``x``."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[rng.choice(len(x), p=d / d.sum())])
    return np.stack(centres)


def build_pose_prior(
    num_components: int = 8,
    floor_std: float = 0.15,
    frames_per_motion: int = 60,
    seeds: int = 4,
    iterations: int = 60,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Fit the Gaussian mixture on the procedural library (EM, full covariances).

    Args:
        num_components: mixture size ``K``.
        floor_std: added to every component's variance (radians), see the module docstring.
        frames_per_motion, seeds: how many poses to draw per action.
        iterations: EM iterations.
        seed: RNG seed of the initialisation.

    Returns:
        Arrays ``means [K,69]``, ``precisions [K,69,69]``, ``log_weights [K]`` (the constant
        ``-log w_k + 0.5 log det S_k``, minimum 0), ``metadata`` (JSON string).
    """
    x = _poses_from_library(frames_per_motion, seeds)
    n, d = x.shape
    rng = np.random.default_rng(seed)
    mu = _kmeans_pp(x, num_components, rng)
    floor = np.eye(d) * floor_std**2
    cov = np.stack([np.cov(x.T) + floor] * num_components)
    w = np.full(num_components, 1.0 / num_components)
    for _ in range(iterations):
        # E step in log space.
        logp = np.empty((n, num_components))
        for k in range(num_components):
            sign, logdet = np.linalg.slogdet(cov[k])
            diff = x - mu[k]
            maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov[k]), diff)
            logp[:, k] = np.log(w[k]) - 0.5 * (maha + logdet)
        logp -= logp.max(1, keepdims=True)
        r = np.exp(logp)
        r /= r.sum(1, keepdims=True)
        # M step.
        nk = r.sum(0) + 1e-9
        w = nk / n
        mu = (r.T @ x) / nk[:, None]
        for k in range(num_components):
            diff = x - mu[k]
            cov[k] = (r[:, k, None] * diff).T @ diff / nk[k] + floor
    precisions = np.linalg.inv(cov)
    const = np.array([-np.log(w[k]) + 0.5 * np.linalg.slogdet(cov[k])[1] for k in range(len(w))])
    meta = {
        "source": "vmc.motion.procedural (all actions)",
        "num_poses": int(n),
        "num_components": int(num_components),
        "floor_std": float(floor_std),
        "frames_per_motion": int(frames_per_motion),
        "seeds": int(seeds),
        "iterations": int(iterations),
        "seed": int(seed),
        "rebuild": "python -m vmc.subject.priors",
    }
    return {
        "means": mu.astype(np.float32),
        "precisions": precisions.astype(np.float32),
        "log_weights": (const - const.min()).astype(np.float32),
        "weights": w.astype(np.float32),
        "metadata": np.asarray(json.dumps(meta)),
    }


class PosePrior(torch.nn.Module):
    """Max-mixture Gaussian energy of body poses (module docstring)."""

    means: torch.Tensor
    precisions: torch.Tensor
    log_weights: torch.Tensor

    def __init__(self, means: np.ndarray, precisions: np.ndarray, log_weights: np.ndarray):
        super().__init__()
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float32))
        self.register_buffer("precisions", torch.as_tensor(precisions, dtype=torch.float32))
        self.register_buffer("log_weights", torch.as_tensor(log_weights, dtype=torch.float32))

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        """Energy ``[B]`` of ``body_pose [B, 69]`` (joints 1-23, axis-angle; >= 0)."""
        diff = body_pose[:, None, :] - self.means[None]  # [B,K,69]
        maha = torch.einsum("bki,kij,bkj->bk", diff, self.precisions, diff)
        return (0.5 * maha + self.log_weights).amin(dim=1)

    def mean_pose(self) -> torch.Tensor:
        """The most probable component's mean ``[69]`` (a relaxed standing pose)."""
        return self.means[int(torch.argmin(self.log_weights))].clone()


@lru_cache(maxsize=2)
def _load(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return z["means"], z["precisions"], z["log_weights"]


def load_pose_prior(path: str | Path | None = None) -> PosePrior:
    """The committed pose prior (or another file written by :func:`build_pose_prior`)."""
    p = Path(path) if path is not None else POSE_PRIOR_PATH
    if not p.is_file():
        raise FileNotFoundError(f"pose prior not found: {p}; rebuild: python -m vmc.subject.priors")
    return PosePrior(*_load(str(p)))


def joint_limit_penalty(pose: torch.Tensor) -> torch.Tensor:
    """Penalty ``[B]`` on knees/elbows bending the wrong way or twisting.

    Args:
        pose: ``[B, 72]`` axis-angle (SMPL order; only joints' local rotations are used).

    Returns:
        ``sum relu(-sign * angle)^2 + relu(|off-axis| - slack)^2`` over the four hinges.
    """
    p = pose.reshape(pose.shape[0], 24, 3)
    total = pose.new_zeros(pose.shape[0])
    for name, axis, sign in _HINGES:
        r = p[:, joint_index(name)]
        total = total + torch.relu(-sign * r[:, axis]).pow(2)
        off = torch.cat([r[:, :axis], r[:, axis + 1 :]], dim=1)
        total = total + torch.relu(off.abs() - _OFF_AXIS_SLACK).pow(2).sum(1)
    return total


def shape_prior(betas: torch.Tensor) -> torch.Tensor:
    """``|betas|^2`` per row ``[B]`` of ``betas [B, nb]``."""
    return betas.pow(2).sum(-1)


def main(argv: list[str] | None = None) -> None:
    """Rebuild the committed pose prior."""
    ap = argparse.ArgumentParser(description="Rebuild vmc's pose prior (procedural library GMM)")
    ap.add_argument("--out", default=str(POSE_PRIOR_PATH))
    ap.add_argument("--components", type=int, default=8)
    args = ap.parse_args(argv)
    arrays = build_pose_prior(num_components=args.components)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
