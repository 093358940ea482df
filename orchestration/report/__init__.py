"""The run report: one self-contained HTML page a marketer reads at a glance, built from serving.duckdb.

`build_report(serving_db, out_path)` writes the page, `report_charts(serving_db)` returns the same charts as PNG
bytes (for Dagster metadata); `orchestration.report.assets` holds the Dagster asset.
"""

from orchestration.report.build import DEFAULT_TITLE, ReportResult, build_report, chart_markdown, report_charts
from orchestration.report.sections import SECTION_KEYS

__all__ = ["DEFAULT_TITLE", "SECTION_KEYS", "ReportResult", "build_report", "chart_markdown", "report_charts"]
