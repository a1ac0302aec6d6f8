"""Limits on the whole run, size-limited folders and the seccomp filter, each against a real attack.

The memory attacks are built so that per-process limits cannot stop them (each process stays below
its own limit, or the memory is shared and not counted per process): only the run's cgroup does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from polyforge.sandbox import Limits, Sandbox, Status, cgroups, runner, seccomp
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(cpu_seconds=10, wall_seconds=20, memory_mb=256, processes=32, output_bytes=100_000)
CGROUP_MODE = cgroups.mode()
requires_cgroup = pytest.mark.skipif(
    CGROUP_MODE.kind == "none",
    reason=f"no cgroup can be made here, so only per-process limits apply: {CGROUP_MODE.reason}")


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(LIMITS)


@requires_cgroup
def test_a_fork_tree_over_the_runs_memory_is_stopped_though_each_child_is_under_its_own_limit(sandbox):
    # six children of 96 MB: each far below the 256 MB per-process limit, together over the run's 256 MB
    tree = (
        "import os, sys, time\n"
        "children = []\n"
        "for _ in range(6):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = b'x' * (96 << 20)  # filled, so every page is really used\n"
        "        time.sleep(3)\n"
        "        os._exit(0)\n"
        "    children.append(pid)\n"
        "statuses = [os.waitpid(pid, 0)[1] for pid in children]\n"
        "print(statuses)\n"
        "sys.exit(1 if any(statuses) else 0)\n"
    )
    execution = sandbox.run("Python", {"main.py": tree})
    assert execution.status is Status.MEMORY_LIMIT, execution
    assert "together exceeded 256 MB" in execution.reason


@requires_cgroup
def test_shared_memory_counts_toward_the_runs_memory(sandbox):
    # A shared mapping is not in any process's data segment, so rlimits never saw it.
    probe = (
        "import mmap\n"
        "shared = mmap.mmap(-1, 600 << 20, flags=mmap.MAP_SHARED)\n"
        "for offset in range(0, len(shared), 4096):\n"
        "    shared[offset] = 1\n"
        "print('filled 600 MB')\n"
    )
    execution = sandbox.run("Python", {"main.py": probe})
    assert execution.status is Status.MEMORY_LIMIT, execution
    assert "filled" not in execution.stdout


@pytest.mark.parametrize("folder", ["/dev/shm", "/tmp", "/work"])
def test_filling_a_writable_folder_stops_at_the_disk_limit(sandbox, folder):
    probe = (
        "import os\n"
        "with open(os.path.join(%r, 'fill'), 'wb') as handle:\n"
        "    for _ in range(200):\n"
        "        handle.write(b'x' * (1 << 20))\n"
        "        handle.flush()\n"
        "print('wrote 200 MB')\n" % folder
    )
    execution = sandbox.run("Python", {"main.py": probe}, Limits(disk_mb=16, file_size_mb=512, memory_mb=256))
    assert execution.status is Status.RUNTIME_ERROR, execution
    assert execution.reason.startswith("disk limit: the run's folders hold 16 MB each"), execution.reason
    assert "wrote" not in execution.stdout


def _host_work_folder_after_each_step(monkeypatch) -> list[list[str]]:
    """What the host work folder holds once each step is over (the run removes it right after)."""
    listings: list[list[str]] = []
    real_step = runner.run_step

    def watched(command, workdir, *args, **kwargs):
        raw = real_step(command, workdir, *args, **kwargs)
        listings.append(sorted(str(path.relative_to(workdir)) for path in Path(workdir).rglob("*")))
        return raw

    monkeypatch.setattr(runner, "run_step", watched)
    return listings


def test_ten_thousand_small_files_stay_in_the_runs_tmpfs(sandbox, monkeypatch):
    listings = _host_work_folder_after_each_step(monkeypatch)
    probe = (
        "import os\n"
        "for n in range(10_000):\n"
        "    with open(f'small-{n}.txt', 'w') as handle:\n"
        "        handle.write('x' * 100)\n"
        "print(len(os.listdir('.')))\n"
        "print([line.split()[2] for line in open('/proc/self/mounts') if line.split()[1] == '/work'])\n"
    )
    execution = sandbox.run("Python", {"main.py": probe})
    assert execution.status is Status.PASSED, execution
    assert execution.stdout.split("\n")[:2] == ["10001", "['tmpfs']"]
    assert listings == [["main.py"]]  # the host's disk got none of them


def test_more_small_files_than_the_disk_limit_holds_stop_with_a_clear_status(sandbox, monkeypatch):
    listings = _host_work_folder_after_each_step(monkeypatch)
    probe = (
        "for n in range(10_000):\n"
        "    with open(f'small-{n}.txt', 'w') as handle:\n"
        "        handle.write('x' * 100)\n"
        "print('all written')\n"
    )
    execution = sandbox.run("Python", {"main.py": probe}, Limits(disk_mb=8))
    assert execution.status is Status.RUNTIME_ERROR and execution.reason.startswith("disk limit"), execution
    assert "all written" not in execution.stdout
    assert listings == [["main.py"]]


def test_a_compiled_program_runs_from_the_tmpfs_and_still_finds_what_the_compiler_made(sandbox, monkeypatch):
    listings = _host_work_folder_after_each_step(monkeypatch)
    program = ('#include <stdio.h>\nint main(void) {\n  FILE *f = fopen("made-by-the-program", "w");\n'
               '  fputs("x", f);\n  fclose(f);\n  puts("ok");\n  return 0;\n}\n')
    execution = sandbox.run("C", {"main.c": program})
    assert execution.status is Status.PASSED and execution.stdout.strip() == "ok", execution
    assert listings[-1] == ["main", "main.c"]  # the compiler's output on the host, the program's file not


def _syscall_probe(name: str) -> str:
    number = seccomp_number(name)
    return (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"result = libc.syscall({number}, 0, 0, 0, 0, 0, 0)\n"
        "print('survived', result, ctypes.get_errno())\n"
    )


def seccomp_number(name: str) -> int:
    import pyseccomp

    return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)


DENIED = [name for name in seccomp.DENIED_SYSCALLS if name != "umount"]  # umount is umount2 on x86-64


@pytest.mark.parametrize("name", DENIED)
def test_each_denied_system_call_kills_the_program_and_the_run_says_so(sandbox, name):
    execution = sandbox.run("Python", {"main.py": _syscall_probe(name)})
    assert execution.status is Status.RUNTIME_ERROR, execution
    assert execution.reason.startswith("denied system call"), execution.reason
    assert "survived" not in execution.stdout


RAW_SOCKETS = {
    "raw IPv4": "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
    "raw IPv6, non-blocking": "socket.socket(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_NONBLOCK, 58)",
    "packet": "socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)",
    "new user namespace": "ctypes.CDLL(None).syscall(%d, 0x10000000 | 17, 0, 0, 0, 0)" % seccomp_number("clone"),
}


@pytest.mark.parametrize("call", RAW_SOCKETS.values(), ids=RAW_SOCKETS.keys())
def test_raw_sockets_and_namespaces_through_clone_are_denied(sandbox, call):
    probe = f"import ctypes, socket\n{call}\nprint('survived')\n"
    execution = sandbox.run("Python", {"main.py": probe})
    assert execution.status is Status.RUNTIME_ERROR and execution.reason.startswith("denied system call"), execution
    assert "survived" not in execution.stdout


def test_what_programs_do_need_stays_allowed(sandbox):
    probe = (
        "import socket, subprocess, threading\n"
        "socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()\n"
        "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()\n"
        "threads = [threading.Thread(target=sum, args=([1, 2],)) for _ in range(4)]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]\n"
        "print(subprocess.check_output(['sh', '-c', 'echo child']).decode().strip())\n"
    )
    execution = sandbox.run("Python", {"main.py": probe})
    assert execution.status is Status.PASSED and execution.stdout.strip() == "child", execution


@requires_cgroup
def test_another_process_ending_leaves_this_ones_runs_working(sandbox):
    """A `polyforge` subprocess (a campaign's eval, a second campaign) removes its own cgroup folder when it
    ends; the runs of the process still going must not lose theirs."""
    hello = {"main.py": "print('hello')"}
    assert sandbox.run("Python", hello).status is Status.PASSED
    other = subprocess.run([sys.executable, "-c", "from polyforge.sandbox import Sandbox\n"
                            "print(Sandbox().run('Python', {'main.py': 'print(1)'}).status.value)"],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
    assert other.returncode == 0 and other.stdout.strip() == "passed", other.stdout + other.stderr
    after = sandbox.run("Python", hello)
    assert after.status is Status.PASSED and after.stdout.strip() == "hello", after


def _unprivileged_python() -> tuple[list[str], dict[str, str]] | str:
    """How to start these tests' Python as `nobody`, or why it cannot be done here."""
    if os.geteuid() != 0:
        return "already unprivileged"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    paths = [str(REPO), *[p for p in sys.path if p.endswith("site-packages")], str(Path(__file__).parent)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(paths),
           "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    # The project's interpreter may sit under a folder nobody cannot enter (/root); the system's Python of
    # the same version runs the same pure-Python packages.
    for python in (sys.executable, f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"):
        probe = subprocess.run(drop + [python, "-c", "import pytest, polyforge.sandbox"], env=env, cwd="/",
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return drop + [python], env
    return f"nobody cannot start a Python with pytest and the sandbox: {probe.stderr.strip()[-300:]}"


def test_the_hostile_and_limit_suites_pass_as_an_unprivileged_user():
    found = _unprivileged_python()
    if isinstance(found, str):
        pytest.skip(found)
    command, env = found
    home = Path(tempfile.mkdtemp(prefix="polyforge-unprivileged-"))  # pytest's own tmp_path is root's alone
    try:
        shutil.chown(home, "nobody", "nogroup")
        env = {**env, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "TMPDIR": str(home)}
        suites = [str(REPO / "tests" / name) for name in ("test_sandbox_hostile.py", "test_sandbox_limits.py")]
        done = subprocess.run(command + ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *suites],
                              env=env, cwd=home, capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    print(done.stdout[-1500:])  # with -s: which tests skipped as nobody, and why
