"""What every benchmark is: a list of tasks, how to build a test program from a solution, how to judge a run.

A :class:`Task` is the unit of scoring. ``prompt`` is what a base model continues; ``instruction`` is what an
instruct model is asked; ``test`` is the code appended after the solution. Program assembly lives on the
:class:`Benchmark` (one place per family), so samples from ``score`` and from ``run`` are judged identically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from codeja.errors import InputError
from codeja.io import iter_jsonl
from codeja.runs import sha256_file

# Leading text of a test suite that closes the function the prompt leaves open (MultiPL-E: the completion stops
# before "\n}", so the tests start with "}"). A sanitizer that returns a *closed* function drops it.
CLOSERS = ("    }\n", "}\n", "}")


# A function body that parses and computes nothing, where an empty one would not parse (bash rejects an empty
# `f() { }`), so a known-wrong sample fails the tests rather than the parser. Typed languages still fail to
# compile without a return; `eval selfcheck` reports how each sample failed.
NOOP_BODY = {"python": "    pass\n", "bash": "    :\n"}


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    language: str  # canonical sandbox language: python, javascript, typescript, java, cpp, go, rust, bash
    test: str = ""
    entry_point: str | None = None
    canonical: str | None = None  # a completion of `prompt` that passes (None: the benchmark has none)
    canonical_is_program: bool = False  # canonical is a whole program, not a continuation of the prompt
    instruction: str | None = None  # the instruct-mode request (default: built from the prompt by the template)
    suffix: str | None = None  # infilling: the code after the hole
    test_close: str = ""  # leading part of `test` closing the prompt's open function (see CLOSERS)
    answers: tuple[str, ...] = ()  # QA benchmarks: gold answers
    code_prefix: str | None = None  # what a completion continues when building the program (default: prompt)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.prompt if self.code_prefix is None else self.code_prefix


@dataclass(frozen=True)
class Source:
    """Where the data came from: recorded in every manifest (a score means nothing without its data revision)."""

    hub_id: str | None  # the hub dataset the data is (or was taken from)
    revision: str | None  # hub revision loaded (None for a file)
    path: str | None  # the file read (None for hub data); machine-specific, so not compared between runs
    sha256: str | None  # of the file, or of the hub rows as canonical JSON (loading.rows_sha256)
    config: str | None = None  # hub config (subset) loaded

    def as_dict(self) -> dict[str, Any]:
        return {"hub_id": self.hub_id, "revision": self.revision, "config": self.config, "path": self.path,
                "sha256": self.sha256}


class Benchmark:
    """Base class: subclasses load tasks and say how a sanitized solution becomes a runnable program."""

    name: str = "base"
    kind: Literal["code", "qa"] = "code"
    language: str = "python"
    stop: tuple[str, ...] = ()  # generation stop strings for completion mode
    timeout_s: float = 10.0  # default per-program wall-clock limit (compiled languages need more)
    # `eval selfcheck`: task id -> why its reference fails (or, without references, why the known-wrong sample
    # passes). Only upstream data facts and environment limits belong here, each with its reason.
    known_failures: ClassVar[dict[str, str]] = {}

    def __init__(self, tasks: list[Task], source: Source, *, limit: int | None = None, options: dict | None = None):
        self.all_tasks = tasks
        self.tasks = tasks[:limit] if limit else tasks
        self.source = source
        self.limit = limit
        self.options = options or {}

    # -- identity ---------------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "language": self.language, "n_tasks": len(self.tasks),
                "n_tasks_total": len(self.all_tasks), "limit": self.limit, "stop": list(self.stop),
                "source": self.source.as_dict(), "options": self.options}

    def task(self, task_id: str) -> Task:
        index = getattr(self, "_index", None)
        if index is None:
            index = self._index = {t.task_id: t for t in self.all_tasks}
        if task_id not in index:
            raise KeyError(task_id)
        return index[task_id]

    # -- programs ---------------------------------------------------------------------------------------------
    def stop_for(self, task: Task) -> list[str]:
        return list(task.meta.get("stop") or self.stop)

    def program(self, task: Task, code: str, *, closed: bool) -> str:
        """The test program: solution code followed by the tests (the closing part dropped for closed code)."""
        test = task.test
        if closed and task.test_close and test.startswith(task.test_close):
            test = test[len(task.test_close):]
        return code + "\n" + test

    def files(self, task: Task) -> dict[str, str] | None:
        return None

    def passed(self, task: Task, result: Any) -> bool:
        return result.status == "ok"

    def canonical_samples(self) -> list[dict[str, Any]]:
        """Samples made of the reference solutions, in the JSONL layout `score` reads."""
        rows = []
        for t in self.tasks:
            if t.canonical is None:
                continue
            rows.append({"task_id": t.task_id, "solution" if t.canonical_is_program else "completion": t.canonical})
        return rows

    def wrong_samples(self) -> list[dict[str, Any]]:
        """One known-wrong sample per task, for benchmarks without references (`eval selfcheck` requires each
        to fail): a body that computes nothing (:data:`NOOP_BODY`, else empty). A benchmark with a better
        wrong answer (one that compiles and returns a value of the right type) overrides this."""
        return [{"task_id": t.task_id, "completion": NOOP_BODY.get(t.language, "")} for t in self.tasks]

    def probe_samples(self) -> list[dict[str, Any]]:
        """Hand-written samples with ``"expect": "pass" | "fail"``, for benchmarks without references: the
        positive control of `eval selfcheck` (a known-wrong sample failing proves little if nothing can pass)."""
        return []


def read_rows(path: Path, required: Iterable[str]) -> list[tuple[int, dict[str, Any]]]:
    """JSONL(.gz) or Parquet rows, each checked for the fields a loader needs (errors name file and line)."""
    rows = []
    for lineno, obj in _iter_parquet(path) if Path(path).suffix == ".parquet" else iter_jsonl(path):
        for f in required:
            if f not in obj:
                raise InputError("missing", path=str(path), line=lineno, field=f)
        rows.append((lineno, obj))
    if not rows:
        raise InputError("no records", path=str(path))
    return rows


def _iter_parquet(path: Path):
    """(row number, row) of a Parquet file (a hub dataset saved with ``to_parquet``)."""
    if not Path(path).is_file():
        raise InputError("file not found", path=str(path))
    try:
        # heavy: pyarrow (kept out of `codeja --help` and light imports)
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - pyarrow's errors vary by corruption; one message naming the file
        raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from None
    yield from enumerate(table.to_pylist(), 1)


def source_for(path: Path, hub_id: str | None = None, revision: str | None = None) -> Source:
    return Source(hub_id=hub_id, revision=revision, path=str(path), sha256=sha256_file(path))
