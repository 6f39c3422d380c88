"""The default backend: Hugging Face transformers ``model.generate``, batched, on CPU or GPU.

How it keeps the house rules while batching:

* Left padding, so every row's next token is at the same position and the batch decodes together.
* Per-row seeded sampling. ``generate`` draws every row from one global torch RNG, so a sample would depend on
  which other prompts share its batch. Instead we run ``generate`` in greedy mode and let
  :class:`SeededSampler` (a logits processor) draw each row's token from its own ``torch.Generator``, seeded
  with ``derive_seed(seed, prompt index, sample index)``: the same prompt gives the same samples whatever the
  batch size, order or worker count.
* Stop strings are checked per row on the decoded continuation (:class:`StopOnStrings`), so a row stops as
  soon as its own text contains one, and the text is cut at the earliest match.
* bf16 autocast on CPUs that compute bf16 natively (avx512_bf16 / AMX); fp32 elsewhere on CPU, where
  emulated bf16 is slower.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from codeja.backends.base import Backend, Generation, Message, SamplingParams, apply_stop, derive_seed
from codeja.backends.settings import check_params
from codeja.errors import CodejaError
from codeja.log import GenerationProgress
from codeja.models import cpu_bf16_supported, load_causal_lm, load_tokenizer, model_fingerprint, resolve_model


def _torch():
    # heavy: torch, transformers (kept out of `codeja --help` and light imports)
    import torch

    return torch


class SeededSampler:
    """Logits processor: temperature + top-p sampling with one generator per row; returns a one-hot mask.

    Its output puts 0 on the drawn token and -inf elsewhere, so the greedy step of ``generate`` picks exactly
    the drawn token. Processors that run before it (repetition penalty) are respected.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float, device):
        torch = _torch()
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self.temperature = float(temperature)
        self.top_p = float(top_p)

    def __call__(self, input_ids, scores):
        torch = _torch()
        logits = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
            cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
            # drop tokens once the mass before them reaches top_p; the most likely token is always kept
            drop_sorted = (cum - torch.softmax(sorted_logits, dim=-1)) >= self.top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        out = torch.full_like(scores, float("-inf"))
        for row, gen in enumerate(self.generators):
            tok = torch.multinomial(probs[row], 1, generator=gen)
            out[row, tok] = 0.0
        return out


class StopOnStrings:
    """Stopping criterion: a row is done once its decoded continuation contains any of the stop strings.

    Not transformers' ``stop_strings`` (``StopStringCriteria``): that one only says whether a row is done, while
    each Generation's ``completion_tokens`` and ``finish_reason`` come from the step at which the row's stop
    string appeared (``stopped_at``); and it matches on vocabulary token strings, not on the decoded text that
    ``apply_stop`` cuts, so byte-level pieces of Japanese text and stop strings that are special tokens (FIM
    sentinels) could end a row at a different token and change the outputs.
    """

    def __init__(self, tokenizer, stop: list[str], prompt_len: int):
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.prompt_len = prompt_len
        self.longest = max(len(s) for s in self.stop)
        self.stopped_at: dict[int, int] = {}  # row -> number of generated tokens when the stop string appeared

    def __call__(self, input_ids, scores, **kwargs):
        torch = _torch()
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        n_gen = input_ids.shape[1] - self.prompt_len
        for row in range(input_ids.shape[0]):
            if row in self.stopped_at:
                done[row] = True
                continue
            # A match must end in the newest token; decoding a window of the last tokens is enough, because every
            # token decodes to at least one character (or a byte fragment) and the window covers the longest stop.
            window = input_ids[row, max(self.prompt_len, input_ids.shape[1] - self.longest - 8):]
            text = self.tokenizer.decode(window, skip_special_tokens=False)
            if any(s in text for s in self.stop):
                self.stopped_at[row] = n_gen
                done[row] = True
        return done


class _CountSteps:
    """Stopping criterion that never stops: tells the progress bar about each decoding step of a batch."""

    def __init__(self, bar, rows: int):
        self.bar, self.rows = bar, rows

    def __call__(self, input_ids, scores, **kwargs):
        self.bar.step(self.rows)
        return _torch().zeros(input_ids.shape[0], dtype=_torch().bool, device=input_ids.device)


class TransformersBackend(Backend):
    """Batched generation with transformers; see the module docstring for how sampling stays reproducible."""

    name = "transformers"

    def __init__(
        self,
        model: str | Path,
        *,
        batch_size: int = 8,
        dtype: str = "auto",
        autocast: bool | None = None,
        device: str | None = None,
        progress: bool | None = None,
    ):

        torch = _torch()
        if batch_size < 1:
            raise CodejaError(f"batch_size must be >= 1, got {batch_size}")
        self.ref = resolve_model(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = load_tokenizer(self.ref, padding_side="left")
        self.model = load_causal_lm(self.ref, dtype=dtype, device=self.device)
        self.batch_size = batch_size
        if autocast is None:
            autocast = self.device == "cpu" and cpu_bf16_supported() and self.model.dtype == torch.float32
        self.autocast = bool(autocast)
        self.progress = progress
        eos = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        gen_eos = self.model.generation_config.eos_token_id
        eos |= set(gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos] if gen_eos is not None else [])
        self.eos_ids = sorted(eos)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]

    # -- public API ------------------------------------------------------------------------------------------

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        return self._generate(list(prompts), params)

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        return self._generate([self.render_chat(c) for c in conversations], params)

    def render_chat(self, messages: list[Message]) -> str:
        """The prompt text the chat template gives for ``messages``, with the assistant turn opened."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise CodejaError(f"{self.ref.path or self.ref.hub_id}: the tokenizer has no chat template; use "
                              "complete() with a raw prompt, or a chat model")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.ref.name, "kind": self.ref.kind,
                "path": str(self.ref.path) if self.ref.path else None, "hub_id": self.ref.hub_id,
                "model_hash": model_fingerprint(self.ref), "dtype": str(self.model.dtype).replace("torch.", ""),
                "autocast_bf16": self.autocast}

    def close(self) -> None:
        self.model = None  # drop the weights; the backend is unusable afterwards

    # -- internals -------------------------------------------------------------------------------------------

    def _generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        if self.model is None:
            raise CodejaError("this backend was closed")
        encoded = encode_prompts(self.tokenizer, prompts, params)
        sampling = params.temperature > 0
        # Greedy decoding gives the same text for every sample: decode each prompt once, copy it n times.
        rows = [(i, j) for i in range(len(prompts)) for j in range(params.n if sampling else 1)]
        # Longest first: batches of similar length waste less compute on padding. The order cannot change a
        # sample: each row's randomness comes from its own (seed, i, j) generator.
        rows.sort(key=lambda r: -len(encoded[r[0]]))
        results: dict[tuple[int, int], Generation] = {}
        batches = [rows[k:k + self.batch_size] for k in range(0, len(rows), self.batch_size)]
        # per sample, with generated tokens/s: a bar over batches sat at 0/1 for minutes on a CPU
        with GenerationProgress(len(rows), show=self.progress) as bar:
            for batch in batches:
                gens = self._generate_batch([encoded[i] for i, _ in batch], batch, params, bar)
                for key, gen in zip(batch, gens):
                    results[key] = gen
                bar.update(len(batch), sum(g.completion_tokens for g in gens))
        out = []
        for i in range(len(prompts)):
            if sampling:
                out.append([results[(i, j)] for j in range(params.n)])
            else:
                g = results[(i, 0)]
                out.append([Generation(**g.as_dict()) for _ in range(params.n)])
        return out

    def _generate_batch(self, ids: list[list[int]], keys: list[tuple[int, int]], params: SamplingParams,
                        bar=None) -> list[Generation]:
        torch = _torch()
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(ids), width), dtype=torch.long)
        for r, x in enumerate(ids):
            input_ids[r, width - len(x):] = torch.tensor(x, dtype=torch.long)
            attention[r, width - len(x):] = 1
        input_ids, attention = input_ids.to(self.device), attention.to(self.device)

        gen_cfg = GenerationConfig(
            max_new_tokens=params.max_new_tokens, do_sample=False, num_beams=1,
            repetition_penalty=params.repetition_penalty, eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
            temperature=None, top_p=None, top_k=None,
        )
        processors = LogitsProcessorList()
        if params.temperature > 0:
            seeds = [derive_seed(params.seed, i, j) for i, j in keys]
            processors.append(SeededSampler(seeds, params.temperature, params.top_p, self.device))
        criteria = StoppingCriteriaList([_CountSteps(bar, len(ids))] if bar is not None else [])
        stopper = None
        if any(params.stop):
            stopper = StopOnStrings(self.tokenizer, params.stop, width)
            criteria.append(stopper)

        amp = (torch.autocast("cpu", dtype=torch.bfloat16) if self.autocast and self.device == "cpu"
               else contextlib.nullcontext())
        with torch.inference_mode(), amp:
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, generation_config=gen_cfg,
                                      logits_processor=processors, stopping_criteria=criteria)
        new = out[:, width:].tolist()

        gens = []
        eos = set(self.eos_ids)
        for r, x in enumerate(ids):
            toks = new[r]
            n_eos = next((k for k, t in enumerate(toks) if t in eos), None)
            n_stop = stopper.stopped_at.get(r) if stopper else None
            # The row ended at whichever came first: EOS (counted as a generated token) or a stop string.
            ends = [e for e in (None if n_eos is None else n_eos + 1, n_stop) if e is not None]
            n_tokens = min(ends) if ends else len(toks)
            body = toks[:n_tokens]
            if body and body[-1] in eos:
                body = body[:-1]
            text, matched = apply_stop(self.tokenizer.decode(body, skip_special_tokens=True), params.stop)
            if matched is None and stopper is not None and n_stop is not None:
                text, matched = self._cut_at_special_stop(body, params.stop)
            finished = matched is not None or (n_eos is not None and n_eos + 1 <= n_tokens)
            gens.append(Generation(text=text, prompt_tokens=len(x), completion_tokens=n_tokens,
                                   finish_reason="stop" if finished else "length", stop_reason=matched))
        return gens

    def _cut_at_special_stop(self, body: list[int], stop: list[str]) -> tuple[str, str | None]:
        """A stop string that is (or contains) a special token: match on the raw text, then drop special tokens."""
        text, matched = apply_stop(self.tokenizer.decode(body, skip_special_tokens=False), stop)
        for special in self.tokenizer.all_special_tokens:
            text = text.replace(special, "")
        return text, matched


def encode_prompts(tokenizer, prompts: list[str], params: SamplingParams) -> list[list[int]]:
    """Token ids of each prompt as written (no special tokens added), after checking the sampling settings."""
    check_params(params)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    empty = [i for i, x in enumerate(encoded) if not x]
    if empty:
        raise CodejaError(f"empty prompt at index {empty[0]} ({len(empty)} in all): a prompt needs at least one token")
    return encoded

