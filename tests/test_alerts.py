"""Exception reports on a hand-built Monday whose tea band is short."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from carerun import (
    Assignment,
    Carer,
    InputError,
    Location,
    Plan,
    Provider,
    Roster,
    Shift,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Visit,
)
from carerun.alerts import (
    DEFAULT_BANDS,
    KINDS,
    capacity_table,
    exceptions_frame,
    exceptions_summary,
    gap_shortfalls,
    write_exceptions_csv,
)

H = 3600
M = 60
HOME = Location(52.67, -0.73)


def hm(h: int, m: int = 0) -> int:
    return h * H + m * M


def visit(vid: str, start: int, minutes: int, carer: str = "", **kw: Any) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=f"client-{vid}",
        day=0,
        window=TimeWindow(start - 30 * M, start + 30 * M),
        duration=minutes * M,
        location=HOME,
        planned_start=start,
        carer_ids=(carer,) if carer else (),
        **kw,
    )


def monday() -> tuple[Roster, Plan]:
    """a1 (provider A, 07–23, limits 420 min/day, 400 min/week) does:

    m1 08:00–09:00 (10 min travel before), l1 11:10–13:50 (10), e1 16:00–17:00 (10),
    e2 17:00–18:00 (10), e3 18:00–19:00 (10), then 10 min home. b1 (B, 07–23) does nothing;
    u1 (B's, 09:00, priority 2) is unassigned.

    Tea band 16–19: A's demand 180 min against 180 − 20 travel = 160 → short.
    Lunch 11–14: 160 against 180 − 10 = 170 (94 %) → nearly short. Morning: 60 of 170.
    """
    shifts = {0: (Shift(hm(7), hm(23)),)}
    carers = (
        Carer("a1", "A", HOME, shifts=shifts, max_minutes_day=420, max_minutes_week=400),
        Carer("b1", "B", HOME, shifts=shifts),
    )
    visits = (
        visit("m1", hm(8), 60, "a1"),
        visit("l1", hm(11, 10), 160, "a1"),
        visit("e1", hm(16), 60, "a1"),
        visit("e2", hm(17), 60, "a1"),
        visit("e3", hm(18), 60, "a1"),
        visit("u1", hm(9), 30, provider="B", priority=2),
    )
    roster = Roster(visits, carers, (Provider("A"), Provider("B")))
    plan = Plan(
        tuple(
            Assignment(v.visit_id, "a1", 0, v.planned_start or 0, travel_before=600)
            for v in visits[:5]
        ),
        unassigned=(Unassigned("u1", UnassignedReason.NO_SKILL),),
        travel_home={("a1", 0): 600},
    )
    return roster, plan


def test_capacity_table_by_hand() -> None:
    cap = capacity_table(*monday())
    rows = cap.set_index(["band", "provider"])
    tea = rows.loc[("tea", "A")]
    assert (tea.demand_min, tea.shift_min, tea.travel_min, tea.capacity_min) == (180, 180, 20, 160)
    assert tea.ratio == pytest.approx(180 / 160, abs=1e-3)
    assert rows.loc[("lunch", "A")].ratio == pytest.approx(160 / 170, abs=1e-3)
    assert rows.loc[("morning", "A")].capacity_min == 170
    # u1 is B's: 30 of its 60 minutes fall in the morning band; B's shift is all capacity.
    assert rows.loc[("morning", "B")].demand_min == 30
    assert rows.loc[("tea", "all")].capacity_min == 160 + 180
    assert rows.loc[("bed", "all")].travel_min == 10
    assert set(cap["day"]) == {"Mon"}
    assert list(cap["band"].drop_duplicates()) == [b[0] for b in DEFAULT_BANDS]


def test_only_the_tea_band_is_short() -> None:
    frame = exceptions_frame(*monday())
    short = frame[frame.kind == "capacity_short"]
    assert short[["day", "band", "provider"]].values.tolist() == [["Mon", "tea", "A"]]
    assert short.iloc[0].severity == "high"
    assert "short by 20 min" in short.iloc[0].message
    near = frame[frame.kind == "capacity_near_short"]
    assert near[["band", "provider"]].values.tolist() == [["lunch", "A"]]
    stricter = exceptions_frame(*monday(), near_short=0.95)
    assert "capacity_near_short" not in set(stricter.kind)


def test_over_limits_and_impossible_gaps() -> None:
    frame = exceptions_frame(*monday())
    # 60 + 160 + 180 visit minutes + 60 travel = 460 min.
    (daily,) = frame[frame.kind == "over_daily_limit"].itertuples()
    assert (daily.carer_id, daily.day, daily.value) == ("a1", "Mon", 40)
    (weekly,) = frame[frame.kind == "over_weekly_limit"].itertuples()
    assert weekly.value == 60
    gaps = frame[frame.kind == "impossible_gap"]
    assert list(gaps.visit_id) == ["e2", "e3"]
    assert list(gaps.value) == [10, 10]
    assert list(gaps.band) == ["tea", "tea"]
    assert "journey takes 10 min" in gaps.iloc[0].message
    table = gap_shortfalls(*monday())
    assert list(table.prev_visit_id) == ["e1", "e2"]
    assert list(table.gap_min) == [0, 0]


def test_spare_capacity_and_unassigned() -> None:
    frame = exceptions_frame(*monday())
    spare = frame[frame.kind == "spare_capacity"].set_index(["carer_id", "band"])
    # a1: morning 180 − 70 = 110, lunch 10 (not flagged), tea 0, bed 240 − 10 home = 230.
    assert spare.loc[("a1", "morning")].value == 110
    assert ("a1", "lunch") not in spare.index
    assert ("a1", "tea") not in spare.index
    assert spare.loc[("a1", "bed")].value == 230
    # b1 is idle; its tea time is wanted by A, which is short then.
    assert spare.loc[("b1", "tea")].severity == "medium"
    assert "needed by A" in spare.loc[("b1", "tea")].message
    assert spare.loc[("b1", "bed")].severity == "low"
    fewer = exceptions_frame(*monday(), spare_min=200)
    assert set(fewer[fewer.kind == "spare_capacity"].band) == {"bed"}
    (un,) = frame[frame.kind == "unassigned"].itertuples()
    assert (un.visit_id, un.severity, un.band, un.provider) == ("u1", "high", "morning", "B")
    assert "no carer has the skills" in un.message


def test_frame_is_sorted_most_severe_first_and_summarised() -> None:
    roster, plan = monday()
    frame = exceptions_frame(roster, plan)
    ranks = frame.severity.map(["high", "medium", "low"].index)
    assert ranks.is_monotonic_increasing
    summary = exceptions_summary(frame, plan)
    assert summary["by_kind"]["capacity_short"] == 1
    assert summary["by_kind"]["impossible_gap"] == 2
    assert summary["unassigned_by_reason"] == {"no carer has the skills": 1}
    assert sum(summary["by_severity"].values()) == len(frame)
    json.dumps(summary)


def test_without_a_plan_uses_the_as_is_allocation_and_a_travel_share() -> None:
    roster, _ = monday()
    cap = capacity_table(roster, None, travel_share=0.25).set_index(["band", "provider"])
    assert cap.loc[("tea", "A")].capacity_min == 135
    assert cap.loc[("tea", "A")].demand_min == 180
    frame = exceptions_frame(roster, None)
    assert set(frame.kind) <= {"capacity_short", "capacity_near_short"}
    assert ["Mon", "tea", "A"] in frame[["day", "band", "provider"]].values.tolist()


def test_capacity_by_area() -> None:
    shifts = {0: (Shift(hm(7), hm(10)),)}
    carers = (Carer("n1", "A", HOME, shifts=shifts), Carer("s1", "A", HOME, shifts=shifts))
    visits = (
        visit("n", hm(8), 150, "n1", area="North"),
        visit("s", hm(8), 30, "s1", area="South"),
    )
    roster = Roster(visits, carers, (Provider("A"),))
    plan = Plan(tuple(Assignment(v.visit_id, v.carer_ids[0], 0, hm(8)) for v in visits))
    cap = capacity_table(roster, plan)
    areas = cap[cap.area != ""].set_index("area")
    assert areas.loc["North"].demand_min == 120  # 08:00–10:30, 120 min of it in the band
    assert areas.loc["North"].capacity_min == 180
    assert areas.loc["South"].ratio == pytest.approx(30 / 180, abs=1e-3)


def test_write_csv_is_atomic_and_safe(tmp_path: Path) -> None:
    frame = exceptions_frame(*monday())
    frame.loc[0, "message"] = "=HYPERLINK(1)"
    path = write_exceptions_csv(frame, tmp_path / "exceptions.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(frame)
    assert rows[0]["message"] == "'=HYPERLINK(1)"
    assert list(rows[0]) == list(frame.columns)
    assert [p.name for p in tmp_path.iterdir()] == ["exceptions.csv"]


def test_no_capacity_at_all_is_infinitely_short() -> None:
    roster = Roster(
        (visit("v", hm(8), 30),),
        (Carer("x", "A", HOME),),
        (Provider("A"),),
    )
    cap = capacity_table(roster, Plan(()))
    assert math.isinf(cap.set_index("provider").loc["all"].ratio)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bands": []}, "bands"),
        ({"bands": [("x", 10, 5)]}, "start must be before end"),
        ({"bands": [("x", 0, 5), ("x", 6, 9)]}, "distinct"),
        ({"near_short": 0}, "near_short"),
        ({"near_short": 1.5}, "near_short"),
        ({"travel_share": 1.0}, "travel_share"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        exceptions_frame(*monday(), **kwargs)


def test_planned_gaps_for_a_played_out_as_is() -> None:
    # As played out, a1 reaches e2 at 17:10 and e3 at 18:20: its own starts never clash, but
    # the roster asked for 17:00 and 18:00, which cannot be made.
    roster, plan = monday()
    late = {"e2": hm(17, 10), "e3": hm(18, 20)}
    played = Plan(
        tuple(
            Assignment(a.visit_id, a.carer_id, a.day, late.get(a.visit_id, a.start), 600)
            for a in plan.assignments
        )
    )
    assert gap_shortfalls(roster, played).empty
    asked = gap_shortfalls(roster, played, planned=True)
    assert list(asked.visit_id) == ["e2", "e3"]
    assert list(asked.start) == ["17:00", "18:00"]
    frame = exceptions_frame(roster, played, planned_gaps=True)
    assert list(frame[frame.kind == "impossible_gap"].visit_id) == ["e2", "e3"]


def test_bundled_example_as_is() -> None:
    from carerun.asis import asis_plan
    from carerun.examples import example_roster_path
    from carerun.matrix import roster_modes, roster_points, straight_line_matrix
    from carerun.roster import read_roster

    roster = read_roster(example_roster_path())
    matrix = straight_line_matrix(roster_points(roster), modes=roster_modes(roster))
    plan = asis_plan(roster, matrix)
    frame = exceptions_frame(roster, plan, planned_gaps=True)
    kinds = frame.kind.value_counts()
    assert kinds.get("unassigned", 0) == len(plan.unassigned)
    assert kinds.get("impossible_gap", 0) == len(gap_shortfalls(roster, plan, planned=True))
    assert set(frame.kind) <= set(KINDS)
    assert frame.message.str.len().min() > 20
    cap = capacity_table(roster, plan)
    pooled = cap[cap.provider == "all"]
    # Every carer-visit minute in a band is counted once in the pooled rows.
    per_provider = cap[(cap.provider != "all") & (cap.provider != "")]
    assert per_provider.demand_min.sum() == pytest.approx(pooled.demand_min.sum(), abs=1)


def test_a_plan_of_another_roster_is_an_input_error() -> None:
    roster, _ = monday()
    foreign = Plan((Assignment("m1", "ghost", 0, hm(8)),))
    with pytest.raises(InputError, match="ghost"):
        exceptions_frame(roster, foreign)
    with pytest.raises(InputError, match="zz"):
        capacity_table(roster, Plan((), unassigned=(Unassigned("zz", UnassignedReason.LINK),)))
