"""`polyforge review users ...` manages the review app's accounts; `polyforge review serve` says when it is exposed."""

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.storage import database_url, session_scope
from polyforge.storage.accounts import authenticate_password, viewer_for_token


@pytest.fixture
def db(tmp_path) -> str:
    path = tmp_path / "review.db"
    with session_scope(database_url(path)):
        pass
    return str(path)


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def test_users_are_added_listed_given_tokens_and_removed(db):
    added = cli("review", "users", "add", "ana", "--role", "admin", "--db", db, input="s3cret-pass\n")
    assert added.exit_code == 0 and "added admin ana" in added.output, added.output
    assert cli("review", "users", "add", "bo", "--db", db, input="another-pass\n").exit_code == 0
    again = cli("review", "users", "add", "bo", "--db", db, input="another-pass\n")
    assert again.exit_code == 2 and "user bo already exists" in again.output
    short = cli("review", "users", "add", "cy", "--db", db, input="short\n")
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    token = cli("review", "users", "token", "bo", "--db", db)
    assert token.exit_code == 0
    secret = token.output.strip().splitlines()[-1]
    listed = cli("review", "users", "list", "--db", db)
    assert listed.exit_code == 0
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:4]]
            for line in listed.output.splitlines() if line.count("│") >= 4 and "name" not in line}
    assert rows == {"ana": ["admin", "0"], "bo": ["annotator", "1"]}
    with session_scope(database_url(db), create=False) as session:
        assert authenticate_password(session, "ana", "s3cret-pass").role == "admin"
        assert authenticate_password(session, "ana", "s3cret-pasS") is None
        assert viewer_for_token(session, secret).name == "bo"
    assert cli("review", "users", "remove", "bo", "--db", db).exit_code == 0
    with session_scope(database_url(db), create=False) as session:
        assert viewer_for_token(session, secret) is None
    assert "bo" not in cli("review", "users", "list", "--db", db).output


@pytest.fixture
def served(monkeypatch):
    """What `polyforge review serve` hands uvicorn, instead of serving."""
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


def test_serve_binds_to_loopback_by_default_and_says_when_nobody_can_log_in(db, served):
    result = cli("review", "serve", db)
    assert result.exit_code == 0, result.output
    (_, options), = served
    assert options["host"] == "127.0.0.1" and options["proxy_headers"] is False
    assert "warning" not in result.output
    assert "no accounts yet" in result.output


def test_serve_warns_when_others_can_reach_it_over_plain_http(db, served):
    cli("review", "users", "add", "ana", "--db", db, input="s3cret-pass\n")
    result = cli("review", "serve", db, "--host", "0.0.0.0")
    assert result.exit_code == 0 and "warning" in result.output and "plain http" in result.output
    assert "no accounts yet" not in result.output


def test_behind_an_https_proxy_the_public_name_is_allowed_and_forwarded_headers_trusted(db, served):
    result = cli("review", "serve", db, "--host", "0.0.0.0", "--behind-proxy", "10.0.0.7",
                 "--public-url", "https://review.example.org")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    (served_app, options), = served
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "10.0.0.7"
    assert TestClient(served_app, base_url="https://review.example.org").get("/login").status_code == 200
    assert TestClient(served_app, base_url="https://elsewhere.example.org").get("/login").status_code == 400


def test_serve_takes_the_docs_session_and_token_settings(db, served):
    assert cli("review", "serve", db).exit_code == 0
    assert cli("review", "serve", db, "--api-docs", "--session-hours", "2", "--token-days", "0").exit_code == 0
    (plain, _), (documented, _) = served
    assert (plain.state.settings.api_docs, plain.state.settings.token_days) == (False, 90.0)
    settings = documented.state.settings
    assert (settings.api_docs, settings.session_hours, settings.token_days) == (True, 2.0, None)
    bad = cli("review", "serve", db, "--token-days", "-1")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
