"""``study.sample``: a model's own completions of function prompts, ready for the preference stages.

Output folder::

    instructions.jsonl   {"id", "prompt": <completion prompt>, "language": "python",
                          "responses": [{"text", "finish_reason", "completion_tokens", "score", "verdict"}],
                          "meta": {"source_id", "function", "line", "reference"}}
    stats.json           prompts found / used, and the responses' verdicts (how often the model writes a stub)
    manifest.json

``prefs.candidates`` reads ``instructions.jsonl`` as it is (supplied responses are kept, nothing is
generated), filters them (its placeholder filter is what ``build.placeholder_rejected`` turns into rejected
answers) and scores them with the ``input`` scorer. The completion prompt is the prompt as the evaluation
presents it (:func:`completion_prompt`), so the pairs teach the model on the inputs it is measured on.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from codeja.backends.base import derive_seed
from codeja.errors import InputError
from codeja.io import iter_jsonl, write_jsonl
from codeja.runs import STATS, stage_run, write_json
from codeja.studies.config import StudySampleConfig
from codeja.studies.contaminate import document_language, input_files, read_lines
from codeja.studies.outputs import judge_body
from codeja.studies.prompts import function_prompts

INSTRUCTIONS = "instructions.jsonl"


def completion_prompt(prompt: str) -> str:
    """A function prompt as completion-mode evaluation sends it (eval's ``generation.prompt_tail: strip``, the
    default): without its trailing whitespace, so the model writes the newline and the body's indentation."""
    return prompt.rstrip()


def collect_prompts(cfg: StudySampleConfig) -> tuple[list[dict[str, Any]], int]:
    """(the ``limit`` prompts drawn, how many there were): Python documents' module-level functions."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ln in read_lines(input_files(cfg.corpus), "text"):
        if document_language(ln.doc) != "python":
            continue
        for fp in function_prompts(ln.text, min_docstring_chars=cfg.min_docstring_chars,
                                   max_body_lines=cfg.max_body_lines):
            pid = f"{ln.doc.get('id', ln.index)}#{fp.name}"
            if pid in seen:
                pid = f"{pid}@{fp.line}"
            seen.add(pid)
            found.append({"id": pid, "prompt": completion_prompt(fp.prompt), "language": "python",
                          "meta": {"source_id": ln.doc.get("id"), "function": fp.name, "line": fp.line,
                                   "reference": fp.reference}})
    found.sort(key=lambda p: (random.Random(derive_seed(cfg.seed, "study.sample", p["id"])).random(),
                              p["id"]))
    return found[: cfg.limit], len(found)


def score(prompt: str, completion: str) -> tuple[float, str]:
    """(1.0 if prompt + completion compiles and the body does something, else 0.0; the body's verdict)."""
    verdict = judge_body(completion).verdict
    try:
        compile(prompt + completion, "<completion>", "exec", dont_inherit=True)
        compiles = True
    except (SyntaxError, ValueError):
        compiles = False
    return (1.0 if compiles and verdict == "code" else 0.0), verdict


def sample_completions(cfg: StudySampleConfig, output_dir: str | Path, *,
                       progress: bool = True) -> dict[str, Any]:
    if not cfg.corpus:
        raise InputError("set corpus: a JSONL file or folder of Python documents", field="corpus")
    out = Path(output_dir)
    files = input_files(cfg.corpus)
    with stage_run(out, "study.sample", cfg, inputs=files, seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        prompts, n_found = collect_prompts(cfg)
        if not prompts:
            raise InputError("no module-level Python function with a docstring found", path=cfg.corpus)
        calls = [prompts[i:i + cfg.batch_size] for i in range(0, len(prompts), cfg.batch_size)]
        backend = None

        for k, chunk in enumerate(tqdm(calls, desc="study sample", unit="call", disable=not progress)):
            unit = f"call-{k:05d}"
            if run.is_done(unit):
                continue
            if backend is None:
                # looked up at call time: tests and embedders swap codeja.backends.get_backend
                from codeja.backends import get_backend

                backend = get_backend(cfg.model, cfg.backend, **cfg.backend_options)
            seed = derive_seed(cfg.seed, "study.sample.call", k)
            params = cfg.sampling_params(n=cfg.n, stop=cfg.stop, seed=seed)
            gens = backend.complete([p["prompt"] for p in chunk], params)
            rows = []
            for p, gs in zip(chunk, gens):
                responses = []
                for g in gs:
                    s, verdict = score(p["prompt"], g.text)
                    responses.append({"text": g.text, "finish_reason": g.finish_reason, "score": s,
                                      "completion_tokens": g.completion_tokens, "verdict": verdict})
                rows.append({**p, "responses": responses})
            write_jsonl(out / "parts" / f"{unit}.jsonl", rows)
            run.mark_done(unit, prompts=len(chunk))
        identity = backend.identity() if backend is not None else None
        if backend is not None:
            backend.close()
        rows = [row for k in range(len(calls))
                for _, row in iter_jsonl(out / "parts" / f"call-{k:05d}.jsonl")]
        write_jsonl(out / INSTRUCTIONS, rows)
        verdicts = Counter(r["verdict"] for row in rows for r in row["responses"])
        stats = {"prompts_found": n_found, "prompts": len(rows), "responses": sum(verdicts.values()),
                 "verdicts": dict(sorted(verdicts.items())),
                 "prompts_with_placeholder": sum(any(r["verdict"] == "placeholder" for r in row["responses"])
                                                 for row in rows),
                 "prompts_with_code": sum(any(r["score"] == 1.0 for r in row["responses"]) for row in rows)}
        write_json(out / STATS, stats)
        summary = {"instructions_file": str(out / INSTRUCTIONS), **stats}
        run.record(summary=summary, backend=identity)
    return summary
