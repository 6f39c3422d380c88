"""``codeja prefs sample``: ``n`` responses per instruction from the policy model, seeded and resumable.

Instructions are processed in calls of ``sample.batch_size``; call ``k`` samples with seed
``derive_seed(seed, "sample", k)`` (the backend derives one seed per (prompt, sample) from it), so a rerun, or a
resumed run, draws the same responses. Each finished call is written to ``parts/`` and marked done; an
interrupted run picks up at the first unfinished call. Output: ``samples.jsonl``, one instruction per line with
its ``responses`` (``text``, ``finish_reason``, ``completion_tokens``), plus ``manifest.json``.

An instruction that already carries ``responses`` (``[{"text", ...}]``, e.g. with a ``score`` computed elsewhere
for the ``input`` scorer) keeps them: nothing is generated for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from codeja.backends.base import SamplingParams, derive_seed
from codeja.errors import ConfigError
from codeja.io import iter_jsonl, write_jsonl
from codeja.prefs.config import CandidatesConfig, PrefsConfig, SampleConfig
from codeja.prefs.records import Instruction, read_instructions
from codeja.runs import SAMPLES, stage_run


def sampling_params(sc: SampleConfig, seed: int, call: int) -> SamplingParams:
    return sc.sampling_params(n=sc.n, stop=sc.stop, seed=derive_seed(seed, "sample", call))


def _row(inst: Instruction, gens) -> dict[str, Any]:
    responses = []
    for g in gens:
        r = {"text": g.text, "finish_reason": g.finish_reason, "completion_tokens": g.completion_tokens}
        if g.error:
            r["error"] = g.error
        responses.append(r)
    return inst.as_dict() | {"responses": responses}


def sample_responses(cfg: CandidatesConfig | SampleConfig, output_dir: str | Path, *, progress: bool = True) -> Path:
    """Sample responses for every instruction of ``cfg.sample.instructions``; returns the samples.jsonl path."""
    if isinstance(cfg, SampleConfig):
        cfg = PrefsConfig(sample=cfg)
    sc = cfg.sample
    if not sc.instructions:
        raise ConfigError("sample.instructions: set the instruction JSONL (the Magpie data.jsonl or id + prompt rows)")
    out = Path(output_dir)
    instructions = read_instructions(sc.instructions, sc.limit)
    calls = [instructions[i:i + sc.batch_size] for i in range(0, len(instructions), sc.batch_size)]
    settings = {"seed": cfg.seed, "sample": sc.model_dump(mode="json")}
    with stage_run(out, "prefs.sample", settings, inputs=[sc.instructions], seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return out / SAMPLES

        backend = None
        parts = out / "parts"
        for k, chunk in enumerate(tqdm(calls, desc="prefs sample", unit="call", disable=not progress)):
            unit = f"call-{k:05d}"
            if run.is_done(unit):
                continue
            todo = [inst for inst in chunk if inst.responses is None]  # supplied responses are kept as given
            gens: dict[int, list] = {}
            if todo:
                if backend is None:  # load the model only when something is left to do
                    # looked up at call time: tests and embedders swap codeja.backends.get_backend
                    from codeja.backends import get_backend

                    backend = get_backend(sc.model, backend=sc.backend, **sc.backend_options)
                out_gens = backend.chat([inst.prompt for inst in todo], sampling_params(sc, cfg.seed, k))
                gens = {id(inst): g for inst, g in zip(todo, out_gens)}
            rows = (inst.as_dict() if inst.responses is not None else _row(inst, gens[id(inst)]) for inst in chunk)
            write_jsonl(parts / f"{unit}.jsonl", rows)
            run.mark_done(unit, instructions=len(chunk))
        identity = backend.identity() if backend is not None else run.manifest.get("backend")
        if backend is not None:
            backend.close()
        n = write_jsonl(out / SAMPLES, (row for k in range(len(calls))
                                        for _, row in iter_jsonl(parts / f"call-{k:05d}.jsonl")))
        supplied = sum(inst.responses is not None for inst in instructions)
        run.record(backend=identity, counts={"instructions": n, "sampled": n - supplied, "supplied": supplied,
                                             "calls": len(calls)})
    return out / SAMPLES
