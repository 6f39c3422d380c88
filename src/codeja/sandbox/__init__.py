"""Isolated, fast execution of untrusted (model-written) programs in many languages.

```python
from codeja.sandbox import Limits, Job, run, run_many
r = run("print(input()[::-1])", "python", stdin="abc", limits=Limits(wall_s=3))
r.status, r.stdout        # ("ok", "cba\\n")
rs = run_many([Job(src, "cpp", key=i, end_marker=True) for i, src in enumerate(programs)], progress=True)
```

Statuses: ``ok`` (exit 0, and with ``Job.end_marker`` the program reached its end), ``failed`` (non-zero exit,
compile error, an exit before the end), ``timeout`` (wall or CPU limit), ``memory`` (allocation failed under the
memory limit, or the program as a whole went over it), ``output-limit`` (stdout or stderr over the cap),
``killed`` (ended by a signal), ``toolchain-missing`` (the compiler / interpreter is not installed: never a model
failure), ``sandbox-error`` (codeja could not run it). ``run_many`` runs a job again (twice at most by default) when
the sandbox rather than the program failed: ``sandbox-error``, or a Python zygote that vanished without a reply
(``SandboxResult.infra_failure``; ``attempts`` says how many runs it took), so a correct program is not scored as
``killed`` because the machine was saturated.

How programs are isolated: see :mod:`codeja.sandbox.isolation` (bubblewrap namespaces, read-only system, RAM-only
/box /tmp /dev/shm, no network, per-slot uid, seccomp, rlimits, watchdog) and :mod:`codeja.sandbox.cgroups` (the
program's memory and processes as a whole); the threat model, what is and is not defended, and the test for each
defence are in docs/sandbox.md. Python runs in pre-started sandboxed zygotes that fork per program
(:mod:`codeja.sandbox.zygote`); compiled languages go through a compile cache keyed by the source hash and the
toolchain version (``/var/tmp/codeja-sandbox-<uid>`` or ``$CODEJA_SANDBOX_CACHE``). ``describe()`` says what
protects programs on this host (for manifests).

Toolchains (Debian packages installed by ``scripts/setup-system.sh`` when run as root):

=============  ==========================================================  =========================================
language       Debian packages                                             steps (inside the sandbox)
=============  ==========================================================  =========================================
python         python3                                                     forked zygote (or ``python3 -I main.py``)
javascript     nodejs                                                      ``node --max-old-space-size main.js``
typescript     node-typescript, nodejs                                     ``tsc`` -> ``node main.js``
java           default-jdk-headless                                        ``javac`` -> ``java -ea -cp /build Main``
cpp            g++, libssl-dev (HumanEval-X md5)                           ``g++ -std=c++17`` -> binary
go             golang-go, golang-github-stretchr-testify-dev               ``go build`` / ``go test -c`` (GOPATH)
rust           rustc, cargo, librust-{rand,regex,md5}-dev                  ``rustc [--test] --extern ...`` -> binary
bash           bash                                                        ``bash main.sh``
csharp         mono-mcs, mono-runtime, libmono-system-numerics4.0-cil      ``mcs -d:DEBUG`` -> ``mono main.exe``
d              ldc                                                         ``ldc2 -unittest --main`` -> binary
lua            lua5.3, lua-unit                                            ``lua5.3 main.lua``
php            php-cli                                                     ``php main.php``
perl           perl, libtest-deep-perl                                     ``perl main.pl``
r              r-base-core                                                 ``Rscript main.r``
ruby           ruby                                                        ``ruby main.rb``
racket         racket                                                      ``racket main.rkt``
scala          scala                                                       ``scalac`` -> ``java -cp /build:scala-lib``
julia          none in Debian 12 (install Julia by hand)                   ``julia main.jl``
swift          none in Debian 12 (install a Swift toolchain by hand)       ``swiftc`` -> binary
=============  ==========================================================  =========================================

Java programs get codeja's own ``org.javatuples`` on the class path (:mod:`codeja.sandbox.javatuples`), as
MultiPL-E's evaluator gives them javatuples-1.2.jar.

plus ``bubblewrap`` (isolation) and ``util-linux`` (``prlimit``).
"""

from codeja.sandbox.isolation import IsolationUnavailable, probe_bwrap
from codeja.sandbox.languages import LANGUAGES, get_language, java_classes, toolchain_available
from codeja.sandbox.runner import classify, describe, run, run_many, shutdown
from codeja.sandbox.types import STATUSES, Job, Limits, SandboxResult

__all__ = [
           "LANGUAGES",
           "STATUSES",
           "IsolationUnavailable",
           "Job",
           "Limits",
           "SandboxResult",
           "classify",
           "describe",
           "get_language",
           "java_classes",
           "probe_bwrap",
           "run",
           "run_many",
           "shutdown",
           "toolchain_available",
]
