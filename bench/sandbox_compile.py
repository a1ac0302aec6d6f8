"""Compiles in the sandbox: a first compile, the same compile again (the machine's file caches warm), and
the same run with its program taken from the compile cache, per compiled language, on McEval's tasks
(each reference solution with its tests, as a campaign runs a candidate).

    python bench/sandbox_compile.py [MCEVAL_DIR] [--tasks 5] [--language C ...] [--cold]

Per language: the median seconds of a whole run (compile and run steps) in each of the three cases, and the
ratio of the first compile to the cached run. Runs are serial, one language after another. `--cold` (root)
empties the kernel's page cache before each task's first compile, so that the compiler and its libraries
are read from disk, as on the first run after a boot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from polyforge.sandbox import Limits, Sandbox, Status, language
from polyforge.sandbox.doctor import doctor
from polyforge.sandbox.mceval import McEvalError, assemble, bundled_mceval, load_tasks

LIMITS = Limits(cpu_seconds=30, wall_seconds=60)


def compiled_languages(sandbox: Sandbox) -> list[str]:
    """Usable languages whose test runs have a compile step of their own."""
    return [check.language for check in doctor(sandbox)
            if check.usable and language(check.language).commands(testing=True)[0]]


def drop_page_cache() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        sys.exit(f"error: --cold needs root to empty the page cache ({exc})")


def measure(folder: Path, languages: list[str] | None, tasks_per_language: int, cold: bool) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="polyforge-compile-bench-") as tmp:
        plain = Sandbox(LIMITS, cache_root=Path(tmp) / "off", compile_cache_mb=0)
        cached = Sandbox(LIMITS, cache_root=Path(tmp) / "on")
        for name in languages or compiled_languages(plain):
            try:
                tasks = load_tasks(folder, [name], tasks_per_language)
            except McEvalError:
                print(f"{name}: no McEval tasks in {folder}", file=sys.stderr)
                continue
            first, again, from_cache, failed = [], [], [], 0
            for task in tasks:
                files, test = assemble(task)
                if cold:
                    drop_page_cache()
                runs = [plain.run(name, files, test=test), plain.run(name, files, test=test)]
                cached.run(name, files, test=test)  # fills the compile cache
                runs.append(cached.run(name, files, test=test))
                if any(run.status is not Status.PASSED for run in runs) or not runs[2].compiled_before:
                    failed += 1
                    continue
                first.append(runs[0].seconds)
                again.append(runs[1].seconds)
                from_cache.append(runs[2].seconds)
            row = {"language": name, "tasks": len(first), "skipped": failed}
            if first:
                row.update(first=statistics.median(first), again=statistics.median(again),
                           cached=statistics.median(from_cache))
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _line(row: dict) -> str:
    if "first" not in row:
        return f"| {row['language']} | 0 | - | - | - | - |"
    return (f"| {row['language']} | {row['tasks']} | {row['first']:.2f} | {row['again']:.2f} | {row['cached']:.2f} "
            f"| {row['first'] / row['cached']:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mceval", type=Path, nargs="?", default=bundled_mceval(),
                        help="McEval's data folder (default: the bundled copy)")
    parser.add_argument("--tasks", type=int, default=5, help="tasks per language (default 5)")
    parser.add_argument("--language", action="append", help="only these languages (default: every compiled one)")
    parser.add_argument("--cold", action="store_true", help="empty the page cache before each first compile (root)")
    args = parser.parse_args()
    first = "first compile, cold page cache, s" if args.cold else "first compile, s"
    print(f"| language | tasks | {first} | compiled again, s | from the compile cache, s | first / cached |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    try:
        measure(args.mceval, args.language, args.tasks, args.cold)
    except McEvalError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
