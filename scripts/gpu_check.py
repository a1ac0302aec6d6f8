"""The GPU path of `polyforge train`, end to end, on a machine with CUDA GPUs and nothing downloaded.

Builds a synthetic campaign database (chat pairs and preference pairs), a word-level tokenizer with a chat
template, and a Llama model from a config (random weights, about 60M parameters), then runs `polyforge train`
through accelerate with DeepSpeed ZeRO-2 in bf16: SFT, then DPO. It fails (non-zero exit, a message naming
the step) when a stage did not run, a model does not load, or a loss is not finite. Run by scripts/gpu-check.sh.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def campaign_database(path: Path, pairs: int) -> str:
    from polyforge.storage import Campaign, Pair, Preference, Snippet, open_engine, session_factory

    url = f"sqlite:///{path}"
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign = Campaign(name="gpu-check", config={})
        for index in range(pairs):
            code = f"def add_{index}(x):\n    total = x + {index}\n    return total\n"
            snippet = Snippet(campaign=campaign, language="Python", path=f"m{index}.py", source="/repo", start_line=1,
                              end_line=3, kind="function_definition", code=code, tokens=12,
                              content_hash=f"h{index}")
            pair = Pair(campaign=campaign, snippet=snippet, language="Python",
                        instruction=f"Write a function that adds {index} to x.", answer=f"```python\n{code}```",
                        status="accepted", model="gpu-check", sampling={}, templates={}, tokens={})
            session.add_all([snippet, pair])
            session.add(Preference(pair=pair, prompt=pair.instruction, chosen=pair.answer,
                                   rejected="I cannot help with that.", chosen_score=8.0, rejected_score=2.0,
                                   reason="gpu check"))
        session.commit()
    engine.dispose()
    return url


def model_folder(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel(unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]
    corpus = [f"Write a function that adds {i} to x . def add_{i} ( x ) : total = x + {i} return total python "
              "I cannot help with that user assistant ```" for i in range(256)]
    words.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<|im_end|>", bos_token="<|im_start|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=512, intermediate_size=2048, num_hidden_layers=8,
                         num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=1024,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/gpu-check"))
    parser.add_argument("--deepspeed", default="zero2")
    parser.add_argument("--num-processes", type=int, default=None, help="Default: one per GPU.")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("gpu-check: FAILED: no CUDA GPU visible to torch", file=sys.stderr)
        return 1
    processes = args.num_processes or torch.cuda.device_count()
    args.out.mkdir(parents=True, exist_ok=True)
    url = campaign_database(args.out / "campaign.db", pairs=64)
    base = model_folder(args.out / "base")
    config = args.out / "campaign.yaml"
    config.write_text("sources: [{path: .}]\ntraining:\n"
                      f"  base_model: {base.resolve()}\n  max_steps: 20\n  dpo_steps: 10\n  batch_size: 4\n"
                      "  max_length: 256\n  learning_rate: 1.0e-4\n  dpo_learning_rate: 1.0e-5\n  bf16: auto\n"
                      "  save_steps: 10\n  report_to: []\n")
    command = [sys.executable, "-m", "polyforge.cli", "train", url, "--out", str(args.out / "train"),
               "--config", str(config), "--launcher", "accelerate", "--num-processes", str(processes),
               "--deepspeed", args.deepspeed]
    print("gpu-check:", " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        print("gpu-check: FAILED: polyforge train exited with an error (output above)", file=sys.stderr)
        return 1
    summary = json.loads((args.out / "train" / "summary.json").read_text())
    problems = []
    for stage, wanted in (("sft", 20), ("dpo", 10)):
        result = summary["stages"].get(stage)
        if result is None:
            problems.append(f"stage {stage} did not run")
        elif result["steps"] != wanted or not math.isfinite(result["final_loss"] or math.nan):
            problems.append(f"stage {stage}: {result['steps']} steps (wanted {wanted}), loss {result['final_loss']}")
    if summary["hardware"]["accelerator"] != "cuda":
        problems.append(f"trained on {summary['hardware']['accelerator']}, not on the GPU")
    if problems:
        print("gpu-check: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"gpu-check: passed: SFT then DPO under DeepSpeed {args.deepspeed} on {processes} GPU(s): "
          + ", ".join(f"{name} loss {result['final_loss']:.3f} in {result['wall_s']} s"
                      for name, result in summary["stages"].items()))
    return experiment_path(args.out, url)


def experiment_path(out: Path, url: str) -> int:
    """The final-model experiment's GPU steps on its real base model (the embedded Qwen2.5-Coder-0.5B): a LoRA SFT
    step, then pass@1 of the base and the trained model on held-out McEval tasks, in process on the GPU through the
    chat template."""
    config = out / "experiment.yaml"
    config.write_text("sources: [{path: .}]\ntraining:\n  base_model: qwen2.5-coder-0.5b\n  adapter: lora\n"
                      "  max_steps: 1\n  dpo_steps: 0\n  batch_size: 2\n  max_length: 256\n  bf16: auto\n"
                      "  report_to: []\n  held_out_benchmarks: []\n")
    trained = out / "experiment-train"
    steps = [
        [sys.executable, "-m", "polyforge.cli", "train", url, "--out", str(trained), "--config", str(config)],
        [sys.executable, "-m", "polyforge.cli", "eval", "qwen2.5-coder-0.5b", str(trained / "sft" / "model"),
         "--benchmark", "mceval", "--language", "Python", "--language", "Go", "--limit", "5",
         "--out", str(out / "experiment-eval")],
    ]
    for command in steps:
        print("gpu-check:", " ".join(command), flush=True)
        if subprocess.run(command).returncode != 0:
            print(f"gpu-check: FAILED: `{' '.join(command[3:5])}` exited with an error (output above)",
                  file=sys.stderr)
            return 1
    hardware = json.loads((trained / "summary.json").read_text())["hardware"]["accelerator"]
    results = json.loads((out / "experiment-eval" / "results.json").read_text())["models"]
    base = results["qwen2.5-coder-0.5b"]["all"]
    if hardware != "cuda" or base["tasks"] != 10 or base["passed"] == 0:
        print(f"gpu-check: FAILED: experiment path trained on {hardware}; the base passed {base['passed']} of "
              f"{base['tasks']} held-out tasks (it passes some on CPU)", file=sys.stderr)
        return 1
    print("gpu-check: passed: the experiment's LoRA step on the GPU, and pass@1 "
          + ", ".join(f"{model} {row['all']['pass_at_1']:.0%}" for model, row in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
