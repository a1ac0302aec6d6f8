"""The OpenAI-compatible backend against a real server: llama.cpp's, started on 127.0.0.1."""

import asyncio
import socket
import subprocess
import sys
import time

import httpx
import pytest

from polyforge.agents import JudgeAgent
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm import LLMError, SamplingParams
from polyforge.llm.embedded import bundled_gguf_path
from polyforge.llm.openai_backend import OpenAICompatibleBackend


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = free_port()
    # The server logs a lot while loading; a file, not a pipe, so it never blocks on a full buffer.
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("llama_cpp.server did not answer within 90 s")
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_chat_returns_text_and_usage(server_url):
    backend = OpenAICompatibleBackend(server_url, "smollm2")
    completion = asyncio.run(backend.chat([{"role": "user", "content": "Say hello."}],
                                          SamplingParams(temperature=0, max_tokens=16, seed=1)))
    assert completion.text.strip()
    assert completion.prompt_tokens > 0 and 0 < completion.completion_tokens <= 16
    assert completion.seconds > 0


def test_structured_judge_output_through_the_server(server_url, checklist, criteria):
    backend = OpenAICompatibleBackend(server_url, "smollm2", response_format="json_object")
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0, max_tokens=120), JudgeConfig(max_retries=2))
    verdict = asyncio.run(judge.judge("Python", "Return the sum of a list.", "```python\nsum(xs)\n```", seed=1))
    assert verdict.error is None, verdict.error
    assert set(verdict.scores) == set(criteria)
    assert all(checklist.scale.min <= v <= checklist.scale.max for v in verdict.scores.values())
    assert verdict.final_score == pytest.approx(checklist.final_score(verdict.scores))


def test_unreachable_server_is_an_llm_error():
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{free_port()}/v1", "m", max_retries=0, timeout_s=5)
    with pytest.raises(LLMError, match="Connection error"):
        asyncio.run(backend.chat([{"role": "user", "content": "hi"}], SamplingParams(max_tokens=4)))
