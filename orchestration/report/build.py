"""Build the run report: one self-contained HTML page from serving.duckdb (charts as PNG data URIs, no
external URL, no script), plus the same charts as PNG bytes for Dagster metadata."""

from __future__ import annotations

import base64
import os
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.report.charts import DENSITY
from orchestration.report.data import MissingInput, Serving, open_serving
from orchestration.report.markup import Markup, join, table, tag
from orchestration.report.sections import SECTIONS, Section, run_section

DEFAULT_TITLE = "Customer 360 run report"

# Defence in depth behind the escaping: the page may load nothing but its own data-URI images and inline style,
# and run no script at all. A payload that slipped through would be blocked (and logged by the browser).
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; margin: 0;
       color: #222; background: #f5f6f8; }
header { background: #1f3b5c; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; opacity: .85; font-size: 13px; }
header a { color: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 16px 24px 48px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 16px; }
.tile { background: #fff; border-radius: 6px; padding: 10px 14px; min-width: 130px; box-shadow: 0 1px 2px #0002; }
.tile b { display: block; font-size: 20px; }
.tile span { font-size: 12px; color: #555; }
nav ol { columns: 2; font-size: 14px; background: #fff; padding: 10px 10px 10px 32px; border-radius: 6px; }
section { background: #fff; border-radius: 6px; padding: 14px 20px; margin: 16px 0; box-shadow: 0 1px 2px #0002; }
section h2 { margin: 0 0 4px; font-size: 19px; }
.how { margin: 0 0 10px; color: #444; font-size: 13px; }
.how b { color: #1f3b5c; }
.sources { font-size: 11px; color: #777; margin: 6px 0 0; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; display: block; }
.panel { border-left: 4px solid; padding: 10px 14px; margin: 8px 0; font-size: 14px; }
.panel.notice { border-color: #e08a2c; background: #fdf4ea; }
.panel.missing { border-color: #9a9a9a; background: #f1f1f1; }
.panel.error { border-color: #c8453c; background: #fbeceb; }
.notes { font-size: 13px; margin: 8px 0; padding-left: 18px; }
table { border-collapse: collapse; font-size: 12px; margin: 10px 0; width: 100%; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 6px; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #f0f2f5; }
.num { text-align: right; white-space: nowrap; }
.badge { font-size: 11px; padding: 1px 6px; border-radius: 8px; margin-left: 6px; color: #fff; }
.badge.chart { background: #3a9a5b; } .badge.notice { background: #e08a2c; }
.badge.missing { background: #9a9a9a; } .badge.error { background: #c8453c; }
"""

BADGE = {"chart": "chart", "notice": "no chart", "missing": "missing input", "error": "error"}


@dataclass(frozen=True)
class ReportResult:
    """What build_report wrote: the page, and how each section came out."""

    path: Path
    sections: tuple[Section, ...]
    as_of_date: str | None = None

    @property
    def rendered(self) -> list[str]:
        """Sections shown with their data: a chart, or a notice saying why there is nothing to chart."""
        return [s.key for s in self.sections if s.status in ("chart", "notice")]

    @property
    def missing(self) -> dict[str, str]:
        """Sections whose input is not in the serving file -> what is missing."""
        return {s.key: s.message or "" for s in self.sections if s.status == "missing"}

    @property
    def failed(self) -> dict[str, str]:
        """Sections that raised while being built -> the error (the page still renders)."""
        return {s.key: s.message or "" for s in self.sections if s.status == "error"}

    @property
    def charts(self) -> dict[str, bytes]:
        """Section key -> PNG bytes, for every section that drew a chart."""
        return {s.key: s.chart for s in self.sections if s.chart is not None}


def _as_of(db: Serving) -> str | None:
    """The date the data describes (customer_360's as-of date, else the latest segment or lifecycle day)."""
    for name, column in (("marts.customer_360", "as_of_date"), ("segments.segment_sizes_daily", "as_of_date"),
                         ("marts.lifecycle_daily", "date_day")):
        if db.has(name, column):
            value = db.scalar(f"select max({column}) from {name}")
            if value is not None:
                return str(value)
    return None


def collect_sections(serving_db: Path) -> tuple[tuple[Section, ...], str | None]:
    """Build every section from `serving_db` (opened read-only): (sections, as-of date or None)."""
    try:
        with open_serving(serving_db) as db:
            return tuple(run_section(spec, db) for spec in SECTIONS), _as_of(db)
    except (MissingInput, duckdb.Error) as exc:
        # No file, or one DuckDB cannot open: every section says so, the page is still written.
        reason = str(exc) if isinstance(exc, MissingInput) else f"cannot open {serving_db}: {exc}"
        return tuple(run_section(spec, None, reason) for spec in SECTIONS), None


def report_charts(serving_db: Path) -> dict[str, bytes]:
    """Chart name (section key) -> PNG bytes, for the sections that have something to chart."""
    sections, _ = collect_sections(serving_db)
    return {s.key: s.chart for s in sections if s.chart is not None}


def chart_markdown(name: str, png: bytes) -> str:
    """A chart as a markdown image with a data URI (how Dagster metadata shows images)."""
    return f"![{name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header."""
    return struct.unpack(">II", png[16:24])


def _sources(sources: tuple[str, ...], links: Mapping[str, str]) -> Markup:
    """The tables a section reads, each linked to its page in the dbt docs when there is one."""
    return join([tag("a", name, href=links[name.lower()]) if name.lower() in links else name for name in sources], ", ")


def _section_html(number: int, section: Section, links: Mapping[str, str]) -> Markup:
    parts: list[Markup] = [
        tag("h2", f"{number}. {section.title}", tag("span", BADGE[section.status], class_=f"badge {section.status}")),
        tag("p", tag("b", "How to read it: "), section.how_to_read, class_="how"),
    ]
    if section.status == "missing":
        parts.append(tag("div", tag("b", "Missing input: "), section.message, class_="panel missing"))
    elif section.status == "error":
        parts.append(tag("div", tag("b", "This section could not be drawn: "), section.message, class_="panel error"))
    elif section.message:
        parts.append(tag("div", section.message, class_="panel notice"))
    if section.chart is not None:
        uri = "data:image/png;base64," + base64.b64encode(section.chart).decode("ascii")
        width, height = png_size(section.chart)
        parts.append(tag("figure", tag("img", src=uri, alt=f"{section.title} chart", data_chart=section.key,
                                       width=width // DENSITY, height=height // DENSITY)))
    if section.notes:
        parts.append(tag("ul", *(tag("li", n) for n in section.notes), class_="notes"))
    parts.extend(table(t.columns, t.rows, numeric=t.numeric, caption=t.caption) for t in section.tables)
    parts.append(tag("p", "Reads: ", _sources(section.sources, links), class_="sources"))
    return tag("section", *parts, id=section.key, data_status=section.status)


def render_html(sections: tuple[Section, ...], *, title: str, serving_db: Path, as_of: str | None,
                generated_at: datetime, doc_links: Mapping[str, str] | None = None, home: str | None = None) -> str:
    """The whole page as a string; every value is escaped by markup.tag. `doc_links` links the tables a section
    reads (`schema.table`) to their documentation, `home` is the documentation's entry page."""
    subtitle = join([
        f"Data as of {as_of or 'unknown'} · built {generated_at:%Y-%m-%d %H:%M} UTC from {Path(serving_db).name}",
        *([" · ", tag("a", "All documentation", href=home)] if home else []),
    ])
    tiles = [tag("div", tag("b", value), tag("span", label), class_="tile")
             for s in sections for label, value in s.headline]
    missing = [s for s in sections if s.status in ("missing", "error")]
    if missing:
        tiles.append(tag("div", tag("b", f"{len(missing)} of {len(sections)}"),
                         tag("span", "sections without input"), class_="tile"))
    contents = tag("nav", tag("ol", *(
        tag("li", tag("a", s.title, href=f"#{s.key}"), tag("span", BADGE[s.status], class_=f"badge {s.status}"))
        for s in sections)))
    body = tag("body",
               tag("header", tag("h1", title), tag("p", subtitle)),
               tag("main", tag("div", *tiles, class_="tiles"), contents,
                   *(_section_html(i, s, doc_links or {}) for i, s in enumerate(sections, start=1))))
    head = tag("head",
               tag("meta", charset="utf-8"),
               tag("meta", http_equiv="Content-Security-Policy", content=CSP),
               tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
               tag("title", title),
               tag("style", Markup(STYLE)))
    return "<!DOCTYPE html>\n" + tag("html", head, body, lang="en") + "\n"


def build_report(serving_db: Path, out_path: Path, *, title: str = DEFAULT_TITLE,
                 doc_links: Mapping[str, str] | None = None, home: str | None = None) -> ReportResult:
    """Write the run report for `serving_db` to `out_path` (one HTML file, written atomically) and say which
    sections were rendered and which inputs were missing. Never raises for missing or empty tables.

    `doc_links` (`schema.table` -> URL, site.table_doc_links) links each table a section reads to its documentation;
    `home` links the documentation's entry page."""
    serving_db, out_path = Path(serving_db), Path(out_path)
    sections, as_of = collect_sections(serving_db)
    page = render_html(sections, title=title, serving_db=serving_db, as_of=as_of, generated_at=datetime.now(UTC),
                       doc_links=doc_links, home=home)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: someone reading the previous report never sees half a page.
    temporary = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, out_path)
    return ReportResult(path=out_path, sections=sections, as_of_date=as_of)
