"""The coverage matrix (language x topic x difficulty) and the steering toward its empty cells."""

from __future__ import annotations

from collections import Counter

from polyforge.prompts import Taxonomy

Cell = tuple[str, str, str]  # language, topic, difficulty


class Coverage:
    """Counts of labelled pairs per cell, plus targets handed out and not yet labelled.

    `reserve` gives a language's least covered (topic, difficulty), counting pending targets so
    that items started together spread over different cells.
    """

    def __init__(self, taxonomy: Taxonomy, counts: Counter | None = None):
        self.taxonomy = taxonomy
        self.counts: Counter = Counter(counts or {})
        self._pending: Counter = Counter()

    def reserve(self, language: str) -> tuple[str, str]:
        cells = [(topic, difficulty) for difficulty in self.taxonomy.difficulties for topic in self.taxonomy.topics]
        target = min(cells, key=lambda cell: self.counts[(language, *cell)] + self._pending[(language, *cell)])
        self._pending[(language, *target)] += 1
        return target

    def record(self, language: str, target: tuple[str, str] | None, topic: str | None, difficulty: str | None) -> None:
        """An item finished (steered to `target`, if it was); count the cell its instruction was labelled with."""
        if target is not None:
            self._pending[(language, *target)] -= 1
        if topic is not None and difficulty is not None:
            self.counts[(language, topic, difficulty)] += 1

    def filled(self, language: str) -> int:
        return sum(1 for (lang, _, _), count in self.counts.items() if lang == language and count > 0)
