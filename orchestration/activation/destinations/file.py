"""The file destination: one JSONL or CSV file per run under `$C360_HOME/outbox/<segment>/` with the plan.

Always on, so the pipeline works with no email tool at all. Files are written to a temporary name
and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from .base import Row


def write_outbox(path: Path, rows: Iterable[Row], fields: list[str], file_format: str) -> int:
    """Write the planned operations to `path` atomically; returns the number of lines written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        if file_format == "csv":
            writer = csv.writer(fh)
            writer.writerow(["op", "member_key", "customer_key", "email", *fields])
            for row in rows:
                values = ["" if row.fields.get(f) is None else row.fields.get(f) for f in fields]
                writer.writerow([row.op, row.member_key, row.customer_key or "", row.email or "", *values])
                n += 1
        else:
            for row in rows:
                record = {"op": row.op, "member_key": row.member_key, "customer_key": row.customer_key,
                          "email": row.email, "fields": row.fields if row.op != "remove" else None}
                fh.write(json.dumps(record, default=str) + "\n")
                n += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return n


def scrub_outbox(outbox_dir: Path, emails: set[str], keys: set[str]) -> int:
    """Erasure: rewrite every outbox file without the lines of the given emails or member keys."""
    removed = 0
    if not outbox_dir.exists():
        return 0
    for path in sorted(outbox_dir.rglob("*")):
        if path.suffix not in (".jsonl", ".csv") or not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as fh:
            text = fh.read()
        if path.suffix == ".jsonl":
            kept = []
            for line in text.splitlines():
                rec = json.loads(line)
                if (rec.get("email") or "").lower() in emails or rec.get("member_key") in keys:
                    removed += 1
                else:
                    kept.append(line)
            new_text = "".join(line + "\n" for line in kept)
        else:
            records = list(csv.reader(text.splitlines()))
            header, body = records[:1], records[1:]
            kept_rows = [r for r in body if not (r[3].lower() in emails or r[1] in keys)]
            removed += len(body) - len(kept_rows)
            buf = io.StringIO()
            csv.writer(buf).writerows(header + kept_rows)
            new_text = buf.getvalue()
        if new_text != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(new_text, encoding="utf-8")
            os.replace(tmp, path)
    return removed
