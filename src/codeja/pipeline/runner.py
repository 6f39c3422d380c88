"""``codeja run RECIPE``: run a recipe's stages in order, each in its own folder of the run directory.

Skipping and resuming work at two levels:

* Here, per stage: a stage's *fingerprint* is the hash of its resolved config and the fingerprints of the stages
  it references (a Merkle chain), so it changes when the stage's settings or anything upstream changes. A stage whose
  fingerprint matches a completed record in ``pipeline.json`` is skipped; its recorded result is reused.
* Inside a stage, each stage resumes from the work it had finished: most stage functions write through
  :func:`codeja.runs.stage_run` (curation shards, training checkpoints, generated rows); ``eval`` skips each
  (model, benchmark) cell whose manifest records the same settings; ``train.cpt`` with ``engine: megatron``
  restarts Megatron-LM from the last checkpoint in its ``--save`` folder.

Outputs are deterministic for a given config and seed, so a run killed mid-stage and rerun ends with the same files
as one that was never interrupted (tested in ``tests/pipeline``).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeja.config import canonical_json, load_config
from codeja.errors import CodejaError, ConfigError
from codeja.pipeline.preflight import preflight_recipe, raise_on_errors
from codeja.pipeline.recipe import (
    BUILTIN_REFS,
    PACKAGE_DIR,
    Recipe,
    StageSpec,
    _refs,
    interpolate,
    stage_config,
    variant_recipe,
)
from codeja.pipeline.stages import STAGES
from codeja.report.build import write_report
from codeja.runs import PIPELINE_STATE, RESULT, now_iso, read_json, write_json


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its finished children (sandbox runs, workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    return load_config(path, Recipe, overrides, stage="recipe")


@dataclass
class StagePlan:
    name: str
    kind: str
    # "run" | "skip" (up to date) | "resume" (interrupted) | "reused" (identical stage of another variant, linked)
    # | "disabled" | "outside --from/--until"
    action: str
    fingerprint: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    wall_s: float | None = None


class Pipeline:
    """One run directory, one recipe (or one variant of it)."""

    def __init__(self, recipe: Recipe, run_dir: str | Path, *, log: Callable[[str], None] = print,
                 shared: dict[str, tuple[Path, dict]] | None = None):
        self.recipe = recipe
        self.shared = shared  # fingerprint -> (stage dir, record) of stages completed by sibling variants
        self.run_dir = Path(run_dir).resolve()
        self.log = log
        self.state_path = self.run_dir / PIPELINE_STATE
        self.state: dict[str, Any] = read_json(self.state_path) if self.state_path.exists() else {"stages": {}}

    # -- references -------------------------------------------------------------------------------------------
    def stage_dir(self, name: str) -> Path:
        return self.run_dir / name

    def _resolve(self, ref: str, *, planning: bool) -> Any:
        if ref == "run_dir":
            return str(self.run_dir)
        head, _, key = ref.partition(".")
        if not key:
            return str(self.stage_dir(head))
        rec = self.state["stages"].get(head, {})
        result = rec.get("result") if rec.get("status") == "complete" else None
        if result is None:
            if planning:
                return f"<{ref}>"
            raise CodejaError(f"stage '{head}' has no result yet, needed for ${{{ref}}}")
        if key not in result:
            raise CodejaError(f"${{{ref}}}: stage '{head}' result has no key '{key}' (has: {', '.join(result)})")
        return result[key]

    def fingerprint(self, spec: StageSpec, planned: dict[str, str | None] | None = None) -> str:
        """Hash of the stage's config and its upstream stages' fingerprints (``planned`` ones first).

        References to other stages stay literal (``${cpt.model_path}``): what they point to is pinned by the
        upstream fingerprints, and the fingerprint does not depend on where the run directory is, so identical
        stages of two ablation variants share one fingerprint (and one computation).
        """
        upstream = sorted({r.split(".")[0] for r in _refs(spec.config)} - set(BUILTIN_REFS))
        planned = planned or {}
        ups = {u: planned[u] if u in planned else self.state["stages"].get(u, {}).get("fingerprint") for u in upstream}
        literal = interpolate(spec.config, lambda ref: self._builtin(ref) if ref.split(".")[0] in BUILTIN_REFS
                              and ref != "run_dir" else "${" + ref + "}")
        payload = canonical_json({"kind": spec.kind, "config": literal, "upstream": ups})
        return hashlib.sha256(payload.encode()).hexdigest()

    def _builtin(self, ref: str) -> Any:
        head, _, rest = ref.partition(".")
        return {"vars": lambda: self.recipe.vars[rest], "seed": lambda: self.recipe.seed,
                "package": lambda: str(PACKAGE_DIR)}[head]()

    # -- planning and running ---------------------------------------------------------------------------------
    def plan(self, *, from_stage: str | None = None, until_stage: str | None = None) -> list[StagePlan]:
        names = [s.name for s in self.recipe.stages]
        for opt, val in (("--from", from_stage), ("--until", until_stage)):
            if val and val not in names:
                raise ConfigError(f"{opt} {val}: no such stage (stages: {', '.join(names)})")
        lo = names.index(from_stage) if from_stage else 0
        hi = names.index(until_stage) if until_stage else len(names) - 1
        plans = []
        planned: dict[str, str | None] = {}
        for i, spec in enumerate(self.recipe.stages):
            if not spec.enabled:
                plans.append(StagePlan(spec.name, spec.kind, "disabled"))
                continue
            rec = self.state["stages"].get(spec.name, {})
            try:
                stage_config(self.recipe, spec, lambda r: self._resolve(r, planning=True),
                             source=f"stages.{spec.name}.config")
                fp = self.fingerprint(spec, planned)
            except CodejaError:
                fp = None
            planned[spec.name] = fp
            if not lo <= i <= hi:
                plans.append(StagePlan(spec.name, spec.kind, "outside --from/--until", fp, rec.get("result", {})))
            elif fp and rec.get("status") == "complete" and rec.get("fingerprint") == fp:
                plans.append(StagePlan(spec.name, spec.kind, "skip", fp, rec.get("result", {}), rec.get("wall_s")))
            elif rec.get("status") in {"running", "failed"}:
                plans.append(StagePlan(spec.name, spec.kind, "resume", fp))
            else:
                plans.append(StagePlan(spec.name, spec.kind, "run", fp))
        return plans

    def run(self, *, from_stage: str | None = None, until_stage: str | None = None) -> list[StagePlan]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state.update(recipe=self.recipe.model_dump(mode="json"), recipe_name=self.recipe.name)
        write_json(self.state_path, self.state)
        plans = self.plan(from_stage=from_stage, until_stage=until_stage)
        for p in plans:
            spec = next(s for s in self.recipe.stages if s.name == p.name)
            if p.action in {"disabled", "outside --from/--until"}:
                continue
            if p.action == "skip":
                self.log(f"[{p.name}] up to date, skipped")
                continue
            cfg = stage_config(self.recipe, spec, lambda r: self._resolve(r, planning=False),
                               source=f"stages.{spec.name}.config")
            p.fingerprint = self.fingerprint(spec)
            if self._reuse(p, spec):
                continue
            rec = {"kind": spec.kind, "fingerprint": p.fingerprint, "status": "running", "started_at": now_iso()}
            self.state["stages"][p.name] = rec
            write_json(self.state_path, self.state)
            self.log(f"[{p.name}] {'resuming' if p.action == 'resume' else 'running'} ({spec.kind})")
            t0, cpu0, load0 = time.monotonic(), _cpu_s(), _load()
            try:
                result = STAGES[spec.kind].run(cfg, self.stage_dir(p.name)) or {}
            except BaseException as e:
                rec.update(status="failed", error=f"{type(e).__name__}: {e}", wall_s=round(time.monotonic() - t0, 2))
                write_json(self.state_path, self.state)
                raise
            result = json.loads(json.dumps(result, default=str))
            p.result, p.wall_s = result, round(time.monotonic() - t0, 2)
            write_json(self.stage_dir(p.name) / RESULT, result)
            # CPU time and load beside the wall time: on a shared machine the wall time says little on its own
            rec.update(status="complete", result=result, wall_s=p.wall_s, cpu_s=round(_cpu_s() - cpu0, 1),
                       load_avg_1m=[load0, _load()], finished_at=now_iso())
            write_json(self.state_path, self.state)
            self.log(f"[{p.name}] done in {p.wall_s:.1f} s (CPU {rec['cpu_s']:.1f} s)")
            if self.shared is not None:
                self.shared[p.fingerprint] = (self.stage_dir(p.name), rec)
        return plans

    def _reuse(self, p: StagePlan, spec: StageSpec) -> bool:
        """Ablations: a stage identical to one another variant already computed is linked, not recomputed."""
        if self.shared is None or p.fingerprint not in self.shared or self.stage_dir(p.name).exists():
            return False
        src, src_rec = self.shared[p.fingerprint]
        self.stage_dir(p.name).symlink_to(os.path.relpath(src, self.run_dir))
        rec = {**src_rec, "reused_from": str(src)}
        self.state["stages"][p.name] = rec
        write_json(self.state_path, self.state)
        p.action, p.result, p.wall_s = "reused", rec.get("result", {}), 0.0
        self.log(f"[{p.name}] identical to {src}, reused")
        return True


def run_recipe(
    recipe: Recipe,
    run_dir: str | Path,
    *,
    dry_run: bool = False,
    from_stage: str | None = None,
    until_stage: str | None = None,
    variants: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or with ``dry_run`` only plan) a recipe and, when it has variants, each variant in ``run_dir/<variant>``.

    Returns ``{"run_dir", "plans": {variant: [StagePlan...]}, "findings": {variant: [preflight Finding...]},
    "report": path or None}``. A real run stops before its first stage when the preflight finds errors.
    """
    run_dir = Path(run_dir).resolve()
    runs: dict[str, tuple[Recipe, Path]] = {}
    if recipe.variants:
        for v in variants or list(recipe.variants):
            runs[v] = (variant_recipe(recipe, v), run_dir / v)
    else:
        runs["main"] = (recipe, run_dir)
    plans: dict[str, list[StagePlan]] = {}
    findings: dict[str, list] = {}
    shared: dict[str, tuple[Path, dict]] = {}
    # stages finished by earlier sessions of this run can be shared too, by any variant (`--variant` runs of one
    # recipe, one after the other or side by side, link what another variant already computed)
    for vdir in [run_dir / v for v in recipe.variants] or [run_dir]:
        if (vdir / PIPELINE_STATE).exists():
            for name, srec in read_json(vdir / PIPELINE_STATE)["stages"].items():
                if srec.get("status") == "complete" and not (vdir / name).is_symlink():
                    shared.setdefault(srec["fingerprint"], (vdir / name, srec))

    pipes = {vname: Pipeline(rec, vdir, log=(lambda m, v=vname: log(f"{v}: {m}")) if recipe.variants else log,
                             shared=shared if recipe.variants else None) for vname, (rec, vdir) in runs.items()}
    # every variant's stages are checked before the first stage of any starts
    findings = {vname: preflight_recipe(pipe) for vname, pipe in pipes.items()}
    if not dry_run:
        raise_on_errors(f for fs in findings.values() for f in fs)
    for vname, pipe in pipes.items():
        plans[vname] = (pipe.plan(from_stage=from_stage, until_stage=until_stage) if dry_run
                        else pipe.run(from_stage=from_stage, until_stage=until_stage))
    report = None
    if not dry_run and recipe.report:
        report = write_report(run_dir)
    return {"run_dir": str(run_dir), "plans": plans, "findings": findings, "report": report}
