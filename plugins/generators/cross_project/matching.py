"""What the strategies share: matching the two sides' parameters, types and names, and the words
and pieces every combination is made of."""

from __future__ import annotations

import ast

from dreamcore.analysis.nodes import FunctionNode, body_start
from dreamcore.analysis.syntax import resolved_annotation

from .sides import Param, Related

_GENERIC_WORDS = frozenset({
    "get", "set", "put", "make", "do", "run", "with", "for", "new", "from", "into", "value", "values", "data",
    "item", "items", "info", "the", "and", "can", "has",
})


def map_params(base: list[Param], other: list[Param], *, partial: bool = False) -> dict[str, str] | None:
    """Related parameter -> base parameter, by name, then annotation, then position; None if a required
    related parameter cannot be fed (unless ``partial``)."""
    usable = [p for p in base if p.kind not in ("varargs", "kwargs") and p.name not in ("self", "cls")]
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    wanted = [p for p in other if p.kind not in ("varargs", "kwargs") and p.name not in ("self", "cls")]
    for param in wanted:
        match = next((b for b in usable if b.name == param.name and b.name not in taken), None)
        if match is not None:
            mapping[param.name] = match.name
            taken.add(match.name)
    for param in wanted:
        if param.name in mapping:
            continue
        key = annotation_key(param.annotation)
        if key is None:
            continue
        same = [b for b in usable if b.name not in taken and annotation_key(b.annotation) == key]
        others_same = [o for o in wanted if o.name not in mapping and annotation_key(o.annotation) == key]
        match = None
        if len(same) == 1 and len(others_same) == 1:
            match = same[0]
        else:
            rank = others_same.index(param)
            if rank < len(same):
                match = same[rank]
        if match is not None and (param.required or not partial):
            mapping[param.name] = match.name
            taken.add(match.name)
    if not partial:
        mapping = {r: b for r, b in mapping.items()
                   if next(p for p in other if p.name == r).required or r == b}
        if any(p.required and p.name not in mapping for p in wanted):
            return None
        if any(p.kind == "positional_only" and p.name not in mapping for p in wanted if p.required):
            return None
    return mapping


def annotation_key(annotation: ast.expr | None) -> str | None:
    """A loose type key: the outer name of an annotation (``dict[str, Any]`` -> ``dict``)."""
    annotation = resolved_annotation(annotation)
    if annotation is None:
        return None
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    text = ast.unparse(annotation).split(".")[-1]
    return {"Dict": "dict", "List": "list", "Tuple": "tuple", "Set": "set"}.get(text, text)


def name_words(name: str) -> set[str]:
    """The meaningful words of an identifier, singular: ``parse_amounts`` -> {"parse", "amount"}."""
    words = set()
    for word in name.replace("-", "_").split("_"):
        word = word.lower()
        if len(word) < 3 or word in _GENERIC_WORDS:
            continue
        words.add(word[:-1] if word.endswith("s") and len(word) > 3 else word)
    return words


def same_job(a: str, b: str) -> bool:
    """Whether two function names share a meaningful word (parse_amount / parse_coordinate)."""
    return bool(name_words(a) & name_words(b))


def purpose(other: Related) -> str:
    """``label: "docstring summary"`` — what the related procedure is for, in its own words."""
    doc = ast.get_docstring(other.function) or other.procedure.docstring or ""
    summary = " ".join(doc.strip().split("\n\n")[0].split())
    if len(summary) > 140:
        summary = summary[:137] + "..."
    if not summary:
        return f"{other.label} does the same kind of work in the {other.procedure.project} project."
    return f"{other.label}: \"{summary.rstrip('.')}.\""


def split_docstring(function: FunctionNode) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """(the docstring statement or nothing, the rest of the body as a new list)."""
    start = body_start(function)
    return function.body[:start], function.body[start:]


def exception_type(names: list[str]) -> ast.expr:
    """What an ``except`` clause catches: ``E``, ``(E1, E2)``, or ``Exception`` when ``names`` is empty."""
    if len(names) == 1:
        return ast.Name(id=names[0], ctx=ast.Load())
    if names:
        return ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Load()) for n in names], ctx=ast.Load())
    return ast.Name(id="Exception", ctx=ast.Load())
