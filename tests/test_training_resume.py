"""Checkpoints and `polyforge train --resume`: training killed outright (SIGKILL) mid-stage goes on from the last
checkpoint to the same final step count, and a stage that had finished is kept, not trained again."""

import json
import re
import signal
import subprocess
import time

import pytest

from training_support import TRAIN_COMMAND, campaign_database, train, training_yaml

STEPS, EVERY = 12, 3



@pytest.mark.slow  # two real runs of the command: about a minute
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, tiny_model):
    database = campaign_database(tmp_path / "campaign.db", pairs=8, preferences=False)
    config = training_yaml(tmp_path / "campaign.yaml", tiny_model, coarse_steps=2, max_steps=STEPS, dpo_steps=0,
                           save_steps=EVERY, save_total_limit=2)
    out = tmp_path / "run"
    arguments = [database, "--out", str(out), "--config", str(config)]
    process = subprocess.Popen([*TRAIN_COMMAND, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    first_checkpoint = out / "sft" / "checkpoints" / f"checkpoint-{EVERY}" / "trainer_state.json"
    deadline = time.monotonic() + 180
    while not first_checkpoint.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    output = process.communicate()[0]
    assert process.returncode == -signal.SIGKILL, output[-3000:]  # killed, not finished
    assert (out / "sft-coarse" / "stage.json").is_file() and not (out / "sft" / "stage.json").is_file()

    resumed = train(*arguments, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "coarse SFT: already trained (2 steps)" in resumed.stdout
    result = json.loads((out / "sft" / "stage.json").read_text())
    checkpoint = int(re.search(r"checkpoint-(\d+)$", result["resumed_from"]).group(1))
    assert EVERY <= checkpoint < STEPS and checkpoint % EVERY == 0
    assert result["steps"] == STEPS
    steps_run = [int(step) for step in re.findall(rf"^SFT: step (\d+)/{STEPS} ", resumed.stdout, re.MULTILINE)]
    assert steps_run == list(range(checkpoint + 1, STEPS + 1))  # on from the checkpoint, not from the start
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["sft"]["steps"] == STEPS and summary["final_model"] == str(out / "sft" / "model")
