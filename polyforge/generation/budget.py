"""A campaign's budget: pairs and tokens. Work items reserve pairs before they start and settle after."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Reservation:
    pairs: int  # the item's own pair plus one per transfer it may make
    peers: int  # how many discussion peers the item may keep within the budget


class Budget:
    """Pairs left to make and tokens left to spend.

    An item reserves its pair, and one per discussion transfer, before it starts, so items in flight
    never overshoot `max_pairs`; once stored it settles, returning what it reserved but did not make.
    The token cap is checked before each item starts (an item in flight finishes).
    """

    def __init__(self, max_pairs: int, pairs_done: int = 0, max_tokens: int | None = None):
        self.max_pairs, self.max_tokens = max_pairs, max_tokens
        self.pairs_left = max(max_pairs - pairs_done, 0)
        self.tokens_spent = 0

    @property
    def exhausted(self) -> str | None:
        """Why no further item may start, or None while one may."""
        if self.max_tokens is not None and self.tokens_spent >= self.max_tokens:
            return f"token budget ({self.max_tokens}) reached"
        if self.pairs_left <= 0:
            return f"pair budget ({self.max_pairs}) reached"
        return None

    def reserve(self, peers: int, transfers: bool) -> Reservation | None:
        """Reserve an item's pairs: its own, plus one per peer when peers transfer (as many as fit)."""
        if self.exhausted:
            return None
        kept = min(peers, self.pairs_left - 1) if transfers else peers
        reservation = Reservation(1 + (kept if transfers else 0), kept)
        self.pairs_left -= reservation.pairs
        return reservation

    def settle(self, reservation: Reservation, pairs_made: int, tokens: int) -> None:
        self.pairs_left += reservation.pairs - pairs_made
        self.tokens_spent += tokens
