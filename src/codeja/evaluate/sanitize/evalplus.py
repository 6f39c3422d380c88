"""``evalplus@0.3.1``: a reimplementation of EvalPlus 0.3.1's tree-sitter sanitizer, quirks included.

Written from EvalPlus's own ``evalplus/sanitize.py`` (commit e593608 = PyPI 0.3.0/0.3.1), so that
scores can be compared with published EvalPlus numbers. Known behaviours reproduced on purpose:

* ``code_extract`` keeps the longest run of lines (pairs ``i < j``, so never a single line) that ``ast.parse``
  accepts, counted in non-blank lines, first maximum wins; O(n^2) parses.
* only top-level imports, classes, functions *with a return statement* and plain ``name = ...`` assignments are
  kept; decorated functions, ``from __future__``, ``try``/``if`` blocks, augmented and subscript assignments vanish.
* a definition's dependencies are every identifier in its subtree; the first definition of a name wins.
* output: imports, then reachable definitions, sliced from the UTF-8 *bytes* (the 2024-05 fix), joined by ``\\n``.
* when that is empty, fall back to the ``code_extract`` result.

Python only: for other languages the text passes through unchanged (rule ``python-only``).
"""

from __future__ import annotations

import ast
import warnings

from codeja.codeparse import get_parser
from codeja.evaluate.sanitize.base import Sanitized, Sanitizer


def syntax_check(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(code)
        return True
    except (SyntaxError, MemoryError, ValueError):
        return False


def code_extract(text: str) -> str:
    lines = text.split("\n")
    best, best_len = (0, 0), 0
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            chunk = "\n".join(lines[i : j + 1])
            if syntax_check(chunk):
                length = sum(1 for line in lines[i : j + 1] if line.strip())
                if length > best_len:
                    best_len, best = length, (i, j)
    return "\n".join(lines[best[0] : best[1] + 1])


def _name(node) -> str | None:
    for child in node.children:
        if child.type == "identifier":
            return child.text.decode("utf8")
    return None


def _has_return(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "return_statement":
            return True
        stack.extend(n.children)
    return False


def _identifiers(node) -> set[str]:
    out, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.add(n.text.decode("utf8"))
        stack.extend(n.children)
    return out


def _reachable(entry: str, graph: dict[str, set[str]]) -> set[str]:
    seen, queue = {entry}, [entry]
    while queue:
        cur = queue.pop(0)
        for nxt in graph.get(cur, ()):  # names not in the graph are skipped (8e2d7d4)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def extract_target_code_or_empty(code: str, entrypoint: str | None) -> str:
    code = code_extract(code)
    data = bytes(code, "utf8")
    tree = get_parser("python").parse(data)
    imports, defs = [], []
    classes, functions, variables = set(), set(), set()
    for child in tree.root_node.children:
        if child.type in ("import_statement", "import_from_statement"):
            imports.append(child)
        elif child.type == "class_definition":
            name = _name(child)
            if not (name in classes or name in variables or name in functions):
                defs.append((name, child))
                classes.add(name)
        elif child.type == "function_definition":
            name = _name(child)
            if not (name in functions or name in variables) and _has_return(child):
                defs.append((name, child))
                functions.add(name)
        elif child.type == "expression_statement" and child.children and child.children[0].type == "assignment":
            sub = child.children[0]
            name = _name(sub)
            if not (name in variables or name in functions):
                defs.append((name, sub))
                variables.add(name)
    reachable = _reachable(entrypoint, {n: _identifiers(node) for n, node in defs}) if entrypoint else None
    out = b""
    for node in imports:
        out += data[node.start_byte : node.end_byte] + b"\n"
    for name, node in defs:
        if reachable is not None and name not in reachable:
            continue
        out += data[node.start_byte : node.end_byte] + b"\n"
    return out[:-1].decode("utf8")


def evalplus_sanitize(code: str, entrypoint: str | None = None) -> str:
    sanitized = extract_target_code_or_empty(code, entrypoint).strip()
    return sanitized if sanitized else code_extract(code)


class EvalPlusSanitizer(Sanitizer):
    name, version = "evalplus", "0.3.1"

    def sanitize(self, text, task, bench, kind="completion"):
        if task.language != "python":
            code = task.prefix + text if kind == "completion" else text
            return Sanitized(code, closed=kind == "solution", rule="python-only")
        # evalplus codegen: a base model's solution is prompt.strip() + "\n" + completion
        code = task.prefix.strip() + "\n" + text if kind == "completion" and task.prefix.strip() else text
        return Sanitized(evalplus_sanitize(code, task.entry_point), closed=True, rule="evalplus")
