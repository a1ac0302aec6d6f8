"""`polyforge status --watch`: the table follows a database that another process writes."""

import signal
import subprocess
import sys
import time

from factories import campaign_with_snippets, pair
from polyforge.cli.campaign import shown_database
from polyforge.storage import Campaign, open_engine, session_factory


def test_watch_shows_pairs_stored_while_it_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign, snippets = campaign_with_snippets(session, 3)
        campaign.name, campaign.config = "watched", {"budgets": {"max_pairs": 3}}
        session.add(pair(campaign, snippets[0], "Python", "accepted"))
        session.commit()
        campaign_id = campaign.id
    watcher = subprocess.Popen([sys.executable, "-m", "polyforge.cli", "status", url, "--watch", "0.5"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)
        assert watcher.poll() is None, watcher.stdout.read()  # still watching
        with session_factory(engine)() as session:  # a campaign stores two more pairs meanwhile
            stored = session.get(Campaign, campaign_id)
            session.add_all([pair(stored, stored.snippets[1], "Python", "flagged"),
                             pair(stored, stored.snippets[2], "Python", "rejected")])
            session.commit()
        time.sleep(2)
    finally:
        watcher.send_signal(signal.SIGINT)
        output, _ = watcher.communicate(timeout=30)
    engine.dispose()
    assert watcher.returncode == 0, output
    last = [line for line in output.splitlines() if "watched" in line][-1]
    assert "3/3" in last, output  # the final table counts the pairs written while it watched


def test_the_database_a_run_names_is_its_file_or_its_url_without_the_password():
    assert shown_database("sqlite:////data/runs/x.db") == "/data/runs/x.db"
    assert shown_database("postgresql+psycopg://ann:secret@db.example/campaigns") == \
        "postgresql+psycopg://ann:***@db.example/campaigns"
