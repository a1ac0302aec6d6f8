"""Hostile code: each attack runs in the real sandbox and must be contained.

Containment is checked from the host: the host's files, environment and network stay out of
reach, nothing the program started survives the run, and a concurrent run is unharmed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from polyforge.sandbox import Limits, Sandbox, Status, cgroups
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(Limits(cpu_seconds=5, wall_seconds=8, memory_mb=256, processes=32, output_bytes=100_000))


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_fork_bomb_is_capped_and_leaves_no_process(sandbox):
    bomb = "bomb() { sleep 31337 & bomb & bomb; }\nbomb\n"
    started = time.monotonic()
    execution = sandbox.run("Shell", {"x": bomb})
    assert time.monotonic() - started < 20
    assert execution.status is not Status.PASSED
    time.sleep(0.5)
    assert host_processes_with("sleep 31337") == []


def test_fork_bomb_does_not_starve_a_concurrent_run(sandbox):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    thread = threading.Thread(target=sandbox.run, args=("Python", {"x": bomb}))
    thread.start()
    time.sleep(1.0)  # the bomb is at its process limit now
    spawner = "import subprocess\nprint(subprocess.check_output(['echo', 'ok']).decode())"
    neighbour = sandbox.run("Python", {"x": spawner})
    thread.join()
    assert neighbour.status is Status.PASSED and neighbour.stdout.strip() == "ok", neighbour


def test_memory_bomb_hits_the_memory_limit(sandbox):
    bomb = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))\n"
    execution = sandbox.run("Python", {"x": bomb})
    assert execution.status is Status.MEMORY_LIMIT, execution


def test_memory_bomb_in_c_cannot_grow_past_the_limit(sandbox):
    bomb = ("#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\nint main(void) {\n"
            "  size_t total = 0;\n  for (;;) { char *p = malloc(1 << 20); if (!p) break; memset(p, 1, 1 << 20);"
            " total += 1 << 20; }\n  printf(\"%zu\\n\", total >> 20);\n  return 0;\n}\n")
    execution = sandbox.run("C", {"x": bomb})
    if cgroups.mode().kind == "none":  # the data-segment rlimit makes malloc fail
        assert execution.status is Status.PASSED, execution
        assert int(execution.stdout) < 256  # megabytes it managed to get: under the limit
    else:  # the run's cgroup, which also counts the program's code and stack, is met first
        assert execution.status is Status.MEMORY_LIMIT, execution


def test_infinite_loop_times_out(sandbox):
    execution = sandbox.run("JavaScript", {"x": "while (true) {}"})
    assert execution.status is Status.TIMEOUT, execution


def test_sleeping_forever_times_out_by_wall_clock(sandbox):
    execution = sandbox.run("Shell", {"x": "sleep 1000"}, Limits(wall_seconds=1))
    assert execution.status is Status.TIMEOUT and "wall clock" in execution.reason


def test_network_is_unreachable_even_to_the_hosts_loopback(sandbox):
    connections = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.1)
        port = server.getsockname()[1]
        probe = (
            "import socket\n"
            "for host, port in [('127.0.0.1', %d), ('1.1.1.1', 53), ('pypi.org', 443)]:\n"
            "    try:\n"
            "        socket.create_connection((host, port), timeout=2)\n"
            "        print('reached', host)\n"
            "    except OSError as exc:\n"
            "        print('blocked', host, type(exc).__name__)\n" % port
        )
        execution = sandbox.run("Python", {"x": probe})
        try:
            connections.append(server.accept())
        except OSError:
            pass
    assert execution.status is Status.PASSED, execution
    assert "reached" not in execution.stdout and execution.stdout.count("blocked") == 3
    assert connections == []


def test_writes_outside_the_work_folder_fail_and_never_reach_the_host(sandbox, tmp_path):
    target = tmp_path / "planted.txt"
    probe = (
        "import os\n"
        "for path in ['/usr/planted', '/etc/planted', '/planted', %r, '/proc/sys/kernel/hostname']:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, exc.errno)\n"
        "open('/tmp/private', 'w').write('x')\n"
        "open('inside.txt', 'w').write('x')\n"
        "print('own folders ok')\n" % str(target)
    )
    execution = sandbox.run("Python", {"x": probe})
    assert execution.status is Status.PASSED, execution
    assert "wrote" not in execution.stdout and "own folders ok" in execution.stdout
    assert not target.exists() and not Path("/usr/planted").exists() and not Path("/planted").exists()
    assert not Path("/tmp/private").exists()


def test_host_files_and_environment_are_out_of_sight(sandbox, monkeypatch):
    monkeypatch.setenv("POLYFORGE_TEST_SECRET", "s3cr3t-value")
    here = str(Path(__file__).resolve())
    probe = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "for path in ['/etc/shadow', '/etc/passwd', '/root', '/home', %r]:\n"
        "    print(path, 'visible' if os.path.exists(path) else 'absent')\n" % here
    )
    execution = sandbox.run("Python", {"x": probe})
    assert execution.status is Status.PASSED, execution
    assert "s3cr3t" not in execution.stdout and "POLYFORGE_TEST_SECRET" not in execution.stdout
    assert "visible" not in execution.stdout, execution.stdout


def test_huge_output_is_cut_and_the_run_stopped(sandbox):
    started = time.monotonic()
    execution = sandbox.run("Python", {"x": "while True:\n    print('x' * 1000)\n"})
    assert execution.status is Status.RUNTIME_ERROR and execution.truncated
    assert "output exceeded" in execution.reason
    assert len(execution.stdout) <= 100_000
    assert time.monotonic() - started < 8


def test_background_processes_die_with_the_run(sandbox):
    probe = (
        "import os, subprocess\n"
        "subprocess.Popen(['sleep', '4242.5'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execvp('sleep', ['sleep', '4242.6'])\n"
        "    os._exit(0)\n"
        "print('spawned')\n"
    )
    execution = sandbox.run("Python", {"x": probe})
    assert execution.status is Status.PASSED and "spawned" in execution.stdout
    time.sleep(0.5)
    assert host_processes_with("sleep 4242.") == []


def test_a_big_file_is_stopped_by_the_file_size_limit(sandbox):
    probe = "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * 1024 * 1024)\n"
    execution = sandbox.run("Python", {"x": probe}, Limits(file_size_mb=4))
    assert execution.status is Status.RUNTIME_ERROR and "file" in execution.reason.lower(), execution
