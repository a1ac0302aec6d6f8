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


@contextmanager
def llama_server(gguf: Path, log_path: Path, alias: str = "smollm2") -> Iterator[str]:
    """`python -m llama_cpp.server` on a free port; yields its /v1 base URL."""
    port = free_port()
    # The server logs a lot while loading: a file, not a pipe, so it never blocks on a full buffer.
    with log_path.open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port",
             str(port), "--n_ctx", "2048", "--model_alias", alias],
            stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 90
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not answer within 90 s")
                try:
                    if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
