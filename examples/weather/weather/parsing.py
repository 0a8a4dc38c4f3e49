"""Parsers for station CSV rows and compact METAR-style observation lines."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

WIND_GROUP = re.compile(r"^(?P<dir>\d{3}|VRB)(?P<speed>\d{2,3})(?:G(?P<gust>\d{2,3}))?KT$")
TEMP_GROUP = re.compile(r"^(?P<temp>M?\d{2})/(?P<dew>M?\d{2})?$")
STATION_FIELDS = ("icao", "name", "lat", "lon", "elevation_m")


def parse_signed_temp(token: str) -> int:
    """Decode a METAR temperature token where a leading "M" means minus ("M05" -> -5)."""
    token = token.strip().upper()
    negative = token.startswith("M")
    digits = token[1:] if negative else token
    if not digits.isdigit():
        raise ValueError(f"bad temperature token: {token!r}")
    value = int(digits)
    return -value if negative else value


def parse_visibility(token: str) -> float:
    """Parse statute-mile visibility like "10SM", "1/2SM", "1 1/2SM" or "P6SM"."""
    text = token.strip().upper()
    if not text.endswith("SM"):
        raise ValueError(f"visibility must be in statute miles: {token!r}")
    text = text[:-2].lstrip("PM").strip()
    if not text:
        raise ValueError(f"visibility has no value: {token!r}")
    try:
        total = sum(Fraction(part) for part in text.split())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"unparseable visibility: {token!r}") from None
    return float(total)


def parse_wind(token: str) -> dict[str, int | None]:
    """Parse a wind group such as "28015G25KT" into direction, speed and gust (knots)."""
    match = WIND_GROUP.match(token.strip().upper())
    if match is None:
        raise ValueError(f"bad wind group: {token!r}")
    direction = None if match["dir"] == "VRB" else int(match["dir"])
    if direction is not None and direction > 360:
        raise ValueError(f"wind direction out of range: {direction}")
    gust = int(match["gust"]) if match["gust"] else None
    return {"direction": direction, "speed": int(match["speed"]), "gust": gust}


def parse_metar(line: str) -> dict[str, Any]:
    """Parse the common groups of a METAR-like line into a flat dictionary."""
    tokens = line.split()
    if len(tokens) < 2 or not re.fullmatch(r"[A-Z]{4}", tokens[0]):
        raise ValueError(f"not a METAR line: {line!r}")
    report: dict[str, Any] = {"station": tokens[0]}
    whole_miles = ""
    for token in tokens[1:]:
        if token.isdigit() and len(token) == 1:
            whole_miles = token
        elif re.fullmatch(r"\d{6}Z", token):
            report["day"], report["time"] = int(token[:2]), token[2:6]
        elif WIND_GROUP.match(token):
            report["wind"] = parse_wind(token)
        elif token.endswith("SM"):
            report["visibility_sm"] = parse_visibility(f"{whole_miles} {token}")
        elif (m := TEMP_GROUP.match(token)) is not None:
            report["temp_c"] = parse_signed_temp(m["temp"])
            report["dew_c"] = parse_signed_temp(m["dew"]) if m["dew"] else None
        elif re.fullmatch(r"A\d{4}", token):
            report["altimeter_inhg"] = int(token[1:]) / 100
    return report


def parse_coordinate(text: str) -> float:
    """Parse "37.62", "-122.37", "37.62N" or "122.37W" into signed decimal degrees."""
    cleaned = text.strip().upper()
    sign = 1.0
    if cleaned and cleaned[-1] in "NSEW":
        sign = -1.0 if cleaned[-1] in "SW" else 1.0
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * sign
    except ValueError:
        raise ValueError(f"bad coordinate: {text!r}") from None
    if abs(value) > 180.0:
        raise ValueError(f"coordinate out of range: {value}")
    return value


def parse_station_row(line: str, *, delimiter: str = ",") -> dict[str, Any]:
    """Parse one station CSV row "ICAO,name,lat,lon,elevation" into typed fields."""
    row = next(csv.reader([line], delimiter=delimiter), [])
    if len(row) != len(STATION_FIELDS):
        raise ValueError(f"expected {len(STATION_FIELDS)} fields, got {len(row)}")
    icao, name, lat, lon, elevation = (cell.strip() for cell in row)
    latitude = parse_coordinate(lat)
    if abs(latitude) > 90.0:
        raise ValueError(f"latitude out of range: {latitude}")
    return {"icao": icao.upper(), "name": name, "lat": latitude,
            "lon": parse_coordinate(lon), "elevation_m": float(elevation or 0)}


def iter_station_rows(text: str, *, skip_header: bool = True) -> Iterator[dict[str, Any]]:
    """Yield parsed stations from multi-line CSV text, skipping blanks and comments."""
    lines = io.StringIO(text)
    if skip_header:
        next(lines, None)
    for raw in lines:
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            yield parse_station_row(stripped)
