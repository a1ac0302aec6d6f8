"""Verified by default: with execution on, only an answer that passed tests that are evidence is accepted; a
language the sandbox cannot run is flagged for a person; training refuses pairs nobody accepted unless asked;
a DPO preference rests on execution unless the config asks for judge scores too."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from factories import campaign_with_snippets, pair
from polyforge import agents
from polyforge.agents import JudgeAgent, LanguageAgent, StageOutput
from polyforge.agents.judge import UNTESTABLE, UNTESTED
from polyforge.cli import app
from polyforge.config import CampaignConfig, ConfigError, JudgeConfig, StageSampling, load_config
from polyforge.generation.campaign import CampaignRunner
from polyforge.generation.item_graph import build_item_graph, run_item
from polyforge.generation.item_steps import ItemSettings
from polyforge.generation.item_state import WorkItem
from polyforge.generation.recorder import preferences
from polyforge.sandbox import Execution, Status
from polyforge.sandbox.pool import ExecutionPool
from polyforge.storage import Pair, Preference, open_engine, session_factory
from polyforge.terms import PairStatus, PreferenceKind
from polyforge.training.datasets import TooFewAccepted, dpo_examples, sft_examples
from sandbox_support import requires_sandbox

WRONG = "Count them.\n```python\ndef total(xs):\n    return len(xs)\n```"
RIGHT = "Sum with the built-in.\n```python\ndef total(xs):\n    return sum(xs)\n```"


def campaign_config(sample_repo, out, db_url, **overrides) -> CampaignConfig:
    raw = {"name": "x", "output_dir": str(out), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
           "languages": ["Python"], "budgets": {"max_pairs": 1}, "memory": {"enabled": False},
           "coverage": {"classify": False}, "concurrency": 1, **overrides}
    return CampaignConfig.model_validate(raw)


# --- the config -----------------------------------------------------------------------------------------------

def test_acceptance_needs_passing_tests_by_default_whenever_tests_run(tmp_path):
    sources = [{"path": str(tmp_path)}]
    assert CampaignConfig.model_validate({"sources": sources}).judge.accept_only_tested is True
    off = CampaignConfig.model_validate({"sources": sources, "execution": {"enabled": False}})
    assert off.judge.accept_only_tested is False  # the judge alone decides, as the user turned tests off
    chosen = CampaignConfig.model_validate({"sources": sources, "judge": {"accept_only_tested": False}})
    assert chosen.judge.accept_only_tested is False


def test_accepting_only_tested_pairs_without_tests_is_refused_in_words(tmp_path):
    path = tmp_path / "campaign.yaml"
    path.write_text("sources: [{path: .}]\nexecution: {enabled: false}\njudge: {accept_only_tested: true}\n")
    with pytest.raises(ConfigError, match="accept_only_tested is true but execution.enabled is false"):
        load_config(path)


# --- a campaign: what its pairs become ---------------------------------------------------------------------

@requires_sandbox
def test_an_answer_that_fails_its_tests_is_never_accepted_by_default(sample_repo, tmp_path, db_url, criteria):
    """The judge gives the wrong answer full marks and the failed-tests gate is off: the default still refuses it."""
    def reply(messages, schema):
        return WRONG if stage_of(messages) == "answer" else \
            pipeline_script(lambda m: uniform_scores(10, criteria))(messages, schema)

    config = campaign_config(sample_repo, tmp_path, db_url, generation={"gates": {"failed_tests": False}},
                             judge={"max_sandbox_gap": 10})
    backend = ScriptedBackend(reply)
    asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    with session_factory(open_engine(db_url))() as session:
        stored = session.scalars(select(Pair)).one()
        assert stored.execution_status == "failed" and stored.final_score is not None
        assert stored.status == "flagged" and UNTESTED in stored.flag_reason


@requires_sandbox
def test_a_passing_answer_is_accepted_by_default(sample_repo, tmp_path, db_url, criteria):
    def reply(messages, schema):
        return RIGHT if stage_of(messages) == "answer" else \
            pipeline_script(lambda m: uniform_scores(9, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    asyncio.run(CampaignRunner(campaign_config(sample_repo, tmp_path, db_url), backends=(backend, backend)).run())
    with session_factory(open_engine(db_url))() as session:
        stored = session.scalars(select(Pair)).one()
        assert (stored.status, stored.execution_status) == ("accepted", "passed")


# --- a language the sandbox cannot run --------------------------------------------------------------------------

JULIA_ITEM = WorkItem(snippet_id=1, language="Julia", path="sum.jl", code="function total(xs)\n  sum(xs)\nend\n",
                      seed=3)


def julia_item(checklist, criteria, **judge_settings):
    """One Julia item (a language the sandbox has no toolchain row for) whose answer the judge loves."""
    def reply(messages, schema):
        stage = stage_of(messages)
        if stage == "tester":
            raise AssertionError("no tests are written for a language the sandbox cannot run")
        if stage == "answer":
            return "```julia\nfunction total(xs)\n  return sum(xs)\nend\n```"
        return pipeline_script(lambda m: uniform_scores(10, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    agent = LanguageAgent("Julia", backend, StageSampling(), StageSampling())
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0),
                       JudgeConfig(accept_only_tested=True, **judge_settings))
    with ExecutionPool(workers=1) as pool:
        graph = build_item_graph({"Julia": agent}, judge, ItemSettings(), tester=agents.TesterAgent(backend, StageSampling()),
                                 executor=pool)
        return asyncio.run(run_item(graph, JULIA_ITEM))


def test_a_language_the_sandbox_cannot_run_is_flagged_untestable(checklist, criteria):
    state = julia_item(checklist, criteria)
    assert state.untestable and state.executions == []
    assert state.status is PairStatus.flagged and state.verdict.flag_reasons == [UNTESTABLE]


def test_the_config_can_let_the_judge_decide_untestable_languages(checklist, criteria):
    state = julia_item(checklist, criteria, when_untestable="accept_on_judge_score")
    assert state.status is PairStatus.accepted and state.verdict.flag_reasons == []


# --- DPO preferences --------------------------------------------------------------------------------------------

def judged_state(executions: list[Status], scores: list[float]):
    """A finished item's state with one candidate per entry; the chosen one is the first that passed, else the
    highest scored (as the judge step picks)."""
    from polyforge.agents import Verdict
    from polyforge.generation.item_steps import best_candidate
    from polyforge.generation.item_state import ItemState

    candidates = [StageOutput(text=f"answer {index}", template="answer", template_hash="h")
                  for index in range(len(scores))]
    verdicts = [Verdict(route=PairStatus.accepted, final_score=score) for score in scores]
    runs = [Execution(language="Python", status=status, exit_code=0, stdout="", stderr="", seconds=0.1)
            for status in executions]
    best = best_candidate(verdicts, runs)
    return ItemState(item=JULIA_ITEM, candidates=candidates, verdicts=verdicts, executions=runs,
                     answer=candidates[best], verdict=verdicts[best], status=PairStatus.accepted)


def test_a_preference_rests_on_execution_chosen_passed_rejected_did_not():
    state = judged_state([Status.FAILED, Status.PASSED, Status.PASSED], [9.0, 8.0, 7.0])
    [beaten] = preferences(state)  # the passing lower-scored one is no preference without judge scores
    assert beaten.candidate.text == "answer 0" and beaten.kind is PreferenceKind.execution
    both = {b.candidate.text: b.kind for b in preferences(state, from_scores=True)}
    assert both == {"answer 0": PreferenceKind.execution, "answer 2": PreferenceKind.judge}


def test_no_preference_from_execution_when_the_chosen_answer_did_not_pass():
    state = judged_state([Status.FAILED, Status.FAILED], [9.0, 6.0])
    assert preferences(state) == []
    [beaten] = preferences(state, from_scores=True)
    assert beaten.kind is PreferenceKind.judge and beaten.candidate.text == "answer 1"


# --- training -----------------------------------------------------------------------------------------------------

@pytest.fixture
def judged_campaign(tmp_path):
    """A campaign with 2 accepted, 3 rejected and 1 flagged pair, and one preference of each kind."""
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign, rows = campaign_with_snippets(session, 6)
        statuses = ["accepted", "accepted", "rejected", "rejected", "rejected", "flagged"]
        pairs = [pair(campaign, row, "Python", status, f"Task {index}.") for index, (row, status)
                 in enumerate(zip(rows, statuses))]
        pairs[0].preferences = [Preference(prompt="Task 0.", chosen="good", rejected="bad", chosen_score=8.0,
                                           rejected_score=None, reason="passed its tests; ...", kind=kind)
                                for kind in (PreferenceKind.execution, PreferenceKind.judge)]
        session.add_all(pairs)
        session.commit()
        campaign_id = campaign.id
    engine.dispose()
    return url, campaign_id


def test_training_refuses_a_campaign_with_too_few_accepted_pairs(judged_campaign):
    url, campaign_id = judged_campaign
    engine = open_engine(url)
    with session_factory(engine)() as session:
        with pytest.raises(TooFewAccepted, match="2 accepted pair.*include_unaccepted"):
            sft_examples(session, campaign_id, min_accepted=4)
        accepted = sft_examples(session, campaign_id, min_accepted=2)
        assert [example["status"] for example in accepted.examples] == ["accepted", "accepted"]
        everything = sft_examples(session, campaign_id, min_accepted=4, include_unaccepted=True)
        assert len(everything.examples) == 6 and "accepted or not (2 accepted)" in everything.note
        kinds = sorted(row["kind"] for row in dpo_examples(session, campaign_id))
        assert kinds == ["execution", "judge"]  # stored kinds are labelled on every row
    engine.dispose()


def test_train_command_says_why_it_will_not_train(judged_campaign, tmp_path):
    url, campaign_id = judged_campaign
    result = CliRunner().invoke(app, ["train", url, "--out", str(tmp_path / "train"), "--campaign", str(campaign_id)])
    assert result.exit_code == 2, result.output
    assert "2 accepted pair(s), fewer than the 4 SFT needs" in result.output
    assert "--include-unaccepted" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["train", url, "--out", str(tmp_path / "train"), "--campaign", "99"])
    assert missing.exit_code == 2 and "no campaign 99 in this database" in missing.output


def test_execution_preferences_are_labelled_in_the_dpo_export(judged_campaign, tmp_path):
    url, _ = judged_campaign
    out = tmp_path / "dpo.jsonl"
    result = CliRunner().invoke(app, ["export", url, "--format", "dpo-jsonl", "--out", str(out),
                                      "--status", "accepted"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(row["kind"] for row in rows) == ["execution", "judge"]
