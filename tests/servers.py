"""Real local servers for tests: llama.cpp's OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` on a fixed free port, which a test may kill and start again."""

    def __init__(self, gguf: Path, log_path: Path, alias: str = "smollm2"):
        self.gguf, self.log_path, self.alias = gguf, log_path, alias
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90) -> str:
        # The server logs a lot while loading: a file, not a pipe, so it never blocks on a full buffer.
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--host", "127.0.0.1",
                 "--port", str(self.port), "--n_ctx", "2048", "--model_alias", self.alias],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout_s} s")
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.3)

    def kill(self) -> None:
        """As a crash would: SIGKILL, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextmanager
def llama_server(gguf: Path, log_path: Path, alias: str = "smollm2") -> Iterator[str]:
    """A llama.cpp server for the duration of the block; yields its /v1 base URL."""
    server = LlamaServer(gguf, log_path, alias)
    try:
        yield server.start()
    finally:
        server.stop()


class ServeVLLM:
    """`polyforge serve vllm` as a user runs it: a child process that prints its URLs once the server answers
    and stops the server on SIGTERM. `output` keeps what the command printed, for the tests to read."""

    def __init__(self, log_dir: Path, model: str = "embedded"):
        self.log_dir, self.model = log_dir, model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.output_path = log_dir / "serve.out"
        self.process: subprocess.Popen | None = None

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def start(self, timeout_s: float = 900) -> str:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.output_path.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "polyforge.cli", "serve", "vllm", self.model, "--port", str(self.port),
                 "--log-dir", str(self.log_dir), "--ready-timeout-s", str(timeout_s),
                 # No torch.compile: the start-up stays short; the served results are the same.
                 "--vllm-arg=--enforce-eager"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s + 60
        while "ready:" not in self.output:
            if self.process.poll() is not None:
                raise RuntimeError(f"polyforge serve vllm exited ({self.process.returncode}):\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"polyforge serve vllm not ready after {timeout_s} s:\n{self.output[-3000:]}")
            time.sleep(2)
        return self.url

    def stop(self, timeout_s: float = 90) -> int:
        """SIGTERM, as a service manager sends it; the command's exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=timeout_s)
