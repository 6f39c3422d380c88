"""Pre-query templates derived from four families' chat templates, with the known corrections."""

import pytest
from synth_chat_templates import make_tokenizer

from codeja.errors import ConfigError
from codeja.synth.templates import CORRECTIONS, derive_pre_query, pre_query_template

SYS = "You are a Go expert. The user pastes buggy Go code and asks you to fix it."


@pytest.fixture(scope="module", params=["llama31", "qwen25", "gemma2", "smollm2"])
def family(request):
    return request.param, make_tokenizer(request.param)


# Exactly what Magpie's model_configs.json uses (Llama-3, Qwen2.5) or what the templates render (Gemma-2 without
# Magpie's extra newline; SmolLM2 with its default system block).
EXPECTED_UNSTEERED = {
    "llama31": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
    "qwen25": "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\n",
    "gemma2": "<bos><start_of_turn>user\n",
    "smollm2": "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
               "<|im_start|>user\n",
}
EXPECTED_STEERED = {
    "llama31": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
               f"Today Date: 26 Jul 2024\n\n{SYS}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
    "qwen25": f"<|im_start|>system\n{SYS}<|im_end|>\n<|im_start|>user\n",
    "gemma2": f"<bos><start_of_turn>user\n{SYS}\n\n",
    "smollm2": f"<|im_start|>system\n{SYS}<|im_end|>\n<|im_start|>user\n",
}
EXPECTED_STOPS = {
    "llama31": ["<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>"],
    "qwen25": ["<|im_end|>", "<|im_start|>assistant"],
    "gemma2": ["<end_of_turn>", "<start_of_turn>model", "<eos>"],
    "smollm2": ["<|im_end|>", "<|im_start|>assistant"],
}


def test_unsteered_pre_query(family):
    name, tok = family
    assert pre_query_template(tok) == EXPECTED_UNSTEERED[name]


def test_steered_pre_query(family):
    name, tok = family
    pq = derive_pre_query(tok, SYS)
    assert pq.text == EXPECTED_STEERED[name]
    assert pq.system_folded == (name == "gemma2")
    assert pq.stop == EXPECTED_STOPS[name]


def test_pre_query_is_a_prefix_of_a_real_conversation(family):
    # what the model sees when it answers must start exactly like the prompt it wrote the instruction from
    name, tok = family
    convo = [{"role": "system", "content": SYS}, {"role": "user", "content": "Fix this: x := 1"}]
    if name == "gemma2":  # no system role: the steering text is the start of the user's own message
        convo = [{"role": "user", "content": SYS + "\n\n" + "Fix this: x := 1"}]
    rendered = tok.apply_chat_template(convo, tokenize=False)
    assert rendered.startswith(derive_pre_query(tok, SYS).text)


def test_corrections_registry_names_what_it_did():
    llama, qwen = make_tokenizer("llama31"), make_tokenizer("qwen25")
    assert derive_pre_query(llama).corrections == ["llama3-drop-injected-system"]
    assert derive_pre_query(llama, SYS).corrections == []  # with a system prompt the rendering is kept
    # Qwen's template already renders its default block; the correction is there for templates that do not
    assert derive_pre_query(qwen).corrections == []
    qwen.chat_template = qwen.chat_template.replace(
        "<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n", "",
    ) + "{# You are Qwen, created by Alibaba Cloud. You are a helpful assistant. #}"
    pq = derive_pre_query(qwen)
    assert pq.corrections == ["qwen2.5-default-system"]
    assert pq.text == EXPECTED_UNSTEERED["qwen25"]
    assert {c.name for c in CORRECTIONS} >= {"llama3-drop-injected-system", "qwen2.5-default-system"}
    assert all(c.reason for c in CORRECTIONS)
    assert derive_pre_query(make_tokenizer("gemma2"), SYS).corrections == ["system-folded-into-user"]


def test_multi_turn_pre_query(family):
    name, tok = family
    history = [{"role": "user", "content": "Write hello world in Go."},
               {"role": "assistant", "content": "package main"}]
    pq = derive_pre_query(tok, None, history)
    assert "Write hello world in Go." in pq.text and "package main" in pq.text
    tail = {"llama31": "<|start_header_id|>user<|end_header_id|>\n\n", "qwen25": "<|im_start|>user\n",
            "gemma2": "<start_of_turn>user\n", "smollm2": "<|im_start|>user\n"}[name]
    assert pq.text.endswith("<|eot_id|>" + tail if name == "llama31" else tail)


def test_no_chat_template_is_a_clear_error():
    tok = make_tokenizer("smollm2")
    tok.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        pre_query_template(tok)
