"""The seccomp filter every sandboxed process runs under: a short deny list, as classic BPF for ``bwrap --seccomp``.

Denied (EPERM), because a program needs none of them and each reaches past its own process:

- process inspection: ``ptrace``, ``process_vm_readv``/``writev``, ``pidfd_getfd``, ``kcmp`` (read or steer the
  zygote, its supervisor, or a sibling; a forged reply needs one of these);
- state that outlives a program: ``add_key``/``keyctl``/``request_key`` (the per-uid keyring survives the process);
- kernel surfaces with a history of escapes and no use in a test program: ``bpf``, ``perf_event_open``,
  ``userfaultfd``, and ``io_uring_*`` (whose operations a syscall filter cannot see).

Syscalls of another ABI on the same machine (i386 via ``int 0x80``, x32) are denied wholesale, since the
numbers above would not match them. Machines other than x86_64 and aarch64 get no filter
(:func:`filter_bytes` returns None) and the sandbox says so in its description.
"""

from __future__ import annotations

import errno
import platform
import struct

# Syscall numbers per architecture (x86_64: arch/x86/entry/syscalls/syscall_64.tbl; aarch64: the generic table).
DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "add_key", "keyctl",
          "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
          "io_uring_register")
SYSCALLS = {
    "x86_64": {"ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438, "kcmp": 312,
               "add_key": 248, "keyctl": 250, "request_key": 249, "bpf": 321, "perf_event_open": 298,
               "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
    "aarch64": {"ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438, "kcmp": 272,
                "add_key": 217, "keyctl": 219, "request_key": 218, "bpf": 280, "perf_event_open": 241,
                "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_BIT = 0x40000000  # x86_64 syscalls with this bit set are the x32 ABI

# classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h)
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
NR_OFFSET, ARCH_OFFSET = 0, 4  # struct seccomp_data


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_bytes(machine: str | None = None) -> bytes | None:
    """The filter as an array of ``struct sock_filter``, or None on an architecture without a table."""
    machine = machine or platform.machine()
    nrs = SYSCALLS.get(machine)
    if nrs is None:
        return None
    deny = RET_ERRNO | errno.EPERM
    numbers = [nrs[name] for name in DENIED]
    prog = [_insn(LD_ABS_W, 0, 0, ARCH_OFFSET),
            _insn(JEQ_K, 1, 0, AUDIT_ARCH[machine]),  # the native ABI: go on; any other: deny
            _insn(RET_K, 0, 0, deny),
            _insn(LD_ABS_W, 0, 0, NR_OFFSET)]
    if machine == "x86_64":
        prog += [_insn(JGE_K, 0, 1, X32_BIT), _insn(RET_K, 0, 0, deny)]
    for i, nr in enumerate(numbers):
        # a match jumps to the deny at the end: over the remaining compares and the allow
        prog.append(_insn(JEQ_K, len(numbers) - i, 0, nr))
    prog += [_insn(RET_K, 0, 0, RET_ALLOW), _insn(RET_K, 0, 0, deny)]
    return b"".join(prog)
