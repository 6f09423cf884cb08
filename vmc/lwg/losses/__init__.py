"""LWG training losses (``docs/conventions.md#lwg-losses-and-training``): reconstruction L1, VGG19
perceptual, SphereFace face identity, LSGAN, mask BCE and total variation, combined by
:class:`LWGLosses`.

The VGG19 and SphereFace networks are built by hand in the key layouts of the user's files
(``assets/losses/vgg19-dcbb9e9d.pth``, ``assets/losses/sphere20a_20171020.pth``), loaded with
``weights_only=True``, frozen and kept out of ``state_dict()``.
"""

from vmc.lwg.losses.adversarial import (
    LSGANTargets,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    lsgan_loss,
)
from vmc.lwg.losses.backbones import (
    TorchvisionFeatures,
    detect_backbone_arch,
    imagenet_normalize,
    load_torchvision_features,
)
from vmc.lwg.losses.frozen import RANDOM, FrozenNet, resolve_weights
from vmc.lwg.losses.pixel import mask_bce, reconstruction_l1, total_variation
from vmc.lwg.losses.sphereface import (
    FaceIdentityLoss,
    Sphere20a,
    build_sphere20a,
    head_rects_from_keypoints,
    load_sphere20a,
)
from vmc.lwg.losses.total import LWGLosses, LWGLossWeights
from vmc.lwg.losses.vgg import (
    PAPER_VGG_LAYER_WEIGHTS,
    PAPER_VGG_LAYERS,
    VGGPerceptualLoss,
    build_vgg19,
)

__all__ = [
    "PAPER_VGG_LAYERS",
    "PAPER_VGG_LAYER_WEIGHTS",
    "RANDOM",
    "FaceIdentityLoss",
    "FrozenNet",
    "LSGANTargets",
    "LWGLossWeights",
    "LWGLosses",
    "Sphere20a",
    "TorchvisionFeatures",
    "VGGPerceptualLoss",
    "build_sphere20a",
    "build_vgg19",
    "detect_backbone_arch",
    "head_rects_from_keypoints",
    "imagenet_normalize",
    "load_sphere20a",
    "load_torchvision_features",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "lsgan_loss",
    "mask_bce",
    "reconstruction_l1",
    "resolve_weights",
    "total_variation",
]
