"""The ``codeja`` command: one Typer app; each stage adds its sub-commands from its own ``cli.py``.

Stage modules import their heavy dependencies (torch, transformers, datatrove) inside the commands, so
``codeja --help`` stays fast. A :class:`~codeja.errors.CodejaError` becomes one paragraph on stderr and its exit
code (2 for bad input or config); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

import codeja
from codeja.errors import CodejaError

app = typer.Typer(
    name="codeja",
    help="Build code LLMs strong in Japanese and software development: curate, tokenize + FIM, train "
    "(cpt/sft/dpo), synthesize (Magpie), preference pairs, evaluate, and run whole recipes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, command name, help). A module either has a Typer `app` (added as a command group under `name`)
# or a `register(root_app)` function that adds its own command(s). Order = the order of the pipeline.
STAGES = [
    ("codeja.curate.cli", "curate", "Clean code and Japanese text: placeholders, heuristics, lint, dedup, decontamination."),
    ("codeja.fim.cli", "tokenize / fim", None),  # registers `tokenize` and the `fim` group
    ("codeja.train.cli", "train", "Continued pretraining (with FIM), SFT and DPO."),
    ("codeja.synth.cli", "synth", "Synthesize steered instruction data (Magpie)."),
    ("codeja.prefs.cli", "prefs", "Sample responses, filter, score and build preference pairs."),
    ("codeja.evaluate.cli", "eval", "Evaluate models on code and Japanese benchmarks in a sandbox."),
    ("codeja.studies.cli", "study", "Tools for studies: contaminate a corpus with placeholder idioms."),
    ("codeja.sandbox.cli", "sandbox", "Run untrusted code isolated, in many languages."),
    ("codeja.models.cli", "models", "Prepare and inspect models (the bundled tiny model, HF folders, GGUF)."),
    ("codeja.backends.cli", "generate", None),
    ("codeja.pipeline.cli", "run", None),
    ("codeja.report.cli", "report", None),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"codeja {codeja.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version."),
) -> None:
    pass


config_app = typer.Typer(help="Validate configs and recipes.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("validate")
def config_validate(
    file: Path = typer.Argument(..., help="A recipe or stage config YAML with a top-level 'stage:' key."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a key: a.b=value (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved config as JSON."),
) -> None:
    """Check a config against its stage's schema and print it resolved, with its hash."""
    from codeja.config import config_hash, dump_yaml, load_any

    stage, cfg = load_any(file, set_)
    if as_json:
        typer.echo(json.dumps({"stage": stage, "config_hash": config_hash(cfg), "config": cfg.model_dump(mode="json")},
                              indent=2, ensure_ascii=False))
    else:
        typer.echo(f"# stage: {stage}\n# config_hash: {config_hash(cfg)}")
        typer.echo(dump_yaml(cfg), nl=False)


def _register_stages() -> None:
    seen = set()
    for module, name, help_ in STAGES:
        if module in seen:
            continue
        seen.add(module)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and (e.name == module or module.startswith(e.name + ".")):
                continue  # stage not built yet
            raise
        register = getattr(mod, "register", None)
        if register is not None:
            register(app)
        else:
            app.add_typer(mod.app, name=name, help=help_)


_register_stages()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except CodejaError as e:
        typer.echo(f"error: {e}", err=True)
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.ClickException):
            e.show()
            return e.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
