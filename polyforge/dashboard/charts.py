"""Charts drawn with matplotlib on the server and returned as `data:` URIs of SVG images, so that a page embeds
them without scripts and a saved page keeps them."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

SCORE_BINS = [value / 2 for value in range(0, 21)]  # final scores 0-10 in half points
WIDTH, HEIGHT = 6.4, 3.2


def _figure(height: float = HEIGHT):
    from matplotlib.figure import Figure  # imported here: matplotlib takes a while, and only pages need it

    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    return figure, figure.add_subplot()


def _data_uri(figure) -> str:
    from matplotlib import rc_context

    buffer = io.BytesIO()
    # text stays text (smaller, selectable); a fixed salt makes the same chart the same bytes
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "polyforge"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def horizontal_bars(values: Mapping[str, float], label: str) -> str:
    """One bar per key, largest at the top."""
    figure, axes = _figure(max(1.6, 0.35 * len(values) + 0.9))
    names = list(values)[::-1]
    bars = axes.barh(names, [values[name] for name in names], color="#4c78a8")
    axes.bar_label(bars, fmt="%g", padding=2, fontsize=8)
    axes.set_xlabel(label)
    axes.spines[["top", "right"]].set_visible(False)
    return _data_uri(figure)


def score_histograms(scores: Mapping[str, Sequence[float]]) -> str:
    """Final-score histograms, one outline per language."""
    figure, axes = _figure()
    for language, values in scores.items():
        axes.hist(values, bins=SCORE_BINS, histtype="step", linewidth=1.6, label=f"{language} ({len(values)})")
    axes.set_xlabel("final score")
    axes.set_ylabel("pairs")
    axes.set_xlim(0, 10)
    if scores:
        axes.legend(fontsize=8, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _data_uri(figure)


def criterion_ranges(rows: Sequence[tuple[str, float, float]]) -> str:
    """Per criterion: the mean score with one standard deviation either side."""
    figure, axes = _figure(max(1.6, 0.35 * len(rows) + 0.9))
    names = [row[0] for row in rows][::-1]
    means = [row[1] for row in rows][::-1]
    spreads = [row[2] for row in rows][::-1]
    axes.errorbar(means, names, xerr=spreads, fmt="o", color="#4c78a8", capsize=3)
    axes.set_xlim(0, 10)
    axes.set_xlabel("judge score (mean ± standard deviation)")
    axes.spines[["top", "right"]].set_visible(False)
    return _data_uri(figure)


def heatmap(rows: Sequence[str], columns: Sequence[str], counts: Mapping[tuple[str, str], int]) -> str:
    """Counts of (row, column) cells, shaded and written in each cell."""
    figure, axes = _figure(max(1.8, 0.32 * len(rows) + 1.2))
    grid = [[counts.get((row, column), 0) for column in columns] for row in rows]
    axes.imshow(grid, cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    top = max((max(line) for line in grid), default=0)
    for y, line in enumerate(grid):
        for x, value in enumerate(line):
            axes.text(x, y, str(value), ha="center", va="center", fontsize=7,
                      color="white" if top and value > top / 2 else "black")
    return _data_uri(figure)
