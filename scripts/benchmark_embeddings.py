"""Rebuild the bundled embeddings of the benchmark tasks the paraphrase check searches (HumanEval's docstrings,
McEval's evaluation split): polyforge/ingest/benchmarks/task-embeddings.npz, float16, keyed by task and text hash.

Usage: python scripts/benchmark_embeddings.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polyforge.ingest.paraphrases import BUNDLED_VECTORS, benchmark_tasks, task_key  # noqa: E402
from polyforge.memory.embedder import shared_embedder  # noqa: E402


def main() -> None:
    tasks = list(benchmark_tasks(humaneval=True, mceval=True, extra=()))
    vectors = shared_embedder().encode([task.text for task in tasks])
    np.savez_compressed(BUNDLED_VECTORS, keys=np.array([task_key(task) for task in tasks]),
                        vectors=vectors.astype(np.float16))
    print(f"{BUNDLED_VECTORS}: {len(tasks)} tasks, {BUNDLED_VECTORS.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
