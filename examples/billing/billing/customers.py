"""Validation and normalisation of customer records before they are billed."""

from __future__ import annotations

import re
from typing import Any

EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
COUNTRY_CODES = frozenset({"US", "GB", "DE", "FR", "JP", "CH", "CA", "AU"})
REQUIRED_FIELDS = ("id", "name", "email", "country")


def normalize_email(raw: str) -> str:
    """Lower-case and trim an email address, raising ValueError if it looks invalid."""
    email = raw.strip().lower()
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise ValueError(f"invalid email address: {raw!r}")
    return email


def luhn_valid(card_number: str) -> bool:
    """Check a card number with the Luhn checksum, ignoring spaces and dashes."""
    digits = [int(ch) for ch in card_number if ch.isdigit()]
    if len(digits) < 12 or len(digits) > 19:
        return False
    checksum = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


def mask_card(card_number: str, *, visible: int = 4, mask_char: str = "*") -> str:
    """Hide all but the last ``visible`` digits of a card number."""
    digits = "".join(ch for ch in card_number if ch.isdigit())
    if visible < 0 or visible > len(digits):
        raise ValueError("visible must be between 0 and the number of digits")
    hidden = len(digits) - visible
    return mask_char * hidden + digits[hidden:]


def validate_customer(record: dict[str, Any], *, credit_limit: int = 500_000) -> dict[str, Any]:
    """Return a cleaned copy of a customer record or raise ValueError on the first problem."""
    missing = [name for name in REQUIRED_FIELDS if not str(record.get(name, "")).strip()]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    country = str(record["country"]).strip().upper()
    if country not in COUNTRY_CODES:
        raise ValueError(f"unsupported country: {country}")
    balance = int(record.get("balance", 0))
    if balance > credit_limit:
        raise ValueError(f"balance {balance} exceeds credit limit {credit_limit}")
    return {
        "id": str(record["id"]).strip(),
        "name": " ".join(str(record["name"]).split()),
        "email": normalize_email(str(record["email"])),
        "country": country,
        "balance": balance,
    }


def partition_customers(
    records: list[dict[str, Any]], **limits: int
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Validate every record independently; return the good ones and errors by index."""
    valid: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    for index, record in enumerate(records):
        try:
            valid.append(validate_customer(record, **limits))
        except ValueError as exc:
            errors[index] = str(exc)
    return valid, errors


def overdue_customers(balances: dict[str, int], days_late: dict[str, int], *,
                      min_balance: int = 1_000, grace_days: int = 30) -> list[str]:
    """List customer ids whose balance and lateness both exceed the dunning thresholds."""
    return sorted(
        customer
        for customer, balance in balances.items()
        if balance >= min_balance and days_late.get(customer, 0) > grace_days
    )
