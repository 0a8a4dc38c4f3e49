"""Turning models and other attrs objects into JSON-ready data for ``--json`` output."""

from __future__ import annotations

from typing import Any

from cattrs.preconf.json import make_converter

_CONVERTER = make_converter()


def to_jsonable(obj: Any) -> Any:
    """attrs objects, enums and datetimes as plain JSON values (ISO 8601 times, enum values)."""
    return _CONVERTER.unstructure(obj)
