"""What decides a pair after review, as SQL expressions correlated to `Pair`, shared by the review queue, exports,
training sets and calibration so that they can never disagree.

Each annotator's verdict on a pair is their latest review of it (earlier ones stay in the table). The pair's
final verdict is an admin's latest adjudication when there is one; otherwise the annotators' verdict when every
annotator who reviewed it gave the same one and as many gave it as the pair has assignments (at least one), and
they never disagreed; otherwise none yet. A disagreement, once it happened, waits for an admin even if an annotator
changes her verdict afterwards: agreement reached that way is not independent. `Pair.status` keeps the judge's
route, which is what calibration compares verdicts with.
"""

from __future__ import annotations

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from polyforge.storage.models import Pair
from polyforge.storage.review_models import Assignment, Review, ReviewScore
from polyforge.terms import PairStatus

VERDICTS = ("accept", "reject")


def _current_annotations():
    """An alias of `review` and the condition that keeps, for the pair in scope, each annotator's latest verdict."""
    mine, later = aliased(Review), aliased(Review)
    newer = exists().where(later.pair_id == mine.pair_id, later.annotator == mine.annotator,
                           later.adjudication.is_(False), later.id > mine.id)
    return mine, and_(mine.pair_id == Pair.id, mine.adjudication.is_(False), ~newer)


def ever_disagreed():
    """True for a pair where some annotator's verdict, when it was given, differed from another annotator's verdict
    standing at that moment (their latest one before it)."""
    given, standing, between = aliased(Review), aliased(Review), aliased(Review)
    superseded = exists().where(between.pair_id == standing.pair_id, between.annotator == standing.annotator,
                                between.adjudication.is_(False), between.id > standing.id, between.id < given.id)
    return (exists().where(given.pair_id == Pair.id, given.adjudication.is_(False),
                           standing.pair_id == Pair.id, standing.adjudication.is_(False),
                           standing.annotator != given.annotator, standing.id < given.id,
                           standing.verdict != given.verdict, ~superseded)
            .correlate(Pair))


def adjudicated_verdict():
    """The latest admin adjudication of the pair, or None."""
    return (select(Review.verdict).where(Review.pair_id == Pair.id, Review.adjudication.is_(True))
            .order_by(Review.id.desc()).limit(1).correlate(Pair).scalar_subquery())


def assignments_needed():
    """How many annotators' verdicts the pair waits for: its assignments, and at least one."""
    assigned = select(func.count(Assignment.id)).where(Assignment.pair_id == Pair.id).correlate(Pair).scalar_subquery()
    return case((assigned > 1, assigned), else_=1)


def agreed_verdict():
    """The annotators' verdict when all who reviewed the pair agree, always did, and enough of them did, else None."""
    mine, current = _current_annotations()
    agreed = and_(func.count(func.distinct(mine.verdict)) == 1, func.count(mine.id) >= assignments_needed())
    verdict = select(case((agreed, func.min(mine.verdict)), else_=None)).where(current).correlate(Pair)
    return case((ever_disagreed(), None), else_=verdict.scalar_subquery())


def disputed():
    """True for a pair whose annotators disagree, or once did, and that no admin has adjudicated."""
    return and_(ever_disagreed(), adjudicated_verdict().is_(None))


def final_verdict():
    """The pair's verdict after review (accept, reject) or None while it is undecided."""
    return func.coalesce(adjudicated_verdict(), agreed_verdict())


def effective_status():
    """The judge's route, unless review decided otherwise: accept -> accepted, reject -> rejected."""
    verdict = final_verdict()
    return case((verdict == "accept", PairStatus.accepted.value), (verdict == "reject", PairStatus.rejected.value),
                else_=Pair.status)


def annotator_verdicts(session: Session, campaign_id: int | None = None) -> list[tuple[int, str, str, str]]:
    """Every annotator's verdict on every pair (their latest), as (pair id, language, annotator, verdict) in pair
    order: what agreement is measured on."""
    mine, current = _current_annotations()
    query = (select(Pair.id, Pair.language, mine.annotator, mine.verdict).join(mine, current)
             .order_by(Pair.id, mine.annotator))
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    return [tuple(row) for row in session.execute(query)]


def annotator_criterion_scores(session: Session, campaign_id: int | None = None) -> list[tuple[int, str, str, int]]:
    """The criterion scores each annotator gave with their latest verdict on each pair, as (pair id, criterion,
    annotator, score)."""
    mine, current = _current_annotations()
    query = (select(Pair.id, ReviewScore.criterion, mine.annotator, ReviewScore.score).select_from(Pair)
             .join(mine, current)
             .join(ReviewScore, ReviewScore.review_id == mine.id).order_by(Pair.id, ReviewScore.criterion))
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    return [tuple(row) for row in session.execute(query)]


def annotator_work(session: Session, campaign_id: int | None = None
                   ) -> list[tuple[int, str, str, float | None, str | None]]:
    """Every annotator's latest verdict on every pair with what their pace is measured on, as (pair id, annotator,
    verdict, seconds it took, the sandbox's status of the pair's chosen answer)."""
    mine, current = _current_annotations()
    query = (select(Pair.id, mine.annotator, mine.verdict, mine.seconds, Pair.execution_status).join(mine, current)
             .order_by(Pair.id, mine.annotator))
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    return [tuple(row) for row in session.execute(query)]
