"""Fixtures for the FIM tests: two small tokenizers trained here, and corpora tokenized with them.

* ``bpe_tok``: a byte-level BPE (tokenizers library) trained on code + Japanese text, with StarCoder FIM tokens.
  Rare kanji never appear in its training text, so they are split into single bytes.
* ``llama3_tok``: the same byte-level BPE behind Llama-3's pre-tokenizer (a ``Split`` regex: digits in threes,
  punctuation that keeps its newlines, whitespace rules), as in Llama-3's tokenizer.json.
* ``sp_tok``: a SentencePiece unigram model trained here with ``byte_fallback=True`` (rare kanji become
  ``<0xNN>`` pieces) and the default dummy prefix, loaded through ``AutoTokenizer`` like a real Japanese LLM's.
"""

from __future__ import annotations

import pytest
from fim_helpers import FIM, build_corpus, make_docs, training_text


@pytest.fixture(scope="session")
def bpe_tok(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|endoftext|>", *FIM, "<file_sep>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_text(), trainer)
    out = tmp_path_factory.mktemp("bpe")
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")


@pytest.fixture(scope="session")
def llama3_tok(tmp_path_factory):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|endoftext|>", *FIM],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_text(), trainer)
    out = tmp_path_factory.mktemp("llama3")
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


@pytest.fixture(scope="session")
def sp_tok(tmp_path_factory):
    import sentencepiece as spm
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("sp")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_text()), model_prefix=str(out / "tokenizer"), vocab_size=600,
        hard_vocab_limit=False, byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, split_digits=True,
        control_symbols=[*FIM, "<|endoftext|>"], minloglevel=2,
    )
    return AutoTokenizer.from_pretrained(out)


@pytest.fixture(params=["bpe", "sp"], scope="session")
def any_tok(request, bpe_tok, sp_tok):
    return bpe_tok if request.param == "bpe" else sp_tok


@pytest.fixture(scope="session")
def corpora(tmp_path_factory, bpe_tok, sp_tok):
    """name -> (prefix, tokenizer, docs) for both tokenizers, 120 mixed documents each."""
    tmp = tmp_path_factory.mktemp("corpora")
    docs = make_docs(120)
    return {"bpe": (build_corpus(tmp, bpe_tok, docs, "bpe"), bpe_tok, docs),
            "sp": (build_corpus(tmp, sp_tok, docs, "sp"), sp_tok, docs)}


@pytest.fixture(params=["bpe", "sp"])
def corpus(request, corpora):
    return corpora[request.param]
