"""Language identification with go-enry, the Go port of GitHub Linguist.

Strategies in Linguist's order, each named in the result's `reason`: editor modeline, file name,
shebang, extension; for an extension shared by several languages (.h, .m, .pl, .fs, .v, .cls,
.inc, ...) Linguist's content heuristics, then its naive-Bayes classifier over the candidates.
Where the classifier still ranks several, rarely seen languages listed as `unlikely` in
languages.yaml give way to the next candidate.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

import enry
from enry.definitions import lib as enry_lib
from enry.utils import go_str_slice_to_py, prepare_candidates

from polyforge.languages import Language, language_table

# Linguist reads modelines from the first and last lines and classifies on content; a few KiB is
# as good as the whole file and keeps identification time flat on large files.
IDENTIFY_HEAD_BYTES = 16_384
IDENTIFY_READ_BYTES = 65_536  # what `identify_paths` reads of a file: the head, never all of a large one


@dataclass(frozen=True)
class Identification:
    path: str
    detected: str | None  # Linguist's name for whatever the file is, code or not
    language: Language | None  # set only when the file is code
    reason: str

    def as_json(self) -> dict:
        return {"path": self.path, "language": self.language.name if self.language else None, "reason": self.reason}


def _candidates(function, name: str, content: bytes, candidates: list[str] | None) -> list[str]:
    # The Python binding wraps only some of libenry's candidate-filtering calls; these two are
    # reached through its own cffi handle and helpers.
    c_candidates, _keep_alive = prepare_candidates(candidates)
    return go_str_slice_to_py(enry_lib, function(name.encode(), content, len(content), c_candidates))


def _detect(name: str, content: bytes) -> tuple[str | None, str]:
    for strategy, guess in (
        ("modeline", lambda: enry.get_language_by_modeline(content)),
        ("file name", lambda: enry.get_language_by_filename(name)),
        ("shebang", lambda: enry.get_language_by_shebang(content)),
    ):
        found = guess().language
        if found:
            return found, strategy
    by_extension = _candidates(enry_lib.GetLanguagesByExtension, name, b"", None)
    if len(by_extension) == 1:
        return by_extension[0], "extension"
    if not by_extension:
        found = enry.get_language_by_content(name, content).language
        return (found, "content") if found else (None, "no extension, file name, shebang or modeline matched")
    shared = f"{PurePath(name).suffix} is shared by {', '.join(by_extension)}"
    by_heuristics = _candidates(enry_lib.GetLanguagesByContent, name, content, by_extension)
    if len(by_heuristics) == 1:
        refined = language_table().refine(PurePath(name).suffix, by_heuristics[0], content.decode("utf-8", "replace"))
        if refined:
            return refined, f"refinement of {by_heuristics[0]} ({shared})"
        return by_heuristics[0], f"content heuristics ({shared})"
    ranked = enry.get_languages(name, content)
    unlikely = language_table().unlikely
    chosen = next((candidate for candidate in ranked if candidate not in unlikely), ranked[0])
    return chosen, f"classifier ({shared})"


def identify_content(path: str, content: bytes) -> Identification:
    """The language of a file named `path` holding `content` (its head is enough)."""
    table = language_table()
    head = content[:IDENTIFY_HEAD_BYTES]
    name = PurePath(path).name
    detected, reason = _detect(name, head)
    if detected is None:
        return Identification(path, None, None, reason)
    kind = enry.get_language_type(detected)
    if not table.is_code(detected, kind):
        return Identification(path, detected, None, f"{detected} ({kind}) by {reason}: not code")
    return Identification(path, detected, table.get(detected), reason)


def languages_for_extension(path: str) -> list[str]:
    """Every language Linguist knows for the extension of `path` (more than one: ambiguous)."""
    return _candidates(enry_lib.GetLanguagesByExtension, PurePath(path).name, b"", None)


def _targets(paths: Iterable[Path]) -> Iterator[Path]:
    """Each file named, and every regular file below each folder named (symlinks not followed)."""
    for path in paths:
        if path.is_symlink() or path.is_file():
            yield path
        elif path.is_dir():
            for directory, subdirs, files in os.walk(path):
                subdirs.sort()
                for name in sorted(files):
                    yield Path(directory) / name
        else:
            yield path


def identify_paths(paths: Iterable[Path]) -> Iterator[tuple[dict, bool]]:
    """For each file named and each file below each folder named: its verdict as a JSON object (path, language,
    reason; language null when not code or not read) and whether the path exists."""
    for path in _targets(paths):
        try:
            content = path.read_bytes()[:IDENTIFY_READ_BYTES] if path.is_file() else None
        except OSError as exc:
            content, reason = None, f"unreadable: {exc.strerror}"
        else:
            reason = "not a regular file" if path.exists() else "no such file or folder"
        if content is None:
            yield {"path": str(path), "language": None, "reason": reason}, path.exists()
            continue
        yield identify_content(str(path), content).as_json(), True
