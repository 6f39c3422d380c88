"""Completion prompts ending in whitespace are sent without it by default (the model writes the newline).

The effect on a real model: a tiny random Llama is trained here on functions whose last line ends in a bare
"\\n" token followed by end-of-document (the tokenizer merges every other newline with the next line's
indentation, as in real code). Given a HumanEval-style prompt ending in that bare newline it stops at once;
given the same prompt without it, it writes the body.
"""

from __future__ import annotations

import pytest

from codeja.backends.base import Backend, Generation
from codeja.evaluate.benchmarks import Task, get_benchmark
from codeja.evaluate.benchmarks.base import Benchmark, Source
from codeja.evaluate.config import EvalConfig, GenerationConfig
from codeja.evaluate.generate import completion_prompt, generate_samples


class PyBench(Benchmark):
    name = "py"


TASK = Task(task_id="t/0", prompt='def add(a, b):\n    """Add two numbers."""\n', language="python",
            test="def check(f):\n    assert f(1, 2) == 3\n", entry_point="add")


class Echo(Backend):
    """Returns a fixed continuation and records the prompts it was sent."""

    name = "echo"

    def __init__(self, text: str):
        self.text, self.prompts = text, []

    def complete(self, prompts, params):
        self.prompts += prompts
        gen = Generation(text=self.text, prompt_tokens=9, completion_tokens=3, finish_reason="stop")
        return [[gen] for _ in prompts]

    def chat(self, conversations, params):
        raise AssertionError("completion mode only")


def _rows(text: str, tail: str, task: Task = TASK):
    backend = Echo(text)
    rows = generate_samples(backend, PyBench([task], Source(None, None, None, None)),
                            GenerationConfig(prompt_tail=tail), mode="completion")
    return backend.prompts, rows


def test_strip_sends_the_prompt_without_its_trailing_newline_and_rebases_the_completion():
    sent, rows = _rows("\n    return a + b\n", "strip")
    assert sent == [TASK.prompt[:-1]]
    # the completion continues the dataset's prompt again: prompt + completion is exactly what the model wrote
    assert rows[0]["completion"] == "    return a + b\n"
    assert TASK.prompt + rows[0]["completion"] == sent[0] + "\n    return a + b\n"


def test_keep_sends_the_raw_prompt():
    sent, rows = _rows("    return a + b\n", "keep")
    assert sent == [TASK.prompt] and rows[0]["completion"] == "    return a + b\n"


def test_a_model_that_does_not_write_the_tail_is_appended_to_the_dataset_prompt():
    # e.g. it continues the docstring line; the dataset's newline stays, nothing of the model's text is
    # dropped
    _, rows = _rows("  # more\n    return a + b\n", "strip")
    assert rows[0]["completion"] == "  # more\n    return a + b\n"


def test_every_kind_of_trailing_whitespace_is_left_to_the_model():
    task = Task(task_id="t/1", prompt="function f(x) {\n  \n", language="javascript")
    assert completion_prompt(task, "psm", None, "strip") == ("function f(x) {", "\n  \n")
    assert completion_prompt(task, "psm", None, "keep") == (task.prompt, "")
    no_tail = Task(task_id="t/2", prompt="質問：東京は？\n答え：", language="ja")
    assert completion_prompt(no_tail, "psm", None, "strip") == (no_tail.prompt, "")


def test_every_completion_mode_benchmark_prompt_ends_in_whitespace_that_strip_removes():
    """What the setting touches: every code benchmark's prompt ends in a newline (NIILC's does not)."""
    for name in ("humaneval", "jhumaneval", "multiple-js", "humanevalfix-python", "humanevalsynthesize-go"):
        task = get_benchmark(name, limit=1).tasks[0]
        sent, tail = completion_prompt(task, "psm", None, "strip")
        assert tail and tail.strip() == "" and sent + tail == task.prompt, name


def test_prompt_tail_is_a_validated_config_field_recorded_with_the_generation_settings():
    assert GenerationConfig().prompt_tail == "strip"
    with pytest.raises(Exception, match="prompt_tail"):
        EvalConfig.model_validate({"generation": {"prompt_tail": "drop"}})


def _train_eod_after_bare_newline(out):
    """A byte-level BPE trained on small functions (it merges a newline with the next line's indentation, as
    real code tokenizers do, so the only bare "\\n" is a file's last) and a tiny Llama trained on them,
    end-of-document after each; saved as an HF folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    docs = [f'def f{i}(a, b):\n    """Add {i} to a."""\n    return a + {i}\n' for i in range(16)]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(docs * 4, trainer)
    PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>").save_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    ids = [tok(d, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for d in docs]
    bare_nl = tok.convert_tokens_to_ids("\u010a")  # "\n" alone
    assert all(x.count(bare_nl) == 1 and x[-2] == bare_nl for x in ids)  # the premise, as in the pilot
    width = max(map(len, ids))
    x = torch.full((len(ids), width), tok.eos_token_id)
    mask = torch.zeros_like(x)
    for r, row in enumerate(ids):
        x[r, :len(row)], mask[r, :len(row)] = torch.tensor(row), 1
    torch.manual_seed(0)
    eos = tok.eos_token_id
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
                                         max_position_embeddings=128, bos_token_id=eos, eos_token_id=eos,
                                         pad_token_id=eos))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = model(input_ids=x, attention_mask=mask, labels=x.masked_fill(mask == 0, -100)).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < 0.6
    model.save_pretrained(out)
    return out


@pytest.fixture
def one_torch_thread():
    """The model's ops are tiny: a second thread costs more in synchronisation than it computes (on a busy
    machine, much more)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_a_model_trained_to_end_after_a_bare_newline_stops_on_raw_prompts_and_writes_on_stripped_ones(
        tmp_path, one_torch_thread):
    from codeja.backends import get_backend

    model = _train_eod_after_bare_newline(tmp_path / "model")
    backend = get_backend(str(model), "transformers", batch_size=2)
    tasks = [Task(task_id=f"t/{i}", prompt=f'def g{i}(a, b):\n    """Add {i} to a."""\n', language="python")
             for i in (5, 12)]  # HumanEval's shape: signature, docstring, a bare newline
    bench = PyBench(tasks, Source(None, None, None, None))
    gen = {"max_new_tokens": 12}
    keep, strip = GenerationConfig(prompt_tail="keep", **gen), GenerationConfig(prompt_tail="strip", **gen)
    raw = generate_samples(backend, bench, keep, mode="completion")
    handled = generate_samples(backend, bench, strip, mode="completion")
    # the raw prompt: end-of-document straight away, one token and nothing written
    assert [(r["completion_tokens"], r["completion"]) for r in raw] == [(1, ""), (1, "")]
    # the stripped prompt: the model writes the newline with the indentation, then the body
    for r in handled:
        assert r["completion_tokens"] > 3 and r["completion"].startswith("    return a + "), r
