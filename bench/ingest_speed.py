"""Ingest throughput: MB of source per second through the whole stage (walk, read, identify,
tree-sitter cutting, filters, MinHash near-dedup), plus CPU time and peak memory.

Usage: python bench/ingest_speed.py [--workers N] [FOLDER ...]
Without folders it ingests the toolchain sources installed on the machine (Go, Python, C headers,
Perl, Ruby, JavaScript), a many-language corpus that needs no download.
The machine is shared: besides wall-clock MB/s it prints MB per CPU-second (all processes), which
contention does not inflate, and the load average at the start.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polyforge.config import IngestConfig  # noqa: E402
from polyforge.ingest import stream_snippets  # noqa: E402
from polyforge.ingest.pipeline import IngestReport  # noqa: E402

DEFAULT_CORPUS = ["/usr/lib/go/src", "/usr/lib/python3.11", "/usr/include", "/usr/share/perl/5.36",
                  "/usr/lib/ruby/3.1.0", "/usr/lib/node_modules"]


class ProcessSampler:
    """CPU time and peak memory of this process and its descendants (the forkserver and the workers
    it starts). Workers end with the stage, so they are sampled while it runs."""

    def __init__(self) -> None:
        self.cpu: dict[int, float] = {}
        self.peak_mb: dict[int, float] = {}

    def sample(self) -> None:
        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            try:
                self.cpu[process.pid] = sum(process.cpu_times()[:2])
                status = Path(f"/proc/{process.pid}/status").read_text()
            except (psutil.Error, OSError):
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mb[process.pid] = int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-mb", type=float, default=None, help="stop after this many MB read")
    args = parser.parse_args()
    folders = args.folders or [folder for folder in DEFAULT_CORPUS if Path(folder).is_dir()]
    report = IngestReport()
    load = os.getloadavg()[0]
    sampler = ProcessSampler()
    sampler.sample()
    cpu_start = sum(sampler.cpu.values())
    files = 0

    def on_file(size: int) -> None:
        nonlocal files
        files += 1
        if files % 100 == 0:
            sampler.sample()

    started = time.perf_counter()
    snippets = 0
    stream = stream_snippets(folders, IngestConfig(workers=args.workers), report=report, on_file=on_file)
    for _ in stream:
        snippets += 1
        if args.max_mb and report.bytes_read > args.max_mb * 1e6:
            break
    sampler.sample()
    stream.close()
    wall, cpu = time.perf_counter() - started, sum(sampler.cpu.values()) - cpu_start
    peaks = sorted(sampler.peak_mb.values(), reverse=True)
    mb = report.bytes_read / 1e6
    languages = Counter({name: stats.snippets for name, stats in report.languages.items()})
    print(f"corpus: {', '.join(folders)}")
    print(f"workers {args.workers}, cores {os.cpu_count()}, load average at start {load:.1f}")
    print(f"read {mb:.1f} MB in {sum(s.files for s in report.sources)} files; {snippets} snippets kept; "
          f"top languages {languages.most_common(8)}")
    print(f"wall {wall:.1f} s -> {mb / wall:.2f} MB/s")
    print(f"CPU {cpu:.1f} s (all processes) -> {mb / cpu:.2f} MB per CPU-second, "
          f"{2 * mb / cpu:.2f} MB/s on 2 dedicated cores")
    print(f"peak RSS per process (MB, largest first): {', '.join(f'{peak:.0f}' for peak in peaks)}")


if __name__ == "__main__":
    main()
