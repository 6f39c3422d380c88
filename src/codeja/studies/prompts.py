"""Function prompts from a Python corpus: a module-level function's header and docstring, HumanEval's shape.

The placeholder study samples its own model on these to build preference pairs, so the prompts come from code
(the standard library, say), never from the benchmarks it evaluates on. A prompt is the function's source from
``def`` through its docstring and the newline after it; the original body is kept as the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeja.codeparse import get_parser
from codeja.studies.bodies import is_docstring, python_body


@dataclass(frozen=True)
class FunctionPrompt:
    name: str
    line: int  # 1-based line of the def in its document
    prompt: str  # "def f(...):\n    \"\"\"...\"\"\"\n"
    reference: str  # the original body, indented as in the file


def function_prompts(text: str, *, min_docstring_chars: int = 20,
                     max_body_lines: int = 30) -> list[FunctionPrompt]:
    """Module-level, undecorated functions with a docstring of at least ``min_docstring_chars`` characters
    and a body of at most ``max_body_lines`` lines, in file order."""
    data = text.encode("utf-8", "surrogatepass")
    parser = get_parser("python")
    out = []
    for fn in parser.parse(data).root_node.children:
        if fn.type != "function_definition":
            continue
        block = fn.child_by_field_name("body")
        stmts = [c for c in block.named_children if c.type != "comment"] if block is not None else []
        if not stmts or not is_docstring(stmts[0]):
            continue
        doc = stmts[0]
        if doc.end_byte - doc.start_byte < min_docstring_chars + 6:  # the quotes count 6
            continue
        body = python_body(data, fn)
        if body is None:
            continue
        reference = data[body.start:body.end].decode("utf-8", "surrogatepass")
        if reference.count("\n") + 1 > max_body_lines:
            continue
        prompt_end = data.rfind(b"\n", 0, body.start) + 1  # the line break before the body's first line
        prompt = data[fn.start_byte:prompt_end].decode("utf-8", "surrogatepass")
        out.append(FunctionPrompt(body.name, fn.start_point[0] + 1, prompt, body.indent + reference))
    return out
