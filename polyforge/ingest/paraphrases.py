"""Paraphrase decontamination: an instruction that means what a benchmark task means is contaminated even when it
shares no 10-gram with it (a reworded task). Benchmark tasks' descriptions are embedded with the memory banks'
embedder into a FAISS inner-product index (cosine over normalized vectors); an instruction whose nearest task is at
least the threshold similar names that task and the similarity.

The tasks: HumanEval's docstrings (before their examples), McEval's evaluation split (its task descriptions; the
instruction split feeds campaigns on purpose), and any JSON Lines file the user lists (a record's `instruction`,
`prompt` or `text`, its `task_id` or `id`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import faiss
import numpy as np

from polyforge.config import IngestConfig
from polyforge.ingest.decontamination import BenchmarkError, jsonl_records, humaneval_path

MCEVAL_FOLDER = Path(__file__).resolve().parent.parent / "benchmarks" / "mceval"
BUNDLED_VECTORS = Path(__file__).resolve().parent / "benchmarks" / "task-embeddings.npz"
DOCSTRING = re.compile(r'("""|\'\'\')(.*?)(\1)', re.DOTALL)
EXAMPLES = re.compile(r"^\s*(>>>|(?:for example|examples?)\b)", re.IGNORECASE | re.MULTILINE)
TEXT_FIELDS = ("instruction", "prompt", "text")
ID_FIELDS = ("task_id", "id")


@dataclass(frozen=True)
class BenchmarkTask:
    benchmark: str
    task_id: str
    text: str


@dataclass(frozen=True)
class ParaphraseHit:
    task: BenchmarkTask
    similarity: float

    def __str__(self) -> str:
        return f"paraphrases {self.task.task_id} of {self.task.benchmark} (similarity {self.similarity:.2f})"


def task_description(prompt: str) -> str:
    """A HumanEval prompt's task in words: its docstring, before the examples."""
    found = DOCSTRING.search(prompt)
    text = found.group(2) if found else prompt
    cut = EXAMPLES.search(text)
    return " ".join((text[:cut.start()] if cut else text).split())


def humaneval_tasks() -> Iterator[BenchmarkTask]:
    for record in jsonl_records(humaneval_path()):
        yield BenchmarkTask("HumanEval", record["task_id"], task_description(record["prompt"]))


def mceval_tasks(folder: Path = MCEVAL_FOLDER) -> Iterator[BenchmarkTask]:
    from polyforge.sandbox.mceval import EVALUATION_SPLIT, split_of

    for path in sorted(folder.glob("*.jsonl")):
        for record in jsonl_records(path):
            text = record.get("docstring") or record.get("instruction")
            if isinstance(text, str) and text.strip() and split_of(record["task_id"]) == EVALUATION_SPLIT:
                yield BenchmarkTask("McEval", record["task_id"], " ".join(text.split()))


def jsonl_tasks(path: Path) -> Iterator[BenchmarkTask]:
    if not path.is_file():
        raise BenchmarkError(f"{path}: benchmark file not found (a JSONL file, optionally .gz)")
    for number, record in enumerate(jsonl_records(path), 1):
        text = next((record[key] for key in TEXT_FIELDS if isinstance(record.get(key), str)), None)
        if text and text.strip():
            task_id = next((str(record[key]) for key in ID_FIELDS if key in record), f"line {number}")
            yield BenchmarkTask(path.name.split(".")[0], task_id, " ".join(text.split()))


def task_key(task: BenchmarkTask) -> str:
    """A task's key among the bundled vectors: its benchmark, id and a hash of its text (a changed text misses)."""
    return f"{task.benchmark}:{task.task_id}:{hashlib.blake2b(task.text.encode(), digest_size=8).hexdigest()}"


@lru_cache(maxsize=1)
def bundled_vectors() -> dict[str, np.ndarray]:
    """The bundled tasks' embeddings (HumanEval, McEval: embedding McEval's long descriptions takes a minute on two
    cores); `python scripts/benchmark_embeddings.py` rebuilds them after the embedder or the tasks change."""
    if not BUNDLED_VECTORS.is_file():
        return {}
    with np.load(BUNDLED_VECTORS) as bundled:
        return dict(zip(bundled["keys"].tolist(), bundled["vectors"].astype(np.float32)))


class BenchmarkIndex:
    """Benchmark tasks searchable by meaning. Tasks among the bundled vectors are not embedded again."""

    def __init__(self, tasks: Iterable[BenchmarkTask], embedder, known: dict[str, np.ndarray] | None = None):
        self.tasks = list(tasks)
        self.embedder = embedder
        known = known or {}
        missing = [task for task in self.tasks if task_key(task) not in known]
        fresh = dict(zip(map(task_key, missing), embedder.encode([task.text for task in missing]))) if missing else {}
        vectors = np.array([known.get(task_key(task), fresh.get(task_key(task))) for task in self.tasks],
                           dtype=np.float32).reshape(len(self.tasks), -1)
        self.index = faiss.IndexFlatIP(vectors.shape[1] or 1)  # a few thousand tasks: exact search takes under a ms
        self.index.add(vectors)

    def nearest(self, texts: list[str]) -> list[ParaphraseHit | None]:
        """Each text's most similar benchmark task (None when the index is empty)."""
        if not self.tasks:
            return [None] * len(texts)
        similarities, positions = self.index.search(self.embedder.encode(texts), 1)
        return [ParaphraseHit(self.tasks[position[0]], float(similarity[0]))
                for similarity, position in zip(similarities, positions)]

    def match(self, text: str, threshold: float) -> ParaphraseHit | None:
        """The benchmark task `text` paraphrases: the nearest one, when at least `threshold` similar."""
        hit = self.nearest([text])[0]
        return hit if hit is not None and hit.similarity >= threshold else None


def benchmark_tasks(humaneval: bool, mceval: bool, extra: Iterable[Path]) -> Iterator[BenchmarkTask]:
    if humaneval:
        yield from humaneval_tasks()
    for path in extra:
        yield from jsonl_tasks(Path(path))
    if mceval:
        yield from mceval_tasks()


@lru_cache(maxsize=4)
def _cached_index(humaneval: bool, mceval: bool, extra: tuple[Path, ...]) -> BenchmarkIndex:
    from polyforge.memory.embedder import shared_embedder

    return BenchmarkIndex(benchmark_tasks(humaneval, mceval, extra), shared_embedder(), bundled_vectors())


def paraphrase_index(config: IngestConfig) -> BenchmarkIndex | None:
    """The index of the benchmarks the config keeps out (built once per process for the same benchmarks: embedding
    McEval's tasks takes seconds); None when the check is off or there is no benchmark."""
    sets = tuple(Path(path) for path in config.decontamination_sets)
    if config.paraphrase_threshold >= 1 or not (config.decontaminate_humaneval or config.decontaminate_mceval or sets):
        return None
    return _cached_index(config.decontaminate_humaneval, config.decontaminate_mceval, sets)


def load_labelled(path: Path) -> list[dict]:
    """A labelled set for choosing the threshold: rows of `text`, `label` (paraphrase or unrelated), `task_id`."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
