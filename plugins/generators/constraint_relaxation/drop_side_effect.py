"""``drop_side_effect``: logging, printing and statistics counters removed."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, dotted_name
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import own_nodes, remove_statements, short, transformed

_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
_LOGGER_NAMES = re.compile(r"(^|_)(log|logger|logging|_log|_logger)$")
_COUNTERS = re.compile(
    r"(^|_)(hits|misses|count|counter|calls|requests|errors|failures|stats|reads|writes|sent|received)$"
)


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """One variant without the logging and printing, one without the statistics counters."""
    logs = [
        node for node in own_nodes(function)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _is_logging(node.value)
    ]
    if logs:
        shown = ", ".join(f"`{short(s, 40)}`" for s in logs[:3]) + (" ..." if len(logs) > 3 else "")
        yield Candidate(
            kind="drop_side_effect",
            code=transformed(function, remove_statements(function, logs)),
            description=f"Drops the logging/printing {shown}; the computation is unchanged.",
            reasoning=(
                "Violates the assumption that the diagnostic output is part of the job. Formatting and "
                "writing log lines costs time in hot paths; it assumes nobody parses that output and that "
                "the lost trail is not needed when something goes wrong."
            ),
        )
    counters = [
        node for node in own_nodes(function)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute)
        and _COUNTERS.search(node.target.attr) and isinstance(node.value, ast.Constant)
    ]
    if counters:
        shown = ", ".join(f"`{short(s, 40)}`" for s in counters)
        yield Candidate(
            kind="drop_side_effect",
            code=transformed(function, remove_statements(function, counters)),
            description=f"Stops updating the statistics counter{'s' if len(counters) > 1 else ''} {shown}.",
            reasoning=(
                "Violates the assumption that usage statistics must be kept on every call. The result is the "
                "same and the hot path does less (and touches less shared state); it assumes nothing reads "
                "those counters to make decisions."
            ),
        )


def _is_logging(call: ast.Call) -> bool:
    name = dotted_name(call.func)
    if name in {"print", "warnings.warn", "pprint", "pprint.pprint"}:
        return True
    parts = name.split(".")
    if len(parts) >= 2 and parts[-1] in _LOG_METHODS:
        return any(_LOGGER_NAMES.search(part) for part in parts[:-1])
    return False
