"""Ingest on Ray against the local executor on the same corpus: MB/s, CPU time and the peak memory of every process.

Usage: python bench/ingest_ray.py [--cpus N] [--nodes N] [FOLDER ...]
It ingests the folders with the local executor (N worker processes), then on a Ray cluster of N simulated nodes
started here (Ray's test cluster utility, the CPUs split among them), checks that both kept the same snippets, and
prints for each run wall-clock MB/s, MB per CPU-second (all processes) and each process's peak resident memory by
role (the driver, Ray's shard workers and dedup partitions, Ray's own daemons). Without folders it ingests a ~10 MB
slice of the toolchain sources installed on the machine (Go's net package, two Python packages).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_speed import ProcessSampler  # noqa: E402

from polyforge.config import IngestConfig  # noqa: E402
from polyforge.ingest import stream_snippets  # noqa: E402
from polyforge.ingest.pipeline import IngestReport  # noqa: E402

DEFAULT_CORPUS = ["/usr/lib/go/src/net", "/usr/lib/python3.11/email", "/usr/lib/python3.11/asyncio"]
SAMPLE_SECONDS = 0.5


def role(pid: int) -> str:
    """What a process is: the bench's driver, a Ray actor (its class), or the program it runs."""
    if pid == os.getpid():
        return "driver"
    try:
        command = psutil.Process(pid).cmdline()
    except psutil.Error:
        return "ended"
    first = command[0] if command else "?"
    # Ray names a worker process ray::CLASS, or ray::CLASS.METHOD while a call runs
    return first.removeprefix("ray::").split(".")[0] if first.startswith("ray::") else Path(first).name or "?"


def measured(folders: list[str], executor: str, workers: int) -> tuple[IngestReport, list[str], dict]:
    """One ingest run with its processes sampled in the background: the report, the kept hashes, the figures."""
    report, sampler, done = IngestReport(), ProcessSampler(), threading.Event()
    roles: dict[int, str] = {}

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            sampler.sample()
            for pid in sampler.peak_mb:
                current = role(pid)  # a Ray worker process is IDLE until an actor takes it
                if pid not in roles or current not in ("IDLE", "ended"):
                    roles[pid] = current

    sampler.sample()
    cpu_start = dict(sampler.cpu)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    hashes = [snippet.content_hash for snippet in stream_snippets(
        folders, IngestConfig(workers=workers), report, executor=executor)]
    wall = time.perf_counter() - started
    done.set()
    thread.join()
    cpu = sum(seconds - cpu_start.get(pid, 0.0) for pid, seconds in sampler.cpu.items())
    peaks: dict[str, list[float]] = defaultdict(list)
    for pid, peak in sampler.peak_mb.items():
        peaks[roles.get(pid, "driver" if pid == os.getpid() else "?")].append(peak)
    return report, hashes, {"wall": wall, "cpu": cpu, "peaks": peaks}


def show(name: str, report: IngestReport, hashes: list[str], figures: dict) -> None:
    mb = report.bytes_read / 1e6
    print(f"{name}: read {mb:.1f} MB in {sum(s.files for s in report.sources)} files; {len(hashes)} snippets kept")
    print(f"  wall {figures['wall']:.1f} s -> {mb / figures['wall']:.2f} MB/s; CPU {figures['cpu']:.1f} s (all "
          f"processes) -> {mb / figures['cpu']:.2f} MB per CPU-second")
    rows = sorted(figures["peaks"].items(), key=lambda item: -max(item[1]))
    print("  peak RSS (MB) by role: " + "; ".join(
        f"{role_name} {', '.join(f'{peak:.0f}' for peak in sorted(peaks, reverse=True))}" for role_name, peaks in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--cpus", type=int, default=2, help="local worker processes, and CPUs of the Ray cluster")
    parser.add_argument("--nodes", type=int, default=1, help="simulated Ray nodes the CPUs are split among")
    args = parser.parse_args()
    folders = args.folders or [folder for folder in DEFAULT_CORPUS if Path(folder).is_dir()]
    print(f"corpus: {', '.join(folders)}; cores {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    local = measured(folders, "local", args.cpus)
    show(f"local ({args.cpus} workers)", *local)

    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": args.cpus // args.nodes, "include_dashboard": False})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=args.cpus // args.nodes)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    try:
        on_ray = measured(folders, "ray", args.cpus)
    finally:
        ray.shutdown()
        cluster.shutdown()
    show(f"Ray ({args.nodes} node(s), {args.cpus} CPUs)", *on_ray)
    print("same snippets kept:", on_ray[1] == local[1])


if __name__ == "__main__":
    main()
