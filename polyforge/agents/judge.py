"""The judge agent: scores a pair on a checklist with structured output and routes it.

Each judge model (one, or two for an ensemble) is sampled k times; the scores are the mean over
every valid sample. Known facts (the code parses, the sandbox's verdict) replace the judge's
score on their criteria. A pair is flagged, with every reason stored, when the final score is
borderline, the samples or the judges disagree, the judge disagrees with the sandbox, or the
judge's output stayed malformed: a pair the judge could not score is never accepted.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from polyforge.agents.judge_rules import Override, known_facts
from polyforge.agents.language_agent import sampling_params
from polyforge.checklists import Checklist
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm import ChatBackend, Completion, StructuredOutputError, chat_structured
from polyforge.prompts import BUNDLED, PromptLibrary
from polyforge.sandbox import Execution, Status
from polyforge.terms import PairStatus

# Flag reasons, in the order they are reported.
MALFORMED = "malformed judge output"
BORDERLINE = "borderline final score"
SAMPLES_DISAGREE = "disagreement between judge samples"
JUDGES_DISAGREE = "disagreement between judges"
SANDBOX_DISAGREES = "judge disagrees with the sandbox"
UNTESTED = "no passing tests"
UNTESTABLE = "untestable"  # the sandbox cannot run the pair's language: only a person can verify it
FLAG_REASONS = (MALFORMED, BORDERLINE, SAMPLES_DISAGREE, JUDGES_DISAGREE, SANDBOX_DISAGREES, UNTESTED, UNTESTABLE)


@dataclass
class JudgeSample:
    """One judge call's result: scores (and rationales) or the error that ended it."""

    model: str
    judge: int = 0  # 0: the judge, 1: the second judge (ensemble)
    scores: dict[str, int] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    final_score: float | None = None
    error: str | None = None

    def as_record(self) -> dict:
        """What is stored with the pair, so every sample stays auditable."""
        record = {"model": self.model, "judge": self.judge, "scores": self.scores, "final_score": self.final_score}
        if self.rationales:
            record["rationales"] = self.rationales
        if self.error:
            record["error"] = self.error
        return record


@dataclass
class Verdict:
    route: PairStatus
    final_score: float | None
    scores: dict[str, float] = field(default_factory=dict)
    spreads: dict[str, float] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # criterion -> the rule that set its score
    flag_reasons: list[str] = field(default_factory=list)
    score_spread: float | None = None
    samples: list[JudgeSample] = field(default_factory=list)
    error: str | None = None
    template_hash: str = ""
    completions: list[Completion] = field(default_factory=list)

    @property
    def flag_reason(self) -> str | None:
        """Every reason the pair is in the review queue, '; '-joined (None when it is not)."""
        return "; ".join(self.flag_reasons) or None


RATIONALE_MAX_CHARS = 240
# Characters per token of a JSON reply, on the low side of what BPE vocabularies of code models reach
# (keys, digits and punctuation tokenize densely), so a budget from it holds the reply.
JSON_CHARS_PER_TOKEN = 2.5
BUDGET_MARGIN_TOKENS = 16  # the opening brace, a newline or two, end-of-text


class JudgeBudgetError(ValueError):
    """A judge token budget that cannot hold the checklist's reply; the message names both numbers."""


def judge_token_budget(checklist: Checklist, rationales: bool) -> int:
    """The tokens the longest valid judge reply can take: every criterion at the scale's widest score and,
    with rationales, every rationale at its longest, laid out with a little whitespace."""
    score = max(checklist.scale.min, checklist.scale.max, key=lambda value: len(str(value)))
    value = {"rationale": "x" * RATIONALE_MAX_CHARS, "score": score} if rationales else score
    longest = json.dumps({criterion.id: value for criterion in checklist.criteria}, indent=1)
    return math.ceil(len(longest) / JSON_CHARS_PER_TOKEN) + BUDGET_MARGIN_TOKENS


def judge_sampling(checklist: Checklist, rationales: bool, sampling: StageSampling) -> StageSampling:
    """The judge's sampling with a token budget that holds its reply: derived from the checklist, unless
    `max_tokens` was set, which must then be large enough."""
    needed = judge_token_budget(checklist, rationales)
    if "max_tokens" not in sampling.model_fields_set:
        return sampling.model_copy(update={"max_tokens": needed})
    if sampling.max_tokens < needed:
        kind = "scores and rationales" if rationales else "scores"
        raise JudgeBudgetError(
            f"sampling.judge.max_tokens is {sampling.max_tokens}, but the {kind} of the {len(checklist.criteria)} "
            f"criteria of checklist {checklist.name!r} can take {needed} tokens: raise it to {needed} or more, "
            "or remove it to have it derived" + ("" if not rationales else ", or set judge.rationales: false"))
    return sampling


def judge_schema(checklist: Checklist, rationales: bool) -> type[BaseModel]:
    """A pydantic model with one required field per criterion, bounded by the checklist's scale.

    Its JSON schema constrains decoding; validating against it catches what a server let through.
    Scores are an enum of the scale's integers rather than a bounded integer: llama.cpp's grammar
    from a JSON schema ignores `minimum`/`maximum` (SmolLM2 then writes 100), but enforces an enum.
    """
    score_type = (Literal[tuple(range(checklist.scale.min, checklist.scale.max + 1))], ...)
    if rationales:
        # The rationale comes first: constrained decoding writes keys in schema order, so the model states
        # what it checked before it commits to a score, rather than justifying a score already written.
        scored = create_model(
            "ScoredCriterion",
            __config__=ConfigDict(extra="forbid"),
            rationale=(str, Field(min_length=1, max_length=RATIONALE_MAX_CHARS)),
            score=score_type,
        )
        fields = {c.id: (scored, ...) for c in checklist.criteria}
    else:
        fields = {c.id: score_type for c in checklist.criteria}
    return create_model("JudgeScores", __config__=ConfigDict(extra="forbid"), **fields)


def execution_note(execution: Execution | None) -> str | None:
    """What the judge is told about a candidate's run."""
    if execution is None:
        return None
    return execution.status.value + (f" ({execution.reason})" if execution.reason else "")


FEEDBACK_CHARS = 1500  # of the run's output shown for a repair: the end, where errors and failed assertions are


def sandbox_feedback(execution: Execution) -> str:
    """What a model is shown of its answer's failed run with the tests, to fix it: the verdict and the end of the
    output (a compiler's errors, a failed assertion, a traceback)."""
    output = "\n".join(part for part in (execution.stderr.strip(), execution.stdout.strip()) if part)
    tail = output[-FEEDBACK_CHARS:] if output else "(no output)"
    return (f"Run with unit tests, it ended: {execution_note(execution)}. The end of its output:\n```\n{tail}\n```")


def _spread(values: Sequence[float]) -> float:
    """Population standard deviation; 0 for a single value."""
    return statistics.pstdev(values) if len(values) > 1 else 0.0


class JudgeAgent:
    def __init__(
        self, backend: ChatBackend, checklist: Checklist, sampling: StageSampling,
        settings: JudgeConfig | None = None, second_backend: ChatBackend | None = None,
        grammars: Mapping[str, str] | None = None, prompts: PromptLibrary = BUNDLED,
    ):
        """`grammars` maps a language name to its tree-sitter grammar, for the 'parser' rule."""
        self.backend = backend
        self.prompts = prompts
        self.second_backend = second_backend
        self.checklist = checklist
        self.settings = settings or JudgeConfig()
        self.rationales = bool(self.settings.rationales)  # unset outside a campaign config: off
        self.grammars = dict(grammars or {})
        self._sampling = judge_sampling(checklist, self.rationales, sampling)
        self._schema = judge_schema(checklist, self.rationales)

    @property
    def backends(self) -> list[ChatBackend]:
        return [self.backend] + ([self.second_backend] if self.second_backend else [])

    @property
    def model_names(self) -> str:
        return " + ".join(backend.name for backend in self.backends)

    async def judge(
        self, language: str, instruction: str, answer: str, seed: int | None = None,
        execution_status: str | None = None, execution_note: str | None = None, testable: bool = True,
    ) -> Verdict:
        """Score and route one pair.

        `execution_status` is the sandbox's status for the answer when it was executed ('passed',
        'failed', 'compile_error', 'runtime_error', 'timeout', 'memory_limit'); None when it was not.
        It overrides the correctness score. `execution_note` says the same to the judge in words.
        `testable` is False when the sandbox cannot run the language at all (see `when_untestable`).
        """
        prompt = self.prompts.render(
            "judge", language=language, instruction=instruction, answer=answer, checklist=self.checklist,
            rationales=self.rationales, execution=execution_note,
        )
        runs = [
            self._sample(judge, backend, prompt.messages, None if seed is None else seed + index * self._seed_stride)
            for judge, backend in enumerate(self.backends)
            for index in range(self.settings.samples)
        ]
        results = await asyncio.gather(*runs)
        samples = [sample for sample, _ in results]
        completions = [c for _, spent in results for c in spent]
        facts = known_facts(self.checklist, answer, self.grammars.get(language), execution_status)
        verdict = self._combine(samples, facts, execution_status, testable)
        verdict.template_hash = prompt.template_hash
        verdict.completions = completions
        return verdict

    @property
    def _seed_stride(self) -> int:
        # Retries use seed + attempt; samples start past them so no two calls share a seed.
        return self.settings.max_retries + 1

    async def _sample(
        self, judge: int, backend: ChatBackend, messages, seed: int | None
    ) -> tuple[JudgeSample, list[Completion]]:
        try:
            parsed, completions = await chat_structured(
                backend, messages, self._schema, sampling_params(self._sampling, seed), self.settings.max_retries
            )
        except StructuredOutputError as exc:
            return JudgeSample(backend.name, judge, error=str(exc)), exc.usage
        values = parsed.model_dump()
        if self.rationales:
            scores = {key: value["score"] for key, value in values.items()}
            rationales = {key: value["rationale"] for key, value in values.items()}
        else:
            scores, rationales = values, {}
        sample = JudgeSample(backend.name, judge, scores, rationales, self.checklist.final_score(scores))
        return sample, completions

    def _combine(self, samples: list[JudgeSample], facts: list[Override], execution_status: str | None,
                 testable: bool = True) -> Verdict:
        valid = [s for s in samples if s.error is None]
        errors = [s.error for s in samples if s.error is not None]
        reasons: set[str] = {MALFORMED} if errors else set()
        error = "; ".join(errors) or None
        if not valid:
            # Never accept what could not be scored: a person looks at it instead.
            return Verdict(route=PairStatus.flagged, final_score=None, flag_reasons=[MALFORMED], samples=samples,
                           error=error)
        criteria = [c.id for c in self.checklist.criteria]
        judged = {c: statistics.fmean(s.scores[c] for s in valid) for c in criteria}
        spreads = {c: _spread([s.scores[c] for s in valid]) for c in criteria}
        rationales = dict(valid[0].rationales)
        scores = dict(judged)
        for fact in facts:
            scores[fact.criterion] = fact.score
            rationales[fact.criterion] = f"{fact.source}: {fact.explanation}"
            if fact.source == "sandbox" and abs(judged[fact.criterion] - fact.score) > self.settings.max_sandbox_gap:
                reasons.add(SANDBOX_DISAGREES)
        per_judge = [[s.final_score for s in valid if s.judge == judge] for judge in range(len(self.backends))]
        per_judge = [finals for finals in per_judge if finals]
        score_spread = max(_spread(finals) for finals in per_judge)
        if score_spread > self.settings.max_spread:
            reasons.add(SAMPLES_DISAGREE)
        if len(per_judge) == 2:
            gap = abs(statistics.fmean(per_judge[0]) - statistics.fmean(per_judge[1]))
            if gap > self.settings.max_judge_gap:
                reasons.add(JUDGES_DISAGREE)
        final = self.checklist.final_score(scores)
        if self.checklist.route(final) is PairStatus.flagged:
            reasons.add(BORDERLINE)
        if (self.settings.accept_only_tested and self.checklist.route(final) is PairStatus.accepted
                and execution_status != Status.PASSED):
            if testable:
                reasons.add(UNTESTED)
            elif self.settings.when_untestable == "flag":
                reasons.add(UNTESTABLE)
        return Verdict(
            route=PairStatus.flagged if reasons else self.checklist.route(final),
            final_score=final, scores=scores, spreads=spreads, rationales=rationales,
            overrides={fact.criterion: fact.source for fact in facts},
            flag_reasons=[reason for reason in FLAG_REASONS if reason in reasons],
            score_spread=score_spread, samples=samples, error=error,
        )
