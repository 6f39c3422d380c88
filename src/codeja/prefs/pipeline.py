"""``codeja prefs run``: sample -> filter -> score -> build, each step in its own resumable folder.

    OUT/sample/       samples.jsonl + manifest.json            (sample_responses)
    OUT/candidates/   candidates.jsonl + manifest.json         (filter_and_score: the `prefs build` input format)
    OUT/              pairs.jsonl, sft.jsonl, dropped.jsonl, stats.json, plots, report.md/html, manifest.json

The same work as two recipe stages (so variants that differ only in pair building sample and score once):
``prefs.candidates`` (:func:`run_candidates`: OUT/sample/ + OUT/candidates/) and ``prefs.pairs``
(:func:`run_pairs`: the pair files in OUT/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from codeja.errors import ConfigError
from codeja.io import iter_jsonl, write_jsonl
from codeja.prefs.build import build_pairs
from codeja.prefs.config import BuildConfig, CandidatesConfig, PairsConfig, PrefsConfig
from codeja.prefs.execution import ExecutionRunner
from codeja.prefs.filters import FilterChain
from codeja.prefs.records import parse_instruction
from codeja.prefs.sample import sample_responses
from codeja.prefs.scorers import ScoreItem, Scorer, make_scorer
from codeja.runs import MANIFEST, REPORT_HTML, read_json, stage_run

CANDIDATES = "candidates.jsonl"
SCORE_CHUNK = 32  # instructions per filter+score unit (the resume unit)


def filter_and_score(cfg: CandidatesConfig, samples_path: str | Path, output_dir: str | Path, *,
                     progress: bool = True) -> Path:
    """Run the filter chain and the scorer over sampled responses; writes candidates.jsonl."""
    out = Path(output_dir)
    samples_path = str(samples_path)
    settings = {"filters": cfg.filters.model_dump(mode="json"), "scorer": cfg.scorer.model_dump(mode="json")}
    rows = []
    for line, obj in iter_jsonl(samples_path):
        inst = parse_instruction(obj, path=samples_path, line=line)
        rows.append((inst, obj.get("responses") or []))
    chunks = [rows[i:i + SCORE_CHUNK] for i in range(0, len(rows), SCORE_CHUNK)]
    with stage_run(out, "prefs.score", settings, inputs=[samples_path], seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return out / CANDIDATES

        ex = cfg.scorer.execution
        runner = ExecutionRunner(ex.timeout_s, ex.workers, ex.default_language, sanitizer=ex.sanitizer)
        chain = FilterChain.from_config(cfg.filters, runner)
        scorer: Scorer | None = None
        identity = run.manifest.get("scorer")
        for k, chunk in enumerate(tqdm(chunks, desc="prefs filter+score", unit="chunk", disable=not progress)):
            unit = f"chunk-{k:05d}"
            if run.is_done(unit):
                continue
            chain.apply(chunk)
            items = []
            for inst, records in chunk:
                alive = [r for r in records if r["passed_filters"]]
                for r in records:
                    if not r["passed_filters"]:
                        r["score"] = None  # unscored; survivors get theirs below (a supplied score is read first)
                if alive:
                    items.append(ScoreItem(inst.prompt, [r["text"] for r in alive], inst, alive))
            if items:
                if scorer is None:  # load a reward model only when something survived
                    scorer = make_scorer(cfg.scorer, runner)
                    identity = scorer.identity()
                for item, details in zip(items, scorer.score_many_detailed(items)):
                    for rec, detail in zip(item.records, details):
                        rec["score"] = detail.get("total", next(iter(detail.values())))
                        if len(detail) > 1:
                            rec["scores"] = detail
            write_jsonl(out / "parts" / f"{unit}.jsonl",
                        (inst.as_dict() | {"responses": records, "scorer": identity} for inst, records in chunk))
            run.mark_done(unit, filtered=dict(chain.counts))
        if scorer is not None:
            scorer.close()
        n = write_jsonl(out / CANDIDATES, (row for k in range(len(chunks))
                                           for _, row in iter_jsonl(out / "parts" / f"chunk-{k:05d}.jsonl")))
        run.record(scorer=identity, counts={"instructions": n, "filtered_this_session": dict(chain.counts)})
    return out / CANDIDATES


def run_candidates(cfg: CandidatesConfig, output_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Sample, filter and score (the ``prefs.candidates`` stage); returns the paths and counts."""
    out = Path(output_dir)
    samples = sample_responses(cfg, out / "sample", progress=progress)
    candidates = filter_and_score(cfg, samples, out / "candidates", progress=progress)
    manifest = read_json(out / "candidates" / MANIFEST)
    return {"samples_file": str(samples), "candidates_file": str(candidates),
            "instructions": manifest.get("counts", {}).get("instructions"), "scorer": manifest.get("scorer")}


def _pairs(candidates: str | Path, out: Path, cfg: BuildConfig, seed: int, config: Any, quarantine: bool,
           progress: bool) -> dict[str, Any]:
    stats = build_pairs(candidates, out, cfg.strategy, seed=seed, min_margin=cfg.min_margin,
                        allow_ties=cfg.allow_ties, chosen_min_pass_rate=cfg.chosen_min_pass_rate,
                        placeholder_rejected=cfg.placeholder_rejected, quarantine=quarantine, config=config,
                        progress=progress)
    return stats | {"pairs_file": str(out / "pairs.jsonl"), "sft_file": str(out / "sft.jsonl"),
                    "candidates_file": str(candidates), "report_file": str(out / REPORT_HTML)}


def run_pairs(cfg: PairsConfig, output_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Build pairs from a candidates file (the ``prefs.pairs`` stage); returns the stats plus the output paths."""
    if not cfg.candidates:
        raise ConfigError("candidates: set the candidates JSONL (e.g. ${candidates.candidates_file} in a recipe)")
    return _pairs(cfg.candidates, Path(output_dir), cfg.build, cfg.seed, cfg, cfg.quarantine, progress)


def run_prefs(cfg: PrefsConfig, output_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """The whole stage; returns the build stats plus the output paths (for recipes: ``${prefs.pairs_file}``)."""
    out = Path(output_dir)
    samples = sample_responses(cfg, out / "sample", progress=progress)
    candidates = filter_and_score(cfg, samples, out / "candidates", progress=progress)
    return _pairs(candidates, out, cfg.build, cfg.seed, cfg, False, progress)
