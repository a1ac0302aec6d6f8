"""The campaign dashboard: the review app's page and `polyforge report --html`, the same HTML with its charts drawn
by matplotlib on the server and embedded, so that the file stands alone. (In a real browser:
test_review_browser.py.)"""

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from factories import campaign_with_snippets, pair
from polyforge.cli import app as cli_app
from polyforge.review import create_app
from polyforge.storage import EndpointUsage, JudgeScore, Review, session_scope
from polyforge.storage.accounts import add_user
from review_support import BASE_URL, PASSWORD, logged_in

IMAGE = re.compile(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">')


@pytest.fixture
def finished_campaign(db_url):
    """A finished campaign: 6 snippets; Python pairs accepted, flagged (then accepted by an admin) and rejected, a
    Go pair accepted and a Go duplicate; two criteria scored; one endpoint. Returns (url, campaign id)."""
    with session_scope(db_url) as session:
        campaign, snippets = campaign_with_snippets(session, 6)
        campaign.name, campaign.status = "nightly", "finished"
        rows = [("Python", "accepted", 8.0, "algorithms", "passed", 1000, None),
                ("Python", "flagged", 5.0, "strings", "failed", 800, "borderline final score"),
                ("Python", "rejected", 2.0, "algorithms", "failed", 600, None),
                ("Go", "accepted", 7.5, "algorithms", "passed", 900, None)]
        pairs = []
        for index, (language, status, score, topic, execution, tokens, reason) in enumerate(rows):
            made = pair(campaign, snippets[index], language, status, f"task {index}", final_score=score, topic=topic,
                        difficulty="easy", execution_status=execution, total_tokens=tokens, flag_reason=reason,
                        seconds=tokens / 100)
            made.scores = [JudgeScore(criterion="code_correctness", score=score, weight=2.0),
                           JudgeScore(criterion="clarity", score=min(10.0, score + 1), weight=1.0)]
            pairs.append(made)
        pairs.append(pair(campaign, snippets[4], "Go", "duplicate", "task 4", answer="", total_tokens=100))
        session.add_all(pairs)
        session.add(EndpointUsage(campaign_id=campaign.id, role="generator", base_url="http://127.0.0.1:9/v1",
                                  model="m", requests=10, failures=1, prompt_tokens=500, completion_tokens=300,
                                  seconds=5.0, ejections=0))
        session.flush()
        session.add(Review(pair_id=pairs[1].id, annotator="root", verdict="accept", adjudication=True))
        add_user(session, "ana", "annotator", PASSWORD)
        add_user(session, "root", "admin", PASSWORD)
        session.commit()
        return db_url, campaign.id


def funnel(page: str) -> dict[str, int]:
    table = re.search(r'<table class="funnel">(.*?)</table>', page, re.S).group(1)
    steps = re.findall(r'<th class="num">(\w+)</th>', table)
    return dict(zip(steps, map(int, re.findall(r'<td class="num">(\d+)</td>', table))))


def test_report_html_writes_one_self_contained_page_with_its_charts(finished_campaign, tmp_path):
    url, campaign_id = finished_campaign
    out = tmp_path / "share" / "nightly.html"
    result = CliRunner().invoke(cli_app, ["report", url, "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote the dashboard of campaign {campaign_id} (nightly)" in result.output
    page = out.read_text()
    assert funnel(page) == {"snippets": 6, "novel": 4, "answered": 4, "tested": 4, "judged": 4, "accepted": 3}
    charts = {alt: base64.b64decode(data).decode() for data, alt in IMAGE.findall(page)}
    assert set(charts) == {"Acceptance funnel", "Final scores per language", "Checklist criteria",
                           "Coverage: topic x language (judged pairs)", "Flag reasons", "Tokens per accepted pair"}
    assert all(svg.lstrip().startswith("<?xml") and "<svg" in svg for svg in charts.values())
    assert "Python (3)" in charts["Final scores per language"] and "Go (1)" in charts["Final scores per language"]
    assert "strings" in charts["Coverage: topic x language (judged pairs)"]
    assert "code_correctness" in charts["Checklist criteria"] and "2400" in charts["Tokens per accepted pair"]
    assert "borderline final score" in charts["Flag reasons"]
    python_row = re.search(r"<tr><td>Python</td>(.*?)</tr>", page, re.S).group(1)
    # Model seconds: 10 + 8 + 6 for the three Python pairs, spread over the one the judge accepted.
    assert re.findall(r'<td class="num">([\d.]+)</td>', python_row)[-2:] == ["24.0", "24.0"]
    assert re.findall(r'(?:src|href)="(?!data:)', page) == []  # nothing to fetch: the file stands alone
    assert "http://127.0.0.1:9/v1" in page and '<meta http-equiv="refresh"' not in page  # finished: no reload


def test_report_html_says_what_is_wrong(finished_campaign, tmp_path):
    url, _ = finished_campaign
    folder = CliRunner().invoke(cli_app, ["report", url, "--html", str(tmp_path)])
    assert folder.exit_code == 2 and "it is a folder; name a file" in folder.output
    missing = CliRunner().invoke(cli_app, ["report", url, "--campaign", "99", "--html", str(tmp_path / "x.html")])
    assert missing.exit_code == 2 and "no campaign 99" in missing.output and not (tmp_path / "x.html").exists()


def test_the_app_serves_the_dashboard_under_a_strict_policy(finished_campaign):
    url, campaign_id = finished_campaign
    app = create_app(url)
    assert logged_in(app).get("/campaigns").status_code == 403  # dashboards are for admins (blind review)
    client = logged_in(app, "root")
    listing = client.get("/campaigns")
    assert listing.status_code == 200 and "nightly" in listing.text
    assert f'href="/campaigns/{campaign_id}"' in listing.text
    page = client.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200 and len(IMAGE.findall(page.text)) == 6
    policy = page.headers["content-security-policy"]
    style = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}';" in policy and "script-src" not in policy and "img-src data:;" in policy
    missing = client.get("/campaigns/99")
    assert missing.status_code == 404 and "no campaign 99" in missing.json()["detail"]
    with session_scope(url, create=False) as session:
        from polyforge.storage import Campaign

        session.get(Campaign, campaign_id).status = "running"
        session.commit()
    assert '<meta http-equiv="refresh" content="30">' in client.get(f"/campaigns/{campaign_id}").text
    assert TestClient(client.app, base_url=BASE_URL).get(f"/campaigns/{campaign_id}",
                                                         follow_redirects=False).status_code == 303
