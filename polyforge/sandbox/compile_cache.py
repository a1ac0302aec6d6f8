"""Compiled programs of identical sources, kept between runs: a repeated or resumed run skips the compiler.

An entry is what a successful compile step added to the work folder (binaries, class files), keyed by
everything that decides it: the language, the toolchain's version, the compile command and environment,
and every file of the run. Entries live in a diskcache (SQLite) folder under the user's cache, shared by
threads and processes, and the least recently used go once the folder passes its size.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path

import diskcache

# Bigger outputs (a statically linked toolchain's debug build) are compiled again rather than kept.
MAX_ENTRY_BYTES = 64 * 1024 * 1024


class CompileCache:
    """Compile outputs by key; `size_mb` bounds the folder (least recently used entries go first)."""

    def __init__(self, folder: Path, size_mb: int):
        self.folder = folder
        self._cache = diskcache.Cache(str(folder), size_limit=size_mb * 1024 * 1024,
                                      eviction_policy="least-recently-used")

    @staticmethod
    def key(language: str, toolchain_version: str, command: list[str], env: Mapping[str, str],
            layout: Mapping[str, str]) -> str:
        payload = json.dumps({"language": language, "toolchain": toolchain_version, "command": command,
                              "env": sorted(env.items()), "files": sorted(layout.items())}, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def restore(self, key: str, workdir: Path) -> bool:
        """Put the entry's files into `workdir`; False when there is none."""
        blob = self._cache.get(key)
        if blob is None:
            return False
        with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
            archive.extractall(workdir, filter="data")  # refuses absolute paths, links out, device files
        return True

    def store(self, key: str, workdir: Path, inputs: set[str], skip: str | None = None) -> None:
        """Keep what the compile added to `workdir`: every regular file not among `inputs` (names of the
        files the run was given) and outside the folder `skip` (a compiler cache the run was seeded with)."""
        made = [path for path in sorted(workdir.rglob("*"))
                if path.is_file() and not path.is_symlink()
                and (relative := path.relative_to(workdir).as_posix()) not in inputs
                and not (skip and (relative == skip or relative.startswith(skip + "/")))]
        if not made or sum(path.stat().st_size for path in made) > MAX_ENTRY_BYTES:
            return
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path in made:
                archive.add(path, arcname=path.relative_to(workdir).as_posix(), recursive=False)
        self._cache.set(key, buffer.getvalue())

    def __len__(self) -> int:
        return len(self._cache)
