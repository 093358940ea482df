"""Erasure on every stored copy: the purge (raw lake, quarantine, warehouse, serving.duckdb, outbox, temporary
files) and suppression at the door, on a hand-made landing zone and warehouse; and, after the tiny run, the
erased persona in none of the stores (tests/erasure_scan.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from erasure_scan import ERIN, Person, scan_bytes, scan_stores
from landing_helpers import Landing, customer, order
from pipeline_helpers import ERASURE_KEY

from orchestration.ingestion.entities import get_entity
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.loader import connect, load_entity
from orchestration.ingestion.suppression import Suppressor, suppression_file
from orchestration.privacy.keys import ErasureKeyMismatch, erasure_hash, erasure_pads
from orchestration.privacy.purge import compaction_pending_since, purge_erased

SALT = "test-salt"
DAY = date(2026, 2, 1)
# One person with merged identities: a shop account, a guest checkout under another email, and an anonymous
# browser that identified as both (the identity graph joins the three).
ERASED = Person(texts=("ana@example.com", "ana.guest@example.com", "anon-ana"), cells=("Ana", "Erasable"),
                shop_ids=(2001,))
ERASED_NODES = ("shop:2001", "email:ana@example.com", "email:ana.guest@example.com", "anon:anon-ana")
KEPT_NODES = ("shop:2002", "email:bo@example.com", "anon:anon-bo")


def _event(message_id: str, anon: str, user: str | None = None, email: str | None = None) -> dict:
    return {"type": "track", "messageId": message_id, "anonymousId": anon, "userId": user, "event": "Viewed",
            "traits": {"email": email} if email else None, "timestamp": "2026-02-01T09:00:00Z"}


def _landing(landing: Landing) -> None:
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [
        customer(2001, email="ana@example.com", first_name="Ana", last_name="Erasable", phone="+15550100"),
        customer(2002, email="bo@example.com", first_name="Bo", last_name="Kept"),
    ])
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [
        order(501, customer_id=2001, email="ana@example.com"),
        order(502, customer_id=None, email="ana.guest@example.com"),  # the guest checkout
        order(503, customer_id=2002, email="bo@example.com"),
        '{"id": "not a number", "email": "ana.guest@example.com"}',  # a bad line of hers, quarantined
    ])
    landing.jsonl("web", "events", "2026-02-01.jsonl", [
        _event("m1", "anon-ana"), _event("m2", "anon-ana", user="2001"),
        _event("m3", "anon-ana", email="ana.guest@example.com"), _event("m4", "anon-bo", user="2002"),
    ])


def _load(landing_root: Path, raw_root: Path, names=("shop__customers", "shop__orders", "web__events"),
          suppress=None) -> dict:
    con = connect()
    try:
        out = {}
        for name in names:
            entity = get_entity(name)
            files, _ = scan_entity(landing_root, entity)
            out[name] = load_entity(con, entity, files, raw_root, sorted({f.file_date for f in files}),
                                    suppress=suppress)
        return out
    finally:
        con.close()


def _warehouse(path: Path, raw_root: Path) -> None:
    """What dbt would have built: the identity graph (edges with plain nodes, resolved with hashes) and tables
    holding the people's rows, staging copies of the raw records included."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA staging; CREATE SCHEMA marts; CREATE SCHEMA activation")
    con.execute("CREATE TABLE intermediate.int_identity_edges (node_a VARCHAR, node_b VARCHAR, evidence VARCHAR)")
    con.executemany("INSERT INTO intermediate.int_identity_edges VALUES (?, ?, ?)", [
        ("shop:2001", "email:ana@example.com", "shop_customer"),
        ("email:ana.guest@example.com", "email:ana.guest@example.com", "order"),
        ("anon:anon-ana", "shop:2001", "web_identify"),
        ("anon:anon-ana", "email:ana.guest@example.com", "web_identify"),
        ("shop:2002", "email:bo@example.com", "shop_customer"), ("anon:anon-bo", "shop:2002", "web_identify"),
    ])
    # The models' hashes, computed here in Python (HMAC-SHA256): the purge's SQL must find the same.
    nodes = [n for (n,) in con.execute("SELECT node_a FROM intermediate.int_identity_edges UNION "
                                       "SELECT node_b FROM intermediate.int_identity_edges").fetchall()]
    con.execute(
        "CREATE TABLE intermediate.int_identity_resolved AS SELECT unnest(?::VARCHAR[]) AS identifier_hash, "
        "unnest(?::BOOLEAN[]) AS is_erased",
        [[erasure_hash(SALT, n) for n in nodes], [n in ERASED_NODES for n in nodes]],
    )
    con.execute(f"CREATE TABLE staging.stg_shop__customers AS SELECT id AS customer_id, email, first_name, "
                f"last_name, phone, _record FROM read_parquet('{raw_root}/shop__customers/*/data_0.parquet')")
    con.execute(f"CREATE TABLE staging.stg_shop__orders AS SELECT id AS order_id, customer_id AS shop_customer_id, "
                f"email, _record FROM read_parquet('{raw_root}/shop__orders/*/data_0.parquet')")
    con.execute(f"CREATE TABLE staging.stg_web__events AS SELECT messageId AS message_id, anonymousId AS "
                f"anonymous_id, userId AS user_id, traits FROM read_parquet('{raw_root}/web__events/*/data_0.parquet')")
    con.execute("CREATE TABLE staging.stg_shop__order_lines AS SELECT order_id, 'P-100' AS product_id, "
                "_record::VARCHAR AS raw FROM staging.stg_shop__orders")
    # Sent to Klaviyo once; without an API key since, the deletion there is pending.
    con.execute("CREATE TABLE activation.sync_state AS SELECT 'seg_vip:klaviyo' AS sync_id, 'Ana@example.com' AS email")
    con.execute("CREATE TABLE staging.stg_privacy__deletion_requests AS SELECT 'del_1' AS deletion_request_id, "
                "'ana@example.com' AS email, 2001 AS customer_id")
    con.close()


@pytest.fixture
def purged(tmp_path):
    """A lake, warehouse, serving copy and outbox holding both people, then purged: (paths, purge result)."""
    landing = Landing(tmp_path / "landing")
    _landing(landing)
    lake, raw_root = tmp_path / "lake", tmp_path / "lake" / "raw"
    _load(landing.root, raw_root)
    warehouse_db, serving_db, outbox = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb", tmp_path / "outbox"
    _warehouse(warehouse_db, raw_root)
    con = duckdb.connect(str(serving_db))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.people AS SELECT * FROM (VALUES ('ana@example.com', 1), "
                "('bo@example.com', 2)) AS t(email, n)")
    con.close()
    (tmp_path / f".{serving_db.name}.abc123.tmp").write_text("ana@example.com")  # an interrupted publish
    outbox.mkdir()
    (outbox / "vip.jsonl").write_text("".join(json.dumps({"member_key": e, "email": e}) + "\n"
                                              for e in ("ana@example.com", "bo@example.com")))
    (outbox / "vip.jsonl.tmp").write_text("ana@example.com\n")
    con = duckdb.connect(str(warehouse_db))
    result = purge_erased(con, warehouse_db=warehouse_db, serving_db=serving_db, lake_root=lake, outbox_dir=outbox,
                          salt=SALT, close_warehouse=con.close)
    return {"tmp": tmp_path, "landing": landing, "lake": lake, "raw": raw_root, "warehouse": warehouse_db,
            "serving": serving_db, "outbox": outbox}, result


def test_a_day_that_held_only_erased_records_keeps_an_empty_partition(tmp_path):
    landing = Landing(tmp_path / "landing")
    _landing(landing)
    landing.jsonl("web", "events", "2026-02-02.jsonl", [_event("m5", "anon-ana"), _event("m6", "anon-ana")])
    lake, raw_root = tmp_path / "lake", tmp_path / "lake" / "raw"
    _load(landing.root, raw_root)
    warehouse_db = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse_db, raw_root)
    con = duckdb.connect(str(warehouse_db))
    result = purge_erased(con, warehouse_db=warehouse_db, serving_db=tmp_path / "serving.duckdb", lake_root=lake,
                          outbox_dir=tmp_path / "outbox", salt=SALT, close_warehouse=con.close)
    assert result.raw_rows["web__events"] == 5
    day = raw_root / "web__events" / "dt=2026-02-02"
    reader = duckdb.connect()
    assert reader.execute(f"SELECT count(*) FROM read_parquet('{day / 'data_0.parquet'}')").fetchone() == (0,)
    assert reader.execute(f"SELECT status, rows_loaded FROM read_parquet('{day / '_manifest.parquet'}')").fetchall() \
        == [("redacted", 0)]


def test_the_warehouse_file_is_rewritten_within_the_days_set(tmp_path):
    landing = Landing(tmp_path / "landing")
    _landing(landing)
    lake, raw_root = tmp_path / "lake", tmp_path / "lake" / "raw"
    _load(landing.root, raw_root)
    warehouse_db = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse_db, raw_root)
    now = datetime(2026, 11, 2, tzinfo=UTC)

    def purge(at: datetime):
        con = duckdb.connect(str(warehouse_db))
        return purge_erased(con, warehouse_db=warehouse_db, serving_db=tmp_path / "serving.duckdb", lake_root=lake,
                            outbox_dir=tmp_path / "outbox", salt=SALT, now=at, close_warehouse=con.close,
                            compact_within_days=7)

    first = purge(now)
    assert first.warehouse_rows and first.compacted == [] and first.compaction_pending_since == now
    assert compaction_pending_since(lake) == now
    con = duckdb.connect(str(warehouse_db), read_only=True)  # her rows are gone from every table at once ...
    assert con.execute("SELECT count(*) FROM staging.stg_shop__orders WHERE email = 'ana@example.com'").fetchone() \
        == (0,)
    con.close()
    kept = {f"bytes {warehouse_db}: Ana@example.com, ana@example.com"}  # the request and activation's state
    assert not set(scan_bytes(warehouse_db, ERASED)) <= kept  # ... but freed blocks still hold her values
    # A purge with nobody new, within the days, leaves the file as it is.
    assert purge(now + timedelta(days=6)).compacted == [] and compaction_pending_since(lake) == now
    # The first purge on or after the seventh day rewrites it, whether or not it finds anyone new.
    late = purge(now + timedelta(days=7))
    assert late.identifiers == 0 and late.compacted == ["warehouse.duckdb"]
    assert compaction_pending_since(lake) is None and late.compaction_pending_since is None
    assert set(scan_bytes(warehouse_db, ERASED)) <= kept


def test_purge_removes_every_identity_of_a_merged_person(purged):
    paths, result = purged
    # Activation's state of the account's email stays until every destination confirmed the deletion, and the
    # request (with the same email) stays: the file's bytes hold that email and nothing else of hers.
    kept = ("duckdb warehouse.duckdb activation.sync_state: 1 rows",
            f"bytes {paths['warehouse']}: Ana@example.com, ana@example.com")
    found = [f for f in scan_stores([paths["tmp"]], ERASED, exclude=("landing",))
             if f not in kept and "stg_privacy__deletion_requests" not in f]
    assert found == [], "\n".join(found)
    assert result.identifiers == 4
    assert result.raw_rows == {"shop__customers": 1, "shop__orders": 2, "web__events": 3}
    assert result.quarantine_lines == 1
    assert result.temp_files_removed == 2 and result.outbox_rows == 1
    # The other person is untouched everywhere.
    con = duckdb.connect(str(paths["warehouse"]), read_only=True)
    assert con.execute("SELECT list(customer_id) FROM staging.stg_shop__customers").fetchone()[0] == [2002]
    assert con.execute("SELECT list(message_id) FROM staging.stg_web__events").fetchone()[0] == ["m4"]
    assert con.execute("SELECT count(*) FROM intermediate.int_identity_edges").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM activation.sync_state").fetchone()[0] == 1
    con.close()
    assert "bo@example.com" in (paths["outbox"] / "vip.jsonl").read_text()


def test_purged_partitions_are_redacted_and_not_reloaded(purged):
    paths, _ = purged
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT entity, status, rows_loaded, detail FROM read_parquet('{paths['raw']}/*/dt=*/_manifest.parquet') "
        "ORDER BY entity").fetchall()
    assert [(e, s, n) for e, s, n, _ in rows] == [
        ("customers", "redacted", 1), ("events", "redacted", 1), ("orders", "redacted", 1)]
    assert all("records of erased people removed" in d for *_, d in rows)
    # The untouched landing files: neither a conflict nor loaded again.
    again = _load(paths["landing"].root, paths["raw"])
    assert {n: [p.status for p in r.partitions] for n, r in again.items()} == {
        n: ["unchanged"] for n in again}


def test_a_second_purge_has_nothing_to_do(purged):
    paths, _ = purged
    con = duckdb.connect(str(paths["warehouse"]))
    result = purge_erased(con, warehouse_db=paths["warehouse"], serving_db=paths["serving"], lake_root=paths["lake"],
                          outbox_dir=paths["outbox"], salt=SALT)
    con.close()
    assert result.identifiers == 0 and result.partitions_rewritten == 0


def test_redelivered_records_of_an_erased_person_are_suppressed_and_counted(purged):
    paths, _ = purged
    landing = paths["landing"]
    # Her old file delivered again on a new day, and a new order with her guest email.
    old = (landing.root / "shop" / "customers" / "2026-02-01.jsonl").read_text()
    landing.text("shop", "customers", "2026-02-02.jsonl", old.replace("2002", "2003"))
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [
        order(601, customer_id=None, email=" Ana.Guest@Example.com "), order(602, customer_id=2002,
                                                                              email="bo@example.com"),
        '{"id": "bad", "email": "ana@example.com"}',
    ])
    suppress = Suppressor(suppression_file(paths["lake"]), SALT)
    results = _load(landing.root, paths["raw"], ("shop__customers", "shop__orders"), suppress=suppress)
    day = {n: next(p for p in r.partitions if p.partition == date(2026, 2, 2)) for n, r in results.items()}
    customers = day["shop__customers"].files[0]
    assert (customers.rows_read, customers.rows_loaded, customers.rows_suppressed) == (2, 1, 1)
    assert "1 records of erased people suppressed" in customers.detail
    orders = day["shop__orders"].files[0]
    assert (orders.rows_read, orders.rows_loaded, orders.rows_quarantined, orders.rows_suppressed) == (3, 1, 0, 2)
    assert scan_stores([paths["lake"]], ERASED) == []


def test_tiny_run_leaves_no_trace_of_the_erased_persona(tiny_run):
    """After the tiny run, Erin's email, names, shop id and anonymous id are in no store the project keeps:
    the lake (data, quarantine, manifests), both DuckDB files (rows and bytes), the outbox, the report, logs,
    dbt's target folder (docs, manifest) and Dagster's instance. Her deletion request itself remains, and so
    does the brand's own landing zone."""
    home, _ = tiny_run
    target = Path(__file__).resolve().parents[1] / "dbt_project" / "target"
    found = scan_stores([home, target], ERIN, exclude=("landing",))
    # The request (raw partition and its staging table) is what keeps her erased: the warehouse file's bytes
    # hold its email and customer id, and nothing else of hers (names, anonymous id).
    request_bytes = f'bytes {home / "warehouse.duckdb"}: customer_id":1007, erin.erased@example.com'
    found = [f for f in found if "privacy__deletion_requests" not in f and f != request_bytes]
    assert found == [], "\n".join(found)
    assert scan_bytes(home / "warehouse.duckdb", Person(("a-p1007",), ERIN.cells, ())) == []


def test_tiny_run_writes_the_erasure_key_nowhere(tiny_run):
    """The tiny run's erasure key (pipeline_helpers.ERASURE_KEY) and its HMAC pads (as good as the key) are in
    no file it leaves: dbt's compiled SQL, manifest, run results, partial parse and logs (the project's target
    and logs folders), the home's logs, Dagster's event log and run storage, the lake, both DuckDB files; nor in
    the command's output. And the models did hash with it: the erased persona's hash is the key's HMAC."""
    home, ran = tiny_run
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    roots = [root for root in (home, project / "target", project / "logs") if root.exists()]
    files = [p for root in roots for p in root.rglob("*") if p.is_file() and "landing" not in p.parts]
    names = {p.name for p in files}
    assert {"manifest.json", "run_results.json", "dbt.log", "partial_parse.msgpack"} <= names
    assert any(p.suffix == ".sql" and "compiled" in p.parts for p in files)
    assert any(p.suffix == ".db" and "dagster" in p.parts for p in files)  # the instance's sqlite storage
    ipad, opad = erasure_pads(ERASURE_KEY)
    secrets = Person(texts=(ERASURE_KEY, ipad.hex(), opad.hex()), cells=(), shop_ids=())
    assert scan_stores(roots, secrets, exclude=("landing",)) == []
    assert [p for p in files if ipad in p.read_bytes() or opad in p.read_bytes()] == []
    assert ERASURE_KEY not in ran.stdout + ran.stderr
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        hashes = {h for (h,) in con.execute("SELECT identifier_hash FROM marts.erased_identifiers").fetchall()}
    assert erasure_hash(ERASURE_KEY, "email:erin.erased@example.com") in hashes


def test_plan_samples_show_no_personal_value():
    """The plan summary (Dagster metadata and `c360 sync --dry-run`) masks every text of a sample."""
    from orchestration.activation.plan import mask_fields

    masked = mask_fields({"first_name": "Erin", "city": "Seattle", "points": 39, "alt": "erin.erased@example.com",
                          "last_order_at": "2026-10-01T09:30:00Z", "vip": True})
    assert masked == {"first_name": "E***", "city": "S***", "points": 39, "alt": "e***@example.com",
                      "last_order_at": "2026-10-01T09:30:00Z", "vip": True}


def test_c360_erase_records_a_request_the_loader_reads_like_the_source(c360_env, capsys):
    """`c360 erase` writes a privacy/deletion_requests landing file that loads as an ordinary request."""
    from orchestration.cli import main

    assert main(["erase", "--email", "Phone.Caller@example.com"]) == 0
    assert main(["erase", "--customer-id", "2001"]) == 0
    assert "recorded erasure request erase_" in capsys.readouterr().out
    assert main(["erase", "--email", "not-an-email"]) == 2
    results = _load(c360_env.landing_root, c360_env.raw_root, ("privacy__deletion_requests",))
    (partition,) = results["privacy__deletion_requests"].partitions
    assert partition.status == "loaded" and partition.rows_loaded == 2 and partition.rows_quarantined == 0
    con = duckdb.connect()
    rows = con.execute(f"SELECT email, customer_id FROM read_parquet('{c360_env.raw_root}/*/*/data_0.parquet') "
                       "ORDER BY ALL").fetchall()
    assert rows == [("Phone.Caller@example.com", None), (None, 2001)]


def test_a_key_mismatch_between_stages_stops_them(purged):
    """dbt hashed with one key and the purge got another; both switched to a key other than the suppression
    list's; ingestion got another key than the list's: each stops with a clear message, matching nobody."""
    paths, _ = purged
    con = duckdb.connect(str(paths["warehouse"]))
    with pytest.raises(ErasureKeyMismatch, match="dbt built the models with another"):
        purge_erased(con, warehouse_db=paths["warehouse"], serving_db=paths["serving"], lake_root=paths["lake"],
                     outbox_dir=paths["outbox"], salt="another-key")
    # The models rebuilt with the new key too: the list's hashes were made with the old one.
    nodes = ["shop:2001", "email:ana@example.com", *(n for (n,) in con.execute(
        "SELECT node_a FROM intermediate.int_identity_edges").fetchall())]
    con.executemany("UPDATE intermediate.int_identity_resolved SET identifier_hash = ? WHERE identifier_hash = ?",
                    [(erasure_hash("another-key", n), erasure_hash(SALT, n)) for n in set(nodes)])
    with pytest.raises(ErasureKeyMismatch, match="fingerprint .* were made with the key of fingerprint"):
        purge_erased(con, warehouse_db=paths["warehouse"], serving_db=paths["serving"], lake_root=paths["lake"],
                     outbox_dir=paths["outbox"], salt="another-key")
    con.close()
    paths["landing"].jsonl("shop", "orders", "2026-02-03.jsonl", [order(701)])
    with pytest.raises(ErasureKeyMismatch, match="ingestion of shop__orders"):
        _load(paths["landing"].root, paths["raw"], ("shop__orders",),
              suppress=Suppressor(suppression_file(paths["lake"]), "another-key"))


def test_a_deletion_pending_past_the_deadline_is_overdue(purged):
    """A destination that still holds an erased person (no API key: skipped) is pending, then overdue after the
    deadline; the erasure_deadline check fails with the destination named."""
    from datetime import UTC, datetime, timedelta

    from dagster import build_asset_check_context
    from dagster_duckdb import DuckDBResource

    from orchestration.activation.assets import ERASURES
    from orchestration.privacy.deadline import build_deadline_check, pending_deletions, record_pending_deletions

    paths, _ = purged
    con = duckdb.connect(str(paths["warehouse"]))
    soon = pending_deletions(con, paths["lake"], SALT, datetime.now(UTC) + timedelta(days=1), 7)
    late = pending_deletions(con, paths["lake"], SALT, datetime.now(UTC) + timedelta(days=8), 7)
    # The run report's table, as the purge writes it.
    record_pending_deletions(con, paths["lake"], SALT, datetime.now(UTC) + timedelta(days=8), 7)
    assert con.execute("SELECT destination, people_pending, people_overdue, deadline_days "
                       "FROM audit.erasure_deletions").fetchall() == [("klaviyo", 1, 1, 7)]
    con.close()
    assert [(d, p, o) for d, p, o, _ in soon] == [("klaviyo", 1, 0)]
    assert [(d, p, o) for d, p, o, _ in late] == [("klaviyo", 1, 1)]
    check = build_deadline_check(ERASURES, paths["lake"], SALT, deadline_days=0)
    resource = DuckDBResource(database=str(paths["warehouse"]))
    result = check(build_asset_check_context(resources={"warehouse": resource}))
    assert not result.passed and "overdue: klaviyo 1 people" in result.description


def test_the_purge_reads_the_edges_as_a_view_and_skips_without_a_graph(tmp_path):
    """On DuckDB int_identity_edges is a view over staging: the purge finds the erased values through it; without
    an identity graph there is nobody to purge."""
    landing = Landing(tmp_path / "landing")
    _landing(landing)
    lake = tmp_path / "lake"
    _load(landing.root, lake / "raw")
    db = tmp_path / "warehouse.duckdb"
    _warehouse(db, lake / "raw")
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE intermediate.int_identity_edges RENAME TO edges_stored")
    con.execute("CREATE VIEW intermediate.int_identity_edges AS SELECT * FROM intermediate.edges_stored")
    result = purge_erased(con, warehouse_db=db, serving_db=tmp_path / "none.duckdb", lake_root=lake,
                          outbox_dir=tmp_path / "outbox", salt=SALT)
    assert result.identifiers == 4 and sum(result.raw_rows.values()) == 6
    con.execute("DROP VIEW intermediate.int_identity_edges")
    assert purge_erased(con, warehouse_db=db, serving_db=tmp_path / "none.duckdb", lake_root=lake,
                        outbox_dir=tmp_path / "outbox", salt=SALT).identifiers == 0
    con.close()


def test_free_text_matches_erased_values_whole_and_only_them():
    from orchestration.privacy.purge import _load_values, _text_predicate

    con = duckdb.connect()
    erased = [("h1", "email", "Erin.Erased@example.com"), ("h2", "anon", "a-p1007"), ("h3", "shop", "1007")]
    # Many people at once: one compiled pattern, not a test per value.
    erased += [(f"h{i}", "email", f"someone{i}@example.org") for i in range(4, 500)]
    _load_values(con, erased)
    cases = {
        "wrote to erin.erased@example.com.": True,
        '{"email":"ERIN.ERASED@EXAMPLE.COM"}': True,
        "someone77@example.org,12": True,
        "anon a-p1007 viewed": True,
        '{"customer_id": 1007, "x": 1}': True,
        '{"userId":"1007"}': True,
        "4,1007,3": True,
        "xerin.erased@example.com": False,  # another address that ends like hers
        "erin.erased@example.company": False,
        "a-p10071": False,
        '{"customer_id": 10070}': False,
        '{"order_id": 1007}': False,  # her shop id as another field's value is a coincidence
        "someone777@example.org": False,
    }
    got = {text: con.execute(f"SELECT {_text_predicate('$t')}", {"t": text}).fetchone()[0] for text in cases}
    assert got == cases
    _load_values(con, [])
    assert con.execute(f"SELECT {_text_predicate('$t')}", {"t": "erin.erased@example.com"}).fetchone()[0] is False
