"""Liquid Warping GAN with attention (iPERCore "AttLWB-SPADE"): networks and their weights.

Plain ``nn.Module``s (no Lightning / Hydra): the generator (``vmc.lwg.generator``), the
discriminators (``vmc.lwg.discriminator``) and their weight files (``vmc.lwg.loading``, on top of
``vmc.io.checkpoints``). The maps they consume follow docs/conventions.md.
"""

from vmc.lwg.discriminator import (
    GlobalBodyHeadDiscriminator,
    GlobalDiscriminator,
    PatchDiscriminator,
    average_logits,
    crop_and_resize,
)
from vmc.lwg.generator import (
    PAPER_GENERATOR_CONFIG,
    AttentionLWBGenerator,
    GeneratorConfig,
    GeneratorOutput,
    SourceFeatures,
    composite,
)
from vmc.lwg.loading import (
    load_discriminator,
    load_generator,
    save_discriminator,
    save_generator,
)
from vmc.lwg.spin import (
    SPINOutput,
    SPINRegressor,
    fit_person,
    load_spin,
    spin_cam_to_square_crop,
    spin_crop,
)

__all__ = [
    "PAPER_GENERATOR_CONFIG",
    "AttentionLWBGenerator",
    "GeneratorConfig",
    "GeneratorOutput",
    "GlobalBodyHeadDiscriminator",
    "GlobalDiscriminator",
    "PatchDiscriminator",
    "SPINOutput",
    "SPINRegressor",
    "SourceFeatures",
    "average_logits",
    "composite",
    "crop_and_resize",
    "fit_person",
    "load_discriminator",
    "load_generator",
    "load_spin",
    "save_discriminator",
    "save_generator",
    "spin_cam_to_square_crop",
    "spin_crop",
]
