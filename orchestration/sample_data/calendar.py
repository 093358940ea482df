"""Seasonality, weekly rhythm and daily rhythm as a time warp.

Every stream has a daily intensity (season x weekday x growth). Its cumulative share maps a number
x in [0, 1) to a moment: uniform x values become timestamps that follow the rhythm (more orders in late
November, more store visits on Saturdays, few web visits at 4am). Weights are computed in NumPy, so
they are exact and identical on every run.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from .sqlkit import sql_list

# Relative weight by ISO weekday (Mon..Sun) for each stream.
WEEKDAY = {
    "order": (1.05, 1.0, 0.97, 1.0, 0.92, 0.85, 1.2),
    "web": (1.05, 1.02, 1.0, 1.0, 0.9, 0.88, 1.15),
    "pos": (0.55, 0.55, 0.65, 0.8, 1.1, 2.0, 1.6),
    "signup": (1.05, 1.0, 1.0, 1.0, 0.9, 0.9, 1.15),
}
# Hour-of-day (UTC) weights: most customers are in the Americas, so the evening peak is 00-03 UTC.
HOURS = {
    "order": (6, 6, 5, 4, 2.5, 1.5, 1, 0.8, 0.8, 1, 1.5, 2.5, 3.5, 4, 4, 4.5, 5, 5, 4.5, 4.5, 4.5, 4.5, 5, 5.5),
    "pos": (1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 2, 3, 4, 5, 5, 5, 4, 3),
}
HOURS["web"] = HOURS["order"]
HOURS["signup"] = HOURS["order"]
KINDS = tuple(WEEKDAY)


def _season(doy: np.ndarray) -> np.ndarray:
    """Holiday season (Black Friday peak, pre-Christmas), Valentine's and Mother's Day bumps;
    summer and January lulls."""

    def bump(centre: float, width: float) -> np.ndarray:
        """A Gaussian bump around day-of-year `centre`."""
        return np.exp(-(((doy - centre) / width) ** 2))

    return (1 + 0.8 * bump(331, 4) + 0.5 * bump(338, 16) + 0.5 * bump(350, 8) + 0.15 * bump(44, 4)
            + 0.12 * bump(128, 5) - 0.18 * bump(205, 25) - 0.15 * bump(20, 12))


def build(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """Create `cal_<kind>(d, c_lo, w)` tables and `f_<kind>(t)` / `tod_<kind>(f)` macros."""
    days = pd.date_range(start, end, freq="D")
    doy = days.dayofyear.to_numpy(dtype=float)
    dow = days.dayofweek.to_numpy()  # 0 = Monday
    growth = 0.75 + 0.5 * np.arange(len(days)) / max(len(days) - 1, 1)
    season = _season(doy)
    for kind in KINDS:
        w = season * np.asarray(WEEKDAY[kind])[dow] * (growth if kind in ("signup", "order") else 1.0)
        w = w / w.sum()
        lo = np.concatenate(([0.0], np.cumsum(w)[:-1]))
        con.register("cal_frame", pd.DataFrame({"d": days.date, "c_lo": lo, "w": w}))
        con.execute(f"CREATE OR REPLACE TABLE cal_{kind} AS SELECT d::DATE AS d, c_lo, w FROM cal_frame")
        con.unregister("cal_frame")
        hw = np.asarray(HOURS[kind], dtype=float)
        hw = hw / hw.sum()
        hlo = np.concatenate(([0.0], np.cumsum(hw)[:-1]))
        # Inverse of the hour profile: fraction of a day's intensity -> seconds after midnight.
        slots = 4000
        hour_of = np.searchsorted(np.cumsum(hw), (np.arange(slots) + 0.5) / slots, side="right")
        hour_of = np.minimum(hour_of, 23)
        con.execute(f"""
            CREATE OR REPLACE MACRO tod_{kind}(f) AS (
                WITH h AS (SELECT {sql_list(hour_of.tolist())}[least(floor(f * {slots}), {slots - 1})::INTEGER + 1]
                                  AS hr)
                SELECT hr * 3600 + least(3599, greatest(0, (f - {sql_list(hlo.tolist())}[hr + 1])
                                         / {sql_list(hw.tolist())}[hr + 1] * 3600))
                FROM h)
        """)
        # Forward map: a timestamp -> its position x on this stream's [0, 1) axis.
        con.execute(f"""
            CREATE OR REPLACE MACRO f_{kind}(t) AS
                {sql_list(lo.tolist())}[least(greatest(t::DATE - DATE '{start}', 0), {len(days) - 1}) + 1]
                + {sql_list(w.tolist())}[least(greatest(t::DATE - DATE '{start}', 0), {len(days) - 1}) + 1]
                  * (epoch(t) - epoch(t::DATE)) / 86400.0
        """)


def warp(src: str, x: str, kind: str, out: str = "t") -> str:
    """SQL: rows of `src` plus `out`, the moment that position `x` (in [0, 1)) maps to for `kind`."""
    return f"""
        SELECT s.*, addsec(c.d::TIMESTAMP, tod_{kind}(least(0.999999, (s.{x} - c.c_lo) / c.w))) AS {out}
        FROM ({src}) s ASOF JOIN cal_{kind} c ON s.{x} >= c.c_lo
    """
