"""Isolated, multilingual code execution: `run(language, files, limits) -> Execution`.

Imports nothing of Polyforge but `polyforge.config`, so agents, DPO and evaluation can all use it.
"""

from __future__ import annotations

from collections.abc import Mapping

from polyforge.sandbox.execution import Execution, Limits, Status
from polyforge.sandbox.languages import LANGUAGES, Toolchain, UnknownLanguage, language
from polyforge.sandbox.runner import BadRunInput, Sandbox

__all__ = ["BadRunInput", "Execution", "LANGUAGES", "Limits", "Sandbox", "Status", "Toolchain", "UnknownLanguage",
           "language", "run"]

_default: Sandbox | None = None


def run(language_name: str, files: Mapping[str, str], limits: Limits | None = None,
        test: str | None = None) -> Execution:
    """Run `files` (the first is the main program) in `language_name`, with `test` wired in if given."""
    global _default
    if _default is None:
        _default = Sandbox()
    return _default.run(language_name, files, limits, test)
