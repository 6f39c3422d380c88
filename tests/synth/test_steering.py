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


# ---------------------------------------------------------------------------------------------------------------
# the two single-prompt presets: the seed's prompt and Magpie's original coding prompt

MAGPIE_CODE_PROMPT = (  # magpie-align/magpie configs/model_configs.json, pre_query_template_code
    "You are an AI assistant designed to provide helpful, step-by-step guidance on coding problems. The user will "
    "ask you a wide range of coding questions.\nYour purpose is to assist users in understanding coding concepts, "
    "working through code, and arriving at the correct solutions.")


def _plan(**steering):
    from codeja.synth.magpie import plan_rows

    base = {"languages": {"go": 1, "rust": 1}, "task_types": {"fix": 1}, "instruction_langs": {"ja": 1}}
    return plan_rows(MagpieConfig.model_validate({"rows": 40, "baseline_rows": 2, "seed": 5,
                                                  "steering": base | steering}))


def test_magpie_coding_preset_is_magpies_prompt_verbatim():
    from codeja.synth.prompts import MAGPIE_CODING, PRESETS

    assert MAGPIE_CODING == MAGPIE_CODE_PROMPT and PRESETS["magpie-coding"] == MAGPIE_CODE_PROMPT
    rows, base = _plan(system_prompt="magpie-coding")
    for r in rows + base:
        assert r["system_prompt"] == MAGPIE_CODE_PROMPT
        assert r["spec"] == {"language": None, "task_type": None, "instruction_lang": None, "target_language": None,
                             "system_prompt_key": "magpie-coding", "preset": "magpie-coding"}


def test_seed_preset_names_the_drawn_language_and_steers_nothing_else():
    rows, _ = _plan(system_prompt="seed")
    task_rows, _ = _plan()
    langs = set()
    for r, t in zip(rows, task_rows):
        lang = r["spec"]["language"]
        langs.add(lang)
        assert lang == t["spec"]["language"]  # the same language draw per row as the task prompts
        name = {"go": "Go", "rust": "Rust"}[lang]
        assert r["system_prompt"] == MAGPIE_CODE_PROMPT.replace(
            "coding questions.", f"coding questions about the {name} programming language.")
        assert "The user will ask you a wide range of coding questions about the " + name in r["system_prompt"]
        assert (r["spec"]["task_type"], r["spec"]["instruction_lang"], r["spec"]["system_prompt_key"]) == (
            None, None, f"seed.{lang}")
    assert langs == {"go", "rust"}


def test_baseline_prompt_defaults_to_magpie_coding_and_can_be_none():
    _, base = _plan()
    assert [b["system_prompt"] for b in base] == [MAGPIE_CODE_PROMPT] * 2
    _, none = _plan(baseline_system_prompt="none")
    assert [b["system_prompt"] for b in none] == [None, None]
    assert none[0]["spec"]["system_prompt_key"] == "default"
    with pytest.raises(ConfigError, match="system_prompt"):
        load_config(None, MagpieConfig, ["steering.system_prompt=magpie"], stage="synth.magpie")


def test_presets_reach_the_pre_query_and_the_report_only_claims_what_was_steered(tmp_path):
    from synth_chat_templates import make_tokenizer

    from codeja.backends.base import Backend, Generation
    from codeja.synth.magpie import run_magpie

    class Echo(Backend):  # writes one fixed Go question per prompt and a Go answer
        name = "echo"

        def complete(self, prompts, params):
            return [[Generation(f"Go で二つの整数を足す関数を書いてください ({i})。", 5, 5, "stop")]
                    for i, _ in enumerate(prompts)]

        def chat(self, conversations, params):
            return [[Generation("```go\nfunc add(a, b int) int { return a + b }\n```", 5, 5, "stop")]
                    for _ in conversations]

        def identity(self):
            return {"backend": "echo"}

    from codeja.synth.templates import derive_pre_query

    tok = make_tokenizer("smollm2")
    pq = derive_pre_query(tok, MAGPIE_CODE_PROMPT)
    assert MAGPIE_CODE_PROMPT in pq.text and pq.text.rstrip().endswith("user")
    cfg = MagpieConfig.model_validate({"rows": 6, "baseline_rows": 2, "batch_size": 4, "steering": {
        "system_prompt": "seed", "languages": {"python": 1, "go": 1}, "task_types": {"fix": 1}}})
    summary = run_magpie(cfg, tmp_path / "m", backend=Echo(), tokenizer=tok)
    dist = summary["distributions"]
    assert dist["language"]["requested"] == {"go": 0.5, "python": 0.5}
    assert dist["task_type"]["requested"] == {} and dist["instruction_lang"]["requested"] == {}
    assert set(dist["task_type"]["drawn"]) == {"unsteered"}
    md = (tmp_path / "m" / "report.md").read_text()
    assert "the seed's prompt (Magpie's coding prompt naming the language) (steered rows)" in md
    assert "| metric | unsteered (Magpie's coding prompt) | steered |" in md
