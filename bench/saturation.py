"""Saturation: how much of a server's generation speed a campaign gets, against direct requests at the same
concurrency on the same server (the goal: a campaign's completion tokens per second at least 0.95x).

Usage: python bench/saturation.py [--servers llama vllm] [--snippets 30] [--concurrency 16] [--vllm-python PY]

Per server (started as bench/peer.py starts them, not counted):
- the campaign: Polyforge's side of bench/peer.py (the same McEval snippets, caps 128 / 256 / 256, judge scores
  only), `concurrency` items in flight;
- direct requests: as many chat requests as the campaign made, `concurrency` in flight through one
  AsyncOpenAI client, each asking to write a function like a snippet in the campaign (answer-sized,
  256 tokens at most), temperature 0.7 as in the campaign.
Completion tokens per second: the server's own count (vLLM's /metrics; llama.cpp: the replies' usage),
divided by the wall time of each run. The requests differ in shape (the campaign's stages have their own
prompts and caps), so the figure compares the server's speed under each load, not identical work.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from openai import AsyncOpenAI
from peer import (
    ANSWER_MAX_TOKENS,
    REPO,
    SERVED_NAME,
    TEMPERATURE,
    TOP_P,
    PeerSnippet,
    Server,
    bench_server,
    peer_workspace,
    run_polyforge,
    warm_up,
)


async def direct_requests(server: Server, snippets: list[PeerSnippet], requests: int, concurrency: int) -> int:
    """`requests` chat requests, `concurrency` in flight; the completion tokens their replies report."""
    client = AsyncOpenAI(base_url=server.url, api_key="none", timeout=3600, max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> int:
        snippet = snippets[index % len(snippets)]
        async with gate:
            reply = await client.chat.completions.create(
                model=SERVED_NAME, max_tokens=ANSWER_MAX_TOKENS, temperature=TEMPERATURE, top_p=TOP_P, seed=index,
                messages=[{"role": "user", "content": "Write a function that does what this code does, with a "
                                                      f"short explanation:\n\n{snippet.snippet.code}"}])
            return reply.usage.completion_tokens

    try:
        return sum(await asyncio.gather(*(one(index) for index in range(requests))))
    finally:
        await client.close()


def measure(server: Server, snippets: list[PeerSnippet], sources: Path, concurrency: int, work: Path) -> dict:
    warm_up(server)
    campaign = run_polyforge(server, sources, len(snippets), concurrency, work / "polyforge")
    before = server.sample()
    started = time.perf_counter()
    client_tokens = asyncio.run(direct_requests(server, snippets, campaign.requests, concurrency))
    seconds = time.perf_counter() - started
    after = server.sample()
    server_tokens = after.counters.get("completion_tokens", 0) - before.counters.get("completion_tokens", 0)
    direct_tokens = int(server_tokens or client_tokens)  # llama.cpp's server counts no completion tokens itself
    campaign_rate = campaign.completion_tokens / campaign.seconds
    direct_rate = direct_tokens / seconds
    row = {"server": server.name, "requests": campaign.requests, "campaign_s": campaign.seconds,
           "campaign_tokens": campaign.completion_tokens, "campaign_tok_s": campaign_rate, "direct_s": seconds,
           "direct_tokens": direct_tokens, "direct_tok_s": direct_rate, "ratio": campaign_rate / direct_rate}
    print(f"{server.name}: campaign {campaign_rate:.1f} tok/s, direct {direct_rate:.1f} tok/s", file=sys.stderr,
          flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", nargs="+", default=["llama", "vllm"], choices=["llama", "vllm"])
    parser.add_argument("--snippets", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mceval", type=Path, default=REPO.parent / "shared" / "data" / "mceval")
    parser.add_argument("--vllm-python", help="the interpreter with vLLM (default: as `polyforge serve vllm`)")
    args = parser.parse_args()
    if args.snippets < 1 or args.concurrency < 1:
        parser.error("--snippets and --concurrency must be at least 1")
    rows = []
    with peer_workspace("polyforge-saturation-", args.mceval, args.snippets) as (work, snippets):
        for name in args.servers:
            with bench_server(name, work / name, args.vllm_python) as running:
                rows.append(measure(running, snippets, work / "sources", args.concurrency, work / name))
    print(f"{args.snippets} snippets, concurrency {args.concurrency}\n")
    print("| server | requests | campaign s | campaign completion tokens | campaign tok/s | direct s "
          "| direct completion tokens | direct tok/s | campaign / direct |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['server']} | {row['requests']} | {row['campaign_s']:.0f} | {row['campaign_tokens']:,} "
              f"| {row['campaign_tok_s']:.1f} | {row['direct_s']:.0f} | {row['direct_tokens']:,} "
              f"| {row['direct_tok_s']:.1f} | {row['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
