"""Rendering: rasterizer (face-index / barycentric maps), correspondence maps, flows, previews."""

from vmc.render.rasterizer import Fragments, GLUnavailableError, gl_available, rasterize

__all__ = ["Fragments", "GLUnavailableError", "gl_available", "rasterize"]
