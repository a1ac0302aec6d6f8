"""What the judging and review commands print: calibration against annotators, agreement between them,
the judge benchmark, pass@1, and the review app's users and assignments."""

from __future__ import annotations

import math

from rich.table import Table

from polyforge.checklists.calibration import CalibrationReport
from polyforge.cli.common import console


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def print_calibration(report: CalibrationReport) -> None:
    agreement = Table(title="judge vs annotators")
    agreement.add_column("measure")
    agreement.add_column("value", justify="right")
    for measure, value in (
        ("labelled pairs with a judge score", str(report.labelled)),
        ("decided by the judge (accepted or rejected)", str(report.decided)),
        ("flagged by the judge (annotators accepted)", f"{report.flagged} ({report.flagged_accepted})"),
        ("accuracy of the judge's routing", _figure(report.accuracy)),
        ("Cohen's kappa", _figure(report.kappa)),
        ("Spearman rho, final score vs verdict", _figure(report.spearman)),
        ("  p-value", _figure(report.spearman_p, 4)),
    ):
        agreement.add_row(measure, value)
    console.print(agreement)
    weights = Table(title="checklist weights: current and fitted (logistic regression)")
    for column in ("criterion", "current", "coefficient", "suggested"):
        weights.add_column(column, justify="left" if column == "criterion" else "right")
    for row in report.weights:
        weights.add_row(row.criterion, f"{row.current:g}", _figure(row.coefficient), _figure(row.suggested, 2))
    console.print(weights)
    if report.fit_accuracy is not None:
        console.print(f"the fitted model reproduces {report.fit_accuracy:.0%} of the verdicts (in-sample); "
                      "suggested weights rescale the positive coefficients to the current total weight; "
                      "0 means the verdicts give the criterion no support (a checklist weight must stay above 0)")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")


def pass_at_1_table(benchmark: str, tasks: int, reports: list) -> Table:
    """pass@1 per language (rows) and model (columns), with its 95% bootstrap interval and the passed/total counts."""
    table = Table(title=f"pass@1 on {benchmark} ({tasks} tasks, greedy; 95% bootstrap interval)")
    table.add_column("language")
    for report in reports:
        table.add_column(report.model, justify="right")
    for name in [*reports[0].languages, None]:
        cells = []
        for report in reports:
            low, high = report.interval(name)
            passed, total = report.counts(name)
            cells.append(f"{report.pass_at_1(name):.1%} [{low:.0%}, {high:.0%}] ({passed}/{total})")
        table.add_row(name or "all", *cells, end_section=name is None)
    return table


def print_users(users: list) -> None:
    """The review app's users: (User, API token count) pairs."""
    if not users:
        console.print("no users yet: `polyforge review users add NAME --role admin` adds one")
        return
    table = Table(title="review app users")
    for column in ("name", "role", "API tokens", "added"):
        table.add_column(column, justify="right" if column == "API tokens" else "left")
    for user, tokens in users:
        table.add_row(user.name, user.role, str(tokens), f"{user.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


def print_assignment(report, overlap: int) -> None:
    """What `review assign` did: an AssignmentReport."""
    if not report.pairs:
        console.print(f"nothing to assign: every undecided pair selected already has {overlap} annotator(s)")
        return
    table = Table(title=f"assigned {report.pairs} pair(s), {overlap} annotator(s) each")
    table.add_column("annotator")
    table.add_column("new pairs", justify="right")
    for name, count in sorted(report.per_annotator.items()):
        table.add_row(name, str(count))
    console.print(table)


def print_agreement(scopes: list) -> None:
    """Agreement between annotators: ScopeAgreement rows, overall then per language."""
    if not scopes or not scopes[0].pairs:
        console.print("no verdicts from annotators yet: nothing to measure agreement on")
        return
    alphas = Table(title="Krippendorff's alpha (nominal: accept / reject)")
    for column in ("scope", "pairs", "annotators", "alpha"):
        alphas.add_column(column, justify="left" if column == "scope" else "right")
    kappas = Table(title="Cohen's kappa per pair of annotators")
    for column in ("scope", "annotators", "shared pairs", "agreed", "kappa"):
        kappas.add_column(column, justify="left" if column in ("scope", "annotators") else "right")
    for scope in scopes:
        alphas.add_row(scope.scope, str(scope.pairs), str(scope.annotators), _figure(scope.alpha))
        for kappa in scope.kappas:
            kappas.add_row(scope.scope, f"{kappa.first} & {kappa.second}", str(kappa.shared), str(kappa.agreed),
                           _figure(kappa.kappa))
    console.print(alphas)
    console.print(kappas)
    console.print("-: undefined (no pair with two verdicts, or one verdict given throughout)", style="dim")


def print_judge_bench(reports: list, checklist, model: str, pairs: int, tasks_per_language: dict[str, int],
                      rationales: bool) -> None:
    """The judge benchmark's figures, one column per mode (blind, with the sandbox's verdict)."""
    languages = ", ".join(f"{name} {count}" for name, count in sorted(tasks_per_language.items()))
    reply = "rationales and scores" if rationales else "scores only"
    console.print(f"judge {model} ({reply}), checklist {checklist.name} ({checklist.content_hash}): {pairs} pairs from "
                  f"{sum(tasks_per_language.values())} McEval tasks ({languages}), half correct, half broken")
    summary = Table(title="correct vs broken pairs, by the final score")
    summary.add_column("measure")
    for report in reports:
        summary.add_column(report.mode, justify="right")
    rows = [
        ("ROC AUC", lambda r: _figure(r.auc)),
        (f"accuracy at accept >= {checklist.thresholds.accept:g}", lambda r: _figure(r.accuracy)),
        ("mean final score, correct", lambda r: _figure(r.mean_correct, 2)),
        ("mean final score, broken", lambda r: _figure(r.mean_broken, 2)),
        ("correct: accepted / flagged / rejected", lambda r: "/".join(map(str, r.routes["correct"].values()))),
        ("broken: accepted / flagged / rejected", lambda r: "/".join(map(str, r.routes["broken"].values()))),
        ("unscored (malformed judge output)", lambda r: str(r.unscored)),
        ("ROC AUC, calibrated weights (in-sample)", lambda r: _figure(r.calibrated_auc)),
        ("accuracy, calibrated weights (in-sample)", lambda r: _figure(r.calibrated_accuracy)),
        ("ROC AUC, calibrated weights (held-out tasks)", lambda r: _figure(r.held_out_auc)),
    ]
    for measure, cell in rows:
        summary.add_row(measure, *(cell(report) for report in reports))
    console.print(summary)
    criteria = Table(title="ROC AUC per criterion, and the weights calibration fits")
    criteria.add_column("criterion")
    criteria.add_column("weight", justify="right")
    for report in reports:
        criteria.add_column(f"AUC {report.mode}", justify="right")
        criteria.add_column(f"fitted {report.mode}", justify="right")
    for criterion in checklist.criteria:
        cells = []
        for report in reports:
            fitted = report.calibrated_weights.get(criterion.id)
            cells += [_figure(report.criterion_auc[criterion.id]), "-" if fitted is None else f"{fitted:.2f}"]
        criteria.add_row(criterion.id + (f" ({criterion.override})" if criterion.override else ""),
                         f"{criterion.weight:g}", *cells)
    console.print(criteria)
    console.print("AUC 0.5 is chance, 1.0 perfect separation; a constant criterion scores 0.5. With the sandbox's "
                  "verdict, the checklist's sandbox rule sets code_correctness. Held-out: weights fitted on the "
                  "other folds' tasks (grouped 5-fold).")
