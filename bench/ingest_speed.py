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
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polyforge.config import IngestConfig  # noqa: E402
from polyforge.ingest import stream_snippets  # noqa: E402
from polyforge.ingest.pipeline import IngestReport  # noqa: E402

DEFAULT_CORPUS = ["/usr/lib/go/src", "/usr/lib/python3.11", "/usr/include", "/usr/share/perl/5.36",
                  "/usr/lib/ruby/3.1.0", "/usr/lib/node_modules"]


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-mb", type=float, default=None, help="stop after this many MB read")
    args = parser.parse_args()
    folders = args.folders or [folder for folder in DEFAULT_CORPUS if Path(folder).is_dir()]
    report = IngestReport()
    load = os.getloadavg()[0]
    started, cpu_start = time.perf_counter(), cpu_seconds()
    snippets = 0
    for _ in stream_snippets(folders, IngestConfig(workers=args.workers), report=report):
        snippets += 1
        if args.max_mb and report.bytes_read > args.max_mb * 1e6:
            break
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_start
    mb = report.bytes_read / 1e6
    languages = Counter({name: stats.snippets for name, stats in report.languages.items()})
    peak_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"corpus: {', '.join(folders)}")
    print(f"workers {args.workers}, cores {os.cpu_count()}, load average at start {load:.1f}")
    print(f"read {mb:.1f} MB in {sum(s.files for s in report.sources)} files; {snippets} snippets kept; "
          f"top languages {languages.most_common(8)}")
    print(f"wall {wall:.1f} s -> {mb / wall:.2f} MB/s")
    print(f"CPU {cpu:.1f} s (all processes) -> {mb / cpu:.2f} MB per CPU-second, "
          f"{2 * mb / cpu:.2f} MB/s on 2 dedicated cores")
    print(f"peak RSS: main {peak_main:.0f} MB, largest worker {peak_child:.0f} MB")


if __name__ == "__main__":
    main()
