"""The documentation under `$C360_HOME/docs/`, tied together: one entry page (`index.html`) linking the run report,
dbt's docs of the warehouse, the data-quality page and Great Expectations' own Data Docs.

The data-quality page (`quality.html`) renders the stored GX validation results (`$C360_HOME/quality/validations/`)
into a self-contained page like the report: GX's Data Docs (`gx/`) load their styles and scripts from public CDNs,
so without internet they show an unstyled page with empty lists. Both pages written here are plain HTML with
inline style, no script and no outside URL (the report's Content-Security-Policy), so they work offline.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestration.quality.validation import GX_DOCS_FOLDER
from orchestration.report.build import CSP, STYLE
from orchestration.report.markup import Markup, join, table, tag

log = logging.getLogger(__name__)

INDEX = "index.html"
REPORT = "report.html"
QUALITY = "quality.html"
DBT_DOCS = Path("dbt") / "static_index.html"
DBT_MANIFEST = Path("dbt") / "manifest.json"
GX_INDEX = Path(GX_DOCS_FOLDER) / "index.html"
PREDICTIONS_FIGURE = Path("predictions") / "calibration_holdout.png"
# Validations listed in the history table of the quality page (GX keeps the last runs of every suite).
HISTORY_ROWS = 200
MAX_CELL = 160

SITE_STYLE = STYLE + """
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; margin: 16px 0; }
.card { background: #fff; border-radius: 6px; padding: 14px 18px; box-shadow: 0 1px 2px #0002; }
.card h2 { margin: 0 0 6px; font-size: 18px; }
.card p { margin: 4px 0; font-size: 14px; }
.card .state { font-size: 12px; color: #666; }
.card ul { margin: 6px 0; padding-left: 20px; font-size: 14px; }
.badge.passed { background: #3a9a5b; } .badge.failed { background: #c8453c; } .badge.absent { background: #9a9a9a; }
tr.failed td { background: #fbeceb; }
code { background: #f0f2f5; padding: 0 3px; border-radius: 3px; font-size: 12px; }
"""


def _badge(success: bool) -> Markup:
    return tag("span", "passed" if success else "failed", class_=f"badge {'passed' if success else 'failed'}")


def _write(path: Path, page: str) -> Path:
    """Write a page atomically: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, path)
    return path


def _page(title: str, subtitle: Markup | str, *body: Markup) -> str:
    head = tag("head", tag("meta", charset="utf-8"),
               tag("meta", http_equiv="Content-Security-Policy", content=CSP),
               tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
               tag("title", title), tag("style", Markup(SITE_STYLE)))
    page = tag("body", tag("header", tag("h1", title), tag("p", subtitle)), tag("main", *body))
    return "<!DOCTYPE html>\n" + tag("html", head, page, lang="en") + "\n"


def _cut(value: Any, limit: int = MAX_CELL) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- links into dbt's docs ------------------------------------------------------------------------------------

def dbt_manifest(docs_root: Path) -> dict | None:
    """The manifest of the dbt docs site under `docs_root` (the one its pages are built from), None without one."""
    path = Path(docs_root) / DBT_MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def dbt_doc_fragments(manifest: Mapping[str, Any] | None) -> dict[str, str]:
    """`schema.table` (lower case) -> the fragment of its page in dbt's docs site: `#!/model/<unique_id>` for a
    model, seed or snapshot, `#!/source/<unique_id>` for a source (a table the pipeline writes itself)."""
    if not manifest:
        return {}
    fragments: dict[str, str] = {}
    for source in manifest.get("sources", {}).values():
        fragments[f"{source['schema']}.{source.get('identifier') or source['name']}".lower()] = (
            f"#!/source/{source['unique_id']}")
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") in ("model", "seed", "snapshot"):
            fragments[f"{node['schema']}.{node.get('alias') or node['name']}".lower()] = (
                f"#!/{node['resource_type']}/{node['unique_id']}")
    return fragments


def table_doc_links(docs_root: Path, page_dir: Path) -> dict[str, str]:
    """`schema.table` -> a link from a page in `page_dir` to the table's page in the dbt docs under `docs_root`
    (none when those docs were not built)."""
    docs_page = Path(docs_root) / DBT_DOCS
    if not docs_page.is_file():
        return {}
    href = Path(os.path.relpath(docs_page, page_dir)).as_posix()
    return {table: href + fragment for table, fragment in dbt_doc_fragments(dbt_manifest(docs_root)).items()}


# --- the data-quality page ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Validation:
    """One stored GX validation result: a suite validated against one batch in one run."""

    suite: str
    asset: str
    run_name: str
    validated_at: str
    success: bool
    evaluated: int
    failed: int
    results: tuple[dict, ...]
    path: Path

    @property
    def table(self) -> str:
        """The table validated, without the export dates of a raw batch (`raw.shop__orders.dt=...`)."""
        return self.asset.split(".dt=", 1)[0] or self.suite

    @property
    def anchor(self) -> str:
        """The id of the table's section on the quality page."""
        return "check-" + "".join(c if c.isalnum() or c == "_" else "-" for c in self.table)


def stored_validations(results_dir: Path) -> list[Validation]:
    """Every validation result GX stored under `results_dir`, newest first (unreadable files are skipped)."""
    found = []
    for path in Path(results_dir).rglob("*.json"):
        try:
            data = json.loads(path.read_text())
            meta = data.get("meta") or {}
            statistics = data.get("statistics") or {}
            batch = meta.get("active_batch_definition") or {}
            found.append(Validation(
                suite=str(data["suite_name"]), asset=str(batch.get("data_asset_name") or ""),
                run_name=str((meta.get("run_id") or {}).get("run_name") or ""),
                validated_at=str(meta.get("validation_time") or ""), success=bool(data.get("success")),
                evaluated=int(statistics.get("evaluated_expectations") or 0),
                failed=int(statistics.get("unsuccessful_expectations") or 0),
                results=tuple(data.get("results") or ()), path=path))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipped validation result %s: %s", path, exc)
    return sorted(found, key=lambda v: (v.validated_at, v.suite), reverse=True)


def latest_per_table(validations: Sequence[Validation]) -> list[Validation]:
    """The newest validation of every table (one suite may check several tables: the segment suite checks every
    segment), by table name."""
    latest: dict[str, Validation] = {}
    for validation in validations:  # newest first
        latest.setdefault(validation.table, validation)
    return [latest[name] for name in sorted(latest)]


def _when(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp or "–"


def _short(run_name: str) -> str:
    """A run id as the Dagster UI shows it: its first 8 characters."""
    return run_name[:8]


def _check(result: Mapping[str, Any]) -> tuple[str, str]:
    """(what the expectation checks, its other arguments) in words: `values to be unique`, `column: order_key`."""
    config = result.get("expectation_config") or {}
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    what = str(config.get("type") or "?").removeprefix("expect_").replace("_", " ")
    return what, ", ".join(f"{k}: {_cut(v, 60)}" for k, v in kwargs.items())


def _observed(result: Mapping[str, Any]) -> str:
    """What the validation saw: the observed value, or how many rows were unexpected, with a sample."""
    exception = result.get("exception_info") or {}
    if exception.get("raised_exception"):
        return "error: " + _cut(exception.get("exception_message") or "exception")
    outcome = result.get("result") or {}
    if "observed_value" in outcome:
        return "observed " + _cut(outcome["observed_value"])
    if outcome.get("unexpected_count") is not None:
        text = (f"{int(outcome['unexpected_count']):,} of {int(outcome.get('element_count') or 0):,} unexpected "
                f"({float(outcome.get('unexpected_percent') or 0):.2f}%)")
        sample = (outcome.get("partial_unexpected_list") or [])[:5]
        return text + (f", e.g. {_cut(sample, 100)}" if sample and outcome["unexpected_count"] else "")
    return ""


def _expectation_rows(validation: Validation) -> list[tuple[Markup, ...]]:
    rows = []
    ordered = sorted(enumerate(validation.results), key=lambda item: (bool(item[1].get("success")), item[0]))
    for _, result in ordered:
        config = result.get("expectation_config") or {}
        meta = config.get("meta") or {}
        what, arguments = _check(result)
        passed = bool(result.get("success"))
        rows.append((tag("span", "passed" if passed else "FAILED", class_=f"badge {'passed' if passed else 'failed'}"),
                     what, arguments, meta.get("severity") or config.get("severity") or "", meta.get("why") or "",
                     _observed(result)))
    return rows


def _gx_page(validation: Validation, results_dir: Path, docs_root: Path) -> str | None:
    """The link from the quality page to GX's own page of the same validation, when GX wrote one."""
    page = (docs_root / GX_DOCS_FOLDER / "validations" / validation.path.relative_to(results_dir)).with_suffix(".html")
    return Path(os.path.relpath(page, docs_root)).as_posix() if page.is_file() else None


def render_quality(validations: Sequence[Validation], results_dir: Path, docs_root: Path,
                   generated_at: datetime) -> str:
    """The data-quality page: a summary per table validated (its newest validation), one section per table listing
    each expectation with its result, and the history of stored validations."""
    latest = latest_per_table(validations)
    failing = [v for v in latest if not v.success]
    tiles = [tag("div", tag("b", value), tag("span", label), class_="tile") for label, value in (
        ("tables validated", f"{len(latest):,}"),
        ("expectations in their latest validation", f"{sum(v.evaluated for v in latest):,}"),
        ("tables failing", f"{len(failing):,}"),
        ("failed expectations", f"{sum(v.failed for v in latest):,}"),
    )]
    summary_rows = [(tag("a", v.table, href=f"#{v.anchor}"), v.suite, v.asset.removeprefix(v.table).lstrip("."),
                     _when(v.validated_at), _short(v.run_name), f"{v.evaluated:,}", f"{v.failed:,}", _badge(v.success))
                    for v in latest]
    parts: list[Markup] = [
        tag("div", *tiles, class_="tiles"),
        tag("section", tag("h2", "Tables validated"),
            tag("p", "The newest validation of every table, with its suite of expectations. A critical expectation "
                     "that fails blocks publishing; a warning is reported and blocks nothing "
                     "(expectations/README.md).", class_="how"),
            table(("table", "suite", "batch", "validated", "run", "expectations", "failed", "status"), summary_rows,
                  numeric=(False, False, False, False, False, True, True, False)) if latest else
            tag("div", "No validation stored yet: `c360 run` validates every suite.", class_="panel missing"),
            id="suites"),
    ]
    for v in latest:
        gx = _gx_page(v, results_dir, docs_root)
        parts.append(tag(
            "section",
            tag("h2", v.table, _badge(v.success)),
            tag("p", f"suite {v.suite} · {v.asset} · validated {_when(v.validated_at)} · run {v.run_name} · "
                     f"{v.evaluated - v.failed:,} of {v.evaluated:,} expectations met", class_="how"),
            table(("result", "expectation", "arguments", "severity", "why", "observed"), _expectation_rows(v)),
            tag("p", "The same validation in GX's Data Docs (needs internet for its styles): ",
                tag("a", gx, href=gx), class_="sources") if gx else Markup(""),
            id=v.anchor, data_status="passed" if v.success else "failed"))
    history = [(v.table, v.suite, _when(v.validated_at), _short(v.run_name), f"{v.evaluated:,}", f"{v.failed:,}",
                _badge(v.success)) for v in validations[:HISTORY_ROWS]]
    shown = f" (the {len(history)} newest of {len(validations)})." if len(validations) > len(history) else "."
    parts.append(tag("section", tag("h2", "Stored validations"),
                     tag("p", f"Every validation result kept under {results_dir}, newest first{shown}", class_="how"),
                     table(("table", "suite", "validated", "run", "expectations", "failed", "status"), history,
                           numeric=(False, False, False, False, True, True, False)),
                     id="history"))
    subtitle = join([tag("a", "All documentation", href=INDEX),
                     f" · {len(validations):,} stored validations · written {generated_at:%Y-%m-%d %H:%M} UTC"])
    return _page("Data quality: Great Expectations validations", subtitle, *parts)


# --- the entry page -------------------------------------------------------------------------------------------

def _state(path: Path, missing: str) -> Markup:
    if path.is_file():
        stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return tag("p", f"Updated {stamp:%Y-%m-%d %H:%M} UTC", class_="state")
    return tag("p", tag("span", "not written yet", class_="badge absent"), " ", missing, class_="state")


def _link(label: str, href: str, exists: bool) -> Markup:
    return tag("a", label, href=href) if exists else tag("span", label)


def _start_here(manifest: Mapping[str, Any] | None, exists: bool) -> Markup:
    """Links to the dbt docs pages to read first: customer_360, the segments and the retention marts."""
    if not manifest:
        return Markup("")
    models = [n for n in manifest.get("nodes", {}).values() if n.get("resource_type") == "model"]
    fqn = {n["name"]: n.get("fqn", []) for n in models}
    ids = {n["name"]: n["unique_id"] for n in models}

    def links(names: Sequence[str]) -> Markup:
        return join([_link(name, f"{DBT_DOCS.as_posix()}#!/model/{ids[name]}", exists) for name in names], ", ")

    groups = [("The person", ["customer_360"] if "customer_360" in ids else []),
              ("Segments (what is synced to the email tools)", sorted(n for n in ids if fqn[n][1:2] == ["segments"])),
              ("Retention", sorted(n for n in ids if fqn[n][1:3] == ["marts", "retention"]))]
    return tag("ul", *(tag("li", f"{label}: ", links(names)) for label, names in groups if names))


def render_index(docs_root: Path, validations: Sequence[Validation], generated_at: datetime,
                 home: Path | None = None) -> str:
    """The entry page: a card per documentation site, each saying when it was written (or what writes it)."""
    manifest = dbt_manifest(docs_root)
    latest = latest_per_table(validations)
    failing = [v for v in latest if not v.success]
    dbt_exists = (docs_root / DBT_DOCS).is_file()
    cards = [
        tag("div", tag("h2", _link("Run report", REPORT, (docs_root / REPORT).is_file())),
            tag("p", "Start here: the lifecycle funnel, cohort retention, repeat purchase and churn, churn risk, "
                     "segment sizes, campaign lift, syncs and checks of the latest run, each section linked to the "
                     "documentation of the tables it reads."),
            _state(docs_root / REPORT, "`c360 run` (or `c360 report`) writes it."), class_="card", id="report"),
        tag("div", tag("h2", _link("The warehouse (dbt docs)", DBT_DOCS.as_posix(), dbt_exists)),
            tag("p", "Every model and column described, its tests, and the lineage from the landing files to the "
                     "segments. Where to start:"),
            _start_here(manifest, dbt_exists),
            _state(docs_root / DBT_DOCS, "`c360 run` writes it after publishing."), class_="card", id="dbt"),
        tag("div", tag("h2", _link("Data quality", QUALITY, (docs_root / QUALITY).is_file())),
            tag("p", f"{len(latest):,} tables checked by Great Expectations suites; in their latest validation "
                     + (f"{len(failing):,} failing ({sum(v.failed for v in failing):,} expectations)."
                        if failing else "all passed.") if latest else "No validation stored yet."),
            tag("p", "Each expectation with what it found, readable offline."),
            _state(docs_root / QUALITY, "`c360 run` (or `c360 report`) writes it."), class_="card", id="quality"),
        tag("div", tag("h2", _link("Great Expectations Data Docs", GX_INDEX.as_posix(),
                                   (docs_root / GX_INDEX).is_file())),
            tag("p", "GX's own site of the same validations and suites. It loads its styles and scripts from public "
                     "CDNs: without internet it shows an unstyled page with empty lists (use Data quality above)."),
            _state(docs_root / GX_INDEX, "The audit of `c360 run` writes it."), class_="card", id="gx"),
    ]
    if (docs_root / PREDICTIONS_FIGURE).is_file():
        cards.append(tag("div", tag("h2", _link("Predictions: calibration", PREDICTIONS_FIGURE.as_posix(), True)),
                         tag("p", "Predicted against actual repeat purchases over the holdout weeks (BG/NBD)."),
                         _state(docs_root / PREDICTIONS_FIGURE, ""), class_="card", id="predictions"))
    dagster_home = (home / "dagster") if home else None
    cards.append(tag("div", tag("h2", "Runs, assets and lineage (Dagster UI)"),
                     tag("p", "Every run with its logs, each asset's metadata (row counts, checks) and the lineage "
                              "graph: ", tag("code", f"DAGSTER_HOME={dagster_home or '$C360_HOME/dagster'} "
                                                     "dagster dev"), " in the repository, then http://localhost:3000."),
                     class_="card", id="dagster"))
    subtitle = f"{docs_root} · written {generated_at:%Y-%m-%d %H:%M} UTC"
    return _page("Customer 360 documentation", subtitle, tag("div", *cards, class_="cards"))


@dataclass(frozen=True)
class DocsSite:
    """What write_docs_site wrote."""

    index: Path
    quality: Path
    validations: int
    tables: int
    failing_tables: int


def write_docs_site(docs_root: Path, results_dir: Path, home: Path | None = None) -> DocsSite:
    """Write the data-quality page and the entry page of `docs_root` (the run report and the dbt docs are written by
    their own steps; the entry page links whatever exists)."""
    docs_root, results_dir = Path(docs_root), Path(results_dir)
    now = datetime.now(UTC)
    validations = stored_validations(results_dir)
    quality = _write(docs_root / QUALITY, render_quality(validations, results_dir, docs_root, now))
    index = _write(docs_root / INDEX, render_index(docs_root, validations, now, home))
    latest = latest_per_table(validations)
    return DocsSite(index, quality, len(validations), len(latest), sum(not v.success for v in latest))
