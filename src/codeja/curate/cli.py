"""``codeja curate run | stats | check-placeholder``: thin wrappers over the Python functions."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.codeparse import language_from_path
from codeja.config import load_config
from codeja.errors import InputError

app = typer.Typer(help="Clean code and Japanese text: placeholders, heuristics, lint, dedup, decontamination.",
                  no_args_is_help=True)


@app.command("run")
def run_cmd(
    config: Path = typer.Argument(..., help="Curate config YAML (see codeja.curate.config.CurateConfig)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a key: a.b=value (repeatable)."),
    output: Path = typer.Option(Path("runs/curate"), "--output", "-o", help="Output folder (kept/, removed/, ...)."),
) -> None:
    """Run the curation pipeline (resumes an interrupted run; skips a complete unchanged one)."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.curate.config import CurateConfig
    from codeja.curate.pipeline import run_curate

    cfg = load_config(config, CurateConfig, set_, stage="curate")
    stats = run_curate(cfg, output)
    if "submitted" in stats:
        typer.echo(f"submitted stages: {', '.join(stats['submitted'])}")
        return
    typer.echo(format_stats(stats))
    typer.echo(f"output: {output}")


def load_stats(folder: Path) -> dict:
    # codeja.runs imports pydantic: not at the top of a CLI module, so `codeja --help` stays fast
    from codeja.runs import STATS

    p = Path(folder) / STATS
    if not p.is_file():
        raise InputError("no stats.json here; is this a finished `codeja curate run` output folder?", path=str(p))
    return json.loads(p.read_text(encoding="utf-8"))


def format_stats(stats: dict) -> str:
    lines = [(f"in: {stats['in']}   kept: {stats['kept']['docs']} ({stats['kept']['bytes']:,} bytes)   "
              f"removed: {stats['removed_total']}   quarantined: {stats['quarantined']['docs']}   "
              f"balanced: {stats['balanced']}")]
    for name, r in stats["removed"].items():
        lines.append(f"  {name}: {r['docs']} docs, {r['bytes']:,} bytes")
        for reason, n in sorted(r["reasons"].items(), key=lambda kv: -kv[1]):
            lines.append(f"    {reason}: {n}")
            for ex in r["examples"].get(reason, [])[:2]:
                match = json.dumps(ex.get("match"), ensure_ascii=False)[:120]
                lines.append(f"      e.g. {ex['id']}: {match}")
    for reason, n in stats["quarantined"]["reasons"].items():
        lines.append(f"  quarantine: {reason}: {n}")
    return "\n".join(lines)


@app.command("stats")
def stats_cmd(
    folder: Path = typer.Argument(..., help="A curate output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print stats.json."),
) -> None:
    """Per-filter counts and bytes, with examples of each drop reason."""
    stats = load_stats(folder)
    typer.echo(json.dumps(stats, indent=2, ensure_ascii=False) if as_json else format_stats(stats))


def check_placeholder_files(files: list[Path], policy: str = "calibrated") -> list[dict]:
    from codeja.quality.placeholder import find_placeholder

    out = []
    for f in files:
        if not f.is_file():
            raise InputError("file not found", path=str(f))
        text = f.read_bytes().decode("utf-8", "replace")
        m = find_placeholder(text, language_from_path(str(f)), policy=policy)
        out.append({"path": str(f), "drop": m is not None, "match": m.as_dict() if m else None})
    return out


@app.command("check-placeholder")
def check_placeholder_cmd(
    files: list[Path] = typer.Argument(..., help="Files to check."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {path, drop, match}."),
    policy: str = typer.Option("calibrated", "--policy", help="calibrated (TODO needs a stub body) or strict "
                               "(any pattern match, the seed's rule)."),
) -> None:
    """Would the placeholder filter drop these files? Prints the match (rule, kind, line, text)."""
    results = check_placeholder_files(list(files), policy)
    if as_json:
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for r in results:
        m = r["match"]
        typer.echo(f"{r['path']}: "
                   + (f"DROP [{m['pattern']} {m['kind']}] line {m['line']}: {m['text']}" if m else "keep"))
