"""One generation-settings model and one backend registry, shared by synth, prefs, eval and study configs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from codeja.backends import BACKENDS, SamplingParams
from codeja.backends.settings import GenerationSettings, PenalisedGenerationSettings, check_params
from codeja.errors import ConfigError
from codeja.evaluate.config import EvalConfig, GenerationConfig
from codeja.prefs.config import SampleConfig
from codeja.studies.config import StudySampleConfig
from codeja.synth.config import MagpieConfig, SamplingConfig


def test_every_generation_config_is_the_shared_model():
    for cls in (SamplingConfig, SampleConfig, GenerationConfig, StudySampleConfig):
        assert issubclass(cls, GenerationSettings)
    assert issubclass(SamplingConfig, PenalisedGenerationSettings) and issubclass(
        SampleConfig, PenalisedGenerationSettings
    )


def test_the_keys_and_defaults_users_write_are_unchanged():
    # the keys each stage's YAML accepts (config files written before the shared model keep working)
    assert set(SamplingConfig.model_fields) == {
        "temperature",
        "top_p",
        "max_new_tokens",
        "repetition_penalty",
    }
    assert set(GenerationConfig.model_fields) == {
        "mode",
        "n",
        "temperature",
        "top_p",
        "max_new_tokens",
        "batch_size",
        "seed",
        "prompt_template",
        "extra_stop",
        "prompt_tail",
    }
    s, p, g, st = SamplingConfig(), SampleConfig(), GenerationConfig(), StudySampleConfig()
    assert (s.temperature, s.top_p, s.max_new_tokens, s.repetition_penalty) == (0.7, 1.0, 384, 1.0)
    assert (p.temperature, p.top_p, p.max_new_tokens, p.repetition_penalty) == (0.8, 1.0, 512, 1.0)
    assert (g.temperature, g.top_p, g.max_new_tokens) == (0.0, 1.0, 384)
    assert (st.temperature, st.top_p, st.max_new_tokens) == (0.8, 0.95, 192)
    m = MagpieConfig()
    assert (m.response.temperature, m.response.max_new_tokens, m.response.repetition_penalty) == (
        0.0,
        768,
        1.1,
    )


@pytest.mark.parametrize("cls", [SamplingConfig, SampleConfig, GenerationConfig, StudySampleConfig])
@pytest.mark.parametrize(
    "bad", [{"temperature": -0.1}, {"top_p": 0.0}, {"top_p": 1.5}, {"max_new_tokens": 0}]
)
def test_a_subclass_that_changes_a_default_keeps_the_constraint(cls, bad):
    with pytest.raises(ValidationError, match=next(iter(bad))):
        cls(**bad)


def test_sampling_params_carry_every_setting():
    sc = SampleConfig(temperature=0.5, top_p=0.9, max_new_tokens=7, repetition_penalty=1.2, stop=["\n\n"])
    assert sc.sampling_params(n=3, stop=sc.stop, seed=11) == SamplingParams(
        n=3, temperature=0.5, top_p=0.9, max_new_tokens=7, stop=["\n\n"], seed=11, repetition_penalty=1.2
    )
    # eval has no repetition_penalty key: the backend default (off)
    g = GenerationConfig(temperature=0.2, max_new_tokens=5)
    assert g.sampling_params(n=2, stop=("x",), seed=4) == SamplingParams(
        n=2, temperature=0.2, top_p=1.0, max_new_tokens=5, stop=["x"], seed=4
    )


def test_check_params_names_every_bad_value():
    with pytest.raises(ConfigError, match="n must be >= 1.*top_p must be in \\(0, 1\\].*repetition_penalty"):
        check_params(SamplingParams(n=0, top_p=0.0, repetition_penalty=0.0))
    check_params(SamplingParams())  # the defaults are valid


@pytest.mark.parametrize("cls", [MagpieConfig, EvalConfig])
def test_backend_names_come_from_the_registry(cls):
    assert set(BACKENDS) == {"transformers", "openai", "vllm", "llamacpp"}
    for name in BACKENDS:
        assert cls(backend=name).backend == name
    with pytest.raises(ValidationError, match="unknown backend 'vlm' \\(did you mean 'vllm'\\?\\)"):
        cls(backend="vlm")


def test_prefs_and_study_backends_are_checked_too():
    # these were plain strings, checked only when the stage ran
    with pytest.raises(ValidationError, match="unknown backend 'transformer'"):
        SampleConfig(backend="transformer")
    with pytest.raises(ValidationError, match="unknown backend 'x'"):
        StudySampleConfig(backend="x")
