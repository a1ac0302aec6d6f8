"""The demo workflow as a library function: the campaign, both exports and training, its display through hooks."""

import json
from contextlib import contextmanager

import pytest
import yaml
from typer.testing import CliRunner

from doubles import ScriptedBackend, two_candidates_script
from polyforge import demo
from polyforge.cli import app
from polyforge.generation.campaign import CampaignProgress, CampaignRunner


@pytest.fixture
def scripted_demo(sample_repo, tmp_path, criteria, monkeypatch):
    """The demo on a scripted backend and a small config of two languages; training recorded, not run."""
    backend = ScriptedBackend(two_candidates_script(lambda messages, has_code: 9 if has_code else 1, criteria))
    monkeypatch.setattr(demo, "CampaignRunner", lambda config, progress, new_campaign: CampaignRunner(
        config, progress, backends=(backend, backend), new_campaign=new_campaign))
    trained = []
    monkeypatch.setattr(demo, "train_and_verify", lambda url, out, settings, seed, say, campaign_id: trained.append(
        (url, out, settings.max_steps, seed, campaign_id)) or "outcome")
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump({
        "name": "demo-test", "sources": [{"path": str(sample_repo)}], "languages": ["Python", "Go"],
        "budgets": {"max_pairs": 4}, "concurrency": 1, "sampling": {"candidates": 2, "seed": 3},
        "memory": {"enabled": False}, "execution": {"enabled": False}, "training": {"max_steps": 2},
        "judge": {"preferences_from_scores": True},  # no tests run here: the judge alone ranks the candidates
    }))
    monkeypatch.setattr(demo, "DEMO_CONFIG", config)
    return config, trained


def test_run_demo_runs_the_campaign_exports_both_datasets_and_trains(scripted_demo, tmp_path):
    config, trained = scripted_demo
    events, said, shown = [], [], []

    @contextmanager
    def watch():
        events.append("open")
        yield CampaignProgress(on_item_done=lambda language, status: events.append(status))
        events.append("closed")

    out = tmp_path / "out"
    result = demo.run_demo(out, demo.DemoHooks(watch, on_campaign=shown.append, say=said.append), config)

    assert events[0] == "open" and events[-1] == "closed" and len(events) == 2 + 4
    assert shown == [result.campaign] and result.campaign.campaign_id
    assert result.sft.data_path == out / "export" / "sft.jsonl" and result.sft.rows == 4
    assert result.dpo.data_path == out / "export" / "dpo.jsonl" and result.dpo.rows == 4
    assert all("messages" in json.loads(line) for line in result.sft.data_path.read_text().splitlines())
    assert result.sft.card_path.is_file() and result.dpo.card_path.is_file()
    assert said == [f"exported 4 accepted pairs: {result.sft.data_path}",
                    f"exported 4 preference pairs (chosen vs rejected candidates): {result.dpo.data_path}"]
    assert trained == [(result.campaign.database_url, out, 2, 3, result.campaign.campaign_id)]
    assert result.training == "outcome"
    assert result.database == out / "polyforge.db" and result.database.is_file()


def test_polyforge_demo_prints_the_summary_tables_exports_and_the_database(scripted_demo, tmp_path):
    _, trained = scripted_demo
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Polyforge demo" in result.output and "ingest: per language" in result.output
    assert "campaign 1" in result.output and "judge scores per criterion" in result.output
    assert f"exported 4 accepted pairs: {out / 'export' / 'sft.jsonl'}" in result.output
    assert f"database: {out / 'polyforge.db'}" in result.output and len(trained) == 1


def test_the_demo_says_why_it_did_not_train_when_too_few_pairs_were_accepted(scripted_demo, tmp_path, monkeypatch):
    from polyforge.training.datasets import TooFewAccepted

    def refuse(url, out, settings, seed, say, campaign_id):
        raise TooFewAccepted(f"campaign {campaign_id}: 2 accepted pair(s), fewer than the 4 SFT needs")

    monkeypatch.setattr(demo, "train_and_verify", refuse)
    @contextmanager
    def watch():
        yield CampaignProgress()

    said = []
    result = demo.run_demo(tmp_path / "out", demo.DemoHooks(watch, say=said.append), scripted_demo[0])
    assert result.training is None
    assert said[-1] == f"training skipped: campaign {result.campaign.campaign_id}: 2 accepted pair(s), fewer than " \
                       "the 4 SFT needs"
