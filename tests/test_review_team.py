"""The review app at team scale: the time each verdict took, each annotator's pace and agreement on the admin page,
and similar pairs judged together with one bulk verdict."""

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

import polyforge.review.pace as pace
from polyforge.review import create_app
from polyforge.review.pace import annotator_pace, opened_stamp, seconds_open
from polyforge.storage import Assignment, Pair, Review, User, session_scope
from factories import pair, snippet
from review_support import logged_in, visible_text
from review_support import review_db  # noqa: F401  (a fixture)


@pytest.fixture
def clock(monkeypatch):
    """The time the pair page and the verdict see, set by the test."""
    now = [1_000_000.0]
    monkeypatch.setattr(pace, "time", SimpleNamespace(time=lambda: now[0]))
    return now


def opened(page_text: str) -> str:
    return re.search(r'name="opened" value="([^"]+)"', page_text).group(1)


def seconds_of(url: str) -> list[tuple[str, float | None]]:
    with session_scope(url, create=False) as session:
        return [(r.annotator, r.seconds) for r in session.scalars(select(Review).order_by(Review.id))]


def test_the_time_a_verdict_took_is_recorded_from_a_stamp_only_the_server_can_make(review_db, clock):
    url, ids = review_db
    app = create_app(url)
    ana, bo = logged_in(app, "ana"), logged_in(app, "bo")
    first, second = ids["Reverse a list."], ids["Sum a slice."]
    stamp = opened(ana.get(f"/pairs/{first}").text)
    clock[0] += 42
    assert ana.post(f"/pairs/{first}/review", data={"verdict": "accept", "opened": stamp},
                    follow_redirects=False).status_code == 303
    bo_stamp = opened(bo.get(f"/pairs/{first}").text)
    for forged in ("999.0.0000", stamp.replace(stamp.split(".")[0], "1"), opened(ana.get(f"/pairs/{second}").text),
                   bo_stamp, ""):  # made up, moved back in time, another pair's, another session's, none
        ana.post(f"/pairs/{first}/review", data={"verdict": "accept", "opened": forged})
    ana.post(f"/pairs/{second}/review", data={"verdict": "reject", "opened": stamp})  # left open past the hour
    clock[0] += 3600
    ana.post(f"/pairs/{first}/review", data={"verdict": "accept", "opened": opened(ana.get(f"/pairs/{first}").text)})
    assert bo.post(f"/api/pairs/{first}/reviews", json={"verdict": "accept", "seconds": 12.5}).json()["seconds"] == 12.5
    assert bo.post(f"/api/pairs/{first}/reviews", json={"verdict": "accept", "seconds": True}).status_code == 422
    assert seconds_of(url) == [("ana", 42.0)] + [("ana", None)] * 6 + [("ana", 0.0), ("bo", 12.5)]
    assert seconds_open(opened_stamp("s", 7, now=10.0), "s", 7, now=3611.0) is None  # an hour and more: not timed


def test_the_admin_page_shows_each_annotators_pace_and_agreement(review_db, clock):
    """On A (the sandbox passed its answer) ana and bo accept; on B (the sandbox failed it) ana rejects, bo accepts
    after 3 s. ana: 2 of 2 with the sandbox, bo: 1 of 2; each agrees with the other on 1 of 2."""
    url, ids = review_db
    a, b = ids["Reverse a list."], ids["Sum a slice."]
    with session_scope(url, create=False) as session:
        session.get(Pair, a).execution_status, session.get(Pair, b).execution_status = "passed", "failed"
        session.commit()
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    for client, pair_id, verdict, took in ((ana, a, "accept", 30), (ana, b, "reject", 50), (bo, a, "accept", 20),
                                           (bo, b, "accept", 3)):
        stamp = opened(client.get(f"/pairs/{pair_id}").text)
        clock[0] += took
        client.post(f"/pairs/{pair_id}/review", data={"verdict": verdict, "opened": stamp})
    with session_scope(url, create=False) as session:
        paces = {p.annotator: p for p in annotator_pace(session)}
    assert (paces["ana"].median_s, paces["ana"].rushed, paces["bo"].median_s, paces["bo"].rushed) == (40, 0, 11.5, 1)
    assert (paces["ana"].agreed, paces["ana"].shared, paces["bo"].agreement) == (1, 2, 0.5)
    assert (paces["ana"].sandbox_agreement, paces["bo"].sandbox_agreed, paces["bo"].sandboxed) == (1.0, 1, 2)
    shown = visible_text(root.get("/admin").text)
    assert re.search(r"ana\s*2\s*40\.0 s\s*0 of 2\s*50% \(1 of 2\)\s*100% \(2 of 2\)", shown), shown
    assert re.search(r"bo\s*2\s*11\.5 s\s*1 of 2\s*50% \(1 of 2\)\s*50% \(1 of 2\)", shown), shown


@pytest.fixture
def family(review_db):
    """Three more flagged Python pairs about reversing lists, assigned to ana only: (their ids, the database)."""
    url, ids = review_db
    texts = ("Reverse a list in place.", "Return the list reversed, last item first.", "Reverse the order of items.")
    with session_scope(url, create=False) as session:
        campaign = session.get(Pair, ids["Reverse a list."]).campaign
        rows = [pair(campaign, snippet(campaign, 50 + n), "Python", "flagged", text) for n, text in enumerate(texts)]
        session.add_all(rows)
        session.commit()
        ana = session.scalar(select(User.id).where(User.name == "ana"))
        session.add_all([Assignment(pair_id=row.id, user_id=ana) for row in rows])
        session.commit()
        return [row.id for row in rows], url, ids


def test_similar_pairs_are_the_nearest_of_the_viewers_own_and_take_one_bulk_verdict(family):
    new, url, ids = family
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    anchor = ids["Reverse a list."]
    found = ana.get(f"/api/pairs/{anchor}/similar").json()
    assert [f["pair_id"] for f in found[:3]] and set(f["pair_id"] for f in found[:3]) == set(new)
    assert found[-1]["pair_id"] == ids["Parse a date."] and found[0]["similarity"] > found[-1]["similarity"]
    assert ids["Count words."] not in [f["pair_id"] for f in found]  # another judge's route: not one bulk verdict
    assert set(f["pair_id"] for f in bo.get(f"/api/pairs/{anchor}/similar").json()).isdisjoint(new)  # not bo's
    assert len(root.get(f"/api/pairs/{anchor}/similar").json()) == 4  # an admin: every flagged Python pair
    page = ana.get(f"/pairs/{anchor}/similar")
    assert page.status_code == 200 and all(f'value="{pair_id}"' in page.text for pair_id in new)
    assert f'href="/pairs/{anchor}/similar"' in ana.get(f"/pairs/{anchor}").text
    chosen = [anchor, *new]
    asked = ana.post("/bulk", data={"verdict": "reject", "pair": chosen})
    assert asked.status_code == 200 and "Reject these 4 pair(s)?" in asked.text
    ana.post("/bulk", data={"verdict": "reject", "pair": chosen, "confirm": "yes"})
    with session_scope(url, create=False) as session:
        stored = session.execute(select(Review.pair_id, Review.verdict, Review.seconds)).all()
    assert sorted(stored) == sorted((pair_id, "reject", None) for pair_id in chosen)
    assert bo.get(f"/pairs/{new[0]}/similar").status_code == 403  # not assigned to bo
