"""``codeja run RECIPE.yaml``: the whole pipeline, resumable, with a report at the end."""

from __future__ import annotations

from pathlib import Path

import typer

from codeja.errors import ConfigError


def register(root: typer.Typer) -> None:
    root.command("run")(run)


def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML (e.g. recipes/tiny.yaml)."),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="Run directory (default: runs/<recipe name>)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a recipe key: a.b=value (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (what would run, skip or resume) and "
                                 "check what every stage needs (models, data, extras, names); run nothing."),
    from_stage: str | None = typer.Option(None, "--from", help="Start at this stage (earlier ones must be done)."),
    until_stage: str | None = typer.Option(None, "--until", help="Stop after this stage."),
    variant: list[str] | None = typer.Option(None, "--variant", help="Run only these ablation variants."),
) -> None:
    """Run the stages a recipe names, in order; skip stages that are up to date; resume interrupted ones."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.pipeline.runner import load_recipe, run_recipe

    rec = load_recipe(recipe, set_)
    out = run_dir or Path("runs") / rec.name
    res = run_recipe(rec, out, dry_run=dry_run, from_stage=from_stage, until_stage=until_stage, variants=variant)
    if dry_run:
        errors = 0
        for vname, plans in res["plans"].items():
            typer.echo(f"# plan{'' if vname == 'main' else ' for variant ' + vname}: {res['run_dir']}")
            for p in plans:
                typer.echo(f"  {p.name:<12} {p.kind:<13} {p.action}")
            typer.echo("# preflight (what each stage needs)")
            for f in res["findings"][vname]:
                typer.echo(f"  {f.stage:<12} {f.level:<8} {f.message}")
            errors += sum(f.level == "error" for f in res["findings"][vname])
        if errors:
            raise ConfigError(f"preflight: {errors} problem(s) above; the run would fail. Fix them, then run again.")
        typer.echo("preflight: no problems found")
        return
    if res["report"]:
        typer.echo(f"report: {res['report']}")
