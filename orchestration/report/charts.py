"""The report's charts, drawn with matplotlib (Agg, no pyplot: no global figure state) and returned as PNG bytes.

Every chart has a title and labelled axes. Text from the data (segment names, stages) is drawn with mathtext
off, so a `$` in a segment name is shown as typed instead of being parsed as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

# Colours: one per meaning, reused across charts so a marketer learns them once.
BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#3b6ea8", "#e08a2c", "#3a9a5b", "#c8453c", "#9a9a9a", "#7b5ea7"
STATUS_COLOURS = {"passed": GREEN, "success": GREEN, "failed": RED, "error": "#8b1e16", "blocked": PURPLE,
                  "skipped": GREY, "dry_run": BLUE, "running": ORANGE, "interrupted": ORANGE,
                  "within deadline": ORANGE, "overdue": RED}
RC = {"text.parse_math": False, "font.size": 9, "axes.titlesize": 11, "axes.titleweight": "bold",
      "axes.spines.top": False, "axes.spines.right": False}
DPI = 96
# Pixels per CSS pixel of the PNGs: drawn at twice the density and shown at their CSS size (the page halves them),
# so they stay sharp on today's high-density screens.
DENSITY = 2


def short(text: object, limit: int = 38) -> str:
    """A label cut to `limit` characters (long segment names would squeeze the plot area)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _draw(width: float, height: float, draw: Callable[[Figure], None]) -> bytes:
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        draw(fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI * DENSITY, metadata={"Software": None})
    return buffer.getvalue()


def funnel_chart(stages: Sequence[str], people: Sequence[int], subtitle: str) -> bytes:
    """Horizontal bars, first stage on top, each labelled with its count and share of everyone."""
    total = max(sum(people), 1)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        y = np.arange(len(stages))
        ax.barh(y, people, color=BLUE)
        ax.set_yticks(y, [short(s) for s in stages])
        ax.invert_yaxis()
        for i, n in enumerate(people):
            ax.annotate(f" {n:,} ({n / total:.0%})", (n, i), va="center", fontsize=8)
        ax.set_xlim(0, max(max(people), 1) * 1.18)
        ax.set_title("Lifecycle funnel: people per stage", pad=18)
        ax.text(0.5, 1.02, subtitle, transform=ax.transAxes, ha="center", va="bottom", fontsize=8, color="#555")
        ax.set_xlabel("people")
        ax.set_ylabel("lifecycle stage")

    return _draw(9, 0.45 * len(stages) + 1.6, draw)


def cohort_heatmap(rates: pd.DataFrame, sizes: pd.Series, partial: pd.DataFrame) -> bytes:
    """Acquisition month (rows) x months since first order (columns), coloured by retention rate.

    Month 0 is 100% by definition, so the colour scale is set by the later months to keep them readable.
    Cells of a month that is not over yet carry an asterisk.
    """
    values = rates.to_numpy(dtype=float)
    later = values[:, 1:] if values.shape[1] > 1 else values
    finite = later[np.isfinite(later)]
    vmax = float(np.clip(np.percentile(finite, 98), 0.05, 1.0)) if finite.size else 1.0
    n_rows, n_cols = values.shape

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
        ax.set_xticks(np.arange(n_cols), [str(c) for c in rates.columns])
        ax.set_yticks(np.arange(n_rows), [f"{idx} (n={int(sizes.get(idx, 0)):,})" for idx in rates.index])
        if n_rows * n_cols <= 900:
            size = 7 if n_cols <= 14 else 5.5
            for r in range(n_rows):
                for c in range(n_cols):
                    v = values[r, c]
                    if np.isfinite(v):
                        mark = "*" if bool(partial.iat[r, c]) else ""
                        ax.text(c, r, f"{v:.0%}{mark}", ha="center", va="center", fontsize=size,
                                color="white" if v > vmax * 0.6 else "#222")
        fig.colorbar(image, ax=ax, format=PercentFormatter(1.0, decimals=0), label="retention rate", shrink=0.8)
        ax.set_title("Cohort retention: share of each acquisition month still buying")
        ax.set_xlabel("months since first order")
        ax.set_ylabel("acquisition month (cohort size)")

    return _draw(11, min(0.32 * n_rows + 1.8, 11), draw)


def trend_chart(months: Sequence, series: dict[str, Sequence[float]], partial: Sequence[bool]) -> bytes:
    """One line per rate over calendar months; a month still in progress is drawn as a hollow marker."""
    x = pd.to_datetime(pd.Series(months)).to_numpy()
    partial_mask = np.asarray(partial, dtype=bool)
    colours = [BLUE, ORANGE, RED, GREEN, PURPLE]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for (label, values), colour in zip(series.items(), colours, strict=False):
            y = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
            ax.plot(x, y, marker="o", markersize=3.5, color=colour, label=label)
            if partial_mask.any():
                ax.plot(x[partial_mask], y[partial_mask], "o", markersize=7, markerfacecolor="white",
                        color=colour)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", frameon=False)
        ax.set_title("Repeat purchase and retention per month")
        ax.set_xlabel("calendar month")
        ax.set_ylabel("rate")
        fig.autofmt_xdate()

    return _draw(10, 4.2, draw)


def churn_chart(bands: dict[str, int], probabilities: np.ndarray) -> bytes:
    """Left: buyers per churn-risk band. Right: the distribution of churn probability."""

    def draw(fig: Figure) -> None:
        left, right = fig.subplots(1, 2, width_ratios=[1, 2])
        names = list(bands)
        colours = [{"low": GREEN, "medium": ORANGE, "high": RED}.get(n, GREY) for n in names]
        left.bar(names, [bands[n] for n in names], color=colours)
        for i, n in enumerate(names):
            left.annotate(f"{bands[n]:,}", (i, bands[n]), ha="center", va="bottom", fontsize=8)
        left.set_title("Buyers per churn-risk band")
        left.set_xlabel("churn-risk band")
        left.set_ylabel("buyers")
        right.hist(probabilities, bins=np.linspace(0, 1, 21), color=BLUE, edgecolor="white")
        right.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        right.set_title("Predicted churn probability")
        right.set_xlabel("probability the buyer has churned")
        right.set_ylabel("buyers")

    return _draw(10, 3.8, draw)


def segment_chart(sizes: pd.DataFrame) -> bytes:
    """Segment sizes: with one date, bars per segment (contacted vs holdout) labelled with entries and exits;
    with several, members over time per segment above and daily entries (up) and exits (down) below."""
    dates = sorted(sizes["as_of_date"].unique())

    def draw_single(fig: Figure) -> None:
        ax = fig.add_subplot()
        frame = sizes.sort_values("members", ascending=True)
        y = np.arange(len(frame))
        holdout = frame["holdout_members"].to_numpy(dtype=float)
        treated = frame["members"].to_numpy(dtype=float) - holdout
        ax.barh(y, treated, color=BLUE, label="contacted")
        ax.barh(y, holdout, left=treated, color=GREY, label="holdout (not contacted)")
        ax.set_yticks(y, [short(s) for s in frame["segment_name"]])
        for i, row in enumerate(frame.itertuples(index=False)):
            ax.annotate(f" {int(row.members):,}  (+{int(row.entered):,} / −{int(row.exited):,})",
                        (row.members, i), va="center", fontsize=8)
        ax.set_xlim(0, max(float(frame["members"].max()), 1.0) * 1.35)
        ax.legend(loc="lower right", frameon=False)
        ax.set_title(f"Segment sizes on {pd.Timestamp(dates[0]):%Y-%m-%d} (+entered / −exited that day)")
        ax.set_xlabel("members")
        ax.set_ylabel("segment")

    def draw_series(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        wide = sizes.pivot_table(index="as_of_date", columns="segment_name", values="members", aggfunc="sum")
        for name in wide.columns:
            top.plot(pd.to_datetime(wide.index), wide[name], marker="o", markersize=2.5, label=short(name, 30))
        top.set_title("Segment members over time")
        top.set_ylabel("members")
        top.legend(loc="upper left", fontsize=7, frameon=False, ncols=2)
        daily = sizes.groupby("as_of_date")[["entered", "exited"]].sum()
        x = pd.to_datetime(daily.index)
        bottom.bar(x, daily["entered"], color=GREEN, label="entered")
        bottom.bar(x, -daily["exited"], color=RED, label="exited")
        bottom.axhline(0, color="#444", linewidth=0.6)
        bottom.set_title("Entries and exits per day (all segments)")
        bottom.set_xlabel("date")
        bottom.set_ylabel("people (exits below 0)")
        bottom.legend(loc="upper left", frameon=False)
        # Whole days on the axis (matplotlib would otherwise add noon ticks for a short history).
        if len(x) <= 14:
            bottom.set_xticks(x)
        bottom.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        fig.autofmt_xdate()

    if len(dates) == 1:
        return _draw(10, 0.4 * len(sizes) + 1.8, draw_single)
    return _draw(10, 6.5, draw_series)


def lift_chart(lift: pd.DataFrame) -> bytes:
    """Per segment (`label`), the conversion lift in points and the revenue-per-member lift, each a dot with its
    95% interval as an error bar, coloured by the verdict (green/red: significant up/down, blue: not
    significant, grey: too few members) around a line at zero."""
    labels = [short(s, 30) for s in lift["label"]]
    y = np.arange(len(lift))[::-1]
    verdict = lift["verdict"].astype(str).to_numpy()

    def colour(i: int, value: float) -> str:
        if verdict[i] == "significant":
            return GREEN if value > 0 else RED
        return BLUE if verdict[i] == "not significant" else GREY

    def panel(ax, estimate: str, low: str, high: str, scale: float, title: str, xlabel: str) -> None:
        values = lift[estimate].astype(float).to_numpy() * scale
        lows = lift[low].astype(float).to_numpy() * scale
        highs = lift[high].astype(float).to_numpy() * scale
        ax.axvline(0, color="#555", linewidth=0.8)
        for i, (value, lo, hi) in enumerate(zip(values, lows, highs, strict=True)):
            if np.isnan(value):
                ax.annotate("n/a", (0, y[i]), ha="center", va="center", fontsize=8, color=GREY)
                continue
            c = colour(i, value)
            if not (np.isnan(lo) or np.isnan(hi)):
                # a light band over the interval, whiskers at its ends, the estimate as a dot
                ax.barh(y[i], hi - lo, left=lo, height=0.32, color=c, alpha=0.45, linewidth=0)
                ax.errorbar(value, y[i], xerr=[[value - lo], [hi - value]], fmt="none", ecolor=c, elinewidth=2,
                            capsize=4)
            ax.plot(value, y[i], "o", color=c, markersize=7,
                    markerfacecolor="white" if verdict[i] == "too few members" else c)
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(lift) - 0.3)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.margins(x=0.15)

    def draw(fig: Figure) -> None:
        left, right = fig.subplots(1, 2, sharey=True)
        panel(left, "conversion_lift", "conversion_lift_low", "conversion_lift_high", 100.0,
              "Conversion lift, 95% interval", "contacted minus holdout conversion (percentage points)")
        panel(right, "revenue_lift_per_member", "revenue_lift_low", "revenue_lift_high", 1.0,
              "Revenue per member lift, 95% interval", "contacted minus holdout net revenue per member")
        left.set_ylabel("segment")
        handles = [Line2D([], [], marker="o", linestyle="-", color=c, markerfacecolor=f, label=text)
                   for c, f, text in ((GREEN, GREEN, "significant: messaging helped"),
                                      (RED, RED, "significant: messaging hurt"),
                                      (BLUE, BLUE, "not significant (could be chance)"),
                                      (GREY, "white", "too few members to judge"))]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
        fig.suptitle("Campaign lift: contacted vs holdout members, with 95% intervals", fontweight="bold")

    return _draw(11, 1.8 + 0.45 * max(len(lift), 2), draw)


def status_chart(counts: pd.DataFrame, *, title: str, xlabel: str, ylabel: str) -> bytes:
    """Stacked bars: one bar per row of `counts` (index), one colour per status (columns)."""

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        x = np.arange(len(counts))
        bottom = np.zeros(len(counts))
        for status in counts.columns:
            values = counts[status].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, color=STATUS_COLOURS.get(str(status), ORANGE), label=short(status, 20))
            for i, v in enumerate(values):
                if v:
                    ax.annotate(f"{int(v):,}", (i, bottom[i] + v / 2), ha="center", va="center", fontsize=8,
                                color="white")
            bottom += values
        ax.set_xticks(x, [short(i, 24) for i in counts.index])
        ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.1)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)

    return _draw(8, 3.6, draw)
