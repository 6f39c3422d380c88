"""Red-team program: what can a program do to the sandbox's pid 1 and its other processes?

Prints "READ <what>" / "STOPPED <pid>" for everything that worked and "denied <what>" otherwise.
"""
import os
import signal
import time

me = os.getpid()
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me):
    for what in ("mem", "environ", "fd", "maps", "fd/0", "fd/1"):
        path = f"/proc/{pid}/{what}"
        try:
            if what == "fd":
                os.listdir(path)
            else:
                with open(path, "rb") as h:
                    h.read(16)
            print("READ", path)
        except OSError:
            print("denied", path)
    try:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.05)
        with open(f"/proc/{pid}/stat") as h:
            state = h.read().rpartition(")")[2].split()[0]
        os.kill(pid, signal.SIGCONT)
        print("STOPPED" if state == "T" else "ignored SIGSTOP", pid)
    except OSError:
        print("denied signal", pid)
