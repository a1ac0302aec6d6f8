from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample_repo() -> Path:
    return ROOT / "examples" / "sample_repo"


@pytest.fixture
def checklist():
    from polyforge.checklists import load_checklist

    return load_checklist("default")


@pytest.fixture
def criteria(checklist) -> list[str]:
    return [c.id for c in checklist.criteria]
