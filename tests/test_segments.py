"""Segments (CUSTOMER_360.md, "Segments"): the personas in the built segments, the shared rules and the
generic tests that enforce them, the meta validation, and the membership history across as-of dates."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date

import duckdb
import pytest
from warehouse_helpers import DBT_PROJECT_DIR, run_dbt

from orchestration.segments.catalog import SegmentDefinition, load_manifest, segment_definitions
from orchestration.segments.history import HistoryOutOfOrder, record_segment_history

SEGMENTS = [
    "seg_category_cross_sell", "seg_nurture_engaged_prospects", "seg_points_expiring", "seg_referral_invite",
    "seg_second_purchase_nudge", "seg_service_recovery", "seg_tier_changed", "seg_winback_at_risk",
]
MARKETING = {"seg_category_cross_sell", "seg_nurture_engaged_prospects", "seg_referral_invite",
             "seg_second_purchase_nudge", "seg_winback_at_risk"}
EMAILS = {
    "naomi": "naomi.park@example.com", "chrissy": "chrissy.lee@example.com", "marshall": "marshall.chen@example.com",
    "uma": "uma.unsub@example.com", "bob": "bob.bounce@example.com", "sam": "sam.spam@example.com",
}


def memberships(con, email: str) -> dict[str, dict]:
    """Every segment the person is in, with their row."""
    found = {}
    for segment in SEGMENTS:
        cursor = con.execute(f"SELECT * FROM segments.{segment} WHERE email = ?", [email])
        row = cursor.fetchone()
        if row is not None:
            found[segment] = dict(zip([d[0] for d in cursor.description], row, strict=True))
    return found


# ---- personas ------------------------------------------------------------------------------------------

def test_every_segment_is_built(warehouse):
    tables = {r[0] for r in warehouse.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'segments'").fetchall()}
    assert set(SEGMENTS) <= tables
    assert {"segment_memberships", "segment_sizes_daily", "segment_definitions"} <= tables


def test_naomi_is_in_service_recovery_and_in_no_marketing_segment(warehouse):
    naomi = memberships(warehouse, EMAILS["naomi"])
    assert "seg_service_recovery" in naomi
    assert naomi["seg_service_recovery"]["negative_experience_reason"] == "csat"
    assert not MARKETING & naomi.keys(), sorted(naomi)


def test_chrissy_points_expiring_and_tier_changed_with_the_right_numbers(warehouse):
    chrissy = memberships(warehouse, EMAILS["chrissy"])
    points = chrissy["seg_points_expiring"]
    assert (points["loyalty_points_balance"], points["points_expiring"]) == (782, 39)
    assert points["points_expire_at"].isoformat() == "2026-11-20T23:59:59"
    assert points["first_name"] == "Chrissy" and not points["is_holdout"]
    tier = chrissy["seg_tier_changed"]
    assert (tier["previous_loyalty_tier"], tier["loyalty_tier"], tier["tier_change_direction"]) == (
        "silver", "gold", "upgrade")


def test_marshall_is_never_offered_what_he_subscribes_to(warehouse):
    marshall = memberships(warehouse, EMAILS["marshall"])
    subscribed = warehouse.execute(
        "SELECT subscribed_product_ids, subscribed_categories FROM marts.customer_360 WHERE email = ?",
        [EMAILS["marshall"]]).fetchone()
    assert subscribed == ("P-200", "filters")
    # Other coffee buyers are recommended filters (next test); he, who subscribes to them, never is.
    assert marshall, "Marshall should still be in some segment"
    for segment, row in marshall.items():
        assert row.get("recommended_category") != "filters", segment
        assert row.get("recommended_product_id") != "P-200", segment


def test_filters_is_recommended_to_coffee_buyers_who_do_not_subscribe(warehouse):
    """The counterpart of Marshall's test: the rule excludes him, not the category."""
    offered = warehouse.execute(
        "SELECT count(*) FROM segments.seg_category_cross_sell WHERE recommended_category = 'filters'"
    ).fetchone()[0]
    assert offered > 0


@pytest.mark.parametrize("who", ["uma", "bob", "sam"])
def test_unsubscribed_bounced_and_spam_complainers_are_in_no_marketing_segment(warehouse, who):
    assert not MARKETING & memberships(warehouse, EMAILS[who]).keys()


def test_bounced_and_spam_complainers_are_in_no_segment_at_all(warehouse):
    for who in ("bob", "sam"):
        assert memberships(warehouse, EMAILS[who]) == {}, who


def test_marketing_segments_hold_only_subscribed_people_outside_recovery(warehouse):
    for segment in MARKETING:
        bad = warehouse.execute(
            f"SELECT count(*) FROM segments.{segment} AS s JOIN marts.customer_360 AS c USING (customer_key) "
            "WHERE c.email_consent <> 'subscribed' OR c.sentiment = 'negative'").fetchone()[0]
        assert bad == 0, segment


def test_holdout_share_is_deterministic_and_close_to_the_declared_share(warehouse):
    rows = warehouse.execute(
        "SELECT customer_key, is_holdout FROM segments.seg_category_cross_sell").fetchall()
    assert len(rows) > 50
    # The documented rule, recomputed outside SQL: md5(customer_key|segment), first 8 hex digits / 2^32.
    recomputed = {
        key: int(hashlib.md5(f"{key}|seg_category_cross_sell".encode()).hexdigest()[:8], 16) / 2**32 < 0.1
        for key, _ in rows
    }
    assert all(recomputed[key] == held for key, held in rows)
    held_out = sum(held for _, held in rows)
    assert 0 < held_out < len(rows) * 0.3


def test_history_recorded_the_first_run(warehouse):
    sizes = dict(warehouse.execute(
        "SELECT segment_name, members FROM segments.segment_sizes_daily").fetchall())
    for segment in SEGMENTS:
        built = warehouse.execute(f"SELECT count(*) FROM segments.{segment}").fetchone()[0]
        assert sizes[segment] == built, segment
    open_rows = warehouse.execute(
        "SELECT count(*) FROM segments.segment_memberships WHERE exited_at IS NULL").fetchone()[0]
    assert open_rows == sum(sizes.values())


# ---- Naomi's triggers, one at a time ---------------------------------------------------------------------

def _new_key(con, table: str, column: str, label: str):
    """A key not yet in `table.column`: a label for a text key, the next number for a numeric one."""
    kind = con.execute("SELECT data_type FROM information_schema.columns WHERE table_schema || '.' || table_name"
                       " = ? AND column_name = ?", [table, column]).fetchone()[0]
    return label if kind == "VARCHAR" else con.execute(f"SELECT max({column}) + 1 FROM {table}").fetchone()[0]


def test_each_negative_experience_moves_a_marketing_member_into_service_recovery(warehouse_copy, tmp_path):
    """A low review, a bad CSAT, a late delivery and a refund, each given to a different marketing member who
    had none: each one alone takes that member out of every marketing segment and into service recovery with
    that reason (CUSTOMER_360.md, Naomi)."""
    con = duckdb.connect(str(warehouse_copy))
    marketing = " UNION ".join(f"SELECT customer_key FROM segments.{name}" for name in sorted(MARKETING))
    people = con.execute(f"""
        SELECT c.customer_key, c.email, c.shop_customer_id,
               (SELECT max(o.order_key) FROM intermediate.int_orders_unioned AS o
                WHERE o.customer_key = c.customer_key AND NOT o.has_late_delivery AND NOT o.is_refunded) AS order_key
        FROM marts.customer_360 AS c
        WHERE c.customer_key IN ({marketing}) AND c.shop_customer_id IS NOT NULL
            AND c.customer_key NOT IN (SELECT customer_key FROM segments.seg_service_recovery)
            AND c.last_negative_experience_at IS NULL
        ORDER BY c.customer_key""").fetchall()
    people = [p for p in people if p[3] is not None][:4]
    assert len(people) == 4, "the tiny run should have four marketing members without a negative experience"
    (review, csat, late, refund) = people
    con.execute("INSERT INTO staging.stg_reviews__reviews SELECT * REPLACE (? AS review_id, ? AS customer_id,"
                " ? AS email, 1 AS rating, TIMESTAMP '2026-10-29 10:00:00' AS created_at,"
                " TIMESTAMP '2026-10-29 10:00:00' AS updated_at) FROM staging.stg_reviews__reviews LIMIT 1",
                [_new_key(con, "staging.stg_reviews__reviews", "review_id", "naomi-trigger-review"), review[2],
                 review[1]])
    con.execute("INSERT INTO staging.stg_support__tickets SELECT * REPLACE (? AS ticket_id, ? AS email,"
                " 'bad' AS satisfaction, TIMESTAMP '2026-10-28 10:00:00' AS solved_at,"
                " TIMESTAMP '2026-10-28 10:00:00' AS updated_at) FROM staging.stg_support__tickets LIMIT 1",
                [_new_key(con, "staging.stg_support__tickets", "ticket_id", "naomi-trigger-csat"), csat[1]])
    con.execute("UPDATE intermediate.int_orders_unioned SET has_late_delivery = true,"
                " delivered_at = TIMESTAMP '2026-10-27 10:00:00' WHERE order_key = ?", [late[3]])
    con.execute("UPDATE intermediate.int_orders_unioned SET is_refunded = true,"
                " last_refunded_at = TIMESTAMP '2026-10-26 10:00:00' WHERE order_key = ?", [refund[3]])
    con.close()

    rebuilt = run_dbt(warehouse_copy, tmp_path, "run", "--select",
                      "int_negative_experiences int_customer_experience customer_360 path:models/segments",
                      "--vars", json.dumps({"as_of_date": "2026-10-31"}))
    assert rebuilt.success, rebuilt.exception
    con = duckdb.connect(str(warehouse_copy))
    try:
        for reason, (customer_key, *_) in zip(["review", "csat", "late_delivery", "refund"], people, strict=True):
            recovery = con.execute("SELECT negative_experience_reason FROM segments.seg_service_recovery"
                                   " WHERE customer_key = ?", [customer_key]).fetchall()
            assert recovery == [(reason,)], reason
            still = [name for name in sorted(MARKETING) if con.execute(
                f"SELECT count(*) FROM segments.{name} WHERE customer_key = ?", [customer_key]).fetchone()[0]]
            assert still == [], (reason, still)
    finally:
        con.close()


# ---- the global holdout ----------------------------------------------------------------------------------

GLOBAL_SHARE = 0.2


def bucket(text: str) -> float:
    """The documented hash rule, recomputed outside SQL: md5, first 8 hex digits / 2^32."""
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 2**32


def in_global_holdout(customer_key: str, share: float = GLOBAL_SHARE) -> bool:
    """The global holdout's rule: md5(customer_key || '|_all_marketing') below the share."""
    return bucket(f"{customer_key}|_all_marketing") < share


def _members(database) -> dict[str, dict[str, bool]]:
    """Per segment, each member's holdout flag."""
    con = duckdb.connect(str(database))
    try:
        return {name: dict(con.execute(f"SELECT customer_key, is_holdout FROM segments.{name}").fetchall())
                for name in SEGMENTS}
    finally:
        con.close()


def test_the_global_holdout_is_out_of_every_marketing_list_and_stays_in_service(warehouse_copy, tmp_path):
    """C360_GLOBAL_HOLDOUT_SHARE (the dbt var global_holdout_share) switched on over the tiny run: everyone it
    holds out (a hash of the customer key alone, recomputed here) is held out of every marketing segment and
    taken off every marketing list by the next sync; the service segments keep them, as they were. Two builds
    on consecutive days give everyone the same flags, and the history's stability test passes across them."""
    from orchestration.activation.spec import load_segment_specs
    from orchestration.activation.sync import SyncOptions, run_sync
    from orchestration.publish.serving import publish_serving

    before = _members(warehouse_copy)
    built = {}
    for as_of in ("2026-10-31", "2026-11-01"):
        result = run_dbt(warehouse_copy, tmp_path, "build", "--select", "segments", "--exclude-resource-type",
                         "unit_test", "--vars", json.dumps({"as_of_date": as_of, "global_holdout_share": GLOBAL_SHARE}))
        assert result.success, failing_tests(result)  # segment_rules and segment_holdout_stable included
        built[as_of] = _members(warehouse_copy)
        if as_of == "2026-10-31":  # the run records its history; the next day's build is checked against it
            manifest = load_manifest(tmp_path / "target" / "manifest.json")
            with duckdb.connect(str(warehouse_copy)) as con:
                record_segment_history(con, segment_definitions(manifest))

    first, second = built["2026-10-31"], built["2026-11-01"]
    held = set()
    for name in MARKETING:
        for members in (first[name], second[name]):
            for key, is_holdout in members.items():
                # the segment's own holdout, or the global one: nothing else
                assert is_holdout == (bucket(f"{key}|{name}") < 0.1 or in_global_holdout(key)), (name, key)
        held |= {k for k in first[name] if in_global_holdout(k)}
        staying = first[name].keys() & second[name].keys()
        assert staying and all(first[name][k] == second[name][k] for k in staying), name
    assert len(held) >= 10, "the tiny run should put some marketing members in a 20% global holdout"
    service = [name for name in SEGMENTS if name not in MARKETING]
    kept = set()
    for name in service:
        assert first[name] == before[name], f"{name}: the global holdout changed a service segment"
        assert not any(first[name].values()), name
        kept |= {k for k in first[name] if in_global_holdout(k)}
    assert kept, "some people of the global holdout should be in a service segment"

    # What the email tools get: the file destination's sync of every segment, from a serving file published
    # from this warehouse, after the tiny run's own syncs put everyone (holdout apart) on the lists.
    # The syncs get a copy the in-process dbt never opened (dbt keeps its database instance, and with it each
    # sync's ATTACH of the serving file, alive in this process).
    serving, synced = tmp_path / "serving.duckdb", tmp_path / "synced.duckdb"
    with duckdb.connect(str(warehouse_copy)) as con:
        publish_serving(con, serving)
        con.execute("CHECKPOINT")
    shutil.copy(warehouse_copy, synced)
    specs = load_segment_specs(load_manifest(tmp_path / "target" / "manifest.json"))
    options = SyncOptions(max_change_share=1.0)
    for spec in specs:
        sync = run_sync(spec, "file", serving_db=serving, warehouse_db=synced, outbox_dir=tmp_path / "out",
                        env={}, options=options)
        assert sync.status == "success", (spec.model, sync.message)
    with duckdb.connect(str(synced)) as con:
        state = con.execute("SELECT sync_id, customer_key, in_list FROM activation.sync_state").fetchall()
    listed = [(sync_id, key) for sync_id, key, in_list in state if in_list]
    # the tiny run's syncs had put some of the held-out people on marketing lists: this sync took them off
    taken_off = {key for sync_id, key, in_list in state
                 if not in_list and sync_id.split(":")[0] in MARKETING and in_global_holdout(key)}
    on_lists = {}
    for sync_id, key in listed:
        on_lists.setdefault(sync_id.split(":")[0], set()).add(key)
    for name in MARKETING:
        assert on_lists.get(name), name
        assert not {k for k in on_lists[name] if in_global_holdout(k)}, f"{name} lists someone held out"
    kept_now = {k for name in service for k in second[name] if in_global_holdout(k)}
    assert kept_now and kept_now <= set().union(*(on_lists.get(name, set()) for name in service))
    assert taken_off


def test_segment_rules_catch_a_global_holdout_member_left_in_a_marketing_list(warehouse_copy, tmp_path):
    con = duckdb.connect(str(warehouse_copy))
    keys = [k for (k,) in con.execute("SELECT customer_key FROM segments.seg_category_cross_sell").fetchall()]
    held = sorted(k for k in keys if in_global_holdout(k))
    assert held
    con.execute("UPDATE segments.seg_category_cross_sell SET is_holdout = false WHERE customer_key = ?", [held[0]])
    con.close()
    tested = run_dbt(warehouse_copy, tmp_path, "test", "--select", "seg_category_cross_sell",
                     "--vars", json.dumps({"as_of_date": "2026-10-31", "global_holdout_share": GLOBAL_SHARE}))
    failed = failing_tests(tested)
    assert [name for name in failed if name.startswith("segment_rules_seg_category_cross_sell")], failed
    # Off (the default), the same table passes: nobody is held out globally.
    assert not failing_tests(run_dbt(warehouse_copy, tmp_path, "test", "--select", "seg_category_cross_sell",
                                     "--vars", json.dumps({"as_of_date": "2026-10-31"})))


@pytest.mark.dbt
def test_a_global_holdout_share_that_is_not_a_share_stops_the_build(tmp_path):
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUCKDB_DATABASE", str(tmp_path / "empty.duckdb"))
        result = dbtRunner().invoke([
            "run-operation", "validate_segment_meta", "--vars", json.dumps({"global_holdout_share": "1.5"}),
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        ])
    assert not result.success
    assert "var global_holdout_share (C360_GLOBAL_HOLDOUT_SHARE) must be a number with 0 <= share < 1, got: 1.5" \
        in (tmp_path / "logs" / "dbt.log").read_text()


# ---- the generic tests can fail ------------------------------------------------------------------------

def failing_tests(result) -> dict[str, int]:
    """Failed tests of a dbt invocation, by name, with their failure count."""
    return {r.node.name: r.failures for r in result.result.results if r.status in ("fail", "error")}


def test_segment_rules_catch_a_subscribed_promotion_and_a_consent_breach(warehouse_copy, tmp_path):
    con = duckdb.connect(str(warehouse_copy))
    marshall = con.execute("SELECT customer_key FROM marts.customer_360 WHERE email = ?",
                           [EMAILS["marshall"]]).fetchone()[0]
    con.execute("UPDATE segments.seg_category_cross_sell SET recommended_category = 'filters' "
                "WHERE customer_key = ?", [marshall])
    con.execute("UPDATE segments.seg_referral_invite SET email_consent = 'unsubscribed' "
                "WHERE customer_key = (SELECT min(customer_key) FROM segments.seg_referral_invite)")
    con.close()
    result = run_dbt(warehouse_copy, tmp_path, "test", "--select", "seg_category_cross_sell seg_referral_invite",
                     "--vars", json.dumps({"as_of_date": "2026-10-31"}))
    failed = failing_tests(result)
    assert any(name.startswith("segment_rules_seg_category_cross_sell") for name in failed), failed
    assert any(name.startswith("segment_rules_seg_referral_invite") for name in failed), failed


FEATURED_SEGMENT_SQL = """
with candidates as (
    select customer_key, 'featured' as segment_reason, 'filters' as featured_category
    from {{ ref('customer_360') }}
)
{{ segment_members('candidates', ['segment_reason', 'featured_category']) }}
"""
FEATURED_SEGMENT_YML = """
  - name: seg_featured_category
    config:
      meta:
        segment: {purpose: marketing, holdout_share: 0.1, promotes: {category: featured_category}}
        activation: {identifier: email, mode: upsert, destinations: [file], fields: {category: featured_category}}
    data_tests: [segment_rules, segment_holdout_stable]
    columns:
      - {name: customer_key}
      - {name: email}
      - {name: first_name}
      - {name: email_consent}
      - {name: is_holdout}
      - {name: segment_reason}
      - {name: featured_category}
      - {name: as_of_date}
"""


def test_a_segment_promoting_under_its_own_column_name_is_held_to_marshalls_rule(warehouse_copy, tmp_path):
    """Marshall's rule follows the declaration (meta.segment.promotes), not the column's name: a new segment
    offering 'filters' under `featured_category` leaves out everyone who subscribes to filters, and its
    segment_rules test catches a subscriber put back in."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "models" / "segments" / "seg_featured_category.sql").write_text(FEATURED_SEGMENT_SQL)
    yml = project / "models" / "segments" / "_segments__models.yml"
    yml.write_text(yml.read_text().rstrip("\n") + "\n" + FEATURED_SEGMENT_YML)
    as_of = json.dumps({"as_of_date": "2026-10-31"})

    built = run_dbt(warehouse_copy, tmp_path, "run", "--select", "seg_featured_category", "--vars", as_of,
                    project_dir=project)
    assert built.success, built.exception
    con = duckdb.connect(str(warehouse_copy))
    members = con.execute("SELECT count(*) FROM segments.seg_featured_category").fetchone()[0]
    subscribers_in = con.execute(
        "SELECT count(*) FROM segments.seg_featured_category AS s JOIN intermediate.int_subscriptions_resolved AS"
        " sub ON sub.customer_key = s.customer_key AND sub.is_active AND sub.category = 'filters'").fetchone()[0]
    subscribers = con.execute("SELECT count(DISTINCT customer_key) FROM intermediate.int_subscriptions_resolved "
                              "WHERE is_active AND category = 'filters'").fetchone()[0]
    marshall = con.execute("SELECT customer_key FROM marts.customer_360 WHERE email = ?",
                           [EMAILS["marshall"]]).fetchone()[0]
    assert members > 0 and subscribers > 0 and subscribers_in == 0
    assert con.execute("SELECT count(*) FROM segments.seg_featured_category WHERE customer_key = ?",
                       [marshall]).fetchone()[0] == 0

    con.execute("INSERT INTO segments.seg_featured_category SELECT customer_key, email, first_name, email_consent,"
                " false, 'featured', 'filters', as_of_date FROM marts.customer_360 WHERE customer_key = ?", [marshall])
    con.close()
    tested = run_dbt(warehouse_copy, tmp_path, "test", "--select", "seg_featured_category", "--vars", as_of,
                     project_dir=project)
    failed = failing_tests(tested)
    assert any(name.startswith("segment_rules_seg_featured_category") for name in failed), failed


def test_segment_holdout_stable_fails_when_a_recorded_holdout_flips(warehouse_copy, tmp_path):
    con = duckdb.connect(str(warehouse_copy))
    con.execute("UPDATE segments.segment_memberships SET is_holdout = NOT is_holdout "
                "WHERE segment_name = 'seg_category_cross_sell' AND exited_at IS NULL")
    con.close()
    result = run_dbt(warehouse_copy, tmp_path, "test", "--select", "seg_category_cross_sell",
                     "--vars", json.dumps({"as_of_date": "2026-10-31"}))
    failed = failing_tests(result)
    assert any(name.startswith("segment_holdout_stable_seg_category_cross_sell") for name in failed), failed


# ---- what a daily sync sends ---------------------------------------------------------------------------

def test_a_new_day_without_new_data_changes_few_synced_fields(warehouse_copy, tmp_path):
    """The segments rebuilt one as-of date later on the same data: a member who stays has the same synced
    fields, bar the few whose data moved with the date (points entering the expiry window). A field that
    counts days (days since the last order) would change for every member every day: an update of each
    profile per day in the email tool, and a circuit breaker that trips on every daily sync."""
    from orchestration.activation.spec import load_segment_specs
    from orchestration.activation.sync import SyncOptions

    specs = load_segment_specs(load_manifest(DBT_PROJECT_DIR / "target" / "manifest.json"))
    before = _synced_fields(warehouse_copy, specs)
    result = run_dbt(warehouse_copy, tmp_path, "build", "--select", "segments", "--exclude-resource-type", "unit_test",
                     "--vars", json.dumps({"as_of_date": "2026-11-01"}))
    assert result.success, failing_tests(result)
    after = _synced_fields(warehouse_copy, specs)
    for spec in specs:
        staying = before[spec.model].keys() & after[spec.model].keys()
        changed = [k for k in staying if before[spec.model][k] != after[spec.model][k]]
        assert staying, spec.model
        assert len(changed) <= SyncOptions().max_change_share * len(staying), (spec.model, len(changed), len(staying))


def _synced_fields(database, specs) -> dict[str, dict[str, tuple]]:
    """Per segment, each member's synced fields (its activation mapping), by customer key. (Not read-only: the
    in-process dbt keeps its own connection to the file open, and DuckDB wants the same configuration.)"""
    con = duckdb.connect(str(database))
    try:
        fields = {}
        for spec in specs:
            columns = ", ".join('"' + column + '"' for column in spec.fields.values())
            rows = con.execute(f"SELECT customer_key, {columns} FROM {spec.schema}.{spec.model}").fetchall()
            fields[spec.model] = {row[0]: row[1:] for row in rows}
        return fields
    finally:
        con.close()


# ---- meta validation -----------------------------------------------------------------------------------

def test_a_wrong_segment_meta_fails_naming_the_segment_and_the_field(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    yml = project / "models" / "segments" / "_segments__models.yml"
    text = yml.read_text()
    text = text.replace("purpose: service", "purpose: servise", 1)
    text = text.replace("points_balance: loyalty_points_balance", "points_balance: loyalty_points", 1)
    # seg_nurture_engaged_prospects declares nothing; seg_referral_invite a column it does not have
    text = text.replace("          promotes: {category: recommended_category}\n", "", 1)
    text = text.replace("promotes: none ", "promotes: {category: top_category} ", 1)
    yml.write_text(text)
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUCKDB_DATABASE", str(tmp_path / "empty.duckdb"))
        result = dbtRunner().invoke([
            "run-operation", "validate_segment_meta", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        ])
    assert not result.success
    message = (tmp_path / "logs" / "dbt.log").read_text()
    assert "seg_service_recovery: meta.segment.purpose must be marketing or service, got servise" in message
    assert "seg_points_expiring: meta.activation.fields.points_balance: loyalty_points is not a column" in message
    assert "seg_nurture_engaged_prospects: meta.segment.promotes is required for a marketing segment" in message
    assert "seg_referral_invite: meta.segment.promotes.category: top_category is not a column" in message


def test_the_manifest_lists_every_segment_with_its_settings(tiny_run):
    manifest = load_manifest(DBT_PROJECT_DIR / "target" / "manifest.json")
    definitions = {d.name: d for d in segment_definitions(manifest)}
    assert set(definitions) == set(SEGMENTS)
    assert {n for n, d in definitions.items() if d.purpose == "marketing"} == MARKETING
    assert all(d.holdout_share == 0 for n, d in definitions.items() if n not in MARKETING)
    assert all(d.activation["identifier"] == "email" for d in definitions.values())


# ---- membership history across as-of dates -------------------------------------------------------------

def _build_segments(con, as_of: date, members: dict[str, list[tuple[str, bool]]]) -> list[SegmentDefinition]:
    con.execute("CREATE SCHEMA IF NOT EXISTS segments")
    definitions = []
    for name, rows in members.items():
        con.execute(f"CREATE OR REPLACE TABLE segments.{name} "
                    "(customer_key VARCHAR, is_holdout BOOLEAN, as_of_date DATE)")
        for key, holdout in rows:
            con.execute(f"INSERT INTO segments.{name} VALUES (?, ?, ?)", [key, holdout, as_of])
        definitions.append(SegmentDefinition(name=name, schema="segments", purpose="marketing",
                                             holdout_share=0.1, description=name))
    return definitions


def _stays(con) -> set[tuple]:
    return set(con.execute(
        "SELECT segment_name, customer_key, entered_at, exited_at, is_holdout FROM segments.segment_memberships"
    ).fetchall())


def test_history_records_entries_and_exits_over_two_as_of_dates():
    con = duckdb.connect()
    d1, d2 = date(2026, 10, 30), date(2026, 10, 31)
    segs = _build_segments(con, d1, {"seg_a": [("k1", False), ("k2", True)], "seg_b": [("k1", False)]})
    first = record_segment_history(con, segs)
    assert first.as_of_date == d1 and first.entered == 3 and first.exited == 0
    segs = _build_segments(con, d2, {"seg_a": [("k2", True), ("k3", False)], "seg_b": [("k1", False)]})
    second = record_segment_history(con, segs)
    assert second.sizes["seg_a"] == {"members": 2, "holdout_members": 1, "entered": 1, "exited": 1}
    assert second.sizes["seg_b"] == {"members": 1, "holdout_members": 0, "entered": 0, "exited": 0}
    assert _stays(con) == {
        ("seg_a", "k1", d1, d2, False), ("seg_a", "k2", d1, None, True), ("seg_a", "k3", d2, None, False),
        ("seg_b", "k1", d1, None, False),
    }
    # "entered today" and "left this week" are plain queries
    assert con.execute("SELECT customer_key FROM segments.segment_memberships "
                       "WHERE segment_name = 'seg_a' AND entered_at = ?", [d2]).fetchall() == [("k3",)]


def test_recording_the_same_date_again_replaces_it_and_older_dates_are_refused():
    con = duckdb.connect()
    d1, d2 = date(2026, 10, 30), date(2026, 10, 31)
    record_segment_history(con, _build_segments(con, d1, {"seg_a": [("k1", False), ("k2", False)]}))
    record_segment_history(con, _build_segments(con, d2, {"seg_a": [("k2", False), ("k3", False)]}))
    # A late file changed day 2: k1 is still in after all, k3 never entered.
    again = record_segment_history(con, _build_segments(con, d2, {"seg_a": [("k1", False), ("k2", False)]}))
    assert again.sizes["seg_a"] == {"members": 2, "holdout_members": 0, "entered": 0, "exited": 0}
    assert _stays(con) == {("seg_a", "k1", d1, None, False), ("seg_a", "k2", d1, None, False)}
    assert con.execute("SELECT count(*) FROM segments.segment_sizes_daily").fetchone()[0] == 2
    with pytest.raises(HistoryOutOfOrder, match="not rewritten backwards"):
        record_segment_history(con, _build_segments(con, d1, {"seg_a": [("k9", False)]}))
    assert ("seg_a", "k9", d1, None, False) not in _stays(con)


def test_a_segment_that_empties_closes_every_stay():
    con = duckdb.connect()
    d1, d2 = date(2026, 10, 30), date(2026, 10, 31)
    record_segment_history(con, _build_segments(con, d1, {"seg_a": [("k1", False)], "seg_b": [("k2", False)]}))
    result = record_segment_history(con, _build_segments(con, d2, {"seg_a": [], "seg_b": [("k2", False)]}))
    assert result.as_of_date == d2
    assert result.sizes["seg_a"] == {"members": 0, "holdout_members": 0, "entered": 0, "exited": 1}
