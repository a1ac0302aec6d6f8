"""A FAISS memory bank per agent: what it already generated, searchable by meaning.

Inner product over normalized embeddings (cosine similarity). The index is exact (flat) while the
bank is small and becomes IVF past `ivf_threshold` vectors, which keeps a query at about a
millisecond at a million vectors; on a machine with faiss-gpu and CUDA it moves to the GPU.

A bank is shared by the work items in flight, which run its calls on several threads: every method
holds the bank's lock, and `admit` checks and adds in one step, so that of two near-duplicate
instructions in flight exactly one is admitted.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from polyforge.memory.embedder import EMBEDDING_MODEL, Embedder

INDEX_FILE = "index.faiss"
ENTRIES_FILE = "entries.jsonl"
META_FILE = "meta.json"


@dataclass(frozen=True)
class MemoryEntry:
    """What the bank remembers about one vector."""

    id: int
    kind: str  # "seed", PairStatus.accepted, or "generated" (scored lower, or not yet judged)
    instruction: str
    answer: str = ""


@dataclass(frozen=True)
class Neighbour:
    entry: MemoryEntry
    similarity: float


class MemoryBankError(RuntimeError):
    pass


class MemoryBank:
    def __init__(self, embedder: Embedder, ivf_threshold: int = 50_000, nprobe: int = 16, use_gpu: bool = True):
        self.embedder = embedder
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self.use_gpu = use_gpu
        self._dimension = embedder.dimension
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self._dimension))
        self._entries: dict[int, MemoryEntry] = {}
        self._next_id = 0
        self._lock = threading.RLock()  # reentrant: admit searches and adds under one hold

    def __len__(self) -> int:
        with self._lock:
            return self._index.ntotal

    @property
    def index_kind(self) -> str:
        return "ivf" if isinstance(faiss.downcast_index(self._index.index), faiss.IndexIVF) else "flat"

    def new_entry(self, kind: str, instruction: str, answer: str = "") -> MemoryEntry:
        """An entry with the next free id (not yet added)."""
        with self._lock:
            self._next_id += 1
            return MemoryEntry(self._next_id - 1, kind, instruction, answer)

    def admit(self, kind: str, instruction: str, vector: np.ndarray, threshold: float) -> tuple[float, MemoryEntry | None]:
        """Check and remember in one step: (the highest similarity of `vector` to the bank, the new entry), or
        (that similarity, None) when it reaches `threshold`, leaving the bank as it was."""
        with self._lock:
            similarity = self.novelty_of_vector(vector)
            if similarity >= threshold:
                return similarity, None
            entry = self.new_entry(kind, instruction)
            self.add([entry], vector.reshape(1, -1))
            return similarity, entry

    def add(self, entries: list[MemoryEntry], vectors: np.ndarray | None = None) -> None:
        """Remember entries; their instructions are embedded unless `vectors` are given."""
        if not entries:
            return
        if vectors is None:
            vectors = self.embedder.encode([e.instruction for e in entries])
        with self._lock:
            self._index.add_with_ids(vectors, np.array([e.id for e in entries], dtype=np.int64))
            for entry in entries:
                self._entries[entry.id] = entry
                self._next_id = max(self._next_id, entry.id + 1)
            if self.index_kind == "flat" and len(self) >= self.ivf_threshold:
                self._to_ivf()

    def _to_ivf(self) -> None:
        """Rebuild as IVF (nlist about 4 sqrt(n)), trained on the vectors the flat index holds."""
        count = len(self)
        flat = faiss.downcast_index(self._index.index)
        vectors = faiss.rev_swig_ptr(flat.get_xb(), count * self._dimension).reshape(count, self._dimension).copy()
        ids = faiss.vector_to_array(self._index.id_map).copy()
        nlist = max(1, min(int(4 * math.sqrt(count)), count // 39))  # FAISS wants >= 39 points per list
        quantizer = faiss.IndexFlatIP(self._dimension)
        ivf = faiss.IndexIVFFlat(quantizer, self._dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors[np.random.default_rng(0).permutation(count)[: nlist * 64]])
        ivf.nprobe = self.nprobe
        index = faiss.IndexIDMap2(ivf)
        index.add_with_ids(vectors, ids)
        self._index = _on_gpu_if_available(index) if self.use_gpu else index

    def mark(self, entry_id: int, kind: str, answer: str = "") -> None:
        """Record what became of an entry (e.g. PairStatus.accepted once judged), keeping its vector."""
        with self._lock:
            entry = self._entries[entry_id]
            self._entries[entry_id] = MemoryEntry(entry.id, kind, entry.instruction, answer or entry.answer)

    def nearest(self, text: str, k: int = 4, kinds: tuple[str, ...] | None = None) -> list[Neighbour]:
        """The k most similar entries (of the given kinds), most similar first."""
        return self.nearest_vector(self.embedder.encode([text])[0], k, kinds)

    def nearest_vector(self, vector: np.ndarray, k: int = 4, kinds: tuple[str, ...] | None = None) -> list[Neighbour]:
        with self._lock:
            if len(self) == 0:
                return []
            # Over-fetch when filtering by kind, so that k of the wanted kinds usually come back.
            fetch = min(len(self), k if kinds is None else k * 8)
            similarities, ids = self._index.search(vector.reshape(1, -1), fetch)
            entries = [self._entries.get(int(entry_id)) for entry_id in ids[0]]
        found = [Neighbour(entry, float(similarity)) for similarity, entry in zip(similarities[0], entries)
                 if entry is not None and (kinds is None or entry.kind in kinds)]
        return found[:k]

    def novelty(self, text: str) -> float:
        """The highest cosine similarity of `text` to anything in the bank (0 when empty)."""
        return self.novelty_of_vector(self.embedder.encode([text])[0])

    def novelty_of_vector(self, vector: np.ndarray) -> float:
        nearest = self.nearest_vector(vector, k=1)
        return nearest[0].similarity if nearest else 0.0

    def save(self, folder: Path, fingerprint: dict | None = None) -> None:
        """Write index, entries and metadata; each file appears atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (INDEX_FILE + ".partial")
        with self._lock:  # index and entries from the same moment
            faiss.write_index(_on_cpu(self._index), str(partial))
            entries = list(self._entries.values())
            meta = {"model": EMBEDDING_MODEL, "dimension": self._dimension, "size": len(self),
                    "index": self.index_kind, "fingerprint": fingerprint or {}}
        partial.replace(folder / INDEX_FILE)
        lines = "".join(json.dumps(entry.__dict__, ensure_ascii=False) + "\n" for entry in entries)
        _write_atomic(folder / ENTRIES_FILE, lines)
        _write_atomic(folder / META_FILE, json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path, embedder: Embedder, **settings) -> tuple["MemoryBank", dict]:
        """A saved bank and its metadata; MemoryBankError when missing or inconsistent."""
        try:
            meta = json.loads((folder / META_FILE).read_text())
            index = faiss.read_index(str(folder / INDEX_FILE))
            lines = (folder / ENTRIES_FILE).read_text().splitlines()
        except (OSError, ValueError, RuntimeError) as exc:
            raise MemoryBankError(f"{folder}: cannot load memory bank: {exc}") from exc
        if meta.get("model") != EMBEDDING_MODEL or index.ntotal != len(lines):
            raise MemoryBankError(f"{folder}: memory bank is stale (model or size differs)")
        bank = cls(embedder, **settings)
        bank._index = index
        for line in lines:
            entry = MemoryEntry(**json.loads(line))
            bank._entries[entry.id] = entry
            bank._next_id = max(bank._next_id, entry.id + 1)
        ivf = faiss.try_extract_index_ivf(index.index) if bank.index_kind == "ivf" else None
        if ivf is not None:
            ivf.nprobe = bank.nprobe
        return bank, meta

    def memory_bytes(self) -> int:
        """Bytes the index holds (vectors, lists, ids), as FAISS serializes it."""
        with self._lock:
            return faiss.serialize_index(_on_cpu(self._index)).nbytes


def _gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _on_gpu_if_available(index):
    """faiss-gpu with CUDA: the same index on every GPU; otherwise unchanged (faiss-cpu has no GPU calls)."""
    return faiss.index_cpu_to_all_gpus(index) if _gpu_available() else index


def _on_cpu(index):
    return faiss.index_gpu_to_cpu(index) if _gpu_available() else index


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
