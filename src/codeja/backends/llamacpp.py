"""In-process llama.cpp (``llama-cpp-python``, the ``codeja[llamacpp]`` extra): fast generation on a CPU.

The model is the same one the transformers backend runs: an HF checkpoint is exported once to a GGUF with its
weights unchanged (:mod:`codeja.models.to_gguf`, cached by the checkpoint's fingerprint); a ``.gguf`` file is used
as it is. Everything around the forward pass is codeja's, as in the transformers backend, so both backends are
interchangeable in a stage:

* prompts are token ids from the checkpoint's own HF tokenizer (``add_special_tokens=False``), and chats are
  rendered by its chat template, so both backends see the same tokens;
* generation ends at the same end-of-sequence ids (the tokenizer's and ``generation_config.json``'s, not the
  longer list llama.cpp guesses), at a stop string, or at ``max_new_tokens``;
* sample ``j`` of prompt ``i`` is drawn with seed ``derive_seed(params.seed, i, j)`` (temperature + top-p only:
  llama.cpp's top-k and min-p are switched off); greedy decoding runs once per prompt and is copied ``n`` times.

Sequences are decoded one at a time (llama.cpp's KV cache is reused for a shared prompt prefix, e.g. the ``n``
samples of one prompt). Greedy outputs can differ from the transformers backend's where two tokens' logits are
within bf16 rounding of each other: the kernels differ (see ``benchmarks/bench_llamacpp.py``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from codeja.backends.base import Backend, Generation, Message, SamplingParams, apply_stop, derive_seed
from codeja.backends.hf import encode_prompts
from codeja.errors import CodejaError
from codeja.log import GenerationProgress, verbose
from codeja.models import load_tokenizer, model_fingerprint, resolve_model

INSTALL_HINT = ("the llamacpp backend needs llama-cpp-python, which is not installed: `pip install "
                "'codeja[llamacpp]'` (builds llama.cpp from source, about 4 minutes) or `make setup-test`; or serve "
                "a GGUF with llama.cpp's server and use --backend openai --base-url http://127.0.0.1:8080/v1")


def available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(self, model: str | Path, *, n_ctx: int = 4096, n_threads: int | None = None, n_batch: int = 512,
                 progress: bool | None = None):
        if not available():
            raise CodejaError(INSTALL_HINT)
        # heavy: llama_cpp (kept out of `codeja --help` and light imports)
        from llama_cpp import Llama

        # start-up path (codeja.cli imports the backends): to_gguf imports numpy
        from codeja.models.to_gguf import cached_gguf

        self.ref = resolve_model(model)
        self.gguf_path = cached_gguf(self.ref)
        self.tokenizer = load_tokenizer(self.ref)  # the chat template and FIM sentinels, as transformers has them
        threads = n_threads or len(os.sched_getaffinity(0))
        self.llm = Llama(model_path=str(self.gguf_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                         n_batch=n_batch, verbose=verbose())
        self.n_ctx = self.llm.n_ctx()
        self.threads = threads
        self.progress = progress
        self.eos_ids = sorted(self._eos_ids())

    def _eos_ids(self) -> set[int]:
        """The ids that end a sequence for the transformers backend: the tokenizer's EOS and generation_config's."""
        eos = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        folder = self.ref.path if self.ref.kind != "gguf" else None
        gen_cfg = Path(folder) / "generation_config.json" if folder else None
        if gen_cfg is not None and gen_cfg.is_file():
            ids = json.loads(gen_cfg.read_text(encoding="utf-8")).get("eos_token_id")
            eos |= set(ids if isinstance(ids, list) else [ids] if isinstance(ids, int) else [])
        if not eos:
            eos.add(self.llm.token_eos())
        return eos

    # -- public API ------------------------------------------------------------------------------------------

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        return self._generate(list(prompts), params)

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise CodejaError(f"{self.ref.name}: the tokenizer has no chat template; use complete() with a raw "
                              "prompt, or a chat model")
        rendered = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                    for c in conversations]
        return self._generate(rendered, params)

    def identity(self) -> dict[str, Any]:
        import llama_cpp

        return {"backend": self.name, "model": self.ref.name, "kind": self.ref.kind,
                "path": str(self.ref.path) if self.ref.path else None, "model_hash": model_fingerprint(self.ref),
                "gguf": str(self.gguf_path), "llama_cpp_python": llama_cpp.__version__, "n_threads": self.threads}

    def close(self) -> None:
        if getattr(self, "llm", None) is not None:
            self.llm.close()
            self.llm = None

    # -- internals -------------------------------------------------------------------------------------------

    def _generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        if self.llm is None:
            raise CodejaError("this backend was closed")
        encoded = encode_prompts(self.tokenizer, prompts, params)
        too_long = [i for i, x in enumerate(encoded) if len(x) >= self.n_ctx]
        if too_long:
            raise CodejaError(f"prompt {too_long[0]} has {len(encoded[too_long[0]])} tokens, more than the context "
                              f"({self.n_ctx}); raise backend_options.n_ctx")
        sampling = params.temperature > 0
        out: list[list[Generation]] = []
        with GenerationProgress(len(prompts) * (params.n if sampling else 1), show=self.progress) as bar:
            for i, ids in enumerate(encoded):
                if sampling:
                    gens = []
                    for j in range(params.n):
                        gens.append(self._one(ids, params, derive_seed(params.seed, i, j), bar))
                        bar.update(1, gens[-1].completion_tokens)
                else:
                    g = self._one(ids, params, 0, bar)
                    bar.update(1, g.completion_tokens)
                    gens = [Generation(**g.as_dict()) for _ in range(params.n)]
                out.append(gens)
        return out

    def _one(self, ids: list[int], params: SamplingParams, seed: int, bar=None) -> Generation:
        """Decode one sequence; ends like the transformers backend (EOS counted as a token, stop strings cut)."""
        eos = set(self.eos_ids)
        stops = [s for s in params.stop if s]
        longest = max((len(s) for s in stops), default=0)
        budget = min(params.max_new_tokens, self.n_ctx - len(ids))
        self.llm.set_seed(seed)
        toks: list[int] = []
        stopped = False
        ended = False
        for tok in self.llm.generate(ids, temp=params.temperature, top_p=params.top_p, top_k=0, min_p=0.0,
                                     repeat_penalty=params.repetition_penalty, reset=True):
            toks.append(tok)
            if bar is not None:
                bar.step(1)
            if tok in eos:
                ended = True
                break
            if stops:
                # a match must end in the newest token: decoding a window that covers the longest stop is enough
                tail = self._text(toks[-(longest + 8):], special=True)
                if any(s in tail for s in stops):
                    stopped = True
                    break
            if len(toks) >= budget:
                break
        body = toks[:-1] if ended else toks
        text, matched = apply_stop(self._text(body, special=False), params.stop)
        if stopped and matched is None:  # the stop string is (or contains) a special token
            text, matched = apply_stop(self._text(body, special=True), params.stop)
            for special in self.tokenizer.all_special_tokens:
                text = text.replace(special, "")
        finished = ended or matched is not None
        return Generation(text=text, prompt_tokens=len(ids), completion_tokens=len(toks),
                          finish_reason="stop" if finished else "length", stop_reason=matched)

    def _text(self, toks: list[int], *, special: bool) -> str:
        # the HF tokenizer decodes, as in the transformers backend, so both backends return the same text
        return self.tokenizer.decode(toks, skip_special_tokens=not special)
