"""Answers run against a benchmark task's own tests (the check behind bench/precision.py): a chat reply holding
the reference solution passes in every language tried, a broken one fails, and a reply without code fails
without a run."""

from __future__ import annotations

import pytest

from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.mceval import bundled_mceval, load_tasks, mutate
from polyforge.training.hidden_tests import NO_CODE, run_hidden_tests
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox
FENCES = {"C++": "cpp", "Go": "go", "Python": "python", "Rust": "rust", "JavaScript": "javascript"}


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox()


@pytest.mark.parametrize("language", sorted(FENCES))
def test_a_reply_with_the_reference_solution_passes_the_hidden_tests(sandbox, language):
    task = load_tasks(bundled_mceval(), [language], limit=2)[1]
    reply = f"Here is the solution.\n```{FENCES[language]}\n{task.program}\n```\nIt runs in linear time."
    assert run_hidden_tests(sandbox, task, reply).status is Status.PASSED
    broken = mutate(task)
    assert broken is not None
    assert run_hidden_tests(sandbox, task, f"```{FENCES[language]}\n{broken}\n```").status is not Status.PASSED


def test_an_answers_own_main_gives_way_to_the_hidden_tests(sandbox):
    """A C++ answer with a demo `main` would clash with the tests' own `main` at link time."""
    task = load_tasks(bundled_mceval(), ["C++"], limit=2)[1]
    demo = '\nint main() {\n    return 3;  // a demo that would fail the run if it were the entry point\n}\n'
    reply = f"```cpp\n{task.program}{demo}```"
    assert run_hidden_tests(sandbox, task, reply).status is Status.PASSED


def test_a_reply_without_code_fails_without_a_run(sandbox):
    task = load_tasks(bundled_mceval(), ["Python"], limit=1)[0]
    execution = run_hidden_tests(sandbox, task, "I would sort the list first, then compare neighbours.")
    assert execution.status is Status.FAILED and execution.reason == NO_CODE
