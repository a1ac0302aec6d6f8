"""The Ray executor: a campaign's work items run on Ray actors, one per language.

The driver (the campaign's own process) schedules the items and keeps the budget; the workers run
the items and store each finished one in the campaign's database. Each language's actor owns that
language's agent and memory bank, so the novelty checks of a language are made in one place and
stay consistent (no two workers admit near-duplicates), and it saves its bank when the campaign
ends. The actor makes its items' LLM calls (judge and tester included); their sandbox runs are Ray
tasks, placed on whichever node has a CPU free.

An actor that dies (its process killed, its node lost) is restarted by Ray and the call retried, so
an item in flight on it runs again; an item is stored in one transaction once it has finished, so a
worker that dies before that stored nothing of it, and nothing is stored twice. The workers open the
campaign's database, so with workers on more than one node the database must be a server every node
reaches: PostgreSQL, not a SQLite file.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from polyforge.config import CampaignConfig
from polyforge.generation.cluster import RayExecutorError, check_cpus, check_database_for_cluster
from polyforge.generation.item_graph import run_item
from polyforge.generation.item_runner import ItemResult, transfer_items
from polyforge.generation.item_state import ItemState, WorkItem
from polyforge.generation.memory_banks import BankSettings, open_banks, save_banks
from polyforge.generation.wiring import Backends, execution_pool, item_runner, judge_agent, language_agents
from polyforge.llm.pool import EndpointPool, EndpointStats
from polyforge.generation.recorder import Provenance, StoredPair, record_item
from polyforge.sandbox import Execution, Limits, Sandbox
from polyforge.sandbox.pool import ExecutionPool, Job, run_repeated
from polyforge.storage import open_engine, session_factory
from polyforge.storage.endpoint_usage import COUNTED


def _sandbox_runs(job: Job, limits: Limits, repeats: int, compile_cache_mb: int) -> Execution:
    """A Ray task: the job's runs, in a sandbox of the node Ray placed the task on (with that node's compile cache)."""
    return run_repeated(Sandbox(limits, compile_cache_mb=compile_cache_mb), job, limits, repeats)


class RaySandboxPool(ExecutionPool):
    """Sandbox runs as Ray tasks of one CPU each, placed wherever the cluster has one free; the result cache
    and the counts stay with the worker that asked. Every node needs the languages' toolchains."""

    def __init__(self, *args, **kwargs):
        import ray

        super().__init__(*args, **kwargs)
        self._task = ray.remote(num_cpus=1, max_retries=3)(_sandbox_runs)  # a node lost mid-run: run again

    def _run_repeated(self, job: Job, limits: Limits) -> Execution:
        import ray

        return ray.get(self._task.remote(job, limits, self.repeats, self.sandbox.compile_cache_mb))


@dataclass
class WorkerReport:
    """What a language's worker tells the driver when the campaign ends."""

    language: str
    bank_size: int | None  # entries in its memory bank (None: memory off)
    bank_index: str  # flat or ivf
    bank_origin: str
    endpoints: list[EndpointStats]


class LanguageWorker:
    """One language's worker (a Ray actor): its agent and memory bank, the judge, the tester and a sandbox
    pool whose runs are Ray tasks, compiled into the item graph. Discussion peers' agents are here too
    (without banks): they only critique; the tasks they carry over run on their own language's worker."""

    def __init__(self, config: CampaignConfig, database_url: str, language: str, languages: list[str]):
        from polyforge.checklists import load_checklist
        from polyforge.memory import shared_embedder
        from polyforge.prompts import PromptLibrary, load_taxonomy

        self.config = config
        self.language = language
        self.engine = open_engine(database_url, create=False)
        self.sessions = session_factory(self.engine)
        self.settings = BankSettings.from_config(self.config)
        prompts = PromptLibrary(self.config.prompts.folder)
        self.banks, origins = {}, {}
        if self.config.memory.enabled:
            with self.sessions() as session:
                self.banks, origins = open_banks(session, self.settings, [language], shared_embedder())
        self.origin = origins.get(language, "off")
        self.backends = Backends.from_config(self.config)
        checklist = load_checklist(self.config.judge.checklist)
        taxonomy = load_taxonomy(self.config.coverage.taxonomy) if self.config.coverage.classify else None
        agents = language_agents(self.config, self.backends.generator, languages, self.banks, prompts)
        self.judge = judge_agent(self.config, self.backends, checklist, prompts)
        self.executor = execution_pool(self.config, RaySandboxPool)
        self.runner = item_runner(self.config, self.backends.test_writer, agents, self.judge, taxonomy, self.executor,
                                  prompts)

    def pid(self) -> int:
        import os

        return os.getpid()

    def model_names(self) -> tuple[str, list[str]]:
        """The generator's name and the judge's model names, for the pairs' provenance."""
        return self.backends.generator.name, self.judge.model_names

    async def run(self, item: WorkItem) -> ItemState:
        return await run_item(self.runner.graph, item)

    async def store(self, result: ItemResult, provenance: Provenance) -> list[StoredPair]:
        def record() -> list[StoredPair]:
            with self.sessions() as session:
                return record_item(session, provenance, result)

        return await asyncio.to_thread(record)  # the other items' calls go on meanwhile

    async def finish(self) -> WorkerReport:
        """Save the bank, stop the sandbox pool, close the backends; what this worker did."""
        if self.executor is not None:
            self.executor.close()
        with self.sessions() as session:
            save_banks(session, self.settings, self.banks)
        self.engine.dispose()
        endpoints = [stats for backend in self.backends.distinct() if isinstance(backend, EndpointPool)
                     for stats in backend.stats()]
        for backend in self.backends.distinct():
            await backend.aclose()
        bank = self.banks.get(self.language)
        return WorkerReport(self.language, len(bank) if bank is not None else None,
                            bank.index_kind if bank is not None else "", self.origin, endpoints)


class RayWorkers:
    """The language workers of one campaign run, and the item runner that sends them items."""

    def __init__(self, config: CampaignConfig, database_url: str, languages: set[str]):
        import ray

        settings = config.workers
        if not ray.is_initialized():
            # A local Ray when no address is given; workers import polyforge from this same environment.
            ray.init(address=settings.ray_address, log_to_driver=False, configure_logging=False)
        alive = [node for node in ray.nodes() if node["Alive"]]
        check_database_for_cluster(database_url, len(alive))
        check_cpus(ray.cluster_resources().get("CPU", 0), len(languages), settings.cpus_per_language,
                   sandbox=config.execution.enabled)
        # Paths resolved here: a worker's current folder is not the driver's.
        portable = config.model_copy(update={"output_dir": Path(config.output_dir).resolve()})
        actor = ray.remote(LanguageWorker).options(
            num_cpus=settings.cpus_per_language, max_concurrency=config.items_in_flight,
            # A dead worker is started again and its calls retried: the item in flight on it runs again.
            max_restarts=-1, max_task_retries=-1)
        # The config object itself, not its dump: which fields were set explicitly matters (a judge budget left
        # out is derived), and a pickled pydantic model keeps that.
        self.actors = {language: actor.remote(portable, database_url, language, sorted(languages))
                       for language in sorted(languages)}

    async def model_names(self) -> tuple[str, list[str]]:
        """The generator's and the judge's model names, once every worker is up."""
        from ray.exceptions import ActorDiedError

        try:
            names = await asyncio.gather(*(actor.model_names.remote() for actor in self.actors.values()))
        except ActorDiedError as exc:  # its __init__ raised: the last line of the remote traceback says why
            raise RayExecutorError(f"a language worker could not start: {str(exc).strip().splitlines()[-1]}") from exc
        return names[0]

    async def pids(self) -> dict[str, int]:
        return {language: await actor.pid.remote() for language, actor in self.actors.items()}

    async def run(self, item: WorkItem) -> ItemResult:
        """An item on its language's worker, and the tasks its discussion carried over on theirs."""
        state = await self.actors[item.language].run.remote(item)
        transfers = await asyncio.gather(*(self.actors[child.language].run.remote(child)
                                           for child in transfer_items(state)))
        return ItemResult(state, list(transfers))

    async def store(self, result: ItemResult, provenance: Provenance) -> list[StoredPair]:
        """The item stored by its language's worker, in one transaction with its transfers."""
        return await self.actors[result.state.item.language].store.remote(result, provenance)

    async def finish(self) -> list[WorkerReport]:
        """Each live worker's report (a worker that never started has none), then every worker stopped."""
        import ray

        answers = await asyncio.gather(*(actor.finish.remote() for actor in self.actors.values()),
                                       return_exceptions=True)
        for actor in self.actors.values():
            ray.kill(actor)
        return [answer for answer in answers if isinstance(answer, WorkerReport)]


def merged_endpoint_stats(reports: list[WorkerReport]) -> list[EndpointStats]:
    """Each endpoint's calls summed over the workers that used it."""
    merged: dict[tuple[str, str], EndpointStats] = {}
    for report in reports:
        for stats in report.endpoints:
            total = merged.setdefault((stats.role, stats.base_url), EndpointStats(stats.base_url, stats.model, stats.role))
            total.last_error = stats.last_error or total.last_error
            for name in COUNTED:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
    return list(merged.values())
