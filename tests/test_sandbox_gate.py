"""`polyforge run` and `polyforge eval` check the sandbox before any work when execution is on: a missing
bubblewrap or toolchain stops them with a message naming it and `make toolchains`, exit status 2, instead of
recording sandbox_error for every item or reporting 0% pass@1."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.sandbox import doctor
from polyforge.storage import Pair, Snippet, database_url, session_scope

ROOT = Path(__file__).resolve().parent.parent
DOWN = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "none", "max_attempts": 1,
        "timeout_s": 1, "outage_wait_s": 0}  # no server: a campaign that got as far as an item would stop with 75


def config_file(tmp_path: Path, languages: list[str]) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump({
        "name": "gate", "output_dir": str(tmp_path / "out"), "languages": languages,
        "sources": [{"path": str(ROOT / "examples" / "sample_repo")}], "models": {"generator": DOWN},
        "budgets": {"max_pairs": 2}, "memory": {"enabled": False}, "coverage": {"classify": False},
    }))
    return path


def test_run_without_bubblewrap_stops_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor, "bwrap_path", lambda: None)
    result = CliRunner().invoke(app, ["run", str(config_file(tmp_path, ["Python"]))])
    assert result.exit_code == 2, result.output
    assert "bubblewrap" in result.output and "make toolchains" in result.output
    assert not (tmp_path / "out" / "polyforge.db").exists()  # nothing ingested, no campaign opened


def test_run_stops_after_ingest_when_a_campaign_language_lacks_its_toolchain(tmp_path, monkeypatch):
    real = doctor.missing_parts
    monkeypatch.setattr(doctor, "missing_parts", lambda sandbox, lang: ["go"] if lang.name == "Go" else real(sandbox, lang))
    result = CliRunner().invoke(app, ["run", str(config_file(tmp_path, ["Python", "Go"]))])
    assert result.exit_code == 2, result.output
    assert "Go: missing go (apt-get install golang-go" in result.output and "make toolchains" in result.output
    with session_scope(database_url(tmp_path / "out"), create=False) as session:
        assert session.scalar(select(func.count(Snippet.id))) > 0  # ingest ran: that is how Go was found
        assert session.scalar(select(func.count(Pair.id))) == 0  # no item ran


def test_a_campaign_without_execution_needs_no_sandbox(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor, "bwrap_path", lambda: None)
    path = config_file(tmp_path, ["Python"])
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "execution": {"enabled": False}}))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 75, result.output  # it went on to the (absent) server


def test_eval_without_bubblewrap_stops_before_loading_a_model(monkeypatch):
    monkeypatch.setattr(doctor, "bwrap_path", lambda: None)
    result = CliRunner().invoke(app, ["eval", "no/such/model", "--limit", "1"])
    assert result.exit_code == 2, result.output
    assert "bubblewrap" in result.output and "make toolchains" in result.output
