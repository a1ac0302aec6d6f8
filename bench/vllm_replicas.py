"""Real vLLM servers behind one campaign: one replica on every core against two replicas on half the cores each
(`polyforge serve vllm --replicas 2` binds each CPU replica to its own cores), and llama.cpp's server on the
same model for reference.

Usage: python bench/vllm_replicas.py [--items 24] [--concurrency 16] [--setups vllm-1 vllm-2 llama] [--compile]

Each setup starts its servers (the start-up time is reported, not counted), then runs the same real campaign
(`CampaignRunner`, local executor; execution, memory banks and classification off; judge scores only) on the
same synthetic Python and Go snippets, and reports items per minute and the completion tokens per second the
servers produced, from the first item scheduled to the last one stored. vLLM runs eager unless `--compile`
(torch.compile's warm-up takes minutes per start on a small CPU machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fleet import CampaignClock, write_sources

from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.llm.checkpoint import embedded_checkpoint
from polyforge.llm.embedded import bundled_gguf_path
from polyforge.llm.vllm_server import ServerSettings, find_vllm_python, start_fleet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import LlamaServer, free_port  # noqa: E402 - the tests' llama.cpp server helper

SERVED_NAME = "smollm2"


@dataclass
class Row:
    setup: str
    startup_s: float
    items: int
    seconds: float
    completion_tokens: int
    prompt_tokens: int
    statuses: dict

    @property
    def items_per_min(self) -> float:
        return 60 * self.items / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds


def config_for(work: Path, sources: Path, urls: list[str], items: int, concurrency: int,
               response_format: str) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": "replicas", "output_dir": str(work), "database_url": f"sqlite:///{work / 'bench.db'}",
        "sources": [{"path": str(sources)}], "budgets": {"max_pairs": items}, "concurrency": concurrency,
        "memory": {"enabled": False}, "execution": {"enabled": False}, "coverage": {"classify": False},
        "judge": {"rationales": False},
        "models": {"generator": {"backend": "openai", "model": SERVED_NAME, "base_url": urls,
                                 "response_format": response_format, "timeout_s": 600,
                                 "max_concurrency": max(1, concurrency // len(urls))}},
        "sampling": {"seed": 7, "instruction": {"max_tokens": 128}, "answer": {"max_tokens": 256}},
    })


def run_campaign(setup: str, startup_s: float, urls: list[str], work: Path, sources: Path, items: int,
                 concurrency: int, response_format: str) -> Row:
    config = config_for(work / setup, sources, urls, items, concurrency, response_format)
    clock = CampaignClock()
    progress = CampaignProgress(on_scheduled=clock.scheduled, on_item_done=clock.item_done)
    result = asyncio.run(CampaignRunner(config, progress).run())
    return Row(setup, startup_s, clock.items, clock.finished - clock.started,
               sum(e.completion_tokens for e in result.endpoints), sum(e.prompt_tokens for e in result.endpoints),
               dict(result.statuses))


def measure_vllm(replicas: int, work: Path, sources: Path, items: int, concurrency: int, compile_: bool) -> Row:
    settings = ServerSettings(model=str(embedded_checkpoint()), served_name=SERVED_NAME, first_port=free_port(),
                              replicas=replicas, extra_args=() if compile_ else ("--enforce-eager",))
    started = time.perf_counter()
    fleet = start_fleet(settings, find_vllm_python(), work / f"vllm-{replicas}-logs")
    try:
        fleet.wait_ready(1800)
        startup = time.perf_counter() - started
        return run_campaign(f"vllm-{replicas}", startup, fleet.urls, work, sources, items, concurrency, "json_schema")
    finally:
        fleet.stop()


def measure_llama(work: Path, sources: Path, items: int, concurrency: int) -> Row:
    server = LlamaServer(bundled_gguf_path(), work / "llama.log", alias=SERVED_NAME)
    started = time.perf_counter()
    try:
        url = server.start(timeout_s=300)
        startup = time.perf_counter() - started
        return run_campaign("llama", startup, [url], work, sources, items, concurrency, "json_object")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--setups", nargs="*", default=["vllm-1", "vllm-2", "llama"],
                        choices=["vllm-1", "vllm-2", "llama"])
    parser.add_argument("--compile", action="store_true", help="let vLLM torch.compile the model (slow start)")
    args = parser.parse_args()
    if args.items < 1 or args.concurrency < 1:
        parser.error("--items and --concurrency must be at least 1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="polyforge-replicas-") as folder:
        work = Path(folder)
        sources = work / "sources"
        write_sources(sources, args.items * 2)
        for setup in args.setups:
            if setup == "llama":
                rows.append(measure_llama(work, sources, args.items, args.concurrency))
            else:
                rows.append(measure_vllm(int(setup.split("-")[1]), work, sources, args.items, args.concurrency,
                                         args.compile))
            print(f"{setup}: {rows[-1].items_per_min:.1f} items/min", file=sys.stderr, flush=True)
    base = rows[0]
    print(f"{os.cpu_count()} cores, {args.items} items per setup, campaign concurrency {args.concurrency}, "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| setup | start-up s | items | seconds | items/min | completion tok/s | prompt tokens | vs first |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row.setup} | {row.startup_s:.0f} | {row.items} | {row.seconds:.1f} | {row.items_per_min:.1f} "
              f"| {row.tokens_per_s:.1f} | {row.prompt_tokens:,} | {row.items_per_min / base.items_per_min:.2f}x |")


if __name__ == "__main__":
    main()
