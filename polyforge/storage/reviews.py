"""The review queue: the pairs the judge flagged, everything an annotator needs about one, and verdicts.

An annotator's latest verdict on a pair overrides the judge's route wherever pairs are selected by
status (exports, training sets): `effective_status` is that rule in SQL. `Pair.status` itself keeps
the judge's route, which is what calibration compares the verdicts with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from polyforge.storage.models import Discussion, Pair, Review
from polyforge.terms import PairStatus

VERDICTS = ("accept", "reject")


class ReviewError(ValueError):
    """A verdict that cannot be stored; the message says which field and why."""


def latest_verdict():
    """The pair's latest annotator verdict (None when unreviewed), as a correlated SQL expression."""
    return (select(Review.verdict).where(Review.pair_id == Pair.id).order_by(Review.id.desc()).limit(1)
            .correlate(Pair).scalar_subquery())


def effective_status():
    """The judge's route, unless an annotator said otherwise: accept -> accepted, reject -> rejected."""
    verdict = latest_verdict()
    return case((verdict == "accept", PairStatus.accepted.value), (verdict == "reject", PairStatus.rejected.value),
                else_=Pair.status)


@dataclass
class QueueEntry:
    pair_id: int
    campaign_id: int
    language: str
    final_score: float | None
    flag_reason: str | None
    instruction: str
    verdict: str | None  # the latest annotator verdict; None: waiting for review


@dataclass
class QueueFilter:
    """Which pairs to list: the flagged ones by default, or those the judge accepted or rejected, to audit
    it. None means any."""

    status: PairStatus = PairStatus.flagged  # the judge's route
    campaign_id: int | None = None
    language: str | None = None
    reason: str | None = None  # a flag reason, or part of one
    pending_only: bool = True  # only pairs no annotator has reviewed yet

    def apply(self, query):
        query = query.where(Pair.status == self.status)
        if self.campaign_id is not None:
            query = query.where(Pair.campaign_id == self.campaign_id)
        if self.language:
            query = query.where(Pair.language == self.language)
        if self.reason:
            query = query.where(Pair.flag_reason.contains(self.reason))
        if self.pending_only:
            query = query.where(latest_verdict().is_(None))
        return query


def review_queue(session: Session, spec: QueueFilter = QueueFilter(), limit: int = 500) -> list[QueueEntry]:
    """The pairs `spec` selects in id order, with their latest verdict."""
    query = spec.apply(select(Pair.id, Pair.campaign_id, Pair.language, Pair.final_score, Pair.flag_reason,
                              Pair.instruction, latest_verdict()))
    return [QueueEntry(*row) for row in session.execute(query.order_by(Pair.id).limit(limit))]


def queue_counts(session: Session, spec: QueueFilter = QueueFilter()) -> tuple[int, int]:
    """(waiting for review, reviewed) among the pairs `spec` selects, whether pending or not."""
    every = replace(spec, pending_only=False)
    reviewed = func.sum(case((latest_verdict().is_not(None), 1), else_=0))
    total, done = session.execute(every.apply(select(func.count(Pair.id), reviewed))).one()
    return total - int(done or 0), int(done or 0)


def next_pending(session: Session, spec: QueueFilter, after_id: int) -> int | None:
    """The first pair waiting for review after `after_id`, else the first one before it."""
    query = replace(spec, pending_only=True).apply(select(Pair.id))
    return (session.scalar(query.where(Pair.id > after_id).order_by(Pair.id).limit(1))
            or session.scalar(query.where(Pair.id != after_id).order_by(Pair.id).limit(1)))


def pair_for_review(session: Session, pair_id: int) -> Pair | None:
    """A pair with everything the review page shows loaded: scores, runs, preferences, reviews, discussion."""
    return session.scalar(
        select(Pair).where(Pair.id == pair_id).options(
            selectinload(Pair.scores), selectinload(Pair.executions), selectinload(Pair.preferences),
            selectinload(Pair.reviews), selectinload(Pair.snippet),
            selectinload(Pair.discussion).selectinload(Discussion.turns),
        )
    )


def add_review(session: Session, pair_id: int, annotator: str, verdict: str, note: str | None = None,
               user_id: int | None = None) -> Review:
    """Store an annotator's verdict on a pair and commit it; `user_id` is the logged-in user who gave it."""
    annotator = annotator.strip()
    if not annotator:
        raise ReviewError("annotator: give your name, so that verdicts can be told apart")
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")
    if session.get(Pair, pair_id) is None:
        raise LookupError(f"no pair {pair_id} in this database")
    review = Review(pair_id=pair_id, annotator=annotator[:100], user_id=user_id, verdict=verdict,
                    note=(note or "").strip() or None)
    session.add(review)
    session.commit()
    return review
