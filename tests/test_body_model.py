"""Body model: the procedural body, BodyModel forward, SMPL file loading (restricted unpickler).

No SMPL file is needed: official-format pickles are imitated with stand-in chumpy classes.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import sys
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from vmc.body import BodyModel, BodyOutput
from vmc.body.joints import SMPL_BONES, SMPL_FLIP_PERMUTATION, SMPL_JOINT_NAMES, SMPL_PARENTS
from vmc.body.procedural import TINY_PART_NAMES, TINY_REST_JOINTS, make_tiny_body
from vmc.body.smpl_files import (
    SMPLUnpickler,
    UnsafePickleError,
    convert_smpl_pkl_to_npz,
    load_body_arrays,
    save_body_npz,
    validate_body_arrays,
)
from vmc.geometry.rotations import axis_angle_to_matrix, rotation_about_x, rotation_about_z

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    return make_tiny_body()


@pytest.fixture(scope="module")
def body(arrays) -> BodyModel:
    return BodyModel.from_arrays(**arrays)


# ------------------------------------------------------------------------------ joints


def test_joint_tables():
    assert len(SMPL_JOINT_NAMES) == len(SMPL_PARENTS) == 24
    assert all(0 <= p < i for i, p in enumerate(SMPL_PARENTS) if i > 0)
    assert len(SMPL_BONES) == 23
    assert SMPL_JOINT_NAMES[SMPL_FLIP_PERMUTATION[SMPL_JOINT_NAMES.index("left_wrist")]] == (
        "right_wrist"
    )
    assert sorted(SMPL_FLIP_PERMUTATION) == list(range(24))


# ------------------------------------------------------------------------------ procedural body


def test_tiny_body_mesh_is_closed_and_outward(arrays):
    v, f = arrays["v_template"], arrays["f"]
    assert 300 <= len(v) <= 1000
    directed = Counter((int(t[i]), int(t[(i + 1) % 3])) for t in f for i in range(3))
    # every directed edge once, and its reverse once: closed, consistently wound
    assert max(directed.values()) == 1
    assert all((b, a) in directed for a, b in directed)
    # outward: positive signed volume for every closed piece (one per tube)
    n = len(v)
    adj = sp.coo_matrix((np.ones(3 * len(f)), (f.ravel(), np.roll(f, 1, axis=1).ravel())), (n, n))
    n_comp, label = connected_components(adj, directed=False)
    assert n_comp == 8  # torso, head, 2 arms, 2 legs, 2 feet
    tri = v[f]
    vol = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    comp_vol = np.bincount(label[f[:, 0]], weights=vol, minlength=n_comp)
    assert (comp_vol > 1e-4).all(), comp_vol
    assert 0.03 < vol.sum() < 0.15  # ~0.06 m^3: a person-sized volume
    # faces are non-degenerate
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert area.min() > 1e-6


def test_tiny_body_rest_pose_frame(arrays):
    v = arrays["v_template"]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.85
    j = arrays["J_regressor"] @ v
    np.testing.assert_allclose(j, TINY_REST_JOINTS, atol=1e-12)
    names = SMPL_JOINT_NAMES
    assert j[names.index("head"), 1] > j[names.index("pelvis"), 1] > j[names.index("left_ankle"), 1]
    assert j[names.index("left_wrist"), 0] > 0.5 > -0.5 > j[names.index("right_wrist"), 0]  # T-pose
    # facing +z: toes in front of the heels and of the ankles
    foot = arrays["face_part"] == TINY_PART_NAMES.index("left_foot")
    foot_v = v[np.unique(arrays["f"][foot])]
    assert foot_v[:, 2].max() > j[names.index("left_ankle"), 2] + 0.1
    # left/right mirror symmetric
    np.testing.assert_allclose(j[list(SMPL_FLIP_PERMUTATION)] * [-1, 1, 1], j, atol=1e-12)


def test_tiny_body_skinning_uv_parts(arrays):
    w = arrays["weights"]
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-12)
    assert (w >= 0).all() and (w.sum(0) > 0).all()  # every joint drives something
    jr = arrays["J_regressor"]
    np.testing.assert_allclose(jr.sum(1), 1.0, atol=1e-12)
    vt, ft = arrays["vt"], arrays["ft"]
    assert vt.min() >= 0 and vt.max() <= 1 and ft.shape == arrays["f"].shape
    p = vt[ft]
    uv_area = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (
        p[:, 2, 0] - p[:, 0, 0]
    )
    assert (uv_area > 0).all()  # every UV triangle counter-clockwise (v up)
    assert set(np.unique(arrays["face_part"])) == set(range(len(TINY_PART_NAMES)))
    assert list(arrays["part_names"]) == list(TINY_PART_NAMES)


def test_tiny_body_betas_and_seed():
    a = make_tiny_body(num_betas=12, seed=0)
    b = make_tiny_body(num_betas=12, seed=1)
    assert a["shapedirs"].shape[2] == 12
    np.testing.assert_array_equal(a["shapedirs"][..., :10], b["shapedirs"][..., :10])
    assert not np.allclose(a["shapedirs"][..., 10:], b["shapedirs"][..., 10:])
    np.testing.assert_array_equal(a["v_template"], b["v_template"])
    assert make_tiny_body(num_betas=3)["shapedirs"].shape[2] == 3
    with pytest.raises(ValueError, match="num_betas"):
        make_tiny_body(num_betas=-1)


def test_betas_change_proportions(body):
    def joints(k: int, val: float) -> np.ndarray:
        betas = torch.zeros(1, 10)
        betas[0, k] = val
        return body(betas=betas).joints[0].numpy()

    def verts(k: int, val: float) -> np.ndarray:
        betas = torch.zeros(1, 10)
        betas[0, k] = val
        return body(betas=betas).vertices[0].numpy()

    height = lambda v: v[:, 1].max() - v[:, 1].min()  # noqa: E731
    rest = body().vertices[0].numpy()
    names = SMPL_JOINT_NAMES
    assert height(verts(0, 2.0)) > height(rest) + 0.1  # overall size
    leg = lambda j: j[names.index("left_hip"), 1] - j[names.index("left_ankle"), 1]  # noqa: E731
    assert leg(joints(2, 2.0)) > leg(joints(2, 0.0)) + 0.05  # leg length
    arm = lambda j: j[names.index("left_wrist"), 0] - j[names.index("left_shoulder"), 0]  # noqa: E731
    assert arm(joints(3, 2.0)) > arm(joints(3, 0.0)) + 0.05  # arm length
    # girth moves vertices but not joints
    assert np.abs(verts(1, 2.0) - rest).max() > 0.02
    np.testing.assert_allclose(joints(1, 2.0), joints(1, 0.0), atol=1e-5)


# ------------------------------------------------------------------------------ forward


def test_zero_pose_gives_template(body, arrays):
    out = body()
    assert isinstance(out, BodyOutput)
    assert out.vertices.shape == (1, body.num_vertices, 3) and out.joints.shape == (1, 24, 3)
    np.testing.assert_allclose(out.vertices[0].numpy(), arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(out.joints[0].numpy(), TINY_REST_JOINTS, atol=1e-6)
    assert body.faces.dtype == torch.long and body.faces.shape == (len(arrays["f"]), 3)
    assert body.parents.tolist() == list(SMPL_PARENTS)
    assert body.num_betas == 10
    betas = torch.randn(3, 10)
    v_shaped, j_shaped = body.shaped(betas)
    posed = body(betas=betas)
    assert torch.allclose(v_shaped, posed.vertices, atol=1e-6)
    assert torch.allclose(j_shaped, posed.joints, atol=1e-6)


def test_axis_angle_and_matrices_agree(body):
    aa = torch.randn(3, 72) * 0.4
    by_aa = body(pose_axis_angle=aa)
    by_rot = body(rotations=axis_angle_to_matrix(aa.reshape(3, 24, 3)))
    by_aa3 = body(pose_axis_angle=aa.reshape(3, 24, 3))
    assert torch.allclose(by_aa.vertices, by_rot.vertices, atol=1e-6)
    assert torch.allclose(by_aa.joints, by_rot.joints, atol=1e-6)
    assert torch.allclose(by_aa3.vertices, by_aa.vertices, atol=1e-6)
    assert not torch.allclose(by_aa.vertices, body().vertices, atol=1e-2)


def _forward_kinematics(rest: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Independent FK: the root rotates about itself; joint_i = joint_parent + G_parent
    (rest_i - rest_parent)."""
    glob, out = [], []
    for i, p in enumerate(SMPL_PARENTS):
        if p < 0:
            glob.append(rot[i])
            out.append(rest[i])
        else:
            glob.append(glob[p] @ rot[i])
            out.append(out[p] + glob[p] @ (rest[i] - rest[p]))
    return torch.stack(out)


def test_joints_follow_forward_kinematics():
    aa = torch.randn(2, 24, 3, dtype=torch.float64) * 0.5
    body64 = BodyModel.from_arrays(dtype=torch.float64, **make_tiny_body())
    out = body64(pose_axis_angle=aa)
    rest = torch.from_numpy(TINY_REST_JOINTS)
    for b in range(2):
        ref = _forward_kinematics(rest, axis_angle_to_matrix(aa[b]))
        assert torch.allclose(out.joints[b], ref, atol=1e-10)


def test_bending_one_joint_moves_only_its_subtree(body):
    rot = torch.eye(3).repeat(1, 24, 1, 1)
    elbow = SMPL_JOINT_NAMES.index("left_elbow")
    rot[0, elbow] = rotation_about_z(torch.tensor(math.pi / 2))
    out = body(rotations=rot)
    moved = (out.joints[0] - body().joints[0]).norm(dim=-1) > 1e-4
    expected = {SMPL_JOINT_NAMES.index(n) for n in ("left_wrist", "left_hand")}
    assert set(torch.nonzero(moved).flatten().tolist()) == expected
    # the right hand's vertices did not move
    right_hand = body.face_part == TINY_PART_NAMES.index("right_hand")
    vid = body.faces[right_hand].unique()
    assert torch.allclose(out.vertices[0, vid], body().vertices[0, vid], atol=1e-6)


def test_root_rx_pi_puts_head_below_feet_in_image_frame(body):
    rot = torch.eye(3).repeat(1, 24, 1, 1)
    rot[0, 0] = rotation_about_x(torch.tensor(math.pi))
    j = body(rotations=rot).joints[0]
    head, ankle = SMPL_JOINT_NAMES.index("head"), SMPL_JOINT_NAMES.index("left_ankle")
    assert j[head, 1] < j[ankle, 1]  # y down: head on top of the image


def test_betas_padding_batch_and_transl(body):
    short = torch.randn(4, 3)
    padded = torch.cat([short, torch.zeros(4, 7)], dim=1)
    aa = torch.randn(4, 72) * 0.3
    a = body(betas=short, pose_axis_angle=aa)
    b = body(betas=padded, pose_axis_angle=aa)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-6)
    # batched == one at a time
    for i in range(4):
        single = body(betas=short[i : i + 1], pose_axis_angle=aa[i : i + 1])
        assert torch.allclose(single.vertices[0], a.vertices[i], atol=1e-6)
    # transl shifts everything
    t = torch.randn(4, 3)
    c = body(betas=short, pose_axis_angle=aa, transl=t)
    assert torch.allclose(c.vertices, a.vertices + t[:, None], atol=1e-6)
    assert torch.allclose(c.joints, a.joints + t[:, None], atol=1e-6)
    # a batch of 1 broadcasts
    d = body(betas=short[:1], pose_axis_angle=aa)
    assert d.vertices.shape[0] == 4
    single2 = body(betas=short[:1], pose_axis_angle=aa[2:3]).vertices[0]
    assert torch.allclose(d.vertices[2], single2, atol=1e-6)


def test_pose_correctives_act(arrays):
    rot = torch.eye(3).repeat(1, 24, 1, 1)
    rot[0, SMPL_JOINT_NAMES.index("left_knee")] = rotation_about_x(torch.tensor(1.2))
    with_pd = BodyModel.from_arrays(**arrays)(rotations=rot).vertices
    no_pd = BodyModel.from_arrays(**{**arrays, "posedirs": arrays["posedirs"] * 0})(
        rotations=rot
    ).vertices
    diff = (with_pd - no_pd).norm(dim=-1)
    assert 1e-3 < diff.max() < 0.05


def test_gradients_reach_all_inputs(body):
    betas = torch.zeros(2, 10, requires_grad=True)
    aa = (torch.randn(2, 72) * 0.2).requires_grad_(True)
    t = torch.zeros(2, 3, requires_grad=True)
    out = body(betas=betas, pose_axis_angle=aa, transl=t)
    (out.vertices.square().sum() + out.joints.sum()).backward()
    for g in (betas.grad, aa.grad, t.grad):
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def test_matches_smplx_smpl(arrays):
    smplx = pytest.importorskip("smplx")
    from smplx.utils import Struct

    tiny_ids = {
        k: 0
        for k in ["nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel",
                  "RBigToe", "RSmallToe", "RHeel"]
        + [f"{s}{f}" for s in "lr" for f in ("thumb", "index", "middle", "ring", "pinky")]
    }  # fmt: skip
    ref = smplx.SMPL(model_path="", data_struct=Struct(**arrays), vertex_ids=tiny_ids)
    aa = torch.randn(2, 72) * 0.4
    betas = torch.randn(2, 10)
    r = ref(betas=betas, global_orient=aa[:, :3], body_pose=aa[:, 3:])
    ours = BodyModel.from_arrays(**arrays)(betas=betas, pose_axis_angle=aa)
    assert torch.allclose(ours.vertices, r.vertices, atol=1e-5)
    assert torch.allclose(ours.joints, r.joints[:, :24], atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rotations": torch.zeros(2, 23, 3, 3)}, "rotations"),
        ({"pose_axis_angle": torch.zeros(2, 69)}, "pose_axis_angle"),
        ({"transl": torch.zeros(2, 2)}, "transl"),
        ({"betas": torch.zeros(2, 11)}, "num_betas"),
        ({"betas": torch.zeros(10)}, "betas"),
        ({"rotations": torch.eye(3).repeat(2, 24, 1, 1), "pose_axis_angle": torch.zeros(2, 72)},
         "not both"),
        ({"betas": torch.zeros(2, 10), "transl": torch.zeros(3, 3)}, "batch"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_value_error(body, kwargs, match):
    with pytest.raises(ValueError, match=match):
        body(**kwargs)


def test_optional_attributes_and_to_arrays(arrays):
    m = BodyModel.from_arrays(**arrays)
    assert m.vt is not None and m.vt.shape == (len(arrays["vt"]), 2)
    assert m.ft.dtype == torch.long and m.face_part.dtype == torch.long
    assert m.part_names == list(TINY_PART_NAMES)
    bare = {k: arrays[k] for k in arrays if k not in ("vt", "ft", "face_part", "part_names")}
    m2 = BodyModel.from_arrays(num_betas=4, **bare)
    assert m2.vt is None and m2.ft is None and m2.face_part is None and m2.part_names is None
    assert m2.num_betas == 4
    back = m.to_arrays()
    ref = validate_body_arrays(arrays)
    assert set(back) == set(ref)
    for k in ref:
        if k == "part_names":
            assert list(back[k]) == list(ref[k])
        else:
            # float32 buffers: storing rounds by <= 6e-8 relative
            np.testing.assert_allclose(back[k], ref[k], rtol=1e-6, atol=1e-7, err_msg=k)
    m64 = BodyModel.from_arrays(dtype=torch.float64, **arrays)
    assert m64().vertices.dtype == torch.float64


# ------------------------------------------------------------------------------ files


def test_validation_names_key_and_source(arrays):
    bad = dict(arrays, shapedirs=arrays["shapedirs"][:-1])
    with pytest.raises(ValueError, match=r"my\.npz.*'shapedirs'"):
        validate_body_arrays(bad, source="my.npz")
    bad_f = dict(arrays, f=arrays["f"] + len(arrays["v_template"]))
    with pytest.raises(ValueError, match="'f'.*indices"):
        validate_body_arrays(bad_f)
    kt = arrays["kintree_table"].copy()
    kt[0, 5] = 7
    with pytest.raises(ValueError, match="kintree_table"):
        validate_body_arrays(dict(arrays, kintree_table=kt))
    no_w = {k: v for k, v in arrays.items() if k != "weights"}
    with pytest.raises(ValueError, match="missing key"):
        validate_body_arrays(no_w)
    with pytest.raises(ValueError, match="'ft'"):
        validate_body_arrays(dict(arrays, ft=arrays["ft"][:-1]))
    with pytest.raises(ValueError, match="posedirs"):
        BodyModel.from_arrays(**dict(arrays, posedirs=np.zeros((3, 3, 3))))


def test_missing_file_says_where_smpl_goes(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"assets/smpl/SMPL_NEUTRAL\.pkl.*VMC_ASSETS"):
        BodyModel.from_file(tmp_path / "SMPL_NEUTRAL.pkl")
    (tmp_path / "body.obj").write_text("")
    with pytest.raises(ValueError, match="unsupported"):
        load_body_arrays(tmp_path / "body.obj")


def test_npz_round_trip_is_atomic_and_plain(tmp_path, arrays):
    path = save_body_npz(arrays, tmp_path / "sub" / "tiny.npz")
    assert [p.name for p in path.parent.iterdir()] == ["tiny.npz"]  # no temp file left
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(arrays)
    m = BodyModel.from_file(path)
    aa = torch.randn(2, 72) * 0.3
    ref = BodyModel.from_arrays(**arrays)(pose_axis_angle=aa)
    assert torch.allclose(m(pose_axis_angle=aa).vertices, ref.vertices, atol=1e-6)
    assert m.part_names == list(TINY_PART_NAMES)


# A fake chumpy, registered under chumpy's module names only while pickling, so the files carry
# the same globals ("chumpy.ch Ch") and state layout as the official SMPL pickles.


class _FakeCh:
    def __init__(self, x):
        self.x = np.asarray(x, dtype=np.float64)
        self._dirty_vars = {"x"}
        self._itr = None
        self._depends_on_deps = {}
        self._make_dense = False
        self._make_sparse = False

    def __getstate__(self):
        return dict(self.__dict__)


class _FakeMatVecMult(_FakeCh):
    """A chumpy expression: no 'x' of its own (like the official files' 'J')."""

    def __init__(self, mtx, vec):
        self.mtx = mtx
        self.vec = vec
        self._dirty_vars = set()


def _official_like_dict(a: dict[str, np.ndarray]) -> dict:
    kt = a["kintree_table"].astype(np.int64)
    kt[0, 0] = 4294967295  # as in the official files
    return {
        "v_template": _FakeCh(a["v_template"]),
        "shapedirs": _FakeCh(a["shapedirs"]),
        "posedirs": a["posedirs"],  # plain ndarray in some official files
        "weights": _FakeCh(a["weights"]),
        "J_regressor": sp.csc_matrix(a["J_regressor"]),
        "J_regressor_prior": sp.csr_matrix(a["J_regressor"]),
        "kintree_table": kt,
        "f": a["f"].astype(np.uint32),
        "J": _FakeMatVecMult(sp.csc_matrix(a["J_regressor"]), _FakeCh(a["v_template"])),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "pose_training_info": {"num_poses": 1786, "scale": np.float64(1.0)},
        "vert_sym_idxs": np.arange(len(a["v_template"])),
    }


def _dump_with_fake_chumpy(obj, protocol: int) -> bytes:
    pkg = types.ModuleType("chumpy")
    mod = types.ModuleType("chumpy.ch")
    saved = {}
    for cls, name in ((_FakeCh, "Ch"), (_FakeMatVecMult, "MatVecMult")):
        saved[cls] = (cls.__module__, cls.__qualname__)
        cls.__module__, cls.__qualname__, cls.__name__ = "chumpy.ch", name, name
        setattr(mod, name, cls)
    pkg.ch = mod
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = pkg, mod
    try:
        return pickle.dumps(obj, protocol=protocol, fix_imports=True)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
        for cls, (m, q) in saved.items():
            cls.__module__, cls.__qualname__, cls.__name__ = m, q, q


@pytest.mark.parametrize("protocol", [0, 2])
def test_official_style_pkl_loads_and_converts(tmp_path, arrays, protocol):
    data = _dump_with_fake_chumpy(_official_like_dict(arrays), protocol)
    assert b"chumpy.ch" in data and b"scipy.sparse" in data
    assert "chumpy" not in sys.modules or not hasattr(sys.modules["chumpy"], "ch")
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    pkl.write_bytes(data)

    loaded = load_body_arrays(pkl)
    np.testing.assert_allclose(loaded["v_template"], arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(loaded["J_regressor"], arrays["J_regressor"], atol=1e-6)
    np.testing.assert_array_equal(loaded["f"], arrays["f"])
    assert loaded["kintree_table"][0].tolist() == list(SMPL_PARENTS)

    from_pkl = BodyModel.from_file(pkl)
    from_arr = BodyModel.from_arrays(**{k: arrays[k] for k in loaded})
    aa, betas = torch.randn(2, 72) * 0.3, torch.randn(2, 10)
    assert torch.allclose(
        from_pkl(betas=betas, pose_axis_angle=aa).vertices,
        from_arr(betas=betas, pose_axis_angle=aa).vertices,
        atol=1e-6,
    )

    npz = convert_smpl_pkl_to_npz(pkl, tmp_path / "SMPL_NEUTRAL.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SMPL_NEUTRAL.npz", "SMPL_NEUTRAL.pkl"]
    converted = load_body_arrays(npz)
    assert set(converted) == set(loaded)
    for k in loaded:
        np.testing.assert_array_equal(converted[k], loaded[k])


def test_chumpy_expression_needed_key_is_reported(tmp_path, arrays):
    d = _official_like_dict(arrays)
    d["v_template"] = d["J"]  # an expression without a stored value
    pkl = tmp_path / "bad.pkl"
    pkl.write_bytes(_dump_with_fake_chumpy(d, 2))
    with pytest.raises(ValueError, match="'v_template'.*chumpy expression"):
        load_body_arrays(pkl)


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        import os

        return (os.system, (self.cmd,))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_unpickler_refuses_other_globals(tmp_path, arrays, protocol):
    marker = tmp_path / "pwned"
    d = {k: arrays[k] for k in ("v_template", "f")}
    d["payload"] = _Evil(f"touch {marker}")
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps(d, protocol=protocol))
    with pytest.raises(UnsafePickleError, match=r"(os|posix)\.system"):
        load_body_arrays(pkl)
    assert not marker.exists()
    for payload in (eval, np.load, Path):
        data = pickle.dumps({"x": payload}, protocol=2)
        with pytest.raises(UnsafePickleError, match="refusing"):
            SMPLUnpickler(io.BytesIO(data)).load()


def test_unpickler_reads_python2_numpy_array():
    """A Python 2 pickle of a numpy array (bytes as py2 str, numpy.core names), written by hand."""
    raw = np.array([1.5, -2.0, 3.25], dtype="<f8").tobytes()
    g = lambda mod, name: b"c" + mod + b"\n" + name + b"\n"  # noqa: E731
    s = lambda b: b"U" + bytes([len(b)]) + b  # SHORT_BINSTRING  # noqa: E731
    data = (
        b"\x80\x02"
        + g(b"numpy.core.multiarray", b"_reconstruct")
        + g(b"numpy", b"ndarray")
        + b"K\x00\x85"  # (0,)
        + s(b"b")
        + b"\x87R"  # TUPLE3, REDUCE
        + b"(K\x01K\x03\x85"  # MARK 1 (3,)
        + g(b"numpy", b"dtype")
        + s(b"f8")
        + b"K\x00K\x01\x87R"  # dtype('f8', 0, 1)
        + b"(K\x03"
        + s(b"<")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"  # dtype state, BUILD
        + b"\x89"  # False (C order)
        + b"T"
        + struct.pack("<I", len(raw))
        + raw
        + b"tb."
    )
    arr = SMPLUnpickler(io.BytesIO(data)).load()
    np.testing.assert_array_equal(arr, [1.5, -2.0, 3.25])
