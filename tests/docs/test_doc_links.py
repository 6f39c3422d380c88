"""Docs and code cite files that exist: relative Markdown links, and repository paths named in the docs, in
docstrings and comments of the package, scripts, benchmarks and recipes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from doc_blocks import REPO

# Paths that are written in the text but are not files of this repository, with why.
NOT_OURS = {
    "docs/llama_mistral.md": "Megatron-LM's own documentation, cited as such in docs/megatron.md",
}
TOP = ("docs", "recipes", "scripts", "benchmarks", "examples", "tests", "src/codeja")
# a repository path: one of the top folders, not part of a longer path or URL (no '/', '.', word char before)
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(map(re.escape, TOP)) + r")/[\w./-]*[\w/])")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


def cited_paths(path: Path) -> list[tuple[int, str]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        for m in PATH.finditer(line):
            p = m.group(1).rstrip("./")
            if any(c in p for c in "<>*{}$") or p in NOT_OURS:
                continue
            out.append((n, p))
    return out


def git_ignored(paths: set[str]) -> set[str]:
    """Paths git ignores: outputs the code or the documented commands write (runs/, examples/out/, ...)."""
    probe = [q for p in paths for q in (p, p + "/")]  # "out/" patterns match only what git knows is a folder
    out = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input="\n".join(probe),
                         capture_output=True, text=True, check=False).stdout
    return {p.rstrip("/") for p in out.split()}


def test_cited_repository_paths_exist():
    sources = tracked("*.md", "src/*.py", "scripts/*", "benchmarks/*", "recipes/*", "Makefile", "pyproject.toml")
    cited = [(src, n, p) for src in sources for n, p in cited_paths(src) if not (REPO / p).exists()]
    outputs = git_ignored({p for _, _, p in cited})
    missing = [f"{src.relative_to(REPO)}:{n}: {p}" for src, n, p in cited if p not in outputs]
    assert not missing, "files cited but not in the repository:\n" + "\n".join(missing)


def test_relative_markdown_links_resolve():
    broken = []
    for md in tracked("*.md"):
        for n, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue
                rel = target.split("#", 1)[0]
                if rel and not (md.parent / rel).exists():
                    broken.append(f"{md.relative_to(REPO)}:{n}: {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_checker_sees_what_it_should():
    """The patterns find real citations and skip URLs, placeholders and outputs."""
    sample = REPO / "README.md"
    cited = {p for _, p in cited_paths(sample)}
    assert {"recipes/tiny.yaml", "docs/scaling.md", "scripts/setup-system.sh"} <= cited
    assert PATH.findall("see https://github.com/x/docs/a.md and ../docs/b.md") == []
    assert PATH.findall("`docs/ja/serving.md`, (recipes/tiny.yaml).") == ["docs/ja/serving.md", "recipes/tiny.yaml"]
