"""McEval (a multilingual code benchmark) through the sandbox: reference solutions must pass their
tests and deliberately broken ones must fail.

McEval ships, per language, a JSONL file of tasks with `prompt` (signature and docstring),
`canonical_solution` (the body) and `test`. A program is `prompt + canonical_solution`, and the
test is wired in by the language table, except where McEval's layout needs help (below).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from polyforge.sandbox.execution import Execution, Limits, Status
from polyforge.sandbox.runner import Sandbox

# McEval file stem -> the sandbox's language name.
MCEVAL_LANGUAGES = {
    "Python": "Python", "JavaScript": "JavaScript", "TypeScript": "TypeScript", "C": "C", "CPP": "C++",
    "Java": "Java", "Rust": "Rust", "Go": "Go", "Shell": "Shell", "Perl": "Perl", "Ruby": "Ruby", "PHP": "PHP",
    "Lua": "Lua", "Tcl": "Tcl", "Fortran": "Fortran", "Common_Lisp": "Common Lisp", "Pascal": "Pascal",
    "Elixir": "Elixir", "Erlang": "Erlang", "VimScript": "Vim script", "R": "R", "Emacs_Lisp": "Emacs Lisp",
    "CoffeeScript": "CoffeeScript", "Racket": "Racket", "Scheme": "Scheme", "Haskell": "Haskell",
    "Kotlin": "Kotlin", "Scala": "Scala", "Groovy": "Groovy", "CSharp": "C#", "FSharp": "F#",
    "Visual_Basic": "Visual Basic",
}
# Crates McEval's Rust prompts import whether or not they use them; the sandbox has no crates.
UNAVAILABLE_CRATES = {"rand": r"\brand::|\.gen_range|thread_rng", "regex": r"\bRegex\b", "md5": r"\bmd5::"}
# Swaps that turn a solution into a wrong one, all applied to the solution's body: one swap alone
# is often equivalent on a benchmark's few test cases (a bound nobody tests).
MUTATIONS = (
    (re.compile(r"===", ), "!=="),
    (re.compile(r"(?<![=!<>~])==(?!=)"), "!="),
    (re.compile(r"(?<![+\-=<>])\+(?![+=])"), "-"),
    (re.compile(r"(?<![<\-=>])<=(?!=)"), ">"),
    (re.compile(r"(?<![<\-=>])>=(?!=)"), "<"),
    (re.compile(r"\b(true|True|TRUE)\b"), "0"),
    (re.compile(r"\b(\d+)\b"), "7"),
)


# Tasks whose reference solution cannot pass in any sandbox (checked by hand): pass rates leave them out and
# the selftest lists them, so a defect of the benchmark is not read as one of the toolchain.
MCEVAL_DEFECTS = {
    "Common Lisp/14": "reads ../data/Common Lisp/file.txt, a data file McEval does not ship",
    "Pascal/18": "the reference builds 'tfaicsh' where its test expects 'ftiasch' (second word's letters first)",
    # `list.size` without parentheses is Groovy's spread property (each element's size), in every Groovy version.
    **{f"Groovy/{number}": "the reference reads `list.size` as a property: Groovy spreads it over the elements "
                           "(MissingPropertyException)" for number in (22, 31, 32, 43, 49)},
}


class McEvalError(ValueError):
    """The McEval folder is missing or not in McEval's format."""


def bundled_mceval() -> Path:
    """The copy of McEval's data that ships with Polyforge (polyforge/benchmarks/mceval, CC BY-SA 4.0)."""
    return Path(str(files("polyforge.benchmarks") / "mceval"))


@dataclass(frozen=True)
class Task:
    task_id: str
    language: str          # the sandbox's name
    program: str           # prompt + canonical solution
    solution: str
    prompt: str
    test: str
    instruction: str = ""  # the task in words (McEval's `instruction`), for judging a solution against it


@dataclass
class TaskResult:
    task_id: str
    language: str
    reference: Execution
    broken: Execution | None = None   # None: no mutation applied to this solution

    @property
    def reference_passed(self) -> bool:
        return self.reference.status is Status.PASSED

    @property
    def broken_failed(self) -> bool | None:
        return None if self.broken is None else self.broken.status is not Status.PASSED


@dataclass
class LanguageReport:
    language: str
    results: list[TaskResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(r.reference_passed for r in self.results)

    @property
    def defects(self) -> int:
        """Tasks of MCEVAL_DEFECTS in this report."""
        return sum(r.task_id in MCEVAL_DEFECTS for r in self.results)

    @property
    def sound_passed(self) -> int:
        """Reference solutions passed among the tasks without a known defect."""
        return sum(r.reference_passed for r in self.results if r.task_id not in MCEVAL_DEFECTS)

    @property
    def pass_rate(self) -> float:
        sound = self.total - self.defects
        return self.sound_passed / sound if sound else 0.0

    @property
    def broken_total(self) -> int:
        return sum(r.broken is not None for r in self.results)

    @property
    def broken_failed(self) -> int:
        return sum(bool(r.broken_failed) for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.reference.seconds + (r.broken.seconds if r.broken else 0.0) for r in self.results)


def load_tasks(folder: Path, languages: list[str] | None = None, limit: int | None = None,
               split: str | None = None) -> list[Task]:
    """Tasks of the supported languages found in `folder` (optionally only `languages`, only one `split` (see
    `split_of`), `limit` each)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise McEvalError(f"{folder}: no such folder (expected McEval's data/*.jsonl files)")
    wanted = {name.lower() for name in languages} if languages else None
    tasks: list[Task] = []
    for stem, name in MCEVAL_LANGUAGES.items():
        path = folder / f"{stem}.jsonl"
        if not path.is_file() or (wanted and name.lower() not in wanted and stem.lower() not in wanted):
            continue
        taken = 0
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if limit is not None and taken >= limit:
                    break
                try:
                    record = json.loads(line)
                    if split is not None and split_of(record["task_id"]) != split:
                        continue
                    taken += 1
                    prompt = _line_ended(record["prompt"])
                    tasks.append(Task(record["task_id"], name, prompt + record["canonical_solution"],
                                      record["canonical_solution"], prompt, record["test"],
                                      record.get("instruction") or ""))
                except (json.JSONDecodeError, KeyError, ValueError) as exc:
                    raise McEvalError(f"{path}:{number}: not a McEval task ({exc})") from exc
    if not tasks:
        raise McEvalError(f"{folder}: no McEval files for the sandbox's languages ({', '.join(MCEVAL_LANGUAGES)})")
    return tasks


def _line_ended(prompt: str) -> str:
    """Some prompts end in a comment line without its newline; the solution must not join it."""
    return prompt if prompt.endswith("\n") else prompt + "\n"


def assemble(task: Task, program: str | None = None) -> tuple[dict[str, str], str]:
    """(files, test) for the sandbox, with McEval's per-language layout fixed up."""
    program = task.program if program is None else program
    test = task.test
    if task.language == "Go":
        # McEval's Go program is a whole test file (package, imports of testing and testify).
        return {"main.go": "package main\n"}, program + "\n" + test
    if task.language == "Rust":
        program = _drop_unused_crates(program, test)
    if task.language in ("Lua", "PHP"):
        test = _call_uncalled_tests(test)
    if task.language == "Fortran":
        test = FORTRAN_STOP_AFTER_FAILURE.sub(r"\1error stop 1", test)
    if task.language == "Kotlin":
        test = _kotlin_program_test(test)
    if task.language == "Erlang":  # the sandbox compiles main.erl, so the module is main
        program = re.sub(r"^-module\(\s*\w+\s*\)\.", "-module(main).", program, count=1, flags=re.MULTILINE)
    return {"main": program}, test


# McEval's Fortran tests print a failed assertion, then end with a plain `stop`: exit status 0.
FORTRAN_STOP_AFTER_FAILURE = re.compile(r"(?i)(print\s*\*,[^\n]*fail[^\n]*\n\s*|write\s*\(\*,\s*\*\)[^\n]*fail[^\n]*\n\s*)stop\b(?!\s*[1-9])")


def _kotlin_program_test(test: str) -> str:
    """McEval's Kotlin tests are script-style: `fun main()` then a top-level `main()` call, or bare statements.
    A compiled program has neither: drop the call, wrap bare statements in `fun main`."""
    test = re.sub(r"^main\(\)\s*;?\s*\Z", "", test.rstrip() + "\n", flags=re.MULTILINE)
    if not re.search(r"^fun main\b", test, re.MULTILINE):
        test = "fun main() {\n" + test + "\n}\n"
    return test


def _drop_unused_crates(program: str, test: str) -> str:
    for crate, usage in UNAVAILABLE_CRATES.items():
        uses = re.compile(rf"^\s*use\s+{crate}\b[^;]*;\s*$", re.MULTILINE)
        if not re.search(usage, uses.sub("", program) + test):
            program = uses.sub("", program)
    return program


def _call_uncalled_tests(test: str) -> str:
    """A few McEval Lua and PHP tests define their test function and never call it: call it."""
    names = re.findall(r"^\s*function\s+([\w.]+)\s*\(\s*\)", test, re.MULTILINE)
    uncalled = [name for name in names if len(re.findall(rf"\b{re.escape(name)}\s*\(", test)) < 2]
    calls = "".join(f"\n{name}();" for name in uncalled)
    closing = test.rstrip().endswith("?>")
    return (test.rstrip()[:-2] + calls + "\n?>\n") if closing else test + calls


def mutate(task: Task) -> str | None:
    """The program with its solution deliberately broken (every mutation applied), or None."""
    broken, total = task.solution, 0
    for pattern, replacement in MUTATIONS:
        broken, count = pattern.subn(replacement, broken)
        total += count
    return task.prompt + broken if total else None


# Broken solutions often loop for ever; a short leash is enough to see that they do not pass.
BROKEN_LIMITS = Limits(cpu_seconds=3, wall_seconds=6)


def run_tasks(sandbox: Sandbox, tasks: list[Task], broken: bool = True, workers: int = 2,
              on_done: Callable[[TaskResult], None] | None = None) -> dict[str, LanguageReport]:
    """Run every task's reference solution (and its broken twin) in parallel; a report per language."""

    def one(task: Task) -> TaskResult:
        files, test = assemble(task)
        result = TaskResult(task.task_id, task.language, sandbox.run(task.language, files, test=test))
        mutant = mutate(task) if broken else None
        if mutant is not None:
            files, test = assemble(task, mutant)
            result.broken = sandbox.run(task.language, files, BROKEN_LIMITS, test=test)
        if on_done:
            on_done(result)
        return result

    reports: dict[str, LanguageReport] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(one, tasks):
            reports.setdefault(result.language, LanguageReport(result.language)).results.append(result)
    return reports


def failures(reports: dict[str, LanguageReport]) -> Iterator[tuple[str, str, str]]:
    """(task id, what went wrong, why) for reference solutions that did not pass and mutants that did."""
    for report in reports.values():
        for result in report.results:
            if not result.reference_passed:
                why = result.reference.reason
                if result.task_id in MCEVAL_DEFECTS:
                    why = f"McEval defect, left out of the pass rate: {MCEVAL_DEFECTS[result.task_id]} ({why})"
                yield result.task_id, f"reference {result.reference.status.value}", why
            if result.broken_failed is False:
                yield result.task_id, "broken solution passed", "the tests do not catch the mutation"


# McEval's tasks split in two, fixed by task number, so that no task both feeds a campaign (as an instruction or a
# seed) and evaluates a model trained on it: numbers 1 and 3 modulo 5 (40%) are instructions, the rest evaluation.
INSTRUCTION_SPLIT, EVALUATION_SPLIT = "instructions", "evaluation"


def split_of(task_id: str) -> str:
    """'instructions' or 'evaluation', for a McEval task id such as 'Python/12'."""
    digits = task_id.rsplit("/", 1)[-1]
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"task id {task_id!r} does not end in /NUMBER, so it has no split")
    return INSTRUCTION_SPLIT if int(digits) % 5 in (1, 3) else EVALUATION_SPLIT
