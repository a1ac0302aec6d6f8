"""`polyforge serve ...`: start model servers that campaigns point at (OpenAI-compatible)."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyforge.cli.common import console, fail, output_path
from polyforge.llm.vllm_server import (
    ServerSettings,
    VLLMUnavailable,
    find_vllm_python,
    plan_replicas,
    port_in_use,
    start_fleet,
)

app = typer.Typer(help="Start model servers for campaigns.", no_args_is_help=True)


@app.command()
def vllm(
    model: Annotated[str, typer.Argument(help="A transformers model folder or hub name already in the local cache; "
                                          "'embedded' serves the bundled SmolLM2-135M-Instruct.")] = "embedded",
    port: Annotated[int, typer.Option(help="Port of the first replica; the others take the next ones.")] = 8000,
    replicas: Annotated[int, typer.Option(min=1, help="Servers to start (one per GPU, or a share of the cores each).")] = 1,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    served_name: Annotated[Optional[str], typer.Option(help="Model name clients send (default: the model's folder name).")] = None,
    max_model_len: Annotated[int, typer.Option(min=256, help="Context window per request, in tokens.")] = 4096,
    python: Annotated[Optional[Path], typer.Option(help="Interpreter that has vLLM (default: found, see README).")] = None,
    log_dir: Annotated[Optional[Path], typer.Option(help="Folder for the servers' logs (default: a new temp folder).")] = None,
    ready_timeout_s: Annotated[float, typer.Option(min=1, help="Seconds to wait for every replica to answer.")] = 900,
    vllm_args: Annotated[Optional[list[str]], typer.Option("--vllm-arg", help="Passed to each server as is; repeat it.")] = None,
) -> None:
    """Start vLLM's OpenAI-compatible server (prefix caching on) as REPLICAS processes, print their URLs and
    the config lines that use them, and stop them all on Ctrl+C or SIGTERM."""
    from polyforge.llm.checkpoint import resolve_checkpoint

    _check_model(model)
    if log_dir:
        output_path(log_dir, folder=True)
    busy = [p for p in range(port, port + replicas) if port_in_use(host, p)]
    if busy:
        fail(f"port(s) {', '.join(map(str, busy))} on {host} already in use: choose another --port")
    try:
        interpreter = find_vllm_python(python)
        plan_replicas(replicas)  # too few GPUs or cores fail before the model is prepared
    except VLLMUnavailable as exc:
        fail(str(exc))
    with console.status("preparing the model checkpoint..."):
        checkpoint = resolve_checkpoint(model)
    name = served_name or Path(checkpoint).name
    logs = log_dir or Path(tempfile.mkdtemp(prefix="polyforge-vllm-"))
    settings = ServerSettings(model=checkpoint, served_name=name, host=host, first_port=port, replicas=replicas,
                              max_model_len=max_model_len, extra_args=tuple(vllm_args or ()))
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    try:
        fleet = start_fleet(settings, interpreter, logs)
    except VLLMUnavailable as exc:
        fail(str(exc))
    try:
        console.print(f"starting {replicas} vLLM server(s) for {checkpoint} with {interpreter} (logs in {logs})")
        with console.status("waiting for the servers (loading a model takes minutes on a CPU)...") as status:
            fleet.wait_ready(ready_timeout_s,
                             on_wait=lambda seconds: status.update(f"waiting for the servers... {seconds:.0f} s"))
        console.print("[green]ready[/]: " + " ".join(fleet.urls), highlight=False)
        console.print("campaign config:\n  models:\n    generator:\n      backend: openai\n"
                      f"      model: {name}\n      base_url: [{', '.join(fleet.urls)}]", highlight=False)
        console.print("Ctrl+C stops them.")
        while all(replica.process.poll() is None for replica in fleet.replicas):
            time.sleep(1)
        dead = [r for r in fleet.replicas if r.process.poll() is not None]
        fail(f"the vLLM server on port {dead[0].port} exited (code {dead[0].process.returncode}); "
             f"its log ends with:\n{dead[0].log_tail()}")
    except VLLMUnavailable as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        console.print("stopping the servers...")
    finally:
        fleet.stop()
    console.print("stopped")


def _check_model(model: str) -> None:
    """A local model must be a transformers folder; anything else that is not a path is a hub name for vLLM."""
    path = Path(model).expanduser()
    looks_local = model.startswith(("/", "./", "../", "~")) or path.exists()
    if model == "embedded" or not looks_local:
        return
    if not path.is_dir():
        fail(f"model {model}: no such folder (name a transformers model folder, a hub name, or 'embedded')")
    if not (path / "config.json").is_file():
        fail(f"model {model}: not a transformers model folder (no config.json in it)")


def _stop_like_ctrl_c(signum, frame) -> None:
    raise KeyboardInterrupt
