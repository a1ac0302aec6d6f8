"""What cross-lingual discussion contributed to a campaign: acceptance by origin, per language and per transfer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Discussion, Pair
from polyforge.terms import PairOrigin, PairStatus

JUDGED = PairStatus.judged()
ORIGINS = tuple(PairOrigin)
DISCUSSED = (PairOrigin.discussion, PairOrigin.transfer)


@dataclass
class OriginSummary:
    """Pairs of one origin: how many reached the judge, how many it accepted, and the tokens they took."""

    origin: str
    pairs: int
    judged: int
    accepted: int
    tokens: int  # a discussion's critiques and revisions count on the proposer's pair

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.judged if self.judged else None


@dataclass
class LanguageSynergy:
    """A language's accepted pairs, and how many of them came out of a cross-lingual discussion."""

    language: str
    accepted: int
    from_discussion: int  # accepted pairs of origin 'discussion' or 'transfer'

    @property
    def share(self) -> float | None:
        return self.from_discussion / self.accepted if self.accepted else None


@dataclass
class Synergy:
    """What cross-lingual discussion contributed to a campaign (definitions in the README)."""

    discussions: int
    origins: list[OriginSummary]
    languages: list[LanguageSynergy]
    transfers: dict[tuple[str, str], tuple[int, int]]  # (proposer language, peer language) -> (pairs, accepted)

    @property
    def lift(self) -> float | None:
        """Acceptance rate of discussed and transferred pairs over that of single-agent pairs."""
        by_origin = {row.origin: row for row in self.origins}
        single = by_origin[PairOrigin.single].acceptance_rate
        judged = sum(by_origin[o].judged for o in DISCUSSED)
        accepted = sum(by_origin[o].accepted for o in DISCUSSED)
        if not single or not judged:
            return None
        return (accepted / judged) / single


def synergy(session: Session, campaign_id: int) -> Synergy | None:
    """The synergy figures of a campaign; None when it held no discussion."""
    discussions = session.scalar(select(func.count(Discussion.id)).where(Discussion.campaign_id == campaign_id))
    if not discussions:
        return None
    judged = func.sum(case((Pair.status.in_(JUDGED), 1), else_=0))
    accepted = func.sum(case((Pair.status == PairStatus.accepted, 1), else_=0))
    in_campaign = Pair.campaign_id == campaign_id
    counts = {origin: (pairs, int(j or 0), int(a or 0), int(tokens or 0)) for origin, pairs, j, a, tokens in
              session.execute(select(Pair.origin, func.count(), judged, accepted, func.sum(Pair.total_tokens))
                              .where(in_campaign).group_by(Pair.origin))}
    origins = [OriginSummary(origin, *counts.get(origin, (0, 0, 0, 0))) for origin in ORIGINS]
    discussed = case((Pair.origin.in_(DISCUSSED), 1), else_=0)
    languages = [
        LanguageSynergy(language, count, int(from_discussion or 0))
        for language, count, from_discussion in session.execute(
            select(Pair.language, func.count(), func.sum(discussed))
            .where(in_campaign, Pair.status == PairStatus.accepted).group_by(Pair.language).order_by(Pair.language))
    ]
    transfers = {
        (proposer, language): (pairs, int(a or 0))
        for proposer, language, pairs, a in session.execute(
            select(Discussion.proposer_language, Pair.language, func.count(), accepted)
            .join(Discussion, Pair.discussion_id == Discussion.id)
            .where(in_campaign, Pair.origin == PairOrigin.transfer)
            .group_by(Discussion.proposer_language, Pair.language))
    }
    return Synergy(discussions, origins, languages, transfers)
