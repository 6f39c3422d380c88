"""Turning a model argument into something loadable: ``tiny``, an HF folder, a ``.gguf`` file or a hub id.

Offline first: a hub id is used only when the user names one, and when the hub is unreachable
(``HF_HUB_OFFLINE=1``) and the id is not in the local Hugging Face cache we say so and how to fix it, rather
than letting a library fail deep inside with a connection error.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from codeja.errors import ModelNotFoundError
from codeja.models.tiny import TINY_NAME, prepare_tiny

ModelKind = Literal["tiny", "hf", "gguf", "hub"]

TINY_ALIASES = ("tiny",)

# org/name, as the hub spells repository ids; a leading "." or "/" means the user meant a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model argument.

    ``path`` is the local folder (``tiny``, ``hf``, a cached ``hub`` id) or the ``.gguf`` file (``gguf``);
    it is None only for a hub id that is not cached yet and will be downloaded (the user named it, online).
    """

    kind: ModelKind
    path: Path | None
    hub_id: str | None
    name: str

    @property
    def load_args(self) -> tuple[str, dict]:
        """(``pretrained_model_name_or_path``, extra kwargs) for transformers' ``from_pretrained``."""
        if self.kind == "gguf":
            assert self.path is not None
            return str(self.path.parent), {"gguf_file": self.path.name}
        if self.path is not None:
            return str(self.path), {"local_files_only": True}
        return str(self.hub_id), {}

    def as_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path) if self.path else None
        return d


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _cached_hub_snapshot(hub_id: str) -> Path | None:
    """The local snapshot folder of a hub id if the HF cache holds one with a config.json, else None."""
    try:
        # heavy: huggingface_hub (kept out of `codeja --help` and light imports)
        from huggingface_hub import snapshot_download

        snap = Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any cache miss (not found, offline, bad id) means "not cached"
        return None
    return snap if (snap / "config.json").is_file() else None


def resolve_model(arg: str | Path | ModelRef) -> ModelRef:
    """Resolve ``arg`` to a :class:`ModelRef`; ``tiny`` is materialised on first use (see :func:`prepare_tiny`).

    Raises :class:`~codeja.errors.ModelNotFoundError` with the fix when nothing loadable matches.
    """
    if isinstance(arg, ModelRef):
        return arg
    text = str(arg).strip()
    if not text:
        raise ModelNotFoundError("empty model argument; pass 'tiny', an HF model folder, a .gguf file or a hub id")
    if text in TINY_ALIASES:
        return ModelRef("tiny", prepare_tiny(), None, TINY_NAME)

    p = Path(text).expanduser()
    if p.is_dir():
        if (p / "config.json").is_file():
            return ModelRef("hf", p.resolve(), None, p.name)
        ggufs = sorted(p.glob("*.gguf"))
        hint = f"; it holds GGUF files, pass one of them: {', '.join(str(g) for g in ggufs[:5])}" if ggufs else ""
        raise ModelNotFoundError(f"{p}: folder has no config.json, so it is not a Hugging Face model folder{hint}")
    if p.is_file():
        if p.suffix.lower() == ".gguf":
            return ModelRef("gguf", p.resolve(), None, p.stem)
        raise ModelNotFoundError(
            f"{p}: is a file but not a .gguf model; pass a model folder (with config.json) or a .gguf file")
    if text.lower().endswith(".gguf"):
        raise ModelNotFoundError(f"{p}: GGUF file not found")

    if _HUB_ID.match(text):
        snap = _cached_hub_snapshot(text)
        if snap is not None:
            return ModelRef("hub", snap, text, text.split("/", 1)[1])
        if hub_offline():
            raise ModelNotFoundError(
                f"'{text}' looks like a Hugging Face hub id but it is not in the local cache and the hub is offline "
                "(HF_HUB_OFFLINE=1). Download it once while online (`huggingface-cli download "
                f"{text}`), or pass a local model folder, a .gguf file, or 'tiny' for the bundled model."
            )
        return ModelRef("hub", None, text, text.split("/", 1)[1])

    raise ModelNotFoundError(
        f"'{text}': no such model folder or .gguf file, and not a hub id of the form org/name. "
        "Pass 'tiny' (the bundled SmolLM2-135M-Instruct), a local Hugging Face folder with config.json, "
        "a .gguf file, or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct."
    )
