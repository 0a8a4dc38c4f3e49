"""``concurrency``: independent awaited calls of an ``async def`` overlapped with ``asyncio.gather``."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from dreamcore.analysis.nodes import FunctionNode, body_start, dotted_name, is_sleep
from dreamcore.analysis.syntax import read_names
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import ensure_import, same_list, short, statement_lists, stored_names, transformed, written_names


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """Async functions only: the default safety gate refuses ``threading`` and ``concurrent`` (threads
    outlive the call the sandbox times), so a plain function has no sanctioned way to overlap calls."""
    if isinstance(function, ast.AsyncFunctionDef):
        groups = _analysis_groups(function, context)
        yield from _gather_adjacent(function, groups)
        yield from _gather_loop(function)


def _analysis_groups(function: FunctionNode, context: GenerationContext) -> list[tuple[int, int]]:
    """(start, end) in ``function.body`` of the analysis's parallel groups of top-level steps."""
    offset = body_start(function)
    found = []
    for group in context.analysis.parallel_groups:
        indexes = sorted(group)
        if len(indexes) >= 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
            found.append((indexes[0] + offset, indexes[-1] + 1 + offset))
    return found


def _runs(
    function: FunctionNode, groups: list[tuple[int, int]], pick: Callable[[ast.stmt], ast.Call | None]
) -> Iterator[tuple[ast.AST, str, list[ast.stmt], int, int]]:
    """Runs of >= 2 adjacent independent picked statements: in the body, inside the analysis's parallel
    groups; in nested blocks (which the analysis does not split into steps), by a stricter own check
    that also treats every method call as changing its receiver."""
    for owner, field, statements in statement_lists(function):
        if owner is function:
            for start, end in groups:
                for sub_start, sub_end in _independent_runs(statements[start:end], pick, trusted=True):
                    yield owner, field, statements, start + sub_start, start + sub_end
        else:
            for start, end in _independent_runs(statements, pick):
                yield owner, field, statements, start, end


def _awaited_call(statement: ast.stmt) -> ast.Call | None:
    """The call of ``x = await f(...)`` / ``await f(...)`` (not a sleep), else None."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        value, target = statement.value, statement.targets[0]
        if not isinstance(target, ast.Name | ast.Tuple):
            return None
    elif isinstance(statement, ast.Expr) or (
        isinstance(statement, ast.AnnAssign) and statement.value is not None and isinstance(statement.target, ast.Name)
    ):
        value = statement.value
    else:
        return None
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call) and not is_sleep(value.value):
        return value.value
    return None


def _independent_runs(
    statements: list[ast.stmt], pick: Callable[[ast.stmt], ast.Call | None], *, trusted: bool = False
) -> Iterator[tuple[int, int]]:
    """(start, end) of maximal runs of >= 2 adjacent picked statements that are pairwise independent
    (``trusted``: the dependency analysis already established that; only the picking is left)."""
    start = 0
    while start < len(statements):
        if pick(statements[start]) is None:
            start += 1
            continue
        end = start + 1
        while end < len(statements) and pick(statements[end]) is not None and (trusted or all(
            _independent(statements[k], statements[end]) for k in range(start, end)
        )):
            end += 1
        if end - start >= 2:
            yield start, end
        start = end


def _independent(a: ast.stmt, b: ast.stmt) -> bool:
    wa, wb = written_names(a), written_names(b)
    return not (wa & (read_names(b) | wb)) and not (wb & read_names(a))


def _gather(args: list[ast.expr]) -> ast.Await:
    """``await asyncio.gather(<args>)``."""
    return ast.Await(
        value=ast.Call(
            func=ast.Attribute(value=ast.Name(id="asyncio", ctx=ast.Load()), attr="gather", ctx=ast.Load()),
            args=args,
            keywords=[],
        )
    )


def _gather_adjacent(function: ast.AsyncFunctionDef, groups: list[tuple[int, int]]) -> Iterator[Candidate]:
    for owner, field, statements, start, end in _runs(function, groups, _awaited_call):
        run = statements[start:end]
        if _uses_name(function, "_"):
            continue

        def edit(copy_fn: FunctionNode, owner=owner, field=field, start=start, end=end) -> None:
            target_list = same_list(copy_fn, owner, field)
            group = target_list[start:end]
            gather = _gather([_awaited_call(s) for s in group])
            targets = [_assign_target(s) for s in group]
            if all(t is None for t in targets):
                replacement: ast.stmt = ast.Expr(value=gather)
            else:
                elts = [t if t is not None else ast.Name(id="_", ctx=ast.Store()) for t in targets]
                replacement = ast.Assign(targets=[ast.Tuple(elts=elts, ctx=ast.Store())], value=gather)
            target_list[start:end] = [replacement]
            ensure_import(copy_fn, "asyncio")

        code = transformed(function, edit)
        names = ", ".join(f"`{dotted_name(_awaited_call(s).func)}()`" for s in run)
        yield Candidate(
            kind="concurrency",
            code=code,
            description=(
                f"Awaits {names} together with `asyncio.gather(...)` instead of one after another "
                f"(lines `{short(run[0])}` .. `{short(run[-1])}`)."
            ),
            reasoning=(
                "Violates the assumption that these awaited calls must run sequentially. None of them reads "
                "a name another assigns, so they can overlap and the wall time becomes the slowest call "
                "instead of the sum — if the callees do not depend on each other's side effects or ordering, "
                "and if an early failure no longer preventing the later calls is acceptable."
            ),
        )


def _gather_loop(function: ast.AsyncFunctionDef) -> Iterator[Candidate]:
    """``for x in xs: acc.append(await f(x))`` -> ``acc.extend(await asyncio.gather(*(f(x) for x in xs)))``."""
    for owner, field, statements in statement_lists(function):
        for index, loop in enumerate(statements):
            if not isinstance(loop, ast.For) or loop.orelse or len(loop.body) != 1:
                continue
            inner = loop.body[0]
            appended = _append_of_await(inner)
            call = appended[1] if appended else _awaited_call(inner) if isinstance(inner, ast.Expr) else None
            if call is None:
                continue
            loop_names = stored_names(loop.target)
            if loop_names & _read_names_after(function, loop):
                continue  # the loop variable is used after the loop: a comprehension would not bind it
            if any(isinstance(n, ast.Await) for n in ast.walk(call)) or any(
                isinstance(n, ast.Await) for n in ast.walk(loop.iter)
            ):
                continue

            def edit(copy_fn: FunctionNode, owner=owner, field=field, index=index, appended=appended) -> None:
                target_list = same_list(copy_fn, owner, field)
                copy_loop = target_list[index]
                copy_inner = copy_loop.body[0]
                copy_call = _append_of_await(copy_inner)[1] if appended else _awaited_call(copy_inner)
                generator = ast.GeneratorExp(
                    elt=copy_call,
                    generators=[ast.comprehension(target=copy_loop.target, iter=copy_loop.iter, ifs=[], is_async=0)],
                )
                gather = _gather([ast.Starred(value=generator, ctx=ast.Load())])
                if appended:
                    receiver = _append_of_await(copy_inner)[0]
                    value: ast.expr = ast.Call(
                        func=ast.Attribute(value=receiver, attr="extend", ctx=ast.Load()), args=[gather], keywords=[]
                    )
                else:
                    value = gather
                target_list[index] = ast.Expr(value=value)
                ensure_import(copy_fn, "asyncio")

            code = transformed(function, edit)
            yield Candidate(
                kind="concurrency",
                code=code,
                description=(
                    f"Replaces the loop `{short(loop)}` that awaits `{dotted_name(call.func)}()` once per item "
                    "with a single `asyncio.gather` over all items (results kept in order)."
                ),
                reasoning=(
                    "Violates the assumption that the per-item awaits must happen one at a time. Each "
                    "iteration only depends on its own item, so all calls can be in flight together; this "
                    "assumes the callee tolerates concurrent use (no rate limit, no shared cursor) and that "
                    "a failure need not stop the remaining items from starting."
                ),
            )


def _append_of_await(statement: ast.stmt) -> tuple[ast.expr, ast.Call] | None:
    """(receiver, call) of ``receiver.append(await call(...))``."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    outer = statement.value
    if not isinstance(outer.func, ast.Attribute) or outer.func.attr != "append" or len(outer.args) != 1:
        return None
    argument = outer.args[0]
    if outer.keywords or not isinstance(argument, ast.Await) or not isinstance(argument.value, ast.Call):
        return None
    if is_sleep(argument.value):
        return None
    return outer.func.value, argument.value


def _assign_target(statement: ast.stmt) -> ast.expr | None:
    if isinstance(statement, ast.Assign):
        return statement.targets[0]
    if isinstance(statement, ast.AnnAssign):
        return statement.target
    return None


def _uses_name(function: FunctionNode, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(function)) or any(
        a.arg == name for a in ast.walk(function) if isinstance(a, ast.arg)
    )


def _read_names_after(function: FunctionNode, node: ast.stmt) -> set[str]:
    """Names read by statements that follow ``node`` in its statement list (and in enclosing lists)."""
    if not any(statement is node for statement in ast.walk(function)):
        return set()
    end = getattr(node, "end_lineno", None) or 0
    return {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            and (getattr(n, "lineno", 0) or 0) > end}
