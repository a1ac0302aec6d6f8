"""The sandbox's contract: what a run may use (Limits) and what it produced (Execution)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum


class Status(StrEnum):
    """How a run ended, from best to worst for the code under test."""

    PASSED = "passed"                # exit 0 (with tests: every test passed)
    FAILED = "failed"                # a test assertion failed
    COMPILE_ERROR = "compile_error"  # the compiler (or the interpreter's parser) rejected the code
    RUNTIME_ERROR = "runtime_error"  # crashed, raised, or hit the file-size or output limit
    TIMEOUT = "timeout"              # wall-clock or CPU-seconds limit
    MEMORY_LIMIT = "memory_limit"    # ran out of the memory limit
    SANDBOX_ERROR = "sandbox_error"  # the sandbox itself could not run the code (not the code's fault)
    # The tests are no evidence (no assertion, or they also pass against a stub of the answer): set by
    # whoever weighs the tests (the campaign's execute step), never by a run; the reason keeps the run's own status.
    VACUOUS_TESTS = "vacuous_tests"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run; compilation gets `compile_scale` times the time and memory.

    `memory_mb` and `processes` bound the whole run (a cgroup, where one can be made) and each process
    (rlimits); `disk_mb` is the size of each folder the run can write: /work, /tmp and /dev/shm.
    """

    cpu_seconds: int = 10
    wall_seconds: float = 20.0
    memory_mb: int = 512
    processes: int = 64
    file_size_mb: int = 16
    disk_mb: int = 64
    open_files: int = 256
    output_bytes: int = 1_000_000
    compile_scale: int = 4

    def for_compile(self) -> Limits:
        return replace(self, cpu_seconds=self.cpu_seconds * self.compile_scale,
                       wall_seconds=self.wall_seconds * self.compile_scale,
                       memory_mb=self.memory_mb * self.compile_scale, processes=max(self.processes, 256))

    def at_least(self, memory_mb: int, processes: int) -> Limits:
        """Raise memory and process limits to a toolchain's floor (a JVM needs threads and heap)."""
        return replace(self, memory_mb=max(self.memory_mb, memory_mb), processes=max(self.processes, processes))


@dataclass
class Execution:
    """The result of one sandboxed run (compile and run steps together)."""

    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    language: str = ""
    reason: str = ""                 # why this status, in words (the matched error line, the limit hit)
    truncated: bool = False          # output was cut at Limits.output_bytes
    cached: bool = False             # taken from the result cache, not run again
    compiled_before: bool = False    # the compile step was skipped: the compile cache had these sources' program
    attempts: list[Status] = field(default_factory=list)  # statuses of repeated runs, when asked for
    flaky: bool = False              # repeated runs disagreed

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        data["attempts"] = [status.value for status in self.attempts]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Execution:
        data = dict(data)
        data["status"] = Status(data["status"])
        data["attempts"] = [Status(value) for value in data.get("attempts", [])]
        return cls(**data)
