"""Which pairs an export takes: the filter, the rows it selects, and the optional mixture of keys."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair, Snippet
from polyforge.storage.verdicts import effective_status
from polyforge.terms import PairStatus

MIX_KEYS = ("language", "source")
BATCH_ROWS = 1000


class ExportError(ValueError):
    pass


@dataclass
class ExportFilter:
    """Which pairs to export. Empty sequences mean 'any'."""

    statuses: Sequence[str] = (PairStatus.accepted,)  # after review: the final verdict decides
    min_score: float | None = None
    languages: Sequence[str] = ()
    origins: Sequence[str] = ()  # PairOrigin values (see Pair.origin)
    campaign_id: int | None = None
    mixture: dict[str, float] = field(default_factory=dict)  # key value -> share of the export
    mix_by: str = "language"  # or "source"


def _filtered(query: Select, spec: ExportFilter) -> Select:
    query = query.where(Pair.answer != "")
    if spec.statuses:  # review's final verdict overrides the judge's route
        query = query.where(effective_status().in_(list(spec.statuses)))
    if spec.min_score is not None:
        query = query.where(Pair.final_score >= spec.min_score)
    if spec.languages:
        query = query.where(Pair.language.in_(list(spec.languages)))
    if spec.origins:
        query = query.where(Pair.origin.in_(list(spec.origins)))
    if spec.campaign_id is not None:
        query = query.where(Pair.campaign_id == spec.campaign_id)
    return query


def _mix_column(spec: ExportFilter):
    if spec.mix_by not in MIX_KEYS:
        raise ExportError(f"mix_by must be one of {MIX_KEYS}, not {spec.mix_by!r}")
    return Pair.language if spec.mix_by == "language" else Snippet.source


def mixture_quotas(session: Session, spec: ExportFilter, base: Select) -> dict[str, int]:
    """Rows per key so that the export follows the shares, as large as the scarcest key allows."""
    shares = spec.mixture
    if any(share <= 0 for share in shares.values()):
        raise ExportError(f"mixture shares must be positive: {shares}")
    total_share = sum(shares.values())
    column = _mix_column(spec)
    counted = base.with_only_columns(column, func.count()).group_by(column).order_by(None)
    available = dict(session.execute(counted).all())
    missing = [key for key in shares if not available.get(key)]
    if missing:
        raise ExportError(f"mixture names {missing}, but no pairs match the filters there (found: {sorted(available)})")
    size = min(available[key] * total_share / share for key, share in shares.items())
    return {key: math.floor(size * share / total_share) for key, share in shares.items()}


def _limited(rows: Iterable[tuple], quotas: dict[str, int] | None, key_of: Callable[[tuple], str]) -> Iterator[tuple]:
    if quotas is None:
        yield from rows
        return
    taken: Counter = Counter()
    for row in rows:
        key = key_of(row)
        if key in quotas and taken[key] < quotas[key]:
            taken[key] += 1
            yield row


def selected_rows(session: Session, query: Select, spec: ExportFilter, order_by) -> Iterator[tuple]:
    """The rows of `query` (whose last two entities are a Pair and its Snippet) that `spec` selects, streamed in
    batches in `order_by` order, and cut to the mixture's quotas when it names one."""
    base = _filtered(query, spec)
    quotas = mixture_quotas(session, spec, base) if spec.mixture else None
    rows = session.execute(base.order_by(order_by).execution_options(yield_per=BATCH_ROWS))
    key_of = (lambda row: row[-2].language) if spec.mix_by == "language" else (lambda row: row[-1].source)
    return _limited(rows, quotas, key_of)
