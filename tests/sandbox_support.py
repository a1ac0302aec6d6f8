"""Shared by the sandbox tests: skip when this machine cannot sandbox, and say why; McEval's bundled tasks."""

from __future__ import annotations

import pytest

from polyforge.sandbox.doctor import sandbox_problem
from polyforge.sandbox.mceval import bundled_mceval

requires_sandbox = pytest.mark.skipif(
    sandbox_problem() is not None,
    reason=f"{sandbox_problem()} (`make toolchains` installs it)",
)

MCEVAL = bundled_mceval()
