"""Which languages can run on this machine, and for the others, what is missing."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from polyforge.sandbox.execution import Status
from polyforge.sandbox.isolation import bwrap_path
from polyforge.sandbox.languages import LANGUAGES, Toolchain
from polyforge.sandbox.runner import Sandbox


@dataclass
class LanguageCheck:
    language: str
    usable: bool
    version: str
    problem: str            # why it is not usable, and what to install
    seconds: float = 0.0    # the hello-world run, compile included


def _install_hint(lang: Toolchain) -> str:
    parts = [f"apt-get install {' '.join(lang.packages['apt'])}"] if "apt" in lang.packages else []
    if "npm" in lang.packages:
        parts.append(f"npm install --global {' '.join(lang.packages['npm'])}")
    return "; ".join(parts) or "see the language table"


def missing_parts(sandbox: Sandbox, lang: Toolchain) -> list[str]:
    """Tools and files the language needs that this machine lacks (no run)."""
    home = sandbox.toolchains.home(lang)
    if lang.home_query is not None and home is None:
        return [f"`{' '.join(lang.home_query)}`"]
    search = sandbox.toolchains.host_path(lang)
    missing = [binary for binary in lang.binaries if shutil.which(binary, path=search) is None]
    return missing + [path for path in lang.requires_paths if not os.path.exists(os.path.join(home or "/", path))]


def missing_packages(manager: str, sandbox: Sandbox | None = None) -> list[str]:
    """The `manager` ("apt" or "npm") packages that would bring the missing toolchains."""
    sandbox = sandbox or Sandbox()
    names = ["bubblewrap"] if manager == "apt" and bwrap_path() is None else []
    for lang in LANGUAGES:
        if missing_parts(sandbox, lang):
            names += [name for name in lang.packages.get(manager, ()) if name not in names]
    return names


def check_language(sandbox: Sandbox, lang: Toolchain) -> LanguageCheck:
    """Missing tools are named; present ones must also run a hello world in the sandbox."""
    missing = missing_parts(sandbox, lang)
    if missing:
        return LanguageCheck(lang.name, False, "", f"missing {', '.join(missing)} ({_install_hint(lang)})")
    execution = sandbox.run(lang.name, {lang.source: lang.hello})
    version = sandbox.toolchains.version(lang).splitlines()[0]
    if execution.status is not Status.PASSED or execution.stdout.strip() != "ok":
        detail = execution.reason or execution.stderr.strip()[:200] or f"printed {execution.stdout[:80]!r}"
        return LanguageCheck(lang.name, False, version, f"hello world {execution.status.value}: {detail}",
                             execution.seconds)
    return LanguageCheck(lang.name, True, version, "", execution.seconds)


def sandbox_problem() -> str | None:
    """Why no language can run at all (no bubblewrap), or None."""
    if bwrap_path() is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    return None


def doctor(sandbox: Sandbox | None = None, workers: int | None = None) -> list[LanguageCheck]:
    sandbox = sandbox or Sandbox()
    problem = sandbox_problem()
    if problem:
        return [LanguageCheck(lang.name, False, "", problem) for lang in LANGUAGES]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda lang: check_language(sandbox, lang), LANGUAGES))
