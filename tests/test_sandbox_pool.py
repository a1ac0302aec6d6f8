"""The worker pool runs jobs in parallel, caches results by content and toolchain, and spots flaky runs."""

from __future__ import annotations

import asyncio

import pytest

from polyforge.sandbox import Limits, Sandbox, Status
from polyforge.sandbox.pool import ExecutionPool, Job, ResultCache
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox

HELLO = Job("Python", {"main.py": "print('hello')"})


def test_map_runs_jobs_in_parallel_and_keeps_their_order():
    jobs = [Job("Python", {"main.py": f"print({n} * {n})"}) for n in range(6)]
    with ExecutionPool(workers=2) as pool:
        results = pool.map(jobs)
    assert [r.stdout.strip() for r in results] == [str(n * n) for n in range(6)]
    assert pool.stats.runs == 6 and pool.stats.cache_hits == 0


def test_cache_answers_the_same_job_without_running_it(tmp_path):
    with ExecutionPool(cache=ResultCache(tmp_path / "cache.db")) as pool:
        first = pool.run(HELLO)
        second = pool.run(HELLO)
        other = pool.run(Job("Python", {"main.py": "print('other')"}))
    assert not first.cached and second.cached and not other.cached
    assert second.stdout == first.stdout == "hello\n"
    assert pool.stats.cache_hits == 1
    with ExecutionPool(cache=ResultCache(tmp_path / "cache.db")) as reopened:  # survives a restart
        assert reopened.run(HELLO).cached


def test_cache_key_includes_the_toolchain_version(monkeypatch):
    sandbox = Sandbox()
    with ExecutionPool(sandbox, cache=ResultCache()) as pool:
        pool.run(HELLO)
        monkeypatch.setattr(sandbox.toolchains, "version", lambda lang: "Python 99.0 (upgraded)")
        assert not pool.run(HELLO).cached


def test_timeouts_are_not_cached():
    slow = Job("Python", {"main.py": "import time\ntime.sleep(30)"}, limits=Limits(wall_seconds=0.5))
    with ExecutionPool(cache=ResultCache()) as pool:
        assert pool.run(slow).status is Status.TIMEOUT
        assert not pool.run(slow).cached


def test_repeated_runs_mark_a_flaky_program():
    # Passes about half the time: 16 runs all agree with probability 2**-15.
    coin = Job("Python", {"main.py": "import os\nassert os.urandom(1)[0] < 128\n"}, test="")
    steady = Job("Python", {"main.py": "assert 1 + 1 == 2\n"}, test="")
    with ExecutionPool(repeats=16) as pool:
        flaky, stable = pool.map([coin, steady])
    assert flaky.flaky and set(flaky.attempts) == {Status.PASSED, Status.FAILED}
    assert not stable.flaky and stable.attempts == [Status.PASSED] * 16


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ExecutionPool(repeats=0)


def test_async_callers_share_the_pool():
    async def main():
        with ExecutionPool(workers=2) as pool:
            return await asyncio.gather(*(pool.arun(HELLO) for _ in range(3)))

    assert [r.status for r in asyncio.run(main())] == [Status.PASSED] * 3
