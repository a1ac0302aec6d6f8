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


def sandboxed_run_seconds(sandbox: Sandbox, runs: int) -> list[float]:  # serial, one after another
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


def pool_seconds(sandbox: Sandbox, runs: int, workers: int, first: int) -> float:
    jobs = [Job("Python", {"main.py": f"print({n})\n"}) for n in range(first, first + runs)]  # distinct: no cache
    with ExecutionPool(sandbox, workers=workers) as pool:
        start = time.perf_counter()
        results = pool.map(jobs)
        elapsed = time.perf_counter() - start
    assert all(r.status is Status.PASSED for r in results)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--compare", action="store_true", help="also measure without the cgroup and seccomp")
    parser.add_argument("--rounds", type=int, default=4,
                        help="with --compare: the runs are split into rounds that alternate the two setups, "
                             "so a change in the machine's load weighs on both alike")
    args = parser.parse_args()
    print(f"containment: {cgroups.mode().describe()}; load average {os.getloadavg()[0]:.1f}")
    setups = {"cgroup + seccomp": contextlib.nullcontext}
    if args.compare:
        setups["rlimits only, no filter"] = without_cgroup_and_seccomp
    rounds = args.rounds if args.compare else 1
    sandbox = Sandbox()
    sandbox.run("Python", {"main.py": PROGRAM})  # warm: toolchain lookups, page cache
    serial = max(args.runs // 4, 10)
    latency: dict[str, list[float]] = {name: [] for name in setups}
    pool: dict[str, float] = {name: 0.0 for name in setups}
    bare = bare_run_seconds(serial)
    for round_number in range(rounds):
        for name, setup in setups.items():
            with setup():
                latency[name] += sandboxed_run_seconds(sandbox, max(serial // rounds, 1))
                pool[name] += pool_seconds(sandbox, args.runs // rounds, args.workers, round_number * args.runs)
    print(f"one run, bare subprocess p50 {statistics.median(bare) * 1000:.1f} ms ({serial} runs)")
    for name in setups:
        p50 = statistics.median(latency[name])
        print(f"[{name}] one run, sandboxed p50 {p50 * 1000:.1f} ms ({len(latency[name])} runs), overhead "
              f"{(p50 - statistics.median(bare)) * 1000:.1f} ms; pool: {args.runs // rounds * rounds} trivial Python "
              f"runs on {args.workers} workers ({os.cpu_count()} cores) in {pool[name]:.2f} s = "
              f"{args.runs // rounds * rounds / pool[name]:.1f} runs/s")
    if args.compare:
        names = list(setups)
        print(f"throughput with cgroup + seccomp / without: {pool[names[1]] / pool[names[0]]:.2f}; "
              f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
