"""``codeja sandbox run``: run one file in the sandbox and print the result."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.errors import ConfigError, InputError
from codeja.sandbox import Limits, get_language, run

app = typer.Typer(help="Run untrusted code isolated, in many languages.", no_args_is_help=True)


def sandbox_run(file: Path, lang: str, timeout: float | None = None, memory: int | None = None,
                stdin_file: Path | None = None, require_isolation: bool = False, args: tuple[str, ...] = (),
                compile_timeout: float | None = None):
    """The function behind ``codeja sandbox run``: read the files, run, return the SandboxResult."""
    get_language(lang)  # an unknown language is reported before anything is read

    def read(p: Path, what: str) -> str:
        try:
            return p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{what} not found", path=str(p)) from None
        except UnicodeDecodeError as e:
            raise InputError(f"{what} is not valid UTF-8 ({e.reason} at byte {e.start})", path=str(p)) from None
        except OSError as e:
            raise InputError(f"cannot read {what}: {e.strerror}", path=str(p)) from None

    source = read(file, "source file")
    stdin = read(stdin_file, "stdin file") if stdin_file else None
    limits = Limits(wall_s=timeout, cpu_s=timeout, memory_mb=memory, compile_wall_s=compile_timeout)
    return run(source, lang, stdin=stdin, args=args, limits=limits, require_isolation=require_isolation)


@app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="The program's source file."),
    lang: str = typer.Option(..., "--lang", "-l", help="python, javascript, typescript, java, cpp, go, rust, bash "
                             "(or py, js, ts, c++, rs, sh)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Wall and CPU seconds (default: per language)."),
    memory: int | None = typer.Option(None, "--memory", help="Memory limit in MB for the program as a whole, and for "
                                      "its compile step (default 2048)."),
    compile_timeout: float | None = typer.Option(None, "--compile-timeout",
                                                 help="Wall seconds for the compile step (default: per language)."),
    stdin: Path | None = typer.Option(None, "--stdin", help="A file to feed on stdin."),
    require_isolation: bool = typer.Option(False, "--require-isolation",
                                           help="Refuse to run without bubblewrap isolation."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    args: list[str] | None = typer.Argument(None, help="Arguments for the program (after --)."),
) -> None:
    """Run FILE in the sandbox. Exits 0 whatever the program did; non-zero only when codeja itself fails."""
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout {timeout}: must be > 0 seconds")
    if compile_timeout is not None and compile_timeout <= 0:
        raise ConfigError(f"--compile-timeout {compile_timeout}: must be > 0 seconds")
    if memory is not None and memory < 1:
        raise ConfigError(f"--memory {memory}: must be >= 1 MB")
    r = sandbox_run(file, lang, timeout, memory, stdin, require_isolation, tuple(args or ()), compile_timeout)
    if as_json:
        typer.echo(json.dumps(r.as_dict(), ensure_ascii=False))
    else:
        typer.echo(f"status: {r.status}  exit: {r.exit_code}  wall: {r.wall_s:.3f}s  cpu: {r.cpu_s:.3f}s  "
                   f"peak: {r.peak_memory_mb:.0f} MB  isolation: {r.isolation}  limits: {r.resource_control}")
        if r.compile_status:
            typer.echo(f"compile: {r.compile_status}")
        for name, text in (("stdout", r.stdout), ("stderr", r.stderr or r.compile_stderr), ("detail", r.detail)):
            if text:
                typer.echo(f"--- {name}\n{text.rstrip()}")
