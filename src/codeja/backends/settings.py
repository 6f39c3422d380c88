"""Generation settings as configs write them, declared once for every stage that generates (synth, prefs,
eval, studies), and the check every backend runs on the
:class:`~codeja.backends.base.SamplingParams` it is given.

* :class:`GenerationSettings`: ``temperature``, ``top_p``, ``max_new_tokens``; a stage's config subclasses it,
  changing a default where the stage needs another (its keys stay the stage's keys), and turns it into
  ``SamplingParams`` with :meth:`~GenerationSettings.sampling_params`.
* :class:`PenalisedGenerationSettings` adds ``repetition_penalty`` (synth and prefs; eval leaves it out, so
  its cached cells keep their keys).
* :data:`BackendName`: the type of every config's ``backend`` key, valid when the name is in
  :data:`~codeja.backends.base.BACKENDS`, so a registered backend is accepted everywhere at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from codeja.backends.base import SamplingParams, check_backend
from codeja.config import StrictModel
from codeja.errors import ConfigError


def _known_backend(name: str) -> str:
    try:
        return check_backend(name)
    except ConfigError as e:
        raise ValueError(str(e)) from None  # pydantic reports ValueErrors with the file and the key


BackendName = Annotated[str, AfterValidator(_known_backend)]
BackendOptions = Annotated[
    dict[str, Any],
    Field(
        description="Extra keyword arguments for the backend's "
        "constructor (base_url, dtype, batch_size, ...)."
    ),
]
# The constraints of each setting, once: a subclass that changes a default keeps them.
Temperature = Annotated[float, Field(ge=0.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
MaxNewTokens = Annotated[int, Field(ge=1)]
RepetitionPenalty = Annotated[float, Field(gt=0.0)]


class GenerationSettings(StrictModel):
    """Decoding settings: ``temperature``, ``top_p``, ``max_new_tokens`` of every generating stage."""

    temperature: Temperature = Field(0.0, description="0 = greedy.")
    top_p: TopP = Field(1.0, description="Nucleus sampling mass (ignored when greedy).")
    max_new_tokens: MaxNewTokens = Field(
        256, description="Token budget; hitting it marks the text truncated."
    )

    def sampling_params(
        self, *, n: int = 1, stop: list[str] | tuple[str, ...] = (), seed: int = 0
    ) -> SamplingParams:
        """These settings as the backends' :class:`SamplingParams`, with the call's ``n``, stops and seed."""
        return SamplingParams(
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            stop=list(stop),
            seed=seed,
        )


class PenalisedGenerationSettings(GenerationSettings):
    """:class:`GenerationSettings` plus ``repetition_penalty``."""

    repetition_penalty: RepetitionPenalty = Field(
        1.0, description="Repetition penalty passed to the backend; 1.0 = off."
    )

    def sampling_params(self, **call: Any) -> SamplingParams:
        return replace(super().sampling_params(**call), repetition_penalty=self.repetition_penalty)


def check_params(params: SamplingParams) -> None:
    """Bad decoding settings are a ConfigError (exit 2); every backend checks, callers before loading."""
    problems = []
    if params.n < 1:
        problems.append(f"n must be >= 1 (got {params.n})")
    if params.temperature < 0:
        problems.append(f"temperature must be >= 0 (got {params.temperature})")
    if not 0 < params.top_p <= 1:
        problems.append(f"top_p must be in (0, 1] (got {params.top_p})")
    if params.max_new_tokens < 1:
        problems.append(f"max_new_tokens must be >= 1 (got {params.max_new_tokens})")
    if params.repetition_penalty <= 0:
        problems.append(f"repetition_penalty must be > 0 (got {params.repetition_penalty})")
    if problems:
        raise ConfigError("invalid sampling parameters: " + "; ".join(problems))
