"""Turn what a sandboxed step did into a Status, with the reason in words."""

from __future__ import annotations

import re
import signal

from polyforge.sandbox.execution import Limits, Status
from polyforge.sandbox.isolation import RawResult
from polyforge.sandbox.languages import Toolchain

# What any language prints when a write hits the size of its tmpfs, or when a child died of the seccomp filter.
DISK_FULL = (r"No space left on device", r"\bENOSPC\b")
SECCOMP_KILLED = (r"Bad system call",)


def _first_match(patterns: tuple[str, ...], text: str) -> str | None:
    for pattern in patterns:
        found = re.search(pattern, text, re.MULTILINE)
        if found:
            line_start = text.rfind("\n", 0, found.start()) + 1
            line_end = text.find("\n", found.end())
            return text[line_start:line_end if line_end >= 0 else None].strip()[:300]
    return None


def classify(lang: Toolchain, raw: RawResult, limits: Limits, compiling: bool, testing: bool) -> tuple[Status, str]:
    """The status of one step (compile or run) and why.

    Order matters: limits first (a killed run says little about the code), then the compiler, then
    what the output says (memory, assertion, parse error, crash), then the exit code.
    """
    if raw.output_overflow:
        return Status.RUNTIME_ERROR, f"output exceeded {limits.output_bytes} bytes"
    if raw.oom_kills and (raw.timed_out or raw.exit_code != 0):
        return Status.MEMORY_LIMIT, (f"the run's processes together exceeded {limits.memory_mb} MB "
                                     f"(the kernel killed {raw.oom_kills} of them)")
    if raw.timed_out:
        return Status.TIMEOUT, f"wall clock exceeded {limits.wall_seconds:g} s"
    if raw.exit_code == 0:
        return Status.PASSED, ""
    if raw.sandbox_failure:
        return Status.SANDBOX_ERROR, raw.sandbox_failure
    sig = raw.signal
    if sig == signal.SIGXCPU:
        return Status.TIMEOUT, f"CPU time exceeded {limits.cpu_seconds} s"
    if sig == signal.SIGXFSZ:
        return Status.RUNTIME_ERROR, f"a file exceeded {limits.file_size_mb} MB"
    text = raw.stderr.decode("utf-8", "replace") + "\n" + raw.stdout.decode("utf-8", "replace")
    if sig == signal.SIGSYS or _first_match(SECCOMP_KILLED, text):
        return Status.RUNTIME_ERROR, "denied system call: the seccomp filter killed a process (SIGSYS)"
    line = _first_match(DISK_FULL, text)
    if line:
        return Status.RUNTIME_ERROR, f"disk limit: the run's folders hold {limits.disk_mb} MB each ({line})"
    line = _first_match(lang.memory_patterns, text)
    if line:
        return Status.MEMORY_LIMIT, line
    if compiling:
        return Status.COMPILE_ERROR, _first_error_line(text) or f"compiler exit code {raw.exit_code}"
    line = _first_match(lang.failed_patterns, text)
    if line and testing:
        return Status.FAILED, line
    line = _first_match(lang.syntax_patterns, text)
    if line:
        return Status.COMPILE_ERROR, line
    line = _first_match(lang.runtime_patterns, text)
    if line:
        return Status.RUNTIME_ERROR, line
    at_limit = f" (the run reached its limit of {limits.processes} processes)" if raw.process_limit_hits else ""
    if sig is not None:
        return Status.RUNTIME_ERROR, f"killed by signal {sig}{at_limit}"
    if testing:  # no crash signature: the test harness reported failure through the exit code
        return Status.FAILED, f"exit code {raw.exit_code}{at_limit}"
    return Status.RUNTIME_ERROR, f"exit code {raw.exit_code}{at_limit}"


def _first_error_line(text: str) -> str | None:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    return None
