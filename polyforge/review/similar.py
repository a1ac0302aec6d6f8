"""Similar pairs: a pair's nearest neighbours among the pairs of its language, by the memory bank's embeddings of
their instructions, so that an annotator can judge a family of near-identical pairs together (and give them one
bulk verdict).

The review app keeps one memory bank per language over the stored pairs, its entries keyed by pair id; it is
built from the database on first use and rebuilt when that language's pairs change, as the campaigns' banks are."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.memory import Embedder, MemoryBank, MemoryEntry, shared_embedder
from polyforge.storage import Assignment, Pair

SIMILAR_PAIRS = 10  # neighbours shown
FETCHED = 100  # neighbours looked at, so that enough of the viewer's own remain after filtering


@dataclass
class SimilarPair:
    pair_id: int
    similarity: float  # cosine similarity of the instructions, 1.0 the same
    instruction: str
    status: str


class SimilarPairs:
    """The per-language banks of one app, shared by its requests."""

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder or shared_embedder()
        self._banks: dict[str, tuple[tuple, MemoryBank]] = {}
        self._lock = threading.Lock()  # one build at a time: a build embeds every pair of a language

    def _bank(self, session: Session, language: str) -> MemoryBank:
        fingerprint = tuple(session.execute(select(func.count(Pair.id), func.max(Pair.id))
                                            .where(Pair.language == language)).one())
        with self._lock:
            built = self._banks.get(language)
            if built is None or built[0] != fingerprint:
                bank = MemoryBank(self.embedder, use_gpu=False)
                rows = session.execute(select(Pair.id, Pair.status, Pair.instruction)
                                       .where(Pair.language == language).order_by(Pair.id))
                bank.add([MemoryEntry(pair_id, status, instruction) for pair_id, status, instruction in rows])
                built = (fingerprint, bank)
                self._banks[language] = built
            return built[1]

    def of(self, session: Session, pair: Pair, assignee: int | None, k: int = SIMILAR_PAIRS) -> list[SimilarPair]:
        """The `k` pairs most similar to `pair` on the same judge's route (so that one bulk verdict can cover them),
        most similar first; for an annotator (`assignee`), only pairs assigned to her."""
        neighbours = [found for found in self._bank(session, pair.language).nearest(pair.instruction, FETCHED)
                      if found.entry.id != pair.id and found.entry.kind == pair.status]
        if assignee is not None:
            ids = [found.entry.id for found in neighbours]
            allowed = set(session.scalars(select(Assignment.pair_id).where(Assignment.pair_id.in_(ids),
                                                                           Assignment.user_id == assignee)))
            neighbours = [found for found in neighbours if found.entry.id in allowed]
        return [SimilarPair(found.entry.id, round(found.similarity, 3), found.entry.instruction, found.entry.kind)
                for found in neighbours[:k]]
