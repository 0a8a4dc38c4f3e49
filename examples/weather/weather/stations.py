"""Weather stations, reading validation, threshold alerts and moving averages."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

READING_LIMITS: dict[str, tuple[float, float]] = {
    "temp_c": (-90.0, 60.0),
    "humidity": (0.0, 100.0),
    "pressure_hpa": (850.0, 1090.0),
    "wind_mps": (0.0, 120.0),
}


@dataclass(frozen=True)
class Station:
    """A fixed observation site identified by its four-letter ICAO code."""

    icao: str
    name: str
    lat: float
    lon: float
    elevation_m: float = 0.0

    @property
    def quadrant(self) -> str:
        """Hemisphere pair such as "NW" or "SE" (the equator and meridian count as N/E)."""
        north_south = "N" if self.lat >= 0 else "S"
        east_west = "E" if self.lon >= 0 else "W"
        return north_south + east_west

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Station:
        """Build a station from a parsed row, validating the ICAO identifier."""
        icao = str(record.get("icao", "")).strip().upper()
        if len(icao) != 4 or not icao.isalpha():
            raise ValueError(f"invalid ICAO code: {icao!r}")
        return cls(icao, str(record.get("name", icao)), float(record["lat"]),
                   float(record["lon"]), float(record.get("elevation_m", 0.0)))

    @staticmethod
    def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
        """Great-circle distance in kilometres between two coordinates."""
        phi1, phi2 = math.radians(lat1), math.radians(lat2)
        dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
        a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
        return round(2 * 6371.0 * math.asin(math.sqrt(a)), 3)

    def distance_to(self, other: Station) -> float:
        """Distance in kilometres from this station to ``other``."""
        if other.icao == self.icao:
            return 0.0
        return self.haversine_km(self.lat, self.lon, other.lat, other.lon)


def validate_reading(reading: dict[str, float], *, strict: bool = False) -> dict[str, float]:
    """Check each known field is within physical limits; unknown fields fail when strict."""
    cleaned: dict[str, float] = {}
    for key, value in reading.items():
        if key not in READING_LIMITS:
            if strict:
                raise ValueError(f"unknown reading field: {key}")
            continue
        low, high = READING_LIMITS[key]
        number = float(value)
        if math.isnan(number) or not low <= number <= high:
            raise ValueError(f"{key}={value} outside [{low}, {high}]")
        cleaned[key] = number
    return cleaned


def threshold_alerts(readings: list[dict[str, float]], *, heat: float = 35.0, frost: float = 0.0,
                     gale: float = 17.2) -> list[str]:
    """Describe every reading that crosses the heat, frost or gale thresholds."""
    alerts: list[str] = []
    for index, reading in enumerate(readings):
        temp = reading.get("temp_c")
        wind = reading.get("wind_mps", 0.0)
        if temp is not None and temp >= heat:
            alerts.append(f"#{index}: heat {temp:.1f}C")
        if temp is not None and temp <= frost:
            alerts.append(f"#{index}: frost {temp:.1f}C")
        if wind >= gale:
            alerts.append(f"#{index}: gale {wind:.1f}m/s")
    return alerts


def moving_average(values: Iterable[float], window: int = 3) -> Iterator[float]:
    """Yield the trailing mean of each full ``window`` of values."""
    if window < 1:
        raise ValueError("window must be at least 1")
    recent: deque[float] = deque(maxlen=window)
    for value in values:
        recent.append(float(value))
        if len(recent) == window:
            yield round(sum(recent) / window, 6)


def summarize_temperatures(temps: list[float], *, precision: int = 1) -> dict[str, float]:
    """Minimum, maximum, mean and range of a list of temperatures."""
    if not temps:
        raise ValueError("no temperatures to summarise")
    low, high = min(temps), max(temps)
    return {
        "min": low,
        "max": high,
        "mean": round(sum(temps) / len(temps), precision),
        "range": round(high - low, precision),
    }


def nearest_station(stations: list[Station], lat: float, lon: float, *,
                    max_km: float = 250.0) -> Station | None:
    """Return the closest station within ``max_km`` of a point, or None."""
    distances = {s.icao: Station.haversine_km(lat, lon, s.lat, s.lon) for s in stations}
    candidates = [s for s in stations if distances[s.icao] <= max_km]
    return min(candidates, key=lambda s: distances[s.icao], default=None)


def beaufort(wind_mps: float) -> int:
    """Map a wind speed in m/s to its Beaufort force number (0-12)."""
    if wind_mps < 0:
        raise ValueError("wind speed cannot be negative")
    limits = [0.5, 1.6, 3.4, 5.5, 8.0, 10.8, 13.9, 17.2, 20.8, 24.5, 28.5, 32.7]
    return next((force for force, limit in enumerate(limits) if wind_mps < limit), 12)
