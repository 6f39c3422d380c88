"""Compare two run folders of the same recipe, file by file: is the second run a reproduction of the first?

    python scripts/compare_runs.py runs/study-placeholder runs/study-placeholder-2

Every output file of every stage is compared byte for byte, except bookkeeping that differs between any two runs
by design: manifests, ``pipeline.json`` and ``progress.json`` (hosts, commits, hashes of configs that hold
absolute paths), datatrove's ``logs/``, trainer checkpoints, ``training_args.bin`` (a pickle holding the output
path) and the run report (timings). Two things are normalised first: in text files the run folder's own path (a sidecar
records where it was written), and in JSON / JSONL files the timing fields (``*_s``, ``*_at``: wall and CPU
seconds, throughput, timestamps), so ``result.json`` and the training ``metrics.jsonl`` (every step's loss) are
compared on what they measured. Prints the differing files (and files only one run has); exits 1 if there is
any, else 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

BOOKKEEPING = {"manifest.json", "pipeline.json", "progress.json", "report.html", "report.md", "training_args.bin"}
TEXT = {".json", ".jsonl", ".md", ".yaml", ".txt", ".csv"}
TIMING = re.compile(r".*(_s|_at)$")  # wall_s, cpu_s, tokens_per_s, train_s, started_at, ...


def outputs(root: Path) -> dict[Path, Path]:
    """Relative path -> path of every compared file under ``root``."""
    found = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if (p.is_file() and p.name not in BOOKKEEPING and "logs" not in rel.parts
                and not any(part.startswith("checkpoint-") for part in rel.parts)):
            found[rel] = p
    return found


def untimed(value):
    """``value`` without its timing fields, recursively."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not TIMING.fullmatch(k)}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def digest(path: Path, root: Path) -> str:
    data = path.read_bytes()
    if path.suffix in TEXT:  # where the run folder is, is not a result
        data = data.replace(str(root.resolve()).encode(), b"<run>")
    if path.suffix in (".json", ".jsonl"):
        try:
            rows = [json.loads(line) for line in data.splitlines() if line.strip()] if path.suffix == ".jsonl" \
                else [json.loads(data)]
        except ValueError:  # not JSON after all: compare the bytes
            return hashlib.sha256(data).hexdigest()
        data = "\n".join(json.dumps(untimed(r), sort_keys=True) for r in rows).encode()
    return hashlib.sha256(data).hexdigest()


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """(identical files, one line per difference)."""
    fa, fb = outputs(a), outputs(b)
    same, diffs = 0, []
    for rel in sorted(set(fa) | set(fb)):
        if rel not in fb or rel not in fa:
            diffs.append(f"{rel}: only in {a if rel in fa else b}")
        elif digest(fa[rel], a) != digest(fb[rel], b):
            diffs.append(f"{rel}: differs")
        else:
            same += 1
    return same, diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    args = ap.parse_args(argv)
    for d in (args.first, args.second):
        if not d.is_dir():
            ap.error(f"{d}: not a folder")
    same, diffs = compare(args.first, args.second)
    print(f"{same} files identical, {len(diffs)} different")
    for line in diffs:
        print("  " + line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
