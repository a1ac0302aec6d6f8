"""Language identification accuracy on labelled code, per language.

Two sets:
  - McEval (40 languages, the bundled copy in polyforge/benchmarks/mceval): each task's prompt and
    reference solution, saved under the language's usual extension;
  - tests/data/identify: hand-labelled files with extensions that several languages share
    (.h .m .pl .fs .r/.R .v .sql .ts .cls .inc).
A file counts as ambiguous when Linguist knows more than one language for its extension.

Usage: python bench/identify_accuracy.py [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polyforge.ingest.identify import identify_content, languages_for_extension  # noqa: E402
from polyforge.sandbox.mceval import bundled_mceval  # noqa: E402

MCEVAL_LANGUAGES = ROOT / "tests/data/mceval_languages.yaml"


def mceval_cases(folder: Path):
    for stem, row in yaml.safe_load(MCEVAL_LANGUAGES.read_text()).items():
        extension, language = row["extension"], row["language"]
        for number, line in enumerate((folder / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()):
            record = json.loads(line)
            code = record["prompt"] + record.get("canonical_solution", "")
            yield "McEval", f"{stem.lower()}_{number}{extension}", code.encode(), language


def labelled_cases(folder: Path):
    for name, language in yaml.safe_load((folder / "labels.yaml").read_text()).items():
        yield "labelled", name, (folder / name).read_bytes(), language


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables for BENCHMARKS.md")
    args = parser.parse_args()
    cases = list(mceval_cases(bundled_mceval())) + list(labelled_cases(ROOT / "tests/data/identify"))
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    per_language: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    for corpus, name, content, expected in cases:
        found = identify_content(name, content)
        ambiguous = len(languages_for_extension(name)) > 1
        kind = "ambiguous" if ambiguous else "unambiguous"
        good = found.detected == expected
        for table, key in ((totals, (kind, corpus)), (per_language, (corpus, expected))):
            table[key][0] += good
            table[key][1] += 1
        if not good:
            misses.append(f"{corpus} {name}: expected {expected}, got {found.detected} ({found.reason})")
    bar = "|" if args.markdown else ""
    print(f"{bar} extension kind {bar} corpus {bar} correct {bar} files {bar} accuracy {bar}")
    if args.markdown:
        print("| --- | --- | ---: | ---: | ---: |")
    for kind in ("unambiguous", "ambiguous"):
        keys = [key for key in totals if key[0] == kind]
        for key in sorted(keys):
            good, count = totals[key]
            print(f"{bar} {kind} {bar} {key[1]} {bar} {good} {bar} {count} {bar} {100 * good / count:.1f}% {bar}")
        good, count = (sum(totals[key][i] for key in keys) for i in (0, 1))
        if count:
            label = f"**{kind}, all**" if args.markdown else f"{kind}, all"
            print(f"{bar} {label} {bar} {bar} {good} {bar} {count} {bar} {100 * good / count:.1f}% {bar}")
    print()
    print(f"{bar} corpus {bar} language {bar} correct {bar} files {bar} accuracy {bar}")
    if args.markdown:
        print("| --- | --- | ---: | ---: | ---: |")
    for (corpus, language), (good, count) in sorted(per_language.items()):
        print(f"{bar} {corpus} {bar} {language} {bar} {good} {bar} {count} {bar} {100 * good / count:.1f}% {bar}")
    if misses:
        print("\nMisses:")
        for miss in misses:
            print(f"- {miss}")


if __name__ == "__main__":
    main()
