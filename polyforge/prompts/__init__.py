"""Prompt templates are Jinja2 files in this folder, edited as data by prompt engineers.

Each template defines a `system` and a `user` block; rendering gives chat messages plus the
template's content hash, which is stored with every pair it produced. The coverage taxonomy
(`taxonomy.yaml`) lives here too: it is prompt data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.meta
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


def _environment(folders: tuple[str, ...]) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(folders)),  # the first folder holding a name wins
        undefined=jinja2.StrictUndefined,  # a missing variable is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


class PromptLibrary:
    """The templates a campaign renders: the files of `folder` override the bundled ones of the same
    name, so a prompt engineer copies one template out, edits it, and points `prompts.folder` at it."""

    def __init__(self, folder: Path | None = None):
        if folder is not None and not Path(folder).is_dir():
            raise PromptError(f"prompts folder {folder} not found (a folder of .j2 files overriding "
                              f"the bundled ones in {PROMPT_DIR})")
        self.folders = (Path(folder), PROMPT_DIR) if folder is not None else (PROMPT_DIR,)
        self._environment = _environment(tuple(str(f) for f in self.folders))

    def names(self) -> list[str]:
        return sorted({path.stem for folder in self.folders for path in folder.glob("*.j2")})

    def path(self, name: str) -> Path:
        """The file behind template `name` (without `.j2`)."""
        for folder in self.folders:
            if (folder / f"{name}.j2").is_file():
                return folder / f"{name}.j2"
        raise PromptError(f"prompt template {name!r} not found in {', '.join(map(str, self.folders))} "
                          f"(available: {self.names()})")

    def template_hash(self, name: str) -> str:
        return hashlib.sha256(self.path(name).read_bytes()).hexdigest()[:16]

    def versions(self) -> dict[str, tuple[str, str]]:
        """Every template's name -> (content hash, content): what a campaign records as prompt versions."""
        return {name: (self.template_hash(name), self.path(name).read_text(encoding="utf-8")) for name in self.names()}

    def variables(self, name: str) -> set[str]:
        """The variables template `name` uses."""
        source = self.path(name).read_text(encoding="utf-8")
        return jinja2.meta.find_undeclared_variables(self._environment.parse(source))

    def render(self, name: str, **variables) -> RenderedPrompt:
        """Render template `name` (without `.j2`) into system and user messages."""
        path = self.path(name)
        template = self._environment.get_template(f"{name}.j2")
        context = template.new_context(variables)
        messages = []
        for role in ("system", "user"):
            if role not in template.blocks:
                raise PromptError(f"{path}: missing the {{% block {role} %}} block")
            try:
                content = "".join(template.blocks[role](context)).strip()
            except jinja2.UndefinedError as exc:
                raise PromptError(f"{path}: {exc}") from exc
            messages.append({"role": role, "content": content})
        return RenderedPrompt(name=name, messages=messages, template_hash=self.template_hash(name))


BUNDLED = PromptLibrary()


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
