"""Wiring: the campaign config turned into backends, agents, a judge, a tester and a sandbox pool,
and those into an item runner. Nothing here schedules or stores."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from polyforge.agents import JudgeAgent, LanguageAgent, TesterAgent
from polyforge.checklists import Checklist
from polyforge.config import CampaignConfig
from polyforge.generation.item_graph import build_item_graph
from polyforge.generation.item_runner import ItemRunner
from polyforge.generation.item_steps import ItemSettings
from polyforge.ingest.decontamination import benchmarks_of
from polyforge.ingest.paraphrases import paraphrase_index
from polyforge.languages import grammar_names
from polyforge.llm import ChatBackend, create_backend
from polyforge.memory import MemoryBank
from polyforge.prompts import PromptLibrary, Taxonomy
from polyforge.sandbox import Limits, Sandbox, Status
from polyforge.sandbox.pool import ExecutionPool, ResultCache


class Backends(NamedTuple):
    generator: ChatBackend
    judge: ChatBackend
    second_judge: ChatBackend | None = None
    tester: ChatBackend | None = None  # None: the generator writes the tests

    @classmethod
    def from_config(cls, config: CampaignConfig, on_notice: Callable[[str], None] = lambda message: None) -> Backends:
        """One backend per role (a role of the same model as an earlier one shares its backend); `on_notice`
        hears of endpoint outages."""
        models = config.models
        generator = create_backend(models.generator, "generator", on_notice)
        judge = (generator if models.judge in (None, models.generator)
                 else create_backend(models.judge, "judge", on_notice))
        second = create_backend(models.second_judge, "second_judge", on_notice) if models.second_judge else None
        if models.tester in (None, models.generator):
            tester = None
        else:
            tester = judge if models.tester == models.judge else create_backend(models.tester, "tester", on_notice)
        return cls(generator, judge, second, tester)

    @property
    def test_writer(self) -> ChatBackend:
        """The backend that writes the tests: the tester's, else the generator's."""
        return self.tester or self.generator

    def distinct(self) -> list[ChatBackend]:
        """Each backend once, for closing."""
        unique: list[ChatBackend] = []
        for backend in self:
            if backend is not None and all(backend is not seen for seen in unique):
                unique.append(backend)
        return unique


def item_settings(config: CampaignConfig) -> ItemSettings:
    discussion = config.generation.discussion
    # The benchmarks the ingest keeps out of the snippets are kept out of what the models write, too.
    benchmarks = benchmarks_of(config.ingest)
    return ItemSettings(config.sampling.candidates, config.memory.novelty_threshold, discussion.rounds,
                        discussion.transfer, config.generation.gates, benchmarks if len(benchmarks) else None,
                        config.sampling.candidates_until_pass,
                        frozenset(Status(status) for status in config.sampling.answer_again_after),
                        config.sampling.repair_turns, paraphrase_index(config.ingest),
                        config.ingest.paraphrase_threshold)


def language_agents(config: CampaignConfig, generator: ChatBackend, languages: Iterable[str],
                    banks: Mapping[str, MemoryBank], prompts: PromptLibrary) -> dict[str, LanguageAgent]:
    sampling = config.sampling
    return {language: LanguageAgent(language, generator, sampling.instruction, sampling.answer,
                                    memory=banks.get(language), few_shot=config.memory.few_shot, prompts=prompts)
            for language in languages}


def judge_agent(config: CampaignConfig, backends: Backends, checklist: Checklist,
                prompts: PromptLibrary) -> JudgeAgent:
    return JudgeAgent(backends.judge, checklist, config.sampling.judge, config.judge,
                      second_backend=backends.second_judge, grammars=grammar_names(), prompts=prompts)


def execution_pool(config: CampaignConfig, pool: type[ExecutionPool] = ExecutionPool) -> ExecutionPool | None:
    """The sandbox pool that runs generated tests (of class `pool`), or None when execution is off."""
    settings = config.execution
    if not settings.enabled:
        return None
    limits = Limits(cpu_seconds=settings.cpu_seconds, wall_seconds=settings.wall_seconds, memory_mb=settings.memory_mb)
    cache = ResultCache(config.output_dir / "sandbox-cache.db") if settings.cache else None
    return pool(Sandbox(limits, compile_cache_mb=settings.compile_cache_mb), settings.workers, cache, settings.repeats)


def item_runner(config: CampaignConfig, test_writer: ChatBackend, agents: Mapping[str, LanguageAgent],
                judge: JudgeAgent, taxonomy: Taxonomy | None, executor: ExecutionPool | None,
                prompts: PromptLibrary) -> ItemRunner:
    """The item runner for this campaign: the item graph compiled over its agents, judge, tester and sandbox;
    `test_writer` (models.tester, else the generator) writes the tests."""
    tester = TesterAgent(test_writer, config.sampling.tester, prompts) if executor is not None else None
    return ItemRunner(build_item_graph(agents, judge, item_settings(config), taxonomy, tester, executor))
