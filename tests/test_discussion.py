"""Cross-lingual discussion: the subgraph's turns, transfers becoming pairs, storage and the synergy figures."""

import asyncio
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from doubles import ScriptedBackend, judged_language, pipeline_script, stage_of, uniform_scores
from factories import campaign_with_snippets, pair
from polyforge.agents import JudgeAgent, LanguageAgent
from polyforge.cli import app
from polyforge.config import CampaignConfig, ConfigError, JudgeConfig, StageSampling, load_config
from polyforge.generation.item_graph import build_item_graph, run_item
from polyforge.generation.item_steps import ItemSettings
from polyforge.generation.item_state import WorkItem
from polyforge.generation.recorder import stage_completions
from polyforge.generation.campaign import CampaignRunner
from polyforge.generation.scheduler import pick_peers
from polyforge.storage import Discussion, Pair, PromptVersion, open_engine, session_factory
from polyforge.export import ExportFilter, iter_sft_records
from polyforge.storage.synergy import synergy

ITEM = WorkItem(snippet_id=1, language="Python", path="a.py", code="def total(xs):\n    return sum(xs)\n", seed=3,
                peers=("Rust", "Go"))


def run_discussed(script, checklist, item=ITEM, rounds=1, transfer=True):
    backend = ScriptedBackend(script)
    agents = {language: LanguageAgent(language, backend, StageSampling(), StageSampling())
              for language in ("Python", "Rust", "Go")}
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0), JudgeConfig(max_retries=1))
    graph = build_item_graph(agents, judge, ItemSettings(discussion_rounds=rounds, transfer=transfer))
    return asyncio.run(run_item(graph, item)), backend


def test_two_rounds_of_critique_and_revision_then_transfers(checklist, criteria):
    state, backend = run_discussed(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist, rounds=2)
    turns = [(t.round, t.language, t.role) for t in state.discussion]
    assert turns == [
        (0, "Python", "draft"),
        (1, "Rust", "critique"), (1, "Go", "critique"), (1, "Python", "revision"),
        (2, "Rust", "critique"), (2, "Go", "critique"), (2, "Python", "revision"),
        (2, "Rust", "transfer"), (2, "Go", "transfer"),
    ]
    # The answer is written for the last revision, not the draft.
    assert state.instruction is state.discussion[6].output
    answer_prompt = next(m for m, _ in backend.calls if stage_of(m) == "answer")[1]["content"]
    assert "an empty list sums to 0" in answer_prompt
    # The proposer revises with every peer's critique of that round, named by language.
    revise_prompt = next(m for m, _ in backend.calls if stage_of(m) == "revise")[1]["content"]
    assert "(Rust) State what an empty list returns." in revise_prompt and "(Go)" in revise_prompt
    # Each peer carries the revised task over into its own language.
    assert {language: task.text.split(":")[0] for language, task in state.transfers.items()} == {
        "Rust": "In Rust", "Go": "In Go"}
    transfer_prompt = next(m for m, _ in backend.calls if stage_of(m) == "transfer")[1]["content"]
    assert "A Python teacher" in transfer_prompt and "an empty list sums to 0" in transfer_prompt
    assert state.status == "accepted"
    spent = stage_completions(state)
    assert len(spent["instruction"]) == 1 and len(spent["discussion"]) == 6  # transfers are the new pairs' cost


def test_without_transfer_the_discussion_ends_at_the_last_revision(checklist, criteria):
    state, backend = run_discussed(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist, transfer=False)
    assert [t.role for t in state.discussion] == ["draft", "critique", "critique", "revision"]
    assert state.transfers == {} and not any(stage_of(m) == "transfer" for m, _ in backend.calls)


def test_an_item_without_peers_is_not_discussed(checklist, criteria):
    item = replace(ITEM, peers=())
    state, backend = run_discussed(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist, item=item)
    assert state.discussion == []
    assert {stage_of(m) for m, _ in backend.calls} == {"instruction", "answer", "judge"}


def test_a_failed_critique_fails_the_item_and_keeps_the_transcript(checklist, criteria):
    state, backend = run_discussed(pipeline_script(lambda m: uniform_scores(9, criteria), fail_stage="critique"),
                                   checklist)
    assert state.status == "failed"
    assert state.error == "discussion: critique: simulated critique failure"
    assert [t.role for t in state.discussion] == ["draft"]
    assert not any(stage_of(m) in ("answer", "revise") for m, _ in backend.calls)


def test_a_transfer_item_answers_the_given_task_without_writing_one(checklist, criteria):
    discussed, _ = run_discussed(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist)
    task = discussed.transfers["Rust"]
    item = WorkItem(snippet_id=1, language="Rust", path="a.py", code="", seed=5, mode="transfer", instruction=task)
    state, backend = run_discussed(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist, item=item)
    assert state.instruction is task and state.status == "accepted"
    assert [stage_of(m) for m, _ in backend.calls] == ["answer", "judge"]
    assert "Rust" in backend.calls[0][0][0]["content"]  # answered by the Rust agent


def test_peers_are_drawn_by_share_from_other_languages():
    pool = ["Go", "Python", "Rust", "Shell"]
    drawn = [pick_peers("Python", pool, 1.0, 2, seed) for seed in range(50)]
    assert all(len(peers) == 2 and "Python" not in peers and len(set(peers)) == 2 for peers in drawn)
    assert drawn == [pick_peers("Python", pool, 1.0, 2, seed) for seed in range(50)]  # reproducible
    assert len({tuple(peers) for peers in drawn}) > 3  # and varied
    assert pick_peers("Python", pool, 0.0, 2, 1) == []
    assert pick_peers("Python", ["Python"], 1.0, 2, 1) == []
    half = sum(bool(pick_peers("Go", pool, 0.5, 2, seed)) for seed in range(400))
    assert 150 < half < 250


def test_transfers_go_to_the_languages_with_the_fewest_pairs():
    pool = ["Go", "Python", "Rust", "Shell"]
    tally = Counter({"Go": 5, "Rust": 1})
    picks = [pick_peers("Python", pool, 1.0, 1, seed, tally) for seed in range(5)]
    assert picks[0] == ["Shell"]  # the only language without pairs
    assert sorted(p for (p,) in picks[1:]) == ["Rust", "Rust", "Shell", "Shell"]  # then they take turns
    assert tally == Counter({"Go": 5, "Rust": 3, "Shell": 3})  # Go, with the most, is never drawn


def campaign_config(sample_repo, tmp_path, db_url, **discussion):
    return CampaignConfig.model_validate({
        "name": "talk", "output_dir": str(tmp_path), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
        "languages": ["Python", "Go", "Rust"], "budgets": {"max_pairs": 6}, "concurrency": 2,
        "memory": {"enabled": False}, "execution": {"enabled": False},
        "generation": {"discussion": {"share": 1.0, "peers": 1, "rounds": 1, **discussion}},
    })


def judge_by_language(criteria):
    """Python pairs score 9 (accepted), Go 9, Rust 2 (rejected)."""
    return lambda messages: uniform_scores(2 if judged_language(messages) == "Rust" else 9, criteria)


def test_a_campaign_stores_discussions_and_transfers_within_the_pair_budget(sample_repo, tmp_path, db_url, criteria):
    config = campaign_config(sample_repo, tmp_path, db_url)
    backend = ScriptedBackend(pipeline_script(judge_by_language(criteria)))
    result = asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())

    # Each item reserves a pair for its transfer: 3 discussed items + 3 transfers fill the budget of 6.
    assert result.new_pairs == 6 and result.stopped_by == "pair budget (6) reached"
    engine = open_engine(db_url)
    with session_factory(engine)() as session:
        pairs = session.scalars(select(Pair).order_by(Pair.id)).all()
        assert sorted(p.origin for p in pairs) == ["discussion"] * 3 + ["transfer"] * 3
        for proposed in (p for p in pairs if p.origin == "discussion"):
            discussion = proposed.discussion
            assert [(t.position, t.role) for t in discussion.turns] == [
                (0, "draft"), (1, "critique"), (2, "revision"), (3, "transfer")]
            assert discussion.proposer_language == proposed.language and discussion.rounds == 1
            (peer,) = discussion.peer_languages
            assert peer != proposed.language and {t.language for t in discussion.turns} == {peer, proposed.language}
            (transferred,) = [p for p in discussion.pairs if p.origin == "transfer"]
            assert transferred.language == peer and transferred.snippet_id == proposed.snippet_id
            assert transferred.instruction == discussion.turns[3].text
            assert transferred.sampling["mode"] == "transfer" and "transfer" in transferred.templates
            assert {"instruction", "critique", "revise", "transfer"} <= set(proposed.templates)
            assert proposed.tokens["discussion"]["calls"] == 2  # the critique and the revision
        stored_templates = set(session.scalars(select(PromptVersion.name)))
        assert {"critique", "revise", "transfer"} <= stored_templates
        figures = synergy(session, pairs[0].campaign_id)
        exported = list(iter_sft_records(session, ExportFilter(("accepted", "rejected"), origins=("transfer",))))
        assert sorted(r["pair_id"] for r in exported) == [p.id for p in pairs if p.origin == "transfer"]
        assert {r["origin"] for r in exported} == {"transfer"}
    engine.dispose()

    rust = [p for p in pairs if p.language == "Rust"]
    assert figures.discussions == 3
    assert {row.origin: row.pairs for row in figures.origins} == {"single": 0, "discussion": 3, "transfer": 3}
    assert sum(row.accepted for row in figures.origins) == sum(p.status == "accepted" for p in pairs)
    assert all(p.status == "rejected" for p in rust)
    assert sum(pairs for pairs, _ in figures.transfers.values()) == 3

    report = CliRunner().invoke(app, ["report", db_url])
    assert report.exit_code == 0, report.output
    for title in ("pairs that came from discussion (3 discussions)", "synergy lift", "synergy per language",
                  "coverage of campaign"):
        assert title in report.output
    missing = CliRunner().invoke(app, ["report", db_url, "--campaign", "99"])
    assert missing.exit_code != 0 and "no campaign 99" in missing.output

    # The same config again: the budget is spent, nothing is redone.
    again = asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    assert again.new_pairs == 0


def test_unknown_peer_languages_are_a_config_error(sample_repo, tmp_path):
    path = tmp_path / "talk.yaml"
    path.write_text(f"sources: [{{path: {sample_repo}}}]\n"
                    "generation: {discussion: {share: 1, peer_languages: [Python, Klingon]}}\n")
    with pytest.raises(ConfigError, match=r"generation\.discussion.*Klingon"):
        load_config(path)  # before any ingest or model work
    config = campaign_config(sample_repo, tmp_path, None, peer_languages=["python", "c++", "Python"])
    assert config.generation.discussion.peer_languages == ["C++", "Python"]
    assert campaign_config(sample_repo, tmp_path, None).generation.discussion.peer_languages is None


def test_peers_may_be_languages_without_snippets(sample_repo, tmp_path, criteria):
    """Transfer into a language the repository does not have: its agent still gets pairs."""
    config = campaign_config(sample_repo, tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}",
                             peer_languages=["Kotlin"])
    backend = ScriptedBackend(pipeline_script(judge_by_language(criteria)))
    asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    engine = open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with session_factory(engine)() as session:
        transferred = session.scalars(select(Pair).where(Pair.origin == "transfer")).all()
        assert len(transferred) == 3 and {p.language for p in transferred} == {"Kotlin"}
        assert all(p.status == "accepted" for p in transferred)
    engine.dispose()


def test_synergy_figures_follow_their_definitions(db_url):
    """Hand-made pairs with known origins and statuses: every figure computed by hand."""
    engine = open_engine(db_url)
    with session_factory(engine)() as session:
        campaign, snippets = campaign_with_snippets(session, 6)
        talk = Discussion(campaign_id=campaign.id, proposer_language="Python", peer_languages=["Rust"], rounds=1)

        def made(snippet_row, language, status, origin="single", discussion=None):
            return pair(campaign, snippet_row, language, status, origin=origin, discussion=discussion,
                        total_tokens=100 if origin == "single" else 300)

        session.add_all([
            # single-agent: 4 judged, 1 accepted (25%); the failed one is not judged
            made(snippets[0], "Python", "accepted"), made(snippets[1], "Python", "rejected"),
            made(snippets[2], "Rust", "flagged"), made(snippets[3], "Rust", "rejected"),
            made(snippets[4], "Rust", "failed"),
            # one discussion: the Python proposer's pair accepted, its Rust transfer accepted
            made(snippets[5], "Python", "accepted", "discussion", talk),
            made(snippets[5], "Rust", "accepted", "transfer", talk),
        ])
        session.commit()
        figures = synergy(session, campaign.id)
    engine.dispose()

    rates = {row.origin: (row.pairs, row.judged, row.accepted, row.acceptance_rate) for row in figures.origins}
    assert rates == {"single": (5, 4, 1, 0.25), "discussion": (1, 1, 1, 1.0), "transfer": (1, 1, 1, 1.0)}
    assert {row.origin: row.tokens for row in figures.origins} == {"single": 500, "discussion": 300, "transfer": 300}
    assert figures.lift == pytest.approx(4.0)  # 100% against 25%
    shares = {row.language: (row.accepted, row.from_discussion, row.share) for row in figures.languages}
    assert shares == {"Python": (2, 1, 0.5), "Rust": (1, 1, 1.0)}
    assert figures.transfers == {("Python", "Rust"): (1, 1)}
