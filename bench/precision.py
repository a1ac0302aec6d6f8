"""Precision of accepted pairs against hidden tests.

McEval tasks (the bundled copy, its instruction split) are given to a campaign as instructions only
(`sources: [{instructions: ...}]`): the agents answer, write their own tests, run them and judge, and never see
McEval's tests. Afterwards every stored answer is also run against McEval's own tests (the hidden tests). Two arms
on the same tasks and models:
- verified: the defaults (execution on, a pair accepted only on a pass of tests that are evidence);
- judge-only: the control, execution off, the judge's score alone accepts;
- repair: as verified, but a failed answer is fixed from the sandbox's output (sampling.repair_turns) instead of
  a fresh candidate being written: the same number of answer calls at most.
Per language and in total: precision (accepted pairs whose answer passes the hidden tests / accepted pairs) and
recall (those / answers that pass the hidden tests), with the count behind each ratio.

Usage: python bench/precision.py [--model qwen2.5-coder-0.5b] [--judge MODEL] [--languages Python,Go,...]
                                 [--tasks 8] [--candidates 2] [--arms verified,judge-only] [--out runs/precision]
                                 [--json FILE]

Resumable: each arm is a campaign in OUT/MODEL/ARM; the same command goes on where it stopped, and an arm already
finished is only scored again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from sqlalchemy import select

from polyforge.config import load_config
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.mceval import INSTRUCTION_SPLIT, bundled_mceval, load_tasks
from polyforge.storage import ExecutionRecord, Pair, Snippet, session_scope
from polyforge.storage.spending import stage_costs
from polyforge.terms import PairStatus
from polyforge.training.hidden_tests import run_hidden_tests

DEFAULT_LANGUAGES = ("Python", "JavaScript", "C++", "Go", "Rust", "Shell")
# Each arm: (execution on, its sampling beside the common settings). `repair` makes as many answer calls at most
# as `verified` (--candidates): a first answer and fixes from the sandbox's output instead of fresh candidates.
ARMS = {
    "verified": (True, {}),
    "judge-only": (False, {}),
    "repair": (True, {"repair": True}),
}


@dataclass
class ScoredPair:
    task_id: str
    language: str
    status: str  # the campaign's verdict
    execution: str | None  # the answer's run under the generated tests (None: not run)
    hidden: str  # the answer's run under McEval's tests
    flag_reason: str | None
    error: str | None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="The embedded generator (and tester).")
    parser.add_argument("--judge", default=None, help="The embedded judge (default: the generator).")
    parser.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES))
    parser.add_argument("--tasks", type=int, default=8, help="Tasks per language, from McEval's instruction split.")
    parser.add_argument("--candidates", type=int, default=2, help="Answers per task (until one passes, verified arm).")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"Some of: {', '.join(ARMS)}.")
    parser.add_argument("--concurrency", type=int, default=4, help="Items in flight (they share one engine).")
    parser.add_argument("--out", type=Path, default=Path("runs/precision"))
    parser.add_argument("--json", type=Path, default=None, help="Write every scored pair and the table here.")
    return parser.parse_args()


def instruction_rows(languages: list[str], per_language: int) -> list[dict]:
    """The first `per_language` tasks of McEval's instruction split in each language, as instruction rows."""
    rows = []
    for language in languages:
        tasks = load_tasks(bundled_mceval(), [language], split=INSTRUCTION_SPLIT)
        rows += [{"id": task.task_id, "language": task.language, "instruction": task.instruction}
                 for task in tasks[:per_language]]
    return rows


def arm_config(args: argparse.Namespace, arm: str, instructions: Path, folder: Path) -> Path:
    """The arm's campaign config, written beside its output (the campaign resumes by its name)."""
    judge = {"backend": "embedded", "model": args.judge} if args.judge else None
    execution, arm_sampling = ARMS[arm]
    until_pass = execution and args.candidates > 1 and not arm_sampling.get("repair")
    candidates = 1 if arm_sampling.get("repair") else args.candidates
    repair_turns = args.candidates - 1 if arm_sampling.get("repair") else 0
    config = {
        "name": f"precision-{args.model}-{arm}",
        "output_dir": str(folder.resolve()),
        "sources": [{"instructions": str(instructions.resolve())}],
        "models": {"generator": {"backend": "embedded", "model": args.model}, **({"judge": judge} if judge else {})},
        "sampling": {"seed": 11, "candidates": candidates, "candidates_until_pass": until_pass,
                     "repair_turns": repair_turns,
                     "answer": {"temperature": 0.4, "max_tokens": 512}, "tester": {"max_tokens": 512}},
        "budgets": {"max_pairs": 10_000},
        "memory": {"enabled": False},  # every task is answered: novelty against earlier tasks would skip some
        "coverage": {"classify": False},
        "judge": {"rationales": False},
        # The instructions are benchmark text (McEval's, many of them HumanEval's translated): the n-gram check
        # would mark them contaminated, which is right for a training set and beside the point here.
        "ingest": {"decontaminate_mceval": False, "decontaminate_humaneval": False},
        "concurrency": args.concurrency,
        "training": {"enabled": False},
        "execution": {"enabled": execution},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_arm(config_path: Path, arm: str) -> tuple[str, int, float]:
    """(database URL, campaign id, seconds) of the arm's campaign, run (or resumed) to its end; a line per item."""
    config = load_config(config_path)
    started = time.monotonic()
    done = {"items": 0, "total": 0}

    def scheduled(total: int) -> None:
        done["total"] = total

    def finished(language: str, status: str) -> None:
        done["items"] += 1
        print(f"  {arm} [{done['items']}/{done['total']}] {language}: {status} "
              f"({(time.monotonic() - started) / 60:.1f} min)", flush=True)

    progress = CampaignProgress(on_scheduled=scheduled, on_item_done=finished)
    result = asyncio.run(CampaignRunner(config, progress, check_sandbox=config.execution.enabled).run())
    return result.database_url, result.campaign_id, time.monotonic() - started


def score_arm(database_url: str, campaign_id: int, workers: int = 2) -> list[ScoredPair]:
    """Every answered pair of the campaign, its answer run against its task's hidden tests."""
    tasks = {task.task_id: task for task in load_tasks(bundled_mceval())}
    with session_scope(database_url, create=False) as session:
        rows = session.execute(
            select(Pair, Snippet.source_id).join(Snippet, Pair.snippet_id == Snippet.id)
            .where(Pair.campaign_id == campaign_id, Pair.answer != "")).all()
        pairs = [(source_id, pair.language, pair.status, pair.execution_status, pair.answer, pair.flag_reason,
                  pair.error) for pair, source_id in rows]
    sandbox = Sandbox()

    def one(row) -> ScoredPair:
        source_id, language, status, execution, answer, flag_reason, error = row
        hidden = run_hidden_tests(sandbox, tasks[source_id], answer)
        return ScoredPair(source_id, language, status, execution, hidden.status.value, flag_reason, error)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, pairs))


def table(scored: list[ScoredPair]) -> list[dict]:
    """Per language, then in total: answered, accepted, accepted and hidden-passed, hidden-passed, precision,
    recall."""
    groups = defaultdict(list)
    for row in scored:
        groups[row.language].append(row)
    lines = []
    for language, rows in [*sorted(groups.items()), ("total", scored)]:
        accepted = [row for row in rows if row.status == PairStatus.accepted]
        right = [row for row in rows if row.hidden == Status.PASSED.value]
        both = [row for row in accepted if row.hidden == Status.PASSED.value]
        lines.append({"language": language, "answered": len(rows), "accepted": len(accepted),
                      "accepted_correct": len(both), "correct": len(right),
                      "precision": len(both) / len(accepted) if accepted else None,
                      "recall": len(both) / len(right) if right else None})
    return lines


def markdown(arm: str, lines: list[dict]) -> str:
    def ratio(value, part, whole):
        return "-" if value is None else f"{100 * value:.0f}% ({part}/{whole})"

    out = [f"| {arm} | answered | accepted | precision | recall |", "|---|---:|---:|---:|---:|"]
    for line in lines:
        out.append(f"| {line['language']} | {line['answered']} | {line['accepted']} | "
                   f"{ratio(line['precision'], line['accepted_correct'], line['accepted'])} | "
                   f"{ratio(line['recall'], line['accepted_correct'], line['correct'])} |")
    return "\n".join(out)


def wrong_accepted(database_url: str, campaign_id: int, scored: list[ScoredPair]) -> list[dict]:
    """Accepted pairs that fail the hidden tests, with the generated tests that passed them: where to look."""
    wrong = {row.task_id for row in scored if row.status == PairStatus.accepted and row.hidden != Status.PASSED.value}
    found = []
    with session_scope(database_url, create=False) as session:
        for pair, source_id in session.execute(
                select(Pair, Snippet.source_id).join(Snippet, Pair.snippet_id == Snippet.id)
                .where(Pair.campaign_id == campaign_id, Snippet.source_id.in_(wrong))):
            tests = session.scalars(select(ExecutionRecord.tests).where(ExecutionRecord.pair_id == pair.id,
                                                                        ExecutionRecord.chosen)).first()
            found.append({"task_id": source_id, "answer": pair.answer, "generated_tests": tests})
    return found


def main() -> int:
    args = parse_args()
    languages = [name.strip() for name in args.languages.split(",") if name.strip()]
    arms = [name.strip() for name in args.arms.split(",") if name.strip()]
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown:
        sys.exit(f"--arms: unknown {unknown}; use some of {', '.join(ARMS)}")
    folder = args.out / args.model
    folder.mkdir(parents=True, exist_ok=True)
    instructions = folder / "instructions.jsonl"
    rows = instruction_rows(languages, args.tasks)
    instructions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{len(rows)} McEval tasks ({', '.join(languages)}) as instructions: {instructions}", flush=True)
    report = {"command": " ".join(sys.argv), "model": args.model, "judge": args.judge or args.model, "arms": {}}
    for arm in arms:
        url, campaign_id, seconds = run_arm(arm_config(args, arm, instructions, folder / arm), arm)
        scored = score_arm(url, campaign_id)
        lines = table(scored)
        accepted = lines[-1]["accepted"]
        with session_scope(url, create=False) as session:
            tokens = sum(cost.completion for cost in stage_costs(session, campaign_id))
        # Completion tokens are what a server spends, whatever else loads the machine: the steadier figure.
        print(f"\n{arm}: campaign {campaign_id}, {seconds / 60:.1f} min this run, {tokens} completion tokens, "
              f"{accepted} accepted ({accepted / max(seconds / 60, 1e-9):.2f} per minute, "
              f"{1000 * accepted / max(tokens, 1):.2f} per 1000 completion tokens)\n{markdown(arm, lines)}", flush=True)
        report["arms"][arm] = {"minutes": round(seconds / 60, 2), "completion_tokens": tokens, "table": lines,
                               "pairs": [asdict(row) for row in scored],
                               "wrong_accepted": wrong_accepted(url, campaign_id, scored)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
