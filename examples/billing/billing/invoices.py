"""Invoice line items, totals with tax and discounts, and paginated invoice listing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TAX_RATE = 0.2
MAX_DISCOUNT_PERCENT = 100.0


@dataclass(frozen=True)
class LineItem:
    """One billable line: a quantity of a product at a unit price in cents."""

    sku: str
    quantity: int
    unit_price: int

    @property
    def subtotal(self) -> int:
        """Quantity times unit price, in cents."""
        if self.quantity < 0 or self.unit_price < 0:
            raise ValueError(f"line {self.sku} has a negative quantity or price")
        return self.quantity * self.unit_price


@dataclass
class Invoice:
    """An invoice made of line items with an optional percentage discount."""

    number: str
    items: list[LineItem] = field(default_factory=list)
    discount_percent: float = 0.0
    tax_rate: float = DEFAULT_TAX_RATE
    auto_tier: bool = False

    @property
    def net(self) -> int:
        """Sum of line subtotals after the best applicable discount, in cents."""
        gross = sum(item.subtotal for item in self.items)
        percent = self.discount_percent
        if self.auto_tier:
            percent = max(percent, tiered_discount(gross))
        return apply_discount(gross, percent=percent)

    @property
    def total(self) -> int:
        """Net amount plus tax, in cents."""
        net = self.net
        tax = compute_tax(net, rate=self.tax_rate)
        return net + tax

    def add_item(self, sku: str, quantity: int, unit_price: int) -> LineItem:
        """Append a validated line item and return it."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        if unit_price < 0:
            raise ValueError("unit price cannot be negative")
        item = LineItem(sku=sku, quantity=quantity, unit_price=unit_price)
        self.items.append(item)
        return item

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Invoice:
        """Build an invoice from a plain mapping such as decoded JSON."""
        if "number" not in data:
            raise ValueError("invoice requires a number")
        items = [LineItem(str(i["sku"]), int(i["quantity"]), int(i["unit_price"]))
                 for i in data.get("items", [])]
        return cls(
            number=str(data["number"]),
            items=items,
            discount_percent=float(data.get("discount_percent", 0.0)),
            tax_rate=float(data.get("tax_rate", DEFAULT_TAX_RATE)),
        )

    @staticmethod
    def normalize_number(raw: str, *, prefix: str = "INV", width: int = 6) -> str:
        """Normalise an invoice number like " inv-42 " to "INV-000042"."""
        digits = "".join(ch for ch in raw if ch.isdigit())
        if not digits:
            raise ValueError(f"invoice number has no digits: {raw!r}")
        return f"{prefix}-{int(digits):0{width}d}"


def apply_discount(amount: int, *, percent: float = 0.0, cap: int | None = None) -> int:
    """Reduce ``amount`` (cents) by ``percent``, optionally capping the reduction."""
    if not 0.0 <= percent <= MAX_DISCOUNT_PERCENT:
        raise ValueError(f"discount must be between 0 and {MAX_DISCOUNT_PERCENT}")
    reduction = round(amount * percent / 100)
    if cap is not None:
        reduction = min(reduction, cap)
    return amount - reduction


def compute_tax(amount: int, *, rate: float = DEFAULT_TAX_RATE, exempt_below: int = 0) -> int:
    """Tax owed on ``amount`` cents; amounts under ``exempt_below`` are untaxed."""
    if rate < 0 or rate > 1:
        raise ValueError("tax rate must be a fraction between 0 and 1")
    if amount < exempt_below:
        return 0
    return round(amount * rate)


def invoice_total(lines: list[dict[str, Any]], *, tax_rate: float = DEFAULT_TAX_RATE,
                  discount_percent: float = 0.0, shipping: int = 0) -> dict[str, int]:
    """Compute the subtotal, discount, tax and grand total for plain line dicts."""
    subtotal = sum(int(line["quantity"]) * int(line["unit_price"]) for line in lines)
    discounted = apply_discount(subtotal, percent=discount_percent)
    tax = compute_tax(discounted, rate=tax_rate)
    return {
        "subtotal": subtotal,
        "discount": subtotal - discounted,
        "tax": tax,
        "shipping": shipping,
        "total": discounted + tax + shipping,
    }


def tiered_discount(subtotal: int, tiers: dict[int, float] | None = None) -> float:
    """Return the discount percentage earned by the highest threshold ``subtotal`` meets."""
    tiers = tiers if tiers is not None else {10_000: 5.0, 50_000: 10.0, 100_000: 15.0}
    earned = 0.0
    for threshold in sorted(tiers):
        if subtotal >= threshold:
            earned = tiers[threshold]
    return earned


def paginate_invoices(invoices: list[Any], *, page_size: int = 50) -> Iterator[list[Any]]:
    """Yield successive pages of at most ``page_size`` invoices."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    for start in range(0, len(invoices), page_size):
        yield invoices[start:start + page_size]


def page_window(total: int, page: int, *, page_size: int = 50) -> dict[str, int | bool]:
    """Describe the offset/limit window for a 1-based ``page`` over ``total`` records."""
    if page < 1:
        raise ValueError("page numbers start at 1")
    pages = max(1, -(-total // page_size))
    offset = (page - 1) * page_size
    return {
        "offset": offset,
        "limit": max(0, min(page_size, total - offset)),
        "pages": pages,
        "has_next": page < pages,
    }


async def collect_invoice_pages(
    fetch_page: Callable[[str | None], Awaitable[tuple[list[Any], str | None]]],
    *,
    max_pages: int = 100,
) -> list[Any]:
    """Follow cursor-based pages from an async ``fetch_page`` until the cursor runs out."""
    collected: list[Any] = []
    cursor: str | None = None
    for _ in range(max_pages):
        records, cursor = await fetch_page(cursor)
        collected.extend(records)
        if cursor is None:
            break
        await asyncio.sleep(0)
    return collected
