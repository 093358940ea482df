"""Hostile landing files: one bad file or line never stops a day, and nothing outside the landing zone is read.

Every case sits next to good files of the same day and entity: the good lines load exactly once, each
hostile file or line is named with its reason, and loaded + quarantined = lines read per file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest
from landing_helpers import Landing, order
from pipeline_helpers import c360

from orchestration.ingestion.entities import get_entity
from orchestration.ingestion.landing import scan_entity, scan_landing
from orchestration.ingestion.loader import _split_lines, connect, load_entity
from orchestration.ingestion.raw_views import create_raw_views
from orchestration.settings import Settings

ORDERS = get_entity("shop__orders")
POS = get_entity("pos__transactions")
D1, D2 = date(2026, 2, 1), date(2026, 2, 2)
SECRET = "root:x:0:0:SECRET-TARGET-OUTSIDE-THE-LANDING-ZONE"
LIMIT = 100_000  # max_line_bytes of these loads: a 150 KB line is over it
POS_HEADER = ("transaction_id,line_number,store_id,occurred_at,customer_email,shop_customer_id,product_id,"
              "sku,category,quantity,unit_price,currency\n")


def line(record: dict) -> bytes:
    return json.dumps(record).encode() + b"\n"


def hostile_landing(landing: Landing, outside: Path) -> dict[str, str]:
    """Day D1 of shop/orders with every hostile case beside good files, day D2 clean (a UTF-8 BOM file).
    Returns the files expected to be refused by the scan, with a fragment of their reason."""
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(2)])
    # A latin-1 byte on line 2 of an otherwise UTF-8 file.
    landing.path("shop", "orders", "2026-02-01-latin1.jsonl").write_bytes(
        line(order(10)) + json.dumps(order(11, email="café@example.com"), ensure_ascii=False).encode("latin-1") + b"\n"
        + line(order(12)))
    landing.path("shop", "orders", "2026-02-01-utf16.jsonl").write_bytes(
        json.dumps(order(20)).encode("utf-16") + "\n".encode("utf-16-le"))
    landing.path("shop", "orders", "2026-02-01-long.jsonl").write_bytes(
        line(order(30)) + line(order(31, note="x" * 150_000)) + line(order(32)))
    whole = gzip.compress(b"".join(line(order(i)) for i in range(40, 50)), mtime=0)
    landing.path("shop", "orders", "2026-02-01-truncated.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    # As a pattern, `a[1]*` matches `a1b`: each must be read once, as itself.
    landing.jsonl("shop", "orders", "2026-02-01-a[1]*.jsonl", [order(50)])
    landing.jsonl("shop", "orders", "2026-02-01-a1b.jsonl", [order(51)])
    landing.jsonl("shop", "orders", "2026-02-01-types.jsonl", [
        order(60, customer_id=99999999999999999999),  # BIGINT overflow: never a silent NULL
        order(61, created_at="2026-02-30T10:00:00Z", updated_at="2026-02-01T10:00:00Z"),  # no such date
        order(62, total_price="99999999999999999999.00"),  # DECIMAL(18,2) overflow
        order(63),
    ])
    secret = outside / "passwd"
    secret.write_text(json.dumps(order(70, email=SECRET)) + "\n" + SECRET + "\n")
    os.symlink(secret, landing.path("shop", "orders", "2026-02-01-link.jsonl"))
    os.mkfifo(landing.path("shop", "orders", "2026-02-01-fifo.jsonl"))
    landing.path("shop", "orders", "2026-02-02-bom.jsonl").write_bytes(
        b"\xef\xbb\xbf" + line(order(100, created="2026-02-02T10:00:00Z")))
    return {"shop/orders/2026-02-01-link.jsonl": "symbolic link", "shop/orders/2026-02-01-fifo.jsonl": "FIFO"}


def load(landing: Landing, raw_root: Path, entity=ORDERS, **kwargs):
    files, problems = scan_entity(landing.root, entity)
    con = connect()
    try:
        return load_entity(con, entity, files, raw_root, sorted({f.file_date for f in files}), **kwargs), problems
    finally:
        con.close()


def lake_text(raw_root: Path) -> str:
    """Every value of every Parquet file of the lake, as text (the files are compressed: read them)."""
    con = duckdb.connect()
    return "\n".join(str(con.execute("SELECT * FROM read_parquet(?)", [str(p)]).fetchall())
                     for p in sorted(raw_root.rglob("*.parquet")))


@pytest.fixture
def raw_root(tmp_path):
    return tmp_path / "lake" / "raw"


def test_hostile_files_and_lines_are_quarantined_and_every_good_line_loads_once(landing, raw_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    refused = hostile_landing(landing, outside)

    result, problems = load(landing, raw_root, max_line_bytes=LIMIT)
    reasons = {p.rel_path: p.reason for p in problems}
    for path, fragment in refused.items():
        assert fragment in reasons[path] and "only regular files are read" in reasons[path]
    assert [p.status for p in result.partitions] == ["loaded", "loaded"]

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    create_raw_views(con, raw_root)
    loaded = con.execute("SELECT id, count(*) FROM raw.shop__orders GROUP BY id ORDER BY id").fetchall()
    assert loaded == [(i, 1) for i in (1, 2, 10, 12, 30, 32, 50, 51, 63, 100)]
    assert con.execute("SELECT _file FROM raw.shop__orders WHERE id = 50").fetchone()[0] == \
        "shop/orders/2026-02-01-a[1]*.jsonl"

    quarantine = {(f.rsplit("/", 1)[1], n): (reason, text) for f, n, reason, text in con.execute(
        "SELECT file, line, reason, raw_text FROM raw.quarantine").fetchall()}
    assert set(quarantine) == {("2026-02-01-latin1.jsonl", 2), ("2026-02-01-long.jsonl", 2),
                               ("2026-02-01-utf16.jsonl", None), ("2026-02-01-truncated.jsonl.gz", None),
                               ("2026-02-01-types.jsonl", 1), ("2026-02-01-types.jsonl", 2),
                               ("2026-02-01-types.jsonl", 3)}
    reason, text = quarantine[("2026-02-01-latin1.jsonl", 2)]
    assert reason.startswith("not valid UTF-8: byte 0xe9") and "caf\\xe9@example.com" in text
    reason, text = quarantine[("2026-02-01-long.jsonl", 2)]
    assert reason.startswith("line of 150,") and f"longer than the limit of {LIMIT:,} bytes" in reason
    assert len(text) < 1100 and text.endswith("bytes]")
    reason, text = quarantine[("2026-02-01-utf16.jsonl", None)]
    assert reason.startswith("file quarantined whole: UTF-16 LE") and text is None
    reason, text = quarantine[("2026-02-01-truncated.jsonl.gz", None)]
    assert reason == "file quarantined whole: truncated gzip: the compressed data ends before its end-of-stream " \
                     "marker" and text is None
    assert quarantine[("2026-02-01-types.jsonl", 1)][0] == \
        "wrong type for customer_id: expected int, got 99999999999999999999 (out of range)"
    assert quarantine[("2026-02-01-types.jsonl", 2)][0].startswith("wrong type for created_at: expected timestamp")
    assert quarantine[("2026-02-01-types.jsonl", 3)][0].startswith("wrong type for total_price: expected money")

    manifest = {f.rsplit("/", 1)[1]: rest for f, *rest in con.execute(
        "SELECT file, status, rows_read, rows_loaded, rows_quarantined, detail FROM raw.load_manifest").fetchall()}
    assert manifest["2026-02-01-utf16.jsonl"][:4] == ["quarantined", 0, 0, 0]
    assert manifest["2026-02-01-truncated.jsonl.gz"][0] == "quarantined"
    assert "truncated gzip" in manifest["2026-02-01-truncated.jsonl.gz"][4]
    assert manifest["2026-02-01-latin1.jsonl"][:4] == ["loaded", 3, 2, 1]
    assert manifest["2026-02-01-long.jsonl"][:4] == ["loaded", 3, 2, 1]
    assert manifest["2026-02-01-types.jsonl"][:4] == ["loaded", 4, 1, 3]
    assert manifest["2026-02-02-bom.jsonl"][:4] == ["loaded", 1, 1, 0]
    assert all(read == ok + bad for _, read, ok, bad, _ in manifest.values())
    assert not any("link" in f or "fifo" in f for f in manifest)
    assert sorted(result.quarantined_files) == [
        "shop/orders/2026-02-01-truncated.jsonl.gz: truncated gzip: the compressed data ends before its "
        "end-of-stream marker",
        "shop/orders/2026-02-01-utf16.jsonl: UTF-16 LE text (byte-order mark): the landing zone is UTF-8, "
        "re-export the file as UTF-8",
    ]
    assert SECRET not in lake_text(raw_root)


def test_a_quarantined_file_replaced_or_removed_reloads_its_day(landing, raw_root):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)])
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(3, created="2026-02-02T00:00:00Z")])
    for day in ("01", "02"):
        landing.path("shop", "orders", f"2026-02-{day}-b.jsonl.gz").write_bytes(f"not gzip at all {day}\n".encode())
    result, _ = load(landing, raw_root)
    assert [[f.status for f in p.files] for p in result.partitions] == [["quarantined", "loaded"]] * 2
    assert "not a gzip file" in result.partitions[0].files[0].detail
    assert [p.status for p in load(landing, raw_root)[0].partitions] == ["unchanged", "unchanged"]

    landing.jsonl("shop", "orders", "2026-02-01-b.jsonl.gz", [order(2)], compress=True)  # fixed
    landing.path("shop", "orders", "2026-02-02-b.jsonl.gz").unlink()  # given up
    first, second = load(landing, raw_root)[0].partitions
    assert (first.status, [f.status for f in first.files], first.rows_loaded) == ("loaded", ["loaded"] * 2, 2)
    assert (second.status, [f.rel_path for f in second.files]) == ("loaded", ["shop/orders/2026-02-02.jsonl"])


def test_pos_csv_with_an_undecodable_line_or_header(landing, raw_root):
    row = "T-{n},1,popup,2026-02-01T15:20:00-06:00,a@example.com,,P-100,{sku},coffee,1,44.50,USD\n"
    landing.path("pos", "transactions", "2026-02-01.csv").write_bytes(
        (POS_HEADER + row.format(n=1, sku="A")).encode() + row.format(n=2, sku="CAFÉ").encode("latin-1")
        + row.format(n=3, sku="B").encode())
    landing.path("pos", "transactions", "2026-02-01-b.csv").write_bytes(
        POS_HEADER.replace("sku", "skü").encode("latin-1") + row.format(n=4, sku="C").encode())
    result, _ = load(landing, raw_root, entity=POS)
    header, good = result.partitions[0].files  # `-b` sorts first
    assert (good.status, good.rows_read, good.rows_loaded, good.rows_quarantined) == ("loaded", 3, 2, 1)
    assert header.status == "quarantined" and header.detail.startswith("CSV header line: not valid UTF-8")
    con = duckdb.connect()
    create_raw_views(con, raw_root)
    assert con.execute("SELECT transaction_id FROM raw.pos__transactions ORDER BY 1").fetchall() == [("T-1",), ("T-3",)]
    assert con.execute("SELECT line, raw_text FROM raw.quarantine WHERE line IS NOT NULL").fetchall() == [
        (3, row.format(n=2, sku="CAF\\xc9").rstrip("\n"))]


@pytest.mark.parametrize("data, lines", [
    (b"a\r\nb\rc\n\nd", [b"a", b"b", b"c", b"", b"d"]),
    (b"ab\r" + b"\ncd\n", [b"ab", b"cd"]),
    (b"x" * 25 + b"\r\nyy\n" + b"z" * 30, [(b"x" * 16, 25), b"yy", (b"z" * 16, 30)]),
])
def test_lines_split_as_duckdb_splits_them_with_long_ones_cut(monkeypatch, data, lines):
    monkeypatch.setattr("orchestration.ingestion.loader._PREFIX_BYTES", 16)

    class Blocks(io.BytesIO):
        def read(self, size=-1):  # three bytes at a time: every split falls across blocks somewhere
            return super().read(3)

    expected = [(x, len(x)) if isinstance(x, bytes) else x for x in lines]
    assert list(_split_lines(Blocks(data), 20)) == expected


def test_a_linked_source_folder_is_refused_and_reported_once(landing, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "orders"
    elsewhere.mkdir(parents=True)
    (elsewhere / "2026-02-01.jsonl").write_text(json.dumps(order(1)) + "\n")
    landing.root.mkdir()
    os.symlink(elsewhere.parent, landing.root / "shop")
    scan = scan_landing(landing.root)
    assert scan.files["shop__orders"] == []
    assert [(p.rel_path, p.reason.split(":")[0]) for p in scan.problems] == [("shop", "symbolic link")]


def test_the_line_limit_is_a_positive_number_of_bytes(tmp_path):
    assert Settings.from_env({"C360_HOME": str(tmp_path)}).max_line_bytes is None  # the loader's default
    assert Settings.from_env({"C360_HOME": str(tmp_path), "C360_MAX_LINE_BYTES": "2048"}).max_line_bytes == 2048
    for bad in ("0", "-5", "1MB"):
        with pytest.raises(ValueError, match="C360_MAX_LINE_BYTES"):
            Settings.from_env({"C360_HOME": str(tmp_path), "C360_MAX_LINE_BYTES": bad})


@pytest.mark.e2e
def test_c360_run_over_a_hostile_landing_zone_finishes_and_names_every_problem(tmp_path):
    """One `c360 run` over two days of generated shop data plus the hostile cases (about two minutes)."""
    from orchestration.sample_data import generate

    home = tmp_path / "home"
    generate(home / "landing", tier="tiny", days=2, end_date=date(2026, 2, 2), sources={"shop"})
    outside = tmp_path / "outside"
    outside.mkdir()
    hostile_landing(Landing(home / "landing"), outside)
    ran = c360(["run"], home, C360_MAX_LINE_BYTES=str(LIMIT))
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output[-4000:]
    for fragment in ("2026-02-01-link.jsonl: symbolic link", "2026-02-01-fifo.jsonl: named pipe (FIFO)",
                     "2026-02-01-utf16.jsonl: UTF-16 LE", "2026-02-01-truncated.jsonl.gz: truncated gzip"):
        assert fragment in ran.stdout, ran.stdout[-4000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    reasons = dict(con.execute(
        "SELECT file || ':' || coalesce(line::VARCHAR, '-'), reason FROM raw.quarantine "
        "WHERE file LIKE 'shop/orders/2026-02-01-%'").fetchall())
    assert reasons["shop/orders/2026-02-01-long.jsonl:2"].endswith(f"longer than the limit of {LIMIT:,} bytes")
    assert reasons["shop/orders/2026-02-01-latin1.jsonl:2"].startswith("not valid UTF-8")
    assert con.execute("SELECT count(*) FROM raw.shop__orders WHERE _file LIKE '%a[1]*%' OR _file LIKE '%a1b%'"
                       ).fetchone()[0] == 2
    con.close()
    assert SECRET not in lake_text(home / "lake" / "raw")
