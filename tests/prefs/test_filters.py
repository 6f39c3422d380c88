"""The rule-filter chain and execution against tests (through the real sandbox)."""

from __future__ import annotations

import dataclasses

import pytest

from codeja.prefs.config import FiltersConfig
from codeja.prefs.execution import ExecutionRunner, build_test_programs, extract_program
from codeja.prefs.filters import FilterChain
from codeja.prefs.records import Instruction

ADD_TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
GOOD = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\n"
HALF = "```python\ndef add(a, b):\n    return abs(a) + b\n```\n"  # passes the first test only
WRONG = "```python\ndef add(a, b):\n    return a - b\n```\n"


def inst(prompt="Write a Python function add(a, b) that returns the sum.", **kw) -> Instruction:
    return Instruction(id=kw.pop("id", "i"), prompt=[{"role": "user", "content": prompt}], line=1, **kw)


def judge(instruction, texts, cfg=None, finish=None):
    records = [{"text": t, "finish_reason": (finish or {}).get(i, "stop")} for i, t in enumerate(texts)]
    chain = FilterChain.from_config(cfg or FiltersConfig(), ExecutionRunner(timeout_s=3, workers=2))
    chain.apply([(instruction, records)])
    return records, chain


def reasons(records):
    return [r["filter_reasons"][0] if not r["passed_filters"] else None for r in records]


def test_each_filter_drops_with_its_reason():
    texts = [
        GOOD,                                                    # 0 passes
        "   ",                                                   # 1 empty
        "```python\ndef add(a, b):\n    return a +",             # 2 truncated (length + unclosed fence)
        "I'm sorry, but I can't help with that request.",        # 3 refusal
        "```python\ndef add(a, b):\n    # TODO: implement this\n    pass\n```\n",  # 4 placeholder
        "```python\ndef add(a, b)\n    return a + b\n```\n",     # 5 parse
        "ok " * 200,                                             # 6 repetition
        GOOD.replace("Here", "Here"),                            # 7 duplicate of 0
        "```javascript\nfunction add(a, b) { return a + b; }\n```\n",  # 8 wrong programming language
    ]
    records, chain = judge(inst(language="python"), texts, finish={2: "length"})
    assert reasons(records) == [None, "empty", "truncated", "refusal", "placeholder", "parse", "repetition",
                                "duplicate", "language"]
    assert "duplicate of response 0" in records[7]["filter_detail"]
    assert "asked for python" in records[8]["filter_detail"]
    assert chain.counts == {"empty": 1, "truncated": 1, "refusal": 1, "placeholder": 1, "parse": 1,
                            "repetition": 1, "duplicate": 1, "language": 1}


def test_natural_language_mismatch_and_japanese_ok():
    ja = inst("二つの数を足す Python の関数 add を書いてください。")
    records, _ = judge(ja, [
        "はい、次のように書けます。\n```python\ndef add(a, b):\n    return a + b\n```\n足し算を返します。",
        ("Sure, here is the function you asked for, it returns the sum of the two numbers.\n"
        "```python\ndef add(a, b):\n    return a + b\n```\n"),
        "```python\ndef add(a, b):\n    return a + b\n```\n",  # bare code: language unknown, passes
    ], FiltersConfig(chain=["language"]))
    assert reasons(records) == [None, "language", None]
    assert "asked in ja, answered in en" in records[1]["filter_detail"]


def test_chain_is_configurable_and_first_failure_wins():
    records, _ = judge(inst(), ["   "], FiltersConfig(chain=["parse", "empty"]))
    assert reasons(records) == ["empty"]
    records, _ = judge(inst(), ["I'm sorry, but I can't help with that."], FiltersConfig(chain=["empty"]))
    assert reasons(records) == [None]
    records, _ = judge(inst(), ["no code at all"], FiltersConfig(chain=["parse"], require_code=True))
    assert records[0]["filter_detail"] == "no code block"


def test_unknown_filter_is_a_config_error():
    with pytest.raises(ValueError, match="unknown filter"):
        FiltersConfig(chain=["empty", "vibes"])


def test_program_extraction():
    text = "Helper:\n```python\nimport math\n```\nMain:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    assert extract_program(text, "python", "add").startswith("def add")
    # the evaluation sanitizer's choice: the last block of the language (it defines nothing the tests name)
    assert extract_program(text, "python") == "def add(a, b):\n    return a + b\n"
    # top-level demo code in the answer is not part of the program, exactly as in `codeja eval`
    demo = "```python\ndef add(a, b):\n    return a + b\n\nprint(add(1, 2))\nassert add(1, 1) == 3\n```"
    code = extract_program(demo, "python", "add")
    assert "print" not in code and "assert" not in code
    assert extract_program("def add(a, b): return a + b", "python") == "def add(a, b): return a + b"
    assert extract_program("```js\nlet x = 1\n```", "python") == ""  # code, but none in the language
    he = inst(tests=["def check(candidate):\n    assert candidate(1, 2) == 3\n"], entry_point="add")
    prog = build_test_programs(GOOD, he)[0]
    assert prog.rstrip().endswith("check(add)")


def test_prefs_and_eval_turn_one_text_into_the_same_program():
    from codeja.evaluate.benchmarks import get_benchmark
    from codeja.evaluate.sanitize import get_sanitizer

    bench = get_benchmark("humaneval", limit=1)
    task = dataclasses.replace(bench.tasks[0], prompt="")  # an instruction has no prompt to continue
    code = f"{bench.tasks[0].prompt}{task.canonical}\n\nprint({task.entry_point}([1.0], 0.5))"
    answer = f"Sure.\n```python\n{code}\n```\nDone."
    for name in ("codeja", "evalplus"):
        want = get_sanitizer(name).sanitize(answer, task, bench, kind="solution").code
        assert extract_program(answer, "python", task.entry_point, sanitizer=name) == want


def test_execution_filter_runs_tests_in_the_sandbox():
    i = inst(tests=ADD_TESTS, entry_point="add", language="python")
    records, _chain = judge(i, [GOOD, HALF, WRONG, "```python\nwhile True:\n    pass\n```\n"],
                           FiltersConfig(chain=["execution"]))
    assert [r["execution"]["passed"] for r in records[:3]] == [2, 1, 0]
    assert records[0]["execution"]["sanitizer"] == "codeja@2"  # recorded, as in every evaluation result
    assert reasons(records) == [None, "execution", "execution", "execution"]
    assert "passed 1/2 tests" in records[1]["filter_detail"]
    # a lower bar keeps the half-passing one; instructions without tests are never dropped by it
    records, _ = judge(i, [GOOD, HALF, WRONG], FiltersConfig(chain=["execution"], min_pass_rate=0.5))
    assert reasons(records) == [None, None, "execution"]
    records, _ = judge(inst(), [WRONG], FiltersConfig(chain=["execution"]))
    assert reasons(records) == [None] and "execution" not in records[0]


def test_execution_skips_responses_already_filtered():
    i = inst(tests=ADD_TESTS, entry_point="add", language="python")
    records, _ = judge(i, ["   ", GOOD], FiltersConfig(chain=["empty", "execution"]))
    assert "execution" not in records[0] and records[1]["execution"]["pass_rate"] == 1.0
