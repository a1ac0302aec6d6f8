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
    monkeypatch.setattr(demo, "train_and_verify", lambda url, out, settings, seed, say: trained.append(
        (url, out, settings.max_steps, seed)) or "outcome")
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump({
        "name": "demo-test", "sources": [{"path": str(sample_repo)}], "languages": ["Python", "Go"],
        "budgets": {"max_pairs": 4}, "concurrency": 1, "sampling": {"candidates": 2, "seed": 3},
        "memory": {"enabled": False}, "execution": {"enabled": False}, "training": {"max_steps": 2},
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
    assert trained == [(result.campaign.database_url, out, 2, 3)] and result.training == "outcome"
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
