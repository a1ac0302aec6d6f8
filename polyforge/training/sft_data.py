"""SFT rows: chat pairs rendered as prompt and completion, with fill-in-the-middle samples mixed in.

Every row is a plain-text prompt and completion, so that chat pairs and FIM samples share one dataset (TRL
wants one format per dataset) and the loss can skip the prompt (`completion_only_loss`). A chat pair's prompt
is the instruction under the tokenizer's chat template up to the assistant's turn; its completion is the
answer and the template's end of turn. A FIM sample's prompt is the code around the hole, its completion the
hole's code.
"""

from __future__ import annotations

import random
from collections import Counter

from polyforge.agents import code_block
from polyforge.config import FimConfig
from polyforge.export.fim import fim_cut, fim_text


class ChatTemplateMissing(ValueError):
    """The tokenizer has no chat template, so chat pairs cannot be rendered."""


def chat_row(messages: list[dict], tokenizer) -> dict:
    """{'prompt', 'completion'} of a chat whose last message is the assistant's answer."""
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateMissing("the base model's tokenizer has no chat template, so chat pairs cannot be "
                                  "rendered; start from an instruct model (e.g. 'embedded') or add a template")
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    whole = tokenizer.apply_chat_template(messages, tokenize=False)
    if not whole.startswith(prompt):  # a template that rewrites earlier turns once an answer follows
        raise ChatTemplateMissing("the tokenizer's chat template renders the instruction differently with and "
                                  "without the answer, so the answer cannot be told apart for the loss")
    return {"prompt": prompt, "completion": whole[len(prompt):]}


def fim_rows(examples: list[dict], wanted: int, settings: FimConfig, seed: int) -> list[dict]:
    """Up to `wanted` FIM rows cut from the examples' code blocks, going round the examples with new seeds
    until enough are cut (or every example has had as many tries as rows are wanted)."""
    sources = [(example.get("language", ""), code_block(example["messages"][-1]["content"])) for example in examples]
    sources = [(language, code + "\n") for language, code in sources if code]
    draw = random.Random(seed)
    rows: list[dict] = []
    for attempt in range(wanted * len(sources)):
        if len(rows) >= wanted:
            break
        language, code = sources[attempt % len(sources)]
        cut = fim_cut(code, language, draw.randrange(2**31), settings.mode, settings.levels)
        if cut is None:
            continue
        order = "spm" if draw.random() < settings.spm_rate else "psm"
        rows.append({"prompt": fim_text(cut, order), "completion": cut.middle, "kind": f"fim-{cut.level}",
                     "language": language})
    return rows


def sft_rows(examples: list[dict], tokenizer, fim: FimConfig, seed: int = 0) -> list[dict]:
    """The chat rows of `examples`, then FIM rows making up `fim.share` of the whole (cut from the same answers),
    shuffled together with `seed`."""
    rows = [{**chat_row(example["messages"], tokenizer), "kind": "chat", "language": example.get("language", "")}
            for example in examples]
    if fim.share:
        wanted = round(len(rows) * fim.share / (1 - fim.share))
        rows += fim_rows(examples, wanted, fim, seed)
    random.Random(seed).shuffle(rows)
    return rows


def data_counts(examples: list[dict], rows: list[dict] | None = None) -> dict:
    """Examples per language and per source repository, and rows per kind (chat, fim-LEVEL), for the summary."""
    counts = {
        "examples": len(examples),
        "by_language": dict(Counter(example.get("language", "?") for example in examples)),
        "by_source": dict(Counter((example.get("source") or {}).get("repository", "?") for example in examples)),
    }
    if rows is not None:
        counts["rows_by_kind"] = dict(Counter(row["kind"] for row in rows))
    return counts
