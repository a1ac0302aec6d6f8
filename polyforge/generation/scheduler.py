"""Scheduling policy: which snippets become work items, in what order, under which caps, with which
generation mode and discussion peers. Resuming is the same policy: snippets with a pair are done."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.config import CampaignConfig
from polyforge.generation.item_state import WorkItem
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


def item_seed(seed: int, snippet: Snippet) -> int:
    """The campaign seed plus 28 bits of the snippet's content hash: the same code draws the same samples
    in any database and any campaign, so a config run again reproduces its instructions."""
    return seed + int(snippet.content_hash[:7], 16)


def pending_work(session: Session, campaign_id: int, limit: int, policy: SchedulePolicy) -> list[WorkItem]:
    """Snippets without a pair, interleaved across languages so a small budget still covers them all.

    With a discussion share, drawn items get peers from the policy's peer languages (default: the
    languages with snippets), the languages with the fewest pairs first.
    """
    done = select(Pair.snippet_id).where(Pair.campaign_id == campaign_id)
    rows = session.scalars(
        select(Snippet).where(Snippet.campaign_id == campaign_id, Snippet.id.not_in(done)).order_by(Snippet.id)
    )
    by_language: dict[str, list[Snippet]] = defaultdict(list)
    for snippet in rows:
        by_language[snippet.language].append(snippet)
    # The per-language cap counts what earlier runs of the campaign already did, so a resume keeps it.
    done_per_language = dict(session.execute(
        select(Pair.language, func.count())
        .where(Pair.campaign_id == campaign_id, Pair.origin != PairOrigin.transfer).group_by(Pair.language)
    ).all())
    cap = policy.per_language
    queues = [snippets[: max(cap - done_per_language.get(language, 0), 0)] if cap else snippets
              for language, snippets in sorted(by_language.items())]
    interleaved = (s for group in itertools.zip_longest(*queues) for s in group if s is not None)
    pool = policy.peer_languages if policy.peer_languages is not None else campaign_languages(session, campaign_id)
    pairs_per_language = Counter(dict(session.execute(
        select(Pair.language, func.count()).where(Pair.campaign_id == campaign_id).group_by(Pair.language)).all()))

    def work_item(snippet: Snippet) -> WorkItem:
        drawn = item_seed(policy.seed, snippet)
        peers = pick_peers(snippet.language, pool, policy.discussion_share, policy.peers_per_item, drawn,
                           pairs_per_language) if policy.discussion_share else []
        return WorkItem(snippet_id=snippet.id, language=snippet.language, path=snippet.path, code=snippet.code,
                        seed=drawn, mode=pick_mode(policy.modes, drawn), peers=tuple(peers))

    return [work_item(snippet) for snippet in itertools.islice(interleaved, limit)]


def campaign_languages(session: Session, campaign_id: int) -> list[str]:
    """Every language the campaign has snippets of."""
    return sorted(session.scalars(select(Snippet.language).where(Snippet.campaign_id == campaign_id).distinct()))
