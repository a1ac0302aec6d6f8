"""distilabel's side of bench/peer.py: the same three calls per snippet as a Polyforge campaign, as a distilabel
1.5.3 pipeline against an OpenAI-compatible server. Run by the interpreter of `.venv-distilabel` (distilabel's
own environment), not the project's.

Usage: .venv-distilabel/bin/python bench/peer_distilabel.py ROWS.json --base-url URL --model NAME [--work DIR]

ROWS.json is a list of {"language", "path", "code"} objects. The pipeline: LoadDataFromDicts -> TextGeneration
(a task the snippet solves, max_new_tokens 128) -> TextGeneration (its answer, 256) -> UltraFeedback (aspect
overall-rating, 256), all with OpenAILLM at temperature 0.7, top_p 0.95. UltraFeedback rates a list of
generations, so the answer is wrapped in a one-element list first (given a string, it rates each character).

stdout protocol, so that the caller can sample the server around the pipeline alone (imports and set-up
excluded): a line `PEER-START` just before `pipeline.run`, then one line `PEER-RESULT {json}` after it, with
the pipeline's wall seconds, rows out, rated rows, and the token counts distilabel recorded per step.
"""

# No `from __future__ import annotations`: distilabel reads the `StepInput` hint of a @step function at run time.
import argparse
import json
import sys
import time
from pathlib import Path

from distilabel.models.llms import OpenAILLM
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts, StepInput, step
from distilabel.steps.tasks import TextGeneration, UltraFeedback

# The same words as Polyforge's instruction and answer prompts (polyforge/prompts/), without its few-shot
# examples and coverage steering (both off in the Polyforge run of the comparison).
INSTRUCTION_SYSTEM = "You are an experienced programming teacher who writes clear programming exercises."
INSTRUCTION_TEMPLATE = (
    "Here is a {{ language }} function from {{ path }}:\n\n```{{ language | lower }}\n{{ code }}\n```\n\n"
    "Write one self-contained programming task that this code solves. Name the function to write and give its "
    "{{ language }} signature; describe the inputs, the output and one example. Do not include the code or the "
    "solution. Reply with the task only, in at most 80 words."
)
ANSWER_SYSTEM = "You are an expert programmer. You answer with correct, idiomatic, commented code."
ANSWER_TEMPLATE = (
    "{{ instruction }}\n\nAnswer in {{ language }} with the complete code in a single ```{{ language | lower }} "
    "code block; say why in comments where it is not obvious."
)
TEMPERATURE, TOP_P = 0.7, 0.95
INSTRUCTION_MAX_TOKENS, ANSWER_MAX_TOKENS, JUDGE_MAX_TOKENS = 128, 256, 256


class KeepEarlierMetadata:
    """A task replaces each row's `distilabel_metadata` with its own; this keeps the earlier steps' entries
    (their token statistics) beside it. No prompt or request changes."""

    def process(self, inputs: StepInput):
        earlier = [dict(row.get("distilabel_metadata") or {}) for row in inputs]
        for outputs in super().process(inputs):
            for before, row in zip(earlier, outputs):  # one generation per row: outputs follow inputs
                row["distilabel_metadata"] = {**before, **(row.get("distilabel_metadata") or {})}
            yield outputs


class PeerTextGeneration(KeepEarlierMetadata, TextGeneration):
    pass


class PeerUltraFeedback(KeepEarlierMetadata, UltraFeedback):
    pass


@step(inputs=["answer"], outputs=["generations"])
def AnswerAsGenerations(inputs: StepInput):
    """UltraFeedback's `generations` is a list of candidates: here, the one answer."""
    for row in inputs:
        row["generations"] = [row["answer"]]
    yield inputs


def server_llm(base_url: str, model: str, max_new_tokens: int) -> OpenAILLM:
    # A server that answers one request at a time (llama.cpp's) queues a whole batch: the last reply of a
    # batch of 50 can take many minutes, so the timeout must not cut the queue.
    return OpenAILLM(model=model, base_url=base_url, api_key="unused", timeout=3600, max_retries=2,
                     generation_kwargs={"max_new_tokens": max_new_tokens, "temperature": TEMPERATURE, "top_p": TOP_P})


def build_pipeline(rows: list[dict], base_url: str, model: str, cache_dir: Path) -> Pipeline:
    with Pipeline(name="peer-bench", cache_dir=cache_dir) as pipeline:
        load = LoadDataFromDicts(data=rows)
        instruct = PeerTextGeneration(
            name="instruction", llm=server_llm(base_url, model, INSTRUCTION_MAX_TOKENS),
            system_prompt=INSTRUCTION_SYSTEM, template=INSTRUCTION_TEMPLATE, columns=["language", "path", "code"],
            output_mappings={"generation": "instruction", "model_name": "instruction_model"},
        )
        answer = PeerTextGeneration(
            name="answer", llm=server_llm(base_url, model, ANSWER_MAX_TOKENS),
            system_prompt=ANSWER_SYSTEM, template=ANSWER_TEMPLATE, columns=["instruction", "language"],
            output_mappings={"generation": "answer", "model_name": "answer_model"},
        )
        wrap = AnswerAsGenerations()
        judge = PeerUltraFeedback(name="judge", aspect="overall-rating",
                                  llm=server_llm(base_url, model, JUDGE_MAX_TOKENS))
        load >> instruct >> answer >> wrap >> judge
    return pipeline


def token_counts(rows: list[dict]) -> dict:
    """Prompt and completion tokens per step, from the `statistics_STEP` entries distilabel keeps per row
    (taken from the server's `usage`)."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        for key, stats in (row.get("distilabel_metadata") or {}).items():
            if not key.startswith("statistics_") or not isinstance(stats, dict):
                continue
            step_counts = counts.setdefault(key.removeprefix("statistics_"), {"input_tokens": 0, "output_tokens": 0})
            for field in ("input_tokens", "output_tokens"):
                values = stats.get(field) or []
                step_counts[field] += sum(v for v in (values if isinstance(values, list) else [values]) if v)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=Path)
    parser.add_argument("--base-url", required=True, help="the server's /v1 URL")
    parser.add_argument("--model", required=True, help="the model name the server answers to")
    parser.add_argument("--work", type=Path, default=Path("distilabel-work"), help="distilabel's cache folder")
    args = parser.parse_args()
    rows = json.loads(args.rows.read_text())
    if not rows or any(set(row) < {"language", "path", "code"} for row in rows):
        raise SystemExit(f"error: {args.rows}: expected a non-empty list of {{language, path, code}} objects")
    pipeline = build_pipeline(rows, args.base_url, args.model, args.work / "cache")
    print("PEER-START", flush=True)
    started = time.perf_counter()
    # No cache: a second run with the same rows must call the server again.
    distiset = pipeline.run(use_cache=False)
    seconds = time.perf_counter() - started
    out = list(distiset["default"]["train"]) if distiset is not None else []
    rated = sum(1 for row in out if (row.get("ratings") or [None])[0] is not None)
    answered = sum(1 for row in out if row.get("answer"))
    print("PEER-RESULT " + json.dumps({"seconds": seconds, "rows": len(out), "answered": answered, "rated": rated,
                                       "tokens": token_counts(out)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
