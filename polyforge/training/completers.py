"""The models an evaluation asks: a transformers model in this process, or a served one (vLLM, llama.cpp, any
OpenAI-compatible server). Both answer greedily, in batches, through the model's chat template when it has one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from polyforge.llm.base import EndpointUnavailable, LLMError, SamplingParams
from polyforge.sandbox import Sandbox
from polyforge.sandbox.mceval import Task
from polyforge.training.benchmarks import EvaluationError
from polyforge.training.evaluation import Completer, EvaluationReport, TaskOutcome, chat_message, evaluate

PROMPTINGS = ("auto", "chat", "completion")


def transformers_completer(model_name: str, max_new_tokens: int = 384, prompting: str = "auto") -> Completer:
    """Greedy replies from a transformers model folder, 'embedded' (the bundled SmolLM2) or a known embedded
    model's name. `prompting`: 'chat' (the tokenizer's chat template), 'completion' (continue the raw prompt) or
    'auto' (chat when the tokenizer has a template)."""
    import torch
    from transformers import AutoTokenizer

    from polyforge.llm.models import known_model
    from polyforge.training.base_model import resolve_base_model
    from polyforge.training.common import load_causal_lm

    if prompting not in PROMPTINGS:
        raise EvaluationError(f"prompting {prompting!r}: use one of {', '.join(PROMPTINGS)}")
    if model_name != "embedded" and known_model(model_name) is None and not any(
            (Path(model_name) / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise EvaluationError(f"model {model_name!r}: not a transformers model folder (no config.json); give a "
                              "folder `polyforge train` wrote (e.g. runs/demo/sft/model), 'embedded' or a known "
                              "model's name (`polyforge models list`)")
    source = resolve_base_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(source, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat = tokenizer.chat_template is not None if prompting == "auto" else prompting == "chat"
    if chat and tokenizer.chat_template is None:
        raise EvaluationError(f"model {model_name!r} has no chat template: evaluate it with prompting 'completion'")
    model = load_causal_lm(source)  # a full model, or an adapter over its base
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()

    def reply(tasks: list[Task]) -> list[str]:
        if chat:
            texts = [chat_prompt(tokenizer, task) for task in tasks]
        else:
            texts = [task.prompt for task in tasks]
        # A chat template writes its own special tokens; the tokenizer must not add a second BOS.
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat).to(device)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        return tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    return Completer(reply, chat)


def chat_prompt(tokenizer, task: Task) -> str:
    """The task as the model's chat template renders one user turn, ready for the assistant's reply."""
    return tokenizer.apply_chat_template([{"role": "user", "content": chat_message(task)}], tokenize=False,
                                         add_generation_prompt=True)


def served_completer(base_url: str, model: str, max_new_tokens: int = 384, api_key: str | None = None,
                     concurrency: int = 8) -> Completer:
    """Greedy chat replies from a server speaking the OpenAI API; the server applies the model's chat template.
    A batch's requests go out together (`concurrency` at most in flight)."""
    from polyforge.llm.openai_backend import OpenAICompatibleBackend

    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_new_tokens, seed=0)

    async def ask(tasks: list[Task]) -> list[str]:
        backend = OpenAICompatibleBackend(base_url, model, api_key=api_key, max_concurrency=concurrency)
        try:
            replies = await asyncio.gather(*(backend.chat([{"role": "user", "content": chat_message(task)}], params)
                                             for task in tasks))
        finally:
            await backend.aclose()
        return [completion.text for completion in replies]

    def reply(tasks: list[Task]) -> list[str]:
        try:
            return asyncio.run(ask(tasks))
        except (LLMError, EndpointUnavailable) as exc:
            raise EvaluationError(f"the server at {base_url} (model {model!r}) did not answer: {exc}") from exc

    return Completer(reply, chat=True)


def compare_models(models: Sequence[str], tasks: list[Task], max_new_tokens: int = 384, batch_size: int = 8,
                   on_model: Callable[[str], Callable[[TaskOutcome], None] | None] = lambda model: None,
                   prompting: str = "auto") -> list[EvaluationReport]:
    """Each model's report on the same tasks, in the models' order. `on_model(model)`, called once the model is
    loaded, returns what to call with each of its outcomes."""
    reports = []
    for model in models:
        completer = transformers_completer(model, max_new_tokens, prompting)
        reports.append(evaluate(model, tasks, completer, Sandbox(), batch_size=batch_size, on_done=on_model(model)))
    return reports
