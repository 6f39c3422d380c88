"""SFT on the tiny random model: assistant-only loss, accounting, bad rows named by file/line/field."""

from __future__ import annotations

import json

import pytest
from train_configs import small_config

from codeja.errors import ConfigError, InputError
from codeja.train.common import read_metrics
from codeja.train.config import SFTConfig
from codeja.train.sft import train_sft


def _cfg(model, data, **kw) -> SFTConfig:
    return small_config(SFTConfig, model, data, **{"max_length": 256, **kw})


def test_sft_three_steps(tiny_random_model_dir, messages_jsonl, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "sft"
    s = train_sft(_cfg(tiny_random_model_dir, messages_jsonl), out)
    assert s["steps"] == 3 and s["final_loss"] > 0 and s["tokens_per_s"] > 0
    assert s["chat_template"] == "codeja-chatml"  # the GGUF's template has no generation markers
    assert s["rows_in"] == 8 and s["rows_trained"] == 8 and s["overlong"] == 0
    assert [r["step"] for r in read_metrics(out) if "loss" in r] == [1, 2, 3]
    assert (out / "loss.png").is_file()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    tok = AutoTokenizer.from_pretrained(s["model_path"])
    assert "{% generation %}" in tok.chat_template or "generation" in tok.chat_template
    AutoModelForCausalLM.from_pretrained(s["model_path"])


def test_sft_packing_runs(tiny_random_model_dir, messages_jsonl, tmp_path):
    s = train_sft(_cfg(tiny_random_model_dir, messages_jsonl, max_steps=1, packing=True), tmp_path / "packed")
    assert s["steps"] == 1 and s["final_loss"] > 0


def test_sft_assistant_only_mask(tiny_random_model_dir):
    """The ChatML template marks exactly the assistant content and its <|im_end|> for the loss."""
    from transformers import AutoTokenizer

    from codeja.train.sft import training_chat_template

    tok = AutoTokenizer.from_pretrained(tiny_random_model_dir)
    tpl, _ = training_chat_template(tok, None, need_markers=True)
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "def f(): pass"}]
    enc = tok.apply_chat_template(
        msgs, chat_template=tpl, return_assistant_tokens_mask=True, return_dict=True
    )
    trained = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(trained) == "def f(): pass<|im_end|>"


def test_sft_loss_falls_on_a_repeated_batch(tiny_random_model_dir, tmp_path):
    path = tmp_path / "one.jsonl"
    row = {
        "messages": [
            {"role": "user", "content": "Reverse a string in Python."},
            {"role": "assistant", "content": "```python\ndef rev(s):\n    return s[::-1]\n```"},
        ]
    }
    path.write_text((json.dumps(row) + "\n") * 2)
    cfg = _cfg(
        tiny_random_model_dir,
        path,
        max_steps=6,
        optim={"learning_rate": 5e-3, "scheduler": "constant", "warmup_ratio": 0.0},
    )
    train_sft(cfg, tmp_path / "out")
    losses = [r["loss"] for r in read_metrics(tmp_path / "out") if "loss" in r]
    assert len(losses) == 6 and losses[-1] < losses[0] - 2.0, losses


@pytest.mark.parametrize(
    "line, field",
    [
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant"}]}', "messages[1].content"),
        ('{"messages": [{"role": "robot", "content": "q"}]}', "messages[0].role"),
        ('{"text": "no messages"}', "messages"),
        ('{"messages": []}', "messages"),
        ('{"messages": [{"role": "user", "content": "only a question"}]}', "messages"),
    ],
)
def test_sft_bad_rows_name_file_line_field(tiny_random_model_dir, messages_jsonl, tmp_path, line, field):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(messages_jsonl.read_text() + line + "\n")
    with pytest.raises(InputError) as e:
        train_sft(_cfg(tiny_random_model_dir, bad), tmp_path / "out")
    assert e.value.path == str(bad) and e.value.line == 9 and e.value.field == field


def test_sft_malformed_json_and_utf8(tiny_random_model_dir, messages_jsonl, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(messages_jsonl.read_bytes() + b'{"messages": [\n' + b"\xff\xfe\n")
    with pytest.raises(InputError, match=r"bad.jsonl:9: invalid JSON"):
        train_sft(_cfg(tiny_random_model_dir, bad), tmp_path / "out")
    # skip policy: both quarantined and counted, the run goes on
    s = train_sft(_cfg(tiny_random_model_dir, bad, bad_rows="skip", max_steps=1), tmp_path / "skip")
    assert s["rows_bad"] == 2 and s["rows_valid"] == 8
    quarantined = [json.loads(x) for x in (tmp_path / "skip" / "bad_rows.jsonl").read_text().splitlines()]
    assert [q["line"] for q in quarantined] == [9, 10]
    assert "UTF-8" in quarantined[1]["reason"]


def test_sft_overlong_policy(tiny_random_model_dir, messages_jsonl, tmp_path):
    with pytest.raises(InputError, match="over max_length 40"):
        train_sft(
            _cfg(tiny_random_model_dir, messages_jsonl, max_length=40, overlong="error"), tmp_path / "e"
        )
    s = train_sft(_cfg(tiny_random_model_dir, messages_jsonl, max_length=60, max_steps=1), tmp_path / "d")
    assert s["overlong"] == 4 and s["dropped_overlong"] == 4  # rows of 67 and 76 tokens, twice each
    assert s["rows_trained"] == 8 - s["overlong"]


def test_sft_config_errors(tiny_random_model_dir, messages_jsonl, tmp_path):
    from codeja.config import load_config

    with pytest.raises(ConfigError, match="did you mean 'packing'"):
        load_config(None, SFTConfig, ["pakcing=true"])
    with pytest.raises(ConfigError, match="file not found"):
        train_sft(
            _cfg(tiny_random_model_dir, messages_jsonl, chat_template=str(tmp_path / "x.jinja")),
            tmp_path / "o",
        )


@pytest.mark.slow
def test_sft_real_tiny_model_three_steps(tiny_model_dir, messages_jsonl, tmp_path):
    """The bundled SmolLM2-135M: its GGUF template lacks generation markers, so codeja's ChatML is used; loss falls."""
    cfg = _cfg(
        tiny_model_dir,
        messages_jsonl,
        max_steps=3,
        per_device_batch_size=8,  # all 8 rows: the same batch every step, so the losses are comparable
        max_length=128,
        optim={"learning_rate": 5e-5, "scheduler": "constant", "warmup_ratio": 0.0},
    )
    s = train_sft(cfg, tmp_path / "sft")
    losses = [r["loss"] for r in read_metrics(tmp_path / "sft") if "loss" in r]
    assert s["chat_template"] == "codeja-chatml" and len(losses) == 3
    assert 0 < losses[-1] < losses[0], losses


def test_extra_data_files_are_concatenated_and_errors_name_the_right_file(tmp_path):
    from codeja.errors import InputError
    from codeja.train.data import load_messages

    conv = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    a, b, empty = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "empty.jsonl"
    a.write_text(json.dumps(conv) + "\n")
    b.write_text(json.dumps(conv) + "\n" + json.dumps({"messages": "oops"}) + "\n")
    empty.write_text("")
    loaded = load_messages([a, empty, b], "skip")
    assert len(loaded.rows) == 2 and loaded.files == [str(a), str(b)] and len(loaded.bad) == 1
    with pytest.raises(InputError, match=r"b\.jsonl:2"):
        load_messages([a, b], "error")
