"""A small real stage for testing the runner: it reads an optional upstream file, writes numbered part files
through codeja.runs.stage_run (one work unit each, so it can be interrupted and resumed) and sums them up."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pydantic import Field

from codeja.config import StrictModel
from codeja.pipeline.stages import STAGES, Stage
from codeja.runs import stage_run


class ToyConfig(StrictModel):
    text: str = Field("hello", description="Seed text.")
    upstream: str | None = Field(None, description="A file of an earlier stage to fold in.")
    parts: int = Field(4, description="Work units.")
    sleep_s: float = Field(0.0, description="Pause per unit (to interrupt mid-stage in tests).")


def toy_stage(cfg: ToyConfig, out: Path) -> dict:
    out = Path(out)
    inputs = [cfg.upstream] if cfg.upstream else []
    with stage_run(out, "toy", cfg, inputs=inputs) as run:
        base = cfg.text + (Path(cfg.upstream).read_text() if cfg.upstream else "")
        for i in range(cfg.parts):
            unit = f"part{i}"
            if run.is_done(unit):
                continue
            time.sleep(cfg.sleep_s)
            digest = hashlib.sha256(f"{base}:{i}".encode()).hexdigest()
            (out / f"{unit}.txt").write_text(digest)
            run.mark_done(unit)
        total = "".join((out / f"part{i}.txt").read_text() for i in range(cfg.parts))
        (out / "all.txt").write_text(total)
        executed = sum(1 for _ in out.glob("part*.txt"))
    return {"file": str(out / "all.txt"), "parts": cfg.parts, "units_run_now": executed,
            "resumed": bool(run.manifest.get("resumed"))}


TOY = Stage("toy", ToyConfig, toy_stage)


def register() -> None:
    STAGES["toy"] = TOY
