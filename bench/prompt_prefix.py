"""How much of each stage's prompt a server's prefix cache can reuse: the tokens a prompt shares, from its first
token, with the prompt before it of the same stage (what vLLM's automatic prefix caching and llama.cpp's slot
cache skip computing), measured on rendered prompts, no server needed.

Usage: python bench/prompt_prefix.py [--prompts-folder DIR] [--items 12]

Items are McEval-like: a short function in one of six languages, taking turns by language (the order in
which a campaign's scheduler hands them out), with an instruction and an answer of a few lines. Each
stage's prompts are rendered with the bundled templates (or a folder of overrides, to compare a layout),
turned into model input by SmolLM2's chat template, and tokenized. A cache with room for one prompt per
stage keeps the previous prompt of the stage: the figure is the mean shared prefix over consecutive prompts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transformers import AutoTokenizer

from polyforge.checklists import load_checklist
from polyforge.llm.checkpoint import embedded_checkpoint
from polyforge.prompts import PromptLibrary

LANGUAGES = {
    "Python": ("def add(a, b):\n    return a + b\n", "python"),
    "Go": ("func Add(a, b int) int {\n\treturn a + b\n}\n", "go"),
    "Rust": ("fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n", "rust"),
    "JavaScript": ("function add(a, b) {\n  return a + b;\n}\n", "javascript"),
    "C": ("int add(int a, int b) {\n    return a + b;\n}\n", "c"),
    "Java": ("static int add(int a, int b) {\n    return a + b;\n}\n", "java"),
}


def items(count: int) -> list[dict]:
    names = list(LANGUAGES)
    made = []
    for index in range(count):
        language = names[index % len(names)]
        code, fence = LANGUAGES[language]
        code = code.replace("add", f"add{index}")
        made.append({
            "language": language, "code": code, "path": f"src/file{index}",
            "instruction": f"Write a {language} function add{index} that returns the sum of two integers {index} "
                           f"times in a row, as described.",
            "answer": f"```{fence}\n{code}```\nIt adds the two numbers.",
        })
    return made


def stage_variables(item: dict, checklist) -> dict[str, dict]:
    return {
        "instruction": {"language": item["language"], "code": item["code"], "path": item["path"], "examples": [],
                        "target": None},
        "answer": {"language": item["language"], "instruction": item["instruction"]},
        "judge": {"language": item["language"], "instruction": item["instruction"], "answer": item["answer"],
                  "checklist": checklist, "rationales": False, "execution": "passed (3 tests)"},
    }


def shared_prefix(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts-folder", type=Path, help="templates that override the bundled ones by name")
    parser.add_argument("--items", type=int, default=12)
    args = parser.parse_args()
    if args.items < 2:
        parser.error("--items must be at least 2")
    if args.prompts_folder and not args.prompts_folder.is_dir():
        parser.error(f"--prompts-folder {args.prompts_folder}: no such folder")
    library = PromptLibrary(args.prompts_folder)
    tokenizer = AutoTokenizer.from_pretrained(embedded_checkpoint())
    checklist = load_checklist("default")
    rows = {}
    for stage in ("instruction", "answer", "judge"):
        encoded = []
        for item in items(args.items):
            messages = library.render(stage, **stage_variables(item, checklist)[stage]).messages
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            encoded.append(tokenizer(text).input_ids)
        shared = [shared_prefix(a, b) for a, b in zip(encoded, encoded[1:])]
        total = sum(len(tokens) for tokens in encoded[1:])
        rows[stage] = (total / len(shared), sum(shared) / len(shared), sum(shared) / total)
    print(f"prompts: {args.prompts_folder or 'bundled'}, {args.items} items taking turns by language\n")
    print("| stage | prompt tokens (mean) | shared with the previous prompt (mean) | share reusable |")
    print("| --- | ---: | ---: | ---: |")
    for stage, (length, shared, share) in rows.items():
        print(f"| {stage} | {length:.0f} | {shared:.0f} | {share:.0%} |")


if __name__ == "__main__":
    main()
