"""The final-model experiment: does training on Polyforge's data make a model better than its base, and does
verification matter?

1. campaign: McEval tasks of the instruction split as instructions, the embedded coder as generator, tester and
   judge, verified acceptance (candidates until a pass, optional repair turns);
2. data: the accepted pairs (SFT-verified); as many answered pairs that were not accepted (SFT-unverified, the
   ablation); the repair conversations; the execution and repair preferences (DPO). Every row sharing a word
   10-gram with an evaluation task is dropped first (McEval states one problem in many languages);
3. training: LoRA SFT from the base on each SFT arm, the same steps and settings; DPO from the SFT-verified model;
4. evaluation: the base and every trained model on McEval's held-out split and HumanEval, in process, through the
   chat template, greedy, pass@1 with 95% bootstrap intervals.

Usage: python bench/final_model.py [--model qwen2.5-coder-0.5b] [--languages Python,JavaScript,...] [--tasks 20]
           [--candidates 2] [--repair-turns 1] [--steps 40] [--learning-rate 1e-4] [--eval-limit 10]
           [--humaneval-limit 20] [--out runs/final-model]

Resumable: each stage writes its outputs under OUT; the same command skips what is done and goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from polyforge.config import LoraConfig, TrainingConfig
from polyforge.export import ExportFilter, iter_sft_records
from polyforge.storage import session_scope
from polyforge.storage.report import latest_campaign
from polyforge.terms import PairStatus
from polyforge.training.benchmarks import benchmark_tasks, tasks_digest
from polyforge.training.completers import compare_models
from polyforge.training.datasets import ALL_ANSWERED, dpo_examples, repair_conversations
from polyforge.training.evaluation import write_results
from polyforge.training.held_out import drop_contaminated
from precision import instruction_rows, run_arm  # the campaign over McEval instructions, as the precision bench runs it

DEFAULT_LANGUAGES = ("Python", "JavaScript", "C++", "Java", "Go", "Rust", "Shell", "PHP", "Ruby", "C#")
NOT_ACCEPTED = tuple(status for status in ALL_ANSWERED if status != PairStatus.accepted)
HELD_OUT = ["humaneval", "mceval"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="The embedded model: writer and base.")
    parser.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES))
    parser.add_argument("--tasks", type=int, default=20, help="Instruction-split tasks per language.")
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--repair-turns", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40, help="Optimizer steps of every SFT arm.")
    parser.add_argument("--dpo-steps", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="LoRA SFT peak learning rate.")
    parser.add_argument("--eval-limit", type=int, default=10, help="Held-out McEval tasks per language.")
    parser.add_argument("--humaneval-limit", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("runs/final-model"))
    parser.add_argument("--campaign-db", default=None,
                        help="Use this finished campaign's database (its newest campaign) instead of running one, e.g. "
                        "the repair arm of bench/precision.py: sqlite:///runs/precision/MODEL/repair/polyforge.db.")
    return parser.parse_args()


def campaign(args: argparse.Namespace, languages: list[str]) -> tuple[str, int, float]:
    """The campaign over McEval's instruction split, run (or resumed) to its end."""
    folder = args.out / "campaign"
    folder.mkdir(parents=True, exist_ok=True)
    instructions = folder / "instructions.jsonl"
    rows = instruction_rows(languages, args.tasks)
    instructions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = {
        "name": f"final-model-{args.model}",
        "output_dir": str(folder.resolve()),
        "sources": [{"instructions": str(instructions.resolve())}],
        "models": {"generator": {"backend": "embedded", "model": args.model}},
        "sampling": {"seed": 5, "candidates": args.candidates, "candidates_until_pass": args.candidates > 1,
                     "repair_turns": args.repair_turns,
                     "answer": {"temperature": 0.4, "max_tokens": 512}, "tester": {"max_tokens": 512}},
        "budgets": {"max_pairs": 100_000},
        "memory": {"enabled": False},
        "coverage": {"classify": False},
        "judge": {"rationales": False},
        # Instructions are benchmark text by construction; the held-out check happens before training instead.
        "ingest": {"decontaminate_mceval": False, "decontaminate_humaneval": False},
        "concurrency": args.concurrency,
        "training": {"enabled": False},
    }
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"campaign: {len(rows)} tasks over {len(languages)} languages", flush=True)
    return run_arm(path, "campaign")


def newest_campaign(url: str) -> int:
    with session_scope(url, create=False) as session:
        return latest_campaign(session).id


def datasets(url: str, campaign_id: int, out: Path) -> dict:
    """The arms' rows, decontaminated and written to OUT/data/*.jsonl, with their counts."""
    folder = out / "data"
    with session_scope(url, create=False) as session:
        verified = list(iter_sft_records(session, ExportFilter((PairStatus.accepted,), campaign_id=campaign_id)))
        unverified = list(iter_sft_records(session, ExportFilter(NOT_ACCEPTED, campaign_id=campaign_id)))
        repairs = repair_conversations(session, campaign_id)
        preferences = [row for row in dpo_examples(session, campaign_id) if row["kind"] in ("execution", "repair")]
    kept, dropped = drop_contaminated({"verified": verified, "unverified": unverified, "repairs": repairs,
                                       "preferences": preferences}, HELD_OUT)
    size = min(len(kept["verified"]), len(kept["unverified"]))  # the ablation compares equal numbers of rows
    arms = {"sft-verified": kept["verified"][:size], "sft-unverified": kept["unverified"][:size],
            "sft-verified-repairs": kept["verified"][:size] + kept["repairs"], "dpo": kept["preferences"]}
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in arms.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    counts = {"rows": {name: len(rows) for name, rows in arms.items()},
              "before_decontamination": {"verified": len(verified), "unverified": len(unverified),
                                         "repairs": len(repairs), "preferences": len(preferences)},
              "dropped": dropped}
    (folder / "counts.json").write_text(json.dumps(counts, indent=1))
    return counts


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train(args: argparse.Namespace) -> dict[str, Path]:
    """LoRA SFT for each SFT arm (same steps), DPO on the SFT-verified model; finished arms are kept."""
    from polyforge.training.dpo import train_dpo
    from polyforge.training.sft import train_sft

    settings = TrainingConfig(base_model=args.model, adapter="lora", lora=LoraConfig(), max_steps=args.steps,
                              learning_rate=args.learning_rate, batch_size=4, max_length=768,
                              dpo_steps=args.dpo_steps, report_to=[], held_out_benchmarks=HELD_OUT)
    models = {}
    for arm in ("sft-verified", "sft-unverified", "sft-verified-repairs"):
        rows, folder = read_rows(args.out / "data" / f"{arm}.jsonl"), args.out / "train" / arm
        if not (folder / "model" / "config.json").is_file():
            if not rows:
                print(f"{arm}: no rows, not trained", flush=True)
                continue
            print(f"{arm}: LoRA SFT, {args.steps} steps on {len(rows)} rows", flush=True)
            train_sft(rows, settings, args.model, folder, args.steps)
        models[arm] = folder / "model"
    preferences, folder = read_rows(args.out / "data" / "dpo.jsonl"), args.out / "train" / "sft-dpo"
    if "sft-verified" in models and preferences and not (folder / "model" / "config.json").is_file():
        print(f"dpo: {args.dpo_steps} steps on {len(preferences)} preferences from the SFT-verified model", flush=True)
        train_dpo(preferences, settings, str(models["sft-verified"]), folder)
    if (folder / "model" / "config.json").is_file():
        models["sft-dpo"] = folder / "model"
    return models


def evaluate(args: argparse.Namespace, languages: list[str], models: dict[str, Path]) -> dict:
    """pass@1 of the base and every model on each benchmark; finished benchmarks are read back."""
    results = {}
    for benchmark, tasks in (("mceval", benchmark_tasks("mceval", languages, args.eval_limit)),
                             ("humaneval", benchmark_tasks("humaneval", limit=args.humaneval_limit))):
        path = args.out / "eval" / benchmark / "results.json"
        if not path.is_file():
            names = {args.model: args.model, **{arm: str(model) for arm, model in models.items()}}
            print(f"eval: {len(names)} models on {len(tasks)} {benchmark} tasks", flush=True)
            reports = compare_models(list(names.values()), tasks, args.max_new_tokens, prompting="chat")
            for report, name in zip(reports, names):
                report.model = "base" if name == args.model else name
            write_results(reports, path.parent, {"benchmark": benchmark, "tasks": len(tasks),
                                                 "tasks_sha256": tasks_digest(tasks), "command": sys.argv})
        results[benchmark] = json.loads(path.read_text())
    return results


def report(results: dict, counts: dict, minutes: float, out: Path) -> str:
    lines = [f"campaign: {minutes:.1f} min this run; rows per arm {counts['rows']}; dropped as overlaps of held-out "
             f"tasks {counts['dropped'] or 'none'}", ""]
    for benchmark, found in results.items():
        models = found["models"]
        lines += [f"| {benchmark} ({found['tasks']} tasks) | " + " | ".join(models) + " |",
                  "|---|" + "---:|" * len(models)]
        for row in next(iter(models.values())):
            cells = [f"{100 * m[row]['pass_at_1']:.1f} [{100 * m[row]['low']:.0f}, {100 * m[row]['high']:.0f}]"
                     for m in models.values()]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines.append("")
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    return text


def main() -> int:
    args = parse_args()
    languages = [name.strip() for name in args.languages.split(",") if name.strip()]
    started = time.monotonic()
    if args.campaign_db:
        url, campaign_id = args.campaign_db, newest_campaign(args.campaign_db)
    else:
        url, campaign_id, _ = campaign(args, languages)
    minutes = (time.monotonic() - started) / 60
    counts = datasets(url, campaign_id, args.out)
    print(f"data: {counts}", flush=True)
    models = train(args)
    results = evaluate(args, languages, models)
    print(report(results, counts, minutes, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
