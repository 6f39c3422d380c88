"""`codeja tokenize` on chats (SFT / Magpie rows): the documented plain rendering leaves no special token in, the
chat-template rendering encodes exactly what the tokenizer's own template gives, bad rows are quarantined by field."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from codeja.errors import ConfigError
from codeja.fim.codec import TokenCodec
from codeja.fim.config import TokenizeConfig
from codeja.fim.packing import open_indexed
from codeja.fim.tokenize import load_fim_tokenizer, special_tokens, tokenize_corpus

SYSTEM = "あなたは丁寧なプログラミング講師です。"
CHATS = [
    [  # Japanese, with a system turn
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "文字列を反転する関数を書いてください。"},
        {"role": "assistant", "content": "```python\ndef reverse(s):\n    return s[::-1]\n```\nスライスを使います。"},
    ],
    [  # multi-turn, Japanese and English
        {"role": "user", "content": "リストの合計は？"},
        {"role": "assistant", "content": "`sum(xs)` を使います。"},
        {"role": "user", "content": "And the mean?"},
        {"role": "assistant", "content": "```python\nmean = sum(xs) / len(xs)\n```"},
    ],
]
WANT_PLAIN = [
    (f"{SYSTEM}\n\nQuestion: 文字列を反転する関数を書いてください。\n\n"
     "Answer: ```python\ndef reverse(s):\n    return s[::-1]\n```\nスライスを使います。"),
    ("Question: リストの合計は？\n\nAnswer: `sum(xs)` を使います。\n\nQuestion: And the mean?\n\n"
     "Answer: ```python\nmean = sum(xs) / len(xs)\n```"),
]


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return load_fim_tokenizer(str(tiny_model_dir))  # SmolLM2: ChatML template, <|im_start|> / <|im_end|>


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _docs(prefix):
    ds = open_indexed(prefix)
    return [np.array(ds[i]) for i in range(len(ds))]  # copies: the memory map closes with ds


def test_plain_rendering_is_the_documented_layout_with_no_special_tokens(tmp_path, tok):
    src = _write(tmp_path / "chats.jsonl", [{"messages": m, "meta": {"i": i}} for i, m in enumerate(CHATS)]
                 + [{"id": "doc", "text": "print('plain document')\n"}])
    prefix = tmp_path / "out" / "synth"
    s = tokenize_corpus(TokenizeConfig(input=str(src), model="m"), prefix, tokenizer=tok, progress=False)
    assert s["docs"] == 3 and s["quarantined"] == 0
    assert s["messages"] == {"field": "messages", "render": "plain", "rows": 2,
                             "labels": {"system": "", "user": "Question", "assistant": "Answer"},
                             "layout": s["messages"]["layout"]}
    side = json.loads((tmp_path / "out" / "synth.json").read_text(encoding="utf-8"))
    assert side["messages"]["render"] == "plain" and side["messages"]["rows"] == 2
    codec = TokenCodec(tok)
    special_ids = set(special_tokens(tok).values())
    special_strings = list(special_tokens(tok))
    assert "<|im_start|>" in special_strings and "<|im_end|>" in special_strings
    for ids, want in zip(_docs(prefix), WANT_PLAIN + ["print('plain document')\n"]):
        assert ids[-1] == side["eod_id"]
        assert not special_ids & set(ids[:-1].tolist()), "a special token id inside a rendered chat"
        text = codec.decode_text(ids[:-1])
        assert text == want
        assert not any(t in text for t in special_strings)


def test_plain_labels_are_configurable_and_checked(tmp_path, tok):
    src = _write(tmp_path / "c.jsonl", [{"messages": CHATS[1]}])
    cfg = TokenizeConfig(input=str(src), model="m", plain_labels={"user": "質問", "assistant": "回答"})
    tokenize_corpus(cfg, tmp_path / "o" / "c", tokenizer=tok, progress=False)
    text = TokenCodec(tok).decode_text(_docs(tmp_path / "o" / "c")[0][:-1])
    assert text.startswith("質問: リストの合計は？\n\n回答: `sum(xs)` を使います。")
    with pytest.raises(ConfigError, match="plain_labels.user"):
        tokenize_corpus(TokenizeConfig(input=str(src), model="m", plain_labels={"user": "<|im_start|>user"}),
                        tmp_path / "o2" / "c", tokenizer=tok, progress=False)
    with pytest.raises(ValueError, match="unknown role 'tool'"):
        TokenizeConfig(input=str(src), model="m", plain_labels={"tool": "Tool"})


def test_chat_template_rendering_matches_the_tokenizers_own(tmp_path, tok):
    src = _write(tmp_path / "chats.jsonl", [{"messages": m} for m in CHATS])
    prefix = tmp_path / "out" / "chat"
    proc = subprocess.run([sys.executable, "-m", "codeja.cli", "tokenize", "--input", str(src), "--model",
                           str(tok.name_or_path), "--output", str(prefix), "--messages-render", "chat_template",
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["chats"] == 2
    side = json.loads((tmp_path / "out" / "chat.json").read_text(encoding="utf-8"))
    assert side["messages"]["render"] == "chat_template" and len(side["messages"]["chat_template_sha256"]) == 64
    im = {tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")}
    for ids, msgs in zip(_docs(prefix), CHATS):
        text = tok.apply_chat_template(msgs, tokenize=False)
        want = tok(text, add_special_tokens=False)["input_ids"]
        assert ids[:-1].tolist() == want  # the template's special tokens as ids, the rest as HF encodes it
        specials = set(ids[:-1].tolist()) & set(special_tokens(tok).values())
        assert specials == im
        assert ((ids[:-1] == tok.convert_tokens_to_ids("<|im_start|>")).sum()
                == len(msgs) + (msgs[0]["role"] != "system"))


def test_bad_and_leaking_chats_are_quarantined_by_field(tmp_path, tok):
    rows = [
        {"messages": CHATS[0]},
        {"messages": [{"role": "user", "content": "hi"},
                      {"role": "assistant", "content": "ok<|im_end|>\n<|im_start|>"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]},
        {"messages": [{"content": "no role"}, {"role": "assistant", "content": "a"}]},
        {"messages": []},
        {"messages": "not a list"},
        {"messages": [{"role": "user", "content": "only a question"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "   "}]},
        {"meta": {"neither": "text nor messages"}},
    ]
    src = _write(tmp_path / "bad.jsonl", rows)
    prefix = tmp_path / "out" / "bad"
    s = tokenize_corpus(TokenizeConfig(input=str(src), model="m"), prefix, tokenizer=tok, progress=False)
    assert s["rows"] == 9 and s["docs"] == 1 and s["quarantined"] == 8 and s["messages"]["rows"] == 1
    q = {r["line"]: r["reason"] for r in map(json.loads, open(f"{prefix}.quarantine.jsonl", encoding="utf-8"))}
    assert q[2].startswith("field 'messages[1].content': contains the special token '<|im_end|>'")
    assert q[3].startswith("field 'messages[1].role': unknown role 'tool'")
    assert q[4].startswith("field 'messages[0].role'")
    assert "empty list" in q[5] and "got str" in q[6]
    assert "no assistant message" in q[7]
    assert q[8] == "field 'messages[1].content': empty"
    assert q[9].startswith("missing field 'text'") and "'messages'" in q[9]
