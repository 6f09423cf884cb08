"""File input/output: images, videos, atomic writes (and checkpoints, assets in submodules).

Image/video helpers are re-exported here for convenience; import submodules directly
(``vmc.io.checkpoints``, ``vmc.io.assets`` ...) for the rest.
"""

from vmc.io.atomic import atomic_path, atomic_write_bytes
from vmc.io.images import (
    image_to_tensor,
    read_image,
    read_image_with_alpha,
    tensor_to_image,
    write_image,
)
from vmc.io.video import probe_video, read_frames, read_video, write_gif, write_video

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "image_to_tensor",
    "probe_video",
    "read_frames",
    "read_image",
    "read_image_with_alpha",
    "read_video",
    "tensor_to_image",
    "write_gif",
    "write_image",
    "write_video",
]
