"""Parsing, rounding and formatting of monetary amounts held as integer cents."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CURRENCY_SYMBOLS: dict[str, str] = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
MINOR_UNITS: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2}


def parse_amount(text: str, *, decimal_sep: str = ".", thousands_sep: str = ",") -> int:
    """Parse a human-written amount such as "$1,234.50" or "-12" into integer cents.

    Raises ValueError for empty input or anything that is not a number.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("empty amount")
    negative = cleaned.startswith("-") or (cleaned.startswith("(") and cleaned.endswith(")"))
    cleaned = cleaned.strip("-()").strip()
    for symbol in CURRENCY_SYMBOLS:
        cleaned = cleaned.replace(symbol, "")
    cleaned = cleaned.replace(thousands_sep, "").replace(decimal_sep, ".").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not a monetary amount: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {text!r}")
    cents = int((value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))
    return -cents if negative else cents


def detect_currency(text: str, default: str = "USD") -> str:
    """Return the ISO code implied by a leading symbol or trailing code in ``text``."""
    stripped = text.strip()
    for symbol, code in CURRENCY_SYMBOLS.items():
        if symbol in stripped:
            return code
    tail = stripped[-3:].upper()
    if len(stripped) >= 3 and tail.isalpha() and tail in MINOR_UNITS:
        return tail
    return default


def round_half_even_cents(amount: float) -> int:
    """Convert a float amount in major units to cents using banker's rounding."""
    if not math.isfinite(amount):
        raise ValueError(f"amount must be finite, got {amount}")
    return int(Decimal(repr(amount)).scaleb(2).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def format_amount(cents: int, currency: str = "USD", *, symbol: bool = True) -> str:
    """Render minor units as a display string, e.g. 123456 -> "$1,234.56"."""
    digits = MINOR_UNITS.get(currency.upper(), 2)
    sign = "-" if cents < 0 else ""
    major, minor = divmod(abs(cents), 10**digits)
    body = f"{major:,}" if digits == 0 else f"{major:,}.{minor:0{digits}d}"
    if not symbol:
        return f"{sign}{body} {currency.upper()}"
    prefix = next((s for s, code in CURRENCY_SYMBOLS.items() if code == currency.upper()), "")
    return f"{sign}{prefix}{body}" if prefix else f"{sign}{body} {currency.upper()}"


def convert_cents(cents: int, rate: float, *, max_rate: float = 10_000.0) -> int:
    """Convert an amount with an exchange rate, rejecting non-positive or absurd rates."""
    if rate <= 0:
        raise ValueError("exchange rate must be positive")
    if rate > max_rate:
        raise ValueError(f"exchange rate {rate} exceeds sanity limit {max_rate}")
    converted = Decimal(cents) * Decimal(repr(rate))
    return int(converted.quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def allocate(cents: int, weights: list[int]) -> list[int]:
    """Split ``cents`` across ``weights`` so the parts sum exactly to the total."""
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative and not all zero")
    total_weight = sum(weights)
    shares = [cents * w // total_weight for w in weights]
    remainder = cents - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    for index in order[: abs(remainder)]:
        shares[index] += 1 if remainder > 0 else -1
    return shares
