"""The run report as a Dagster asset: `report/run_report`, rebuilt from serving.duckdb after the run.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import os
from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from orchestration.report.browser import find_chromium, screenshot
from orchestration.report.build import build_report, chart_markdown
from orchestration.report.site import INDEX, REPORT, table_doc_links, write_docs_site
from orchestration.settings import Settings

RUN_REPORT = AssetKey(["report", "run_report"])
# Set C360_REPORT_SCREENSHOT=0 to skip the Chromium screenshot (a few seconds per run).
SCREENSHOT_ENV = "C360_REPORT_SCREENSHOT"


def build_report_asset(settings: Settings, deps: Sequence[AssetKey]) -> AssetsDefinition:
    """The asset that writes `$C360_HOME/docs/report.html` from the serving file (and `report.png`, a screenshot,
    when Chromium is installed), with the charts as markdown images in its metadata; then the data-quality page
    and the documentation's entry page, `$C360_HOME/docs/index.html` (site.py). Put it after the dbt docs step
    (in `deps`): the report links each table it shows to its page there."""

    @asset(key=RUN_REPORT, deps=list(deps), group_name="report", kinds={"python", "html"},
           description="The run report a marketer reads at a glance: lifecycle funnel, cohort retention, repeat "
                       "purchase and churn trends, churn risk, segment sizes, campaign lift, sync and check "
                       f"results, as one self-contained page ({settings.home / 'docs' / 'report.html'}); and the "
                       f"documentation's entry page ({settings.home / 'docs' / 'index.html'}).")
    def run_report(context: AssetExecutionContext) -> MaterializeResult:
        """Build the report page from the published serving file."""
        docs = settings.home / "docs"
        result = build_report(settings.serving_database, docs / REPORT, doc_links=table_doc_links(docs, docs),
                              home=INDEX)
        for key, reason in result.missing.items():
            context.log.info(f"report section {key}: missing input ({reason})")
        for key, error in result.failed.items():
            context.log.warning(f"report section {key} could not be drawn: {error}")
        metadata = {
            "path": MetadataValue.path(str(result.path)),
            "as_of_date": result.as_of_date or "unknown",
            "sections_rendered": MetadataValue.text(", ".join(result.rendered) or "none"),
            "sections_missing": MetadataValue.md(
                "\n".join(f"- `{k}`: {v}" for k, v in result.missing.items()) or "none"),
            "sections_failed": MetadataValue.text(", ".join(result.failed) or "none"),
            **{f"chart_{key}": MetadataValue.md(chart_markdown(key, png)) for key, png in result.charts.items()},
        }
        metadata["screenshot"] = _screenshot(context, result.path, docs / "report.png")
        site = write_docs_site(docs, settings.home / "quality" / "validations", settings.home)
        metadata["docs_index"] = MetadataValue.path(str(site.index))
        metadata["quality_page"] = MetadataValue.path(str(site.quality))
        return MaterializeResult(metadata=metadata)

    return run_report


def _screenshot(context: AssetExecutionContext, page, png) -> MetadataValue:
    """Best effort: a screenshot is a convenience, never a reason to fail the run."""
    if os.environ.get(SCREENSHOT_ENV, "1") == "0":
        return MetadataValue.text(f"not taken ({SCREENSHOT_ENV}=0)")
    if find_chromium() is None:
        return MetadataValue.text("not taken (no chromium installed)")
    try:
        run = screenshot(page, png)
    except (OSError, RuntimeError, TimeoutError) as exc:
        context.log.warning(f"report screenshot failed: {exc}")
        return MetadataValue.text(f"not taken ({exc})")
    if run.console:
        context.log.warning(f"report page logged {len(run.console)} console message(s): {run.console[:3]}")
    return MetadataValue.path(str(png))
