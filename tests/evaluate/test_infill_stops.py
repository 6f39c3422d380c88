"""Infilling stops come from the model's FIM sentinel registry, for every convention it knows, in the spelling
the model's tokenizer decodes them to (stop strings are matched on decoded text)."""

from __future__ import annotations

import pytest

from codeja.backends.base import apply_stop
from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.benchmarks.humaneval import FIM_STOP
from codeja.evaluate.config import GenerationConfig
from codeja.evaluate.generate import generate_samples
from codeja.evaluate.sanitize import SANITIZERS, get_sanitizer
from codeja.fim.prompt import build_fim_prompt, fim_stop_tokens
from codeja.fim.sentinels import REGISTRY, registry_stop_strings, resolve_sentinels

# convention -> (special tokens of a model using it, eos, the token that ends a middle, other stops expected)
DS_BOS, DS_EOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
CONVENTIONS = {
    "starcoder": (["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>",
                   "<file_sep>"],
                  "<|endoftext|>", "<|endoftext|>", ["<fim_pad>", "<file_sep>", "<fim_prefix>"]),
    "qwen2.5-coder": (["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                       "<|file_sep|>", "<|repo_name|>", "<|im_end|>"],
                      "<|endoftext|>", "<|endoftext|>", ["<|fim_pad|>", "<|file_sep|>", "<|repo_name|>"]),
    "codellama": (["<unk>", "<s>", "</s>", "\u2581<PRE>", "\u2581<MID>", "\u2581<SUF>", "\u2581<EOT>"],
                  "</s>", "\u2581<EOT>", ["</s>", " <EOT>", "<EOT>", " <PRE>"]),
    "deepseek-coder": ([DS_BOS, DS_EOS, "<\uff5cfim\u2581hole\uff5c>", "<\uff5cfim\u2581begin\uff5c>",
                        "<\uff5cfim\u2581end\uff5c>", "<|EOT|>"], DS_EOS, DS_EOS, []),
    "llama3-reserved": (["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
                         *[f"<|reserved_special_token_{i}|>" for i in range(2, 6)]],
                        "<|end_of_text|>", "<|end_of_text|>", ["<|eot_id|>", "<|reserved_special_token_2|>"]),
}
CORPUS = ["def add(a, b):\n    return a + b\n",
          "class Stack:\n    def push(self, x):\n        self.items.append(x)\n"] * 20


def make_tokenizer(convention: str, tmp_path):
    """A small trained tokenizer carrying one convention's special tokens: byte-level BPE, or for Code Llama a
    SentencePiece-style one (▁ for spaces, a decoder that turns ▁ back into a space), as the real ones are."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    specials, eos, _, _ = CONVENTIONS[convention]
    if convention == "codellama":
        tok = Tokenizer(models.BPE(byte_fallback=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                               normalizers.Replace(" ", "\u2581")])
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials, show_progress=False)
    else:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    out = tmp_path / convention
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos).save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


def test_every_registry_convention_has_a_case_here():
    assert set(CONVENTIONS) == set(REGISTRY)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_stop_strings_follow_the_models_convention_and_cut_decoded_text(tmp_path, convention):
    tok = make_tokenizer(convention, tmp_path)
    assert resolve_sentinels(tok).convention == convention
    stops = fim_stop_tokens(tok)
    _, _, end, others = CONVENTIONS[convention]
    assert end in stops and all(s in stops for s in others), stops
    # what generation sees: the middle, the end-of-middle token, then whatever a model would ramble on with
    middle = tok.encode("    return a + b", add_special_tokens=False)
    junk = tok.encode("junk", add_special_tokens=False)
    text = tok.decode(middle + [tok.convert_tokens_to_ids(end)] + junk, skip_special_tokens=False)
    assert apply_stop(text, stops)[0] == tok.decode(middle, skip_special_tokens=False)
    # the registry-wide list (scoring samples of an unknown model) cuts the same text at the same place
    assert apply_stop(text, list(FIM_STOP))[0] == tok.decode(middle, skip_special_tokens=False)


def test_code_llama_eot_is_matched_as_decoded_not_as_the_vocabulary_string(tmp_path):
    """The fixed list's bug: Code Llama's ``▁<EOT>`` decodes to " <EOT>", so the raw string never matches."""
    tok = make_tokenizer("codellama", tmp_path)
    eot = tok.convert_tokens_to_ids("\u2581<EOT>")
    text = tok.decode(tok.encode("x = 1", add_special_tokens=False) + [eot], skip_special_tokens=False)
    assert "\u2581<EOT>" not in text and apply_stop(text, fim_stop_tokens(tok))[1] == " <EOT>"


def test_the_registry_wide_list_replaces_the_old_fixed_one():
    stops = set(registry_stop_strings())
    assert {"<|endoftext|>", "<fim_pad>", "<file_sep>", "<|fim_pad|>", "<|file_sep|>", "\u2581<EOT>",
            " <EOT>", "<EOT>", "</s>", "<|end_of_text|>", "<|eot_id|>", "<|EOT|>"} <= stops
    assert get_benchmark("humaneval-infilling", limit=1).stop == registry_stop_strings()


@pytest.mark.parametrize("sanitizer", sorted(SANITIZERS))
def test_scoring_a_foreign_middle_cuts_at_any_conventions_end(sanitizer):
    bench = get_benchmark("humaneval-infilling", limit=1)
    task = bench.tasks[0]
    cut = get_sanitizer(sanitizer).sanitize_middle(task.canonical + " <EOT> junk", task, bench)
    assert cut == task.canonical or sanitizer == "none"



@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_infilling_generation_stops_with_the_models_own_strings(tmp_path, convention, recording_backend):
    tok = make_tokenizer(convention, tmp_path)
    backend = recording_backend
    bench = get_benchmark("humaneval-infilling", limit=3)
    generate_samples(backend, bench, GenerationConfig(extra_stop=["\n\n\n"]), mode="completion",
                     tokenizer=tok)
    assert backend.calls and all(stop == [*fim_stop_tokens(tok), "\n\n\n"] for _, stop in backend.calls)
    prompts = [p for ps, _ in backend.calls for p in ps]
    assert prompts[0] == build_fim_prompt(tok, bench.tasks[0].prompt, bench.tasks[0].suffix)
