"""`python -m polyforge.docs_reference [--check] [--out docs/reference]`: write the reference pages, or (--check)
exit 1 naming the stale ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polyforge.docs_reference import REGENERATE, stale_pages, write_pages
from polyforge.docs_reference.config_keys import UndocumentedKeys


def main() -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/reference"), help="the reference pages' folder")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a page is stale")
    options = parser.parse_args()
    try:
        if options.check:
            stale = stale_pages(options.out)
            for name in stale:
                print(f"stale: {options.out / name} (regenerate with `{REGENERATE}`)", file=sys.stderr)
            return 1 if stale else 0
        for path in write_pages(options.out):
            print(f"wrote {path}")
    except UndocumentedKeys as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
