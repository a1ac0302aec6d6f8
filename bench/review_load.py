"""The review app under a team: annotators working at once, each with a real HTTP client, against the app served
by `polyforge review serve` on PostgreSQL.

Usage: python bench/review_load.py [--annotators 20] [--pairs 2000] [--seconds 60] [--think-s 1.0]
                                   [--server postgresql+psycopg://...]

Without --server it starts the throwaway PostgreSQL server of the tests (scripts/test-postgres.sh). It makes a
fresh database of flagged pairs (nine judge scores and a sandbox run each, as a campaign leaves them), one
annotator account per client and an admin, assigns every pair to two annotators, serves the app in its own
process and lets each client log in, then loop: open its next pair's page, read it for `--think-s` seconds, send
a verdict (the form, with its CSRF token), and follow the app to the next open pair. Prints the latency
percentiles of the pair page and of a verdict, and the requests per second, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

import httpx
from sqlalchemy import create_engine, make_url, text

from polyforge.storage import (
    Campaign,
    ExecutionRecord,
    JudgeScore,
    Pair,
    Snippet,
    session_scope,
)
from polyforge.storage.accounts import add_user
from polyforge.storage.assignments import assign

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password"
LANGUAGES = ("Python", "Go", "Rust", "JavaScript", "C")
CRITERIA = ("instruction_clarity", "code_correctness", "efficiency", "readability", "test_coverage", "security",
            "documentation", "idiomatic_style", "relevance")


def server_url(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("POLYFORGE_TEST_DATABASE_URL"):
        return os.environ["POLYFORGE_TEST_DATABASE_URL"]
    return subprocess.run([str(ROOT / "scripts" / "test-postgres.sh"), "start"], check=True, capture_output=True,
                          text=True).stdout.strip()


def fresh_database(server: str) -> tuple[str, str]:
    """A new, empty database on `server`: (its URL, its name)."""
    name = f"polyforge_bench_{uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


def drop_database(server: str, name: str) -> None:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def fill(url: str, pairs: int, annotators: int) -> None:
    """Flagged pairs as a campaign leaves them, the accounts, and every pair assigned to two annotators."""
    with session_scope(url) as session:
        campaign = Campaign(name="review load", config={})
        session.add(campaign)
        for index in range(pairs):
            language = LANGUAGES[index % len(LANGUAGES)]
            code = f"def f{index}(items):\n    return sorted(items)[:{index % 7 + 1}]\n"
            snippet = Snippet(campaign=campaign, language=language, path=f"src/m{index}.py", source="/repo",
                              start_line=1, end_line=2, kind="function_definition", code=code, tokens=20,
                              content_hash=f"h{index}")
            pair = Pair(campaign=campaign, snippet=snippet, language=language, status="flagged",
                        instruction=f"Return the {index % 7 + 1} smallest items of a list (case {index}).",
                        answer=f"```\n{code}```\n", model="m", sampling={}, templates={}, tokens={},
                        final_score=5.0 + index % 3 / 2, flag_reason="borderline final score")
            pair.scores = [JudgeScore(criterion=criterion, score=5 + (index + k) % 4, weight=1.0,
                                      rationale="Looks right, untested edge.") for k, criterion in enumerate(CRITERIA)]
            pair.executions = [ExecutionRecord(candidate=0, chosen=True, language=language.lower(), status="passed",
                                               reason="", exit_code=0, stdout="ok", stderr="", seconds=0.2,
                                               tests=f"assert f{index}([3, 1, 2])[0] == 1")]
            session.add(pair)
            if index % 500 == 499:
                session.flush()
        session.commit()
        for number in range(annotators):
            add_user(session, f"annotator{number:02d}", "annotator", PASSWORD)
        add_user(session, "admin", "admin", PASSWORD)
        assign(session, overlap=2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(url: str, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "polyforge.cli", "review", "serve", url, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
            return server
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the review app did not start:\n{server.stdout.read()}")
            time.sleep(0.3)


def log_in(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 303:
        raise SystemExit(f"{name} could not log in: {response.status_code} {response.text[:200]}")
    return client


class Annotator(threading.Thread):
    """One annotator's loop: the pair page, a pause to read it, a verdict, the next pair."""

    def __init__(self, client: httpx.Client, until: float, think_s: float, number: int):
        super().__init__(daemon=True)
        self.client, self.until, self.think_s, self.number = client, until, think_s, number
        self.page_s: list[float] = []
        self.verdict_s: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        queue = self.client.get("/api/queue", params={"limit": 1}).json()
        pair_id = queue[0]["pair_id"] if queue else None
        while pair_id is not None and time.monotonic() < self.until:
            started = time.perf_counter()
            page = self.client.get(f"/pairs/{pair_id}")
            self.page_s.append(time.perf_counter() - started)
            if page.status_code != 200:
                self.errors.append(f"page {pair_id}: {page.status_code}")
                return
            csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
            opened = re.search(r'name="opened" value="([^"]+)"', page.text).group(1)
            time.sleep(self.think_s)
            verdict = "accept" if (pair_id + self.number) % 3 else "reject"
            started = time.perf_counter()
            answer = self.client.post(f"/pairs/{pair_id}/review",
                                      data={"verdict": verdict, "csrf_token": csrf, "opened": opened})
            self.verdict_s.append(time.perf_counter() - started)
            if answer.status_code != 303:
                self.errors.append(f"verdict {pair_id}: {answer.status_code}")
                return
            following = re.match(r"/pairs/(\d+)", answer.headers["location"])
            pair_id = int(following.group(1)) if following else None


def percentiles(seconds: list[float]) -> dict[str, float]:
    if len(seconds) < 2:
        return {"count": len(seconds)}
    cuts = statistics.quantiles(seconds, n=100)
    return {"count": len(seconds), "p50_ms": round(cuts[49] * 1000, 1), "p95_ms": round(cuts[94] * 1000, 1),
            "p99_ms": round(cuts[98] * 1000, 1), "max_ms": round(max(seconds) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think-s", type=float, default=1.0, help="Seconds an annotator reads a pair.")
    parser.add_argument("--server", help="A PostgreSQL server's SQLAlchemy URL (a database is made on it).")
    args = parser.parse_args()
    server = server_url(args.server)
    url, name = fresh_database(server)
    app = None
    try:
        started = time.perf_counter()
        fill(url, args.pairs, args.annotators)
        print(json.dumps({"filled_s": round(time.perf_counter() - started, 1)}), flush=True)
        port = free_port()
        app = serve(url, port)
        base = f"http://127.0.0.1:{port}"
        clients = [log_in(base, f"annotator{number:02d}") for number in range(args.annotators)]
        until = time.monotonic() + args.seconds
        workers = [Annotator(client, until, args.think_s, number) for number, client in enumerate(clients)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        pages = [s for worker in workers for s in worker.page_s]
        verdicts = [s for worker in workers for s in worker.verdict_s]
        print(json.dumps({
            "annotators": args.annotators, "pairs": args.pairs, "seconds": round(elapsed, 1),
            "think_s": args.think_s, "pair_page": percentiles(pages), "verdict": percentiles(verdicts),
            "requests_per_s": round((len(pages) + len(verdicts)) / elapsed, 1),
            "errors": [error for worker in workers for error in worker.errors][:10],
        }), flush=True)
        for client in clients:
            client.close()
    finally:
        if app is not None:
            app.terminate()
            app.wait(timeout=30)
        drop_database(server, name)


if __name__ == "__main__":
    main()
