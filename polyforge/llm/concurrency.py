"""Adaptive concurrency for LLM servers: back off when the server pushes back, grow when it copes."""

from __future__ import annotations

import asyncio


class AdaptiveLimiter:
    """An AIMD window on requests in flight (as TCP does for packets).

    `pressure()` (a 429 or 503) halves the window; `relief()` (a success) grows it by about one
    request per window's worth of successes, up to `maximum`.
    """

    def __init__(self, maximum: int, minimum: int = 1):
        if maximum < minimum:
            raise ValueError(f"maximum ({maximum}) must be at least minimum ({minimum})")
        self.maximum = maximum
        self.minimum = minimum
        self.limit = float(maximum)
        self.lowest = float(maximum)
        self.in_flight = 0
        self.pressure_events = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1

    async def __aexit__(self, *exc_info) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def pressure(self) -> None:
        self.pressure_events += 1
        self.limit = max(float(self.minimum), self.limit / 2)
        self.lowest = min(self.lowest, self.limit)

    def relief(self) -> None:
        self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
