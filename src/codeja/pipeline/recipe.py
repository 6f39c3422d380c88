"""Recipes: one YAML file naming the stages of a run, in order, each with its own stage config.

    stage: recipe
    name: tiny
    seed: 0
    vars: {base_model: tiny}
    stages:
      - name: curate
        kind: curate
        config: {...}                      # a CurateConfig, written inline
      - name: tokenize
        kind: tokenize
        config: {input: "${curate}/kept", model: "${vars.base_model}"}
      - name: sft
        kind: train.sft
        config: {model: "${cpt.checkpoint}", ...}
    variants:                              # ablations: each variant is the whole recipe with these overrides
      fim-off: ["cpt.fim.mode=off"]        #   <stage name>.<key path>=<value>

References inside string values:
- ``${NAME}``: the output folder of the earlier stage NAME;
- ``${NAME.KEY}``: the value KEY of that stage's result (``result.json``), e.g. ``${cpt.checkpoint}``;
- ``${vars.X}``, ``${run_dir}``, ``${seed}``;
- ``${package}``: the folder of the installed codeja package (for data that ships with it, e.g.
  ``${package}/curate/resources/ja_web_sample.jsonl``).

Each stage's config is validated against its stage's model when the recipe is loaded (references are filled with
placeholders then), so a typo deep inside a recipe is reported before anything runs, with the stage named.
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from codeja.config import StrictModel, _suggest, apply_overrides, load_config, read_yaml, validate
from codeja.errors import ConfigError
from codeja.fim.config import FIMConfig
from codeja.pipeline.stages import STAGES

REF = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
BUILTIN_REFS = ("vars", "run_dir", "seed", "package")
PACKAGE_DIR = Path(__file__).resolve().parents[1]

class StageSpec(StrictModel):
    """One step of a recipe."""

    name: str = Field(description="Unique name; also the stage's folder in the run directory and its ${name} "
                      "reference.")
    kind: str = Field(description=f"What runs: one of {', '.join(STAGES)}.")
    config: dict[str, Any] = Field(default_factory=dict, description="The stage's config (its stage schema), inline.")
    enabled: bool = Field(True, description="Set false to keep a stage in the recipe but not run it.")

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", v) or v in BUILTIN_REFS:
            raise ValueError(f"use letters, digits, '_' or '-', starting with a letter (not {'/'.join(BUILTIN_REFS)})")
        return v

    @field_validator("kind")
    @classmethod
    def _kind_ok(cls, v: str) -> str:
        if v not in STAGES:
            close = difflib.get_close_matches(v, list(STAGES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown stage kind{hint}; choose one of {', '.join(STAGES)}")
        return v


class Recipe(StrictModel):
    """A whole run: stages in order, shared variables, and optional ablation variants."""

    name: str = Field(description="Short name, used in reports.")
    description: str = Field("", description="What this recipe is for.")
    seed: int = Field(0, description="Default seed, available to stage configs as ${seed}.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Values referenced as ${vars.NAME}.")
    stages: list[StageSpec] = Field(description="The stages, in the order they run.")
    variants: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Ablations: variant name -> overrides '<stage>.<key.path>=<value>' applied to a copy of the "
        "recipe. `codeja run` runs every variant in its own folder and reports them side by side.",
    )
    report: bool = Field(True, description="Write report.html / report.md at the end of `codeja run`.")

    @model_validator(mode="after")
    def _check_stages(self, info: ValidationInfo) -> Recipe:
        source = (info.context or {}).get("source", "<recipe>")
        seen: set[str] = set()
        for i, st in enumerate(self.stages):
            where = f"{source}: stages[{i}] ({st.name})"
            if st.name in seen:
                raise ConfigError(f"{where}: name: duplicate stage name '{st.name}'")
            for ref in _refs(st.config):
                head = ref.split(".")[0]
                if head not in BUILTIN_REFS and head not in seen:
                    known = ", ".join(sorted(seen)) or "none"
                    raise ConfigError(f"{where}: config: ${{{ref}}} refers to no earlier stage (earlier: {known})")
                if head == "vars" and ref.split(".", 1)[-1] not in self.vars:
                    raise ConfigError(f"{where}: config: ${{{ref}}}: no such key in vars")
            seen.add(st.name)
            # validate the stage config now, references replaced by placeholders
            stage_config(self, st, resolver=lambda ref: f"<{ref}>", source=f"{source}: stages.{st.name}.config")
        for vname in self.variants:
            variant_recipe(self, vname, source=source)  # raises on bad overrides
        return self


def _refs(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return REF.findall(obj)
    if isinstance(obj, dict):
        return [r for v in obj.values() for r in _refs(v)]
    if isinstance(obj, list):
        return [r for v in obj for r in _refs(v)]
    return []


def interpolate(obj: Any, resolver) -> Any:
    """Replace ``${ref}`` in strings; a string that is exactly one reference takes the referenced value's type."""
    if isinstance(obj, str):
        whole = REF.fullmatch(obj)
        if whole:
            return resolver(whole.group(1))
        return REF.sub(lambda m: str(resolver(m.group(1))), obj)
    if isinstance(obj, dict):
        return {k: interpolate(v, resolver) for k, v in obj.items()}
    if isinstance(obj, list):
        return [interpolate(v, resolver) for v in obj]
    return obj


def stage_config(recipe: Recipe, spec: StageSpec, resolver, *, source: str):
    """The stage's validated config model, with references resolved by ``resolver(ref) -> value``."""
    def resolve(ref: str):
        head, _, rest = ref.partition(".")
        if head == "vars":
            return recipe.vars[rest]
        if head == "seed":
            return recipe.seed
        if head == "package":
            return str(PACKAGE_DIR)
        return resolver(ref)

    data = interpolate(copy.deepcopy(spec.config), resolve)
    return validate(STAGES[spec.kind].config, data, source=source)


def variant_recipe(recipe: Recipe, variant: str, *, source: str = "<recipe>") -> Recipe:
    """A copy of ``recipe`` with the variant's overrides applied (and no variants of its own)."""
    if variant not in recipe.variants:
        raise ConfigError(f"{source}: variants: no variant '{variant}' (have: {', '.join(recipe.variants) or 'none'})")
    data = recipe.model_dump(mode="json")
    data["variants"] = {}
    by_name = {st["name"]: st for st in data["stages"]}
    for item in recipe.variants[variant]:
        stage_name, _, rest = item.partition(".")
        if stage_name not in by_name or not rest:
            raise ConfigError(f"{source}: variants.{variant}: '{item}': expected <stage>.<key>=<value> with a stage "
                              f"of this recipe ({', '.join(by_name)})")
        if rest.startswith("enabled="):
            apply_overrides(by_name[stage_name], [rest], source=f"{source}: variants.{variant}")
        else:
            apply_overrides(by_name[stage_name]["config"], [rest], source=f"{source}: variants.{variant}")
    return validate(Recipe, data, source=f"{source} (variant {variant})")


def config_kinds() -> dict[str, type[BaseModel]]:
    """What a config file's ``stage:`` key may name: every stage kind, FIM settings, and a whole recipe."""
    return {**{kind: stage.config for kind, stage in STAGES.items()}, "fim": FIMConfig, "recipe": Recipe}


def load_any(path: str | Path, overrides: list[str] | None = None) -> tuple[str, BaseModel]:
    """Load a file whose top-level ``stage:`` key names its config model (for ``codeja config validate``)."""
    data = read_yaml(path)
    stage = data.get("stage")
    kinds = config_kinds()
    known = ", ".join(sorted(kinds))
    if not stage:
        raise ConfigError(f"{path}: stage: missing; add e.g. 'stage: curate' (known: {known})")
    if str(stage) not in kinds:
        raise ConfigError(f"{path}: stage: unknown stage '{stage}'{_suggest(stage, kinds)}; known: {known}")
    return str(stage), load_config(path, kinds[str(stage)], overrides, stage=str(stage))
