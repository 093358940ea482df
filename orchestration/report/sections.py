"""The nine sections of the run report: what each reads from serving.duckdb and what it shows.

A section builder returns plain data (numbers, strings, PNG bytes), never HTML: the page module escapes every
string when it renders. A missing table or column raises MissingInput, which the report shows as the reason
the section is empty; nothing is made up when there is nothing to show (no predictions, no matured members).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orchestration.report import charts
from orchestration.report.data import MissingInput, Serving

log = logging.getLogger(__name__)

STAGES = ("prospect", "first_time", "repeat", "loyal", "advocate")
RISK_BANDS = ("low", "medium", "high")
SEVERITIES = ("critical", "warning")
CHECK_STATUSES = ("passed", "failed", "error", "skipped")
SYNC_STATUSES = ("success", "failed", "blocked", "dry_run", "skipped", "running", "interrupted")
# Rates of marts.retention_metrics worth a line, in order of preference, with the legend a marketer reads.
TREND_METRICS = (
    ("repeat_purchase_rate", "repeat-purchase rate (buyers with 2+ orders, to date)"),
    ("repurchase_rate_90d", "90-day repurchase rate (that month's new buyers)"),
    ("churn_rate", "monthly churn rate (365 days without an order)"),
)
MAX_COHORTS = 24  # rows and columns of the heatmap: beyond two years the cells get too small to read
MAX_TEXT = 200  # characters of a free-text cell (error details, sync messages) shown in a table


@dataclass(frozen=True)
class Table:
    """Rows to show under a chart; every cell is plain data, escaped when rendered."""

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    numeric: tuple[bool, ...]
    caption: str | None = None


@dataclass(frozen=True)
class Content:
    """What a section builder found: a chart, or a notice saying why there is none, plus notes and tables."""

    chart: bytes | None = None
    notice: str | None = None
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    headline: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Section:
    """One rendered section. status: 'chart', 'notice' (data present, nothing to chart), 'missing', 'error'."""

    key: str
    title: str
    how_to_read: str
    sources: tuple[str, ...]
    status: str
    chart: bytes | None = None
    message: str | None = None
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    headline: tuple[tuple[str, str], ...] = field(default=())


# --- formatting ---------------------------------------------------------------------------------------------

def _missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def pct(value, digits: int = 1) -> str:
    """A ratio as a percentage, '–' when unknown."""
    return "–" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def num(value) -> str:
    """A whole number with thousands separators, '–' when unknown."""
    return "–" if _missing(value) else f"{int(value):,}"


def text(value, limit: int = MAX_TEXT) -> str:
    """Free text cut to `limit` characters, '' when unknown."""
    if _missing(value):
        return ""
    value = str(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def day(value) -> str:
    """A date or timestamp as YYYY-MM-DD (HH:MM when it has a time of day)."""
    if _missing(value):
        return "–"
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.strftime("%Y-%m-%d %H:%M")


def _order(values: Sequence[str], first: Sequence[str]) -> list[str]:
    """`first` (those present) in that order, then the rest alphabetically."""
    present = set(values)
    return [v for v in first if v in present] + sorted(present - set(first))


def _optional(db: Serving, table: str, wanted: Sequence[str]) -> list[str]:
    """The columns of `wanted` that `table` has (older serving files lack some)."""
    return [c for c in wanted if db.has(table, c)]


# --- 1. lifecycle funnel ------------------------------------------------------------------------------------

def lifecycle_funnel(db: Serving) -> Content:
    """People per lifecycle stage from marts.customer_360, else from the latest day of marts.lifecycle_daily;
    with lifecycle_daily present, also who entered and left each stage that day."""
    daily = db.has("marts.lifecycle_daily", "date_day", "lifecycle_stage", "people_count")
    if db.has("marts.customer_360", "lifecycle_stage"):
        counts = db.df("select coalesce(lifecycle_stage, '(none)') as stage, count(*) as people "
                       "from marts.customer_360 group by 1")
        as_of = db.scalar("select max(as_of_date) from marts.customer_360") \
            if db.has("marts.customer_360", "as_of_date") else None
        basis = f"marts.customer_360, as of {day(as_of)}" if as_of is not None else "marts.customer_360"
    elif daily:
        counts = db.df("select lifecycle_stage as stage, people_count as people from marts.lifecycle_daily "
                       "where date_day = (select max(date_day) from marts.lifecycle_daily)")
        basis = f"marts.lifecycle_daily on {day(db.scalar('select max(date_day) from marts.lifecycle_daily'))}"
    else:
        raise MissingInput("neither marts.customer_360 (lifecycle_stage) nor marts.lifecycle_daily is in the "
                           "serving file")
    if counts.empty or int(counts["people"].sum()) == 0:
        return Content(notice="No people yet: the lifecycle tables are empty.")
    people = dict(zip(counts["stage"], counts["people"].astype(int), strict=True))
    stages = _order(list(people) + list(STAGES), STAGES)
    values = [people.get(s, 0) for s in stages]
    total = sum(values)
    tables: tuple[Table, ...] = ()
    if daily and db.has("marts.lifecycle_daily", "entered_count", "exited_count"):
        moves = db.df("select lifecycle_stage, entered_count, exited_count, date_day from marts.lifecycle_daily "
                      "where date_day = (select max(date_day) from marts.lifecycle_daily)")
        moved = {r.lifecycle_stage: (r.entered_count, r.exited_count) for r in moves.itertuples(index=False)}
        latest = day(moves["date_day"].max()) if not moves.empty else "–"
        tables = (Table(
            ("stage", "people", "share", f"entered on {latest}", f"left on {latest}"),
            tuple((s, num(v), pct(v / total), num(moved.get(s, (None, None))[0]), num(moved.get(s, (None, None))[1]))
                  for s, v in zip(stages, values, strict=True)),
            (False, True, True, True, True)),)
    buyers = total - people.get("prospect", 0)
    return Content(
        chart=charts.funnel_chart(stages, values, basis),
        notes=(f"{total:,} known people, {buyers:,} of them buyers ({pct(buyers / total)}).",),
        tables=tables,
        headline=(("known people", num(total)), ("buyers", num(buyers))),
    )


# --- 2. cohort retention ------------------------------------------------------------------------------------

def cohort_retention(db: Serving) -> Content:
    """Acquisition month x months since first order, coloured by retention rate (marts.customer_cohorts_monthly)."""
    table = "marts.customer_cohorts_monthly"
    db.require(table, "cohort_month", "months_since_first_order", "retention_rate")
    extra = _optional(db, table, ["cohort_size", "is_partial_month"])
    frame = db.df(f"select cohort_month, months_since_first_order, retention_rate{''.join(', ' + c for c in extra)} "
                  f"from {table} order by cohort_month, months_since_first_order")
    if frame.empty:
        return Content(notice="No cohorts yet: nobody has placed a revenue order.")
    frame["cohort"] = pd.to_datetime(frame["cohort_month"]).dt.strftime("%Y-%m")
    cohorts = sorted(frame["cohort"].unique())[-MAX_COHORTS:]
    frame = frame[frame["cohort"].isin(cohorts) & (frame["months_since_first_order"] < MAX_COHORTS)]
    rates = frame.pivot_table(index="cohort", columns="months_since_first_order", values="retention_rate",
                              aggfunc="mean").reindex(cohorts)
    if "is_partial_month" in frame:
        flags = frame.assign(partial=frame["is_partial_month"].fillna(False).astype(float))
        partial = flags.pivot_table(index="cohort", columns="months_since_first_order", values="partial",
                                    aggfunc="max").reindex(index=rates.index, columns=rates.columns).fillna(0) > 0
    else:
        partial = pd.DataFrame(False, index=rates.index, columns=rates.columns)
    sizes = frame.groupby("cohort")["cohort_size"].max() if "cohort_size" in frame else pd.Series(dtype=float)
    notes = []
    done = ~frame["is_partial_month"].fillna(False).astype(bool) if "is_partial_month" in frame else True
    month_1 = frame[(frame["months_since_first_order"] == 1) & done]
    if not month_1.empty and "cohort_size" in frame:
        weights = month_1["cohort_size"].astype(float)
        if weights.sum() > 0:
            average = float((month_1["retention_rate"].astype(float) * weights).sum() / weights.sum())
            notes.append(f"On average {pct(average)} of a cohort buys again in the month after its first order.")
    if partial.to_numpy().any():
        notes.append("* the month is not over yet: its rate will still rise.")
    return Content(chart=charts.cohort_heatmap(rates, sizes, partial), notes=tuple(notes))


# --- 3. retention trends ------------------------------------------------------------------------------------

def retention_trends(db: Serving) -> Content:
    """Repeat-purchase, 90-day repurchase and churn rates per calendar month (marts.retention_metrics)."""
    table = "marts.retention_metrics"
    db.require(table, "calendar_month")
    metrics = [(c, label) for c, label in TREND_METRICS if db.has(table, c)]
    if not metrics:
        raise MissingInput(f"{table} has none of the rate columns {', '.join(c for c, _ in TREND_METRICS)}")
    partial_col = ", is_partial_month" if db.has(table, "is_partial_month") else ""
    frame = db.df(f"select calendar_month{''.join(', ' + c for c, _ in metrics)}{partial_col} "
                  f"from {table} order by calendar_month")
    if frame.empty:
        return Content(notice="No months yet: marts.retention_metrics is empty.")
    partial = frame["is_partial_month"].fillna(False).astype(bool) if partial_col else pd.Series(False, frame.index)
    series = {label: frame[c].astype(float).tolist() for c, label in metrics}
    if all(np.isnan(v).all() for v in map(np.asarray, series.values())):
        return Content(notice="No rates yet: every month's rates are empty (too few orders).")
    # Each rate at the latest complete month that has it: a 90-day rate is still open for recent months.
    complete = frame[~partial]
    latest: list[tuple[str, str]] = []
    for column, label in metrics:
        known = complete[complete[column].notna()]
        if not known.empty:
            month = pd.Timestamp(known["calendar_month"].iloc[-1]).strftime("%Y-%m")
            latest.append((label.split(" (")[0], f"{pct(known[column].iloc[-1])} ({month})"))
    notes = ["Latest complete month with a value: " + "; ".join(f"{name} {value}" for name, value in latest) + "."] \
        if latest else []
    if partial.any():
        notes.append("Hollow markers: the month is still in progress.")
    headline = tuple((name, value.split(" (")[0]) for name, value in latest[:1])
    return Content(chart=charts.trend_chart(frame["calendar_month"].tolist(), series, partial.tolist()),
                   notes=tuple(notes), headline=headline)


# --- 4. churn risk ------------------------------------------------------------------------------------------

def _no_predictions_reason(db: Serving) -> str:
    """Why customer_360 carries no churn probability, from what the predictions step recorded."""
    predictions, params = "predictions.customer_predictions", "predictions.model_params"
    if not db.has(predictions):
        return f"{predictions} is not in the serving file (the predictions step has not run)"
    statuses = db.df(f"select model_status, count(*) as n from {predictions} group by 1 order by 2 desc") \
        if db.has(predictions, "model_status") else pd.DataFrame(columns=["model_status", "n"])
    fitted = db.scalar(f"select count(*) from {params}") if db.has(params) else 0
    buyers = ""
    if db.has("marts.customer_360", "orders_count"):
        n, repeat = db.con.execute("select count(*) filter (orders_count > 0), count(*) filter (orders_count > 1) "
                                   "from marts.customer_360").fetchone()
        buyers = f" The data has {n:,} buyers, {repeat:,} of them repeat buyers."
    if statuses.empty:
        return f"{predictions} is empty (no buyers to predict).{buyers}"
    status_text = ", ".join(f"'{s}' for {int(c):,} customers" for s, c in zip(statuses["model_status"],
                                                                              statuses["n"], strict=True))
    params_text = f"{params} holds no fitted parameters" if not fitted else f"{params} has {fitted} parameters"
    runs = "predictions.model_runs"
    if db.has(runs, "reason"):
        latest = db.df(f"select status, reason from {runs} order by as_of_date desc limit 1")
        if not latest.empty and latest["status"].iloc[0] == "refused":
            return f"the churn model refused to predict: {latest['reason'].iloc[0]}.{buyers}"
    if "refused" in set(statuses["model_status"]):
        return (f"the churn model refused to predict (model_status {status_text}) and {params_text}: the data was "
                "too thin or the fit unusable (the predictions step's run log gives the exact reason)."
                f"{buyers}")
    return (f"marts.customer_360 has no churn probability although {predictions} has model_status {status_text} "
            f"and {params_text} (customer_360 not rebuilt after the predictions?).{buyers}")


def churn_risk(db: Serving) -> Content:
    """Buyers per churn-risk band and the churn-probability distribution (marts.customer_360), or why there are
    no predictions (predictions.customer_predictions.model_status, predictions.model_params)."""
    table = "marts.customer_360"
    db.require(table, "churn_probability")
    band = "churn_risk_band" if db.has(table, "churn_risk_band") else "null"
    frame = db.df(f"select churn_probability, {band} as band from {table} where churn_probability is not null")
    if frame.empty:
        return Content(notice=f"No predictions: {_no_predictions_reason(db)}",
                       headline=(("churn predictions", "none"),))
    probabilities = frame["churn_probability"].astype(float).to_numpy()
    if band == "null":
        # An older customer_360 without the band: use the dbt defaults (churn_risk_medium/high vars).
        frame["band"] = np.select([probabilities >= 0.66, probabilities >= 0.33], ["high", "medium"], "low")
    counts = frame["band"].fillna("(none)").value_counts()
    bands = {b: int(counts.get(b, 0)) for b in _order(list(counts.index) + list(RISK_BANDS), RISK_BANDS)}
    total = len(frame)
    high = bands.get("high", 0)
    everyone = db.scalar(f"select count(*) from {table}")
    notes = (f"{total:,} of {everyone:,} people have a prediction (buyers only); {high:,} ({pct(high / total)}) "
             f"are at high risk, mean churn probability {pct(float(probabilities.mean()))}.",)
    return Content(chart=charts.churn_chart(bands, probabilities), notes=notes,
                   headline=(("high churn risk", f"{num(high)} ({pct(high / total, 0)})"),))


# --- 5. segment sizes ---------------------------------------------------------------------------------------

def segment_sizes(db: Serving) -> Content:
    """Members, holdout, entries and exits per segment and day (segments.segment_sizes_daily)."""
    table = "segments.segment_sizes_daily"
    db.require(table, "as_of_date", "segment_name", "members", "holdout_members", "entered", "exited")
    purpose = "purpose" if db.has(table, "purpose") else "null"
    frame = db.df(f"select as_of_date, segment_name, {purpose} as purpose, members, holdout_members, entered, exited "
                  f"from {table} order by as_of_date, segment_name")
    if frame.empty:
        return Content(notice="No segment history yet: segments.segment_sizes_daily is empty.")
    for column in ("members", "holdout_members", "entered", "exited"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["segment_name"] = frame["segment_name"].fillna("(unnamed)").astype(str)
    latest_date = frame["as_of_date"].max()
    latest = frame[frame["as_of_date"] == latest_date].sort_values("members", ascending=False)
    days = frame["as_of_date"].nunique()
    rows = tuple((r.segment_name, text(r.purpose), num(r.members), num(r.holdout_members), num(r.entered),
                  num(r.exited)) for r in latest.itertuples(index=False))
    notes = (f"{len(latest)} segments, {int(latest['members'].sum()):,} memberships on {day(latest_date)}; "
             f"{int(latest['entered'].sum()):,} entered and {int(latest['exited'].sum()):,} left that day; "
             f"{days} day{'s' if days != 1 else ''} of history.",)
    return Content(
        chart=charts.segment_chart(frame),
        notes=notes,
        tables=(Table(("segment", "purpose", "members", "holdout", "entered", "exited"), rows,
                      (False, False, True, True, True, True), caption=f"Segments on {day(latest_date)}"),),
        headline=(("segment memberships", num(latest["members"].sum())),),
    )


# --- 6. campaign lift ---------------------------------------------------------------------------------------

PROGRAMME = "_all_marketing"  # campaign_lift's row for the whole programme against the global holdout
LIFT_STATS_COLUMNS = ("verdict", "conversion_lift_low", "conversion_lift_high", "conversion_p_value",
                      "incremental_conversions", "incremental_conversions_low", "incremental_conversions_high",
                      "revenue_lift_per_member", "revenue_lift_low", "revenue_lift_high", "revenue_p_value",
                      "incremental_revenue", "incremental_revenue_low", "incremental_revenue_high",
                      "minimum_detectable_lift", "min_members_per_arm")


def points(value, sign: bool = True) -> str:
    """A difference of rates in percentage points (+1.2 pts), '–' when unknown."""
    return "–" if _missing(value) else f"{float(value) * 100:{'+' if sign else ''}.1f} pts"


def money(value, sign: bool = False) -> str:
    """An amount of the shop's currency with two decimals, '–' when unknown."""
    return "–" if _missing(value) else f"{float(value):{'+' if sign else ''},.2f}"


def interval(low, high, fmt: Callable[..., str]) -> str:
    """'low to high' with the formatter, '–' when either end is unknown."""
    return "–" if _missing(low) or _missing(high) else f"{fmt(low)} to {fmt(high)}"


def p_text(value) -> str:
    """A p-value as a reader expects it: '< 0.001' for very small ones."""
    return "–" if _missing(value) else "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def p_phrase(value) -> str:
    """'p = 0.012', 'p < 0.001', or 'no p-value' when there is nothing to test."""
    text = p_text(value)
    return "no p-value" if text == "–" else f"p {text}" if text.startswith("<") else f"p = {text}"


def with_interval(value, low, high, fmt: Callable[..., str], unit: str = "") -> str:
    """'+4.2 pts (+1.1 to +7.3)': an estimate and its 95% interval in one cell."""
    if _missing(value):
        return "–"
    ends = "" if _missing(low) or _missing(high) else f" ({fmt(low)} to {fmt(high)})"
    return f"{fmt(value)}{unit}{ends}"


def lift_label(name: str) -> str:
    """The segment as the report names it ('_all_marketing' is the whole programme)."""
    return "all marketing (global holdout)" if name == PROGRAMME else name


def lift_sentence(r) -> str:
    """The verdict of one segment in words, with the figures that back it."""
    who = "The whole marketing programme against the global holdout" if r.segment_name == PROGRAMME \
        else str(r.segment_name)
    if r.verdict == "too few members":
        needed = f"{int(r.min_members_per_arm):,}" if not _missing(r.min_members_per_arm) else "more"
        extra = (" Switch on the global holdout (C360_GLOBAL_HOLDOUT_SHARE) to measure it."
                 if r.segment_name == PROGRAMME and int(r.holdout_members) == 0 else "")
        return (f"{who}: too few members to judge. {int(r.treated_members):,} contacted and "
                f"{int(r.holdout_members):,} holdout members have matured; {needed} are needed in each.{extra}")
    ci = interval(r.conversion_lift_low, r.conversion_lift_high, points)
    revenue = ""
    if not _missing(r.revenue_lift_per_member):
        revenue = (f" Revenue per member {money(r.revenue_lift_per_member, sign=True)} "
                   f"(95% interval {interval(r.revenue_lift_low, r.revenue_lift_high, lambda v: money(v, True))}"
                   f"{', ' + p_phrase(r.revenue_p_value) if not _missing(r.revenue_p_value) else ''}).")
    if r.verdict == "significant":
        direction = "more" if float(r.conversion_lift) > 0 else "less"
        effect = "messaging added about" if direction == "more" else "messaging cost about"
        return (f"{who}: significant. Contacted members converted {points(abs(float(r.conversion_lift)), False)} "
                f"{direction} than the holdout (95% interval {ci}, {p_phrase(r.conversion_p_value)}): "
                f"{effect} {abs(float(r.incremental_conversions)):,.0f} conversions "
                f"({interval(r.incremental_conversions_low, r.incremental_conversions_high, lambda v: f'{v:,.0f}')})."
                f"{revenue}")
    detectable = ("" if _missing(r.minimum_detectable_lift) else
                  f" At these sizes only a lift of {points(r.minimum_detectable_lift, False)} or more would be "
                  "detected 80% of the time.")
    return (f"{who}: not significant. The lift of {points(r.conversion_lift)} could be chance (95% interval {ci}, "
            f"{p_phrase(r.conversion_p_value)}).{detectable}{revenue}")


def campaign_lift(db: Serving) -> Content:
    """Conversion of contacted vs holdout members whose conversion window is over (marts.campaign_lift), with the
    95% intervals, p-values and verdicts of marts.campaign_lift_stats."""
    table, stats = "marts.campaign_lift", "marts.campaign_lift_stats"
    db.require(table, "segment_name", "treated_members", "holdout_members", "treated_conversion_rate",
               "holdout_conversion_rate", "conversion_lift", "pending_members")
    db.require(stats, "segment_name", *LIFT_STATS_COLUMNS)
    window = "l.conversion_window_days" if db.has(table, "conversion_window_days") else "null"
    frame = db.df(f"select l.segment_name, l.treated_members, l.holdout_members, l.treated_conversion_rate, "
                  f"l.holdout_conversion_rate, l.conversion_lift, l.pending_members, {window} as window_days, "
                  f"{', '.join('s.' + c for c in LIFT_STATS_COLUMNS)} "
                  f"from {table} as l left join {stats} as s on s.segment_name = l.segment_name "
                  f"order by l.segment_name = '{PROGRAMME}', l.segment_name")
    if frame.empty:
        return Content(notice="No marketing segments to measure: marts.campaign_lift is empty.")
    for column in ("treated_members", "holdout_members", "pending_members"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["verdict"] = frame["verdict"].fillna("too few members")
    matured = frame[(frame["treated_members"] + frame["holdout_members"]) > 0]
    days = frame["window_days"].dropna()
    window_text = f"{int(days.iloc[0])}-day" if not days.empty else "conversion"
    def pts(value) -> str:
        return "–" if _missing(value) else f"{float(value) * 100:+.1f}"

    def amount(value) -> str:
        return money(value, sign=True)

    def members(n, rate) -> str:
        return num(n) if _missing(rate) else f"{num(n)} ({pct(rate)})"

    rows = tuple((lift_label(r.segment_name), members(r.treated_members, r.treated_conversion_rate),
                  members(r.holdout_members, r.holdout_conversion_rate),
                  with_interval(r.conversion_lift, r.conversion_lift_low, r.conversion_lift_high, pts, " pts"),
                  p_text(r.conversion_p_value), r.verdict,
                  with_interval(r.revenue_lift_per_member, r.revenue_lift_low, r.revenue_lift_high, amount),
                  points(r.minimum_detectable_lift, False), num(r.pending_members))
                 for r in frame.itertuples(index=False))
    tables = (Table(("segment", "contacted (conv.)", "holdout (conv.)", "lift (95% interval)", "p-value",
                     "verdict", "revenue/member (95% interval)", "detectable", "in window"), rows,
                    (False, True, True, True, True, False, True, True, True),
                    caption=f"Matured members and their {window_text} conversion; detectable: the smallest lift "
                            "these sizes detect 80% of the time; in window: members still inside it"),)
    pending = int(frame["pending_members"].sum())
    if matured.empty:
        return Content(
            notice=(f"No matured members yet: all {pending:,} members of {len(frame)} segments are still inside "
                    f"their {window_text} window, so no lift can be measured. It appears once a member's window "
                    "is over."),
            tables=tables, headline=(("campaign lift", "pending"),))
    significant = int((matured["verdict"] == "significant").sum())
    notes = [f"{len(matured)} of {len(frame)} segments have matured members; {pending:,} members still in their "
             f"{window_text} window. A lift is significant when its two-sided p-value is below 0.05: its 95% "
             "interval then leaves out zero.",
             *(lift_sentence(r) for r in matured.itertuples(index=False))]
    return Content(chart=charts.lift_chart(matured.assign(label=matured["segment_name"].map(lift_label))),
                   notes=tuple(notes), tables=tables,
                   headline=(("segments with significant lift", f"{significant} of {len(matured)}"),))


# --- 7. sync results ----------------------------------------------------------------------------------------

def sync_results(db: Serving) -> Content:
    """The latest run of each sync (segment x destination) from activation.sync_runs: status and counts."""
    table = "activation.sync_runs"
    if not db.has(table):
        # Syncs run after the publish step and log to the warehouse: the next publish carries them.
        raise MissingInput(f"table {table} is not in the serving file (no sync published yet: syncs are logged "
                           "after the serving file is published, so they show from the next run on)")
    db.require(table, "sync_id", "segment", "destination", "status", "started_at")
    counts = _optional(db, table, ["audience", "unchanged", "sent", "succeeded", "rejected", "failed", "message"])
    frame = db.df(f"select segment, destination, status, started_at{''.join(', ' + c for c in counts)} from {table} "
                  "qualify row_number() over (partition by sync_id order by started_at desc) = 1 "
                  "order by segment, destination")
    if frame.empty:
        return Content(notice="No sync has run yet: activation.sync_runs is empty.")
    frame["status"] = frame["status"].fillna("(none)").astype(str)
    frame["destination"] = frame["destination"].fillna("(none)").astype(str)
    statuses = _order(frame["status"].unique().tolist(), SYNC_STATUSES)
    per_destination = (frame.groupby(["destination", "status"]).size().unstack(fill_value=0)
                       .reindex(columns=statuses, fill_value=0))
    number_columns = [c for c in ("audience", "unchanged", "sent", "succeeded", "rejected", "failed") if c in frame]
    columns = ("segment", "destination", "status", "started", *number_columns,
               *(("message",) if "message" in frame else ()))
    rows = tuple(
        (r["segment"], r["destination"], r["status"], day(r["started_at"]), *(num(r[c]) for c in number_columns),
         *((text(r["message"]),) if "message" in frame else ()))
        for _, r in frame.iterrows())
    numeric = (False, False, False, True, *([True] * len(number_columns)), *((False,) if "message" in frame else ()))
    tally = frame["status"].value_counts()
    failed = int(tally.get("failed", 0) + tally.get("blocked", 0))
    notes = [f"{len(frame)} syncs; latest runs: " + ", ".join(f"{int(tally[s])} {s}" for s in statuses) + "."]
    if "sent" in frame and "succeeded" in frame:
        unchanged = (f" ({int(frame['unchanged'].fillna(0).sum()):,} members unchanged since their previous sync, "
                     "so not sent again)") if "unchanged" in frame else ""
        notes.append(f"Latest runs sent {int(frame['sent'].fillna(0).sum()):,} rows, "
                     f"{int(frame['succeeded'].fillna(0).sum()):,} accepted by the destination{unchanged}.")
    chart = charts.status_chart(per_destination, title="Sync results: latest run of each sync by destination",
                                xlabel="destination", ylabel="syncs")
    return Content(chart=chart, notes=tuple(notes), tables=(Table(columns, rows, numeric),),
                   headline=(("syncs failed or blocked", num(failed)),))


# --- 8. erasure deletions -----------------------------------------------------------------------------------

def erasure_deletions(db: Serving) -> Content:
    """Deletions of erased people that destinations still owe (audit.erasure_deletions, written by the purge):
    pending per destination, and how many are past the deadline."""
    table = "audit.erasure_deletions"
    db.require(table, "destination", "people_pending", "people_overdue", "deadline_days")
    oldest = "oldest_erased_at" if db.has(table, "oldest_erased_at") else "null"
    frame = db.df(f"select destination, people_pending, people_overdue, {oldest} as oldest_erased_at, deadline_days "
                  f"from {table} order by destination")
    if frame.empty:
        return Content(notice="No deletion is pending: every erased person was deleted from every destination that "
                              "had received them.", headline=(("erasure deletions overdue", "0"),))
    frame["destination"] = frame["destination"].fillna("(none)").astype(str)
    for column in ("people_pending", "people_overdue"):
        frame[column] = frame[column].fillna(0).astype(int)
    days = int(frame["deadline_days"].dropna().iloc[0]) if frame["deadline_days"].notna().any() else None
    counts = pd.DataFrame({"within deadline": (frame["people_pending"] - frame["people_overdue"]).to_numpy(),
                           "overdue": frame["people_overdue"].to_numpy()}, index=frame["destination"])
    pending, overdue = int(frame["people_pending"].sum()), int(frame["people_overdue"].sum())
    deadline = f"the {days}-day deadline" if days is not None else "the deadline"
    notes = [f"{pending:,} erased people are still held by {len(frame)} destination(s) that have not confirmed "
             f"their deletion (failed, or skipped for want of an API key); {overdue:,} of them are past {deadline}."]
    if overdue:
        notes.append("Overdue deletions fail the erasure_deadline check: fix the destination's key or error and run "
                     "`c360 sync`.")
    rows = tuple((r.destination, num(r.people_pending), num(r.people_overdue), day(r.oldest_erased_at))
                 for r in frame.itertuples(index=False))
    chart = charts.status_chart(counts, title="Erasure deletions destinations still owe", xlabel="destination",
                                ylabel="people")
    return Content(chart=chart, notes=tuple(notes),
                   tables=(Table(("destination", "pending", "overdue", "oldest erasure"), rows,
                                 (False, True, True, False)),),
                   headline=(("erasure deletions overdue", num(overdue)),))


# --- 9. check results ---------------------------------------------------------------------------------------

def check_results(db: Serving) -> Content:
    """The latest result of each data-quality check (audit.check_results): passed/failed per severity and the
    failed ones listed."""
    table = "audit.check_results"
    db.require(table, "check_name", "severity")
    if not (db.has(table, "status") or db.has(table, "success")):
        raise MissingInput(f"{table} has neither a status nor a success column")
    status = "status" if db.has(table, "status") else \
        "case when success then 'passed' when not success then 'failed' else 'skipped' end"
    keys = ", ".join(_optional(db, table, ["asset", "suite"]) + ["check_name"])
    order = "checked_at desc" if db.has(table, "checked_at") else "1"
    extra = _optional(db, table, ["asset", "suite", "checked_at", "unexpected_count", "details"])
    frame = db.df(f"select check_name, severity, {status} as status{''.join(', ' + c for c in extra)} from {table} "
                  f"qualify row_number() over (partition by {keys} order by {order}) = 1")
    if frame.empty:
        return Content(notice="No checks have run yet: audit.check_results is empty.")
    frame["severity"] = frame["severity"].fillna("(none)").astype(str)
    frame["status"] = frame["status"].fillna("(none)").astype(str)
    severities = _order(frame["severity"].unique().tolist(), SEVERITIES)
    statuses = _order(frame["status"].unique().tolist(), CHECK_STATUSES)
    counts = frame.groupby(["severity", "status"]).size().unstack(fill_value=0).reindex(
        index=severities, columns=statuses, fill_value=0)
    bad = frame[frame["status"].isin(["failed", "error"])].sort_values(["severity", "check_name"])
    ran = int((frame["status"] != "skipped").sum())
    skipped = len(frame) - ran
    notes = [f"Latest result of each of {len(frame):,} checks"
             + (f", last checked {day(frame['checked_at'].max())}" if "checked_at" in frame else "")
             + f": {ran:,} ran, {skipped:,} skipped (no data to check)."]
    tables: tuple[Table, ...] = ()
    if bad.empty:
        notes.append("No failed checks: every check that ran passed.")
    else:
        critical = int((bad["severity"] == "critical").sum())
        notes.append(f"{len(bad):,} failed checks ({critical:,} critical), listed below.")
        where = [c for c in ("asset", "suite") if c in bad]
        columns = ("severity", *where, "check", "status",
                   *(("unexpected",) if "unexpected_count" in bad else ()), *(("details",) if "details" in bad else ()))
        rows = tuple(
            (r["severity"], *(text(r[c]) for c in where), r["check_name"], r["status"],
             *((num(r["unexpected_count"]),) if "unexpected_count" in bad else ()),
             *((text(r["details"]),) if "details" in bad else ()))
            for _, r in bad.iterrows())
        numeric = tuple(c == "unexpected" for c in columns)
        tables = (Table(columns, rows, numeric, caption="Failed checks"),)
    chart = charts.status_chart(counts, title="Data-quality checks: latest result per check, by severity",
                                xlabel="severity", ylabel="checks")
    # Critical failures block publishing; warnings do not: the headline keeps them apart.
    critical_failed = int((bad["severity"] == "critical").sum()) if not bad.empty else 0
    return Content(chart=chart, notes=tuple(notes), tables=tables,
                   headline=(("critical checks failed", num(critical_failed)),
                             ("check warnings", num(len(bad) - critical_failed))))


# --- registry -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SectionSpec:
    """A section's key, title, the one line on how to read it, the tables it reads and its builder."""

    key: str
    title: str
    how_to_read: str
    sources: tuple[str, ...]
    build: Callable[[Serving], Content]


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("lifecycle_funnel", "Lifecycle funnel",
                "Each bar is how many people are at that stage now; read top to bottom to see how many move on "
                "from prospect to first order, repeat, loyal and advocate.",
                ("marts.customer_360", "marts.lifecycle_daily"), lifecycle_funnel),
    SectionSpec("cohort_retention", "Cohort retention",
                "Each row is the customers whose first order was in that month; a cell is the share of them who "
                "ordered again N months later: darker is better, and compare rows to see if newer cohorts stay longer.",
                ("marts.customer_cohorts_monthly",), cohort_retention),
    SectionSpec("retention_trends", "Repeat purchase and retention trends",
                "Rising repeat-purchase and repurchase lines and a falling churn line mean customers come back more "
                "often; compare the latest months with the same months a year earlier.",
                ("marts.retention_metrics",), retention_trends),
    SectionSpec("churn_risk", "Churn risk",
                "How many buyers the model expects are gone for good: a growing high-risk bar is the win-back "
                "audience; the histogram shows whether risk is spread out or concentrated.",
                ("marts.customer_360", "predictions.customer_predictions", "predictions.model_params"), churn_risk),
    SectionSpec("segment_sizes", "Segment sizes, entries and exits",
                "Bars (or lines) are how many people each segment holds; holdout members are kept out of sends to "
                "measure lift; big entries or exits mean the audience changed a lot that day.",
                ("segments.segment_sizes_daily",), segment_sizes),
    SectionSpec("campaign_lift", "Campaign lift",
                "Each dot is how many more percentage points of contacted members than of holdout members bought "
                "(left) and how much more revenue per member they brought (right); the line through it is the 95% "
                "interval. A line clear of zero is a real effect (green: messaging helped, red: it hurt); a line "
                "across zero could be chance; grey means too few members to judge.",
                ("marts.campaign_lift", "marts.campaign_lift_stats"), campaign_lift),
    SectionSpec("sync_results", "Sync results",
                "Green means the latest sync of that segment reached the tool; red or purple needs attention; grey "
                "was skipped (usually no API key configured).",
                ("activation.sync_runs",), sync_results),
    SectionSpec("erasure_deletions", "Erasure deletions",
                "Each bar is a destination still holding people who asked to be erased; red is past the deadline "
                "(the erasure_deadline check fails on it). No bar: every deletion was confirmed.",
                ("audit.erasure_deletions",), erasure_deletions),
    SectionSpec("check_results", "Data quality checks",
                "Green checks passed; any red in the critical bar blocked publishing; failed checks are listed "
                "below with what they found.",
                ("audit.check_results",), check_results),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)


def run_section(spec: SectionSpec, db: Serving | None, unavailable: str | None = None) -> Section:
    """Build one section; a missing input or an error becomes the section's message, never an exception."""
    base = {"key": spec.key, "title": spec.title, "how_to_read": spec.how_to_read, "sources": spec.sources}
    if db is None:
        return Section(**base, status="missing", message=unavailable or "no serving file")
    try:
        content = spec.build(db)
    except MissingInput as exc:
        return Section(**base, status="missing", message=str(exc))
    except Exception as exc:  # one broken section must not cost the marketer the rest of the page
        log.exception("report section %s failed", spec.key)
        return Section(**base, status="error", message=f"{type(exc).__name__}: {exc}")
    return Section(**base, status="chart" if content.chart is not None else "notice", chart=content.chart,
                   message=content.notice, notes=content.notes, tables=content.tables, headline=content.headline)
