"""Many executions: a worker pool sized to the cores, a result cache, and flaky-run detection."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from polyforge.sandbox.execution import Execution, Limits, Status
from polyforge.sandbox.languages import language
from polyforge.sandbox.runner import Sandbox

# Outcomes that say more about the machine's load or the sandbox than about the code: never cached.
UNCACHED = (Status.TIMEOUT, Status.SANDBOX_ERROR)


@dataclass(frozen=True)
class Job:
    """One execution to do: the arguments of Sandbox.run."""

    language: str
    files: Mapping[str, str]
    test: str | None = None
    limits: Limits | None = None


@dataclass
class PoolStats:
    runs: int = 0
    cache_hits: int = 0
    flaky: int = 0
    by_status: Counter = field(default_factory=Counter)


class ResultCache:
    """Executions keyed by a hash of (language, files, test, limits, toolchain version), in SQLite.

    `path=None` keeps it in memory. Safe to share between threads.
    """

    def __init__(self, path: Path | str | None = None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS execution (key TEXT PRIMARY KEY, result TEXT NOT NULL)")
        self._lock = threading.Lock()

    @staticmethod
    def key(job: Job, toolchain_version: str, limits: Limits) -> str:
        payload = json.dumps({"language": language(job.language).name, "files": list(job.files.items()),
                              "test": job.test, "limits": asdict(limits), "toolchain": toolchain_version},
                             sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> Execution | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM execution WHERE key = ?", (key,)).fetchone()
        return Execution.from_dict(json.loads(row[0])) if row else None

    def put(self, key: str, execution: Execution) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO execution (key, result) VALUES (?, ?)",
                             (key, json.dumps(execution.to_dict(), ensure_ascii=False)))

    def close(self) -> None:
        self._db.close()


def run_repeated(sandbox: Sandbox, job: Job, limits: Limits, repeats: int) -> Execution:
    """The job's runs; with `repeats` > 1, the most frequent status (ties: the worst) and whether they disagreed."""
    runs = [sandbox.run(job.language, job.files, limits, job.test) for _ in range(repeats)]
    if repeats == 1:
        return runs[0]
    statuses = [run.status for run in runs]
    counts = Counter(statuses)
    order = list(Status)
    chosen = max(counts, key=lambda status: (counts[status], order.index(status)))
    result = next(run for run in runs if run.status is chosen)
    result.attempts = statuses
    result.flaky = len(counts) > 1
    return result


class ExecutionPool:
    """Runs jobs in parallel on `workers` threads (default: one per core), each job in its own sandbox.

    `repeats` > 1 runs each job that many times and marks it flaky when the statuses disagree; the
    reported status is then the most frequent one (ties: the worst, so flakiness never passes).
    """

    def __init__(self, sandbox: Sandbox | None = None, workers: int | None = None, cache: ResultCache | None = None,
                 repeats: int = 1):
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        self.sandbox = sandbox or Sandbox()
        self.workers = workers or os.cpu_count() or 1
        self.cache = cache
        self.repeats = repeats
        self.stats = PoolStats()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sandbox")
        self._stats_lock = threading.Lock()

    def run(self, job: Job) -> Execution:
        """One job, through the cache."""
        limits = job.limits or self.sandbox.limits
        key = None
        if self.cache is not None:
            key = ResultCache.key(job, self.sandbox.toolchains.version(language(job.language)), limits)
            hit = self.cache.get(key)
            repeats_needed = self.repeats if self.repeats > 1 else 0  # a single run cannot answer "flaky?"
            if hit is not None and len(hit.attempts) >= repeats_needed:
                hit.cached = True
                self._count(hit, cached=True)
                return hit
        execution = self._run_repeated(job, limits)
        if key is not None and execution.status not in UNCACHED:
            self.cache.put(key, execution)
        self._count(execution, cached=False)
        return execution

    def _run_repeated(self, job: Job, limits: Limits) -> Execution:
        return run_repeated(self.sandbox, job, limits, self.repeats)

    def map(self, jobs: Iterable[Job]) -> list[Execution]:
        """Every job, in parallel; results in the jobs' order."""
        return list(self._executor.map(self.run, jobs))

    async def arun(self, job: Job) -> Execution:
        """One job from async code (the generation graph), on the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run, job)

    def _count(self, execution: Execution, cached: bool) -> None:
        with self._stats_lock:
            self.stats.runs += 1
            self.stats.cache_hits += cached
            self.stats.flaky += execution.flaky
            self.stats.by_status[execution.status.value] += 1

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> ExecutionPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
