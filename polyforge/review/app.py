"""The annotators' web app: the queue of flagged pairs, one pair with everything the judge saw, a verdict.

HTML pages for people and a JSON API (`/api/...`, documented at `/docs`) for tools; both store
verdicts in the `review` table, where calibration and exports read them, under the logged-in user.
Every route but the login page and static files needs a login (`security.Guard`).
"""

import math
import secrets
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from polyforge.dashboard import STYLE_CSP_SOURCE, campaign_dashboard
from polyforge.review import api_docs
from polyforge.review.agreement import ScopeAgreement, agreement
from polyforge.review.page_cache import DrawnPages
from polyforge.review.pages import HERE, page
from polyforge.review.params import MAX_DB_INT, RowId, ShortText, Text, whole_number
from polyforge.review.schemas import (
    AssignIn,
    PairOut,
    ReviewedStatus,
    ReviewIn,
    ReviewOut,
    RevisionIn,
    RevisionOut,
    UserOut,
    pair_out,
    shown_texts,
    visible_reviews,
    visible_revisions,
)
from polyforge.review.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Guard,
    LoginThrottle,
    WebSettings,
    safe_next,
)
from polyforge.storage import Campaign, open_engine, session_factory
from polyforge.storage.accounts import Viewer, authenticate_password, end_session, list_users, start_session
from polyforge.storage.assignments import DEFAULT_OVERLAP, AssignmentError, AssignmentReport, assign
from polyforge.storage.report import campaign_progress
from polyforge.storage.reviews import (
    MAX_SCORE,
    MIN_SCORE,
    QueueEntry,
    QueueFilter,
    ReviewError,
    add_review,
    check_verdict,
    is_assigned,
    neighbours,
    next_pending,
    pair_for_review,
    queue_counts,
    review_queue,
)
from polyforge.storage.revisions import RevisionError, add_revision
from polyforge.terms import PairStatus

MAX_BULK = 500  # pairs one bulk verdict may cover
DASHBOARD_REFRESH_S = 30
# The dashboard: its own inline stylesheet (by hash) and its charts as data: images; nothing else.
DASHBOARD_CSP = (f"default-src 'none'; style-src {STYLE_CSP_SOURCE}; img-src data:; form-action 'none'; "
                 "frame-ancestors 'none'; base-uri 'none'")


def create_app(database_url: str, settings: WebSettings = WebSettings()) -> FastAPI:
    """The app over one existing database, served as `settings` say."""
    engine = open_engine(database_url, create=False)
    sessions = session_factory(engine)
    # The API's description only when an admin serves it, and then without FastAPI's CDN-loaded pages.
    app = FastAPI(title="Polyforge review", description="Annotators resolve the pairs the judge flagged. "
                  "Scripts authenticate with `Authorization: Bearer TOKEN` (`polyforge review users token NAME`).",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json" if settings.api_docs else None)
    app.add_middleware(Guard, settings=settings, sessions=sessions)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if settings.api_docs:
        api_docs.add_routes(app)
    app.state.settings = settings
    app.state.dashboards = DrawnPages(max_age_s=DASHBOARD_REFRESH_S)  # drawn at most once per refresh
    app.state.throttle = LoginThrottle(settings.login_failures, settings.login_failures_per_address,
                                       settings.login_window_s, settings.login_max_wait_s)

    def session() -> Session:
        with sessions() as opened:
            yield opened

    Db = Annotated[Session, Depends(session)]

    def viewer(request: Request, _token: Annotated[HTTPAuthorizationCredentials | None,
                                                   Depends(HTTPBearer(auto_error=False))] = None) -> Viewer:
        """Who sends the request; `Guard` let it through only with a login (the bearer scheme documents the API)."""
        return request.state.viewer

    Who = Annotated[Viewer, Depends(viewer)]

    def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")

    def queue_filter(request: Request, campaign: RowId | None = None, language: ShortText | None = None,
                     reason: ShortText | None = None, pending: bool = True, disputed: bool = False,
                     status: ReviewedStatus = PairStatus.flagged) -> QueueFilter:
        """The queue's filters; an annotator's queue holds only the pairs assigned to them (and never says whether
        her co-annotators disagree with her: blind review)."""
        viewer: Viewer = request.state.viewer
        assignee = None if viewer is None or viewer.is_admin else viewer.user_id
        if disputed and assignee is not None:
            raise HTTPException(403, "disputed pairs: admins only (annotators review blind)")
        return QueueFilter(status, campaign, language or None, reason or None, pending, assignee, disputed)

    Filter = Annotated[QueueFilter, Depends(queue_filter)]

    def loaded_pair(db: Session, who: Viewer, pair_id: int):
        """The pair, if it exists and the viewer may work on it (an admin any, an annotator those assigned)."""
        pair = pair_for_review(db, pair_id)
        if pair is None:
            raise HTTPException(404, f"no pair {pair_id} in this database; the queue at / lists yours")
        if not who.is_admin and not is_assigned(db, pair_id, who.user_id):
            raise HTTPException(403, f"pair {pair_id} is not assigned to you; the queue at / lists yours")
        return pair

    def admins_only(who: Viewer) -> None:
        if not who.is_admin:
            raise HTTPException(403, "admins only")

    def store_review(db: Session, who: Viewer, pair_id: int, verdict: str, note: str | None,
                     scores: dict[str, int] | None = None):
        """A verdict from the viewer: an admin's adjudicates, an annotator's counts towards agreement."""
        loaded_pair(db, who, pair_id)
        return add_review(db, pair_id, who.name, verdict, note, who.user_id, adjudication=who.is_admin,
                          scores=scores)

    def store_revision(db: Session, who: Viewer, pair_id: int, field: str, text: str):
        loaded_pair(db, who, pair_id)
        return add_revision(db, pair_id, field, text, who.name, who.user_id)

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
    def login(request: Request, db: Db, name: Annotated[ShortText, Form()] = "", password: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/"):
        """Check the password (failures slow down their client address and name, `LoginThrottle`) and start a
        session."""
        throttle: LoginThrottle = app.state.throttle
        address = request.client.host if request.client else "?"
        wait = math.ceil(throttle.admit(address, name))  # counted before the hash: parallel guesses count at once
        if wait:
            response = login_form(request, safe_next(next), name, f"too many failed logins: try again in {wait} s", 429)
            response.headers["retry-after"] = str(wait)
            return response
        user = authenticate_password(db, name, password)
        if user is None:
            return login_form(request, safe_next(next), name, "wrong name or password", 401)
        throttle.succeeded(address, name)
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
        admins_only(who)
        return [UserOut(name=user.name, role=user.role, tokens=tokens) for user, tokens in list_users(db)]

    @app.get("/api/queue", response_model=list[QueueEntry])
    def api_queue(db: Db, who: Who, spec: Filter, limit: Annotated[int, Query(ge=1, le=5000)] = 500):
        """Flagged pairs (or, with `status`, accepted or rejected ones) in id order: for an annotator those assigned
        to them, by default only those they have not reviewed; for an admin every pair, by default only the
        undecided ones (`disputed=true`: those whose annotators disagree)."""
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
            return ReviewOut.of(store_review(db, who, pair_id, body.verdict, body.note, body.scores))
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ReviewError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.post("/api/pairs/{pair_id}/revisions", response_model=RevisionOut | None, status_code=201)
    def api_revision(db: Db, who: Who, pair_id: RowId, body: RevisionIn):
        """Correct a pair's instruction or answer: a new revision under the user (null when the text is unchanged);
        exports use it, and a corrected answer becomes a preference over the original."""
        try:
            revision = store_revision(db, who, pair_id, body.field, body.text)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except RevisionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return None if revision is None else RevisionOut.model_validate(revision)

    @app.post("/api/assignments", response_model=AssignmentReport)
    def api_assign(db: Db, who: Who, body: AssignIn):
        """Give undecided pairs to annotators until each has `overlap` of them (admins only)."""
        admins_only(who)
        try:
            return assign(db, QueueFilter(body.status, body.campaign, body.language or None), body.overlap, body.limit,
                          body.sample, body.seed)
        except AssignmentError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get("/api/agreement", response_model=list[ScopeAgreement])
    def api_agreement(db: Db, who: Who, campaign: RowId | None = None):
        """Cohen's kappa per pair of annotators and Krippendorff's alpha, overall and per language (admins only)."""
        admins_only(who)
        return agreement(db, campaign)

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, db: Db, spec: Filter):
        pending, reviewed = queue_counts(db, spec)
        return page(request, "queue.html", {
            "entries": review_queue(db, spec), "pending": pending, "reviewed": reviewed, "spec": spec,
            "filters": _filter_query(spec),
        })

    @app.get("/pairs/{pair_id}", response_class=HTMLResponse)
    def pair_page(request: Request, db: Db, who: Who, spec: Filter, pair_id: RowId, error: str | None = None):
        pair = loaded_pair(db, who, pair_id)
        before, after = neighbours(db, spec, pair_id)
        revisions = visible_revisions(pair, who)
        instruction, answer = shown_texts(pair, revisions)
        return page(request, "pair.html", {
            "pair": pair, "filters": _filter_query(spec), "error": error, "previous": before, "next": after,
            "skip": next_pending(db, spec, pair_id), "reviews": visible_reviews(pair, who),
            "revisions": revisions, "instruction": instruction, "answer": answer,
        })

    def back_to_pair(spec: QueueFilter, pair_id: int, error: str) -> RedirectResponse:
        return RedirectResponse(f"/pairs/{pair_id}?{urlencode({**_filters(spec), 'error': error})}", 303)

    @app.post("/pairs/{pair_id}/review")
    def review_form(db: Db, who: Who, spec: Filter, pair_id: RowId, verdict: Annotated[ShortText, Form()] = "",
                    note: Annotated[Text, Form()] = "", criterion: Annotated[list[ShortText], Form()] = [],  # noqa: B006
                    score: Annotated[list[str], Form()] = []):  # noqa: B006
        """Store the form's verdict (and the criterion scores filled in) under the logged-in user, then go to the
        next open pair (or back to the queue)."""
        filters = _filter_query(spec)
        try:
            store_review(db, who, pair_id, verdict, note, _form_scores(criterion, score))
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ReviewError as exc:
            return back_to_pair(spec, pair_id, str(exc))
        following = next_pending(db, spec, pair_id)
        return RedirectResponse(f"/pairs/{following}?{filters}" if following else f"/?{filters}", 303)

    @app.post("/pairs/{pair_id}/edit")
    def edit_form(db: Db, who: Who, spec: Filter, pair_id: RowId, field: Annotated[ShortText, Form()] = "",
                  text: Annotated[Text, Form()] = ""):
        """Store the form's correction of the instruction or the answer, then show the pair again."""
        try:
            store_revision(db, who, pair_id, field, text)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except RevisionError as exc:
            return back_to_pair(spec, pair_id, str(exc))
        return RedirectResponse(f"/pairs/{pair_id}?{_filter_query(spec)}", 303)

    @app.post("/bulk", response_class=HTMLResponse)
    def bulk(request: Request, db: Db, who: Who, spec: Filter, verdict: Annotated[str, Form()] = "",
             pair: Annotated[list[RowId], Form()] = [], confirm: Annotated[str, Form()] = ""):  # noqa: B006
        """A verdict on the selected pairs of a queue: first a page that lists them and asks to confirm, then
        (with `confirm=yes`) every verdict stored at once."""
        entries, problem = _bulk_selection(db, spec, verdict, pair)
        context = {"error": problem, "entries": entries, "verdict": verdict, "filters": _filter_query(spec)}
        if problem or confirm != "yes":
            return page(request, "bulk.html", context, 422 if problem else 200)
        for entry in entries:
            add_review(db, entry.pair_id, who.name, verdict, "bulk verdict", who.user_id, adjudication=who.is_admin,
                       commit=False)
        db.commit()
        return RedirectResponse(f"/?{_filter_query(spec)}", 303)

    @app.get("/campaigns", response_class=HTMLResponse)
    def campaigns_page(request: Request, db: Db, who: Who):
        """Every campaign, each linking to its dashboard (admins only: its counts move with review's final verdicts,
        which an annotator must not watch)."""
        admins_only(who)
        return page(request, "campaigns.html", {"campaigns": campaign_progress(db), "filters": ""})

    @app.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    def dashboard_page(db: Db, who: Who, campaign_id: RowId):
        """A campaign's dashboard: funnel, scores, criteria, coverage, flags, tokens and endpoints (reloading
        itself while the campaign runs); admins only."""
        admins_only(who)
        campaign = db.get(Campaign, campaign_id)
        if campaign is None:
            raise HTTPException(404, f"no campaign {campaign_id} in this database; /campaigns lists them")
        html = app.state.dashboards.get(campaign_id, lambda: campaign_dashboard(db, campaign,
                                                                                 refresh_s=DASHBOARD_REFRESH_S))
        return HTMLResponse(html, headers={"content-security-policy": DASHBOARD_CSP})

    def admin_view(request: Request, db: Session, campaign: int | None = None, overlap: int = DEFAULT_OVERLAP,
                   report: AssignmentReport | None = None, error: str | None = None) -> Response:
        disputes = review_queue(db, QueueFilter(disputed_only=True, campaign_id=campaign))
        return page(request, "admin.html", {
            "scopes": agreement(db, campaign), "disputes": disputes, "campaign": campaign, "overlap": overlap,
            "report": report, "error": error, "filters": ""}, 200 if error is None else 422)

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request, db: Db, who: Who, campaign: RowId | None = None):
        """Agreement between annotators, the disputed pairs waiting for adjudication, and assignment."""
        admins_only(who)
        return admin_view(request, db, campaign)

    @app.post("/admin/assign", response_class=HTMLResponse)
    def admin_assign(request: Request, db: Db, who: Who, overlap: Annotated[int, Form(ge=1, le=50)] = DEFAULT_OVERLAP,
                     status: Annotated[ReviewedStatus, Form()] = PairStatus.flagged,
                     campaign: Annotated[str, Form()] = "", language: Annotated[ShortText, Form()] = ""):
        """Assign undecided pairs to annotators from the admin page, and show the page again with what was done."""
        admins_only(who)
        campaign_id = whole_number(campaign, 1, MAX_DB_INT)
        if campaign.strip() and campaign_id is None:
            return admin_view(request, db, overlap=overlap,
                              error=f"campaign: {campaign[:40]!r} is not a campaign id (a number)")
        spec = QueueFilter(status, campaign_id, language.strip() or None)
        try:
            return admin_view(request, db, overlap=overlap, report=assign(db, spec, overlap))
        except AssignmentError as exc:
            return admin_view(request, db, overlap=overlap, error=str(exc))

    return app


def _form_scores(criteria: list[str], scores: list[str]) -> dict[str, int]:
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


def _bulk_selection(db: Session, spec: QueueFilter, verdict: str, pair_ids: list[int]
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
        return [], (f"pair(s) {', '.join(map(str, outside))} are not in this queue (not assigned to you, or not "
                    "matching its filters)")
    return entries, None


def _filters(spec: QueueFilter) -> dict[str, str]:
    values = {"campaign": spec.campaign_id, "language": spec.language, "reason": spec.reason,
              "status": None if spec.status == PairStatus.flagged else spec.status,
              "disputed": "true" if spec.disputed_only else None}
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _filter_query(spec: QueueFilter) -> str:
    """The queue's filters as a query string, carried from page to page."""
    return urlencode(_filters(spec))
