"""Judge cost per pair on the embedded model: k samples and rationales against the k=1 default.

Run from the repository root:  python bench/judge_cost.py [--pairs 5]
Prints, per setting, model seconds and completion tokens per pair, and how many pairs ended with
malformed judge output. The rules (tree-sitter parse of the answer) are timed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from polyforge.agents import JudgeAgent
from polyforge.agents.judge_rules import known_facts
from polyforge.checklists import load_checklist
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm.embedded import EmbeddedBackend

PAIRS = [
    ("Python", "Return the sum of a list of integers.", "```python\ndef total(xs):\n    return sum(xs)\n```"),
    ("C", "Write a function that doubles an int.", "```c\nint twice(int x) {\n  return 2 * x;\n}\n```"),
    ("Rust", "Return the largest element of a slice.",
     "```rust\nfn largest(xs: &[i32]) -> Option<i32> {\n    xs.iter().copied().max()\n}\n```"),
    ("Go", "Reverse a string.", "```go\nfunc reverse(s string) string {\n\tr := []rune(s)\n"
     "\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}\n```"),
    ("Shell", "Count the lines of a file.", "Use wc.\n```bash\ncount_lines() {\n  wc -l < \"$1\"\n}\n```"),
]
GRAMMARS = {"Python": "python", "C": "c", "Rust": "rust", "Go": "go", "Shell": "bash"}
SETTINGS = [
    ("k=1, scores only (default)", JudgeConfig(), 0.0, 120),
    ("k=3, scores only", JudgeConfig(samples=3), 0.7, 120),
    ("k=1, with rationales", JudgeConfig(rationales=True), 0.0, 600),
]


async def measure(backend, checklist, settings: JudgeConfig, temperature: float, max_tokens: int, pairs):
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=temperature, max_tokens=max_tokens), settings,
                       grammars=GRAMMARS)
    seconds = tokens = malformed = 0
    for index, (language, instruction, answer) in enumerate(pairs):
        verdict = await judge.judge(language, instruction, answer, seed=index * 10)
        seconds += sum(c.seconds for c in verdict.completions)
        tokens += sum(c.completion_tokens for c in verdict.completions)
        malformed += "malformed judge output" in verdict.flag_reasons
    return seconds / len(pairs), tokens / len(pairs), malformed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=len(PAIRS), help="Pairs per setting (cycled).")
    args = parser.parse_args()
    pairs = [PAIRS[i % len(PAIRS)] for i in range(args.pairs)]
    checklist = load_checklist("default")
    started = time.perf_counter()
    for _ in range(20):
        for language, _, answer in pairs:
            known_facts(checklist, answer, GRAMMARS[language], "passed")
    rules_ms = (time.perf_counter() - started) * 1000 / (20 * len(pairs))
    backend = EmbeddedBackend(context_tokens=2048)
    asyncio.run(measure(backend, checklist, JudgeConfig(), 0.0, 120, pairs[:1]))  # warm-up: load, caches
    print("| setting | s/pair | completion tokens/pair | malformed |\n| --- | ---: | ---: | ---: |")
    for label, settings, temperature, max_tokens in SETTINGS:
        per_pair_s, per_pair_tokens, malformed = asyncio.run(
            measure(backend, checklist, settings, temperature, max_tokens, pairs)
        )
        print(f"| {label} | {per_pair_s:.2f} | {per_pair_tokens:.0f} | {malformed}/{len(pairs)} |")
    print(f"rules (tree-sitter parse + sandbox status) per pair: {rules_ms:.3f} ms")


if __name__ == "__main__":
    main()
