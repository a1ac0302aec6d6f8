"""Polyforge against distilabel 1.5.3 on the same server, the same snippets and the same call caps.

Usage: python bench/peer.py [--snippets 30] [--servers llama vllm] [--order alternate] [--concurrency 32]
                            [--items auto]
                            [--mceval MCEVAL_DIR] [--json FILE]

Snippets: McEval reference programs (prompt + canonical solution, read by polyforge.sandbox.mceval) of six
languages (Python, JavaScript, C, C++, Go, Rust), taken in turn, keeping only programs that Polyforge's ingest
cuts into exactly one snippet; Polyforge ingests them from a folder of source files, and distilabel gets the
same snippet texts as its input rows.

Each server gets both tools, one after the other, without a restart between them (`--order alternate`:
distilabel first on the first server, Polyforge first on the next):
- distilabel (bench/peer_distilabel.py, run by `.venv-distilabel/bin/python`, created here when missing, or by
  `make peer-bench-env`): LoadDataFromDicts -> TextGeneration (task, max 128 tokens) -> TextGeneration
  (answer, 256) -> UltraFeedback (overall-rating, 256) with OpenAILLM.
- Polyforge: a campaign (CampaignRunner) with instruction 128, answer 256 and judge 256 max tokens, one answer
  candidate, judge scores only, execution, memory banks, classification, steering and discussion off.
Both sample at temperature 0.7, top_p 0.95 at every stage (Polyforge's judge too, whose default is 0).

Servers: `llama`, llama-cpp-python's server (`python -m llama_cpp.server`, one request at a time) with the bundled
SmolLM2-135M GGUF, Polyforge asking for JSON with `json_object`; `vllm`, vLLM's OpenAI server started by
polyforge.llm.vllm_server.start_fleet on the same model converted to a transformers checkpoint (prefix caching
on), Polyforge asking with `json_schema`. A vLLM start takes minutes on a small CPU machine; it is not counted.

Measured per run, around the run alone (distilabel: `pipeline.run`, its step start-up included, interpreter and
imports not; Polyforge: `CampaignRunner.run`, ingest included):
- wall seconds; pairs (work items finished: a distilabel row out, a Polyforge pair in any status but failed,
  gate rejections included) and pairs per minute; of them, answered (an answer was written: Polyforge's
  instruction gate drops some before), judged (a judge score parsed) and, for Polyforge, accepted;
- server busy: CPU seconds of the server's process tree (psutil) / (wall x cores), and pairs per minute of that
  CPU time (on a shared machine the server's share of the cores varies from run to run; its CPU time varies less);
- requests, prompt tokens, prompt tokens the server computed (the rest came from its prefix cache) and
  completion tokens. vLLM: all from its Prometheus /metrics, read before and after the run. llama.cpp's server
  has no metrics: requests, prompt and computed prompt tokens come from its log (the access lines, its
  "prefix-match hit" and "prompt eval ... tokens" lines); completion tokens from the `usage` of its replies as
  each tool recorded them.

Matched: server and model, snippets, the three calls per pair and their max tokens, temperature and top_p,
no response cache. Not matched: the prompts (distilabel's are Polyforge's words without its per-language system
prompt; UltraFeedback has its own judge prompt and writes free text that it parses, while Polyforge's judge
writes schema-constrained JSON); how requests are sent (distilabel sends a step's whole batch, up to 50 rows,
at once and moves batch by batch; Polyforge keeps up to `--concurrency` requests in flight per server and
`--items` work items (auto: twice that), each going stage to stage);
Polyforge's cheap gates (on, as by default) may drop an instruction before its answer call, or an answer before
its judge call, and such a rejected pair counts as finished. vLLM's prefix cache is
not cleared between the two runs (their prompts share no leading block).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from peer_servers import SERVED_NAME, RunRow, Server, bench_server, server_row, warm_up
from peer_snippets import PEER_LANGUAGES, SOURCE_INGEST, PeerSnippet, add_workspace_options, peer_workspace
from sqlalchemy import func, select

from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.ingest import IngestReport
from polyforge.storage import Pair, Snippet, database
from polyforge.terms import GATE, PairStatus

REPO = Path(__file__).resolve().parent.parent
DISTILABEL_SCRIPT = Path(__file__).with_name("peer_distilabel.py")
DISTILABEL_ENV = REPO / ".venv-distilabel"
DISTILABEL_VERSION = "1.5.3"
DISTILABEL_PACKAGES = [f"distilabel=={DISTILABEL_VERSION}", "requests", "openai"]
INSTRUCTION_MAX_TOKENS, ANSWER_MAX_TOKENS, JUDGE_MAX_TOKENS = 128, 256, 256
TEMPERATURE, TOP_P = 0.7, 0.95
SYSTEMS = ("distilabel", "polyforge")


def distilabel_rows(snippets: list[PeerSnippet]) -> list[dict]:
    return [{"language": s.snippet.language, "path": s.snippet.path, "code": s.snippet.code} for s in snippets]


def ensure_distilabel_env(env: Path) -> Path:
    """The interpreter of distilabel's own environment, created with pip when missing (`make peer-bench-env`)."""
    python = env / "bin" / "python"
    if not python.is_file():
        print(f"creating {env} (distilabel {DISTILABEL_VERSION}; a few minutes)", file=sys.stderr, flush=True)
        subprocess.run(["python3", "-m", "venv", str(env)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *DISTILABEL_PACKAGES], check=True)
        (env / ".installed").touch()  # what `make peer-bench-env` leaves, so make does not install again
    found = subprocess.run([str(python), "-c", "import distilabel; print(distilabel.__version__)"],
                           capture_output=True, text=True)
    if found.returncode != 0 or found.stdout.strip() != DISTILABEL_VERSION:
        raise SystemExit(f"error: {python} should have distilabel {DISTILABEL_VERSION}, found "
                         f"{found.stdout.strip() or found.stderr.strip()[-300:]}; remove {env} to have it rebuilt")
    return python


def run_distilabel(server: Server, python: Path, rows: list[dict], work: Path) -> RunRow:
    work.mkdir(parents=True)
    rows_path = work / "rows.json"
    rows_path.write_text(json.dumps(rows))
    log_path = work / "distilabel.log"
    before = result = None
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(python), str(DISTILABEL_SCRIPT), str(rows_path), "--base-url", server.url, "--model", SERVED_NAME,
             "--work", str(work)], stdout=subprocess.PIPE, stderr=log, text=True, cwd=work)
        for line in process.stdout:
            if line.startswith("PEER-START"):
                before = server.sample()
            elif line.startswith("PEER-RESULT "):
                after = server.sample()
                result = json.loads(line.removeprefix("PEER-RESULT "))
        process.wait()
    if process.returncode != 0 or before is None or result is None:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"error: the distilabel pipeline failed (exit {process.returncode}); {log_path} ends:\n{tail}")
    # The pipeline's own clock, not the time between the two samples: the samples wait on pipes and on
    # the server's metrics. The CPU and counters still cover the same span, give or take those waits.
    after.at = before.at + result["seconds"]
    tokens = result["tokens"]
    usage_completion = sum(step["output_tokens"] for step in tokens.values())
    client = {"tokens_per_step": tokens, "rows": result["rows"]}
    return server_row(server, "distilabel", before, after, result["rows"], result["answered"], result["rated"],
                      None, usage_completion, client)


def polyforge_config(work: Path, sources: Path, server: Server, pairs: int, concurrency: int,
                     overrides: dict | None = None, items: int | str = "auto") -> CampaignConfig:
    """The peer campaign; `overrides` (a partial config) is merged into it, key by key."""
    stage = {"temperature": TEMPERATURE, "top_p": TOP_P}
    return CampaignConfig.model_validate(merged({
        "name": "peer", "output_dir": str(work), "database_url": f"sqlite:///{work / 'peer.db'}",
        "sources": [{"path": str(sources)}], "budgets": {"max_pairs": pairs}, "concurrency": items,
        "memory": {"enabled": False}, "execution": {"enabled": False}, "ingest": SOURCE_INGEST,
        "coverage": {"classify": False, "steer": False},
        "generation": {"discussion": {"share": 0.0}},
        "judge": {"rationales": False, "samples": 1},
        "models": {"generator": {"backend": "openai", "model": SERVED_NAME, "base_url": server.url,
                                 "response_format": server.response_format, "timeout_s": 3600,
                                 "max_concurrency": concurrency}},
        "sampling": {"seed": 7, "candidates": 1,
                     "instruction": {**stage, "max_tokens": INSTRUCTION_MAX_TOKENS},
                     "answer": {**stage, "max_tokens": ANSWER_MAX_TOKENS},
                     "judge": {**stage, "max_tokens": JUDGE_MAX_TOKENS}},
    }, overrides or {}))


def work_items(value: str) -> int | str:
    """--items: a positive count or auto."""
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or auto, got {value!r}")
    return int(value)


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` applied: nested mappings merged, anything else replaced."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run_polyforge(server: Server, sources: Path, pairs: int, concurrency: int, work: Path,
                  overrides: dict | None = None, items: int | str = "auto") -> RunRow:
    config = polyforge_config(work, sources, server, pairs, concurrency, overrides, items)
    ingested: list[IngestReport] = []
    progress = CampaignProgress(on_ingested=ingested.append)
    before = server.sample()
    result = asyncio.run(CampaignRunner(config, progress).run())
    after = server.sample()
    snippets = sum(stats.snippets for stats in ingested[0].languages.values())
    if snippets != pairs:
        raise SystemExit(f"error: Polyforge's ingest kept {snippets} snippets of the {pairs} peer programs")
    with database(result.database_url) as sessions, sessions() as session:
        mine = Pair.campaign_id == result.campaign_id
        finished = session.scalar(select(func.count(Pair.id)).where(mine, Pair.status != PairStatus.failed))
        # An item the instruction gate dropped got no answer call.
        unanswered = session.scalar(select(func.count(Pair.id)).where(
            mine, Pair.error.like(f"{GATE}instruction restates%")))
        judged = session.scalar(select(func.count(Pair.id)).where(mine, Pair.final_score.is_not(None)))
        # Why pairs were rejected before or by the judge (gate drops, malformed judge replies), for the notes.
        errors = Counter(error[:80] for error in session.scalars(
            select(Pair.error).where(mine, Pair.error.is_not(None))))
        # Which snippets ended accepted, to set two runs on the same snippets side by side.
        accepted_paths = sorted(session.scalars(select(Snippet.path).join(Pair, Pair.snippet_id == Snippet.id).where(
            mine, Pair.status == PairStatus.accepted)))
    statuses = {str(status): n for status, n in result.statuses.items()}
    client = {"statuses": statuses, "errors": dict(errors), "accepted_snippets": accepted_paths,
              "requests": sum(e.requests for e in result.endpoints),
              "prompt_tokens": sum(e.prompt_tokens for e in result.endpoints),
              "completion_tokens": sum(e.completion_tokens for e in result.endpoints)}
    return server_row(server, "polyforge", before, after, finished, finished - unanswered, judged,
                      statuses.get("accepted", 0),
                      client["completion_tokens"], client)


def run_both(server: Server, first: str, distilabel_python: Path, snippets: list[PeerSnippet], sources: Path,
             concurrency: int, items: int | str, work: Path) -> list[RunRow]:
    warm_up(server)
    rows = []
    for system in (first, *[s for s in SYSTEMS if s != first]):
        print(f"{server.name}: running {system}", file=sys.stderr, flush=True)
        server.forget_prefixes()
        if system == "distilabel":
            rows.append(run_distilabel(server, distilabel_python, distilabel_rows(snippets), work / "distilabel"))
        else:
            rows.append(run_polyforge(server, sources, len(snippets), concurrency, work / "polyforge", items=items))
        row = rows[-1]
        print(f"{server.name} {system}: {row.pairs} pairs in {row.seconds:.0f} s ({row.pairs_per_min:.1f}/min)",
              file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[RunRow], snippets: int, concurrency: int) -> None:
    cores = len(os.sched_getaffinity(0))
    print(f"{snippets} McEval snippets ({', '.join(PEER_LANGUAGES)}), {cores} cores, max tokens "
          f"{INSTRUCTION_MAX_TOKENS}/{ANSWER_MAX_TOKENS}/{JUDGE_MAX_TOKENS}, temperature {TEMPERATURE}, "
          f"Polyforge concurrency {concurrency}\n")
    print("| server | system | wall s | pairs | pairs/min | answered | judged | accepted | server busy | requests "
          "| prompt tokens | computed prompt | completion tokens | pairs/min vs distilabel | pairs/server CPU-min "
          "| vs distilabel |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: |")
    baseline = {row.server: row for row in rows if row.system == "distilabel"}
    for row in rows:
        base = baseline.get(row.server)
        ratio = row.pairs_per_min / base.pairs_per_min if base and base.pairs_per_min else float("nan")
        cpu_ratio = (row.pairs_per_server_cpu_min / base.pairs_per_server_cpu_min
                     if base and base.pairs_per_server_cpu_min else float("nan"))
        accepted = "-" if row.accepted is None else str(row.accepted)
        print(f"| {row.server} | {row.system} | {row.seconds:.0f} | {row.pairs} | {row.pairs_per_min:.2f} "
              f"| {row.answered} | {row.judged} | {accepted} | {100 * row.busy:.0f}% | {row.requests} "
              f"| {row.prompt_tokens:,} | {row.computed_prompt_tokens:,} | {row.completion_tokens:,} | {ratio:.2f}x "
              f"| {row.pairs_per_server_cpu_min:.2f} | {cpu_ratio:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=30, help="McEval programs, the six languages in turn")
    parser.add_argument("--servers", nargs="+", default=["llama", "vllm"], choices=["llama", "vllm"])
    parser.add_argument("--order", default="alternate", choices=["alternate", "distilabel-first", "polyforge-first"],
                        help="which tool runs first on each server (alternate: distilabel first on the first)")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="Polyforge's requests in flight per server (max_concurrency; the README's server config)")
    parser.add_argument("--items", type=work_items, default="auto",
                        help="Polyforge's work items in flight (default auto: twice --concurrency)")
    add_workspace_options(parser)
    parser.add_argument("--distilabel-env", type=Path, default=DISTILABEL_ENV)
    parser.add_argument("--json", type=Path, help="also write every row, with the tools' own counts, here")
    args = parser.parse_args()
    if args.snippets < 1 or args.concurrency < 1:
        parser.error("--snippets and --concurrency must be at least 1")
    if len(set(args.servers)) != len(args.servers):
        parser.error("--servers: each server once")
    distilabel_python = ensure_distilabel_env(args.distilabel_env)
    rows: list[RunRow] = []
    with peer_workspace("polyforge-peer-", args.mceval, args.snippets, args.keep) as (work, snippets):
        sources = work / "sources"
        for index, name in enumerate(args.servers):
            if args.order == "alternate":
                first = SYSTEMS[index % 2]
            else:
                first = args.order.removesuffix("-first")
            common = dict(first=first, distilabel_python=distilabel_python, snippets=snippets, sources=sources,
                          concurrency=args.concurrency, items=args.items)
            with bench_server(name, work / name, args.vllm_python) as running:
                rows += run_both(running, work=work / name, **common)
    print_table(rows, args.snippets, args.concurrency)
    if args.json:
        args.json.write_text(json.dumps([asdict(row) | {"pairs_per_min": row.pairs_per_min,
                                                         "pairs_per_server_cpu_min": row.pairs_per_server_cpu_min}
                                         for row in rows],
                                        indent=2))


if __name__ == "__main__":
    main()
