"""The judge: k samples, the ensemble, deterministic overrides and every flag reason."""

import asyncio
import json

import pytest

from doubles import ScriptedBackend, uniform_scores
from polyforge.agents.judge import (
    BORDERLINE, JUDGES_DISAGREE, MALFORMED, SAMPLES_DISAGREE, SANDBOX_DISAGREES, UNTESTED, JudgeAgent,
)
from polyforge.agents.judge_rules import fenced_code_blocks, known_facts, parses_cleanly
from polyforge.terms import PairStatus
from polyforge.config import JudgeConfig, StageSampling

PYTHON_ANSWER = "Use the built-in.\n```python\ndef total(xs):\n    return sum(xs)\n```\nDone."
GRAMMARS = {"Python": "python", "Rust": "rust"}


def queue(*replies):
    """A reply function that answers with each reply in turn."""
    pending = list(replies)
    return lambda messages, schema: pending.pop(0)


def scores(criteria, default, **overrides):
    return json.dumps({c: overrides.get(c, default) for c in criteria})


def judge_with(reply, checklist, second=None, **settings):
    backend = ScriptedBackend(reply, name="judge-a")
    second_backend = ScriptedBackend(second, name="judge-b") if second else None
    agent = JudgeAgent(backend, checklist, StageSampling(temperature=0.7), JudgeConfig(**settings),
                       second_backend=second_backend, grammars=GRAMMARS)
    return agent, backend, second_backend


def run(agent, answer=PYTHON_ANSWER, language="Python", execution_status=None, seed=100):
    return asyncio.run(agent.judge(language, "Sum a list.", answer, seed=seed, execution_status=execution_status))


# --- parsing: "code exists" ---------------------------------------------------------------------------

def test_fenced_blocks_are_found_with_any_info_string_and_fence():
    text = ("a\n```python\nx = 1\n```\nb\n~~~\ny = 2\n~~~\n````rust\nfn main() {}\n````\nnot ```inline``` code\n"
            "- in a list:\n\n  ```go\n  x\n  ```\n```js\ncut by max_tokens")
    assert fenced_code_blocks(text) == ["x = 1\n", "y = 2\n", "fn main() {}\n", "x\n", "cut by max_tokens"]
    assert fenced_code_blocks("no code here") == []


@pytest.mark.parametrize(("code", "grammar", "clean"), [
    ("def total(xs):\n    return sum(xs)\n", "python", True),
    ("def total(xs) return sum(xs)\n", "python", False),
    ("fn total(xs: &[i32]) -> i32 { xs.iter().sum() }\n", "rust", True),
    ("def total(xs):\n    return sum(xs)\n", "rust", False),
    ("", "python", False),
    # comments and blank lines only: not code (the count of named children alone said it was)
    ("# TODO: sum the list\n\n# return the total\n", "python", False),
    ("// add the numbers here\n/* and return them */\n", "javascript", False),
    ("// no body yet\n\nfn main() {}\n", "rust", True),
])
def test_tree_sitter_decides_whether_code_parses(code, grammar, clean):
    assert parses_cleanly(code, grammar) is clean


def test_a_block_of_comments_is_no_code_for_the_parser_rule(checklist):
    [fact] = known_facts(checklist, "Here:\n```python\n# sum the list with sum()\n\n```", "python", None)
    assert (fact.criterion, fact.score) == ("code_exists", 1) and "none of 1" in fact.explanation


def test_parser_override_sets_code_exists_from_the_answer(checklist):
    [fact] = known_facts(checklist, PYTHON_ANSWER, "python", None)
    assert (fact.criterion, fact.score, fact.source) == ("code_exists", 10, "parser")
    [fact] = known_facts(checklist, "Just call sum on it.", "python", None)
    assert fact.score == 1 and "no fenced code block" in fact.explanation
    [fact] = known_facts(checklist, "```python\ndef f(:\n```", "python", None)
    assert fact.score == 1 and "none of 1" in fact.explanation
    assert known_facts(checklist, PYTHON_ANSWER, None, None) == []  # no grammar: the judge's score stands


# --- overrides in the verdict ---------------------------------------------------------------------------

def test_parser_overrides_the_judge_on_code_exists(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 8, code_exists=2), checklist)
    verdict = run(agent)
    assert verdict.scores["code_exists"] == 10 and verdict.overrides == {"code_exists": "parser"}
    assert verdict.rationales["code_exists"].startswith("parser: 1 of 1 fenced code block(s) parse as python")
    assert verdict.final_score == pytest.approx((8 * 8 + 10) / 9)
    assert verdict.samples[0].scores["code_exists"] == 2  # the judge's own score is kept with the sample
    assert verdict.route is PairStatus.accepted and verdict.flag_reason is None


def test_language_without_a_grammar_keeps_the_judges_score(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 8, code_exists=2), checklist)
    verdict = run(agent, language="Brainfuck")
    assert verdict.scores["code_exists"] == 2 and verdict.overrides == {}


@pytest.mark.parametrize(("status", "correctness"), [
    ("passed", 10), ("failed", 1), ("compile_error", 1), ("runtime_error", 1), ("timeout", 1),
    (None, 7), ("sandbox_error", 7),  # not executed, or no verdict on the code: the judge's score stands
    ("vacuous_tests", 7),  # tests that are no evidence (no assertion, or a stub passes them) decide nothing
])
def test_sandbox_verdict_overrides_code_correctness(status, correctness, checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 7), checklist)
    verdict = run(agent, execution_status=status)
    assert verdict.scores["code_correctness"] == correctness
    assert (verdict.overrides.get("code_correctness") == "sandbox") == (correctness != 7)


def test_vacuous_tests_never_flag_a_disagreement_with_the_sandbox(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 2), checklist, max_sandbox_gap=1)
    verdict = run(agent, execution_status="vacuous_tests")
    assert SANDBOX_DISAGREES not in verdict.flag_reasons and verdict.scores["code_correctness"] == 2


def test_failed_execution_can_sink_a_pair_the_judge_liked(checklist, criteria):
    # correctness 1 (weight 2) instead of 6: (6*6 + 10 + 1*2) / 9 = 5.33 -> borderline, not accepted
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 6, code_exists=6), checklist, max_sandbox_gap=9)
    verdict = run(agent, execution_status="failed")
    assert verdict.final_score == pytest.approx((6 * 6 + 10 + 1 * 2) / 9)
    assert verdict.route is PairStatus.flagged and verdict.flag_reasons == [BORDERLINE]


@pytest.mark.parametrize("status", [None, "vacuous_tests", "sandbox_error", "failed"])
def test_accept_only_tested_flags_what_the_judge_would_accept_without_passing_tests(status, checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 10), checklist, accept_only_tested=True, max_sandbox_gap=10)
    verdict = run(agent, execution_status=status)
    assert verdict.route is PairStatus.flagged and UNTESTED in verdict.flag_reasons, verdict


def test_accept_only_tested_accepts_a_pair_whose_tests_passed(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 10), checklist, accept_only_tested=True)
    assert run(agent, execution_status="passed").route is PairStatus.accepted
    off, _, _ = judge_with(lambda m, s: scores(criteria, 10), checklist)
    assert run(off, execution_status=None).route is PairStatus.accepted


def test_accept_only_tested_leaves_a_rejected_pair_rejected(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: uniform_scores(1, criteria), checklist, accept_only_tested=True)
    verdict = run(agent, answer="No code.")
    assert verdict.route is PairStatus.rejected and verdict.flag_reason is None


# --- samples, spread and the ensemble -------------------------------------------------------------------

def test_k_samples_are_averaged_with_their_spread(checklist, criteria):
    reply = queue(scores(criteria, 8), scores(criteria, 9), scores(criteria, 7))
    agent, backend, _ = judge_with(reply, checklist, samples=3)
    verdict = run(agent)
    assert len(backend.calls) == 3 and len(verdict.samples) == 3
    assert verdict.scores["qa_consistency"] == pytest.approx(8.0)
    assert verdict.spreads["qa_consistency"] == pytest.approx((2 / 3) ** 0.5)
    assert verdict.score_spread < 1.5 and verdict.route is PairStatus.accepted
    assert len(verdict.completions) == 3


def test_samples_use_distinct_seeds_past_the_retry_seeds(checklist, criteria):
    seen = []

    class SeedRecorder(ScriptedBackend):
        async def chat(self, messages, params, json_schema=None):
            seen.append(params.seed)
            return await super().chat(messages, params, json_schema)

    agent = JudgeAgent(SeedRecorder(lambda m, s: scores(criteria, 8)), checklist, StageSampling(temperature=0.7),
                       JudgeConfig(samples=3, max_retries=2))
    run(agent, seed=100)
    assert sorted(seen) == [100, 103, 106]


def test_large_spread_between_samples_flags_the_pair(checklist, criteria):
    reply = queue(scores(criteria, 10), scores(criteria, 3))
    agent, _, _ = judge_with(reply, checklist, samples=2, max_spread=1.5)
    verdict = run(agent)
    assert verdict.score_spread > 1.5
    assert verdict.route is PairStatus.flagged and verdict.flag_reasons == [SAMPLES_DISAGREE]


def test_second_judge_joins_the_mean_and_a_gap_flags(checklist, criteria):
    agent, first, second = judge_with(lambda m, s: scores(criteria, 9), checklist,
                                      second=lambda m, s: scores(criteria, 8), max_judge_gap=2)
    agreed = run(agent)
    assert len(first.calls) == len(second.calls) == 1
    assert agreed.scores["qa_relevance"] == pytest.approx(8.5) and agreed.route is PairStatus.accepted
    assert agent.model_names == "judge-a + judge-b"
    assert [s.judge for s in agreed.samples] == [0, 1]

    agent, _, _ = judge_with(lambda m, s: scores(criteria, 10), checklist, second=lambda m, s: scores(criteria, 6),
                             max_judge_gap=2)
    verdict = run(agent)
    assert verdict.final_score >= checklist.thresholds.accept  # the mean alone would accept it
    assert verdict.route is PairStatus.flagged and verdict.flag_reasons == [JUDGES_DISAGREE]


def test_judge_disagreeing_with_the_sandbox_flags(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: scores(criteria, 9), checklist, max_sandbox_gap=5)
    verdict = run(agent, execution_status="runtime_error")  # judge says 9, sandbox says 1
    assert verdict.scores["code_correctness"] == 1
    assert SANDBOX_DISAGREES in verdict.flag_reasons and verdict.route is PairStatus.flagged
    agreeing = run(judge_with(lambda m, s: scores(criteria, 9), checklist)[0], execution_status="passed")
    assert agreeing.route is PairStatus.accepted and agreeing.flag_reasons == []


# --- malformed output and routing -----------------------------------------------------------------------

def test_one_malformed_sample_of_three_still_flags_with_its_error(checklist, criteria):
    reply = queue(scores(criteria, 9), "{broken", scores(criteria, 9))
    agent, backend, _ = judge_with(reply, checklist, samples=3, max_retries=0)
    verdict = run(agent)
    assert len(backend.calls) == 3
    assert verdict.final_score == pytest.approx((9 * 8 + 10) / 9)  # from the two valid samples
    assert verdict.route is PairStatus.flagged and verdict.flag_reasons == [MALFORMED]
    assert "invalid JSON" in verdict.error and verdict.samples[1].error


def test_malformed_sample_is_retried_before_it_counts_as_a_failure(checklist, criteria):
    reply = queue("{broken", scores(criteria, 9))
    agent, backend, _ = judge_with(reply, checklist, max_retries=1)
    verdict = run(agent)
    assert len(backend.calls) == 2 and verdict.route is PairStatus.accepted and verdict.error is None


def test_every_flag_reason_is_reported_together_in_a_fixed_order(checklist, criteria):
    first = queue(scores(criteria, 10), scores(criteria, 2), "{broken")
    second = queue(scores(criteria, 1), scores(criteria, 1), scores(criteria, 1))
    agent, _, _ = judge_with(first, checklist, second=second, samples=3, max_retries=0, max_spread=1,
                             max_judge_gap=2, max_sandbox_gap=5)
    verdict = run(agent, execution_status="passed")
    # judge a: 10 and 2 (spread 4) and one malformed; judge b: 1s (gap 5); correctness 3 vs the sandbox 10;
    # final (3 * 6 + 10 + 10 * 2) / 9 = 5.3, between the thresholds
    assert verdict.flag_reasons == [MALFORMED, BORDERLINE, SAMPLES_DISAGREE, JUDGES_DISAGREE, SANDBOX_DISAGREES]
    assert verdict.flag_reason == "; ".join(verdict.flag_reasons)
    assert verdict.route is PairStatus.flagged


def test_rejected_score_without_doubts_is_rejected(checklist, criteria):
    agent, _, _ = judge_with(lambda m, s: uniform_scores(1, criteria), checklist)
    verdict = run(agent, answer="No code.")
    assert verdict.route is PairStatus.rejected and verdict.flag_reason is None


def test_schema_scores_are_an_enum_of_the_scale(checklist):
    from polyforge.agents.judge import judge_schema

    # an enum, not min/max: llama.cpp's grammar from a JSON schema enforces enums but ignores integer bounds
    properties = judge_schema(checklist, rationales=False).model_json_schema()["properties"]
    assert properties["qa_consistency"]["enum"] == list(range(1, 11))
    nested = judge_schema(checklist, rationales=True).model_json_schema()
    assert nested["$defs"]["ScoredCriterion"]["properties"]["score"]["enum"] == list(range(1, 11))
