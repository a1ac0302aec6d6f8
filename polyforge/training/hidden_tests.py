"""An answer run against a benchmark task's own tests, which no agent saw: the independent check behind the
precision of accepted pairs (bench/precision.py).

The answer is a chat reply; its first code block is the program. McEval's tests are wired in as for the task's
reference solution (`assemble`: the per-language layout), and in a compiled language the answer's functions that
the tests define too (its `main`, its own demo checks) give way to the tests', as they do for generated tests.
"""

from __future__ import annotations

import re

from polyforge.agents import code_block
from polyforge.agents.test_evidence import without_clashes
from polyforge.sandbox import Execution, Sandbox, Status
from polyforge.sandbox.mceval import Task, assemble

NO_CODE = "the answer holds no code block"
IMPORT_LINE = re.compile(r"^(?:import|from)\s+\S.*$", re.MULTILINE)


def run_hidden_tests(sandbox: Sandbox, task: Task, answer: str) -> Execution:
    """The sandbox's verdict on `answer` under `task`'s tests; a reply without code fails without a run."""
    code = code_block(answer)
    if code is None:
        return Execution(language=task.language, status=Status.FAILED, exit_code=None, stdout="", stderr="",
                         seconds=0.0, reason=NO_CODE)
    files, test = assemble(task, python_imports(task, code) + code + "\n")
    files = {name: without_clashes(task.language, text, test) for name, text in files.items()}
    return sandbox.run(task.language, files, test=test)


def python_imports(task: Task, code: str) -> str:
    """The import lines of a Python task's prompt that `code` lacks (`from typing import List`, ...): an answer
    restates the function, often without the imports its signature needs."""
    if task.language != "Python":
        return ""
    missing = [line for line in IMPORT_LINE.findall(task.prompt) if line not in code]
    return "".join(line + "\n" for line in missing)
