"""Which languages can run on this machine, and for the others, what is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from polyforge.sandbox import cgroups, seccomp
from polyforge.sandbox.execution import Limits, Status
from polyforge.sandbox.isolation import bwrap_path
from polyforge.sandbox.languages import LANGUAGES, Toolchain, UnknownLanguage, language
from polyforge.sandbox.runner import Sandbox

INSTALL = "`make toolchains` installs what the sandbox needs"


class SandboxMissing(RuntimeError):
    """Execution is asked for, but this machine cannot run it; the message names what is missing and how to
    install it."""


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
    if "pip" in lang.packages:
        parts.append(f"pip install --no-deps {' '.join(lang.packages['pip'])}")
    return "; ".join(parts) or "see the language table"


def missing_parts(sandbox: Sandbox, lang: Toolchain) -> list[str]:
    """Tools and files the language needs that this machine lacks (no run)."""
    home = sandbox.toolchains.home(lang)
    if lang.home_package is not None and home is None:
        return [f"the Python package {lang.home_package}"]
    if lang.home_query is not None and home is None:
        return [f"`{' '.join(lang.home_query)}`"]
    libraries = sandbox.toolchains.library_folder(lang)
    if lang.library_package is not None and libraries is None:
        return [f"the Python package {lang.library_package}"]
    search = sandbox.toolchains.host_path(lang)
    missing = [binary for binary in lang.binaries if shutil.which(binary, path=search) is None]
    missing += [path for path in lang.requires_paths if not os.path.exists(os.path.join(home or "/", path))]
    return missing + [f"{lang.library_package}/{path}" for path in lang.libraries
                      if not os.path.exists(os.path.join(libraries or "/", path))]


def toolchain_gap(sandbox: Sandbox, lang: Toolchain) -> str | None:
    """What the language lacks on this machine and how to install it, or None (no run)."""
    missing = missing_parts(sandbox, lang)
    return f"missing {', '.join(missing)} ({_install_hint(lang)})" if missing else None


def missing_packages(manager: str, sandbox: Sandbox | None = None) -> list[str]:
    """The `manager` ("apt", "npm" or "pip") packages that would bring the missing toolchains."""
    sandbox = sandbox or Sandbox()
    names = ["bubblewrap"] if manager == "apt" and bwrap_path() is None else []
    if manager == "apt" and _seccomp_problem():
        names.append("libseccomp2")
    for lang in LANGUAGES:
        if missing_parts(sandbox, lang):
            names += [name for name in lang.packages.get(manager, ()) if name not in names]
    # A command of the package's name is already there (Node.js from NodeSource brings `npm` without Debian's
    # package, and asking apt for Debian's then fails on the conflict).
    return [name for name in names if manager != "apt" or shutil.which(name) is None]


def check_language(sandbox: Sandbox, lang: Toolchain) -> LanguageCheck:
    """Missing tools are named; present ones must also run a hello world in the sandbox."""
    gap = toolchain_gap(sandbox, lang)
    if gap:
        return LanguageCheck(lang.name, False, "", gap)
    execution = sandbox.run(lang.name, {lang.source: lang.hello})
    version = sandbox.toolchains.version(lang).splitlines()[0]
    if execution.status is not Status.PASSED or execution.stdout.strip() != "ok":
        detail = execution.reason or execution.stderr.strip()[:200] or f"printed {execution.stdout[:80]!r}"
        return LanguageCheck(lang.name, False, version, f"hello world {execution.status.value}: {detail}",
                             execution.seconds)
    return LanguageCheck(lang.name, True, version, "", execution.seconds)


# bubblewrap's --size (the tmpfs limit of a run's folders) came in 0.6.0.
MIN_BWRAP = (0, 6, 0)


def bwrap_version() -> tuple[int, ...] | None:
    path = bwrap_path()
    if path is None:
        return None
    try:
        found = re.search(r"(\d+)\.(\d+)\.(\d+)", subprocess.run([path, "--version"], capture_output=True,
                                                                  text=True, timeout=10).stdout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return tuple(int(part) for part in found.groups()) if found else None


def _seccomp_problem() -> str | None:
    try:
        seccomp.filter_bpf()
    except seccomp.SeccompUnavailable as exc:
        return str(exc)
    return None


def sandbox_problem() -> str | None:
    """Why no language can run at all (no bubblewrap, one too old for a size-limited tmpfs, no seccomp), or None."""
    if bwrap_path() is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    version = bwrap_version()
    if version is not None and version < MIN_BWRAP:
        return (f"bubblewrap {'.'.join(map(str, version))} lacks --size (size-limited folders); "
                f"{'.'.join(map(str, MIN_BWRAP))} or later is needed")
    return _seccomp_problem()


def isolation_report() -> list[tuple[str, str]]:
    """How runs are contained on this machine, layer by layer (what `polyforge sandbox doctor` prints)."""
    version = bwrap_version()
    limits = Limits()
    return [
        ("bubblewrap", ".".join(map(str, version)) if version else "missing or unreadable"),
        ("whole-run limits", cgroups.mode().describe()),
        ("per-process limits", "rlimits: CPU seconds, data segment, processes, file size, open files"),
        ("disk", f"/work, /tmp and /dev/shm are tmpfs of Limits.disk_mb (default {limits.disk_mb} MB) each; "
                 "the host's disk is never written by the program"),
        ("seccomp", seccomp.describe()),
    ]


def require_sandbox(languages: Iterable[str] = (), sandbox: Sandbox | None = None) -> None:
    """Before work that executes code: raise SandboxMissing when bubblewrap is missing, or when one of
    `languages` that the sandbox runs lacks a tool of its toolchain (no run; languages the sandbox does not
    know are never executed, so they need nothing)."""
    problem = sandbox_problem()
    if problem:
        raise SandboxMissing(f"the sandbox cannot run: {problem}; {INSTALL}")
    sandbox = sandbox or Sandbox()
    lacking = []
    for name in dict.fromkeys(languages):
        try:
            lang = language(name)
        except UnknownLanguage:
            continue
        gap = toolchain_gap(sandbox, lang)
        if gap:
            lacking.append(f"{lang.name}: {gap}")
    if lacking:
        raise SandboxMissing(f"the sandbox cannot run every language: {'; '.join(lacking)}; {INSTALL}")


def doctor(sandbox: Sandbox | None = None, workers: int | None = None) -> list[LanguageCheck]:
    sandbox = sandbox or Sandbox()
    problem = sandbox_problem()
    if problem:
        return [LanguageCheck(lang.name, False, "", problem) for lang in LANGUAGES]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda lang: check_language(sandbox, lang), LANGUAGES))
