"""A language-specialized agent: writes instructions from snippets of its language and answers them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, create_model

from polyforge.config import StageSampling
from polyforge.llm import ChatBackend, Completion, LLMError, SamplingParams, StructuredOutputError, chat_structured
from polyforge.memory import MemoryBank
from polyforge.prompts import BUNDLED, PromptLibrary, Taxonomy
from polyforge.terms import PairStatus


class EmptyOutput(ValueError):
    """The model returned nothing usable for a stage."""


# What an agent call may raise that ends one work item (recorded with it); anything else is a bug.
ITEM_ERRORS = (LLMError, EmptyOutput)


@dataclass
class StageOutput:
    text: str
    template: str
    template_hash: str
    completions: list[Completion] = field(default_factory=list)


@dataclass
class Classification:
    topic: str | None
    difficulty: str | None
    template_hash: str
    completions: list[Completion] = field(default_factory=list)


@functools.cache
def classification_schema(topics: tuple[str, ...], difficulties: tuple[str, ...]) -> type[BaseModel]:
    """The classifier's reply: one of the taxonomy's topics and one of its difficulties (built once per taxonomy,
    since building a pydantic model costs about a millisecond)."""
    return create_model("TopicAndDifficulty", topic=(Literal[topics], ...), difficulty=(Literal[difficulties], ...))


FENCE_LINE = re.compile(r"^\s*```", re.MULTILINE)


def with_code_block_closed(text: str) -> str:
    """`text` with its last code block's closing fence restored when a stop at that fence left it out."""
    return text + "\n```" if len(FENCE_LINE.findall(text)) % 2 else text


def sampling_params(stage: StageSampling, seed: int | None) -> SamplingParams:
    return SamplingParams(stage.temperature, stage.top_p, stage.max_tokens, seed, tuple(stage.stop))


class LanguageAgent:
    """One agent per language; each owns the prompts' language-specific wording."""

    def __init__(self, language: str, backend: ChatBackend, instruction: StageSampling, answer: StageSampling,
                 memory: MemoryBank | None = None, few_shot: int = 0, prompts: PromptLibrary = BUNDLED):
        self.language = language
        self.backend = backend
        self.prompts = prompts
        self.memory = memory
        self.few_shot = few_shot
        self._instruction_sampling = instruction
        self._answer_sampling = answer

    def examples_for(self, code: str) -> list[str]:
        """Instructions of the seeds and accepted pairs nearest to `code`, as few-shot examples."""
        if self.memory is None or not self.few_shot:
            return []
        return [n.entry.instruction for n in self.memory.nearest(code, self.few_shot, kinds=("seed", PairStatus.accepted))]

    async def _run(self, template: str, stage: StageSampling, seed: int | None, **variables) -> StageOutput:
        prompt = self.prompts.render(template, language=self.language, **variables)
        completion = await self.backend.chat(prompt.messages, sampling_params(stage, seed))
        text = completion.text.strip()
        if not text:
            raise EmptyOutput(f"{template}: the model returned an empty reply (finish: {completion.finish_reason})")
        return StageOutput(text, template, prompt.template_hash, [completion])

    async def write_instruction(self, code: str, path: str, seed: int | None = None,
                                target: tuple[str, str] | None = None) -> StageOutput:
        """A task the code answers; `target` (topic, difficulty) steers it toward an under-covered cell."""
        return await self._run("instruction", self._instruction_sampling, seed, code=code, path=path,
                               examples=self.examples_for(code), target=target)

    async def write_instruction_answer_first(self, code: str, path: str, seed: int | None = None,
                                             target: tuple[str, str] | None = None) -> StageOutput:
        """Answer-first: explain the code, then write the task that the explanation answers."""
        explanation = await self._run("explain", self._answer_sampling, seed, code=code, path=path)
        task = await self._run("instruction_from_explanation", self._instruction_sampling, seed,
                               explanation=explanation.text, examples=self.examples_for(code), target=target)
        return StageOutput(task.text, task.template, task.template_hash, explanation.completions + task.completions)

    async def evolve_seed(self, code: str, seed: int | None = None,
                          target: tuple[str, str] | None = None) -> StageOutput:
        """Seed evolution: a harder variant of the seed or accepted task in memory nearest to `code`."""
        originals = self.examples_for(code)
        if not originals:
            raise EmptyOutput(f"evolve: no seed or accepted {self.language} task in memory to evolve "
                              "(add seeds for this language, or lower the evolve share of generation.modes)")
        return await self._run("evolve", self._instruction_sampling, seed, original=originals[0], target=target)

    async def critique(self, instruction: str, proposer_language: str, seed: int | None = None) -> StageOutput:
        """As a discussion peer: how another language's drafted task could be better."""
        return await self._run("critique", self._instruction_sampling, seed, instruction=instruction,
                               proposer_language=proposer_language)

    async def revise(self, instruction: str, critiques: list[tuple[str, str]], seed: int | None = None) -> StageOutput:
        """As a discussion's proposer: the task rewritten after the peers' (language, critique) replies."""
        return await self._run("revise", self._instruction_sampling, seed, instruction=instruction, critiques=critiques)

    async def transfer(self, instruction: str, source_language: str, seed: int | None = None) -> StageOutput:
        """As a discussion peer: the same task carried over into this agent's language."""
        return await self._run("transfer", self._instruction_sampling, seed, instruction=instruction,
                               source_language=source_language)

    async def write_answer(self, instruction: str, seed: int | None = None) -> StageOutput:
        output = await self._run("answer", self._answer_sampling, seed, instruction=instruction)
        if output.completions[-1].finish_reason == "length":
            return output  # cut off: left open, as it came
        return replace(output, text=with_code_block_closed(output.text))

    async def repair_answer(self, instruction: str, answer: str, feedback: str, seed: int | None = None
                            ) -> StageOutput:
        """The answer fixed from `feedback`, what the sandbox said of its run with the tests (`sandbox_feedback`)."""
        output = await self._run("repair", self._answer_sampling, seed, instruction=instruction, answer=answer,
                                 feedback=feedback)
        if output.completions[-1].finish_reason == "length":
            return output
        return replace(output, text=with_code_block_closed(output.text))

    async def classify(self, instruction: str, taxonomy: Taxonomy, seed: int | None = None) -> Classification:
        """The instruction's topic and difficulty, constrained to the taxonomy; None for both if it fails."""
        prompt = self.prompts.render("classify", language=self.language, instruction=instruction, taxonomy=taxonomy)
        schema = classification_schema(tuple(taxonomy.topics), tuple(taxonomy.difficulties))
        params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=40, seed=seed)
        try:
            parsed, completions = await chat_structured(self.backend, prompt.messages, schema, params, max_retries=1)
        except StructuredOutputError as exc:
            return Classification(None, None, prompt.template_hash, exc.usage)
        return Classification(parsed.topic, parsed.difficulty, prompt.template_hash, completions)
