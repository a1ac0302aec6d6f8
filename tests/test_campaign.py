"""A whole campaign with scripted backends: storage, budgets, interleaving and resume."""

import asyncio
from collections import Counter
import itertools
import json

import pytest
from sqlalchemy import func, select

from doubles import CLASSIFICATION, ScriptedBackend, judged_language, pipeline_script, stage_of, uniform_scores
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignRunner
from polyforge.storage import Campaign, JudgeScore, Pair, Snippet, open_engine, session_factory


def make_config(sample_repo, out, db_url, **overrides):
    raw = {"name": "t", "output_dir": str(out), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
           "budgets": {"max_pairs": 8}, "concurrency": 3,
           "memory": {"enabled": False}, "execution": {"enabled": False}, **overrides}
    return CampaignConfig.model_validate(raw)


def scores_by_language(criteria):
    """Scripted judge: Python pairs score 9, Rust 2, the rest 5."""
    def judge(messages):
        language = judged_language(messages)
        value = 9 if language == "Python" else 2 if language == "Rust" else 5
        return uniform_scores(value, criteria)
    return judge


def run(config, backend):
    return asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())


def open_session(db_url):
    return session_factory(open_engine(db_url))()


def test_campaign_stores_pairs_scores_and_provenance(sample_repo, tmp_path, db_url, criteria, checklist):
    backend = ScriptedBackend(pipeline_script(scores_by_language(criteria)))
    result = run(make_config(sample_repo, tmp_path, db_url), backend)
    assert result.new_pairs == 8
    with open_session(db_url) as session:
        pairs = session.scalars(select(Pair)).all()
        assert len(pairs) == 8
        # interleaved across languages: a budget of 8 reaches all seven
        assert len({p.language for p in pairs}) == 7
        for pair in pairs:
            assert len(pair.scores) == 9
            assert pair.model == "scripted-double" and pair.checklist_hash == checklist.content_hash
            assert set(pair.templates) == {"instruction", "classify", "answer", "judge"}
            assert (pair.topic, pair.difficulty) == ("algorithms", "easy")
            assert pair.tokens["judge"]["calls"] == 1 and pair.total_tokens > 0
            expected = {"Python": "accepted", "Rust": "rejected"}.get(pair.language, "flagged")
            assert pair.status == expected
        assert session.scalar(select(Campaign.status)) == "finished"
        assert session.scalar(select(func.count()).select_from(JudgeScore)) == 72


def test_second_run_resumes_without_redoing_items(sample_repo, tmp_path, db_url, criteria):
    backend = ScriptedBackend(pipeline_script(scores_by_language(criteria)))
    run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 5}), backend)
    calls_first = len(backend.calls)
    result = run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 12}), backend)
    assert result.new_pairs == 7
    assert len(backend.calls) - calls_first == 7 * 4  # instruction, classify, answer, judge
    with open_session(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
        assert session.scalar(select(func.count()).select_from(Snippet)) == 20  # Java's Matrix fits in one class snippet
        snippet_ids = session.scalars(select(Pair.snippet_id)).all()
        assert len(snippet_ids) == len(set(snippet_ids)) == 12


def test_failures_are_recorded_per_item_and_the_campaign_finishes(sample_repo, tmp_path, db_url, criteria):
    def reply(messages, schema):
        if stage_of(messages) == "answer" and "Go" in messages[0]["content"]:
            from polyforge.llm import LLMError
            raise LLMError("HTTP 503 from the server")
        return pipeline_script(scores_by_language(criteria))(messages, schema)

    run(make_config(sample_repo, tmp_path, db_url, languages=["Go", "C"], budgets={"max_pairs": 6}), ScriptedBackend(reply))
    with open_session(db_url) as session:
        failed = session.scalars(select(Pair).where(Pair.status == "failed")).all()
        assert len(failed) == 3 and {p.language for p in failed} == {"Go"}
        assert all(p.error == "answer: HTTP 503 from the server" and p.scores == [] for p in failed)


def test_token_budget_stops_scheduling(sample_repo, tmp_path, db_url, criteria):
    backend = ScriptedBackend(pipeline_script(scores_by_language(criteria)))
    result = run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 20, "max_tokens": 1}, concurrency=1),
                 backend)
    assert result.new_pairs == 1 and "token budget" in result.stopped_by


def test_rejection_sampling_stores_preferences(sample_repo, tmp_path, db_url, criteria):
    answers = itertools.cycle(["No idea.", "```python\ndef total(xs):\n    return sum(xs)\n```"])

    def reply(messages, schema):
        stage = stage_of(messages)
        if stage == "answer":
            return next(answers)
        if stage == "judge":
            return uniform_scores(8 if "```" in messages[1]["content"] else 3, criteria)
        return CLASSIFICATION if stage == "classify" else "Sum a list of integers."

    # The judge, not the code-block gate, is what this test watches: both candidates must reach it.
    run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 4}, concurrency=1,
                    sampling={"candidates": 2}, generation={"gates": {"code_block": False}},
                    judge={"preferences_from_scores": True}), ScriptedBackend(reply))
    with open_session(db_url) as session:
        pairs = session.scalars(select(Pair)).all()
        assert len(pairs) == 4
        for pair in pairs:
            assert "```" in pair.answer and pair.status == "accepted"
            assert pair.tokens["answer"]["calls"] == 2 and pair.tokens["judge"]["calls"] == 2
            [preference] = pair.preferences
            assert preference.rejected == "No idea." and preference.chosen == pair.answer
            # code_exists is the parser's: the Python block parses only in Python pairs; "No idea." has no code
            chosen = (8 * 8 + (10 if pair.language == "Python" else 1)) / 9
            assert preference.prompt == pair.instruction
            assert preference.reason == f"judge score {chosen:.2f} vs {(3 * 8 + 1) / 9:.2f}"
            assert preference.kind == "judge"  # no tests ran: the judge's scores alone tell them apart


def test_ensemble_samples_and_overrides_are_stored_and_summarized(sample_repo, tmp_path, db_url, criteria):
    from polyforge.cli.common import console
    from polyforge.cli.views import print_summary
    from polyforge.storage.report import criterion_distributions, flag_reason_counts

    # Python answers in every language, let past the code-block gate: the parser rule decides code_exists.
    generator = ScriptedBackend(pipeline_script(lambda m: "unused", answer_language="Python"))
    first = ScriptedBackend(lambda m, s: uniform_scores(9, criteria), name="judge-a")
    second = ScriptedBackend(lambda m, s: uniform_scores(4, criteria), name="judge-b")
    config = make_config(sample_repo, tmp_path, db_url, languages=["Python", "Rust"], budgets={"max_pairs": 4},
                         judge={"samples": 2, "max_judge_gap": 2}, sampling={"judge": {"temperature": 0.7}},
                         generation={"gates": {"code_block": False}})
    result = asyncio.run(CampaignRunner(config, backends=(generator, first, second)).run())
    assert len(first.calls) == len(second.calls) == 4 * 2
    with open_session(db_url) as session:
        pairs = session.scalars(select(Pair)).all()
        for pair in pairs:
            assert pair.judge_model == "judge-a + judge-b" and pair.tokens["judge"]["calls"] == 4
            assert [s["judge"] for s in pair.judge_samples] == [0, 0, 1, 1]
            assert pair.status == "flagged" and "disagreement between judges" in pair.flag_reason
            scores = {score.criterion: score for score in pair.scores}
            assert scores["qa_consistency"].score == pytest.approx(6.5)
            assert scores["qa_consistency"].spread == pytest.approx(2.5) and scores["qa_consistency"].decided_by == "judge"
            # the answer's fenced block is Python: it parses for Python pairs and not for Rust ones
            assert scores["code_exists"].decided_by == "parser"
            assert scores["code_exists"].score == (10 if pair.language == "Python" else 1)
        distributions = {d.criterion: d for d in criterion_distributions(session, result.campaign_id)}
        assert list(distributions) == criteria
        assert distributions["code_exists"].overridden == 4 and distributions["code_exists"].std == pytest.approx(4.5)
        assert distributions["code_exists"].histogram == {1: 2, 10: 2}
        assert distributions["qa_relevance"].mean == pytest.approx(6.5) and distributions["qa_relevance"].count == 4
        assert flag_reason_counts(session, result.campaign_id)["disagreement between judges"] == 4
    with console.capture() as captured:
        print_summary(result.database_url, result.campaign_id)
    output = captured.get()
    assert "judge scores per criterion" in output and "histogram 1..10" in output
    assert "code_exists" in output and "disagreement between judges 4" in output


def test_steering_spreads_items_over_the_coverage_matrix(sample_repo, tmp_path, db_url, criteria):
    """The instructor is asked for the least covered cell; the classifier's labels fill the matrix."""
    labels = itertools.cycle([("algorithms", "easy"), ("strings and text", "medium"), ("concurrency", "hard")])

    def reply(messages, schema):
        if stage_of(messages) == "classify":
            topic, difficulty = next(labels)
            return json.dumps({"topic": topic, "difficulty": difficulty})
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    result = run(make_config(sample_repo, tmp_path, db_url, languages=["Python"], budgets={"max_pairs": 3},
                             concurrency=1), backend)
    instruction_prompts = [m[1]["content"] for m, _ in backend.calls if stage_of(m) == "instruction"]
    # empty matrix: first the first cell; then cells already labelled are avoided
    assert "make it a easy task about algorithms" in instruction_prompts[0]
    assert "about algorithms" not in instruction_prompts[1]
    assert result.coverage.counts == {("Python", "algorithms", "easy"): 1, ("Python", "strings and text", "medium"): 1,
                                      ("Python", "concurrency", "hard"): 1}
    with open_session(db_url) as session:
        assert sorted(session.scalars(select(Pair.topic))) == ["algorithms", "concurrency", "strings and text"]


def test_template_and_checklist_versions_are_stored_once(sample_repo, tmp_path, db_url, criteria, checklist):
    from polyforge.storage import ChecklistVersion, PromptVersion

    backend = ScriptedBackend(pipeline_script(scores_by_language(criteria)))
    run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 2}), backend)
    run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 4}), backend)
    with open_session(db_url) as session:
        prompts = {v.name: v for v in session.scalars(select(PromptVersion))}
        [stored_checklist] = session.scalars(select(ChecklistVersion)).all()
        for pair in session.scalars(select(Pair)):
            for name, content_hash in pair.templates.items():
                assert prompts[name].content_hash == content_hash  # every cited hash resolves to its text
        assert "{% block user %}" in prompts["instruction"].content
        assert stored_checklist.content_hash == checklist.content_hash
        assert "qa_consistency" in stored_checklist.content


def test_generation_modes_follow_the_configured_mix():
    from polyforge.generation.scheduler import pick_mode

    modes = {"snippet": 0.5, "answer_first": 0.3, "evolve": 0.2}
    drawn = [pick_mode(modes, seed) for seed in range(2000)]
    assert abs(drawn.count("snippet") / 2000 - 0.5) < 0.05
    assert abs(drawn.count("evolve") / 2000 - 0.2) < 0.05
    assert drawn == [pick_mode(modes, seed) for seed in range(2000)]  # reproducible per item seed
    assert {pick_mode({"snippet": 1.0}, seed) for seed in range(50)} == {"snippet"}


def test_a_mix_without_weight_is_a_config_error(tmp_path):
    from polyforge.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text("sources: [{path: .}]\ngeneration: {modes: {snippet: 0}}\n")
    with pytest.raises(ConfigError, match="generation.modes|positive total"):
        load_config(path)
    path.write_text("sources: [{path: .}]\ngeneration: {modes: {copy_paste: 1}}\n")
    with pytest.raises(ConfigError, match="generation.modes.copy_paste"):
        load_config(path)


def test_a_resumed_run_keeps_the_per_language_cap(sample_repo, tmp_path, db_url, criteria):
    backend = ScriptedBackend(pipeline_script(scores_by_language(criteria)))
    run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 10, "max_snippets_per_language": 2}),
        backend)
    run(make_config(sample_repo, tmp_path, db_url, budgets={"max_pairs": 20, "max_snippets_per_language": 2}),
        backend)
    with open_session(db_url) as session:
        per_language = Counter(session.scalars(select(Pair.language)))
    assert max(per_language.values()) == 2 and len(per_language) == 7
