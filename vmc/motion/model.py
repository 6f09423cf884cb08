"""MotionCLIP encoder and decoder (Tevet et al. 2022), key-for-key with the paper checkpoint.

Tensor conventions:

* motion ``x``: float ``[B, J=25, F=6, T]``. Rows 0..23 are SMPL joint rotations in 6D (first two
  ROWS of the rotation matrix, row-major; row 0 is the global orientation), row 24 is the
  pseudo-translation ``[tx, ty, tz, 0, 0, 0]``. The per-frame feature index is ``joint * F + feat``.
* ``mask``: bool ``[B, T]``, True = valid frame; batches are right-padded, padded frames are zero.
* latent ``z`` / ``mu``: float ``[B, D]`` (D=512 in the paper model, the CLIP embedding width),
  not normalised. There is no VAE sampling: ``z = mu``.

Inside, the transformers are sequence-first (``[S, B, D]``) exactly as the reference, so that the
249 state-dict keys (42,213,526 parameters + two ``pe`` buffers) match the released file. The
frozen text/image encoder is deliberately *not* a submodule: it never enters this state dict.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from vmc.io.checkpoints import load_state_dict_strict
from vmc.motion.official import PE_KEYS, read_official_checkpoint
from vmc.motion.positional import PositionalEncoding

#: 6D (first two rows) of R_x(pi) = diag(1, -1, -1): the root orientation the reference's
#: text-to-motion writes on every generated frame (upright, facing the camera). Before Aug 2022
#: the reference used the identity ``(1, 0, 0, 0, 1, 0)``.
REFERENCE_GENERATE_ROOT_6D: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)

_ACTIVATIONS = ("gelu", "relu")


@dataclass(frozen=True)
class MotionCLIPConfig:
    """Sizes of a MotionCLIP encoder/decoder pair; defaults are the paper model.

    Attributes:
        njoints: rows of the motion tensor (24 rotations + 1 translation row).
        nfeats: features per row (6 for the 6D rotation representation).
        latent_dim: transformer width D and size of the latent (512 = CLIP ViT-B/32 width).
        ff_size: feed-forward width of every transformer layer.
        num_layers: layers of the encoder and, separately, of the decoder.
        num_heads: attention heads (not stored in the weights; 4 in the reference).
        dropout: dropout in the positional encoding, attention, FFN and residuals.
        activation: FFN activation, ``"gelu"`` (exact erf form) or ``"relu"``.
        max_positions: rows of the sinusoidal table (5000 in the reference; it is saved with the
            weights, so it is part of the state-dict shape). Not opt.yaml's ``max_len``, which is a
            data-loading option.
    """

    njoints: int = 25
    nfeats: int = 6
    latent_dim: int = 512
    ff_size: int = 1024
    num_layers: int = 8
    num_heads: int = 4
    dropout: float = 0.1
    activation: str = "gelu"
    max_positions: int = 5000

    def __post_init__(self) -> None:
        problems = []
        for name in ("njoints", "nfeats", "latent_dim", "ff_size", "num_layers", "num_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name} must be a positive int, got {value!r}")
        if not problems and self.latent_dim % self.num_heads:
            problems.append(
                f"latent_dim ({self.latent_dim}) must be divisible by num_heads ({self.num_heads})"
            )
        if not problems and self.latent_dim % 2:
            problems.append(f"latent_dim must be even (sinusoidal encoding), got {self.latent_dim}")
        if not 0.0 <= float(self.dropout) < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.activation not in _ACTIVATIONS:
            problems.append(f"activation must be one of {_ACTIVATIONS}, got {self.activation!r}")
        if not isinstance(self.max_positions, int) or self.max_positions < 3:
            problems.append(f"max_positions must be an int >= 3, got {self.max_positions!r}")
        if problems:
            raise ValueError("invalid MotionCLIP configuration: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for saving beside weights / Hydra instantiation)."""
        return asdict(self)


class MotionCLIPOutput(NamedTuple):
    """Result of :meth:`MotionCLIP.forward` (the training round trip)."""

    mu: torch.Tensor  # [B, D] latent (z = mu)
    output: torch.Tensor  # [B, J, F, T] reconstruction, padded frames zero


class MotionEncoder(nn.Module):
    """``Encoder_TRANSFORMER`` of the reference: motion ``[B,J,F,T]`` -> ``mu [B,D]``.

    Two learned query tokens (``muQuery``, ``sigmaQuery``) are prepended to the embedded frames,
    the sinusoidal encoding is added to the whole sequence (token 0, token 1, frame t at t+2),
    and the output at token 0 is ``mu``. The sigma output is a vestige and is discarded.
    """

    def __init__(self, cfg: MotionCLIPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.latent_dim
        # Registration order fixes the state-dict key order of the reference.
        self.muQuery = nn.Parameter(torch.randn(1, d))
        self.sigmaQuery = nn.Parameter(torch.randn(1, d))
        self.skelEmbedding = nn.Linear(cfg.njoints * cfg.nfeats, d)
        self.sequence_pos_encoder = PositionalEncoding(d, cfg.dropout, cfg.max_positions)
        layer = nn.TransformerEncoderLayer(
            d_model=d,
            nhead=cfg.num_heads,
            dim_feedforward=cfg.ff_size,
            dropout=cfg.dropout,
            activation=cfg.activation,
        )
        # nn.TransformerEncoder deep-copies the layer: all layers start from identical weights,
        # as in the reference. No nested tensors: identical numerics in train and eval.
        self.seqTransEncoder = nn.TransformerEncoder(
            layer, num_layers=cfg.num_layers, enable_nested_tensor=False
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x [B,J,F,T]`` float, ``mask [B,T]`` bool -> ``mu [B,D]`` (validated by the caller)."""
        bs, njoints, nfeats, nframes = x.shape
        frames = x.permute(3, 0, 1, 2).reshape(nframes, bs, njoints * nfeats)
        frames = self.skelEmbedding(frames)  # [T, B, D]
        queries = torch.stack(
            (self.muQuery[0].expand(bs, -1), self.sigmaQuery[0].expand(bs, -1)), dim=0
        )  # [2, B, D]
        xseq = self.sequence_pos_encoder(torch.cat((queries, frames), dim=0))  # [T+2, B, D]
        valid = torch.cat((torch.ones(bs, 2, dtype=torch.bool, device=mask.device), mask), dim=1)
        final = self.seqTransEncoder(xseq, src_key_padding_mask=~valid)
        return final[0]


class MotionDecoder(nn.Module):
    """``Decoder_TRANSFORMER`` of the reference: ``z [B,D]`` + ``mask [B,T]`` -> ``[B,J,F,T]``.

    Time queries are ``0 + PE(t)`` (no offset), the memory is the single token ``z``, self-attention
    has only the padding mask (no causal mask), and padded frames of the output are zeroed.
    ``actionBiases`` is kept for key-for-key compatibility; the reference's default path ignores it.
    """

    def __init__(self, cfg: MotionCLIPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.latent_dim
        self.actionBiases = nn.Parameter(torch.randn(1, d))
        self.sequence_pos_encoder = PositionalEncoding(d, cfg.dropout, cfg.max_positions)
        layer = nn.TransformerDecoderLayer(
            d_model=d,
            nhead=cfg.num_heads,
            dim_feedforward=cfg.ff_size,
            dropout=cfg.dropout,
            activation=cfg.activation,
        )
        self.seqTransDecoder = nn.TransformerDecoder(layer, num_layers=cfg.num_layers)
        self.finallayer = nn.Linear(d, cfg.njoints * cfg.nfeats)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``z [B,D]`` float, ``mask [B,T]`` bool -> motion ``[B,J,F,T]`` with padded frames 0."""
        bs, nframes = mask.shape
        timequeries = torch.zeros(nframes, bs, z.shape[1], dtype=z.dtype, device=z.device)
        timequeries = self.sequence_pos_encoder(timequeries)
        out = self.seqTransDecoder(tgt=timequeries, memory=z[None], tgt_key_padding_mask=~mask)
        out = self.finallayer(out).reshape(nframes, bs, self.cfg.njoints, self.cfg.nfeats)
        # masked_fill (not multiplication) so that nothing from padded frames survives.
        out = out.masked_fill(~mask.T[:, :, None, None], 0.0)
        return out.permute(1, 2, 3, 0)


class MotionCLIP(nn.Module):
    """MotionCLIP auto-encoder: ``encoder`` (motion -> latent) and ``decoder`` (latent -> motion).

    Build with explicit sizes (defaults = paper model) or from a :class:`MotionCLIPConfig`;
    load the released checkpoint with :meth:`from_official`. The text encoder lives elsewhere
    (``vmc.text``); text-to-motion is ``model.decode(text_encoder.encode(texts), num_frames=60)``
    followed, for the reference behaviour, by :func:`overwrite_root_orientation`.
    """

    def __init__(
        self,
        njoints: int = 25,
        nfeats: int = 6,
        latent_dim: int = 512,
        ff_size: int = 1024,
        num_layers: int = 8,
        num_heads: int = 4,
        dropout: float = 0.1,
        activation: str = "gelu",
        max_positions: int = 5000,
    ) -> None:
        super().__init__()
        self.config = MotionCLIPConfig(
            njoints=njoints,
            nfeats=nfeats,
            latent_dim=latent_dim,
            ff_size=ff_size,
            num_layers=num_layers,
            num_heads=num_heads,
            dropout=dropout,
            activation=activation,
            max_positions=max_positions,
        )
        self.encoder = MotionEncoder(self.config)
        self.decoder = MotionDecoder(self.config)

    @classmethod
    def from_config(cls, config: MotionCLIPConfig) -> MotionCLIP:
        """Build a randomly initialised model from a config."""
        return cls(**config.to_dict())

    @classmethod
    def from_official(cls, path: str | os.PathLike[str], **overrides: Any) -> MotionCLIP:
        """Load the released checkpoint (e.g. ``checkpoint_0100.pth.tar`` + sibling ``opt.yaml``).

        :func:`vmc.motion.official.read_official_checkpoint` reads and checks the files: sizes
        come from the weights, the rest from opt.yaml and ``overrides`` (opt.yaml key names:
        ``num_heads``, ``dropout``, ``activation``, ``njoints``, ``nfeats``, and
        ``max_positions``); this builds the model and loads it strictly.

        Returns:
            The model in eval mode on the CPU, with ``official_opt`` holding the opt.yaml
            contents (empty dict when there was none).

        Raises:
            FileNotFoundError: ``path`` does not exist.
            CheckpointError / ValueError: the file, opt.yaml or overrides do not match (all
                differences listed).
        """
        found = read_official_checkpoint(path, MotionCLIPConfig().to_dict(), **overrides)
        try:
            config = MotionCLIPConfig(**found.config)
        except ValueError as err:
            raise ValueError(f"{found.source}: {err}") from err
        model = cls.from_config(config)
        state = dict(found.state_dict)
        own = model.state_dict()
        for key in PE_KEYS:
            if key not in state:  # rebuilt from the formula by the constructor
                state[key] = own[key]
        load_state_dict_strict(model, state, source=f"{found.source} (as {config})")
        model.official_opt = found.opt
        return model.eval().cpu()

    @property
    def latent_dim(self) -> int:
        """Size D of the latent (``mu`` / ``z``)."""
        return self.config.latent_dim

    @property
    def max_frames(self) -> int:
        """Longest sequence the encoder's positional table covers (two rows go to the tokens)."""
        return self.config.max_positions - 2

    # ------------------------------------------------------------------ public API
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encode motions.

        Args:
            x: float ``[B, J, F, T]`` motion (reference layout, padded frames zero).
            mask: bool ``[B, T]``, True = valid; all-true when omitted.

        Returns:
            ``mu`` float ``[B, D]`` (unnormalised; this is ``z``).
        """
        x = self._check_motion(x)
        mask = self._check_mask(mask, x.shape[0], x.shape[-1], x.device, "encode")
        if x.shape[-1] > self.max_frames:
            raise ValueError(
                f"encode: {x.shape[-1]} frames exceed the positional table "
                f"(at most {self.max_frames} frames)"
            )
        return self.encoder(x, mask)

    def decode(
        self,
        z: torch.Tensor,
        mask: torch.Tensor | None = None,
        num_frames: int | None = None,
    ) -> torch.Tensor:
        """Decode latents into motions.

        Args:
            z: float ``[B, D]`` latent (``mu`` or an unnormalised text feature).
            mask: bool ``[B, T]`` of valid frames; give exactly one of ``mask`` / ``num_frames``.
            num_frames: ``T`` for an all-true mask (the reference generates 60).

        Returns:
            float ``[B, J, F, T]`` motion with padded frames zero. The root orientation is the
            network's own; apply :func:`overwrite_root_orientation` for the reference's
            text-to-motion behaviour.
        """
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"decode: z must be a [B, {self.latent_dim}] tensor, got {shape}")
        if not z.is_floating_point():
            raise ValueError(f"decode: z must be floating point, got {z.dtype}")
        if (mask is None) == (num_frames is None):
            raise ValueError("decode: give exactly one of mask=[B,T] bool or num_frames=T")
        if mask is None:
            if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
                raise ValueError(f"decode: num_frames must be a positive int, got {num_frames!r}")
            nframes = num_frames
        else:
            if not isinstance(mask, torch.Tensor) or mask.ndim != 2:
                raise ValueError("decode: mask must be a [B, T] bool tensor")
            nframes = mask.shape[1]
        if nframes > self.config.max_positions:
            raise ValueError(
                f"decode: {nframes} frames exceed the positional table "
                f"(at most {self.config.max_positions} frames)"
            )
        mask = self._check_mask(mask, z.shape[0], nframes, z.device, "decode")
        return self.decoder(z, mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> MotionCLIPOutput:
        """Training round trip: ``mu = encode(x, mask)``, ``output = decode(mu, mask)``."""
        x = self._check_motion(x)
        mask = self._check_mask(mask, x.shape[0], x.shape[-1], x.device, "forward")
        mu = self.encode(x, mask)
        return MotionCLIPOutput(mu=mu, output=self.decoder(mu, mask))

    # ------------------------------------------------------------------ validation
    def _check_motion(self, x: torch.Tensor) -> torch.Tensor:
        j, f = self.config.njoints, self.config.nfeats
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1:3] != (j, f):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"motion must be a [B, {j}, {f}, T] tensor, got {shape}")
        if not x.is_floating_point():
            raise ValueError(f"motion must be floating point, got {x.dtype}")
        if x.shape[0] == 0 or x.shape[-1] == 0:
            raise ValueError(f"motion batch is empty: {tuple(x.shape)}")
        return x

    @staticmethod
    def _check_mask(
        mask: torch.Tensor | None, batch: int, nframes: int, device: torch.device, where: str
    ) -> torch.Tensor:
        if mask is None:
            return torch.ones(batch, nframes, dtype=torch.bool, device=device)
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (batch, nframes):
            shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"{where}: mask must be [B={batch}, T={nframes}] bool, got {shape}")
        if mask.dtype != torch.bool:
            raise ValueError(f"{where}: mask must be torch.bool (True = valid), got {mask.dtype}")
        # An all-padded sample would make attention return NaN; refuse it explicitly.
        if not bool(mask.any(dim=1).all()):
            raise ValueError(f"{where}: every sample needs at least one valid frame in mask")
        return mask.to(device)


def lengths_to_mask(lengths: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
    """``lengths [B]`` int -> right-padded bool mask ``[B, T]`` (T = max length by default)."""
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be [B], got {tuple(lengths.shape)}")
    total = int(lengths.max()) if num_frames is None else int(num_frames)
    if num_frames is not None and lengths.numel() and int(lengths.max()) > total:
        raise ValueError(f"a length {int(lengths.max())} exceeds num_frames={total}")
    return torch.arange(total, device=lengths.device)[None, :] < lengths[:, None]


def overwrite_root_orientation(
    motion: torch.Tensor,
    mask: torch.Tensor | None = None,
    rot6d: tuple[float, ...] | torch.Tensor = REFERENCE_GENERATE_ROOT_6D,
) -> torch.Tensor:
    """The reference's generate-time step: set joint 0 (global orientation) on every frame.

    Args:
        motion: float ``[B, J, 6, T]`` decoder output.
        mask: optional bool ``[B, T]``; when given, padded frames stay as they are (zero).
            The reference writes every frame (its masks are all-true at generation).
        rot6d: the 6D value, default ``[1, 0, 0, 0, -1, 0]`` = R_x(pi) = diag(1, -1, -1).

    Returns:
        A new tensor; ``motion`` is not modified.
    """
    if motion.ndim != 4 or motion.shape[2] != 6:
        raise ValueError(f"motion must be [B, J, 6, T], got {tuple(motion.shape)}")
    value = torch.as_tensor(rot6d, dtype=motion.dtype, device=motion.device)
    if value.shape != (6,):
        raise ValueError(f"rot6d must have 6 values, got shape {tuple(value.shape)}")
    out = motion.clone()
    root = value[None, :, None].expand(motion.shape[0], 6, motion.shape[3])
    if mask is not None:
        root = torch.where(mask.to(motion.device)[:, None, :], root, motion[:, 0])
    out[:, 0] = root
    return out
