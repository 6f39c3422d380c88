"""Red-team program: search this process's own memory for what earlier programs on the same worker saw.

A program forked from a zygote inherits the zygote's memory; if the zygote ever parsed a request or built a
reply, the earlier programs' source, stdin and stdout (hidden tests, expected outputs) are in there. The
needles arrive as argv halves and are never joined, so a hit is a copy made by someone else.
Prints "found <name>" or "clean <name>" per needle.
"""
import ctypes
import sys


def regions():
    with open("/proc/self/maps") as maps:
        for line in maps:
            addr, perms, _off, _dev, _inode, *path = line.split()
            if perms[0] != "r" or (path and path[0] in ("[vvar]", "[vsyscall]", "[vvar_vclock]")):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            yield lo, hi


def found(head: bytes, tail: bytes) -> bool:
    # read in-process (the sandbox makes /proc/self/mem unreadable: the process is not dumpable)
    for lo, hi in list(regions()):
        data = ctypes.string_at(lo, hi - lo)
        at = data.find(head)
        while at >= 0:
            if data[at + len(head):at + len(head) + len(tail)] == tail:
                return True
            at = data.find(head, at + 1)
    return False


args = sys.argv[1:]
for name, head, tail in zip(args[0::3], args[1::3], args[2::3]):
    print("found" if found(head.encode(), tail.encode()) else "clean", name)
