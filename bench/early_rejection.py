"""Early rejection: accepted pairs per server-minute with the cheap gates on, against the same campaign with
every candidate answered, tested and judged in full (the goal: at least 2x).

Usage: python bench/early_rejection.py [--servers llama] [--snippets 18] [--candidates 2] [--answer-tokens 256]
                                       [--until-pass] [--concurrency 16] [--order gated-first]
                                       [--model qwen2.5-coder-1.5b]
                                       [--vllm-python PY] [--keep DIR] [--json FILE]

Both runs are bench/peer.py's Polyforge campaign (the same McEval snippets, caps 128 / 256 / 256 unless
`--answer-tokens` raises the answer's, judge scores only, temperature 0.7) with `--candidates` answers per item
and execution on (the tester writes tests, every candidate runs in the sandbox), one after the other on the
same server:
- gated: the defaults: answers end with their code block, and every gate of `generation.gates` is on (an
  instruction that restates its snippet, an empty or refused answer, an answer without a code block in its
  language that parses, an item whose candidates all failed their tests: each dropped before the calls that
  would follow; when some candidate passed, the others are not judged); with `--until-pass` the candidates are
  also written one at a time until one passes (`sampling.candidates_until_pass`), a next one only after a run
  that another answer may change (`sampling.answer_again_after`: a wrong result, a timeout, a memory limit);
- in full: every gate off, so every candidate is answered and judged, and answers are not stopped at the end of
  their code block (`sampling.answer.stop: []`).
Both runs accept a pair only on evidence (`judge.accept_only_tested`: the judge's accept stands only where the
answer passed tests that are evidence), so "accepted" means the same in both. `--model` serves another
embedded model on llama.cpp (the default: the bundled SmolLM2-135M).
Per run: accepted pairs, the server's CPU seconds and wall seconds, accepted per server CPU-minute and per
wall minute, requests and tokens, and why pairs were rejected; then how many snippets were accepted in both runs,
only gated, only in full (the two runs write their own instructions and tests, so this shows how much of the
difference in accepted pairs is a draw). Server CPU time is the fairer clock on a
shared machine (the sandbox's runs take cores from the server in both runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from peer import ANSWER_MAX_TOKENS, run_polyforge
from peer_servers import RunRow, bench_server, warm_up
from peer_snippets import add_workspace_options, peer_workspace

from polyforge.llm.models import ModelUnavailable, resolve

ALL_GATES_OFF = {"restated_snippet": False, "refusal": False, "code_block": False, "failed_tests": False}


def variants(candidates: int, answer_tokens: int, until_pass: bool) -> dict[str, dict]:
    """The two runs' config changes: the defaults (with `until_pass`, candidates written one at a time until one
    passes), and every lever off (no gate, answers not stopped at the end of their code block, all at once)."""
    def config(answer: dict, generation: dict, until_pass: bool) -> dict:
        return {"sampling": {"candidates": candidates, "candidates_until_pass": until_pass,
                             "answer": {"max_tokens": answer_tokens, **answer}},
                "execution": {"enabled": True}, "judge": {"accept_only_tested": True}, "generation": generation}

    return {"gated": config({}, {}, until_pass), "in full": config({"stop": []}, {"gates": ALL_GATES_OFF}, False)}


def server_cpu_min(row: RunRow) -> float:
    return row.busy * row.seconds * len(os.sched_getaffinity(0)) / 60


def print_table(rows: list[tuple[str, RunRow]], snippets: int, candidates: int, model: str,
                answer_tokens: int) -> None:
    print(f"{snippets} McEval snippets, {candidates} candidates per item, answers up to {answer_tokens} tokens, "
          f"execution on, accept only on tests, model {model}, {len(os.sched_getaffinity(0))} cores\n")
    print("| server | run | wall s | server CPU-min | requests | completion tokens | judged | accepted "
          "| accepted / server CPU-min | accepted / wall min | vs in full (CPU) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    full = {row.server: row for name, row in rows if name == "in full"}
    for name, row in rows:
        per_cpu = row.accepted / server_cpu_min(row) if server_cpu_min(row) else 0.0
        base = full.get(row.server)
        base_per_cpu = base.accepted / server_cpu_min(base) if base and server_cpu_min(base) else 0.0
        ratio = f"{per_cpu / base_per_cpu:.2f}x" if base_per_cpu else "n/a (none accepted in full)"
        print(f"| {row.server} | {name} | {row.seconds:.0f} | {server_cpu_min(row):.2f} | {row.requests} "
              f"| {row.completion_tokens:,} | {row.judged} | {row.accepted} | {per_cpu:.2f} "
              f"| {60 * row.accepted / row.seconds:.2f} | {ratio} |")
    print()
    for name, row in rows:
        reasons = ", ".join(f"{reason} x{count}" for reason, count in sorted(row.client["errors"].items(),
                                                                              key=lambda item: -item[1]))
        print(f"{row.server} {name}: statuses {row.client['statuses']}; reasons: {reasons or 'none'}")
    by_server: dict[str, dict[str, set[str]]] = {}
    for name, row in rows:
        by_server.setdefault(row.server, {})[name] = set(row.client["accepted_snippets"])
    for server, accepted in by_server.items():
        if set(accepted) == {"gated", "in full"}:
            gated, full = accepted["gated"], accepted["in full"]
            print(f"{server}: snippets accepted in both runs {len(gated & full)}, only gated {len(gated - full)}, "
                  f"only in full {len(full - gated)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", nargs="+", default=["llama"], choices=["llama", "vllm"])
    parser.add_argument("--snippets", type=int, default=18, help="McEval programs, the six languages in turn")
    parser.add_argument("--candidates", type=int, default=2, help="answers per item")
    parser.add_argument("--answer-tokens", type=int, default=ANSWER_MAX_TOKENS,
                        help=f"the answer's max_tokens in both runs (default {ANSWER_MAX_TOKENS}, the peer cap)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="work items in flight, and requests in flight to the server")
    parser.add_argument("--until-pass", action="store_true",
                        help="the gated run writes its candidates one at a time until one passes its tests")
    parser.add_argument("--order", default="gated-first", choices=["gated-first", "full-first"])
    add_workspace_options(parser)
    parser.add_argument("--model", help="the model llama.cpp serves: a known embedded model's name or a GGUF file "
                                        "(default: the bundled SmolLM2-135M)")
    parser.add_argument("--json", type=Path, help="also write both rows here")
    args = parser.parse_args()
    if min(args.snippets, args.candidates, args.concurrency, args.answer_tokens) < 1:
        parser.error("--snippets, --candidates, --answer-tokens and --concurrency must be at least 1")
    try:
        gguf = resolve(args.model)[0] if args.model else None
    except ModelUnavailable as exc:
        parser.error(str(exc))
    runs = variants(args.candidates, args.answer_tokens, args.until_pass)
    order = list(runs) if args.order == "gated-first" else list(reversed(runs))
    rows: list[tuple[str, RunRow]] = []
    with peer_workspace("polyforge-early-", args.mceval, args.snippets, args.keep) as (work, snippets):
        for server_name in args.servers:
            with bench_server(server_name, work / server_name, args.vllm_python, gguf) as server:
                warm_up(server)
                for name in order:
                    print(f"{server.name}: {name}", file=sys.stderr, flush=True)
                    row = run_polyforge(server, work / "sources", len(snippets), args.concurrency,
                                        work / server_name / name.replace(" ", "-"), runs[name],
                                        items=args.concurrency)
                    rows.append((name, row))
    print_table(rows, args.snippets, args.candidates, args.model or "smollm2-135m", args.answer_tokens)
    if args.json:
        args.json.write_text(json.dumps([{"run": name, **asdict(row)} for name, row in rows], indent=2))


if __name__ == "__main__":
    main()
