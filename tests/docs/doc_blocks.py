"""Shell blocks of the documentation, as the doc tests read them.

A fenced block whose info string starts with ``bash`` (or ``sh``/``shell``) is a block of commands. Words after
the language are tags; GitHub shows only the language::

    ```bash                  run by tests/docs/test_doc_commands.py, top to bottom, in a fresh checkout
    ```bash needs-gpu        not run: needs what CI lacks (the tag says what)

Each tag in :data:`TAGS` says why a block does not run in CI (``llamacpp`` blocks run where the test set-up has
installed llama-cpp-python[server], as `make test` does).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"bash", "sh", "shell"}
TAGS = {
    "setup": "the set-up itself (clone, make demo, make test): what the test environment is made of",
    "needs-gpu": "needs NVIDIA GPUs (vLLM, FSDP training)",
    "needs-cluster": "needs a Slurm cluster and Megatron-LM",
    "needs-network": "downloads from the Hugging Face Hub",
    "llamacpp": "runs where llama-cpp-python[server] is installed (make test's set-up, CI)",
}
# The documents whose commands are tested: the READMEs, the Japanese docs, the scaling guide and the examples.
DOCS = ["README.md", "README.ja.md", "docs/scaling.md", "examples/README.md"]
DOC_GLOBS = ["docs/ja/*.md"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    tags: list[str]
    text: str
    commands: list[list[str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in SHELL_LANGS and not self.tags


def doc_paths() -> list[Path]:
    paths = [REPO / p for p in DOCS if (REPO / p).is_file()]
    for pattern in DOC_GLOBS:
        paths += sorted(REPO.glob(pattern))
    return paths


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, with its language and tags."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip().split()
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j])
            j += 1
        text = "\n".join(body) + "\n"
        lang = info[0].lower() if info else ""
        block = Block(path, i + 1, lang, info[1:], text)
        if lang in SHELL_LANGS:
            block.commands = commands(text)
        out.append(block)
        i = j + 1
    return out


def commands(text: str) -> list[list[str]]:
    """The commands of a shell block as word lists: continuation lines and quoted newlines joined, comments and
    blank lines dropped."""
    out, buf = [], ""
    for line in re.sub(r"\\\n", " ", text).splitlines():
        buf += ("\n" if buf else "") + line
        try:
            words = shlex.split(buf, comments=True)
        except ValueError:  # a quote still open: the command goes on on the next line
            continue
        if words:
            out.append(words)
        buf = ""
    if buf.strip():
        raise ValueError(f"unterminated quote in: {buf!r}")
    return out


def section_blocks(path: Path, title: str, lang: str = "python") -> list[Block]:
    """The ``lang`` blocks under the ``## title`` heading of ``path``, up to the next ``## `` heading."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    first = text[:start].count("\n") + 2
    last = text[:end].count("\n") + 1 if end != -1 else len(text.splitlines()) + 1
    return [b for b in fenced_blocks(path) if b.lang == lang and first <= b.line <= last]
