"""dbt exposures end the lineage graph where the data is used: the run report and each segment's syncs. `dbt ls
--select +exposure:<name>` lists what feeds them, and they agree with what the code reads: the report's sections
(orchestration/report/sections.py) and each segment's destinations (its meta, orchestration/activation/spec.py)."""

from __future__ import annotations

import json

import pytest
from warehouse_helpers import run_dbt

from orchestration.activation.spec import load_segment_specs
from orchestration.report.sections import SECTIONS

# dbt parses the whole project in process: not in the fast lane.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def listed(tmp_path_factory) -> tuple[list[str], dict]:
    """The models `dbt ls --select +exposure:sync_service_recovery` lists, and the manifest it parsed."""
    work = tmp_path_factory.mktemp("exposures")
    result = run_dbt(work / "warehouse.duckdb", work, "ls", "--select", "+exposure:sync_service_recovery",
                     "--resource-type", "model", "--output", "name", "--quiet")
    assert result.success, result.exception
    return list(result.result), json.loads((work / "target" / "manifest.json").read_text())


def test_dbt_ls_lists_what_feeds_a_segment_sync(listed):
    models, _ = listed
    # The segment, what the sync reads besides (consent in customer_360, the erased people), and their inputs
    # down to staging; nothing that only feeds other segments.
    assert {"seg_service_recovery", "customer_360", "erased_identifiers", "int_negative_experiences",
            "stg_reviews__reviews", "stg_shop__customers"} <= set(models)
    assert not {m for m in models if m.startswith("seg_") and m != "seg_service_recovery"}


def test_every_segment_sync_has_its_exposure(listed):
    _, manifest = listed
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    specs = load_segment_specs(manifest)
    assert specs
    for spec in specs:
        exposure = exposures[f"sync_{spec.name}"]
        assert exposure["type"] == "application"
        assert set(exposure["depends_on"]["nodes"]) == {
            f"model.customer360.{spec.model}", "model.customer360.customer_360",
            "model.customer360.erased_identifiers"}
        assert tuple(exposure["meta"]["destinations"]) == spec.destinations, spec.model
    assert {n for n in exposures if n.startswith("sync_")} == {f"sync_{s.name}" for s in specs}


def test_the_run_report_exposure_depends_on_every_table_it_reads(listed):
    _, manifest = listed
    report = next(e for e in manifest["exposures"].values() if e["name"] == "run_report")
    relations = {f"{n['schema']}.{n.get('alias') or n['name']}": uid for uid, n in manifest["nodes"].items()
                 if n["resource_type"] == "model"}
    relations |= {f"{s['schema']}.{s['identifier']}": uid for uid, s in manifest["sources"].items()}
    read = {table for section in SECTIONS for table in section.sources}
    # The pipeline's own tables (activation, audit) are not dbt's: every other table the report reads is a
    # dependency of the exposure, and nothing else is.
    assert {t for t in read if not t.startswith(("activation.", "audit."))} <= set(relations)
    assert set(report["depends_on"]["nodes"]) == {relations[t] for t in read if t in relations}
