"""The review app against a hostile user: password guesses sent in parallel, a blind reviewer trying to learn her
co-annotator's verdict, bodies that would fill the disk, and parameters that would crash it. Every route is walked
with hostile values and must answer with a clear 4xx, never a 5xx."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polyforge.review import create_app
from polyforge.review.security import WebSettings
from polyforge.storage import PairRevision, Review, session_scope
from polyforge.storage.judgments import review_verdicts
from review_support import BASE_URL, logged_in, served, token_for, visible_text
from review_support import review_db  # noqa: F401  (a fixture)
from servers import free_port

GUESSERS = 20


def stored(url: str, table) -> int:
    with session_scope(url, create=False) as session:
        return session.scalar(select(func.count(table.id)))


def test_wrong_passwords_sent_in_parallel_hit_the_limit(review_db):
    """Twenty guesses at once against the served app: the attempt is counted before the password is hashed, so
    only the first `login_failures` are even checked."""
    url, _ = review_db
    app = create_app(url, WebSettings(port=free_port()))
    with served(app) as base:
        clients = [httpx.Client(base_url=base, timeout=60) for _ in range(GUESSERS)]
        forms = []
        for client in clients:
            page = client.get("/login")
            forms.append(re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1))
        start = threading.Barrier(GUESSERS)

        def guess(number: int) -> int:
            start.wait()
            return clients[number].post("/login", data={"name": "root", "password": f"guess {number}",
                                                        "csrf_token": forms[number]}).status_code

        with ThreadPoolExecutor(GUESSERS) as pool:
            codes = list(pool.map(guess, range(GUESSERS)))
        for client in clients:
            client.close()
    assert sorted(set(codes)) == [401, 429], codes
    assert codes.count(401) == WebSettings().login_failures, codes


def test_an_annotator_cannot_learn_whether_her_co_annotator_disagreed(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    pair_id = ids["Sum a slice."]
    bo.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "reject"})
    ana.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "accept"})
    (entry,) = [e for e in ana.get("/api/queue", params={"pending": "false"}).json() if e["pair_id"] == pair_id]
    assert entry["verdict"] == "accept" and entry["disputed"] is None  # not said to an annotator
    asked = ana.get("/api/queue", params={"disputed": "true"})
    assert asked.status_code == 403 and "admins only" in asked.text
    assert ana.get("/", params={"disputed": "true"}).status_code == 403
    assert "disputed" not in visible_text(ana.get("/", params={"pending": "false"}).text)
    # the campaign pages count review's final verdicts: an annotator could watch them move
    assert ana.get("/campaigns").status_code == 403 and ana.get("/campaigns/1").status_code == 403
    assert [e["disputed"] for e in root.get("/api/queue", params={"disputed": "true"}).json()] == [True]


def test_a_dispute_reaches_an_admin_even_if_an_annotator_changes_her_verdict(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    pair_id = ids["Sum a slice."]
    ana.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "accept"})
    bo.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "reject"})
    ana.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "reject"})  # now they agree
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {}  # not decided by the change of mind
    assert [e["pair_id"] for e in root.get("/api/queue", params={"disputed": "true"}).json()] == [pair_id]
    root.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "reject"})
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {pair_id: False}
    # a change of mind before anyone else spoke is no dispute
    other = ids["Parse a date."]
    ana.post(f"/api/pairs/{other}/reviews", json={"verdict": "accept"})
    ana.post(f"/api/pairs/{other}/reviews", json={"verdict": "reject"})
    bo.post(f"/api/pairs/{other}/reviews", json={"verdict": "reject"})
    with session_scope(url, create=False) as session:
        assert review_verdicts(session)[other] is False


def test_an_annotator_sees_only_her_own_corrections(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    pair_id = ids["Reverse a list."]
    assert bo.post(f"/api/pairs/{pair_id}/revisions", json={"field": "answer", "text": "bo's answer"}).status_code == 201
    for moment in ("before her verdict", "after her verdict"):
        detail = ana.get(f"/api/pairs/{pair_id}").json()
        assert detail["answer"] == detail["original_answer"] and detail["revisions"] == [], moment
        assert "bo's answer" not in visible_text(ana.get(f"/pairs/{pair_id}").text), moment
        ana.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "accept"})
    ana.post(f"/api/pairs/{pair_id}/revisions", json={"field": "instruction", "text": "ana's instruction"})
    mine = ana.get(f"/api/pairs/{pair_id}").json()
    assert mine["instruction"] == "ana's instruction" and [r["author"] for r in mine["revisions"]] == ["ana"]
    everything = root.get(f"/api/pairs/{pair_id}").json()
    assert (everything["instruction"], everything["answer"]) == ("ana's instruction", "bo's answer")
    assert [r["author"] for r in everything["revisions"]] == ["bo", "ana"]
    # Writing what another annotator wrote is stored like any correction: no answer tells her it was there.
    same = ana.post(f"/api/pairs/{pair_id}/revisions", json={"field": "answer", "text": "bo's answer"})
    assert same.status_code == 201 and same.json() is not None
    again = ana.post(f"/api/pairs/{pair_id}/revisions", json={"field": "answer", "text": "bo's answer"})
    assert again.json() is None  # her own last correction again: nothing to store


def test_one_body_limit_for_every_route(review_db):
    """A 10 MB note, a 3 MB correction, a large form and a body sent in chunks without a length: 413, nothing
    stored; a note longer than a note is refused with a reason."""
    url, ids = review_db
    client = logged_in(create_app(url))
    pair_id = ids["Sum a slice."]
    huge = "x" * (10 << 20)
    assert client.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "accept", "note": huge}).status_code == 413
    assert client.post(f"/api/pairs/{pair_id}/revisions",
                       json={"field": "answer", "text": "y" * (3 << 20)}).status_code == 413
    assert client.post(f"/pairs/{pair_id}/review", data={"verdict": "accept", "note": huge}).status_code == 413
    assert client.post(f"/pairs/{pair_id}/edit", files={"text": ("a.txt", huge)}).status_code == 413

    def chunks():
        yield b'{"verdict": "accept", "note": "'
        for _ in range(10):
            yield b"z" * (1 << 20)
        yield b'"}'

    chunked = client.post(f"/api/pairs/{pair_id}/reviews", content=chunks(),
                          headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    long_note = client.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "accept", "note": "n" * 20_000})
    assert long_note.status_code == 422 and "note" in long_note.text
    assert stored(url, Review) == 0 and stored(url, PairRevision) == 0


# Values a hostile user puts where a number, an id or a word is expected.
HOSTILE_TEXT = ["9" * 30, str(2**31), "99999999999", "-1", "0", "١٢", "²", "9" * 5000, "true", "", " ", "\x00",
                "nan", "1e999", "1.5", "%00", "../../etc/passwd"]
HOSTILE_JSON = [10**30, 2**31, -1, 0, True, False, "١٢", "²", "9" * 5000, "", None, [], {}, 1.5, "x" * 300, "\x00"]
HOSTILE_BODIES = [b"[" * 50_000, b"{", b"\xff\xfe", b'{"verdict": "accept", "scores": {"code_correctness": true}}']
# A body each JSON route accepts, so that one field at a time can be made hostile.
VALID_BODIES = {
    "ReviewIn": {"verdict": "accept", "note": "ok", "scores": {"code_correctness": 5}},
    "RevisionIn": {"field": "answer", "text": "fixed"},
    "AssignIn": {"overlap": 2},
}


def body_schema(schema: dict, content: dict) -> dict:
    """The schema of a request body, its `$ref` resolved."""
    ref = content["schema"].get("$ref", "")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else content["schema"]


def hostile_requests(schema: dict, valid_path: dict[str, str]):
    """(method, path, keyword arguments of `request`) for every hostile value in every parameter of every route
    the app's OpenAPI schema describes."""
    for route, operations in schema["paths"].items():
        for method, operation in operations.items():
            method = method.upper()
            parameters = operation.get("parameters", [])

            def path_with(**values):
                return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), valid_path[m.group(1)]), route)

            for parameter in parameters:
                for value in HOSTILE_TEXT:
                    if parameter["in"] == "path":
                        yield method, path_with(**{parameter["name"]: quote(value, safe="") or "%20"}), {}
                    elif parameter["in"] == "query":
                        yield method, path_with(), {"params": {parameter["name"]: value}}
            content = operation.get("requestBody", {}).get("content", {})
            if "application/x-www-form-urlencoded" in content:
                fields = body_schema(schema, content["application/x-www-form-urlencoded"])["properties"]
                for field in fields:
                    for value in HOSTILE_TEXT:
                        yield method, path_with(), {"data": {field: value}}
                    yield method, path_with(), {"data": {field: ["1", "2"] * 600}}
            if "application/json" in content:
                model = body_schema(schema, content["application/json"])["title"]
                assert model in VALID_BODIES, f"{method} {route}: add a valid {model} body to VALID_BODIES"
                valid = VALID_BODIES[model]
                for field in body_schema(schema, content["application/json"])["properties"]:
                    for value in HOSTILE_JSON:
                        yield method, path_with(), {"json": {**valid, field: value}}
                for value in HOSTILE_TEXT:
                    yield method, path_with(), {"json": {**valid, "scores": {value: 5}}}
                for value in HOSTILE_JSON:
                    yield method, path_with(), {"json": {**valid, "scores": {"code_correctness": value}}}
                    yield method, path_with(), {"json": value}
                for body in HOSTILE_BODIES:
                    yield method, path_with(), {"content": body, "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize("name", ["ana", "root"])
def test_every_route_answers_hostile_values_with_a_clear_4xx(review_db, name):
    url, ids = review_db
    app = create_app(url)
    client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {token_for(url, name)}"})
    valid_path = {"pair_id": str(ids["Reverse a list."]), "campaign_id": "1"}
    failures, asked = [], 0
    routes = {route.path for route in app.routes if isinstance(route, APIRoute)}
    schema = app.openapi()
    assert routes <= set(schema["paths"]), routes - set(schema["paths"])  # the walk covers every route
    for method, path, options in hostile_requests(schema, valid_path):
        response = client.request(method, path, follow_redirects=False, **options)
        asked += 1
        if response.status_code >= 500 or "Traceback" in response.text:
            failures.append(f"{method} {path[:60]} {str(options)[:80]}: {response.status_code}")
    assert asked > 1000 and failures == [], failures[:20]


def test_numbers_past_the_database_range_say_so(review_db):
    url, ids = review_db
    client = logged_in(create_app(url, WebSettings()), "root")
    for path in (f"/api/pairs/{2**31}", f"/pairs/{10**20}", f"/campaigns/{2**40}"):
        response = client.get(path)
        assert response.status_code == 422, path
    assert client.get("/api/queue", params={"campaign": str(2**31)}).status_code == 422
    refused = client.post("/admin/assign", data={"overlap": "2", "campaign": "²"})
    assert refused.status_code == 422 and "is not a campaign id" in refused.text
    score = client.post(f"/api/pairs/{ids['Reverse a list.']}/reviews",
                        json={"verdict": "accept", "scores": {"code_correctness": True}})
    assert score.status_code == 422 and stored(url, Review) == 0
    form = client.post(f"/pairs/{ids['Reverse a list.']}/review",
                       data={"verdict": "accept", "criterion": ["code_correctness"], "score": ["²"]})
    assert "is not a whole number" in form.text and stored(url, Review) == 0
