"""Ingest on a Ray cluster: the local executor's steps over shards of each source, with duplicates found across the
whole cluster, keeping the same snippets as the local executor.

The driver (this process) walks each source (or reads a corpus's rows) and cuts the files into shards; shard workers
(Ray actors, one a CPU) run worker.py's per-file steps on them: read, identify, cut, the per-snippet filters (quality,
decontamination, downsampling, secrets) and MinHash. Beside its results, a shard gives each passing snippet's content
key and LSH band keys, split into partitions by key. Each dedup partition (an actor, spread over the nodes) owns the
keys of its partition: the content keys seen and the band keys of the snippets kept, so no process holds the whole
index. The driver then takes the shards' results in order through the local executor's counting and reporting
(pipeline.Stage), its index filters answered by the cluster's decisions.

The same snippets as locally: there, a snippet is an exact duplicate when one reached the index filters before it with
the same content key, and a near duplicate when one of its bands matches a band of a snippet kept before it, in the
order of sources, files and snippets. Here each snippet has a position in that order (its shard, then its rank in the
shard), and the near-duplicate decision is made in rounds: a snippet with an earlier kept band-mate is dropped, one
whose earlier band-mates are all dropped is kept, the others wait for the next round. Each round decides at least the
earliest undecided snippet; rounds are as many as the longest chain of near duplicates (one or two, usually).

Shard workers read a folder source's files at the path the driver found them: on a cluster of several machines, such
sources must be on storage every node mounts (a corpus's rows travel with the shards).
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator

import numpy as np

from polyforge.config import IngestConfig
from polyforge.ingest.errors import IngestError
from polyforge.ingest.filters import Candidate, ExactDedup, NearDedup
from polyforge.ingest.pipeline import IngestReport, Stage
from polyforge.ingest.worker import CutResult, FileProcessor, FileResult, FileTask, RowTask

SHARD_FILES = 64  # files (or corpus rows) a shard worker takes at a time
SHARD_BITS = 32  # a position is (shard << SHARD_BITS) + the snippet's rank among the shard's passing snippets
EMPTY = np.empty(0, dtype=np.int64)


def split_by_key(positions: list[int], keys: list[int], partitions: int,
                 dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    """(positions, keys) of each partition, a key's partition being the key modulo their number."""
    position_array, key_array = np.array(positions, dtype=np.int64), np.array(keys, dtype=dtype)
    owner = key_array % partitions
    return [(position_array[owner == part], key_array[owner == part]) for part in range(partitions)]


class ShardWorker:
    """worker.py's per-file steps on shards (a Ray actor with its own FileProcessor)."""

    def __init__(self, config: IngestConfig, wanted: set[str] | None, partitions: int):
        self.processor = FileProcessor(config, wanted)
        self.near = (NearDedup(config.near_duplicate_threshold, config.minhash_permutations)
                     if self.processor.minhasher is not None else None)
        self.partitions = partitions

    def process(self, shard: int, tasks: list[FileTask | RowTask]) -> tuple:
        """The shard's results, how many snippets passed the per-snippet filters, then for each partition its share
        of their (positions, content keys) and (positions, band keys)."""
        results = [self.processor.process(task) for task in tasks]
        positions, content_keys, band_positions, band_keys = [], [], [], []
        for cut in (cut for result in results for cut in result.snippets if cut.dropped_by is None):
            position = (shard << SHARD_BITS) + len(positions)
            positions.append(position)
            content_keys.append(ExactDedup.key(cut.content_hash))
            if self.near is not None:
                keys = self.near.keys(cut.signature)
                band_positions.extend([position] * len(keys))
                band_keys.extend(keys)
            cut.signature = None  # used up here: the driver never needs it
        exact = split_by_key(positions, content_keys, self.partitions, np.uint64)
        near = split_by_key(band_positions, band_keys, self.partitions, np.int64)
        return (results, len(positions), *zip(exact, near))


def _concatenated(parts: tuple, which: int) -> tuple[np.ndarray, np.ndarray]:
    """One partition's (positions, keys) over a source's shards, in position order."""
    positions = np.concatenate([part[which][0] for part in parts] or [EMPTY])
    keys = np.concatenate([part[which][1] for part in parts] or [EMPTY])
    order = np.argsort(positions, kind="stable")
    return positions[order], keys[order]


class DedupPartition:
    """One partition of the dedup index (a Ray actor): the content keys seen and the band keys of snippets kept, of
    the keys in its partition, and while a source is decided, its snippets' bands that share a key."""

    def __init__(self) -> None:
        self.content_keys: set[int] = set()
        self.kept_bands: set[int] = set()
        self.bands: tuple[np.ndarray, np.ndarray] = (EMPTY, EMPTY)  # the source's (positions, band keys)
        self.groups: list[list[int]] = []  # positions sharing a band key (two or more, in order), undecided ones

    def exact(self, *parts: tuple) -> np.ndarray:
        """The positions of the source's exact duplicates in this partition: a content key seen before."""
        dropped = []
        for position, key in zip(*(array.tolist() for array in _concatenated(parts, 0))):
            if key in self.content_keys:
                dropped.append(position)
            else:
                self.content_keys.add(key)
        return np.array(dropped, dtype=np.int64)

    def start_near(self, exact_dropped: np.ndarray, *parts: tuple) -> tuple[np.ndarray, np.ndarray]:
        """The source's bands, less the exact duplicates': the positions dropped at once (a band of a snippet kept
        from an earlier source), and the positions that share a band key with another of the source's snippets."""
        positions, keys = _concatenated(parts, 1)
        reaching = ~np.isin(positions, exact_dropped)
        positions, keys = positions[reaching], keys[reaching]
        self.bands = (positions, keys)
        kept_before = np.isin(keys, np.fromiter(self.kept_bands, dtype=np.int64, count=len(self.kept_bands)))
        order = np.lexsort((positions[~kept_before], keys[~kept_before]))
        open_positions, open_keys = positions[~kept_before][order], keys[~kept_before][order]
        starts = np.flatnonzero(np.diff(open_keys)) + 1
        self.groups = [group.tolist() for group in np.split(open_positions, starts) if len(group) > 1]
        contested = np.unique(np.concatenate(self.groups)) if self.groups else EMPTY
        return np.unique(positions[kept_before]), contested

    def vote(self, kept: np.ndarray, dropped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One round: the undecided positions with an earlier kept band-mate (to drop), and those with an earlier
        undecided one (to wait)."""
        kept_now, dropped_now = set(kept.tolist()), set(dropped.tolist())
        to_drop, waiting, still_open = [], [], []
        for group in self.groups:
            members = [position for position in group if position not in dropped_now]
            after_kept = after_undecided = False
            for position in members:
                if position in kept_now:
                    after_kept = True
                    continue
                if after_kept:
                    to_drop.append(position)
                elif after_undecided:
                    waiting.append(position)
                after_undecided = True
            if any(position not in kept_now for position in members) and len(members) > 1:
                still_open.append(members)
        self.groups = still_open
        return np.array(to_drop, dtype=np.int64), np.array(waiting, dtype=np.int64)

    def finish(self, dropped: np.ndarray) -> None:
        """The source decided: the bands of its kept snippets join the index."""
        positions, keys = self.bands
        self.kept_bands.update(keys[~np.isin(positions, dropped)].tolist())
        self.bands, self.groups = (EMPTY, EMPTY), []


class _Decided:
    """An index filter whose decisions the cluster made: it drops the snippets at the stage's dropped positions."""

    def __init__(self, stage: RayStage, name: str, reason: str):
        self.stage, self.name, self.reason = stage, name, reason
        self.dropped: set[int] = set()

    def reason_to_drop(self, snippet: Candidate) -> str | None:
        return self.reason if self.stage.position in self.dropped else None


CONNECT_SECONDS = 5.0


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable address for minutes: a host and port that take no connection fail here, at once."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise IngestError(f"ingest on Ray: {address!r} is not a cluster address; give HOST:PORT (ray start --head "
                          "prints it), ray://HOST:PORT for a Ray client server, or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise IngestError(f"ingest on Ray: no Ray cluster answers at {address} ({exc.strerror or exc}); start one "
                          "(ray start --head) or give the address of a running one, or leave the address out to "
                          "start Ray here") from exc


def join_cluster(address: str | None) -> None:
    """Join the Ray cluster at `address` (None: start a Ray on this machine), unless this process has joined one."""
    try:
        import ray
    except ImportError as exc:
        raise IngestError("ingest on Ray needs Ray, which is not installed here: pip install 'polyforge[ray]'") from exc
    if address not in (None, "auto", "local"):
        _check_reachable(address)
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(f"ingest on Ray: cannot join the cluster at {address} ({reason}); give the address of a "
                          "running cluster (ray start --head prints it), or leave the address out to start Ray "
                          "here") from exc


def gathered(refs):
    """ray.get, a worker's failure (its process or node lost past Ray's retries, an error in its code) told as a
    message: the last line of the remote traceback says why."""
    import ray
    from ray.exceptions import RayError

    try:
        return ray.get(refs)
    except RayError as exc:
        lines = str(exc).strip().splitlines()
        raise IngestError(f"ingest on Ray: a worker failed: {lines[-1] if lines else type(exc).__name__}") from exc


class RayStage(Stage):
    """An ingest run whose per-file steps run on shard workers and whose index filters are the dedup partitions'."""

    def __init__(self, config: IngestConfig, report: IngestReport, wanted: set[str] | None, address: str | None):
        super().__init__(config, report, wanted)
        join_cluster(address)
        import ray

        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        free = int(ray.available_resources().get("CPU", 0))
        workers = max(1, min(free, config.workers) if config.workers else free)
        self.partitions = [ray.remote(DedupPartition).options(num_cpus=0, scheduling_strategy="SPREAD").remote()
                           for _ in range(nodes)]
        self.shard_workers = [ray.remote(ShardWorker).options(num_cpus=1).remote(config, wanted, nodes)
                              for _ in range(workers)]
        self.exact = _Decided(self, ExactDedup.name, "exact duplicate")
        self.near = _Decided(self, NearDedup.name, "near duplicate")
        self.index_filters = [self.exact] + ([self.near] if config.near_duplicate_threshold < 1.0 else [])
        self.shards = 0  # shards given out so far, over every source
        self.position = -1  # the position of the snippet at the index filters
        self._positions: Iterator[int] = iter(())

    def close(self) -> None:
        import ray

        for actor in [*self.shard_workers, *self.partitions]:
            ray.kill(actor)

    def _results(self, tasks: Iterator[FileTask | RowTask]) -> Iterator[FileResult]:
        """The source's shards processed and its duplicates decided across the cluster, then its results in order."""
        shards, parts = [], []
        while batch := list(itertools.islice(tasks, SHARD_FILES)):
            worker = self.shard_workers[self.shards % len(self.shard_workers)]
            results, count, *shares = worker.process.options(num_returns=2 + len(self.partitions)).remote(
                self.shards, batch)
            shards.append((self.shards, results, count))
            parts.append(shares)
            self.shards += 1
        counts = gathered([count for _, _, count in shards])
        self._decide([[shares[part] for shares in parts] for part in range(len(self.partitions))])
        for (shard, results, _), count in zip(shards, counts):
            self._positions = iter(range(shard << SHARD_BITS, (shard << SHARD_BITS) + count))
            yield from gathered(results)

    def _decide(self, shares: list[list]) -> None:
        """The exact and near duplicates among the source's snippets, by position."""
        import ray

        exact = np.concatenate(gathered([actor.exact.remote(*own) for actor, own in zip(self.partitions, shares)]))
        self.exact.dropped = set(exact.tolist())
        exact_ref = ray.put(exact)
        started = gathered([actor.start_near.remote(exact_ref, *own) for actor, own in zip(self.partitions, shares)])
        dropped = set(np.concatenate([at_once for at_once, _ in started]).tolist())
        undecided = set(np.concatenate([contested for _, contested in started]).tolist()) - dropped
        kept: set[int] = set()
        while undecided:
            kept_ref, dropped_ref = ray.put(np.array(sorted(kept), dtype=np.int64)), ray.put(
                np.array(sorted(dropped), dtype=np.int64))
            votes = gathered([actor.vote.remote(kept_ref, dropped_ref) for actor in self.partitions])
            to_drop = undecided & set(np.concatenate([drop for drop, _ in votes]).tolist())
            waiting = set(np.concatenate([wait for _, wait in votes]).tolist())
            dropped |= to_drop
            undecided -= to_drop
            decided = undecided - waiting
            kept |= decided
            undecided -= decided
        self.near.dropped = dropped
        everything_dropped = ray.put(np.array(sorted(dropped | self.exact.dropped), dtype=np.int64))
        gathered([actor.finish.remote(everything_dropped) for actor in self.partitions])

    def _filter(self, language: str, cut: CutResult) -> str | None:
        if cut.dropped_by is None:  # it reaches the index filters: the next position of its shard
            self.position = next(self._positions)
        return super()._filter(language, cut)
