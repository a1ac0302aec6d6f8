"""How much of McEval's instruction split states a problem of its evaluation split (in another language): the
instruction-split tasks whose instruction, or instruction and reference program, share a word 10-gram with an
evaluation task. Why training rows are decontaminated against the evaluation tasks, not only split by number.

Usage: python bench/held_out_overlap.py
"""

from __future__ import annotations

from collections import Counter

from polyforge.training.benchmarks import benchmark_tasks
from polyforge.training.held_out import NGRAM, evaluation_ngrams


def main() -> None:
    evaluation = evaluation_ngrams(["mceval"])
    instructions = benchmark_tasks("mceval", split="instructions")
    by_instruction = [t for t in instructions if evaluation.overlap_text(t.instruction)]
    by_program = [t for t in instructions if evaluation.overlap_text(t.instruction + "\n" + t.program)]
    print(f"McEval: {len(benchmark_tasks('mceval', split='all'))} tasks in the sandbox's languages, {len(instructions)} "
          "in the instruction split")
    print(f"sharing a word {NGRAM}-gram with an evaluation task: {len(by_instruction)} by their instruction "
          f"({len(by_instruction) / len(instructions):.0%}), {len(by_program)} by instruction or program "
          f"({len(by_program) / len(instructions):.0%})")
    print("per language:", ", ".join(f"{lang} {n}" for lang, n in Counter(t.language for t in by_program).most_common()))


if __name__ == "__main__":
    main()
