"""Kill a running campaign (SIGKILL) at several points, resume it, and count: nothing lost, nothing twice."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text

from polyforge.storage import Campaign, JudgeScore, Pair, open_engine, session_factory

pytestmark = pytest.mark.slow
MAX_PAIRS = 6


def write_config(tmp_path, sample_repo, db_url):
    config = tmp_path / "campaign.yaml"
    config.write_text(
        f"name: resume\noutput_dir: {tmp_path / 'out'}\ndatabase_url: '{db_url}'\n"
        f"sources: [{{path: {sample_repo}}}]\nbudgets: {{max_pairs: {MAX_PAIRS}}}\nconcurrency: 2\n"
        "sampling: {seed: 3, instruction: {max_tokens: 40}, answer: {max_tokens: 48}, judge: {max_tokens: 120}}\n"
    )
    return config


def start(config):
    return subprocess.Popen([sys.executable, "-m", "polyforge.cli", "run", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def count_pairs(db_url) -> int:
    engine = open_engine(db_url, create=False)
    try:
        with engine.connect() as connection:
            return connection.execute(text("select count(*) from pair")).scalar()
    except Exception:  # the first run may not have created the schema yet
        return 0
    finally:
        engine.dispose()


def test_sigkill_at_random_points_then_resume(tmp_path, sample_repo, db_url):
    config = write_config(tmp_path, sample_repo, db_url)
    rng = random.Random(11)
    progress = []
    for _ in range(3):
        process = start(config)
        before = count_pairs(db_url)
        # kill once the run has stored at least one new pair, plus a random extra delay
        deadline = time.monotonic() + 120
        while count_pairs(db_url) <= before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(rng.uniform(0, 2.5))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        progress.append(count_pairs(db_url))
    final = subprocess.run([sys.executable, "-m", "polyforge.cli", "run", str(config)], capture_output=True, text=True,
                           timeout=600)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]

    assert progress == sorted(progress) and progress[0] >= 1  # every kill kept what was committed
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        pairs = session.scalars(select(Pair)).all()
        assert len(pairs) == MAX_PAIRS
        assert len({(p.snippet_id, p.language) for p in pairs}) == MAX_PAIRS  # no item stored twice
        scored = [p for p in pairs if p.final_score is not None]
        assert session.scalar(select(func.count()).select_from(JudgeScore)) == 9 * len(scored)
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
        assert session.scalar(select(Campaign.status)) == "finished"
    if db_url.startswith("sqlite"):
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()


def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path, sample_repo):
    """A scheduler's SIGTERM: the run ends with status 130, the campaign says 'interrupted', a rerun finishes it."""
    db_url = f"sqlite:///{tmp_path / 'term.db'}"
    config = write_config(tmp_path, sample_repo, db_url)
    process = subprocess.Popen([sys.executable, "-m", "polyforge.cli", "run", str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 180
    while count_pairs(db_url) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-2000:]
    assert "run the same command again to resume" in output
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        assert session.scalar(select(Campaign.status)) == "interrupted"
        stopped_at = session.scalar(select(func.count()).select_from(Pair))
    assert 1 <= stopped_at < MAX_PAIRS
    final = subprocess.run([sys.executable, "-m", "polyforge.cli", "run", str(config)], capture_output=True, text=True,
                           timeout=600)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
    with session_factory(engine)() as session:
        assert session.scalar(select(Campaign.status)) == "finished"
        assert session.scalar(select(func.count()).select_from(Pair)) == MAX_PAIRS
    engine.dispose()
