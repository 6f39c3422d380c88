"""Go test programs from pieces that each bring their own imports (HumanEvalPack's layout).

HumanEvalPack ships a Go task as ``test_setup`` (``package main`` + the test's imports: ``testing``, testify,
sometimes ``math`` or ``math/rand``), the prompt (which opens with its own ``import (...)`` block, or none) and the
tests. Gluing them together as text fails ``go test`` for reasons that have nothing to do with the solution,
because the Go compiler rejects both duplicate and unused imports:

- Go/32, Go/90, Go/108, Go/162: the prompt and ``test_setup`` both import ``math`` (``crypto/md5``): redeclared;
- Go/27: the prompt imports ``strings`` and the reference solution never uses it: "imported and not used";
- Go/17, Go/20, Go/59, Go/65, Go/75: the reference uses ``strings``/``math``/``sort``/``strconv`` with no import
  at all. The octopack harness (after CodeGeeX) adds such standard packages itself when the code uses them; the
  dataset relies on it.

:func:`go_test_program` therefore rebuilds the one import block the file needs, the way ``goimports`` would but
deterministically and restricted to the benchmark's convention: it keeps every imported package that the code or
the tests use (blank and dot imports always), drops duplicates and unused ones, and adds a package from
:data:`GO_AUTO_IMPORTS` only when its name is used as ``pkg.X`` and nothing in the file declares that name.
Usage comes from the tree-sitter syntax tree, so comments and strings ("a list of strings.") never count.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeja.codeparse import get_parser

# The standard packages octopack's harness (bigcode-evaluation-harness humanevalpack.py, from CodeGeeX) imports
# for a Go sample when the sample uses them. Exactly this list, so scores stay comparable with published ones.
GO_AUTO_IMPORTS = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5")


@dataclass(frozen=True)
class GoImport:
    path: str
    alias: str | None = None  # as written: an identifier, "_" or "."; None binds the path's last element

    @property
    def binds(self) -> str:
        return self.alias or self.path.rsplit("/", 1)[-1]

    def render(self) -> str:
        return f'    {self.alias + " " if self.alias else ""}"{self.path}"'


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))  # source order


def split_imports(source: str) -> tuple[list[GoImport], str]:
    """(imports, the source without its package clause and import declarations). Byte-exact for the rest."""
    data = source.encode("utf-8", "surrogatepass")
    root = get_parser("go").parse(data).root_node
    imports: list[GoImport] = []
    cut: list[tuple[int, int]] = []
    for node in root.children:
        if node.type == "package_clause":
            cut.append((node.start_byte, node.end_byte))
        elif node.type == "import_declaration":
            cut.append((node.start_byte, node.end_byte))
            for spec in _walk(node):
                if spec.type != "import_spec":
                    continue
                path = spec.child_by_field_name("path")
                name = spec.child_by_field_name("name")
                if path is None:
                    continue
                imports.append(GoImport(path.text.decode("utf-8")[1:-1],
                                        name.text.decode("utf-8") if name is not None else None))
    out, pos = [], 0
    for start, end in sorted(cut):
        out.append(data[pos:start])
        pos = end
    out.append(data[pos:])
    return imports, b"".join(out).decode("utf-8", "surrogatepass")


def _names(body: str) -> tuple[set[str], set[str]]:
    """(names used as ``pkg.X``, names the file declares itself: variables, parameters, functions, types)."""
    root = get_parser("go").parse(body.encode("utf-8", "surrogatepass")).root_node
    used, declared = set(), set()
    for n in _walk(root):
        t = n.type
        if t == "selector_expression":
            op = n.child_by_field_name("operand")
            if op is not None and op.type == "identifier":
                used.add(op.text.decode("utf-8"))
        elif t == "qualified_type":
            pkg = n.child_by_field_name("package")
            if pkg is not None:
                used.add(pkg.text.decode("utf-8"))
        elif t in ("var_spec", "const_spec", "parameter_declaration", "variadic_parameter_declaration",
                   "function_declaration", "method_declaration", "type_spec"):
            declared.update(c.text.decode("utf-8") for c in n.children_by_field_name("name"))
        elif t in ("short_var_declaration", "range_clause"):
            left = n.child_by_field_name("left")
            if left is not None:
                declared.update(c.text.decode("utf-8") for c in left.named_children if c.type == "identifier")
    return used, declared


def go_test_program(code: str, test: str, test_setup: str = "", *, package: str = "main",
                    auto_imports: tuple[str, ...] = GO_AUTO_IMPORTS) -> str:
    """One compilable ``go test`` file: package clause, one merged import block, the code, the tests."""
    setup_imports, _ = split_imports(test_setup)
    code_imports, code_body = split_imports(code)
    test_imports, test_body = split_imports(test)
    body = code_body.strip("\n") + "\n\n" + test_body.strip("\n") + "\n"
    used, declared = _names(body)
    keep: list[GoImport] = []
    for imp in setup_imports + code_imports + test_imports:
        if imp in keep:
            continue  # the same package imported by two pieces (Go/32: math)
        if imp.binds in ("_", ".") or imp.binds in used:
            keep.append(imp)
    bound = {imp.binds for imp in keep}
    for path in auto_imports:
        imp = GoImport(path)
        if imp.binds in used and imp.binds not in bound and imp.binds not in declared:
            keep.append(imp)
            bound.add(imp.binds)
    block = ("import (\n" + "".join(i.render() + "\n" for i in keep) + ")\n\n") if keep else ""
    return f"package {package}\n\n{block}{body}"
