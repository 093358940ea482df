"""Campaign lift statistics (orchestration/campaigns/lift.py) against statsmodels, an independent implementation,
on generated counts and revenue (edge cases included), a textbook example worked by hand, and the table the
step writes with its consistency check."""

from __future__ import annotations

import math
import warnings
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from orchestration.campaigns import lift
from orchestration.campaigns.assets import inconsistencies, write_lift_stats

AS_OF = date(2026, 10, 31)
REL, ABS = 1e-9, 1e-12

# (name, treated members, treated converted, holdout members, holdout converted); revenue is drawn per member.
EDGE_CASES = [
    ("zero_holdout_conversions", 500, 40, 60, 0),
    ("zero_treated_conversions", 500, 0, 60, 5),
    ("nobody_converted", 300, 0, 40, 0),
    ("everybody_treated_converted", 50, 50, 40, 10),
    ("one_treated_member", 1, 1, 100, 10),
    ("empty_holdout", 200, 20, 0, 0),
    ("empty_treated", 0, 0, 30, 3),
    ("both_empty", 0, 0, 0, 0),
    ("identical_arms", 400, 40, 400, 40),
]


def revenues(rng: np.random.Generator, members: int, converted: int) -> np.ndarray:
    """Net revenue in the window per member: a gamma-shaped amount (to the cent) for each converter, 0 else."""
    amounts = np.zeros(members)
    amounts[:converted] = np.round(rng.gamma(2.0, 35.0, size=converted) + 0.01, 2)
    return rng.permutation(amounts)


def generated_cases(seed: int = 31, random_rows: int = 40) -> tuple[pd.DataFrame, dict[str, tuple]]:
    """campaign_lift rows (counts, revenue sums and sums of squares) and each row's revenue arrays."""
    rng = np.random.default_rng(seed)
    specs = list(EDGE_CASES)
    for i in range(random_rows):
        n1, n0 = int(rng.integers(2, 4000)), int(rng.integers(2, 800))
        rate = rng.uniform(0.005, 0.4)
        specs.append((f"random_{i}", n1, int(rng.binomial(n1, min(rate * rng.uniform(0.7, 1.6), 1))),
                      n0, int(rng.binomial(n0, rate))))
    rows, arrays = [], {}
    for name, n1, x1, n0, x0 in specs:
        treated = revenues(rng, n1, x1)
        holdout = treated.copy() if name == "identical_arms" else revenues(rng, n0, x0)
        arrays[name] = (treated, holdout)
        rows.append({"segment_name": name, "treated_members": n1, "treated_converted": x1, "holdout_members": n0,
                     "holdout_converted": x0, "treated_revenue": treated.sum(),
                     "treated_revenue_sum_squares": (treated**2).sum(), "holdout_revenue": holdout.sum(),
                     "holdout_revenue_sum_squares": (holdout**2).sum(), "as_of_date": AS_OF})
    return pd.DataFrame(rows), arrays


def assert_same(mine: float, reference: float, what: str) -> None:
    """Equal to 1e-9 (relative); an undefined reference (NaN, or an infinity from a division by zero) must be
    NaN here too."""
    if reference is None or not math.isfinite(reference):
        assert math.isnan(mine), f"{what}: {mine} where statsmodels has no value ({reference})"
    else:
        assert mine == pytest.approx(reference, rel=REL, abs=ABS), what


@pytest.fixture(scope="module")
def computed():
    frame, arrays = generated_cases()
    return lift.lift_statistics(frame, min_members=30).set_index("segment_name"), frame, arrays


def test_every_statistic_equals_statsmodels(computed):
    stats, frame, arrays = computed
    power = NormalIndPower()
    checked = 0
    for row in frame.itertuples(index=False):
        name, n1, x1, n0, x0 = (row.segment_name, row.treated_members, row.treated_converted, row.holdout_members,
                                row.holdout_converted)
        got = stats.loc[name]
        if n1 == 0 or n0 == 0:
            continue  # no reference for an empty arm: test_an_empty_arm_has_no_statistics
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
            _, p_value = proportions_ztest([x1, x0], [n1, n0])
            ratio_low, ratio_high = confint_proportions_2indep(x1, n1, x0, n0, method="log-adjusted",
                                                               compare="ratio")
            treated, holdout = arrays[name]
            _, revenue_p, _ = ttest_ind(treated, holdout, usevar="unequal")
            revenue_low, revenue_high = CompareMeans(DescrStatsW(treated), DescrStatsW(holdout)).tconfint_diff(
                usevar="unequal")
        diff = x1 / n1 - x0 / n0
        assert_same(got.conversion_lift, diff, f"{name} conversion_lift")
        assert_same(got.conversion_lift_low, low, f"{name} conversion_lift_low")
        assert_same(got.conversion_lift_high, high, f"{name} conversion_lift_high")
        assert_same(got.conversion_p_value, float(p_value), f"{name} conversion_p_value")
        assert_same(got.relative_lift_low, ratio_low - 1, f"{name} relative_lift_low")
        assert_same(got.relative_lift_high, ratio_high - 1, f"{name} relative_lift_high")
        assert_same(got.incremental_conversions_low, low * n1, f"{name} incremental_conversions_low")
        assert_same(got.incremental_conversions_high, high * n1, f"{name} incremental_conversions_high")
        assert_same(got.treated_revenue_per_member, treated.mean(), f"{name} treated_revenue_per_member")
        assert_same(got.holdout_revenue_per_member, holdout.mean(), f"{name} holdout_revenue_per_member")
        defined = math.isfinite(revenue_p)
        assert_same(got.revenue_p_value, revenue_p, f"{name} revenue_p_value")
        assert_same(got.revenue_lift_low, revenue_low if defined else math.nan, f"{name} revenue_lift_low")
        assert_same(got.revenue_lift_high, revenue_high if defined else math.nan, f"{name} revenue_lift_high")
        assert_same(got.incremental_revenue_low, revenue_low * n1 if defined else math.nan, f"{name} inc. revenue")
        assert_same(got.incremental_revenue, (treated.mean() - holdout.mean()) * n1, f"{name} incremental_revenue")
        # The minimum detectable lift, read back as Cohen's h, has exactly 80% power by statsmodels' own power
        # function. (solve_power's root finder stops at xtol 1e-5, so it only agrees to that.)
        baseline = x0 / n0
        mde = got.minimum_detectable_lift
        if math.isnan(mde):
            assert power.power(proportion_effectsize(1.0, baseline), n1, 0.05, ratio=n0 / n1) < 0.8, name
        else:
            h = proportion_effectsize(baseline + mde, baseline)
            assert power.power(h, n1, 0.05, ratio=n0 / n1) == pytest.approx(0.8, rel=REL), name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                solved = power.solve_power(effect_size=None, nobs1=n1, alpha=0.05, power=0.8, ratio=n0 / n1)
            assert h == pytest.approx(solved, abs=1e-5), name
        checked += 1
    assert checked == len(frame) - 3


def test_the_edge_cases_come_out_as_statsmodels_says(computed):
    stats, _, _ = computed
    identical = stats.loc["identical_arms"]
    assert identical.conversion_lift == 0 and identical.conversion_p_value == pytest.approx(1.0, rel=REL)
    assert identical.revenue_lift_per_member == 0 and identical.revenue_p_value == pytest.approx(1.0, rel=REL)
    assert identical.conversion_lift_low == pytest.approx(-identical.conversion_lift_high, rel=REL)
    # nobody converted anywhere: no z-test and no revenue spread, yet a Newcombe interval around 0
    nobody = stats.loc["nobody_converted"]
    assert math.isnan(nobody.conversion_p_value) and math.isnan(nobody.revenue_p_value)
    assert nobody.conversion_lift_low < 0 < nobody.conversion_lift_high
    assert nobody.verdict == "not significant"
    # a holdout without a conversion: the relative lift is undefined, its adjusted interval is not
    zero = stats.loc["zero_holdout_conversions"]
    assert math.isnan(zero.relative_lift) and math.isfinite(zero.relative_lift_low) and zero.relative_lift_high > 0
    assert math.isnan(stats.loc["one_treated_member"].revenue_p_value)


def test_an_empty_arm_has_no_statistics(computed):
    stats, _, _ = computed
    for name in ("empty_holdout", "empty_treated", "both_empty"):
        row = stats.loc[name]
        assert row.verdict == "too few members", name
        for column in ("conversion_lift", "conversion_lift_low", "conversion_p_value", "relative_lift_low",
                       "revenue_lift_per_member", "revenue_p_value", "incremental_revenue_high",
                       "minimum_detectable_lift"):
            assert math.isnan(row[column]), (name, column)


def test_a_textbook_example_worked_by_hand():
    """Newcombe (1998), Statistics in Medicine 17:873, table II example (a): 56/70 against 48/80.

    Wilson interval of each rate, z = 1.959964: p = 56/70 = 0.8, centre (p + z²/2n)/(1 + z²/n) =
    (0.8 + 0.027439)/1.054878 = 0.784401, half-width z·sqrt(p(1-p)/n + z²/4n²)/(1 + z²/n) = 0.092568:
    0.691834 to 0.876953; p = 48/80 = 0.6: 0.490455 to 0.700382. Difference 0.2; lower end
    0.2 - sqrt((0.8 - 0.691834)² + (0.700382 - 0.6)²) = 0.2 - 0.147568 = 0.052432, upper end
    0.2 + sqrt((0.6 - 0.490455)² + (0.876953 - 0.8)²) = 0.2 + 0.133873 = 0.333873: the paper's
    0.0524 to 0.3339 (method 10). Pooled z-test: p = 104/150 = 0.693333, SE = sqrt(0.693333·0.306667·
    (1/70 + 1/80)) = 0.075467, z = 0.2/0.075467 = 2.6502, two-sided p = 2·(1 - Φ(2.6502)) = 0.00805 (Pearson's
    chi-square 7.023 = z² on one degree of freedom).

    Revenue: treated 0, 0, 10, 20 (mean 7.5, variance 275/3), holdout 0, 5, 0 (mean 5/3, variance 25/3).
    SE² = (275/3)/4 + (25/3)/3 = 22.9167 + 2.7778 = 25.6944, SE = 5.06897; t = 5.8333/5.06897 = 1.15079;
    df = 25.6944² / (22.9167²/3 + 2.7778²/2) = 660.205/(175.058 + 3.858) = 660.205/178.916 = 3.6900.

    Minimum detectable lift at 1000 and 1000 members from 10%: x = z_0.975 + z_0.8 = 1.959964 + 0.841621 =
    2.801585 (the far tail adds 1e-6 of power: negligible at this precision); h = x/sqrt(500) = 0.125291;
    asin(sqrt(0.1)) = 0.321751; sin²(0.321751 + 0.062645) = 0.140624: 4.06 points.
    """
    low, high = lift.newcombe_interval(56, 70, 48, 80)
    assert (round(float(low), 4), round(float(high), 4)) == (0.0524, 0.3339)
    assert (float(low), float(high)) == pytest.approx((0.052432, 0.333873), abs=1e-6)
    wilson = lift.wilson_interval(56, 70)
    assert (float(wilson[0]), float(wilson[1])) == pytest.approx((0.691834, 0.876953), abs=1e-6)
    z, p_value = lift.pooled_z_test(56, 70, 48, 80)
    assert float(z) == pytest.approx(2.6502, abs=1e-4) and float(z) ** 2 == pytest.approx(7.0234, abs=1e-4)
    assert float(p_value) == pytest.approx(0.00805, abs=1e-5)

    mean1, var1 = lift.mean_and_variance(30.0, 500.0, 4)
    mean0, var0 = lift.mean_and_variance(5.0, 25.0, 3)
    assert (float(mean1), float(var1), float(mean0), float(var0)) == pytest.approx((7.5, 275 / 3, 5 / 3, 25 / 3))
    welch = lift.welch_test(mean1, var1, 4, mean0, var0, 3)
    assert float(welch["t"]) == pytest.approx(1.15079, abs=1e-5)
    assert float(welch["df"]) == pytest.approx(3.6900, abs=1e-4)

    assert float(lift.detectable_effect_size(1000, 1000)) == pytest.approx(0.125291, abs=1e-6)
    assert float(lift.minimum_detectable_lift(1000, 1000, 0.1)) == pytest.approx(0.040624, abs=1e-6)


def test_the_verdict_follows_the_minimum_per_arm_then_the_p_value():
    frame = pd.DataFrame({
        "segment_name": ["small", "clear", "noise", "worse"],
        "treated_members": [99, 2000, 2000, 2000], "treated_converted": [60, 300, 205, 150],
        "holdout_members": [400, 400, 400, 400], "holdout_converted": [10, 40, 40, 60],
        "treated_revenue": [0.0] * 4, "treated_revenue_sum_squares": [0.0] * 4,
        "holdout_revenue": [0.0] * 4, "holdout_revenue_sum_squares": [0.0] * 4, "as_of_date": [AS_OF] * 4,
    })
    stats = lift.lift_statistics(frame, min_members=100).set_index("segment_name")
    assert stats.loc["small", "verdict"] == "too few members"  # a huge difference, but 99 treated members
    assert stats.loc["clear", "verdict"] == "significant" and stats.loc["clear", "conversion_p_value"] < 0.05
    assert stats.loc["noise", "verdict"] == "not significant" and stats.loc["noise", "conversion_p_value"] > 0.05
    assert stats.loc["worse", "verdict"] == "significant" and stats.loc["worse", "conversion_lift"] < 0
    assert lift.lift_statistics(frame, min_members=99).set_index("segment_name").loc["small", "verdict"] \
        == "significant"
    with pytest.raises(ValueError, match="at least 1"):
        lift.lift_statistics(frame, min_members=0)


def _campaign_lift_table(con, frame: pd.DataFrame) -> None:
    con.execute("create schema marts")
    con.register("rows", frame)
    con.execute("create table marts.campaign_lift as select * from rows")
    con.unregister("rows")


def test_the_step_writes_nulls_not_nans_and_its_check_catches_a_bad_row(computed):
    _, frame, _ = computed
    con = duckdb.connect()
    _campaign_lift_table(con, frame)
    written = write_lift_stats(con, min_members=30)
    assert len(written) == len(frame)
    table = con.execute("describe marts.campaign_lift_stats").fetchall()
    assert [(r[0], r[1].lower()) for r in table] == list(lift.OUTPUT_COLUMNS.items())
    assert con.execute("select count(*) from marts.campaign_lift_stats where isnan(conversion_p_value) "
                       "or isnan(revenue_p_value) or isnan(minimum_detectable_lift)").fetchone()[0] == 0
    assert con.execute("select conversion_p_value is null, verdict from marts.campaign_lift_stats "
                       "where segment_name = 'nobody_converted'").fetchone() == (True, "not significant")
    assert con.execute("select distinct as_of_date from marts.campaign_lift_stats").fetchall() == [(AS_OF,)]
    assert inconsistencies(con) == {}

    con.execute("update marts.campaign_lift_stats set verdict = 'significant' where segment_name = 'empty_holdout'")
    con.execute("update marts.campaign_lift_stats set conversion_lift_low = conversion_lift + 0.01 "
                "where segment_name = 'random_0'")
    con.execute("delete from marts.campaign_lift_stats where segment_name = 'random_1'")
    assert inconsistencies(con) == {"same_segments": ["random_1"], "interval_holds_estimate": ["random_0"],
                                    "verdict": ["empty_holdout"]}


def test_no_marketing_segment_writes_an_empty_table():
    frame, _ = generated_cases(random_rows=0)
    con = duckdb.connect()
    _campaign_lift_table(con, frame.iloc[0:0])
    assert write_lift_stats(con, min_members=100).empty
    assert con.execute("select count(*) from marts.campaign_lift_stats").fetchone()[0] == 0
    assert inconsistencies(con) == {}


def test_every_column_of_the_table_is_documented_with_the_marts():
    """The step's table is declared as a dbt source next to campaign_lift: its columns (in order) and a description
    of each, which the dbt docs and the serving file's comments show."""
    import yaml

    from orchestration.campaigns.assets import LIFT_STATS
    from orchestration.transform.project import DBT_PROJECT_DIR

    yml = DBT_PROJECT_DIR / "models" / "marts" / "campaigns" / "_campaigns__models.yml"
    declared = yaml.safe_load(yml.read_text())
    (source,) = declared["sources"]
    (table,) = source["tables"]
    assert (source["schema"], table["name"]) == tuple(LIFT_STATS.path)
    assert table["meta"]["dagster"]["asset_key"] == list(LIFT_STATS.path)
    assert [c["name"] for c in table["columns"]] == list(lift.OUTPUT_COLUMNS)
    assert all(len(c["description"].strip()) > 20 for c in table["columns"])
    # campaign_lift's contract lists the moments the step reads
    (model,) = [m for m in declared["models"] if m["name"] == "campaign_lift"]
    assert set(lift.INPUT_COLUMNS) <= {c["name"] for c in model["columns"]}
