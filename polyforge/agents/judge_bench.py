"""The judge measured against known answers.

Pairs come from McEval: a task's instruction with its reference solution (correct) and with the same
solution broken by the sandbox selftest's mutations (broken). Both are run with McEval's tests first, and
a task joins only when the reference passes and the mutant does not, so every label is certain. The judge
scores each pair twice: blind (told nothing about execution, so its own reading is measured) and with the
sandbox's verdict (what a campaign does). Reported per mode: ROC AUC of the final score (correct vs
broken), accuracy at the accept threshold, AUC per criterion, and the effect of the weights that
calibration fits on the same data, in-sample and on held-out tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from polyforge.agents.judge import Verdict, execution_note
from polyforge.checklists import Checklist
from polyforge.checklists.calibration import CalibrationReport, calibrate, suggest_weights
from polyforge.languages import language_by_name
from polyforge.llm import LLMError
from polyforge.sandbox import Execution, Sandbox
from polyforge.sandbox.mceval import Task, TaskResult, mutate, run_tasks
from polyforge.terms import PairStatus

BLIND = "blind"  # the judge is not told the sandbox's verdict
WITH_SANDBOX = "with sandbox"  # it is told, and the verdict overrides the correctness criterion
MODES = (BLIND, WITH_SANDBOX)
HELD_OUT_FOLDS = 5


class JudgeBenchError(ValueError):
    """Data the benchmark cannot use (no usable pairs, one class only); the message says why."""


class Judge(Protocol):
    """What the benchmark needs of a judge (JudgeAgent has it)."""

    checklist: Checklist

    async def judge(self, language: str, instruction: str, answer: str, seed: int | None = None,
                    execution_status: str | None = None, execution_note: str | None = None) -> Verdict: ...


@dataclass(frozen=True)
class BenchPair:
    pair_id: int
    task_id: str
    language: str
    instruction: str
    answer: str
    correct: bool
    execution: Execution  # the solution's run under McEval's tests


@dataclass
class JudgedPair:
    """One bench pair's verdict in one mode, in the shape calibration reads (checklists.calibration.JudgedRow)."""

    pair: BenchPair
    mode: str
    verdict: Verdict
    weights: dict[str, float]
    pair_id: int = 0

    def __post_init__(self) -> None:
        self.pair_id = self.pair.pair_id

    @property
    def status(self) -> str:
        return self.verdict.route

    @property
    def final_score(self) -> float | None:
        return self.verdict.final_score

    @property
    def scores(self) -> dict[str, float]:
        return self.verdict.scores


@dataclass
class ModeReport:
    mode: str
    pairs: int
    unscored: int  # malformed judge output: ranked lowest, never accepted
    auc: float | None
    accuracy: float  # correct iff the final score reaches the accept threshold
    mean_correct: float | None
    mean_broken: float | None
    criterion_auc: dict[str, float | None]
    routes: dict[str, dict[str, int]]  # 'correct' / 'broken' -> how many the judge accepted, flagged, rejected
    calibration: CalibrationReport | None = None
    calibrated_weights: dict[str, float] = field(default_factory=dict)
    calibrated_auc: float | None = None  # the fitted weights on the data they were fitted on
    calibrated_accuracy: float | None = None
    held_out_auc: float | None = None  # weights fitted on the other folds' tasks, scored on this fold's


def fenced(language: str, code: str) -> str:
    """The code as a Markdown block tagged with the language's grammar name, as an answer shows it."""
    known = language_by_name(language)
    tag = known.grammar if known and known.grammar else language.lower()
    return f"```{tag}\n{code.rstrip()}\n```"


def build_pairs(sandbox: Sandbox, tasks: Sequence[Task], per_language: int | None = None, workers: int = 2,
                on_run: Callable[[TaskResult], None] | None = None) -> tuple[list[BenchPair], dict[str, int]]:
    """Two pairs per usable task (reference and mutant, both run with McEval's tests), at most
    `per_language` tasks per language in file order; also the count of tasks left out, by reason. The tasks
    take turns by language (every language's first, then every language's second, ...), so that a run
    stopped early has covered as many languages as it could, each with a correct and a broken pair."""
    by_id = {task.task_id: task for task in tasks}
    left_out: dict[str, int] = {}

    def leave_out(reason: str) -> None:
        left_out[reason] = left_out.get(reason, 0) + 1

    runnable = []
    for task in tasks:
        if not task.instruction.strip():
            leave_out("no instruction")
        elif mutate(task) is None:
            leave_out("no mutation applies")
        else:
            runnable.append(task)
    reports = run_tasks(sandbox, runnable, broken=True, workers=workers, on_done=on_run)
    usable: dict[str, list[TaskResult]] = {}
    for language in sorted(reports):
        taken = usable.setdefault(language, [])
        for result in sorted(reports[language].results, key=lambda r: runnable.index(by_id[r.task_id])):
            if per_language is not None and len(taken) >= per_language:
                leave_out("beyond the tasks per language")
            elif not result.reference_passed:
                leave_out("reference solution does not pass")
            elif not result.broken_failed:
                leave_out("broken solution still passes")
            else:
                taken.append(result)
    pairs: list[BenchPair] = []
    for turn in range(max(map(len, usable.values()), default=0)):
        for result in (results[turn] for results in usable.values() if turn < len(results)):
            task = by_id[result.task_id]
            for correct, program, execution in ((True, task.program, result.reference),
                                                (False, mutate(task), result.broken)):
                pairs.append(BenchPair(len(pairs), task.task_id, task.language, task.instruction,
                                       fenced(task.language, program), correct, execution))
    return pairs, left_out


async def judge_pairs(judge: Judge, pairs: Sequence[BenchPair], modes: Sequence[str] = MODES, seed: int = 7,
                      on_done: Callable[[JudgedPair], None] | None = None,
                      deadline: float | None = None) -> list[JudgedPair]:
    """Every pair judged in every mode, one call after another (a local model serves one at a time). With a
    `deadline` (time.monotonic()), no task is started after it: the task in progress finishes (both pairs)."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise JudgeBenchError(f"unknown mode(s) {sorted(unknown)}; choose from {list(MODES)}")
    weights = {criterion.id: criterion.weight for criterion in judge.checklist.criteria}
    judged = []
    # Pair by pair, both modes back to back: the prompts share everything up to the sandbox's note, and a local
    # model reuses the cached prefix of its previous prompt.
    for pair in pairs:
        if deadline is not None and pair.correct and time.monotonic() > deadline:
            break
        for mode in modes:
            told = mode == WITH_SANDBOX
            try:
                verdict = await judge.judge(
                    pair.language, pair.instruction, pair.answer, seed,
                    execution_status=pair.execution.status.value if told else None,
                    execution_note=execution_note(pair.execution) if told else None)
            except LLMError as exc:  # e.g. a prompt beyond the context window: unscored, like malformed output
                verdict = Verdict(route=PairStatus.flagged, final_score=None, error=str(exc))
            judged.append(JudgedPair(pair, mode, verdict, weights))
            if on_done:
                on_done(judged[-1])
    return judged


def roc_auc(truth: Sequence[bool], scores: Sequence[float]) -> float | None:
    """ROC AUC (ties count half), or None when the pairs are all of one class."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores)) if len(set(truth)) == 2 else None


def _ranked(score: float | None, checklist: Checklist) -> float:
    # An unscored pair ranks below every scored one: the campaign never accepts it either.
    return checklist.scale.min - 1 if score is None else score


def reweighted(pair: JudgedPair, weights: dict[str, float]) -> float | None:
    if pair.final_score is None:
        return None
    return sum(weights[c] * pair.scores[c] for c in weights) / sum(weights.values())


def _accuracy(truth: Sequence[bool], scores: Sequence[float], threshold: float) -> float:
    return sum((score >= threshold) == good for good, score in zip(truth, scores)) / len(truth)


def _fitted(rows: Sequence[JudgedPair]) -> dict[str, float] | None:
    """Calibration's suggested weights fitted to these rows' labels, or None when none can be fitted."""
    suggestions, _ = suggest_weights(rows, [row.pair.correct for row in rows], [])
    weights = {s.criterion: s.suggested for s in suggestions}
    return None if any(value is None for value in weights.values()) else weights


def held_out_auc(rows: Sequence[JudgedPair], checklist: Checklist, folds: int = HELD_OUT_FOLDS) -> float | None:
    """AUC of scores from weights fitted without the scored pair's task (grouped k-fold over tasks)."""
    from sklearn.model_selection import GroupKFold

    rows = [row for row in rows if row.final_score is not None]
    groups = [row.pair.task_id for row in rows]
    splits = min(folds, len(set(groups)))
    if splits < 2:
        return None
    truth, scores = [], []
    for train, test in GroupKFold(n_splits=splits).split(rows, groups=groups):
        weights = _fitted([rows[index] for index in train])
        if weights is None:
            return None
        for index in test:
            truth.append(rows[index].pair.correct)
            scores.append(_ranked(reweighted(rows[index], weights), checklist))
    return roc_auc(truth, scores)


def mode_report(rows: Sequence[JudgedPair], checklist: Checklist) -> ModeReport:
    """The figures of one mode's verdicts."""
    if not rows:
        raise JudgeBenchError("no judged pairs")
    truth = [row.pair.correct for row in rows]
    if len(set(truth)) < 2:
        raise JudgeBenchError("the pairs are all correct or all broken: AUC needs both")
    finals = [_ranked(row.final_score, checklist) for row in rows]
    scored = [row for row in rows if row.final_score is not None]
    accept = checklist.thresholds.accept

    def mean_of(correct: bool) -> float | None:
        values = [row.final_score for row in scored if row.pair.correct is correct]
        return sum(values) / len(values) if values else None

    report = ModeReport(
        mode=rows[0].mode, pairs=len(rows), unscored=len(rows) - len(scored), auc=roc_auc(truth, finals),
        accuracy=_accuracy(truth, finals, accept), mean_correct=mean_of(True), mean_broken=mean_of(False),
        criterion_auc={c.id: roc_auc([row.pair.correct for row in scored], [row.scores[c.id] for row in scored])
                       for c in checklist.criteria},
        routes=routes(rows),
    )
    if scored:
        report.calibration = calibrate(scored, {row.pair_id: row.pair.correct for row in scored})
        weights = _fitted(scored)
        if weights is not None:
            calibrated = [_ranked(reweighted(row, weights), checklist) for row in rows]
            report.calibrated_weights = weights
            report.calibrated_auc = roc_auc(truth, calibrated)
            report.calibrated_accuracy = _accuracy(truth, calibrated, accept)
        report.held_out_auc = held_out_auc(scored, checklist)
    return report


def bench_report(judged: Sequence[JudgedPair], checklist: Checklist) -> list[ModeReport]:
    """One report per mode present in `judged`, in MODES order."""
    return [mode_report([row for row in judged if row.mode == mode], checklist)
            for mode in MODES if any(row.mode == mode for row in judged)]


def routes(rows: Sequence[JudgedPair]) -> dict[str, dict[str, int]]:
    """How the judge routed the correct and the broken pairs (accepted / flagged / rejected)."""
    counts = {kind: {status.value: 0 for status in PairStatus.judged()} for kind in ("correct", "broken")}
    for row in rows:
        counts["correct" if row.pair.correct else "broken"][row.status] += 1
    return counts
