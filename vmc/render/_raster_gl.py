"""OpenGL (moderngl, EGL standalone context) backend of :func:`vmc.render.rasterizer.rasterize`.

Optional fast path (``pip install 'vmc[gl]'``). It works headless on Mesa's llvmpipe through EGL
(no X server, no extra system package). It produces the same maps as the PyTorch backend:

* the vertex shader places NDC ``(x, y_img)`` directly as GL's ``(x, y)``, so framebuffer row ``r``
  (``gl_FragCoord.y = r + 0.5``) is image row ``r`` (pixel centre ``(2r+1)/N - 1``) and the
  read-back needs no flip;
* in those window coordinates a face we keep (signed image area <= 0) is clockwise, so culling is
  ``front_face='cw'`` + cull back faces;
* the fragment shader fetches the face's corners from storage buffers (``gl_PrimitiveID`` is the
  face index) and computes barycentrics, clamping/renormalisation and the harmonic depth with the
  kernel's formulas; the depth test keeps the smallest depth, ties to the earlier face.

Only GL's edge rule differs (top-left rule with sub-pixel vertex snapping instead of inclusive
edges), which changes pixels whose centre lies (almost) exactly on a triangle edge.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_VERTEX_SHADER = """
#version 430
in vec3 in_pos;
void main() {
    gl_Position = vec4(in_pos.xy, 0.0, 1.0);
}
"""

_FRAGMENT_SHADER = """
#version 430
layout(std430, binding = 0) readonly buffer Points { float pts[]; };
layout(std430, binding = 1) readonly buffer Faces { int faces[]; };
uniform float u_size;
uniform float u_eye;
uniform float u_near;
uniform float u_far;
uniform float u_zlo;
uniform float u_zscale;
layout(location = 0) out vec4 out_w;
layout(location = 1) out float out_face;

void main() {
    int f = gl_PrimitiveID;
    int i0 = faces[3 * f], i1 = faces[3 * f + 1], i2 = faces[3 * f + 2];
    vec2 p0 = vec2(pts[3 * i0], pts[3 * i0 + 1]);
    vec2 p1 = vec2(pts[3 * i1], pts[3 * i1 + 1]);
    vec2 p2 = vec2(pts[3 * i2], pts[3 * i2 + 1]);
    vec3 zc = vec3(pts[3 * i0 + 2], pts[3 * i1 + 2], pts[3 * i2 + 2]) + u_eye;
    // Faces with a non-finite corner are never drawn (same rule as the PyTorch backend).
    vec3 xs = vec3(p0.x, p1.x, p2.x), ys = vec3(p0.y, p1.y, p2.y);
    if (any(isinf(xs)) || any(isnan(xs)) || any(isinf(ys)) || any(isnan(ys))
        || any(isinf(zc)) || any(isnan(zc))) discard;
    vec2 p = gl_FragCoord.xy * (2.0 / u_size) - 1.0;
    float area = (p1.x - p0.x) * (p2.y - p0.y) - (p1.y - p0.y) * (p2.x - p0.x);
    vec3 d = vec3((p2.x - p1.x) * (p.y - p1.y) - (p2.y - p1.y) * (p.x - p1.x),
                  (p0.x - p2.x) * (p.y - p2.y) - (p0.y - p2.y) * (p.x - p2.x),
                  (p1.x - p0.x) * (p.y - p0.y) - (p1.y - p0.y) * (p.x - p0.x));
    vec3 w = clamp(d * (1.0 / area), 0.0, 1.0);
    float s = w.x + w.y + w.z;
    w = w / s;
    float zp = 1.0 / (w.x / zc.x + w.y / zc.y + w.z / zc.z);
    if (!(zp > u_near && zp < u_far)) discard;
    gl_FragDepth = clamp((zp - u_zlo) * u_zscale, 0.0, 1.0);
    out_w = vec4(w, zp);
    out_face = float(f + 1);
}
"""


class GLUnavailableError(RuntimeError):
    """Raised when the OpenGL backend cannot run (moderngl missing or no EGL context)."""


@dataclass
class _GLState:
    ctx: Any
    prog: Any
    size: int = 0
    fbo: Any = None
    tex_w: Any = None
    tex_f: Any = None
    depth: Any = None
    pts_buf: Any = None
    face_buf: Any = None
    vao: Any = None


_STATE: _GLState | None = None
_LOCK = threading.Lock()


def _create_state() -> _GLState:
    try:
        import moderngl  # optional extra (vmc[gl]): imported only when the gl backend runs
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise GLUnavailableError(
            "rasterize(backend='gl') needs the optional dependency moderngl: "
            "pip install 'vmc[gl]' (or use backend='torch')"
        ) from exc
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=430)
    except Exception as exc:  # moderngl raises plain Exception subclasses
        raise GLUnavailableError(
            f"rasterize(backend='gl') could not create a headless EGL OpenGL 4.3 context ({exc}); "
            "install Mesa's EGL (libegl1, libgl1-mesa-dri) or use backend='torch'"
        ) from exc
    prog = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
    return _GLState(ctx=ctx, prog=prog)


def gl_context_state() -> _GLState:
    """Return the cached GL state, creating the EGL context on first use.

    Raises:
        GLUnavailableError: moderngl is not installed or no EGL context can be created.
    """
    global _STATE
    if _STATE is None:
        _STATE = _create_state()
    return _STATE


def gl_available() -> bool:
    """True if the OpenGL backend can run here (creates and caches the context)."""
    try:
        gl_context_state()
    except GLUnavailableError:
        return False
    return True


def _ensure_targets(st: _GLState, size: int) -> None:
    if st.size == size:
        return
    for obj in (st.fbo, st.tex_w, st.tex_f, st.depth):
        if obj is not None:
            obj.release()
    st.tex_w = st.ctx.texture((size, size), 4, dtype="f4")
    st.tex_f = st.ctx.texture((size, size), 1, dtype="f4")
    st.depth = st.ctx.depth_renderbuffer((size, size))
    st.fbo = st.ctx.framebuffer(color_attachments=[st.tex_w, st.tex_f], depth_attachment=st.depth)
    st.size = size


def _ensure_buffers(st: _GLState, pts_bytes: int, face_bytes: int) -> None:
    rebuild = False
    if st.pts_buf is None or st.pts_buf.size < pts_bytes:
        if st.pts_buf is not None:
            st.pts_buf.release()
        st.pts_buf = st.ctx.buffer(reserve=pts_bytes)
        rebuild = True
    if st.face_buf is None or st.face_buf.size < face_bytes:
        if st.face_buf is not None:
            st.face_buf.release()
        st.face_buf = st.ctx.buffer(reserve=face_bytes)
        rebuild = True
    if rebuild or st.vao is None:
        if st.vao is not None:
            st.vao.release()
        st.vao = st.ctx.vertex_array(
            st.prog,
            [(st.pts_buf, "3f", "in_pos")],
            index_buffer=st.face_buf,
            index_element_size=4,
        )


def rasterize_gl(
    points: torch.Tensor,
    faces: torch.Tensor,
    image_size: int,
    cull_backfaces: bool,
    eye_shift: float,
    near: float,
    far: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rasterize with OpenGL. Inputs are validated by the caller.

    Args:
        points: ``[B,V,3]`` float (any device; copied to the CPU).
        faces: ``[F,3]`` long, indices in ``[0, V)``; ``F < 2**24``.
        image_size: output side ``N``.
        cull_backfaces: drop faces with signed image area > 0.
        eye_shift, near, far: depth is ``z + eye_shift``, kept only inside ``(near, far)``.

    Returns:
        ``fim [B,N,N] long`` (-1 empty), ``wim [B,N,N,3] float32``, ``zp [B,N,N] float32``
        (depth ``z + eye_shift``, undefined where empty), all on the CPU.
    """
    import moderngl  # optional extra (vmc[gl]), present once _create_state has succeeded

    bsz, _, _ = points.shape
    n = int(image_size)
    pts_np = points.detach().to("cpu", torch.float32).contiguous().numpy()
    faces_np = faces.detach().to("cpu", torch.int32).contiguous().numpy()
    fim = np.empty((bsz, n, n), dtype=np.float32)
    wz = np.empty((bsz, n, n, 4), dtype=np.float32)
    with _LOCK:
        st = gl_context_state()
        ctx = st.ctx
        _ensure_targets(st, n)
        _ensure_buffers(st, pts_np[0].nbytes, faces_np.nbytes)
        st.face_buf.write(faces_np.tobytes())
        st.prog["u_size"].value = float(n)
        st.prog["u_eye"].value = float(eye_shift)
        st.prog["u_near"].value = float(near)
        st.prog["u_far"].value = float(far)
        st.fbo.use()
        ctx.viewport = (0, 0, n, n)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.depth_func = "<"
        if cull_backfaces:
            ctx.enable(moderngl.CULL_FACE)
            ctx.front_face = "cw"
            ctx.cull_face = "back"
        else:
            ctx.disable(moderngl.CULL_FACE)
        st.pts_buf.bind_to_storage_buffer(0)
        st.face_buf.bind_to_storage_buffer(1)
        for b in range(bsz):
            # Map this item's depth range onto [0,1] for the 24-bit depth buffer: the harmonic
            # depth of a face lies between its corners' depths, so it never leaves the range.
            zc = pts_np[b, :, 2].astype(np.float64) + eye_shift
            zc = zc[np.isfinite(zc)]
            zlo = max(float(zc.min()), near) if zc.size else near
            zhi = min(float(zc.max()), far) if zc.size else far
            st.prog["u_zlo"].value = zlo
            st.prog["u_zscale"].value = 1.0 / max(zhi - zlo, 1e-12)
            st.pts_buf.write(pts_np[b].tobytes())
            st.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            st.vao.render(moderngl.TRIANGLES, vertices=faces_np.size)
            st.tex_w.read_into(wz[b], alignment=1)
            st.tex_f.read_into(fim[b], alignment=1)
    fim_t = torch.from_numpy(fim).to(torch.long) - 1
    wz_t = torch.from_numpy(wz)
    wim = wz_t[..., :3].contiguous()
    zp = wz_t[..., 3].contiguous()
    empty = fim_t < 0
    wim[empty] = 0.0
    return fim_t, wim, zp
