"""The shared quality checks: each on hand-made texts, English and Japanese, good and bad."""

import pytest

from codeja.backends.base import Generation
from codeja.quality import (
    TASK_TYPES,
    code_blocks_parse,
    detect_instruction_language,
    detect_programming_languages,
    detect_refusal,
    detect_task_type,
    guess_code_language,
    is_truncated,
    repetition_score,
    strip_code,
)

GO_BUG_JA = (
    "次のGoのコードにバグがあります。範囲外アクセスを修正してください。\n"
    "```\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := []int{1, 2, 3}\n\tfmt.Println(x[3])\n}\n```\n"
)


# --- refusals ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that request.",
    "I cannot assist with creating malware.",
    "As an AI language model, I cannot browse the internet.",
    "申し訳ありませんが、そのご依頼にはお応えできません。",
    "申し訳ございませんが、その内容についてはお答えできません。",
    "そのようなコードの作成はできかねます。",
])
def test_refusals_detected_with_reason(text):
    reason = detect_refusal(text)
    assert reason is not None and reason.startswith("refusal (")


@pytest.mark.parametrize("text", [
    "Sure! Here is a function that reverses a string:\n```python\ndef rev(s):\n    return s[::-1]\n```",
    "I'm sorry to hear that. The bug is on line 3: the index starts at 1.",
    "以下のように修正できます。\n```go\nfmt.Println(x[2])\n```",
    "",
    # the phrase appears deep in an answer, not as its opening: not a refusal
    "Here is the fix.\n" + "x = 1\n" * 80 + "Note: I cannot help with other languages in this snippet.",
])
def test_non_refusals(text):
    assert detect_refusal(text) is None


# --- instruction language -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,lang", [
    ("How do I reverse a list in Python without using slicing?", "en"),
    (GO_BUG_JA, "ja"),
    ("Pythonでリストを逆順にする関数を書いてください。", "ja"),
    ("请用Python写一个反转列表的函数", "zh"),
    ("파이썬으로 리스트를 뒤집는 함수를 작성해 주세요", "ko"),
    ("Comment inverser une liste en Python avec une boucle simple ?", "fr"),
    ("Wie kann ich in Python eine Liste umkehren, ohne eine Schleife zu verwenden?", "de"),
    ("```python\nprint(1)\n```", "unknown"),
    ("", "unknown"),
])
def test_instruction_language(text, lang):
    assert detect_instruction_language(text) == lang


def test_language_is_judged_on_prose_not_code():
    # English code comments inside a block must not make a Japanese request English
    text = ("このPython関数を説明してください。\n```python\n# compute the running total of all the values\n"
            "def total(values):\n    return sum(values)\n```")
    assert detect_instruction_language(text) == "ja"
    assert "running total" not in strip_code(text)


# --- programming languages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code,lang", [
    ("def f(x):\n    return x * 2\n\nprint(f(2))\n", "python"),
    ("function f(x) { return x * 2; }\nconsole.log(f(2));\n", "javascript"),
    ("function f(x: number): number { return x * 2; }\n", "typescript"),
    ("public class A { public static void main(String[] a) { System.out.println(1); } }\n", "java"),
    ("#include <iostream>\nint main() { std::cout << 1; }\n", "cpp"),
    ("package main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n}\n", "go"),
    ("fn main() {\n    let mut v = Vec::new();\n    v.push(1);\n    println!(\"{:?}\", v);\n}\n", "rust"),
    ("#!/bin/bash\nfor f in *.txt; do\n  echo \"$f\"\ndone\n", "bash"),
    ("the quick brown fox\n", None),
])
def test_guess_untagged_code(code, lang):
    assert guess_code_language(code) == lang


def test_detect_languages_tags_then_guess_then_prose():
    text = ("Translate this Python to Rust.\n```py\ndef add(a, b):\n    return a + b\n```\n"
            "```\nfn add(a: i32, b: i32) -> i32 { a + b }\n```")
    assert detect_programming_languages(text) == ["python", "rust"]
    assert detect_programming_languages(GO_BUG_JA) == ["go"]
    assert detect_programming_languages("Go言語でHTTPサーバーを書いてください") == ["go"]
    assert detect_programming_languages("How do I write a loop in C++ and in Java?") == ["cpp", "java"]
    # "go" as an English verb, JSON and output blocks are not evidence
    assert detect_programming_languages("Let's go through the steps.\n```json\n{\"a\": 1}\n```") == []


# --- code blocks parse -------------------------------------------------------------------------------------

def test_code_blocks_parse():
    assert code_blocks_parse("no code here") == (True, "no code blocks")
    ok, reason = code_blocks_parse(GO_BUG_JA)
    assert ok and "1 code block" in reason
    ok, reason = code_blocks_parse("```python\ndef f(:\n    pass\n```")
    assert not ok and "block 1 (python)" in reason
    # untagged block judged in the expected language
    ok, reason = code_blocks_parse("```\nfn main() { let x = ; }\n```", expected_lang="rust")
    assert not ok and "rust" in reason
    # a language without a grammar is named, not silently passed as checked
    ok, reason = code_blocks_parse("```ruby\nputs 1\n```")
    assert ok and "not judged" in reason and "Ruby" in reason
    ok, reason = code_blocks_parse("```python\n\n```")
    assert not ok and "empty" in reason


# --- repetition and truncation -----------------------------------------------------------------------------

def test_repetition_score_separates_loops_from_text_and_code():
    prose = ("To reverse a list in Python you can use slicing with a negative step, or call the reverse method "
             "which modifies the list in place and returns None.")
    code = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
    assert repetition_score(prose) < 0.1
    assert repetition_score(code) < 0.35
    assert repetition_score("the answer is " * 50) > 0.6
    assert repetition_score("これはテストです。" * 30) > 0.6
    assert repetition_score("") == 0.0 and repetition_score("short") == 0.0


def test_is_truncated():
    assert is_truncated(Generation("abc", 3, 3, "length")) == "hit max_new_tokens (finish_reason=length)"
    assert is_truncated(Generation("text\n```python\nx = 1", 3, 3, "stop")) == "unclosed code fence"
    assert is_truncated(Generation("text\n```python\nx = 1\n```\nDone.", 3, 3, "stop")) is None
    assert is_truncated("plain text", "stop") is None


# --- task types --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,task", [
    ("Write a Python function that returns the n-th Fibonacci number.", "write"),
    ("Complete the following function so that it returns the sum.\n```python\ndef s(xs):\n    pass\n```", "complete"),
    ("Can you explain what this Rust code does?\n```rust\nfn main() {}\n```", "explain"),
    ("Please review my Go code and suggest best practices.", "review"),
    ("My Java method throws a NullPointerException, can you fix it?", "fix"),
    ("Modify this function so that it also accepts negative numbers.", "edit"),
    ("Translate this Python function into JavaScript.", "translate"),
    ("Write unit tests for this function using pytest.", "test"),
    ("Refactor this code to make it more readable.", "refactor"),
    ("Add docstrings to the following Python class.", "document"),
    ("このコードのバグを修正してください。", "fix"),
    ("このRustのコードが何をしているか説明してください。", "explain"),
    ("次のPython関数をGoに移植してください。", "translate"),
    ("この関数の単体テストを書いてください。", "test"),
    ("What is your favourite colour?", "other"),
])
def test_detect_task_type(text, task):
    assert detect_task_type(text) == task
    assert task in TASK_TYPES or task == "other"


def test_huge_and_odd_texts_do_not_break_checks():
    huge = ("Write a Go function.\n```go\nfunc f() int { return 1 }\n```\n" * 20000)  # ~1 MB
    assert repetition_score(huge) > 0.9
    assert detect_programming_languages(huge) == ["go"]
    assert detect_instruction_language(huge) == "en"
    assert code_blocks_parse(huge, "go")[0] is True
    assert detect_refusal(huge) is None and is_truncated(huge, "stop") is None
    odd = "このコードを説明して\x00\ud800 ```"  # NUL, a lone surrogate, a stray fence marker
    assert detect_instruction_language(odd) == "ja"
    assert detect_task_type(odd) == "explain"
    assert repetition_score(odd) == 0.0


@pytest.mark.parametrize("text", [
    "I'm planning to launch a new product. Can you help me create a plan?",
    "What's the best way to use AI to improve my marketability?",
    "Can you give me a list of the top 5 fitness apps for beginners?",
    "旅行の計画を作成してください。",
])
def test_non_software_requests_are_other(text):
    assert detect_task_type(text) == "other"
