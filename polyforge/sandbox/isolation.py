"""One command in a bubblewrap sandbox: namespaces, a read-only system, a cgroup, seccomp, rlimits, a wall clock.

Isolation, by layer:
- bubblewrap: new mount, PID, network, IPC and UTS namespaces; the host's /usr (and a few /etc
  entries toolchains read) bound read-only; a fresh /proc and /dev; /tmp, /dev/shm and (for the
  program's own run) /work are tmpfs of `Limits.disk_mb` each, so writing stops at that size and
  never reaches the host's disk; bubblewrap writes the run's files into /work (`PrivateWork`).
  A compile step writes the host work folder instead (bound at /work), so the next step finds what
  the compiler made: only the trusted compiler runs there. An empty environment. /root, /home, the
  host's /tmp and every other path do not exist inside. The sandbox's PID 1 is bubblewrap's init:
  when the program exits or is killed, the kernel kills every process left in the namespace, so
  nothing outlives a run.
- a cgroup per step (polyforge/sandbox/cgroups.py): memory (tmpfs files and shared memory
  included) and tasks of the whole run, with the kernel's OOM kills counted; where no cgroup can be
  made, only the per-process rlimits below limit a run.
- a seccomp filter (polyforge/sandbox/seccomp.py) that kills a process calling what no test needs.
- a user id of its own per run: as root, bubblewrap keeps only the capabilities to switch user and
  `setpriv` drops to a fresh unprivileged uid before the program starts (root is exempt from the
  process limit, and distinct uids keep runs from sharing it); as another user, bubblewrap runs
  unprivileged in a new user namespace, which counts processes per namespace.
- rlimits set by `prlimit` inside the sandbox (hard limits, so they cannot be raised): CPU seconds,
  data segment (memory actually allocated, where an address-space limit would break the JVM, V8
  and Go, which reserve large ranges), processes, file size, open files.
- the parent keeps a wall clock and an output cap; past either it kills the sandbox.
"""

from __future__ import annotations

import itertools
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from polyforge.sandbox import cgroups, seccomp
from polyforge.sandbox.execution import Limits

WORKDIR = "/work"
INPUT_DIR = "/input"  # a run's folder tree, read-only, copied into the tmpfs /work before the program starts
# bubblewrap's own tasks in the step's cgroup (its monitor and the namespace's init), on top of the program's.
BWRAP_TASKS = 2
COPY_INPUT = ["/bin/sh", "-c", f'cp -R {INPUT_DIR}/. {WORKDIR}/ 2>/tmp/.copy-input || '
              '{ echo "copy-input: $(cat /tmp/.copy-input)" >&2; exit 125; }; exec "$@"', "copy-input"]
TOOLCHAIN_ROOT = "/opt/toolchain"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
# /etc entries toolchains read (alternatives symlinks, the config of the JVM, PHP, Free Pascal, R and Racket,
# the loader cache).
ETC_ENTRIES = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "java-17-openjdk", "php", "perl",
               "localtime", "ssl/openssl.cnf", "fpc.cfg", "fpc-3.2.2.cfg", "R", "racket")
# Fresh uids for runs when the sandbox runs as root: far above any real account.
UID_BASE, UID_SPAN = 1_600_000, 400_000


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


@dataclass
class RawResult:
    """What one sandboxed command did, before classification."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool = False
    output_overflow: bool = False
    oom_kills: int = 0              # processes the kernel killed for the run's memory limit (cgroup)
    process_limit_hits: int = 0     # forks refused at the run's process limit (cgroup)

    @property
    def sandbox_failure(self) -> str | None:
        """The sandbox's own tools report their failures on stderr under their name."""
        for tool in (b"bwrap: ", b"setpriv: ", b"prlimit: ", b"cgroup: ", b"copy-input: "):
            if self.exit_code not in (0, None) and self.stderr.startswith(tool):
                return self.stderr.decode("utf-8", "replace").splitlines()[0]
        return None

    @property
    def signal(self) -> int | None:
        """bubblewrap reports a program killed by signal N as exit code 128 + N."""
        if self.exit_code is not None and 128 < self.exit_code <= 128 + signal.SIGRTMAX:
            return self.exit_code - 128
        return None


_uids = itertools.count(os.getpid() * 97 % UID_SPAN)
_uid_lock = threading.Lock()


def _next_uid() -> int:
    with _uid_lock:
        return UID_BASE + next(_uids) % UID_SPAN


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _rlimits(limits: Limits) -> list[str]:
    mb = 1024 * 1024
    # CPU: SIGXCPU at the limit (soft), SIGKILL a second later (hard) should the program catch it.
    return ["prlimit", f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}", f"--data={limits.memory_mb * mb}",
            f"--nproc={limits.processes}", f"--fsize={limits.file_size_mb * mb}", f"--nofile={limits.open_files}",
            "--core=0", "--"]


@dataclass
class PrivateWork:
    """What goes into a step's tmpfs /work. Plain files are written there by bubblewrap itself from open
    descriptors (`--file`), which starts no program; a folder with subfolders (Go's build cache) is
    bound read-only at /input and copied by `cp`."""

    workdir: Path
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (open descriptor, mode)
    copy_tree: bool = False

    @classmethod
    def open(cls, workdir: Path) -> PrivateWork:
        work = cls(workdir)
        entries = list(workdir.iterdir())
        if any(not entry.is_file() or entry.is_symlink() for entry in entries):
            work.copy_tree = True
            return work
        try:
            for entry in entries:
                executable = entry.stat().st_mode & 0o111
                work.files[entry.name] = (os.open(entry, os.O_RDONLY | os.O_CLOEXEC), 0o777 if executable else 0o666)
        except OSError:
            work.close()
            raise
        return work

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(fd for fd, _ in self.files.values())

    def argv(self) -> list[str]:
        if self.copy_tree:
            return ["--ro-bind", str(self.workdir), INPUT_DIR]
        args = []
        for name, (fd, mode) in self.files.items():
            args += ["--perms", f"{mode:04o}", "--file", str(fd), f"{WORKDIR}/{name}"]
        return args

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.files.clear()


def sandbox_argv(command: list[str], workdir: Path, limits: Limits, env: dict[str, str],
                 binds: dict[str, str], uid: int | None, seccomp_fd: int, work: PrivateWork | None) -> list[str]:
    """The full argv that runs `command` in the sandbox as `uid` (None: ours).

    `binds` maps host folders to sandbox paths, bound read-only. With `work`, /work is a tmpfs that
    receives a copy of `workdir`; without, `workdir` itself is bound writable at /work.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed; install the Debian package 'bubblewrap'")
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--seccomp", str(seccomp_fd)]
    if uid is not None:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        argv += ["--unshare-user"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        target = Path("/") / name
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), str(target)]
    # Folders bubblewrap creates for mount points are private to root unless given modes.
    made: set[str] = set()

    def parents(inside: str) -> list[str]:
        args = []
        for parent in reversed(Path(inside).parents[:-1]):
            if str(parent) not in made and not str(parent).startswith("/usr"):
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        return args

    def scratch(inside: str, mode: str = "1777") -> list[str]:
        """A world-writable tmpfs of the run's disk size (its pages count in the cgroup's memory too)."""
        return ["--perms", mode, "--size", str(limits.disk_mb * 1024 * 1024), "--tmpfs", inside]

    for entry in ETC_ENTRIES:
        if os.path.exists(f"/etc/{entry}"):
            argv += parents(f"/etc/{entry}") + ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    argv += ["--proc", "/proc", "--dev", "/dev", *scratch("/dev/shm"), *scratch("/tmp")]
    for host, inside in binds.items():
        argv += parents(inside) + ["--ro-bind", host, inside]
    if work is not None:
        # not sticky: the program may replace or remove the files it was given, which bubblewrap owns
        argv += [*scratch(WORKDIR, "0777"), *work.argv()]
    else:
        argv += ["--bind", str(workdir), WORKDIR]
    # The root is bubblewrap's own tmpfs, of no size limit, and an unprivileged user's to write (its
    # folders are made in the user's namespace): read-only, with only the mounts above writable.
    argv += ["--remount-ro", "/", "--chdir", WORKDIR, "--clearenv"]
    for key, value in {"HOME": WORKDIR, "TMPDIR": "/tmp", "LANG": "C.UTF-8", **env}.items():
        argv += ["--setenv", key, value]
    if uid is not None:
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--"]
    return argv + _rlimits(limits) + (COPY_INPUT if work is not None and work.copy_tree else []) + command


def run_step(command: list[str], workdir: Path, limits: Limits, env: dict[str, str], binds: dict[str, str],
             private_work: bool = True) -> RawResult:
    """Run one command in the sandbox, in a cgroup of its own where one can be made, and say what it did.

    `private_work`: the program gets a tmpfs /work with a copy of `workdir`; otherwise (a compile
    step, whose output the next step needs) `workdir` itself.
    """
    uid = _next_uid() if os.geteuid() == 0 else None
    prepare_workdir(workdir, uid)
    cgroup_mode = cgroups.mode()
    try:
        filter_fd = seccomp.filter_fd()
    except seccomp.SeccompUnavailable as exc:
        raise SandboxUnavailable(str(exc)) from exc
    work = PrivateWork.open(workdir) if private_work else None
    try:
        argv = sandbox_argv(command, workdir, limits, env, binds, uid, filter_fd, work)
        fds = (filter_fd, *(work.fds if work else ()))
        if cgroup_mode.kind == "none":
            return execute(argv, limits, pass_fds=fds)
        try:
            cgroup = cgroups.RunCgroup(cgroup_mode, limits.memory_mb * 1024 * 1024, limits.processes + BWRAP_TASKS)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot make the run's cgroup: {exc}") from exc
        with cgroup:
            raw = execute(cgroup.join_prefix() + argv, limits, pass_fds=fds)
            raw.oom_kills = cgroup.oom_kills()
            raw.process_limit_hits = cgroup.process_limit_hits()
            return raw
    finally:
        os.close(filter_fd)
        if work is not None:
            work.close()


def prepare_workdir(workdir: Path, uid: int | None) -> None:
    """Hand the work folder to the run's uid (others may only traverse it, as bubblewrap must)."""
    if uid is None:
        return
    for path in [workdir, *workdir.rglob("*")]:
        os.lchown(path, uid, uid)
    workdir.chmod(0o711)


def execute(argv: list[str], limits: Limits, pass_fds: tuple[int, ...] = ()) -> RawResult:
    """Run argv, cap its output, enforce the wall clock, and kill the whole sandbox when it ends."""
    start = time.monotonic()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True, pass_fds=pass_fds)
    except OSError as exc:
        raise SandboxUnavailable(f"could not start bubblewrap: {exc}") from exc
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    total = 0
    timed_out = overflow = False
    deadline = start + limits.wall_seconds
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, "stdout")
        selector.register(process.stderr, selectors.EVENT_READ, "stderr")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(timeout=min(remaining, 0.5)):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                room = limits.output_bytes - total
                chunks[key.data].append(data[:max(room, 0)])
                total += len(data)
                if total > limits.output_bytes:
                    overflow = True
            if overflow:
                break
    if timed_out or overflow:
        _kill(process)
    try:
        exit_code = process.wait(timeout=max(deadline - time.monotonic(), 0) + 5)
    except subprocess.TimeoutExpired:  # pipes closed but the sandbox lingers past its clock
        timed_out = True
        _kill(process)
        exit_code = process.wait()
    process.stdout.close()
    process.stderr.close()
    return RawResult(exit_code=None if (timed_out or overflow) else exit_code, stdout=b"".join(chunks["stdout"]),
                     stderr=b"".join(chunks["stderr"]), seconds=time.monotonic() - start, timed_out=timed_out,
                     output_overflow=overflow)


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL bubblewrap's process group; --die-with-parent then takes down its PID namespace."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
