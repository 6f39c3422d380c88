"""CanItEdit (nuprl/CanItEdit): instructional code editing, every problem once per instruction kind.

Hub data only (parquet ``data/test-*``, 105 rows, MIT; ``hub:`` loads the pinned revision); offline runs take
a local JSONL or parquet file in the same schema (``id, name, full_name, before, after, tests,
instruction_descriptive, instruction_lazy``). The model returns the whole edited program; the program run is
``solution + "\\n" + tests``. Scores are reported per kind: ``canitedit`` scores both,
``canitedit-descriptive`` / ``canitedit-lazy`` one each.
"""

from __future__ import annotations

from codeja.evaluate.benchmarks.base import Benchmark, Task
from codeja.evaluate.benchmarks.loading import HubDefault, load_records

KINDS = ("descriptive", "lazy")
HUB_ID = "nuprl/CanItEdit"
# The revision a public fetch script pins (no hub access here to re-verify it); offline, pass a local file.
HUB = HubDefault(HUB_ID, "3c07f38b1f9385f3214fcea94d4664c79df0d36a")
FIELDS = ("id", "full_name", "before", "after", "tests", "instruction_descriptive", "instruction_lazy")
# CanItEdit's base-model stop tokens (benchmark/generate_completions.py)
STOP = ("## Code After:", "## Instruction:", "## Code Before:", "## Test Case:", "## Explanation:", "\n# Code Before",
        "\n# Code After", "\n# Instruction")


class CanItEdit(Benchmark):
    name = "canitedit"
    language = "python"
    stop = STOP
    bigcode_stop = STOP
    timeout_s = 30.0

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, kinds: tuple[str, ...] = KINDS, **_):
        records, source = load_records(path, benchmark="canitedit", default_file=None, hub=HUB,
                                       required=FIELDS)
        tasks = []
        for r in records:
            for kind in kinds:
                instr = r[f"instruction_{kind}"]
                tasks.append(Task(
                    task_id=f"{r['full_name']}/{kind}", language="python", test=r["tests"],
                    prompt=f"## Code Before:\n{r['before']}\n## Instruction:\n{instr}\n## Code After:\n",
                    instruction=(f"## Code Before\n```py\n{r['before']}\n```\n\n## Instruction\n{instr}\n\n"
                                 "## Code After"),
                    canonical=r["after"], canonical_is_program=True, code_prefix="",
                    meta={"kind": kind, "id": r["id"]},
                ))
        bench = cls(tasks, source, limit=limit, options={"kinds": list(kinds)})
        if tuple(kinds) != KINDS:
            bench.name = f"canitedit-{kinds[0]}"
        return bench
