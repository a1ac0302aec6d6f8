"""Sandbox speed: the overhead of one isolated run over a bare subprocess, and the throughput of
trivial Python runs through the worker pool.

    python bench/sandbox_bench.py [--runs 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.pool import ExecutionPool, Job

PROGRAM = "print('ok')\n"


def bare_run_seconds(runs: int) -> list[float]:
    """`python3 main.py` as a plain subprocess: the floor any sandbox adds to."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "main.py"
        script.write_text(PROGRAM)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(["/usr/bin/python3", "-s", str(script)], capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        return times


def sandboxed_run_seconds(sandbox: Sandbox, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        execution = sandbox.run("Python", {"main.py": PROGRAM})
        times.append(time.perf_counter() - start)
        assert execution.status is Status.PASSED, execution
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    sandbox = Sandbox()
    sandbox.run("Python", {"main.py": PROGRAM})  # warm: toolchain lookups, page cache

    serial = max(args.runs // 4, 10)
    bare = bare_run_seconds(serial)
    isolated = sandboxed_run_seconds(sandbox, serial)
    print(f"one run, serial ({serial} runs): bare subprocess p50 {statistics.median(bare) * 1000:.1f} ms, "
          f"sandboxed p50 {statistics.median(isolated) * 1000:.1f} ms, "
          f"overhead {(statistics.median(isolated) - statistics.median(bare)) * 1000:.1f} ms")

    jobs = [Job("Python", {"main.py": f"print({n})\n"}) for n in range(args.runs)]  # distinct: no cache anyway
    with ExecutionPool(sandbox, workers=args.workers) as pool:
        start = time.perf_counter()
        results = pool.map(jobs)
        elapsed = time.perf_counter() - start
    assert all(r.status is Status.PASSED for r in results)
    print(f"pool: {args.runs} trivial Python runs on {args.workers} workers ({os.cpu_count()} cores) "
          f"in {elapsed:.2f} s = {args.runs / elapsed:.1f} runs/s")


if __name__ == "__main__":
    main()
