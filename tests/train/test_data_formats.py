"""SFT and DPO data in TRL's formats and the community layouts (ShareGPT, Alpaca), from JSONL files, ``datasets``
folders and hub ids; bad rows named by file (or dataset), line (or row) and field. Reading only: no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeja.errors import InputError
from codeja.hub_datasets import HubOptions
from codeja.train.data import load_pairs, load_sft

Q, A = "文字列を反転する関数を書いてください。", "```python\ndef reverse(s):\n    return s[::-1]\n```"
USER, ASSISTANT = {"role": "user", "content": Q}, {"role": "assistant", "content": A}


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


SFT_ROWS = {
    "messages": ({"messages": [USER, ASSISTANT], "meta": {"i": 1}}, {"messages": [USER, ASSISTANT]}, "messages", True),
    "sharegpt": ({"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": Q},
                                    {"from": "gpt", "value": A}]},
                 {"messages": [{"role": "system", "content": "Be brief."}, USER, ASSISTANT]}, "messages", True),
    "alpaca": ({"instruction": "Reverse the string.", "input": "abc", "output": "cba"},
               {"messages": [{"role": "user", "content": "Reverse the string.\n\nabc"},
                             {"role": "assistant", "content": "cba"}]}, "messages", True),
    "alpaca-no-input": ({"instruction": Q, "input": "", "output": A, "system": "日本語で答える。"},
                        {"messages": [{"role": "system", "content": "日本語で答える。"}, USER, ASSISTANT]},
                        "messages", True),
    "prompt-completion": ({"prompt": Q, "completion": A}, {"prompt": Q, "completion": A}, "prompt-completion", False),
    "conversational-prompt-completion": ({"prompt": [USER], "completion": [ASSISTANT]},
                                         {"prompt": [USER], "completion": [ASSISTANT]}, "prompt-completion", True),
    "text": ({"text": "def add(a, b):\n    return a + b\n"}, {"text": "def add(a, b):\n    return a + b\n"},
             "text", False),
}


@pytest.mark.parametrize("name", list(SFT_ROWS))
def test_sft_formats_are_detected_and_mapped(tmp_path, name):
    raw, expected, fmt, conv = SFT_ROWS[name]
    loaded = load_sft(_jsonl(tmp_path / "d.jsonl", [raw, raw]))
    assert loaded.rows == [expected, expected] and loaded.lines == [1, 2]
    assert (loaded.format, loaded.conversational) == (fmt, conv)


def test_sft_explicit_format_and_column_mapping(tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", [{"question": Q, "answer": A, "id": 7}])
    loaded = load_sft(path, columns={"question": "prompt", "answer": "completion"})
    assert loaded.rows == [{"prompt": Q, "completion": A}]
    with pytest.raises(InputError) as e:
        load_sft(path, data_format="alpaca", columns={"question": "instruction"})
    assert (e.value.line, e.value.field, e.value.reason) == (1, "output", "missing")
    with pytest.raises(InputError, match=r"no SFT fields .*fields: question, answer, id; map yours with columns"):
        load_sft(path)


@pytest.mark.parametrize(
    "row, field, reason",
    [
        ({"conversations": [{"from": "human", "value": Q}, {"from": "tool", "value": "x"}]},
         "conversations[1].from", "unknown speaker 'tool'"),
        ({"conversations": [{"from": "human", "value": Q}, {"from": "gpt", "value": 3}]},
         "conversations[1].content", "expected str, got int"),
        ({"conversations": [{"from": "human", "value": Q}]}, "conversations", "no assistant message"),
        ({"instruction": Q, "output": ""}, "output", "empty"),
        ({"instruction": Q, "input": 5, "output": A}, "input", "expected str, got int"),
        ({"prompt": Q, "completion": [ASSISTANT]}, "prompt", "expected a list of messages like completion"),
        ({"prompt": [USER], "completion": [USER]}, "completion", "no assistant message"),
        ({"text": ""}, "text", "empty"),
    ],
)
def test_sft_bad_rows_name_file_line_field(tmp_path, row, field, reason):
    path = _jsonl(tmp_path / "bad.jsonl", [SFT_ROWS["messages"][0], row])
    with pytest.raises(InputError) as e:
        load_sft(path, data_format="auto")
    assert (e.value.path, e.value.line, e.value.field) == (str(path), 2, field) and reason in e.value.reason


def test_sft_one_format_at_a_time(tmp_path):
    path = _jsonl(tmp_path / "mixed.jsonl", [{"prompt": Q, "completion": A}, {"text": "plain"},
                                             SFT_ROWS["sharegpt"][0], {"messages": [USER, ASSISTANT]}])
    with pytest.raises(InputError) as e:
        load_sft(path)
    assert (e.value.line, e.value.field) == (2, "prompt") and "standard text row" in e.value.reason
    # ShareGPT, Alpaca and messages all become messages: they mix
    ok = _jsonl(tmp_path / "ok.jsonl", [SFT_ROWS["sharegpt"][0], SFT_ROWS["alpaca"][0], SFT_ROWS["messages"][0]])
    assert load_sft(ok).format == "messages"
    # skip policy: the odd rows are quarantined and counted, the others train
    loaded = load_sft(path, "skip")
    assert len(loaded.rows) == 1 and [b.line for b in loaded.bad] == [2, 3, 4]


def test_sft_from_a_saved_dataset_and_a_parquet_file(tmp_path):
    import datasets

    rows = [SFT_ROWS["sharegpt"][0]] * 3
    rows[1] = {"conversations": [{"from": "human", "value": Q}, {"from": "narrator", "value": "?"}]}
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(InputError) as e:
        load_sft(str(tmp_path / "saved"))
    assert (e.value.path, e.value.line, e.value.field) == (f"{tmp_path / 'saved'}:train", 2, "conversations[1].from")
    loaded = load_sft(str(tmp_path / "saved"), "skip")
    assert loaded.lines == [1, 3] and loaded.rows[0] == SFT_ROWS["sharegpt"][1]
    assert loaded.sources[0]["kind"] == "saved" and loaded.sources[0]["rows"] == 3
    with pytest.raises(InputError, match="no split 'test'; splits: train"):
        load_sft(str(tmp_path / "saved"), hub=HubOptions(split="test"))
    datasets.Dataset.from_list([{"prompt": Q, "completion": A}] * 2).to_parquet(str(tmp_path / "pc.parquet"))
    assert load_sft(str(tmp_path / "pc.parquet")).rows == [{"prompt": Q, "completion": A}] * 2


def test_hub_ids_are_recognised_not_files(tmp_path):
    """`--data trl-lib/Capybara` is a hub id: offline and uncached it says so, it is never 'file not found'."""
    with pytest.raises(InputError) as e:
        load_sft("trl-lib/Capybara")
    assert "not in the local cache and the Hub cannot be reached" in str(e.value)
    with pytest.raises(InputError, match="file not found"):
        load_sft("data/missing.jsonl")  # a path, not an id


def test_hub_id_with_revision_reaches_load_dataset(tmp_path, monkeypatch):
    import datasets

    sha = "89abcdef0123456789abcdef0123456789abcdef"
    seen = {}

    def fake_load_dataset(path, name=None, **kw):
        seen.update(path=path, name=name, **kw)
        return datasets.Dataset.from_list([{"chosen": [USER, ASSISTANT], "rejected": [USER, {"role": "assistant",
                                                                                              "content": "no"}]}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    loaded = load_pairs(f"trl-lib/ultrafeedback_binarized@{sha}", hub=HubOptions(split="test"))
    assert seen["path"] == "trl-lib/ultrafeedback_binarized" and seen["revision"] == sha and seen["split"] == "test"
    assert loaded.sources[0]["commit"] == sha and loaded.sources[0]["pinned_by"] == "given"
    assert loaded.rows[0]["prompt"] == [USER]


# ---------------------------------------------------------------------------------------------------------------
# preference pairs

NO = {"role": "assistant", "content": "わかりません。"}
PAIRS = {
    "explicit-conversational": ({"prompt": [USER], "chosen": [ASSISTANT], "rejected": [NO]},
                                {"prompt": [USER], "chosen": [ASSISTANT], "rejected": [NO]}, True),
    "implicit-conversational": ({"chosen": [USER, ASSISTANT], "rejected": [USER, NO]},
                                {"prompt": [USER], "chosen": [ASSISTANT], "rejected": [NO]}, True),
    "string-prompt-beside-conversations": ({"prompt": Q, "chosen": [USER, ASSISTANT], "rejected": [USER, NO]},
                                           {"prompt": [USER], "chosen": [ASSISTANT], "rejected": [NO]}, True),
    "explicit-standard": ({"prompt": "Q: 1+1?\nA:", "chosen": " 2", "rejected": " 3"},
                          {"prompt": "Q: 1+1?\nA:", "chosen": " 2", "rejected": " 3"}, False),
    "implicit-standard": ({"chosen": "Q: 1+1?\nA: 2", "rejected": "Q: 1+1?\nA: 3"},
                          {"prompt": "Q: 1+1?\nA:", "chosen": " 2", "rejected": " 3"}, False),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_pair_formats(tmp_path, name):
    raw, expected, conv = PAIRS[name]
    loaded = load_pairs(_jsonl(tmp_path / "p.jsonl", [raw]))
    assert loaded.rows == [expected] and loaded.conversational is conv and loaded.format == "preference"


@pytest.mark.parametrize(
    "row, field, reason",
    [
        ({"chosen": [ASSISTANT], "rejected": [NO]}, "chosen", "share no prompt turns"),
        ({"chosen": "abc", "rejected": "xyz"}, "chosen", "share no prompt text"),
        ({"prompt": [USER], "chosen": "2", "rejected": "3"}, "prompt", "expected a string like chosen and rejected"),
        ({"prompt": "1+1?", "chosen": "2", "rejected": "3"}, "chosen", "expected a list of messages like the rows"),
        ({"prompt": [USER], "chosen": [ASSISTANT], "rejected": [NO, USER]}, "rejected[1].role", "last message"),
        ({"chosen": [USER, ASSISTANT]}, "rejected", "missing"),
    ],
)
def test_pair_bad_rows_name_file_line_field(tmp_path, row, field, reason):
    path = _jsonl(tmp_path / "bad.jsonl", [PAIRS["explicit-conversational"][0], row])
    with pytest.raises(InputError) as e:
        load_pairs(path)
    assert (e.value.path, e.value.line, e.value.field) == (str(path), 2, field) and reason in e.value.reason


def test_pair_column_mapping(tmp_path):
    """Intel/orca_dpo_pairs-style fields: question / chosen / rejected (standard, explicit prompt)."""
    path = _jsonl(tmp_path / "orca.jsonl", [{"system": "", "question": "1+1?", "chosen": "2", "rejected": "3"}])
    assert load_pairs(path, columns={"question": "prompt"}).rows == [{"prompt": "1+1?", "chosen": "2", "rejected": "3"}]
