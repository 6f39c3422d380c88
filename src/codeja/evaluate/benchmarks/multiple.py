"""MultiPL-E HumanEval (``multiple-<lang>``): prompts and tests translated from Python by MultiPL-E.

Program = ``prompt + completion + "\\n" + tests`` with the prompt unstripped (MultiPL-E's own evaluator). In brace
languages the completion stops before ``"\\n}"`` and the tests start with the closing ``}``; a sanitizer that
returns a closed function gets the tests without that closer (``Task.test_close``).

Offline data: DeepSeek-Coder's vendored copy of the *reworded* HumanEval prompts (MultiPL-E v0.3 era; see
``codeja/evaluate/data/PROVENANCE.json``), all 18 languages of it. The canonical hub data is ``nuprl/MultiPL-E``
config ``humaneval-<lang>``; pass ``path="hub:nuprl/MultiPL-E@<revision>"`` to use it (bigcode pins ``28441b6``,
MultiPL-E pins ``3a9e8d2``). ``multiple-java-ja`` and ``multiple-cpp-ja`` are to-aoki/humaneval_java_ja: the same
Java and C++ problems with the prompt comments in Japanese (no hub copy).

Each language runs as MultiPL-E's evaluator runs it (``evaluation/src/eval_<lang>.py``; commands in
``codeja.sandbox.languages``): Java with ``org.javatuples`` on the class path and ``-ea``; C# compiled with
``DEBUG`` defined and run on Mono; D compiled with ``-unittest``; Go as a ``go test`` binary. A program passes when
it exits 0 and, for the languages whose evaluator also reads the output, that output shows no failure
(``FAILS_WHEN``). Julia and Swift have no Debian 12 package: unless installed by hand they report
``toolchain-missing``, never a model failure.
"""

from __future__ import annotations

import re
from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import CLOSERS, Benchmark, Source, Task, read_rows, source_for
from codeja.paths import benchmark_file

# multiple-<suffix> -> sandbox language; suffix = MultiPL-E's language key (+ "-ja": the Japanese prompts)
MULTIPLE_LANGS = {"js": "javascript", "ts": "typescript", "java": "java", "cpp": "cpp", "go": "go", "rs": "rust",
                  "sh": "bash", "cs": "csharp", "d": "d", "jl": "julia", "lua": "lua", "php": "php", "pl": "perl",
                  "r": "r", "rb": "ruby", "rkt": "racket", "scala": "scala", "swift": "swift",
                  "java-ja": "java", "cpp-ja": "cpp"}
# Run-step wall clock per program: about twice MultiPL-E's limit (5-15 s), which is set for a quiet machine.
MULTIPLE_TIMEOUT = {"javascript": 10.0, "typescript": 30.0, "java": 30.0, "cpp": 30.0, "go": 45.0, "rust": 45.0,
                    "bash": 15.0, "csharp": 10.0, "d": 30.0, "julia": 10.0, "lua": 30.0, "php": 30.0, "perl": 30.0,
                    "r": 10.0, "ruby": 10.0, "racket": 30.0, "scala": 30.0, "swift": 10.0}
# Languages whose MultiPL-E evaluator fails a program on its output even when it exits 0:
# language -> (streams, markers; no markers = any text at all on those streams)
FAILS_WHEN = {
    "csharp": (("stderr",), ("System.Diagnostics.DefaultTraceListener.Fail", "Unhandled Exception")),  # Mono's
    # Debug.Assert prints its failure (to stderr: MONO_TRACE_LISTENER=Console.Error) and the program exits 0
    "racket": (("stderr",), ()),  # rackunit reports failed checks on stderr and exits 0
    "scala": (("stderr",), ()),
    "perl": (("stdout", "stderr"), ("ERROR",)),
    "go": (("stdout",), ("FAIL",)),
}
HUB_ID = "nuprl/MultiPL-E"
PINNED_REVISION = "28441b6024e71d4a1c1c0f6bf171c935cd5a43f2"  # bigcode-evaluation-harness 8fc5bae6 ("v3.3")
JA_SOURCE = ("github:to-aoki/humaneval_java_ja", "440b4d6a918f86817f12df49faf09a04efbd8651")

# A correct and a wrong completion of one task per benchmark (MultiPL-E ships no reference solutions): the wrong
# one compiles and runs, so only the tests can reject it. Java uses a task whose tests compare javatuples Pairs.
_ADD = "HumanEval_53_add"
_PALINDROME_JAVA = """        long even = 0, odd = 0;
        for (long i = 1; i <= n; i++) {
            String s = Long.toString(i);
            if (new StringBuilder(s).reverse().toString().equals(s)) {
                if (i % 2 == 0) even++; else odd++;
            }
        }
        return Pair.with(PAIR);
"""
PROBES: dict[str, tuple[str, str, str]] = {  # suffix -> (task_id, passing completion, failing completion)
    "js": (_ADD, "  return x + y;\n}\n", "  return x - y;\n}\n"),
    "ts": (_ADD, "  return x + y;\n}\n", "  return x - y;\n}\n"),
    "java": ("HumanEval_107_even_odd_palindrome", _PALINDROME_JAVA.replace("PAIR", "even, odd"),
             _PALINDROME_JAVA.replace("PAIR", "odd, even")),
    "cpp": (_ADD, "    return x + y;\n", "    return x - y;\n"),
    "go": (_ADD, "\treturn x + y\n}\n", "\treturn x - y\n}\n"),
    "rs": (_ADD, "    x + y\n", "    x - y\n"),
    "sh": (_ADD, "    echo $(( $1 + $2 ))\n", "    echo $(( $1 - $2 ))\n"),
    "cs": (_ADD, "        return x + y;\n", "        return x - y;\n"),
    "d": (_ADD, "{\n    return x + y;\n}\n", "{\n    return x - y;\n}\n"),
    "jl": (_ADD, "    return x + y\nend\n", "    return x - y\nend\n"),
    "lua": (_ADD, "    return x + y\nend\n", "    return x - y\nend\n"),
    "php": (_ADD, "    return $x + $y;\n}\n", "    return $x - $y;\n}\n"),
    "pl": (_ADD, "    return $x + $y;\n}\n", "    return $x - $y;\n}\n"),
    "r": (_ADD, "    x + y\n}\n", "    x - y\n}\n"),
    "rb": (_ADD, "    x + y\nend\n", "    x - y\nend\n"),
    "rkt": (_ADD, "  (+ x y))\n", "  (- x y))\n"),
    "scala": (_ADD, "        x + y\n", "        x - y\n"),
    "swift": (_ADD, "    return x + y\n", "    return x - y\n"),
}
# A body that compiles whatever the task's types and fails when run: the known-wrong sample of every task
STUBS = {"js": '  throw new Error("stub");\n}\n', "ts": '  throw new Error("stub");\n}\n',
         "java": "        throw new UnsupportedOperationException();\n", "cpp": '    throw "stub";\n',
         "go": '\tpanic("stub")\n}\n', "rs": "    unimplemented!()\n", "sh": "    return 1\n",
         "cs": "        throw new NotImplementedException();\n", "d": "{\n    assert(0);\n}\n",
         "jl": '    error("stub")\nend\n', "lua": "    error('stub')\nend\n",
         "php": "    throw new Exception('stub');\n}\n", "pl": "    die 'stub';\n}\n", "r": "    stop('stub')\n}\n",
         "rb": "    raise 'stub'\nend\n",
         "rkt": "  (error 'stub))\n", "scala": "        ???\n", "swift": '    fatalError("stub")\n'}
for _ja in ("java", "cpp"):
    PROBES[f"{_ja}-ja"], STUBS[f"{_ja}-ja"] = PROBES[_ja], STUBS[_ja]


def data_file(lang: str) -> Path:
    """The offline copy of ``multiple-<lang>``'s data (the one place that knows where it lives)."""
    if lang.endswith("-ja"):
        return benchmark_file(f"humaneval_java_ja/data/humaneval-{lang.removesuffix('-ja')}_ja.jsonl")
    return benchmark_file(f"multipl-e_via_deepseek-coder/humaneval-{lang}.jsonl")


# How a prompt names the function it opens, where it is not the first `name(` (or `name<T>(`) on its last line
_ENTRY = {"perl": r"^sub\s+(\w+)", "r": r"^([\w.]+)\s*<-\s*function", "racket": r"^\(define\s+\(([^\s()]+)"}


def entry_point(prompt: str, language: str) -> str | None:
    if language in _ENTRY:
        found = re.findall(_ENTRY[language], prompt, re.MULTILINE)
        return found[-1] if found else None
    m = re.search(r"(\w+)\s*(?:<[^<>]*>)?\s*\(", prompt.rstrip().splitlines()[-1])
    return m.group(1) if m else None


def _load_hub(spec: str, config: str) -> tuple[list[dict], Source]:
    hub, _, rev = spec[len("hub:"):].partition("@")
    try:
        # heavy: datasets (kept out of `codeja --help` and light imports)
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
        japanese = lang.endswith("-ja")
        if path and path.startswith("hub:"):
            if japanese:
                raise InputError(f"multiple-{lang}: no hub copy exists (to-aoki/humaneval_java_ja is on GitHub "
                                 "only); pass a local JSONL path or use the bundled copy")
            records, source = _load_hub(path, f"humaneval-{lang}")
        else:
            p = Path(path) if path else data_file(lang)
            records = [r for _, r in read_rows(p, ("name", "prompt", "tests", "stop_tokens"))]
            source = source_for(p, *(JA_SOURCE if japanese else (HUB_ID, None)))
        language = MULTIPLE_LANGS[lang]
        tasks = []
        for r in records:
            closer = next((c for c in CLOSERS if r["tests"].startswith(c)), "")
            tasks.append(Task(task_id=r["name"], prompt=r["prompt"], language=language, test=r["tests"],
                              entry_point=entry_point(r["prompt"], language), test_close=closer,
                              meta={"stop": list(r["stop_tokens"])}))
        options = {"lang": lang, **({"prompt_lang": "ja"} if japanese else {})}
        bench = cls(tasks, source, limit=limit, options=options)
        bench.name = f"multiple-{lang}"
        bench.language = language
        bench.timeout_s = MULTIPLE_TIMEOUT[language]
        return bench

    @property
    def bigcode_stop(self) -> tuple[str, ...]:
        return ("<file_sep>",)  # + each task's own stop_tokens (bigcode `multiple.py`)

    def passed(self, task: Task, result) -> bool:
        """Exit 0, and no failure in the output where MultiPL-E's evaluator looks for one (``FAILS_WHEN``)."""
        if result.status != "ok":
            return False
        streams, markers = FAILS_WHEN.get(task.language, ((), ()))
        for text in (getattr(result, s) for s in streams):
            if any(m in text for m in markers) if markers else text:
                return False
        return True

    def wrong_samples(self) -> list[dict]:
        """A known-wrong sample per task (``STUBS``: compiles, then fails when run), for ``codeja eval selfcheck``."""
        stub = STUBS[self.options["lang"]]
        return [{"task_id": t.task_id, "completion": stub} for t in self.tasks]

    def probe_samples(self) -> list[dict]:
        """Two samples of one task, in the layout ``score`` reads: ``expect`` says whether each must pass.

        MultiPL-E has no reference solutions; a hand-written correct and wrong completion show that the
        toolchain, the program assembly and the verdict work (``codeja eval selfcheck``, the tests)."""
        task_id, good, bad = PROBES[self.options["lang"]]
        return [{"task_id": task_id, "completion": good, "expect": "pass"},
                {"task_id": task_id, "completion": bad, "expect": "fail"}]
