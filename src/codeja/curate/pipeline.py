"""The curation pipeline on datatrove: stages, executors, accounting, stats.

Stages (each a datatrove executor with its own logging folder under ``logs/``, so an interrupted run resumes from
the tasks that completed; never change ``executor.tasks`` between reruns):

1. ``filter``   read all sources (bad rows -> quarantine/) -> language ID -> Japanese quality -> code heuristics
                -> lint signals -> placeholder -> decontamination -> [PII] -> work/filtered/ (or kept/)
2. ``exact_*``  datatrove exact dedup (signature, find, filter) on whitespace-normalised text -> work/exact/
3. ``minhash_*``datatrove MinHash (signature with the char-n-gram tokenizer, buckets, cluster, filter) -> kept/

Every output file is written per task with a deterministic name and content (no gzip timestamps), so a rerun of a
killed task rewrites the same bytes. At the end, :func:`account` checks in = kept + removed + quarantined from the
files on disk against the readers' raw record counts, and ``stats.json`` gets per-filter counts, bytes and examples.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from codeja.curate.config import CurateConfig, ExecutorConfig
from codeja.errors import CodejaError
from codeja.io import iter_jsonl
from codeja.runs import STATS, stage_run, write_json

KEPT, REMOVED, QUARANTINE, WORK, LOGS = "kept", "removed", "quarantine", "work", "logs"


def _kept_adapter(self, doc) -> dict:
    return {"id": doc.id, "text": doc.text, "metadata": doc.metadata}


def _removed_adapter(filter_name: str, reason: str):
    """Adapter for datatrove's dedup steps, which drop documents without saying why."""

    def adapt(self, doc) -> dict:
        meta = dict(doc.metadata)
        meta.setdefault("removed_by", filter_name)
        meta.setdefault("filter_reason", reason)
        return {"id": doc.id, "text": doc.text, "metadata": meta}

    return adapt


def _writer(folder: Path, adapter=_kept_adapter):
    # heavy: datatrove, codeja.curate.filters (kept out of light imports)
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    return JsonlWriter(str(folder), output_filename="${rank}.jsonl", compression=None, adapter=adapter)


def normalized_text(doc) -> bytes:
    """Exact-dedup key: whitespace-normalised text as bytes (datatrove's xxhash functions take bytes)."""
    return " ".join(doc.text.split()).encode("utf-8", "surrogatepass")


def make_executor(ex: ExecutorConfig, pipeline: list, logging_dir: Path, tasks: int, depends=None,
                  name: str = "curate"):
    """The configured datatrove executor for one stage (local by default; slurm and ray need their extras)."""
    if ex.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        # workers=-1 means one per CPU core (datatrove's own default is one per task: 14 bucket processes on 2 cores)
        workers = min(ex.workers if ex.workers > 0 else (os.cpu_count() or 1), tasks)
        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers,
                                     logging_dir=str(logging_dir), depends=depends, start_method=ex.start_method)
    if ex.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(pipeline=pipeline, tasks=tasks, time=ex.time, partition=ex.partition,
                                     logging_dir=str(logging_dir), depends=depends, job_name=f"codeja-{name}",
                                     cpus_per_task=ex.cpus_per_task, mem_per_cpu_gb=ex.mem_per_cpu_gb,
                                     sbatch_args=ex.sbatch_args or None, venv_path=ex.venv_path)
    try:
        from datatrove.executor import RayPipelineExecutor
    except ImportError as e:
        raise CodejaError(f"executor.kind=ray needs ray: pip install 'datatrove[ray]' ({e})") from None
    return RayPipelineExecutor(pipeline=pipeline, tasks=tasks, logging_dir=str(logging_dir), depends=depends,
                               cpus_per_task=ex.cpus_per_task, mem_per_cpu_gb=ex.mem_per_cpu_gb)


def build_stages(cfg: CurateConfig, out: Path) -> list[tuple[str, Any]]:
    """(name, executor) in run order; each executor depends on the previous one (for Slurm/Ray chaining)."""
    from codeja.curate import filters as F
    from codeja.curate.readers import make_reader

    ex, tasks = cfg.executor, cfg.executor.tasks
    dedup = cfg.dedup.enabled and (cfg.dedup.exact or cfg.dedup.minhash)
    filtered = out / WORK / "filtered" if dedup else out / KEPT
    def rm(name):
        return _writer(out / REMOVED / name)

    steps: list = [make_reader(s, cfg.quarantine.max_doc_bytes, cfg.progress) for s in cfg.sources]
    steps.append(F.QuarantineGate(exclusion_writer=_writer(out / QUARANTINE)))
    for section, filter_cls in F.FILTERS.items():
        section_cfg = getattr(cfg, section)
        if section_cfg.enabled:
            steps.append(filter_cls(section_cfg, exclusion_writer=rm(filter_cls.filter_name)))
    if cfg.pii.enabled:
        steps.append(F.PIIRedactor(cfg.pii))
    steps.append(_writer(filtered))

    stages: list[tuple[str, Any]] = []

    def add(name: str, pipeline: list, n: int):
        prev = stages[-1][1] if stages else None
        stages.append((name, make_executor(ex, pipeline, out / LOGS / name, n, depends=prev, name=name)))

    add("filter", steps, tasks)
    if not dedup:
        return stages
    from datatrove.pipeline.readers import JsonlReader

    def reread(folder: Path):
        return JsonlReader(str(folder), glob_pattern="*.jsonl", compression=None, add_file_path=False)

    current = filtered
    if cfg.dedup.exact:
        from datatrove.pipeline.dedup.exact_dedup import (
            ExactDedupConfig,
            ExactDedupFilter,
            ExactDedupSignature,
            ExactFindDedups,
        )

        ecfg = ExactDedupConfig(content_getter=normalized_text)
        sigs, dups = out / WORK / "exact_sigs", out / WORK / "exact_dups"
        target = out / WORK / "exact" if cfg.dedup.minhash else out / KEPT
        add("exact_signature", [reread(current), ExactDedupSignature(str(sigs), ecfg)], tasks)
        add("exact_find", [ExactFindDedups(str(sigs), str(dups), ecfg)], 1)
        add("exact_filter", [reread(current), ExactDedupFilter(str(dups), ecfg, exclusion_writer=_writer(
            out / REMOVED / "exact_dedup", _removed_adapter("exact_dedup", "exact_duplicate"))),
            _writer(target)], tasks)
        current = target
    if cfg.dedup.minhash:
        from datatrove.pipeline.dedup.minhash import (
            MinhashConfig,
            MinhashDedupBuckets,
            MinhashDedupCluster,
            MinhashDedupFilter,
            MinhashDedupSignature,
        )
        from datatrove.utils.hashing import HashConfig

        from codeja.curate.japanese import CharNgramTokenizer

        mcfg = MinhashConfig(n_grams=cfg.dedup.n_grams, num_buckets=cfg.dedup.num_buckets,
                             hashes_per_bucket=cfg.dedup.hashes_per_bucket, seed=cfg.dedup.seed,
                             # sha1: datatrove's xxhash wrapper passes str, which xxhash>=4 rejects
                             hash_config=HashConfig(precision=64, hash_fc="sha1"))
        base = out / WORK / "minhash"
        add("minhash_signature", [reread(current), MinhashDedupSignature(str(base / "sigs"), mcfg,
                                                                        language=CharNgramTokenizer())], tasks)
        add("minhash_buckets", [MinhashDedupBuckets(str(base / "sigs"), str(base / "buckets"), config=mcfg)],
            cfg.dedup.num_buckets)
        add("minhash_cluster", [MinhashDedupCluster(str(base / "buckets"), str(base / "remove"), config=mcfg)], 1)
        add("minhash_filter", [reread(current), MinhashDedupFilter(str(base / "remove"), exclusion_writer=_writer(
            out / REMOVED / "minhash_dedup", _removed_adapter("minhash_dedup", "near_duplicate"))),
            _writer(out / KEPT)], tasks)
    return stages


# ---------------------------------------------------------------------------------------------------------------
# accounting and stats


def _jsonl_rows(folder: Path):
    for f in sorted(folder.rglob("*.jsonl")):
        for _, obj in iter_jsonl(f):
            yield f, obj


def records_in(out: Path) -> int:
    """Raw records the readers saw, from the filter stage's per-task datatrove stats."""
    total = 0
    for f in sorted((out / LOGS / "filter" / "stats").glob("*.json")):
        for step in json.loads(f.read_text()):
            stat = step.get("stats", {}).get("records_in")
            if stat:
                total += int(stat["total"] if isinstance(stat, dict) else stat)
    return total


def compute_stats(out: Path, examples_per_reason: int = 3) -> dict[str, Any]:
    """Counts and bytes per filter and reason, with examples, read back from kept/, removed/ and quarantine/."""
    kept = Counter()
    for _, row in _jsonl_rows(out / KEPT):
        kept["docs"] += 1
        kept["bytes"] += len(row["text"].encode("utf-8", "surrogatepass"))
    removed: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"docs": 0, "bytes": 0, "reasons": Counter(), "examples": defaultdict(list)})
    for f, row in _jsonl_rows(out / REMOVED):
        meta = row.get("metadata", {})
        name = meta.get("removed_by") or f.parent.name
        reason = meta.get("filter_reason", "unspecified")
        r = removed[name]
        r["docs"] += 1
        r["bytes"] += len(row["text"].encode("utf-8", "surrogatepass"))
        r["reasons"][reason] += 1
        if len(r["examples"][reason]) < examples_per_reason:
            r["examples"][reason].append({"id": row["id"], "match": meta.get("filter_match"),
                                          "text": row["text"][:300]})
    quarantined, q_reasons, q_examples = 0, Counter(), []
    for _, row in _jsonl_rows(out / QUARANTINE):
        q = row.get("metadata", {}).get("quarantine", {})
        quarantined += 1
        reason = str(q.get("reason", "")).split(":")[0]
        q_reasons[reason] += 1
        if len(q_examples) < max(examples_per_reason, 5):
            q_examples.append(q)
    n_in = records_in(out)
    n_removed = sum(r["docs"] for r in removed.values())
    return {
        "in": n_in,
        "kept": dict(kept) or {"docs": 0, "bytes": 0},
        "removed": {k: {"docs": v["docs"], "bytes": v["bytes"], "reasons": dict(v["reasons"]),
                        "examples": dict(v["examples"])} for k, v in sorted(removed.items())},
        "removed_total": n_removed,
        "quarantined": {"docs": quarantined, "reasons": dict(q_reasons), "examples": q_examples},
        "balanced": n_in == kept["docs"] + n_removed + quarantined,
    }


def account(stats: dict[str, Any]) -> None:
    """in = kept + removed (per reason) + quarantined; raise when a document vanished or appeared."""
    kept, rem, q = stats["kept"]["docs"], stats["removed_total"], stats["quarantined"]["docs"]
    if stats["in"] != kept + rem + q:
        raise CodejaError(f"curate accounting failed: in={stats['in']} != kept {kept} + removed {rem} "
                          f"+ quarantined {q}")


def input_fingerprints(cfg: CurateConfig, out: Path) -> list[Path]:
    """What the manifest hashes as inputs: per source, a listing of the files it actually reads with their sha256
    (the stdlib folder holds site-packages: gigabytes), or a Hub dataset's pinned commit, written to work/inputs/."""
    from codeja.curate.readers import make_reader

    return [make_reader(src, cfg.quarantine.max_doc_bytes).fingerprint(out / WORK / "inputs") for src in cfg.sources]


def run_curate(cfg: CurateConfig, output_dir: str | Path) -> dict[str, Any]:
    """Run (or resume, or skip when complete) the curation into ``output_dir``; returns the stats dict."""
    from codeja.curate.readers import check_sources

    out = Path(output_dir)
    check_sources(cfg)  # a field mapping that does not fit the data is one error now, not N quarantined rows later
    inputs = input_fingerprints(cfg, out)
    with stage_run(out, "curate", cfg, inputs=inputs, seeds={"lint": cfg.lint.seed, "minhash": cfg.dedup.seed}) as run:
        if run.skipped:
            return json.loads((out / STATS).read_text(encoding="utf-8"))
        stages = build_stages(cfg, out)
        # datatrove's completion markers are the resume units: tasks finished before an interruption are skipped
        done = {name: len(list((out / LOGS / name / "completions").glob("*")))
                for name, _ in stages if (out / LOGS / name / "completions").is_dir()}
        if any(done.values()):
            run.record(resumed_from={k: v for k, v in done.items() if v})
        if cfg.executor.kind == "local":
            for name, executor in stages:
                if name != "filter" and not any((out / WORK / "filtered").glob("*.jsonl")):
                    break  # every document was removed or quarantined: nothing to deduplicate
                executor.run()
        else:
            stages[-1][1].run()  # slurm / ray: launching the last stage submits the chain through `depends`
            run.record(submitted=[name for name, _ in stages])
            return {"submitted": [name for name, _ in stages]}
        stats = compute_stats(out, cfg.examples_per_reason)
        q_share = stats["quarantined"]["docs"] / max(stats["in"], 1)
        write_json(out / STATS, stats)
        account(stats)
        if q_share > cfg.quarantine.max_fraction:
            raise CodejaError(f"curate: {q_share:.1%} of the input was quarantined (> quarantine.max_fraction "
                              f"{cfg.quarantine.max_fraction}); see {out / QUARANTINE}")
        run.record(counts={"in": stats["in"], "kept": stats["kept"]["docs"], "removed": stats["removed_total"],
                           "quarantined": stats["quarantined"]["docs"]})
        return stats
