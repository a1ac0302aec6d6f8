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
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
from sqlalchemy import func, select

from polyforge.config import CampaignConfig, IngestConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.ingest import IngestReport, stream_snippets
from polyforge.ingest.pipeline import SnippetRecord
from polyforge.llm.embedded import bundled_gguf_path
from polyforge.sandbox.mceval import McEvalError, Task, bundled_mceval, load_tasks
from polyforge.storage import Pair, Snippet, database
from polyforge.terms import GATE, PairStatus

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from servers import LlamaServer, free_port  # noqa: E402 - the tests' llama.cpp server helper

DISTILABEL_SCRIPT = Path(__file__).with_name("peer_distilabel.py")
DISTILABEL_ENV = REPO / ".venv-distilabel"
DISTILABEL_VERSION = "1.5.3"
DISTILABEL_PACKAGES = [f"distilabel=={DISTILABEL_VERSION}", "requests", "openai"]
# McEval file stems through the loader's names, and the extension Polyforge's ingest identifies each by.
PEER_LANGUAGES = {"Python": ".py", "JavaScript": ".js", "C": ".c", "C++": ".cpp", "Go": ".go", "Rust": ".rs"}
# The snippets are McEval's own programs: the campaign must not drop them (or their pairs) as contaminated.
SOURCE_INGEST = {"decontaminate_mceval": False}
CANDIDATES_PER_LANGUAGE = 25  # programs read per language to find enough that ingest keeps as one snippet
SERVED_NAME = "smollm2"
INSTRUCTION_MAX_TOKENS, ANSWER_MAX_TOKENS, JUDGE_MAX_TOKENS = 128, 256, 256
TEMPERATURE, TOP_P = 0.7, 0.95
SYSTEMS = ("distilabel", "polyforge")


# ---------------------------------------------------------------- snippets

@dataclass(frozen=True)
class PeerSnippet:
    file_name: str
    program: str  # the file Polyforge ingests
    snippet: SnippetRecord  # what ingest cuts from it: the code both tools are given


def peer_snippets(mceval: Path, count: int, scratch: Path) -> list[PeerSnippet]:
    """`count` McEval programs, the six languages in turn, each one that ingest keeps as exactly one snippet."""
    tasks = load_tasks(mceval, list(PEER_LANGUAGES), CANDIDATES_PER_LANGUAGE)
    scratch.mkdir(parents=True)
    programs: dict[str, tuple[Task, str]] = {}
    for task in tasks:
        name = re.sub(r"\W", "_", task.task_id) + PEER_LANGUAGES[task.language]
        (scratch / name).write_text(task.program)
        programs[name] = (task, task.program)
    cut: dict[str, list[SnippetRecord]] = defaultdict(list)
    for record in stream_snippets([scratch], IngestConfig(**SOURCE_INGEST)):
        cut[Path(record.path).name].append(record)
    by_language: dict[str, list[PeerSnippet]] = defaultdict(list)
    for name, (task, program) in programs.items():
        if len(cut.get(name, [])) == 1:
            by_language[task.language].append(PeerSnippet(name, program, cut[name][0]))
    chosen: list[PeerSnippet] = []
    for index in range(count):
        language = list(PEER_LANGUAGES)[index % len(PEER_LANGUAGES)]
        rank = index // len(PEER_LANGUAGES)
        if rank >= len(by_language[language]):
            raise SystemExit(f"error: only {len(by_language[language])} {language} programs of the first "
                             f"{CANDIDATES_PER_LANGUAGE} in {mceval} are one snippet each; ask for fewer --snippets")
        chosen.append(by_language[language][rank])
    return chosen


def write_sources(folder: Path, snippets: list[PeerSnippet]) -> None:
    folder.mkdir(parents=True)
    for item in snippets:
        (folder / item.file_name).write_text(item.program)


def add_workspace_options(parser: argparse.ArgumentParser) -> None:
    """The options every bench on peer snippets shares: where McEval is, which vLLM, and a folder to keep."""
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (databases, server logs)")
    parser.add_argument("--mceval", type=Path, default=bundled_mceval(),
                        help="McEval's data folder (its LANGUAGE.jsonl files; default: the bundled copy)")
    parser.add_argument("--vllm-python", help="the interpreter with vLLM (default: as `polyforge serve vllm`)")


@contextmanager
def peer_workspace(prefix: str, mceval: Path, count: int,
                   keep: Path | None = None) -> Iterator[tuple[Path, list[PeerSnippet]]]:
    """A scratch folder with `count` peer snippets' programs written to its `sources` folder, for the duration;
    with `keep` (a folder that must not exist yet) the work is done there and stays, databases and logs included."""
    if keep is not None and keep.exists():
        raise SystemExit(f"error: --keep: {keep} already exists; name a new folder")
    with nullcontext(str(keep)) if keep is not None else tempfile.TemporaryDirectory(prefix=prefix) as folder:
        work = Path(folder)
        try:
            snippets = peer_snippets(mceval, count, work / "candidates")
        except McEvalError as exc:
            raise SystemExit(f"error: --mceval: {exc}") from exc
        write_sources(work / "sources", snippets)
        yield work, snippets


def distilabel_rows(snippets: list[PeerSnippet]) -> list[dict]:
    return [{"language": s.snippet.language, "path": s.snippet.path, "code": s.snippet.code} for s in snippets]


# ---------------------------------------------------------------- servers

@dataclass
class ServerSample:
    at: float
    cpu_s: float
    counters: dict[str, float]


class Server:
    """One running server: its URL, the processes whose CPU time counts, and its own counters."""

    name = ""
    response_format = ""

    def __init__(self, url: str, process: subprocess.Popen):
        self.url, self.process = url, process

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server process and all its descendants alive now."""
        root = psutil.Process(self.process.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def counters(self) -> dict[str, float]:
        raise NotImplementedError

    def forget_prefixes(self) -> None:
        """Empty the server's prefix cache, so that a run does not reuse what an earlier run computed. llama.cpp's
        server keeps only the last prompt of its one slot: nothing to do there."""

    def sample(self) -> ServerSample:
        return ServerSample(time.perf_counter(), self.cpu_seconds(), self.counters())


class LlamaCppServer(Server):
    name = "llama.cpp"
    response_format = "json_object"
    REQUEST = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d+)')
    PREFIX_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit")
    COMPUTED = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path):
        super().__init__(url, process)
        self.log_path = log_path

    def counters(self) -> dict[str, float]:
        # The server handles one request at a time, so its log lines never interleave; counters are totals
        # since start, and a run's figures are differences.
        text = self.log_path.read_text(errors="replace")
        statuses = self.REQUEST.findall(text)
        cached = sum(int(n) for n in self.PREFIX_HIT.findall(text))
        computed = sum(int(n) for n in self.COMPUTED.findall(text))
        return {"requests": sum(s == "200" for s in statuses), "failed_requests": sum(s != "200" for s in statuses),
                "prompt_tokens": cached + computed, "computed_prompt_tokens": computed}


class VLLMServer(Server):
    name = "vLLM"
    response_format = "json_schema"
    METRICS = {"vllm:request_success_total": "requests", "vllm:prompt_tokens_total": "prompt_tokens",
               "vllm:generation_tokens_total": "completion_tokens", "vllm:prefix_cache_hits_total": "cached",
               "vllm:prefix_cache_queries_total": "cache_queries"}

    def counters(self) -> dict[str, float]:
        with urllib.request.urlopen(self.url.removesuffix("/v1") + "/metrics", timeout=30) as response:
            return self.parse_metrics(response.read().decode())

    @classmethod
    def parse_metrics(cls, text: str) -> dict[str, float]:
        """The counters of METRICS from Prometheus' text format, each summed over its labels (finish reasons,
        engines); vLLM's prompt tokens count cached ones too, so the computed ones are the difference."""
        totals: Counter = Counter()
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            metric = cls.METRICS.get(name.split("{", 1)[0])
            if metric:
                totals[metric] += float(value)
        missing = [name for name, metric in cls.METRICS.items() if metric not in totals]
        if missing:
            raise SystemExit(f"error: vLLM's /metrics has no {', '.join(missing)}; this bench reads vLLM 0.32's names")
        totals["computed_prompt_tokens"] = totals["prompt_tokens"] - totals["cached"]
        return dict(totals)

    def forget_prefixes(self) -> None:
        """vLLM's `/reset_prefix_cache` (served in dev mode, which bench_vllm_server turns on); it refuses while
        requests hold blocks, so it is retried for a while."""
        url = self.url.removesuffix("/v1") + "/reset_prefix_cache"
        for _ in range(60):
            with urllib.request.urlopen(urllib.request.Request(url, b"", method="POST"), timeout=60) as response:
                if json.loads(response.read()).get("success"):
                    return
            time.sleep(1)
        raise SystemExit("error: vLLM did not empty its prefix cache within a minute")


def warm_up(server: Server) -> None:
    """One short request, so that neither tool's run pays the server's first-request costs."""
    body = json.dumps({"model": SERVED_NAME, "messages": [{"role": "user", "content": "Say hello."}],
                       "max_tokens": 8}).encode()
    request = urllib.request.Request(server.url + "/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        response.read()


# ---------------------------------------------------------------- runs

@dataclass
class RunRow:
    server: str
    system: str
    seconds: float
    pairs: int  # work items finished: a distilabel row out, a Polyforge pair in any status but failed
    answered: int  # of them, those whose answer was written
    judged: int  # of them, those with a judge score that parsed
    accepted: int | None
    busy: float  # server CPU seconds / (wall x cores)
    requests: int
    prompt_tokens: int
    computed_prompt_tokens: int
    completion_tokens: int
    client: dict = field(default_factory=dict)  # what the tool itself counted, for cross-checks

    @property
    def pairs_per_min(self) -> float:
        return 60 * self.pairs / self.seconds if self.seconds else 0.0

    @property
    def pairs_per_server_cpu_min(self) -> float:
        """Pairs per minute of the server's CPU time: less swayed than wall time by other work on the machine."""
        cpu_s = self.busy * self.seconds * len(os.sched_getaffinity(0))
        return 60 * self.pairs / cpu_s if cpu_s else 0.0


def server_row(server: Server, system: str, before: ServerSample, after: ServerSample, pairs: int, answered: int,
               judged: int, accepted: int | None, completion_from_usage: int, client: dict) -> RunRow:
    seconds = after.at - before.at
    delta = {key: after.counters[key] - before.counters.get(key, 0) for key in after.counters}
    cores = len(os.sched_getaffinity(0))
    completion = int(delta["completion_tokens"]) if "completion_tokens" in delta else completion_from_usage
    if delta.get("failed_requests"):
        client = {**client, "failed_requests": int(delta["failed_requests"])}
    busy = (after.cpu_s - before.cpu_s) / (seconds * cores)
    return RunRow(server.name, system, seconds, pairs, answered, judged, accepted, busy, int(delta["requests"]),
                  int(delta["prompt_tokens"]), int(delta["computed_prompt_tokens"]), completion, client)


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


@contextmanager
def bench_llama_server(work: Path, gguf: Path | None = None) -> Iterator[Server]:
    """llama.cpp's server on the bundled model (or `gguf`), for the duration."""
    work.mkdir(parents=True)
    helper = LlamaServer(gguf or bundled_gguf_path(), work / "llama-server.log", alias=SERVED_NAME)
    try:
        url = helper.start(timeout_s=600)
        yield LlamaCppServer(url, helper.process, helper.log_path)
    finally:
        helper.stop()


@contextmanager
def bench_vllm_server(work: Path, vllm_python: str | None) -> Iterator[Server]:
    """One vLLM server on the bundled model as a transformers checkpoint, for the duration (start not counted)."""
    from polyforge.llm.checkpoint import embedded_checkpoint
    from polyforge.llm.vllm_server import ServerSettings, find_vllm_python, start_fleet

    settings = ServerSettings(model=str(embedded_checkpoint()), served_name=SERVED_NAME, first_port=free_port())
    os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # serves /reset_prefix_cache (Server.forget_prefixes); the fleet inherits it
    fleet = start_fleet(settings, find_vllm_python(vllm_python), work / "vllm-logs")
    try:
        started = time.perf_counter()
        fleet.wait_ready(1800)
        print(f"vLLM ready after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        replica = fleet.replicas[0]
        yield VLLMServer(replica.url, replica.process)
    finally:
        fleet.stop()


def bench_server(name: str, work: Path, vllm_python: str | None, gguf: Path | None = None):
    """The server a bench's `--servers` names: `llama` (on `gguf` when given) or `vllm`, as a context manager."""
    return bench_llama_server(work, gguf) if name == "llama" else bench_vllm_server(work, vllm_python)


# ---------------------------------------------------------------- output

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
