"""Handing pairs to annotators with overlap: each pair to `overlap` distinct annotators, each time to those with
the fewest open pairs, so that the work stays balanced and agreement can be measured on every pair."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair
from polyforge.storage.review_models import Assignment, Review, User
from polyforge.storage.reviews import QueueFilter

DEFAULT_OVERLAP = 2


class AssignmentError(ValueError):
    """Pairs that cannot be assigned as asked; the message says why."""


@dataclass
class AssignmentReport:
    pairs: int  # pairs that got at least one new annotator
    per_annotator: dict[str, int]  # new assignments per annotator name


def open_load(session: Session) -> Counter:
    """User id -> pairs assigned to them that they have not reviewed yet."""
    reviewed = exists().where(Review.pair_id == Assignment.pair_id, Review.user_id == Assignment.user_id)
    rows = session.execute(select(Assignment.user_id, func.count(Assignment.id)).where(~reviewed)
                           .group_by(Assignment.user_id))
    return Counter(dict(rows.all()))


def assign(session: Session, spec: QueueFilter = QueueFilter(), overlap: int = DEFAULT_OVERLAP,
           limit: int | None = None, sample: int | None = None, seed: int = 0) -> AssignmentReport:
    """Give each undecided pair `spec` selects (the first `limit` by id, or a random `sample` of them drawn with
    `seed`, for an audit) to annotators until it has `overlap` of them, and commit. Pairs that already have
    enough keep theirs."""
    if overlap < 1:
        raise AssignmentError(f"overlap: {overlap}; each pair needs at least 1 annotator")
    for name, value in (("limit", limit), ("sample", sample)):
        if value is not None and value < 1:
            raise AssignmentError(f"{name}: {value}; give 1 or more, or leave it out")
    if limit is not None and sample is not None:
        raise AssignmentError("give a limit (the first pairs) or a sample (random pairs), not both")
    annotators = session.execute(select(User.id, User.name).where(User.role == "annotator").order_by(User.id)).all()
    if len(annotators) < overlap:
        raise AssignmentError(f"overlap {overlap} needs {overlap} annotators, and there are {len(annotators)}: add "
                              "some with `polyforge review users add NAME --role annotator`, or lower the overlap")
    names = dict(annotators)
    assigned = select(func.count(Assignment.id)).where(Assignment.pair_id == Pair.id).correlate(Pair).scalar_subquery()
    query = replace(spec, assignee=None, pending_only=True).apply(select(Pair.id)).where(assigned < overlap)
    pair_ids = session.scalars(query.order_by(Pair.id).limit(limit)).all()
    if sample is not None and sample < len(pair_ids):
        pair_ids = sorted(random.Random(seed).sample(pair_ids, sample))
    load = open_load(session)
    current: dict[int, set[int]] = {}
    for pair_id, user_id in session.execute(select(Assignment.pair_id, Assignment.user_id)
                                            .where(Assignment.pair_id.in_(pair_ids))):
        current.setdefault(pair_id, set()).add(user_id)
    made: Counter = Counter()
    for pair_id in pair_ids:
        have = current.get(pair_id, set())
        free = sorted((user_id for user_id in names if user_id not in have),
                      key=lambda user_id: (load[user_id], user_id))
        for user_id in free[:overlap - len(have)]:
            session.add(Assignment(pair_id=pair_id, user_id=user_id))
            load[user_id] += 1
            made[names[user_id]] += 1
    session.commit()
    return AssignmentReport(pairs=len(pair_ids), per_annotator=dict(made))
