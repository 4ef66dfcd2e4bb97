"""Ethical Care Charter and NICE QS123 checks on a hand-built day."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from carerun import Assignment, Carer, Location, Plan, Provider, Roster, TimeWindow, Visit
from carerun.charter import charter_checks, is_personal_care

H = 3600
M = 60
HOME = Location(52.67, -0.73)


def visit(vid: str, minutes: int, **kw: Any) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=f"client-{vid}",
        day=0,
        window=TimeWindow(7 * H, 12 * H),
        duration=minutes * M,
        location=HOME,
        **kw,
    )


def day() -> tuple[Roster, Plan]:
    visits = (
        visit("s1", 15, skills=frozenset({"medication"})),
        visit("s2", 15, tasks="wash; dress"),
        visit("s3", 10),
        visit("s4", 16),
        visit("s5", 15, tasks="Medication prompt, welfare check"),
        visit("l1", 30),
        visit("l2", 45),
        visit("l3", 29),
    )
    carers = (
        Carer("c1", "P", HOME, cost_per_hour=12.0),
        Carer("c2", "P", HOME),
        Carer("c3", "Q", HOME),
    )
    providers = (Provider("P", hourly_rate=15.0), Provider("Q"))

    def a(v: str, c: str, h: int, m: int, travel: int) -> Assignment:
        return Assignment(v, c, 0, h * H + m * M, travel_before=travel)

    plan = Plan(
        (
            a("s1", "c1", 8, 0, 600),
            a("s2", "c1", 8, 15, 300),  # s1 ends 08:15: no time for the 5 min journey
            a("s3", "c1", 9, 0, 300),
            a("l1", "c2", 8, 0, 600),
            a("l2", "c2", 9, 0, 600),
            a("l3", "c2", 10, 0, 600),
            a("s4", "c3", 8, 0, 120),
            a("s5", "c3", 8, 16, 0),
        ),
        travel_home={("c2", 0): 600},
    )
    return Roster(visits, carers, providers), plan


def test_personal_care_rule() -> None:
    roster, _ = day()
    assert not is_personal_care(roster.visit("s1"))
    assert is_personal_care(roster.visit("s2"))
    assert is_personal_care(roster.visit("s3"))  # says nothing: counted as personal care
    assert not is_personal_care(roster.visit("s5"))
    assert is_personal_care(visit("x", 15, tasks="medication; shower"))


def test_short_visits_and_share_of_30_minutes_or_more() -> None:
    report = charter_checks(*day())
    assert report.visits == 8
    assert report.short_visits == 4  # s1, s2, s3, s5 (s4 is 16 min)
    assert report.short_personal_care == 2  # s2, s3
    assert report.visits_30_plus == 2  # l1, l2 (l3 is 29 min)
    assert report.share_30_plus == pytest.approx(2 / 8)
    assert set(report.short_table.visit_id) == {"s1", "s2", "s3", "s5"}


def test_back_to_back_without_travel_time() -> None:
    report = charter_checks(*day())
    assert report.back_to_back_short == 1
    assert report.gap_table.iloc[0].visit_id == "s2"
    assert report.gap_table.iloc[0].short_min == 5


def test_travel_to_be_paid_per_carer() -> None:
    report = charter_checks(*day())
    travel = report.travel_table.set_index("carer_id")
    assert travel.loc["c1", "travel_min"] == 20
    assert travel.loc["c1", "travel_cost"] == pytest.approx(4.0)  # own rate £12/h
    assert travel.loc["c2", "travel_min"] == 40  # 3 × 10 min + 10 min home
    assert travel.loc["c2", "travel_cost"] == pytest.approx(10.0)  # provider rate £15/h
    assert math.isnan(travel.loc["c3", "travel_cost"])
    assert report.travel_min_total == 62
    assert report.travel_min_per_carer == pytest.approx(62 / 3)
    assert report.travel_cost_total == pytest.approx(14.0)


def test_to_dict_is_json_with_continuity() -> None:
    out = charter_checks(*day()).to_dict()
    assert out["short_visits_15_min_or_less"] == 4
    assert out["share_30_min_or_more"] == 0.25
    assert out["continuity"]["clients"] == 8
    assert out["continuity"]["mean_carers"] == 1.0
    json.dumps(out)


def test_empty_plan_has_no_travel() -> None:
    roster, _ = day()
    out = charter_checks(roster, Plan(())).to_dict()
    assert out["carers"] == 0
    assert out["travel_min_per_carer_week"] == 0.0
    assert out["travel_cost_total"] is None
    json.dumps(out)
