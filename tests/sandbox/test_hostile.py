"""The hostile-program suite: each program must end with the right status, leave no process behind, change no
file outside its work dir and leave the harness able to run the next program.

Placeholders in the sources: MARK (unique per test, put on the command line of anything the program spawns),
HOMEDIR / SECRET (the caller's home and a secret planted there), REPO (this checkout), CWD (the caller's cwd,
full of files the program tries to delete), PORT (a port the test listens on, on the caller's loopback).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from codeja.sandbox import Limits, probe_bwrap, run
from codeja.sandbox.isolation import slot_uid

REPO = Path(__file__).resolve().parents[2]

needs_bwrap = pytest.mark.skipif(not probe_bwrap().ok, reason=f"bubblewrap unusable here: {probe_bwrap().reason}")


def processes_with(marker: str) -> list[int]:
    """Pids whose command line or environment contains ``marker`` (the sandbox's leftovers, if any)."""
    hits = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        for f in ("cmdline", "environ"):
            try:
                if marker.encode() in Path(f"/proc/{d}/{f}").read_bytes():
                    hits.append(int(d))
                    break
            except OSError:
                pass
    return hits


def stray_sandbox_processes() -> list[str]:
    """Processes of this harness's sandbox uids that are not a worker's resident zygote (bwrap + the zygote python)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{d}")
            if os.geteuid() != 0 or not slot_uid(0) <= st.st_uid < slot_uid(0) + 256:
                continue  # not one of this harness's sandbox uids
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(f"/proc/{d}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue  # a dead, unreaped process (this container's pid 1 does not reap orphans): nothing runs
        if b"The Python zygote" in cmd:
            continue
        out.append(f"{d}: {cmd[:120]!r}")
    return out



pytestmark = needs_bwrap

FAST = Limits(wall_s=2.0, cpu_s=2.0, memory_mb=256, processes=32, output_bytes=64 * 1024, file_size_mb=8)
# runtimes need a moment to fill 256 MB (or start node) on a loaded 2-core machine; a timeout there would hide
# the status under test
ROOMY = Limits(wall_s=8.0, cpu_s=8.0).over(FAST)

# (id, language, expected statuses, must-not-appear-in-stdout, source)
PY = [
    ("fork-bomb", {"timeout"}, None, """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""),
    ("memory-bomb", {"memory"}, None, """
blocks = []
while True:
    blocks.append(bytearray(16 << 20))
"""),
    ("memory-one-shot", {"memory"}, None, "x = 'a' * (10 ** 10)\n"),
    ("infinite-loop", {"timeout"}, None, "while True:\n    pass\n"),
    ("busy-threads", {"timeout"}, None, """
import threading
def spin():
    while True:
        pass
for _ in range(4):
    threading.Thread(target=spin).start()
"""),
    ("sleep-past-limit", {"timeout"}, None, "import time\ntime.sleep(60)\n"),
    ("stdout-flood", {"output-limit"}, None, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"),
    ("stderr-flood", {"output-limit"}, None, "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)\n"),
    ("write-home", {"ok"}, None, """
import os
for p in ['HOMEDIR/pwned-MARK', os.path.expanduser('~/pwned-MARK'), '/root/pwned-MARK']:
    try:
        open(p, 'w').write('pwned')
        print('wrote', p)
    except OSError as e:
        print('denied', p, e)
"""),
    ("write-checkout", {"ok"}, None, """
for p in ['REPO/pwned-MARK', 'REPO/pyproject.toml']:
    try:
        open(p, 'a').write('pwned')
        print('wrote', p)
    except OSError as e:
        print('denied', p, type(e).__name__)
"""),
    ("read-secret", {"ok"}, "SECRET", """
import glob
for p in ['HOMEDIR/.codeja-secret-MARK', *glob.glob('/root/.*'), *glob.glob('/home/*/.*')]:
    try:
        print(open(p).read())
    except OSError as e:
        print('denied', p, type(e).__name__)
"""),
    ("connect-loopback-port", {"ok"}, "CONNECTED", """
import socket
s = socket.socket()
s.settimeout(1)
try:
    s.connect(('127.0.0.1', PORT))
    print('CONNECTED')
except OSError as e:
    print('refused', e)
"""),
    ("connect-internet", {"ok"}, "CONNECTED", """
import socket
for addr in [('1.1.1.1', 53), ('8.8.8.8', 443)]:
    try:
        socket.create_connection(addr, timeout=1)
        print('CONNECTED')
    except OSError as e:
        print('no network', e)
"""),
    ("kill-parent", {"ok", "killed"}, None, """
import os, signal
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as e:
        print('cannot kill', pid, e)
"""),
    ("ignore-sigterm", {"timeout"}, None, """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    time.sleep(0.05)
"""),
    ("daemonised-grandchild", {"ok"}, None, """
import os, subprocess
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        subprocess.Popen(['/bin/sh', '-c', 'sleep 1000 # MARK'], start_new_session=True)
        os._exit(0)
    os._exit(0)
print('parent done')
"""),
    ("deep-recursion", {"failed"}, None, "def f(n):\n    return f(n + 1)\nf(0)\n"),
    ("deep-recursion-unlimited", {"killed", "failed", "memory", "timeout"}, None, """
import sys
sys.setrecursionlimit(10 ** 8)
def f(n):
    return f(n + 1) + 1
f(0)
"""),
    ("block-on-stdin", {"ok"}, None, "import sys\ndata = sys.stdin.read()\nprint(len(data))\n"),
    ("raise-own-rlimits", {"ok"}, "RAISED", """
import resource
for r in (resource.RLIMIT_AS, resource.RLIMIT_NPROC, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE):
    try:
        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print('RAISED', r)
    except (ValueError, OSError) as e:
        print('denied', r)
"""),
    ("read-other-processes", {"ok"}, "pytest", """
import os
pids = [p for p in os.listdir('/proc') if p.isdigit()]
print('visible', len(pids))
for p in pids:
    for f in ('cmdline', 'environ'):
        try:
            print(open(f'/proc/{p}/{f}', 'rb').read().replace(b'\\0', b' ').decode('utf-8', 'replace'))
        except OSError as e:
            print('denied', p, f)
"""),
    ("delete-caller-cwd", {"ok"}, None, """
import os, shutil
for f in os.listdir('.'):
    try:
        os.remove(f)
    except OSError:
        pass
for p in ['CWD/a.txt', 'CWD/b.txt']:
    try:
        os.remove(p)
        print('deleted', p)
    except OSError as e:
        print('denied', p)
shutil.rmtree('CWD', ignore_errors=True)
"""),
    ("write-system-dirs", {"ok"}, "WROTE", """
for p in ['/usr/pwned', '/etc/pwned', '/bin/pwned', '/proc/sys/kernel/hostname']:
    try:
        open(p, 'w').write('x')
        print('WROTE', p)
    except OSError:
        print('denied', p)
"""),
    ("file-size-limit", {"failed", "killed"}, None, """
with open('big.bin', 'wb') as f:
    for _ in range(64):
        f.write(b'z' * (1 << 20))
"""),
    ("environment-leak", {"ok"}, "CODEJA_TEST_SECRET", "import os\nprint(dict(os.environ))\n"),
    ("ptrace-the-zygote", {"ok"}, "READ", """
import os
pp = os.getppid()
for f in ('mem', 'environ', 'fd/0', 'maps'):
    try:
        with open(f'/proc/{pp}/{f}', 'rb') as h:
            h.read(16)
        print('READ', f)
    except OSError as e:
        print('denied', f)
"""),
    ("exit-code", {"failed"}, None, "import sys\nprint('bye')\nsys.exit(3)\n"),
]

BASH = [
    ("fork-bomb", {"timeout", "failed", "killed"}, None, "f() { f | f & }; f; sleep 30\n"),
    ("memory-bomb", {"memory"}, None, "x=({1..100000000})\n[ ${#x[@]} -gt 1 ] || exit 1\n"),
    ("infinite-loop", {"timeout"}, None, "while :; do :; done\n"),
    ("sleep-past-limit", {"timeout"}, None, "sleep 60\n"),
    ("stdout-flood", {"output-limit"}, None, "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
    ("write-home", {"ok"}, None,
     "echo pwned > HOMEDIR/pwned-MARK; echo pwned > ~/pwned-MARK; echo pwned > /root/pwned-MARK; true\n"),
    ("write-checkout", {"ok"}, None, "echo pwned > REPO/pwned-MARK; echo pwned >> REPO/pyproject.toml; true\n"),
    ("read-secret", {"ok"}, "SECRET", "cat HOMEDIR/.codeja-secret-MARK /root/.* 2>&1; true\n"),
    ("connect-loopback-port", {"ok"}, "CONNECTED",
     "(exec 3<>/dev/tcp/127.0.0.1/PORT) 2>/dev/null && echo CONNECTED || echo refused\n"),
    ("kill-parent", {"ok", "killed"}, None, "kill -9 $PPID 1 2>&1; echo alive\n"),
    ("ignore-sigterm", {"timeout"}, None, "trap '' TERM INT HUP; while :; do sleep 0.1; done\n"),
    ("daemonised-grandchild", {"ok"}, None, "setsid nohup sh -c 'sleep 1000 # MARK' >/dev/null 2>&1 &\necho started\n"),
    ("read-other-processes", {"ok"}, "pytest", "ls /proc; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; true\n"),
    ("delete-caller-cwd", {"ok"}, None, "rm -rf ./* CWD 2>&1; true\n"),
    ("raise-own-rlimits", {"ok"}, "RAISED",
     "ulimit -v unlimited 2>/dev/null && echo RAISED; ulimit -u unlimited 2>/dev/null && echo RAISED; true\n"),
]

CPP = [
    ("fork-bomb", {"timeout"}, None, "#include <unistd.h>\nint main(){ while(1) fork(); }\n"),
    ("memory-bomb", {"memory"}, None, """#include <vector>
#include <cstring>
int main(){ std::vector<char*> v; while(1){ char* p = new char[16<<20]; memset(p, 1, 16<<20); v.push_back(p);} }
"""),
    ("infinite-loop", {"timeout"}, None, "int main(){ volatile long x = 0; while(1) x++; }\n"),
    ("busy-threads", {"timeout"}, None, """#include <thread>
#include <vector>
int main(){ std::vector<std::thread> t; for(int i=0;i<4;i++) t.emplace_back([]{ volatile long x=0; while(1) x++; });
for(auto& th: t) th.join(); }
"""),
    ("stdout-flood", {"output-limit"}, None,
     "#include <cstdio>\nint main(){ while(1) puts(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"); }\n"),
    ("write-home", {"ok"}, None, """#include <cstdio>
int main(){ FILE* f = fopen("HOMEDIR/pwned-MARK", "w"); FILE* g = fopen("REPO/pwned-MARK", "w");
printf("%p %p\\n", (void*)f, (void*)g); return 0; }
"""),
    ("read-secret", {"ok"}, "SECRET", """#include <cstdio>
int main(){ FILE* f = fopen("HOMEDIR/.codeja-secret-MARK", "r"); char b[256] = {0};
if (f) { fread(b, 1, 255, f); puts(b); } else puts("denied"); return 0; }
"""),
    ("connect-loopback-port", {"ok"}, "CONNECTED", """#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <cstdio>
int main(){ int s = socket(AF_INET, SOCK_STREAM, 0); sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons(PORT);
inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
puts(connect(s, (sockaddr*)&a, sizeof a) == 0 ? "CONNECTED" : "refused"); }
"""),
    ("ignore-sigterm", {"timeout"}, None, """#include <csignal>
#include <unistd.h>
int main(){ signal(SIGTERM, SIG_IGN); while(1) sleep(1); }
"""),
    ("daemonised-grandchild", {"ok"}, None, """#include <unistd.h>
int main(){ if (fork() == 0) { setsid();
if (fork() == 0) { execl("/bin/sh", "sh", "-c", "sleep 1000 # MARK", (char*)0); } _exit(0); }
return 0; }
"""),
    ("segfault", {"killed"}, None, "int main(){ volatile int* p = 0; *p = 1; }\n"),
    ("raise-own-rlimits", {"ok"}, "RAISED", """#include <sys/resource.h>
#include <cstdio>
int main(){ rlimit r{RLIM_INFINITY, RLIM_INFINITY}; if (setrlimit(RLIMIT_AS, &r) == 0) puts("RAISED");
if (setrlimit(RLIMIT_NPROC, &r) == 0) puts("RAISED"); return 0; }
"""),
]

JS = [
    ("memory-bomb", {"memory"}, None, "const a = []; while (true) a.push(new Array(1e6).fill(1.5));\n"),
    ("infinite-loop", {"timeout"}, None, "while (true) {}\n"),
    ("sleep-past-limit", {"timeout"}, None, "setTimeout(() => {}, 60000);\n"),
    ("stdout-flood", {"output-limit"}, None, "const s = 'x'.repeat(65536); while (true) process.stdout.write(s);\n"),
    ("write-home", {"ok"}, None, """const fs = require('fs');
for (const p of ['HOMEDIR/pwned-MARK', 'REPO/pwned-MARK']) { try { fs.writeFileSync(p, 'x'); console.log('wrote', p) }
catch (e) { console.log('denied', p) } }
"""),
    ("read-secret", {"ok"}, "SECRET", """const fs = require('fs');
try { console.log(fs.readFileSync('HOMEDIR/.codeja-secret-MARK', 'utf8')) } catch (e) { console.log('denied') }
"""),
    ("connect-loopback-port", {"ok"}, "CONNECTED", """const net = require('net');
const s = net.connect(PORT, '127.0.0.1', () => { console.log('CONNECTED'); s.destroy(); });
s.on('error', e => console.log('refused', e.code));
"""),
    ("daemonised-grandchild", {"ok"}, None, """const cp = require('child_process');
const c = cp.spawn('/bin/sh', ['-c', 'sleep 1000 # MARK'], {detached: true, stdio: 'ignore'}); c.unref();
console.log('spawned');
"""),
    ("ignore-sigterm", {"timeout"}, None, "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);\n"),
    ("kill-parent", {"ok", "killed"}, None,
     "try { process.kill(process.ppid, 'SIGKILL') } catch (e) { console.log('denied') }\n"),
]

CASES = ([pytest.param("python", *c[1:], id=f"python-{c[0]}") for c in PY]
         + [pytest.param("bash", *c[1:], id=f"bash-{c[0]}") for c in BASH]
         + [pytest.param("cpp", *c[1:], id=f"cpp-{c[0]}") for c in CPP]
         + [pytest.param("javascript", *c[1:], id=f"js-{c[0]}") for c in JS])


@pytest.fixture
def caller(tmp_path, monkeypatch, marker, listening_port):
    """The caller's world: a home with a secret, a cwd full of files, a listening port, a secret env var."""
    home = Path.home()
    secret = home / f".codeja-secret-{marker}"
    secret.write_text(f"SECRET-{marker}")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for n in ("a.txt", "b.txt"):
        (cwd / n).write_text(n)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("CODEJA_TEST_SECRET", marker)
    pyproject = (REPO / "pyproject.toml").read_bytes()
    yield {"HOMEDIR": str(home), "REPO": str(REPO), "CWD": str(cwd), "PORT": str(listening_port.getsockname()[1]),
           "MARK": marker}
    secret.unlink()
    assert (REPO / "pyproject.toml").read_bytes() == pyproject, "the checkout was modified"


def _fill(src: str, ctx: dict) -> str:
    for k, v in ctx.items():
        src = src.replace(k, v)
    return src


@pytest.mark.parametrize("lang,expected,forbidden,source", CASES)
def test_hostile(lang, expected, forbidden, source, caller, listening_port, marker):
    limits = ROOMY if expected in ({"memory"}, {"output-limit"}) else FAST
    r = run(_fill(source, caller), lang, limits=limits)
    assert r.isolation == "bwrap"
    assert r.status in expected, (r.status, r.exit_code, r.signal, r.stdout[-500:], r.stderr[-800:], r.detail,
                                  r.compile_stderr[-500:])
    if forbidden:
        assert forbidden not in r.stdout, r.stdout[-2000:]
    if r.status == "timeout":
        assert r.wall_s < limits.wall_s + 4
    # nothing left running: neither the marked grandchildren nor any other process of a sandbox uid
    deadline = time.monotonic() + 3
    while (processes_with(marker) or stray_sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_with(marker)
    assert not stray_sandbox_processes()
    # nothing written outside the work dir
    for p in (Path(caller["HOMEDIR"]) / f"pwned-{marker}", REPO / f"pwned-{marker}", Path("/root") / f"pwned-{marker}",
              Path(caller["CWD"]) / f"pwned-{marker}"):
        assert not p.exists(), p
    assert sorted(os.listdir(caller["CWD"])) == ["a.txt", "b.txt"]
    assert Path(caller["CWD"], "a.txt").read_text() == "a.txt"
    # the port was never reached
    try:
        conn, _ = listening_port.accept()
        conn.close()
        pytest.fail("the sandboxed program reached the caller's loopback port")
    except OSError:
        pass
    # and the harness still works
    again = run("print('alive')", "python", limits=FAST)
    assert again.status == "ok" and again.stdout == "alive\n"


def test_read_other_processes_sees_only_its_own(caller):
    r = run("import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))\n", "python", limits=FAST)
    assert r.status == "ok" and int(r.stdout) <= 4  # bwrap's init, the zygote, the program


def test_memory_status_reports_peak(caller):
    r = run("x = bytearray(100 << 20)\nprint(len(x))\n", "python", limits=Limits(memory_mb=512))
    assert r.status == "ok" and r.peak_memory_mb >= 100
