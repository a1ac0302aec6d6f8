"""Campaign pairs carry sandbox verdicts: the tester writes tests, the sandbox runs every candidate,
the judge sees the result, a passing candidate beats a failing one, and the verdict is stored."""

from __future__ import annotations

import asyncio

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
