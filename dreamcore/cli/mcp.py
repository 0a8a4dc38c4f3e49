"""`dreamcore mcp`: dreamcore as MCP tools over stdio, for Claude Code and other agents.

Tools: ``dream`` (run a cycle, or dream one procedure), ``dream_journal``, ``dream_show``,
``dream_health`` and ``dream_evaluate``. A user error (unknown dream, bad filter, another run
holding the lock) comes back as a tool error with dreamcore's one-line message; stdout belongs to
the protocol, so progress goes to stderr.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from dreamcore.analysis.patch import dream_diff
from dreamcore.core import DreamCore
from dreamcore.errors import DreamcoreError
from dreamcore.models import DreamStatus, DreamTier, dream_ref, parse_dream_ref
from dreamcore.output import to_jsonable
from dreamcore.progress import Progress

STATUS_ALIASES = {"pending": DreamStatus.PENDING_EVALUATION}
JOURNAL_LIMIT = 500


def _tool_errors(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """DreamcoreErrors become tool errors carrying their one-line message."""

    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await function(*args, **kwargs)
        except DreamcoreError as exc:
            raise ToolError(str(exc)) from None

    return wrapper


def _status(text: str | None) -> DreamStatus | None:
    if text is None:
        return None
    try:
        return STATUS_ALIASES.get(text) or DreamStatus(text)
    except ValueError:
        known = ", ".join(["pending", *(s.value for s in DreamStatus)])
        raise DreamcoreError(f"unknown status {text!r} (known: {known})") from None


def _listed(dream: Any) -> dict[str, Any]:
    data = to_jsonable(dream)
    data.pop("code")
    return {"ref": dream_ref(dream.id), **data}


def build_server(core: DreamCore) -> MCPServer:
    """An MCP server whose tools act on ``core``."""
    server = MCPServer("dreamcore", instructions="Dream variants of code, judge them, test them, adapt.")

    @server.tool()
    @_tool_errors
    async def dream(
        strategy: str | None = None,
        procedure: str | None = None,
        limit: int | None = None,
        stages: list[str] | None = None,
    ) -> dict:
        """Run a dream cycle and return its summary. `procedure` dreams over one procedure only
        (qualified name, e.g. `Class.method`); `limit` over at most N procedures; `stages` runs only
        those stages (e.g. ["mine", "generate"] leaves the new dreams pending evaluation)."""
        from dreamcore.pipeline import summary

        if limit is not None and limit < 1:
            raise DreamcoreError(f"limit must be at least 1, got {limit}")
        cycle = await core.run_cycle(
            strategy=strategy, only=procedure, limit=limit, stages=stages, progress=Progress()
        )
        return summary(cycle)

    @server.tool()
    @_tool_errors
    async def dream_journal(
        status: str | None = None, tier: int | None = None, type: str | None = None, limit: int = 20
    ) -> dict:
        """Dreams, newest first. status: pending (= pending_evaluation), evaluated, pending_test,
        tested or archived; tier: 1 viable, 2 speculative, 3 archive; type: a dream type."""
        if tier is not None and tier not in (1, 2, 3):
            raise DreamcoreError(f"tier must be 1, 2 or 3, got {tier}")
        if not 1 <= limit <= JOURNAL_LIMIT:
            raise DreamcoreError(f"limit must be between 1 and {JOURNAL_LIMIT}, got {limit}")
        dreams = core.store.find_dreams(
            status=_status(status), tier=DreamTier(tier) if tier else None, dream_type=type, limit=limit
        )
        return {"dreams": [_listed(d) for d in dreams]}

    @server.tool()
    @_tool_errors
    async def dream_show(dream_id: str) -> dict:
        """One dream (`D-12` or `12`): every field, its code, and a unified diff against its base."""
        found = core.store.get_dream(parse_dream_ref(dream_id))
        base = core.store.get_procedure(found.base_procedure_id)
        diff = dream_diff(textwrap.dedent(base.source), found.code, f"{base.module}.{base.qualname}", dream_ref(found.id))
        return {"dream": {"ref": dream_ref(found.id), **to_jsonable(found)}, "diff": diff}

    @server.tool()
    @_tool_errors
    async def dream_health() -> dict:
        """Counts, averages and the latest health metrics (with the last cycles for a trend)."""
        latest = core.store.get_latest_metrics()
        runs = core.store.get_generation_runs(limit=30)
        return {
            "statistics": to_jsonable(core.store.get_statistics()),
            "latest_metrics": to_jsonable(latest),
            "runs": [
                {"id": r.id, "status": r.status, "timestamp": to_jsonable(r.timestamp), "dreams": r.total_dreams_generated}
                for r in runs
            ],
        }

    @server.tool()
    @_tool_errors
    async def dream_evaluate(text: str) -> dict:
        """Apply a judge's evaluations of pending dreams, written as JSON or text (e.g. `D-12: viability
        0.85, tier 1. Reason...`). Returns what was applied, unchanged, unmatched and unparsed."""
        from dreamcore.evaluation.judging import apply_evaluations
        from dreamcore.evaluation.parsing import parse_with, parsers_for

        parsed = parse_with(parsers_for(core), text)
        applied = apply_evaluations(core.store, parsed.evaluations, judge="mcp")
        return applied.as_dict(parsed.unparsed)

    return server


def serve(core: DreamCore) -> None:
    """Serve ``core`` over stdio until the client closes the connection."""
    build_server(core).run("stdio")
