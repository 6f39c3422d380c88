"""What a generated instruction is actually about, measured by the shared detectors (not what was requested)."""

from __future__ import annotations

from codeja.quality import detect_instruction_language, detect_programming_languages, detect_task_type


def measure_instruction(text: str) -> dict:
    langs = detect_programming_languages(text)
    return {
        "instruction_lang": detect_instruction_language(text),
        "languages": langs,
        "language": langs[0] if langs else "none",  # the primary language: first evidence found
        "task_type": detect_task_type(text),
    }


DIMENSIONS = {  # report dimension -> (spec field, measured field, steering weights field)
    "language": ("language", "language", "languages"),
    "task_type": ("task_type", "task_type", "task_types"),
    "instruction_lang": ("instruction_lang", "instruction_lang", "instruction_langs"),
}


def steered_dimensions(steering) -> tuple[str, ...]:
    """The dimensions a steering config asks for: all three with task prompts, the language with the seed's
    prompt, none with Magpie's own prompt or steering off."""
    if not steering.enabled or steering.system_prompt == "magpie-coding":
        return ()
    return ("language",) if steering.system_prompt == "seed" else tuple(DIMENSIONS)


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def distributions(cfg, rows: list[dict], kept_ids: set, baseline: list[dict]) -> dict:
    """Per dimension: requested weights (normalised), drawn counts, measured counts (all / kept / unsteered)."""
    out = {}
    for dim, (spec_key, measured_key, weights_key) in DIMENSIONS.items():
        weights = getattr(cfg.steering, weights_key) if dim in steered_dimensions(cfg.steering) else {}
        total = sum(weights.values()) or 1.0
        out[dim] = {
            "requested": {k: round(w / total, 4) for k, w in sorted(weights.items())},
            "drawn": _count(r["spec"][spec_key] or "unsteered" for r in rows),
            "measured": _count(r["measured"][measured_key] for r in rows),
            "measured_kept": _count(r["measured"][measured_key] for r in rows if r["row"] in kept_ids),
            "unsteered": _count(r["measured"][measured_key] for r in baseline),
        }
    return out
