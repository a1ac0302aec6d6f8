"""Memory bank speed and size: embedding throughput, novelty query latency and memory at scale.

Usage: python bench/memory_bank.py [--vectors 1000000] [--queries 1000] [--texts 2000]

Embedding throughput uses real short instructions. The large bank is filled with random unit
vectors (embedding a million texts would take most of an hour on 2 cores); latency depends on the
index, not on where the vectors came from, so the query timings carry over.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from polyforge.memory import MemoryBank, shared_embedder

TEMPLATES = ["Write a {l} function that {v} a list of {n}.", "Implement {v} for {n} in {l} without libraries.",
             "Given {n}, {v} them in {l} and print the result."]
LANGS = ["Python", "Go", "Rust", "C", "Java", "Ruby"]
VERBS = ["sorts", "deduplicates", "sums", "reverses", "groups", "filters", "merges"]
NOUNS = ["integers", "strings", "dates", "file paths", "JSON objects", "matrices", "intervals"]


def instructions(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [TEMPLATES[i % 3].format(l=LANGS[rng.integers(6)], v=VERBS[rng.integers(7)], n=NOUNS[rng.integers(7)])
            + f" Case {i}." for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    embedder = shared_embedder()
    texts = instructions(args.texts)
    embedder.encode(texts[:64])  # load the model and warm up
    started = time.perf_counter()
    embedder.encode(texts)
    per_second = args.texts / (time.perf_counter() - started)
    print(json.dumps({"embedding_texts_per_s": round(per_second)}), flush=True)

    bank = MemoryBank(embedder, ivf_threshold=args.vectors)
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    batch = 100_000
    for start in range(0, args.vectors, batch):
        vectors = rng.standard_normal((min(batch, args.vectors - start), embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        bank.add([bank.new_entry("generated", "") for _ in range(len(vectors))], vectors)
    build_s = time.perf_counter() - started
    queries = embedder.encode(instructions(args.queries))
    search_ms = []
    for query in queries:
        began = time.perf_counter()
        bank.nearest_vector(query, k=1)
        search_ms.append((time.perf_counter() - began) * 1000)
    end_to_end_ms = []
    for text in instructions(200):
        began = time.perf_counter()
        bank.novelty(text)
        end_to_end_ms.append((time.perf_counter() - began) * 1000)
    print(json.dumps({
        "vectors": len(bank), "index": bank.index_kind, "build_s": round(build_s, 1),
        "search_p50_ms": round(statistics.median(search_ms), 3),
        "search_p95_ms": round(float(np.percentile(search_ms, 95)), 3),
        "novelty_with_embedding_p50_ms": round(statistics.median(end_to_end_ms), 2),
        "index_mb": round(bank.memory_bytes() / 2**20),
    }))


if __name__ == "__main__":
    main()
