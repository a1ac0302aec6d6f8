"""Pages that take long to draw, drawn once per `max_age_s` whoever asks for them: a campaign's dashboard draws
its charts with matplotlib (about a second each on two cores), so twenty annotators reloading it at once must not
draw it twenty times. Requests that arrive while a page is being drawn wait for that drawing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class DrawnPages:
    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_age_s, self.clock = max_age_s, clock
        self._pages: dict[Hashable, tuple[float, str]] = {}
        self._drawing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, draw: Callable[[], str]) -> str:
        """The page under `key`, drawn by `draw` when there is none younger than `max_age_s`."""
        with self._lock:
            drawing = self._drawing.setdefault(key, threading.Lock())
        with drawing:
            drawn = self._pages.get(key)
            if drawn is None or self.clock() - drawn[0] >= self.max_age_s:
                drawn = (self.clock(), draw())
                self._pages[key] = drawn
            return drawn[1]
