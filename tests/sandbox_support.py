"""Shared by the sandbox tests: skip when this machine cannot sandbox, say why."""

from __future__ import annotations

import pytest

from polyforge.sandbox.doctor import sandbox_problem

requires_sandbox = pytest.mark.skipif(
    sandbox_problem() is not None,
    reason=f"{sandbox_problem()} (`make toolchains` installs it)",
)
