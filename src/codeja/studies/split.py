"""``study.split``: one corpus into named parts (train / held-out / prompt source), seeded and exact.

Document ``i`` draws ``u_i`` from (seed, i); documents ranked by ``u_i`` go to the parts in the order the
config lists them, ``round(share * n)`` each (the last part takes what is left). Each part is a folder with
the input's file names and the documents' lines copied byte for byte, so a part is a corpus every stage reads.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

from codeja.backends.base import derive_seed
from codeja.runs import stage_run
from codeja.studies.config import SplitConfig
from codeja.studies.contaminate import input_files, read_lines


def assign(n: int, cfg: SplitConfig) -> list[str]:
    """The part of each of ``n`` documents."""
    def draw(i: int) -> tuple[float, int]:
        return random.Random(derive_seed(cfg.seed, "study.split", i)).random(), i

    order = sorted(range(n), key=draw)
    names = list(cfg.parts)
    out = [""] * n
    pos = 0
    for k, name in enumerate(names):
        size = n - pos if k == len(names) - 1 else min(n - pos, round(cfg.parts[name] * n))
        for i in order[pos:pos + size]:
            out[i] = name
        pos += size
    return out


def split_corpus(cfg: SplitConfig, output_dir: str | Path) -> dict[str, Any]:
    """Write the parts; returns ``{part: folder}`` plus counts (``<part>_documents``)."""
    files = input_files(cfg.input)
    out = Path(output_dir)
    with stage_run(out, "study.split", cfg, inputs=files, seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        n = sum(1 for _ in read_lines(files, cfg.text_field))
        parts = assign(n, cfg)
        counts = dict.fromkeys(cfg.parts, 0)
        tmp = {(p, f.name.removesuffix(".gz")): out / p / f".{f.name.removesuffix('.gz')}.tmp"
               for p in cfg.parts for f in files}
        for path in tmp.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            handles = {key: stack.enter_context(open(path, "wb")) for key, path in tmp.items()}
            for ln in read_lines(files, cfg.text_field):
                part = parts[ln.index]
                handles[(part, ln.file.name.removesuffix(".gz"))].write(ln.raw)
                counts[part] += 1
        for (part, name), path in tmp.items():
            path.replace(out / part / name)
        summary = {**{p: str(out / p) for p in cfg.parts}, **{f"{p}_documents": c for p, c in counts.items()},
                   "documents": n}
        run.record(summary=summary)
    return summary
