"""The documentation under $C360_HOME/docs/: the data-quality page rendered from real Great Expectations results (GX's
own Data Docs need the internet for their styles), the entry page linking every site, both checked offline in
headless Chromium with a screenshot; and what a tiny pipeline run leaves there."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg

from orchestration.quality.suites import load_suite
from orchestration.quality.validation import GX_DOCS_FOLDER, GxRunner
from orchestration.report.browser import find_chromium, run_chromium
from orchestration.report.site import (
    DBT_DOCS,
    DBT_MANIFEST,
    dbt_doc_fragments,
    stored_validations,
    table_doc_links,
    write_docs_site,
)

PAYLOAD = "<img src=x onerror=console.error(1)>"
HEADER = (0x1F, 0x3B, 0x5C)  # the header's background, #1f3b5c
PASSED = (0x3A, 0x9A, 0x5B)  # a passed badge, #3a9a5b
FAILED = (0xC8, 0x45, 0x3C)  # a failed badge, #c8453c


def write_suite(folder: Path, name: str) -> Path:
    """A suite of three expectations, one of them a warning."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps({
        "name": name, "meta": {"c360": {"key_columns": ["order_id"]}},
        "expectations": [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "order_id"},
             "meta": {"severity": "critical", "why": "one row per order"}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0},
             "meta": {"severity": "critical", "why": "money is never negative"}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "channel", "value_set": ["web", "pos"]},
             "meta": {"severity": "warning", "why": "the documented channels"}},
        ]}))
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A C360_HOME whose audit stored real GX results: two tables over two runs; in the newest run, one table fails
    (a negative amount, and a channel that is an HTML tag) and the other passes."""
    home = tmp_path_factory.mktemp("docs-site")
    suites = home / "suites"
    suites.mkdir()
    runner = GxRunner(home / "docs" / GX_DOCS_FOLDER, home / "quality" / "validations")
    good = pd.DataFrame({"order_id": [1, 2, 3], "amount": [10.0, 5.5, 0.0], "channel": ["web", "pos", "web"]})
    bad = pd.DataFrame({"order_id": [1, 2, 3], "amount": [10.0, -4.0, 1.0], "channel": ["web", PAYLOAD, "pos"]})
    for run_id, frames in (("run-1", {"shop_orders": good, "pos_orders": good}),
                           ("run-2", {"shop_orders": bad, "pos_orders": good})):
        for table, frame in frames.items():
            suite = load_suite(write_suite(suites, f"marts.{table}"))
            done = runner.validate(suite, asset=f"marts.{table}", columns=list(frame.columns),
                                   schema_frames=[("all", frame.head(0))], data_batches=[frame], params={})
            runner.publish(suite, done, run_id, f"marts.{table}")
    return home


@pytest.fixture(scope="module")
def site(home):
    """The site written over `home`, with a dbt docs folder holding a small manifest."""
    docs = home / "docs"
    (docs / "dbt").mkdir(parents=True, exist_ok=True)
    (docs / DBT_DOCS).write_text("<html><body>dbt docs</body></html>")
    manifest = {
        "nodes": {f"model.customer360.{name}": {
            "resource_type": "model", "name": name, "unique_id": f"model.customer360.{name}", "schema": schema,
            "alias": name, "fqn": ["customer360", *folders, name]}
            for name, schema, folders in (("customer_360", "marts", ["marts", "customers"]),
                                          ("seg_points_expiring", "segments", ["segments"]),
                                          ("retention_metrics", "marts", ["marts", "retention"]),
                                          ("stg_shop__orders", "staging", ["staging", "shop"]))},
        "sources": {"source.customer360.predictions.customer_predictions": {
            "unique_id": "source.customer360.predictions.customer_predictions", "schema": "predictions",
            "name": "customer_predictions", "identifier": "customer_predictions"}},
    }
    (docs / DBT_MANIFEST).write_text(json.dumps(manifest))
    (docs / "report.html").write_text("<html><body>report</body></html>")
    return write_docs_site(docs, home / "quality" / "validations", home)


def test_quality_page_lists_every_validation_and_what_failed(home, site):
    stored = stored_validations(home / "quality" / "validations")
    assert len(stored) == site.validations == 4
    assert (site.tables, site.failing_tables) == (2, 1)
    page = site.quality.read_text()
    # Each table's newest validation gets a section, and every stored one a row of the history.
    assert re.findall(r'<section id="check-marts-(\w+)" data-status="(\w+)">', page) == [
        ("pos_orders", "passed"), ("shop_orders", "failed")]
    history = page.split('id="history"')[1]
    assert history.count("<tr>") == 1 + 4
    shop = page.split('id="check-marts-shop_orders"')[1].split("</section>")[0]
    # The failed expectations first, with what GX found.
    rows = re.findall(r"<tr>(.*?)</tr>", shop)[1:]
    assert [("FAILED" in r, re.search(r"</td><td>([a-z ]+)</td>", r)[1]) for r in rows] == [
        (True, "column values to be between"), (True, "column values to be in set"),
        (False, "column values to be unique")]
    assert "1 of 3 unexpected (33.33%)" in rows[0]
    # A value from the data is shown escaped, never as markup.
    assert PAYLOAD not in page and html.escape(PAYLOAD, quote=True) in page
    assert "<script" not in page.lower() and "default-src &#x27;none&#x27;" in page


def test_entry_page_links_every_site(home, site):
    page = site.index.read_text()
    hrefs = re.findall(r'href="([^"]*)"', page)
    for target in ("report.html", "quality.html", f"{GX_DOCS_FOLDER}/index.html", DBT_DOCS.as_posix()):
        assert target in hrefs
        assert (home / "docs" / target).is_file(), target
    # Where to start in the dbt docs: the person, the segments, the retention marts; not staging.
    assert f"{DBT_DOCS.as_posix()}#!/model/model.customer360.customer_360" in hrefs
    assert f"{DBT_DOCS.as_posix()}#!/model/model.customer360.seg_points_expiring" in hrefs
    assert f"{DBT_DOCS.as_posix()}#!/model/model.customer360.retention_metrics" in hrefs
    assert "stg_shop__orders" not in page
    assert "in their latest validation 1 failing (2 expectations)" in page


def test_table_links_into_the_dbt_docs(home, site):
    docs = home / "docs"
    links = table_doc_links(docs, docs)
    assert links["marts.customer_360"] == "dbt/static_index.html#!/model/model.customer360.customer_360"
    assert links["predictions.customer_predictions"] == (
        "dbt/static_index.html#!/source/source.customer360.predictions.customer_predictions")
    # From a report written elsewhere, the links lead back into the docs folder.
    elsewhere = home / "elsewhere"
    assert table_doc_links(docs, elsewhere)["marts.customer_360"].startswith("../docs/dbt/static_index.html#!/")
    assert table_doc_links(home / "no-docs", home) == {} and dbt_doc_fragments(None) == {}


# --- offline, in headless Chromium -----------------------------------------------------------------------------

@pytest.fixture
def chromium() -> str:
    """The Chromium binary (the README's test command installs it: a missing one fails, never skips)."""
    binary = find_chromium()
    if binary is None:
        pytest.fail("chromium not found: `bash scripts/test.sh` installs it (or apt-get install -y chromium)")
    return binary


def colour_share(pixels: np.ndarray, rgb: tuple[int, int, int]) -> float:
    """Share of the screenshot's pixels within a few levels of `rgb`."""
    target = np.array(rgb) / 255.0
    return float((np.abs(pixels[..., :3] - target).max(axis=-1) < 6 / 255).mean())


def offline_screenshot(page: Path, png: Path) -> tuple[np.ndarray, str]:
    """Screenshot and DOM of `page` with every network request failing (a proxy that refuses connections)."""
    shot = run_chromium(page, screenshot=png, window=(1280, 1600), offline=True)
    dom = run_chromium(page, dump_dom=True, window=(1280, 1600), offline=True)
    assert shot.returncode == 0 and dom.returncode == 0
    assert shot.console == () and dom.console == (), shot.console + dom.console
    return mpimg.imread(png), dom.dom


def styled_and_listed(pixels: np.ndarray, dom: str, validations: int) -> bool:
    """The page looks like ours (its header bar and the green and red badges are drawn) and its DOM lists every
    stored validation."""
    history = dom.split('id="history"')[1] if 'id="history"' in dom else ""
    return (colour_share(pixels, HEADER) > 0.03 and colour_share(pixels, PASSED) > 0.0005
            and colour_share(pixels, FAILED) > 0.0002 and history.count("<tr>") == validations + 1)


@pytest.mark.usefixtures("chromium")
def test_quality_and_entry_pages_work_offline(site, tmp_path):
    pixels, dom = offline_screenshot(site.quality, tmp_path / "quality.png")
    assert styled_and_listed(pixels, dom, site.validations)
    # The same check fails on the page without its style: a blank or unstyled page would not pass.
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<style>.*?</style>", "", site.quality.read_text(), flags=re.S))
    assert not styled_and_listed(*offline_screenshot(bare, tmp_path / "bare.png"), site.validations)

    pixels, dom = offline_screenshot(site.index, tmp_path / "index.png")
    assert colour_share(pixels, HEADER) > 0.03
    assert dom.count('class="card"') == 5  # report, dbt docs, quality, GX, Dagster


# --- what a run leaves --------------------------------------------------------------------------------------

def test_docs_of_a_tiny_pipeline_run(tiny_run):
    home, _ = tiny_run
    docs = home / "docs"
    for page in ("index.html", "report.html", "quality.html", f"{GX_DOCS_FOLDER}/index.html",
                 DBT_DOCS.as_posix()):
        assert (docs / page).is_file(), page
    # Every table the audit validated is on the quality page.
    stored = stored_validations(home / "quality" / "validations")
    quality = (docs / "quality.html").read_text()
    assert stored and all(f'id="{v.anchor}"' in quality for v in stored)
    # The report's tables link to their dbt docs pages, and the dbt docs open on the project's overview.
    report = (docs / "report.html").read_text()
    assert 'href="dbt/static_index.html#!/model/model.customer360.customer_360"' in report
    assert 'href="index.html"' in report
    overview = json.loads((docs / DBT_MANIFEST).read_text())["docs"]["doc.customer360.__overview__"]
    assert "customer_360" in overview["block_contents"] and "retention" in overview["block_contents"]
