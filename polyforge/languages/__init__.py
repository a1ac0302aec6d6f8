"""The language table: which detected languages are code, and how each is cut into snippets.

The table is data (languages.yaml beside this file); this module only loads and looks it up.
Language names are GitHub Linguist's, the names go-enry reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

TABLE_PATH = Path(__file__).with_name("languages.yaml")


@dataclass(frozen=True)
class Language:
    name: str
    grammar: str | None = None
    definitions: frozenset[str] = frozenset()
    joined: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    doc_comments: frozenset[str] = frozenset()  # comment node types whose name lacks "comment"
    aliases: tuple[str, ...] = ()

    @property
    def has_grammar(self) -> bool:
        return self.grammar is not None


@dataclass(frozen=True)
class Refinement:
    extension: str
    source: str
    target: str
    pattern: re.Pattern


@dataclass(frozen=True)
class LanguageTable:
    languages: dict[str, Language]
    code_types: frozenset[str]
    also_code: frozenset[str]
    not_code: frozenset[str]
    unlikely: frozenset[str]
    refinements: tuple[Refinement, ...]
    by_alias: dict[str, Language]

    def get(self, name: str) -> Language:
        """The table's row for a detected language; an unlisted language has no grammar (blocks)."""
        return self.languages.get(name) or Language(name)

    def lookup(self, name: str) -> Language | None:
        """A language by its name or an alias, case-insensitively (for configs and the CLI)."""
        return self.by_alias.get(name.lower())

    def refine(self, extension: str, detected: str, text: str) -> str | None:
        """A narrower language than `detected` when a refinement rule matches, else None."""
        for rule in self.refinements:
            if rule.extension == extension and rule.source == detected and rule.pattern.search(text):
                return rule.target
        return None

    def is_code(self, name: str, linguist_type: str) -> bool:
        if name in self.not_code:
            return False
        return name in self.languages or name in self.also_code or linguist_type in self.code_types


@lru_cache(maxsize=1)
def language_table(path: Path = TABLE_PATH) -> LanguageTable:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    languages: dict[str, Language] = {}
    by_alias: dict[str, Language] = {}
    for name, row in raw["languages"].items():
        row = row or {}
        language = Language(
            name=name,
            grammar=row.get("grammar"),
            definitions=frozenset(row.get("definitions", ())),
            joined=dict(row.get("joined", {})),
            doc_comments=frozenset(row.get("doc_comments", ())),
            aliases=tuple(row.get("aliases", ())),
        )
        languages[name] = language
        for alias in (name, *language.aliases):
            by_alias[alias.lower()] = language
    return LanguageTable(
        languages=languages,
        code_types=frozenset(raw["code_types"]),
        also_code=frozenset(raw["also_code"]),
        not_code=frozenset(raw["not_code"]),
        unlikely=frozenset(raw["unlikely"]),
        refinements=tuple(
            Refinement(rule["extension"], rule["from"], rule["to"], re.compile(rule["pattern"]))
            for rule in raw.get("refine", ())
        ),
        by_alias=by_alias,
    )


def language_by_name(name: str) -> Language | None:
    return language_table().lookup(name)


def grammar_names() -> dict[str, str]:
    """Language name -> its tree-sitter grammar, for every language that has one."""
    return {language.name: language.grammar for language in language_table().languages.values() if language.grammar}
