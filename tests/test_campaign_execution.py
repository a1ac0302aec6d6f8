"""Campaign pairs carry sandbox verdicts: the tester writes tests, the sandbox runs every candidate,
the judge sees the result, a passing candidate beats a failing one, and the verdict is stored."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignRunner
from polyforge.storage import ExecutionRecord, Pair, Preference, open_engine, session_factory
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox

WRONG = "Loop and add.\n```python\ndef total(xs):\n    return len(xs)\n```"
RIGHT = "Sum with the built-in.\n```python\ndef total(xs):\n    return sum(xs)\n```"


def campaign(sample_repo, out, db_url, **overrides) -> CampaignConfig:
    raw = {"name": "x", "output_dir": str(out), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
           "languages": ["Python"], "budgets": {"max_pairs": 2}, "memory": {"enabled": False},
           "coverage": {"classify": False}, **overrides}
    return CampaignConfig.model_validate(raw)


def run(config, backend):
    return asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())


def test_pairs_carry_the_verdict_of_their_generated_tests(sample_repo, tmp_path, db_url, criteria):
    judged = []

    def judge(messages):
        judged.append(messages[1]["content"])
        return uniform_scores(8, criteria)

    backend = ScriptedBackend(pipeline_script(judge))
    run(campaign(sample_repo, tmp_path, db_url), backend)
    assert any(stage_of(m) == "tester" for m, _ in backend.calls)
    assert all("Sandbox: the answer's code was run with generated unit tests: passed" in text for text in judged)
    with session_factory(open_engine(db_url))() as session:
        pairs = session.scalars(select(Pair)).all()
        assert len(pairs) == 2 and {p.execution_status for p in pairs} == {"passed"}
        records = session.scalars(select(ExecutionRecord)).all()
        assert len(records) == 2 and all(r.chosen and r.language == "Python" for r in records)
        assert "assert total([1, 2, 3]) == 6" in records[0].tests
        assert "tester" in pairs[0].templates and pairs[0].tokens["tester"]["calls"] == 1


def test_a_passing_candidate_beats_a_higher_scored_failing_one(sample_repo, tmp_path, db_url, criteria):
    answers = iter([WRONG, RIGHT] * 10)

    def reply(messages, schema):
        stage = stage_of(messages)
        if stage == "answer":
            return next(answers)
        if stage == "judge":  # the judge prefers the wrong answer; the tests must overrule it
            return uniform_scores(9 if "len(xs)" in messages[1]["content"] else 6, criteria)
        return pipeline_script(lambda m: "")(messages, schema)

    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1,
                      sampling={"candidates": 2})
    run(config, ScriptedBackend(reply))
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert "sum(xs)" in pair.answer and pair.execution_status == "passed"
        statuses = {r.candidate: (r.status, r.chosen) for r in session.scalars(select(ExecutionRecord))}
        assert statuses == {0: ("failed", False), 1: ("passed", True)}
        preference = session.scalars(select(Preference)).one()
        assert "len(xs)" in preference.rejected and "sum(xs)" in preference.chosen


def test_execution_can_be_turned_off(sample_repo, tmp_path, db_url, criteria):
    backend = ScriptedBackend(pipeline_script(lambda m: uniform_scores(8, criteria)))
    run(campaign(sample_repo, tmp_path, db_url, execution={"enabled": False}), backend)
    assert not any(stage_of(m) == "tester" for m, _ in backend.calls)
    with session_factory(open_engine(db_url))() as session:
        assert {p.execution_status for p in session.scalars(select(Pair))} == {None}


def script_with_tester_reply(tests_reply: str, criteria, seen: list | None = None):
    """The pipeline script with the tester's reply replaced (and the tester prompts kept in `seen`)."""
    def reply(messages, schema):
        if stage_of(messages) == "tester":
            if seen is not None:
                seen.append(messages[1]["content"])
            return tests_reply
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    return reply


def test_the_tester_writes_from_the_instruction_not_from_a_candidate(sample_repo, tmp_path, db_url, criteria):
    """The tests used to be written from the first candidate's code (its body was in the tester's prompt);
    now the tester sees the instruction and only the signature the two candidates share."""
    answers = iter([WRONG, RIGHT] * 10)
    seen: list[str] = []
    script = script_with_tester_reply("```python\nassert total([1, 2, 3]) == 6\n```", criteria, seen)

    def reply(messages, schema):
        return next(answers) if stage_of(messages) == "answer" else script(messages, schema)

    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1,
                      sampling={"candidates": 2})
    run(config, ScriptedBackend(reply))
    [prompt] = seen
    assert "sum of a list of integers" in prompt and "def total(xs):" in prompt
    assert "len(xs)" not in prompt and "sum(xs)" not in prompt


def test_vacuous_tests_are_recorded_and_do_not_decide_correctness(sample_repo, tmp_path, db_url, criteria):
    """Tests that only print, or that a stub returning 0 passes too, used to count as 'passed' and set
    code correctness to the top score; now every run is 'vacuous_tests' and the judge's score stands."""
    for number, tests in enumerate(["```python\nprint(total([1, 2, 3]))\n```", "```python\nassert total([]) == 0\n```"]):
        url = db_url if number == 0 else f"sqlite:///{tmp_path / 'second.db'}"
        config = campaign(sample_repo, tmp_path / str(number), url, budgets={"max_pairs": 1}, concurrency=1)
        run(config, ScriptedBackend(script_with_tester_reply(tests, criteria)))
        with session_factory(open_engine(url))() as session:
            pair = session.scalars(select(Pair)).one()
            assert pair.execution_status == "vacuous_tests"
            [record] = pair.executions
            assert record.status == "vacuous_tests" and record.reason.endswith("the answer's own run: passed")
            assert ("no assertion" if number == 0 else "every function's body is `return 0`") in record.reason
            correctness = next(score for score in pair.scores if score.criterion == "code_correctness")
            assert correctness.decided_by == "judge" and correctness.score == 8


def test_vacuous_tests_do_not_hide_an_answer_that_crashes(sample_repo, tmp_path, db_url, criteria):
    """A run that crashed with assertion-free tests used to be recorded as 'vacuous_tests', which sent the item to
    the judge; it is a runtime error, so with only passes accepted the item is rejected without a judge call."""
    crashing = "Sum it.\n```python\ndef total(xs):\n    return xs.sum()\n```"
    script = script_with_tester_reply("```python\nprint(total([1, 2, 3]))\n```", criteria)

    def reply(messages, schema):
        return crashing if stage_of(messages) == "answer" else script(messages, schema)

    backend = ScriptedBackend(reply)
    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1,
                      judge={"accept_only_tested": True})
    run(config, backend)
    assert "judge" not in [stage_of(m) for m, _ in backend.calls]
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert pair.status == "rejected"
        assert pair.error == ("gate: no candidate passed its tests (runtime_error), and only a pass can be "
                              "accepted")
        [record] = pair.executions
        assert record.status == "runtime_error" and record.reason.endswith("and the tests are no evidence: the tests hold no assertion")


def test_a_prose_tester_reply_is_the_testers_failure(sample_repo, tmp_path, db_url, criteria):
    """A reply without a code block used to run as the tests, so its prose failed every answer with a
    compile error; now it is the tester's failure, recorded, and no run is charged to the answer."""
    prose = "The function should return the sum of the list, and zero for an empty list."
    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1)
    run(config, ScriptedBackend(script_with_tester_reply(prose, criteria)))
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert pair.error == "tester: reply is prose, not code"
        assert pair.execution_status is None and pair.executions == []


def until_pass_run(sample_repo, tmp_path, db_url, criteria, answers: list[str], **sampling) -> ScriptedBackend:
    """One item, three candidates written one at a time until a pass; the answers in the order they are asked."""
    replies = iter(answers)

    def reply(messages, schema):
        if stage_of(messages) == "answer":
            return next(replies)
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1,
                      sampling={"candidates": 3, "candidates_until_pass": True, **sampling})
    run(config, backend)
    return backend


def test_until_a_pass_a_first_candidate_that_passes_is_the_only_one_written(sample_repo, tmp_path, db_url, criteria):
    backend = until_pass_run(sample_repo, tmp_path, db_url, criteria, [RIGHT, WRONG, WRONG])
    assert [stage_of(m) for m, _ in backend.calls].count("answer") == 1
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert "sum(xs)" in pair.answer and pair.status == "accepted"
        assert [(r.candidate, r.status) for r in pair.executions] == [(0, "passed")]
        assert pair.tokens["answer"]["calls"] == 1 and pair.preferences == []


def test_until_a_pass_later_candidates_are_written_while_none_passed(sample_repo, tmp_path, db_url, criteria):
    backend = until_pass_run(sample_repo, tmp_path, db_url, criteria, [WRONG, "I would rather not.", RIGHT, WRONG])
    stages = [stage_of(m) for m, _ in backend.calls]
    assert stages.count("answer") == 3 and stages.count("tester") == 1  # the first round's tests serve them all
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert "sum(xs)" in pair.answer and pair.status == "accepted"
        assert sorted((r.candidate, r.status, r.chosen) for r in pair.executions) == [
            (0, "failed", False), (2, "passed", True)]  # the refusal was dropped by a gate, never run
        assert pair.tokens["answer"]["calls"] == 3
        assert sorted(p.rejected for p in pair.preferences) == sorted([WRONG, "I would rather not."])


def test_until_a_pass_with_no_pass_every_candidate_is_written_and_the_item_rejected(sample_repo, tmp_path, db_url,
                                                                                   criteria):
    backend = until_pass_run(sample_repo, tmp_path, db_url, criteria, [WRONG] * 4)
    assert [stage_of(m) for m, _ in backend.calls].count("answer") == 3
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert pair.status == "rejected" and pair.error == "gate: every candidate failed its tests"
        assert [r.status for r in pair.executions] == ["failed"] * 3


def test_until_a_pass_a_crash_ends_the_rounds_unless_configured(sample_repo, tmp_path, db_url, criteria):
    """By default only a wrong result (or a timeout, a memory limit) is followed by another candidate: a run that
    crashed with the tests mostly crashes again with the next answer. `answer_again_after` widens it."""
    crashing = "Sum it.\n```python\ndef total(xs):\n    return xs.sum()\n```"
    backend = until_pass_run(sample_repo, tmp_path, db_url, criteria, [crashing, RIGHT, WRONG])
    assert [stage_of(m) for m, _ in backend.calls].count("answer") == 1
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert [r.status for r in pair.executions] == ["runtime_error"] and pair.status == "rejected"
        assert pair.error == "gate: no candidate passed its tests (runtime_error), and only a pass can be accepted"
    url = f"sqlite:///{tmp_path / 'widened.db'}"
    backend = until_pass_run(sample_repo, tmp_path / "widened", url, criteria, [crashing, RIGHT, WRONG],
                             answer_again_after=["failed", "runtime_error"])
    assert [stage_of(m) for m, _ in backend.calls].count("answer") == 2
    with session_factory(open_engine(url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert sorted(r.status for r in pair.executions) == ["passed", "runtime_error"]
        assert pair.status == "accepted" and "sum(xs)" in pair.answer


def test_until_a_pass_needs_execution(sample_repo, tmp_path, db_url):
    with pytest.raises(ValidationError, match="candidates_until_pass is on but execution.enabled is false"):
        campaign(sample_repo, tmp_path, db_url, execution={"enabled": False},
                 sampling={"candidates": 2, "candidates_until_pass": True})


def until_pass_with_a_prose_tester(sample_repo, tmp_path, db_url, criteria, answers: list[str]) -> ScriptedBackend:
    """One item, three candidates until a pass, and a tester that answers in prose (no tests)."""
    replies = iter(answers)
    script = script_with_tester_reply("I would check that total sums the list.", criteria)

    def reply(messages, schema):
        return next(replies) if stage_of(messages) == "answer" else script(messages, schema)

    backend = ScriptedBackend(reply)
    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1,
                      sampling={"candidates": 3, "candidates_until_pass": True})
    run(config, backend)
    return backend


def test_until_a_pass_no_more_candidates_once_the_tester_failed(sample_repo, tmp_path, db_url, criteria):
    """Without tests no candidate can pass: writing the others would only spend answers."""
    backend = until_pass_with_a_prose_tester(sample_repo, tmp_path, db_url, criteria, [WRONG, RIGHT, RIGHT])
    assert [stage_of(m) for m, _ in backend.calls].count("answer") == 1
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert pair.error == "tester: reply is prose, not code" and pair.executions == []


def test_until_a_pass_a_tester_failure_after_a_refused_round_ends_the_item_cleanly(sample_repo, tmp_path, db_url,
                                                                                  criteria):
    """The first candidate is refused (no code, so no tests yet); the tester then fails on the second round: the
    item goes to the judge with no runs (it used to crash with an IndexError) and, untested, is not accepted."""
    backend = until_pass_with_a_prose_tester(sample_repo, tmp_path, db_url, criteria,
                                             ["I would rather not.", RIGHT, RIGHT])
    assert [stage_of(m) for m, _ in backend.calls].count("answer") == 2
    with session_factory(open_engine(db_url))() as session:
        pair = session.scalars(select(Pair)).one()
        assert pair.error == "tester: reply is prose, not code" and pair.executions == []
        assert pair.status == "flagged" and pair.flag_reason == "no passing tests" and "sum(xs)" in pair.answer


def test_a_tester_model_of_its_own_writes_the_tests(sample_repo, tmp_path, db_url, criteria):
    """models.tester: the tests come from the tester's backend, everything else from the generator's."""
    generator = ScriptedBackend(pipeline_script(lambda m: uniform_scores(8, criteria)), name="generator-double")
    tester = ScriptedBackend(pipeline_script(lambda m: uniform_scores(8, criteria)), name="tester-double")
    config = campaign(sample_repo, tmp_path, db_url, budgets={"max_pairs": 1}, concurrency=1)
    asyncio.run(CampaignRunner(config, backends=(generator, generator, None, tester)).run())
    assert [stage_of(m) for m, _ in tester.calls] == ["tester"]
    assert "tester" not in [stage_of(m) for m, _ in generator.calls]
    with session_factory(open_engine(db_url))() as session:
        assert session.scalars(select(Pair)).one().execution_status == "passed"


def test_backends_are_shared_by_roles_of_the_same_model(tmp_path):
    from polyforge.generation.wiring import Backends

    def models(**roles):
        server = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1"}
        return CampaignConfig.model_validate({"sources": [{"path": str(tmp_path)}], "models": {
            role: {**server, "model": name} for role, name in roles.items()}})

    same_as_judge = Backends.from_config(models(generator="small", judge="large", tester="large"))
    assert same_as_judge.tester is same_as_judge.judge and same_as_judge.test_writer is same_as_judge.judge
    default = Backends.from_config(models(generator="small"))
    assert default.tester is None and default.test_writer is default.generator
    own = Backends.from_config(models(generator="small", judge="large", tester="medium"))
    assert own.tester not in (own.generator, own.judge) and len(own.distinct()) == 3
