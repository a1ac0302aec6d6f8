"""What the review app's routes share: a database session per request, the viewer, the queue's filters, and the
checks of who may do what. The routes live in one module per job (`auth_routes`, `pair_routes`, `admin_routes`,
`campaign_routes`)."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from polyforge.review.params import RowId, ShortText
from polyforge.review.schemas import ReviewedStatus
from polyforge.storage.accounts import Viewer
from polyforge.storage.reviews import QueueFilter, may_review, pair_for_review
from polyforge.terms import PairStatus


def session(request: Request) -> Session:
    with request.app.state.sessions() as opened:
        yield opened


Db = Annotated[Session, Depends(session)]


def viewer(request: Request, _token: Annotated[HTTPAuthorizationCredentials | None,
                                               Depends(HTTPBearer(auto_error=False))] = None) -> Viewer:
    """Who sends the request; `Guard` let it through only with a login (the bearer scheme documents the API)."""
    return request.state.viewer


Who = Annotated[Viewer, Depends(viewer)]


def queue_filter(request: Request, campaign: RowId | None = None, language: ShortText | None = None,
                 reason: ShortText | None = None, pending: bool = True, disputed: bool = False,
                 status: ReviewedStatus = PairStatus.flagged) -> QueueFilter:
    """The queue's filters; an annotator's queue holds only the pairs assigned to them (and never says whether
    her co-annotators disagree with her: blind review)."""
    who: Viewer | None = request.state.viewer
    assignee = None if who is None or who.is_admin else who.user_id
    if disputed and assignee is not None:
        raise HTTPException(403, "disputed pairs: admins only (annotators review blind)")
    return QueueFilter(status, campaign, language or None, reason or None, pending, assignee, disputed)


Filter = Annotated[QueueFilter, Depends(queue_filter)]


def check_access(db: Session, who: Viewer, pair_id: int) -> None:
    """Refuse unless the pair exists and the viewer may work on it (an admin any, an annotator those assigned)."""
    allowed = may_review(db, pair_id, None if who.is_admin else who.user_id)
    if allowed is None:
        raise HTTPException(404, f"no pair {pair_id} in this database; the queue at / lists yours")
    if not allowed:
        raise HTTPException(403, f"pair {pair_id} is not assigned to you; the queue at / lists yours")


def loaded_pair(db: Session, who: Viewer, pair_id: int):
    """The pair with everything its page shows, once `check_access` let the viewer in."""
    check_access(db, who, pair_id)
    return pair_for_review(db, pair_id)


def admins_only(who: Viewer) -> None:
    if not who.is_admin:
        raise HTTPException(403, "admins only")


def filters(spec: QueueFilter) -> dict[str, str]:
    values = {"campaign": spec.campaign_id, "language": spec.language, "reason": spec.reason,
              "status": None if spec.status == PairStatus.flagged else spec.status,
              "disputed": "true" if spec.disputed_only else None}
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def filter_query(spec: QueueFilter) -> str:
    """The queue's filters as a query string, carried from page to page."""
    return urlencode(filters(spec))
