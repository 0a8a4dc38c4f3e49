"""How different two pieces of code are in shape: ``structural_distance`` and ``structural_novelty``."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import attrs

from dreamcore.analysis.syntax import DOCUMENTED_NODES, docstring_free, parse_module

_Function = ast.FunctionDef | ast.AsyncFunctionDef

# -- structural distance -----------------------------------------------------------------------

STRUCTURE_WEIGHT = 0.75  # node types, parent-field-child edges and node-type bigrams in pre-order
NAMES_WEIGHT = 0.25  # identifiers and constant values


@attrs.frozen
class _Shape:
    structure: Counter[str]
    names: Counter[str]
    structure_total: int
    names_total: int


_NAMERS = {
    ast.Name: lambda node: node.id,
    ast.Attribute: lambda node: node.attr,
    ast.arg: lambda node: node.arg,
    ast.keyword: lambda node: node.arg or "**",
    ast.FunctionDef: lambda node: node.name,
    ast.AsyncFunctionDef: lambda node: node.name,
    ast.ClassDef: lambda node: node.name,
    ast.Constant: lambda node: f"={repr(node.value)[:40]}",
}
_SCALARS = frozenset({
    "ctx", "id", "name", "arg", "attr", "kind", "type_comment", "module", "level", "is_async", "conversion",
    "simple", "rest", "tag",
})
_CHILD_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def _child_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(field, "Type.field") for the fields of an AST class that hold nodes, last first."""
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        names = () if cls in (ast.Constant, ast.MatchSingleton) else reversed(cls._fields)
        fields = tuple((f, f"{cls.__name__}.{f}") for f in names if f not in _SCALARS)
        _CHILD_FIELDS[cls] = fields
    return fields


@lru_cache(maxsize=4096)
def _shape(source: str) -> _Shape:
    """Multisets of structural tokens and of names of the normalised AST (see ``structural_distance``)."""
    order: list[str] = []
    edges: list[str] = []
    names: list[str] = []
    body = docstring_free(parse_module(source).body)
    stack: list[tuple[ast.AST, str]] = [(stmt, "Module.body") for stmt in reversed(body)]
    while stack:  # pre-order, docstrings skipped; the module node itself is left out
        node, edge = stack.pop()
        cls = type(node)
        kind = cls.__name__
        order.append(kind)
        edges.append(f"{edge}>{kind}")
        namer = _NAMERS.get(cls)
        if namer is not None:
            names.append(namer(node))
        for field, label in _child_fields(cls):
            value = getattr(node, field, None)
            if isinstance(value, list):
                if field == "body" and cls in DOCUMENTED_NODES:
                    value = docstring_free(value)
                stack.extend((item, label) for item in reversed(value) if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append((value, label))
    structure = Counter(order)
    structure.update(edges)
    structure.update([f"{a}|{b}" for a, b in pairwise(order)])
    counted = Counter(names)
    return _Shape(structure, counted, structure.total(), counted.total())


def _overlap(a: Counter[str], b: Counter[str], total_a: int, total_b: int) -> float:
    """Weighted Jaccard of two multisets: sum of minimum counts over sum of maximum counts."""
    if not total_a and not total_b:
        return 1.0
    if len(b) < len(a):
        a, b = b, a
    shared = sum(min(count, b[token]) for token, count in a.items() if token in b)
    return shared / (total_a + total_b - shared)


def structural_distance(a: str, b: str) -> float:
    """How different two pieces of code are in shape, in [0, 1]: 0 for the same canonical AST,
    1 for nothing in common.

    Each side becomes two multisets over its normalised AST (docstrings dropped, formatting gone):
    structure (node types, parent.field>child edges and consecutive node-type pairs in pre-order, so
    operators and statement order count) and names (identifiers and constant values). The distance
    is 1 - (0.75 * overlap(structure) + 0.25 * overlap(names)), overlap being the weighted Jaccard
    index. Symmetric and deterministic; results are cached per source. ValueError if either side
    does not parse.
    """
    if a == b:
        _shape(a)  # still reject what does not parse
        return 0.0
    x, y = _shape(a), _shape(b)
    similarity = STRUCTURE_WEIGHT * _overlap(x.structure, y.structure, x.structure_total, y.structure_total)
    similarity += NAMES_WEIGHT * _overlap(x.names, y.names, x.names_total, y.names_total)
    return min(1.0, max(0.0, 1.0 - similarity))


def structural_tokens(source: str) -> tuple[Counter[str], Counter[str]]:
    """The two multisets ``structural_distance`` compares: structure (node types, parent.field>child
    edges, node-type pairs in pre-order) and names (identifiers, ``=<repr>`` of constants). Cached
    with the distance's own; ValueError if the source does not parse. Do not modify the results."""
    shape = _shape(source)
    return shape.structure, shape.names


def structural_novelty(dream: str, base: str, earlier: Sequence[str] = ()) -> float:
    """Novelty of a dream in [0, 1]: its structural distance to the nearest of its base and the
    earlier dreams of the same base, so a dream identical to its base or to an earlier dream scores 0."""
    return min(structural_distance(dream, other) for other in (base, *earlier))


