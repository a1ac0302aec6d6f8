import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from polyforge.storage import Campaign, DatabaseNotFound, JudgeScore, Pair, Snippet, open_engine, session_factory
from polyforge.storage.db import alembic_config, existing_database_url
from polyforge.storage.models import Base, Preference


def make_pair(campaign, snippet, **overrides):
    values = dict(campaign=campaign, snippet=snippet, language="Rust", instruction="Do it.", answer="Done.",
                  status="accepted", final_score=7.5, model="m", judge_model="j",
                  sampling={"answer": {"temperature": 0.5}}, templates={"answer": "abc"}, checklist_hash="ck",
                  tokens={"answer": {"prompt": 3, "completion": 4}}, total_tokens=7, seconds=1.5)
    return Pair(**{**values, **overrides})


def make_snippet(campaign):
    return Snippet(campaign=campaign, language="Rust", path="src/lib.rs", source="/repo", start_line=3, end_line=9,
                   kind="function_item", code="fn a() {}", tokens=5, content_hash="h")


def test_round_trip_of_every_model(db_url):
    engine = open_engine(db_url)
    with session_factory(engine)() as session:
        campaign = Campaign(name="c", config={"sources": [{"path": "/x"}]})
        pair = make_pair(campaign, make_snippet(campaign))
        pair.scores = [JudgeScore(criterion="code_exists", score=9, weight=1.0, rationale="A block is there.")]
        pair.preferences = [Preference(prompt="Do it.", chosen="Done.", rejected="No.", chosen_score=7.5,
                                       rejected_score=2.0, reason="judge score 7.5 vs 2.0")]
        session.add(campaign)
        session.commit()
        pair_id = pair.id
    engine.dispose()

    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        stored = session.get(Pair, pair_id)
        assert stored.snippet.path == "src/lib.rs" and stored.campaign.name == "c"
        assert stored.sampling == {"answer": {"temperature": 0.5}}
        assert stored.tokens["answer"]["completion"] == 4
        assert [(s.criterion, s.score, s.rationale) for s in stored.scores] == [("code_exists", 9, "A block is there.")]
        assert stored.preferences[0].rejected == "No." and stored.created_at is not None
    engine.dispose()


def test_a_work_item_cannot_be_stored_twice(db_url):
    engine = open_engine(db_url)
    with session_factory(engine)() as session:
        campaign = Campaign(name="c", config={})
        snippet = make_snippet(campaign)
        session.add_all([make_pair(campaign, snippet), make_pair(campaign, snippet)])
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_migrations_build_exactly_the_models_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = open_engine(db_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = set(inspect(connection).get_table_names())
        version = connection.execute(text("select version_num from alembic_version")).scalar()
    assert differences == [], "models changed without a migration: run alembic revision --autogenerate"
    assert {"campaign", "snippet", "pair", "judge_score", "preference"} <= tables
    from alembic.script import ScriptDirectory

    assert version == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    open_engine(db_url).dispose()  # upgrading an up-to-date database is a no-op
    engine.dispose()


def test_reading_an_older_database_migrates_it(db_url):
    """A database a previous version wrote (schema 0006) opens in a reading command with the new columns."""
    from alembic import command
    from alembic.script import ScriptDirectory

    empty = open_engine(db_url, create=False)  # a database without our schema is left alone
    assert inspect(empty).get_table_names() == []
    with empty.begin() as connection:  # as while another process runs the first migration
        connection.execute(text("create table alembic_version (version_num varchar(32) not null)"))
    open_engine(db_url, create=False).dispose()
    assert inspect(empty).get_table_names() == ["alembic_version"]
    with empty.begin() as connection:
        connection.execute(text("drop table alembic_version"))
    empty.dispose()
    config = alembic_config(db_url)
    command.upgrade(config, "0006")
    engine = open_engine(db_url, create=False)
    with engine.connect() as connection:
        columns = {column["name"] for column in inspect(connection).get_columns("pair")}
        version = connection.execute(text("select version_num from alembic_version")).scalar()
    engine.dispose()
    assert {"origin", "discussion_id"} <= columns
    assert version == ScriptDirectory.from_config(config).get_current_head()


def test_sqlite_runs_in_wal_mode(tmp_path):
    from polyforge.storage import database_url

    engine = open_engine(database_url(tmp_path))
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_reading_commands_need_an_existing_database(tmp_path):
    with pytest.raises(DatabaseNotFound, match="no Polyforge database"):
        existing_database_url(tmp_path / "nothing")
    assert existing_database_url("postgresql://u@localhost/db") == "postgresql://u@localhost/db"


def test_reading_commands_accept_a_database_url(db_url, tmp_path):
    """`status` and `export` take a URL as well as a folder (a URL must not be mangled as a path)."""
    from typer.testing import CliRunner

    from polyforge.cli import app

    engine = open_engine(db_url)
    with session_factory(engine)() as session:
        campaign = Campaign(name="by-url", config={"budgets": {"max_pairs": 3}})
        session.add(make_pair(campaign, make_snippet(campaign)))
        session.commit()
    engine.dispose()
    status = CliRunner().invoke(app, ["status", db_url])
    assert status.exit_code == 0, status.output
    assert "by-url" in status.output and "1/3" in status.output
    exported = CliRunner().invoke(app, ["export", db_url, "--out", str(tmp_path / "x.jsonl")])
    assert exported.exit_code == 0, exported.output
    assert "wrote 1 rows" in exported.output
