"""What a campaign's pairs cost in money: the tokens each stage spent at the price of the model that served it, and
the wall time of the campaign's runs at the price of its servers (`models.*.price`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.config import PriceConfig
from polyforge.storage import Campaign, Pair
from polyforge.storage.spending import run_seconds
from polyforge.storage.verdicts import effective_status
from polyforge.terms import PairStatus

PER_MILLION = 1_000_000
ROLES = ("generator", "judge", "tester", "second_judge")
# The stages of a pair's token record (recorder.stage_completions) and the role whose model serves each.
STAGE_ROLES = {"instruction": "generator", "discussion": "generator", "classify": "generator", "answer": "generator",
               "tester": "tester", "judge": "judge"}


@dataclass(frozen=True)
class TokenPrice:
    """Per million tokens: prompt tokens computed, prompt tokens from the server's prefix cache, completion."""

    prompt: float = 0.0
    cached: float = 0.0
    completion: float = 0.0

    def cost(self, spent: Mapping[str, int]) -> float:
        prompt = spent.get("prompt", 0)
        cached = min(spent.get("cached", 0), prompt)
        return ((prompt - cached) * self.prompt + cached * self.cached
                + spent.get("completion", 0) * self.completion) / PER_MILLION


def _token_price(price: PriceConfig | None) -> TokenPrice:
    return TokenPrice() if price is None else TokenPrice(price.prompt, price.cached_rate, price.completion)


def _mean(first: TokenPrice, second: TokenPrice) -> TokenPrice:
    return TokenPrice((first.prompt + second.prompt) / 2, (first.cached + second.cached) / 2,
                      (first.completion + second.completion) / 2)


@dataclass(frozen=True)
class Prices:
    """A campaign's prices: per stage for tokens, and per hour for the servers it holds while it runs."""

    stages: dict[str, TokenPrice]
    server_per_hour: float = 0.0
    priced: bool = False  # whether any model has a price

    @classmethod
    def of_models(cls, models: Mapping[str, Mapping | None]) -> Prices:
        """From the `models` section of a campaign config (as stored with the campaign: plain JSON). A role that
        names no model uses the generator's; the judge stage of an ensemble is half each judge's (both score every
        pair the same number of times on the same prompt). Servers are charged once per set of base URLs (one
        machine for the in-process models)."""
        generator = models.get("generator") or {}
        configs = {role: models.get(role) or generator for role in ROLES}
        configs["second_judge"] = models.get("second_judge")
        prices = {role: PriceConfig.model_validate(config["price"]) if config and config.get("price") else None
                  for role, config in configs.items()}
        by_role = {role: _token_price(price) for role, price in prices.items()}
        stages = {stage: by_role[role] for stage, role in STAGE_ROLES.items()}
        if configs["second_judge"] is not None:
            stages["judge"] = _mean(by_role["judge"], by_role["second_judge"])
        servers: dict[tuple[str, ...], float] = {}
        for role, config in configs.items():
            price = prices[role]
            if config is None or price is None or not price.gpu_hour:
                continue
            urls = config.get("base_url") or ()
            urls = (urls,) if isinstance(urls, str) else tuple(sorted(urls))
            servers.setdefault(urls or ("in process",), price.gpu_hour * price.gpus * max(len(urls), 1))
        return cls(stages, sum(servers.values()), any(price is not None for price in prices.values()))

    @classmethod
    def of_campaign(cls, campaign: Campaign) -> Prices:
        return cls.of_models((campaign.config or {}).get("models") or {})

    def tokens_cost(self, tokens: Mapping[str, Mapping[str, int]] | None) -> float:
        """What one pair's token record (stage -> prompt, cached, completion) cost."""
        return sum(self.stages.get(stage, TokenPrice()).cost(spent) for stage, spent in (tokens or {}).items())

    def server_cost(self, seconds: float) -> float:
        return self.server_per_hour * seconds / 3600


@dataclass
class CampaignCost:
    """What a campaign spent so far, in money."""

    tokens: float  # the tokens of its pairs
    server: float  # its servers, for the wall time of its runs
    server_seconds: float
    pairs: int
    accepted: int  # after review: the final verdict decides

    @property
    def total(self) -> float:
        return self.tokens + self.server

    @property
    def per_accepted(self) -> float | None:
        return self.total / self.accepted if self.accepted else None


def campaign_cost(session: Session, campaign: Campaign) -> CampaignCost | None:
    """The campaign's cost so far; None when none of its models has a price."""
    prices = Prices.of_campaign(campaign)
    if not prices.priced:
        return None
    tokens, pairs, accepted = 0.0, 0, 0
    query = (select(Pair.tokens, effective_status() == PairStatus.accepted.value)
             .where(Pair.campaign_id == campaign.id).execution_options(yield_per=5000))
    for spent, is_accepted in session.execute(query):
        tokens += prices.tokens_cost(spent)
        pairs += 1
        accepted += bool(is_accepted)
    seconds = run_seconds(session, campaign.id)
    return CampaignCost(tokens, prices.server_cost(seconds), seconds, pairs, accepted)


def template_costs(session: Session, campaign_id: int | None = None,
                   template: str | None = None) -> dict[tuple[str, str], float]:
    """Per template and version (content hash): what the pairs it took part in cost, each priced at its campaign's
    prices, the campaign's server time shared among its pairs by their model seconds."""
    campaigns = session.scalars(select(Campaign) if campaign_id is None
                                else select(Campaign).where(Campaign.id == campaign_id)).all()
    costs: dict[tuple[str, str], float] = defaultdict(float)
    for campaign in campaigns:
        prices = Prices.of_campaign(campaign)
        if not prices.priced:
            continue
        mine = Pair.campaign_id == campaign.id
        model_seconds = session.scalar(select(func.sum(Pair.seconds)).where(mine)) or 0.0
        server = prices.server_cost(run_seconds(session, campaign.id))
        rows = select(Pair.templates, Pair.tokens, Pair.seconds).where(mine).execution_options(yield_per=5000)
        for templates, tokens, seconds in session.execute(rows):
            cost = prices.tokens_cost(tokens) + (server * (seconds or 0.0) / model_seconds if model_seconds else 0.0)
            for name, content_hash in (templates or {}).items():
                if template in (None, name):
                    costs[(name, content_hash)] += cost
    return dict(costs)
