"""CanItEdit (nuprl/CanItEdit): instructional code editing, every problem once per instruction kind.

Hub data only (parquet ``data/test-*``, 105 rows, MIT); offline runs take a local JSONL or parquet file in the
same schema (``id, name, full_name, before, after, tests, instruction_descriptive, instruction_lazy``). The model
returns the whole edited program; the program run is ``solution + "\\n" + tests``. Scores are reported per
kind: ``canitedit`` scores both, ``canitedit-descriptive`` / ``canitedit-lazy`` one each.
"""

from __future__ import annotations

from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Source, Task, read_rows, source_for

KINDS = ("descriptive", "lazy")
HUB_ID = "nuprl/CanItEdit"
FIELDS = ("id", "full_name", "before", "after", "tests", "instruction_descriptive", "instruction_lazy")
# CanItEdit's base-model stop tokens (benchmark/generate_completions.py)
STOP = ("## Code After:", "## Instruction:", "## Code Before:", "## Test Case:", "## Explanation:", "\n# Code Before",
        "\n# Code After", "\n# Instruction")


def _records(path: str | None) -> tuple[list[dict], Source]:
    if path is None:  # offline first: the hub is used only when the user names it
        raise InputError(f"canitedit: the data is on the HF hub only; pass path='hub:{HUB_ID}@<revision>' "
                         "or a local JSONL/parquet file in the same schema")
    if path.startswith("hub:"):
        spec = path[len("hub:"):]
        hub, _, rev = spec.partition("@")
        try:
            import datasets

            ds = datasets.load_dataset(hub, split="test", revision=rev or None)
        except Exception as e:  # noqa: BLE001
            raise InputError(f"canitedit: could not load {hub} from the hub ({e}); pass a local JSONL/parquet path") from None
        return [dict(r) for r in ds], Source(hub, rev or None, None, getattr(ds, "_fingerprint", None))
    p = Path(path)
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(p).to_pylist()
        for i, r in enumerate(rows, 1):
            for f in FIELDS:
                if f not in r:
                    raise InputError("missing", path=str(p), line=i, field=f)
        return rows, source_for(p, HUB_ID)
    return [r for _, r in read_rows(p, FIELDS)], source_for(p, HUB_ID)


class CanItEdit(Benchmark):
    name = "canitedit"
    language = "python"
    stop = STOP
    bigcode_stop = STOP
    timeout_s = 30.0

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, kinds: tuple[str, ...] = KINDS, **_):
        records, source = _records(path)
        tasks = []
        for r in records:
            for kind in kinds:
                instr = r[f"instruction_{kind}"]
                tasks.append(Task(
                    task_id=f"{r['full_name']}/{kind}", language="python", test=r["tests"],
                    prompt=f"## Code Before:\n{r['before']}\n## Instruction:\n{instr}\n## Code After:\n",
                    instruction=f"## Code Before\n```py\n{r['before']}\n```\n\n## Instruction\n{instr}\n\n## Code After",
                    canonical=r["after"], canonical_is_program=True, code_prefix="",
                    meta={"kind": kind, "id": r["id"]},
                ))
        bench = cls(tasks, source, limit=limit, options={"kinds": list(kinds)})
        if tuple(kinds) != KINDS:
            bench.name = f"canitedit-{kinds[0]}"
        return bench
