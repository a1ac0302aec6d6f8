"""Campaigns against real llama.cpp servers that die: pools of endpoints, outages, resume, retrying failures."""

import asyncio
import re
import threading

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.cli import app
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.llm import EndpointsDown, LLMError
from polyforge.llm.embedded import bundled_gguf_path
from polyforge.storage import Campaign, EndpointUsage, Pair, session_scope
from polyforge.terms import CampaignStatus, PairStatus
from servers import LlamaServer

pytestmark = pytest.mark.slow
PAIRS = 6


@pytest.fixture
def servers(tmp_path):
    started = []

    def start(count: int) -> list[LlamaServer]:
        for index in range(count):
            server = LlamaServer(bundled_gguf_path(), tmp_path / f"server{index}.log")
            server.start()
            started.append(server)
        return started

    yield start
    for server in started:
        server.stop()


def fleet_config(sample_repo, tmp_path, db_url, urls, **model):
    return CampaignConfig.model_validate({
        "name": "fleet", "output_dir": str(tmp_path), "database_url": db_url, "sources": [{"path": str(sample_repo)}],
        "languages": ["Python", "C", "Go", "JavaScript"], "budgets": {"max_pairs": PAIRS}, "concurrency": 4,
        "memory": {"enabled": False}, "execution": {"enabled": False}, "coverage": {"classify": False},
        "judge": {"rationales": False, "max_retries": 0},
        "models": {"generator": {"backend": "openai", "model": "smollm2", "base_url": urls,
                                 "response_format": "json_object", "timeout_s": 60, "max_attempts": 2,
                                 "retry_initial_s": 0.1, "max_concurrency": 2, "eject_after": 1,
                                 "probe_interval_s": 0.5, **model}},
        "sampling": {"seed": 5, "instruction": {"max_tokens": 24}, "answer": {"max_tokens": 32},
                     "judge": {"max_tokens": 100, "temperature": 0}},
    })


class KillAfter(CampaignProgress):
    """Progress hooks that kill a server once `count` items are done (and keep every notice)."""

    def __init__(self, server: LlamaServer, count: int, then=None):
        super().__init__()
        self.done, self.notices = 0, []
        self.on_notice = self.notices.append

        def item_done(language, status):
            self.done += 1
            if self.done == count:
                server.kill()
                if then is not None:
                    then()

        self.on_item_done = item_done


def stored(db_url):
    with session_scope(db_url, create=False) as session:
        pairs = session.scalars(select(Pair)).all()
        usage = {row.base_url: row for row in session.scalars(select(EndpointUsage))}
        status = session.scalar(select(Campaign.status))
        return [(p.snippet_id, p.language, p.status, p.error) for p in pairs], usage, status


def assert_every_item_accounted_for(pairs):
    assert len(pairs) == PAIRS and len({(snippet, language) for snippet, language, _, _ in pairs}) == PAIRS
    infrastructure = [error for _, _, status, error in pairs
                      if status == PairStatus.failed and "connection" in (error or "").lower()]
    assert infrastructure == []


@pytest.fixture
def sqlite_url(tmp_path):
    """The outage tests test the pool and the scheduler, not the dialect: one database kind keeps them short."""
    return f"sqlite:///{tmp_path / 'fleet.db'}"


def test_a_campaign_survives_losing_one_of_two_endpoints(servers, sample_repo, tmp_path, sqlite_url):
    db_url = sqlite_url
    first, second = servers(2)
    config = fleet_config(sample_repo, tmp_path, db_url, [first.url, second.url])
    progress = KillAfter(first, 2)
    result = asyncio.run(CampaignRunner(config, progress).run())

    pairs, usage, status = stored(db_url)
    assert_every_item_accounted_for(pairs)
    assert status == CampaignStatus.finished and result.new_pairs == PAIRS
    dead, alive = usage[first.url], usage[second.url]
    assert dead.failures >= 1 and dead.ejections >= 1 and dead.last_error
    assert alive.requests > dead.requests - dead.failures  # it took over
    assert alive.completion_tokens > 0 and alive.seconds > 0
    assert any(f"{first.url} ejected" in notice for notice in progress.notices)
    by_url = {stats.base_url: stats for stats in result.endpoints}
    assert by_url[first.url].ejections == dead.ejections
    for command in ("status", "report"):  # both show what each endpoint did
        shown = CliRunner().invoke(app, [command, db_url])
        assert shown.exit_code == 0, shown.output
        dead_row = next(line for line in shown.output.splitlines() if first.url in line and "│" in line)
        assert re.search(rf"│\s+{dead.requests} │\s+{dead.failures} │\s+{dead.ejections} │", dead_row), dead_row
        assert f"last error of {first.url}:" in shown.output


def test_the_only_server_dies_and_comes_back_and_no_item_fails(servers, sample_repo, tmp_path, sqlite_url):
    db_url = sqlite_url
    (server,) = servers(1)
    config = fleet_config(sample_repo, tmp_path, db_url, server.url, outage_wait_s=120)
    restart = lambda: threading.Timer(2.0, server.start).start()  # noqa: E731 - a restart a little later
    progress = KillAfter(server, 3, then=restart)
    asyncio.run(CampaignRunner(config, progress).run())

    pairs, usage, status = stored(db_url)
    assert_every_item_accounted_for(pairs)
    assert status == CampaignStatus.finished
    assert any("every endpoint is down" in notice for notice in progress.notices)
    assert any("answers again" in notice for notice in progress.notices)
    assert usage[server.url].failures >= 1


def test_an_outage_past_the_wait_stops_the_campaign_and_the_same_command_resumes(servers, sample_repo, tmp_path,
                                                                                  sqlite_url):
    db_url = sqlite_url
    (server,) = servers(1)
    config = fleet_config(sample_repo, tmp_path, db_url, server.url, outage_wait_s=1)
    with pytest.raises(EndpointsDown, match="run the same command again"):
        asyncio.run(CampaignRunner(config, KillAfter(server, 2)).run())
    pairs, _, status = stored(db_url)
    assert status == CampaignStatus.interrupted and 2 <= len(pairs) < PAIRS
    assert all(status != PairStatus.failed for _, _, status, _ in pairs)  # in-flight items stayed pending

    server.start()
    asyncio.run(CampaignRunner(config).run())
    pairs, _, status = stored(db_url)
    assert_every_item_accounted_for(pairs)
    assert status == CampaignStatus.finished


def test_retry_failed_schedules_the_failed_items_again(sample_repo, tmp_path, db_url, criteria):
    config = fleet_config(sample_repo, tmp_path, db_url, "http://127.0.0.1:9/v1")
    config.budgets.max_pairs = 4

    answers = []

    def flaky_answers(messages, schema):
        if stage_of(messages) == "answer":
            answers.append(messages)
            if len(answers) <= 2:  # the first two items' answers fail: their own failure, recorded
                raise LLMError("simulated answer failure")
        return pipeline_script(lambda m: uniform_scores(9, criteria))(messages, schema)

    backend = ScriptedBackend(flaky_answers)
    asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    with session_scope(db_url, create=False) as session:
        failed = session.scalar(select(func.count()).where(Pair.status == PairStatus.failed))
    assert failed == 2

    fixed = ScriptedBackend(pipeline_script(lambda m: uniform_scores(9, criteria)))
    again = asyncio.run(CampaignRunner(config, backends=(fixed, fixed)).run())
    assert again.new_pairs == 0  # a plain resume leaves failed items alone
    retried = asyncio.run(CampaignRunner(config, backends=(fixed, fixed), retry_failed=True).run())
    assert retried.requeued == failed and retried.new_pairs == failed
    with session_scope(db_url, create=False) as session:
        statuses = session.scalars(select(Pair.status)).all()
    assert len(statuses) == 4 and PairStatus.failed not in statuses
