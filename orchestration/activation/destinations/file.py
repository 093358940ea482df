"""The file destination: one JSONL or CSV file per run under `$C360_HOME/outbox/<segment>/` with the plan.

Always on, so the pipeline works with no email tool at all. Files are written to a temporary name
and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from .base import Row

log = logging.getLogger(__name__)

CSV_HEADER = ("op", "member_key", "customer_key", "email")
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"): such a text cell
# is written with a leading apostrophe, which spreadsheets show as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula; numbers are left as they are (never a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_outbox(path: Path, rows: Iterable[Row], fields: list[str], file_format: str) -> int:
    """Write the planned operations to `path` atomically; returns the number of lines written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        if file_format == "csv":
            writer = csv.writer(fh)
            writer.writerow([*CSV_HEADER, *fields])
            for row in rows:
                values = ["" if row.fields.get(f) is None else row.fields.get(f) for f in fields]
                writer.writerow([escape_cell(v) for v in
                                 (row.op, row.member_key, row.customer_key or "", row.email or "", *values)])
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


class _Foreign(ValueError):
    """A file in the outbox that this sync did not write (or that was edited into another shape)."""


def _scrub_jsonl(text: str, emails: set[str], keys: set[str]) -> tuple[str, int]:
    kept, removed = [], 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise _Foreign(f"line {number} is not JSON") from exc
        if not isinstance(rec, dict) or not {"member_key", "email"} <= rec.keys():
            raise _Foreign(f"line {number} is not an outbox record")
        if str(rec.get("email") or "").lower() in emails or rec.get("member_key") in keys:
            removed += 1
        else:
            kept.append(line + "\n")
    return "".join(kept), removed


def _scrub_csv(text: str, emails: set[str], keys: set[str]) -> tuple[str, int]:
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records or tuple(records[0][: len(CSV_HEADER)]) != CSV_HEADER:
        raise _Foreign("its header is not the outbox's")
    header, body = records[0], records[1:]
    email_at, key_at = header.index("email"), header.index("member_key")
    # cells were written escaped: compare with the escaped form of what is looked for
    emails = {escape_cell(e) for e in emails}
    keys = {escape_cell(k) for k in keys}
    kept = [r for r in body if not (len(r) > max(email_at, key_at)
                                    and (r[email_at].lower() in emails or r[key_at] in keys))]
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([header, *kept])
    return buf.getvalue(), len(body) - len(kept)


def scrub_outbox(outbox_dir: Path, emails: set[str], keys: set[str]) -> int:
    """Erasure: rewrite every outbox file without the records of the given emails or member keys.

    Files are read with a JSON / CSV parser. A file the sync did not write (another shape, not UTF-8)
    is left alone with a warning: it cannot hold a record of ours, and it must not stop every sync.
    """
    removed = 0
    if not outbox_dir.exists():
        return 0
    emails = {e.lower() for e in emails}
    for path in sorted(outbox_dir.rglob("*")):
        if path.suffix not in (".jsonl", ".csv") or not path.is_file():
            continue
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                text = fh.read()
            scrub = _scrub_jsonl if path.suffix == ".jsonl" else _scrub_csv
            new_text, n = scrub(text, emails, keys)
        except (_Foreign, UnicodeDecodeError, csv.Error) as exc:
            log.warning("outbox: %s skipped by the erasure scrub: not a file the sync wrote (%s)", path,
                        str(exc).splitlines()[0][:200])
            continue
        removed += n
        if n:
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                fh.write(new_text)
            os.replace(tmp, path)
    return removed
