"""The paraphrase decontamination check on a labelled set: benchmark tasks reworded by hand and by a model, and
unrelated tasks of the same topics (tests/data/paraphrase/labelled.jsonl).

Usage:
  python bench/paraphrase_check.py reword [--model qwen2.5-coder-0.5b] [--first 40] [--count 30]
      asks the embedded model to reword HumanEval tasks and appends them to the set (label paraphrase, by model)
  python bench/paraphrase_check.py evaluate
      precision and recall of the check at each threshold, against HumanEval's tasks
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polyforge.ingest.paraphrases import BenchmarkIndex, bundled_vectors, humaneval_tasks, load_labelled  # noqa: E402
from polyforge.memory.embedder import shared_embedder  # noqa: E402

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "paraphrase" / "labelled.jsonl"
THRESHOLDS = (0.55, 0.6, 0.65, 0.68, 0.7, 0.72, 0.75, 0.78, 0.8, 0.85, 0.9)
REWORD = ("Reword this programming task so that it asks for exactly the same thing in different words, as a user "
          "would ask it. Do not solve it, write no code, reply with the reworded task only.\n\nTask: {task}")


async def reword(model: str, first: int, count: int) -> None:
    from polyforge.llm import Message, SamplingParams
    from polyforge.llm.embedded import EmbeddedBackend

    backend = EmbeddedBackend(model)
    tasks = list(humaneval_tasks())[first:first + count]
    with LABELLED.open("a", encoding="utf-8") as out:
        for task in tasks:
            messages: list[Message] = [{"role": "user", "content": REWORD.format(task=task.text)}]
            reply = await backend.chat(messages, SamplingParams(temperature=0.7, max_tokens=120, seed=1))
            text = " ".join(reply.text.split())
            out.write(json.dumps({"text": text, "label": "paraphrase", "task_id": task.task_id,
                                  "by": f"model:{model}"}) + "\n")
            print(task.task_id, "->", text[:100], flush=True)


def evaluate() -> None:
    rows = load_labelled(LABELLED)
    # the set rewords HumanEval's tasks (its unrelated ones are unrelated to HumanEval, not to every McEval task)
    index = BenchmarkIndex(humaneval_tasks(), shared_embedder(), bundled_vectors())
    hits = index.nearest([row["text"] for row in rows])
    print(f"{len(rows)} labelled rows ({sum(r['label'] == 'paraphrase' for r in rows)} paraphrases), "
          f"{len(index.tasks)} benchmark tasks")
    paraphrases = sum(row["label"] == "paraphrase" for row in rows)
    print("| threshold | precision | recall | F1 | paraphrases flagged (by hand / by model) | naming the reworded task "
          "| unrelated flagged |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for threshold in THRESHOLDS:
        flagged = [(row, hit) for row, hit in zip(rows, hits) if hit.similarity >= threshold]
        caught = [(row, hit) for row, hit in flagged if row["label"] == "paraphrase"]
        precision = len(caught) / len(flagged) if flagged else float("nan")
        recall = len(caught) / paraphrases
        f1 = 2 * precision * recall / (precision + recall) if caught else 0.0
        by_hand = sum(row["by"] == "hand" for row, _ in caught)
        named = sum(hit.task.task_id == row["task_id"] for row, hit in caught)
        print(f"| {threshold:.2f} | {precision:.2f} | {recall:.2f} | {f1:.2f} | {by_hand} / {len(caught) - by_hand} "
              f"| {named} | {len(flagged) - len(caught)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    worded = commands.add_parser("reword")
    worded.add_argument("--model", default="qwen2.5-coder-0.5b")
    worded.add_argument("--first", type=int, default=0)
    worded.add_argument("--count", type=int, default=30)
    commands.add_parser("evaluate")
    args = parser.parse_args()
    if args.command == "reword":
        asyncio.run(reword(args.model, args.first, args.count))
    else:
        evaluate()


if __name__ == "__main__":
    main()
