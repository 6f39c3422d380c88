"""HumanEvalPack program assembly without a toolchain: Go import merging, the Rust rand port, entry points.

The sandbox runs that prove these programs compile and pass are in test_canonical.py (slow); these pin the text.
"""

from __future__ import annotations

import json
import re

import pytest

from codeja.codeparse import get_parser
from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.benchmarks.golang import GoImport, go_test_program, split_imports
from codeja.evaluate.benchmarks.humanevalpack import declared_entry, port_rand_07
from codeja.evaluate.sanitize import get_sanitizer
from codeja.paths import benchmark_file

SETUP = 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
TEST = "func TestF(t *testing.T) {\n    assert := assert.New(t)\n    assert.Equal(1, F())\n}\n"


def imports_of(program: str) -> list[str]:
    imps, _ = split_imports(program)
    return [i.path if i.alias is None else f"{i.alias} {i.path}" for i in imps]


def test_duplicate_import_between_prompt_and_test_setup_is_merged():
    code = 'import (\n    "math"\n)\n\nfunc F() int { return int(math.Sqrt(1)) }\n'
    prog = go_test_program(code, TEST, SETUP.replace('"testing"\n', '"testing"\n    "math"\n'))
    assert imports_of(prog) == ["testing", "math", "github.com/stretchr/testify/assert"]
    assert prog.startswith("package main\n\nimport (\n") and prog.count("import") == 1


def test_unused_prompt_import_is_dropped_and_missing_standard_ones_added():
    # Go/27: imports strings, never uses it; Go/17: uses strings without importing it
    unused = go_test_program('import (\n    "strings"\n)\nfunc F() int { return 1 }\n', TEST, SETUP)
    assert "strings" not in imports_of(unused)
    missing = go_test_program('func F() int { return len(strings.Split("a b", " ")) + sort.SearchInts(nil, 0) }\n',
                              TEST, SETUP)
    assert imports_of(missing)[-2:] == ["strings", "sort"]


def test_usage_comes_from_code_not_comments_or_strings():
    code = '// a list of strings.\nfunc F() int { s := "math.Pi"; return len(s) }\n'
    assert imports_of(go_test_program(code, TEST, SETUP)) == ["testing", "github.com/stretchr/testify/assert"]


def test_types_from_packages_count_as_use():
    code = "func F() int { var b strings.Builder; var r *rand.Rand; _ = r; return b.Len() + 1 }\n"
    assert imports_of(go_test_program(code, TEST, SETUP))[-2:] == ["strings", "math/rand"]


def test_locally_declared_name_is_not_auto_imported_but_explicit_imports_survive_shadowing():
    # `sort` is a local variable here: adding `import "sort"` would be an unused import
    code = "type S struct{ n int }\nfunc F() int { sort := S{1}; return sort.n }\n"
    assert "sort" not in imports_of(go_test_program(code, TEST, SETUP))
    # testify's `assert := assert.New(t)` shadows the package inside the test: the import still stays
    assert "github.com/stretchr/testify/assert" in imports_of(go_test_program("func F() int { return 1 }\n", TEST,
                                                                              SETUP))


def test_aliases_blank_imports_and_unknown_packages():
    code = ('import (\n    m "math"\n    _ "embed"\n)\n'
            "func F() int { return int(m.Abs(-1)) + unicode.MaxASCII - 127 }\n")
    imps = imports_of(go_test_program(code, TEST, SETUP))
    assert "m math" in imps and "_ embed" in imps
    # unicode is not in octopack's list: not added (the harness stays comparable with published scores)
    assert "unicode" not in imps and "math" not in imps


def test_model_package_clause_is_replaced_and_program_parses():
    code = 'package foo\n\nimport "fmt"\n\n// 日本語のコメント\nfunc F() int { fmt.Sprint(1); return 1 }\n'
    prog = go_test_program(code, TEST, SETUP)
    assert prog.count("package ") == 1 and prog.startswith("package main")
    assert "日本語のコメント" in prog
    assert not get_parser("go").parse(prog.encode()).root_node.has_error


def test_no_imports_at_all_gives_no_import_block():
    assert go_test_program("func F() int { return 1 }\n", "", "package main\n") == (
        "package main\n\nfunc F() int { return 1 }\n\n\n")


def test_go_import_binds_last_path_element():
    assert GoImport("math/rand").binds == "rand" and GoImport("crypto/md5", "h").binds == "h"


def test_every_go_task_assembles_to_parsing_programs_with_unique_imports():
    bench = get_benchmark("humanevalfix-go")
    for t in bench.all_tasks:
        prog = bench.program(t, t.canonical, closed=True)
        imps = imports_of(prog)
        assert len(imps) == len(set(imps)), t.task_id
        assert not get_parser("go").parse(prog.encode()).root_node.has_error, t.task_id


def test_rand_07_port():
    src = "let a = rng.gen_range(0, 4);\nlet c: char = rng.gen_range(b'a', b'z' + 1).into();\nrng.gen_range(0..3);"
    out = port_rand_07(src)
    assert out == ("let a = rng.gen_range(0..4);\nlet c: char = rng.gen_range(b'a'..b'z' + 1).into();\n"
                   "rng.gen_range(0..3);")
    rust = get_benchmark("humanevalfix-rust")
    ported = [t.task_id for t in rust.all_tasks if "gen_range(" in t.test]
    assert ported == ["Rust/32", "Rust/50"]
    assert all(not re.search(r"gen_range\([^()]*,", rust.task(t).test) for t in ported)
    assert rust.describe()["options"]["assembly"] == "rand-0.8-port@1"
    assert "seed_from_u64(42)" in rust.task("Rust/32").test and "thread_rng" not in rust.task("Rust/32").test
    assert "thread_rng" in rust.task("Rust/50").test  # only Rust/32's verdict depends on the draw
    # the prompt shows the model upstream's tests, unchanged
    assert "gen_range(0, 4)" in rust.task("Rust/32").prompt


def test_declared_entry_fixes_upstream_entry_points():
    assert declared_entry("fn correct_bracketing_parenthesis(bkts:&str) -> bool{\n", "correct_bracketing") == \
        "correct_bracketing_parenthesis"
    assert declared_entry("const hasCloseElements = (numbers, threshold) => {\n",
                          "hasCloseElements") == "hasCloseElements"
    assert declared_entry("    public int minSubArraySum(List<Integer> nums) {\n", "minSubarraySum") == "minSubarraySum"
    assert declared_entry("class X {\n    public List<String> wordStrings(String s) {\n",
                          "words_string") == "wordStrings"
    rust = get_benchmark("humanevalfix-rust")
    t = rust.task("Rust/61")
    assert t.entry_point == "correct_bracketing_parenthesis" and t.meta["dataset_entry_point"] == "correct_bracketing"
    assert "Fix bugs in correct_bracketing." in t.prompt  # upstream wording kept


def test_rust_prompt_puts_main_before_the_declaration():
    t = get_benchmark("humanevalfix-rust").task("Rust/32")
    assert t.prefix.startswith("fn main(){}\n") and t.prefix.rstrip().endswith("fn find_zero(xs: &Vec<f64>) -> f64 {")


def test_codeja_sanitizer_keeps_rust_attributes_of_helpers_after_the_entry_point():
    bench = get_benchmark("humanevalfix-rust")
    task = bench.task("Rust/137")
    s = get_sanitizer("codeja").sanitize(task.canonical, task, bench, "solution")
    assert "#[derive(Debug, PartialEq)]\npub enum RtnType" in s.code


@pytest.mark.parametrize("tid", ["Rust/49", "Rust/55", "Rust/63"])
def test_codeja_sanitizer_indented_recursive_completion_is_a_continuation(tid):
    """`\n    if n == 0 { ... modp(n - 1, p) ...` calls the entry point; it is a body, not a restated function."""
    rows = [json.loads(x) for x in benchmark_file("humanevalpack/rust/data/humanevalpack.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    completion = next(r["canonical_solution"] for r in rows if r["task_id"] == tid)
    assert completion.startswith("\n ")
    bench = get_benchmark("humanevalfix-rust")
    task = bench.task(tid)
    s = get_sanitizer("codeja").sanitize(completion, task, bench, "completion")
    assert s.rule.startswith("continuation"), s.rule
    assert s.code.startswith(task.prefix)
