"""In-process vLLM (optional extra ``codeja[vllm]``; needs a GPU).

Prompts are sent as token ids encoded with ``add_special_tokens=False``, exactly as the transformers backend does,
so both backends see the same tokens for the same prompt; chats are rendered with the model's own chat template.
Each sample is its own request with ``seed = derive_seed(params.seed, i, j)`` (vLLM supports per-request seeds),
so a sample does not depend on batching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeja.backends.base import Backend, Generation, Message, SamplingParams, apply_stop, derive_seed
from codeja.backends.settings import check_params
from codeja.errors import CodejaError
from codeja.models import load_tokenizer, model_fingerprint, resolve_model


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str | Path, *, dtype: str = "auto", **llm_kwargs: Any):
        try:
            # heavy: vllm (kept out of `codeja --help` and light imports)
            import vllm  # noqa: F401
        except ImportError:
            raise CodejaError(
                "the vllm backend needs vLLM, which is not installed: `pip install 'codeja[vllm]'` on a machine "
                "with a supported GPU; or use --backend transformers, or --backend openai against a `vllm serve` "
                "server") from None
        from vllm import LLM

        self.ref = resolve_model(model)
        if self.ref.kind == "gguf":
            name = str(self.ref.path)
            llm_kwargs.setdefault("tokenizer", str(self.ref.path.parent))
        else:
            name = str(self.ref.path or self.ref.hub_id)
        self.tokenizer = load_tokenizer(self.ref)
        self.llm = LLM(model=name, dtype=dtype, **llm_kwargs)

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        return self._generate(list(prompts), params)

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise CodejaError(f"{self.ref.name}: the tokenizer has no chat template; use complete() instead")
        prompts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                   for c in conversations]
        return self._generate(prompts, params)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.ref.name, "path": str(self.ref.path) if self.ref.path else None,
                "hub_id": self.ref.hub_id, "model_hash": model_fingerprint(self.ref)}

    def sampling_params(self, params: SamplingParams, seed: int):
        """Map codeja's SamplingParams to one ``vllm.SamplingParams`` (one sample, its own seed)."""
        from vllm import SamplingParams as VSP

        return VSP(n=1, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_new_tokens,
                   stop=list(params.stop) or None, seed=seed, repetition_penalty=params.repetition_penalty)

    def _generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        check_params(params)
        keys = [(i, j) for i in range(len(prompts)) for j in range(params.n)]
        token_prompts = [{"prompt_token_ids": self.tokenizer(prompts[i], add_special_tokens=False)["input_ids"]}
                         for i, _ in keys]
        sps = [self.sampling_params(params, derive_seed(params.seed, i, j)) for i, j in keys]
        outputs = self.llm.generate(token_prompts, sps, use_tqdm=len(keys) >= 16)
        result: list[list[Generation]] = [[None] * params.n for _ in prompts]  # type: ignore[list-item]
        for (i, j), out in zip(keys, outputs):
            comp = out.outputs[0]
            text, matched = apply_stop(comp.text, params.stop)
            stop_reason = comp.stop_reason if isinstance(comp.stop_reason, str) else matched
            result[i][j] = Generation(
                text=text, prompt_tokens=len(out.prompt_token_ids or []), completion_tokens=len(comp.token_ids),
                finish_reason="length" if comp.finish_reason == "length" else "stop", stop_reason=stop_reason)
        return result

    def close(self) -> None:
        self.llm = None
