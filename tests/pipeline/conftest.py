import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def toy_kind(monkeypatch):
    """Register the toy stage kind for one test (removed again afterwards)."""
    from toy_stage import TOY

    from codeja.pipeline.stages import STAGES

    monkeypatch.setitem(STAGES, "toy", TOY)
