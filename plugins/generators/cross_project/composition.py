"""``composition``: a call chain, the base's result fed through the related procedure, or a base
argument pre-processed by it (only for ``T -> T`` procedures whose ``T`` matches)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, source_of, with_body
from dreamcore.analysis.syntax import copy_tree, is_none, scope_nodes
from dreamcore.generation.local import Candidate

from .matching import annotation_key, name_words, purpose, same_job, split_docstring
from .sides import Base, Param, Related

_NORMALISERS = frozenset({"normalize", "normalise", "clean", "sanitize", "sanitise", "canonical", "canonicalize",
                          "strip", "round", "clamp", "trim"})


def candidates(base: Base, other: Related) -> Iterator[Candidate]:
    """The base's result piped through the related procedure, or a base argument pre-processed by it."""
    if other.is_async or other.is_generator or base.is_generator:
        return
    required = [p for p in other.params if p.required and p.name not in ("self", "cls")]
    if len(required) != 1:
        return
    single = required[0]
    domain, codomain = annotation_key(single.annotation), annotation_key(other.function.returns)
    if domain is None or domain != codomain:
        return
    if not same_job(base.function.name, other.function.name) and not _is_normaliser(other.function.name):
        return
    name = other.helper_name(base)
    # post: every result of the base goes through the related procedure
    if annotation_key(base.function.returns) == domain and _has_value_returns(base.function) and (
        same_job(base.function.name, other.function.name)
        or name_words(other.function.name) & name_words(base.function.name)
    ):
        helper = other.inline(name)
        if helper is not None:
            function = copy_tree(base.function)
            head, body = split_docstring(function)
            for node in scope_nodes(body):
                if isinstance(node, ast.Return) and node.value is not None and not is_none(node.value):
                    node.value = _call_one(name, single, node.value)
            function.body = head + [helper] + body
            yield Candidate(
                kind="composition",
                code=source_of(function),
                description=(
                    f"Composition with {other.label}: every value the base returns is passed through it "
                    f"(inlined as nested `{name}`) before being returned."
                ),
                reasoning=(
                    f"{purpose(other)} The base returns `{_unparse_annotation(base.function.returns)}` and "
                    f"this maps `{domain}` to `{domain}`, so the call chain fits and callers get the "
                    "post-processed value directly. Violates the assumption that the base's raw result is "
                    "what callers want."
                ),
            )
    # pre: a parameter of the base is normalised by the related procedure first
    for param in base.params:
        if param.kind not in ("positional", "keyword") or param.name in ("self", "cls"):
            continue
        if annotation_key(param.annotation) != domain:
            continue
        if not same_job(base.function.name, other.function.name) and not (
            name_words(other.function.name) & (name_words(param.name) | name_words(base.function.name))
        ):
            continue  # normalize_email may pre-process an `email`, not any string
        helper = other.inline(name)
        if helper is None:
            return
        head, body = split_docstring(base.function)
        assign = ast.Assign(
            targets=[ast.Name(id=param.name, ctx=ast.Store())],
            value=_call_one(name, single, ast.Name(id=param.name, ctx=ast.Load())),
        )
        function = with_body(base.function, head + [helper, assign] + body)
        yield Candidate(
            kind="composition",
            code=source_of(function),
            description=(
                f"Composition with {other.label}: `{param.name}` is first passed through it (inlined as "
                f"nested `{name}`), then the base logic runs on the result."
            ),
            reasoning=(
                f"{purpose(other)} It turns a `{domain}` into a `{domain}`, the type of `{param.name}`, so "
                "it can run as a pre-processing step and input the base would reject or mis-handle arrives "
                f"normalised. Violates the assumption that `{param.name}` already comes in the form the base "
                "expects."
            ),
        )
        return


def _call_one(name: str, param: Param, value: ast.expr) -> ast.Call:
    if param.kind == "positional_only" or param.kind == "positional":
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[value], keywords=[])
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[], keywords=[ast.keyword(arg=param.name, value=value)])


def _has_value_returns(function: FunctionNode) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None and not is_none(n.value)
               for n in scope_nodes(function.body))


def _is_normaliser(name: str) -> bool:
    first = name.lstrip("_").split("_")[0].lower()
    return first in _NORMALISERS


def _unparse_annotation(annotation: ast.expr | None) -> str:
    return ast.unparse(annotation) if annotation is not None else "value"
