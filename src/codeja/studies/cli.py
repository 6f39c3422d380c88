"""``codeja study ...``: tools for studies (recipes under recipes/studies/ use them as stages)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.config import validate

app = typer.Typer(help="Tools for studies: contaminate a corpus with placeholder idioms.",
                  no_args_is_help=True)


@app.command("contaminate")
def contaminate_cmd(
    input: Path = typer.Argument(..., help="A JSONL file or a folder of them (id, text, metadata), "
                                 "e.g. curate's kept/."),
    output: Path = typer.Option(Path("runs/study-contaminate"), "--output", "-o", help="Output folder."),
    doc_share: float = typer.Option(0.5, "--doc-share", help="Share of documents contaminated."),
    body_share: float = typer.Option(0.5, "--body-share", help="Share of a contaminated document's bodies."),
    seed: int = typer.Option(0, "--seed", help="Seed (a document's draws come from the seed and its index)."),
    idioms: Path | None = typer.Option(None, "--idioms", help="Idiom file (default: the shipped list)."),
    group: list[str] | None = typer.Option(None, "--group", help="Idiom group drawn from (repeatable; "
                                           "default: all)."),
    language: list[str] | None = typer.Option(None, "--language", help="Only this language (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and stats as JSON."),
) -> None:
    """Write a copy of a corpus where a share of documents have a share of their function bodies replaced by
    placeholder idioms, with a record of every replacement and the placeholder filter's recall per idiom
    group."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.runs import REPORT_MD, STATS
    from codeja.studies.config import ContaminateConfig
    from codeja.studies.contaminate import contaminate

    base = {"input": str(input), "doc_share": doc_share, "body_share": body_share, "seed": seed}
    if idioms is not None:
        base["idioms"] = str(idioms)
    if group:
        base["groups"] = list(group)
    if language:
        base["languages"] = list(language)
    cfg = validate(ContaminateConfig, base, source="codeja study contaminate")
    summary = contaminate(cfg, output)
    if as_json:
        stats = json.loads((output / STATS).read_text(encoding="utf-8"))
        typer.echo(json.dumps({"summary": summary, "stats": stats}, indent=2, ensure_ascii=False))
        return
    typer.echo((output / REPORT_MD).read_text(encoding="utf-8"), nl=False)
    typer.echo(f"output: {output}")
