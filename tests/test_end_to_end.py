"""The whole path on the real embedded model, through the command line a user types."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def polyforge(*args, env):
    result = subprocess.run([sys.executable, "-m", "polyforge.cli", *args], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_run_export_train(tmp_path, sample_repo):
    env = {**os.environ, "POLYFORGE_MODEL_CACHE": str(tmp_path / "cache")}
    config = tmp_path / "campaign.yaml"
    config.write_text(
        f"name: e2e\noutput_dir: {tmp_path / 'out'}\nsources: [{{path: {sample_repo}}}]\n"
        "languages: [Python, C, Go, Shell]\nbudgets: {max_pairs: 4}\nconcurrency: 2\n"
        "sampling: {seed: 1, candidates: 2, answer: {max_tokens: 96}, judge: {max_tokens: 120, temperature: 0}}\n"
        # max_length above the longest prompt (instructions stop at 160 tokens): TRL's DPO drops
        # preferences whose prompt alone fills max_length.
        "training: {max_steps: 1, batch_size: 2, max_length: 512, dpo_steps: 1}\n"
        # SmolLM2's code rarely parses, let alone passes its tests: the gates are opened so that the judge sees
        # every answer and this run covers judging and judge-score preferences whatever the small model writes.
        "judge: {accept_only_tested: false, preferences_from_scores: true}\n"
        "generation: {gates: {code_block: false, failed_tests: false}}\n"
    )
    output = polyforge("run", str(config), env=env)
    assert "ingest: per language" in output  # the first stage prints its table
    assert "language" in output and "mean score" in output and "all" in output
    assert "judge scores per criterion" in output and "code_exists" in output

    db = sqlite3.connect(tmp_path / "out" / "polyforge.db")
    pairs = db.execute("select id, language, status, final_score, model from pair").fetchall()
    assert len(pairs) == 4 and {p[1] for p in pairs} == {"Python", "C", "Go", "Shell"}
    for pair_id, _, status, score, model in pairs:
        assert model == "SmolLM2-135M-Instruct"
        verdict = db.execute("select execution_status from pair where id = ?", (pair_id,)).fetchone()[0]
        chosen = db.execute("select status from execution where pair_id = ? and chosen", (pair_id,)).fetchall()
        assert chosen == ([(verdict,)] if verdict else [])  # the sandbox verdict of the answer, when it ran
        if score is not None:
            assert db.execute("select count(*) from judge_score where pair_id = ?", (pair_id,)).fetchone()[0] == 9

    export = tmp_path / "all.jsonl"
    polyforge("export", str(tmp_path / "out"), "--out", str(export), "--status", "accepted", "--status", "flagged",
              "--status", "rejected", env=env)
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    # A pair a gate dropped before an answer was written (an instruction restating its snippet) has nothing to export.
    unanswered = db.execute("select count(*) from pair where error like 'gate: %' and answer = ''").fetchone()[0]
    assert len(lines) == sum(1 for p in pairs if p[2] not in ("failed", "duplicate")) - unanswered
    assert all([m["role"] for m in line["messages"]] == ["user", "assistant"] for line in lines)

    preferences = db.execute("select count(*) from preference").fetchone()[0]
    # SmolLM2 rarely writes code that passes its tests: training on every judged pair is asked for, and said.
    output = polyforge("train", str(tmp_path / "out"), "--out", str(tmp_path / "train"), "--config", str(config),
                       "--include-unaccepted", env=env)
    assert "judged pairs, accepted or not" in output and "as training.include_unaccepted asks" in output
    assert "loads with AutoModelForCausalLM.from_pretrained" in output
    assert (tmp_path / "train" / "sft" / "model" / "config.json").is_file()
    if preferences:
        assert f"DPO: TRL DPOTrainer, 1 steps from the SFT model on {preferences} preference pairs" in output
        assert "DPO: 1 steps on" in output
        assert (tmp_path / "train" / "dpo" / "model" / "config.json").is_file()
    else:
        assert "DPO: skipped, no preference pairs" in output


def test_a_dataset_of_tasks_is_answered_and_exported_with_its_row_ids(tmp_path):
    """examples/instructions.yaml as a user runs it: three given tasks, no instruction written."""
    env = {**os.environ, "POLYFORGE_MODEL_CACHE": str(tmp_path / "cache")}
    example = ROOT / "examples" / "instructions.yaml"
    output = polyforge("run", str(example), "--out", str(tmp_path / "out"), env=env)
    assert "3 instruction rows read" in output

    tasks = [json.loads(line) for line in (ROOT / "examples" / "instructions.jsonl").read_text().splitlines()]
    db = sqlite3.connect(tmp_path / "out" / "polyforge.db")
    pairs = db.execute("select snippet.source_id, pair.instruction, pair.status, pair.answer, pair.tokens "
                       "from pair join snippet on snippet.id = pair.snippet_id").fetchall()
    assert {source_id: instruction for source_id, instruction, *_ in pairs} == \
        {task["task_id"]: task["task"] for task in tasks}
    assert all(json.loads(tokens)["instruction"]["calls"] == 0 for *_, tokens in pairs)

    export = tmp_path / "tasks.jsonl"
    polyforge("export", str(tmp_path / "out"), "--out", str(export), "--status", "accepted", "--status", "flagged",
              "--status", "rejected", env=env)
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    answered = [source_id for source_id, _, status, answer, _ in pairs
                if status in ("accepted", "flagged", "rejected") and answer]
    assert answered and sorted(row["source_id"] for row in rows) == sorted(answered)
