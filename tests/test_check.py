"""The independent checker: a solver plan passes; each deliberate breakage is caught."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest

from carerun import PlanCheckError
from carerun.check import Violation, assert_valid, check
from carerun.matrix import TravelMatrix, roster_points, straight_line_matrix
from carerun.model import (
    Assignment,
    Carer,
    Location,
    Plan,
    Provider,
    Roster,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Visit,
)
from carerun.solve import SolveParams, plan_week

PARAMS = SolveParams(time_limit=1.0, solution_limit=300)


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def at(east_km: float, north_km: float) -> Location:
    lat = 52.65 + north_km / 111.2
    lon = -0.70 + east_km / (111.2 * math.cos(math.radians(52.65)))
    return Location(round(lat, 7), round(lon, 7))


def tw(start: str, end: str) -> TimeWindow:
    return TimeWindow(hm(start), hm(end))


def make_roster() -> Roster:
    visits = [
        Visit("dh", "c1", 0, tw("09:00", "10:00"), 1800, at(1, 0), carers_required=2),
        Visit("peg", "c2", 0, tw("10:00", "12:00"), 1800, at(2, 1), skills=frozenset({"peg"})),
        Visit(
            "ex",
            "c3",
            0,
            tw("08:00", "12:00"),
            1800,
            at(0, 2),
            excluded_carers=frozenset({"A", "B"}),
        ),
        Visit("fem", "c4", 0, tw("11:00", "13:00"), 1800, at(1, 1), gender_preference="female"),
        Visit("first", "c5", 0, tw("08:00", "12:00"), 1800, at(-1, 0)),
        Visit(
            "then",
            "c5",
            0,
            tw("08:00", "13:00"),
            1800,
            at(-1, 0),
            follows="first",
            gap_min=3600,
            gap_max=7200,
        ),
        Visit(
            "pin",
            "c6",
            0,
            tw("11:30", "12:30"),
            1800,
            at(0, -1),
            pinned=True,
            carer_ids=("B",),
            planned_start=hm("12:00"),
        ),
        Visit("eve", "c7", 0, tw("17:00", "18:00"), 1800, at(2, 0)),
        Visit("tue", "c7", 1, tw("09:00", "10:00"), 1800, at(2, 0)),
    ]
    shifts = {0: (tw("07:00", "14:00"),), 1: (tw("07:00", "14:00"),)}
    carers = [
        Carer(
            "A",
            "P1",
            at(0, 0),
            shifts={0: (tw("07:00", "14:00"), tw("16:00", "20:00"))},
            skills=frozenset({"peg"}),
            gender="female",
            max_minutes_day=600,
        ),
        Carer("B", "P2", at(1, -1), shifts=shifts, gender="male"),
        Carer("C", "P1", at(-1, 1), shifts=shifts, gender="male", max_minutes_week=1200),
    ]
    return Roster(tuple(visits), tuple(carers), (Provider("P1"), Provider("P2")))


@pytest.fixture(scope="module")
def solved() -> tuple[Roster, TravelMatrix, Plan]:
    roster = make_roster()
    matrix = straight_line_matrix(roster_points(roster))
    plan = plan_week(roster, matrix, PARAMS)  # runs assert_valid itself
    assert not plan.unassigned
    return roster, matrix, plan


def test_solver_plan_is_valid_with_and_without_matrix(
    solved: tuple[Roster, TravelMatrix, Plan],
) -> None:
    roster, matrix, plan = solved
    assert [v for v in check(roster, plan, matrix, params=PARAMS) if v.hard] == []
    assert [v for v in check(roster, plan, params=PARAMS) if v.hard] == []


def _edit(plan: Plan, vid: str, n: int = 0, **changes: object) -> Plan:
    """`plan` with the `n`-th assignment of visit `vid` changed."""
    out, seen = [], 0
    for a in plan.assignments:
        if a.visit_id == vid:
            if seen == n:
                a = dataclasses.replace(a, **changes)  # type: ignore[arg-type]
            seen += 1
        out.append(a)
    return dataclasses.replace(plan, assignments=tuple(out))


def _drop(plan: Plan, visit_id: str, n: int = 0) -> Plan:
    hits = [a for a in plan.assignments if a.visit_id == visit_id]
    return dataclasses.replace(
        plan, assignments=tuple(a for a in plan.assignments if a is not hits[n])
    )


def _start(plan: Plan, visit_id: str) -> int:
    return next(a.start for a in plan.assignments if a.visit_id == visit_id)


def _other_carer(plan: Plan, visit_id: str, n: int = 0) -> Plan:
    """Give the visit to a carer who has another visit at the same time (overlap)."""
    mine = [a for a in plan.assignments if a.visit_id == visit_id][n]
    busy = next(a for a in plan.assignments if a.carer_id != mine.carer_id and a.day == mine.day)
    return _edit(plan, visit_id, n, carer_id=busy.carer_id, start=busy.start)


Breakage = Callable[[Roster, Plan], tuple[Roster, Plan]]

BREAKAGES: dict[str, tuple[str, Breakage]] = {
    "early": ("early", lambda r, p: (r, _edit(p, "eve", start=hm("16:50")))),
    "too late": ("late", lambda r, p: (r, _edit(p, "eve", start=hm("18:30")))),
    "off shift": ("off_shift", lambda r, p: (r, _edit(p, "eve", start=hm("19:50")))),
    "skill": ("skill", lambda r, p: (r, _edit(p, "peg", carer_id="C"))),
    "excluded": ("excluded", lambda r, p: (r, _edit(p, "ex", carer_id="A"))),
    "gender": ("gender", lambda r, p: (r, _edit(p, "fem", carer_id="C"))),
    "missing": ("missing", lambda r, p: (r, _drop(p, "eve"))),
    "one of two carers": ("carer_count", lambda r, p: (r, _drop(p, "dh", 1))),
    "same carer twice": (
        "same_carer_twice",
        lambda r, p: (r, _edit(p, "dh", 1, carer_id=p.carers_of("dh")[0])),
    ),
    "double-handed apart": (
        "double_handed",
        lambda r, p: (r, _edit(p, "dh", 1, start=_start(p, "dh") + 300)),
    ),
    "link gap": ("link", lambda r, p: (r, _edit(p, "then", start=_start(p, "first") + 1800))),
    "link without first": (
        "link",
        lambda r, p: (
            r,
            dataclasses.replace(
                _drop(p, "first"),
                unassigned=(Unassigned("first", UnassignedReason.CAPACITY),),
            ),
        ),
    ),
    "linked visit by the same carer": (
        "link",
        lambda r, p: (
            r.replace(
                visits=[
                    dataclasses.replace(v, link_other_carer=True) if v.visit_id == "then" else v
                    for v in r.visits
                ]
            ),
            _edit(p, "then", carer_id=p.carers_of("first")[0]),
        ),
    ),
    "pinned moved": ("pinned", lambda r, p: (r, _edit(p, "pin", start=hm("11:45")))),
    "pinned other carer": ("pinned", lambda r, p: (r, _edit(p, "pin", carer_id="C"))),
    "overlap": ("overlap", lambda r, p: (r, _other_carer(p, "eve"))),
    "leaves base before shift": (
        "shift_start",
        lambda r, p: (r, _edit(p, "tue", start=hm("07:00"))),
    ),
    "back after shift": ("shift_end", lambda r, p: (r, _edit(p, "eve", start=hm("19:30")))),
    "too long a day": (
        "max_day",
        lambda r, p: (
            r.replace(
                carers=[
                    dataclasses.replace(c, max_minutes_day=30) if c.carer_id == "A" else c
                    for c in r.carers
                ]
            ),
            p,
        ),
    ),
    "too long a week": (
        "max_week",
        lambda r, p: (
            r.replace(carers=[dataclasses.replace(c, max_minutes_week=40) for c in r.carers]),
            p,
        ),
    ),
    "unknown visit": ("unknown", lambda r, p: (r, _edit(p, "eve", visit_id="nope"))),
    "wrong day": ("wrong_day", lambda r, p: (r, _edit(p, "eve", day=1))),
    "assigned and unassigned": (
        "assigned_and_unassigned",
        lambda r, p: (
            r,
            dataclasses.replace(p, unassigned=(Unassigned("eve", UnassignedReason.CAPACITY),)),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_checker_catches_each_breakage(
    solved: tuple[Roster, TravelMatrix, Plan], name: str
) -> None:
    roster, matrix, plan = solved
    kind, breakage = BREAKAGES[name]
    bad_roster, bad_plan = breakage(roster, plan)
    found = check(bad_roster, bad_plan, matrix, params=PARAMS)
    assert kind in {v.kind for v in found if v.hard}, found
    with pytest.raises(PlanCheckError, match=kind.split("_")[0]):
        assert_valid(bad_roster, bad_plan, matrix, params=PARAMS)


def test_lateness_within_limit_and_soft_gender_are_soft(
    solved: tuple[Roster, TravelMatrix, Plan],
) -> None:
    roster, matrix, plan = solved
    params = SolveParams(lateness_limit_min=30, gender_rule="soft")
    late = _edit(plan, "eve", start=hm("18:10"))
    found = check(roster, late, matrix, params=params)
    assert any(v.kind == "late" and not v.hard for v in found)
    assert not any(v.kind == "late" and v.hard for v in found)
    wrong = _edit(plan, "fem", carer_id="C")
    assert {v.kind: v.hard for v in check(roster, wrong, matrix, params=params)}.get(
        "gender"
    ) is False


def test_travel_is_checked_from_the_plan_without_a_matrix(
    solved: tuple[Roster, TravelMatrix, Plan],
) -> None:
    roster, _, plan = solved
    eve = next(a for a in plan.assignments if a.visit_id == "eve")
    # Claim a 2-hour journey to the evening visit: it no longer fits after the shift starts.
    claimed = _edit(plan, "eve", travel_before=eve.start - hm("16:00") + 60)
    kinds = {v.kind for v in check(roster, claimed) if v.hard}
    assert "shift_start" in kinds


def test_violation_reads_plainly() -> None:
    v = Violation("late", "visit x starts 5 min late", "x", "A", 0, hard=False)
    assert str(v) == "[soft] late: visit x starts 5 min late"


def test_unassigned_pinned_visit_is_a_soft_violation(
    solved: tuple[Roster, TravelMatrix, Plan],
) -> None:
    roster, matrix, plan = solved
    undone = dataclasses.replace(
        _drop(plan, "pin"), unassigned=(Unassigned("pin", UnassignedReason.CAPACITY),)
    )
    found = [v for v in check(roster, undone, matrix, params=PARAMS) if v.kind == "pinned"]
    assert found and not any(v.hard for v in found)


def test_assignment_type_is_the_model_one() -> None:
    assert Assignment("x", "A", 0, 0).travel_before == 0


def test_link_gap_is_start_to_start_in_seconds(solved: tuple[Roster, TravelMatrix, Plan]) -> None:
    # "then" follows "first" 3,600-7,200 s later (gaps are seconds, like every model time).
    roster, matrix, plan = solved
    first = _start(plan, "first")

    def link_errors(gap: int) -> list[Violation]:
        moved = _edit(plan, "then", start=first + gap)
        return [v for v in check(roster, moved, matrix, params=PARAMS) if v.kind == "link"]

    assert link_errors(3600) == link_errors(7200) == []
    assert len(link_errors(3599)) == len(link_errors(7201)) == 1


def test_provider_rule_applies_only_when_providers_are_respected(
    solved: tuple[Roster, TravelMatrix, Plan],
) -> None:
    roster, matrix, plan = solved
    (who,) = plan.carers_of("eve")
    other = "P1" if roster.carer(who).provider == "P2" else "P2"
    contracted = roster.replace(
        visits=[
            dataclasses.replace(v, provider=other) if v.visit_id == "eve" else v
            for v in roster.visits
        ]
    )
    assert [v for v in check(contracted, plan, matrix, params=PARAMS) if v.kind == "provider"] == []
    kept = dataclasses.replace(PARAMS, respect_providers=True)
    (broken,) = [v for v in check(contracted, plan, matrix, params=kept) if v.kind == "provider"]
    assert (broken.visit_id, broken.carer_id, broken.hard) == ("eve", who, True)


def test_linked_visit_goes_to_another_person_even_across_a_split_shift() -> None:
    # Only A can wash; A's split shift could take the dressing in its second part, nearer
    # than B's base, but the dressing must be by another person: B.
    visits = (
        Visit("wash", "c1", 0, tw("08:30", "09:00"), 1800, at(1, 0), skills=frozenset({"w"})),
        Visit(
            "dress",
            "c1",
            0,
            tw("08:00", "13:00"),
            1800,
            at(1, 0),
            follows="wash",
            gap_min=5400,
            gap_max=7200,
            link_other_carer=True,
        ),
    )
    carers = (
        Carer(
            "A",
            "P1",
            at(0, 0),
            skills=frozenset({"w"}),
            shifts={0: (tw("08:00", "10:00"), tw("10:00", "13:00"))},
        ),
        Carer("B", "P1", at(4, 0), shifts={0: (tw("08:00", "13:00"),)}),
    )
    roster = Roster(visits, carers, (Provider("P1"),))
    matrix = straight_line_matrix(roster_points(roster))
    plan = plan_week(roster, matrix, PARAMS)  # runs assert_valid itself
    assert not plan.unassigned
    assert plan.carers_of("wash") == ("A",) and plan.carers_of("dress") == ("B",)
    # Without the rule A does both, one in each part of the shift.
    free = roster.replace(
        visits=[dataclasses.replace(v, link_other_carer=False) for v in roster.visits]
    )
    assert plan_week(free, matrix, PARAMS).carers_of("dress") == ("A",)
