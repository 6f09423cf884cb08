"""Length limits of the motions vmc generates (``infer.py``, ``python -m vmc motion``)."""

from __future__ import annotations

__all__ = ["MAX_FRAMES"]

#: Most frames one generated motion may have. Why 3600: two minutes at the default 30 fps, far
#: beyond the few-second clips MotionCLIP is trained on, yet a mistyped length
#: (``num_frames=36000``) is refused up front instead of decoding and rendering for hours or
#: filling the disk.
MAX_FRAMES = 3600
