"""Red-team program: use far more memory than the limit, in ways a per-process rlimit does not count.

``fork N MB``: N processes of MB each; ``tmpfs MB``: a file in /dev/shm; ``memfd MB``; ``sysv MB``: SysV
shared memory segments of 100 MB, each attached, filled and detached (kept, not mapped). Prints "held <MB>" once
everything is in place, then waits a moment and exits 0: only a limit on the program's total stops it.
"""
import ctypes
import os
import sys
import time

MB = 1 << 20
kind, *nums = sys.argv[1:]


def touch(buf, size):
    for off in range(0, size, 4096):
        buf[off] = 1


if kind == "fork":
    n, size = int(nums[0]), int(nums[1]) * MB
    kids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            block = bytearray(size)
            touch(block, size)
            time.sleep(3)
            os._exit(0)
        kids.append(pid)
    time.sleep(1)
    print("held", n * size // MB, flush=True)
    for pid in kids:
        os.waitpid(pid, 0)
elif kind in ("tmpfs", "memfd"):
    size = int(nums[0]) * MB
    fd = os.open("/dev/shm/fill", os.O_RDWR | os.O_CREAT) if kind == "tmpfs" else os.memfd_create("fill")
    chunk = b"x" * MB
    for _ in range(size // MB):
        os.write(fd, chunk)
    print("held", size // MB, flush=True)
elif kind == "sysv":
    # 100 MB segments, each attached, filled and detached: never more than 100 MB of address space at once
    size = int(nums[0]) * MB
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmdt.argtypes = [ctypes.c_void_p]
    for _ in range(size // (100 * MB)):
        shmid = libc.shmget(0, 100 * MB, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
        addr = libc.shmat(shmid, None, 0)
        if shmid < 0 or addr in (None, 2 ** 64 - 1):
            sys.exit(f"shm: {os.strerror(ctypes.get_errno())}")
        ctypes.memset(addr, 1, 100 * MB)
        libc.shmdt(addr)
    print("held", size // MB, flush=True)
time.sleep(0.5)
