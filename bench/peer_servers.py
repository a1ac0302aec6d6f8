"""The peer benches' servers (llama.cpp's and vLLM's, on the bundled model) and what a run is measured by: wall time,
the server's CPU time and its own request and token counters, before and after the run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from polyforge.llm.embedded import bundled_gguf_path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import LlamaServer, free_port  # noqa: E402 - the tests' llama.cpp server helper

SERVED_NAME = "smollm2"


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

