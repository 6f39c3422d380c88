import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def toy_kind(monkeypatch):
    """Register the toy stage kind for one test (removed again afterwards)."""
    from codeja.config import CONFIG_KINDS
    from codeja.pipeline.recipe import STAGE_FUNCTIONS

    monkeypatch.setitem(CONFIG_KINDS, "toy", "toy_stage:ToyConfig")
    monkeypatch.setitem(STAGE_FUNCTIONS, "toy", "toy_stage:toy_stage")
