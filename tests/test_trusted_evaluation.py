"""Evaluation a user can trust: the chat template applied, intervals on pass@1, served models, tasks held out."""

import json

import pytest
from typer.testing import CliRunner

from factories import campaign_with_snippets
from polyforge.cli import app
from polyforge.config import StageEvaluationConfig
from polyforge.sandbox import Sandbox
from polyforge.storage import session_scope
from polyforge.training.benchmarks import HeldOutViolation, benchmark_tasks, require_held_out, tasks_digest
from polyforge.training.evaluation import Completer, EvaluationReport, TaskOutcome, chat_message, evaluate
from polyforge.training.held_out import (
    campaign_source_ids,
    decontaminate,
    drop_contaminated,
    evaluation_ngrams,
    require_campaign_held_out,
)
from sandbox_support import requires_sandbox


def report_of(passed: int, total: int, language: str = "Python") -> EvaluationReport:
    return EvaluationReport("m", [TaskOutcome(f"{language}/{i}", language, "passed" if i < passed else "failed", "")
                                  for i in range(total)])


def test_pass_at_1_comes_with_a_bootstrap_interval_that_narrows_with_more_tasks():
    small, large = report_of(5, 10), report_of(50, 100)
    low, high = small.interval()
    assert low < 0.5 < high and 0.2 < high - low < 0.8
    large_low, large_high = large.interval()
    assert large_low < 0.5 < large_high and large_high - large_low < (high - low) / 2
    assert report_of(4, 4).interval() == (1.0, 1.0) and report_of(0, 3).interval() == (0.0, 0.0)
    assert small.interval() == (low, high)  # a fixed seed: the same report, the same interval
    table = small.table()
    assert table["all"] == {"pass_at_1": 0.5, "low": low, "high": high, "passed": 5, "tasks": 10}


def test_a_chat_model_is_asked_mcevals_instruction_and_humaneval_in_a_code_block():
    go = benchmark_tasks("mceval", ["Go"], limit=1)[0]
    assert chat_message(go) == go.instruction and go.instruction.startswith("Write a Go function")
    humaneval = benchmark_tasks("humaneval", limit=1)[0]
    assert "```python\n" + humaneval.prompt + "```" in chat_message(humaneval)


def test_in_process_chat_uses_the_models_template():
    from transformers import AutoTokenizer

    from polyforge.llm.checkpoint import embedded_checkpoint
    from polyforge.training.completers import chat_prompt

    tokenizer = AutoTokenizer.from_pretrained(embedded_checkpoint())
    task = benchmark_tasks("mceval", ["Python"], limit=1)[0]
    prompt = chat_prompt(tokenizer, task)
    # SmolLM2's ChatML template: the instruction inside the user turn, the assistant's turn opened.
    assert prompt.index("<|im_start|>user\n" + task.instruction) < prompt.rindex("<|im_start|>assistant\n")
    assert prompt.endswith("<|im_start|>assistant\n")


@requires_sandbox
def test_chat_replies_run_their_code_block_and_completions_their_continuation():
    tasks = benchmark_tasks("mceval", ["Python", "Go"], limit=2)
    fenced = {t.task_id: f"Here it is:\n```\n{t.program}\n```\nDone." for t in tasks}
    chat = evaluate("chat", tasks, Completer(lambda batch: [fenced[t.task_id] for t in batch], chat=True), Sandbox())
    prose = evaluate("prose", tasks, Completer(lambda batch: ["I would loop." for _ in batch], chat=True), Sandbox())
    assert chat.counts() == (4, 4), [(o.task_id, o.status) for o in chat.outcomes]
    assert prose.counts() == (0, 4)


def test_evaluation_tasks_a_campaign_drew_on_are_refused():
    tasks = benchmark_tasks("mceval", ["Python"], limit=3)
    require_held_out(tasks, {"Python/1", "Python/3"}, "campaign 1")  # the instruction split: no overlap
    with pytest.raises(HeldOutViolation, match=r"1 evaluation task\(s\) were instruction sources of c: Python/2"):
        require_held_out(tasks, {"Python/2"}, "c")


@pytest.fixture
def campaign_from_mceval(tmp_path):
    """A campaign database whose one snippet came from McEval's Python/2 (an evaluation task) as an instruction."""
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    with session_scope(url) as session:
        campaign, (snippet,) = campaign_with_snippets(session, 1)
        snippet.source_id = "Python/2"
        session.commit()
        campaign_id = campaign.id
    return url, campaign_id


def test_training_and_eval_refuse_a_benchmark_the_campaign_drew_instructions_from(campaign_from_mceval, tmp_path):
    url, campaign_id = campaign_from_mceval
    with session_scope(url, create=False) as session:
        assert campaign_source_ids(session, campaign_id) == {"Python/2"}
        with pytest.raises(HeldOutViolation, match="Python/2"):
            require_campaign_held_out(session, campaign_id, StageEvaluationConfig(benchmark="mceval",
                                                                                 languages=["Python"]))
        require_campaign_held_out(session, campaign_id, StageEvaluationConfig(benchmark="mceval", languages=["Go"]))
    result = CliRunner().invoke(app, ["eval", "embedded", "--benchmark", "mceval", "--language", "Python",
                                      "--limit", "1", "--trained-on", str(tmp_path / "campaign.db")])
    assert result.exit_code == 2 and "were instruction sources of" in result.output and "Python/2" in result.output


def test_training_rows_sharing_ten_words_with_an_evaluation_task_are_dropped():
    evaluation_task = benchmark_tasks("mceval", ["Python"], limit=1)[0]
    leaked = {"messages": [{"role": "user", "content": evaluation_task.instruction},
                           {"role": "assistant", "content": "```python\npass\n```"}]}
    own = {"messages": [{"role": "user", "content": "Write a function that parses an INI file into nested dicts."},
                        {"role": "assistant", "content": "```python\nimport configparser\n```"}]}
    preference = {"prompt": [{"role": "user", "content": "Sort a list."}],
                  "chosen": [{"role": "assistant", "content": evaluation_task.solution}],
                  "rejected": [{"role": "assistant", "content": "return None"}]}
    result = decontaminate([leaked, own], evaluation_ngrams(["mceval"]))
    assert result.kept == [own] and result.dropped == {"mceval": 1}
    kept, dropped = drop_contaminated({"sft": [leaked, own], "dpo": [preference]}, ["humaneval", "mceval"])
    assert kept == {"sft": [own], "dpo": []} and dropped == {"sft": {"mceval": 1}, "dpo": {"mceval": 1}}
    assert drop_contaminated({"sft": [leaked]}, []) == ({"sft": [leaked]}, {})


def test_the_digest_names_the_exact_tasks():
    first, more = benchmark_tasks("mceval", ["Go"], limit=2), benchmark_tasks("mceval", ["Go"], limit=3)
    assert tasks_digest(first) == tasks_digest(list(reversed(first))) != tasks_digest(more)


@pytest.mark.slow
@requires_sandbox
def test_polyforge_eval_asks_a_served_model(llama_server_url, tmp_path):
    out = tmp_path / "served"
    result = CliRunner().invoke(app, ["eval", "--base-url", llama_server_url, "--model", "smollm2", "--benchmark",
                                      "mceval", "--language", "Python", "--language", "Go", "--limit", "2",
                                      "--max-new-tokens", "64", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "95% bootstrap interval" in result.output and "Go" in result.output
    results = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "outcomes.jsonl").read_text().splitlines()]
    assert [row["task_id"] for row in rows] == ["Python/2", "Python/4", "Go/2", "Go/4"]
    assert all(row["reply"].strip() for row in rows)  # the server answered every task
    assert results["tasks_sha256"] == tasks_digest(benchmark_tasks("mceval", ["Python", "Go"], limit=2))
    assert results["served_by"] == llama_server_url and results["split"] == "evaluation"
    table = results["models"]["smollm2"]
    assert set(table) == {"Go", "Python", "all"} and table["all"]["tasks"] == 4
    assert table["all"]["low"] <= table["all"]["pass_at_1"] <= table["all"]["high"]


def test_eval_says_what_is_missing():
    runner = CliRunner()
    both = runner.invoke(app, ["eval", "embedded", "--base-url", "http://127.0.0.1:9/v1", "--model", "x"])
    neither = runner.invoke(app, ["eval"])
    nameless = runner.invoke(app, ["eval", "--base-url", "http://127.0.0.1:9/v1"])
    assert both.exit_code == neither.exit_code == nameless.exit_code == 2
    assert "not both" in both.output and "--base-url URL --model NAME" in neither.output
    assert "--base-url needs --model" in nameless.output


def test_training_refuses_when_the_held_out_check_leaves_too_few_rows(tmp_path):
    from factories import pair
    from polyforge.config import TrainingConfig
    from polyforge.training.datasets import TooFewAccepted
    from polyforge.training.recipe import train_campaign

    leaked = benchmark_tasks("humaneval", limit=1)[0]
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    with session_scope(url) as session:
        campaign, (snippet,) = campaign_with_snippets(session, 1)
        session.add(pair(campaign, snippet, "Python", "accepted", instruction=leaked.prompt))
        session.commit()
    settings = TrainingConfig(min_accepted_pairs=1, dpo_steps=0)
    with pytest.raises(TooFewAccepted, match=r"0 SFT row\(s\) left once those sharing a 10-gram with evaluation "
                                             r"tasks \(humaneval, mceval\) were dropped"):
        train_campaign(url, tmp_path / "run", settings)  # before any model loads
    assert not (tmp_path / "run" / "sft").exists()
