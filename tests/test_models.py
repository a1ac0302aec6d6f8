"""Known embedded models: chunked packages assembled once into the cache and checked against a pinned sha256."""

import hashlib
import importlib
import sys

import pytest

from polyforge.llm import models
from polyforge.llm.models import KnownModel, ModelUnavailable, Part


@pytest.fixture
def chunk_packages(tmp_path, monkeypatch):
    """Three installed packages `chunktest_partN`, each holding data/partNN.bin, and their concatenation."""
    site = tmp_path / "site"
    chunks = [bytes([index]) * (1000 + index) for index in range(1, 4)]
    for index, chunk in enumerate(chunks, 1):
        package = site / f"chunktest_part{index}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{index:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "cache"))
    yield b"".join(chunks)
    for index in range(1, 4):
        sys.modules.pop(f"chunktest_part{index}", None)


def chunked_model(whole: bytes, **changes) -> KnownModel:
    fields = dict(
        name="chunk-test", title="Chunk-Test", file_name="chunk-test.gguf",
        parts=tuple(Part(f"chunktest_part{index}", f"data/part{index:02d}.bin") for index in range(1, 4)),
        size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), install="pip install chunktest",
        license="Apache-2.0", origin="test",
    )
    return KnownModel(**{**fields, **changes})


def test_parts_are_concatenated_in_order_into_the_cache(chunk_packages, tmp_path):
    model = chunked_model(chunk_packages)
    assert not models.is_ready(model)
    path = models.gguf_path(model)
    assert path == tmp_path / "cache" / "chunk-test.gguf"
    assert path.read_bytes() == chunk_packages
    assert models.is_ready(model)
    assert models.gguf_path(model) == path  # the second use takes the cached file


def test_a_wrong_sha256_leaves_no_model_file(chunk_packages, tmp_path):
    model = chunked_model(chunk_packages, sha256="0" * 64)
    with pytest.raises(ModelUnavailable, match="do not form the pinned file.*sha256"):
        models.assemble(model)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_parts_are_named_with_the_install_command(chunk_packages):
    model = chunked_model(chunk_packages, parts=chunked_model(chunk_packages).parts + (Part("chunktest_part9", "x"),))
    with pytest.raises(ModelUnavailable, match=r"1 of 4 parts are not installed \(chunktest_part9\): pip install chunktest"):
        models.gguf_path(model)


def test_resolve_takes_a_known_name_a_path_or_nothing(tmp_path):
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF")
    assert models.resolve(gguf) == (gguf, "my-model")
    path, title = models.resolve(None)
    assert title == "SmolLM2-135M-Instruct" and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert models.resolve("SmolLM2-135M") == (path, title)
    with pytest.raises(ModelUnavailable, match="neither a GGUF file nor a known model.*qwen2.5-coder-1.5b"):
        models.resolve("no-such-model")


@pytest.mark.slow
def test_the_demos_coder_ships_with_polyforge_and_its_parts_form_the_pinned_gguf(tmp_path, monkeypatch):
    """Qwen2.5-Coder-0.5B's six chunk packages are dependencies: assembled anew, they match the pinned sha256."""
    assert models.missing_parts(models.QWEN25_CODER_05B) == []
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    path = models.assemble(models.QWEN25_CODER_05B)
    assert path.stat().st_size == 491_400_064 and path.read_bytes()[:4] == b"GGUF"
    assert models.resolve("qwen2.5-coder-0.5b") == (path, "Qwen2.5-Coder-0.5B-Instruct")


@pytest.mark.slow
@pytest.mark.skipif(models.missing_parts(models.QWEN25_CODER_15B) != [],
                    reason="Qwen2.5-Coder-1.5B's chunk packages are not installed (make qwen)")
def test_the_real_qwen_parts_form_the_pinned_gguf(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    path = models.assemble(models.QWEN25_CODER_15B)
    assert path.stat().st_size == 1_117_320_768
    assert path.read_bytes()[:4] == b"GGUF"
