"""Sandbox speed: the overhead of one isolated run over a bare subprocess, and the throughput of
trivial Python runs through the worker pool; with --compare, the same again without the run's cgroup
and with an allow-everything seccomp filter, and the ratio of the two.

    python bench/sandbox_bench.py [--runs 200] [--workers 2] [--compare]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from polyforge.sandbox import Sandbox, Status, cgroups, seccomp
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


@contextlib.contextmanager
def without_cgroup_and_seccomp():
    """Runs keep rlimits only (as where no cgroup can be made), and bubblewrap loads a filter that allows all."""
    import pyseccomp

    allow_all = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    with open(os.memfd_create("allow-all"), "w+b") as exported:
        allow_all.export_bpf(exported)
        exported.seek(0)
        program = exported.read()
    saved = cgroups.mode, seccomp.filter_bpf
    cgroups.mode = lambda: cgroups.CgroupMode("none", reason="switched off by the benchmark")
    seccomp.filter_bpf = lambda: program
    try:
        yield
    finally:
        cgroups.mode, seccomp.filter_bpf = saved


def measure(label: str, runs: int, workers: int) -> float:
    """Print the serial latency and the pool's throughput; return runs per second."""
    sandbox = Sandbox()
    sandbox.run("Python", {"main.py": PROGRAM})  # warm: toolchain lookups, page cache
    serial = max(runs // 4, 10)
    bare = bare_run_seconds(serial)
    isolated = sandboxed_run_seconds(sandbox, serial)
    print(f"[{label}] one run, serial ({serial} runs): bare subprocess p50 {statistics.median(bare) * 1000:.1f} ms, "
          f"sandboxed p50 {statistics.median(isolated) * 1000:.1f} ms, "
          f"overhead {(statistics.median(isolated) - statistics.median(bare)) * 1000:.1f} ms")

    jobs = [Job("Python", {"main.py": f"print({n})\n"}) for n in range(runs)]  # distinct: no cache anyway
    with ExecutionPool(sandbox, workers=workers) as pool:
        start = time.perf_counter()
        results = pool.map(jobs)
        elapsed = time.perf_counter() - start
    assert all(r.status is Status.PASSED for r in results)
    print(f"[{label}] pool: {runs} trivial Python runs on {workers} workers ({os.cpu_count()} cores) "
          f"in {elapsed:.2f} s = {runs / elapsed:.1f} runs/s")
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--compare", action="store_true", help="also measure without the cgroup and seccomp")
    args = parser.parse_args()
    print(f"containment: {cgroups.mode().describe()}")
    contained = measure("cgroup + seccomp", args.runs, args.workers)
    if args.compare:
        with without_cgroup_and_seccomp():
            bare = measure("rlimits only, no filter", args.runs, args.workers)
        print(f"throughput with cgroup + seccomp / without: {contained / bare:.2f}")


if __name__ == "__main__":
    main()
