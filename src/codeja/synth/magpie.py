"""Magpie synthesis, steered: instructions from the pre-query template, responses through the chat template.

Phases (each batch is a resumable work unit whose output is written to ``parts/`` before it is marked done):

1. draw a steering spec per row (programming language, task type, instruction language) and build its
   pre-query from the model's chat template with the steering system prompt;
2. generate the user turn by raw completion (stops only at the end-of-turn marker: multi-line instructions keep
   their code blocks), plus ``baseline_rows`` unsteered instructions used only to measure the steering effect;
3. instruction filters and exact / near-duplicate removal, in row order;
4. responses through the chat template (the steering prompt is not shown), further turns when ``turns > 1``;
5. response filters; write ``data.jsonl``, ``removed.jsonl``, ``stats.json``, ``report.md``/``report.html``.

Accounting: ``rows`` generated = kept + removed (by first failing reason).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from codeja.backends.base import Backend, derive_seed
from codeja.io import read_jsonl, write_jsonl
from codeja.models import load_tokenizer
from codeja.runs import REPORT_HTML, REPORT_MD, STATS, stage_run, write_json
from codeja.synth.config import MagpieConfig
from codeja.synth.dedup import InstructionDeduplicator
from codeja.synth.filters import build_filters, judge
from codeja.synth.measure import distributions, measure_instruction
from codeja.synth.report import write_reports
from codeja.synth.steering import RowSpec, draw_row_spec, preset_spec, system_prompt_for
from codeja.synth.templates import PreQuery, derive_pre_query


def _gen_record(role: str, gen: Any, seed: int, index: int) -> dict:
    return {"role": role, "finish_reason": gen.finish_reason, "stop_reason": gen.stop_reason,
            "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
            "batch_seed": seed, "index_in_batch": index, "error": gen.error}


class MagpieGenerator:
    """Turns row specs into conversations with one backend and one tokenizer (the chat template's owner)."""

    def __init__(self, cfg: MagpieConfig, backend: Backend, tokenizer: Any):
        self.cfg, self.backend, self.tokenizer = cfg, backend, tokenizer
        self._pq_cache: dict[str | None, PreQuery] = {}

    def pre_query(self, system_prompt: str | None) -> PreQuery:
        if system_prompt not in self._pq_cache:
            self._pq_cache[system_prompt] = derive_pre_query(self.tokenizer, system_prompt)
        return self._pq_cache[system_prompt]

    def _complete(self, prompts: list[str], stops: list[str], seed: int):
        stop = list(dict.fromkeys(s for s in stops if s))
        params = self.cfg.instruction.sampling_params(stop=stop or [], seed=seed)
        return [g[0] for g in self.backend.complete(prompts, params)]

    def instructions(self, rows: list[dict], unit_seed: int) -> None:
        """Generate the first user turn of each row (in place)."""
        pqs = [self.pre_query(r["system_prompt"]) for r in rows]
        gens = self._complete([pq.text for pq in pqs], [s for pq in pqs for s in pq.stop], unit_seed)
        for i, (r, pq, gen) in enumerate(zip(rows, pqs, gens)):
            r["messages"] = [{"role": "user", "content": gen.text.strip()}]
            r["gens"] = [_gen_record("user", gen, unit_seed, i)]
            r["pre_query_corrections"] = pq.corrections

    def responses(self, rows: list[dict], unit_seed: int) -> None:
        """Answer each row's last user turn; for multi-turn rows, alternate further user turns and answers."""
        head = ([{"role": "system", "content": self.cfg.response_system_prompt}]
                if self.cfg.response_system_prompt else [])
        for turn in range(self.cfg.turns):
            seed = derive_seed(unit_seed, "turn", turn)
            if turn > 0:  # the next user turn: the pre-query continues the conversation so far
                pqs = [derive_pre_query(self.tokenizer, r["system_prompt"], r["messages"]) for r in rows]
                gens = self._complete([pq.text for pq in pqs], [s for pq in pqs for s in pq.stop], seed)
                for i, (r, gen) in enumerate(zip(rows, gens)):
                    r["messages"].append({"role": "user", "content": gen.text.strip()})
                    r["gens"].append(_gen_record("user", gen, seed, i))
            params = self.cfg.response.sampling_params(seed=seed)
            outs = self.backend.chat([head + r["messages"] for r in rows], params)
            for i, (r, g) in enumerate(zip(rows, outs)):
                r["messages"].append({"role": "assistant", "content": g[0].text.strip()})
                r["gens"].append(_gen_record("assistant", g[0], seed, i))


def plan_rows(cfg: MagpieConfig) -> tuple[list[dict], list[dict]]:
    """(steered rows, unsteered baseline rows), each with its spec and system prompt; no generation yet."""
    st = cfg.steering
    rows = []
    for i in range(cfg.rows):
        if not st.enabled:
            spec = RowSpec(None, None, None)
        elif st.system_prompt == "task":
            spec = draw_row_spec(st.languages, st.task_types, st.instruction_langs, cfg.seed, i)
        else:
            spec = preset_spec(st.system_prompt, st.languages, cfg.seed, i)
        rows.append({"row": i, "spec": spec.as_dict(), "system_prompt": system_prompt_for(spec, st.system_prompts)})
    base_spec = (preset_spec("magpie-coding", st.languages, cfg.seed, 0) if st.baseline_system_prompt != "none"
                 else RowSpec(None, None, None))
    baseline = [{"row": f"b{j}", "spec": base_spec.as_dict(), "system_prompt": system_prompt_for(base_spec)}
                for j in range(cfg.baseline_rows)]
    return rows, baseline


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def _run_units(run, parts: Path, prefix: str, rows: list[dict], size: int, work, seed: int, desc: str) -> list[dict]:
    """Process ``rows`` in batches through ``work(batch, unit_seed)``; finished batches are reloaded on resume."""
    out: list[dict] = []
    batches = list(_batches(rows, size))
    for start, batch in tqdm(batches, desc=desc, unit="batch", disable=not batches):
        unit = f"{prefix}-{start:06d}"
        path = parts / f"{unit}.jsonl"
        if run.is_done(unit) and path.exists():
            out.extend(read_jsonl(path))
            continue
        work(batch, derive_seed(seed, prefix, start))
        write_jsonl(path, batch)
        run.mark_done(unit)
        out.extend(batch)
    return out


def _meta(r: dict, cfg: MagpieConfig, identity: dict) -> dict:
    spec = r["spec"]
    return {
        "row": r["row"], **spec, "measured": r.get("measured"),
        "generation": {"instruction": cfg.instruction.model_dump(), "response": cfg.response.model_dump(),
                       "turns": cfg.turns, "details": r["gens"]},
        "seeds": {"seed": cfg.seed, "steer": derive_seed(cfg.seed, "steer", r["row"]) if spec["task_type"] else None},
        "pre_query_corrections": r.get("pre_query_corrections", []),
        "model": identity,
    }


def _load_defaults(cfg: MagpieConfig, backend: Backend | None, tokenizer: Any) -> tuple[Backend, Any, bool]:
    owned = backend is None
    if tokenizer is None:
        tokenizer = load_tokenizer(cfg.tokenizer or cfg.model)
    if backend is None:
        # looked up at call time: tests and embedders swap codeja.backends.get_backend
        from codeja.backends import get_backend

        backend = get_backend(cfg.model, backend=cfg.backend, **cfg.backend_options)
    return backend, tokenizer, owned


def run_magpie(cfg: MagpieConfig, output_dir: str | Path, *, backend: Backend | None = None,
               tokenizer: Any = None) -> dict:
    """Run the stage into ``output_dir``; returns the summary (also in stats.json and manifest.json).

    ``backend`` / ``tokenizer`` may be passed in (an already loaded engine); by default they come from
    ``cfg.model`` through :func:`codeja.backends.get_backend` and :func:`codeja.models.load_tokenizer`.
    """
    out = Path(output_dir)
    with stage_run(out, "synth.magpie", cfg, seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return run.manifest.get("summary", {})
        t0 = time.monotonic()
        backend, tokenizer, owned = _load_defaults(cfg, backend, tokenizer)
        try:
            summary = _synthesize(cfg, out, run, MagpieGenerator(cfg, backend, tokenizer), backend.identity())
        finally:
            if owned:
                backend.close()
        summary["wall_s"] = round(time.monotonic() - t0, 2)
        summary["rows_per_s"] = round(cfg.rows / summary["wall_s"], 3) if summary["wall_s"] else None
        write_json(out / STATS, summary)
        write_reports(out, cfg, summary)
        run.record(summary=summary, outputs=["data.jsonl", "removed.jsonl", STATS, REPORT_MD, REPORT_HTML])
        return summary


def _synthesize(cfg: MagpieConfig, out: Path, run, gen: MagpieGenerator, identity: dict) -> dict:
    parts = out / "parts"
    rows, baseline = plan_rows(cfg)
    rows = _run_units(run, parts, "ins", rows, cfg.batch_size, gen.instructions, cfg.seed, "instructions")
    baseline = _run_units(run, parts, "base", baseline, cfg.batch_size, gen.instructions, cfg.seed, "baseline")
    for r in rows + baseline:
        r["measured"] = measure_instruction(r["messages"][0]["content"])

    ins_filters, res_filters = build_filters(cfg.filters)
    f = cfg.filters
    dedup = InstructionDeduplicator(f.near_dup_threshold, f.near_dup_ngram, f.near_dup_num_perm)
    removed, survivors = [], []
    for r in rows:
        verdict = judge(r, ins_filters)
        if verdict.reason is None:
            dup = dedup.check(r["row"], r["messages"][0]["content"])
            if dup:
                verdict.reason, verdict.detail = dup
                verdict.reasons = {dup[0]: dup[1]}
        if verdict.reason:
            removed.append({**r, **verdict.as_dict(), "stage": "instruction"})
        else:
            survivors.append(r)

    answered = _run_units(run, parts, "res", survivors, cfg.batch_size, gen.responses, cfg.seed, "responses")
    kept = []
    for r in answered:
        verdict = judge(r, res_filters)
        if verdict.reason:
            removed.append({**r, **verdict.as_dict(), "stage": "response"})
        else:
            kept.append(r)

    kept.sort(key=lambda r: r["row"])
    removed.sort(key=lambda r: r["row"])
    write_jsonl(out / "data.jsonl", ({"messages": r["messages"], "meta": _meta(r, cfg, identity)} for r in kept))
    write_jsonl(out / "removed.jsonl", (
        {"messages": r["messages"], "reason": r["reason"], "detail": r["detail"], "reasons": r["reasons"],
         "stage": r["stage"], "meta": _meta(r, cfg, identity)} for r in removed))
    write_jsonl(out / "baseline.jsonl", (
        {"instruction": r["messages"][0]["content"], "meta": _meta(r, cfg, identity)} for r in baseline))

    by_reason: dict[str, int] = {}
    for r in removed:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    kept_ids = {r["row"] for r in kept}
    summary = {
        "generated": len(rows), "kept": len(kept), "removed": len(removed),
        "removed_by_reason": dict(sorted(by_reason.items())),
        "baseline_generated": len(baseline),
        "model": identity,
        "distributions": distributions(cfg, rows, kept_ids, baseline),
    }
    assert summary["generated"] == summary["kept"] + sum(by_reason.values()), "accounting broke"
    return summary
