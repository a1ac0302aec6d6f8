"""A repository's license as an SPDX id, read from its LICENSE / COPYING files.

The phrases that identify each license are data (licenses.yaml beside this file).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|UNLICENSE)([.-].*)?$", re.IGNORECASE)
SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([\w.+-]+(?:\s+(?:OR|AND|WITH)\s+[\w.+-]+)*)")
MAX_LICENSE_BYTES = 200_000


@lru_cache(maxsize=1)
def _rules() -> list[tuple[str, tuple[str, ...]]]:
    rows = yaml.safe_load(Path(__file__).with_name("licenses.yaml").read_text(encoding="utf-8"))
    return [(row["id"], tuple(" ".join(phrase.lower().split()) for phrase in row["all"])) for row in rows]


def license_of_text(text: str) -> str | None:
    spdx = SPDX_LINE.search(text)
    if spdx:
        return spdx.group(1)
    flat = " ".join(text.lower().split())
    for spdx_id, phrases in _rules():
        if all(phrase in flat for phrase in phrases):
            return spdx_id
    return None


def detect_license(root: Path) -> str | None:
    """The SPDX id of the first license file at the top of `root` that names a known license."""
    try:
        candidates = sorted(p for p in root.iterdir() if LICENSE_FILE.match(p.name) and p.is_file() and not p.is_symlink())
    except OSError:
        return None
    for path in candidates:
        try:
            text = path.read_bytes()[:MAX_LICENSE_BYTES].decode("utf-8", errors="replace")
        except OSError:
            continue
        found = license_of_text(text)
        if found:
            return found
    return None
