"""The stages a recipe can run: one :class:`Stage` per kind, declared once here and read by the recipe runner,
config validation (``codeja config validate``, a recipe's ``kind:``) and the report's headings.

A new stage is one line in :data:`STAGES` plus its own module (a config model and a run function); see
``docs/extending.md``. Stage modules keep their heavy imports (torch, transformers, datatrove) inside their
functions, so importing this registry stays light; ``codeja --help`` does not import it at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from codeja.curate.config import CurateConfig
from codeja.curate.pipeline import run_curate
from codeja.evaluate.config import EvalConfig
from codeja.evaluate.runner import run_eval
from codeja.fim.config import TokenizeConfig
from codeja.fim.tokenize import tokenize_corpus
from codeja.prefs.config import CandidatesConfig, PairsConfig, PrefsConfig
from codeja.prefs.pipeline import run_candidates, run_pairs, run_prefs
from codeja.studies import config as study
from codeja.studies.contaminate import contaminate
from codeja.studies.measure import measure
from codeja.studies.pairs import completion_pairs
from codeja.studies.sample import sample_completions
from codeja.studies.split import split_corpus
from codeja.synth.config import MagpieConfig
from codeja.synth.magpie import run_magpie
from codeja.train.config import CPTConfig, DPOConfig, SFTConfig
from codeja.train.cpt import train_cpt
from codeja.train.dpo import train_dpo
from codeja.train.sft import train_sft


@dataclass(frozen=True)
class Stage:
    """One kind of stage: what a recipe's ``kind:`` (and a config file's ``stage:``) names."""

    kind: str
    config: type[BaseModel]  # its config model (a StrictModel)
    run: Callable[[Any, Path], dict]  # run(config, output_dir) -> a JSON-able summary (its result.json)
    title: str | None = None  # its heading in reports; the kind where None


def tokenize(cfg: TokenizeConfig, output_dir: Path) -> dict:
    """``codeja tokenize`` writes an indexed dataset at a prefix; in a run it is ``<stage dir>/corpus``."""
    prefix = Path(output_dir) / "corpus"
    summary = dict(tokenize_corpus(cfg, prefix) or {})
    summary.setdefault("prefix", str(prefix))
    return summary


# In pipeline order (the order error messages list them in).
STAGES: dict[str, Stage] = {s.kind: s for s in (
    Stage("curate", CurateConfig, run_curate, "Curation: what was removed, and why"),
    Stage("tokenize", TokenizeConfig, tokenize, "Tokenization"),
    Stage("train.cpt", CPTConfig, train_cpt, "Continued pretraining"),
    Stage("synth.magpie", MagpieConfig, run_magpie, "Magpie synthesis: diversity"),
    Stage("prefs", PrefsConfig, run_prefs, "Preference pairs: margins"),
    # sample + filter + score, and pair building, as two stages (so candidates can be shared)
    Stage("prefs.candidates", CandidatesConfig, run_candidates, "Preference candidates: sampled and scored"),
    Stage("prefs.pairs", PairsConfig, run_pairs, "Preference pairs: margins"),
    Stage("train.sft", SFTConfig, train_sft, "Supervised fine-tuning"),
    Stage("train.dpo", DPOConfig, train_dpo, "DPO"),
    Stage("eval", EvalConfig, run_eval, "Evaluation"),
    # the study stages: see codeja.studies
    Stage("study.split", study.SplitConfig, split_corpus),
    Stage("study.contaminate", study.ContaminateConfig, contaminate),
    Stage("study.sample", study.StudySampleConfig, sample_completions),
    Stage("study.completion-pairs", study.CompletionPairsConfig, completion_pairs),
    Stage("study.placeholder", study.PlaceholderStudyConfig, measure),
)}
