"""The config reference page: every key of the campaign config, from the pydantic models in `polyforge.config`.

One section per settings model, in the order a config file meets them; a model used at several keys (the models
of `models:`, the stages of `sampling:`) is one section that lists all of them.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from polyforge.config import NAME_OR_PATH, RELATIVE, CampaignConfig

CONSTRAINTS = {annotated_types.Ge: ">=", annotated_types.Gt: ">", annotated_types.Le: "<=",
               annotated_types.Lt: "<", annotated_types.MinLen: "at least", annotated_types.MaxLen: "at most"}


class UndocumentedKeys(ValueError):
    """Config keys without a description: the reference would show a blank, so the page is not written."""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_in(argument)]


def _sections(root: type[BaseModel]) -> dict[type[BaseModel], list[str]]:
    """Each settings model below `root`, depth first in field order, with the dotted keys it is found at."""
    found: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], key: str) -> None:
        first_visit = model not in found
        found.setdefault(model, []).append(key)
        if first_visit:
            for name, field in model.model_fields.items():
                for nested in _models_in(field.annotation):
                    visit(nested, f"{key}.{name}" if key else name)

    visit(root, "")
    return found


def _anchor(keys: list[str]) -> str:
    return keys[0].replace(".", "-").replace("_", "-") if keys[0] else "top-level-keys"


def _type_name(annotation: Any, sections: dict[type[BaseModel], list[str]]) -> str:
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if annotation is Path:
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(sections[annotation])})"
    if isinstance(annotation, type):
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(annotation.__name__,
                                                                                         annotation.__name__)
    if origin is Literal:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(argument, sections) for argument in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0], sections)
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0], sections)}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map of {_type_name(key, sections)} to {_type_name(value, sections)}"
    raise TypeError(f"no reference rendering for the config type {annotation!r}")


def _field_type(field: FieldInfo, sections: dict[type[BaseModel], list[str]]) -> str:
    text = _type_name(field.annotation, sections)
    if RELATIVE in field.metadata:
        text += " (relative to the config file)"
    if NAME_OR_PATH in field.metadata:
        text += " (a bundled name, or a path relative to the config file)"
    limits = [f"{CONSTRAINTS[type(item)]} {dataclasses.astuple(item)[0]}"
              for item in field.metadata if type(item) in CONSTRAINTS]
    return text + (f"; {', '.join(limits)}" if limits else "")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        if isinstance(field.default_factory, type) and issubclass(field.default_factory, BaseModel):
            return "its section's defaults"
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        # A section made with values of its own: those values, the others as the section says.
        changed = value.model_dump(mode="json", exclude_defaults=True)
        return f"{_code(json.dumps(changed))}, the rest as in its section"
    return _code(json.dumps(str(value) if isinstance(value, Path) else value))


def _description(field: FieldInfo) -> str | None:
    text = field.description
    if text is None:
        # A section's own field may leave its description to the section's docstring.
        nested = _models_in(field.annotation)
        text = nested[0].__doc__ if nested and nested[0].__doc__ else None
    return " ".join(text.split()).replace("|", "\\|") if text else None


def _docstring(model: type[BaseModel]) -> str:
    return "\n".join(line.strip() for line in (model.__doc__ or "").strip().splitlines())


def render(root: type[BaseModel] = CampaignConfig) -> str:
    sections = _sections(root)
    undocumented = [f"{keys[0] + '.' if keys[0] else ''}{name} ({model.__name__} in polyforge/config.py)"
                    for model, keys in sections.items() for name, field in model.model_fields.items()
                    if _description(field) is None]
    if undocumented:
        raise UndocumentedKeys("config keys without a description (give each a Field(description=...)): "
                               + ", ".join(undocumented))
    lines = ["# Config keys", "",
             "Every key of a campaign config file (YAML), from the pydantic models in `polyforge/config.py`. Unknown "
             "keys are errors, and every path is relative to the config file's folder.", ""]
    for model, keys in sections.items():
        title = "Top-level keys" if not keys[0] else ", ".join(f"`{key}`" for key in keys)
        lines += [f"## {title} {{#{_anchor(keys)}}}", ""]
        lines += [_docstring(model), ""] if model.__doc__ else []
        lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        lines += [f"| `{name}` | {_field_type(field, sections)} | {_default(field)} | {_description(field)} |"
                  for name, field in model.model_fields.items()]
        lines.append("")
    return "\n".join(lines)
