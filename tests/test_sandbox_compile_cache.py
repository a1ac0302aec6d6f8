"""The compile cache: sources compiled before run without the compiler; anything else compiles."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import pytest

from polyforge.sandbox import Limits, Sandbox, Status
from polyforge.sandbox.compile_cache import CompileCache
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox

PROGRAM = '#include <stdio.h>\nint twice(int x) { return 2 * x; }\nint main(void) { printf("%d\\n", twice(21)); }\n'
TEST = '#include <assert.h>\nint main(void) { assert(twice(2) == 4); return 0; }\n'
# The C row appends the test: its own main would clash, so the test program is a library plus test.
LIBRARY = "int twice(int x) { return 2 * x; }\n"


@pytest.fixture()
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(Limits(wall_seconds=30), cache_root=tmp_path / "cache")


def test_the_same_sources_run_again_without_compiling(sandbox):
    first = sandbox.run("C", {"main.c": PROGRAM})
    second = sandbox.run("C", {"main.c": PROGRAM})
    assert (first.status, first.compiled_before) == (Status.PASSED, False), first
    assert (second.status, second.compiled_before) == (Status.PASSED, True), second
    assert first.stdout == second.stdout == "42\n"
    assert len(sandbox.compile_cache()) == 1


def test_changed_sources_and_test_runs_compile_their_own_program(sandbox):
    sandbox.run("C", {"main.c": PROGRAM})
    changed = sandbox.run("C", {"main.c": PROGRAM.replace("2 * x", "3 * x")})
    assert (changed.stdout, changed.compiled_before) == ("63\n", False)
    tested = sandbox.run("C", {"main.c": LIBRARY}, test=TEST)
    tested_again = sandbox.run("C", {"main.c": LIBRARY}, test=TEST)
    assert (tested.status, tested.compiled_before) == (Status.PASSED, False), tested
    assert (tested_again.status, tested_again.compiled_before) == (Status.PASSED, True), tested_again
    failing = sandbox.run("C", {"main.c": LIBRARY}, test=TEST.replace("== 4", "== 5"))
    assert (failing.status, failing.compiled_before) == (Status.FAILED, False), failing


def test_a_failed_compile_is_not_kept(sandbox):
    broken = {"main.c": "int main(void) { return nope; }\n"}
    assert sandbox.run("C", broken).status is Status.COMPILE_ERROR
    again = sandbox.run("C", broken)
    assert (again.status, again.compiled_before) == (Status.COMPILE_ERROR, False)
    assert len(sandbox.compile_cache()) == 0


def test_switched_off_it_always_compiles(tmp_path):
    sandbox = Sandbox(Limits(wall_seconds=30), cache_root=tmp_path / "cache", compile_cache_mb=0)
    runs = [sandbox.run("C", {"main.c": PROGRAM}) for _ in range(2)]
    assert [(run.status, run.compiled_before) for run in runs] == [(Status.PASSED, False)] * 2
    assert sandbox.compile_cache() is None
    assert not (tmp_path / "cache" / "compiled").exists()


def _only_key(cache: CompileCache) -> str:
    keys = list(cache._cache.iterkeys())
    assert len(keys) == 1, keys
    return keys[0]


def test_an_unreadable_or_escaping_entry_means_compiling_again(sandbox):
    sandbox.run("C", {"main.c": PROGRAM})
    cache = sandbox.compile_cache()
    key = _only_key(cache)
    cache._cache.set(key, b"not a tar archive")
    garbled = sandbox.run("C", {"main.c": PROGRAM})
    assert (garbled.status, garbled.stdout, garbled.compiled_before) == (Status.PASSED, "42\n", False)

    outside = Path("/") / f"planted-{uuid.uuid4().hex}"  # where ../../ leads from a run's temporary folder
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo(f"../../{outside.name}")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    cache._cache.set(key, buffer.getvalue())
    escaping = sandbox.run("C", {"main.c": PROGRAM})
    assert (escaping.status, escaping.stdout, escaping.compiled_before) == (Status.PASSED, "42\n", False)
    assert not outside.exists()


def test_least_recently_used_entries_go_when_the_cache_is_full(tmp_path):
    cache = CompileCache(tmp_path / "compiled", size_mb=1)
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.c").write_text("source")
    for n in range(6):
        (work / "main").write_bytes(bytes([n]) * 300_000)
        cache.store(f"key{n}", work, inputs={"main.c"})
    cache._cache.cull()
    kept = set(cache._cache.iterkeys())
    assert "key5" in kept and "key0" not in kept, kept
    restored = tmp_path / "restored"
    restored.mkdir()
    assert cache.restore("key5", restored)
    assert (restored / "main").read_bytes() == bytes([5]) * 300_000
    assert not (restored / "main.c").exists()  # the run's own files are never part of an entry
