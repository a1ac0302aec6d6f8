"""The review app's test fixtures: a database of flagged pairs, users, and clients that have logged in."""

import html
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import campaign_with_snippets, pair, snippet
from polyforge.storage import (
    Campaign,
    Discussion,
    DiscussionTurn,
    ExecutionRecord,
    JudgeScore,
    Pair,
    open_engine,
    session_factory,
    session_scope,
)
from polyforge.storage.accounts import add_user, new_token
from polyforge.storage.assignments import assign
from polyforge.storage.reviews import QueueFilter
from polyforge.terms import PairStatus

BASE_URL = "http://127.0.0.1:8000"  # what the default WebSettings allow
PASSWORD = "correct horse battery"
# Model output that would run script in the annotator's browser if it were not escaped.
HOSTILE = ("<script>window.pwned=1</script>", '"><img src=x onerror="window.pwned=1">')


@pytest.fixture
def review_db(db_url):
    """Three flagged pairs (one discussed, with a sandbox run and scores), one accepted, one rejected; users ana
    (annotator), bo (annotator) and root (admin), all with PASSWORD; every pair assigned to both annotators."""
    engine = open_engine(db_url)
    with session_factory(engine)() as session:
        campaign, snippets = campaign_with_snippets(session, 5)
        talk = Discussion(campaign_id=campaign.id, proposer_language="Python", peer_languages=["Rust"], rounds=1,
                          turns=[DiscussionTurn(position=0, round=0, language="Python", role="draft",
                                                text="Draft task.", template_hash="t"),
                                 DiscussionTurn(position=1, round=1, language="Rust", role="critique",
                                                text="Say what happens on empty input.", template_hash="t")])
        first = pair(campaign, snippets[0], "Python", "flagged", "Reverse a list.", final_score=5.0,
                      flag_reason="borderline final score", origin="discussion", discussion=talk)
        first.scores = [JudgeScore(criterion="code_correctness", score=4, weight=2.0, rationale="Off by one.")]
        first.executions = [ExecutionRecord(candidate=0, chosen=True, language="python", status="failed",
                                            reason="assertion failed", exit_code=1, stdout="", stderr="AssertionError",
                                            seconds=0.1, tests="assert f0() == 1")]
        session.add_all([
            first,
            pair(campaign, snippets[1], "Go", "flagged", "Sum a slice.", final_score=4.5,
                  flag_reason="judge disagrees with the sandbox"),
            pair(campaign, snippets[2], "Python", "flagged", "Parse a date.", final_score=5.5,
                  flag_reason="borderline final score"),
            pair(campaign, snippets[3], "Python", "accepted", "Count words.", final_score=8.0),
            pair(campaign, snippets[4], "Python", "rejected", "Print hello.", final_score=2.0),
        ])
        session.commit()
        ids = {p.instruction: p.id for p in session.scalars(select(Pair))}
        for name, role in (("ana", "annotator"), ("bo", "annotator"), ("root", "admin")):
            add_user(session, name, role, PASSWORD)
        for status in (PairStatus.flagged, PairStatus.accepted, PairStatus.rejected):
            assign(session, QueueFilter(status), overlap=2)
    engine.dispose()
    return db_url, ids


@pytest.fixture
def hostile_pair(review_db) -> int:
    """A flagged pair whose instruction, answer (prose and code), tests and output carry HOSTILE; its id."""
    url, _ = review_db
    script, image = HOSTILE
    code = f"def f():\n    return '{script}' + '{image}'\n"
    with session_scope(url, create=False) as session:
        campaign = session.scalars(select(Campaign)).first()
        hostile = pair(campaign, snippet(campaign, 99), "Python", "flagged", f"Fix {script} and {image} please.",
                       answer=f"Here {script} {image}:\n```python\n{code}```\n", flag_reason=f"odd {script}")
        hostile.executions = [ExecutionRecord(candidate=0, chosen=True, language="python", status="failed",
                                              reason=image, exit_code=1, stdout=script, stderr=image, seconds=0.1,
                                              tests=f"assert f() == '{script}'")]
        session.add(hostile)
        session.commit()
        assign(session, QueueFilter(), overlap=2)
        return hostile.id


def visible_text(page: str) -> str:
    """A page's text as a browser shows it: tags (pygments' spans among them) dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", page))


def token_for(url: str, name: str) -> str:
    with session_scope(url, create=False) as session:
        return new_token(session, name)


def login_token(client: TestClient) -> str:
    """The CSRF token of the login form (GET /login sets its cookie in the client)."""
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD, **extra):
    return client.post("/login", data={"name": name, "password": password, "csrf_token": login_token(client),
                                       **extra}, follow_redirects=False)


def session_csrf(client: TestClient) -> str:
    """The CSRF token of the client's session, as every page carries it."""
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)


def logged_in(app, name: str = "ana", csrf_header: bool = True, **client_options) -> TestClient:
    """A client of `app` logged in as `name`; with `csrf_header`, it sends the session's CSRF token on every
    request (as a page's script would), so that tests about something else can post freely."""
    client = TestClient(app, base_url=BASE_URL, **client_options)
    response = log_in(client, name)
    assert response.status_code == 303, response.text
    if csrf_header:
        client.headers["X-CSRF-Token"] = session_csrf(client)
    return client


@contextmanager
def served(app) -> Iterator[str]:
    """`app` served by uvicorn on the port its settings name (`WebSettings(port=free_port())`), for real HTTP
    clients; its base URL."""
    port = app.state.settings.port
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the review app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
