"""Tiers (how much data) and dirt rates (how messy): the generator's two knobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Tier:
    """One scale tier. Event volumes are per customer, so everything scales with `customers`."""

    name: str
    customers: int  # personas included
    # Browsing intensity: tuned so web events land near ARCHITECTURE.md's "about" figures over 365 days.
    browse_sessions_per_year: float
    anonymous_visitors_per_customer: float
    chunk_days: int  # export days rendered per DuckDB pass (bounds memory at `large`)


TIERS: dict[str, Tier] = {
    "tiny": Tier("tiny", 300, 25.0, 3.0, 400),
    "demo": Tier("demo", 20_000, 28.0, 3.0, 120),
    "large": Tier("large", 1_000_000, 13.5, 3.0, 15),
}


@dataclass(frozen=True)
class DirtRates:
    """How often each kind of dirt from LANDING_ZONE.md is injected.

    Record-level rates are the probability that one clean record gets that (single) kind of dirt; they
    are mutually exclusive per record, so their sum must stay <= 1. Persona records are never dirtied.
    Order-level rates shape the business data (test, cancelled, voided, refunded orders).
    File-level dirt is a count of files per run.
    """

    # record level, every entity (where the kind applies)
    duplicates: float = 0.004  # same line again, half in the same file, half in the next day's file
    late_arrivals: float = 0.004  # record delivered 2-6 days after its date
    email_case: float = 0.01  # email with mixed case and surrounding spaces
    not_json: float = 0.0005  # an extra garbage line (JSON entities only)
    truncated: float = 0.0005  # line cut in the middle
    missing_required: float = 0.0005  # a required field of entities.py removed (CSV: empty cell)
    wrong_type: float = 0.0005  # a typed field holding a non-castable string ("abc", "x1", ...)
    too_many_columns: float = 0.001  # CSV only: an extra trailing cell
    extra_fields: float = 0.003  # schema drift: an unknown key (JSON entities only)
    offset_timestamps: float = 0.01  # timestamps written with a non-UTC offset (same instant)
    far_future: float = 0.0005  # event-time field more than a day after the file date (clock skew)
    # orders
    test_orders: float = 0.003
    cancelled_orders: float = 0.01
    voided_orders: float = 0.005
    full_refunds: float = 0.01
    partial_refunds: float = 0.015
    # files
    empty_files: int = 3
    redelivered_files: int = 2

    def __post_init__(self) -> None:
        total = sum(getattr(self, k) for k in RECORD_KINDS)
        if total > 1:
            raise ValueError(f"record-level dirt rates sum to {total:.3f} > 1")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0")

    @classmethod
    def none(cls) -> DirtRates:
        """No dirt at all: every record clean, no test/cancelled/refunded orders, no odd files."""
        return cls(**{f.name: 0 for f in fields(cls)})

    @classmethod
    def heavy(cls) -> DirtRates:
        """5% of every kind: enough dirt in a tiny landing zone for tests to measure rates."""
        return cls(**{k: 0.05 for k in RECORD_KINDS + ORDER_KINDS}, empty_files=5, redelivered_files=3)

    def as_dict(self) -> dict[str, float]:
        """Plain dict, for the summary."""
        return asdict(self)


# Record-level kinds, in the order their probability ranges are laid out on [0, 1).
RECORD_KINDS: tuple[str, ...] = (
    "duplicates", "late_arrivals", "email_case", "not_json", "truncated", "missing_required",
    "wrong_type", "too_many_columns", "extra_fields", "offset_timestamps", "far_future",
)
ORDER_KINDS: tuple[str, ...] = (
    "test_orders", "cancelled_orders", "voided_orders", "full_refunds", "partial_refunds",
)
# Dirt that ingestion must send to quarantine (tests assert quarantined == injected).
QUARANTINE_KINDS: tuple[str, ...] = (
    "not_json", "truncated", "missing_required", "wrong_type", "too_many_columns", "far_future",
)
