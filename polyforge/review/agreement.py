"""Agreement between annotators on accept / reject: Cohen's kappa for every pair of annotators (scikit-learn) and
Krippendorff's alpha over all of them (the `krippendorff` package, nominal level, missing verdicts allowed),
overall and per language."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from sqlalchemy.orm import Session

from polyforge.storage.verdicts import VERDICTS, annotator_verdicts

OVERALL = "all languages"


@dataclass
class PairwiseKappa:
    first: str
    second: str
    shared: int  # pairs both reviewed
    agreed: int  # of those, pairs they gave the same verdict
    kappa: float | None  # None: undefined (fewer than 2 shared pairs, or a single verdict among them)


@dataclass
class ScopeAgreement:
    scope: str  # OVERALL or a language
    pairs: int  # pairs with at least one verdict
    annotators: int
    alpha: float | None  # None: undefined (no pair with 2 verdicts, or a single verdict overall)
    kappas: list[PairwiseKappa] = field(default_factory=list)


def kappa_of(first: list[str], second: list[str]) -> float | None:
    """Cohen's kappa of two annotators' verdicts on the same pairs; None where it is 0/0 (one verdict only)."""
    if len(first) < 2 or len(set(first) | set(second)) < 2:
        return None
    return float(cohen_kappa_score(first, second, labels=list(VERDICTS)))


def alpha_of(by_annotator: dict[str, dict[int, str]], pair_ids: list[int]) -> float | None:
    """Krippendorff's alpha (nominal) of annotators x pairs, a missing verdict as NaN; None where undefined."""
    codes = {verdict: index for index, verdict in enumerate(VERDICTS)}
    matrix = np.full((len(by_annotator), len(pair_ids)), np.nan)
    for row, verdicts in enumerate(by_annotator.values()):
        for column, pair_id in enumerate(pair_ids):
            if pair_id in verdicts:
                matrix[row, column] = codes[verdicts[pair_id]]
    observed = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]  # a pair one annotator saw says nothing here
    if len(np.unique(observed[~np.isnan(observed)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=observed, level_of_measurement="nominal"))


def scope_agreement(scope: str, rows: list[tuple[int, str, str, str]]) -> ScopeAgreement:
    """Agreement among `rows` of (pair id, language, annotator, verdict)."""
    by_annotator: dict[str, dict[int, str]] = defaultdict(dict)
    for pair_id, _, annotator, verdict in rows:
        by_annotator[annotator][pair_id] = verdict
    pair_ids = sorted({row[0] for row in rows})
    kappas = []
    for first, second in combinations(sorted(by_annotator), 2):
        shared = sorted(by_annotator[first].keys() & by_annotator[second].keys())
        if not shared:
            continue
        a = [by_annotator[first][pair_id] for pair_id in shared]
        b = [by_annotator[second][pair_id] for pair_id in shared]
        kappas.append(PairwiseKappa(first, second, len(shared), sum(x == y for x, y in zip(a, b)), kappa_of(a, b)))
    return ScopeAgreement(scope, len(pair_ids), len(by_annotator), alpha_of(by_annotator, pair_ids), kappas)


def agreement(session: Session, campaign_id: int | None = None) -> list[ScopeAgreement]:
    """Agreement over all pairs, then per language (alphabetical)."""
    rows = annotator_verdicts(session, campaign_id)
    per_language: dict[str, list] = defaultdict(list)
    for row in rows:
        per_language[row[1]].append(row)
    return [scope_agreement(OVERALL, rows)] + [scope_agreement(language, per_language[language])
                                               for language in sorted(per_language)]
