"""The annotators' web app: the queue of flagged pairs, one pair with everything the judge saw, a verdict.

HTML pages for people and a JSON API (`/api/...`, documented at `/docs`) for tools; both store
verdicts in the `review` table, where calibration and exports read them.
"""

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from polyforge.storage import open_engine, session_factory
from polyforge.storage.reviews import (
    QueueEntry,
    QueueFilter,
    ReviewError,
    add_review,
    next_pending,
    pair_for_review,
    queue_counts,
    review_queue,
)
from polyforge.terms import PairStatus

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
ANNOTATOR_COOKIE = "polyforge_annotator"
# The judge routes an annotator can work through: its flagged pairs, or audit samples of its decisions.
ReviewedStatus = Literal[PairStatus.flagged, PairStatus.accepted, PairStatus.rejected]


class ScoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    criterion: str
    score: float
    weight: float
    decided_by: str
    rationale: str | None
    spread: float | None


class ExecutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    candidate: int
    chosen: bool
    status: str
    reason: str
    stdout: str
    stderr: str
    tests: str


class TurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    round: int
    language: str
    role: str
    text: str


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pair_id: int
    annotator: str
    verdict: Literal["accept", "reject"]
    note: str | None


class PairOut(BaseModel):
    id: int
    campaign_id: int
    language: str
    status: str = Field(description="The judge's route: accepted, rejected, flagged, duplicate or failed.")
    origin: str
    instruction: str
    answer: str
    final_score: float | None
    flag_reason: str | None
    execution_status: str | None
    source_path: str
    code: str
    scores: list[ScoreOut]
    executions: list[ExecutionOut]
    discussion: list[TurnOut]
    reviews: list[ReviewOut]


class ReviewIn(BaseModel):
    annotator: str = Field(min_length=1, max_length=100, description="Who gives the verdict.")
    verdict: Literal["accept", "reject"]
    note: str | None = Field(default=None, description="Why, in a few words (optional).")


def _pair_out(pair) -> PairOut:
    return PairOut(
        id=pair.id, campaign_id=pair.campaign_id, language=pair.language, status=pair.status, origin=pair.origin,
        instruction=pair.instruction, answer=pair.answer, final_score=pair.final_score, flag_reason=pair.flag_reason,
        execution_status=pair.execution_status, source_path=pair.snippet.path, code=pair.snippet.code,
        scores=[ScoreOut.model_validate(score) for score in pair.scores],
        executions=[ExecutionOut.model_validate(run) for run in pair.executions],
        discussion=[TurnOut.model_validate(turn) for turn in (pair.discussion.turns if pair.discussion else [])],
        reviews=[ReviewOut.model_validate(review) for review in pair.reviews],
    )


def create_app(database_url: str) -> FastAPI:
    """The app over one existing database."""
    engine = open_engine(database_url, create=False)
    sessions = session_factory(engine)
    app = FastAPI(title="Polyforge review", description="Annotators resolve the pairs the judge flagged.")

    def session() -> Session:
        with sessions() as opened:
            yield opened

    Db = Annotated[Session, Depends(session)]

    def queue_filter(campaign: int | None = None, language: str | None = None, reason: str | None = None,
                     pending: bool = True, status: ReviewedStatus = PairStatus.flagged,
                     ) -> QueueFilter:
        return QueueFilter(status, campaign, language or None, reason or None, pending)

    Filter = Annotated[QueueFilter, Depends(queue_filter)]

    def loaded_pair(db: Session, pair_id: int):
        pair = pair_for_review(db, pair_id)
        if pair is None:
            raise HTTPException(404, f"no pair {pair_id} in this database; the queue at / lists the flagged ones")
        return pair

    @app.get("/api/queue", response_model=list[QueueEntry])
    def api_queue(db: Db, spec: Filter, limit: Annotated[int, Query(ge=1, le=5000)] = 500):
        """Flagged pairs (or, with `status`, accepted or rejected ones) in id order, by default only those
        nobody has reviewed, with their latest verdict."""
        return review_queue(db, spec, limit)

    @app.get("/api/pairs/{pair_id}", response_model=PairOut)
    def api_pair(db: Db, pair_id: int):
        """One pair with its scores, sandbox runs, discussion transcript and reviews."""
        return _pair_out(loaded_pair(db, pair_id))

    @app.post("/api/pairs/{pair_id}/reviews", response_model=ReviewOut, status_code=201)
    def api_review(db: Db, pair_id: int, body: ReviewIn):
        """Store a verdict on a pair."""
        try:
            return ReviewOut.model_validate(add_review(db, pair_id, body.annotator, body.verdict, body.note))
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ReviewError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, db: Db, spec: Filter):
        pending, reviewed = queue_counts(db, spec)
        return TEMPLATES.TemplateResponse(request, "queue.html", {
            "entries": review_queue(db, spec), "pending": pending, "reviewed": reviewed, "spec": spec,
            "filters": _filter_query(spec),
        })

    @app.get("/pairs/{pair_id}", response_class=HTMLResponse)
    def pair_page(request: Request, db: Db, spec: Filter, pair_id: int, error: str | None = None):
        return TEMPLATES.TemplateResponse(request, "pair.html", {
            "pair": loaded_pair(db, pair_id), "filters": _filter_query(spec), "error": error,
            "annotator": request.cookies.get(ANNOTATOR_COOKIE, ""),
        })

    @app.post("/pairs/{pair_id}/review")
    def review_form(db: Db, spec: Filter, pair_id: int, annotator: Annotated[str, Form()] = "",
                    verdict: Annotated[str, Form()] = "", note: Annotated[str, Form()] = ""):
        """Store the form's verdict, then go to the next pair waiting for review (or back to the queue)."""
        filters = _filter_query(spec)
        try:
            add_review(db, pair_id, annotator, verdict, note)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ReviewError as exc:
            return RedirectResponse(f"/pairs/{pair_id}?{urlencode({**_filters(spec), 'error': str(exc)})}", 303)
        following = next_pending(db, spec, pair_id)
        response = RedirectResponse(f"/pairs/{following}?{filters}" if following else f"/?{filters}", 303)
        response.set_cookie(ANNOTATOR_COOKIE, annotator.strip(), max_age=90 * 24 * 3600, samesite="strict")
        return response

    return app


def _filters(spec: QueueFilter) -> dict[str, str]:
    values = {"campaign": spec.campaign_id, "language": spec.language, "reason": spec.reason,
              "status": None if spec.status == PairStatus.flagged else spec.status}
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _filter_query(spec: QueueFilter) -> str:
    """The queue's filters as a query string, carried from page to page."""
    return urlencode(_filters(spec))
