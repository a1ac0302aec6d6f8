"""The review queue: the pairs the judge flagged (or samples of its other routes), everything an annotator needs
about one, and verdicts.

An annotator works only on the pairs assigned to them (`polyforge.storage.assignments`), and their queue holds
those they have not reviewed yet; an admin sees every pair, and their verdict is an adjudication. What a pair's
verdicts add up to is `polyforge.storage.verdicts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import case, exists, func, literal, select
from sqlalchemy.orm import Session, joinedload, selectinload

from polyforge.storage.models import Discussion, JudgeScore, Pair
from polyforge.storage.review_models import Assignment, Review, ReviewScore
from polyforge.storage.verdicts import VERDICTS, disputed, final_verdict
from polyforge.terms import PairStatus


MIN_SCORE, MAX_SCORE = 1, 10  # an annotator's criterion score, on the judge's scale
MAX_NOTE_CHARS = 5_000  # a verdict's note: a few words, not a document


class ReviewError(ValueError):
    """A verdict that cannot be stored; the message says which field and why."""


class NotAssigned(PermissionError):
    """An annotator asked for a pair that is not theirs to review."""


def own_verdict(user_id: int):
    """The user's latest verdict on the pair, or None."""
    return (select(Review.verdict).where(Review.pair_id == Pair.id, Review.user_id == user_id)
            .order_by(Review.id.desc()).limit(1).correlate(Pair).scalar_subquery())


def _assigned(user_id: int):
    return exists().where(Assignment.pair_id == Pair.id, Assignment.user_id == user_id)


@dataclass
class QueueEntry:
    pair_id: int
    campaign_id: int
    language: str
    final_score: float | None
    flag_reason: str | None
    instruction: str
    verdict: str | None  # the annotator's own verdict in their queue, the final verdict in an admin's; None: open
    # annotators disagree and no admin has adjudicated; None in an annotator's queue: in a blind review, whether
    # her co-annotators agree with her is not hers to know
    disputed: bool | None


@dataclass
class QueueFilter:
    """Which pairs to list: the flagged ones by default, or those the judge accepted or rejected, to audit
    it. None means any."""

    status: PairStatus = PairStatus.flagged  # the judge's route
    campaign_id: int | None = None
    language: str | None = None
    reason: str | None = None  # a flag reason, or part of one
    pending_only: bool = True  # only open pairs: not reviewed by the assignee, or (for an admin) undecided
    assignee: int | None = None  # a user id: only the pairs assigned to that annotator
    disputed_only: bool = False  # only pairs whose annotators disagree, waiting for an admin

    def apply(self, query):
        query = query.where(Pair.status == self.status)
        if self.campaign_id is not None:
            query = query.where(Pair.campaign_id == self.campaign_id)
        if self.language:
            query = query.where(Pair.language == self.language)
        if self.reason:
            query = query.where(Pair.flag_reason.contains(self.reason))
        if self.assignee is not None:
            query = query.where(_assigned(self.assignee))
        if self.disputed_only:
            query = query.where(disputed())
        if self.pending_only:
            query = query.where(self.verdict().is_(None))
        return query

    def verdict(self):
        """The verdict the queue shows: the assignee's own, or the final one."""
        return own_verdict(self.assignee) if self.assignee is not None else final_verdict()


def review_queue(session: Session, spec: QueueFilter = QueueFilter(), limit: int = 500) -> list[QueueEntry]:
    """The pairs `spec` selects in id order, with their verdict (see `QueueEntry.verdict`)."""
    blind = spec.assignee is not None
    query = spec.apply(select(Pair.id, Pair.campaign_id, Pair.language, Pair.final_score, Pair.flag_reason,
                              Pair.instruction, spec.verdict(), literal(None) if blind else disputed()))
    return [QueueEntry(*row[:7], None if blind else bool(row[7]))
            for row in session.execute(query.order_by(Pair.id).limit(limit))]


def queue_counts(session: Session, spec: QueueFilter = QueueFilter()) -> tuple[int, int]:
    """(open, reviewed) among the pairs `spec` selects, whether pending or not."""
    every = replace(spec, pending_only=False)
    reviewed = func.sum(case((spec.verdict().is_not(None), 1), else_=0))
    total, done = session.execute(every.apply(select(func.count(Pair.id), reviewed))).one()
    return total - int(done or 0), int(done or 0)


def neighbours(session: Session, spec: QueueFilter, pair_id: int) -> tuple[int | None, int | None]:
    """The pairs before and after `pair_id` in the queue `spec` selects (j and k move between them)."""
    query = spec.apply(select(Pair.id))
    before = session.scalar(query.where(Pair.id < pair_id).order_by(Pair.id.desc()).limit(1))
    after = session.scalar(query.where(Pair.id > pair_id).order_by(Pair.id).limit(1))
    return before, after


def next_pending(session: Session, spec: QueueFilter, after_id: int) -> int | None:
    """The first open pair after `after_id`, else the first one before it."""
    query = replace(spec, pending_only=True).apply(select(Pair.id))
    return (session.scalar(query.where(Pair.id > after_id).order_by(Pair.id).limit(1))
            or session.scalar(query.where(Pair.id != after_id).order_by(Pair.id).limit(1)))


def pair_for_review(session: Session, pair_id: int) -> Pair | None:
    """A pair with everything the review page shows loaded: scores, runs, reviews, revisions, snippet, discussion
    (the one-to-one rows joined, the lists in one query each: the page's round trips to the database)."""
    return session.scalar(
        select(Pair).where(Pair.id == pair_id).options(
            joinedload(Pair.snippet), joinedload(Pair.discussion).selectinload(Discussion.turns),
            selectinload(Pair.scores), selectinload(Pair.executions),
            selectinload(Pair.reviews).selectinload(Review.scores), selectinload(Pair.revisions),
        )
    )


def may_review(session: Session, pair_id: int, user_id: int | None) -> bool | None:
    """Whether the user may review the pair (None: no such pair): one query. `user_id` None is an admin, who may
    review any."""
    assigned = (exists().where(Assignment.pair_id == Pair.id, Assignment.user_id == user_id)
                if user_id is not None else literal(True))
    return session.scalar(select(assigned).where(Pair.id == pair_id))


def check_verdict(verdict: str) -> None:
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")


def check_scores(session: Session, pair_id: int, scores: Mapping[str, int]) -> None:
    """Criterion scores must be whole numbers from 1 to 10, for criteria the judge scored on this pair."""
    if not scores:
        return
    known = set(session.scalars(select(JudgeScore.criterion).where(JudgeScore.pair_id == pair_id)))
    for criterion, score in scores.items():
        if criterion not in known:
            raise ReviewError(f"score of {criterion!r}: not a criterion of pair {pair_id} "
                              f"({', '.join(sorted(known)) or 'it has no checklist scores'})")
        if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
            raise ReviewError(f"score of {criterion!r}: {score!r} is not a whole number from {MIN_SCORE} to "
                              f"{MAX_SCORE}")


def add_review(session: Session, pair_id: int, annotator: str, verdict: str, note: str | None = None,
               user_id: int | None = None, adjudication: bool = False, commit: bool = True,
               scores: Mapping[str, int] | None = None, seconds: float | None = None) -> Review:
    """Store a verdict on a pair (an admin's `adjudication`, or an annotator's), with the annotator's own criterion
    `scores` if any and the `seconds` it took, under the user who gave it, and commit it unless told not to.
    Earlier verdicts stay: the latest of each annotator counts."""
    annotator = annotator.strip()
    if not annotator:
        raise ReviewError("annotator: give your name, so that verdicts can be told apart")
    check_verdict(verdict)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"note: {len(note)} characters, more than the {MAX_NOTE_CHARS} a note may have")
    if session.get(Pair, pair_id) is None:
        raise LookupError(f"no pair {pair_id} in this database")
    check_scores(session, pair_id, scores or {})
    review = Review(pair_id=pair_id, annotator=annotator[:100], user_id=user_id, verdict=verdict,
                    note=note, adjudication=adjudication, seconds=seconds,
                    scores=[ReviewScore(criterion=criterion, score=score)
                            for criterion, score in (scores or {}).items()])
    session.add(review)
    if commit:
        session.commit()
    return review
