"""Sources: open a git URL (shallow clone, commit recorded) or a local folder, and stream its files.

Walking respects .gitignore files (pathspec's git-compatible matcher) and skips, with a counted
reason, what is not worth reading: vendored and generated files (Linguist's rules via go-enry),
minified, binary, oversized and non-UTF-8 files, symlinks and special files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import enry
import pathspec

from polyforge.ingest.licenses import detect_license

# Directories never worth walking, whatever .gitignore says.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"})
GIT_URL = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:")
CLONE_TIMEOUT_S = 600


class SourceError(ValueError):
    """A source that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class WalkLimits:
    max_file_bytes: int = 1_000_000
    minified_line_chars: int = 300
    respect_gitignore: bool = True
    skip_vendored: bool = True
    skip_generated: bool = True


class SkipLog(Counter):
    """Skipped files counted by reason, with the first path skipped for each reason as an example."""

    def __init__(self) -> None:
        super().__init__()
        self.examples: dict[str, str] = {}

    def note(self, reason: str, path: str) -> None:
        self[reason] += 1
        self.examples.setdefault(reason, path)

    def merge(self, other: SkipLog) -> None:
        self.update(other)
        for reason, path in other.examples.items():
            self.examples.setdefault(reason, path)


@dataclass
class Source:
    location: str  # the URL or folder as given
    root: Path  # where its files are on disk
    commit: str | None = None
    license: str | None = None
    skipped: SkipLog = field(default_factory=SkipLog)


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the source root, with forward slashes
    text: str
    raw: bytes


def is_git_url(location: str) -> bool:
    return bool(GIT_URL.match(location)) or location.endswith(".git") and not Path(location).exists()


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=CLONE_TIMEOUT_S,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        raise SourceError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"git {args[0]} failed")
    return done.stdout.strip()


@contextmanager
def open_source(location: str | Path, clone_dir: Path | None = None) -> Iterator[Source]:
    """A readable source; a git URL is cloned shallowly into a temporary folder removed afterwards."""
    text = str(location)
    if not is_git_url(text):
        root = Path(text).expanduser()
        if not root.exists():
            raise SourceError(f"{text}: no such folder (give an existing folder or a git URL)")
        if not root.is_dir():
            raise SourceError(f"{text}: not a folder (give the repository folder, not a file)")
        yield Source(text, root, _local_commit(root), detect_license(root))
        return
    workdir = Path(tempfile.mkdtemp(prefix="polyforge-clone-", dir=clone_dir))
    try:
        checkout = workdir / "repo"
        try:
            _git("clone", "--depth", "1", "--quiet", "--no-tags", text, str(checkout))
        except (SourceError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"{text}: cannot clone ({exc}); check the URL and that it is reachable") from exc
        try:
            commit = _git("rev-parse", "HEAD", cwd=checkout)
        except SourceError as exc:
            raise SourceError(f"{text}: the repository is empty (no commit to check out)") from exc
        yield Source(text, checkout, commit, detect_license(checkout))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _local_commit(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    try:
        return _git("rev-parse", "HEAD", cwd=root)
    except (SourceError, subprocess.TimeoutExpired, OSError):
        return None


def _gitignore(directory: Path) -> pathspec.PathSpec | None:
    ignore = directory / ".gitignore"
    if not ignore.is_file():
        return None
    try:
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(specs: list[tuple[Path, pathspec.PathSpec]], path: Path, is_dir: bool) -> bool:
    ignored = False
    for base, spec in specs:  # outer .gitignore files first; a deeper one may re-include
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        result = spec.check_file(relative)
        if result.include is not None:
            ignored = result.include
    return ignored


def _is_minified(text: str, limit: int) -> bool:
    lines = text.count("\n") + 1
    return len(text) / lines > limit


def walk(source: Source, limits: WalkLimits) -> Iterator[str]:
    """The relative paths of a source's files, in a stable order, less ignored folders and files;
    every skip is counted in `source.skipped` by reason. Symlinks are never followed, so a symlink
    loop cannot trap the walk."""
    root = source.root
    stack: list[tuple[Path, list[tuple[Path, pathspec.PathSpec]]]] = [(root, [])]
    while stack:
        directory, inherited = stack.pop()
        specs = inherited
        if limits.respect_gitignore:
            own = _gitignore(directory)
            specs = [*inherited, (directory, own)] if own else inherited
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            source.skipped.note(f"unreadable folder ({exc.strerror})", directory.relative_to(root).as_posix())
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            if entry.is_symlink():
                source.skipped.note("symlink", relative)
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name in SKIPPED_DIRS:
                    continue
                if specs and _ignored(specs, path, is_dir=True):
                    source.skipped.note("ignored by .gitignore", relative + "/")
                elif limits.skip_vendored and enry.is_vendor(relative + "/"):
                    source.skipped.note("vendored", relative + "/")
                else:
                    subdirs.append((path, specs))
                continue
            if not entry.is_file(follow_symlinks=False):
                source.skipped.note("not a regular file", relative)
                continue
            if specs and _ignored(specs, path, is_dir=False):
                source.skipped.note("ignored by .gitignore", relative)
                continue
            yield relative
        stack.extend(reversed(subdirs))


def read_file(root: Path, relative: str, limits: WalkLimits) -> SourceFile | str:
    """The file's text, or the reason it is skipped (vendored, too large, binary, not UTF-8, ...)."""
    if limits.skip_vendored and enry.is_vendor(relative):
        return "vendored"
    path = root / relative
    try:
        if path.stat(follow_symlinks=False).st_size > limits.max_file_bytes:
            return "too large"
        raw = path.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    return screen_content(relative, raw, limits)


def screen_content(relative: str, raw: bytes, limits: WalkLimits) -> SourceFile | str:
    """A file's content as text, or the reason it is skipped (empty, binary, not UTF-8, minified, generated)."""
    if not raw.strip():
        return "empty"
    if enry.is_binary(raw[:8000]):
        return "binary"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if _is_minified(text, limits.minified_line_chars):
        return "minified"
    if limits.skip_generated and enry.is_generated(relative, raw[:8000]):
        return "generated"
    return SourceFile(relative, text, raw)
