"""Export memory and speed: peak RSS of `export` over N synthetic pairs, for N of increasing size.

Usage: python bench/export_memory.py [--sizes 100000 1000000] [--format sft-jsonl] [--workdir DIR]

Each size runs in a fresh subprocess so that peak RSS (ru_maxrss) belongs to that export alone.
Bounded memory shows as a peak that does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import insert

from polyforge.storage import Campaign, Pair, Snippet, open_engine, session_factory
from polyforge.storage.db import database_url

ANSWER = "Use a loop.\n```python\ndef total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n```"


def build(db: Path, size: int) -> None:
    engine = open_engine(database_url(db))
    with session_factory(engine)() as session:
        campaign = Campaign(name="bench", config={})
        session.add(campaign)
        session.flush()
        batch = 20_000
        for start in range(0, size, batch):
            count = min(batch, size - start)
            session.execute(insert(Snippet), [
                {"id": start + i + 1, "campaign_id": campaign.id, "language": "Python", "path": f"f{start + i}.py",
                 "source": "/repo", "start_line": 1, "end_line": 9, "kind": "function_definition",
                 "code": "def total(xs):\n    return sum(xs)", "tokens": 12, "content_hash": f"h{start + i}"}
                for i in range(count)
            ])
            session.execute(insert(Pair), [
                {"campaign_id": campaign.id, "snippet_id": start + i + 1, "language": "Python",
                 "instruction": f"Write a function that sums list number {start + i}.", "answer": ANSWER,
                 "status": "accepted", "final_score": 7.0 + (i % 30) / 10, "model": "m", "judge_model": "m",
                 "sampling": {}, "templates": {"instruction": "a", "answer": "b", "judge": "c"},
                 "checklist_hash": "ck", "tokens": {}, "total_tokens": 100, "seconds": 1.0}
                for i in range(count)
            ])
        session.commit()
    engine.dispose()


def export_once(db: Path, out: Path, data_format: str) -> dict:
    from polyforge.export import ExportFilter, export

    engine = open_engine(database_url(db), create=False)
    started = time.perf_counter()
    with session_factory(engine)() as session:
        result = export(session, out, data_format, ExportFilter())
    seconds = time.perf_counter() - started
    return {"rows": result.rows, "seconds": round(seconds, 1), "rows_per_s": round(result.rows / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--format", default="sft-jsonl")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-export"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(export_once(Path(args.child[0]), Path(args.child[1]), args.format)))
        return
    for size in args.sizes:
        db = args.workdir / f"pairs-{size}.db"
        if not db.exists():
            started = time.perf_counter()
            build(db, size)
            print(f"built {size} pairs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        out = args.workdir / f"export-{size}.{args.format.split('-')[1]}"
        child = subprocess.run([sys.executable, __file__, "--format", args.format, "--child", str(db), str(out)],
                               capture_output=True, text=True, check=True)
        print(json.dumps({"pairs": size, "format": args.format, **json.loads(child.stdout)}))


if __name__ == "__main__":
    main()
