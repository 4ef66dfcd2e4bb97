"""The as-is allocation played out on hand-written travel times."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carerun.asis import ASIS_LABEL, asis_plan, asis_within_rules, planned_start
from carerun.matrix import TravelMatrix, straight_line_matrix
from carerun.model import (
    Carer,
    Location,
    Mode,
    Provider,
    Roster,
    TimeWindow,
    UnassignedReason,
    Visit,
)

# Oakham, Rutland: a base and three doors. Seconds chosen by hand (rows from, columns to).
BASE = Location(52.670, -0.730, "1 Station Rd")
A = Location(52.672, -0.725, "2 High St")
B = Location(52.675, -0.720, "3 Church St")
C = Location(52.678, -0.716, "4 Mill Ln")
SECONDS = np.array(
    [
        #  base    A    B    C
        [0, 600, 800, 1000],  # base
        [600, 0, 300, 500],  # A
        [900, 300, 0, 420],  # B
        [900, 500, 420, 0],  # C
    ]
)
METRES = SECONDS * 10.0  # 10 m per second of travel: 36 km/h


def hm(h: int, m: int = 0) -> int:
    return h * 3600 + m * 60


def make_matrix() -> TravelMatrix:
    pts = [BASE.point, A.point, B.point, C.point]
    return TravelMatrix.from_arrays(pts, {Mode.DRIVE: SECONDS}, {Mode.DRIVE: METRES})


def visit(
    vid: str,
    where: Location,
    start: int,
    minutes: int,
    carers: tuple[str, ...] = ("c1",),
    *,
    tolerance: int = 30,
    client: str | None = None,
    required: int | None = None,
) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=client or f"client-{vid}",
        day=0,
        window=TimeWindow(start - tolerance * 60, start + tolerance * 60),
        duration=minutes * 60,
        location=where,
        planned_start=start,
        carer_ids=carers,
        carers_required=required or max(len(carers), 1),
        provider="P1",
    )


def carer(cid: str = "c1", provider: str = "P1") -> Carer:
    return Carer(cid, provider, BASE, shifts={0: (TimeWindow(hm(7), hm(22)),)})


def three_visit_roster() -> Roster:
    """c1: A at 09:00 (30 min), B at 10:00 (45 min), C at 12:00 (30 min): never late."""
    return Roster(
        visits=(
            visit("v1", A, hm(9), 30),
            visit("v2", B, hm(10), 45),
            visit("v3", C, hm(12), 30),
        ),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )


def test_three_visits_travel_by_hand() -> None:
    plan = asis_plan(three_visit_roster(), make_matrix())
    assert plan.label == ASIS_LABEL
    run = plan.routes()["c1", 0]
    assert [a.visit_id for a in run] == ["v1", "v2", "v3"]
    assert [a.start for a in run] == [hm(9), hm(10), hm(12)]
    assert [a.travel_before for a in run] == [600, 300, 420]  # base→A, A→B, B→C
    assert [a.distance_before for a in run] == [6000.0, 3000.0, 4200.0]
    assert plan.travel_home == {("c1", 0): 900}  # C→base
    assert plan.travel_seconds == 600 + 300 + 420 + 900
    assert plan.distance_metres == pytest.approx(22_200.0)
    assert plan.unassigned == ()


def test_within_rules_leaves_out_late_unstaffed_and_over_the_week() -> None:
    # v2 starts late past its window (the delay runs on, so v3 is late too); v4 has no carer;
    # on Tuesday c2 is past a weekly maximum already used up on Monday.
    late = Roster(
        visits=(
            visit("v1", A, hm(9), 30),
            visit("v2", B, hm(9, 20), 45, tolerance=5),
            visit("v3", C, hm(10), 30, tolerance=5),
            visit("v4", C, hm(15), 30, carers=()),
            visit("w1", A, hm(9), 60, carers=("c2",)),
            dataclasses.replace(visit("w2", A, hm(9), 60, carers=("c2",)), day=1),
            visit("ok", C, hm(13), 30),
        ),
        carers=(
            carer(),
            Carer(
                "c2",
                "P1",
                BASE,
                shifts={d: (TimeWindow(hm(7), hm(22)),) for d in (0, 1)},
                max_minutes_week=100,
            ),
        ),
        providers=(Provider("P1"),),
    )
    # c2 works 10 + 60 + 15 = 85 min on Monday: within 100; Tuesday takes them to 170.
    assert asis_within_rules(late, make_matrix()) == {"v1", "w1", "ok"}
    assert asis_within_rules(late, make_matrix(), days=[1]) == {"w2"}


def test_late_carer_starts_on_arrival_and_the_delay_runs_on() -> None:
    # v1 ends 09:30; A→B is 5 min, so v2 planned 09:20 starts 09:35 (beyond its 09:25 window
    # end); v2 then ends 10:20 and B→C is 7 min, so v3 planned 10:00 starts 10:27.
    roster = Roster(
        visits=(
            visit("v1", A, hm(9), 30),
            visit("v2", B, hm(9, 20), 45, tolerance=5),
            visit("v3", C, hm(10), 30),
        ),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )
    run = asis_plan(roster, make_matrix()).routes()["c1", 0]
    assert [a.start for a in run] == [hm(9), hm(9, 35), hm(10, 27)]


def test_double_handed_visit_starts_when_both_carers_are_there() -> None:
    # c1 is at A until 09:50 and needs 5 min to B; c2 comes from base. The double-handed visit
    # at B planned 09:45 starts 09:55 for both, and c2's next visit (C, 10:30 planned) is pushed:
    # 09:55 + 30 min + 7 min travel = 10:32.
    roster = Roster(
        visits=(
            visit("v1", A, hm(9), 50),
            visit("d", B, hm(9, 45), 30, ("c1", "c2")),
            visit("v3", C, hm(10, 30), 30, ("c2",)),
        ),
        carers=(carer("c1"), carer("c2")),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    starts = {(a.visit_id, a.carer_id): a.start for a in plan.assignments}
    assert starts["d", "c1"] == starts["d", "c2"] == hm(9, 55)
    assert starts["v3", "c2"] == hm(10, 32)
    c2 = plan.routes()["c2", 0]
    assert [a.travel_before for a in c2] == [800, 420]  # base→B, then B→C


def test_visit_without_a_carer_is_unassigned_with_the_asis_reason() -> None:
    roster = Roster(
        visits=(visit("v1", A, hm(9), 30), visit("v2", B, hm(10), 30, ())),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    assert [(u.visit_id, u.reason) for u in plan.unassigned] == [
        ("v2", UnassignedReason.NO_CARER_ASIS)
    ]
    assert {a.visit_id for a in plan.assignments} == {"v1"}


def test_double_handed_visit_with_one_carer_named_is_counted_short() -> None:
    roster = Roster(
        visits=(visit("d", A, hm(9), 30, ("c1",), required=2),),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    assert plan.stats["visits_short_of_carers"] == 1
    assert len(plan.assignments) == 1


def test_days_restrict_the_asis() -> None:
    roster = three_visit_roster()
    tuesday = Visit("t1", "x", 1, TimeWindow(hm(9), hm(10)), 1800, A, carer_ids=("c1",))
    roster = roster.replace(visits=[*roster.visits, tuesday])
    assert {a.day for a in asis_plan(roster, make_matrix()).assignments} == {0, 1}
    assert {a.day for a in asis_plan(roster, make_matrix(), days=[1]).assignments} == {1}


def test_window_only_visit_is_planned_at_window_start() -> None:
    v = Visit("w", "x", 0, TimeWindow(hm(8), hm(10)), 1800, A)
    assert planned_start(v) == hm(8)


def test_missing_mode_in_matrix_is_a_plain_error() -> None:
    from carerun import InputError

    walker = Carer("c1", "P1", BASE, Mode.WALK, shifts={0: (TimeWindow(hm(7), hm(22)),)})
    roster = three_visit_roster().replace(carers=[walker])
    with pytest.raises(InputError, match="walk"):
        asis_plan(roster, make_matrix())


def test_overloaded_day_drops_what_runs_past_the_carers_day_instead_of_crashing() -> None:
    # Sixteen two-hour calls at one door, all planned 08:00, for a carer working until 22:00:
    # played out back to back they would run to 40:00, past the model's day. The calls that
    # would start after 22:00 are not done.
    roster = Roster(
        visits=tuple(visit(f"v{i:02d}", A, hm(8), 120) for i in range(16)),
        carers=(carer(),),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    assert [a.start for a in plan.routes()["c1", 0]] == [hm(8 + 2 * i) for i in range(8)]
    assert [(u.visit_id, u.reason) for u in plan.unassigned] == [
        (f"v{i:02d}", UnassignedReason.CAPACITY) for i in range(8, 16)
    ]
    assert plan.stats["visits_past_day_end"] == 8


def test_dropped_double_handed_visit_frees_its_other_carer() -> None:
    # c1 is at A until 23:00; the double-handed call at B planned 21:50 would wait for c1 until
    # 23:05, past c1's day (22:00), so neither carer does it, and c2 does the call at C at its
    # planned 22:30 (after c2's shift, but the roster itself plans it then: kept).
    roster = Roster(
        visits=(
            visit("v1", A, hm(21, 30), 90),
            visit("d", B, hm(21, 50), 30, ("c1", "c2")),
            visit("v3", C, hm(22, 30), 30, ("c2",)),
        ),
        carers=(carer("c1"), carer("c2")),
        providers=(Provider("P1"),),
    )
    plan = asis_plan(roster, make_matrix())
    assert {(a.visit_id, a.start) for a in plan.assignments} == {
        ("v1", hm(21, 30)),
        ("v3", hm(22, 30)),
    }
    assert [(u.visit_id, u.reason) for u in plan.unassigned] == [("d", UnassignedReason.CAPACITY)]


# Properties -------------------------------------------------------------------------------

DOORS = [A, B, C, Location(52.66, -0.74), Location(52.69, -0.70)]


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    n_carers = draw(st.integers(1, 3))
    carers = [carer(f"c{i}") for i in range(n_carers)]
    visits = []
    for i in range(draw(st.integers(1, 10))):
        two = n_carers > 1 and draw(st.booleans())
        ids = draw(
            st.lists(
                st.sampled_from([c.carer_id for c in carers]),
                min_size=2 if two else 1,
                max_size=2 if two else 1,
                unique=True,
            )
        )
        visits.append(
            visit(
                f"v{i}",
                draw(st.sampled_from(DOORS)),
                hm(7) + 300 * draw(st.integers(0, 100)),
                draw(st.sampled_from([15, 30, 45, 60])),
                tuple(ids),
            )
        )
    return Roster(tuple(visits), tuple(carers), (Provider("P1"),))


@settings(max_examples=60, deadline=None)
@given(rosters())
def test_asis_is_feasible_in_sequence_and_never_early(roster: Roster) -> None:
    matrix = straight_line_matrix([BASE, *DOORS], modes=[Mode.DRIVE])
    plan = asis_plan(roster, matrix)
    for a in plan.assignments:
        assert a.start >= planned_start(roster.visit(a.visit_id))
    for (cid, _), run in plan.routes().items():
        c = roster.carer(cid)
        for prev, nxt in itertools.pairwise(run):
            pv, nv = roster.visit(prev.visit_id), roster.visit(nxt.visit_id)
            assert nxt.travel_before == matrix.time(c.mode, pv.location, nv.location)
            assert nxt.start >= prev.start + pv.duration + nxt.travel_before
    for v in roster.visits:
        starts = {a.start for a in plan.assignments if a.visit_id == v.visit_id}
        assert len(starts) == 1  # both carers of a double-handed visit start together
    # Every visit is done by all its carers, or not at all because the delays ran past the day.
    done = {a.visit_id for a in plan.assignments}
    named = sum(len(v.carer_ids) for v in roster.visits if v.visit_id in done)
    assert len(plan.assignments) == named
    past = {u.visit_id for u in plan.unassigned if u.reason == UnassignedReason.CAPACITY}
    assert done | past == {v.visit_id for v in roster.visits} and not done & past
    assert all(
        a.start <= max(hm(22), planned_start(roster.visit(a.visit_id))) for a in plan.assignments
    )
