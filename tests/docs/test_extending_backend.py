"""docs/extending.md, "A new backend": the example class registers, and configs and get_backend accept it."""

from __future__ import annotations

import re

import pytest
from doc_blocks import REPO
from pydantic import ValidationError
from test_extending import section_blocks

from codeja.backends import BACKENDS
from codeja.errors import ConfigError

DOC = REPO / "docs" / "extending.md"


@pytest.fixture
def registry_restored():
    before = dict(BACKENDS)
    yield
    BACKENDS.clear()
    BACKENDS.update(before)


def test_a_new_backend(registry_restored):
    from codeja.backends.settings import check_params  # noqa: F401 - the example's import must resolve
    from codeja.prefs.config import SampleConfig
    from codeja.synth.config import MagpieConfig

    blocks = [text for lang, text in section_blocks("A new backend")]
    assert [lang for lang, _ in section_blocks("A new backend")] == ["python", "python"]
    with pytest.raises(ValidationError, match="unknown backend 'reverse'"):
        MagpieConfig(backend="reverse")
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # the second block asserts what the backend returns
    assert BACKENDS["reverse"] is namespace["ReverseBackend"]
    assert MagpieConfig(backend="reverse").backend == "reverse" and SampleConfig(backend="reverse").backend
    engine = namespace["get_backend"]("m", "reverse")
    out = engine.chat(
        [[{"role": "user", "content": "abcdef"}]], SampleConfig(n=2, max_new_tokens=4).sampling_params(n=2)
    )
    assert [g.text for g in out[0]] == ["fedc", "fedc"] and out[0][0].finish_reason == "length"
    with pytest.raises(ConfigError, match="max_new_tokens must be >= 1"):
        engine.complete(["x"], namespace["SamplingParams"](max_new_tokens=0))


def test_the_section_lists_the_files_it_touches():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## A new backend") :]
    files = re.findall(r"`(src/[^`]+)`", section.split("```")[0])
    assert files == ["src/codeja/backends/<name>.py", "src/codeja/backends/__init__.py"]
