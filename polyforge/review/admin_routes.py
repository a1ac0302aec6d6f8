"""What admins do: see agreement between annotators, each annotator's pace, and the disputes waiting for them;
assign pairs; list users."""

from typing import Annotated

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from polyforge.review.agreement import ScopeAgreement, agreement
from polyforge.review.dependencies import Db, Who, admins_only
from polyforge.review.pace import RUSHED_S, annotator_pace
from polyforge.review.pages import page
from polyforge.review.params import MAX_DB_INT, RowId, ShortText, whole_number
from polyforge.review.schemas import AssignIn, ReviewedStatus, UserOut
from polyforge.storage.accounts import list_users
from polyforge.storage.assignments import DEFAULT_OVERLAP, AssignmentError, AssignmentReport, assign
from polyforge.storage.reviews import QueueFilter, review_queue
from polyforge.terms import PairStatus


def admin_view(request: Request, db: Session, campaign: int | None = None, overlap: int = DEFAULT_OVERLAP,
               report: AssignmentReport | None = None, error: str | None = None) -> Response:
    disputes = review_queue(db, QueueFilter(disputed_only=True, campaign_id=campaign))
    return page(request, "admin.html", {
        "scopes": agreement(db, campaign), "paces": annotator_pace(db, campaign), "rushed_s": RUSHED_S,
        "disputes": disputes, "campaign": campaign, "overlap": overlap, "report": report, "error": error,
        "filters": ""}, 200 if error is None else 422)


def add_routes(app: FastAPI) -> None:
    @app.get("/api/users", response_model=list[UserOut])
    def api_users(db: Db, who: Who):
        """Every user, with how many API tokens they hold (admins only)."""
        admins_only(who)
        return [UserOut(name=user.name, role=user.role, tokens=tokens) for user, tokens in list_users(db)]

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
