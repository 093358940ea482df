"""Landing files written by hand, the way an exporter would (shared by the ingestion and dbt tests)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


class Landing:
    """Writes landing files under a root, the way an exporter would."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, source: str, entity: str, name: str) -> Path:
        """Path of a landing file (folders created)."""
        folder = self.root / source / entity
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def jsonl(self, source: str, entity: str, name: str, records: list, *, compress: bool = False) -> Path:
        """Write records (dicts are serialised, strings written verbatim as a line)."""
        text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
        path = self.path(source, entity, name)
        if compress:
            path.write_bytes(gzip.compress(text.encode(), mtime=0))
        else:
            path.write_text(text)
        return path

    def text(self, source: str, entity: str, name: str, text: str) -> Path:
        """Write a file verbatim."""
        path = self.path(source, entity, name)
        path.write_text(text)
        return path


def customer(id_: int, updated: str = "2026-02-01T10:00:00Z", **extra) -> dict:
    """A valid shop customer record."""
    return {"id": id_, "email": f"c{id_}@example.com", "first_name": "C", "last_name": str(id_),
            "created_at": "2026-01-01T10:00:00Z", "updated_at": updated, "accepts_marketing": True, **extra}


def order(id_: int, created: str = "2026-02-01T10:00:00Z", **extra) -> dict:
    """A valid shop order record."""
    return {"id": id_, "order_number": id_, "customer_id": 1001, "email": "c1001@example.com",
            "created_at": created, "updated_at": created, "financial_status": "paid", "source_name": "web",
            "test": False, "currency": "USD", "subtotal_price": "10.00", "total_discounts": "0.00",
            "total_shipping": "0.00", "total_tax": "0.00", "total_price": "10.00",
            "line_items": [{"id": 1, "product_id": "P-100", "quantity": 1, "price": "10.00"}], **extra}
