"""Shared by the sandbox tests: skip when this machine cannot sandbox, or has no McEval data, and say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polyforge.sandbox.doctor import sandbox_problem

requires_sandbox = pytest.mark.skipif(
    sandbox_problem() is not None,
    reason=f"{sandbox_problem()} (`make toolchains` installs it)",
)

# McEval sits next to the checkout; it is not shipped with the source.
MCEVAL = Path(os.environ.get("POLYFORGE_MCEVAL_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mceval"))
requires_mceval = pytest.mark.skipif(not MCEVAL.is_dir(), reason=f"McEval data not found at {MCEVAL} (set POLYFORGE_MCEVAL_DIR)")
