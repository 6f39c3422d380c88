"""Function and method bodies a placeholder can replace, found with tree-sitter.

A body is eligible when its function is not nested in another function (replacing an outer body would remove
the inner one) and the body spans lines of its own: Python statements below the ``def`` line, or a brace block
whose closing brace starts its own line. The span returned is exactly what gets replaced, so everything
outside it stays byte for byte:

* Python: from the first statement (or comment) after the docstring to the end of the block's last statement
  (a docstring is kept, as exercise templates keep it; comments dedented below the block are not part of it);
* brace languages: the inside of the braces, ``{`` and ``}`` kept, the closing brace's indentation rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeja.codeparse import canonical_language, get_parser

FUNCTIONS: dict[str, frozenset[str]] = {
    "python": frozenset({"function_definition"}),
    "javascript": frozenset({"function_declaration", "generator_function_declaration", "function_expression",
                             "function", "generator_function", "arrow_function", "method_definition"}),
    "java": frozenset({"method_declaration", "constructor_declaration"}),
    "go": frozenset({"function_declaration", "method_declaration", "func_literal"}),
    "rust": frozenset({"function_item", "closure_expression"}),
    "cpp": frozenset({"function_definition", "lambda_expression"}),
}
FUNCTIONS["typescript"] = FUNCTIONS["javascript"]
BRACE_BODIES = frozenset({"statement_block", "block", "constructor_body", "compound_statement"})
LANGUAGES = tuple(FUNCTIONS)


@dataclass(frozen=True)
class Body:
    """One replaceable body; offsets are UTF-8 byte offsets into the document (:func:`function_bodies`)."""

    name: str
    line: int  # 1-based line of the function's first line
    start: int
    end: int
    indent: str  # indentation of the body's lines
    closing: str | None  # brace languages: what goes before the closing brace ("\n" + its indentation)

    def replacement(self, body: str) -> str:
        """The text that replaces [start, end): ``body`` (lines already joined at ``indent``) in its frame."""
        if self.closing is None:
            return body
        return "\n" + self.indent + body + self.closing


def supported(language: str | None) -> bool:
    return canonical_language(language) in FUNCTIONS


def function_bodies(data: bytes, language: str) -> list[Body]:
    """Eligible bodies of ``data`` (the document as UTF-8 bytes) in order; [] for unsupported languages."""
    lang = canonical_language(language)
    if lang not in FUNCTIONS:
        return []
    parser = get_parser(lang)
    if parser is None:
        return []
    root = parser.parse(data).root_node
    kinds = FUNCTIONS[lang]
    out: list[Body] = []
    stack = [root]
    while stack:  # depth-first, outer functions only: a function's subtree is not searched further
        node = stack.pop()
        if node.type in kinds:
            body = python_body(data, node) if lang == "python" else _brace_body(data, node, lang)
            if body is not None:
                out.append(body)
            continue
        stack.extend(reversed(node.children))
    return out


def _name(data: bytes, fn) -> str:
    name = fn.child_by_field_name("name")
    if name is None:
        declarator = fn.child_by_field_name("declarator")  # C++: int f(...) -> function_declarator -> name
        while declarator is not None and declarator.child_by_field_name("declarator") is not None:
            declarator = declarator.child_by_field_name("declarator")
        name = declarator
    if name is None:
        return "<anonymous>"
    return data[name.start_byte:name.end_byte].decode("utf-8", "replace")


def _line_prefix(data: bytes, pos: int) -> bytes:
    return data[data.rfind(b"\n", 0, pos) + 1:pos]


def python_body(data: bytes, fn) -> Body | None:
    block = fn.child_by_field_name("body")
    if block is None or block.type != "block":
        return None
    colon = next((c for c in fn.children if c.type == ":"), None)
    # comments between the colon and the block are the function's children in tree-sitter-python
    lead = [c for c in fn.children if c.type == "comment" and colon is not None
            and colon.end_byte < c.start_byte and c.end_byte <= block.start_byte]
    items = lead + list(block.named_children)
    stmts = [c for c in items if c.type != "comment"]
    if stmts and is_docstring(stmts[0]):
        items = [c for c in items if c.start_byte > stmts[0].start_byte]
    if not any(c.type != "comment" for c in items):
        return None  # nothing but a docstring (and comments): no body to replace
    first = items[0]
    prefix = _line_prefix(data, first.start_byte)
    if prefix.strip() or first.start_point[0] == fn.start_point[0]:
        return None  # the body shares a line with the header (`def f(): return 1`)
    col = len(prefix)
    while items and items[-1].type == "comment" and items[-1].start_point[1] < col:
        items.pop()  # a comment dedented below the block belongs to what follows
    indent = prefix.decode("utf-8", "replace")
    return Body(_name(data, fn), fn.start_point[0] + 1, first.start_byte, items[-1].end_byte, indent, None)


def is_docstring(node) -> bool:
    return (node.type == "expression_statement" and node.named_child_count == 1
            and node.named_children[0].type in {"string", "concatenated_string"})


def _brace_body(data: bytes, fn, lang: str) -> Body | None:
    block = fn.child_by_field_name("body")
    if block is None or block.type not in BRACE_BODIES or block.child_count < 2:
        return None
    open_, close = block.children[0], block.children[-1]
    if open_.type != "{" or close.type != "}" or open_.start_point[0] == close.start_point[0]:
        return None
    closing = _line_prefix(data, close.start_byte)
    if closing.strip():
        return None  # `... }` closing a statement line: not a body laid out on its own lines
    inner = block.children[1:-1]
    indent = b""
    if inner and inner[0].start_point[0] > open_.start_point[0]:
        p = _line_prefix(data, inner[0].start_byte)
        indent = p if not p.strip() else b""
    if not indent:  # an empty body: one level deeper than the closing brace (gofmt indents with tabs)
        indent = closing + (b"\t" if lang == "go" or b"\t" in closing else b"    ")
    closing_text = "\n" + closing.decode("utf-8", "replace")
    return Body(_name(data, fn), fn.start_point[0] + 1, open_.end_byte, close.start_byte,
                indent.decode("utf-8", "replace"), closing_text)
