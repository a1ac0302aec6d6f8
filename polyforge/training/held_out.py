"""Keeping evaluation tasks out of training: a model is scored only on tasks its data never held.

Two checks before any model loads:
- a campaign that drew instructions from a benchmark's tasks (instruction-dataset sources keep each row's id)
  must not be evaluated on those tasks (`require_held_out`);
- every training row sharing a word 10-gram with an evaluation task (its instruction, prompt or reference
  solution) is dropped. McEval states one problem in many languages, so a task of its 'instructions' split can be
  the same problem as an 'evaluation' task in another language: the split alone does not hold a problem out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.config import StageEvaluationConfig
from polyforge.ingest.decontamination import BenchmarkNgrams
from polyforge.sandbox.mceval import Task
from polyforge.storage import Snippet
from polyforge.training.benchmarks import benchmark_tasks, require_held_out

NGRAM = 10  # as the Qwen2.5-Coder report decontaminates


def campaign_source_ids(session: Session, campaign_id: int) -> set[str]:
    """The ids of the instruction-dataset rows a campaign's snippets came from."""
    query = select(Snippet.source_id).where(Snippet.campaign_id == campaign_id, Snippet.source_id.is_not(None))
    return set(session.scalars(query))


def evaluation_ngrams(benchmarks: Iterable[str]) -> BenchmarkNgrams:
    """The word n-grams of each benchmark's evaluation tasks ('humaneval', 'mceval' or a McEval folder)."""
    ngrams = BenchmarkNgrams(NGRAM)
    for benchmark in benchmarks:
        ngrams.add(benchmark, task_texts(benchmark_tasks(benchmark)))
    return ngrams


def task_texts(tasks: Iterable[Task]) -> Iterable[str]:
    for task in tasks:
        yield from (task.instruction, task.prompt, task.solution)


def row_text(row: dict) -> str:
    """Every message of an SFT row (`messages`) or a DPO row (`prompt`, `chosen`, `rejected`), joined."""
    messages = [*row.get("messages", []), *row.get("prompt", []), *row.get("chosen", []), *row.get("rejected", [])]
    return "\n".join(message["content"] for message in messages)


@dataclass
class Decontaminated:
    kept: list[dict]
    dropped: dict[str, int]  # benchmark -> rows dropped for sharing an n-gram with it


def decontaminate(rows: list[dict], ngrams: BenchmarkNgrams) -> Decontaminated:
    """The rows that share no n-gram with an evaluation task, and how many were dropped for each benchmark."""
    kept, dropped = [], {}
    for row in rows:
        benchmark = ngrams.overlap_text(row_text(row))
        if benchmark is None:
            kept.append(row)
        else:
            dropped[benchmark] = dropped.get(benchmark, 0) + 1
    return Decontaminated(kept, dropped)


def require_campaign_held_out(session: Session, campaign_id: int, evaluation: StageEvaluationConfig) -> None:
    """Refuse, before training, a run whose evaluation after training would score tasks the campaign drew on."""
    if evaluation.benchmark:
        tasks = benchmark_tasks(evaluation.benchmark, evaluation.languages or None, evaluation.limit, evaluation.split)
        require_held_out(tasks, campaign_source_ids(session, campaign_id), f"campaign {campaign_id}")


def drop_contaminated(rows: dict[str, list[dict]], benchmarks: list[str]
                      ) -> tuple[dict[str, list[dict]], dict[str, dict[str, int]]]:
    """Each named row set without its rows that share an n-gram with `benchmarks`' evaluation tasks, and the
    count dropped per set and benchmark (only the sets that lost rows)."""
    if not benchmarks:
        return rows, {}
    ngrams = evaluation_ngrams(benchmarks)
    checked = {name: decontaminate(named, ngrams) for name, named in rows.items()}
    return ({name: result.kept for name, result in checked.items()},
            {name: result.dropped for name, result in checked.items() if result.dropped})
