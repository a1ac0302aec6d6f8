"""Checklists are YAML data: criteria, weights and routing thresholds, validated on load."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polyforge.terms import PairStatus

CHECKLIST_DIR = Path(__file__).parent


class ChecklistError(ValueError):
    pass


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Key in the judge's JSON object.")
    title: str
    check: str = Field(description="What the judge must check, shown to it verbatim.")
    weight: float = Field(gt=0)
    override: Literal["parser", "sandbox"] | None = Field(
        default=None,
        description=(
            "A known fact that replaces the judge's score: 'parser' (the answer's fenced code parses with "
            "tree-sitter) or 'sandbox' (the sandbox's verdict, when the pair was executed)."
        ),
    )


class Scale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = 1
    max: int = 10


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: float = Field(description="Final score at or above this is accepted.")
    reject: float = Field(description="Final score below this is rejected; in between is flagged.")


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    scale: Scale = Field(default_factory=Scale)
    thresholds: Thresholds
    criteria: list[Criterion] = Field(min_length=1)
    content_hash: str = Field(default="", description="Set on load: sha256 of the file, first 16 hex digits.")
    source_text: str = Field(default="", exclude=True, description="Set on load: the file as written, for provenance.")

    @model_validator(mode="after")
    def _consistent(self) -> "Checklist":
        ids = [c.id for c in self.criteria]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"criterion ids must be unique, repeated: {duplicates}")
        if self.thresholds.reject > self.thresholds.accept:
            raise ValueError("thresholds.reject must not exceed thresholds.accept")
        if self.scale.min >= self.scale.max:
            raise ValueError("scale.min must be below scale.max")
        return self

    def final_score(self, scores: dict[str, float]) -> float:
        """Weighted mean over the criteria; every criterion must be scored."""
        missing = [c.id for c in self.criteria if c.id not in scores]
        if missing:
            raise ValueError(f"scores missing for criteria {missing}")
        total_weight = sum(c.weight for c in self.criteria)
        return sum(c.weight * scores[c.id] for c in self.criteria) / total_weight

    def route(self, final_score: float) -> PairStatus:
        if final_score >= self.thresholds.accept:
            return PairStatus.accepted
        if final_score < self.thresholds.reject:
            return PairStatus.rejected
        return PairStatus.flagged


def load_checklist(name_or_path: str | Path) -> Checklist:
    """A bundled checklist by name (`default`) or any checklist YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CHECKLIST_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        bundled = sorted(p.stem for p in CHECKLIST_DIR.glob("*.yaml"))
        raise ChecklistError(f"checklist {name_or_path!r} not found (bundled: {bundled}, or give a .yaml path)")
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
        checklist = Checklist.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ChecklistError(f"{path}: invalid checklist: {exc}") from exc
    checklist.content_hash = hashlib.sha256(raw_bytes).hexdigest()[:16]
    checklist.source_text = raw_bytes.decode("utf-8")
    return checklist
