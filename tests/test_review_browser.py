"""The review app in a real browser (Debian's headless Chromium driven by playwright): logging in and out, model
output that tries to run script, a form another local site posts to the app, and every route asked for
without a session."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from polyforge.cli import app as cli_app
from polyforge.review import create_app
from polyforge.review.security import WebSettings
from polyforge.storage import Review, session_scope
from polyforge.storage.judgments import review_verdicts
from review_support import HOSTILE, PASSWORD, hostile_pair, review_db, served  # noqa: F401  (fixtures)
from servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (dev extra)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"no {CHROMIUM}: install Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


@pytest.fixture
def app_url(review_db):
    """The app over the review database, served by uvicorn on a free local port."""
    with served(create_app(review_db[0], WebSettings(port=free_port()))) as base:
        yield base


def log_in(page, app_url: str, name: str = "ana", password: str = PASSWORD) -> None:
    page.goto(f"{app_url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def reviews(url: str) -> list[tuple[str, str]]:
    with session_scope(url, create=False) as session:
        return [(review.annotator, review.verdict) for review in session.scalars(select(Review).order_by(Review.id))]


def final(url: str) -> list[tuple[int, bool]]:
    """Review's final verdicts: (pair id, accepted)."""
    with session_scope(url, create=False) as session:
        return sorted(review_verdicts(session).items())


def test_an_annotator_logs_in_and_out(page, app_url):
    page.goto(f"{app_url}/")
    assert page.url == f"{app_url}/login?next=%2F"
    log_in(page, app_url, password="wrong password")
    assert "wrong name or password" in page.inner_text("p.error")
    log_in(page, app_url)
    page.wait_for_url(f"{app_url}/")
    assert "flagged assigned to you: 3 open" in page.inner_text("header")
    cookie, = [c for c in page.context.cookies() if c["name"] == "polyforge_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["secure"] is False
    assert "polyforge_session" not in page.evaluate("document.cookie")  # out of reach of any script
    page.click("header button")  # log out
    page.wait_for_url(f"{app_url}/login")
    page.goto(f"{app_url}/")
    assert page.url.startswith(f"{app_url}/login")


def test_model_output_shows_as_text_and_never_runs(page, app_url, hostile_pair):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    log_in(page, app_url)
    page.wait_for_url(f"{app_url}/")
    for path in ("/", f"/pairs/{hostile_pair}"):
        page.goto(f"{app_url}{path}")
        assert page.evaluate("typeof window.pwned") == "undefined", path
        assert page.locator("img[src=x]").count() == 0 and page.locator("body script").count() == 0, path
    for block in ("div.instruction", "div.answer"):
        shown = page.inner_text(block)
        for payload in HOSTILE:
            assert payload in shown, (block, payload)
    assert page.locator("div.answer div.highlight").count() == 1  # the answer's code block, highlighted
    assert violations == []  # nothing even tried to run (the CSP would have reported it)


def test_a_form_another_local_site_posts_to_the_app_is_refused(page, app_url, review_db, hostile_pair):
    """A page on another port of the same machine (same site, other origin) submits a verdict form to the app
    while the annotator is logged in: the browser sends the session cookie, the app refuses the post."""
    url, ids = review_db
    target = f"{app_url}/pairs/{ids['Sum a slice.']}/review"
    attack = (f'<form method="post" action="{target}"><input name="verdict" value="accept">'
              '<input name="csrf_token" value="guessed"></form><script>document.forms[0].submit()</script>').encode()

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args):
            pass

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        log_in(page, app_url)
        page.wait_for_url(f"{app_url}/")
        with page.expect_response(target) as answer:
            page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        assert answer.value.status == 403
        assert "refused" in answer.value.text()
        assert reviews(url) == []
    finally:
        attacker.shutdown()
    # the app's own form, in the same browser, works
    page.goto(f"{app_url}/pairs/{ids['Sum a slice.']}")
    page.click("button.accept")
    page.wait_for_url(f"{app_url}/pairs/**")
    assert reviews(url) == [("ana", "accept")]


def pair_url(pair_id: int) -> re.Pattern:
    """A pair's page, whatever its query string."""
    return re.compile(rf"/pairs/{pair_id}(\?.*)?$")


def test_an_annotator_works_through_the_queue_with_the_keyboard(page, app_url, review_db):
    url, ids = review_db
    first, second, third = ids["Reverse a list."], ids["Sum a slice."], ids["Parse a date."]
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    log_in(page, app_url)
    page.wait_for_url(f"{app_url}/")
    page.keyboard.press("j")  # select the first row of the queue, then open it
    assert page.locator("table.queue tr.current a").inner_text() == str(first)
    page.keyboard.press("Enter")
    page.wait_for_url(pair_url(first))
    assert page.locator("#keys-help").is_hidden()
    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible() and "skip to the next open pair" in page.inner_text("#keys-help")
    page.keyboard.press("?")
    assert page.locator("#keys-help").is_hidden()
    page.keyboard.press("a")  # accept; the next open pair follows
    page.wait_for_url(pair_url(second))
    page.keyboard.press("s")  # skip it
    page.wait_for_url(pair_url(third))
    page.keyboard.press("k")  # back to the one skipped
    page.wait_for_url(pair_url(second))
    page.keyboard.press("r")
    page.wait_for_url(pair_url(third))
    page.keyboard.press("e")  # edit: the answer's text area takes the keys now
    assert page.evaluate("document.activeElement.name") == "text"
    page.keyboard.type("j k a r ")
    assert pair_url(third).search(page.url)  # typed, not obeyed
    page.keyboard.press("Escape")
    page.keyboard.press("j")  # no next pair after the last: nothing happens
    page.wait_for_timeout(300)
    assert pair_url(third).search(page.url)
    assert reviews(url) == [("ana", "accept"), ("ana", "reject")]
    assert violations == []


def test_the_campaign_dashboard_renders_its_charts(page, app_url, review_db):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    log_in(page, app_url, "root")  # the campaign pages are for admins
    page.wait_for_url(f"{app_url}/")
    page.click("header nav a[href='/campaigns']")
    page.wait_for_url(f"{app_url}/campaigns")
    page.click("table.campaigns a")
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    images = page.locator("figure img")
    assert images.count() >= 4  # funnel, scores, criteria, flags (the fixture has no topics to cover)
    widths = page.evaluate("Array.from(document.querySelectorAll('figure img'), img => img.complete && img.naturalWidth)")
    assert len(widths) == images.count() and min(widths) > 100, widths  # every chart decoded and drawn
    assert page.evaluate("getComputedStyle(document.querySelector('.charts')).display") == "grid"  # styles applied
    assert violations == []


def logged_in_page(browser, app_url: str, name: str):
    """A page of a browser context of its own, logged in as `name` (several users at once, as a team works)."""
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    log_in(opened, app_url, name)
    opened.wait_for_url(f"{app_url}/")
    return opened


def test_two_annotators_disagree_and_an_admin_adjudicates(browser, app_url, review_db):
    url, ids = review_db
    pair_id = ids["Sum a slice."]
    for name, button in (("ana", "accept"), ("bo", "reject")):
        annotator = logged_in_page(browser, app_url, name)
        annotator.goto(f"{app_url}/pairs/{pair_id}")
        annotator.click(f"form.verdict button.{button}")
        annotator.wait_for_url(re.compile(r"/pairs/\d+\?"))
        assert final(url) == [], name  # one verdict, then two that disagree: undecided
        annotator.context.close()
    admin = logged_in_page(browser, app_url, "root")
    admin.goto(f"{app_url}/admin")
    admin.click(f"a[href='/pairs/{pair_id}?disputed=true']")
    admin.wait_for_url(pair_url(pair_id))
    assert admin.locator("table.reviews tr").count() == 3  # header, ana's and bo's verdicts
    assert "adjudication of root" in admin.inner_text("form.verdict")
    admin.click("form.verdict button.reject")
    admin.wait_for_url(f"{app_url}/?disputed=true")
    assert final(url) == [(pair_id, False)]
    admin.context.close()


def test_an_edit_in_the_browser_shows_up_in_the_sft_and_dpo_exports(browser, app_url, review_db, tmp_path):
    url, ids = review_db
    pair_id = ids["Reverse a list."]
    fixed = "Use slicing:\n```python\ndef reverse(items):\n    return items[::-1]\n```"
    ana = logged_in_page(browser, app_url, "ana")
    ana.goto(f"{app_url}/pairs/{pair_id}")
    ana.keyboard.press("e")
    ana.fill("textarea.edit-answer", fixed)
    ana.click("form.edit:has(textarea.edit-answer) button")
    ana.wait_for_url(pair_url(pair_id))
    assert "return items[::-1]" in ana.inner_text("div.answer")
    ana.click("form.verdict button.accept")
    ana.wait_for_url(re.compile(r"/pairs/\d+\?"))
    bo = logged_in_page(browser, app_url, "bo")
    bo.goto(f"{app_url}/pairs/{pair_id}")
    assert "return items[::-1]" not in bo.inner_text("div.answer")  # blind review: not another's correction
    bo.click("form.verdict button.accept")
    bo.wait_for_url(re.compile(r"/pairs/\d+\?"))
    exported = {}
    for kind in ("sft", "dpo"):
        out = tmp_path / f"{kind}.jsonl"
        result = CliRunner().invoke(cli_app, ["export", url, "--format", f"{kind}-jsonl", "--out", str(out)])
        assert result.exit_code == 0, result.output
        exported[kind] = [json.loads(line) for line in out.read_text().splitlines()]
    sft = {row["pair_id"]: row for row in exported["sft"]}
    assert sft[pair_id]["messages"][1]["content"] == fixed
    (preference,) = [row for row in exported["dpo"] if row["pair_id"] == pair_id]
    assert preference["chosen"][0]["content"] == fixed
    assert preference["rejected"][0]["content"] == "```\nReverse a list. solved\n```"  # the model's original


def test_a_bulk_verdict_on_ticked_pairs_after_a_confirmation(page, app_url, review_db):
    url, ids = review_db
    log_in(page, app_url)
    page.wait_for_url(f"{app_url}/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")  # untick the second pair
    assert page.locator("table.queue input[type=checkbox]:checked").count() == 2
    page.click("form.bulk button.reject")
    page.wait_for_url(f"{app_url}/bulk*")
    assert "Reject these 2 pair(s)?" in page.inner_text("body")
    assert reviews(url) == []  # asked, not done
    page.click("form.confirm button")
    page.wait_for_url(f"{app_url}/?")
    assert reviews(url) == [("ana", "reject"), ("ana", "reject")]
    assert page.locator("table.queue a").all_inner_texts() == [str(ids["Sum a slice."])]


def test_a_browser_that_never_logged_in_gets_nothing_but_the_login_page(page, app_url, review_db):
    """Every route of the served app, asked for by a browser without a session: pages send it to the login form,
    the API answers 401, state-changing requests are refused; nothing is served."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount, Route

    every = create_app(review_db[0], WebSettings(api_docs=True))  # with the routes an admin may turn on
    routes = [route for route in every.routes if not isinstance(route, Mount)]
    asked, served = 0, []
    for route in routes:
        assert isinstance(route, (APIRoute, Route)), route
        if route.path == "/login":
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            answer = page.request.fetch(f"{app_url}{path}", method=method, max_redirects=0)
            asked += 1
            location = answer.headers.get("location", "")
            refused = answer.status in (401, 403) or (answer.status == 303 and location.startswith("/login"))
            if not refused:
                served.append(f"{method} {route.path}: {answer.status} {location}")
    assert served == [] and asked >= 20, (asked, served)  # 22 today: every route but the login form
    for path in ("/", "/pairs/1", "/admin", "/campaigns", "/campaigns/1", "/bulk"):
        page.goto(f"{app_url}{path}")
        assert re.search(r"/login\?next=", page.url), (path, page.url)
        assert page.locator("input[name=password]").count() == 1
