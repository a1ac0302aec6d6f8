"""McEval's reference solutions pass in the sandbox and broken ones fail (a sample per language;
`polyforge sandbox selftest` runs all of them, figures in BENCHMARKS.md)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.mceval import MCEVAL_LANGUAGES, assemble, load_tasks, mutate, run_tasks
from sandbox_support import MCEVAL, requires_sandbox

SAMPLE = 3  # tasks per language: every language's assembly is exercised, CI stays short

pytestmark = requires_sandbox


@pytest.fixture(scope="module")
def reports():
    tasks = load_tasks(MCEVAL, limit=SAMPLE)
    return run_tasks(Sandbox(), tasks, broken=True, workers=os.cpu_count() or 1)


def test_every_supported_language_is_in_the_sample(reports):
    assert set(reports) == set(MCEVAL_LANGUAGES.values())


@pytest.mark.parametrize("language", sorted(MCEVAL_LANGUAGES.values()))
def test_reference_solutions_pass(reports, language):
    report = reports[language]
    failed = {r.task_id: (r.reference.status.value, r.reference.reason)
              for r in report.results if not r.reference_passed}
    assert report.passed == report.total == SAMPLE, failed


# Broken solutions in the sample that McEval's tests cannot tell from the reference (checked by hand).
UNCAUGHT_MUTANTS = {
    "Elixir/1": "`true` became 7, which is truthy as well: the tests' `assert` passes on both",
    "R/3": "the broken loop indexes with negative numbers, the result is numeric(0), and "
           "`stopifnot(numeric(0) == 14)` passes (an empty condition is not FALSE)",
}


@pytest.mark.parametrize("language", sorted(MCEVAL_LANGUAGES.values()))
def test_broken_solutions_fail(reports, language):
    survivors = [r.task_id for r in reports[language].results
                 if r.broken_failed is False and r.task_id not in UNCAUGHT_MUTANTS]
    assert survivors == []


def test_mutation_changes_the_solution_but_not_the_prompt():
    task = load_tasks(MCEVAL, ["Python"], limit=1)[0]
    broken = mutate(task)
    assert broken is not None and broken.startswith(task.prompt) and broken != task.program


def test_go_programs_become_a_test_file_of_package_main():
    task = load_tasks(MCEVAL, ["Go"], limit=1)[0]
    files, test = assemble(task)
    assert files == {"main.go": "package main\n"} and test.startswith("package main")


def test_uncalled_php_test_functions_are_called():
    task = next(t for t in load_tasks(MCEVAL, ["PHP"]) if t.task_id == "PHP/32")
    _, test = assemble(task)
    assert test.rstrip().endswith("main();\n?>".rstrip()) or "\nmain();" in test
    broken_files, broken_test = assemble(task, mutate(task))
    assert Sandbox().run("PHP", broken_files, test=broken_test).status is not Status.PASSED


def test_selftest_command_prints_the_pass_rate_per_language():
    # No folder: the bundled McEval.
    result = CliRunner().invoke(app, ["sandbox", "selftest", "--language", "lua", "--language", "ruby",
                                      "--limit", "2", "--no-broken"])
    assert result.exit_code == 0, result.output
    assert "Lua" in result.output and "Ruby" in result.output and "100.0%" in result.output


def test_selftest_refuses_a_folder_without_mceval(tmp_path):
    result = CliRunner().invoke(app, ["sandbox", "selftest", str(tmp_path)])
    assert result.exit_code == 2 and "no McEval files" in result.output


def test_kotlin_script_style_tests_become_a_program():
    calls_main = next(t for t in load_tasks(MCEVAL, ["Kotlin"]) if t.task_id == "Kotlin/5")
    bare = next(t for t in load_tasks(MCEVAL, ["Kotlin"]) if t.task_id == "Kotlin/38")
    _, test = assemble(calls_main)
    assert "fun main()" in test and not test.rstrip().endswith("main()")
    _, test = assemble(bare)
    assert test.startswith("fun main() {\n") and test.rstrip().endswith("}")


def test_a_known_mceval_defect_is_listed_and_left_out_of_the_pass_rate():
    result = CliRunner().invoke(app, ["sandbox", "selftest", str(MCEVAL), "--language", "pascal", "--no-broken",
                                      "--min-pass-rate", "1.0"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Pascal/18: reference failed: McEval defect, left out of the pass rate" in result.output
    row = next(line for line in result.output.splitlines() if line.lstrip("│ ").startswith("Pascal"))
    assert [cell.strip() for cell in row.split("│")[1:6]] == ["Pascal", "50", "49", "1", "100.0%"]
