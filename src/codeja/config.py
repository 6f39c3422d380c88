"""Configs: pydantic models, YAML files, ``--set a.b=value`` overrides, strict validation, hashing.

Every stage has one config model derived from :class:`StrictModel` (unknown keys are an error, not silently
ignored). A YAML file may name its stage with a top-level ``stage:`` key so that ``codeja config validate FILE``
knows which model to check it against; commands that already know their stage accept files with or without it.

Errors name the file, the key path and, for unknown keys, the closest valid key::

    error: my-recipe.yaml: train.learning_rat: unknown key (did you mean 'learning_rate'?)
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from codeja.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown keys rejected, assignments validated, enums kept as values."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=True, protected_namespaces=())


# ---------------------------------------------------------------------------------------------------------------
# reading and overriding


class _Loader(yaml.SafeLoader):
    """YAML with 1.2 booleans: only true/false are booleans, so `mode: off` or `--set fim.mode=off` stays a string."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
# YAML 1.1 reads 1e-5 as a string (it wants a dot); 1.2 and every user read it as a float
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
                              list("-+0123456789."))


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, bad YAML or a non-mapping top level is a ConfigError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not valid UTF-8 (byte {e.start})") from None
    try:
        data = yaml_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str] | None, *, source: str = "--set") -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides in place; values are parsed as YAML scalars (``3``, ``true``, ``[a, b]``).

    Inside a list, a path part is an index (``stages.2.config``) or the ``name`` of an element
    (``stages.cpt.config.max_steps=5``), so recipes can be overridden by stage name.
    """
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{source} '{item}': expected KEY=VALUE, e.g. train.learning_rate=1e-5")
        try:
            value = yaml_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node: Any = data
        parts = key.strip().split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                idx = _list_index(node, part)
                if idx is None:
                    raise ConfigError(f"{source} '{item}': '{part}' is neither an index nor the name of an element")
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"{source} '{item}': '{parts[i - 1]}' is a value, not a section")
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
    return data


def _list_index(items: list, part: str) -> int | None:
    if part.lstrip("-").isdigit():
        idx = int(part)
        return idx if -len(items) <= idx < len(items) else None
    for i, el in enumerate(items):
        if isinstance(el, dict) and el.get("name") == part:
            return i
    return None


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Valid keys of the sub-model at ``loc`` (for 'did you mean' on unknown keys)."""
    cls: Any = model
    for part in loc:
        fields = getattr(cls, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        sub = [a for a in (getattr(ann, "__args__", None) or (ann,))
               if isinstance(a, type) and issubclass(a, BaseModel)]
        if not sub:
            return []
        cls = sub[0]
    return list(getattr(cls, "model_fields", {}))


def format_validation_error(err: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        path = ".".join(str(p) for p in loc) or "<top>"
        if e["type"] == "extra_forbidden":
            parent = tuple(p for p in loc[:-1] if isinstance(p, str))
            msg = f"unknown key{_suggest(loc[-1], _fields_at(model, parent))}"
        elif e["type"] == "missing":
            msg = "required key is missing"
        else:
            got = e.get("input")
            got_s = "" if isinstance(got, dict) else f" (got {got!r})"
            text = e["msg"].removeprefix("Value error, ")
            msg = text[0].lower() + text[1:] + got_s
        lines.append(f"{source}: {path}: {msg}")
    return "\n".join(lines)


def validate(model: type[M], data: dict[str, Any], *, source: str = "<config>") -> M:
    try:
        # the source rides along so that nested validators (a recipe's stage configs) can name the file
        return model.model_validate(data, context={"source": source})
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, model, source)) from None


def load_config(
    path: str | Path | None,
    model: type[M],
    overrides: list[str] | None = None,
    *,
    stage: str | None = None,
    base: dict[str, Any] | None = None,
) -> M:
    """Load ``path`` (or ``base``/defaults when None), apply overrides, validate against ``model``.

    A top-level ``stage:`` key, if present, must equal ``stage`` and is removed before validation.
    """
    data: dict[str, Any] = dict(base or {})
    source = str(path) if path else ("<command line>" if overrides else "<defaults>")
    if path:
        data.update(read_yaml(path))
    named = data.pop("stage", None)
    if stage and named and named != stage:
        raise ConfigError(f"{source}: stage: this file is a '{named}' config, expected '{stage}'")
    apply_overrides(data, overrides)
    return validate(model, data, source=source)


def flag_overrides(flags: dict[str, Any]) -> list[str]:
    """Command-line flags as ``--set`` overrides, so they are validated (and reported) like config keys.

    ``{"limit": 3, "generation.n": None}`` gives ``["limit=3"]``: None means "flag not given". Values are written
    as JSON, which YAML reads back unchanged (a model name with a colon stays a string).
    """
    out = []
    for key, value in flags.items():
        if value is None:
            continue
        value = [str(v) if isinstance(v, Path) else v for v in value] if isinstance(value, list) else value
        out.append(f"{key}={json.dumps(str(value) if isinstance(value, Path) else value, ensure_ascii=False)}")
    return out


# ---------------------------------------------------------------------------------------------------------------
# hashing


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def config_hash(config: BaseModel | dict) -> str:
    """sha256 of the resolved config as canonical JSON; the same settings always give the same hash."""
    data = config.model_dump(mode="json") if isinstance(config, BaseModel) else config
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def dump_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
