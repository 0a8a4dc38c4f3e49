"""Unit conversions for temperature, wind speed, pressure and distance."""

from __future__ import annotations

import math

KNOT_IN_MPS = 0.514444
INHG_IN_HPA = 33.8639
STATUTE_MILE_IN_M = 1609.344


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert degrees Celsius to degrees Fahrenheit."""
    if celsius < -273.15:
        raise ValueError("temperature below absolute zero")
    return celsius * 9.0 / 5.0 + 32.0


def fahrenheit_to_celsius(fahrenheit: float) -> float:
    """Convert degrees Fahrenheit to degrees Celsius."""
    if fahrenheit < -459.67:
        raise ValueError("temperature below absolute zero")
    return (fahrenheit - 32.0) * 5.0 / 9.0


def knots_to_mps(knots: float, *, precision: int = 2) -> float:
    """Convert a wind speed in knots to metres per second, rounded to ``precision``."""
    if knots < 0:
        raise ValueError("wind speed cannot be negative")
    return round(knots * KNOT_IN_MPS, precision)


def inhg_to_hpa(inches: float) -> float:
    """Convert an altimeter setting in inches of mercury to hectopascals."""
    hpa = inches * INHG_IN_HPA
    if not 850.0 <= hpa <= 1090.0:
        raise ValueError(f"pressure {hpa:.1f} hPa is outside the plausible range")
    return round(hpa, 1)


def wind_chill(temp_c: float, wind_kmh: float) -> float:
    """Apparent temperature from wind chill; returns ``temp_c`` outside the valid regime."""
    if temp_c > 10.0 or wind_kmh <= 4.8:
        return temp_c
    factor = wind_kmh ** 0.16
    return round(13.12 + 0.6215 * temp_c - 11.37 * factor + 0.3965 * temp_c * factor, 1)


def dew_point(temp_c: float, humidity: float) -> float:
    """Approximate dew point (Magnus formula) from temperature and relative humidity %."""
    if not 0.0 < humidity <= 100.0:
        raise ValueError("relative humidity must be in (0, 100]")
    a, b = 17.625, 243.04
    gamma = math.log(humidity / 100.0) + a * temp_c / (b + temp_c)
    return round(b * gamma / (a - gamma), 1)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert between a small set of named units, e.g. convert(10, "kt", "m/s")."""
    table = {
        ("c", "f"): celsius_to_fahrenheit,
        ("f", "c"): fahrenheit_to_celsius,
        ("kt", "m/s"): lambda v: v * KNOT_IN_MPS,
        ("m/s", "kt"): lambda v: v / KNOT_IN_MPS,
        ("sm", "m"): lambda v: v * STATUTE_MILE_IN_M,
        ("inhg", "hpa"): lambda v: v * INHG_IN_HPA,
    }
    key = (from_unit.strip().lower(), to_unit.strip().lower())
    if key[0] == key[1]:
        return float(value)
    if key not in table:
        raise ValueError(f"no conversion from {from_unit} to {to_unit}")
    return table[key](value)
