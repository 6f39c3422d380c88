"""``codeja generate``: the user-facing smoke command for every backend."""

from __future__ import annotations

import json
from typing import Any

import typer

from codeja.backends import SamplingParams, check_backend, get_backend
from codeja.backends.settings import check_params


def generate(
    model: str = "tiny",
    prompt: str | list[str] = "",
    *,
    chat: bool = False,
    backend: str | None = None,
    base_url: str | None = None,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    top_p: float = 1.0,
    n: int = 1,
    stop: list[str] | None = None,
    seed: int = 0,
    system: str | None = None,
) -> dict[str, Any]:
    """Generate for one or more prompts; returns ``{"backend": identity, "params": ..., "results": [...]}``.

    With ``chat`` each prompt is one user turn (after ``system`` if given) rendered by the chat template;
    otherwise the prompt is continued as raw text. ``backend`` defaults to transformers, or openai when
    ``base_url`` is given.
    """
    backend = backend or ("openai" if base_url else "transformers")
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                            stop=list(stop or []), seed=seed)
    check_params(params)  # bad values and names are reported before any model loads
    check_backend(backend)
    opts = {"base_url": base_url} if backend == "openai" else {}
    with get_backend(model, backend, **opts) as engine:
        if chat:
            convs = [([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": p}]
                     for p in prompts]
            gens = engine.chat(convs, params)
        else:
            gens = engine.complete(prompts, params)
        identity = engine.identity()
    return {"backend": identity, "params": params.as_dict(),
            "results": [{"prompt": p, "generations": [g.as_dict() for g in gs]} for p, gs in zip(prompts, gens)]}


def register(root: typer.Typer) -> None:
    @root.command("generate")
    def generate_cmd(
        model: str = typer.Option("tiny", "--model", "-m", help="'tiny', an HF folder, a .gguf file, a hub id, or "
                                  "the server's model name with --backend openai."),
        prompt: list[str] = typer.Option(..., "--prompt", "-p", help="Prompt text (repeatable for a batch)."),
        chat: bool = typer.Option(False, "--chat", help="Send the prompt as a user message through the chat template."),
        backend: str | None = typer.Option(None, "--backend", help="transformers (default) | llamacpp (fast on a "
                                              "CPU) | openai (default with --base-url) | vllm."),
        base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. "
                                               "http://127.0.0.1:8080/v1 (llama.cpp's llama-server, vllm serve)."),
        max_new_tokens: int = typer.Option(128, "--max-new-tokens", help="Most tokens to generate."),
        temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy."),
        top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass."),
        n: int = typer.Option(1, "--n", help="Samples per prompt."),
        stop: list[str] | None = typer.Option(None, "--stop", help="Stop string (repeatable)."),
        seed: int = typer.Option(0, "--seed", help="Sampling seed; sample j of prompt i uses derive_seed(seed, i, j)."),
        system: str | None = typer.Option(None, "--system", help="System message for --chat."),
        as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    ) -> None:
        """Generate text from a model with any backend (a smoke test for models and servers)."""
        out = generate(model, prompt, chat=chat, backend=backend, base_url=base_url, max_new_tokens=max_new_tokens,
                       temperature=temperature, top_p=top_p, n=n, stop=stop, seed=seed, system=system)
        if as_json:
            typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
            return
        many = len(out["results"]) > 1 or n > 1
        for i, res in enumerate(out["results"]):
            for j, g in enumerate(res["generations"]):
                if many:
                    typer.echo(f"--- prompt {i} sample {j} ({g['completion_tokens']} tokens, {g['finish_reason']})")
                typer.echo(g["text"])
