"""Programming languages in one place: canonical names, file extensions, tree-sitter parsers, markdown code blocks.

Every stage that looks at code (curation lint signals, Magpie and preference filters, sanitizers) uses these, so
"is this valid Go?" has one answer across the project. Grammars come from the per-language wheels
(``tree-sitter-python`` ...), which ship compiled grammars and need no network.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache

# canonical name -> (grammar module, attribute returning the language pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "java": ("tree_sitter_java", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "bash": ("tree_sitter_bash", "language"),
}

ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "js": "javascript", "node": "javascript", "nodejs": "javascript",
    "jsx": "javascript", "ts": "typescript", "tsx": "typescript", "c++": "cpp", "cc": "cpp", "cxx": "cpp",
    "hpp": "cpp", "golang": "go", "rs": "rust", "sh": "bash", "shell": "bash", "zsh": "bash", "console": "bash",
    "cs": "csharp", "c#": "csharp", "rb": "ruby", "rkt": "racket", "jl": "julia", "pl": "perl", "dlang": "d",
}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".java": "java", ".cpp": "cpp", ".cc": "cpp",
    ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".h": "cpp", ".c": "c", ".go": "go", ".rs": "rust", ".sh": "bash",
    ".bash": "bash", ".rb": "ruby", ".php": "php", ".cs": "csharp", ".kt": "kotlin", ".swift": "swift",
    ".scala": "scala", ".lua": "lua", ".r": "r", ".jl": "julia", ".pl": "perl", ".md": "markdown",
    ".html": "html", ".htm": "html", ".xml": "xml", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
    ".toml": "toml", ".css": "css", ".sql": "sql", ".ipynb": "jupyter",
}

# Human-readable names, used in prompts (Magpie steering) and reports.
DISPLAY_NAMES: dict[str, str] = {
    "python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "java": "Java", "cpp": "C++",
    "go": "Go", "rust": "Rust", "bash": "Bash", "c": "C", "ruby": "Ruby", "php": "PHP", "csharp": "C#",
    "d": "D", "julia": "Julia", "lua": "Lua", "perl": "Perl", "r": "R", "racket": "Racket", "scala": "Scala",
    "swift": "Swift",
}


def canonical_language(name: str | None) -> str | None:
    """'Py', 'c++', 'golang' -> 'python', 'cpp', 'go'; unknown names are lower-cased and returned as they are."""
    if not name:
        return None
    key = name.strip().lower()
    return ALIASES.get(key, key)


def language_from_path(path: str) -> str | None:
    m = re.search(r"(\.[A-Za-z0-9+]+)$", path)
    return EXTENSIONS.get(m.group(1).lower()) if m else None


@cache
def get_parser(language: str):
    """A cached tree-sitter parser for ``language`` (canonical or alias); None when no grammar is installed."""
    lang = canonical_language(language)
    if lang not in GRAMMARS:
        return None
    # heavy: tree_sitter (kept out of `codeja --help` and light imports)
    import tree_sitter

    module, attr = GRAMMARS[lang]
    try:
        grammar = importlib.import_module(module)
    except ImportError:
        return None
    return tree_sitter.Parser(tree_sitter.Language(getattr(grammar, attr)()))


def syntax_errors(code: str, language: str) -> int | None:
    """Number of ERROR / MISSING nodes in the parse tree; None when the language has no grammar here.

    Python is checked with ``compile`` (the interpreter is the authority; tree-sitter accepts some invalid code):
    0 when it compiles, 1 when it does not.
    """
    lang = canonical_language(language)
    if lang == "python":
        try:
            compile(code, "<code>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):  # ValueError: source with NUL bytes
            return 1
        return 0
    parser = get_parser(lang or "")
    if parser is None:
        return None
    root = parser.parse(code.encode("utf-8", "surrogatepass")).root_node
    if not root.has_error:
        return 0
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        elif node.has_error:
            stack.extend(node.children)
    return max(count, 1)


def parses(code: str, language: str) -> bool | None:
    """True / False, or None when we cannot tell (no grammar for the language)."""
    errors = syntax_errors(code, language)
    return None if errors is None else errors == 0


@dataclass(frozen=True)
class CodeBlock:
    language: str | None  # canonical name from the fence's info string, None when the fence had none
    code: str
    start: int  # character offsets of the fenced block (fences included) in the source text
    end: int


# A fence line: up to 3 spaces, ``` or ~~~ (3+), an optional info string. The closing fence uses the same
# character, at least as long (CommonMark). An unclosed fence runs to the end of the text.
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})[ \t]*([^\n`]*)$", re.MULTILINE)


def extract_code_blocks(markdown: str) -> list[CodeBlock]:
    """Fenced code blocks in order, with their declared language (``python``, ``py``, ``c++`` ... canonicalised)."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        m = _FENCE.search(markdown, pos)
        if not m:
            return blocks
        fence, info = m.group(1), m.group(2).strip()
        body_start = m.end() + 1
        close = re.compile(rf"^[ ]{{0,3}}{fence[0]}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        c = close.search(markdown, body_start)
        body_end, end = (c.start(), c.end()) if c else (len(markdown), len(markdown))
        code = markdown[body_start:body_end] if body_start <= body_end else ""
        lang = canonical_language(info.split()[0].strip("{}.")) if info else None
        blocks.append(CodeBlock(lang, code.rstrip("\n") + ("\n" if code.strip() else ""), m.start(), end))
        pos = end if end > m.end() else m.end() + 1
