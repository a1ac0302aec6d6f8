"""How well each embedded model writes unit tests, the stage that decides what a campaign accepts.

For McEval tasks (the instruction split), the tester agent writes tests from the task's words, as in a campaign
(told the reference's signatures, its own copy of the solution cut, the answer's clashing functions giving way).
Then McEval's reference solution runs with them, and so does a broken twin of it (the selftest's mutation):
- tests that fail the reference reject right answers (lost data);
- tests that pass the broken twin accept wrong ones (wrong data), unless the stub check finds them vacuous;
- tests cut off, or in prose, are no tests at all.

Usage: python bench/tester_quality.py [--models smollm2-135m,qwen2.5-coder-0.5b] [--languages Python,C++,...]
                                      [--tasks 3] [--max-tokens 512] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from polyforge.agents import ITEM_ERRORS, TesterAgent
from polyforge.agents.test_evidence import shared_interface, vacuity, without_clashes, without_own_solution
from polyforge.config import ModelConfig, SamplingConfig
from polyforge.llm import create_backend
from polyforge.sandbox import Status
from polyforge.sandbox.mceval import INSTRUCTION_SPLIT, bundled_mceval, load_tasks, mutate
from polyforge.sandbox.pool import ExecutionPool, Job

DEFAULT_LANGUAGES = ("Python", "JavaScript", "C++", "Rust", "Shell")
OUTCOMES = ("sound", "fail the reference", "pass the broken twin", "vacuous", "no tests")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b")
    parser.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES))
    parser.add_argument("--tasks", type=int, default=3, help="Tasks per language, from McEval's instruction split.")
    parser.add_argument("--max-tokens", type=int, default=512, help="The tester's reply budget.")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


async def judge_tests(tester: TesterAgent, pool: ExecutionPool, task, seed: int) -> str:
    """One of OUTCOMES for the tests the tester writes for `task`."""
    program = task.program
    try:
        written = await tester.write_tests(task.language, task.instruction, seed,
                                           interface=shared_interface(task.language, [program]))
    except ITEM_ERRORS:
        return "no tests"
    tests, _ = without_own_solution(task.language, written.text, [program])

    async def run(code: str):
        return await pool.arun(Job(task.language, {"main": without_clashes(task.language, code, tests)}, test=tests))

    reference = await run(program)
    if reference.status is not Status.PASSED:
        return "fail the reference"
    vacuous, _ = await vacuity(run, task.language, tests, [program])
    if vacuous:
        return "vacuous"
    broken = mutate(task)
    if broken is not None and (await run(broken)).status is Status.PASSED:
        return "pass the broken twin"
    return "sound"


async def bench_model(model: str, tasks, max_tokens: int) -> dict:
    backend = create_backend(ModelConfig(backend="embedded", model=model))
    tester = TesterAgent(backend, SamplingConfig(tester={"temperature": 0.2, "max_tokens": max_tokens}).tester)
    started = time.monotonic()
    outcomes = {}
    with ExecutionPool(workers=2) as pool:
        for index, task in enumerate(tasks):
            outcomes[task.task_id] = await judge_tests(tester, pool, task, seed=11 + index)
            print(f"  {model} [{index + 1}/{len(tasks)}] {task.task_id}: {outcomes[task.task_id]}", flush=True)
    await backend.aclose()
    return {"model": model, "minutes": round((time.monotonic() - started) / 60, 2), "outcomes": outcomes,
            "counts": dict(Counter(outcomes.values()))}


def main() -> int:
    args = parse_args()
    languages = [name.strip() for name in args.languages.split(",") if name.strip()]
    tasks = []
    for language in languages:
        chosen = load_tasks(bundled_mceval(), [language], split=INSTRUCTION_SPLIT)
        tasks += chosen[:args.tasks]
    print(f"{len(tasks)} McEval tasks ({', '.join(languages)}), tests written by each model", flush=True)
    results = [asyncio.run(bench_model(model.strip(), tasks, args.max_tokens))
               for model in args.models.split(",") if model.strip()]
    print("\n| tester | " + " | ".join(OUTCOMES) + " | minutes |")
    print("|---|" + "---:|" * (len(OUTCOMES) + 1))
    for result in results:
        cells = " | ".join(str(result["counts"].get(outcome, 0)) for outcome in OUTCOMES)
        print(f"| {result['model']} | {cells} | {result['minutes']} |")
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
