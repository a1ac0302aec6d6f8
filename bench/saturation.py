"""Saturation: how much of a server's generation speed a campaign gets, against direct requests at the same
concurrency on the same server (the goal: a campaign's completion tokens per second at least 0.95x).

Usage: python bench/saturation.py [--servers llama vllm] [--snippets 30] [--concurrency 16] [--items auto]
                                  [--direct replay] [--vllm-python PY]

Per server (started as bench/peer.py starts them, not counted):
- the campaign: Polyforge's side of bench/peer.py (the same McEval snippets, caps 128 / 256 / 256, judge scores
  only), up to `concurrency` requests in flight (max_concurrency) and `--items` work items (auto: twice that);
- direct requests, `concurrency` in flight through one AsyncOpenAI client, as many as the campaign made:
  `--direct replay` (the default) sends the campaign's own requests again, exactly as it sent them (messages,
  caps, seeds, response formats), all queued at once, so the only difference is the campaign's stage order
  (an item's answer waits for its instruction); `--direct answers` sends answer-sized requests instead (write a
  function like a snippet, 256 tokens at most, temperature 0.7), whose shape differs from the campaign's.
Before each run the server's prefix cache is emptied (vLLM's /reset_prefix_cache), so that the replay does not
find the campaign's prompts already computed; the table shows each run's computed prompt tokens.
Completion tokens per second: the server's own count (vLLM's /metrics; llama.cpp: the replies' usage),
divided by the wall time of each run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from peer import ANSWER_MAX_TOKENS, TEMPERATURE, TOP_P, run_polyforge, work_items
from peer_servers import SERVED_NAME, Server, bench_server, warm_up
from peer_snippets import PeerSnippet, add_workspace_options, peer_workspace

from polyforge.llm.openai_backend import OpenAICompatibleBackend


def answer_requests(snippets: list[PeerSnippet], count: int) -> list[dict]:
    """`count` answer-sized chat requests, the snippets in turn."""
    return [{"model": SERVED_NAME, "max_tokens": ANSWER_MAX_TOKENS, "temperature": TEMPERATURE, "top_p": TOP_P,
             "seed": index, "messages": [{"role": "user", "content": "Write a function that does what this code "
                                          f"does, with a short explanation:\n\n{snippets[index % len(snippets)].snippet.code}"}]}
            for index in range(count)]


@contextmanager
def recorded_requests() -> Iterator[list[dict]]:
    """Every chat request body Polyforge's OpenAI backend builds while the block runs, in order."""
    original = OpenAICompatibleBackend._request
    requests: list[dict] = []

    def recording(self, *args, **kwargs):
        requests.append(original(self, *args, **kwargs))
        return requests[-1]

    OpenAICompatibleBackend._request = recording
    try:
        yield requests
    finally:
        OpenAICompatibleBackend._request = original


async def direct_requests(server: Server, requests: list[dict], concurrency: int) -> int:
    """The requests, `concurrency` in flight; the completion tokens their replies report."""
    client = AsyncOpenAI(base_url=server.url, api_key="none", timeout=3600, max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(request: dict) -> int:
        async with gate:
            reply = await client.post("/chat/completions", body=request, cast_to=ChatCompletion)
            return reply.usage.completion_tokens

    try:
        return sum(await asyncio.gather(*(one(request) for request in requests)))
    finally:
        await client.close()


def measure(server: Server, snippets: list[PeerSnippet], sources: Path, concurrency: int, work: Path,
            direct: str, items: int | str) -> dict:
    warm_up(server)
    server.forget_prefixes()
    with recorded_requests() as sent:
        campaign = run_polyforge(server, sources, len(snippets), concurrency, work / "polyforge", items=items)
    requests = sent if direct == "replay" else answer_requests(snippets, campaign.requests)
    server.forget_prefixes()  # a replay would otherwise find every prompt of the campaign cached
    before = server.sample()
    started = time.perf_counter()
    client_tokens = asyncio.run(direct_requests(server, requests, concurrency))
    seconds = time.perf_counter() - started
    after = server.sample()
    server_tokens = after.counters.get("completion_tokens", 0) - before.counters.get("completion_tokens", 0)
    direct_tokens = int(server_tokens or client_tokens)  # llama.cpp's server counts no completion tokens itself
    direct_computed = after.counters["computed_prompt_tokens"] - before.counters["computed_prompt_tokens"]
    campaign_rate = campaign.completion_tokens / campaign.seconds
    direct_rate = direct_tokens / seconds
    row = {"server": server.name, "requests": campaign.requests, "direct_requests": len(requests), "campaign_s": campaign.seconds,
           "campaign_tokens": campaign.completion_tokens, "campaign_tok_s": campaign_rate, "direct_s": seconds,
           "direct_tokens": direct_tokens, "direct_tok_s": direct_rate, "ratio": campaign_rate / direct_rate,
           "campaign_computed": campaign.computed_prompt_tokens, "direct_computed": int(direct_computed)}
    print(f"{server.name}: campaign {campaign_rate:.1f} tok/s, direct {direct_rate:.1f} tok/s", file=sys.stderr,
          flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", nargs="+", default=["llama", "vllm"], choices=["llama", "vllm"])
    parser.add_argument("--snippets", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--items", type=work_items, default="auto",
                        help="the campaign's work items in flight (default auto: twice --concurrency)")
    parser.add_argument("--direct", default="replay", choices=["replay", "answers"],
                        help="the direct load: the campaign's own requests again, or answer-sized ones")
    add_workspace_options(parser)
    args = parser.parse_args()
    if args.snippets < 1 or args.concurrency < 1:
        parser.error("--snippets and --concurrency must be at least 1")
    rows = []
    with peer_workspace("polyforge-saturation-", args.mceval, args.snippets, args.keep) as (work, snippets):
        for name in args.servers:
            with bench_server(name, work / name, args.vllm_python) as running:
                rows.append(measure(running, snippets, work / "sources", args.concurrency, work / name, args.direct,
                                    args.items))
    print(f"{args.snippets} snippets, {args.concurrency} requests in flight, campaign items {args.items}, "
          f"direct requests: {args.direct}\n")
    print("| server | requests | campaign s | campaign completion tokens | campaign computed prompt "
          "| campaign tok/s | direct s | direct completion tokens | direct computed prompt | direct tok/s "
          "| campaign / direct |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['server']} | {row['requests']} | {row['campaign_s']:.0f} | {row['campaign_tokens']:,} "
              f"| {row['campaign_computed']:,} | {row['campaign_tok_s']:.1f} | {row['direct_s']:.0f} "
              f"| {row['direct_tokens']:,} | {row['direct_computed']:,} | {row['direct_tok_s']:.1f} "
              f"| {row['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
