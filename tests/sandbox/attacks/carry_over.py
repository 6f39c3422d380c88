"""Red-team program: leave state behind for the next program on the same worker, or find what an earlier one left.

``plant TAG``: files in /tmp, the work dir, /dev/shm and /dev; SysV shared memory, a semaphore set and a message
queue under keys derived from TAG; a POSIX message queue; a key in the user keyring. ``look TAG``: report each
of those that is there ("found ...") and how many SysV objects exist at all. Prints "planted"/"denied" lines.
"""
import ctypes
import os
import sys
import zlib

libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT, O_CREAT, O_RDWR = 0o1000, 0o100, 0o2
mode, tag = sys.argv[1], sys.argv[2]
key = zlib.crc32(tag.encode()) & 0x7FFFFFFF
files = [f"/tmp/{tag}", f"./{tag}", f"/dev/shm/{tag}", f"/dev/{tag}"]
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
libc.syscall.restype = ctypes.c_long


def report(what, ok):
    print(("planted " if mode == "plant" else "found ") + what if ok else "denied " + what
          if mode == "plant" else "absent " + what)


if mode == "plant":
    for f in files:
        try:
            with open(f, "w") as h:
                h.write(tag)
            report(f, True)
        except OSError:
            report(f, False)
    report("shm", libc.shmget(key, 4096, IPC_CREAT | 0o666) >= 0)
    report("sem", libc.semget(key + 1, 1, IPC_CREAT | 0o666) >= 0)
    report("msg", libc.msgget(key + 2, IPC_CREAT | 0o666) >= 0)
    report("mqueue", libc.mq_open(f"/{tag}".encode(), O_CREAT | O_RDWR, 0o666, None) >= 0)
    # add_key("user", tag, payload, 3, KEY_SPEC_USER_KEYRING = -4)
    report("keyring", libc.syscall(248, b"user", tag.encode(), tag.encode(), 3, -4) >= 0)
else:
    for f in files:
        report(f, os.path.exists(f))
    report("shm", libc.shmget(key, 0, 0) >= 0)
    report("sem", libc.semget(key + 1, 0, 0) >= 0)
    report("msg", libc.msgget(key + 2, 0) >= 0)
    report("mqueue", libc.mq_open(f"/{tag}".encode(), O_RDWR, 0, None) >= 0)
    # request_key("user", tag, NULL, 0)
    report("keyring", libc.syscall(249, b"user", tag.encode(), None, 0) >= 0)
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as h:
            print("sysv", kind, len(h.read().splitlines()) - 1)
