"""The shared language helpers: aliases, parse checks per language, markdown code blocks."""

import pytest

from codeja.codeparse import canonical_language, extract_code_blocks, language_from_path, parses, syntax_errors


@pytest.mark.parametrize("alias,name", [("Py", "python"), ("c++", "cpp"), ("golang", "go"), ("rs", "rust"),
                                        ("sh", "bash"), ("TS", "typescript"), ("kotlin", "kotlin")])
def test_aliases(alias, name):
    assert canonical_language(alias) == name


@pytest.mark.parametrize("lang,good,bad", [
    ("python", "def f(x):\n    return x\n", "def f(x:\n    return x\n"),
    ("javascript", "function f(x) { return x; }\n", "function f(x { return x; }\n"),
    ("typescript", "const f = (x: number): number => x;\n", "const f = (x: number: number => x;\n"),
    ("java", "class A { int f() { return 1; } }\n", "class A { int f() { return 1; }\n"),
    ("cpp", "int f() { return 1; }\n", "int f() { return 1;\n"),
    ("go", "package main\nfunc main() {}\n", "package main\nfunc main() {\n"),
    ("rust", "fn main() { let x = 1; }\n", "fn main() { let x = ; }\n"),
    ("bash", "if true; then echo hi; fi\n", "if true; then echo hi\n"),
])
def test_parse_checks(lang, good, bad):
    assert parses(good, lang) is True
    assert parses(bad, lang) is False
    assert syntax_errors(bad, lang) >= 1


def test_unknown_language_is_none_not_false():
    assert parses("puts 1", "ruby") is None


def test_japanese_and_nul_bytes():
    assert parses("# 日本語のコメント\nx = '　全角スペース'\n", "python") is True
    assert parses("x = 1\x00", "python") is False


def test_code_blocks_with_prose_unclosed_and_tildes():
    md = "説明です。\n```Python\ndef f():\n    return 1\n```\n間の文\n~~~~ts\nlet x = 1;\n~~~~\n```\nlast"
    blocks = extract_code_blocks(md)
    assert [b.language for b in blocks] == ["python", "typescript", None]
    assert blocks[0].code == "def f():\n    return 1\n"
    assert blocks[2].code == "last\n"
    assert md[blocks[0].start:blocks[0].end].startswith("```Python")


def test_language_from_path():
    assert language_from_path("src/a/main.RS") == "rust"
    assert language_from_path("Makefile") is None
