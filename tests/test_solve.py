"""The optimiser on small hand-built rosters whose best plan is plain to see."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any

import pytest

from carerun import InputError, _ortools
from carerun.asis import asis_plan
from carerun.check import check
from carerun.duplicates import find_duplicates
from carerun.examples import example_roster_path
from carerun.matrix import TravelMatrix, roster_matrix, roster_points, straight_line_matrix
from carerun.model import (
    Carer,
    Location,
    Plan,
    Provider,
    Roster,
    TimeWindow,
    UnassignedReason,
    Visit,
)
from carerun.network import default_network
from carerun.roster import read_roster
from carerun.solve import SolveParams, plan_day, plan_week

FAST = SolveParams(time_limit=0.3)


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def at(east_km: float, north_km: float) -> Location:
    """A point `east_km`, `north_km` from a fixed origin in Rutland."""
    lat = 52.65 + north_km / 111.2
    lon = -0.70 + east_km / (111.2 * math.cos(math.radians(52.65)))
    return Location(round(lat, 7), round(lon, 7))


def visit(vid: str, where: Location, start: str = "09:00", end: str = "10:00", **kw: Any) -> Visit:
    args: dict[str, Any] = {"client_id": vid, "day": 0, "duration": 30 * 60}
    args.update(kw)
    return Visit(visit_id=vid, window=TimeWindow(hm(start), hm(end)), location=where, **args)


def carer(cid: str, where: Location, *shifts: str, day: int = 0, **kw: Any) -> Carer:
    spans = shifts or ("07:00-14:00",)
    parsed = tuple(TimeWindow(hm(s.split("-")[0]), hm(s.split("-")[1])) for s in spans)
    return Carer(
        carer_id=cid, base=where, shifts={day: parsed}, provider=str(kw.pop("provider", "P1")), **kw
    )


def roster(visits: list[Visit], carers: list[Carer]) -> Roster:
    providers = sorted({c.provider for c in carers} | {v.provider for v in visits if v.provider})
    return Roster(tuple(visits), tuple(carers), tuple(Provider(p) for p in providers))


def solve(r: Roster, params: SolveParams = FAST) -> Plan:
    matrix = straight_line_matrix(roster_points(r))
    plan = plan_day(r, matrix, 0, params)
    hard = [v for v in check(r, plan, matrix, params=params) if v.hard]
    assert not hard, hard
    return plan


def reasons(plan: Plan) -> dict[str, UnassignedReason]:
    return {u.visit_id: u.reason for u in plan.unassigned}


def test_double_handed_gets_two_carers_at_one_start() -> None:
    r = roster(
        [visit("hoist", at(1, 0), carers_required=2), visit("solo", at(0, 1))],
        [carer("A", at(0, 0)), carer("B", at(2, 0)), carer("C", at(0, 2))],
    )
    plan = solve(r)
    pair = [a for a in plan.assignments if a.visit_id == "hoist"]
    assert len({a.carer_id for a in pair}) == 2
    assert pair[0].start == pair[1].start


def test_double_handed_never_pairs_a_carer_with_their_own_split_shift() -> None:
    # A works two shifts an hour apart; they are one person, so A must pair with B.
    r = roster(
        [visit("hoist", at(1, 0), "09:00", "12:00", carers_required=2)],
        [carer("A", at(0, 0), "07:00-10:00", "10:30-14:00"), carer("B", at(3, 0))],
    )
    # With an hour's tolerance, A's two shifts would be the cheapest "pair" if allowed.
    plan = solve(r, SolveParams(time_limit=0.3, double_handed_tolerance_min=60))
    assert plan.carers_of("hoist") == ("A", "B")


def test_skill_forces_the_only_qualified_carer() -> None:
    r = roster(
        [visit("peg", at(0.1, 0), skills=frozenset({"peg"}))],
        [carer("near", at(0, 0)), carer("far", at(8, 0), skills=frozenset({"peg"}))],
    )
    assert solve(r).carers_of("peg") == ("far",)


def test_impossible_visits_are_unassigned_with_the_reason() -> None:
    r = roster(
        [
            visit("needs-skill", at(1, 0), skills=frozenset({"oxygen"})),
            visit("at-night", at(1, 0), "22:00", "22:30"),
            visit("excluded", at(1, 0), excluded_carers=frozenset({"A"})),
            visit("after-night", at(1, 0), "12:00", "13:00", follows="at-night", gap_max=5400),
            visit("ok", at(1, 0), "11:00", "12:00"),
        ],
        [carer("A", at(0, 0))],
    )
    plan = solve(r)
    assert reasons(plan) == {
        "needs-skill": UnassignedReason.NO_SKILL,
        "at-night": UnassignedReason.NO_SHIFT,
        "excluded": UnassignedReason.EXCLUDED,
        "after-night": UnassignedReason.LINK,
    }
    assert plan.carers_of("ok") == ("A",)


def test_solver_drops_what_does_not_fit_as_capacity_and_keeps_priority() -> None:
    # One carer, two one-hour visits that must both start 09:00-09:10 far apart.
    r = roster(
        [
            visit("low", at(5, 0), "09:00", "09:10", duration=3600),
            visit("high", at(-5, 0), "09:00", "09:10", duration=3600, priority=5),
        ],
        [carer("A", at(0, 0))],
    )
    plan = solve(r)
    assert reasons(plan) == {"low": UnassignedReason.CAPACITY}
    assert plan.carers_of("high") == ("A",)


def test_pinned_visit_keeps_its_carer_and_time() -> None:
    r = roster(
        [
            visit(
                "pin",
                at(0.2, 0),
                "09:00",
                "11:00",
                pinned=True,
                carer_ids=("far",),
                planned_start=hm("10:15"),
            )
        ],
        [carer("near", at(0, 0)), carer("far", at(6, 0))],
    )
    plan = solve(r)
    (a,) = plan.assignments
    assert (a.carer_id, a.start) == ("far", hm("10:15"))


def test_colocated_visits_of_two_providers_go_to_one_carer() -> None:
    # Two flats 40 m apart in one block, a carer of each provider living at each door: two
    # carers travel 0 s, one carer 2 x 6 s. Only the duplicate penalty makes one carer do both.
    x_door, y_door = at(0, 0), at(0.04, 0)
    r = roster(
        [
            visit("x", x_door, "09:00", "09:40", client_id="X", provider="P1"),
            visit("y", y_door, "09:00", "09:40", client_id="Y", provider="P2"),
        ],
        [carer("A", x_door, provider="P1"), carer("B", y_door, provider="P2")],
    )
    split = solve(r, SolveParams(time_limit=0.3, duplicate=0))
    assert {a.carer_id for a in split.assignments} == {"A", "B"}
    plan = solve(r)
    assert len({a.carer_id for a in plan.assignments}) == 1
    assert not plan.unassigned
    assert 0 < plan.travel_seconds < 60


def test_linked_visit_respects_its_gap() -> None:
    r = roster(
        [
            visit("meds", at(1, 0), "08:00", "12:00"),
            visit("check", at(1, 0), "08:00", "12:00", follows="meds", gap_min=3600, gap_max=5400),
            visit("other", at(2, 0), "08:00", "12:00"),
        ],
        [carer("A", at(0, 0)), carer("B", at(0, 1))],
    )
    plan = solve(r)
    start = {a.visit_id: a.start for a in plan.assignments}
    assert 3600 <= start["check"] - start["meds"] <= 5400


def test_split_shift_covers_morning_and_evening_and_goes_home_between() -> None:
    r = roster(
        [visit("am", at(1, 0), "08:00", "09:00"), visit("pm", at(1, 0), "17:00", "18:00")],
        [carer("A", at(0, 0), "07:00-10:00", "16:00-20:00")],
    )
    plan = solve(r)
    assert plan.carers_of("am") == plan.carers_of("pm") == ("A",)
    legs = [a.travel_before for a in plan.assignments]
    assert legs[0] > 0 and legs[0] == legs[1]  # both parts start from base
    assert plan.travel_home["A", 0] == 2 * legs[0]


def test_lateness_within_the_limit_is_allowed_at_a_cost() -> None:
    # The carer's shift starts as the window ends; she can only arrive 10+ min late.
    v = visit("late", at(5, 0), "09:00", "09:30")
    r = roster([v], [carer("A", at(0, 0), "09:30-14:00")])
    assert reasons(solve(r)) == {"late": UnassignedReason.NO_SHIFT}
    plan = solve(r, SolveParams(time_limit=0.3, lateness_limit_min=30))
    (a,) = plan.assignments
    assert hm("09:30") < a.start <= hm("10:00")


def test_daily_maximum_limits_work() -> None:
    r = roster(
        [visit("a", at(1, 0), "08:00", "12:00"), visit("b", at(1, 0), "08:00", "12:00")],
        [carer("A", at(0, 0), max_minutes_day=50)],
    )
    plan = solve(r)
    assert len(plan.assignments) == 1
    assert list(reasons(plan).values()) == [UnassignedReason.CAPACITY]


def test_gender_rule_hard_or_soft() -> None:
    r = roster(
        [visit("v", at(1, 0), gender_preference="female")],
        [carer("M", at(0, 0), gender="male")],
    )
    assert reasons(solve(r)) == {"v": UnassignedReason.EXCLUDED}
    soft = solve(r, SolveParams(time_limit=0.3, gender_rule="soft"))
    assert soft.carers_of("v") == ("M",)


def test_week_carries_continuity_and_the_weekly_budget() -> None:
    home = at(1, 0)
    visits = [visit(f"d{d}", home, client_id="X", day=d) for d in range(3)]
    carers = [
        Carer(
            "A",
            "P1",
            at(0, 0),
            shifts={d: (TimeWindow(hm("07:00"), hm("14:00")),) for d in range(3)},
        ),
        Carer(
            "B",
            "P1",
            at(2, 0),
            shifts={d: (TimeWindow(hm("07:00"), hm("14:00")),) for d in range(3)},
        ),
        Carer(
            "C",
            "P1",
            at(1, 0.01),
            max_minutes_week=70,
            shifts={d: (TimeWindow(hm("07:00"), hm("14:00")),) for d in range(3)},
        ),
    ]
    r = roster(visits, carers)
    matrix = straight_line_matrix(roster_points(r))
    calls: list[tuple[int, int, str]] = []
    plan = plan_week(r, matrix, FAST, progress=lambda *a: calls.append(a))
    assert calls == [(1, 3, "Mon"), (2, 3, "Tue"), (3, 3, "Wed")]
    # C lives next door but may work only 70 min in the week: one 30-min visit (plus travel)
    # fits twice at most; the client keeps the same carer where they can.
    who = [plan.carers_of(f"d{d}") for d in range(3)]
    assert who.count(("C",)) == 2
    assert not plan.unassigned


def test_an_early_day_leaves_the_weekly_budget_that_later_days_need_today() -> None:
    # C may work 80 min in the week. Monday has a new client's hour-long visit; Tuesday has an
    # hour C does today. Doing Monday's would leave too little for Tuesday's, which the roster
    # proves can be done, so Monday's is left undone.
    home = at(0, 0)
    c = Carer(
        "C",
        "P1",
        home,
        max_minutes_week=80,
        shifts={d: (TimeWindow(hm("07:00"), hm("14:00")),) for d in (0, 1)},
    )
    new = visit("new", at(1, 0), duration=3600)
    kept = visit(
        "kept", at(1, 0), duration=3600, day=1, carer_ids=("C",), planned_start=hm("09:00")
    )
    r = roster([new, kept], [c])
    plan = plan_week(r, straight_line_matrix(roster_points(r)), FAST)
    assert plan.carers_of("kept") == ("C",)
    assert reasons(plan) == {"new": UnassignedReason.CAPACITY}


def test_same_seed_gives_the_same_plan() -> None:
    visits = [
        visit(f"v{i}", at((i * 37 % 11) - 5, (i * 17 % 7) - 3), "08:00", "13:00") for i in range(10)
    ]
    r = roster(visits, [carer("A", at(0, 0)), carer("B", at(3, 3)), carer("C", at(-3, 1))])
    params = SolveParams(time_limit=0.3, seed=7, solution_limit=200)
    assert solve(r, params).assignments == solve(r, params).assignments


def test_time_limit_is_honoured_and_stats_are_plain_numbers() -> None:
    visits = [visit(f"v{i}", at(i % 5, i // 5), "08:00", "13:00") for i in range(15)]
    r = roster(visits, [carer("A", at(0, 0)), carer("B", at(4, 2))])
    plan = solve(r, SolveParams(time_limit=0.3))
    assert plan.stats["seconds"] < 0.5 + 5.0
    assert all(isinstance(v, float) for v in plan.stats.values())
    assert not plan.unassigned


@pytest.mark.parametrize("first", ["LOCAL_CHEAPEST_INSERTION", "SAVINGS", "PATH_CHEAPEST_ARC"])
def test_other_first_solution_strategies_serve_everyone(first: str) -> None:
    visits = [visit(f"v{i}", at(i % 4, i // 4), "08:00", "13:00") for i in range(8)]
    r = roster(visits, [carer("A", at(0, 0)), carer("B", at(3, 1))])
    plan = solve(r, SolveParams(time_limit=0.3, first_solution=first))
    assert not plan.unassigned


def test_params_from_toml(tmp_path: Path) -> None:
    good = tmp_path / "solve.toml"
    good.write_text('time_limit = 3\nlateness_limit_min = 15\ngender_rule = "soft"\n')
    params = SolveParams.from_toml(good)
    assert (params.time_limit, params.lateness_limit_min, params.gender_rule) == (3.0, 15, "soft")
    table = tmp_path / "table.toml"
    table.write_text("[solve]\nseed = 4\n")
    assert SolveParams.from_toml(table).seed == 4


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("time_limt = 3\n", "unknown parameter.*time_limt"),
        ('gender_rule = "maybe"\n', "gender_rule"),
        ("travel = -1\n", "travel"),
        ('first_solution = "FASTEST"\n', "first_solution"),
        ("time_limit = [\n", "not valid TOML"),
    ],
)
def test_bad_params_file_raises_input_error(tmp_path: Path, text: str, match: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(InputError, match=match):
        SolveParams.from_toml(bad)


def test_day_full_of_double_handed_visits_gets_a_complete_first_solution() -> None:
    # Six carers, twelve hoist calls: three at a time, every hour 08:00-11:00. Every carer is
    # needed at every hour, so only a first solution that places pairs together can do it all.
    bases = [at(0, 0), at(1, 0), at(2, 0), at(0, 1), at(1, 1), at(2, 1)]
    visits = [
        visit(
            f"h{h}{i}", at(i, 0.5 + h / 4), f"{8 + h:02d}:00", f"{8 + h:02d}:20", carers_required=2
        )
        for h in range(4)
        for i in range(3)
    ]
    r = roster(visits, [carer(f"C{n}", b) for n, b in enumerate(bases)])
    params = SolveParams(time_limit=0.3, solution_limit=1)  # the first solution only
    plan = solve(r, params)
    assert not plan.unassigned
    assert plan.stats["first_objective"] < params.unassigned
    for v in visits:
        pair = [a for a in plan.assignments if a.visit_id == v.visit_id]
        assert len({a.carer_id for a in pair}) == 2 and pair[0].start == pair[1].start
    # Reproducible: the same seed and solution limit give the same plan.
    again = SolveParams(time_limit=10.0, solution_limit=20, seed=3)
    assert solve(r, again).assignments == solve(r, again).assignments


def test_first_solution_places_a_visit_where_it_delays_no_other_past_its_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "fixed" must start at 09:00 and goes first (priority). "flexible", at the same door,
    # fits before it only by pushing it 45 min late, or after it at no cost: the first
    # solution charges an insertion the lateness it causes along the run. (The hoist call
    # makes the day synchronised, so the first solution is carerun's alone.)
    r = roster(
        [
            visit("fixed", at(1, 0), "09:00", "09:00", priority=2),
            visit("flexible", at(1, 0), "08:45", "12:00", duration=3600),
            visit("hoist", at(5, 0), "13:00", "13:00", carers_required=2),
        ],
        [carer("A", at(0, 0)), carer("B", at(5, 0))],
    )
    params = SolveParams(time_limit=0.3, solution_limit=1, lateness_limit_min=60)
    plan = solve(r, params)
    start = {a.visit_id: a.start for a in plan.assignments}
    assert (start["fixed"], start["flexible"]) == (hm("09:00"), hm("09:30"))
    # On a large day the first solution is blind to those delays: "flexible" goes before
    # "fixed" at the same travel, which starts 45 min late.
    monkeypatch.setattr(_ortools, "_LARGE_DAY_NODES", 3)
    blind = solve(r, params)
    late = blind.stats["first_objective"] - plan.stats["first_objective"]
    assert late == params.lateness * 45 * 60


def late_at_one_door() -> Roster:
    """Only A may do X, Y (60 min, due 09:00) and Z (50 min, due 10:00), all at A's door.
    X, Z, Y: Y 110 min late, 110 in all; X, Y, Z: Y and Z 60 min late each, 120 in all.
    Charged 2 a second of lateness, X, Z, Y costs less (220 against 240 min); with the
    largest lateness charged 1 too, X, Y, Z does (300 against 330). (The hoist visit makes
    the day synchronised, so that its search restarts.)"""
    door, skill = at(0, 0), frozenset({"s"})
    return roster(
        [
            visit("X", door, "09:00", "09:00", duration=3600, skills=skill),
            visit("Y", door, "09:00", "09:00", duration=3600, skills=skill),
            visit("Z", door, "09:00", "10:00", duration=3000, skills=skill),
            visit("hoist", at(5, 0), "13:00", "13:00", carers_required=2),
        ],
        [carer("A", door, skills=skill), carer("B", at(5, 0)), carer("C", at(5, 0))],
    )


def worst_lateness(r: Roster, plan: Plan) -> int:
    due = {v.visit_id: v.window.end for v in r.visits}
    return max(a.start - due[a.visit_id] for a in plan.assignments)


def test_worst_lateness_spreads_the_lateness() -> None:
    # Only a squeezed restart finds X, Y, Z: every other search charges lateness visit by
    # visit (see late_at_one_door).
    r = late_at_one_door()
    plain = solve(r, SolveParams(time_limit=1.0, lateness_limit_min=120))
    assert worst_lateness(r, plain) == 110 * 60
    params = SolveParams(time_limit=8.0, lateness_limit_min=120, worst_lateness=1)
    spread = solve(r, params)
    assert worst_lateness(r, spread) == 60 * 60


def test_restarts_squeeze_the_largest_lateness_at_any_weight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the largest lateness charged, a stalled search still restarts on a squeezed day
    # (Y at most 82.5 min late, see late_at_one_door), but X, Y, Z, which it finds there,
    # costs more at the given weights, so X, Z, Y stays.
    r = late_at_one_door()
    squeezed: list[bool] = []
    real = _ortools._squeezed

    def spy(data: Any, routes: Any) -> Any:
        found = real(data, routes)
        squeezed.append(found is not None)
        return found

    monkeypatch.setattr(_ortools, "_squeezed", spy)
    plan = solve(r, SolveParams(time_limit=8.0, lateness_limit_min=120, portfolio=1))
    assert squeezed and all(squeezed)
    assert worst_lateness(r, plan) == 110 * 60


def test_first_solution_leaves_the_visit_that_follows_a_place() -> None:
    # "wash" needs the nurse, starting with "meds" but by another carer; the nurse starts at
    # 10:00. "meds" done at 09:00 by A, the earliest, would leave "wash" no place.
    meds = visit("meds", at(1, 0), "09:00", "12:00")
    wash = visit(
        "wash",
        at(1, 0),
        "09:00",
        "12:00",
        follows="meds",
        link_other_carer=True,
        skills=frozenset({"nurse"}),
    )
    nurse = carer("N", at(0, 0), "10:00-14:00", skills=frozenset({"nurse"}))
    r = roster([meds, wash], [carer("A", at(0, 0)), nurse])
    plan = solve(r, SolveParams(time_limit=0.3, solution_limit=1))
    assert not plan.unassigned
    start = {a.visit_id: a.start for a in plan.assignments}
    assert start["meds"] == start["wash"] > hm("10:00")
    assert plan.carers_of("meds") == ("A",) and plan.carers_of("wash") == ("N",)


def couple_at_one_door(
    door: Location, carers: list[Carer], *, x: dict[str, Any], y: dict[str, Any]
) -> Roster:
    """Clients X and Y at one door, both called 09:00-09:10 for 30 min (two carers needed);
    `x` and `y` are the rest of each visit."""
    return roster(
        [
            visit("x", door, "09:00", "09:10", client_id="X", **x),
            visit("y", door, "09:00", "09:10", client_id="Y", **y),
        ],
        carers,
    )


def test_overlapping_visits_at_one_door_go_to_one_provider() -> None:
    # A couple at one door, both called 09:00-09:10 for 30 min: two carers are needed. As it
    # stands P1 does one and P2 the other (a duplicate multi-provider event). B (P2) lives at
    # the door, A1 and A2 (P1) further off: travel alone would keep B; the provider penalty must
    # hand both calls to P1.
    door = at(0, 0)
    r = couple_at_one_door(
        door,
        [
            carer("A1", at(1, 0), provider="P1"),
            carer("A2", at(0, 1.5), provider="P1"),
            carer("B", door, provider="P2"),
        ],
        x={"provider": "P1", "carer_ids": ("A1",)},
        y={"provider": "P2", "carer_ids": ("B",)},
    )
    matrix = straight_line_matrix(roster_points(r))
    assert len(find_duplicates(r, asis_plan(r, matrix))) == 1
    cheap = solve(r, SolveParams(time_limit=0.3, duplicate=0, continuity=0))
    assert {r.carer(a.carer_id).provider for a in cheap.assignments} == {"P1", "P2"}
    plan = solve(r, SolveParams(time_limit=0.3))
    assert plan.carers_of("x") + plan.carers_of("y") in (("A1", "A2"), ("A2", "A1"))
    assert find_duplicates(r, plan) == []


def test_a_group_its_chosen_provider_cannot_staff_goes_to_one_that_can() -> None:
    # A couple at one door, both called 09:00-09:10 for 30 min, both done by B (P2) as it
    # stands, so the group's provider is chosen to be P2. But B cannot be at both calls, and
    # P2 has no one else: under that choice, one call by B and one by P1 (one penalty) beats
    # both by P1 (two), and the search stops there. Re-solving the group with its provider
    # changed to P1 finds the plan without the event. Every carer lives 1 km from the door.
    as_is = {"provider": "P2", "carer_ids": ("B",)}
    r = couple_at_one_door(
        at(0, 0),
        [
            carer("A1", at(1, 0), provider="P1"),
            carer("A2", at(-1, 0), provider="P1"),
            carer("B", at(0, 1), provider="P2"),
        ],
        x=as_is,
        y=as_is,
    )
    plan = solve(r, SolveParams(time_limit=1.0, continuity=0))
    assert not plan.unassigned
    assert sorted(plan.carers_of("x") + plan.carers_of("y")) == ["A1", "A2"]
    assert find_duplicates(r, plan) == []
    assert plan.stats["groups_regrouped"] == 1


def test_first_day_keeps_the_carers_the_client_has_today() -> None:
    # "far" does the visit as it stands; "near" is 6 min closer each way. With continuity
    # counted from the as-is, the client keeps "far" from the very first day planned.
    v = visit("v", at(0, 0), carer_ids=("far",))
    r = roster([v], [carer("near", at(0.2, 0)), carer("far", at(2.5, 0))])
    assert solve(r, SolveParams(time_limit=0.3, continuity=0)).carers_of("v") == ("near",)
    assert solve(r, SolveParams(time_limit=0.3)).carers_of("v") == ("far",)
    matrix = straight_line_matrix(roster_points(r))
    assert plan_week(r, matrix, SolveParams(time_limit=0.3)).carers_of("v") == ("far",)


def test_respect_providers_keeps_each_visit_with_its_provider() -> None:
    r = roster(
        [
            visit("p2", at(0, 0), provider="P2"),
            visit("p3", at(0, 1), "11:00", "12:00", provider="P3"),
            visit("any", at(1, 0), "11:00", "12:00"),
        ],
        [carer("near", at(0.1, 0), provider="P1"), carer("far", at(5, 0), provider="P2")],
    )
    pooled = solve(r, SolveParams(time_limit=0.3))
    assert pooled.carers_of("p2") == pooled.carers_of("p3") == ("near",)
    params = SolveParams(time_limit=0.3, respect_providers=True)
    kept = solve(r, params)  # solve() also runs the checker with these params
    assert kept.carers_of("p2") == ("far",)
    assert reasons(kept) == {"p3": UnassignedReason.NO_SHIFT}
    assert kept.carers_of("any") != ()
    matrix = straight_line_matrix(roster_points(r))
    broken = [v.visit_id for v in check(r, pooled, matrix, params=params) if v.kind == "provider"]
    assert sorted(broken) == ["p2", "p3"]


def test_week_of_the_bundled_example_plans_every_day() -> None:
    # 707 visits (42 double-handed, 14 linked), 12 carers, on the embedded Helsinki roads. The
    # first solution alone (no local search: the same on any machine) must plan every day.
    network = default_network()
    r = read_roster(example_roster_path())
    matrix = roster_matrix(network, r)
    plan = plan_week(r, matrix, SolveParams(time_limit=1.0, solution_limit=1))  # checked inside
    for day in range(7):
        done = {a.visit_id for a in plan.assignments if a.day == day}
        assert len(done) >= 0.9 * len(r.visits_on(day))
        assert sum(r.visit(v).double_handed for v in done) >= 4
    asis = asis_plan(r, matrix)
    assert len(find_duplicates(r, plan)) <= len(find_duplicates(r, asis)) / 2


@pytest.fixture(scope="module")
def example_week() -> tuple[Roster, Any]:
    r = read_roster(example_roster_path())
    return r, roster_matrix(default_network(), r)


def _coverage(plan: Plan) -> list[str]:
    seen = [a.visit_id for a in plan.assignments] + [u.visit_id for u in plan.unassigned]
    return sorted(set(seen))


def test_large_days_split_into_areas_and_leftovers_are_absorbed(example_week: Any) -> None:
    r, m = example_week
    whole = plan_week(r, m, SolveParams(time_limit=1, seed=1), days=[0])
    split = plan_week(r, m, SolveParams(time_limit=1, seed=1), days=[0], max_visits=40)
    assert whole.stats["parts"] == 1 and split.stats["parts"] >= 3
    expected = sorted(v.visit_id for v in r.visits_on(0))
    assert _coverage(split) == expected == _coverage(whole)
    # plan_week checked it already; the independent checker agrees.
    assert not [v for v in check(r, split, m) if v.hard]


def test_parallel_week_on_a_local_cluster_is_checked_and_complete(example_week: Any) -> None:
    r, m = example_week
    seen: list[str] = []
    plan = plan_week(
        r,
        m,
        SolveParams(time_limit=1, seed=1),
        days=[0, 1],
        max_visits=60,
        workers=2,
        progress=lambda done, total, label: seen.append(label),
    )
    expected = sorted(v.visit_id for v in r.visits if v.day in (0, 1))
    assert _coverage(plan) == expected
    assert len(seen) == plan.stats["parts"] >= 4
    assert not [v for v in check(r, plan, m) if v.hard]
    with pytest.raises(InputError, match="max_visits"):
        plan_week(r, m, SolveParams(time_limit=1), max_visits=0)


def test_short_of_carers_the_plan_keeps_visits_staffed_today() -> None:
    # One carer, two visits at the same time: the one with a carer today is kept, although
    # the other is nearer; without the preference the nearer one would win.
    home = at(0, 0)
    alice = carer("A", home, "08:00-10:00", provider="P")
    kept = visit("today", at(3, 0), "08:30", "08:30", duration=3600, carer_ids=("A",), provider="P")
    near = visit("new", at(0.5, 0), "08:30", "08:30", duration=3600)
    r = roster([near, kept], [alice])
    plan = solve(r)
    assert plan.carers_of("today") == ("A",)
    assert [u.visit_id for u in plan.unassigned] == ["new"]
    indifferent = solve(r, SolveParams(time_limit=1, seed=0, staffed_today=1))
    assert indifferent.carers_of("new") == ("A",)
    # A visit staffed today only by breaking a rule (planned half an hour past its window) has
    # no claim on the carer: the nearer one wins.
    late = visit(
        "today",
        at(3, 0),
        "08:30",
        "08:30",
        duration=3600,
        carer_ids=("A",),
        provider="P",
        planned_start=hm("09:00"),
    )
    assert solve(roster([near, late], [alice])).carers_of("new") == ("A",)
    with pytest.raises(InputError, match="staffed_today"):
        SolveParams(staffed_today=0)


def test_by_default_a_visit_staffed_today_outweighs_three_new_ones() -> None:
    # The carer's hour holds either today's visit or three new short ones next door.
    alice = carer("A", at(0, 0), "08:00-10:00", provider="P")
    kept = visit("today", at(3, 0), "08:30", "08:30", duration=3600, carer_ids=("A",), provider="P")
    new = [
        visit(f"new{i}", at(0.5, 0), start, start, duration=20 * 60)
        for i, start in enumerate(("08:30", "08:55", "09:20"))
    ]
    r = roster([kept, *new], [alice])
    assert SolveParams().staffed_today > len(new)
    assert solve(r).carers_of("today") == ("A",)
    weaker = solve(r, dataclasses.replace(FAST, staffed_today=len(new) - 1))
    assert [u.visit_id for u in weaker.unassigned] == ["today"]


def _paired_morning() -> tuple[list[Visit], list[Carer]]:
    """Eight carers and 36 visits over a morning, a quarter of them double-handed and some
    linked an hour to an hour and a half after the visit before."""
    visits = []
    for i in range(36):
        kw: dict[str, Any] = {}
        if i % 4 == 0:
            kw["carers_required"] = 2
        if i % 9 == 5:
            kw.update(follows=f"v{i - 1}", gap_min=3600, gap_max=5400)
        hour = 7 + (i % 6)
        visits.append(visit(f"v{i}", at(i % 6, i // 6), f"{hour:02d}:00", f"{hour:02d}:45", **kw))
    carers = [carer(f"C{n}", at(n % 4 * 2, n // 4 * 3), "06:30-14:00") for n in range(8)]
    return visits, carers


def _assert_pairs_and_links_hold(plan: Plan, visits: list[Visit]) -> None:
    assert not plan.unassigned
    start = {a.visit_id: a.start for a in plan.assignments}
    for v in visits:
        if v.carers_required == 2:
            pair = [a for a in plan.assignments if a.visit_id == v.visit_id]
            assert len({a.carer_id for a in pair}) == 2 and pair[0].start == pair[1].start
        if v.follows:
            assert v.gap_min <= start[v.visit_id] - start[v.follows] <= v.gap_max


def test_large_neighbourhood_search_keeps_pairs_and_links_valid() -> None:
    # The whole-day search stalls fast on a day this small, so much of the time goes to
    # re-solving parts, whose copies and links tied to the rest of the plan must hold.
    visits, carers = _paired_morning()
    plan = solve(roster(visits, carers), SolveParams(time_limit=3.0, seed=2, lns=True))
    assert plan.stats["parts_tried"] > 0
    _assert_pairs_and_links_hold(plan, visits)


def test_a_stalled_search_starts_afresh_from_its_best_plan_and_keeps_pairs_and_links() -> None:
    # Eight visits (two double-handed, one linked) for three carers: the search finds its
    # best plan at once and then nothing better for the 1.2 s that end it, so it starts afresh
    # from that plan on a capped model (stalling after 3 s), then on the whole model from it
    # with some pairs put elsewhere by the greedy; the restarted searches keep every pair and
    # link.
    visits, carers = _paired_morning()
    visits, carers = visits[:8], carers[:3]
    plan = solve(roster(visits, carers), SolveParams(time_limit=8.0, seed=2))
    assert plan.stats["restarts_tried"] >= 2
    assert plan.stats["restarts_improved"] <= plan.stats["restarts_tried"]
    assert plan.stats["objective"] <= plan.stats["first_objective"]
    _assert_pairs_and_links_hold(plan, visits)
    # A search with `lns` spends the time on parts instead.
    parts = solve(roster(visits, carers), SolveParams(time_limit=3.0, seed=2, lns=True))
    assert parts.stats["restarts_tried"] == 0


def test_rounds_holding_paired_visits_at_their_starts_keep_pairs_and_links_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Held rounds drop the constraints tying a pair's times (both are fixed); free rounds
    # restore them. Alternating, the plan must improve on the greedy start and stay valid.
    # They run on days of over _LARGE_DAY_NODES nodes; this day of 45 counts as one. A held
    # round lasts while it finds better plans a second apart: at 3 s the first one once took
    # all the time on a loaded machine, so the day gets 6 s.
    monkeypatch.setattr(_ortools, "_LARGE_DAY_NODES", 40)
    visits, carers = _paired_morning()
    plan = solve(roster(visits, carers), SolveParams(time_limit=6.0, seed=2))
    assert plan.stats["whole_rounds"] >= 2
    assert plan.stats["objective"] < plan.stats["first_objective"]
    _assert_pairs_and_links_hold(plan, visits)


@pytest.mark.parametrize("split_shifts", [False, True])
def test_capped_rounds_improve_the_plan_and_keep_pairs_links_and_carers_apart(
    monkeypatch: pytest.MonkeyPatch, split_shifts: bool
) -> None:
    # Capped rounds alone: pairs' times as OR-Tools precedences, and "another carer" as visit
    # types when every vehicle is a different person, by constraints when a person has two
    # (split shifts). A plan breaking them is refused by the whole model, so a round that
    # gains at all must have kept them.
    monkeypatch.setattr(_ortools, "_LARGE_DAY_NODES", 40)
    monkeypatch.setattr(_ortools, "_CAPPED_DAY_NODES", 40)
    monkeypatch.setattr(_ortools, "_ROUNDS", ("capped",))
    gains = []
    alternate = _ortools._alternate

    def watched(data: Any, best: Any, deadline: float) -> Any:
        found, rounds = alternate(data, best, deadline)
        gains.append(best.objective - found.objective)
        return found, rounds

    monkeypatch.setattr(_ortools, "_alternate", watched)
    visits, carers = _paired_morning()
    visits = [dataclasses.replace(v, link_other_carer=bool(v.follows)) for v in visits]
    if split_shifts:
        carers = [carer(c.carer_id, c.base, "06:30-10:30", "10:35-14:00") for c in carers]
    plan = solve(roster(visits, carers), SolveParams(time_limit=4.0, seed=2))
    assert gains and gains[0] > 0
    _assert_pairs_and_links_hold(plan, visits)
    carer_of = {a.visit_id: a.carer_id for a in plan.assignments}
    for v in visits:
        if v.follows:
            assert carer_of[v.visit_id] != carer_of[v.follows]


def test_ruin_and_recreate_improves_the_plan_and_keeps_pairs_and_links(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With no alternating rounds, the time after the greedy start goes to taking visits tied
    # to no other out and putting them back. Plans are valued in the whole model, which
    # refuses broken pairs and links, so a try that gains must have kept them.
    monkeypatch.setattr(_ortools, "_LARGE_DAY_NODES", 40)
    monkeypatch.setattr(_ortools, "_alternate", lambda data, best, deadline: (best, 0))
    visits, carers = _paired_morning()
    plan = solve(roster(visits, carers), SolveParams(time_limit=3.0, seed=2))
    assert plan.stats["ruins_tried"] > plan.stats["ruins_improved"] > 0
    assert plan.stats["objective"] < plan.stats["first_objective"]
    _assert_pairs_and_links_hold(plan, visits)


def test_wide_searches_add_the_wide_moves_and_keep_the_rest() -> None:
    plain: Any = _ortools._search_parameters(FAST, "SAVINGS", 1.0)
    wide: Any = _ortools._search_parameters(FAST, "SAVINGS", 1.0, wide=True)
    for move in _ortools._WIDE_MOVES:
        assert getattr(plain.local_search_operators, move) != getattr(
            wide.local_search_operators, move
        )
    for field in ("first_solution_strategy", "local_search_metaheuristic", "time_limit"):
        assert getattr(plain, field) == getattr(wide, field)


def test_a_portfolio_of_two_searches_returns_the_cheaper_valid_plan() -> None:
    # Carers leaving from one office (one shared depot in the model) and a double-handed
    # visit; two searches run side by side, the plan checked as every other.
    office = at(0, 0)
    visits = [visit(f"v{i}", at(i % 3, i // 3), "08:00", "12:00") for i in range(9)]
    visits.append(visit("hoist", at(1, 1), "09:00", "09:30", carers_required=2))
    carers = [carer(f"C{n}", office) for n in range(3)]
    plan = solve(
        roster(visits, carers), SolveParams(time_limit=1.0, portfolio=2, share_depots=True)
    )
    assert plan.stats["portfolio_winner"] in (0.0, 1.0)
    assert not plan.unassigned
    pair = [a for a in plan.assignments if a.visit_id == "hoist"]
    assert len({a.carer_id for a in pair}) == 2 and pair[0].start == pair[1].start


def twenty_minutes_late() -> Roster:
    """One carer, two visits at one door with windows closing at 09:10: the second starts at
    09:30 at the earliest, 20 minutes late."""
    door = at(1, 0)
    visits = [visit(v, door, "09:00", "09:10") for v in ("first", "second")]
    return roster(visits, [carer("A", at(0, 0))])


def test_a_portfolio_values_every_plan_at_the_given_lateness_weight() -> None:
    # On this small day with lateness allowed the second search weighs lateness twice as
    # much; whichever plan wins, its objective is at the given weight.
    params = SolveParams(
        time_limit=0.5, portfolio=3, lateness=2, lateness_limit_min=60, continuity=0, duplicate=0
    )
    plan = solve(twenty_minutes_late(), params)
    late = sum(max(0, a.start - hm("09:10")) for a in plan.assignments)
    assert late == 20 * 60
    assert plan.stats["objective"] == plan.travel_seconds + 2 * late


def test_a_plan_searched_at_another_lateness_weight_is_valued_at_the_given_one() -> None:
    r = twenty_minutes_late()
    given = SolveParams(time_limit=0.3, lateness=2, lateness_limit_min=60, continuity=0)
    heavier = SolveParams(time_limit=0.3, lateness=4, lateness_limit_min=60, continuity=0)
    plan = plan_day(r, straight_line_matrix(roster_points(r)), 0, heavier)
    assert plan.stats["objective"] == plan.travel_seconds + 4 * 20 * 60
    ends = {v.visit_id: v.window.end for v in r.visits}
    valued = _ortools._objective_at(plan, given, heavier, ends)
    assert valued == plan.travel_seconds + 2 * 20 * 60


def test_a_portfolio_weighs_lateness_more_second_on_a_small_day_where_lateness_is_allowed() -> None:
    params = SolveParams(lateness=2, lateness_limit_min=60, portfolio=5, seed=7)
    small = _ortools._portfolio(params, _ortools._LARGE_DAY_NODES)
    assert [(p.lns, p.lateness, delays) for p, delays in small] == [
        (False, 2, None),
        (False, 4, None),
        (True, 2, None),
        (True, 4, None),
        (False, 2, None),
    ]
    assert [p.seed for p, _ in small] == [7, 8, 9, 10, 11]
    assert {p.portfolio for p, _ in small} == {1}
    # On a larger day the second search differs only in its first solution, which charges
    # the delays an insertion causes.
    large = _ortools._portfolio(params, _ortools._LARGE_DAY_NODES + 1)
    assert [(p.lns, p.lateness, delays) for p, delays in large][:3] == [
        (False, 2, None),
        (False, 2, True),
        (False, 4, None),
    ]
    on_time = dataclasses.replace(params, lateness_limit_min=0)
    for nodes in (10, _ortools._LARGE_DAY_NODES + 1):
        searches = _ortools._portfolio(on_time, nodes)
        assert [(p.lns, delays) for p, delays in searches][:2] == [(False, None), (True, None)]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_portfolio_must_be_a_whole_number_of_searches(bad: object) -> None:
    with pytest.raises(InputError, match="portfolio"):
        SolveParams(portfolio=bad)  # type: ignore[arg-type]


def _cheapest_travel(r: Roster, matrix: TravelMatrix, office: Location) -> int:
    """Least travel for two carers from `office` doing every visit of `r` (windows that never
    bind): every order of the visits, split between the two at every point."""
    seconds = next(iter(matrix.seconds.values()))
    home = matrix.index(office)
    doors = [matrix.index(v.location) for v in r.visits]

    def tour(stops: tuple[int, ...]) -> int:
        path = [home, *stops, home]
        return sum(int(seconds[a, b]) for a, b in itertools.pairwise(path)) if stops else 0

    return min(
        tour(order[:cut]) + tour(order[cut:])
        for order in itertools.permutations(doors)
        for cut in range(len(order) + 1)
    )


def test_the_iterated_local_search_finds_the_cheapest_plan_of_a_small_day() -> None:
    office = at(0, 0)
    spots = [(5, 0), (5.2, 0.3), (5.4, 0), (0, 5), (0.3, 5.2), (0, 5.4), (2, 2)]
    visits = [
        visit(f"v{i}", at(x, y), "08:00", "13:00", duration=10 * 60)
        for i, (x, y) in enumerate(spots)
    ]
    r = roster(visits, [carer("A", office), carer("B", office)])
    params = SolveParams(
        time_limit=2.0, metaheuristic="ITERATED_LOCAL_SEARCH", continuity=0, duplicate=0
    )
    plan = solve(r, params)
    assert not plan.unassigned
    matrix = straight_line_matrix(roster_points(r))
    assert plan.travel_seconds == _cheapest_travel(r, matrix, office)
    assert plan.stats["objective"] <= plan.stats["first_objective"]  # the greedy's


def test_a_day_with_pairs_and_links_stays_valid_under_the_iterated_local_search() -> None:
    # Such a day is searched by guided local search whatever the metaheuristic.
    visits, carers = _paired_morning()
    params = SolveParams(time_limit=2.0, seed=2, metaheuristic="ITERATED_LOCAL_SEARCH")
    plan = solve(roster(visits, carers), params)
    assert plan.stats["objective"] <= plan.stats["first_objective"]
    _assert_pairs_and_links_hold(plan, visits)


def test_under_the_iterated_local_search_parts_and_rounds_are_guided() -> None:
    enums = _ortools.routing_enums_pb2
    params = SolveParams(
        metaheuristic="ITERATED_LOCAL_SEARCH", recreate="SEQUENTIAL_CHEAPEST_INSERTION"
    )
    part: Any = _ortools._search_parameters(params, "SAVINGS", 1.0)
    assert not part.use_iterated_local_search
    assert part.local_search_metaheuristic == enums.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    whole: Any = _ortools._search_parameters(params, "SAVINGS", 1.0, ils=True)
    assert whole.use_iterated_local_search
    assert whole.local_search_metaheuristic == enums.LocalSearchMetaheuristic.GREEDY_DESCENT
    recreate = whole.iterated_local_search_parameters.ruin_recreate_parameters.recreate_strategy
    assert recreate.heuristic == enums.FirstSolutionStrategy.SEQUENTIAL_CHEAPEST_INSERTION


def test_a_portfolio_of_iterated_local_searches_recreates_two_ways() -> None:
    params = SolveParams(metaheuristic="ITERATED_LOCAL_SEARCH", portfolio=3)
    searches = _ortools._portfolio(params, 100)
    assert [(p.recreate, p.lns, p.lateness) for p, _ in searches] == [
        ("LOCAL_CHEAPEST_INSERTION", False, 2),
        ("PARALLEL_CHEAPEST_INSERTION", False, 2),
        ("LOCAL_CHEAPEST_INSERTION", False, 4),
    ]
    other = dataclasses.replace(params, recreate="PARALLEL_CHEAPEST_INSERTION")
    assert _ortools._portfolio(other, 100)[1][0].recreate == "LOCAL_CHEAPEST_INSERTION"


def test_recreate_must_be_a_known_heuristic() -> None:
    with pytest.raises(InputError, match="`recreate` must be one of"):
        SolveParams(recreate="SAVINGS")
