"""The ``codeja`` command: one Typer app; each stage adds its sub-commands from its own ``cli.py``.

Stage modules import their heavy dependencies (torch, transformers, datatrove) inside the commands, so
``codeja --help`` stays fast.

One error path for every command (:func:`main`):

* a usage mistake (unknown command or option, a missing or mistyped value) prints the command's ``Usage:`` line
  and one ``error:`` line, exit 2;
* a :class:`~codeja.errors.CodejaError` (bad config, bad input, unknown model / benchmark / backend) prints
  ``error: <message>``, exit 2 for bad input or config, 1 otherwise;
* Ctrl-C prints ``interrupted; rerun the same command to resume``, exit 130 (every stage keeps what it finished);
* anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from typer.core import TyperOption

import codeja
from codeja.backends import cli as backends_cli
from codeja.config import config_hash, dump_yaml
from codeja.curate import cli as curate_cli
from codeja.errors import CodejaError
from codeja.evaluate import cli as evaluate_cli
from codeja.fim import cli as fim_cli
from codeja.models import cli as models_cli
from codeja.pipeline import cli as pipeline_cli
from codeja.prefs import cli as prefs_cli
from codeja.report import cli as report_cli
from codeja.sandbox import cli as sandbox_cli
from codeja.studies import cli as studies_cli
from codeja.synth import cli as synth_cli
from codeja.train import cli as train_cli

app = typer.Typer(
    name="codeja",
    help="Build code LLMs strong in Japanese and software development: curate, tokenize + FIM, train "
    "(cpt/sft/dpo), synthesize (Magpie), preference pairs, evaluate, and run whole recipes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

def _plain_option_types() -> None:
    """Help shows a value's type only where there is a value: no ``<bool>`` on flags, ``<str>`` (not
    ``<list[str]>``) on repeatable options, whose help says "repeatable". typer 0.29 has no setting for this."""
    if getattr(TyperOption, "_codeja_plain_types", False) or not hasattr(TyperOption, "display_type_rich"):
        return
    original = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        if self.metavar is None and (self.is_flag or self.count):
            return None
        shown = original(self, ctx)
        if isinstance(shown, str) and shown.startswith("<list[") and shown.endswith("]>"):
            return "<" + shown[len("<list["):-2] + ">"
        return shown

    TyperOption.display_type_rich = display_type_rich
    TyperOption._codeja_plain_types = True


_plain_option_types()

# The command groups, in pipeline order: a module with a Typer `app` (its help is the group's help) is added
# under its name; one with `register(root_app)` adds its own command(s).
COMMANDS = [
    ("curate", curate_cli),
    ("tokenize / fim", fim_cli),  # registers `tokenize` and the `fim` group
    ("train", train_cli),
    ("synth", synth_cli),
    ("prefs", prefs_cli),
    ("eval", evaluate_cli),
    ("study", studies_cli),
    ("sandbox", sandbox_cli),
    ("models", models_cli),
    ("generate", backends_cli),
    ("run", pipeline_cli),
    ("report", report_cli),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"codeja {codeja.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show libraries' own logs (datatrove, Trainer, "
                                 "megatron-core); also CODEJA_VERBOSE=1."),
) -> None:
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.log import VERBOSE_ENV, quiet_libraries

    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # inherited by workers and subprocesses
    quiet_libraries()


config_app = typer.Typer(help="Validate configs and recipes.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("validate")
def config_validate(
    file: Path = typer.Argument(..., help="A recipe or stage config YAML with a top-level 'stage:' key."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a key: a.b=value (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved config as JSON."),
) -> None:
    """Check a config against its stage's schema and print it resolved, with its hash."""
    from codeja.pipeline.recipe import load_any  # imports every stage's module: only when a file is validated

    stage, cfg = load_any(file, set_)
    if as_json:
        typer.echo(json.dumps({"stage": stage, "config_hash": config_hash(cfg), "config": cfg.model_dump(mode="json")},
                              indent=2, ensure_ascii=False))
    else:
        typer.echo(f"# stage: {stage}\n# config_hash: {config_hash(cfg)}")
        typer.echo(dump_yaml(cfg), nl=False)


def _register_commands() -> None:
    for name, module in COMMANDS:
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
        else:
            app.add_typer(module.app, name=name)


_register_commands()


# Exit codes: 2 = bad usage / input / config, 130 = interrupted (the shell's code for SIGINT).
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def _usage_error_classes() -> tuple[type, ...]:
    """The usage-error base classes in play: typer >= 0.29 bundles its own click (``typer._click``); older typer,
    and anything that raises the separate ``click`` package's exceptions, use ``click``."""
    classes: list[type] = []
    try:
        from typer._click.exceptions import ClickException

        classes.append(ClickException)
    except ImportError:
        pass
    try:
        import click

        classes.append(click.ClickException)
    except ImportError:
        pass
    return tuple(classes)


def _show_usage_error(e: Exception) -> int:
    """``Usage: codeja eval run [OPTIONS]`` and one ``error:`` line naming the option; returns the exit code."""
    ctx = getattr(e, "ctx", None)
    if type(e).__name__ == "NoArgsIsHelpError":  # `codeja eval` alone: the help is the answer
        typer.echo(e.format_message(), err=True)
        return e.exit_code
    if ctx is not None:
        typer.echo(ctx.get_usage(), err=True)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    typer.echo(f"error: {e.format_message()}{hint}", err=True)
    return e.exit_code


def _interrupted() -> int:
    typer.echo("\ninterrupted; rerun the same command to resume (finished work is kept)", err=True)
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Run the ``codeja`` command; returns the exit code (see the module docstring)."""
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="codeja")
    except CodejaError as e:
        typer.echo(f"error: {e}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:  # older click turns Ctrl-C into Abort
        return _interrupted()
    except Exception as e:
        if isinstance(e, _usage_error_classes()):
            return _show_usage_error(e)
        from pydantic import ValidationError

        if isinstance(e, ValidationError):  # a config model validated outside codeja.config: still one paragraph
            typer.echo(f"error: {e.title}: " + "; ".join(
                f"{'.'.join(map(str, err['loc'])) or '<top>'}: {err['msg']}" for err in e.errors()), err=True)
            return EXIT_USAGE
        raise
    # Without standalone mode, typer turns Ctrl-C (KeyboardInterrupt) into Exit(130) and returns the code.
    if rv == EXIT_INTERRUPTED:
        return _interrupted()
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
