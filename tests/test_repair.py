"""Repair from the sandbox's feedback: a candidate that fails its tests is shown the run's output and fixed; a fix
that passes is the pair's answer, the fix over the broken answer a repair preference, and the exchange a
multi-turn SFT row."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignRunner
from polyforge.storage import Pair, open_engine, session_factory
from polyforge.training.datasets import repair_conversations, sft_examples
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox

WRONG = "Loop and add.\n```python\ndef total(xs):\n    return len(xs)\n```"
CRASHING = "Sum it.\n```python\ndef total(xs):\n    return xs.sum()\n```"
RIGHT = "Fixed: sum the values, not count them.\n```python\ndef total(xs):\n    return sum(xs)\n```"


def repair_run(sample_repo, tmp_path, db_url, criteria, answers: list[str], fixes: list[str],
               repair_turns: int) -> ScriptedBackend:
    """One item, one candidate; `fixes` are the repairs' replies in the order they are asked."""
    answer_replies, fix_replies = iter(answers), iter(fixes)

    def reply(messages, schema):
        stage = stage_of(messages)
        if stage == "answer":
            return next(answer_replies)
        if stage == "repair":
            return next(fix_replies)
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    raw = {"name": "x", "output_dir": str(tmp_path), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
           "languages": ["Python"], "budgets": {"max_pairs": 1}, "memory": {"enabled": False},
           "coverage": {"classify": False}, "concurrency": 1, "sampling": {"repair_turns": repair_turns}}
    asyncio.run(CampaignRunner(CampaignConfig.model_validate(raw), backends=(backend, backend)).run())
    return backend


def only_pair(db_url: str):
    session = session_factory(open_engine(db_url))()
    return session, session.scalars(select(Pair)).one()


def test_a_failed_answer_is_fixed_from_the_sandboxs_output(sample_repo, tmp_path, db_url, criteria):
    backend = repair_run(sample_repo, tmp_path, db_url, criteria, [WRONG], [RIGHT], repair_turns=2)
    repairs = [messages for messages, _ in backend.calls if stage_of(messages) == "repair"]
    assert len(repairs) == 1  # the fix passed: no second turn
    shown = repairs[0][1]["content"]
    assert "return len(xs)" in shown and "it ended: failed" in shown and "AssertionError" in shown
    session, pair = only_pair(db_url)
    with session:
        assert pair.status == "accepted" and "sum(xs)" in pair.answer
        assert sorted((r.candidate, r.status, r.chosen) for r in pair.executions) == [
            (0, "failed", False), (1, "passed", True)]
        assert pair.tokens["repair"]["calls"] == 1 and pair.tokens["answer"]["calls"] == 1
        (preference,) = pair.preferences
        assert (preference.kind, preference.rejected, preference.chosen) == ("repair", WRONG, pair.answer)
        assert preference.reason.startswith("Run with unit tests, it ended: failed") and "AssertionError" in \
            preference.reason


def test_repairs_stop_at_the_configured_turns(sample_repo, tmp_path, criteria):
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    backend = repair_run(sample_repo, tmp_path, db_url, criteria, [WRONG], [WRONG, WRONG, RIGHT], repair_turns=2)
    assert [stage_of(m) for m, _ in backend.calls].count("repair") == 2
    session, pair = only_pair(db_url)
    with session:
        assert pair.status == "rejected" and [r.status for r in pair.executions] == ["failed"] * 3
        assert pair.preferences == []  # nothing passed: no preference rests on evidence


def test_a_crash_is_repaired_too_and_no_repair_without_turns(sample_repo, tmp_path, criteria):
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    backend = repair_run(sample_repo, tmp_path, db_url, criteria, [CRASHING], [RIGHT], repair_turns=1)
    repairs = [messages for messages, _ in backend.calls if stage_of(messages) == "repair"]
    assert len(repairs) == 1 and "runtime_error" in repairs[0][1]["content"] and "AttributeError" in \
        repairs[0][1]["content"]
    session, pair = only_pair(db_url)
    with session:
        assert pair.status == "accepted" and "sum(xs)" in pair.answer
    url = f"sqlite:///{tmp_path / 'none.db'}"
    backend = repair_run(sample_repo, tmp_path / "none", url, criteria, [WRONG], [RIGHT], repair_turns=0)
    assert "repair" not in [stage_of(m) for m, _ in backend.calls]
    session, pair = only_pair(url)
    with session:
        assert pair.status == "rejected" and pair.tokens["repair"]["calls"] == 0


def test_the_exchange_becomes_a_multi_turn_sft_row(sample_repo, tmp_path, criteria):
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    repair_run(sample_repo, tmp_path, db_url, criteria, [WRONG], [RIGHT], repair_turns=1)
    with session_factory(open_engine(db_url))() as session:
        (row,) = repair_conversations(session)
        roles = [message["role"] for message in row["messages"]]
        assert roles == ["user", "assistant", "user", "assistant"]
        task, broken, feedback, fix = (message["content"] for message in row["messages"])
        assert broken == WRONG and "sum(xs)" in fix and "AssertionError" in feedback and task.startswith("Write")
        with_repairs = sft_examples(session, min_accepted=1, repairs=True)
        without = sft_examples(session, min_accepted=1)
        assert len(with_repairs.examples) == len(without.examples) + 1 == 2
        assert "1 repair conversation(s)" in with_repairs.note


def test_repair_needs_execution(sample_repo, tmp_path):
    with pytest.raises(ValidationError, match="repair_turns is above 0 but execution.enabled is false"):
        CampaignConfig.model_validate({"name": "x", "output_dir": str(tmp_path), "sources": [{"path": str(sample_repo)}],
                                       "execution": {"enabled": False}, "sampling": {"repair_turns": 1}})
