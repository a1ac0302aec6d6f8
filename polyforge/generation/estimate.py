"""A campaign's cost before it runs (`polyforge run CONFIG --estimate N`): a sample of N pairs' work items runs apart
from the campaign, then the whole campaign's tokens, server time, money, accepted pairs and cost per accepted pair are
projected from it, with the sample's uncertainty.

The sample is the campaign's own schedule cut short (languages take turns, so it spreads across them), run on the
configured models in a throwaway database and memory, so the campaign itself is untouched. Per pair, its mean tokens,
token cost and acceptance carry over to every pair the campaign would make; the servers' time scales the sample's wall
time per pair. Intervals are 95%: a percentile bootstrap over the sample's pairs, and for the acceptance rate the
Wilson interval (it stays honest when the sample accepted none or all).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import binomtest
from sqlalchemy import func, select

from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.generation.costs import Prices
from polyforge.llm import ChatBackend
from polyforge.storage import Pair, Snippet, database
from polyforge.terms import PairOrigin, PairStatus

CONFIDENCE = 0.95
BOOTSTRAP_DRAWS = 2000


class EstimateError(ValueError):
    """The sample cannot support a projection (it made no pair); the message says why and what to do."""


@dataclass(frozen=True)
class Range:
    """A projected figure and its 95% interval; `value` is None where the sample cannot give one (the cost per
    accepted pair when it accepted none: then only `low` is known, and `high` is infinite)."""

    value: float | None
    low: float
    high: float


@dataclass(frozen=True)
class SampledPair:
    tokens: int
    cost: float  # its tokens at the campaign's prices
    seconds: float  # model seconds, all stages
    accepted: bool


@dataclass
class Projection:
    sample: list[SampledPair]
    sample_items: int  # work items the sample ran (a discussion's transfers make more pairs than items)
    sample_seconds: float  # the sample run's wall time
    pairs: int  # pairs the whole campaign would make
    limited_by: str  # what bounds them: the pair budget, the snippets, or the token budget
    tokens: Range
    server_hours: Range
    cost: Range | None  # None: no model has a price
    accepted: Range
    per_accepted: Range | None
    server_per_hour: float = 0.0

    @property
    def sample_accepted(self) -> int:
        return sum(pair.accepted for pair in self.sample)

    @property
    def sample_cost(self) -> float:
        return sum(pair.cost for pair in self.sample) + self.server_per_hour * self.sample_seconds / 3600


async def estimate(config: CampaignConfig, sample_pairs: int, progress: CampaignProgress | None = None,
                   backends: tuple[ChatBackend, ...] | None = None) -> Projection:
    """Run a sample of `sample_pairs` pairs' work items apart from the campaign and project the whole campaign."""
    with tempfile.TemporaryDirectory(prefix="polyforge-estimate-") as folder:
        apart = config.model_copy(update={
            "output_dir": Path(folder), "database_url": None,
            "budgets": config.budgets.model_copy(update={"max_pairs": sample_pairs, "max_tokens": None}),
            "memory": config.memory.model_copy(update={"folder": None}),
            "workers": config.workers.model_copy(update={"executor": "local"}),
        })
        result = await CampaignRunner(apart, progress, backends, check_sandbox=True).run()
        prices = Prices.of_models(config.model_dump(mode="json")["models"])
        with database(result.database_url) as sessions, sessions() as session:
            mine = Pair.campaign_id == result.campaign_id
            sample = [SampledPair(total, prices.tokens_cost(tokens), seconds, status == PairStatus.accepted)
                      for tokens, total, seconds, status in session.execute(
                          select(Pair.tokens, Pair.total_tokens, Pair.seconds, Pair.status).where(mine))]
            items = session.scalar(select(func.count(Pair.id)).where(mine, Pair.origin != PairOrigin.transfer)) or 0
            snippets = dict(session.execute(select(Snippet.language, func.count())
                                            .where(Snippet.campaign_id == result.campaign_id)
                                            .group_by(Snippet.language)).all())
    if not sample:
        raise EstimateError("the sample made no pair (no snippet to work on, or every item was skipped); check the "
                            "config's sources and languages with `polyforge ingest`")
    cap = config.budgets.max_snippets_per_language
    campaign_items = sum(min(count, cap) if cap else count for count in snippets.values())
    return project(sample, items, result.seconds, campaign_items, config, prices)


def project(sample: list[SampledPair], sample_items: int, sample_seconds: float, campaign_items: int,
            config: CampaignConfig, prices: Prices) -> Projection:
    """The whole campaign from the sample: its pairs (bounded by the budgets and the snippets), then each figure."""
    n = len(sample)
    tokens = np.array([pair.tokens for pair in sample], dtype=float)
    costs = np.array([pair.cost for pair in sample])
    seconds = np.array([pair.seconds for pair in sample])
    accepted = np.array([pair.accepted for pair in sample], dtype=float)
    budgets = config.budgets
    bounds = {"budgets.max_pairs": budgets.max_pairs,
              "the snippets": math.floor(campaign_items * n / max(sample_items, 1))}
    if budgets.max_tokens is not None and tokens.mean() > 0:
        bounds["budgets.max_tokens"] = math.ceil(budgets.max_tokens / tokens.mean())
    limited_by = min(bounds, key=bounds.get)
    pairs = bounds[limited_by]

    draws = np.random.default_rng(config.sampling.seed).integers(0, n, size=(BOOTSTRAP_DRAWS, n))
    wall_per_pair = sample_seconds / n
    # The servers' time per pair follows the model seconds the pairs took (a draw of slower pairs takes longer).
    pace = seconds[draws].sum(axis=1) / seconds.sum() if seconds.sum() else np.ones(BOOTSTRAP_DRAWS)
    hours = wall_per_pair * pairs / 3600
    drawn_hours = hours * pace
    drawn_cost = costs[draws].mean(axis=1) * pairs + prices.server_per_hour * drawn_hours
    drawn_accepted = accepted[draws].mean(axis=1) * pairs
    cost = costs.mean() * pairs + prices.server_per_hour * hours
    low_rate, high_rate = _acceptance_interval(int(accepted.sum()), n)
    accepted_pairs = Range(accepted.mean() * pairs, low_rate * pairs, high_rate * pairs)
    per_accepted = None
    if prices.priced:
        if accepted.sum():
            with np.errstate(divide="ignore"):  # a draw without an accepted pair: no finite cost per accepted pair
                drawn_per_accepted = np.where(drawn_accepted > 0, drawn_cost / drawn_accepted, np.inf)
            per_accepted = Range(cost / accepted_pairs.value, *_percentiles(drawn_per_accepted))
        else:  # none accepted: at best the acceptance rate's upper bound
            per_accepted = Range(None, cost / accepted_pairs.high if accepted_pairs.high else math.inf, math.inf)
    return Projection(
        sample, sample_items, sample_seconds, pairs, limited_by,
        tokens=Range(tokens.mean() * pairs, *_percentiles(tokens[draws].mean(axis=1) * pairs)),
        server_hours=Range(hours, *_percentiles(drawn_hours)),
        cost=Range(cost, *_percentiles(drawn_cost)) if prices.priced else None,
        accepted=accepted_pairs, per_accepted=per_accepted, server_per_hour=prices.server_per_hour)


def _percentiles(draws: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    # Drawn values, not interpolated between them: an infinite draw stays infinite instead of making NaN.
    low, high = np.percentile(draws, [tail, 100 - tail], method="inverted_cdf")
    return float(low), float(high)


def _acceptance_interval(accepted: int, pairs: int) -> tuple[float, float]:
    interval = binomtest(accepted, pairs).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(interval.low), float(interval.high)
