"""``codeja report FOLDER``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(root: typer.Typer) -> None:
    root.command("report")(report)


def report(run_dir: Path = typer.Argument(..., help="Any codeja output folder: a run (`codeja run`), a run with "
                                          "variants, an eval output, a curate output, one stage's output, or a "
                                          "folder holding several.")) -> None:
    """Write report.html (self-contained) and report.md for a run or any output folder; prints the HTML path."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.report.build import write_report

    typer.echo(write_report(run_dir))
