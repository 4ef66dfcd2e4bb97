"""Travel KPIs on hand-built rosters whose figures can be worked out on paper."""

from __future__ import annotations

import dataclasses
import math

import pytest

from carerun.asis import asis_plan
from carerun.metrics import (
    GAP_COLUMNS,
    TRAVEL_COLUMNS,
    compare_kpis,
    format_provider_table,
    impossible_gaps,
    lateness_table,
    plan_kpis,
    travel_by_carer,
    travel_by_day,
    travel_by_provider,
    travel_table,
    working_seconds,
)
from carerun.model import Assignment, Plan, Provider, ProviderKind, Roster, TimeWindow, Visit
from test_asis import A, B, C, carer, hm, make_matrix, three_visit_roster, visit


def test_travel_table_by_hand() -> None:
    roster = three_visit_roster()
    table = travel_table(roster, asis_plan(roster, make_matrix()))
    assert list(table.columns) == TRAVEL_COLUMNS
    (row,) = table.to_dict("records")
    # base→A 10 min, A→B 5, B→C 7, C→base 15.
    assert row["travel_min"] == pytest.approx(37.0)
    assert row["distance_km"] == pytest.approx(22.2)
    assert row["contact_min"] == pytest.approx(30 + 45 + 30)
    # Leaves base 08:50, back 12:45.
    assert row["paid_min"] == pytest.approx(235.0)
    assert row["waiting_min"] == pytest.approx(235 - 37 - 105)
    assert row["travel_per_contact_hour"] == pytest.approx(37 / 1.75)
    assert row["travel_share_of_paid_time"] == pytest.approx(37 / 235)
    assert row["day"] == "Mon" and row["visits"] == 3 and row["provider"] == "P1"


def test_working_seconds_count_each_shift_from_base_and_back() -> None:
    roster = three_visit_roster()
    plan = asis_plan(roster, make_matrix())
    # Leaves base 08:50, back 12:45: one shift.
    assert working_seconds(roster, plan, make_matrix()) == {("c1", 0): 235 * 60}
    # As a split shift 07:00-11:00 and 11:30-22:00 the gap is not work: v1 and v2 are the
    # morning (08:50 to v2's end 10:45 plus 15 min B→base: 130 min), v3 the afternoon (from
    # 12:00 less the 7 min recorded before it, to 12:30 plus 15 min C→base: 52 min).
    split = dataclasses.replace(
        roster.carers[0], shifts={0: (TimeWindow(hm(7), hm(11)), TimeWindow(hm(11, 30), hm(22)))}
    )
    both = roster.replace(carers=[split])
    assert working_seconds(both, plan, make_matrix()) == {("c1", 0): (130 + 52) * 60}


def test_plan_kpis_by_hand() -> None:
    roster = three_visit_roster()
    k = plan_kpis(roster, asis_plan(roster, make_matrix()))
    assert k["label"] == "as-is"
    assert k["travel_min"] == 37.0
    assert k["distance_km"] == 22.2
    assert k["contact_hours"] == 1.75
    assert k["travel_per_contact_hour"] == round(37 / 1.75, 2) == 21.14
    assert k["travel_share_of_paid_time"] == round(37 / 235, 4)
    assert (k["visits_assigned"], k["visits_unassigned"]) == (3, 0)
    assert (k["late_visits"], k["delayed_visits"], k["lateness_min_total"]) == (0, 0, 0.0)


def test_asis_lateness_against_window_and_planned_time() -> None:
    # v2 planned 09:20 ± 5 starts 09:35: 15 min after planned, 10 past its window; v3 (± 30)
    # planned 10:00 starts 10:27: 27 min after planned but inside its window.
    roster = Roster(
        visits=(
            visit("v1", A, hm(9), 30),
            visit("v2", B, hm(9, 20), 45, tolerance=5),
            visit("v3", C, hm(10), 30),
        ),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    late = lateness_table(roster, plan).set_index("visit_id")
    assert late.loc["v2", "late_min"] == 10 and late.loc["v2", "delay_min"] == 15
    assert late.loc["v3", "late_min"] == 0 and late.loc["v3", "delay_min"] == 27
    k = plan_kpis(roster, plan)
    assert (k["late_visits"], k["lateness_min_total"], k["lateness_min_max"]) == (1, 10.0, 10.0)
    assert (k["delayed_visits"], k["delay_min_total"], k["delay_min_max"]) == (2, 42.0, 27.0)


def test_double_handed_contact_counts_for_each_carer() -> None:
    roster = Roster(
        visits=(visit("d", A, hm(9), 30, ("c1", "c2")),),
        carers=(carer("c1"), carer("c2", "P2")),
        providers=(Provider("P1", kind=ProviderKind.IN_HOUSE), Provider("P2")),
    )
    plan = asis_plan(roster, make_matrix())
    k = plan_kpis(roster, plan)
    assert k["contact_hours"] == 1.0  # 2 carers x 30 min
    assert k["visits_assigned"] == 1
    assert k["travel_min"] == 2 * (10 + 10)  # each: base→A 600 s, A→base 600 s
    assert k["travel_per_contact_hour"] == 40.0
    by_provider = travel_by_provider(travel_table(roster, plan), roster)
    assert list(by_provider["provider"]) == ["P1", "P2"]
    assert list(by_provider["kind"]) == ["in-house", "external"]
    assert list(by_provider["contact_min"]) == [30, 30]


def test_aggregations_sum_to_the_table() -> None:
    roster = three_visit_roster()
    tuesday = Visit(
        "t1",
        "x",
        1,
        visit("t", B, hm(9), 30).window,
        1800,
        B,
        carer_ids=("c2",),
        planned_start=hm(9),
    )
    roster = Roster(
        visits=(*roster.visits, tuesday),
        carers=(carer("c1"), carer("c2", "P2")),
        providers=(Provider("P1"), Provider("P2"), Provider("P3")),
    )
    table = travel_table(roster, asis_plan(roster, make_matrix()))
    by_carer, by_day = travel_by_carer(table), travel_by_day(table)
    by_provider = travel_by_provider(table, roster)
    for agg in (by_carer, by_day, by_provider):
        assert agg["travel_min"].sum() == pytest.approx(table["travel_min"].sum())
        assert agg["contact_min"].sum() == pytest.approx(table["contact_min"].sum())
    assert list(by_day["day"]) == ["Mon", "Tue"]
    assert list(by_carer["carer_id"]) == ["c1", "c2"]
    # A provider with no work still has a row, its ratios undefined.
    p3 = by_provider.set_index("provider").loc["P3"]
    assert p3["visits"] == 0 and math.isnan(p3["travel_per_contact_hour"])
    text = format_provider_table(by_provider, plan_kpis(roster, asis_plan(roster, make_matrix())))
    assert "P3" in text and "total" in text


def test_impossible_gap_detected_on_a_hand_built_pair() -> None:
    # v1 at A ends 09:30; v2 at B planned 09:32 needs 5 min travel: short by 3 min.
    # v3 at C planned 10:24 = v2's planned end (10:17) + exactly the 7 min B→C: possible.
    roster = Roster(
        visits=(
            visit("v1", A, hm(9), 30),
            visit("v2", B, hm(9, 32), 45),
            visit("v3", C, hm(10, 24), 30),
        ),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    gaps = impossible_gaps(roster, plan, make_matrix())
    assert list(gaps.columns) == GAP_COLUMNS
    (g,) = gaps.to_dict("records")
    assert (g["from_visit"], g["to_visit"], g["carer_id"], g["day"]) == ("v1", "v2", "c1", "Mon")
    assert (g["gap_min"], g["travel_min"], g["shortfall_min"]) == (2.0, 5.0, 3.0)
    assert (g["from_end"], g["to_start"]) == ("09:30", "09:32")
    # On the as-is plan's own (played-out) starts, the carer is simply late: no impossible gap.
    assert impossible_gaps(roster, plan, make_matrix(), planned=False).empty


def test_empty_plan_has_undefined_ratios_not_errors() -> None:
    roster = three_visit_roster()
    k = plan_kpis(roster, Plan(assignments=()))
    assert k["travel_min"] == 0 and k["travel_per_contact_hour"] is None
    assert k["travel_share_of_paid_time"] is None and k["visits_assigned"] == 0
    assert travel_by_day(travel_table(roster, Plan(assignments=()))).empty


def test_kpis_of_any_plan_use_its_own_travel() -> None:
    # An optimised-looking plan written by hand: c1 does v1 then v2 with the travel recorded.
    roster = three_visit_roster()
    plan = Plan(
        assignments=(
            Assignment("v1", "c1", 0, hm(9), travel_before=600),
            Assignment("v2", "c1", 0, hm(10), travel_before=300),
        ),
        travel_home={("c1", 0): 900},
        label="optimised",
    )
    k = plan_kpis(roster, plan)
    assert k["travel_min"] == 30.0 and k["label"] == "optimised"
    assert k["paid_hours"] == round((hm(10, 45) + 900 - (hm(9) - 600)) / 3600, 3)


def test_compare_kpis() -> None:
    before = {"label": "as-is", "travel_min": 100.0, "ratio": None, "visits": 3}
    after = {"label": "plan", "travel_min": 60.0, "ratio": 2.0, "visits": 3}
    assert compare_kpis(before, after) == {"travel_min": -40.0, "ratio": None, "visits": 0.0}
