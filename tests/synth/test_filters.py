"""Each filter on hand-made rows removes exactly the bad one, with the right reason; dedup on instructions."""

import pytest

from codeja.synth.config import FilterConfig
from codeja.synth.dedup import InstructionDeduplicator
from codeja.synth.filters import build_filters, judge

GO_SPEC = {"language": "go", "task_type": "fix", "instruction_lang": "ja", "target_language": None}
GO_INS = ("次のGoのコードはスライスの最後の要素を表示するはずですが、パニックになります。修正してください。\n"
          "```go\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := []int{1, 2, 3}\n"
          "\tfmt.Println(x[len(x)])\n}\n```")
GO_RES = ("インデックスが範囲外です。最後の要素は `len(x)-1` です。\n```go\npackage main\n\nimport \"fmt\"\n\n"
          "func main() {\n\tx := []int{1, 2, 3}\n\tfmt.Println(x[len(x)-1])\n}\n```")


def row(ins=GO_INS, res=GO_RES, spec=GO_SPEC, ins_finish="stop", res_finish="stop"):
    msgs = [{"role": "user", "content": ins}]
    gens = [{"role": "user", "finish_reason": ins_finish}]
    if res is not None:
        msgs.append({"role": "assistant", "content": res})
        gens.append({"role": "assistant", "finish_reason": res_finish})
    return {"row": 0, "spec": dict(spec), "messages": msgs, "gens": gens}


@pytest.fixture(scope="module")
def filters():
    return build_filters(FilterConfig())


def _all(filters):
    return filters[0] + filters[1]


def test_good_row_kept(filters):
    v = judge(row(), _all(filters))
    assert v.reason is None and v.reasons == {}


@pytest.mark.parametrize("case,reason,detail", [
    ({"ins_finish": "length"}, "instruction_truncated", "max_new_tokens"),
    ({"ins": "短すぎ"}, "instruction_length", "too short"),
    ({"ins": "Goで" + "あ" * 7000}, "instruction_length", "too long"),
    ({"ins": "Goのコードを直して " * 40}, "instruction_repetitive", "repeated 4-gram"),
    ({"ins": "Fix this Go code, it panics:\n```go\nfmt.Println(x[3])\n```"}, "instruction_language_mismatch",
     "requested ja, detected en"),
    ({"res_finish": "length"}, "response_truncated", "max_new_tokens"),
    ({"res": GO_RES[:-4]}, "response_truncated", "unclosed code fence"),
    ({"res": "はい"}, "response_length", "too short"),
    ({"res": "修正します。" + "同じことを繰り返します。" * 60}, "response_repetitive", "repeated"),
    ({"res": "申し訳ありませんが、そのご依頼にはお応えできません。"}, "refusal", "refusal (ja)"),
    ({"res": "こうします。\n```go\nfunc main() {\n\t// TODO: implement\n}\n```"}, "placeholder_todo", "TODO"),
    ({"res": "Pythonで書き直しました。\n```python\nxs = [1, 2, 3]\nprint(xs[-1])\n```"},
     "programming_language_mismatch", "requested go"),
    ({"res": "修正版です。\n```go\nfunc main() {\n\tfmt.Println(x[len(x)-1]\n}\n```"}, "code_does_not_parse",
     "(go) does not parse"),
])
def test_each_filter_reason(filters, case, reason, detail):
    v = judge(row(**case), _all(filters))
    assert v.reason == reason, v.reasons
    assert detail in v.detail


def test_instruction_filters_need_no_response(filters):
    ins_filters, _ = filters
    assert judge(row(res=None), ins_filters).reason is None
    assert all(f.stage == "instruction" for f in ins_filters)


def test_translate_requires_both_languages(filters):
    spec = {"language": "python", "task_type": "translate", "instruction_lang": "en", "target_language": "rust"}
    ins = "Translate this Python function into Rust:\n```python\ndef add(a, b):\n    return a + b\n```"
    good = "Here it is in Rust:\n```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```"
    assert judge(row(ins, good, spec), _all(filters)).reason is None
    bad = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```"
    v = judge(row(ins, bad, spec), _all(filters))
    assert v.reason == "programming_language_mismatch" and "requested rust" in v.detail


def test_unsteered_rows_skip_request_checks(filters):
    spec = {"language": None, "task_type": None, "instruction_lang": None, "target_language": None}
    v = judge(row("How do I sort a dict by value in Python?", "Use sorted(d.items(), key=lambda kv: kv[1]).", spec),
              _all(filters))
    assert v.reason is None


def test_all_reasons_recorded_first_counted(filters):
    v = judge(row(ins="short", res="no", ins_finish="length"), _all(filters))
    assert v.reason == "instruction_truncated"
    assert {"instruction_truncated", "instruction_length", "response_length"} <= set(v.reasons)


def test_filters_can_be_switched_off():
    ins, res = build_filters(FilterConfig(refusals=False, parse=False, instruction_language=False))
    names = {f.name for f in ins + res}
    assert "refusal" not in names and "code_does_not_parse" not in names
    assert "instruction_language_mismatch" not in names


def test_dedup_exact_and_near_japanese_and_english():
    d = InstructionDeduplicator(threshold=0.8, ngram=5)
    assert d.check(0, "Pythonでリストを逆順にする関数を書いてください。") is None
    assert d.check(1, "Ｐｙｔｈｏｎでリストを逆順にする関数を書いてください。")[0] == "exact_duplicate"  # NFKC
    reason, detail = d.check(2, "Pythonでリストを逆順にする関数を書いてください！")
    assert reason == "near_duplicate" and "row 0" in detail
    assert d.check(3, "Goでマップのキーをソートして表示する方法を教えてください。") is None
    assert d.check(4, "Write a Python function that reverses a list in place without slicing.") is None
    assert d.check(5, "Write a Python function that reverses a list in place, without slicing.")[0] == "near_duplicate"
    assert d.check(6, "") is None and d.check(7, "  ")[0] == "exact_duplicate"
