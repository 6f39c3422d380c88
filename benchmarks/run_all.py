"""Run every benchmark in this folder, one after another, and print each one's table.

    .venv/bin/python benchmarks/run_all.py            # full runs
    .venv/bin/python benchmarks/run_all.py --quick    # each under about a minute
    .venv/bin/python benchmarks/run_all.py fim sandbox

Each ``bench_<area>.py`` measures its baseline in the same run and prints medians and ratios; the machines are
shared and noisy, so compare ratios, not absolute figures.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        print(f"\n=== {script.name}{' --quick' if quick else ''} ===", flush=True)
        t0 = time.monotonic()
        rc = subprocess.call([sys.executable, str(script), *(["--quick"] if quick else [])])
        print(f"--- {script.name}: exit {rc}, {time.monotonic() - t0:.0f} s", flush=True)
        if rc:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
