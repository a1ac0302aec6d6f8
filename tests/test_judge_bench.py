"""The judge benchmark: pairs with known answers from McEval, and its metrics (AUC, accuracy, calibration)."""

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from polyforge.agents.judge import Verdict
from polyforge.agents.judge_bench import (
    BLIND, WITH_SANDBOX, BenchPair, JudgeBenchError, bench_report, build_pairs, judge_pairs, mode_report,
)
from polyforge.checklists import load_checklist
from polyforge.cli import app
from polyforge.cli.judge import bench_judge
from polyforge.sandbox import Execution, Sandbox, Status
from polyforge.sandbox.mceval import load_tasks
from sandbox_support import MCEVAL, requires_sandbox
from servers import free_port

CHECKLIST = load_checklist("default")
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "campaign.yaml"
CRITERIA = [criterion.id for criterion in CHECKLIST.criteria]


class ScoreTableJudgeDouble:
    """A test double judge: scores come from a table keyed by the answer text, not from a model.

    `table[answer]` maps criterion -> score (criteria left out score `default`); None makes the verdict
    unscored, as malformed judge output does. Every call's execution status is recorded."""

    def __init__(self, table: dict[str, dict[str, int] | None], default: int = 5):
        self.checklist = CHECKLIST
        self.table, self.default = table, default
        self.told: list[str | None] = []

    async def judge(self, language, instruction, answer, seed=None, execution_status=None, execution_note=None):
        self.told.append(execution_status)
        scores = self.table[answer]
        if scores is None:
            return Verdict(route="flagged", final_score=None, error="malformed")
        full = {c: scores.get(c, self.default) for c in CRITERIA}
        final = CHECKLIST.final_score(full)
        return Verdict(route=CHECKLIST.route(final), final_score=final, scores=full)


def pairs_of(correctness: list[tuple[bool, str]]) -> list[BenchPair]:
    """One pair per (correct, answer), two per task in order (correct first)."""
    return [
        BenchPair(index, f"Python/{index // 2}", "Python", "Do the task.", answer, correct,
                  Execution(Status.PASSED if correct else Status.FAILED, 0 if correct else 1, "", "", 0.1))
        for index, (correct, answer) in enumerate(correctness)
    ]


def judged(table, pairs, modes=(BLIND,), default=5):
    double = ScoreTableJudgeDouble(table, default)
    return asyncio.run(judge_pairs(double, pairs, modes)), double


def test_a_judge_that_separates_perfectly_scores_auc_1_and_full_accuracy():
    pairs = pairs_of([(True, "good1"), (False, "bad1"), (True, "good2"), (False, "bad2")])
    table = {"good1": {"code_correctness": 9}, "good2": {"code_correctness": 10},
             "bad1": {"code_correctness": 2}, "bad2": {"code_correctness": 3}}
    rows, _ = judged(table, pairs, default=6)  # correct: (2*9 + 7*6)/9 = 6.67, accepted; broken: 5.1
    report = mode_report(rows, CHECKLIST)
    assert report.auc == 1.0 and report.accuracy == 1.0
    assert report.criterion_auc["code_correctness"] == 1.0
    assert report.criterion_auc["code_clarity"] == 0.5  # constant: no information
    assert report.routes == {"correct": {"accepted": 2, "flagged": 0, "rejected": 0},
                             "broken": {"accepted": 0, "flagged": 2, "rejected": 0}}


def test_auc_counts_ordered_pairs_and_an_inverted_judge_scores_0():
    pairs = pairs_of([(True, "a"), (False, "b"), (True, "c"), (False, "d")])
    # correct 8 and 6, broken 7 and 3: 3 of the 4 (correct, broken) pairs are ordered right.
    table = {"a": {"code_correctness": 8}, "c": {"code_correctness": 6},
             "b": {"code_correctness": 7}, "d": {"code_correctness": 3}}
    assert mode_report(judged(table, pairs)[0], CHECKLIST).auc == pytest.approx(0.75)
    inverted = {"a": {"code_correctness": 1}, "c": {"code_correctness": 2},
                "b": {"code_correctness": 9}, "d": {"code_correctness": 10}}
    assert mode_report(judged(inverted, pairs)[0], CHECKLIST).auc == 0.0


def test_an_unscored_pair_ranks_lowest_and_is_never_accepted():
    pairs = pairs_of([(True, "good"), (False, "bad")])
    report = mode_report(judged({"good": None, "bad": {c: 1 for c in CRITERIA}}, pairs)[0], CHECKLIST)
    assert report.unscored == 1
    assert report.auc == 0.0  # the correct pair could not be scored, so it sits below the broken one
    assert report.accuracy == 0.5 and report.mean_correct is None


def test_the_sandbox_verdict_is_given_only_in_its_mode():
    pairs = pairs_of([(True, "good"), (False, "bad")])
    rows, double = judged({"good": {}, "bad": {}}, pairs, modes=(BLIND, WITH_SANDBOX))
    assert double.told == [None, "passed", None, "failed"]  # pair by pair: the prompts share a prefix
    assert [report.mode for report in bench_report(rows, CHECKLIST)] == [BLIND, WITH_SANDBOX]


def test_calibration_drops_a_misleading_criterion_and_lifts_the_auc():
    tasks = 6
    pairs = pairs_of([(correct, f"{'good' if correct else 'bad'}{task}") for task in range(tasks)
                      for correct in (True, False)])
    # code_correctness separates; best_practices points the other way and cancels it under the default weights.
    table = {}
    for task in range(tasks):
        table[f"good{task}"] = {"code_correctness": 8, "best_practices": 2}
        table[f"bad{task}"] = {"code_correctness": 4, "best_practices": 10}
    report = mode_report(judged(table, pairs)[0], CHECKLIST)
    assert report.auc == 0.5  # (2*8 + 2) == (2*4 + 10): every final score ties
    assert report.calibrated_weights["best_practices"] == 0.0
    assert report.calibrated_weights["code_correctness"] > 0
    assert report.calibrated_auc == 1.0 and report.held_out_auc == 1.0
    assert report.calibration.labelled == 2 * tasks


def test_one_class_only_is_a_clear_error():
    pairs = pairs_of([(True, "a"), (True, "b")])
    with pytest.raises(JudgeBenchError, match="all correct or all broken"):
        mode_report(judged({"a": {}, "b": {}}, pairs)[0], CHECKLIST)


@requires_sandbox
def test_pairs_are_kept_only_when_the_sandbox_confirms_their_labels(tmp_path):
    tasks = [
        # usable: the reference passes, the mutant (+ becomes -) fails
        {"task_id": "Python/1", "prompt": "def add(a, b):\n", "canonical_solution": "    return a + b\n",
         "test": "assert add(2, 3) == 5\n", "instruction": "Write add(a, b) returning the sum."},
        # the reference itself fails here
        {"task_id": "Python/2", "prompt": "def one():\n", "canonical_solution": "    return 1 + 1\n",
         "test": "assert one() == 1\n", "instruction": "Return one."},
        # nothing to mutate
        {"task_id": "Python/3", "prompt": "def name():\n", "canonical_solution": "    return 'x'\n",
         "test": "assert name() == 'x'\n", "instruction": "Return x."},
    ]
    (tmp_path / "Python.jsonl").write_text("".join(json.dumps(task) + "\n" for task in tasks))
    pairs, left_out = build_pairs(Sandbox(), load_tasks(tmp_path))
    assert [(pair.task_id, pair.correct) for pair in pairs] == [("Python/1", True), ("Python/1", False)]
    assert pairs[0].answer == "```python\ndef add(a, b):\n    return a + b\n```"
    assert pairs[1].answer == "```python\ndef add(a, b):\n    return a - b\n```"
    assert pairs[1].execution.status is Status.FAILED
    assert left_out == {"no mutation applies": 1, "reference solution does not pass": 1}


@pytest.mark.slow
@requires_sandbox
def test_bench_command_on_the_embedded_model(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["judge", "bench", str(MCEVAL), "--language", "Python", "--language", "Lua",
                                      "--tasks-per-language", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.output
    data = json.loads(out.read_text())
    assert data["model"] == "SmolLM2-135M-Instruct" and data["backend"] == "embedded"
    assert data["tasks_per_language"] == {"Lua": 1, "Python": 1}
    assert len(data["verdicts"]) == 8  # 2 tasks x (correct, broken) x (blind, with the sandbox's verdict)
    for report in data["reports"]:
        assert report["auc"] is None or 0.0 <= report["auc"] <= 1.0


def test_bench_command_names_a_missing_folder(tmp_path):
    result = CliRunner().invoke(app, ["judge", "bench", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_bench_command_names_an_unknown_model_before_running_anything(tmp_path):
    result = CliRunner().invoke(app, ["judge", "bench", str(tmp_path), "--model", "no-such-model"])
    assert result.exit_code == 2
    assert "neither a GGUF file nor a known model" in result.output


def server_config(folder: Path, judge: dict) -> Path:
    """A campaign config whose judge is `judge` (the generator stays the embedded default)."""
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"path": "."}], "models": {"judge": judge},
                                    "judge": {"rationales": False}}))
    return path


@pytest.mark.slow
@requires_sandbox
def test_bench_command_on_a_judge_served_by_an_openai_compatible_server(llama_server_url, tmp_path):
    # llama-cpp-python's server takes a JSON schema as response_format json_object.
    config = server_config(tmp_path, {"backend": "openai", "base_url": llama_server_url, "model": "smollm2",
                                      "response_format": "json_object"})
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["judge", "bench", "--config", str(config), "--language", "Python",
                                      "--language", "Lua", "--tasks-per-language", "1", "--no-sandbox-verdict",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["model"] == "smollm2" and data["backend"] == "openai"  # the server's model, not an embedded one
    assert data["tasks_per_language"] == {"Lua": 1, "Python": 1}
    verdicts = data["verdicts"]
    assert sorted((v["task_id"].split("/")[0], v["correct"]) for v in verdicts) == [
        ("Lua", False), ("Lua", True), ("Python", False), ("Python", True)]  # one correct, one broken per task
    assert {v["mode"] for v in verdicts} == {BLIND}
    scored = [v for v in verdicts if v["final_score"] is not None]
    assert scored, [v["error"] for v in verdicts]
    assert all(set(v["scores"]) == set(CRITERIA) and v["completion_tokens"] > 0 for v in scored)


def test_bench_command_stops_at_once_when_the_judge_server_does_not_answer():
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = CliRunner().invoke(app, ["judge", "bench", "--base-url", url, "--model", "any",
                                      "--language", "Python", "--tasks-per-language", "1"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"no server answers at {url}" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--base-url", "http://127.0.0.1:8000/v1"], "--base-url http://127.0.0.1:8000/v1 needs --model NAME"),
    (["--model", "served-name"], "served-name: neither a GGUF file nor a known model"),
    (["--model", "served-name"], "for a model on an OpenAI-compatible server, add --base-url URL"),
    (["--config", str(EXAMPLE_CONFIG), "--model", "m"], "leave out --model and --base-url, or --config"),
    (["--config", "no-such.yaml"], "no-such.yaml: config file not found"),
])
def test_bench_command_names_conflicting_or_incomplete_judge_options(args, message):
    result = CliRunner().invoke(app, ["judge", "bench", *args], terminal_width=200)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


def test_a_config_judge_that_cannot_be_built_is_named_by_its_key(tmp_path):
    config = server_config(tmp_path, {"backend": "openai", "model": "m"})  # no base_url
    result = CliRunner().invoke(app, ["judge", "bench", "--config", str(config)], terminal_width=200)
    assert result.exit_code == 2 and "models.judge" in result.output and "base_url" in result.output, result.output


def test_a_config_without_a_judge_model_measures_its_generator(capsys):
    judge = bench_judge(EXAMPLE_CONFIG, None, None, None, None, 4096, None)
    assert judge.model.backend == "embedded" and judge.second is None
    assert judge.settings.rationales is False and judge.checklist == "default"
    assert "no models.judge; the generator judges (embedded, qwen2.5-coder-0.5b)" in " ".join(capsys.readouterr().out.split())


def test_server_options_build_an_openai_judge_with_rationales_unless_told_otherwise():
    judge = bench_judge(None, "Qwen/Qwen2.5-Coder-7B-Instruct", "http://127.0.0.1:8000/v1", None, None, 4096, None)
    assert (judge.model.backend, judge.model.model, judge.model.base_urls) == (
        "openai", "Qwen/Qwen2.5-Coder-7B-Instruct", ["http://127.0.0.1:8000/v1"])
    assert judge.settings.rationales is True
    assert bench_judge(None, "m", "http://127.0.0.1:8000/v1", None, False, 4096, None).settings.rationales is False
