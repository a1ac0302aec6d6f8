"""The annotators' web app: the queue of flagged pairs, one pair with everything the judge saw, a verdict.

HTML pages for people and a JSON API (`/api/...`, documented at `/docs`) for tools; both store
verdicts in the `review` table, where calibration and exports read them, under the logged-in user.
Every route but the login page and static files needs a login (`security.Guard`).
"""

import math
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from polyforge.review.highlight import code_html, text_html
from polyforge.review.security import (
    LOGIN_COOKIE,
    PAGE_CSP,
    SESSION_COOKIE,
    Guard,
    LoginThrottle,
    WebSettings,
    safe_next,
)
from polyforge.storage import open_engine, session_factory
from polyforge.storage.accounts import Viewer, authenticate_password, end_session, list_users, start_session
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

HERE = Path(__file__).parent
# Autoescaping on for every template: model output is untrusted text.
TEMPLATES = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True))
TEMPLATES.env.filters.update(code_html=code_html, text_html=text_html)
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
    status: str = Field(description="The judge's route: accepted, rejected, flagged; or duplicate, contaminated, failed.")
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
    verdict: Literal["accept", "reject"]
    note: str | None = Field(default=None, description="Why, in a few words (optional).")


class UserOut(BaseModel):
    name: str
    role: str
    tokens: int


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


def create_app(database_url: str, settings: WebSettings = WebSettings()) -> FastAPI:
    """The app over one existing database, served as `settings` say."""
    engine = open_engine(database_url, create=False)
    sessions = session_factory(engine)
    app = FastAPI(title="Polyforge review", description="Annotators resolve the pairs the judge flagged. "
                  "Scripts authenticate with `Authorization: Bearer TOKEN` (`polyforge review users token NAME`).")
    app.add_middleware(Guard, settings=settings, sessions=sessions)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.throttle = LoginThrottle(settings.login_failures, settings.login_window_s)

    def session() -> Session:
        with sessions() as opened:
            yield opened

    Db = Annotated[Session, Depends(session)]

    def viewer(request: Request, _token: Annotated[HTTPAuthorizationCredentials | None,
                                                   Depends(HTTPBearer(auto_error=False))] = None) -> Viewer:
        """Who sends the request; `Guard` let it through only with a login (the bearer scheme documents the API)."""
        return request.state.viewer

    Who = Annotated[Viewer, Depends(viewer)]

    def page(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
        response = TEMPLATES.TemplateResponse(request, template, {"viewer": request.state.viewer, **context},
                                              status_code=status_code)
        response.headers["content-security-policy"] = PAGE_CSP
        return response

    def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")

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

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/"):
        """The login form (its CSRF token rides in a cookie of its own until there is a session)."""
        if request.state.viewer is not None:
            return RedirectResponse(safe_next(next), 303)
        return login_form(request, safe_next(next))

    def login_form(request: Request, next: str, name: str = "", error: str | None = None, status_code: int = 200):
        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
        response = page(request, "login.html", {"login_token": token, "next": next, "name": name, "error": error},
                        status_code)
        set_cookie(request, response, LOGIN_COOKIE, token, 3600)
        return response

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, db: Db, name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/"):
        """Check the password (at most `login_failures` failures a minute per user and per client address) and
        start a session."""
        throttle: LoginThrottle = app.state.throttle
        keys = (f"user:{name.strip().lower()}", f"address:{request.client.host if request.client else '?'}")
        wait = math.ceil(throttle.wait_s(*keys))
        if wait:
            response = login_form(request, safe_next(next), name, f"too many failed logins: try again in {wait} s", 429)
            response.headers["retry-after"] = str(wait)
            return response
        user = authenticate_password(db, name, password)
        if user is None:
            throttle.failed(*keys)
            return login_form(request, safe_next(next), name, "wrong name or password", 401)
        response = RedirectResponse(safe_next(next), 303)
        set_cookie(request, response, SESSION_COOKIE, start_session(db, user, settings.session_lifetime),
                   int(settings.session_lifetime.total_seconds()))
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request, db: Db):
        end_session(db, request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
        return response

    @app.get("/api/me")
    def api_me(who: Who) -> dict[str, str]:
        """The user the request authenticates as."""
        return {"name": who.name, "role": who.role}

    @app.get("/api/users", response_model=list[UserOut])
    def api_users(db: Db, who: Who):
        """Every user, with how many API tokens they hold (admins only)."""
        if not who.is_admin:
            raise HTTPException(403, "admins only")
        return [UserOut(name=user.name, role=user.role, tokens=tokens) for user, tokens in list_users(db)]

    @app.get("/api/queue", response_model=list[QueueEntry])
    def api_queue(db: Db, who: Who, spec: Filter, limit: Annotated[int, Query(ge=1, le=5000)] = 500):
        """Flagged pairs (or, with `status`, accepted or rejected ones) in id order, by default only those
        nobody has reviewed, with their latest verdict."""
        return review_queue(db, spec, limit)

    @app.get("/api/pairs/{pair_id}", response_model=PairOut)
    def api_pair(db: Db, who: Who, pair_id: int):
        """One pair with its scores, sandbox runs, discussion transcript and reviews."""
        return _pair_out(loaded_pair(db, pair_id))

    @app.post("/api/pairs/{pair_id}/reviews", response_model=ReviewOut, status_code=201)
    def api_review(db: Db, who: Who, pair_id: int, body: ReviewIn):
        """Store a verdict on a pair, as the user the request authenticates as (a browser session must send its
        CSRF token in the X-CSRF-Token header)."""
        try:
            return ReviewOut.model_validate(add_review(db, pair_id, who.name, body.verdict, body.note, who.user_id))
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ReviewError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, db: Db, spec: Filter):
        pending, reviewed = queue_counts(db, spec)
        return page(request, "queue.html", {
            "entries": review_queue(db, spec), "pending": pending, "reviewed": reviewed, "spec": spec,
            "filters": _filter_query(spec),
        })

    @app.get("/pairs/{pair_id}", response_class=HTMLResponse)
    def pair_page(request: Request, db: Db, spec: Filter, pair_id: int, error: str | None = None):
        return page(request, "pair.html", {
            "pair": loaded_pair(db, pair_id), "filters": _filter_query(spec), "error": error,
        })

    @app.post("/pairs/{pair_id}/review")
    def review_form(db: Db, who: Who, spec: Filter, pair_id: int, verdict: Annotated[str, Form()] = "",
                    note: Annotated[str, Form()] = ""):
        """Store the form's verdict under the logged-in user, then go to the next pair waiting for review (or back
        to the queue)."""
        filters = _filter_query(spec)
        try:
            add_review(db, pair_id, who.name, verdict, note, who.user_id)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ReviewError as exc:
            return RedirectResponse(f"/pairs/{pair_id}?{urlencode({**_filters(spec), 'error': str(exc)})}", 303)
        following = next_pending(db, spec, pair_id)
        return RedirectResponse(f"/pairs/{following}?{filters}" if following else f"/?{filters}", 303)

    return app


def _filters(spec: QueueFilter) -> dict[str, str]:
    values = {"campaign": spec.campaign_id, "language": spec.language, "reason": spec.reason,
              "status": None if spec.status == PairStatus.flagged else spec.status}
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _filter_query(spec: QueueFilter) -> str:
    """The queue's filters as a query string, carried from page to page."""
    return urlencode(_filters(spec))
