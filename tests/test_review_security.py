"""The review app refuses what it must: anonymous requests on every route, forged and cross-origin posts, unknown
hosts, password guessing; and it shows model output as text. (Browser checks: test_review_browser.py.)"""

import re
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.routing import Mount, Route

from polyforge.review import create_app
from polyforge.review.pages import TEMPLATES
from polyforge.review.security import LoginThrottle, WebSettings
from polyforge.storage import ApiToken, Review, User, WebSession, session_scope
from polyforge.storage.accounts import remove_user
from review_support import (  # noqa: F401  (review_db and hostile_pair are fixtures)
    BASE_URL,
    HOSTILE,
    PASSWORD,
    hostile_pair,
    log_in,
    logged_in,
    review_db,
    session_csrf,
    token_for,
)

PUBLIC = {"/login"}  # besides the static files: the only paths anyone may open


def reviews(url: str) -> int:
    with session_scope(url, create=False) as session:
        return session.scalar(select(func.count(Review.id)))


def anonymous_refusal(client: TestClient, method: str, path: str) -> str | None:
    """What is wrong with the answer to an anonymous request, or None when it was refused as it should be."""
    response = client.request(method, path, follow_redirects=False)
    if path.startswith("/api/") or path == "/openapi.json":
        return None if response.status_code == 401 else f"{response.status_code}, not 401"
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/login?next="):
        return None
    return f"{response.status_code} {location}, not a redirect to /login"


def test_every_route_but_login_and_static_files_refuses_anonymous_requests(review_db):
    url, ids = review_db
    app = create_app(url, WebSettings(api_docs=True))

    @app.get("/added-later")  # a route someone adds without thinking of logins is protected all the same
    def added_later():
        return {"secret": True}

    client = TestClient(app, base_url=BASE_URL)
    checked, failures, public = set(), [], set()
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static", f"a mount nobody reviewed: {route.path}"
            continue
        assert isinstance(route, (APIRoute, Route)), route
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods):
            if route.path in PUBLIC:
                public.add((method, route.path))
                continue
            checked.add(route.path)
            problem = anonymous_refusal(client, method, path)
            if problem:
                failures.append(f"{method} {route.path}: {problem}")
    assert failures == []
    assert {"/", "/pairs/{pair_id}", "/pairs/{pair_id}/review", "/logout", "/api/queue", "/api/pairs/{pair_id}",
            "/api/pairs/{pair_id}/reviews", "/api/pairs/{pair_id}/revisions", "/api/assignments", "/api/agreement",
            "/pairs/{pair_id}/edit", "/bulk", "/admin", "/admin/assign", "/campaigns", "/campaigns/{campaign_id}",
            "/api/me", "/api/users", "/docs",
            "/openapi.json", "/added-later"} <= checked
    assert public == {("GET", "/login"), ("POST", "/login")}
    assert client.get("/static/review.css").status_code == 200  # static files need no login
    assert client.get("/login").status_code == 200


def test_logging_in_sets_a_strict_http_only_cookie_and_returns_to_the_page_asked_for(review_db):
    url, ids = review_db
    client = TestClient(create_app(url), base_url=BASE_URL)
    target = f"/pairs/{ids['Sum a slice.']}?language=Go"
    asked = client.get(target, follow_redirects=False)
    assert asked.headers["location"] == "/login?next=%2Fpairs%2F" + str(ids["Sum a slice."]) + "%3Flanguage%3DGo"
    wrong = log_in(client, "ana", "not the password", next=target)
    assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    unknown = log_in(client, "nobody", PASSWORD)
    assert unknown.status_code == 401 and "wrong name or password" in unknown.text
    response = log_in(client, "ana", next=target)
    assert response.status_code == 303 and response.headers["location"] == target
    cookie = next(value for value in response.headers.get_list("set-cookie") if value.startswith("polyforge_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain http here
    page = client.get(target)
    assert page.status_code == 200 and "verdict of ana" in page.text
    policy = page.headers["content-security-policy"]  # script only from the app's own files, never inline
    assert "script-src 'self';" in policy and "unsafe" not in policy and "default-src 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"


def test_over_https_the_session_cookie_is_secure(review_db):
    url, _ = review_db
    client = TestClient(create_app(url), base_url="https://127.0.0.1:8000")
    response = log_in(client, "ana")
    cookie = next(value for value in response.headers.get_list("set-cookie") if value.startswith("polyforge_session="))
    assert response.status_code == 303 and "Secure" in cookie


def test_after_login_only_local_pages_are_targets(review_db):
    url, _ = review_db
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = TestClient(create_app(url), base_url=BASE_URL)
        assert log_in(client, "ana", next=target).headers["location"] == "/", target


def test_logging_out_ends_the_session_on_the_server(review_db):
    url, _ = review_db
    client = logged_in(create_app(url), csrf_header=False)
    cookie = client.cookies.get("polyforge_session")
    csrf = session_csrf(client)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).headers["location"] == "/login"
    with session_scope(url, create=False) as session:
        assert session.scalar(select(func.count(WebSession.id))) == 0
    replayed = TestClient(client.app, base_url=BASE_URL, cookies={"polyforge_session": cookie})
    assert replayed.get("/", follow_redirects=False).status_code == 303  # the old cookie opens nothing


def test_state_changing_requests_need_the_csrf_token_of_their_own_session(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo = logged_in(app, "ana", csrf_header=False), logged_in(app, "bo", csrf_header=False)
    form = f"/pairs/{ids['Sum a slice.']}/review"
    for token in (None, "forged", session_csrf(bo)):  # none, made up, another session's
        data = {"verdict": "accept"} | ({"csrf_token": token} if token else {})
        refused = ana.post(form, data=data, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF token" in refused.text, token
    api = f"/api/pairs/{ids['Sum a slice.']}/reviews"
    assert ana.post(api, json={"verdict": "accept"}).status_code == 403
    assert reviews(url) == 0
    assert ana.post(form, data={"verdict": "accept", "csrf_token": session_csrf(ana)},
                    follow_redirects=False).status_code == 303
    assert ana.post(api, json={"verdict": "reject"}, headers={"X-CSRF-Token": session_csrf(ana)}).status_code == 201
    assert reviews(url) == 2
    # the login form has its own token, bound to a cookie of the browser that asked for the form
    stranger = TestClient(app, base_url=BASE_URL)
    assert stranger.post("/login", data={"name": "ana", "password": PASSWORD}).status_code == 403
    assert stranger.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": "forged"},
                         follow_redirects=False).status_code == 403


def test_posts_from_another_origin_are_refused_even_with_a_valid_token(review_db):
    url, ids = review_db
    client = logged_in(create_app(url))  # sends its valid CSRF token on every request
    form = f"/pairs/{ids['Sum a slice.']}/review"
    for headers in ({"Origin": "http://127.0.0.1:9999"}, {"Origin": "null"}, {"Origin": "http://evil.example"},
                    {"Sec-Fetch-Site": "same-site"}):
        refused = client.post(form, data={"verdict": "accept"}, headers=headers, follow_redirects=False)
        assert refused.status_code == 403 and "cross-origin" in refused.text, headers
    assert reviews(url) == 0
    same_origin = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}
    allowed = client.post(form, data={"verdict": "accept"}, headers=same_origin, follow_redirects=False)
    assert allowed.status_code == 303 and reviews(url) == 1


def test_requests_naming_another_host_are_refused(review_db):
    """DNS rebinding: a name that resolves to 127.0.0.1 is still not the app's name."""
    url, _ = review_db
    client = logged_in(create_app(url))
    for host in ("evil.example:8000", "evil.example", "127.0.0.1:9999"):
        refused = client.get("/api/queue", headers={"Host": host})
        assert refused.status_code == 400 and "unknown host" in refused.text, host
    assert TestClient(client.app, base_url="http://attacker.example:8000").get("/login").status_code == 400
    assert client.get("/api/queue", headers={"Host": "localhost:8000"}).status_code == 200
    public = create_app(url, WebSettings(public_urls=("https://review.example.org",)))
    assert TestClient(public, base_url="https://review.example.org").get("/login").status_code == 200
    assert TestClient(public, base_url="https://review.example.org:8443").get("/login").status_code == 400


@pytest.mark.parametrize("host, allowed, refused", [
    ("127.0.0.1", {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}, {"10.1.2.3:8000", "127.0.0.1:80"}),
    ("0.0.0.0", {"127.0.0.1:8000", "localhost:8000"}, {"0.0.0.0:8000", "evil.example:8000"}),
    ("10.1.2.3", {"10.1.2.3:8000"}, {"127.0.0.1:8000", "localhost:8000"}),
    ("::1", {"[::1]:8000", "localhost:8000"}, {"[::2]:8000"}),
])
def test_allowed_hosts_are_the_bound_address_and_its_loopback_names(host, allowed, refused):
    hosts = WebSettings(host=host, port=8000).allowed_hosts()
    assert allowed <= hosts and not refused & hosts


def test_failed_logins_slow_their_address_and_name_down_without_locking_the_owner_out(review_db):
    url, _ = review_db
    app = create_app(url)
    now = [1000.0]
    app.state.throttle = LoginThrottle(per_name=5, per_address=8, window_s=60, max_wait_s=600, clock=lambda: now[0])
    attacker = TestClient(app, base_url=BASE_URL, client=("10.0.0.1", 50000))
    owner = TestClient(app, base_url=BASE_URL, client=("10.0.0.2", 50000))
    for _ in range(5):
        assert log_in(attacker, "root", "guess").status_code == 401
    blocked = log_in(attacker, "root")  # even the right password waits
    assert blocked.status_code == 429 and "too many failed logins" in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 60
    assert log_in(owner, "root").status_code == 303  # the owner, from elsewhere, is not locked out
    for _ in range(3):  # other names from the same address: their own count, and the address's
        assert log_in(attacker, "bo", "guess").status_code == 401
    assert log_in(attacker, "ana").status_code == 429  # 8 failures from one address, whatever the names
    now[0] += 61
    assert log_in(attacker, "root", "guess").status_code == 401  # one more try after the wait...
    again = log_in(attacker, "root", "guess")
    assert again.status_code == 429 and 60 < int(again.headers["retry-after"]) <= 120  # ...then twice the wait
    now[0] += 10_000  # quiet long enough: forgotten
    assert log_in(attacker, "root").status_code == 303


def test_tokens_authenticate_scripts_and_are_stored_hashed(review_db):
    url, ids = review_db
    app = create_app(url)
    token = token_for(url, "bo")
    script = TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/me").json() == {"name": "bo", "role": "annotator"}
    assert script.post(f"/api/pairs/{ids['Sum a slice.']}/reviews", json={"verdict": "accept"}).status_code == 201
    assert script.get("/api/users").status_code == 403  # admins only
    admin = TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {token_for(url, 'root')}"})
    assert {(u["name"], u["role"], u["tokens"]) for u in admin.get("/api/users").json()} == {
        ("ana", "annotator", 0), ("bo", "annotator", 1), ("root", "admin", 1)}
    forged = TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {token}x"})
    assert forged.get("/api/queue").status_code == 401 and forged.get("/", follow_redirects=False).status_code == 401
    with session_scope(url, create=False) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert token not in stored and all(len(value) == 64 for value in stored)
        assert session.scalar(select(User.password_hash).where(User.name == "bo")).startswith("$argon2id$")
        assert session.scalar(select(Review.user_id)) == session.scalar(select(User.id).where(User.name == "bo"))


def test_a_removed_user_loses_tokens_and_sessions_and_keeps_verdicts(review_db):
    url, ids = review_db
    app = create_app(url)
    token = token_for(url, "ana")
    browser = logged_in(app, "ana")
    assert browser.post(f"/api/pairs/{ids['Sum a slice.']}/reviews", json={"verdict": "accept"}).status_code == 201
    with session_scope(url, create=False) as session:
        remove_user(session, "ana")
    assert TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {token}"}).get(
        "/api/queue").status_code == 401
    assert browser.get("/", follow_redirects=False).status_code == 303
    with session_scope(url, create=False) as session:
        review = session.scalars(select(Review)).one()
        assert (review.annotator, review.user_id) == ("ana", None)


def test_model_output_is_escaped_and_code_highlighted(review_db, hostile_pair):
    url, _ = review_db
    assert TEMPLATES.env.autoescape is True
    client = logged_in(create_app(url))
    for path in (f"/pairs/{hostile_pair}", "/"):
        page = client.get(path).text
        assert "<script>window.pwned" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page, path
    page = client.get(f"/pairs/{hostile_pair}").text
    assert '<div class="highlight"><pre>' in page and '<span class="k">def</span>' in page  # pygments, server-side
    assert page.count("window.pwned=1") >= 2 * len(HOSTILE)  # instruction and answer, prose and code
    assert client.get(f"/api/pairs/{hostile_pair}").json()["instruction"].count("<script>") == 1  # JSON keeps the text


def test_api_docs_are_off_unless_turned_on_and_load_nothing_from_elsewhere(review_db):
    url, _ = review_db
    root = logged_in(create_app(url), "root")
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert root.get(path).status_code == 404, path
    root = logged_in(create_app(url, WebSettings(api_docs=True)), "root")
    docs = root.get("/docs")
    assert docs.status_code == 200 and "/api/pairs/{pair_id}/reviews" in docs.text and "ReviewIn" in docs.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", docs.text)  # no CDN, nothing from another site
    assert set(re.findall(r'<script[^>]*src="([^"]+)"', docs.text)) == {"/static/keys.js"}  # the app's own only
    assert "default-src 'none'" in docs.headers["content-security-policy"]
    assert root.get("/openapi.json").json()["info"]["title"] == "Polyforge review"
    assert root.get("/redoc").status_code == 404


def test_logged_in_pages_are_never_cached_and_https_asks_for_https_only(review_db):
    url, ids = review_db
    client = logged_in(create_app(url))
    for path in ("/", f"/pairs/{ids['Reverse a list.']}", "/api/queue", "/login"):
        response = client.get(path, follow_redirects=False)
        assert response.headers.get("cache-control") == "no-store", path
        assert "strict-transport-security" not in response.headers, path  # plain http: not promised
    assert "no-store" not in client.get("/static/review.css").headers.get("cache-control", "")
    secure = TestClient(create_app(url), base_url="https://127.0.0.1:8000")
    assert secure.get("/login").headers["strict-transport-security"].startswith("max-age=")


def test_a_login_rotates_the_session_and_ends_the_older_ones(review_db):
    url, _ = review_db
    app = create_app(url)
    first = logged_in(app, "ana")
    before = first.cookies.get("polyforge_session")
    assert log_in(first, "ana").status_code == 303  # a new login in the same browser
    after = first.cookies.get("polyforge_session")
    assert after != before and first.get("/").status_code == 200
    replayed = TestClient(app, base_url=BASE_URL, cookies={"polyforge_session": before})
    assert replayed.get("/", follow_redirects=False).status_code == 303  # the old session is over
    elsewhere = logged_in(app, "ana")  # a login from another browser ends this one's session too
    assert first.get("/", follow_redirects=False).status_code == 303 and elsewhere.get("/").status_code == 200


def test_api_tokens_expire(review_db):
    url, _ = review_db
    app = create_app(url, WebSettings(token_days=30))
    token = token_for(url, "bo")
    script = TestClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/me").status_code == 200
    with session_scope(url, create=False) as session:
        row = session.scalars(select(ApiToken)).one()
        row.created_at -= timedelta(days=31)
        session.commit()
    expired = script.get("/api/me")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
