"""Campaign summaries computed from the database, so any reader (CLI, review app) sees the same."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Campaign, JudgeScore, Pair, PromptVersion, Snippet
from polyforge.storage.verdicts import effective_status
from polyforge.terms import GATE, PairStatus

STATUSES = tuple(PairStatus)
JUDGED = PairStatus.judged()


@dataclass
class LanguageSummary:
    language: str
    generated: int
    accepted: int
    flagged: int
    rejected: int
    duplicate: int  # dropped by the novelty check before an answer was written
    contaminated: int  # dropped for sharing a word n-gram with a benchmark
    failed: int
    mean_score: float | None
    tokens: int
    seconds: float


def _summarize(session: Session, campaign_id: int, per_language: bool) -> list[LanguageSummary]:
    label = Pair.language if per_language else literal("all")
    counts = [func.sum(case((Pair.status == status, 1), else_=0)) for status in STATUSES]
    query = (
        select(label, func.count(Pair.id), *counts, func.avg(Pair.final_score), func.sum(Pair.total_tokens),
               func.sum(Pair.seconds))
        .where(Pair.campaign_id == campaign_id)
    )
    if per_language:
        query = query.group_by(Pair.language).order_by(Pair.language)
    summaries = []
    for language, generated, *by_status, mean, tokens, seconds in session.execute(query):
        if generated:
            counts = {status.value: int(count or 0) for status, count in zip(STATUSES, by_status)}
            summaries.append(LanguageSummary(language, generated, **counts, mean_score=mean, tokens=int(tokens or 0),
                                             seconds=float(seconds or 0)))
    return summaries


def campaign_models(session: Session, campaign_id: int) -> tuple[list[str], list[str]]:
    """The generator and judge models that the campaign's pairs record, each sorted."""
    rows = session.execute(select(Pair.model, Pair.judge_model).where(Pair.campaign_id == campaign_id).distinct()).all()
    return sorted({model for model, _ in rows if model}), sorted({judge for _, judge in rows if judge})


def language_summaries(session: Session, campaign_id: int) -> list[LanguageSummary]:
    """One row per language: counts by status, mean final score, tokens and seconds spent."""
    return _summarize(session, campaign_id, per_language=True)


def total_summary(session: Session, campaign_id: int) -> LanguageSummary | None:
    """The same figures over the whole campaign (mean score over scored pairs, not over languages)."""
    rows = _summarize(session, campaign_id, per_language=False)
    return rows[0] if rows else None


@dataclass
class CriterionDistribution:
    """How one checklist criterion scored over a campaign's judged pairs."""

    criterion: str
    count: int
    mean: float
    std: float
    min: float
    max: float
    overridden: int  # scores set by a rule (parser, sandbox) instead of the judge
    histogram: dict[int, int] = field(default_factory=dict)  # rounded score -> pairs


def criterion_distributions(session: Session, campaign_id: int) -> list[CriterionDistribution]:
    """Per criterion: count, mean, standard deviation, range, overrides and a histogram of rounded scores."""
    in_campaign = JudgeScore.pair_id.in_(select(Pair.id).where(Pair.campaign_id == campaign_id))
    overridden = func.sum(case((JudgeScore.decided_by != "judge", 1), else_=0))
    # SQLite has no stddev: the mean of squares comes from SQL, the square root from Python.
    stats = session.execute(
        select(JudgeScore.criterion, func.count(), func.avg(JudgeScore.score), func.avg(JudgeScore.score * JudgeScore.score),
               func.min(JudgeScore.score), func.max(JudgeScore.score), overridden)
        .where(in_campaign).group_by(JudgeScore.criterion).order_by(func.min(JudgeScore.id))
    ).all()
    bins: dict[str, Counter] = defaultdict(Counter)
    rounded = func.round(JudgeScore.score)
    for criterion, value, count in session.execute(
        select(JudgeScore.criterion, rounded, func.count()).where(in_campaign).group_by(JudgeScore.criterion, rounded)
    ):
        bins[criterion][int(value)] += count
    return [
        CriterionDistribution(criterion, count, mean, math.sqrt(max(mean_square - mean * mean, 0.0)), low, high,
                              int(overrides or 0), dict(sorted(bins[criterion].items())))
        for criterion, count, mean, mean_square, low, high, overrides in stats
    ]


def flag_reason_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """How many flagged pairs carry each reason (a pair with several reasons counts for each)."""
    counts: Counter = Counter()
    for reasons in session.scalars(
        select(Pair.flag_reason).where(Pair.campaign_id == campaign_id, Pair.flag_reason.is_not(None))
    ):
        counts.update(reason.strip() for reason in reasons.split(";"))
    return dict(counts.most_common())


@dataclass
class CampaignProgressRow:
    id: int
    name: str
    status: str
    snippets: int
    pairs: int
    budget: int | None
    by_status: dict[str, int]
    created_at: object
    finished_at: object


def campaign_progress(session: Session) -> list[CampaignProgressRow]:
    """Every campaign in the database with how far it got."""
    snippets = dict(session.execute(select(Snippet.campaign_id, func.count()).group_by(Snippet.campaign_id)).all())
    counts: dict[int, dict[str, int]] = {}
    for campaign_id, status, count in session.execute(
        select(Pair.campaign_id, Pair.status, func.count()).group_by(Pair.campaign_id, Pair.status)
    ):
        counts.setdefault(campaign_id, {})[status] = count
    rows = []
    for campaign in session.scalars(select(Campaign).order_by(Campaign.id)):
        by_status = counts.get(campaign.id, {})
        budget = (campaign.config.get("budgets") or {}).get("max_pairs")
        rows.append(CampaignProgressRow(campaign.id, campaign.name, campaign.status, snippets.get(campaign.id, 0),
                                        sum(by_status.values()), budget, by_status, campaign.created_at,
                                        campaign.finished_at))
    return rows


def coverage_counts(session: Session, campaign_id: int | None = None) -> Counter:
    """Labelled, answered pairs per (language, topic, difficulty): the coverage matrix."""
    query = (select(Pair.language, Pair.topic, Pair.difficulty, func.count())
             .where(Pair.topic.is_not(None), Pair.status.in_(PairStatus.judged()))
             .group_by(Pair.language, Pair.topic, Pair.difficulty))
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    return Counter({(language, topic, difficulty): count for language, topic, difficulty, count in session.execute(query)})


def latest_campaign(session: Session) -> Campaign | None:
    return session.scalar(select(Campaign).order_by(Campaign.id.desc()))


@dataclass
class TemplateOutcome:
    """What the pairs one version of a prompt template took part in became."""

    template: str
    content_hash: str
    pairs: int
    judged: int
    accepted: int
    score_sum: float
    scored: int
    first_used: object  # when a campaign first recorded this version; None if it never did

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.judged if self.judged else None

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None


def template_outcomes(session: Session, campaign_id: int | None = None,
                      template: str | None = None) -> list[TemplateOutcome]:
    """Per template and version (content hash): pairs, how many the judge saw and accepted, mean score."""
    query = select(Pair.templates, Pair.status, Pair.final_score).execution_options(yield_per=10_000)
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    outcomes: dict[tuple[str, str], TemplateOutcome] = {}
    for templates, status, score in session.execute(query):
        for name, content_hash in (templates or {}).items():
            if template not in (None, name):
                continue
            row = outcomes.setdefault((name, content_hash), TemplateOutcome(name, content_hash, 0, 0, 0, 0.0, 0, None))
            row.pairs += 1
            row.judged += status in JUDGED
            row.accepted += status == PairStatus.accepted
            if score is not None:
                row.score_sum += score
                row.scored += 1
    for name, content_hash, first_used in session.execute(
            select(PromptVersion.name, PromptVersion.content_hash, PromptVersion.first_used_at)):
        if (name, content_hash) in outcomes:
            outcomes[(name, content_hash)].first_used = first_used
    return sorted(outcomes.values(), key=lambda row: (row.template, row.first_used is None, str(row.first_used)))


def gate_drops(session: Session, campaign_id: int) -> dict[str, int]:
    """Items dropped by a cheap gate before the judge, per gate (details in parentheses folded together)."""
    counts: Counter = Counter()
    for error in session.scalars(select(Pair.error).where(Pair.campaign_id == campaign_id,
                                                          Pair.error.like(f"{GATE}%"))):
        counts[error.removeprefix(GATE).split(" (")[0]] += 1
    return dict(counts.most_common())


@dataclass
class FunnelStep:
    step: str
    items: int


def _counted(condition):
    return func.sum(case((condition, 1), else_=0))


def acceptance_funnel(session: Session, campaign_id: int) -> list[FunnelStep]:
    """How far the campaign's items got: snippets, novel instructions, answered, tested in the sandbox, judged, and
    accepted (after review: the final verdict decides)."""
    snippets = session.scalar(select(func.count(Snippet.id)).where(Snippet.campaign_id == campaign_id)) or 0
    in_campaign = Pair.campaign_id == campaign_id
    novel, answered, tested, judged, accepted = session.execute(select(
        _counted(Pair.status != PairStatus.duplicate), _counted(Pair.answer != ""),
        _counted(Pair.execution_status.is_not(None)), _counted(Pair.final_score.is_not(None)),
        _counted(effective_status() == PairStatus.accepted.value)).where(in_campaign)).one()
    values = (snippets, novel, answered, tested, judged, accepted)
    names = ("snippets", "novel", "answered", "tested", "judged", "accepted")
    return [FunnelStep(name, int(value or 0)) for name, value in zip(names, values)]


def final_scores_by_language(session: Session, campaign_id: int) -> dict[str, list[float]]:
    """The judged pairs' final scores, per language (alphabetical)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for language, score in session.execute(
            select(Pair.language, Pair.final_score).where(Pair.campaign_id == campaign_id,
                                                          Pair.final_score.is_not(None)).order_by(Pair.language)):
        scores[language].append(score)
    return dict(scores)
