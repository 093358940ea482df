"""The erasure key: HMAC-SHA256 in DuckDB SQL equal to Python's, the key reaching SQL only as session variables
(dbt-duckdb's plugin, Spark's settings), a missing key an error, a home hashed with md5 told what to do."""

from __future__ import annotations

import hashlib
import hmac
import json

import duckdb
import pytest

from orchestration.privacy.keys import (
    ErasureKeyMismatch,
    check_key,
    erasure_hash,
    erasure_hash_sql,
    erasure_pads,
    fingerprint_path,
    set_erasure_key,
)

KEYS = {
    "short": "k",
    "one block": "b" * 64,
    "a byte over a block": "b" * 65,  # longer than the block: hashed first (RFC 2104)
    "long": "long key " * 30,
    "not ascii": "schlüssel-ß-鍵",  # 2 and 3 byte characters: the key's UTF-8 bytes count
    "not ascii, over a block": "ä" * 40,  # 40 characters, 80 bytes
}
NODES = ["email:erin.erased@example.com", "shop:1007", "anon:a-p1007", "email:zoë.ñandú@exämple.com",
         "anon:☃-雪", ""]


def _sql_hashes(con, nodes: list[str]) -> list[str]:
    rows = con.execute(f"SELECT {erasure_hash_sql('node')} FROM (SELECT unnest(?::VARCHAR[]) AS node, "
                       "generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i", [nodes, nodes]).fetchall()
    return [h for (h,) in rows]


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_sql_hmac_equals_pythons_hmac(key):
    con = duckdb.connect()
    set_erasure_key(con, key)
    expected = [hmac.new(key.encode(), n.encode(), hashlib.sha256).hexdigest() for n in NODES]
    assert _sql_hashes(con, NODES) == expected
    assert [erasure_hash(key, n) for n in NODES] == expected
    assert con.execute(f"SELECT {erasure_hash_sql('NULL::VARCHAR')}").fetchone()[0] is None


def test_pads_follow_rfc_2104():
    ipad, opad = erasure_pads("k")
    assert len(ipad) == len(opad) == 64
    assert ipad == bytes([ord("k") ^ 0x36]) + bytes([0x36] * 63)
    assert opad == bytes([ord("k") ^ 0x5C]) + bytes([0x5C] * 63)
    long_ipad, _ = erasure_pads("x" * 65)
    assert long_ipad[:32] == bytes(b ^ 0x36 for b in hashlib.sha256(b"x" * 65).digest())


def test_a_connection_without_the_key_is_an_error_not_null_hashes():
    """Unset variables would hash every value to NULL and match nobody: the query fails, naming the key. A
    cursor is a connection of its own: the key set on its parent is not set on it."""
    with pytest.raises(duckdb.InvalidInputException, match="erasure key is not set.*C360_ERASURE_SALT"):
        duckdb.connect().execute(f"SELECT {erasure_hash_sql('?')}", ["shop:1"]).fetchall()
    parent = duckdb.connect()
    set_erasure_key(parent, "k")
    with pytest.raises(duckdb.InvalidInputException, match="erasure key is not set"):
        parent.cursor().execute(f"SELECT {erasure_hash_sql('?')}", ["shop:1"]).fetchall()


def test_the_dbt_duckdb_plugin_sets_the_key_on_every_cursor(monkeypatch):
    """dbt-duckdb runs each model on a cursor of its parent connection: the plugin (profiles.yml) sets the
    key from C360_ERASURE_SALT on each of them."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials, PluginConfig
    from dbt.adapters.duckdb.environments.local import LocalEnvironment

    key = "plugin " + "kéy" * 30
    monkeypatch.setenv("C360_ERASURE_SALT", key)
    creds = DuckDBCredentials(database="memory", schema="main", path=":memory:",
                              plugins=[PluginConfig(module="orchestration.transform.erasure_key")])
    environment = LocalEnvironment(creds)
    for _ in range(2):  # the first handle opens the parent connection; the second is a cursor of it
        cursor = environment.handle().cursor()
        assert _sql_hashes(cursor, NODES) == [erasure_hash(key, n) for n in NODES]


def test_the_spark_target_reads_the_pads_c360_sets(monkeypatch):
    """profiles.yml's spark target gets the pads as hex settings from the variables erasure_pad_env names."""
    from orchestration.transform.spark import erasure_pad_env, session_settings

    key = "spark " + "kéy" * 30
    env = erasure_pad_env(key)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = session_settings()
    ipad, opad = erasure_pads(key)
    assert (settings["spark.c360.erasure.ipad"], settings["spark.c360.erasure.opad"]) == (ipad.hex(), opad.hex())
    assert all(name.startswith("DBT_ENV_SECRET_") for name in env)  # dbt scrubs them from its logs


def test_the_key_fingerprint_is_checked_and_an_md5_home_is_told_the_scheme_changed(tmp_path):
    lake = tmp_path / "lake"
    recorded = check_key(lake, "key-a", "purge", record=True)
    assert json.loads(fingerprint_path(lake).read_text())["scheme"] == "hmac-sha256"
    assert "key-a" not in fingerprint_path(lake).read_text()
    assert check_key(lake, "key-a", "ingestion") == recorded
    with pytest.raises(ErasureKeyMismatch, match="ingestion: the erasure key .* has fingerprint"):
        check_key(lake, "key-b", "ingestion")
    # A home whose hashes were made as md5('<salt>:' || node): its fingerprint file has no scheme.
    fingerprint_path(lake).write_text(json.dumps({"fingerprint": recorded, "recorded_at": "2026-01-01T00:00:00"}))
    with pytest.raises(ErasureKeyMismatch, match="older hash scheme .*HMAC-SHA256.* Move .*privacy aside"):
        check_key(lake, "key-a", "erasure purge", record=True)
