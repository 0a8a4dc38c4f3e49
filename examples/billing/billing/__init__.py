"""Billing toolkit: invoices, payments, currency handling and customer validation."""

from billing.currency import format_amount, parse_amount, round_half_even_cents
from billing.invoices import Invoice, LineItem, invoice_total, paginate_invoices
from billing.payments import IdempotencyCache, RateLimiter, charge_with_retry

__all__ = [
    "Invoice",
    "LineItem",
    "IdempotencyCache",
    "RateLimiter",
    "charge_with_retry",
    "format_amount",
    "invoice_total",
    "paginate_invoices",
    "parse_amount",
    "round_half_even_cents",
]
