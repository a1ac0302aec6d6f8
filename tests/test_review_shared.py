"""Shared review: pairs assigned to several annotators, each seeing only their own; their verdicts kept side by side,
the agreed one or an admin's adjudication deciding; agreement figures; corrections that exports and DPO use; bulk
verdicts behind a confirmation. (The keyboard flow in a real browser: test_review_browser.py.)"""

import random
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from polyforge.cli import app as cli_app
from polyforge.export import ExportFilter, iter_dpo_records, iter_sft_records
from polyforge.review import create_app
from polyforge.review.agreement import OVERALL, agreement
from polyforge.storage import Assignment, JudgeScore, Pair, PairRevision, Preference, Review, User, session_scope
from polyforge.storage.accounts import add_user
from polyforge.storage.assignments import AssignmentError, assign
from polyforge.storage.judgments import review_verdicts
from polyforge.storage.reviews import QueueFilter
from review_support import BASE_URL, PASSWORD, logged_in, session_csrf, visible_text
from review_support import review_db  # noqa: F401  (a fixture)


def cli(*args: str):
    return CliRunner().invoke(cli_app, list(args))


def reviews(url: str) -> list[tuple[int, str, str, bool]]:
    with session_scope(url, create=False) as session:
        return [(r.pair_id, r.annotator, r.verdict, r.adjudication)
                for r in session.scalars(select(Review).order_by(Review.id))]


def assignees(url: str) -> dict[int, set[str]]:
    with session_scope(url, create=False) as session:
        rows = session.execute(select(Assignment.pair_id, User.name).join(User, Assignment.user_id == User.id))
        found: dict[int, set[str]] = {}
        for pair_id, name in rows:
            found.setdefault(pair_id, set()).add(name)
        return found


def queue_ids(client, **params) -> list[int]:
    return [entry["pair_id"] for entry in client.get("/api/queue", params=params).json()]


@pytest.fixture
def three_annotators(review_db):
    """The review database with its assignments cleared and a third annotator, cy."""
    url, ids = review_db
    with session_scope(url, create=False) as session:
        session.execute(delete(Assignment))
        add_user(session, "cy", "annotator", PASSWORD)
        session.commit()
    return url, ids


def test_assign_gives_each_pair_to_k_distinct_annotators_and_balances_the_load(three_annotators):
    url, ids = three_annotators
    flagged = {ids["Reverse a list."], ids["Sum a slice."], ids["Parse a date."]}
    result = cli("review", "assign", url, "--overlap", "2")
    assert result.exit_code == 0, result.output
    assert "assigned 3 pair(s), 2 annotator(s) each" in result.output
    given = assignees(url)
    assert set(given) == flagged  # the accepted and rejected pairs wait for an audit assignment
    assert {len(names) for names in given.values()} == {2}  # two distinct annotators each
    load = {name: sum(name in names for names in given.values()) for name in ("ana", "bo", "cy")}
    assert sorted(load.values()) == [2, 2, 2]
    again = cli("review", "assign", url, "--overlap", "2")
    assert again.exit_code == 0 and "nothing to assign" in again.output and assignees(url) == given
    with session_scope(url, create=False) as session:
        # raising the overlap adds the missing annotator to each pair, keeping those it had
        assert assign(session, QueueFilter(), overlap=3).pairs == 3
        with pytest.raises(AssignmentError, match="overlap 4 needs 4 annotators, and there are 3"):
            assign(session, QueueFilter(), overlap=4)
    assert all(names == {"ana", "bo", "cy"} for names in assignees(url).values())
    audit = cli("review", "assign", url, "--status", "accepted", "--overlap", "1")
    assert audit.exit_code == 0 and assignees(url)[ids["Count words."]] <= {"ana", "bo", "cy"}
    both = cli("review", "assign", url, "--limit", "1", "--sample", "1")
    assert both.exit_code == 2 and "not both" in both.output
    bad = cli("review", "assign", url, "--overlap", "9")
    assert bad.exit_code == 2 and "overlap 9 needs 9 annotators" in bad.output and "Traceback" not in bad.output


def test_an_annotator_sees_and_answers_only_their_own_pairs(review_db):
    url, ids = review_db
    theirs, other = ids["Reverse a list."], ids["Sum a slice."]
    with session_scope(url, create=False) as session:
        ana_id = session.scalar(select(User.id).where(User.name == "ana"))
        session.execute(delete(Assignment).where(Assignment.pair_id == other, Assignment.user_id == ana_id))
        session.commit()
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    assert queue_ids(ana) == [theirs, ids["Parse a date."]]
    assert other in queue_ids(bo) and other in queue_ids(root)
    assert f'href="/pairs/{other}' not in ana.get("/").text
    for response in (ana.get(f"/pairs/{other}"), ana.get(f"/api/pairs/{other}"),
                     ana.post(f"/api/pairs/{other}/reviews", json={"verdict": "accept"}),
                     ana.post(f"/pairs/{other}/review", data={"verdict": "accept"}),
                     ana.post(f"/api/pairs/{other}/revisions", json={"field": "answer", "text": "mine"}),
                     ana.post(f"/pairs/{other}/edit", data={"field": "answer", "text": "mine"})):
        assert response.status_code == 403 and "not assigned to you" in response.text
    assert reviews(url) == []
    # verdicts stay independent: an annotator sees their own, an admin all
    bo.post(f"/api/pairs/{theirs}/reviews", json={"verdict": "reject", "note": "wrong loop bound"})
    ana.post(f"/api/pairs/{theirs}/reviews", json={"verdict": "accept"})
    assert [r["annotator"] for r in ana.get(f"/api/pairs/{theirs}").json()["reviews"]] == ["ana"]
    assert "wrong loop bound" not in ana.get(f"/pairs/{theirs}").text
    assert [r["annotator"] for r in root.get(f"/api/pairs/{theirs}").json()["reviews"]] == ["bo", "ana"]
    assert queue_ids(ana) == [ids["Parse a date."]]  # reviewed by ana: out of her queue
    assert queue_ids(ana, pending="false")[:1] == [theirs]


def test_a_disagreement_waits_for_an_admin_who_adjudicates_in_the_app(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    pair_id = ids["Sum a slice."]
    ana.post(f"/pairs/{pair_id}/review", data={"verdict": "accept"})
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {}  # one of two annotators: not decided
    bo.post(f"/pairs/{pair_id}/review", data={"verdict": "reject"})
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {}  # they disagree: not decided either
    assert queue_ids(ana) == queue_ids(bo) == [ids["Reverse a list."], ids["Parse a date."]]
    admin_page = root.get("/admin")
    assert admin_page.status_code == 200 and f'href="/pairs/{pair_id}?disputed=true"' in admin_page.text
    assert "adjudication of root" in root.get(f"/pairs/{pair_id}").text
    assert ana.get("/admin").status_code == 403 and "admins only" in ana.get("/admin").text
    response = root.post(f"/pairs/{pair_id}/review?disputed=true",
                         data={"verdict": "reject", "note": "no overflow check"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/?disputed=true"  # no dispute left
    assert reviews(url) == [(pair_id, "ana", "accept", False), (pair_id, "bo", "reject", False),
                            (pair_id, "root", "reject", True)]
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {pair_id: False}
    assert f'href="/pairs/{pair_id}?disputed=true"' not in root.get("/admin").text


def test_agreement_figures_match_hand_computed_values(review_db):
    """ana and bo on four pairs (Python: accept/accept, accept/reject, reject/reject; Go: reject/reject), one pair
    only ana reviewed. By hand: overall kappa = (3/4 - 1/2) / (1 - 1/2) = 0.5 and alpha = 1 - 7 * 2 / (3 * 5 * 2)
    = 8/15; Python kappa = (2/3 - 4/9) / (5/9) = 0.4 and alpha = 1 - 5 * 2 / (3 * 3 * 2) = 4/9; Go has one verdict
    only: both undefined."""
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    verdicts = {"Reverse a list.": ("accept", "accept"), "Parse a date.": ("accept", "reject"),
                "Count words.": ("reject", "reject"), "Sum a slice.": ("reject", "reject")}
    bo.post(f"/api/pairs/{ids['Parse a date.']}/reviews", json={"verdict": "accept"})  # bo's first look, replaced
    for instruction, (first, second) in verdicts.items():
        ana.post(f"/api/pairs/{ids[instruction]}/reviews", json={"verdict": first})
        bo.post(f"/api/pairs/{ids[instruction]}/reviews", json={"verdict": second})
    ana.post(f"/api/pairs/{ids['Print hello.']}/reviews", json={"verdict": "accept"})
    root.post(f"/api/pairs/{ids['Parse a date.']}/reviews", json={"verdict": "accept"})  # adjudications don't count
    with session_scope(url, create=False) as session:
        overall, go, python = agreement(session)
    assert (overall.scope, overall.pairs, overall.annotators) == (OVERALL, 5, 2)
    assert overall.alpha == pytest.approx(8 / 15)
    (kappa,) = overall.kappas
    assert (kappa.first, kappa.second, kappa.shared, kappa.agreed) == ("ana", "bo", 4, 3)
    assert kappa.kappa == pytest.approx(0.5)
    assert python.scope == "Python" and python.alpha == pytest.approx(4 / 9)
    assert python.kappas[0].kappa == pytest.approx(0.4)
    assert go.scope == "Go" and go.alpha is None and go.kappas[0].kappa is None
    api = root.get("/api/agreement").json()
    assert api[0]["alpha"] == pytest.approx(8 / 15) and api[0]["kappas"][0]["kappa"] == pytest.approx(0.5)
    assert ana.get("/api/agreement").status_code == 403
    assert "0.533" in root.get("/admin").text
    printed = cli("review", "agreement", url)
    assert printed.exit_code == 0, printed.output
    assert re.search(r"all languages\s*│\s*5\s*│\s*2\s*│\s*0\.533", printed.output), printed.output
    assert re.search(r"Python\s*│\s*ana & bo\s*│\s*3\s*│\s*2\s*│\s*0\.400", printed.output), printed.output
    assert re.search(r"Go\s*│\s*1\s*│\s*2\s*│\s*-\s", printed.output), printed.output


def test_a_correction_is_a_revision_that_exports_use_and_that_makes_a_preference(review_db):
    url, ids = review_db
    app = create_app(url)
    ana, bo, root = logged_in(app, "ana"), logged_in(app, "bo"), logged_in(app, "root")
    pair_id = ids["Reverse a list."]
    with session_scope(url, create=False) as session:
        original = session.get(Pair, pair_id).answer
    fixed = "```python\ndef reverse(items):\n    return items[::-1]\n```\n"
    response = ana.post(f"/pairs/{pair_id}/edit", data={"field": "answer", "text": "first try"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/pairs/{pair_id}?"
    assert ana.post(f"/pairs/{pair_id}/edit", data={"field": "answer", "text": fixed}).status_code == 200
    made = bo.post(f"/api/pairs/{pair_id}/revisions", json={"field": "instruction", "text": "Reverse a list in place."})
    assert made.status_code == 201 and made.json()["author"] == "bo"
    assert bo.post(f"/api/pairs/{pair_id}/revisions", json={"field": "instruction",
                                                          "text": "Reverse a list in place."}).json() is None
    shown = visible_text(ana.get(f"/pairs/{pair_id}").text)  # her own corrections only: blind review
    assert "Reverse a list in place." not in shown and "return items[::-1]" in shown and "by ana;" in shown
    shown = visible_text(root.get(f"/pairs/{pair_id}").text)  # an admin sees them all
    assert "Reverse a list in place." in shown and "return items[::-1]" in shown and "by ana, bo" in shown
    detail = root.get(f"/api/pairs/{pair_id}").json()
    assert detail["answer"] == fixed and detail["original_answer"] == original
    assert [(r["field"], r["author"]) for r in detail["revisions"]] == [("answer", "ana"), ("answer", "ana"),
                                                                         ("instruction", "bo")]
    for client in (ana, bo):
        client.post(f"/api/pairs/{pair_id}/reviews", json={"verdict": "accept"})
    with session_scope(url, create=False) as session:
        assert session.get(Pair, pair_id).answer == original  # the model's text stays
        sft = [r for r in iter_sft_records(session, ExportFilter(("accepted",))) if r["pair_id"] == pair_id]
        dpo = [r for r in iter_dpo_records(session, ExportFilter(("accepted",))) if r["pair_id"] == pair_id]
        corrections = session.scalar(select(func.count(Preference.id)).where(Preference.revision_id.is_not(None)))
    assert [m["content"] for m in sft[0]["messages"]] == ["Reverse a list in place.", fixed]
    assert len(dpo) == 1 and corrections == 1  # the first try's preference was replaced by the second's
    assert dpo[0]["prompt"][0]["content"] == "Reverse a list in place."
    assert (dpo[0]["chosen"][0]["content"], dpo[0]["rejected"][0]["content"]) == (fixed, original)
    assert dpo[0]["reason"] == "corrected by annotator ana"


def test_bad_corrections_are_refused_with_a_reason(review_db):
    url, ids = review_db
    ana = logged_in(create_app(url))
    pair_id = ids["Reverse a list."]
    empty = ana.post(f"/pairs/{pair_id}/edit", data={"field": "answer", "text": "  "})
    assert empty.status_code == 200 and "answer: the corrected text is empty" in visible_text(empty.text)
    field = ana.post(f"/pairs/{pair_id}/edit", data={"field": "title", "text": "x"})
    assert "field: &#39;title&#39; is not one of instruction, answer" in field.text
    api = ana.post(f"/api/pairs/{pair_id}/revisions", json={"field": "title", "text": "x"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["body", "field"]
    assert ana.post("/api/pairs/99999/revisions", json={"field": "answer", "text": "x"}).status_code == 404
    with session_scope(url, create=False) as session:
        assert session.scalar(select(func.count(PairRevision.id))) == 0


def test_a_bulk_verdict_needs_the_csrf_token_and_a_confirmation(review_db):
    url, ids = review_db
    app = create_app(url)
    ana = logged_in(app, "ana", csrf_header=False)
    csrf = session_csrf(ana)
    selected = [ids["Reverse a list."], ids["Parse a date."]]
    form = {"verdict": "reject", "pair": selected}
    assert ana.post("/bulk", data=form).status_code == 403  # no CSRF token
    assert ana.post("/bulk", data={**form, "csrf_token": "forged", "confirm": "yes"}).status_code == 403
    asked = ana.post("/bulk", data={**form, "csrf_token": csrf})
    assert asked.status_code == 200 and "Reject these 2 pair(s)?" in asked.text
    assert re.findall(r'name="pair" value="(\d+)"', asked.text) == [str(i) for i in selected]
    assert reviews(url) == []  # nothing stored before the confirmation
    done = ana.post("/bulk", data={**form, "csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/?"
    assert reviews(url) == [(selected[0], "ana", "reject", False), (selected[1], "ana", "reject", False)]
    assert queue_ids(ana) == [ids["Sum a slice."]]
    # what cannot be done is said, and nothing is stored
    for data, message in (({"verdict": "maybe", "pair": selected}, "verdict: &#39;maybe&#39; is not one of"),
                          ({"verdict": "accept"}, "no pair selected"),
                          ({"verdict": "accept", "pair": [ids["Count words."]]}, "are not in this queue"),
                          ({"verdict": "accept", "pair": [99999]}, "pair(s) 99999 are not in this queue")):
        refused = ana.post("/bulk", data={**data, "csrf_token": csrf, "confirm": "yes"})
        assert refused.status_code == 422 and message in refused.text, data
    not_a_number = ana.post("/bulk", data={"verdict": "accept", "pair": "x", "csrf_token": csrf})
    assert not_a_number.status_code == 422 and "Traceback" not in not_a_number.text
    assert len(reviews(url)) == 2
    # an admin's bulk verdict adjudicates
    root = logged_in(app, "root")
    root.post("/bulk", data={"verdict": "accept", "pair": [ids["Sum a slice."]], "confirm": "yes"})
    with session_scope(url, create=False) as session:
        assert review_verdicts(session) == {ids["Sum a slice."]: True}


def test_admins_assign_from_the_app_and_bad_requests_say_why(three_annotators):
    url, ids = three_annotators
    app = create_app(url)
    root, ana = logged_in(app, "root"), logged_in(app, "ana")
    assert queue_ids(ana) == []
    assert "Only the pairs an admin assigned to you are listed here" in ana.get("/").text
    assert ana.post("/api/assignments", json={"overlap": 2}).status_code == 403
    too_many = root.post("/admin/assign", data={"overlap": "5"})
    assert too_many.status_code == 422 and "overlap 5 needs 5 annotators, and there are 3" in too_many.text
    bad_campaign = root.post("/admin/assign", data={"overlap": "2", "campaign": "first"})
    assert bad_campaign.status_code == 422 and "campaign: &#39;first&#39; is not a campaign id" in bad_campaign.text
    done = root.post("/admin/assign", data={"overlap": "2", "language": "Go"})
    assert done.status_code == 200 and "Assigned 1 pair(s)" in done.text
    assert set(assignees(url)) == {ids["Sum a slice."]}
    api = root.post("/api/assignments", json={"overlap": 2, "status": "flagged"})
    assert api.status_code == 200 and api.json()["pairs"] == 2
    assert len(queue_ids(ana)) + len(queue_ids(logged_in(app, "bo"))) + len(queue_ids(logged_in(app, "cy"))) == 6
    assert root.post("/api/assignments", json={"overlap": 0}).status_code == 422


def test_agreement_per_criterion_on_the_scores_annotators_give(review_db):
    """ana and bo score code_correctness on three Python pairs: (8, 8), (4, 6), (2, 2), plus one only ana scored.
    Quadratic-weighted kappa by hand over the labels 1-10: observed weighted disagreement (0 + 4 + 0) / 3 = 4/3;
    expected, from ana's (8, 4, 2) against bo's (8, 6, 2): sum over the 9 cross pairs of (x - y)^2 / 9 =
    (0 + 4 + 36 + 16 + 4 + 4 + 36 + 16 + 0) / 9 = 116/9; kappa = 1 - (4/3) / (116/9) = 1 - 12/116 = 26/29."""
    url, ids = review_db
    with session_scope(url, create=False) as session:
        for instruction in ("Parse a date.", "Count words.", "Print hello.", "Sum a slice."):
            session.add(JudgeScore(pair_id=ids[instruction], criterion="code_correctness", score=5, weight=2.0))
        session.commit()
    app = create_app(url)
    ana, bo = logged_in(app, "ana"), logged_in(app, "bo")
    given = {"Reverse a list.": (8, 8), "Parse a date.": (4, 6), "Count words.": (2, 2)}
    for instruction, (first, second) in given.items():
        api = f"/api/pairs/{ids[instruction]}/reviews"
        assert ana.post(api, json={"verdict": "accept", "scores": {"code_correctness": first}}).status_code == 201
        assert bo.post(api, json={"verdict": "accept", "scores": {"code_correctness": second}}).status_code == 201
    # a form with one criterion scored and the others left blank
    form = ana.post(f"/pairs/{ids['Print hello.']}/review?status=rejected",
                    data={"verdict": "reject", "criterion": ["code_correctness"], "score": ["3"]})
    assert form.status_code == 200
    with session_scope(url, create=False) as session:
        scopes = {scope.scope: scope for scope in agreement(session)}
    scored = scopes["criterion code_correctness"]
    assert (scored.pairs, scored.annotators) == (4, 2)
    (kappa,) = scored.kappas
    assert (kappa.shared, kappa.agreed) == (3, 2) and kappa.kappa == pytest.approx(26 / 29)
    assert scored.alpha is not None and 0 < scored.alpha < 1
    assert scopes[OVERALL].alpha is None  # every verdict was accept: undefined
    shown = ana.get(f"/api/pairs/{ids['Parse a date.']}").json()["reviews"]
    assert [review["scores"] for review in shown] == [{"code_correctness": 4}]
    # scores that cannot be stored are refused, saying why
    api = f"/api/pairs/{ids['Sum a slice.']}/reviews"
    for scores, message in (({"code_correctness": 11}, "11 is not a whole number from 1 to 10"),
                            ({"style": 5}, "'style': not a criterion of pair"),
                            ({"code_correctness": "x"}, "")):
        refused = ana.post(api, json={"verdict": "accept", "scores": scores})
        assert refused.status_code == 422 and message in refused.text, scores
    page = ana.post(f"/pairs/{ids['Sum a slice.']}/review",
                    data={"verdict": "accept", "criterion": ["code_correctness"], "score": ["lots"]})
    assert "score of &#39;code_correctness&#39;: &#39;lots&#39; is not a whole number" in page.text
    assert ids["Sum a slice."] in queue_ids(ana)


def test_an_audit_assigns_a_random_sample_drawn_with_its_seed(three_annotators):
    url, ids = three_annotators
    flagged = sorted([ids["Reverse a list."], ids["Sum a slice."], ids["Parse a date."]])
    result = cli("review", "assign", url, "--overlap", "1", "--sample", "2", "--seed", "1")
    assert result.exit_code == 0 and "assigned 2 pair(s), 1 annotator(s) each" in result.output, result.output
    drawn = sorted(random.Random(1).sample(flagged, 2))
    assert drawn != flagged[:2] and sorted(assignees(url)) == drawn  # random, not the first by id
