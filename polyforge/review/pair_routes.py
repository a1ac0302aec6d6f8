"""An annotator's work: the queue, one pair with everything the judge saw, a verdict (by form or API), a
correction, and a bulk verdict on a selection. An annotator sees her own verdicts and corrections only."""

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from polyforge.review.dependencies import Db, Filter, Who, check_access, filter_query, filters, loaded_pair
from polyforge.review.pace import opened_stamp, seconds_open
from polyforge.review.pages import page
from polyforge.review.params import RowId, ShortText, Text, whole_number
from polyforge.review.schemas import (
    PairOut,
    ReviewIn,
    ReviewOut,
    RevisionIn,
    RevisionOut,
    pair_out,
    shown_texts,
    visible_reviews,
    visible_revisions,
)
from polyforge.storage.accounts import Viewer
from polyforge.storage.reviews import (
    MAX_SCORE,
    MIN_SCORE,
    QueueEntry,
    QueueFilter,
    ReviewError,
    add_review,
    check_verdict,
    neighbours,
    next_pending,
    queue_counts,
    review_queue,
)
from polyforge.storage.revisions import RevisionError, add_revision

MAX_BULK = 500  # pairs one bulk verdict may cover


def store_review(db: Session, who: Viewer, pair_id: int, verdict: str, note: str | None,
                 scores: dict[str, int] | None = None, seconds: float | None = None):
    """A verdict from the viewer: an admin's adjudicates, an annotator's counts towards agreement."""
    check_access(db, who, pair_id)
    try:
        return add_review(db, pair_id, who.name, verdict, note, who.user_id, adjudication=who.is_admin,
                          scores=scores, seconds=seconds)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


def store_revision(db: Session, who: Viewer, pair_id: int, field: str, text: str):
    check_access(db, who, pair_id)
    try:
        return add_revision(db, pair_id, field, text, who.name, who.user_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


def back_to_pair(spec: QueueFilter, pair_id: int, error: str) -> RedirectResponse:
    return RedirectResponse(f"/pairs/{pair_id}?{urlencode({**filters(spec), 'error': error})}", 303)


def add_routes(app: FastAPI) -> None:
    @app.get("/api/queue", response_model=list[QueueEntry])
    def api_queue(db: Db, who: Who, spec: Filter, limit: Annotated[int, Query(ge=1, le=5000)] = 500):
        """Flagged pairs (or, with `status`, accepted or rejected ones) in id order: for an annotator those assigned
        to them, by default only those they have not reviewed; for an admin every pair, by default only the
        undecided ones (`disputed=true`: those whose annotators disagree, or once did)."""
        return review_queue(db, spec, limit)

    @app.get("/api/pairs/{pair_id}", response_model=PairOut)
    def api_pair(db: Db, who: Who, pair_id: RowId):
        """One pair with its scores, sandbox runs, discussion transcript, reviews and corrections (for an annotator:
        her own verdicts and corrections only)."""
        return pair_out(loaded_pair(db, who, pair_id), who)

    @app.post("/api/pairs/{pair_id}/reviews", response_model=ReviewOut, status_code=201)
    def api_review(db: Db, who: Who, pair_id: RowId, body: ReviewIn):
        """Store a verdict on a pair, as the user the request authenticates as (an admin's is an adjudication; a
        browser session must send its CSRF token in the X-CSRF-Token header)."""
        try:
            return ReviewOut.of(store_review(db, who, pair_id, body.verdict, body.note, body.scores, body.seconds))
        except ReviewError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.post("/api/pairs/{pair_id}/revisions", response_model=RevisionOut | None, status_code=201)
    def api_revision(db: Db, who: Who, pair_id: RowId, body: RevisionIn):
        """Correct a pair's instruction or answer: a new revision under the user (null when the text is unchanged);
        exports use it, and a corrected answer becomes a preference over the original."""
        try:
            revision = store_revision(db, who, pair_id, body.field, body.text)
        except RevisionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return None if revision is None else RevisionOut.model_validate(revision)

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, db: Db, spec: Filter):
        pending, reviewed = queue_counts(db, spec)
        return page(request, "queue.html", {
            "entries": review_queue(db, spec), "pending": pending, "reviewed": reviewed, "spec": spec,
            "filters": filter_query(spec),
        })

    @app.get("/pairs/{pair_id}", response_class=HTMLResponse)
    def pair_page(request: Request, db: Db, who: Who, spec: Filter, pair_id: RowId, error: str | None = None):
        pair = loaded_pair(db, who, pair_id)
        before, after = neighbours(db, spec, pair_id)  # in a queue of open pairs, `after` is also the one to skip to
        revisions = visible_revisions(pair, who)
        instruction, answer = shown_texts(pair, revisions)
        return page(request, "pair.html", {
            "pair": pair, "filters": filter_query(spec), "error": error, "previous": before, "next": after,
            "skip": (after if spec.pending_only and after else next_pending(db, spec, pair_id)),
            "reviews": visible_reviews(pair, who),
            "revisions": revisions, "instruction": instruction, "answer": answer,
            "opened": opened_stamp(who.csrf_token or "", pair_id),
        })

    @app.post("/pairs/{pair_id}/review")
    def review_form(db: Db, who: Who, spec: Filter, pair_id: RowId, verdict: Annotated[ShortText, Form()] = "",
                    note: Annotated[Text, Form()] = "", criterion: Annotated[list[ShortText], Form()] = [],  # noqa: B006
                    score: Annotated[list[str], Form()] = [], opened: Annotated[str, Form()] = ""):  # noqa: B006
        """Store the form's verdict (and the criterion scores filled in, and how long the page was open) under the
        logged-in user, then go to the next open pair (or back to the queue)."""
        try:
            store_review(db, who, pair_id, verdict, note, form_scores(criterion, score),
                         seconds_open(opened, who.csrf_token, pair_id))
        except ReviewError as exc:
            return back_to_pair(spec, pair_id, str(exc))
        following = next_pending(db, spec, pair_id)
        query = filter_query(spec)
        return RedirectResponse(f"/pairs/{following}?{query}" if following else f"/?{query}", 303)

    @app.post("/pairs/{pair_id}/edit")
    def edit_form(db: Db, who: Who, spec: Filter, pair_id: RowId, field: Annotated[ShortText, Form()] = "",
                  text: Annotated[Text, Form()] = ""):
        """Store the form's correction of the instruction or the answer, then show the pair again."""
        try:
            store_revision(db, who, pair_id, field, text)
        except RevisionError as exc:
            return back_to_pair(spec, pair_id, str(exc))
        return RedirectResponse(f"/pairs/{pair_id}?{filter_query(spec)}", 303)

    @app.post("/bulk", response_class=HTMLResponse)
    def bulk(request: Request, db: Db, who: Who, spec: Filter, verdict: Annotated[str, Form()] = "",
             pair: Annotated[list[RowId], Form()] = [], confirm: Annotated[str, Form()] = ""):  # noqa: B006
        """A verdict on the selected pairs of a queue: first a page that lists them and asks to confirm, then
        (with `confirm=yes`) every verdict stored at once."""
        entries, problem = bulk_selection(db, spec, verdict, pair)
        context = {"error": problem, "entries": entries, "verdict": verdict, "filters": filter_query(spec)}
        if problem or confirm != "yes":
            return page(request, "bulk.html", context, 422 if problem else 200)
        for entry in entries:
            add_review(db, entry.pair_id, who.name, verdict, "bulk verdict", who.user_id, adjudication=who.is_admin,
                       commit=False)
        db.commit()
        return RedirectResponse(f"/?{filter_query(spec)}", 303)


def form_scores(criteria: list[str], scores: list[str]) -> dict[str, int]:
    """The form's criterion scores (one `criterion` field and one `score` field per criterion, in order); a blank
    score is no score."""
    if len(criteria) != len(scores):
        raise ReviewError(f"scores: {len(scores)} score field(s) for {len(criteria)} criteria")
    given = {}
    for criterion, score in zip(criteria, scores):
        if not score.strip():
            continue
        number = whole_number(score, MIN_SCORE, MAX_SCORE)
        if number is None:
            raise ReviewError(f"score of {criterion[:64]!r}: {score[:20]!r} is not a whole number from {MIN_SCORE} "
                              f"to {MAX_SCORE}")
        given[criterion] = number
    return given


def bulk_selection(db: Session, spec: QueueFilter, verdict: str, pair_ids: list[int]
                   ) -> tuple[list[QueueEntry], str | None]:
    """The queue entries a bulk verdict covers, or a message saying why it cannot: a bulk verdict only covers pairs
    of the viewer's own queue (for an annotator: assigned to them)."""
    try:
        check_verdict(verdict)
    except ReviewError as exc:
        return [], str(exc)
    selected = set(pair_ids)
    if not selected:
        return [], "no pair selected: tick the pairs the verdict is for"
    if len(selected) > MAX_BULK:
        return [], f"{len(selected)} pairs selected; a bulk verdict covers at most {MAX_BULK}"
    entries = [entry for entry in review_queue(db, replace(spec, pending_only=False), 5000)
               if entry.pair_id in selected]
    outside = sorted(selected - {entry.pair_id for entry in entries})
    if outside:
        return [], (f"pair(s) {', '.join(map(str, outside))[:200]} are not in this queue (not assigned to you, or "
                    "not matching its filters)")
    return entries, None
