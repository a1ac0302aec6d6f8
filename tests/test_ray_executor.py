"""Campaigns on a local Ray cluster of two simulated nodes (`--executor ray`) against a real llama.cpp server and PostgreSQL:
the same pairs as the local executor, a killed worker loses and duplicates nothing, a killed driver resumes."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.generation.cluster import RayExecutorError, check_cpus, check_database_for_cluster
from polyforge.generation.ray_workers import RaySandboxPool
from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.pool import Job
from polyforge.storage import Pair, Snippet, session_scope
from polyforge.terms import PairStatus

pytestmark = pytest.mark.slow
PAIRS = 4


def ray_config(sample_repo, tmp_path, db_url, llama_server_url, executor: str, ray_address: str | None = None) -> dict:
    return {
        "name": "ray", "output_dir": str(tmp_path / executor), "database_url": db_url,
        "sources": [{"path": str(sample_repo)}], "languages": ["Python", "C"], "budgets": {"max_pairs": PAIRS},
        # One item at a time: the memory banks then see the items in the same order under both executors.
        "concurrency": 1, "coverage": {"classify": False},
        "judge": {"rationales": False, "max_retries": 0},
        "models": {"generator": {"backend": "openai", "model": "smollm2", "base_url": llama_server_url,
                                 "response_format": "json_object", "timeout_s": 120}},
        "sampling": {"seed": 3, "instruction": {"max_tokens": 24}, "answer": {"max_tokens": 32},
                     "tester": {"max_tokens": 160, "stop": ["\n\n"]}, "judge": {"max_tokens": 100, "temperature": 0}},
        "workers": {"executor": executor, "ray_address": ray_address},
    }


def stored_pairs(db_url: str) -> list[tuple]:
    with session_scope(db_url) as session:
        return sorted(session.execute(select(Pair.snippet_id, Pair.language, Pair.status, Pair.instruction)).all())


def stored_items(db_url: str) -> list[tuple]:
    """(snippet path, language, status, instruction, sandbox verdict) of every pair: comparable across databases."""
    with session_scope(db_url) as session:
        return sorted(tuple(row) for row in session.execute(
            select(Snippet.path, Pair.language, Pair.status, Pair.instruction, Pair.execution_status)
            .join(Snippet, Snippet.id == Pair.snippet_id)).all())


def test_ray_executor_makes_the_same_pairs_as_local(ray_cluster, llama_server_url, sample_repo, tmp_path,
                                                    postgres_url):
    local_db = f"sqlite:///{tmp_path}/local.db"
    local = CampaignConfig.model_validate(ray_config(sample_repo, tmp_path, local_db, llama_server_url, "local"))
    on_ray = CampaignConfig.model_validate(ray_config(sample_repo, tmp_path, postgres_url, llama_server_url, "ray"))
    local_result = asyncio.run(CampaignRunner(local).run())
    ray_result = asyncio.run(CampaignRunner(on_ray).run())

    assert ray_result.new_pairs == local_result.new_pairs == PAIRS
    assert ray_result.statuses == local_result.statuses
    # Same items, statuses, instructions and sandbox verdicts: llama.cpp samples the same at a given seed.
    items = stored_items(postgres_url)
    assert items == stored_items(local_db)
    assert any(verdict is not None for *_, verdict in items), items  # the sandbox ran, as Ray tasks
    # The workers' banks and endpoint calls came back to the driver.
    assert set(ray_result.memory) == {"Python", "C"} and all(m.size > 0 for m in ray_result.memory.values())
    requests = [sum(stats.requests for stats in result.endpoints) for result in (local_result, ray_result)]
    assert requests[0] == requests[1] >= 2 * PAIRS, requests


def language_worker_pids() -> list[int]:
    """The processes Ray runs the language workers in (Ray names them after the actor class)."""
    return [process.pid for process in psutil.process_iter(["cmdline"])
            if any("ray::LanguageWorker" in part for part in process.info["cmdline"] or ())]


class KillWorkerAfterFirstItem(CampaignProgress):
    def __init__(self):
        super().__init__()
        self.killed: list[int] = []
        self.on_item_done = self._done

    def _done(self, language: str, status: str) -> None:
        if not self.killed:
            self.killed = language_worker_pids()
            for pid in self.killed:
                os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_loses_and_duplicates_nothing(ray_cluster, llama_server_url, sample_repo, tmp_path,
                                                      postgres_url):
    config = ray_config(sample_repo, tmp_path, postgres_url, llama_server_url, "ray")
    config["concurrency"], config["execution"] = 2, {"enabled": False}
    progress = KillWorkerAfterFirstItem()
    result = asyncio.run(CampaignRunner(CampaignConfig.model_validate(config), progress).run())

    assert len(progress.killed) == 2  # both languages' workers, with items in flight
    assert result.new_pairs == PAIRS
    pairs = stored_pairs(postgres_url)
    assert len(pairs) == PAIRS and len({pair[0] for pair in pairs}) == PAIRS
    assert all(pair[2] != PairStatus.failed for pair in pairs), pairs


def test_a_killed_driver_resumes_with_the_same_command(ray_cluster, llama_server_url, sample_repo, tmp_path,
                                                       postgres_url):
    config = ray_config(sample_repo, tmp_path, postgres_url, llama_server_url, "ray", ray_address=ray_cluster)
    config["budgets"]["max_pairs"], config["execution"] = 6, {"enabled": False}
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "polyforge.cli", "run", str(path)]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while _count(postgres_url) < 2:
        assert driver.poll() is None, driver.stdout.read().decode()
        assert time.monotonic() < deadline, "no pair stored in 10 minutes"
        time.sleep(0.5)
    driver.kill()  # kill -9: no clean-up at all
    driver.wait()
    stored_before = _count(postgres_url)
    assert stored_before < 6

    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    pairs = stored_pairs(postgres_url)
    assert len(pairs) == 6 and len({pair[0] for pair in pairs}) == 6


def _count(db_url: str) -> int:
    with session_scope(db_url) as session:
        return session.scalar(select(func.count(Pair.id)))


def test_a_sqlite_campaign_on_two_nodes_is_refused_with_what_to_set(ray_cluster, llama_server_url, sample_repo,
                                                                     tmp_path):
    config = ray_config(sample_repo, tmp_path, None, llama_server_url, "ray", ray_address=ray_cluster)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2, result.output
    assert "2 nodes" in result.output and "set database_url to a PostgreSQL server" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_sqlite_is_refused_for_workers_on_several_nodes():
    check_database_for_cluster("sqlite:////data/polyforge.db", nodes=1)  # one node: the file is there
    with pytest.raises(RayExecutorError, match="PostgreSQL server every node reaches"):
        check_database_for_cluster("sqlite:////data/polyforge.db", nodes=2)
    check_database_for_cluster("postgresql+psycopg://db/polyforge", nodes=2)


def test_workers_that_cannot_fit_are_refused_before_any_start():
    check_cpus(4, languages=4, cpus_per_language=1, sandbox=False)
    check_cpus(4, languages=3, cpus_per_language=1, sandbox=True)
    with pytest.raises(RayExecutorError, match="has 4 CPUs and the campaign needs 5: 1 for each of its 4 language "
                                               "workers and one for sandbox runs"):
        check_cpus(4, languages=4, cpus_per_language=1, sandbox=True)


def test_sandbox_runs_as_ray_tasks(ray_cluster):
    pool = RaySandboxPool(Sandbox(), workers=2)
    try:
        passed, failed = pool.map([Job("Python", {"main.py": "def add(a, b):\n    return a + b\n"},
                                       test="assert add(2, 3) == 5\n"),
                                   Job("Python", {"main.py": "def add(a, b):\n    return a - b\n"},
                                       test="assert add(2, 3) == 5\n")])
    finally:
        pool.close()
    assert (passed.status, failed.status) == (Status.PASSED, Status.FAILED), (passed, failed)
    assert pool.stats.runs == 2
