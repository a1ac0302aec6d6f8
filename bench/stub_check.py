"""The stub check on McEval's tasks: how often a language's stubs of a reference solution build and run with
its tests, and how often they pass them.

    python bench/stub_check.py [MCEVAL_DIR] [--tasks 10] [--language Go ...]

Per language with a stub generator: the tasks whose reference solution passed its tests, those it stubbed (its
grammar read the solution and a stub fits its functions), those where some stub program built (the stub check
could run), and those where a stub passed McEval's tests. Those tests are real, so a pass marks a test that
checks nothing or a stub too lenient for the language; the tasks are listed.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from polyforge.agents.test_evidence import has_stub_generator, stub_programs
from polyforge.sandbox import LANGUAGES, Limits, Sandbox, Status
from polyforge.sandbox.mceval import MCEVAL_LANGUAGES, McEvalError, Task, assemble, bundled_mceval, load_tasks

LIMITS = Limits(cpu_seconds=10, wall_seconds=30)
# McEval's C# solution is a class that its tests close; a generated answer is a whole program. Stubbed with the
# closing brace, which the grammar needs to read it, and run without it.
CLOSED_BY_TESTS = {"C#": "\n}\n"}


def check(sandbox: Sandbox, task: Task) -> tuple[bool, int, bool, list[str]]:
    """(the reference passed, its stub programs, some stub built, the stub bodies that passed the tests)."""
    files, test = assemble(task)
    if sandbox.run(task.language, files, test=test).status is not Status.PASSED:
        return False, 0, False, []
    closing = CLOSED_BY_TESTS.get(task.language, "")
    stubs = stub_programs(task.language, task.program + closing)
    built, passing = False, []
    for stub in stubs:
        files, test = assemble(task, stub.program.removesuffix(closing))
        status = sandbox.run(task.language, files, test=test).status
        built = built or status is not Status.COMPILE_ERROR
        if status is Status.PASSED:
            passing.append(" | ".join(stub.bodies))
    return True, len(stubs), built, passing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mceval", nargs="?", type=Path, default=None, help="McEval's data folder (default: bundled)")
    parser.add_argument("--tasks", type=int, default=10, help="tasks per language (default 10)")
    parser.add_argument("--language", action="append", help="only these languages (repeatable)")
    args = parser.parse_args()
    folder = args.mceval or bundled_mceval()
    names = args.language or [lang.name for lang in LANGUAGES
                              if has_stub_generator(lang.name) and lang.name in MCEVAL_LANGUAGES.values()]
    sandbox = Sandbox(LIMITS)
    print("| language | tasks | reference passed | stubbed | a stub built | a stub passed |")
    print("|---|---:|---:|---:|---:|---:|")
    lenient = []
    for name in names:
        try:
            tasks = load_tasks(folder, [name], args.tasks)
        except McEvalError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            continue
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda task: check(sandbox, task), tasks))
        passed = sum(reference for reference, _, _, _ in results)
        stubbed = sum(bool(stubs) for _, stubs, _, _ in results)
        built = sum(some for _, _, some, _ in results)
        passing = [(task.task_id, bodies) for task, (_, _, _, bodies) in zip(tasks, results) if bodies]
        lenient.extend(passing)
        print(f"| {name} | {len(tasks)} | {passed} | {stubbed} | {built} | {len(passing)} |", flush=True)
    for task_id, bodies in lenient:
        print(f"{task_id}: passes with {'; '.join(bodies)}")


if __name__ == "__main__":
    main()
