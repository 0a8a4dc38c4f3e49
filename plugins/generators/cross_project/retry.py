"""``retry``: the related procedure's retry shape (attempts, backoff growth, caught errors) wrapped
around the base's call of a collaborator it was given (its I/O)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.dataflow import PURE_METHODS
from dreamcore.analysis.nodes import FunctionNode, counterpart, is_retry_loop, source_of
from dreamcore.analysis.syntax import copy_tree, scope_nodes, snippet, statement_position
from dreamcore.generation.local import Candidate

from .matching import annotation_key, exception_type, purpose, split_docstring
from .sides import Base, Related


def candidates(base: Base, other: Related) -> Iterator[Candidate]:
    """Wrap the base's call of a callable parameter in the related procedure's retry shape."""
    shape = other.retry_shape
    if shape is None or _retries(base.function):
        return
    target = _io_statement(base)
    if target is None:
        return
    statement, callee = target
    attempts_name = base.fresh("_attempt")
    retries, backoff, growth, caught = shape
    function = copy_tree(base.function)
    copied = counterpart(statement, base.function, function)
    owner_list, index = statement_position(function, copied)
    module = "asyncio" if base.is_async else "time"
    wait = ast.Call(func=ast.Attribute(value=ast.Name(id=module, ctx=ast.Load()), attr="sleep", ctx=ast.Load()),
                    args=[_delay(growth, backoff, attempts_name)], keywords=[])
    sleep = ast.Expr(value=ast.Await(value=wait) if base.is_async else wait)
    handler_type = exception_type(caught)
    loop = ast.For(
        target=ast.Name(id=attempts_name, ctx=ast.Store()),
        iter=ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[ast.Constant(retries + 1)], keywords=[]),
        body=[ast.Try(
            body=[copied],
            handlers=[ast.ExceptHandler(type=handler_type, name=None, body=[
                ast.If(test=ast.Compare(left=ast.Name(id=attempts_name, ctx=ast.Load()), ops=[ast.Eq()],
                                        comparators=[ast.Constant(retries)]),
                       body=[ast.Raise(exc=None, cause=None)], orelse=[]),
                sleep,
            ])],
            orelse=[ast.Break()],
            finalbody=[],
        )],
        orelse=[],
    )
    owner_list[index] = loop
    head, body = split_docstring(function)
    function.body = head + [ast.Import(names=[ast.alias(name=module)])] + body
    growth_text = {
        "exponential": f"{backoff}s doubling each time",
        "linear": f"{backoff}s growing by {backoff}s each time",
    }[growth]
    yield Candidate(
        kind="retry",
        code=source_of(function),
        description=(
            f"Borrows the retry shape of {other.label}: `{snippet(statement, 50)}` (the call of `{callee}`) "
            f"is retried up to {retries} times on {ast.unparse(handler_type)}, waiting {growth_text}."
        ),
        reasoning=(
            f"{purpose(other)} The {other.procedure.project} project treats this kind of injected I/O call "
            "as unreliable and retries it; the base gives up on the first failure. Violates the assumption "
            f"that `{callee}` either works or fails for good, and assumes repeating the call is harmless "
            "(idempotent)."
        ),
    )


def _retries(function: FunctionNode) -> bool:
    """Whether the function already retries (a loop with a try and a sleep)."""
    return any(is_retry_loop(n) for n in scope_nodes(function.body) if isinstance(n, ast.For | ast.While | ast.AsyncFor))


def _delay(growth: str, backoff: float, attempt: str) -> ast.expr:
    counter = ast.Name(id=attempt, ctx=ast.Load())
    if growth == "exponential":
        grown = ast.BinOp(left=ast.Constant(backoff), op=ast.Mult(),
                          right=ast.BinOp(left=ast.Constant(2), op=ast.Pow(), right=counter))
    else:
        grown = ast.BinOp(left=ast.Constant(backoff), op=ast.Mult(),
                          right=ast.BinOp(left=counter, op=ast.Add(), right=ast.Constant(1)))
    return ast.Call(func=ast.Name(id="min", ctx=ast.Load()), args=[grown, ast.Constant(30.0)], keywords=[])


_DATA_TYPES = frozenset({"str", "bytes", "int", "float", "bool", "complex", "list", "dict", "tuple", "set",
                         "frozenset", "Sequence", "Mapping", "Iterable", "Iterator", "Decimal", "Fraction"})


def _io_statement(base: Base) -> tuple[ast.stmt, str] | None:
    """The first simple statement of the base's own scope that calls an injected collaborator: a callable
    parameter (``fetch(url)``) or a method of a parameter that is not plain data (``client.get(url)``)."""
    callables = {p.name for p in base.params if p.name not in ("self", "cls")}
    objects = {p.name for p in base.params if p.name not in ("self", "cls")
               and annotation_key(p.annotation) not in _DATA_TYPES}
    for node in scope_nodes(base.function.body):
        if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Expr | ast.Return):
            continue
        if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node)):
            continue
        if isinstance(node, ast.Return) and base.is_generator:
            continue
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            func = call.func
            if isinstance(func, ast.Name) and func.id in callables and _io_words(func.id):
                return node, func.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in objects \
                    and func.attr not in PURE_METHODS and not func.attr.startswith("_") \
                    and _io_words(f"{func.value.id}_{func.attr}"):
                return node, f"{func.value.id}.{func.attr}"
    return None


_IO_WORDS = frozenset({
    "fetch", "get", "load", "read", "write", "send", "recv", "receive", "request", "call", "charge", "pay", "post",
    "put", "delete", "download", "upload", "query", "client", "session", "conn", "connection", "transport", "http",
    "api", "probe", "sink", "source", "reader", "writer", "stream", "socket", "remote", "service", "server",
    "backend", "store", "publish", "poll", "submit",
})


def _io_words(name: str) -> bool:
    """Whether a callee's name sounds like I/O (``fetch_page``, ``client.get_orders``), not a hook or key."""
    return any(word in _IO_WORDS for word in name.lower().split("_"))
