"""Reading Bicep offline with the tree-sitter-bicep grammar (no Bicep compiler here).

Only what the infra tests need: parse errors, declarations, and the keys and
values of object literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser, Tree

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@cache
def parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


@cache
def parse(path: Path) -> Tree:
    return parser().parse(path.read_bytes())


def text(node: Node | None) -> str:
    return "" if node is None or node.text is None else node.text.decode()


def problems(tree: Tree) -> list[str]:
    """Every ERROR or MISSING node, as 'line:col type text'."""
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            row, col = node.start_point
            found.append(f"{row + 1}:{col + 1} {'MISSING' if node.is_missing else 'ERROR'} {text(node)[:60]!r}")
        stack.extend(node.children)
    return found


def unquote(node: Node) -> str:
    """An identifier, or a string literal without interpolation, as text."""
    if node.type == "string":
        return "".join(text(c) for c in node.named_children if c.type == "string_content")
    return text(node)


def body_object(node: Node) -> Node | None:
    """The object literal a declaration assigns (through `if (...)` and `[for ...]`)."""
    for child in node.children:
        if child.type == "object":
            return child
        if child.type in ("if_statement", "for_statement", "array"):
            inner = body_object(child)
            if inner is not None:
                return inner
    return None


def properties(obj: Node | None) -> dict[str, Node]:
    """Key → value node of an object literal's own properties."""
    result: dict[str, Node] = {}
    if obj is None:
        return result
    for prop in obj.named_children:
        if prop.type != "object_property" or len(prop.named_children) < 2:
            continue
        key, value = prop.named_children[0], prop.named_children[-1]
        result[unquote(key)] = value
    return result


@dataclass(frozen=True)
class Declaration:
    kind: str  # parameter | variable | resource | module | output
    name: str
    node: Node

    @property
    def target(self) -> str:
        """Type string of a resource, path of a module."""
        strings = [c for c in self.node.named_children if c.type == "string"]
        return unquote(strings[0]) if strings else ""

    @property
    def body(self) -> Node | None:
        return body_object(self.node)

    @property
    def is_existing(self) -> bool:
        return any(c.type == "existing" for c in self.node.children)

    @property
    def has_default(self) -> bool:
        return any(c.type == "=" for c in self.node.children)


def declarations(path: Path, kind: str) -> dict[str, Declaration]:
    result: dict[str, Declaration] = {}
    for node in parse(path).root_node.named_children:
        if node.type == f"{kind}_declaration":
            name = next(c for c in node.named_children if c.type == "identifier")
            result[text(name)] = Declaration(kind, text(name), node)
    return result


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))
