"""Evaluation after training: pass@1 of the base model and of every stage's model on a held-out benchmark, run
in the sandbox, printed as one table and recorded in the run summary."""

import json

from typer.testing import CliRunner

from polyforge.cli import app
from sandbox_support import requires_sandbox
from training_support import campaign_database, training_yaml


@requires_sandbox
def test_train_evaluates_the_base_and_each_stage(tmp_path, tiny_model):
    database = campaign_database(tmp_path / "campaign.db", pairs=4)
    config = training_yaml(tmp_path / "campaign.yaml", tiny_model, max_steps=1, dpo_steps=1,
                           evaluation={"benchmark": "humaneval", "limit": 2, "max_new_tokens": 16})
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", database, "--out", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "pass@1 on humaneval (2 tasks, greedy; 95% bootstrap interval)" in result.output
    header = next(line for line in result.output.splitlines() if "language" in line)
    assert header.index("base") < header.index("sft") < header.index("dpo")
    evaluation = json.loads((out / "summary.json").read_text())["evaluation"]
    assert (evaluation["benchmark"], evaluation["tasks"]) == ("humaneval", 2)
    assert list(evaluation["pass_at_1"]) == ["base", "sft", "dpo"]
    for row in evaluation["pass_at_1"].values():
        assert set(row) == {"Python", "all"} and row["all"]["tasks"] == 2
        assert row["all"]["low"] <= row["all"]["pass_at_1"] <= row["all"]["high"]
    assert len(evaluation["tasks_sha256"]) == 64 and evaluation["split"] == "evaluation"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["held_out"] == {"benchmarks": ["humaneval", "mceval"], "dropped": {}}


def test_a_benchmark_that_cannot_run_fails_before_training(tmp_path, tiny_model):
    database = campaign_database(tmp_path / "campaign.db", pairs=4, preferences=False)
    config = training_yaml(tmp_path / "campaign.yaml", tiny_model, max_steps=1, dpo_steps=0,
                           evaluation={"benchmark": str(tmp_path / "no-mceval")})
    result = CliRunner().invoke(app, ["train", database, "--out", str(tmp_path / "run"), "--config", str(config)])
    assert result.exit_code == 2 and "training.evaluation: " in result.output and "no-mceval" in result.output
    assert not (tmp_path / "run" / "sft").exists()
