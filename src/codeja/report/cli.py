"""``codeja report RUN_DIR``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(root: typer.Typer) -> None:
    root.command("report")(report)


def report(run_dir: Path = typer.Argument(..., help="A run directory written by `codeja run`.")) -> None:
    """Write report.html (self-contained) and report.md for a run; prints the HTML path."""
    from codeja.report.build import write_report

    typer.echo(write_report(run_dir))
