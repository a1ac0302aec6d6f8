from sqlalchemy import text

from polyforge.storage import Campaign, JudgeScore, Pair, Snippet, DatabaseNotFound, open_engine, session_factory
from polyforge.storage.db import database_url, existing_database_url

import pytest


def test_round_trip_of_every_model(tmp_path):
    url = database_url(tmp_path / "out")
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign = Campaign(name="c", config={"sources": [{"path": "/x"}]})
        snippet = Snippet(campaign=campaign, language="Rust", path="src/lib.rs", source="/repo", start_line=3,
                          end_line=9, kind="function_item", code="fn a() {}", tokens=5, content_hash="h")
        pair = Pair(campaign=campaign, snippet=snippet, language="Rust", instruction="Do it.", answer="Done.",
                    status="accepted", final_score=7.5, model="m", judge_model="j",
                    sampling={"answer": {"temperature": 0.5}}, templates={"answer": "abc"}, checklist_hash="ck",
                    tokens={"answer": {"prompt": 3, "completion": 4}}, total_tokens=7, seconds=1.5)
        pair.scores = [JudgeScore(criterion="code_exists", score=9, weight=1.0, rationale="A block is there.")]
        session.add(campaign)
        session.commit()
        pair_id = pair.id
    engine.dispose()

    engine = open_engine(existing_database_url(tmp_path / "out"), create=False)
    with session_factory(engine)() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        stored = session.get(Pair, pair_id)
        assert stored.snippet.path == "src/lib.rs" and stored.campaign.name == "c"
        assert stored.sampling == {"answer": {"temperature": 0.5}}
        assert stored.tokens["answer"]["completion"] == 4
        assert [(s.criterion, s.score, s.rationale) for s in stored.scores] == [("code_exists", 9, "A block is there.")]
        assert stored.created_at is not None


def test_reading_commands_need_an_existing_database(tmp_path):
    with pytest.raises(DatabaseNotFound, match="no Polyforge database"):
        existing_database_url(tmp_path / "nothing")
    assert existing_database_url("postgresql://u@localhost/db") == "postgresql://u@localhost/db"
