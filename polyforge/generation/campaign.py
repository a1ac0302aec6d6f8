"""The campaign runner: ingest, schedule work items across languages, run them concurrently, store.

Every finished work item is committed on its own, so a crash loses at most the items in flight;
running the same config again resumes the campaign of that name and skips snippets already done.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from polyforge.agents import JudgeAgent, LanguageAgent, TesterAgent, Verdict
from polyforge.checklists import Checklist, load_checklist
from polyforge.config import CampaignConfig, ConfigError, DiscussionConfig
from polyforge.generation.graph import (
    WorkItem,
    WorkItemState,
    build_item_graph,
    preferences,
    run_item,
    stage_completions,
)
from polyforge.generation.coverage import Coverage
from polyforge.generation.memory_banks import open_banks, save_banks
from polyforge.ingest import IngestReport, ingest
from polyforge.ingest.languages import grammar_names, language_by_name
from polyforge.ingest.store import store_ingest_run, store_snippets
from polyforge.llm import ChatBackend, create_backend
from polyforge.memory import shared_embedder
from polyforge.prompts import PromptLibrary, load_taxonomy
from polyforge.sandbox import Limits, Sandbox
from polyforge.sandbox.pool import ExecutionPool, ResultCache
from polyforge.storage import (
    Campaign,
    ChecklistVersion,
    Discussion,
    DiscussionTurn,
    ExecutionRecord,
    JudgeScore,
    Pair,
    Preference,
    PromptVersion,
    Snippet,
    database_url,
    open_engine,
    session_factory,
)
from polyforge.storage.models import utcnow
from polyforge.storage.report import coverage_counts


@dataclass
class CampaignProgress:
    """What a progress display needs; the runner calls `on_*` hooks as work happens."""

    on_ingested: Callable[[IngestReport], None] = lambda report: None
    on_scheduled: Callable[[int], None] = lambda total: None  # called again when transfers add pairs
    on_item_done: Callable[[str, str], None] = lambda language, status: None


@dataclass
class MemoryReport:
    size: int  # entries in the bank after the run
    index: str  # flat or ivf
    origin: str  # new, loaded, or rebuilt (why)


@dataclass
class CampaignResult:
    campaign_id: int
    database_url: str
    new_pairs: int
    statuses: dict[str, int] = field(default_factory=dict)  # this run's items by status
    stopped_by: str | None = None
    memory: dict[str, MemoryReport] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)  # this run's novelty rejections per language
    coverage: Coverage | None = None


def open_campaign(session: Session, config: CampaignConfig, new: bool = False) -> Campaign:
    """The newest campaign of this name in this database (resumed), or a new one when there is none or `new`."""
    campaign = None if new else session.scalar(
        select(Campaign).where(Campaign.name == config.name).order_by(Campaign.id.desc()))
    if campaign is None:
        campaign = Campaign(name=config.name, config=config.model_dump(mode="json"))
        session.add(campaign)
    campaign.status = "running"
    campaign.finished_at = None
    session.commit()
    return campaign


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


def pick_mode(modes: dict[str, float], item_seed: int) -> str:
    """The item's generation mode, drawn by the configured shares; the same seed always draws the same."""
    names = sorted(modes)
    return random.Random(item_seed).choices(names, weights=[modes[name] for name in names])[0]


def pick_peers(language: str, pool: list[str], discussion: DiscussionConfig, item_seed: int,
               pairs_per_language: Counter | None = None) -> list[str]:
    """The languages that discuss the item's instruction (none: no discussion).

    Peers are the languages with the fewest pairs in `pairs_per_language`, a running tally that each
    pick adds to, so that transfers go where data is scarcest and spread out; the seed breaks ties,
    and the same seed with the same tally draws the same peers.
    """
    draw = random.Random(f"discussion:{item_seed}")
    others = [peer for peer in pool if peer != language]
    if not others or draw.random() >= discussion.share:
        return []
    tally = pairs_per_language if pairs_per_language is not None else Counter()
    chosen = sorted(others, key=lambda peer: (tally[peer], draw.random()))[:discussion.peers]
    tally.update(chosen)
    return chosen


def configured_peer_languages(config: CampaignConfig) -> list[str] | None:
    """The languages discussion peers must come from, by their canonical names; None: any language found."""
    names = config.generation.discussion.peer_languages
    if names is None:
        return None
    unknown = [name for name in names if language_by_name(name) is None]
    if unknown:
        raise ConfigError(f"generation.discussion.peer_languages: unknown language(s) {unknown}; "
                          "use the names `polyforge identify` prints, e.g. Python, C++, JavaScript")
    return sorted({language_by_name(name).name for name in names})


def pending_work(session: Session, campaign: Campaign, limit: int, per_language: int | None, seed: int,
                 modes: dict[str, float] | None = None, discussion: DiscussionConfig | None = None,
                 peers_from: list[str] | None = None) -> list[WorkItem]:
    """Snippets without a pair, interleaved across languages so a small budget still covers them all.

    With a discussion share, drawn items get peers from `peers_from` (default: the languages pending),
    the languages with the fewest pairs first.
    """
    modes = modes or {"snippet": 1.0}
    done = select(Pair.snippet_id).where(Pair.campaign_id == campaign.id)
    rows = session.scalars(
        select(Snippet).where(Snippet.campaign_id == campaign.id, Snippet.id.not_in(done)).order_by(Snippet.id)
    )
    by_language: dict[str, list[Snippet]] = defaultdict(list)
    for snippet in rows:
        by_language[snippet.language].append(snippet)
    # The per-language cap counts what earlier runs of the campaign already did, so a resume keeps it.
    done_per_language = dict(session.execute(
        select(Pair.language, func.count()).where(Pair.campaign_id == campaign.id, Pair.origin != "transfer")
        .group_by(Pair.language)
    ).all())
    queues = [
        snippets[: max(per_language - done_per_language.get(language, 0), 0)] if per_language else snippets
        for language, snippets in sorted(by_language.items())
    ]
    interleaved = (s for group in itertools.zip_longest(*queues) for s in group if s is not None)
    pool = peers_from if peers_from is not None else sorted(by_language)
    pairs_per_language = Counter(dict(session.execute(
        select(Pair.language, func.count()).where(Pair.campaign_id == campaign.id).group_by(Pair.language)).all()))

    def work_item(snippet: Snippet) -> WorkItem:
        drawn = item_seed(seed, snippet)
        return WorkItem(snippet_id=snippet.id, language=snippet.language, path=snippet.path, code=snippet.code,
                        seed=drawn, mode=pick_mode(modes, drawn),
                        peers=pick_peers(snippet.language, pool, discussion, drawn, pairs_per_language)
                        if discussion else [])

    return [work_item(snippet) for snippet in itertools.islice(interleaved, limit)]


def item_seed(seed: int, snippet: Snippet) -> int:
    """The campaign seed plus 28 bits of the snippet's content hash: the same code draws the same samples
    in any database and any campaign, so a config run again reproduces its instructions."""
    return seed + int(snippet.content_hash[:7], 16)


TRANSFER_SEED_STRIDE = 1_000_003


def transfer_items(item: WorkItem, state: WorkItemState) -> list[WorkItem]:
    """The work items a discussion's transfers become: the same snippet, a peer's language, the task given."""
    return [
        WorkItem(snippet_id=item["snippet_id"], language=language, path=item["path"], code=item["code"],
                 seed=item["seed"] + (index + 1) * TRANSFER_SEED_STRIDE, mode="transfer", instruction=task)
        for index, (language, task) in enumerate(state.get("transfers", {}).items())
    ]


def _preference(pair: Pair, chosen: Verdict, rejected_text: str, rejected: Verdict) -> Preference:
    rejected_score = "unscored" if rejected.final_score is None else f"{rejected.final_score:.2f}"
    return Preference(
        prompt=pair.instruction, chosen=pair.answer, rejected=rejected_text, chosen_score=chosen.final_score,
        rejected_score=rejected.final_score, reason=f"judge score {chosen.final_score:.2f} vs {rejected_score}",
    )


OUTPUT_KEPT = 4000  # characters of a run's stdout and stderr stored with it (the end, where errors are)


def _execution_records(state: WorkItemState) -> list[ExecutionRecord]:
    """The sandbox runs of every candidate, the chosen one marked."""
    tests, answer = state.get("tests"), state.get("answer")
    records = []
    for index, (candidate, execution) in enumerate(zip(state.get("candidates", []), state.get("executions") or [])):
        if execution is None or tests is None:
            continue
        records.append(ExecutionRecord(
            candidate=index, chosen=candidate is answer, language=execution.language, status=execution.status.value,
            reason=execution.reason, exit_code=execution.exit_code, stdout=execution.stdout[-OUTPUT_KEPT:],
            stderr=execution.stderr[-OUTPUT_KEPT:], seconds=execution.seconds, flaky=execution.flaky,
            tests=tests.text,
        ))
    return records


def pair_from_state(
    config: CampaignConfig, campaign_id: int, generator: ChatBackend, judge: JudgeAgent, state: WorkItemState,
) -> Pair:
    """The pair a finished work item made, with its scores, runs, preferences and provenance."""
    item = state["item"]
    instruction, answer, verdict = state.get("instruction"), state.get("answer"), state.get("verdict")
    spent = stage_completions(state)
    tokens = {
        stage: {"prompt": sum(c.prompt_tokens for c in cs), "completion": sum(c.completion_tokens for c in cs),
                "calls": len(cs)}
        for stage, cs in spent.items()
    }
    turns = [turn.output for turn in state.get("discussion") or []]
    templates = {out.template: out.template_hash for out in (*turns, instruction, answer, state.get("tests")) if out}
    if state.get("classification") is not None:
        templates["classify"] = state["classification"].template_hash
    if verdict is not None:
        templates["judge"] = verdict.template_hash
    labels = state.get("classification")
    pair = Pair(
        campaign_id=campaign_id,
        snippet_id=item["snippet_id"],
        language=item["language"],
        instruction=instruction.text if instruction else "",
        answer=answer.text if answer else "",
        status=state["status"],
        topic=labels.topic if labels else None,
        difficulty=labels.difficulty if labels else None,
        final_score=verdict.final_score if verdict else None,
        score_spread=verdict.score_spread if verdict else None,
        flag_reason=verdict.flag_reason if verdict else None,
        error=state.get("error") or (verdict.error if verdict else None),
        model=generator.name,
        judge_model=judge.model_names,
        sampling={**config.sampling.model_dump(mode="json"), "item_seed": item["seed"],
                  "mode": item.get("mode", "snippet")},
        templates=templates,
        checklist_hash=judge.checklist.content_hash,
        judge_samples=[sample.as_record() for sample in verdict.samples] if verdict else None,
        tokens=tokens,
        total_tokens=sum(stage["prompt"] + stage["completion"] for stage in tokens.values()),
        seconds=sum(c.seconds for cs in spent.values() for c in cs),
    )
    pair.preferences = [_preference(pair, verdict, candidate.text, other) for candidate, other in preferences(state)]
    pair.executions = _execution_records(state)
    pair.execution_status = next((record.status for record in pair.executions if record.chosen), None)
    if verdict is not None:
        weights = {c.id: c.weight for c in judge.checklist.criteria}
        pair.scores = [
            JudgeScore(criterion=key, score=value, weight=weights[key], rationale=verdict.rationales.get(key),
                       spread=verdict.spreads.get(key), decided_by=verdict.overrides.get(key, "judge"))
            for key, value in verdict.scores.items()
        ]
    return pair


def record_item(
    session: Session, config: CampaignConfig, campaign_id: int, generator: ChatBackend, judge: JudgeAgent,
    state: WorkItemState, transfers: list[WorkItemState] = (),
) -> list[Pair]:
    """Store one finished work item in its own transaction: its pair, its discussion's transcript and
    the pairs its transfers became, so that a crash keeps all of them or none."""
    pair = pair_from_state(config, campaign_id, generator, judge, state)
    pairs = [pair]
    turns = state.get("discussion")
    if turns:
        item = state["item"]
        discussion = Discussion(
            campaign_id=campaign_id, proposer_language=item["language"], peer_languages=list(item["peers"]),
            rounds=sum(turn.role == "revision" for turn in turns),
            turns=[DiscussionTurn(position=position, round=turn.round, language=turn.language, role=turn.role,
                                  text=turn.output.text, template_hash=turn.output.template_hash)
                   for position, turn in enumerate(turns)],
        )
        pair.origin, pair.discussion = "discussion", discussion
        for transfer in transfers:
            transferred = pair_from_state(config, campaign_id, generator, judge, transfer)
            transferred.origin, transferred.discussion = "transfer", discussion
            pairs.append(transferred)
    session.add_all(pairs)
    session.commit()
    return pairs


class Backends(NamedTuple):
    generator: ChatBackend
    judge: ChatBackend
    second_judge: ChatBackend | None = None

    def distinct(self) -> list[ChatBackend]:
        """Each backend once, for closing."""
        unique: list[ChatBackend] = []
        for backend in self:
            if backend is not None and all(backend is not seen for seen in unique):
                unique.append(backend)
        return unique


class CampaignRunner:
    def __init__(self, config: CampaignConfig, progress: CampaignProgress | None = None,
                 backends: tuple[ChatBackend, ...] | None = None, new_campaign: bool = False):
        """`backends` (generator, judge[, second judge]) replaces the configured ones; tests pass doubles here.
        `new_campaign` starts the config over as a new campaign instead of resuming the last one of its name
        (the memory banks are still reused)."""
        self.config = config
        self.new_campaign = new_campaign
        self.progress = progress or CampaignProgress()
        self._backends = backends
        self.checklist: Checklist = load_checklist(config.judge.checklist)
        self.prompts = PromptLibrary(config.prompts.folder)
        self.peer_languages = configured_peer_languages(config)  # checked before any work starts

    def _create_backends(self) -> Backends:
        if self._backends is not None:
            return Backends(*self._backends)
        models = self.config.models
        generator = create_backend(models.generator)
        judge = generator if models.judge in (None, models.generator) else create_backend(models.judge)
        second = create_backend(models.second_judge) if models.second_judge else None
        return Backends(generator, judge, second)

    async def run(self) -> CampaignResult:
        config = self.config
        url = config.database_url or database_url(config.output_dir)
        engine = open_engine(url)
        sessions: sessionmaker = session_factory(engine)
        started = time.perf_counter()
        report = ingest([source.location for source in config.sources], config.ingest, config.languages)
        self.progress.on_ingested(report)
        with sessions() as session:
            campaign = open_campaign(session, config, self.new_campaign)
            record_versions(session, self.checklist, self.prompts)
            store_snippets(session, campaign.id, report.snippets)
            store_ingest_run(session, campaign.id, report, time.perf_counter() - started)
            existing = session.query(Pair).filter(Pair.campaign_id == campaign.id).count()
            pair_budget = max(config.budgets.max_pairs - existing, 0)
            found = session.scalars(select(Snippet.language).where(Snippet.campaign_id == campaign.id).distinct())
            items = pending_work(
                session, campaign, pair_budget, config.budgets.max_snippets_per_language, config.sampling.seed,
                config.generation.modes, config.generation.discussion,
                sorted(found) if self.peer_languages is None else self.peer_languages,
            )
        languages = {item["language"] for item in items} | {peer for item in items for peer in item["peers"]}
        banks, origins = {}, {}
        if config.memory.enabled and items:
            with sessions() as session:
                banks, origins = open_banks(session, config, languages, shared_embedder())
        self.progress.on_scheduled(len(items))
        backends = self._create_backends()
        try:
            result = await self._run_items(sessions, campaign.id, items, languages, pair_budget, backends, banks)
        except BaseException:
            with sessions() as session:
                session.get(Campaign, campaign.id).status = "interrupted"
                session.commit()
            raise
        finally:
            with sessions() as session:
                save_banks(session, config, banks)
            for backend in backends.distinct():
                await backend.aclose()
        result.memory = {language: MemoryReport(len(bank), bank.index_kind, origins[language])
                         for language, bank in banks.items()}
        with sessions() as session:
            stored = session.get(Campaign, campaign.id)
            stored.status = "finished"
            stored.finished_at = utcnow()
            session.commit()
        result.database_url = url
        engine.dispose()
        return result

    async def _run_items(self, sessions, campaign_id, items, languages, pair_budget: int, backends: Backends,
                         banks) -> CampaignResult:
        config = self.config
        generator = backends.generator
        agents = {
            language: LanguageAgent(language, generator, config.sampling.instruction, config.sampling.answer,
                                    memory=banks.get(language), few_shot=config.memory.few_shot,
                                    prompts=self.prompts)
            for language in languages
        }
        judge = JudgeAgent(backends.judge, self.checklist, config.sampling.judge, config.judge,
                           second_backend=backends.second_judge, grammars=grammar_names(), prompts=self.prompts)
        taxonomy = load_taxonomy(config.coverage.taxonomy) if config.coverage.classify else None
        result = CampaignResult(campaign_id=campaign_id, database_url="", new_pairs=0)
        tester, executor = self._tester_and_executor(generator)
        discussion = config.generation.discussion
        graph = build_item_graph(agents, judge, config.sampling.candidates, config.memory.novelty_threshold, taxonomy,
                                 tester, executor, discussion.rounds, discussion.transfer)
        coverage = None
        if taxonomy is not None:
            with sessions() as session:
                coverage = Coverage(taxonomy, coverage_counts(session))
            result.coverage = coverage
        statuses: dict[str, int] = defaultdict(int)
        spent_tokens, pairs_left, expected = 0, pair_budget, len(items)
        queue = iter(items)

        def count_coverage(item: WorkItem, state: WorkItemState) -> None:
            labels = state.get("classification")
            if coverage is not None and ("target" in item or labels is not None):
                coverage.record(item["language"], item.get("target"), labels and labels.topic,
                                labels and labels.difficulty)

        async def worker() -> None:
            nonlocal spent_tokens, pairs_left, expected
            for item in queue:  # a shared iterator: each item goes to exactly one worker
                if config.budgets.max_tokens is not None and spent_tokens >= config.budgets.max_tokens:
                    result.stopped_by = f"token budget ({config.budgets.max_tokens}) reached"
                    return
                if pairs_left <= 0:
                    result.stopped_by = f"pair budget ({config.budgets.max_pairs}) reached"
                    return
                if discussion.transfer and item["peers"]:  # each transfer will be a pair: keep them in budget
                    item = {**item, "peers": item["peers"][:pairs_left - 1]}
                reserved = 1 + (len(item["peers"]) if discussion.transfer else 0)
                pairs_left -= reserved
                if coverage is not None and config.coverage.steer:
                    item = {**item, "target": coverage.reserve(item["language"])}
                state = await run_item(graph, item)
                children = transfer_items(item, state)
                if children:
                    expected += len(children)
                    self.progress.on_scheduled(min(expected, pair_budget))
                transfers = list(await asyncio.gather(*(run_item(graph, child) for child in children)))
                for finished, finished_state in [(item, state), *zip(children, transfers)]:
                    count_coverage(finished, finished_state)
                with sessions() as session:
                    pairs = record_item(session, config, campaign_id, generator, judge, state, transfers)
                pairs_left += reserved - len(pairs)
                for pair in pairs:
                    spent_tokens += pair.total_tokens
                    statuses[pair.status] += 1
                    if pair.status == "duplicate":
                        result.duplicates[pair.language] = result.duplicates.get(pair.language, 0) + 1
                    result.new_pairs += 1
                    self.progress.on_item_done(pair.language, pair.status)

        try:
            await asyncio.gather(*(worker() for _ in range(min(config.concurrency, max(len(items), 1)))))
        finally:
            if executor is not None:
                executor.close()
        result.statuses = dict(statuses)
        return result

    def _tester_and_executor(self, generator: ChatBackend) -> tuple[TesterAgent | None, ExecutionPool | None]:
        settings = self.config.execution
        if not settings.enabled:
            return None, None
        limits = Limits(cpu_seconds=settings.cpu_seconds, wall_seconds=settings.wall_seconds,
                        memory_mb=settings.memory_mb)
        cache = ResultCache(self.config.output_dir / "sandbox-cache.db") if settings.cache else None
        pool = ExecutionPool(Sandbox(limits), settings.workers, cache, settings.repeats)
        return TesterAgent(generator, self.config.sampling.tester, self.prompts), pool
