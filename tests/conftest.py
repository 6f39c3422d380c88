"""Fixtures shared by every test area.

The whole session runs offline: tests never touch a network (DESIGN.md, "offline first"). The variables are set
at import, before any test module imports huggingface_hub / transformers (they read them at import time).

* ``tiny_model_dir``: the bundled SmolLM2-135M-Instruct + FIM tokens, materialised once per machine in
  ``$CODEJA_HOME`` (about a minute the first time, milliseconds afterwards).
* ``tiny_random_model_dir`` / ``tiny_reward_model_dir``: seeded random Llama models (about 3 M parameters)
  with the same tokenizer, built once per session in a temp folder: use these wherever model quality does
  not matter.
* ``benchmark_data``: the benchmark data shipped inside the package (``codeja.paths.BENCHMARK_DATA``): always
  present, so no test skips for want of it.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import sys
from pathlib import Path

import pytest

# Tests run with --import-mode=importlib (test files in different folders may share a name); helper modules that
# live beside the tests (fim_helpers.py, toy_stage.py, ...) are made importable by name here.
for _area in sorted(p for p in Path(__file__).parent.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
    if str(_area) not in sys.path:
        sys.path.insert(0, str(_area))


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from codeja.models import prepare_tiny

    return prepare_tiny()


@pytest.fixture(scope="session")
def tiny_random_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    from codeja.models import make_tiny_random_model

    return make_tiny_random_model(tmp_path_factory.mktemp("models") / "tiny-random", tokenizer_from=tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_reward_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    from codeja.models import make_tiny_reward_model

    return make_tiny_reward_model(tmp_path_factory.mktemp("models") / "tiny-reward", tokenizer_from=tiny_model_dir)


@pytest.fixture(scope="session")
def benchmark_data() -> Path:
    from codeja.paths import BENCHMARK_DATA

    return BENCHMARK_DATA


class RecordingBackend:
    """A completion backend that records every prompt and stop list it is given and answers ``pass``."""

    name = "recorder"

    def __init__(self):
        self.calls = []

    def complete(self, prompts, params):
        from codeja.backends.base import Generation

        self.calls.append((list(prompts), list(params.stop)))
        return [[Generation(text="    pass\n", prompt_tokens=5, completion_tokens=2, finish_reason="stop")]
                for _ in prompts]

    def chat(self, conversations, params):
        raise AssertionError("completion mode only")


@pytest.fixture
def recording_backend() -> RecordingBackend:
    return RecordingBackend()
