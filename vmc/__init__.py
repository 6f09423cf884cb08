"""vmc: VideoMotionCLIP, animating a person's photo from a free-text motion description.

Text → MotionCLIP motion → body model with the person's shape → Liquid Warping GAN (or texture
warping on the embedded default) → video. See ``DESIGN.md`` in the shared notes and ``README.md``.
"""

__version__ = "0.1.0"
