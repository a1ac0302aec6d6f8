"""Language identification by file extension and file name.

Each language is one row: its display name, the tree-sitter grammar that parses it, the node
types that are worth cutting as snippets, and the file extensions and names that mark it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Language:
    name: str
    grammar: str
    definitions: frozenset[str]
    extensions: tuple[str, ...]
    filenames: tuple[str, ...] = ()


def _lang(name: str, grammar: str, definitions: str, extensions: str, filenames: str = "") -> Language:
    return Language(name, grammar, frozenset(definitions.split()), tuple(extensions.split()), tuple(filenames.split()))


LANGUAGES: tuple[Language, ...] = (
    _lang("Python", "python", "function_definition class_definition decorated_definition", ".py .pyi"),
    _lang(
        "JavaScript",
        "javascript",
        "function_declaration generator_function_declaration class_declaration method_definition",
        ".js .mjs .cjs .jsx",
    ),
    _lang(
        "TypeScript",
        "typescript",
        "function_declaration class_declaration method_definition interface_declaration",
        ".ts .mts .cts",
    ),
    _lang("C", "c", "function_definition", ".c .h"),
    _lang("C++", "cpp", "function_definition class_specifier", ".cc .cpp .cxx .hpp .hh .hxx"),
    _lang("Rust", "rust", "function_item impl_item", ".rs"),
    _lang("Go", "go", "function_declaration method_declaration", ".go"),
    _lang("Java", "java", "method_declaration constructor_declaration", ".java"),
    _lang("Shell", "bash", "function_definition", ".sh .bash"),
    _lang("Ruby", "ruby", "method singleton_method class module", ".rb", "Rakefile Gemfile"),
    _lang("PHP", "php", "function_definition method_declaration class_declaration", ".php"),
    _lang("Lua", "lua", "function_declaration", ".lua"),
    _lang("Kotlin", "kotlin", "function_declaration class_declaration", ".kt .kts"),
    _lang("Swift", "swift", "function_declaration class_declaration", ".swift"),
    _lang("Scala", "scala", "function_definition class_definition object_definition", ".scala"),
    _lang("C#", "csharp", "method_declaration constructor_declaration", ".cs"),
    _lang("Haskell", "haskell", "function", ".hs"),
    _lang("Perl", "perl", "function_definition subroutine_declaration_statement", ".pl .pm"),
)

_BY_EXTENSION = {ext: lang for lang in LANGUAGES for ext in lang.extensions}
_BY_FILENAME = {fname: lang for lang in LANGUAGES for fname in lang.filenames}
_BY_NAME = {lang.name.lower(): lang for lang in LANGUAGES}
_SHEBANGS = {"python": "Python", "python3": "Python", "node": "JavaScript", "bash": "Shell", "sh": "Shell",
             "ruby": "Ruby", "perl": "Perl", "php": "PHP", "lua": "Lua"}


def language_by_name(name: str) -> Language | None:
    return _BY_NAME.get(name.lower())


def identify(path: Path, head: str = "") -> Language | None:
    """The language of a file from its name, extension, or shebang line (`head`: its first line)."""
    if path.name in _BY_FILENAME:
        return _BY_FILENAME[path.name]
    by_extension = _BY_EXTENSION.get(path.suffix.lower())
    if by_extension:
        return by_extension
    if head.startswith("#!"):
        interpreter = head[2:].split()
        if interpreter:
            program = Path(interpreter[-1] if interpreter[0].endswith("env") else interpreter[0]).name
            return _BY_NAME.get((_SHEBANGS.get(program) or "").lower())
    return None
