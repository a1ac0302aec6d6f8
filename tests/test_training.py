"""SFT on chat examples: a tiny random Llama with SmolLM2's tokenizer, then the saved folder reloads."""

import json

import pytest
import torch

from polyforge.config import TrainingConfig
from polyforge.training.sft import train_sft
from training_support import smollm2_tokenizer, tiny_llama

EXAMPLES = [
    {"messages": [{"role": "user", "content": f"Write a function that adds {i}."},
                  {"role": "assistant", "content": f"```python\ndef add(x):\n    return x + {i}\n```"}]}
    for i in range(6)
]


@pytest.fixture(scope="module")
def tokenizer():
    return smollm2_tokenizer()


def test_sft_trains_and_saves_a_loadable_model(tmp_path, tokenizer):
    from transformers import AutoModelForCausalLM

    model = tiny_llama(tokenizer)
    before = model.model.layers[0].mlp.up_proj.weight.detach().clone()
    result = train_sft(EXAMPLES, TrainingConfig(max_steps=3, batch_size=2, max_length=64, learning_rate=1e-2),
                       "embedded", tmp_path, model=model, tokenizer=tokenizer)
    assert result.steps == 3 and result.examples == 6
    assert result.final_loss is not None and result.final_loss > 0
    reloaded = AutoModelForCausalLM.from_pretrained(result.model_dir)
    after = reloaded.model.layers[0].mlp.up_proj.weight
    assert not torch.allclose(before, after)  # the steps changed the weights that were saved
    assert (result.model_dir / "tokenizer.json").is_file()


def test_no_examples_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no training examples"):
        train_sft([], TrainingConfig(), "embedded", tmp_path)


DPO_EXAMPLES = [
    {"prompt": [{"role": "user", "content": f"Add {i} to x."}],
     "chosen": [{"role": "assistant", "content": f"```python\ndef add(x):\n    return x + {i}\n```"}],
     "rejected": [{"role": "assistant", "content": "I cannot help."}]}
    for i in range(4)
]


def test_dpo_trains_on_exported_preferences_and_saves(tmp_path, tokenizer):
    from transformers import AutoModelForCausalLM

    from polyforge.training.dpo import train_dpo

    jsonl = tmp_path / "dpo.jsonl"
    jsonl.write_text("\n".join(json.dumps(example) for example in DPO_EXAMPLES))
    from datasets import load_dataset

    rows = list(load_dataset("json", data_files=str(jsonl), split="train"))  # as a user would load the export
    result = train_dpo(rows, TrainingConfig(dpo_steps=2, batch_size=2, max_length=64, dpo_learning_rate=1e-3),
                       "embedded", tmp_path, model=tiny_llama(tokenizer), tokenizer=tokenizer)
    assert result.steps == 2 and result.final_loss is not None
    assert AutoModelForCausalLM.from_pretrained(result.model_dir).config.num_hidden_layers == 2


def test_dpo_without_preferences_says_what_to_do(tmp_path):
    from polyforge.training.dpo import train_dpo

    with pytest.raises(ValueError, match="sampling.candidates"):
        train_dpo([], TrainingConfig(), "embedded", tmp_path)


def test_examples_all_too_long_is_a_clear_error(tmp_path, tokenizer):
    from polyforge.training.common import NoTrainableExamples
    from polyforge.training.dpo import train_dpo

    long_prompt = [{"role": "user", "content": "word " * 400}]
    examples = [{**example, "prompt": long_prompt} for example in DPO_EXAMPLES]
    with pytest.raises(NoTrainableExamples, match="raise training.max_length"):
        train_dpo(examples, TrainingConfig(dpo_steps=1, max_length=32), "embedded", tmp_path,
                  model=tiny_llama(tokenizer), tokenizer=tokenizer)


def test_coarse_stage_on_every_answered_pair_then_fine_on_accepted(tmp_path, tokenizer):
    from factories import campaign_with_snippets, pair
    from polyforge.storage import open_engine, session_factory
    from polyforge.training.recipe import train_campaign

    base = tmp_path / "tiny"
    tiny_llama(tokenizer).save_pretrained(base)
    tokenizer.save_pretrained(base)
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign, snippets = campaign_with_snippets(session, 8)
        session.add_all([pair(campaign, snippet, "Python", "accepted" if index < 5 else "rejected", f"Task {index}.")
                         for index, snippet in enumerate(snippets)])
        session.commit()
    engine.dispose()

    said = []
    outcome = train_campaign(url, tmp_path / "out", TrainingConfig(base_model=str(base), coarse_steps=2, max_steps=2,
                                                                   dpo_steps=0, max_length=64), say=said.append)
    assert outcome.coarse.examples == 8 and outcome.coarse.steps == 2  # accepted and rejected alike
    assert outcome.sft.examples == 5 and outcome.final_model == outcome.sft.model_dir
    assert f"SFT: TRL SFTTrainer, 2 steps from {outcome.coarse.model_dir}" in said  # fine starts from coarse
    assert (outcome.coarse.model_dir / "config.json").is_file()


def test_trl_configs_come_from_the_training_settings_alone(tmp_path):
    """One set of defaults: TRL's SFT and DPO configs take every value from TrainingConfig."""
    from polyforge.training.dpo import dpo_config
    from polyforge.training.sft import sft_config

    settings = TrainingConfig(batch_size=3, max_length=96, learning_rate=3e-5, dpo_steps=5, dpo_beta=0.2,
                              dpo_learning_rate=1e-6)
    sft = sft_config(settings, tmp_path, max_steps=7, seed=4)
    assert (sft.max_steps, sft.per_device_train_batch_size, sft.max_length, sft.learning_rate, sft.seed) == (
        7, 3, 96, 3e-5, 4)
    dpo = dpo_config(settings, tmp_path, seed=4)
    assert (dpo.max_steps, dpo.per_device_train_batch_size, dpo.max_length, dpo.learning_rate, dpo.beta) == (
        5, 3, 96, 1e-6, 0.2)
    defaults = TrainingConfig()
    assert dpo_config(defaults, tmp_path).max_steps == defaults.dpo_steps
    assert sft_config(defaults, tmp_path, defaults.max_steps).learning_rate == defaults.learning_rate


def test_sft_stages_follow_the_configured_language_mix(tmp_path):
    from collections import Counter

    from factories import campaign_with_snippets, pair, snippet
    from polyforge.export import ExportError
    from polyforge.storage import open_engine, session_factory
    from polyforge.training.datasets import coarse_examples, sft_examples

    engine = open_engine(f"sqlite:///{tmp_path / 'campaign.db'}")
    with session_factory(engine)() as session:
        campaign, python = campaign_with_snippets(session, 6)
        go = [snippet(campaign, 10 + index, "Go") for index in range(2)]
        session.add_all([*[pair(campaign, row, "Python", "accepted", f"P{i}.") for i, row in enumerate(python)],
                         *[pair(campaign, row, "Go", "accepted", f"G{i}.") for i, row in enumerate(go)]])
        session.commit()
        even = {"Python": 0.5, "Go": 0.5}
        fine = sft_examples(session, campaign.id, mix=even)
        assert Counter(example["language"] for example in fine.examples) == {"Python": 2, "Go": 2}
        coarse = coarse_examples(session, campaign.id, mix={"Python": 0.75, "Go": 0.25})
        assert Counter(example["language"] for example in coarse.examples) == {"Python": 6, "Go": 2}
        assert len(sft_examples(session, campaign.id).examples) == 8  # no mix: every accepted pair
        with pytest.raises(ExportError, match="Rust"):
            sft_examples(session, campaign.id, mix={"Rust": 1.0})
    engine.dispose()
