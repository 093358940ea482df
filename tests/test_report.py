"""The run report: one self-contained HTML page from serving.duckdb, every section drawn or explained, every
string from the data escaped, clean in headless Chromium; and its Dagster asset.

Most tests build a small serving file by hand (fast); one end-to-end test uses the tiny pipeline run.
"""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pytest
from matplotlib import image as mpimg

from orchestration.campaigns.assets import write_lift_stats
from orchestration.campaigns.lift import lift_statistics, newcombe_interval
from orchestration.report import SECTION_KEYS, build_report, chart_markdown, report_charts
from orchestration.report.browser import console_messages, find_chromium, run_chromium
from orchestration.report.markup import Markup, escape, tag

AS_OF = date(2026, 10, 31)
STAGES = ("prospect", "first_time", "repeat", "loyal", "advocate")

# Strings an attacker (or an unlucky CSV) could put in the data. Each lands in a field the report shows.
SCRIPT = '<script>console.error("xss-script")</script>'
IMG = '"><img src=x onerror=console.error("xss-img")>'
QUOTE = "' onmouseover='console.error(1)' x='"
MATH = r"$\frac{1}{0}$ & <b>bold</b>"
PAYLOADS = {
    "segment": "seg_" + IMG,  # segment names: sizes, lift, syncs
    "stage": SCRIPT,  # a lifecycle stage
    "destination": "dest" + QUOTE,
    "check": "check_" + SCRIPT,
    "details": '{"reason": "' + IMG + '"}',
    "message": "API said " + SCRIPT,
    "math_segment": "seg_" + MATH,  # mathtext would choke on this in a chart label
}
CUSTOMER_NAME = "<script>alert(1)</script>"  # never shown, must never appear raw either
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "main", "div", "b",
                "span", "nav", "ol", "ul", "li", "a", "section", "figure", "img", "table", "caption", "thead",
                "tbody", "tr", "th", "td"}


def make_serving(path: Path, *, payloads: bool = False, predictions: bool = True, matured: bool = True,
                 days: int = 3, drop: tuple[str, ...] = (), empty: bool = False) -> Path:
    """A small serving file with the columns the report reads. `drop` leaves tables out, `empty` leaves every
    table without rows, `payloads` puts the PAYLOADS into fields the report shows."""
    p = PAYLOADS if payloads else {k: f"plain_{k}" for k in PAYLOADS}
    con = duckdb.connect(str(path))
    for schema in ("marts", "segments", "predictions", "audit", "activation"):
        con.execute(f"create schema {schema}")
    con.execute("""
        create table marts.customer_360 (customer_key varchar, first_name varchar, lifecycle_stage varchar,
            orders_count bigint, churn_probability double, churn_risk_band varchar, as_of_date date);
        create table marts.lifecycle_daily (date_day date, lifecycle_stage varchar, stage_order integer,
            people_count bigint, entered_count bigint, exited_count bigint);
        create table marts.customer_cohorts_monthly (cohort_month date, months_since_first_order integer,
            cohort_size bigint, active_customers bigint, retention_rate double, is_partial_month boolean);
        create table marts.retention_metrics (calendar_month date, is_partial_month boolean,
            repeat_purchase_rate double, repurchase_rate_90d double, churn_rate double);
        create table predictions.customer_predictions (customer_key varchar, churn_probability double,
            model_status varchar);
        create table predictions.model_params (model varchar, parameter varchar, value double);
        create table segments.segment_sizes_daily (as_of_date date, segment_name varchar, purpose varchar,
            members bigint, holdout_members bigint, entered bigint, exited bigint);
        create table marts.campaign_lift (segment_name varchar, treated_members bigint, treated_converted bigint,
            treated_conversion_rate double, holdout_members bigint, holdout_converted bigint,
            holdout_conversion_rate double, conversion_lift double, treated_revenue double,
            treated_revenue_sum_squares double, holdout_revenue double, holdout_revenue_sum_squares double,
            pending_members bigint, conversion_window_days integer, as_of_date date);
        create table activation.sync_runs (run_id varchar, sync_id varchar, segment varchar, destination varchar,
            mode varchar, dry_run boolean, status varchar, started_at timestamp, audience bigint, unchanged bigint,
            sent bigint, succeeded bigint, rejected bigint, failed bigint, message varchar);
        create table audit.erasure_deletions (destination varchar, people_pending bigint, people_overdue bigint,
            oldest_erased_at timestamptz, deadline_days integer, checked_at timestamptz);
        create table audit.check_results (run_id varchar, checked_at timestamp, asset varchar, suite varchar,
            check_name varchar, severity varchar, status varchar, success boolean, unexpected_count bigint,
            details varchar);
    """)
    if not empty:
        _fill(con, p, predictions=predictions, matured=matured, days=days)
    # The lift statistics as the pipeline's step computes them from campaign_lift.
    write_lift_stats(con, min_members=100)
    for table in drop:
        con.execute(f"drop table {table}")
    con.close()
    return path


def _fill(con, p: dict, *, predictions: bool, matured: bool, days: int) -> None:
    rng = np.random.default_rng(7)
    people = []
    for i in range(60):
        stage = (*STAGES, p["stage"])[i % 6]
        orders = 0 if stage == "prospect" else 1 + i % 4
        churn = float(rng.uniform()) if predictions and orders else None
        band = None if churn is None else "high" if churn >= 0.66 else "medium" if churn >= 0.33 else "low"
        people.append((f"c{i}", CUSTOMER_NAME if i == 3 else f"name{i}", stage, orders, churn, band, AS_OF))
    con.executemany("insert into marts.customer_360 values (?, ?, ?, ?, ?, ?, ?)", people)
    con.executemany("insert into marts.lifecycle_daily values (?, ?, ?, ?, ?, ?)",
                    [(AS_OF - timedelta(days=d), s, n, 10 + n, n % 3, d % 2) for d in range(3)
                     for n, s in enumerate((*STAGES, p["stage"]), start=1)])
    cohorts = []
    for c in range(6):
        month = date(2026, 5 + c, 1)
        for m in range(6 - c):
            cohorts.append((month, m, 20 + c, 0, 1.0 if m == 0 else 0.4 / m, m == 5 - c))
    con.executemany("insert into marts.customer_cohorts_monthly values (?, ?, ?, ?, ?, ?)", cohorts)
    con.executemany("insert into marts.retention_metrics values (?, ?, ?, ?, ?)",
                    [(date(2026, 3 + m, 1), m == 7, 0.1 + m * 0.03, None if m > 4 else 0.2 + m * 0.01,
                      None if m == 0 else 0.02 + m * 0.002) for m in range(8)])
    status = "ok" if predictions else "refused"
    con.executemany("insert into predictions.customer_predictions values (?, ?, ?)",
                    [(r[0], r[4], status) for r in people if r[3]])
    if predictions:
        con.executemany("insert into predictions.model_params values (?, ?, ?)",
                        [("bgnbd", "r", 0.5), ("bgnbd", "alpha", 3.0)])
    segments = ["seg_winback_at_risk", p["segment"], p["math_segment"]]
    con.executemany("insert into segments.segment_sizes_daily values (?, ?, ?, ?, ?, ?, ?)",
                    [(AS_OF - timedelta(days=d), s, "marketing", 30 + 5 * k - d, 3, 4 + d, d)
                     for d in range(days) for k, s in enumerate(segments)])
    lift = []
    # seg_winback_at_risk: 400 vs 200 members, 20% vs 10% (significant); the next: 41 vs 8 (too few); the last:
    # nobody matured yet.
    for k, s in enumerate(segments):
        treated, holdout = ((400, 200) if k == 0 else (41, 8)) if matured and k < 2 else (0, 0)
        rate_t = 0.2 + 0.05 * k if treated else None
        rate_h = 0.1 if holdout else None
        converted_t, converted_h = int(treated * (rate_t or 0)), int(holdout * (rate_h or 0))
        lift.append((s, treated, converted_t, rate_t, holdout, converted_h, rate_h,
                     None if rate_t is None or rate_h is None else rate_t - rate_h,
                     60.0 * converted_t, 4000.0 * converted_t, 55.0 * converted_h, 3500.0 * converted_h,
                     12 + k, 30, AS_OF))
    if matured:  # the whole programme, without a global holdout: nothing to compare with
        lift.append(("_all_marketing", 441, 90, 90 / 441, 0, 0, None, None, 5400.0, 360000.0, 0.0, 0.0, 39, 30,
                     AS_OF))
    con.executemany("insert into marts.campaign_lift values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", lift)
    runs = []
    start = datetime(2026, 11, 1, 6, 0)
    for k, s in enumerate(segments):
        for d, dest in enumerate(("file", "klaviyo", p["destination"])):
            sync = f"{s}:{dest}"
            runs.append((f"old{k}{d}", sync, s, dest, "mirror", False, "success", start - timedelta(days=1),
                         30, 0, 30, 30, 0, 0, None))
            status = ("success", "skipped", "failed")[d]
            message = {"skipped": "KLAVIYO_API_KEY is not set", "failed": p["message"]}.get(status)
            runs.append((f"new{k}{d}", sync, s, dest, "mirror", False, status, start, 30, 25, 5, 4 if d == 0 else 0,
                         1 if d == 0 else 0, 5 if status == "failed" else 0, message))
    con.executemany("insert into activation.sync_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
    checks = []
    for i in range(12):
        severity = "critical" if i % 3 else "warning"
        status = "skipped" if i % 5 == 4 else "passed"
        checks.append(("run1", start, "marts/customer_360", "marts.customer_360", f"check_{i}", severity, status,
                       None if status == "skipped" else True, 0, "{}"))
    # An old failure that passed since (must not be listed), and two current failures.
    checks.append(("run0", start - timedelta(days=1), "marts/customer_360", "marts.customer_360", "check_1",
                   "critical", "failed", False, 9, "old failure"))
    checks.append(("run1", start, "segments/" + p["segment"], "segments.segment", p["check"], "critical", "failed",
                   False, 3, p["details"]))
    checks.append(("run1", start, "raw/shop__orders", "raw.shop__orders", "row_count_in_range", "warning", "error",
                   False, None, "query failed"))
    con.executemany("insert into audit.check_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", checks)
    con.executemany("insert into audit.erasure_deletions values (?, ?, ?, ?, 7, ?)",
                    [("klaviyo", 3, 2, start - timedelta(days=12), start),
                     (p["destination"], 1, 0, start - timedelta(days=2), start)])


def decode_png(data: bytes) -> np.ndarray:
    """A PNG as an array (raises if it is not a PNG)."""
    return mpimg.imread(io.BytesIO(data), format="png")


def coloured_share(pixels: np.ndarray) -> float:
    """Share of pixels with a colour (not white, grey or black): the data marks. Axes, labels and titles are
    grey, so a chart drawn without data scores 0."""
    rgb = pixels[..., :3]
    return float(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.15).mean())


class TagCollector(HTMLParser):
    """Every start tag with its attributes, as the browser's tokenizer would see them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, name, attrs):
        self.tags.append((name, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict]]:
    collector = TagCollector()
    collector.feed(page)
    return collector.tags


def assert_structure_is_ours(page: str) -> None:
    """Only the tags and attributes the renderer writes: no script, no event handler, no outside URL."""
    for name, attrs in tags_of(page):
        assert name in ALLOWED_TAGS, f"unexpected <{name}> in the page"
        assert not [a for a in attrs if a.startswith("on")], f"event handler on <{name}>: {attrs}"
        if name == "img":
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:60]
        if name == "a":
            assert attrs["href"].startswith("#"), attrs["href"]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """A report of a serving file where every section has data (payloads included): (result, page)."""
    folder = tmp_path_factory.mktemp("report")
    serving = make_serving(folder / "serving.duckdb", payloads=True)
    result = build_report(serving, folder / "docs" / "report.html", title="Report " + SCRIPT)
    return result, result.path.read_text(encoding="utf-8")


# --- the page ------------------------------------------------------------------------------------------------

def test_every_section_draws_a_chart_with_data(full_report):
    result, page = full_report
    assert result.rendered == list(SECTION_KEYS)
    assert result.missing == {} and result.failed == {}
    assert set(result.charts) == set(SECTION_KEYS)
    for key, png in result.charts.items():
        pixels = decode_png(png)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 500, key
        assert coloured_share(pixels) > 0.005, f"{key} looks empty"
    assert page.count('data-chart="') == len(SECTION_KEYS) == 9
    for key in SECTION_KEYS:
        assert f'<section id="{key}" data-status="chart">' in page
    assert page.count("How to read it: ") == 9


def test_the_page_stands_alone(full_report):
    _, page = full_report
    assert_structure_is_ours(page)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "Content-Security-Policy" in page and "default-src &#x27;none&#x27;" in page


def test_sections_say_what_the_data_says(full_report):
    _, page = full_report
    # Lift measured on matured members only; the segment without any is listed as pending.
    assert "3 of 4 segments have matured members" in page
    assert "+10.0 pts" in page  # seg_winback_at_risk: 20% contacted vs 10% holdout
    # The verdicts in words, with the interval drawn in the chart.
    low, high = newcombe_interval(80, 400, 20, 200)
    assert ("seg_winback_at_risk: significant. Contacted members converted 10.0 pts more than the holdout "
            f"(95% interval {float(low) * 100:+.1f} pts to {float(high) * 100:+.1f} pts, p = 0.002): messaging added "
            "about 40 conversions") in page
    assert ": too few members to judge. 41 contacted and 8 holdout members have matured; 100 are needed in each." \
        in page
    assert ("The whole marketing programme against the global holdout: too few members to judge. 441 contacted and 0 "
            "holdout members have matured; 100 are needed in each. Switch on the global holdout") in page
    assert "all marketing (global holdout)" in page
    # Syncs: the latest run per sync, a failure included; the older successful runs are not counted.
    assert "9 syncs; latest runs: 3 success, 3 failed, 3 skipped." in page
    # Checks: the latest result per check; the old failure of check_1 passed since and is not listed.
    assert "2 failed checks (1 critical)" in page
    assert "old failure" not in page and "query failed" in page
    assert "On average" in page and "buys again in the month after its first order" in page
    # Erasure deletions: 4 people still held by 2 destinations, 2 of them past the 7-day deadline.
    assert ("4 erased people are still held by 2 destination(s) that have not confirmed their deletion (failed, or "
            "skipped for want of an API key); 2 of them are past the 7-day deadline.") in page


def test_every_string_from_the_data_is_escaped(full_report):
    _, page = full_report
    shown = {**PAYLOADS, "title": "Report " + SCRIPT}
    for name, payload in shown.items():
        if name == "math_segment":
            assert html.escape(payload) in page
            continue
        assert payload not in page, f"{name} reached the page unescaped"
        assert html.escape(payload, quote=True) in page, f"{name} is not shown escaped"
    assert CUSTOMER_NAME not in page
    assert "<b>bold</b>" not in page
    assert_structure_is_ours(page)


def test_markup_escapes_children_and_attributes():
    assert tag("td", '<a href="x">') == "<td>&lt;a href=&quot;x&quot;&gt;</td>"
    assert tag("img", src='x" onerror="y', alt="'") == '<img src="x&quot; onerror=&quot;y" alt="&#x27;">'
    assert tag("p", Markup("<b>ok</b>"), "<b>") == "<p><b>ok</b>&lt;b&gt;</p>"
    assert escape(None) == "" and escape(escape("<")) == "&lt;"
    assert tag("section", data_status="chart", class_="x", hidden=True, title=None) == \
        '<section data-status="chart" class="x" hidden></section>'


# --- thin, old and missing inputs ---------------------------------------------------------------------------

def test_refused_predictions_and_unmatured_lift_are_explained_not_charted(tmp_path):
    serving = make_serving(tmp_path / "serving.duckdb", predictions=False, matured=False, days=1)
    result = build_report(serving, tmp_path / "report.html")
    page = result.path.read_text()
    sections = {s.key: s for s in result.sections}
    assert sections["churn_risk"].status == "notice" and sections["churn_risk"].chart is None
    assert sections["churn_risk"].message.startswith("No predictions: the churn model refused to predict")
    assert "&#x27;refused&#x27; for 50 customers" in page and "predictions.model_params holds no fitted" in page
    assert sections["campaign_lift"].status == "notice" and sections["campaign_lift"].chart is None
    assert "No matured members yet: all 39 members of 3 segments are still inside their 30-day window" in page
    # A single day of segment history still gets its chart (bars, not lines).
    assert sections["segment_sizes"].status == "chart"
    assert set(report_charts(serving)) == set(SECTION_KEYS) - {"churn_risk", "campaign_lift"}
    assert result.failed == {}


def test_missing_tables_are_named_and_the_rest_still_renders(tmp_path):
    serving = make_serving(tmp_path / "serving.duckdb", drop=(
        "activation.sync_runs", "audit.check_results", "marts.campaign_lift", "marts.customer_360",
        "predictions.customer_predictions"))
    result = build_report(serving, tmp_path / "report.html")
    page = result.path.read_text()
    assert result.missing == {
        "churn_risk": "table marts.customer_360 is not in the serving file",
        "campaign_lift": "table marts.campaign_lift is not in the serving file",
        "sync_results": "table activation.sync_runs is not in the serving file (no sync published yet: syncs are "
                        "logged after the serving file is published, so they show from the next run on)",
        "check_results": "table audit.check_results is not in the serving file",
    }
    # The funnel falls back to the latest day of lifecycle_daily.
    assert "lifecycle_funnel" in result.rendered and "lifecycle_funnel" in result.charts
    assert page.count("Missing input: ") == 4
    assert "4 of 9" in page and result.failed == {}


def test_an_older_serving_file_without_some_columns(tmp_path):
    serving = make_serving(tmp_path / "serving.duckdb")
    with duckdb.connect(str(serving)) as con:
        for column in ("repeat_purchase_rate", "repurchase_rate_90d", "churn_rate"):
            con.execute(f"alter table marts.retention_metrics drop column {column}")
        con.execute("alter table marts.campaign_lift drop column pending_members")
        con.execute("alter table marts.customer_360 drop column churn_risk_band")
    result = build_report(serving, tmp_path / "report.html")
    assert "has none of the rate columns" in result.missing["retention_trends"]
    assert result.missing["campaign_lift"] == \
        "marts.campaign_lift has no column pending_members (a serving file from an older version?)"
    # Without the band column, bands come from the probabilities at dbt's default thresholds.
    assert "churn_risk" in result.charts and result.failed == {}


def test_empty_tables_and_no_serving_file(tmp_path):
    empty = build_report(make_serving(tmp_path / "empty.duckdb", empty=True), tmp_path / "empty.html")
    assert empty.failed == {} and empty.missing == {} and empty.charts == {}
    assert [s.status for s in empty.sections] == ["notice"] * 9
    assert "No sync has run yet" in empty.path.read_text()
    assert "No deletion is pending" in empty.path.read_text()

    absent = build_report(tmp_path / "nothing.duckdb", tmp_path / "absent.html")
    assert set(absent.missing) == set(SECTION_KEYS) and absent.rendered == []
    assert all("does not exist" in reason for reason in absent.missing.values())
    assert absent.path.is_file()


def test_the_serving_file_is_opened_read_only(tmp_path):
    serving = make_serving(tmp_path / "serving.duckdb")
    before = serving.stat().st_mtime_ns, serving.read_bytes()
    # DuckDB refuses a read-write open of a file this process already holds read-only: the report gets
    # through only because it opens the file read-only too.
    with duckdb.connect(str(serving), read_only=True):
        result = build_report(serving, tmp_path / "report.html")
    assert result.missing == {} and result.failed == {}
    assert (serving.stat().st_mtime_ns, serving.read_bytes()) == before
    assert not Path(str(serving) + ".wal").exists()


# --- headless Chromium ---------------------------------------------------------------------------------------

CHROMIUM = find_chromium()


@pytest.fixture
def chromium() -> str:
    """The Chromium binary. Without one the browser tests fail, never skip: the README's test command
    (scripts/test.sh) installs it, so a missing browser is a broken set-up, not an optional extra."""
    if CHROMIUM is None:
        pytest.fail("chromium not found: `bash scripts/test.sh` installs it (or apt-get install -y chromium, "
                    "or set C360_CHROMIUM)")
    return CHROMIUM


needs_chromium = pytest.mark.usefixtures("chromium")
CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')
PROBE = """<script nonce="probe">window.addEventListener("load", () => {
  const charts = [...document.querySelectorAll("img[data-chart]")];
  document.body.dataset.charts = charts.length;
  document.body.dataset.broken = charts.filter(i => !(i.complete && i.naturalWidth > 300)).length;
  document.body.dataset.collapsed = charts.filter(i => i.getBoundingClientRect().width < 300).length;
});</script>"""


def probe_charts(page: Path, tmp_path: Path) -> dict[str, str]:
    """Load a copy of the page that also runs PROBE (allowed by a nonce) and read what it found in the DOM."""
    text = page.read_text()
    csp = CSP_META.search(text).group(1)
    probed = CSP_META.sub(lambda _: f'<meta http-equiv="Content-Security-Policy" '
                                    f'content="{csp}; script-src &#x27;nonce-probe&#x27;">', text)
    copy = tmp_path / "probe.html"
    copy.write_text(probed.replace("</body>", PROBE + "</body>"))
    run = run_chromium(copy, dump_dom=True, window=(1280, 2000))
    assert run.returncode == 0 and run.console == (), run.console
    body = re.search(r"<body([^>]*)>", run.dom).group(1)
    return dict(re.findall(r'data-(\w+)="([^"]*)"', body))


@needs_chromium
def test_report_renders_in_chromium_without_console_errors(full_report, tmp_path):
    result, _ = full_report
    shot = tmp_path / "report.png"
    run = run_chromium(result.path, screenshot=shot, window=(1280, 4000))
    assert run.returncode == 0
    assert run.console == (), f"console messages: {run.console}"
    pixels = decode_png(shot.read_bytes())
    assert pixels.shape[:2] == (4000, 1280)
    assert probe_charts(result.path, tmp_path) == {"charts": str(len(SECTION_KEYS)), "broken": "0", "collapsed": "0"}


@needs_chromium
def test_chromium_check_would_catch_an_unescaped_payload(full_report, tmp_path):
    """The clean console above means something: the same page with one payload left unescaped is reported."""
    result, page = full_report
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace(html.escape(PAYLOADS["details"], quote=True), PAYLOADS["details"], 1))
    run = run_chromium(broken, dump_dom=True, window=(1280, 1000))
    assert any("Content Security Policy" in m for m in run.console), run.console
    # The parser the pure-Python test uses sees it too.
    with pytest.raises(AssertionError):
        assert_structure_is_ours(broken.read_text())


def test_console_messages_are_parsed_from_the_chromium_log():
    log = ('[1:1:1126/040510.046248:INFO:CONSOLE:3] "boom", source: file:///x.html (3)\n'
           "[1:2:1126/040509.591300:ERROR:dbus/bus.cc:405] Failed to connect to the bus\n"
           '[1:1:1126/040510.047139:INFO:CONSOLE(4)] "Uncaught ReferenceError: f is not defined"\n')
    assert console_messages(log) == ('"boom", source: file:///x.html (3)',)


# --- the Dagster asset ---------------------------------------------------------------------------------------

def test_report_asset_writes_the_page_and_charts_metadata(c360_env, monkeypatch):
    from dagster import AssetKey, materialize

    from orchestration.report.assets import RUN_REPORT, build_report_asset

    settings = c360_env
    settings.home.mkdir(parents=True)
    make_serving(settings.serving_database, payloads=True)
    if CHROMIUM is None:
        monkeypatch.setenv("C360_REPORT_SCREENSHOT", "0")
    report = build_report_asset(settings, [AssetKey(["publish", "serving_duckdb"])])
    assert report.key == RUN_REPORT and report.group_names_by_key[RUN_REPORT] == "report"
    assert AssetKey(["publish", "serving_duckdb"]) in report.asset_deps[RUN_REPORT]
    result = materialize([report])
    assert result.success
    metadata = result.asset_materializations_for_node(report.node_def.name)[0].metadata
    page = settings.home / "docs" / "report.html"
    assert page.is_file() and metadata["path"].value == str(page)
    charts = {k: v.value for k, v in metadata.items() if k.startswith("chart_")}
    assert set(charts) == {f"chart_{k}" for k in SECTION_KEYS}
    assert all(v.startswith(f"![{k[6:]}](data:image/png;base64,") for k, v in charts.items())
    assert metadata["sections_missing"].value == "none"
    if CHROMIUM is not None:
        assert metadata["screenshot"].value == str(settings.home / "docs" / "report.png")
        assert decode_png((settings.home / "docs" / "report.png").read_bytes()).shape[1] == 1280


def test_chart_markdown_is_a_data_uri_image(full_report):
    result, _ = full_report
    png = result.charts["lifecycle_funnel"]
    markdown = chart_markdown("lifecycle_funnel", png)
    prefix = "![lifecycle_funnel](data:image/png;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    assert base64.b64decode(markdown[len(prefix):-1]) == png


# --- end to end ----------------------------------------------------------------------------------------------

def test_report_of_a_tiny_pipeline_run(tiny_run, tmp_path):
    home, _ = tiny_run
    serving = tmp_path / "serving.duckdb"
    shutil.copy(home / "serving.duckdb", serving)
    result = build_report(serving, tmp_path / "report.html")
    page = result.path.read_text()
    assert result.failed == {}
    # Activation logs its syncs in the warehouse after publishing, so a first run's serving file has no
    # sync_runs yet: the section says so (the next run's publish carries them).
    assert set(result.missing) <= {"sync_results"}
    assert all("activation.sync_runs" in reason for reason in result.missing.values())
    assert page.count("Missing input: ") == len(result.missing)
    # Thin generated data: the models refuse it and no member has matured yet, and the page says so.
    sections = {s.key: s for s in result.sections}
    assert sections["churn_risk"].status == "notice"
    assert sections["churn_risk"].message.startswith("No predictions: the churn model refused to predict")
    assert sections["campaign_lift"].message.startswith("No matured members yet")
    assert {"lifecycle_funnel", "cohort_retention", "retention_trends", "segment_sizes",
            "check_results"} <= set(result.charts)
    if CHROMIUM is not None:
        run = run_chromium(result.path, screenshot=tmp_path / "report.png")
        assert run.returncode == 0 and run.console == (), run.console


def test_each_verdict_is_said_in_words():
    """The sentence of each verdict: significant up or down, not significant (with the smallest lift these sizes
    would detect), too few members; from the statistics the pipeline's step computes."""
    import pandas as pd

    from orchestration.report.sections import lift_sentence

    counts = {"up": (2000, 300, 400, 40), "down": (2000, 150, 400, 60), "noise": (2000, 205, 400, 40),
              "small": (99, 60, 400, 10)}
    frame = pd.DataFrame([{"segment_name": name, "treated_members": n1, "treated_converted": x1,
                           "holdout_members": n0, "holdout_converted": x0, "treated_revenue": 50.0 * x1,
                           "treated_revenue_sum_squares": 3000.0 * x1, "holdout_revenue": 50.0 * x0,
                           "holdout_revenue_sum_squares": 3000.0 * x0, "as_of_date": AS_OF}
                          for name, (n1, x1, n0, x0) in counts.items()])
    said = {r.segment_name: lift_sentence(r) for r in lift_statistics(frame, 100).itertuples(index=False)}
    assert said["up"].startswith("up: significant. Contacted members converted 5.0 pts more than the holdout "
                                 "(95% interval +")
    assert "messaging added about 100 conversions" in said["up"]
    assert said["down"].startswith("down: significant. Contacted members converted 7.5 pts less than the holdout")
    assert "messaging cost about 150 conversions" in said["down"]
    assert said["noise"].startswith("noise: not significant. The lift of +0.2 pts could be chance (95% interval -")
    assert "At these sizes only a lift of " in said["noise"] and "detected 80% of the time" in said["noise"]
    assert said["small"] == ("small: too few members to judge. 99 contacted and 400 holdout members have matured; "
                             "100 are needed in each.")
    assert "Revenue per member +" in said["up"]


def test_an_older_serving_file_without_the_lift_statistics(tmp_path):
    serving = make_serving(tmp_path / "serving.duckdb", drop=("marts.campaign_lift_stats",))
    result = build_report(serving, tmp_path / "report.html")
    assert result.missing == {"campaign_lift": "table marts.campaign_lift_stats is not in the serving file"}


def test_tables_link_to_their_docs_and_charts_have_twice_the_pixels(tmp_path):
    serving = make_serving(tmp_path / "serving.duckdb")
    link = "dbt/static_index.html#!/model/model.customer360.customer_360"
    result = build_report(serving, tmp_path / "report.html", doc_links={"marts.customer_360": link},
                          home="index.html")
    page = result.path.read_text()
    assert page.count(f'<a href="{html.escape(link, quote=True)}">marts.customer_360</a>') == 2  # funnel, churn
    assert "Reads: marts.customer_cohorts_monthly</p>" in page  # a table without a link stays text
    assert '<a href="index.html">All documentation</a>' in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"[^>]* width="(\d+)" height="(\d+)">', page)
    assert len(images) == len(result.charts) > 0
    for data, width, height in images:
        pixels = decode_png(base64.b64decode(data))
        assert (int(width), int(height)) == (pixels.shape[1] // 2, pixels.shape[0] // 2)  # shown at half the pixels
        assert int(width) >= 700  # the CSS size of a 8-11 inch figure at 96 dpi
