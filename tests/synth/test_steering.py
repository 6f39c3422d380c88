"""Steering draws follow the weights, are deterministic per (seed, row), and become real system prompts."""

import math
from collections import Counter

import pytest

from codeja.config import load_config
from codeja.errors import ConfigError
from codeja.quality import TASK_TYPES
from codeja.synth.config import MagpieConfig
from codeja.synth.steering import draw_row_spec, system_prompt_for

LANGS = {"python": 0.1, "go": 0.4, "rust": 0.3, "typescript": 0.2}
TASKS = {"fix": 3.0, "explain": 1.0, "translate": 1.0}  # unnormalised on purpose
ILANGS = {"ja": 0.7, "en": 0.3}
N = 6000


def _chi_square(counts: Counter, weights: dict[str, float], n: int) -> float:
    total = sum(weights.values())
    return sum((counts[k] - n * w / total) ** 2 / (n * w / total) for k, w in weights.items())


def test_draws_match_weights_chi_square():
    specs = [draw_row_spec(LANGS, TASKS, ILANGS, seed=7, row=i) for i in range(N)]
    # chi-square critical values at p = 0.001: 3 dof 16.27, 2 dof 13.82, 1 dof 10.83
    assert _chi_square(Counter(s.language for s in specs), LANGS, N) < 16.27
    assert _chi_square(Counter(s.task_type for s in specs), TASKS, N) < 13.82
    assert _chi_square(Counter(s.instruction_lang for s in specs), ILANGS, N) < 10.83
    # translation targets are never the source language
    assert all(s.target_language and s.target_language != s.language for s in specs if s.task_type == "translate")
    assert all(s.target_language is None for s in specs if s.task_type != "translate")


def test_draws_deterministic_and_independent_of_order():
    a = [draw_row_spec(LANGS, TASKS, ILANGS, seed=1, row=i) for i in range(200)]
    b = [draw_row_spec(LANGS, TASKS, ILANGS, seed=1, row=i) for i in reversed(range(200))][::-1]
    assert a == b
    # the config's key order does not change a draw
    rev = dict(reversed(list(LANGS.items())))
    assert [draw_row_spec(rev, TASKS, ILANGS, seed=1, row=i) for i in range(200)] == a
    c = [draw_row_spec(LANGS, TASKS, ILANGS, seed=2, row=i) for i in range(200)]
    assert a != c


def test_zero_weight_never_drawn_and_single_language_translate_target():
    specs = [draw_row_spec({"go": 1.0, "rust": 0.0}, {"translate": 1}, {"en": 1}, seed=0, row=i) for i in range(300)]
    assert {s.language for s in specs} == {"go"}
    assert all(s.target_language not in (None, "go") for s in specs)
    assert specs[0].system_prompt_key == f"translate.go>{specs[0].target_language}.en"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_task_type_has_a_real_prompt(lang):
    seen = set()
    for task in TASK_TYPES:
        spec = draw_row_spec({"go": 1}, {task: 1}, {lang: 1}, seed=0, row=0)
        prompt = system_prompt_for(spec)
        assert "{" not in prompt and "Go" in prompt
        assert prompt not in seen
        seen.add(prompt)
        if lang == "ja":
            assert "日本語" in prompt
        else:
            assert "English" in prompt
    fix = system_prompt_for(draw_row_spec({"go": 1}, {"fix": 1}, {"en": 1}, 0, 0))
    assert "bug" in fix and "```go" in fix
    tr = system_prompt_for(draw_row_spec({"python": 1, "rust": 1e-9}, {"translate": 1}, {"ja": 1}, 0, 0))
    assert "Python" in tr and "Rust" in tr
    edit = system_prompt_for(draw_row_spec({"go": 1}, {"edit": 1}, {"ja": 1}, 0, 0))
    assert "仕様" in edit


def test_unsteered_row_uses_model_default():
    from codeja.synth.steering import RowSpec

    assert system_prompt_for(RowSpec(None, None, None)) is None


def test_prompt_overrides():
    spec = draw_row_spec({"rust": 1}, {"fix": 1}, {"ja": 1}, 0, 0)
    assert system_prompt_for(spec, {"fix.ja": "{language}のバグ修正"}) == "Rustのバグ修正"


def test_config_validation(tmp_path):
    cfg = load_config(None, MagpieConfig, ["steering.languages={golang: 1, py: 2}"], stage="synth.magpie")
    assert cfg.steering.languages == {"go": 1.0, "python": 2.0}
    bad = [
        ("steering.task_types={fixx: 1}", "unknown task type 'fixx'"),
        ("steering.instruction_langs={fr: 1}", "unknown instruction language"),
        ("steering.languages={go: 0}", "sum to 0"),
        ("steering.languages={go: -1}", ">= 0"),
        ("steering.system_prompts={fix: x}", "task_type.lang"),
        ("rowz=3", "did you mean 'rows'"),
        ("filters.min_instruction_chars=100000", "min_\\*_chars"),
    ]
    for override, message in bad:
        with pytest.raises(ConfigError, match=message):
            load_config(None, MagpieConfig, [override], stage="synth.magpie")
    p = tmp_path / "m.yaml"
    p.write_text("stage: synth.magpie\nrows: 4\nsteering:\n  languages: {rust: 1}\n")
    assert load_config(p, MagpieConfig, stage="synth.magpie").rows == 4
    assert math.isclose(sum(MagpieConfig().steering.languages.values()), 1.0)
