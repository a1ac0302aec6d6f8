"""The campaign coordinator's own ceiling: work items per second against simulated endpoints, and the
driver's memory as the number of pending items grows.

Usage: python bench/fleet.py [--endpoints 1 4 16 64] [--per-endpoint 4] [--latency-ms 500] [--rounds 4]
                             [--pending 1000 100000] [--executor local|ray]

Throughput: for each endpoint count E, a real campaign (`CampaignRunner`, local or Ray executor, execution
and memory banks off, the default stages: instruction, classification, answer, judge) runs against E
simulated endpoints (bench/endpoint_simulator.py, in its own process) with `max_concurrency` fixed per
endpoint and campaign `concurrency` = E x per-endpoint. It makes `rounds` items per worker from a
synthetic source folder, and compares items/s, from the first item scheduled to the last one stored,
with the ideal: concurrency / (calls per item x latency). The driver's CPU time per item is the figure
contention does not inflate: 1 / (CPU per item) is the ceiling of one dedicated core. With the Ray
executor (a local Ray, one worker per language, Python and Go) the clock starts once the workers are
up, and the driver's CPU no longer includes the LLM calls, which the workers make.

Memory: for each pending count, a database already holding that many snippets (inserted directly; no
ingest) gets a short campaign of 16 items in a fresh process; its peak RSS and tracemalloc peak are
what the driver needs to schedule from that many pending items (with the Ray executor, the driver's
alone: the workers are processes of their own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import string
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy import insert

from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.generation.wiring import Backends
from polyforge.storage import Campaign, Snippet, database, database_url

SIMULATOR = Path(__file__).with_name("endpoint_simulator.py")
MEMORY_RUN_ITEMS = 16


@dataclass
class SimulatedEndpoints:
    base_urls: list[str]
    process: subprocess.Popen

    def cpu_seconds(self) -> float:
        """CPU time the simulator has used so far (it shares the machine with the driver)."""
        return sum(psutil.Process(self.process.pid).cpu_times()[:2])


@contextmanager
def simulated_endpoints(count: int, latency_ms: float) -> Iterator[SimulatedEndpoints]:
    """`count` simulated endpoints served by a child process for the duration."""
    process = subprocess.Popen([sys.executable, str(SIMULATOR), "--endpoints", str(count), "--latency-ms",
                                str(latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        announced = process.stdout.readline()
        if not announced:
            raise SystemExit(f"error: the endpoint simulator exited with status {process.wait()}")
        yield SimulatedEndpoints([f"http://127.0.0.1:{port}/v1" for port in json.loads(announced)["ports"]], process)
    finally:
        process.terminate()
        process.wait()


def _word(draw: random.Random) -> str:
    return "".join(draw.choices(string.ascii_lowercase, k=draw.randint(5, 9)))


def python_function(draw: random.Random) -> str:
    """A small function of random names and constants: distinct enough to pass the near-duplicate filter."""
    name, a, b, total, items = (_word(draw) for _ in range(5))
    doc = " ".join(_word(draw) for _ in range(8))
    return (f"def {name}({a}, {b}):\n    \"\"\"{doc}\"\"\"\n    {total} = {a} * {draw.randint(2, 999)} + {b}\n"
            f"    {items} = [{total} + i for i in range({draw.randint(2, 999)})]\n"
            f"    return sum({items}) - {draw.randint(2, 999)}\n")


def go_function(draw: random.Random) -> str:
    name, a, b, total = (_word(draw) for _ in range(4))
    doc = " ".join(_word(draw) for _ in range(8))
    return (f"// {name} {doc}\nfunc {name}({a} int, {b} int) int {{\n\t{total} := {a}*{draw.randint(2, 999)} + {b}\n"
            f"\tfor i := 0; i < {draw.randint(2, 999)}; i++ {{\n\t\t{total} += i\n\t}}\n"
            f"\treturn {total} - {draw.randint(2, 999)}\n}}\n")


def write_sources(folder: Path, snippets: int, seed: int = 0) -> None:
    """About `snippets` functions, Python and Go in turn, 25 to a file."""
    draw = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(0, snippets, 25):
        count = min(25, snippets - index)
        if (index // 25) % 2:
            body = "package main\n\n" + "\n".join(go_function(draw) for _ in range(count))
            (folder / f"file_{index}.go").write_text(body)
        else:
            (folder / f"file_{index}.py").write_text("\n\n".join(python_function(draw) for _ in range(count)))


def campaign_config(out: Path, sources: Path, base_urls: list[str], per_endpoint: int, items: int,
                    concurrency: int, name: str = "fleet", db: str | None = None,
                    executor: str = "local") -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": name, "output_dir": str(out), "database_url": db, "sources": [{"path": str(sources)}],
        "models": {"generator": {"backend": "openai", "model": "simulated", "base_url": base_urls,
                                 "max_concurrency": per_endpoint}},
        "budgets": {"max_pairs": items}, "concurrency": concurrency,
        "memory": {"enabled": False}, "execution": {"enabled": False},
        "workers": {"executor": executor, "cpus_per_language": 0.5},
    })


@dataclass
class ThroughputRow:
    endpoints: int
    concurrency: int
    items: int
    calls: int  # requests the endpoints answered
    seconds: float  # first item scheduled to last item stored
    latency_s: float
    driver_cpu_s: float  # the driver process's CPU time over the same window
    simulator_cpu_s: float  # the simulator's CPU time over the whole run (ingest included)

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds

    @property
    def calls_per_item(self) -> float:
        return self.calls / self.items

    @property
    def ideal_per_s(self) -> float:
        return self.concurrency / (self.calls_per_item * self.latency_s)

    @property
    def cpu_ms_per_item(self) -> float:
        return 1000 * self.driver_cpu_s / self.items

    @property
    def simulator_ms_per_item(self) -> float:
        return 1000 * self.simulator_cpu_s / self.items


class CampaignClock:
    """Progress hooks that time the campaign loop: from the first schedule to the last stored item."""

    def __init__(self) -> None:
        self.started = self.cpu_started = self.finished = self.cpu_finished = 0.0
        self.items = 0

    def scheduled(self, total: int) -> None:
        if not self.started:
            self.started, self.cpu_started = time.perf_counter(), time.process_time()

    def item_done(self, language: str, status: str) -> None:
        self.items += 1
        self.finished, self.cpu_finished = time.perf_counter(), time.process_time()


def measure_throughput(endpoints: int, per_endpoint: int, latency_ms: float, rounds: int, work: Path,
                       executor: str = "local") -> ThroughputRow:
    concurrency = endpoints * per_endpoint
    items = concurrency * rounds
    sources = work / f"sources-{endpoints}"
    write_sources(sources, items + items // 10)  # a margin for snippets the filters drop
    with simulated_endpoints(endpoints, latency_ms) as simulator:
        config = campaign_config(work / f"run-{endpoints}", sources, simulator.base_urls, per_endpoint, items,
                                 concurrency, executor=executor)
        # Built before the clock starts: client setup is not throughput (Ray workers build their own).
        backends = tuple(Backends.from_config(config)) if executor == "local" else None
        clock = CampaignClock()
        progress = CampaignProgress(on_scheduled=clock.scheduled, on_item_done=clock.item_done)
        result = asyncio.run(CampaignRunner(config, progress, backends=backends).run())
        simulator_cpu_s = simulator.cpu_seconds()
    if result.new_pairs < items:
        raise SystemExit(f"error: {endpoints} endpoint(s): only {result.new_pairs} of {items} items were made "
                         f"(statuses {dict(result.statuses)}); the synthetic sources ran short")
    calls = sum(stats.requests for stats in result.endpoints)
    return ThroughputRow(endpoints, concurrency, clock.items, calls, clock.finished - clock.started,
                         latency_ms / 1000, clock.cpu_finished - clock.cpu_started, simulator_cpu_s)


def seed_pending_snippets(db_url: str, name: str, count: int, seed: int = 0) -> None:
    """A campaign called `name` holding `count` pending snippets of about 500 characters, inserted directly."""
    draw = random.Random(seed)
    with database(db_url) as sessions, sessions() as session:
        campaign = Campaign(name=name, config={})
        session.add(campaign)
        session.flush()
        for start in range(0, count, 5000):
            rows = []
            for index in range(start, min(start + 5000, count)):
                code = python_function(draw) + python_function(draw)
                rows.append(dict(campaign_id=campaign.id, language=("Python", "Go", "Rust")[index % 3],
                                 path=f"m{index}.py", source="/synthetic", start_line=1, end_line=12,
                                 kind="function_definition", code=code, tokens=len(code) // 4,
                                 content_hash=f"{draw.getrandbits(256):064x}"))
            session.execute(insert(Snippet), rows)
        session.commit()


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (VmRSS, VmHWM). Not `ru_maxrss`: Linux carries that
    over `exec`, so a spawned child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"error: /proc/self/status has no {field} (this benchmark needs Linux)")


def _memory_probe(config: CampaignConfig, results) -> None:
    """In a fresh process: a short campaign over the seeded database; its peaks go to `results`."""
    baseline_mb = _status_mb("VmRSS")
    tracemalloc.start()
    started = time.perf_counter()
    result = asyncio.run(CampaignRunner(config).run())
    _, peak = tracemalloc.get_traced_memory()
    results.put({"items": result.new_pairs, "seconds": time.perf_counter() - started, "baseline_mb": baseline_mb,
                 "peak_rss_mb": _status_mb("VmHWM"),
                 "traced_peak_mb": peak / 2**20})


def measure_memory(pending: int, work: Path, executor: str = "local") -> dict:
    db_url = database_url(work / f"pending-{pending}.db")
    seed_pending_snippets(db_url, "pending", pending)
    empty = work / "no-sources"
    empty.mkdir(exist_ok=True)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    with simulated_endpoints(1, latency_ms=10) as simulator:
        config = campaign_config(work / f"memory-{pending}", empty, simulator.base_urls, per_endpoint=4,
                                 items=MEMORY_RUN_ITEMS, concurrency=4, name="pending", db=db_url, executor=executor)
        probe = context.Process(target=_memory_probe, args=(config, results))
        probe.start()
        probe.join()
    if probe.exitcode != 0:
        raise SystemExit(f"error: the memory probe for {pending} pending items exited with status {probe.exitcode}")
    return {"pending": pending, **results.get()}


def print_tables(rows: list[ThroughputRow], memory: list[dict]) -> None:
    if rows:
        print("| endpoints | concurrency | items | calls/item | seconds | items/s | ideal items/s | ratio "
              "| driver CPU ms/item | simulator CPU ms/item |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            print(f"| {row.endpoints} | {row.concurrency} | {row.items} | {row.calls_per_item:.2f} | {row.seconds:.1f} "
                  f"| {row.items_per_s:.1f} | {row.ideal_per_s:.1f} | {row.items_per_s / row.ideal_per_s:.0%} "
                  f"| {row.cpu_ms_per_item:.1f} | {row.simulator_ms_per_item:.1f} |")
    if memory:
        print()
        print("| pending items | items run | seconds | RSS before | peak RSS | tracemalloc peak |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for probe in memory:
            print(f"| {probe['pending']:,} | {probe['items']} | {probe['seconds']:.1f} | {probe['baseline_mb']:.0f} MB "
                  f"| {probe['peak_rss_mb']:.0f} MB | {probe['traced_peak_mb']:.1f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, nargs="*", default=[1, 4, 16, 64])
    parser.add_argument("--per-endpoint", type=int, default=4, help="max_concurrency of each endpoint")
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--rounds", type=int, default=4, help="items per worker")
    parser.add_argument("--pending", type=int, nargs="*", default=[1000, 100_000])
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    args = parser.parse_args()
    if min(args.endpoints + args.pending + [args.per_endpoint, args.rounds], default=1) < 1 or args.latency_ms <= 0:
        parser.error("counts must be at least 1 and --latency-ms above 0")
    with tempfile.TemporaryDirectory(prefix="polyforge-fleet-") as folder:
        work = Path(folder)
        rows = []
        for endpoints in args.endpoints:
            rows.append(measure_throughput(endpoints, args.per_endpoint, args.latency_ms, args.rounds, work,
                                           args.executor))
            print(f"{endpoints} endpoint(s): {rows[-1].items_per_s:.1f} items/s", file=sys.stderr, flush=True)
        memory = [measure_memory(pending, work, args.executor) for pending in args.pending]
    print_tables(rows, memory)


if __name__ == "__main__":
    main()
