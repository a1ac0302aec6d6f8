"""Limits on a whole run: each sandboxed step in a cgroup of its own, memory and processes counted together.

Per-process rlimits let a run take its process limit times its memory limit, and do not count tmpfs
or shared memory at all; a cgroup counts every page the run's processes own, tmpfs files and shared
mappings included, and every task it starts. cgroup v2 is used where its memory and pids controllers
can be enabled, else v1's memory and pids hierarchies (what a host that gives v1 those controllers
has); where neither can be written (an unprivileged user without a delegated cgroup) `mode()` says
why and runs keep only the per-process rlimits.

No library was used: the maintained ones handle v1 only, or move a process into its cgroup from
`preexec_fn`, which can deadlock in a threaded pool. A cgroup is a few files, written here; the
process joins it by a shell that writes its own pid before it execs bubblewrap (`join_prefix`).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PARENT = "polyforge-sandbox"        # our folders under the cgroup we run in, one per process; one per step below it
CONTROLLERS = ("memory", "pids")
# Joins every cgroup named before `--`, then execs the rest; a failure is reported under the "cgroup:"
# prefix, which the sandbox reads as its own failure, not the program's.
JOIN_SCRIPT = ('while [ "$1" != -- ]; do echo $$ > "$1" || { echo "cgroup: cannot join $1" >&2; exit 125; }; '
               'shift; done; shift; exec "$@"')

_names = itertools.count()


@dataclass(frozen=True)
class CgroupMode:
    """How runs are limited on this machine: `kind` v2 or v1 with the parent folders, or none and why."""

    kind: Literal["v2", "v1", "none"]
    parents: tuple[Path, ...] = ()   # v2: one folder; v1: the memory and the pids folders
    reason: str = ""                 # none: why no cgroup can be made here

    def describe(self) -> str:
        if self.kind == "none":
            return f"per-process rlimits only (no cgroup: {self.reason})"
        where = ", ".join(str(parent) for parent in self.parents)
        return f"cgroup {self.kind} per run step (memory and processes of the whole run), under {where}"


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _mountinfo() -> list[tuple[Path, str, set[str]]]:
    """(mount point, file system type, super options) of every mount we can see."""
    mounts = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            before, _, after = line.partition(" - ")
            fields, tail = before.split(), after.split()
            if len(fields) >= 5 and len(tail) >= 3:
                mounts.append((Path(fields[4]), tail[0], set(tail[2].split(","))))
    return mounts


def _own_cgroups() -> dict[str, str]:
    """Our cgroup path per v1 controller, and under "" the v2 one (/proc/self/cgroup)."""
    paths = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _below(mount: Path, path: str) -> Path:
    """Our cgroup's folder in a mount; the mount's root when a namespace hides the path."""
    folder = mount / path.lstrip("/")
    return folder if folder.is_dir() else mount


def _parent_name() -> str:
    # One parent per process: a process removes its own at exit, never the one another process (a campaign's
    # `polyforge` subprocess, a second campaign on the machine) is still making steps' cgroups in.
    return f"{PARENT}-{os.getpid()}"


def _v2_parent() -> tuple[Path | None, str]:
    mounts = [point for point, fstype, _ in _mountinfo() if fstype == "cgroup2"]
    if not mounts:
        return None, "no cgroup2 mount"
    root = mounts[0]
    try:
        available = (root / "cgroup.controllers").read_text().split()
    except OSError as exc:
        return None, f"cgroup2 at {root}: {exc.strerror}"
    lacking = [name for name in CONTROLLERS if name not in available]
    if lacking:
        return None, f"cgroup2 at {root} lacks the {', '.join(lacking)} controller(s) (bound to v1)"
    try:
        # A v2 cgroup with processes cannot hand controllers to children, except the root: hang ours there.
        enable = " ".join(f"+{name}" for name in CONTROLLERS)
        _write(root / "cgroup.subtree_control", enable)
        parent = root / _parent_name()
        parent.mkdir(exist_ok=True)
        _write(parent / "cgroup.subtree_control", enable)
    except OSError as exc:
        return None, f"cgroup2 at {root}: cannot enable {', '.join(CONTROLLERS)} for our runs: {exc.strerror}"
    return parent, ""


def _v1_parents() -> tuple[tuple[Path, ...], str]:
    own = _own_cgroups()
    parents = []
    for controller in CONTROLLERS:
        mounts = [point for point, fstype, options in _mountinfo() if fstype == "cgroup" and controller in options]
        if not mounts:
            return (), f"no cgroup v1 {controller} hierarchy"
        parent = _below(mounts[0], own.get(controller, "/")) / _parent_name()
        try:
            parent.mkdir(exist_ok=True)
        except OSError as exc:
            return (), f"cannot create {parent}: {exc.strerror}"
        parents.append(parent)
    return tuple(parents), ""


@functools.cache
def mode() -> CgroupMode:
    """v2 where it has the memory and pids controllers, else v1, else none; a trial cgroup proves it."""
    reasons = []
    parent, reason = _v2_parent()
    candidates: list[CgroupMode] = []
    if parent is not None:
        candidates.append(CgroupMode("v2", (parent,)))
    else:
        reasons.append(reason)
    parents, reason = _v1_parents()
    if parents:
        candidates.append(CgroupMode("v1", parents))
    else:
        reasons.append(reason)
    for candidate in candidates:
        try:
            RunCgroup(candidate, memory_bytes=64 << 20, processes=8).close()
            atexit.register(_remove_parents, candidate)
            return candidate
        except OSError as exc:
            reasons.append(f"cgroup {candidate.kind}: {exc.strerror or exc} ({exc.filename})")
    return CgroupMode("none", reason="; ".join(reasons))


def _remove_parents(cgroup_mode: CgroupMode) -> None:
    """Leave no empty folder of ours in the cgroup we ran in (it would keep that one from being removed);
    one that another process still runs steps in stays (EBUSY)."""
    for parent in cgroup_mode.parents:
        try:
            parent.rmdir()
        except OSError:
            pass


class RunCgroup:
    """One step's cgroup: made with its limits, joined by the step's first process, read, then removed."""

    def __init__(self, cgroup_mode: CgroupMode, memory_bytes: int, processes: int):
        self.mode = cgroup_mode
        name = f"run-{os.getpid()}-{next(_names)}"
        self.folders = [parent / name for parent in cgroup_mode.parents]
        made = []
        try:
            for folder in self.folders:
                folder.mkdir()
                made.append(folder)
            self._set_limits(memory_bytes, processes)
        except OSError:
            for folder in made:
                folder.rmdir()
            raise

    @property
    def memory_folder(self) -> Path:
        return self.folders[0]

    @property
    def pids_folder(self) -> Path:
        return self.folders[-1]

    def _set_limits(self, memory_bytes: int, processes: int) -> None:
        if self.mode.kind == "v2":
            _write(self.memory_folder / "memory.max", str(memory_bytes))
            _write_optional(self.memory_folder / "memory.swap.max", "0")  # no way around the limit through swap
        else:
            _write(self.memory_folder / "memory.limit_in_bytes", str(memory_bytes))
            # memory plus swap; must come after the memory limit, which it may not be below
            _write_optional(self.memory_folder / "memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(self.pids_folder / "pids.max", str(processes))

    def join_prefix(self) -> list[str]:
        """argv that puts itself into this cgroup, then execs the command that follows it."""
        return ["/bin/sh", "-c", JOIN_SCRIPT, "cgroup-join", *(str(f / "cgroup.procs") for f in self.folders), "--"]

    def oom_kills(self) -> int:
        """Processes the kernel killed because the run's memory was used up."""
        name = "memory.events" if self.mode.kind == "v2" else "memory.oom_control"
        counts = _keyed_counts(self.memory_folder / name)
        if "oom_kill" in counts:
            return counts["oom_kill"]
        # kernels before 4.13 have no v1 oom_kill count: an OOM going on, or limit hits, tell instead
        return counts.get("under_oom", 0) or _keyed_counts(self.memory_folder / "memory.failcnt").get("", 0)

    def process_limit_hits(self) -> int:
        """Forks refused because the run had its process limit's worth of tasks."""
        return _keyed_counts(self.pids_folder / "pids.events").get("max", 0)

    def close(self) -> None:
        """Kill whatever is left in the cgroup (nothing, normally: the PID namespace died), then remove it."""
        for folder in self.folders:
            for attempt in range(200):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY: tasks are still exiting
                    _kill_members(folder)
                    time.sleep(0.005 if attempt < 20 else 0.05)

    def __enter__(self) -> RunCgroup:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _write_optional(path: Path, value: str) -> None:
    """Files a kernel may lack (swap accounting off): their absence only loosens nothing we rely on."""
    try:
        _write(path, value)
    except (FileNotFoundError, PermissionError):
        pass


def _keyed_counts(path: Path) -> dict[str, int]:
    """`key value` lines (a lone number is keyed by "") as integers; {} when the file is missing."""
    counts = {}
    try:
        text = path.read_text()
    except OSError:
        return counts
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
        elif len(parts) == 1 and parts[0].isdigit():
            counts[""] = int(parts[0])
    return counts


def _kill_members(folder: Path) -> None:
    if (folder / "cgroup.kill").exists():
        _write_optional(folder / "cgroup.kill", "1")
        return
    try:
        pids = (folder / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
