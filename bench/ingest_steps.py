"""Where a worker's CPU time goes, step by step, on one folder (one process, no pool).

Usage: python bench/ingest_steps.py FOLDER
Prints the CPU seconds of reading, identification, cutting (tree-sitter parse included; the parse
alone is timed apart, on a second parse), hashing and each per-snippet filter.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tree_sitter_language_pack import get_parser  # noqa: E402

from polyforge.config import IngestConfig  # noqa: E402
from polyforge.ingest.filters import Candidate  # noqa: E402
from polyforge.ingest.identify import identify_content  # noqa: E402
from polyforge.ingest.snippets import ParseFailure, cut_snippets, normalized_hash  # noqa: E402
from polyforge.ingest.sources import Source, read_file, walk  # noqa: E402
from polyforge.ingest.worker import FileProcessor  # noqa: E402


def main() -> None:
    root = Path(sys.argv[1])
    processor = FileProcessor(IngestConfig(workers=1), None)
    seconds: Counter = Counter()

    def timed(step: str, work):
        started = time.process_time()
        result = work()
        seconds[step] += time.process_time() - started
        return result

    size = 0
    for relative in walk(Source(str(root), root), processor.limits):
        file = timed("read", lambda: read_file(root, relative, processor.limits))
        if isinstance(file, str):
            continue
        size += len(file.raw)
        language = timed("identify", lambda: identify_content(file.path, file.raw).language)
        if language is None:
            continue
        if language.grammar:
            timed("(parse alone)", lambda: get_parser(language.grammar).parse(file.raw))
        try:
            cuts = timed("cut, parse included", lambda: cut_snippets(file.text, language, 1024, 3, Counter()))
        except ParseFailure:
            continue
        for cut in cuts:
            content_hash = timed("normalized hash", lambda: normalized_hash(cut.code))
            candidate = timed("word hashes", lambda: Candidate.of(language.name, cut.code, cut.tokens, content_hash))
            if not any(timed(f.name, lambda: f.reason_to_drop(candidate)) for f in processor.filters):
                timed("MinHash signature", lambda: processor.minhasher.sign(candidate))
    total = sum(value for step, value in seconds.items() if step != "(parse alone)")
    print(f"{root}: {size / 1e6:.1f} MB, {total:.2f} CPU s -> {size / 1e6 / total:.2f} MB per CPU-second (worker side)")
    for step, value in seconds.most_common():
        print(f"  {step:22s} {value:6.2f} s  {100 * value / total:5.1f}%")


if __name__ == "__main__":
    main()
