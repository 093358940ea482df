"""What every destination client provides to the sync engine, and the row/outcome types they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# Consent states from the warehouse that mean "never send" (segment column or customer_360).
SUPPRESSING_CONSENT = ("unsubscribed", "bounced", "spam_complaint")
# A marketing opt-out does not stop service messages (points expiring, service recovery): for service
# segments only undeliverable addresses, complaints and manual suppressions exclude a member. Nobody's
# consent is ever changed either way: list membership is not consent.
SERVICE_SUPPRESSING = ("bounced", "spam_complaint", "suppressed")


def suppressing_reasons(purpose: str) -> tuple[str, ...]:
    """Suppression reasons that keep a member out of a segment's plan, by the segment's purpose."""
    return SERVICE_SUPPRESSING if purpose == "service" else (*SUPPRESSING_CONSENT, "suppressed")


@dataclass
class Row:
    """One member in the plan, with the state the destination last acknowledged for it."""

    member_key: str
    customer_key: str | None
    email: str | None
    fields: dict
    row_hash: str | None
    op: str  # insert | update | remove
    email_consent: str | None = None
    synced_hash: str | None = None
    in_list: bool = False
    added_by_sync: bool = False
    dest_id: str | None = None
    # When the warehouse recorded the person's opt-in (customer_360 says subscribed): the only evidence on
    # which a destination may create them as subscribed. None: no opt-in record.
    opted_in_at: datetime | None = None

    @property
    def needs_profile(self) -> bool:
        """Whether the destination has not yet acknowledged this version of the mapped fields."""
        return self.row_hash is not None and self.synced_hash != self.row_hash


@dataclass
class RowOutcome:
    """What the destination said about one row of a request."""

    ok: bool
    retryable: bool = False
    status_code: int | None = None
    error_code: str | None = None
    detail: str | None = None
    dest_id: str | None = None
    # The destination reports this member as unsubscribed/bounced/...: recorded as a suppression.
    suppressed_reason: str | None = None

    @classmethod
    def rejected(cls, status_code: int | None, error_code: str | None, detail: str | None) -> RowOutcome:
        """A final refusal of this row (4xx or compliance): not retried until the row changes."""
        return cls(ok=False, status_code=status_code, error_code=error_code, detail=(detail or "")[:500])


class BatchRejected(Exception):
    """The destination refused a whole request with a 4xx; the engine splits it to find the bad rows."""

    def __init__(self, status_code: int, error_code: str | None, detail: str):
        self.status_code = status_code
        self.error_code = error_code
        self.detail = detail[:500]
        super().__init__(f"HTTP {status_code} {error_code or ''}: {self.detail}")


Outcomes = dict[str, RowOutcome]  # member_key -> outcome
OnSubmitted = Callable[[str], None]


@dataclass
class Destination:
    """Base class: batch sizes and capabilities, plus the operations a destination implements."""

    name: str = "base"
    upsert_batch_size: int = 500
    list_batch_size: int = 500
    upsert_adds_to_list: bool = False  # one request both upserts and adds to the list (Klaviyo jobs)
    requires_email: bool = True
    fields: dict = field(default_factory=dict)

    def chunks(self, rows: Sequence[Row], size: int) -> Iterator[list[Row]]:
        """Split rows into request-sized batches (destinations may also cap by payload bytes)."""
        for start in range(0, len(rows), size):
            yield list(rows[start : start + size])

    def prepare(self) -> None:
        """Find or create the list/tag/fields the sync writes to (called only when there is work)."""

    def list_is_new(self) -> bool:
        """Whether `prepare` created the list/tag in this run (then nobody can be on it yet)."""
        return False

    def already_on_list(self, rows: list[Row]) -> dict[str, str | None]:
        """member_key -> destination id of the rows already on the list/tag (put there by someone else)."""
        return {}

    def upsert(self, rows: list[Row], *, add_to_list: bool, on_submitted: OnSubmitted) -> Outcomes:
        """Create or update the profiles of `rows` (never touching consent)."""
        raise NotImplementedError

    def resume(self, job_id: str, rows: list[Row]) -> Outcomes:
        """Read back an asynchronous job submitted by an interrupted run."""
        raise NotImplementedError

    def list_add(self, rows: list[Row]) -> Outcomes:
        """Put existing profiles on the sync's list or tag."""
        raise NotImplementedError

    def list_remove(self, rows: list[Row]) -> Outcomes:
        """Take profiles off the sync's list or tag (never an unsubscribe, never a deletion)."""
        raise NotImplementedError

    def delete_profile(self, email: str, dest_id: str | None) -> RowOutcome:
        """Erasure: delete the person's profile in the destination."""
        raise NotImplementedError

    def fetch_suppressions(self, since: str | None) -> list[tuple[str, str]]:
        """Read back (email, reason) of members the destination reports as suppressed."""
        return []


def payload_fields(fields: dict, overwrite_nulls: frozenset[str]) -> dict:
    """Null guard: drop null values unless the mapping says a null must overwrite the destination."""
    return {k: v for k, v in fields.items() if v is not None or k in overwrite_nulls}
