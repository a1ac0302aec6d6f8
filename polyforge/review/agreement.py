"""Agreement between annotators: Cohen's kappa for every pair of annotators (scikit-learn) and Krippendorff's alpha
over all of them (the `krippendorff` package, missing values allowed), on their accept / reject verdicts overall
and per language, and on the criterion scores they gave (ordinal, quadratic-weighted kappa) per criterion."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from sqlalchemy.orm import Session

from polyforge.storage.reviews import MAX_SCORE, MIN_SCORE
from polyforge.storage.verdicts import VERDICTS, annotator_criterion_scores, annotator_verdicts

OVERALL = "all languages"


@dataclass(frozen=True)
class Scale:
    """What annotators rate on: its values in order, Krippendorff's level of measurement, and kappa's weighting."""

    labels: tuple
    level: str
    weights: str | None


VERDICT_SCALE = Scale(VERDICTS, "nominal", None)
SCORE_SCALE = Scale(tuple(range(MIN_SCORE, MAX_SCORE + 1)), "ordinal", "quadratic")


@dataclass
class PairwiseKappa:
    first: str
    second: str
    shared: int  # pairs both rated
    agreed: int  # of those, pairs they rated the same
    kappa: float | None  # None: undefined (fewer than 2 shared pairs, or a single value among them)


@dataclass
class ScopeAgreement:
    scope: str  # OVERALL, a language, or "criterion NAME" (its scores)
    pairs: int  # pairs with at least one rating
    annotators: int
    alpha: float | None  # None: undefined (no pair with 2 ratings, or a single value overall)
    kappas: list[PairwiseKappa] = field(default_factory=list)


def kappa_of(first: list, second: list, scale: Scale = VERDICT_SCALE) -> float | None:
    """Cohen's kappa of two annotators' ratings of the same pairs; None where it is 0/0 (one value only)."""
    if len(first) < 2 or len(set(first) | set(second)) < 2:
        return None
    return float(cohen_kappa_score(first, second, labels=list(scale.labels), weights=scale.weights))


def alpha_of(ratings: dict[str, dict[int, object]], scale: Scale = VERDICT_SCALE) -> float | None:
    """Krippendorff's alpha of annotator -> {pair id: rating}, a missing rating as NaN; None where undefined."""
    pair_ids = sorted({pair_id for rated in ratings.values() for pair_id in rated})
    codes = {label: index for index, label in enumerate(scale.labels)}
    matrix = np.full((len(ratings), len(pair_ids)), np.nan)
    for row, rated in enumerate(ratings.values()):
        for column, pair_id in enumerate(pair_ids):
            if pair_id in rated:
                matrix[row, column] = codes[rated[pair_id]]
    observed = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]  # a pair one annotator rated says nothing here
    if len(np.unique(observed[~np.isnan(observed)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=observed, level_of_measurement=scale.level))


def scope_agreement(scope: str, rows: list[tuple[int, str, object]], scale: Scale = VERDICT_SCALE) -> ScopeAgreement:
    """Agreement among `rows` of (pair id, annotator, rating)."""
    ratings: dict[str, dict[int, object]] = defaultdict(dict)
    for pair_id, annotator, rating in rows:
        ratings[annotator][pair_id] = rating
    kappas = []
    for first, second in combinations(sorted(ratings), 2):
        shared = sorted(ratings[first].keys() & ratings[second].keys())
        if not shared:
            continue
        a = [ratings[first][pair_id] for pair_id in shared]
        b = [ratings[second][pair_id] for pair_id in shared]
        kappas.append(PairwiseKappa(first, second, len(shared), sum(x == y for x, y in zip(a, b)),
                                    kappa_of(a, b, scale)))
    pairs = len({row[0] for row in rows})
    return ScopeAgreement(scope, pairs, len(ratings), alpha_of(ratings, scale), kappas)


def agreement(session: Session, campaign_id: int | None = None) -> list[ScopeAgreement]:
    """Agreement on verdicts over all pairs, then per language (alphabetical), then on the scores of each
    criterion annotators scored."""
    verdicts = annotator_verdicts(session, campaign_id)
    per_language: dict[str, list] = defaultdict(list)
    for pair_id, language, annotator, verdict in verdicts:
        per_language[language].append((pair_id, annotator, verdict))
    per_criterion: dict[str, list] = defaultdict(list)
    for pair_id, criterion, annotator, score in annotator_criterion_scores(session, campaign_id):
        per_criterion[criterion].append((pair_id, annotator, score))
    return ([scope_agreement(OVERALL, [(pair_id, annotator, verdict) for pair_id, _, annotator, verdict in verdicts])]
            + [scope_agreement(language, per_language[language]) for language in sorted(per_language)]
            + [scope_agreement(f"criterion {criterion}", per_criterion[criterion], SCORE_SCALE)
               for criterion in sorted(per_criterion)])
