"""Few-shot seeds in the McEval-Instruct format (`language`, `instruction`, `source`, `output`).

A small starter set written for Polyforge ships here (`starter.jsonl`: three examples for each of
eleven common languages); a campaign can name any JSONL or Parquet file, or an HF datasets folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from polyforge.dataset_files import DatasetFileError, dataset_rows

SEED_DIR = Path(__file__).parent


class SeedError(ValueError):
    pass


class Seed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    language: str
    instruction: str
    source: str = ""
    output: str


def load_seeds(name_or_path: str | Path = "starter") -> list[Seed]:
    """Seeds from a bundled set by name (`starter`), a JSONL or Parquet file, or an HF datasets folder."""
    path = Path(name_or_path)
    if not path.exists() and (SEED_DIR / f"{name_or_path}.jsonl").is_file():
        path = SEED_DIR / f"{name_or_path}.jsonl"
    if not path.exists():
        raise SeedError(f"seed set {name_or_path!r} not found (bundled: starter; or a .jsonl/.parquet/HF folder path)")
    seeds = []
    try:
        for number, row in dataset_rows(path):
            try:
                seeds.append(Seed.model_validate(row))
            except ValidationError as exc:
                raise SeedError(f"{path}: record {number}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    except DatasetFileError as exc:
        raise SeedError(str(exc)) from exc
    return seeds


def seeds_by_language(seeds: list[Seed]) -> dict[str, list[Seed]]:
    grouped: dict[str, list[Seed]] = {}
    for seed in seeds:
        grouped.setdefault(seed.language, []).append(seed)
    return grouped
