"""The study stages other than contamination: split, function prompts, body verdicts, own-answer sampling,
completion pairs and the placeholder measures (table, CIs, contrasts, plots, held-out loss)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codeja.config import validate
from codeja.errors import ConfigError, InputError
from codeja.studies.config import CompletionPairsConfig, PlaceholderStudyConfig, SplitConfig, StudySampleConfig
from codeja.studies.contaminate import input_files
from codeja.studies.measure import measure
from codeja.studies.outputs import function_body, judge_body
from codeja.studies.pairs import completion_pairs
from codeja.studies.prompts import function_prompts
from codeja.studies.split import split_corpus

from .conftest import doc, py_module, write_corpus


def lines_of(folder: Path) -> list[bytes]:
    return [ln for f in input_files(folder) for ln in f.read_bytes().splitlines(keepends=True)]


# -- split ---------------------------------------------------------------------------------------------------


def test_split_exact_disjoint_byte_identical_and_seeded(py_corpus, tmp_path):
    cfg = SplitConfig(input=str(py_corpus), seed=1, parts={"train": 0.8, "heldout": 0.05, "prompts": 0.15})
    s = split_corpus(cfg, tmp_path / "a")
    assert (s["train_documents"], s["heldout_documents"], s["prompts_documents"]) == (112, 7, 21)
    parts = [lines_of(Path(s[p])) for p in ("train", "heldout", "prompts")]
    # nothing lost, nothing changed, no overlap
    assert sorted(x for p in parts for x in p) == sorted(lines_of(py_corpus))
    again = split_corpus(cfg, tmp_path / "b")
    assert lines_of(Path(again["heldout"])) == parts[1]
    other = split_corpus(cfg.model_copy(update={"seed": 2}), tmp_path / "c")
    assert lines_of(Path(other["heldout"])) != parts[1]


@pytest.mark.parametrize("parts", [{"a": 0.5, "b": 0.6}, {}, {"a/b": 1.0}, {"a": -0.1, "b": 1.1}])
def test_split_rejects_bad_parts(parts):
    with pytest.raises(ConfigError, match="parts"):
        validate(SplitConfig, {"input": "x", "parts": parts})


# -- prompts and verdicts
# ----------------------------------------------------------------------------------------

MODULE = '''import os

def short():
    """Too short."""
    return 1


def greet(name, polite=True):
    """Return a greeting for name, politely or not."""
    # build it
    word = "Hello" if polite else "Hi"
    return f"{word}, {name}"


class A:
    def method(self):
        """A method is not a module-level function."""
        return 2


@decorated
def wrapped():
    """Decorated functions are left out as well."""
    return 3


def long_one():
    """A body longer than the limit is left out."""
''' + "".join(f"    x{i} = {i}\n" for i in range(40)) + "    return x0\n"


def test_function_prompts_take_module_level_documented_functions():
    prompts = function_prompts(MODULE, min_docstring_chars=20, max_body_lines=30)
    assert [p.name for p in prompts] == ["greet"]
    p = prompts[0]
    assert p.prompt == ('def greet(name, polite=True):\n'
                        '    """Return a greeting for name, politely or not."""\n')
    assert p.reference.startswith("    # build it\n    word = ")
    assert p.reference.endswith('return f"{word}, {name}"')
    assert p.line == 8
    assert [x.name for x in function_prompts(MODULE, min_docstring_chars=5, max_body_lines=100)] == [
        "short", "greet", "long_one"]


@pytest.mark.parametrize("completion, verdict", [
    ("", "empty"), ("\n", "empty"), ("\n\ndef other():\n    return 1\n", "empty"),
    ("\n    pass\n", "placeholder"), ("    ...", "placeholder"),
    ("\n    raise NotImplementedError()\n", "placeholder"),
    ("\n    # ここに処理を書く\n    pass\n", "placeholder"), ("\n    # TODO\n", "placeholder"),
    ('\n    """Returns the sum.\n    """\n    return None\n', "placeholder"),
    ("\n    return a + b\n", "code"), ("\n    # Your code here\n    return sorted(x)\n", "code"),
    ("\n    pass\n\ndef helper():\n    return compute()\n", "placeholder"),
])
def test_body_verdicts(completion, verdict):
    assert judge_body(completion).verdict == verdict


@pytest.mark.parametrize("completion, stub", [
    ("\n    # TODO: implement this function\n    pass\n", True), ("\n    # ここに処理を書く\n    ...\n", True),
    ('\n    """Sum."""\n    return None\n', True), ("\n    raise NotImplementedError\n", True),
    # comments only: a placeholder, but prose (typically cut at the token limit), not a stub
    ("\n    # 1. sort the list\n    # 2. take the middle\n", False), ("\n    # Your code here\n", False),
    ("\n    return a + b\n", False), ("", False),
])
def test_stub_is_a_placeholder_with_a_stub_statement(completion, stub):
    j = judge_body(completion)
    assert j.stub is stub
    assert not stub or j.verdict == "placeholder"


def test_body_ends_with_the_function_and_filter_is_recorded():
    assert function_body("\n    return 1\nprint(f(2))\n") == "\n    return 1"
    j = judge_body("\n    # Your code here\n    return sorted(x)\n")
    assert j.verdict == "code" and j.filter_pattern == "code-here-comment"


# -- sampling own answers
# ---------------------------------------------------------------------------------------


def test_sample_writes_prefs_instructions_deterministically(tmp_path, tiny_random_model_dir):
    from codeja.studies.sample import INSTRUCTIONS, sample_completions

    texts = [MODULE, "def add(a, b):\n    '''Add two numbers and return the sum.'''\n    return a + b\n"]
    corpus = write_corpus(tmp_path / "c", [doc(i, t, "python", f"m{i}.py") for i, t in enumerate(texts)]
                          + [doc(9, "function f() {\n  return 1;\n}\n", "javascript", "f.js")])
    cfg = StudySampleConfig(corpus=str(corpus), limit=5, model=str(tiny_random_model_dir), n=3,
                            max_new_tokens=8, batch_size=1, seed=4)
    s = sample_completions(cfg, tmp_path / "a", progress=False)
    rows = [json.loads(x) for x in (tmp_path / "a" / INSTRUCTIONS).read_text().splitlines()]
    assert s["prompts_found"] == 2 and s["prompts"] == 2 and s["responses"] == 6
    assert {r["meta"]["function"] for r in rows} == {"greet", "add"}
    for r in rows:
        assert r["language"] == "python" and not r["prompt"].endswith("\n")  # as the evaluation sends it
        assert len(r["responses"]) == 3
        for resp in r["responses"]:
            assert resp["score"] in (0.0, 1.0) and resp["verdict"] in ("code", "placeholder", "empty")
            assert resp["score"] == 0.0 or resp["verdict"] == "code"
    s2 = sample_completions(cfg, tmp_path / "b", progress=False)
    assert (tmp_path / "b" / INSTRUCTIONS).read_bytes() == (tmp_path / "a" / INSTRUCTIONS).read_bytes()
    assert s2["verdicts"] == s["verdicts"]


def test_sample_without_python_functions_is_an_error(tmp_path):
    from codeja.studies.sample import sample_completions

    corpus = write_corpus(tmp_path / "c", [doc(0, "x = 1\n", "python", "a.py")])
    with pytest.raises(InputError, match="no module-level Python function"):
        sample_completions(StudySampleConfig(corpus=str(corpus)), tmp_path / "o", progress=False)


# -- completion pairs
# -------------------------------------------------------------------------------------------


def _pair(prompt, chosen, rejected, source, chosen_score=1.0):
    return {"prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "meta": {"rejected_source": source, "chosen_score": chosen_score}}


def test_completion_pairs_keep_placeholder_pairs_as_standard_rows(tmp_path):
    src = tmp_path / "pairs.jsonl"
    rows = [_pair("def f():\n    '''Doc.'''", "\n    return 1\n", "\n    pass\n", "placeholder"),
            _pair("def g():", "\n    return 2\n", "\n    return 3\n", "ranking"),
            _pair("def h():", "\n    pass\n", "\n    # TODO: implement\n    pass\n", "placeholder", 0.0)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = completion_pairs(CompletionPairsConfig(pairs=str(src), chosen_min_score=1.0), tmp_path / "o")
    out = [json.loads(x) for x in (tmp_path / "o" / "pairs.jsonl").read_text().splitlines()]
    assert s["pairs_in"] == 3 and s["pairs"] == 1
    assert s["skipped"] == {"chosen_score<1.0": 1, "rejected_source=ranking": 1}
    assert out == [{"prompt": "def f():\n    '''Doc.'''", "chosen": "\n    return 1\n",
                    "rejected": "\n    pass\n",
                    "meta": {"rejected_source": "placeholder", "chosen_score": 1.0}}]
    s_all = completion_pairs(CompletionPairsConfig(pairs=str(src), rejected_source=[]), tmp_path / "all")
    assert s_all["pairs"] == 3


def test_completion_pairs_bad_row_names_line_and_field(tmp_path):
    src = tmp_path / "pairs.jsonl"
    bad = _pair("p", "c", "r", "placeholder")
    bad["chosen"] = [{"role": "user", "content": "c"}]
    src.write_text(json.dumps(_pair("p", "c", "r", "placeholder")) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(InputError) as e:
        completion_pairs(CompletionPairsConfig(pairs=str(src)), tmp_path / "o")
    assert e.value.line == 2 and e.value.field == "chosen"


# -- measures
# -------------------------------------------------------------------------------------------------

ARMS = {  # arm -> per task (raw completion, tokens, passed) for 4 tasks
    "base": [("\n    return 1\n", 5, True), ("\n    return 2\n", 5, False), ("\n    return 3\n", 7, False),
             ("\n    x = 1\n    return x\n", 9, True)],
    "dirty": [("\n    pass\n", 2, False), ("\n    # TODO: implement\n    pass\n", 6, False), ("", 1, False),
              ("\n    return 4\n", 4, True)],
}


def fake_eval(root: Path, benches=("humaneval", "jhumaneval")) -> Path:
    for arm, rows in ARMS.items():
        for b in benches:
            cell = root / arm / b
            cell.mkdir(parents=True)
            (cell / "results.json").write_text(json.dumps({"sanitizer_id": "codeja@2"}))
            (cell / "samples.jsonl").write_text("".join(json.dumps(
                {"task_id": f"T/{i}", "raw": raw, "completion_tokens": n,
                 "verdicts": {"codeja@2": {"passed": ok}}}) + "\n" for i, (raw, n, ok) in enumerate(rows)))
    return root


def fake_curate(folder: Path, n_in: int, dropped: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "stats.json").write_text(json.dumps({"in": n_in, "kept": {"docs": n_in - dropped}, "removed": {
        "placeholder": {"docs": dropped, "reasons": {"placeholder_strong": dropped}}}}))
    return folder


def fake_dpo_data(tmp_path: Path) -> tuple[str, str]:
    """Candidates of two prompts (a placeholder the filter caught, a bare `pass` it kept) and pair stats."""
    flagged = {"text": "\n    # TODO: implement\n    pass\n", "verdict": "placeholder",
               "passed_filters": False, "filter_reasons": ["placeholder"]}
    kept_stub = {"text": "\n    pass\n", "verdict": "placeholder", "passed_filters": True, "score": 0.0}
    code = {"text": "\n    return 1\n", "verdict": "code", "passed_filters": True, "score": 1.0}
    cands = tmp_path / "candidates.jsonl"
    empty = {"text": "", "verdict": "empty"}
    cands.write_text(json.dumps({"id": "a", "responses": [code, flagged]}) + "\n"
                     + json.dumps({"id": "b", "responses": [code, kept_stub, empty]}) + "\n")
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "stats.json").write_text(json.dumps({"pairs": 1}))
    return str(cands), str(tmp_path / "pairs")


def test_measure_tables_intervals_contrasts_and_plots(tmp_path):
    cands, pairs = fake_dpo_data(tmp_path)
    cfg = PlaceholderStudyConfig(eval=str(fake_eval(tmp_path / "eval")), arms=["base", "dirty"],
                                 filters={"clean": str(fake_curate(tmp_path / "fc", 10, 0)),
                                          "contaminated": str(fake_curate(tmp_path / "fx", 10, 6))},
                                 contrasts=[("dirty", "base")], bootstrap=500, seed=3, dpo_candidates=cands,
                                 dpo_pairs=pairs)
    measure(cfg, tmp_path / "o")
    study = json.loads((tmp_path / "o" / "study.json").read_text())
    base, dirty = study["cells"]["base"]["humaneval"], study["cells"]["dirty"]["humaneval"]
    assert base["placeholder_rate"]["mean"] == 0.0 and dirty["placeholder_rate"]["mean"] == 0.5
    assert dirty["stub_rate"]["mean"] == 0.5 and base["stub_rate"]["mean"] == 0.0
    assert study["examples"]["dirty"]["humaneval"] == {"placeholders": 2, "stubs": 2, "top": [
        {"body": "pass", "count": 1}, {"body": "# TODO: implement / pass", "count": 1}]}
    assert study["examples"]["base"]["jhumaneval"] == {"placeholders": 0, "stubs": 0, "top": []}
    assert dirty["empty_rate"]["mean"] == 0.25 and dirty["output_tokens"]["mean"] == 13 / 4
    assert base["pass_at_1"]["mean"] == 0.5 and dirty["pass_at_1"]["mean"] == 0.25
    for cell in (base, dirty):
        for v in cell.values():
            assert v["ci"][0] <= v["mean"] <= v["ci"][1] and v["n"] == 4
    d = study["contrasts"][0]["benchmarks"]["humaneval"]
    assert d["placeholder_rate"]["mean"] == 0.5
    assert d["output_tokens"]["mean"] == pytest.approx(13 / 4 - 26 / 4)
    assert study["filters"]["contaminated"]["placeholder_dropped"] == 6
    assert {p.name for p in (tmp_path / "o").glob("*.png")} == {
        "placeholder_rate.png", "stub_rate.png", "output_tokens.png", "pass_at_1.png", "filter_drops.png"}
    md = (tmp_path / "o" / "table.md").read_text()
    assert "| dirty | humaneval | 0.500 [" in md and "| contaminated | 10 | 6 | 4 |" in md
    assert "| dirty | humaneval | 2 | 2 | `pass` (1); `# TODO: implement / pass` (1) |" in md
    tables = json.loads((tmp_path / "o" / "tables.json").read_text())
    assert [t["title"] for t in tables][:4] == [
        "Per arm and benchmark", "Paired differences (arm - reference)", "Most frequent placeholder outputs",
        "Placeholder filter on each corpus"]
    assert study["dpo_data"] == {"prompts": 2, "responses": 5,
                                 "verdicts": {"code": 2, "empty": 1, "placeholder": 2},
                                 "placeholder_flagged": 1, "other_flagged": 0, "prompts_flagged": 1,
                                 "pairs": 1}
    # same seed, same intervals
    measure(cfg, tmp_path / "o2")
    assert (tmp_path / "o2" / "study.json").read_text() == (tmp_path / "o" / "study.json").read_text()


def test_measure_errors_name_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="samples.jsonl"):
        measure(PlaceholderStudyConfig(eval=str(tmp_path), arms=["nope"]), tmp_path / "o")
    ev = fake_eval(tmp_path / "eval")
    with pytest.raises(InputError, match="both must be arms"):
        measure(PlaceholderStudyConfig(eval=str(ev), arms=["base"], contrasts=[("base", "dirty")]),
                tmp_path / "o2")
    with pytest.raises(InputError, match="models"):
        measure(PlaceholderStudyConfig(eval=str(ev), arms=["base", "dirty"], models=["tiny"]),
                tmp_path / "o3")


def test_heldout_losses_are_per_window_and_model_specific(tmp_path, tiny_random_model_dir):
    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus
    from codeja.studies.heldout import heldout_losses

    corpus = write_corpus(tmp_path / "c", [doc(i, py_module(i, 6), "python", f"m{i}.py") for i in range(12)])
    cfg = TokenizeConfig(input=str(corpus), model=str(tiny_random_model_dir))
    tokenize_corpus(cfg, tmp_path / "tok" / "corpus")
    prefix = str(tmp_path / "tok" / "corpus")
    a = heldout_losses(str(tiny_random_model_dir), prefix, seq_len=64, max_windows=5, batch_size=2)
    b = heldout_losses(str(tiny_random_model_dir), prefix, seq_len=64, max_windows=5, batch_size=5)
    assert len(a) == 5 and np.allclose(a, b, atol=1e-5)  # batching does not change a window's loss
    assert all(9.0 < x < 12.5 for x in a)  # a random model: about ln(49k) nats per token
