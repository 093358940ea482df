"""Ad-hoc erasure requests (`c360 erase`): recorded exactly as the brand's privacy export delivers them.

A support agent who gets a request by phone records it here; it becomes one landing file of
`privacy/deletion_requests` (`<date>-c360-erase-<id>.jsonl`, one record with `id`, `email`, `customer_id`,
`requested_at`), so the next `c360 run` loads, audits and honours it like any other request: the models drop
the person, the purge deletes every stored copy, activation deletes them in every destination.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path


@dataclass(frozen=True)
class RecordedRequest:
    """The request id and the landing file it was written to."""

    request_id: str
    path: Path


def record_erasure_request(landing_root: Path, *, email: str | None = None, customer_id: int | None = None,
                           now: datetime | None = None, export_date: date | None = None) -> RecordedRequest:
    """Write one erasure request as a landing file of privacy/deletion_requests (dated `export_date`, default the
    request's UTC day). The file is written under a hidden name and renamed, so no run reads half of it."""
    if not email and customer_id is None:
        raise ValueError("an erasure request needs an email or a customer id")
    if email is not None and "@" not in email:
        raise ValueError(f"not an email address: {email!r}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    request_id = f"erase_{uuid.uuid4().hex[:12]}"
    record = {"id": request_id, "email": email.strip() if email else None, "customer_id": customer_id,
              "requested_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    folder = landing_root / "privacy" / "deletion_requests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{(export_date or now.date()).isoformat()}-c360-erase-{request_id[6:]}.jsonl"
    tmp = folder / f".{path.name}.tmp"
    tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return RecordedRequest(request_id, path)
