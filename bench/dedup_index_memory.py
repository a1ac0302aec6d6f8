"""Memory of the deduplication indexes, the only ingest state that grows with the sources.

Inserts N distinct synthetic snippets (random MinHash signatures, random content hashes) into the
exact and near-duplicate filters and prints the growth of resident memory per 100k snippets.

Usage: python bench/dedup_index_memory.py [N]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polyforge.config import IngestConfig  # noqa: E402
from polyforge.ingest.filters import Candidate, ExactDedup, NearDedup  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    config = IngestConfig()
    exact, near = ExactDedup(), NearDedup(config.near_duplicate_threshold, config.minhash_permutations)
    rng = np.random.default_rng(0)
    process = psutil.Process()
    before = process.memory_info().rss
    for _ in range(count):
        candidate = Candidate("Python", "", 0, os.urandom(32).hex(), words=np.empty(0, np.uint64),
                              signature=rng.integers(0, 2**32, config.minhash_permutations, dtype=np.uint32))
        assert exact.reason_to_drop(candidate) is None
        near.reason_to_drop(candidate)
    grown = (process.memory_info().rss - before) / 1e6
    print(f"{count} snippets, {len(near.bands)} LSH bands of {config.minhash_permutations} permutations: "
          f"+{grown:.0f} MB resident, {grown / count * 1e5:.0f} MB per 100k snippets")


if __name__ == "__main__":
    main()
