"""Prompt templates are Jinja2 files in this folder, edited as data by prompt engineers.

Each template defines a `system` and a `user` block; rendering gives chat messages plus the
template's content hash, which is stored with every pair it produced. The coverage taxonomy
(`taxonomy.yaml`) lives here too: it is prompt data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROMPT_DIR = Path(__file__).parent


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    messages: list[dict[str, str]]
    template_hash: str


@lru_cache(maxsize=1)
def _environment(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,  # a missing variable is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def template_hash(name: str, directory: Path = PROMPT_DIR) -> str:
    return hashlib.sha256((directory / f"{name}.j2").read_bytes()).hexdigest()[:16]


def render(name: str, directory: Path = PROMPT_DIR, **variables) -> RenderedPrompt:
    """Render template `name` (without `.j2`) into system and user messages."""
    environment = _environment(str(directory))
    try:
        template = environment.get_template(f"{name}.j2")
    except jinja2.TemplateNotFound as exc:
        available = sorted(p.stem for p in directory.glob("*.j2"))
        raise PromptError(f"prompt template {name!r} not found in {directory} (available: {available})") from exc
    context = template.new_context(variables)
    messages = []
    for role in ("system", "user"):
        if role not in template.blocks:
            raise PromptError(f"{directory / (name + '.j2')}: missing the {{% block {role} %}} block")
        try:
            content = "".join(template.blocks[role](context)).strip()
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{name}.j2: {exc}") from exc
        messages.append({"role": role, "content": content})
    return RenderedPrompt(name=name, messages=messages, template_hash=template_hash(name, directory))


class Taxonomy(BaseModel):
    """The coverage matrix's axes besides language."""

    model_config = ConfigDict(extra="forbid")

    topics: list[str] = Field(min_length=1)
    difficulties: list[str] = Field(min_length=1)


def load_taxonomy(name_or_path: str | Path = "taxonomy") -> Taxonomy:
    """The bundled taxonomy by name, or a YAML file with `topics` and `difficulties` lists."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPT_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise PromptError(f"taxonomy {name_or_path!r} not found (bundled: taxonomy; or a YAML path)")
    try:
        return Taxonomy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PromptError(f"{path}: invalid taxonomy: {exc}") from exc
