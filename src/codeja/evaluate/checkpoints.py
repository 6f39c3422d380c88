"""Scores over training: a model argument that names a training run's checkpoints expands to one model per step.

``codeja eval run --model RUN/cpt`` evaluates every checkpoint a training stage saved: its
``checkpoints/checkpoint-N/`` folders (step N) and its final ``model/`` (the step in the stage's manifest, left
out when a checkpoint of that step exists: the same weights). A glob (``'RUN/cpt/checkpoints/checkpoint-*'``)
evaluates the folders it matches. Each expanded model is named ``<name>@step-<N>``, so every step gets its own
results set (``<output>/<name>@step-<N>/<benchmark>/``), and ``curves.json`` beside the comparison lists the scores
of each series by step (what ``codeja report`` draws next to the loss curves).

Any model can join a series by its name: ``model_names: [cpt@step-0]`` puts the starting model at step 0.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.evaluate.metrics import bootstrap_ci
from codeja.io import read_jsonl
from codeja.runs import MANIFEST, RESULTS, SAMPLES, read_json

STEP_NAME = re.compile(r"^(?P<series>.+)@step-(?P<step>\d+)$")
CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
GLOB_CHARS = set("*?[")
CURVES = "curves.json"


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate: its argument for the backend, its display name, and its place in a series."""

    arg: str
    name: str
    series: str | None = None
    step: int | None = None


def parse_step_name(name: str) -> tuple[str, int] | None:
    """``"cpt@step-40"`` -> ``("cpt", 40)``; None for a name outside any series."""
    m = STEP_NAME.match(name)
    return (m.group("series"), int(m.group("step"))) if m else None


def _is_model_dir(p: Path) -> bool:
    return (p / "config.json").is_file()


def is_training_run(p: Path) -> bool:
    """A training stage's output folder (``checkpoints/`` and/or ``model/``), or a ``checkpoints/`` folder."""
    if not p.is_dir() or _is_model_dir(p):
        return False
    return (p / "checkpoints").is_dir() or _is_model_dir(p / "model") or any(
        CHECKPOINT_DIR.match(c.name) for c in p.iterdir() if c.is_dir())


def _final_step(run: Path) -> int | None:
    """The step the run's final ``model/`` was saved at (its manifest's summary, as codeja's trainers write it)."""
    man = run / MANIFEST
    if not man.is_file():
        return None
    steps = (read_json(man).get("summary") or {}).get("steps")
    return int(steps) if isinstance(steps, int) else None


def _step_of(path: Path) -> int | None:
    m = CHECKPOINT_DIR.match(path.name)
    if m:
        return int(m.group(1))
    if path.name == "model":
        return _final_step(path.parent)
    return None


def run_checkpoints(run: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) for every saved model of a training run, by step; the final ``model/`` unless a checkpoint
    holds its step. A checkpoint folder without weights (``config.json``) is an error, not silently skipped."""
    run = Path(run)
    ckpt_root = run / "checkpoints" if (run / "checkpoints").is_dir() else run
    found: dict[int, Path] = {}
    for c in sorted(ckpt_root.iterdir()) if ckpt_root.is_dir() else []:
        m = CHECKPOINT_DIR.match(c.name)
        if not (m and c.is_dir()):
            continue
        if not _is_model_dir(c):
            raise InputError(f"{c}: a checkpoint folder without a model (no config.json); was it saved completely?")
        found[int(m.group(1))] = c
    final = run / "model"
    if _is_model_dir(final):
        step = _final_step(run)
        if step is None:
            raise InputError(f"{final}: cannot tell the step of the final model (no manifest.json with "
                             "summary.steps beside it); evaluate its checkpoints with a glob instead")
        found.setdefault(step, final)
    if not found:
        raise InputError(f"{run}: no saved checkpoints (checkpoint-N/ folders or model/) to evaluate; train with "
                         "save_steps > 0 (and save_total_limit high enough) to keep intermediate steps")
    return sorted(found.items())


def _glob_checkpoints(pattern: str) -> list[tuple[int, Path]]:
    found: dict[int, Path] = {}
    for hit in sorted(glob.glob(pattern)):
        p = Path(hit)
        if not _is_model_dir(p):
            continue
        step = _step_of(p)
        if step is None:
            raise InputError(f"--model '{pattern}': cannot tell the training step of {p} (expected checkpoint-N/ "
                             "folders, or a run's model/ with its manifest)")
        if step in found and found[step] != p:
            raise InputError(f"--model '{pattern}': two models at step {step}: {found[step]} and {p}")
        found[step] = p
    if not found:
        raise InputError(f"--model '{pattern}': the glob matches no model folder (with config.json)")
    return sorted(found.items())


def _series_name(arg: str) -> str:
    """Default name of a run's series: the training stage's folder (``runs/x/cpt`` -> ``cpt``)."""
    head = arg
    while GLOB_CHARS & set(Path(head).name) or Path(head).name in ("checkpoints", "model", ""):
        parent = str(Path(head).parent)
        if parent == head:
            break
        head = parent
    return Path(head).name or "model"


def expand_models(models: list[str], names: list[str] | None = None) -> list[ModelSpec]:
    """The models to evaluate, each training run or glob expanded into its checkpoints (one per step)."""
    names = list(names or [])
    if names and len(names) != len(models):
        raise InputError("model_names: need one name per model")
    out: list[ModelSpec] = []
    for i, arg in enumerate(models):
        given = names[i] if names else None
        text = str(arg)
        if GLOB_CHARS & set(text):
            steps = _glob_checkpoints(text)
        elif is_training_run(Path(text)):
            steps = run_checkpoints(text)
        else:
            name = given or (Path(text).name or text)
            parsed = parse_step_name(name)
            out.append(ModelSpec(text, name, *(parsed or (None, None))))
            continue
        series = given or _series_name(text)
        out += [ModelSpec(str(p), f"{series}@step-{step}", series, step) for step, p in steps]
    seen: dict[str, str] = {}
    for s in out:
        if s.name in seen:
            raise InputError(f"two models are both named '{s.name}' ({seen[s.name]} and {s.arg}); "
                             "give model_names")
        seen[s.name] = s.arg
    return out


def headline(cell: Path, *, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any] | None:
    """A cell's headline score with its bootstrap CI over tasks: pass@1 for code; for QA (NIILC) the character
    F1, whose CI is computed here from the per-question scores (results.json bootstraps exact match only)."""
    if not (cell / RESULTS).is_file():
        return None
    res = read_json(cell / RESULTS)
    if "char_f1" not in res:
        metric = res.get("metric", "pass@1")
        if not isinstance(res.get(metric), (int, float)):
            return None
        return {"metric": metric, "value": res[metric], "ci_low": res.get("ci_low"), "ci_high": res.get("ci_high"),
                "n_tasks": res.get("n_tasks")}

    sid = res.get("sanitizer_id")
    f1 = [(s["verdicts"].get(sid) or next(iter(s["verdicts"].values())))["char_f1"]
          for s in read_jsonl(cell / SAMPLES)]
    lo, hi = bootstrap_ci(f1, resamples=bootstrap, seed=seed)
    return {"metric": "char_f1", "value": res["char_f1"], "ci_low": lo, "ci_high": hi, "n_tasks": len(f1)}


def curves(specs: list[ModelSpec], cells: dict[str, dict[str, Path]], *, bootstrap: int = 1000,
           seed: int = 0) -> dict[str, Any]:
    """``{"series": {series: [{"step", "model", "scores": {benchmark: headline}}]}}`` for the models of a series
    (``cells``: model name -> benchmark -> result folder); models outside any series are left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in specs:
        if s.series is None:
            continue
        scores = {b: h for b, cell in (cells.get(s.name) or {}).items()
                  if (h := headline(cell, bootstrap=bootstrap, seed=seed)) is not None}
        out.setdefault(s.series, []).append({"step": s.step, "model": s.name, "scores": scores})
    for rows in out.values():
        rows.sort(key=lambda r: r["step"])
    return {"series": out}
