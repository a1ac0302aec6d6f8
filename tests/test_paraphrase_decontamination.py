"""Paraphrase decontamination: instructions that reword a benchmark task are contaminated, naming the task and the
similarity; the default threshold holds its precision and recall on the labelled set it was chosen on."""

import asyncio
import json
from pathlib import Path

from sqlalchemy import select

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.config import CampaignConfig, IngestConfig
from polyforge.generation.campaign import CampaignRunner
from polyforge.ingest.paraphrases import (
    BenchmarkIndex,
    benchmark_tasks,
    bundled_vectors,
    humaneval_tasks,
    load_labelled,
    task_description,
    task_key,
)
from polyforge.memory.embedder import shared_embedder
from polyforge.storage import Pair, open_engine, session_factory

LABELLED = Path(__file__).parent / "data" / "paraphrase" / "labelled.jsonl"
THRESHOLD = IngestConfig.model_fields["paraphrase_threshold"].default


def test_a_humaneval_prompt_is_described_by_its_docstring_without_examples():
    prompt = 'def add(x, y):\n    """Add two numbers x and y\n    >>> add(2, 3)\n    5\n    """\n'
    assert task_description(prompt) == "Add two numbers x and y"


def test_the_default_threshold_keeps_its_precision_and_recall_on_the_labelled_set():
    rows = load_labelled(LABELLED)
    assert sum(row["label"] == "paraphrase" for row in rows) >= 50 and sum(row["by"] != "hand" for row in rows) >= 20
    index = BenchmarkIndex(humaneval_tasks(), shared_embedder(), bundled_vectors())
    hits = index.nearest([row["text"] for row in rows])
    flagged = [row for row, hit in zip(rows, hits) if hit.similarity >= THRESHOLD]
    caught = [row for row in flagged if row["label"] == "paraphrase"]
    assert len(caught) / len(flagged) >= 0.95  # precision
    assert len(caught) / sum(row["label"] == "paraphrase" for row in rows) >= 0.6  # recall


def run_campaign(tmp_path, sample_repo, criteria, instruction, **ingest):
    def reply(messages, schema):
        return instruction if stage_of(messages) == "instruction" else script(messages, schema)

    script = pipeline_script(lambda messages: uniform_scores(9, criteria))
    db_url = f"sqlite:///{tmp_path / 'p.db'}"
    config = CampaignConfig.model_validate({
        "name": "p", "output_dir": str(tmp_path), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
        "languages": ["Python"], "budgets": {"max_pairs": 2}, "concurrency": 1, "memory": {"enabled": False},
        "execution": {"enabled": False}, "ingest": {"decontaminate_mceval": False, **ingest},
    })
    backend = ScriptedBackend(reply)
    asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        pairs = [(pair.status, pair.error) for pair in session.scalars(select(Pair))]
    engine.dispose()
    return pairs


def test_a_reworded_humaneval_task_is_contaminated_naming_the_task(tmp_path, sample_repo, criteria):
    pairs = run_campaign(tmp_path, sample_repo, criteria,
                         "Write a function that gives the greatest common divisor of two whole numbers.")
    assert len(pairs) == 2 and {status for status, _ in pairs} == {"contaminated"}
    error = pairs[0][1]
    assert error.startswith("contaminated: the instruction paraphrases HumanEval/13 of HumanEval (similarity 0.")
    assert float(error.rsplit(" ", 1)[1].rstrip(")")) >= THRESHOLD


def test_a_user_listed_set_and_an_unrelated_task(tmp_path, sample_repo, criteria):
    benchmark = tmp_path / "ours.jsonl"
    benchmark.write_text(json.dumps({"task_id": "ours/7", "prompt": "Rotate a square matrix by ninety degrees "
                                     "clockwise in place."}) + "\n")
    pairs = run_campaign(tmp_path, sample_repo, criteria, "Write code that turns a square matrix 90 degrees clockwise, modifying it in place.",
                         decontaminate_humaneval=False, decontamination_sets=[str(benchmark)])
    assert pairs[0][0] == "contaminated" and "paraphrases ours/7 of ours" in pairs[0][1]
    clean = run_campaign(tmp_path / "again", sample_repo, criteria, "Write a function that sums a list of integers.",
                         decontaminate_humaneval=False, decontamination_sets=[str(benchmark)])
    assert {status for status, _ in clean} == {"accepted"}


def test_threshold_one_turns_the_check_off(tmp_path, sample_repo, criteria):
    pairs = run_campaign(tmp_path, sample_repo, criteria,
                         "Write a function that gives the greatest common divisor of two whole numbers.",
                         paraphrase_threshold=1)
    assert {status for status, _ in pairs} == {"accepted"}


def test_the_bundled_tasks_are_embedded_ahead_and_agree_with_the_embedder():
    tasks = list(benchmark_tasks(humaneval=True, mceval=True, extra=()))
    known = bundled_vectors()
    assert len(tasks) > 1000 and all(task_key(task) in known for task in tasks)
    gcd = next(task for task in tasks if task.task_id == "HumanEval/13")
    assert float(known[task_key(gcd)] @ shared_embedder().encode([gcd.text])[0]) > 0.999
