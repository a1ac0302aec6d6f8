"""The system calls no test program needs, denied by a seccomp filter that bubblewrap loads (`--seccomp FD`).

The filter is built once with libseccomp (through `pyseccomp`, ctypes bindings to the system's
libseccomp.so.2) and exported as BPF; every step gets it on a pipe. A denied call kills the process
with SIGSYS, so the run reports it (an error number would be read, and often swallowed, by the
program alone). `clone3` is the exception: its flags sit in memory a filter cannot read, so it fails
with ENOSYS and the C library falls back to `clone`, whose namespace flags the filter does read.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import tempfile

# Namespaces, mounts, tracing, kernel keyrings and modules, BPF, perf, kexec, reboot, swap.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig",
    "fspick", "mount_setattr", "open_by_handle_at",
    "unshare", "setns",
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff",
)
# clone() flags that would make new namespaces (what unshare does after the fact).
NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
                   "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                   "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}
# Raw IP sockets (crafted packets) for these families; AF_PACKET sockets are raw link-layer of any type.
RAW_SOCKET_FAMILIES = (socket.AF_INET, socket.AF_INET6)
SOCKET_TYPE_MASK = 0xF  # the type without SOCK_NONBLOCK / SOCK_CLOEXEC


class SeccompUnavailable(RuntimeError):
    """libseccomp (or its Python bindings) cannot be loaded here."""


@functools.cache
def filter_bpf() -> bytes:
    """The compiled filter for this machine's architecture."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError, RuntimeError) as exc:  # no libseccomp.so.2: the import fails
        raise SeccompUnavailable(f"libseccomp cannot be loaded ({exc}); install the Debian package 'libseccomp2' "
                                 "and the Python package 'pyseccomp'") from exc
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    deny = seccomp.KILL_PROCESS
    for name in DENIED_SYSCALLS:
        if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) < 0:
            continue  # not a system call on this architecture (umount on x86-64)
        rules.add_rule(deny, name)
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for family in RAW_SOCKET_FAMILIES:
        rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, family),
                       seccomp.Arg(1, seccomp.MASKED_EQ, SOCKET_TYPE_MASK, socket.SOCK_RAW))
    rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, socket.AF_PACKET))
    with tempfile.TemporaryFile() as exported:
        rules.export_bpf(exported)
        exported.seek(0)
        return exported.read()


def filter_fd() -> int:
    """A pipe's read end holding the filter, for one bubblewrap (it reads to the end); the caller closes it."""
    program = filter_bpf()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)  # a few hundred bytes: far below a pipe's buffer, so it never blocks
    finally:
        os.close(write_end)
    return read_end


def describe() -> str:
    try:
        size = len(filter_bpf())
    except SeccompUnavailable as exc:
        return f"unavailable: {exc}"
    import pyseccomp as seccomp

    denied = [name for name in DENIED_SYSCALLS if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0]
    return (f"seccomp filter ({size // 8} BPF instructions): {', '.join(denied)}, clone with namespace "
            "flags and raw sockets kill the process (SIGSYS); clone3 answers ENOSYS")
