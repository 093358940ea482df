"""The checked-in suites: valid GX 1.x suites, a severity on every expectation, columns that exist."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.ingestion.entities import ENTITIES, get_entity
from orchestration.ingestion.loader import raw_schema_sql
from orchestration.quality.config import AuditConfig, VolumeConfig
from orchestration.quality.manifest import SEGMENT_BASE_COLUMNS, contract_columns, model_node
from orchestration.quality.suites import all_suite_paths, load_suite

SUITES = all_suite_paths()


def raw_columns(name: str) -> set[str]:
    """Columns of a raw table, from the loader's own schema."""
    with duckdb.connect() as con:
        return {r[0] for r in con.execute(f"DESCRIBE {raw_schema_sql(get_entity(name))}").fetchall()}


def test_a_suite_per_raw_entity_and_guarded_table():
    names = {load_suite(p).name for p in SUITES}
    assert {f"raw.{e.name}" for e in ENTITIES} | {"marts.customer_360", "marts.fct_orders", "segments.segment"} \
        == names


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suite_loads_in_great_expectations_with_severities(path):
    import great_expectations as gx

    suite = load_suite(path)
    gx_suite = gx.ExpectationSuite(name=suite.name, expectations=[e.gx_config() for e in suite.expectations])
    assert len(gx_suite.expectations) == len(suite.expectations) > 0
    for spec, expectation in zip(suite.expectations, gx_suite.expectations, strict=True):
        assert spec.severity in ("critical", "warning")
        assert expectation.meta["severity"] == spec.severity
        assert expectation.severity.value == spec.severity  # GX's own field follows the meta
    assert suite.has_critical


def test_a_suite_without_severity_is_rejected(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "meta": {}}]}))
    with pytest.raises(ValueError, match="severity"):
        load_suite(path)


@pytest.mark.parametrize("path", [p for p in SUITES if p.parent.name == "raw"], ids=lambda p: p.stem)
def test_raw_suites_name_only_contract_columns(path):
    suite = load_suite(path)
    known = raw_columns(suite.name.split(".", 1)[1]) | set(suite.derived_columns)
    for spec in suite.expectations:
        assert set(spec.columns) <= known, (spec.name, set(spec.columns) - known)
        assert set(spec.condition_columns(known)) <= known
    assert set(suite.key_columns) <= known


@pytest.mark.parametrize("model", ["customer_360", "fct_orders"])
def test_mart_suites_name_only_contract_columns(built, model):
    manifest = json.loads(built.manifest.read_text())
    contract = set(contract_columns(model_node(manifest, model)))
    suite = load_suite(next(p for p in SUITES if p.stem == model))
    for spec in suite.expectations:
        if spec.meta.get("optional_column"):
            continue
        assert set(spec.columns) <= contract, (spec.name, set(spec.columns) - contract)
    assert "contract_columns" in suite.parameters  # schema drift is judged against the manifest's contract


def test_segment_suite_reads_only_base_columns():
    suite = load_suite(next(p for p in SUITES if p.stem == "segment"))
    for spec in suite.expectations:
        assert set(spec.columns) <= set(SEGMENT_BASE_COLUMNS), spec.name
    assert {"allowed_email_consent", "max_members", "required_columns"} <= suite.parameters


def test_config_loads_with_thresholds_and_overrides(tmp_path):
    config = AuditConfig.load()
    assert 0 < config.volume.max_drop_share < 1 and config.volume.min_baseline_rows > 0
    assert "email" in config.null_drift.columns["marts.customer_360"]
    (tmp_path / "audit_config.json").write_text(json.dumps({
        "volume": {"max_drop_share": 0.3, "entities": {"web__events": {"min_baseline_rows": 5}}},
        "segments": {"overrides": {"seg_x": {"max_share": 0.9}}},
    }))
    tuned = AuditConfig.load(tmp_path)
    assert tuned.volume_for("shop__orders").max_drop_share == 0.3
    assert tuned.volume_for("web__events").min_baseline_rows == 5
    assert tuned.volume_for("web__events").max_drop_share == 0.3
    assert tuned.bounds_for("seg_x").max_share == 0.9 and tuned.bounds_for("seg_y").max_share == 0.6
    with pytest.raises(ValueError, match="severity"):
        VolumeConfig(severity="fatal")
