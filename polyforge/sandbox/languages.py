"""The language table: one row per language the sandbox runs, read from languages.yaml.

A row says which file the program goes in, how it is compiled and run, how a test is wired in,
how its failures read (to classify a run), and which Debian, npm or PyPI package brings its toolchain.
The rows are data (languages.yaml); this module defines what a row holds and loads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml

@dataclass(frozen=True)
class Toolchain:
    """How the sandbox runs one language: its files, compile and run commands, test wiring and limits."""

    name: str
    aliases: tuple[str, ...]
    source: str                                   # file name of the main program
    run: tuple[str, ...]
    hello: str                                    # prints "ok": the doctor's proof that the toolchain works
    compile: tuple[str, ...] | None = None
    # Test wiring. "append": the test code is appended to the main program (it calls the program's
    # functions, as McEval's tests and most generated tests do). "prepend": the test comes first (a
    # Fortran main program whose `contains` section the program's functions complete). "separate":
    # the test is its own file, `test_source`, next to the program (Go's *_test.go).
    test_wiring: Literal["append", "prepend", "separate"] = "append"
    test_source: str | None = None                # where the program (append) or the test (separate) goes
    test_compile: tuple[str, ...] | None = None   # defaults to `compile`; () for none
    test_run: tuple[str, ...] | None = None       # defaults to `run`
    support_files: dict[str, str] = field(default_factory=dict)  # written next to the program in test runs
    # Written next to the program in every run: library shims an older toolchain lacks (Scala 2.13's collection
    # methods on Debian's Scala 2.11), the script that compiles with .NET's SDK.
    compat_files: dict[str, str] = field(default_factory=dict)
    # Put in front of the main file's first line (on that line, so compiler messages keep their line numbers):
    # imports every program of the language may assume (C#'s implicit usings, the Scala shims).
    preamble: str = ""
    binaries: tuple[str, ...] = ()                # must be on the sandbox PATH
    requires_paths: tuple[str, ...] = ()          # must exist (test libraries); relative: in the toolchain home
    version_command: tuple[str, ...] = ()
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # {"apt": (...), "npm": (...), "pip": (...)}
    env: dict[str, str] = field(default_factory=dict)
    # Toolchains that live outside /usr (rustup): a host command printing a folder that is bound
    # read-only at /opt/toolchain/<name>, whose bin/ goes first on PATH.
    home_query: tuple[str, ...] | None = None
    # ... or a Python package (from PyPI, installed with pip) whose folder is that toolchain folder.
    home_package: str | None = None
    home_name: str | None = None                  # <name> in /opt/toolchain/<name> (default: the language's, lower case)
    # Shared libraries the toolchain loads that Debian lacks (.NET's OpenSSL 1.1): a Python package (from PyPI)
    # whose folder is bound read-only at /opt/toolchain/libraries/<package>, and the files it must hold.
    library_package: str | None = None
    libraries: tuple[str, ...] = ()
    # Host folders outside /usr the toolchain reads (GHC's package database under /var/lib), bound
    # read-only at the same path when they exist.
    host_folders: tuple[str, ...] = ()
    min_memory_mb: int = 0                        # floor for runtimes that reserve a lot (JVM, Go)
    min_processes: int = 0                        # floor for runtimes with many threads
    # Regular expressions (multiline) over stderr + stdout, to classify a non-zero exit.
    failed_patterns: tuple[str, ...] = ()         # a test assertion failed
    runtime_patterns: tuple[str, ...] = ()        # an uncaught error that is not an assertion
    memory_patterns: tuple[str, ...] = ()         # ran out of memory
    syntax_patterns: tuple[str, ...] = ()         # interpreters: the parser rejected the code
    cache_dir: str | None = None                  # a compiler cache the sandbox warms once (Go) ...
    cache_warmup: dict[str, str] = field(default_factory=dict)  # ... by running this trusted program's tests
    # Whether generated tests are evidence (polyforge/agents/test_evidence.py applies these):
    functions: tuple[str, ...] = ()               # tree-sitter node types of a function definition
    # What holds a function's body: fields of the function's node, and its children of these node types that are
    # in no field (Kotlin's function_body; the `;` after a C# expression body, which a block body must not keep).
    # The body runs from the first to the last of them (Common Lisp's `value` forms, Haskell's guarded `match`es).
    # A definition without one (or with punctuation alone: an abstract method's `;`) is not a function to stub.
    body: tuple[str, ...] = ("body",)
    # One stub program each: every function of the answer gets a trivial body that returns normally. Either
    # the body itself, or a mapping from a regular expression over the function's signature (its definition
    # up to the body) to its body, the first that matches (`\1` in the body: the match's group), for typed
    # languages with no zero value of every type; a function that no pattern matches leaves that stub out.
    # `{body}` in a body is the function's own body: dead code after a return, where the language rejects an
    # import the stub leaves unused (Go), or a definition kept as it is (F#'s values).
    # Tests that pass against a stub are vacuous. Empty: no stub generator (the stub check is skipped).
    stub_bodies: tuple[str | dict[str, str], ...] = ()
    assertion_patterns: tuple[str, ...] = ()      # multiline regexes; tests matching none hold no assertion

    @property
    def extension(self) -> str:
        return "." + self.source.rsplit(".", 1)[1]

    def commands(self, testing: bool) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        """(compile, run) for a plain run or a test run."""
        if not testing:
            return self.compile, self.run
        compile_cmd = self.compile if self.test_compile is None else (self.test_compile or None)
        return compile_cmd, (self.test_run or self.run)


TABLE = "languages.yaml"
SUPPORT = "support"  # files rows name in support_files, compat_files and cache_warmup
_FILE_FIELDS = ("support_files", "compat_files", "cache_warmup")


class LanguageTableError(ValueError):
    """languages.yaml has a row that does not make a Toolchain; the message names the row and the key."""


def _support(name: str, where: str) -> str:
    path = resources.files("polyforge.sandbox").joinpath(SUPPORT, name)
    if not path.is_file():
        raise LanguageTableError(f"{where}: no support file {name!r} in polyforge/sandbox/{SUPPORT}/")
    return path.read_text(encoding="utf-8")


def toolchain_from_row(row: dict[str, Any], where: str) -> Toolchain:
    """One Toolchain from a languages.yaml row (lists become tuples, support file names their contents)."""
    known = [f.name for f in dataclasses.fields(Toolchain)]
    unknown = sorted(set(row) - set(known))
    if unknown:
        raise LanguageTableError(f"{where}: unknown key(s) {', '.join(unknown)}; a row takes: {', '.join(known)}")
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key in _FILE_FIELDS:
            value = {name: _support(path, f"{where}, {key}") for name, path in value.items()}
        elif key == "packages":
            value = {manager: tuple(names) for manager, names in value.items()}
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return Toolchain(**values)
    except TypeError as exc:
        raise LanguageTableError(f"{where}: {exc}") from None


def load_table(text: str | None = None) -> tuple[tuple[Toolchain, ...], dict[str, str]]:
    """(rows, languages with no usable toolchain and why) from languages.yaml, or from `text`."""
    if text is None:
        text = resources.files("polyforge.sandbox").joinpath(TABLE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    rows = tuple(toolchain_from_row(row, f"{TABLE}, row {number} ({row.get('name', '?')})")
                 for number, row in enumerate(data["languages"], 1))
    return rows, dict(data.get("unavailable") or {})


LANGUAGES, UNAVAILABLE = load_table()

_BY_NAME = {alias: lang for lang in LANGUAGES for alias in (lang.name.lower(), *lang.aliases)}


class UnknownLanguage(ValueError):
    pass


def language(name: str) -> Toolchain:
    """The table row for a language name or alias (case-insensitive)."""
    try:
        return _BY_NAME[name.strip().lower()]
    except KeyError:
        known = ", ".join(lang.name for lang in LANGUAGES)
        raise UnknownLanguage(f"unknown language {name!r}; the sandbox knows: {known}") from None
