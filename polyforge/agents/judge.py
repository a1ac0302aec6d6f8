"""The judge agent: scores a pair on a checklist with structured output and routes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, create_model

from polyforge.checklists import Checklist, Route
from polyforge.config import StageSampling
from polyforge.agents.language_agent import sampling_params
from polyforge.llm import ChatBackend, Completion, StructuredOutputError, chat_structured
from polyforge.prompts import render


@dataclass
class Verdict:
    route: Route
    final_score: float | None
    scores: dict[str, int] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    flag_reason: str | None = None
    error: str | None = None
    template_hash: str = ""
    completions: list[Completion] = field(default_factory=list)


def judge_schema(checklist: Checklist, rationales: bool) -> type[BaseModel]:
    """A pydantic model with one required field per criterion, bounded by the checklist's scale.

    Its JSON schema constrains decoding; validating against it catches what a server let through.
    """
    score_type = (int, Field(ge=checklist.scale.min, le=checklist.scale.max))
    if rationales:
        scored = create_model(
            "ScoredCriterion",
            __config__=ConfigDict(extra="forbid"),
            score=score_type,
            rationale=(str, Field(min_length=1, max_length=240)),
        )
        fields = {c.id: (scored, ...) for c in checklist.criteria}
    else:
        fields = {c.id: score_type for c in checklist.criteria}
    return create_model("JudgeScores", __config__=ConfigDict(extra="forbid"), **fields)


class JudgeAgent:
    def __init__(
        self, backend: ChatBackend, checklist: Checklist, sampling: StageSampling, rationales: bool = False,
        max_retries: int = 2,
    ):
        self.backend = backend
        self.checklist = checklist
        self.rationales = rationales
        self.max_retries = max_retries
        self._sampling = sampling
        self._schema = judge_schema(checklist, rationales)

    async def judge(self, language: str, instruction: str, answer: str, seed: int | None = None,
                    execution: str | None = None) -> Verdict:
        """`execution`: what the sandbox said about the answer's code under generated tests, if it ran."""
        prompt = render(
            "judge", language=language, instruction=instruction, answer=answer, checklist=self.checklist,
            rationales=self.rationales, execution=execution,
        )
        try:
            parsed, completions = await chat_structured(
                self.backend, prompt.messages, self._schema, sampling_params(self._sampling, seed), self.max_retries
            )
        except StructuredOutputError as exc:
            # Never accept what could not be scored: a person looks at it instead.
            return Verdict(
                route=Route.flagged, final_score=None, flag_reason="malformed judge output", error=str(exc),
                template_hash=prompt.template_hash, completions=exc.usage,
            )
        values = parsed.model_dump()
        if self.rationales:
            scores = {key: value["score"] for key, value in values.items()}
            rationales = {key: value["rationale"] for key, value in values.items()}
        else:
            scores, rationales = values, {}
        final = self.checklist.final_score(scores)
        route = self.checklist.route(final)
        return Verdict(
            route=route, final_score=final, scores=scores, rationales=rationales,
            flag_reason="borderline final score" if route is Route.flagged else None,
            template_hash=prompt.template_hash, completions=completions,
        )
