"""Small builders for models used across tests."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from dreamcore import DreamCore
from dreamcore.models import DreamProcedure, Procedure

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_counter = itertools.count()
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def procedure(project: str = "billing", qualname: str | None = None, source: str | None = None, **fields) -> Procedure:
    qualname = qualname or f"func_{next(_counter)}"
    source = source or f"def {qualname.rsplit('.', 1)[-1]}(x):\n    return x + 1\n"
    return Procedure(project=project, module=f"{project}.core", qualname=qualname, source=source, **fields)


def dream(base_id: int, n: int = 0, **fields) -> DreamProcedure:
    defaults = dict(
        base_procedure_id=base_id,
        base_procedure_name="func",
        dream_type="parameter",
        code=f"def func(x):\n    return x + {n + 2}\n",
        generated_at=EPOCH + timedelta(minutes=n),
        reasoning="scale the increment",
        generated_description=f"increment by {n + 2}",
    )
    defaults.update(fields)
    return DreamProcedure(**defaults)


@cache
def example_procedures() -> tuple[Procedure, ...]:
    """Every procedure of the examples/ projects, mined by the python source, with ids 1..N."""
    core = DreamCore({"sources": [{"project": "billing", "paths": [str(EXAMPLES / "billing")]},
                                  {"project": "weather", "paths": [str(EXAMPLES / "weather")]}]})
    source = core.create("sources", "python")

    async def collect():
        found = []
        for spec in core.config.sources:
            found += [item async for item in source.procedures(spec, core.config.base_dir)]
        return found

    procedures = [p for p in asyncio.run(collect()) if isinstance(p, Procedure)]
    for number, procedure in enumerate(procedures, start=1):
        procedure.id = number
    return tuple(procedures)


def duplicate_dreams(db) -> int:
    """How many (procedure, fingerprint) pairs more than one dream row of a SQLite file shares."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM (SELECT base_procedure_id, fingerprint FROM dream_procedures "
            "GROUP BY 1, 2 HAVING COUNT(*) > 1)"
        ).fetchone()[0]
