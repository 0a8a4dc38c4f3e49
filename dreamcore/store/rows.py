"""Converting between the models and table rows: loading models from a cursor, the values written
for a model, text scrubbed of NUL, and code fingerprints."""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import peewee as pw

from dreamcore.errors import StoreError
from dreamcore.models import DreamProcedure, DreamStatus, DreamTier, TestOutcome
from dreamcore.store.tables import DreamRow, JSONField, Table, UTCDateTimeField

Model = TypeVar("Model")


def model_from_row(cls: type[Model], row: dict[str, Any], table: str) -> Model:
    try:
        return cls(**row)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"store: {table} row {row.get('id')}: invalid stored value ({exc})") from None


def load_models(cls: type[Model], table: type[Table], cursor: Any) -> list[Model]:
    """Models from a raw cursor over ``SELECT *`` of ``table`` (its columns, matched by name).

    Only timestamps and JSON are converted; other values are taken as the driver gives them.
    (Peewee's ``.dicts()`` converts every value: that was most of the time of a 100-row read.)
    """
    fields = [table._meta.columns.get(column[0]) for column in cursor.description]
    names = [field.name if field else column[0] for field, column in zip(fields, cursor.description)]
    converters = [(f.name, f.python_value) for f in fields if isinstance(f, (UTCDateTimeField, JSONField))]
    models = []
    for values in cursor:
        row = dict(zip(names, values))
        for name, convert in converters:
            if row[name] is not None:
                row[name] = convert(row[name])
        models.append(model_from_row(cls, row, table._meta.table_name))
    return models


def row_from_model(obj: Any, *, skip: Iterable[str] = ("id",)) -> dict[str, Any]:
    row = attrs.asdict(obj, recurse=False)
    for key in skip:
        row.pop(key, None)
    for key, value in row.items():
        if isinstance(value, (DreamStatus, TestOutcome)):
            row[key] = value.value
        elif isinstance(value, DreamTier):
            row[key] = int(value)
        elif isinstance(value, str):
            row[key] = scrub(value)
    return row


def scrub(text: str) -> str:
    # PostgreSQL text cannot hold NUL; replace it on every backend so both keep the same value.
    return text.replace("\x00", "\ufffd") if "\x00" in text else str(text)


def code_fingerprint(code: str) -> str:
    """Fallback fingerprint when a caller gives none: SHA-256 of the code without trailing spaces."""
    normalised = "\n".join([line.rstrip() for line in code.strip().splitlines()])
    return hashlib.sha256(normalised.encode()).hexdigest()


def _writer(field: pw.Field) -> Callable[[Any], Any]:
    """How a value that the driver cannot take as it is gets written to ``field``."""
    if isinstance(field, UTCDateTimeField):
        return lambda value: (
            value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo
            else field.db_value(value)
        )
    if isinstance(field, pw.TextField):  # NUL scrubbed; enum members become their plain value
        return lambda value: scrub(value) if isinstance(value, str) else field.db_value(value)
    return field.db_value  # float() or int(): IntEnum tiers, bools, ints for scores...


def _plain(field: pw.Field) -> type | None:
    """The type of value written to ``field`` as it is (None: every value needs its writer)."""
    if isinstance(field, pw.FloatField):
        return float
    return int if isinstance(field, (pw.IntegerField, pw.ForeignKeyField)) else None


DREAM_FIELDS = [field for field in DreamRow._meta.sorted_fields if field.name != "id"]
_DREAM_NAMES = [field.name for field in DREAM_FIELDS]
_DREAM_WRITERS = [_writer(field) for field in DREAM_FIELDS]
_DREAM_TEXT = [i for i, field in enumerate(DREAM_FIELDS) if isinstance(field, pw.TextField)]
_DREAM_OTHER = [(i, _plain(field)) for i, field in enumerate(DREAM_FIELDS) if not isinstance(field, pw.TextField)]
_dream_attributes = operator.attrgetter(*_DREAM_NAMES)
BASE_ID, FINGERPRINT = _DREAM_NAMES.index("base_procedure_id"), _DREAM_NAMES.index("fingerprint")


def dream_values(dream: DreamProcedure) -> list[Any]:
    """A dream's column values in ``DREAM_FIELDS`` order, NUL scrubbed, with its fingerprint.

    This runs for every row of a bulk insert, so plain values go to the driver as they are.
    """
    values = list(_dream_attributes(dream))
    for i in _DREAM_TEXT:
        value = values[i]
        if value is not None and (value.__class__ is not str or "\x00" in value):
            values[i] = _DREAM_WRITERS[i](value)
    for i, plain in _DREAM_OTHER:
        value = values[i]
        if value is not None and value.__class__ is not plain:
            values[i] = _DREAM_WRITERS[i](value)
    values[FINGERPRINT] = values[FINGERPRINT] or code_fingerprint(dream.code)
    return values
