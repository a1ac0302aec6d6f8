"""Calibrating the judge against annotators: agreement figures and weights fitted from verdicts.

Annotator verdicts (accept or reject per pair) come from a CSV file or, as a mapping of pair id to
verdict, from any other source. Agreement is measured where the judge decided (accepted or
rejected); flagged pairs are counted apart, since the judge deferred on them. Suggested weights
come from a logistic regression of the verdict on the per-criterion scores.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from polyforge.terms import PairStatus

ACCEPT_WORDS = frozenset({"accept", PairStatus.accepted, "yes", "true", "1", "good"})
REJECT_WORDS = frozenset({"reject", PairStatus.rejected, "no", "false", "0", "bad"})


class CalibrationError(ValueError):
    """Verdicts or data that calibration cannot use; the message says what and where."""


class JudgedRow(Protocol):
    """What calibration needs of one judged pair (storage's JudgedPair has it)."""

    pair_id: int
    status: str
    final_score: float | None
    scores: dict[str, float]
    weights: dict[str, float]


@dataclass
class WeightSuggestion:
    criterion: str
    current: float
    coefficient: float  # logistic regression coefficient (change in log-odds of accept per score point)
    suggested: float | None  # the positive coefficients rescaled to the current total weight


@dataclass
class CalibrationReport:
    labelled: int  # pairs with a verdict that are stored and scored
    decided: int  # of those, accepted or rejected by the judge
    flagged: int
    flagged_accepted: int  # flagged pairs the annotators accepted
    accuracy: float | None
    kappa: float | None
    spearman: float | None
    spearman_p: float | None
    weights: list[WeightSuggestion] = field(default_factory=list)
    fit_accuracy: float | None = None  # the regression's own accuracy on the verdicts (in-sample)
    notes: list[str] = field(default_factory=list)


def read_verdicts(path: Path) -> dict[int, bool]:
    """A CSV with columns `pair_id` and `verdict` (accept/reject, also yes/no, 1/0): pair id -> accepted."""
    if not path.is_file():
        raise CalibrationError(f"{path}: verdicts file not found")
    verdicts: dict[int, bool] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"pair_id", "verdict"} - set(reader.fieldnames or [])
        if missing:
            raise CalibrationError(
                f"{path}: missing column(s) {sorted(missing)}; expected a header line 'pair_id,verdict' "
                f"(found {reader.fieldnames})"
            )
        for row in reader:
            where = f"{path}:{reader.line_num}"
            raw_id, raw_verdict = (row["pair_id"] or "").strip(), (row["verdict"] or "").strip().lower()
            if not raw_id and not raw_verdict:
                continue
            try:
                pair_id = int(raw_id)
            except ValueError:
                raise CalibrationError(f"{where}: pair_id must be an integer, found {raw_id!r}") from None
            if raw_verdict not in ACCEPT_WORDS | REJECT_WORDS:
                raise CalibrationError(
                    f"{where}: verdict must be accept or reject (or yes/no, 1/0), found {row['verdict']!r}"
                )
            accepted = raw_verdict in ACCEPT_WORDS
            if verdicts.get(pair_id, accepted) != accepted:
                raise CalibrationError(f"{where}: pair {pair_id} has conflicting verdicts")
            verdicts[pair_id] = accepted
    if not verdicts:
        raise CalibrationError(f"{path}: no verdicts found")
    return verdicts


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def calibrate(rows: Sequence[JudgedRow], verdicts: Mapping[int, bool]) -> CalibrationReport:
    """Agreement between the judge and the annotators on `rows`, and weights fitted to the verdicts."""
    from scipy.stats import spearmanr
    from sklearn.metrics import accuracy_score, cohen_kappa_score

    scored = [row for row in rows if row.final_score is not None and row.pair_id in verdicts]
    if not scored:
        raise CalibrationError("none of the pairs with a verdict is stored with a judge score")
    truth = [verdicts[row.pair_id] for row in scored]
    decided = [(row.status == PairStatus.accepted, verdicts[row.pair_id]) for row in scored
               if row.status in (PairStatus.accepted, PairStatus.rejected)]
    flagged = [verdicts[row.pair_id] for row in scored if row.status == PairStatus.flagged]
    notes = []
    with warnings.catch_warnings():  # constant inputs give NaN (reported as '-'), not an error
        warnings.simplefilter("ignore")
        if decided:
            judge_routes, annotator = zip(*decided)
            accuracy = float(accuracy_score(annotator, judge_routes))
            kappa = _finite(cohen_kappa_score(annotator, judge_routes)) if len(set(judge_routes) | set(annotator)) > 1 else None
        else:
            accuracy = kappa = None
            notes.append("the judge decided none of the labelled pairs (all flagged): no accuracy or kappa")
        rho, p_value = spearmanr([row.final_score for row in scored], truth) if len(scored) > 1 else (math.nan, math.nan)
    weights, fit_accuracy = suggest_weights(scored, truth, notes)
    return CalibrationReport(
        labelled=len(scored), decided=len(decided), flagged=len(flagged), flagged_accepted=sum(flagged),
        accuracy=accuracy, kappa=kappa, spearman=_finite(rho), spearman_p=_finite(p_value),
        weights=weights, fit_accuracy=fit_accuracy, notes=notes,
    )


def suggest_weights(
    rows: Sequence[JudgedRow], accepted: Sequence[bool], notes: list[str]
) -> tuple[list[WeightSuggestion], float | None]:
    """Logistic regression of the verdict on the criterion scores; positive coefficients become weights."""
    from sklearn.linear_model import LogisticRegression

    criteria = list(dict.fromkeys(c for row in rows for c in row.scores))
    current = {c: next(row.weights[c] for row in rows if c in row.weights) for c in criteria}
    if len({tuple(sorted(row.weights.items())) for row in rows}) > 1:
        notes.append("the labelled pairs were scored with different weights; 'current' shows the first seen")
    complete = [(row, label) for row, label in zip(rows, accepted) if all(c in row.scores for c in criteria)]
    labels = [label for _, label in complete]
    if len(set(labels)) < 2:
        notes.append("the verdicts are all the same: weights cannot be fitted (label some accepts and some rejects)")
        return [WeightSuggestion(c, current[c], math.nan, None) for c in criteria], None
    features = [[row.scores[c] for c in criteria] for row, _ in complete]
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    coefficients = [float(value) for value in model.coef_[0]]
    positive = sum(max(value, 0.0) for value in coefficients)
    total = sum(current.values())
    if positive == 0:
        notes.append("no criterion score goes with acceptance in these verdicts: no weights suggested")
    suggestions = [
        WeightSuggestion(c, current[c], value, max(value, 0.0) * total / positive if positive else None)
        for c, value in zip(criteria, coefficients)
    ]
    return suggestions, float(model.score(features, labels))
