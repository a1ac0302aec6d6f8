"""pass@1 evaluation: completions cut at the function's end and run with the benchmark's tests."""

import json

import pytest
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.sandbox import Sandbox
from polyforge.training.benchmarks import EvaluationError, benchmark_tasks, humaneval_tasks
from polyforge.training.completers import transformers_completer
from polyforge.training.evaluation import Completer, evaluate, function_end
from sandbox_support import MCEVAL, requires_sandbox

LANGUAGES_CUT = ["C", "Go", "Rust", "JavaScript", "Shell", "Ruby", "Lua", "Java", "PHP", "C#", "Scala", "Groovy"]


def scripted_completer(answers: dict[str, str], chat: bool = False) -> Completer:
    """A test double for a model: the reply scripted for each task id."""
    return Completer(lambda tasks: [answers[task.task_id] for task in tasks], chat)


def test_python_completions_stop_at_the_next_top_level_statement():
    body = "    return sorted(xs)\n"
    assert function_end("Python", "def f(xs):\n", body + "\n\ndef unrelated():\n    pass\n") == body + "\n"
    assert function_end("Python", "def f(xs):\n", body + "\nprint(f([2, 1]))\n") == body
    assert function_end("Python", "def f(xs):\n", body + "```\nThat sorts.") == body.rstrip("\n")


def test_brace_completions_stop_where_the_function_closes():
    prompt = "int add(int a, int b) {\n"
    completion = "    if (a) { return a + b; }\n    return b;\n}\n\nint main() { return add(1, 2); }\n"
    assert function_end("C", prompt, completion) == "    if (a) { return a + b; }\n    return b;\n}"
    assert function_end("Go", "func f() int {\n", "\treturn 1\n") == "\treturn 1\n"  # never closed: all of it


def test_keyword_languages_stop_at_the_end_that_starts_a_line():
    completion = "  if x then\n    x = 1\n  end\n\n  x + 1\nend\n\nputs add(1)\n"
    assert function_end("Ruby", "def add(x)\n", completion) == "  if x then\n    x = 1\n  end\n\n  x + 1\nend"


@requires_sandbox
def test_canonical_solutions_pass_and_empty_bodies_fail():
    tasks = humaneval_tasks(limit=6)
    right = scripted_completer({task.task_id: task.solution for task in tasks})
    wrong = scripted_completer({task.task_id: "    return None\n" for task in tasks})
    seen = []
    good = evaluate("right", tasks, right, Sandbox(), batch_size=4, on_done=seen.append)
    bad = evaluate("wrong", tasks, wrong, Sandbox(), batch_size=4)
    assert good.counts() == (6, 6) and good.pass_at_1("Python") == 1.0
    assert bad.counts() == (0, 6) and {o.status for o in bad.outcomes} <= {"failed", "runtime_error"}
    assert [o.task_id for o in good.outcomes] == [t.task_id for t in tasks] and len(seen) == 6


@requires_sandbox
def test_mceval_canonical_solutions_pass_through_the_cut():
    tasks = benchmark_tasks("mceval", LANGUAGES_CUT, limit=2)  # the bundled copy
    report = evaluate("reference", tasks, scripted_completer({t.task_id: t.solution for t in tasks}), Sandbox())
    failed = [(o.task_id, o.status) for o in report.outcomes if o.status != "passed"]
    assert not failed and set(report.languages) == set(LANGUAGES_CUT)


def test_mceval_names_the_bundled_copy_and_a_folder_works_too():
    by_name = benchmark_tasks("mceval", ["Go"], limit=3)
    by_folder = benchmark_tasks(str(MCEVAL), ["Go"], limit=3)
    # The held-out split by default: numbers 1 and 3 modulo 5 are the tasks campaigns may draw on.
    assert [t.task_id for t in by_name] == [t.task_id for t in by_folder] == ["Go/2", "Go/4", "Go/5"]
    assert [t.task_id for t in benchmark_tasks("mceval", ["Go"], limit=3, split="instructions")] == [
        "Go/1", "Go/3", "Go/6"]
    assert len(benchmark_tasks("mceval", ["Go"], split="all")) == len(
        benchmark_tasks("mceval", ["Go"], split="evaluation")) + len(benchmark_tasks("mceval", ["Go"],
                                                                                     split="instructions"))


def test_bad_benchmarks_and_models_are_named():
    with pytest.raises(EvaluationError, match="Python only"):
        benchmark_tasks("humaneval", ["Rust"])
    with pytest.raises(EvaluationError, match="no-such-folder.*McEval data folder"):
        benchmark_tasks("no-such-folder")
    with pytest.raises(EvaluationError, match="not a transformers model folder"):
        transformers_completer("runs/nothing-here")
    with pytest.raises(EvaluationError, match="split 'train'"):
        benchmark_tasks("mceval", split="train")


@pytest.mark.slow
@requires_sandbox
def test_polyforge_eval_runs_the_embedded_model(tmp_path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["eval", "embedded", "--limit", "2", "--max-new-tokens", "24",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "pass@1 on humaneval (2 tasks, greedy" in result.output
    rows = [json.loads(line) for line in (out / "outcomes.jsonl").read_text().splitlines()]
    assert [row["task_id"] for row in rows] == ["HumanEval/0", "HumanEval/1"]
    assert all(row["model"] == "embedded" and row["status"] for row in rows)
