"""Memory of ingest's dedup partitions on Ray as the corpus grows, for 1, 2, 4 ... nodes (Ray's test cluster).

Usage: python bench/dedup_partitions.py [--nodes 1 2 4] [--step 50000] [--steps 4]
Each step hands the partitions one more source of `--step` distinct snippets (random content keys and 14 random band
keys each, as ray_ingest's shard workers split them), all kept, so the index grows by `--step` snippets a step; after
each step it prints every partition's resident memory above what it held before the first. One partition runs per
node, so the figure per partition is the figure per node.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polyforge.ingest.ray_ingest import EMPTY, DedupPartition, split_by_key  # noqa: E402

BANDS = 14  # LSH bands at the default threshold (0.7) and 128 permutations


def partition_memory_mb() -> dict[int, float]:
    """Resident MB of each dedup partition's process (every simulated node is on this machine)."""
    sizes = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = process.info["cmdline"] or [""]
        if command[0].startswith("ray::DedupPartition"):
            sizes[process.info["pid"]] = process.memory_info().rss / 2**20
    return sizes


def source(rng: np.random.Generator, first: int, snippets: int, partitions: int) -> list[tuple]:
    """One source's shares, one per partition, as a shard worker returns them: (exact, near) (positions, keys)."""
    positions = np.arange(first, first + snippets, dtype=np.int64)
    content_keys = rng.integers(0, 2**63, size=snippets, dtype=np.int64).astype(np.uint64)
    band_keys = rng.integers(-2**63, 2**63 - 1, size=snippets * BANDS, dtype=np.int64)
    exact = split_by_key(positions.tolist(), content_keys.tolist(), partitions, np.uint64)
    near = split_by_key(np.repeat(positions, BANDS).tolist(), band_keys.tolist(), partitions, np.int64)
    return list(zip(exact, near))


def measure(nodes: int, step: int, steps: int) -> None:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    try:
        partitions = [ray.remote(DedupPartition).options(num_cpus=0, scheduling_strategy="SPREAD").remote()
                      for _ in range(nodes)]
        ray.get([actor.finish.remote(EMPTY) for actor in partitions])  # started
        before = partition_memory_mb()
        rng = np.random.default_rng(0)
        for number in range(1, steps + 1):
            shares = source(rng, (number - 1) * step, step, nodes)
            ray.get([actor.exact.remote(share) for actor, share in zip(partitions, shares)])
            ray.get([actor.start_near.remote(EMPTY, share) for actor, share in zip(partitions, shares)])
            ray.get([actor.finish.remote(EMPTY) for actor in partitions])
            grown = sorted((mb - before.get(pid, 0.0) for pid, mb in partition_memory_mb().items()), reverse=True)
            print(f"nodes {nodes}, {number * step:>8,} snippets kept: index MB per partition "
                  f"{', '.join(f'{mb:.0f}' for mb in grown)} (sum {sum(grown):.0f})", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--step", type=int, default=50_000, help="snippets added a step")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    for nodes in args.nodes:
        measure(nodes, args.step, args.steps)


if __name__ == "__main__":
    main()
