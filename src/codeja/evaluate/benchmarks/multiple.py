"""MultiPL-E HumanEval (``multiple-<lang>``): prompts and tests translated from Python by MultiPL-E.

Program = ``prompt + completion + "\\n" + tests`` with the prompt unstripped (MultiPL-E's own evaluator). In brace
languages the completion stops before ``"\\n}"`` and the tests start with the closing ``}``; a sanitizer that
returns a closed function gets the tests without that closer (``Task.test_close``).

Offline data: DeepSeek-Coder's vendored copy of the *reworded* HumanEval prompts (MultiPL-E v0.3 era; see
``codeja/evaluate/data/PROVENANCE.json``). The canonical hub data is ``nuprl/MultiPL-E`` config
``humaneval-<lang>``; pass ``path="hub:nuprl/MultiPL-E@<revision>"`` to use it (bigcode pins ``28441b6``,
MultiPL-E pins ``3a9e8d2``).

Go: the programs are ``go test`` files (``package <name>_test``); the sandbox builds those with ``go test -c``.
Java: the tests import ``org.javatuples`` as MultiPL-E's container does; without that jar the compile fails.
"""

from __future__ import annotations

import re
from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import CLOSERS, Benchmark, Source, Task, read_rows, source_for
from codeja.paths import benchmark_file

# multiple-<suffix> -> (MultiPL-E language key, sandbox language)
MULTIPLE_LANGS = {"js": "javascript", "ts": "typescript", "java": "java", "cpp": "cpp", "go": "go", "rs": "rust",
                  "sh": "bash"}
MULTIPLE_TIMEOUT = {"javascript": 10.0, "typescript": 30.0, "java": 30.0, "cpp": 30.0, "go": 45.0, "rust": 45.0,
                    "bash": 15.0}
HUB_ID = "nuprl/MultiPL-E"
PINNED_REVISION = "28441b6024e71d4a1c1c0f6bf171c935cd5a43f2"  # bigcode-evaluation-harness 8fc5bae6 ("v3.3")


def _load_hub(spec: str, config: str) -> tuple[list[dict], Source]:
    hub, _, rev = spec[len("hub:"):].partition("@")
    try:
        import datasets

        ds = datasets.load_dataset(hub, config, split="test", revision=rev or PINNED_REVISION)
    except Exception as e:  # noqa: BLE001 - offline or unknown revision: one clear message
        raise InputError(f"could not load {hub}@{rev or PINNED_REVISION} config {config}: {e}") from None
    return [dict(r) for r in ds], Source(hub, rev or PINNED_REVISION, None, getattr(ds, "_fingerprint", None))


class MultiPLE(Benchmark):
    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, lang: str = "js", **_):
        if lang not in MULTIPLE_LANGS:
            raise InputError(f"multiple-{lang}: unsupported language; known: {', '.join(sorted(MULTIPLE_LANGS))}")
        if path and path.startswith("hub:"):
            records, source = _load_hub(path, f"humaneval-{lang}")
        else:
            p = Path(path) if path else benchmark_file(f"multipl-e_via_deepseek-coder/humaneval-{lang}.jsonl")
            records = [r for _, r in read_rows(p, ("name", "prompt", "tests", "stop_tokens"))]
            source = source_for(p, HUB_ID, None)
        language = MULTIPLE_LANGS[lang]
        tasks = []
        for r in records:
            closer = next((c for c in CLOSERS if r["tests"].startswith(c)), "")
            # the entry point is the function the prompt's last line opens: the first `name(` (or `name<T>(`) there
            m = re.search(r"(\w+)\s*(?:<[^<>]*>)?\s*\(", r["prompt"].rstrip().splitlines()[-1])
            entry = m.group(1) if m else None
            tasks.append(Task(task_id=r["name"], prompt=r["prompt"], language=language, test=r["tests"],
                              entry_point=entry, test_close=closer, meta={"stop": list(r["stop_tokens"])}))
        bench = cls(tasks, source, limit=limit, options={"lang": lang})
        bench.name = f"multiple-{lang}"
        bench.language = language
        bench.timeout_s = MULTIPLE_TIMEOUT[language]
        return bench

    @property
    def bigcode_stop(self) -> tuple[str, ...]:
        return ("<file_sep>",)  # + each task's own stop_tokens (bigcode `multiple.py`)
