"""The annotators' web app: the queue, one pair's page, verdicts by form and by API, and what they change.
(Logins, tokens and the protections around them: test_review_security.py.)"""

import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import polyforge.review.campaign_routes as campaign_pages
from polyforge.review import create_app
from polyforge.review.security import WebSettings
from polyforge.storage import Pair, Review, open_engine, session_factory, session_scope
from polyforge.export import ExportFilter, iter_sft_records
from polyforge.storage.judgments import review_verdicts
from review_support import BASE_URL, logged_in, served, token_for, visible_text
from servers import free_port
from review_support import review_db  # noqa: F401  (a fixture)


def queue_ids(client, **params):
    return [entry["pair_id"] for entry in client.get("/api/queue", params=params).json()]


def test_the_queue_lists_flagged_pairs_waiting_for_review(review_db):
    url, ids = review_db
    client = logged_in(create_app(url))
    flagged = [ids["Reverse a list."], ids["Sum a slice."], ids["Parse a date."]]
    assert queue_ids(client) == flagged
    assert queue_ids(client, language="Go") == [ids["Sum a slice."]]
    assert queue_ids(client, reason="sandbox") == [ids["Sum a slice."]]
    page = client.get("/")
    assert page.status_code == 200
    assert "flagged assigned to you: 3 open, 0 reviewed by you" in page.text
    assert re.findall(r'href="/pairs/(\d+)', page.text) == [str(i) for i in flagged]
    assert "Count words." not in page.text  # accepted pairs are not in the queue


def test_accepted_and_rejected_pairs_can_be_audited(review_db):
    url, ids = review_db
    client = logged_in(create_app(url))
    assert queue_ids(client, status="accepted") == [ids["Count words."]]
    assert queue_ids(client, status="rejected") == [ids["Print hello."]]
    assert client.get("/api/queue", params={"status": "duplicate"}).status_code == 422
    page = client.get("/", params={"status": "accepted"})
    assert "accepted assigned to you: 1 open, 0 reviewed by you" in page.text and "Count words." in page.text
    response = client.post(f"/pairs/{ids['Count words.']}/review?status=accepted",
                           data={"verdict": "reject"}, follow_redirects=False)
    assert response.headers["location"] == "/?status=accepted"  # the audit queue is done
    assert queue_ids(client, status="accepted") == []


def test_a_pair_page_shows_what_the_judge_saw(review_db):
    url, ids = review_db
    page = logged_in(create_app(url)).get(f"/pairs/{ids['Reverse a list.']}")
    assert page.status_code == 200
    for shown in ("Reverse a list.", "borderline final score", "code_correctness", "Off by one.", "assertion failed",
                  "assert f0() == 1", "Say what happens on empty input.", "def f0():", "discussion"):
        assert shown in visible_text(page.text), shown


def test_a_form_verdict_is_stored_and_leads_to_the_nextpair(review_db):
    url, ids = review_db
    client = logged_in(create_app(url))
    first, second = ids["Reverse a list."], ids["Sum a slice."]
    response = client.post(f"/pairs/{first}/review", data={"verdict": "accept", "note": "fine"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/pairs/{second}?"
    assert queue_ids(client) == [second, ids["Parse a date."]]
    assert first in queue_ids(client, pending="false")
    assert "flagged assigned to you: 2 open, 1 reviewed by you" in client.get("/").text
    # a filtered queue stays filtered: the last Python pair leads back to the Python queue
    response = client.post(f"/pairs/{ids['Parse a date.']}/review?language=Python",
                           data={"verdict": "reject"}, follow_redirects=False)
    assert response.headers["location"] == "/?language=Python"

    engine = open_engine(url)
    with session_factory(engine)() as session:
        stored = session.scalars(select(Review).order_by(Review.id)).all()
        assert [(r.pair_id, r.annotator, r.verdict, r.note) for r in stored] == [
            (first, "ana", "accept", "fine"), (ids["Parse a date."], "ana", "reject", None)]
        assert stored[0].user_id is not None and stored[0].user_id == stored[1].user_id  # the logged-in user
        assert review_verdicts(session) == {}  # bo, the pairs' second annotator, has not spoken yet
    engine.dispose()
    bo = logged_in(client.app, "bo")
    bo.post(f"/pairs/{first}/review", data={"verdict": "accept"})
    bo.post(f"/pairs/{ids['Parse a date.']}/review", data={"verdict": "reject"})
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {first: True, ids["Parse a date."]: False}  # what calibration reads
        assert session.get(Pair, first).status == "flagged"  # the judge's route is kept


def test_a_form_without_a_verdict_says_what_is_missing(review_db):
    url, ids = review_db
    client = logged_in(create_app(url))
    page = client.post(f"/pairs/{ids['Sum a slice.']}/review", data={"note": "hm"})
    assert page.status_code == 200 and "verdict: &#39;&#39; is not one of accept, reject" in page.text
    assert ids["Sum a slice."] in queue_ids(client)


def test_the_api_validates_verdicts_and_names_unknown_pairs(review_db):
    url, ids = review_db
    client = TestClient(create_app(url), base_url=BASE_URL, headers={"Authorization": f"Bearer {token_for(url, 'bo')}"})
    pair_id = ids["Sum a slice."]
    bad = client.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "verdict"]
    missing = client.post("/api/pairs/99999/reviews", json={"verdict": "accept"})
    assert missing.status_code == 404 and "no pair 99999" in missing.json()["detail"]
    assert client.get("/api/pairs/99999").status_code == 404
    # a name in the body does not choose the annotator: the token's user is
    created = client.post(f"/api/pairs/{pair_id}/reviews", json={"annotator": "root", "verdict": "reject"})
    assert created.status_code == 201 and created.json()["verdict"] == "reject"
    detail = client.get(f"/api/pairs/{pair_id}").json()
    assert detail["status"] == "flagged" and [r["annotator"] for r in detail["reviews"]] == ["bo"]


def exported(url: str) -> tuple[set[int], set[int]]:
    """The ids of the pairs an SFT export takes as accepted, and as rejected."""
    with session_scope(url, create=False) as session:
        return tuple({r["pair_id"] for r in iter_sft_records(session, ExportFilter((status,)))}
                     for status in ("accepted", "rejected"))


def test_final_verdicts_override_the_judge_in_exports(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    for client in (ana, bo):  # agreed: accept a flagged pair, reject an accepted one
        client.post(f"/api/pairs/{ids['Reverse a list.']}/reviews", json={"verdict": "accept"})
        client.post(f"/api/pairs/{ids['Count words.']}/reviews", json={"verdict": "reject"})
    # an annotator's latest verdict is theirs: bo rejects, then accepts on a second look; ana rejects
    bo.post(f"/api/pairs/{ids['Parse a date.']}/reviews", json={"verdict": "reject"})
    bo.post(f"/api/pairs/{ids['Parse a date.']}/reviews", json={"verdict": "accept"})
    ana.post(f"/api/pairs/{ids['Parse a date.']}/reviews", json={"verdict": "reject"})
    assert exported(url) == ({ids["Reverse a list."]}, {ids["Count words."], ids["Print hello."]})
    assert root.get("/api/queue", params={"disputed": "true"}).json()[0]["pair_id"] == ids["Parse a date."]
    # the admin adjudicates the dispute
    assert root.post(f"/api/pairs/{ids['Parse a date.']}/reviews", json={"verdict": "accept"}).json()["adjudication"]
    assert exported(url) == ({ids["Reverse a list."], ids["Parse a date."]}, {ids["Count words."], ids["Print hello."]})
    assert root.get("/api/queue", params={"disputed": "true"}).json() == []
    with session_scope(url, create=False) as session:  # every verdict is kept
        assert session.scalar(select(func.count(Review.id)).where(Review.pair_id == ids["Parse a date."])) == 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_polyforge_review_serve_serves_the_app_to_logged_in_users(review_db):
    url, ids = review_db
    port = _free_port()
    token = token_for(url, "ana")
    server = subprocess.Popen([sys.executable, "-m", "polyforge.cli", "review", "serve", url, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/queue", timeout=2,
                                     headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the review app did not start within 60 s"
                time.sleep(0.3)
        assert response.status_code == 200 and len(response.json()) == 3
        assert httpx.get(f"http://127.0.0.1:{port}/api/queue", timeout=2).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_polyforge_review_serve_needs_an_existing_database(tmp_path):
    result = subprocess.run([sys.executable, "-m", "polyforge.cli", "review", "serve", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "no Polyforge database" in result.stdout + result.stderr


def test_a_dashboard_asked_for_by_twenty_at_once_is_drawn_once(review_db, monkeypatch):
    url, _ = review_db
    drawn = []

    def counted(*args, **kwargs):
        drawn.append(1)
        return draw(*args, **kwargs)

    draw = campaign_pages.campaign_dashboard
    monkeypatch.setattr(campaign_pages, "campaign_dashboard", counted)
    with served(create_app(url, WebSettings(port=free_port()))) as base:
        with httpx.Client(base_url=base, timeout=120,
                          headers={"Authorization": f"Bearer {token_for(url, 'root')}"}) as client:
            with ThreadPoolExecutor(20) as pool:
                pages = list(pool.map(lambda _: client.get("/campaigns/1"), range(20)))
    assert [page.status_code for page in pages] == [200] * 20 and len({page.text for page in pages}) == 1
    assert len(drawn) == 1 and "<img" in pages[0].text
