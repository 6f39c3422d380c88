"""Per-language compile and run steps, toolchain discovery and default limits.

Default wall-clock limits follow MultiPL-E's evaluators (``evaluation/src/eval_*.py``): run 15 s for most
languages, 5 s for JavaScript and Rust binaries, 30 s for Go, and 15 s compile steps. Memory is limited through
RLIMIT_AS, except for the JVM and V8 which reserve huge address ranges they never touch: those get a heap flag
plus RLIMIT_DATA (which counts only committed private memory).

End of program (``Job.end_marker``): a language says how a program shows that it ran to its last statement. Script
languages append one statement printing ``$CODEJA_END`` (a random token per run, set by the runner); languages
with a ``main`` get it wrapped (C++, Java, Go, Rust programs); test binaries rely on their framework's own
summary (``go test`` binaries run with ``-test.paniconexit0``, libtest prints "test result: ok.").

Toolchains are looked up in the system paths (``/usr/bin``...) and, for Rust, in ``~/.cargo/bin`` as a last
resort; a missing one gives the status ``toolchain-missing`` and names the Debian package that provides it
(Julia and Swift have none in Debian 12: the message says so).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from codeja.errors import InputError
from codeja.sandbox.javatuples import javatuples_dir
from codeja.sandbox.types import Limits

BOX = "/box"  # the program's private writable work dir inside the sandbox
BUILD = "/build"  # compiled artifacts (writable while compiling, read-only while running)
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@cache
def find_tool(name: str) -> str | None:
    """Absolute path of a toolchain executable, preferring the Debian ones in /usr/bin."""
    for d in ("/usr/bin", "/bin", "/usr/local/bin", str(Path.home() / ".cargo" / "bin")):
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return shutil.which(name)


VERSION_FLAGS = {"javac": "-version", "go": "version", "lua5.3": "-v", "scalac": "-version"}  # else --version


@cache
def tool_version(path: str) -> str:
    """A short version string of a tool, part of the compile-cache key (a new compiler invalidates entries)."""
    flag = VERSION_FLAGS.get(os.path.basename(path), "--version")
    try:
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
        return next(line for line in (out.stdout + out.stderr).splitlines() if line.strip()).strip()[:200]
    except (OSError, subprocess.SubprocessError, StopIteration):
        return "unknown"


END_ENV = "CODEJA_END"  # the environment variable holding the run's end-of-program token


@dataclass(frozen=True)
class EndMark:
    """A program rewritten to show that it ran to its end: its source, and what its output must then contain
    (``expect``: a framework's own summary line; None: the run's token from $CODEJA_END, on a line of its own)."""

    source: str
    expect: re.Pattern | None = None


# comments, strings and character literals of C-family languages, blanked before looking for braces
_C_STRIP = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)


def _blank(source: str) -> str:
    return _C_STRIP.sub(lambda m: " " * len(m.group(0)), source)


def _body_end(code: str, open_at: int) -> int | None:
    """Index of the brace closing the block opened at ``open_at`` in blanked code."""
    depth = 0
    for i in range(open_at, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def rename_main(source: str, pattern: str, new_head: str) -> tuple[str, str] | None:
    """(source with its one ``main`` renamed and ``new_head`` in place of the matched head, the parameter text)
    for C-family sources; None when there is not exactly one match or the body cannot be delimited.

    ``pattern`` matches up to and including the "(" of the parameter list; the body's last brace is kept.
    """
    code = _blank(source)
    found = list(re.finditer(pattern, code, re.MULTILINE))
    if len(found) != 1:
        return None
    m = found[0]
    close = code.find(")", m.end())
    brace = code.find("{", close)
    if close < 0 or brace < 0 or code[close + 1:brace].strip() not in ("", "throws Exception"):
        return None
    return source[:m.start()] + new_head + source[m.end():], source[m.end():close].strip()


@dataclass(frozen=True)
class Step:
    """One command line to run in the sandbox, with extra environment and read-only / writable binds."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ro_binds: list[tuple[str, str]] = field(default_factory=list)  # (host path, sandbox path)
    rw_binds: list[tuple[str, str]] = field(default_factory=list)


class Language:
    """A language: how to name the source file, compile it (optional) and run it."""

    compiled = False
    memory_rlimit = "as"  # "as" (RLIMIT_AS) or "data" (RLIMIT_DATA) — see the module docstring

    def __init__(self, name: str, aliases: tuple[str, ...], tools: tuple[str, ...], debian: str | None,
                 defaults: Limits, filename: str, run: list[str] | None = None, env: dict[str, str] | None = None,
                 etc: tuple[str, ...] = (), install: str | None = None, end: str | None = None,
                 end_summary: str | None = None):
        self.name, self.aliases, self.tools, self.debian = name, aliases, tools, debian
        self.defaults, self.filename, self._run, self.env = defaults, filename, run or [], env or {}
        self.etc = etc  # configuration under /etc the toolchain reads (bound read-only into the sandbox)
        self.install = install  # how to install it where Debian has no package (debian=None)
        self.end = end  # a statement printing $CODEJA_END and a newline, appended for Job.end_marker
        # or: the line a test framework prints once every test ran (a regex), for tests that end with an exit
        self.end_summary = re.compile(end_summary, re.MULTILINE) if end_summary else None

    # -- toolchain -------------------------------------------------------------------------------------------
    def missing_tools(self) -> list[str]:
        return [t for t in self.tools if find_tool(t) is None]

    def available(self) -> bool:
        return not self.missing_tools()

    def install_hint(self) -> str:
        if self.debian is None:
            return f"Debian 12 has no package for it: {self.install}"
        return f"install the Debian package(s) {self.debian} (make setup does, as root)"

    def toolchain_id(self) -> str:
        return "; ".join(tool_version(find_tool(t)) for t in self.tools if find_tool(t))

    def host_binds(self) -> list[str]:
        """Host paths bound read-only at the same place: directories outside /usr the toolchain lives in (e.g. a
        rustup toolchain) and the configuration under /etc it reads (``etc``)."""
        out = []
        for t in self.tools:
            real = os.path.realpath(find_tool(t) or "/usr/bin")
            if not real.startswith(("/usr/", "/bin/", "/lib")):
                out.append(str(Path(real).parent.parent))
        return out + [p for p in self.etc if os.path.exists(p)]

    # -- steps -----------------------------------------------------------------------------------------------
    def source_name(self, source: str) -> str:
        return self.filename

    def compile_step(self, source: str, limits: Limits, ctx: BuildContext) -> Step | None:
        return None

    def run_step(self, source: str, args: list[str], limits: Limits) -> Step:
        argv = [find_tool(self._run[0]) or self._run[0], *self._run[1:], f"{BOX}/{self.source_name(source)}"]
        return Step(argv + list(args), dict(self.env))

    def mark_end(self, source: str) -> EndMark | None:
        """``source`` made to show that it ran to its end (see :class:`EndMark`); None: this language cannot."""
        if self.end_summary is not None:
            return EndMark(source, self.end_summary)
        return EndMark(source.rstrip("\n") + "\n" + self.end + "\n") if self.end else None

    def cache_key(self, source: str, files: dict[str, str] | None, step: Step) -> str:
        h = hashlib.sha256()
        for part in (self.name, self.toolchain_id(), repr(step.argv), repr(sorted(step.env.items())), source,
                     repr(sorted((files or {}).items()))):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return h.hexdigest()[:40]


@dataclass(frozen=True)
class BuildContext:
    """Host-side resources a compile step may use (shared caches, prebuilt libraries)."""

    go_cache: str | None = None
    rust_crates: str | None = None  # a folder with libfoo-*.rlib for rand / regex / md5, or None


class Compiled(Language):
    """A compiled language: a compile step writing to /build, then running ``run`` from /build."""

    compiled = True

    def __init__(self, *a, compile: list[str] | None = None, **kw):
        super().__init__(*a, **kw)
        self._compile = compile or []

    def compile_step(self, source, limits, ctx):
        name = self.source_name(source)
        argv = [find_tool(self._compile[0]) or self._compile[0]] + [
            s.format(src=f"{BOX}/{name}", build=BUILD) for s in self._compile[1:]]
        return Step(argv, dict(self.env))

    def run_step(self, source, args, limits):
        return Step([s.format(build=BUILD) for s in self._run] + list(args), dict(self.env))


class Cpp(Compiled):
    def mark_end(self, source):
        """``main`` becomes ``codeja_main`` (with a ``return 0`` at its end, where C++ has an implicit one) and a new
        ``main`` calls it, printing the token when it returned 0: an ``exit(0)`` on the way skips the print."""
        renamed = rename_main(source, r"\bint\s+main\s*\(", "int codeja_main(")
        if renamed is None:
            return None
        source, params = renamed
        argv_params = r"int\s+\w+\s*,\s*char\s*(\*\s*\*\s*\w+|\*\s*\w+\s*\[\s*\])"  # (int argc, char** argv)
        if params not in ("", "void") and not re.fullmatch(argv_params, params):
            return None
        code = _blank(source)
        start = re.search(r"\bint\s+codeja_main\s*\(", code).end()
        close = _body_end(code, code.find("{", code.find(")", start)))
        if close is None:
            return None
        call = "codeja_main()" if params in ("", "void") else "codeja_main(argc, argv)"
        wrapper = ("\n#include <cstdio>\n#include <cstdlib>\n"
                   f"int main(int argc, char** argv) {{ (void)argc; (void)argv; int codeja_rc = {call};\n"
                   "  if (codeja_rc == 0) { std::fflush(stdout); const char* m = std::getenv(\"" + END_ENV + "\");\n"
                   "    std::fputs(m ? m : \"\", stdout); std::fputs(\"\\n\", stdout); std::fflush(stdout); }\n"
                   "  return codeja_rc; }\n")
        return EndMark(source[:close] + "\nreturn 0;\n" + source[close:] + wrapper)

    def compile_step(self, source, limits, ctx):
        step = super().compile_step(source, limits, ctx)
        # HumanEval-X's string_to_md5 includes <openssl/md5.h>: link libcrypto only when asked for
        if "openssl/" in source:
            step.argv.append("-lcrypto")
        return step


class TypeScript(Compiled):
    """``tsc`` to JavaScript (as MultiPL-E does), then node."""

    memory_rlimit = "data"

    def run_step(self, source, args, limits):
        heap = max(64, int(limits.memory_mb * 0.75))
        return Step([find_tool("node"), f"--max-old-space-size={heap}", f"{BUILD}/main.js", *args], dict(self.env))


class JavaScript(Language):
    memory_rlimit = "data"

    def run_step(self, source, args, limits):
        heap = max(64, int(limits.memory_mb * 0.75))
        return Step([find_tool("node"), f"--max-old-space-size={heap}", f"{BOX}/main.js", *args], dict(self.env))


_JAVA_STRIP = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
_JAVA_CLASS = re.compile(
    r"\b(public\s+)?(?:(?:final|abstract|static|strictfp)\s+)*(class|interface|enum|record)\s+(\w+)")


def java_classes(source: str) -> tuple[str | None, str | None]:
    """(the public top-level class, the top-level class that holds ``static void main``) of a Java file.

    HumanEvalPack tests are ``public class Main`` beside ``class Solution``; MultiPL-E uses ``class Problem``
    with no public class. javac wants the file named after the public class, and we run the main class.
    """
    code = _JAVA_STRIP.sub(lambda m: " " * len(m.group(0)), source)
    public = main = None
    depth, top = 0, None
    marks = {m.start(): m for m in _JAVA_CLASS.finditer(code)}
    main_at = {m.start() for m in re.finditer(r"\bstatic\s+(?:final\s+)?void\s+main\s*\(", code)}
    for i, ch in enumerate(code):
        if i in marks and depth == 0:
            top = marks[i].group(3)
            if marks[i].group(1) and public is None:
                public = top
        if i in main_at and main is None and depth >= 1:
            main = top
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
    return public, main


# Serial GC and the C1 compiler only: a JVM per sample should start fast and not spawn a thread per core
JVM_FLAGS = ["-Xss8m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-Xshare:auto"]
JAVA_END_CLASS = "CodejaEnd"


def jvm_heap(limits: Limits) -> str:
    return f"-Xmx{max(32, int(limits.memory_mb * 0.6))}m"


class Java(Compiled):
    """``javac`` then ``java -ea``, with codeja's ``org.javatuples`` on the class path of both (MultiPL-E's
    evaluator puts javatuples-1.2.jar there; see :mod:`codeja.sandbox.javatuples`)."""

    memory_rlimit = "data"

    def source_name(self, source):
        public, main = java_classes(source)
        return f"{public or main or 'Main'}.java"

    def mark_end(self, source):
        """A class ``CodejaEnd`` whose ``main`` calls the program's and then prints the token; it is run instead
        (a ``System.exit(0)`` inside the program's ``main`` never returns to it)."""
        main = java_classes(source)[1]
        if main is None or re.search(r"^\s*package\s", _blank(source), re.MULTILINE):
            return None
        return EndMark(source.rstrip("\n") + f"\n\nclass {JAVA_END_CLASS} {{\n"
                       "    public static void main(String[] args) throws Throwable {\n"
                       f"        {main}.main(args);\n        System.out.flush();\n"
                       f'        System.out.println(System.getenv("{END_ENV}"));\n        System.out.flush();\n'
                       "    }\n}\n")

    @staticmethod
    def tuples() -> str | None:
        javac = find_tool("javac")
        return javatuples_dir(javac, tool_version(javac)) if javac else None

    def compile_step(self, source, limits, ctx):
        step, lib = super().compile_step(source, limits, ctx), self.tuples()
        if lib is None:
            return step
        return Step([step.argv[0], "-cp", lib, *step.argv[1:]], step.env, ro_binds=[(lib, lib)])

    def run_step(self, source, args, limits):
        public, main = java_classes(source)
        if re.search(rf"^class {JAVA_END_CLASS} {{", source, re.MULTILINE):
            main = JAVA_END_CLASS
        lib = self.tuples()
        return Step([find_tool("java"), jvm_heap(limits), *JVM_FLAGS, "-ea", "-cp", f"{BUILD}:{lib}" if lib else BUILD,
                     main or public or "Main", *args], dict(self.env), ro_binds=[(lib, lib)] if lib else [])


SCALA_LIBRARY = "/usr/share/java/scala-library.jar"  # Debian's scala package


def scala_main(source: str) -> str:
    """The object that defines ``def main`` (MultiPL-E's is always ``Problem``): the last ``object`` before it."""
    code = _JAVA_STRIP.sub(lambda m: " " * len(m.group(0)), source)
    at = code.find("def main(")
    names = re.findall(r"\bobject\s+(\w+)", code[:at] if at >= 0 else code)
    return names[-1] if names else "Problem"


class Scala(Compiled):
    """``scalac`` into /build, then the main object on the JVM with scala-library on the class path. MultiPL-E
    runs ``scala -cp DIR Problem``; that launcher runs the same bytecode (same exit code, same stderr) after
    loading the compiler's class path first, seconds per program on a small machine."""

    memory_rlimit = "data"

    def run_step(self, source, args, limits):
        return Step([find_tool("java"), jvm_heap(limits), *JVM_FLAGS, "-cp", f"{BUILD}:{SCALA_LIBRARY}",
                     scala_main(source), *args], dict(self.env))


def _go_is_test(source: str) -> bool:
    return bool(re.search(r"^func Test\w*\(\s*\w+\s+\*testing\.T\s*\)", source, re.MULTILINE)) and '"testing"' in source


class Go(Compiled):
    """``go build`` (or ``go test -c`` for files with ``func TestX(t *testing.T)``, as HumanEvalPack and
    MultiPL-E ship them) in GOPATH mode over Debian's /usr/share/gocode (testify comes from
    golang-github-stretchr-testify-dev), with a persistent build cache so the standard library compiles once."""

    memory_rlimit = "data"

    def source_name(self, source):
        return "main_test.go" if _go_is_test(source) else "main.go"

    def compile_step(self, source, limits, ctx):
        go = find_tool("go")
        if _go_is_test(source):
            argv = [go, "test", "-c", "-o", f"{BUILD}/main", f"{BOX}/main_test.go"]
        else:
            argv = [go, "build", "-o", f"{BUILD}/main", f"{BOX}/main.go"]
        env = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOCACHE": "/gocache", "GOFLAGS": "-buildvcs=false",
               "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOTELEMETRY": "off"}
        rw = [(ctx.go_cache, "/gocache")] if ctx.go_cache else []
        # umask 0: the build cache is shared by every slot uid (each creates subdirs the others write into)
        return Step(["/bin/sh", "-c", 'umask 0; exec "$@"', "sh", *argv], env, rw_binds=rw)

    def mark_end(self, source):
        """Test binaries: their "PASS" line (and ``-test.paniconexit0``, as ``go test`` passes, makes
        ``os.Exit(0)`` inside a test a failure). Programs: ``main`` becomes ``codejaMain``, called by a new ``main``
        that prints the token (through ``os`` imported under its own name, so existing imports stay as they are)."""
        if _go_is_test(source):
            return EndMark(source, re.compile(r"^PASS$", re.MULTILINE))
        code = _blank(source)
        pkg = re.search(r"^package\s+main\s*$", code, re.MULTILINE)
        renamed = rename_main(source, r"^func\s+main\s*\(", "func codejaMain(") if pkg else None
        if renamed is None or renamed[1]:
            return None
        source = renamed[0]
        at = pkg.end()
        return EndMark(source[:at] + '\nimport codejaos "os"' + source[at:] + "\n\nfunc main() {\n\tcodejaMain()\n"
                       f'\tcodejaos.Stdout.WriteString(codejaos.Getenv("{END_ENV}") + "\\n")\n}}\n')

    def run_step(self, source, args, limits):
        extra = ["-test.v", "-test.paniconexit0"] if _go_is_test(source) else []
        # Go sizes its scheduler by CPUs; GOMAXPROCS=2 keeps thread counts far from the process limit
        return Step([f"{BUILD}/main", *extra, *args], {"GOMAXPROCS": "2", "GODEBUG": "madvdontneed=1"})


RUST_CRATES = ("rand", "regex", "md5")  # what HumanEvalPack's Rust declarations `use`


class Rust(Compiled):
    """``rustc`` (``--test`` when the file has ``#[test]``s, as in HumanEvalPack); the crates that HumanEvalPack
    imports (rand, regex, md5) are prebuilt once from Debian's librust-*-dev sources (see ``crates.py``)."""

    def compile_step(self, source, limits, ctx):
        argv = [find_tool("rustc"), "--edition", "2021", "-C", "opt-level=0", "-C", "debuginfo=0", "-A", "warnings"]
        if re.search(r"#\[\s*test\s*\]", source):
            argv.append("--test")
        ro = []
        used = [c for c in RUST_CRATES if re.search(rf"\b(use\s+{c}\b|{c}::)", source)]
        if used and ctx.rust_crates:
            ro.append((ctx.rust_crates, "/crates"))
            argv += ["-L", "dependency=/crates"]
            for c in used:
                libs = sorted(Path(ctx.rust_crates).glob(f"lib{c}-*.rlib"))
                if libs:
                    argv += ["--extern", f"{c}=/crates/{libs[0].name}"]
        argv += ["-o", f"{BUILD}/main", f"{BOX}/main.rs"]
        return Step(argv, dict(self.env), ro_binds=ro)

    def mark_end(self, source):
        """Test binaries: libtest's summary "test result: ok." (test output is captured, so a test cannot print
        it by accident). Programs: ``main`` becomes ``codeja_main``, called by a new ``main`` printing the token."""
        if re.search(r"#\[\s*test\s*\]", source):
            return EndMark(source, re.compile(r"^test result: ok\.", re.MULTILINE))
        renamed = rename_main(source, r"^\s*fn\s+main\s*\(", "fn codeja_main(")
        if renamed is None or renamed[1]:
            return None
        if re.search(r"fn\s+codeja_main\s*\(\s*\)\s*->", _blank(renamed[0])):
            return None  # main returns a Result: leave it alone
        return EndMark(renamed[0] + "\n\nfn main() {\n    codeja_main();\n"
                       f'    println!("{{}}", std::env::var("{END_ENV}").unwrap_or_default());\n}}\n')

    def run_step(self, source, args, limits):
        # libtest runs tests on one thread per CPU by default; one thread keeps the process count predictable
        env = {"RUST_TEST_THREADS": "1", "RUST_BACKTRACE": "0"}
        return Step([f"{BUILD}/main", *args], env)


_D = Limits(wall_s=15.0, cpu_s=15.0, memory_mb=2048, processes=64, output_bytes=1 << 20, file_size_mb=64,
            compile_wall_s=30.0, tmpfs_mb=256)

LANGUAGE_LIST: list[Language] = [
    Language("python", ("py", "python3"), ("python3",), "python3", _D, "main.py", run=["python3", "-I"],
             env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8"},
             end='__import__("sys").stdout.flush(); __import__("os").write(1, (__import__("os").environ["CODEJA_END"]'
                 ' + "\\n").encode())'),
    JavaScript("javascript", ("js", "node"), ("node",), "nodejs", Limits(wall_s=5.0, cpu_s=5.0).over(_D), "main.js",
               end=';process.stdout.write(process.env.CODEJA_END + "\\n");'),
    TypeScript("typescript", ("ts",), ("tsc", "node"), "node-typescript nodejs",
               Limits(compile_wall_s=30.0).over(_D), "main.ts",
               compile=["tsc", "--target", "es2020", "--module", "commonjs", "--lib", "es2020,dom", "--outDir",
                        "{build}", "{src}"],
               end=';(globalThis as any).process.stdout.write((globalThis as any).process.env.CODEJA_END + "\\n");'),
    Java("java", (), ("javac", "java"), "default-jdk-headless", Limits(processes=256).over(_D), "Main.java",
         compile=["javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-Xshare:auto", "-encoding", "UTF-8",
                  "-nowarn", "-d", "{build}", "{src}"]),
    Cpp("cpp", ("c++", "cxx", "cc"), ("g++",), "g++ libssl-dev", _D, "main.cpp",
        compile=["g++", "-std=c++17", "-O0", "-o", "{build}/main", "{src}"], run=["{build}/main"]),
    Go("go", ("golang",), ("go",), "golang-go golang-github-stretchr-testify-dev",
       Limits(wall_s=30.0, cpu_s=30.0, compile_wall_s=60.0, processes=128).over(_D), "main.go"),
    Rust("rust", ("rs",), ("rustc",), "rustc cargo librust-{rand,regex,md5,aho-corasick,memchr}-dev",
         Limits(wall_s=5.0, cpu_s=5.0, compile_wall_s=60.0).over(_D), "main.rs"),
    Language("bash", ("sh", "shell"), ("bash",), "bash", _D, "main.sh", run=["bash"],
             end='codeja_rc=$?; [ "$codeja_rc" = 0 ] && printf \'%s\\n\' "$CODEJA_END"; exit "$codeja_rc"'),
    # MultiPL-E's other languages, run as its evaluators run them (``evaluation/src/eval_<lang>.py``)
    Compiled("csharp", ("cs", "c#"), ("mcs", "mono"), "mono-mcs mono-runtime libmono-system-numerics4.0-cil",
             Limits(wall_s=5.0, cpu_s=5.0).over(_D), "main.cs",
             compile=["mcs", "-d:DEBUG", "-r:System.Numerics.dll", "-out:{build}/main.exe", "{src}"],
             run=["mono", "{build}/main.exe"], env={"MONO_TRACE_LISTENER": "Console.Error"}, etc=("/etc/mono",)),
    Compiled("d", ("dlang",), ("ldc2",), "ldc", _D, "main.d", etc=("/etc/ldc2.conf",),
             compile=["ldc2", "-unittest", "--main", "-of={build}/main", "{src}"], run=["{build}/main"]),
    Language("julia", ("jl",), ("julia",), None, Limits(wall_s=5.0, cpu_s=5.0).over(_D), "main.jl", run=["julia"],
             install="install Julia (julialang.org) and put `julia` on PATH"),
    Language("lua", (), ("lua5.3",), "lua5.3 lua-unit", _D, "main.lua", run=["lua5.3"],
             end_summary=r"^Ran \d+ tests in [\d.]+ seconds, \d+ successe?s?, 0 failures"),
    Language("php", (), ("php",), "php-cli", _D, "main.php", run=["php"], etc=("/etc/php",),
             end='echo getenv("CODEJA_END"), "\\n";'),
    Language("perl", ("pl",), ("perl",), "perl libtest-deep-perl", _D, "main.pl", run=["perl"],
             end='print "$ENV{CODEJA_END}\\n";'),
    Language("r", (), ("Rscript",), "r-base-core", Limits(wall_s=5.0, cpu_s=5.0).over(_D), "main.r", run=["Rscript"],
             etc=("/etc/R",), end='cat(Sys.getenv("CODEJA_END"), "\\n", sep = "")'),
    Language("ruby", ("rb",), ("ruby",), "ruby", Limits(wall_s=5.0, cpu_s=5.0).over(_D), "main.rb", run=["ruby"],
             end_summary=r"^\d+ tests, \d+ assertions, 0 failures, 0 errors"),
    Language("racket", ("rkt",), ("racket",), "racket", _D, "main.rkt", run=["racket"], etc=("/etc/racket",),
             end='(displayln (getenv "CODEJA_END"))'),
    Scala("scala", (), ("scalac", "java"), "scala", Limits(compile_wall_s=90.0, processes=256).over(_D), "main.scala",
          compile=["scalac", *(f"-J{f}" for f in JVM_FLAGS), "-encoding", "UTF-8", "-d", "{build}", "{src}"]),
    Compiled("swift", (), ("swiftc",), None, Limits(wall_s=5.0, cpu_s=5.0, compile_wall_s=45.0).over(_D),
             "main.swift", compile=["swiftc", "{src}", "-o", "{build}/main"], run=["{build}/main"],
             install="install a Swift toolchain (swift.org) and put `swiftc` on PATH"),
]

#: name -> Language, aliases included
LANGUAGES: dict[str, Language] = {}
for _lang in LANGUAGE_LIST:
    for _n in (_lang.name, *_lang.aliases):
        LANGUAGES[_n] = _lang


def get_language(name: str) -> Language:
    lang = LANGUAGES.get(name.lower().strip())
    if lang is None:
        raise InputError(f"unknown language '{name}'; known: {', '.join(lg.name for lg in LANGUAGE_LIST)} "
                         f"(aliases: {', '.join(a for lg in LANGUAGE_LIST for a in lg.aliases)})", field="language")
    return lang


def toolchain_available(language: str) -> bool:
    """Whether the compiler / interpreter for ``language`` is installed (``make setup`` installs them)."""
    return get_language(language).available()
