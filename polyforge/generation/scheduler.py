"""Scheduling policy: which snippets become work items, in what order, under which caps, with which
generation mode and discussion peers. Resuming is the same policy: snippets with a pair are done.
A snippet that holds an instruction dataset's row becomes an item whose instruction is given."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Row, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from polyforge.agents import StageOutput
from polyforge.config import CampaignConfig
from polyforge.generation.item_state import GIVEN_MODE, WorkItem
from polyforge.ingest.instructions import INSTRUCTION_KIND
from polyforge.storage import Pair, Snippet
from polyforge.terms import PairOrigin


@dataclass(frozen=True)
class SchedulePolicy:
    """What the scheduler needs of the campaign config."""

    seed: int = 0
    per_language: int | None = None  # most items per language over the whole campaign (None: no cap)
    modes: dict[str, float] = field(default_factory=lambda: {"snippet": 1.0})
    discussion_share: float = 0.0
    peers_per_item: int = 0
    peer_languages: list[str] | None = None  # where peers come from (None: the languages with snippets)

    @classmethod
    def from_config(cls, config: CampaignConfig) -> SchedulePolicy:
        discussion = config.generation.discussion
        return cls(config.sampling.seed, config.budgets.max_snippets_per_language, dict(config.generation.modes),
                   discussion.share, discussion.peers, discussion.peer_languages)


def pick_mode(modes: dict[str, float], item_seed: int) -> str:
    """The item's generation mode, drawn by the configured shares; the same seed always draws the same."""
    names = sorted(modes)
    return random.Random(item_seed).choices(names, weights=[modes[name] for name in names])[0]


def pick_peers(language: str, pool: list[str], share: float, peers: int, item_seed: int,
               pairs_per_language: Counter | None = None) -> list[str]:
    """The languages that discuss the item's instruction (none: no discussion).

    Peers are the languages with the fewest pairs in `pairs_per_language`, a running tally that each
    pick adds to, so that transfers go where data is scarcest and spread out; the seed breaks ties,
    and the same seed with the same tally draws the same peers.
    """
    draw = random.Random(f"discussion:{item_seed}")
    others = [peer for peer in pool if peer != language]
    if not others or draw.random() >= share:
        return []
    tally = pairs_per_language if pairs_per_language is not None else Counter()
    chosen = sorted(others, key=lambda peer: (tally[peer], draw.random()))[:peers]
    tally.update(chosen)
    return chosen


def item_seed(seed: int, content_hash: str) -> int:
    """The campaign seed plus 28 bits of the snippet's content hash: the same code draws the same samples
    in any database and any campaign, so a config run again reproduces its instructions."""
    return seed + int(content_hash[:7], 16)


PAGE_ROWS = 256  # snippets read per query; the driver holds at most a page per language


@dataclass
class Schedule:
    """The campaign's pending work, planned from counts; its items are read from the database page by
    page as they are taken, so the driver's memory does not grow with the number of pending snippets.

    Snippets without a pair, interleaved across languages so a small budget still covers them all;
    with a discussion share, drawn items get peers from the policy's peer languages (default: the
    languages with snippets), the languages with the fewest pairs first.
    """

    campaign_id: int
    policy: SchedulePolicy
    quotas: dict[str, int]  # language -> items it gets, in the order languages take turns
    total: int  # items the schedule yields
    peer_pool: list[str]
    pairs_per_language: Counter  # pairs so far; peer picks add to a copy of it as items are taken

    @property
    def languages(self) -> set[str]:
        """The languages that agents are needed for: those with items, and any that may be a peer."""
        turns = [language for language, quota in self.quotas.items() if quota > 0][: self.total]
        may_discuss = self.total > 0 and self.policy.discussion_share > 0 and self.policy.peers_per_item > 0
        return set(turns) | (set(self.peer_pool) if may_discuss else set())

    def items(self, sessions: sessionmaker) -> Iterator[WorkItem]:
        """The work items in order, each read when it is taken (one short session per page)."""
        queues = [itertools.islice(_pending_snippets(sessions, self.campaign_id, language), quota)
                  for language, quota in self.quotas.items()]
        interleaved = (row for turn in itertools.zip_longest(*queues) for row in turn if row is not None)
        tally = Counter(self.pairs_per_language)  # a copy: taking the items again draws the same peers
        return (self._work_item(row, tally) for row in itertools.islice(interleaved, self.total))

    def _work_item(self, row: Row, tally: Counter) -> WorkItem:
        policy = self.policy
        drawn = item_seed(policy.seed, row.content_hash)
        if row.kind == INSTRUCTION_KIND:  # a dataset's task, answered as it stands: no mode to draw, no discussion
            return WorkItem(snippet_id=row.id, language=row.language, path=row.path, code="", seed=drawn,
                            mode=GIVEN_MODE, instruction=StageOutput(row.code, template="", template_hash=""))
        peers = pick_peers(row.language, self.peer_pool, policy.discussion_share, policy.peers_per_item, drawn,
                           tally) if policy.discussion_share else []
        return WorkItem(snippet_id=row.id, language=row.language, path=row.path, code=row.code,
                        seed=drawn, mode=pick_mode(policy.modes, drawn), peers=tuple(peers))


def plan_work(session: Session, campaign_id: int, limit: int, policy: SchedulePolicy) -> Schedule:
    """The schedule of at most `limit` items, from counts only: per-language caps count what earlier runs
    of the campaign already did, so a resume keeps them."""
    pending_per_language = dict(session.execute(
        select(Snippet.language, func.count()).where(Snippet.campaign_id == campaign_id, ~_has_pair(campaign_id))
        .group_by(Snippet.language)).all())
    done_per_language = dict(session.execute(
        select(Pair.language, func.count())
        .where(Pair.campaign_id == campaign_id, Pair.origin != PairOrigin.transfer).group_by(Pair.language)).all())
    cap = policy.per_language
    quotas = {language: min(pending, max(cap - done_per_language.get(language, 0), 0)) if cap else pending
              for language, pending in sorted(pending_per_language.items())}
    pool = policy.peer_languages if policy.peer_languages is not None else campaign_languages(session, campaign_id)
    pairs_per_language = Counter(dict(session.execute(
        select(Pair.language, func.count()).where(Pair.campaign_id == campaign_id).group_by(Pair.language)).all()))
    return Schedule(campaign_id, policy, quotas, min(limit, sum(quotas.values())), pool, pairs_per_language)


def _has_pair(campaign_id: int):
    return exists().where(Pair.campaign_id == campaign_id, Pair.snippet_id == Snippet.id)


def _pending_snippets(sessions: sessionmaker, campaign_id: int, language: str) -> Iterator[Row]:
    """A language's snippets without a pair in id order, by keyset pages (ids above the last one read)."""
    after = 0
    while True:
        with sessions() as session:
            page = session.execute(
                select(Snippet.id, Snippet.language, Snippet.path, Snippet.code, Snippet.content_hash, Snippet.kind)
                .where(Snippet.campaign_id == campaign_id, Snippet.language == language, Snippet.id > after,
                       ~_has_pair(campaign_id))
                .order_by(Snippet.id).limit(PAGE_ROWS)).all()
        yield from page
        if len(page) < PAGE_ROWS:
            return
        after = page[-1].id


def campaign_languages(session: Session, campaign_id: int) -> list[str]:
    """Every language the campaign has snippets of."""
    return sorted(session.scalars(select(Snippet.language).where(Snippet.campaign_id == campaign_id).distinct()))
