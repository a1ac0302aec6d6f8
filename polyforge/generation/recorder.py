"""The recorder: finished work items become database rows (pair, scores, runs, preferences, transcript).

It needs one per-campaign value, `Provenance`, built once when the campaign starts; it never sees
the campaign config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.agents import StageOutput, Verdict
from polyforge.checklists import Checklist
from polyforge.generation.item_steps import passed
from polyforge.generation.item_runner import ItemResult
from polyforge.generation.item_state import GATE, ItemState
from polyforge.llm import Completion
from polyforge.llm.pool import EndpointStats
from polyforge.prompts import PromptLibrary
from polyforge.storage import (
    ChecklistVersion,
    Discussion,
    DiscussionTurn,
    ExecutionRecord,
    JudgeScore,
    Pair,
    Preference,
    PromptVersion,
)
from polyforge.storage.endpoint_usage import COUNTED, add_endpoint_usage
from polyforge.terms import CONTAMINATED, SENSITIVE, PairOrigin, PreferenceKind

OUTPUT_KEPT = 4000  # characters of a run's stdout and stderr stored with it (the end, where errors are)


@dataclass(frozen=True)
class Provenance:
    """What every pair of a campaign records about how it was made."""

    campaign_id: int
    model: str  # the generator
    judge_model: str  # the judge model(s)
    checklist_hash: str
    weights: dict[str, float]  # checklist criterion -> weight
    sampling: dict  # the campaign's sampling settings (each pair adds its own seed and mode)
    preferences_from_scores: bool = False  # also record preferences that rest on the judge's scores alone


def record_versions(session: Session, checklist: Checklist, prompts: PromptLibrary) -> None:
    """Store the text behind every template and checklist hash a pair may cite, once per version."""
    known = set(session.execute(select(PromptVersion.name, PromptVersion.content_hash)).all())
    for name, (content_hash, content) in prompts.versions().items():
        if (name, content_hash) not in known:
            session.add(PromptVersion(name=name, content_hash=content_hash, content=content))
    if session.scalar(select(ChecklistVersion.id).where(ChecklistVersion.content_hash == checklist.content_hash)) is None:
        session.add(ChecklistVersion(name=checklist.name, content_hash=checklist.content_hash,
                                     content=checklist.source_text))
    session.commit()


def stage_completions(state: ItemState) -> dict[str, list[Completion]]:
    """Every completion a work item spent, by stage (retries included)."""
    turns = state.discussion
    draft = turns[0].output if turns else state.instruction
    return {
        "instruction": draft.completions if draft else [],
        # A transfer's completions belong to the pair it became, in that pair's instruction stage.
        "discussion": [c for turn in turns[1:] if turn.role != "transfer" for c in turn.output.completions],
        "classify": state.classification.completions if state.classification else [],
        "answer": [c for index, candidate in enumerate(state.candidates) if index not in state.repairs
                   for c in candidate.completions],
        "repair": [c for index in state.repairs for c in state.candidates[index].completions],
        "tester": state.tests.completions if state.tests else [],
        "judge": [c for verdict in state.verdicts if verdict is not None for c in verdict.completions],
    }


@dataclass(frozen=True)
class Beaten:
    """A candidate the chosen answer beat: by passing the tests it did not pass, by a gate dropping it, or on the
    judge's score alone (`kind` says which evidence the preference rests on)."""

    candidate: StageOutput
    verdict: Verdict | None  # None: a gate dropped it before the judge
    gate: str | None = None
    kind: PreferenceKind = PreferenceKind.execution
    feedback: str | None = None  # a repair's: what the model was shown of this candidate's run when it fixed it


def preferences(state: ItemState, from_scores: bool = False) -> list[Beaten]:
    """The candidates the chosen answer beat. When the chosen answer passed its tests, every candidate that did not
    pass (or that a gate dropped) is an execution preference, and the one it was written to fix a repair preference;
    a lower judge score alone makes a judge preference, kept only `from_scores`. A candidate that overlaps a
    benchmark, or that held secrets or personal data (now redacted), is no preference material either."""
    chosen = state.verdict
    if chosen is None or chosen.final_score is None:
        return []
    executions = state.executions or [None] * len(state.candidates)
    chosen_index = next(index for index, verdict in enumerate(state.verdicts) if verdict is chosen)
    chosen_passed = passed(executions[chosen_index])
    repair = state.repairs.get(chosen_index) if chosen_passed else None
    by_execution = PreferenceKind.execution if chosen_passed else PreferenceKind.judge
    beaten = []
    for index, (candidate, verdict, execution) in enumerate(zip(state.candidates, state.verdicts, executions)):
        if repair is not None and index == repair.broken:
            beaten.append(Beaten(candidate, verdict, kind=PreferenceKind.repair, feedback=repair.feedback))
        elif index in state.screened_out:
            if state.screened_out[index].startswith((CONTAMINATED, SENSITIVE)):
                continue
            beaten.append(Beaten(candidate, None, state.screened_out[index], by_execution))
        elif verdict is not chosen and chosen_passed and not passed(execution):
            beaten.append(Beaten(candidate, verdict, kind=PreferenceKind.execution))
        elif verdict is not chosen and (verdict.final_score is None or verdict.final_score < chosen.final_score):
            beaten.append(Beaten(candidate, verdict, kind=PreferenceKind.judge))
    return [b for b in beaten if from_scores or b.kind is not PreferenceKind.judge]


def _preference(pair: Pair, chosen: Verdict, beaten: Beaten) -> Preference:
    rejected_score = beaten.verdict.final_score if beaten.verdict is not None else None
    against = (f"{GATE}{beaten.gate}" if beaten.gate is not None
               else "unscored" if rejected_score is None else f"{rejected_score:.2f}")
    evidence = "passed its tests; " if beaten.kind is PreferenceKind.execution else ""
    # A repair's reason is the feedback the fix answered: the middle turn of its conversation (training).
    reason = beaten.feedback if beaten.feedback is not None else \
        f"{evidence}judge score {chosen.final_score:.2f} vs {against}"
    return Preference(
        prompt=pair.instruction, chosen=pair.answer, rejected=beaten.candidate.text, chosen_score=chosen.final_score,
        rejected_score=rejected_score, kind=beaten.kind, reason=reason,
    )


def shown_answer(state: ItemState) -> StageOutput | None:
    """The answer a pair shows: the chosen candidate, or, when a gate dropped every candidate before the judge, the
    first one that did not overlap a benchmark (what was rejected stays readable, and the funnel counts it as
    answered and tested); None when there is none."""
    if state.answer is not None:
        return state.answer
    return next((candidate for index, candidate in enumerate(state.candidates)
                 if not state.screened_out.get(index, "").startswith(CONTAMINATED)), None)


def _execution_records(state: ItemState, shown: StageOutput | None) -> list[ExecutionRecord]:
    """The sandbox runs of every candidate, the shown one marked chosen."""
    if state.tests is None:
        return []
    return [
        ExecutionRecord(
            candidate=index, chosen=candidate is shown, language=execution.language,
            status=execution.status.value, reason=execution.reason, exit_code=execution.exit_code,
            stdout=execution.stdout[-OUTPUT_KEPT:], stderr=execution.stderr[-OUTPUT_KEPT:], seconds=execution.seconds,
            flaky=execution.flaky, tests=state.tests.text,
        )
        for index, (candidate, execution) in enumerate(zip(state.candidates, state.executions))
        if execution is not None
    ]


def _templates(state: ItemState) -> dict[str, str]:
    """Template name -> content hash, for every prompt the item rendered (a given instruction rendered none)."""
    outputs = (*(turn.output for turn in state.discussion), state.instruction, state.answer, state.tests)
    templates = {output.template: output.template_hash for output in outputs
                 if output is not None and output.template}
    if state.classification is not None:
        templates["classify"] = state.classification.template_hash
    if state.verdict is not None:
        templates["judge"] = state.verdict.template_hash
    return templates


def pair_from_state(provenance: Provenance, state: ItemState) -> Pair:
    """The pair a finished work item made, with its scores, runs, preferences and provenance."""
    item, verdict, labels = state.item, state.verdict, state.classification
    shown = shown_answer(state)
    spent = stage_completions(state)
    tokens = {
        stage: {"prompt": sum(c.prompt_tokens for c in cs), "completion": sum(c.completion_tokens for c in cs),
                "calls": len(cs), "cached": sum(c.cached_tokens for c in cs),
                "truncated": sum(c.truncated for c in cs)}
        for stage, cs in spent.items()
    }
    pair = Pair(
        campaign_id=provenance.campaign_id,
        snippet_id=item.snippet_id,
        language=item.language,
        instruction=state.instruction.text if state.instruction else "",
        answer=shown.text if shown is not None else "",
        status=state.status,
        topic=labels.topic if labels else None,
        difficulty=labels.difficulty if labels else None,
        final_score=verdict.final_score if verdict else None,
        score_spread=verdict.score_spread if verdict else None,
        flag_reason=verdict.flag_reason if verdict else None,
        error=state.error or (verdict.error if verdict else None),
        model=provenance.model,
        judge_model=provenance.judge_model,
        sampling={**provenance.sampling, "item_seed": item.seed, "mode": item.mode},
        templates=_templates(state),
        checklist_hash=provenance.checklist_hash,
        judge_samples=[sample.as_record() for sample in verdict.samples] if verdict else None,
        tokens=tokens,
        total_tokens=sum(stage["prompt"] + stage["completion"] for stage in tokens.values()),
        seconds=sum(c.seconds for cs in spent.values() for c in cs),
    )
    pair.preferences = [_preference(pair, verdict, beaten)
                        for beaten in preferences(state, provenance.preferences_from_scores)]
    pair.executions = _execution_records(state, shown)
    pair.execution_status = next((record.status for record in pair.executions if record.chosen), None)
    if verdict is not None:
        pair.scores = [
            JudgeScore(criterion=key, score=value, weight=provenance.weights[key],
                       rationale=verdict.rationales.get(key), spread=verdict.spreads.get(key),
                       decided_by=verdict.overrides.get(key, "judge"))
            for key, value in verdict.scores.items()
        ]
    return pair


def _discussion(provenance: Provenance, state: ItemState) -> Discussion:
    turns = state.discussion
    return Discussion(
        campaign_id=provenance.campaign_id, proposer_language=state.item.language,
        peer_languages=list(state.item.peers), rounds=sum(turn.role == "revision" for turn in turns),
        turns=[DiscussionTurn(position=position, round=turn.round, language=turn.language, role=turn.role,
                              text=turn.output.text, template_hash=turn.output.template_hash)
               for position, turn in enumerate(turns)],
    )


@dataclass(frozen=True)
class StoredPair:
    """What the campaign loop needs to know of a pair once it is stored (budget, counts, progress)."""

    language: str
    status: str
    total_tokens: int


def record_item(session: Session, provenance: Provenance, result: ItemResult) -> list[StoredPair]:
    """Store one finished work item in its own transaction: its pair, its discussion's transcript and
    the pairs its transfers became, so that a crash keeps all of them or none."""
    pair = pair_from_state(provenance, result.state)
    pairs = [pair]
    if result.state.discussion:
        discussion = _discussion(provenance, result.state)
        pair.origin, pair.discussion = PairOrigin.discussion, discussion
        for transfer in result.transfers:
            transferred = pair_from_state(provenance, transfer)
            transferred.origin, transferred.discussion = PairOrigin.transfer, discussion
            pairs.append(transferred)
    session.add_all(pairs)
    session.commit()
    return [StoredPair(pair.language, pair.status, pair.total_tokens) for pair in pairs]


class EndpointUsageLog:
    """Stores what each endpoint of the campaign did, as increments since the last flush; `read` gives the
    running totals (the campaign's pools, or what its workers reported)."""

    def __init__(self, read: Callable[[], list[EndpointStats]]):
        self.read = read
        self._flushed: dict[tuple[str, str], dict] = {}

    def flush(self, session: Session, campaign_id: int) -> None:
        increments = []
        for stats in self.read():
            now = {name: getattr(stats, name) for name in COUNTED}
            before = self._flushed.get((stats.role, stats.base_url), dict.fromkeys(COUNTED, 0))
            if now != before:
                increments.append({"role": stats.role, "base_url": stats.base_url, "model": stats.model,
                                   "last_error": stats.last_error,
                                   **{name: now[name] - before[name] for name in COUNTED}})
            self._flushed[(stats.role, stats.base_url)] = now
        if increments:
            add_endpoint_usage(session, campaign_id, increments)
