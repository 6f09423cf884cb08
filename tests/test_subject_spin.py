"""``--fit spin``: the SPIN regressor's estimate starts the person fit, the keypoint/silhouette
refinement follows.

SPIN's weights and SMPL are licensed files that are not here, so the regressor has random
(seeded) weights, loaded strictly from a state dict this test writes, and the body is the
embedded one: put in the assets as ``smpl/SMPL_NEUTRAL.npz`` for the command (the resolver then
sees "SMPL"), used directly for the unit tests. What is tested is the wiring: SPIN's output is
the fit's starting point (with no iteration the fit returns it), the refinement runs from it
and improves it, and the command writes a subject made that way. The estimate of the real
weights is not (the parity of the regressor itself: tests/test_spin.py).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT

from vmc.body.embedded import EMBEDDED_BODY_PATH, load_embedded_body
from vmc.cli import main
from vmc.io.images import read_image
from vmc.lwg.spin import SPINRegressor
from vmc.subject.crop import crop_person
from vmc.subject.detect import PoseDetector, detect_person
from vmc.subject.fit import FitConfig, fit_body
from vmc.subject.regress import person_bbox, spin_init

PERSON = REPO_ROOT / "examples" / "person.jpg"
SIZE = 256
#: Joints the fit never moves (hands, feet): it resets them to the standing pose.
_FIXED = [0, 10, 11, 22, 23]


@pytest.fixture(scope="module")
def spin() -> SPINRegressor:
    torch.manual_seed(0)
    return SPINRegressor().eval()


@pytest.fixture(scope="module")
def body():
    return load_embedded_body()


@pytest.fixture(scope="module")
def person():
    photo = read_image(PERSON)
    with PoseDetector() as detector:
        detection = detect_person(photo, detector)
    return photo, detection, crop_person(photo, detection, size=SIZE)


def test_spin_init_is_in_the_fits_conventions(spin, body, person):
    photo, detection, crop = person
    x0, y0, x1, y1 = person_bbox(detection)
    assert 0 <= x0 < x1 <= photo.shape[1] and 0 <= y0 < y1 <= photo.shape[0]
    init = spin_init(spin, [photo], [detection], [crop], body.num_betas)
    assert init.poses.shape == (1, 72) and init.cams.shape == (1, 3)
    assert init.betas.shape == (body.num_betas,) and not init.betas[10:].any()
    # A fresh regressor stays near its mean: upright, facing the camera, inside the crop.
    assert init.cams[0, 0] > 0 and np.abs(init.cams[0, 1:]).max() < 1.0


def test_the_fit_starts_from_spin_and_refines_it(spin, body, person):
    photo, detection, crop = person
    init = spin_init(spin, [photo], [detection], [crop], body.num_betas)
    none = FitConfig(iters_search=0, iters_pose=0, iters_shape=0)
    start = fit_body(body, [crop], none, init=init)
    # No iteration: the result is SPIN's estimate (the joints the fit never moves aside).
    np.testing.assert_allclose(start.cams, init.cams, rtol=1e-5, atol=1e-6)
    moved = np.setdiff1d(np.arange(24), _FIXED)
    np.testing.assert_allclose(
        start.poses.reshape(24, 3)[moved], init.poses.reshape(24, 3)[moved], atol=1e-5
    )
    np.testing.assert_allclose(start.poses[0, :3], init.poses[0, :3], atol=1e-5)  # the root
    np.testing.assert_allclose(start.betas, init.betas, atol=1e-6)
    # The refinement runs from there and brings the body onto the person.
    refined = fit_body(body, [crop], init=init)
    before, after = start.reports[0], refined.reports[0]
    assert after.keypoint_error_px < 0.5 * before.keypoint_error_px
    assert after.silhouette_iou > max(before.silhouette_iou, 0.7)
    assert after.facing == "front"


def test_cli_prepare_with_spin(spin, tmp_path, monkeypatch, capsys):
    """``subject prepare --fit auto`` with SPIN weights and "SMPL" found: the SPIN fit runs
    (the state dict is loaded strictly from the file) and the folder records it."""
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    assets = tmp_path / "assets"
    (assets / "smpl").mkdir(parents=True)
    (assets / "spin").mkdir()
    shutil.copyfile(EMBEDDED_BODY_PATH, assets / "smpl" / "SMPL_NEUTRAL.npz")
    torch.save(spin.state_dict(), assets / "spin" / "spin_ckpt.pth")
    code = main(
        ["subject", "prepare", "alice", str(PERSON), "--fit", "auto", "--size", str(SIZE),
         "--texture-size", "256", "--assets", str(assets)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "person fit: SPIN regressor + refinement" in out and "spin:" in out
    meta = json.loads((tmp_path / "subjects" / "alice" / "meta.json").read_text())
    assert meta["body"] == "smpl" and meta["settings"]["fit"] == "spin"
    report = json.loads((tmp_path / "subjects" / "alice" / "fit_report.json").read_text())
    assert report["photos"][0]["silhouette_iou"] > 0.7
