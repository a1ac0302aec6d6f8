"""A campaign, wired: ingest into the database, schedule work items, run them concurrently, record them.

Every finished work item is committed on its own, so a crash loses at most the items in flight;
running the same config again resumes the campaign of that name and skips snippets already done.
The jobs live in their own modules: the scheduler picks items, the budget caps them, the item
runner runs one, the recorder stores it; this module only connects them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from polyforge.agents.judge import judge_sampling
from polyforge.checklists import load_checklist
from polyforge.config import CampaignConfig
from polyforge.generation.budget import Budget
from polyforge.generation.coverage import Coverage
from polyforge.generation.item_runner import ItemResult, RunsItems
from polyforge.generation.item_state import WorkItem
from polyforge.generation.memory_banks import BankSettings, open_banks, save_banks
from polyforge.generation.recorder import EndpointUsageLog, Provenance, StoredPair, record_item, record_versions
from polyforge.generation.scheduler import Schedule, SchedulePolicy, plan_work
from polyforge.generation.wiring import Backends, execution_pool, item_runner, judge_agent, language_agents
from polyforge.ingest import IngestReport, SnippetRecord, stream_snippets
from polyforge.ingest.instructions import stream_instructions
from polyforge.ingest.store import store_ingest_run, store_snippets
from polyforge.llm import ChatBackend
from polyforge.llm.pool import EndpointPool, EndpointStats
from polyforge.memory import MemoryBank, shared_embedder
from polyforge.prompts import PromptLibrary, load_taxonomy
from polyforge.sandbox.doctor import require_sandbox
from polyforge.storage import Pair, database, database_url
from polyforge.storage.campaigns import find_or_create_campaign, mark_campaign, requeue_failed
from polyforge.storage.models import utcnow
from polyforge.storage.report import coverage_counts
from polyforge.storage.spending import record_generation_run
from polyforge.terms import CampaignStatus, PairStatus


@dataclass
class CampaignProgress:
    """What a progress display needs; the runner calls `on_*` hooks as work happens."""

    on_ingested: Callable[[IngestReport], None] = lambda report: None
    on_scheduled: Callable[[int], None] = lambda total: None  # called again when transfers add pairs
    on_item_done: Callable[[str, str], None] = lambda language, status: None
    on_notice: Callable[[str], None] = lambda message: None  # endpoints ejected, down, back


@dataclass
class MemoryReport:
    size: int  # entries in the bank after the run
    index: str  # flat or ivf
    origin: str  # new, loaded, or rebuilt (why)


@dataclass
class CampaignResult:
    campaign_id: int
    database_url: str
    new_pairs: int = 0
    statuses: Counter = field(default_factory=Counter)  # this run's pairs by status
    stopped_by: str | None = None
    memory: dict[str, MemoryReport] = field(default_factory=dict)
    duplicates: Counter = field(default_factory=Counter)  # this run's novelty rejections per language
    coverage: Coverage | None = None
    endpoints: list[EndpointStats] = field(default_factory=list)  # this run's calls per server endpoint
    requeued: int = 0  # failed items scheduled again (`retry_failed`)
    seconds: float = 0.0  # this run's wall time, from the first work item on


class CampaignRunner:
    def __init__(self, config: CampaignConfig, progress: CampaignProgress | None = None,
                 backends: tuple[ChatBackend, ...] | None = None, new_campaign: bool = False,
                 retry_failed: bool = False, check_sandbox: bool = False):
        """`backends` (generator, judge[, second judge]) replaces the configured ones; tests pass doubles here.
        `new_campaign` starts the config over as a new campaign instead of resuming the last one of its name
        (the memory banks are still reused); `retry_failed` schedules the campaign's failed items again.
        `check_sandbox`, when execution is on: raise SandboxMissing before any work when bubblewrap is missing,
        and after ingest, before any item runs, when a campaign language lacks its toolchain."""
        self.config = config
        self.new_campaign, self.retry_failed = new_campaign, retry_failed
        self.check_sandbox = check_sandbox and config.execution.enabled
        self.progress = progress or CampaignProgress()
        self._backends = Backends(*backends) if backends is not None else None
        self.checklist = load_checklist(config.judge.checklist)
        self.prompts = PromptLibrary(config.prompts.folder)
        self.taxonomy = load_taxonomy(config.coverage.taxonomy) if config.coverage.classify else None
        judge_sampling(self.checklist, bool(config.judge.rationales), config.sampling.judge)  # refused before any work

    async def run(self) -> CampaignResult:
        config = self.config
        url = config.database_url or database_url(config.output_dir)
        if self.check_sandbox:
            require_sandbox()  # bubblewrap; the languages' toolchains once ingest has found them
        with database(url) as sessions:
            result = CampaignResult(0, url)
            schedule, budget = self._prepare(sessions, result)
            campaign_id = result.campaign_id
            started_at, started = utcnow(), time.perf_counter()
            try:
                await self._run(sessions, schedule, budget, result)
            except BaseException:
                with sessions() as session:
                    mark_campaign(session, campaign_id, CampaignStatus.interrupted)
                raise
            finally:  # the servers were held this long, whether the run finished or not (GPU-hour prices)
                result.seconds = time.perf_counter() - started
                with sessions() as session:
                    record_generation_run(session, campaign_id, started_at, result.seconds, result.new_pairs)
            with sessions() as session:
                mark_campaign(session, campaign_id, CampaignStatus.finished)
        return result

    def _prepare(self, sessions: sessionmaker, result: CampaignResult) -> tuple[Schedule, Budget]:
        """Open (or resume) the campaign, stream the sources' snippets into it, and plan the pending items."""
        config = self.config
        started = time.perf_counter()
        with sessions() as session:
            campaign = find_or_create_campaign(session, config.name, config.model_dump(mode="json"),
                                               new=self.new_campaign)
            mark_campaign(session, campaign.id, CampaignStatus.running)
            result.campaign_id = campaign.id
            if self.retry_failed:
                result.requeued = requeue_failed(session, campaign.id)
            record_versions(session, self.checklist, self.prompts)
            report = IngestReport()
            store_snippets(session, campaign.id, _source_records(config, report))
            store_ingest_run(session, campaign.id, report, time.perf_counter() - started)
            self.progress.on_ingested(report)
            pairs_done = session.scalar(select(func.count(Pair.id)).where(Pair.campaign_id == campaign.id))
            budget = Budget(config.budgets.max_pairs, pairs_done, config.budgets.max_tokens)
            schedule = plan_work(session, campaign.id, budget.pairs_left, SchedulePolicy.from_config(config))
        return schedule, budget

    async def _run(self, sessions: sessionmaker, schedule: Schedule, budget: Budget, result: CampaignResult) -> None:
        if self.check_sandbox:
            require_sandbox(sorted(schedule.languages))
        if self.taxonomy is not None:
            with sessions() as session:
                result.coverage = Coverage(self.taxonomy, coverage_counts(session))
        if self.config.workers.executor == "ray":
            if schedule.total:
                await self._run_on_ray(sessions, schedule, budget, result)
            else:
                self.progress.on_scheduled(0)
        else:
            await self._run_here(sessions, schedule, budget, result)

    async def _run_here(self, sessions: sessionmaker, schedule: Schedule, budget: Budget,
                        result: CampaignResult) -> None:
        """The local executor: agents, banks and sandbox pool in this process."""
        config = self.config
        languages = schedule.languages
        bank_settings = BankSettings.from_config(config)
        banks: dict[str, MemoryBank] = {}
        origins: dict[str, str] = {}
        if config.memory.enabled and schedule.total:
            with sessions() as session:
                banks, origins = open_banks(session, bank_settings, languages, shared_embedder())
        self.progress.on_scheduled(schedule.total)
        backends = self._backends or Backends.from_config(config, self.progress.on_notice)
        pools = [backend for backend in backends.distinct() if isinstance(backend, EndpointPool)]
        usage = EndpointUsageLog(lambda: [stats for pool in pools for stats in pool.stats()])
        executor = execution_pool(config)
        try:
            agents = language_agents(config, backends.generator, languages, banks, self.prompts)
            judge = judge_agent(config, backends, self.checklist, self.prompts)
            runner = item_runner(config, backends.test_writer, agents, judge, self.taxonomy, executor, self.prompts)
            provenance = self._provenance(result, backends.generator.name, judge.model_names)

            async def store_here(outcome: ItemResult) -> list[StoredPair]:
                with sessions() as session:
                    return record_item(session, provenance, outcome)

            await self._loop(runner, store_here, budget, sessions, provenance, result, usage).run(
                schedule.items(sessions), schedule.total, config.items_in_flight)
        finally:
            if executor is not None:
                executor.close()
            with sessions() as session:
                save_banks(session, bank_settings, banks)
                usage.flush(session, result.campaign_id)
            result.endpoints = usage.read()
            for backend in backends.distinct():
                await backend.aclose()
        result.memory = {language: MemoryReport(len(bank), bank.index_kind, origins[language])
                         for language, bank in banks.items()}

    async def _run_on_ray(self, sessions: sessionmaker, schedule: Schedule, budget: Budget,
                          result: CampaignResult) -> None:
        """The Ray executor: a worker per language runs and stores the items; this process schedules them."""
        from polyforge.generation.ray_workers import RayWorkers, merged_endpoint_stats

        if self._backends is not None:
            raise ValueError("backends passed in code run in this process: use the local executor with them")
        workers = RayWorkers(self.config, result.database_url, schedule.languages)
        reports = []
        usage = EndpointUsageLog(lambda: merged_endpoint_stats(reports))  # the workers report when they finish
        try:
            provenance = self._provenance(result, *await workers.model_names())  # once every worker is up
            self.progress.on_scheduled(schedule.total)

            async def store_on_worker(outcome: ItemResult) -> list[StoredPair]:
                return await workers.store(outcome, provenance)

            await self._loop(workers, store_on_worker, budget, sessions, provenance, result, usage).run(
                schedule.items(sessions), schedule.total, self.config.items_in_flight)
        finally:
            reports = await workers.finish()
            with sessions() as session:
                usage.flush(session, result.campaign_id)
            result.endpoints = usage.read()
        result.memory = {report.language: MemoryReport(report.bank_size, report.bank_index, report.bank_origin)
                         for report in reports if report.bank_size is not None}

    def _provenance(self, result: CampaignResult, generator: str, judges: list[str]) -> Provenance:
        return Provenance(result.campaign_id, generator, judges, self.checklist.content_hash,
                          {criterion.id: criterion.weight for criterion in self.checklist.criteria},
                          self.config.sampling.model_dump(mode="json"), self.config.judge.preferences_from_scores)

    def _loop(self, runner: RunsItems, store: StoreItem, budget: Budget, sessions: sessionmaker,
              provenance: Provenance, result: CampaignResult, usage: EndpointUsageLog) -> _ItemLoop:
        config = self.config
        return _ItemLoop(runner, store, budget, sessions, provenance, result, self.progress, config.coverage.steer,
                         config.generation.discussion.transfer, usage)


def _source_records(config: CampaignConfig, report: IngestReport) -> Iterator[SnippetRecord]:
    """The tasks of the instruction datasets, then the snippets of the code sources: stored in that order, a
    language's given tasks are scheduled before its snippets (they need no instruction written), so a per-language
    cap (budgets.max_snippets_per_language) takes tasks first."""
    yield from stream_instructions(config.sources, report, config.languages)
    code = [source.location if source.files is None else source for source in config.sources
            if source.instructions is None]
    if code:
        # A campaign on Ray ingests on the same cluster.
        yield from stream_snippets(code, config.ingest, report, config.languages, executor=config.workers.executor,
                                   ray_address=config.workers.ray_address)


StoreItem = Callable[[ItemResult], Awaitable[list[StoredPair]]]  # stores a finished item in one transaction


class _ItemLoop:
    """Workers that take items in order, reserve their budget, run them, and store each as it finishes."""

    USAGE_FLUSH_S = 15.0  # how often endpoint usage reaches the database while the campaign runs

    def __init__(self, runner: RunsItems, store: StoreItem, budget: Budget, sessions: sessionmaker,
                 provenance: Provenance, result: CampaignResult, progress: CampaignProgress, steer: bool,
                 transfers: bool, usage: EndpointUsageLog):
        self.runner, self.store, self.budget, self.sessions, self.provenance = runner, store, budget, sessions, provenance
        self.result, self.progress, self.steer, self.transfers = result, progress, steer, transfers
        self.usage, self.usage_flushed = usage, time.monotonic()
        self.expected = 0  # items scheduled, transfers included
        self.pair_budget = budget.pairs_left

    async def run(self, items: Iterable[WorkItem], total: int, concurrency: int) -> None:
        """Run `items` (`total` of them, taken lazily) with at most `concurrency` in flight."""
        self.expected = total
        queue = iter(items)  # shared: each item goes to exactly one worker
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(min(concurrency, max(total, 1)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:  # one worker's failure (every endpoint down, a bug) stops the others: they stay pending
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise

    async def _worker(self, queue) -> None:
        coverage = self.result.coverage
        for item in queue:
            reservation = self.budget.reserve(len(item.peers), self.transfers)
            if reservation is None:
                self.result.stopped_by = self.budget.exhausted
                return
            item = replace(item, peers=item.peers[:reservation.peers])
            if coverage is not None and self.steer and item.instruction is None:  # a given task is not written
                item = replace(item, target=coverage.reserve(item.language))
            outcome = await self.runner.run(item)
            if outcome.transfers:
                self.expected += len(outcome.transfers)
                self.progress.on_scheduled(min(self.expected, self.pair_budget))
            self._count_coverage(outcome)
            pairs = await self.store(outcome)
            if time.monotonic() - self.usage_flushed > self.USAGE_FLUSH_S:
                with self.sessions() as session:
                    self.usage.flush(session, self.provenance.campaign_id)
                self.usage_flushed = time.monotonic()
            self.budget.settle(reservation, len(pairs), sum(pair.total_tokens for pair in pairs))
            for pair in pairs:
                self.result.statuses[pair.status] += 1
                if pair.status == PairStatus.duplicate:
                    self.result.duplicates[pair.language] += 1
                self.result.new_pairs += 1
                self.progress.on_item_done(pair.language, pair.status)

    def _count_coverage(self, outcome: ItemResult) -> None:
        coverage = self.result.coverage
        if coverage is None:
            return
        for state in outcome.states:
            labels = state.classification
            if state.item.target is not None or labels is not None:
                coverage.record(state.item.language, state.item.target, labels and labels.topic,
                                labels and labels.difficulty)
