"""Duplicate multi-provider events on hand-built rosters whose answers can be read off."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    Visit,
)
from carerun.duplicates import (
    duplicate_counts,
    duplicates_frame,
    find_duplicates,
    local_metres,
    write_duplicates_csv,
)

H = 3600
M = 60
OAKHAM = (52.6700, -0.7300)  # Rutland


def near(north_m: float = 0.0, east_m: float = 0.0) -> Location:
    """A point `north_m`, `east_m` metres from OAKHAM (small offsets, flat earth)."""
    lat = OAKHAM[0] + math.degrees(north_m / 6_371_008.8)
    lon = OAKHAM[1] + math.degrees(east_m / (6_371_008.8 * math.cos(math.radians(OAKHAM[0]))))
    return Location(lat, lon)


def visit(
    vid: str,
    client: str,
    start: int,
    *,
    minutes: int = 30,
    where: Location | None = None,
    day: int = 0,
    area: str = "",
    carers_required: int = 1,
) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=client,
        day=day,
        window=TimeWindow(max(0, start - 30 * M), start + 30 * M),
        duration=minutes * M,
        location=where or near(),
        carers_required=carers_required,
        planned_start=start,
        area=area,
    )


def roster(visits: list[Visit], carers: dict[str, str]) -> Roster:
    """`carers` maps carer id to provider id."""
    shifts = {d: (Shift(6 * H, 23 * H),) for d in range(7)}
    return Roster(
        visits=tuple(visits),
        carers=tuple(Carer(c, p, near(500, 500), shifts=shifts) for c, p in carers.items()),
        providers=tuple(Provider(p) for p in sorted(set(carers.values()))),
    )


def plan(r: Roster, who: dict[str, str | tuple[str, ...]], travel: int = 0) -> Plan:
    """Each visit done at its planned start by the carer(s) named in `who`."""
    rows = []
    for v in r.visits:
        carers = who.get(v.visit_id, ())
        for c in (carers,) if isinstance(carers, str) else carers:
            assert v.planned_start is not None
            rows.append(Assignment(v.visit_id, c, v.day, v.planned_start, travel))
    return Plan(tuple(rows))


CARERS = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}


def test_same_client_two_providers_overlapping_is_one_event() -> None:
    r = roster([visit("v1", "c", 8 * H), visit("v2", "c", 8 * H + 15 * M)], CARERS)
    events = find_duplicates(r, plan(r, {"v1": "a1", "v2": "b1"}, travel=600))
    assert len(events) == 1
    e = events[0]
    assert (e.event_id, e.day, e.providers, e.visit_ids) == ("D0001", 0, ("A", "B"), ("v1", "v2"))
    assert (e.start, e.end) == (8 * H, 8 * H + 45 * M)
    assert e.carer_ids == ("a1", "b1")
    # Tie on carer-visits and minutes: A is the main provider by name; B's 10 min are saved.
    assert e.main_provider == "A"
    assert e.travel_saved == 600


def test_neighbours_40m_apart_by_two_providers_is_one_event() -> None:
    r = roster(
        [
            visit("v1", "x", 12 * H, where=near()),
            visit("v2", "y", 12 * H + 10 * M, where=near(east_m=40)),
        ],
        CARERS,
    )
    events = find_duplicates(r, plan(r, {"v1": "a1", "v2": "b1"}, travel=300))
    assert len(events) == 1
    assert events[0].client_ids == ("x", "y")
    # The single carer walks 40 m × 1.3 at 4.8 km/h (39 s) instead of B's 300 s drive.
    assert events[0].travel_saved == round(300 - 40 * 1.3 / (4.8 / 3.6))


def test_neighbours_60m_apart_only_with_a_wider_distance() -> None:
    r = roster([visit("v1", "x", 12 * H), visit("v2", "y", 12 * H, where=near(north_m=60))], CARERS)
    p = plan(r, {"v1": "a1", "v2": "b1"})
    assert find_duplicates(r, p) == []
    assert len(find_duplicates(r, p, distance_m=70)) == 1


@pytest.mark.parametrize(("apart_min", "events"), [(29, 1), (30, 1), (31, 0)])
def test_gap_threshold_is_inclusive_at_30_minutes(apart_min: int, events: int) -> None:
    # v1 17:00–17:30; v2 starts `apart_min` minutes after v1 ends.
    r = roster([visit("v1", "c", 17 * H), visit("v2", "c", 17 * H + (30 + apart_min) * M)], CARERS)
    assert len(find_duplicates(r, plan(r, {"v1": "a1", "v2": "b1"}))) == events


def test_31_minutes_apart_counts_with_a_wider_gap() -> None:
    r = roster([visit("v1", "c", 17 * H), visit("v2", "c", 18 * H + M)], CARERS)
    assert len(find_duplicates(r, plan(r, {"v1": "a1", "v2": "b1"}), gap_min=31)) == 1


def test_same_provider_twice_is_no_event() -> None:
    r = roster([visit("v1", "c", 8 * H), visit("v2", "c", 8 * H)], CARERS)
    assert find_duplicates(r, plan(r, {"v1": "a1", "v2": "a2"})) == []


def test_double_handed_visit_by_two_providers_alone_is_no_event() -> None:
    r = roster([visit("v1", "c", 8 * H, carers_required=2)], CARERS)
    assert find_duplicates(r, plan(r, {"v1": ("a1", "b1")})) == []


def test_other_days_and_unassigned_visits_do_not_link() -> None:
    r = roster(
        [visit("v1", "c", 8 * H), visit("v2", "c", 8 * H, day=1), visit("v3", "c", 8 * H)],
        CARERS,
    )
    assert find_duplicates(r, plan(r, {"v1": "a1", "v2": "b1"})) == []


def test_chain_of_links_makes_one_event_across_three_providers() -> None:
    # v1–v2 overlap, v2–v3 20 min apart: one group though v1 and v3 are 80 min apart.
    r = roster(
        [
            visit("v1", "c", 8 * H),
            visit("v2", "c", 8 * H + 20 * M),
            visit("v3", "c", 9 * H + 10 * M),
        ],
        CARERS,
    )
    (e,) = find_duplicates(r, plan(r, {"v1": "a1", "v2": "b1", "v3": "c1"}))
    assert e.providers == ("A", "B", "C")
    assert e.provider_pairs == (("A", "B"), ("A", "C"), ("B", "C"))


def test_counts_by_provider_pair_area_and_day() -> None:
    visits = [
        visit("m1", "c1", 8 * H, area="North"),
        visit("m2", "c1", 8 * H, area="North"),
        visit("m3", "c2", 12 * H, where=near(3000)),
        visit("m4", "c2", 12 * H, where=near(3000)),
        visit("t1", "c3", 9 * H, day=1, where=near(6000)),
        visit("t2", "c3", 9 * H, day=1, where=near(6000)),
        visit("t3", "c3", 9 * H, day=1, where=near(6000)),
    ]
    r = roster(visits, CARERS)
    who = {"m1": "a1", "m2": "b1", "m3": "a1", "m4": "b1", "t1": "a1", "t2": "b1", "t3": "c1"}
    events = find_duplicates(r, plan(r, who, travel=120))
    assert [e.event_id for e in events] == ["D0001", "D0002", "D0003"]
    counts = duplicate_counts(events)
    pairs = counts["provider_pair"].set_index(["provider_a", "provider_b"])
    assert pairs["events"].to_dict() == {("A", "B"): 3, ("A", "C"): 1, ("B", "C"): 1}
    assert pairs.loc[("A", "B"), "visits"] == 7
    areas = counts["area"].set_index("area")["events"].to_dict()
    assert areas == {"North": 1, "all": 2}
    by_day = counts["day"].set_index("day")["events"]
    assert list(by_day.index) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert by_day.to_dict() == {
        "Mon": 2,
        "Tue": 1,
        "Wed": 0,
        "Thu": 0,
        "Fri": 0,
        "Sat": 0,
        "Sun": 0,
    }
    # Tuesday: main provider A (tie → name); B's and C's 2 min each are saved.
    assert events[2].travel_saved == 240


def test_counts_of_no_events_are_empty_frames() -> None:
    counts = duplicate_counts([])
    assert counts["provider_pair"].empty
    assert counts["area"].empty
    assert counts["day"]["events"].sum() == 0


def test_frame_and_csv(tmp_path: Path) -> None:
    r = roster([visit("=cmd", "c", 8 * H), visit("v2", "c", 8 * H + 15 * M)], CARERS)
    events = find_duplicates(r, plan(r, {"=cmd": "a1", "v2": "b1"}, travel=600))
    frame = duplicates_frame(events)
    assert frame.loc[0, "start"] == "08:00"
    assert frame.loc[0, "end"] == "08:45"
    assert frame.loc[0, "travel_saved_min"] == 10.0
    path = write_duplicates_csv(events, tmp_path / "out" / "duplicates.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    for column in ("event_id", "day", "start", "end", "lat", "lon", "providers", "visit_ids"):
        assert column in rows[0]
    assert rows[0]["visit_ids"] == "'=cmd;v2"
    assert rows[0]["providers"] == "A;B"
    assert [p.name for p in path.parent.iterdir()] == ["duplicates.csv"]


def test_bad_options_and_foreign_plans_raise_input_errors() -> None:
    r = roster([visit("v1", "c", 8 * H)], CARERS)
    with pytest.raises(InputError, match="distance_m"):
        find_duplicates(r, Plan(()), distance_m=-1)
    with pytest.raises(InputError, match="gap_min"):
        find_duplicates(r, Plan(()), gap_min=-5)
    with pytest.raises(InputError, match="zz"):
        find_duplicates(r, Plan((Assignment("v1", "zz", 0, 8 * H),)))
    with pytest.raises(InputError, match="nope"):
        find_duplicates(r, Plan((Assignment("nope", "a1", 0, 8 * H),)))


def test_local_projection_matches_haversine_within_a_metre() -> None:
    a, b = near(), near(800, -600)
    xy = local_metres(np.array([a.lat, b.lat]), np.array([a.lon, b.lon]))
    assert math.dist(xy[0], xy[1]) == pytest.approx(1000.0, abs=1.0)


# Properties ----------------------------------------------------------------------------

_visits = st.lists(
    st.tuples(
        st.integers(0, 3),  # place: 0..3, 30 m apart in a row
        st.integers(0, 1),  # day
        st.integers(7 * 4, 21 * 4),  # start in quarter hours
        st.sampled_from(list(CARERS)),
    ),
    min_size=1,
    max_size=14,
)


def _random_case(rows: list[tuple[int, int, int, str]]) -> tuple[Roster, Plan]:
    visits = [
        visit(f"v{i}", f"c{place}", start * 15 * M, day=day, where=near(east_m=30 * place))
        for i, (place, day, start, _) in enumerate(rows)
    ]
    r = roster(visits, CARERS)
    return r, plan(r, {f"v{i}": c for i, (*_, c) in enumerate(rows)}, travel=300)


@settings(max_examples=60, deadline=None)
@given(_visits)
def test_events_are_disjoint_multi_provider_groups(rows: list[tuple[int, int, int, str]]) -> None:
    r, p = _random_case(rows)
    events = find_duplicates(r, p)
    seen: set[str] = set()
    for e in events:
        assert len(e.providers) >= 2
        assert len(e.visit_ids) >= 2
        assert {r.visit(v).day for v in e.visit_ids} == {e.day}
        assert not seen & set(e.visit_ids)
        seen |= set(e.visit_ids)
        assert e.travel_saved >= 0


@settings(max_examples=60, deadline=None)
@given(_visits)
def test_one_provider_never_makes_an_event(rows: list[tuple[int, int, int, str]]) -> None:
    r, p = _random_case([(pl, d, s, "a1" if c != "a2" else "a2") for pl, d, s, c in rows])
    assert find_duplicates(r, p) == []


@settings(max_examples=60, deadline=None)
@given(_visits, st.integers(0, 60), st.integers(0, 60))
def test_wider_thresholds_never_drop_a_visit_from_events(
    rows: list[tuple[int, int, int, str]], extra_m: int, extra_min: int
) -> None:
    r, p = _random_case(rows)
    narrow = {v for e in find_duplicates(r, p, distance_m=20, gap_min=10) for v in e.visit_ids}
    wide = find_duplicates(r, p, distance_m=20 + extra_m, gap_min=10 + extra_min)
    assert narrow <= {v for e in wide for v in e.visit_ids}


def test_bundled_example_as_is_and_pooled() -> None:
    from carerun.asis import asis_plan
    from carerun.examples import example_roster_path
    from carerun.matrix import roster_modes, roster_points, straight_line_matrix
    from carerun.roster import read_roster

    roster = read_roster(example_roster_path())
    matrix = straight_line_matrix(roster_points(roster), modes=roster_modes(roster))
    plan = asis_plan(roster, matrix)
    events = find_duplicates(roster, plan)
    assert events, "the example has sheltered housing served by several providers"
    frame = duplicates_frame(events)
    assert len(frame) == len(events)
    assert (frame.n_providers >= 2).all()
    assert duplicate_counts(events)["day"]["events"].sum() == len(events)
    # One pooled provider: the same visits, times and places, and no event at all.
    pooled = roster.replace(carers=[replace(c, provider="HEL") for c in roster.carers])
    assert find_duplicates(pooled, plan) == []


def test_double_handed_visit_saves_only_when_the_main_provider_has_two_carers() -> None:
    # v1 by a1 alone; v2 double-handed by a2 + b1 (A is main with 2 carers) → b1's 5 min saved.
    r = roster([visit("v1", "c", 8 * H), visit("v2", "c", 8 * H, carers_required=2)], CARERS)
    (e,) = find_duplicates(r, plan(r, {"v1": "a1", "v2": ("a2", "b1")}, travel=300))
    assert e.main_provider == "A"
    assert e.travel_saved == 300


def test_joint_visit_next_to_one_of_its_carers_visits_is_no_event() -> None:
    # v2 by a1 + b1 after a1's v1: each provider has one carer there and v2 needs both, so
    # neither could be spared: joint working, not duplication.
    r = roster([visit("v1", "c", 8 * H), visit("v2", "c", 8 * H, carers_required=2)], CARERS)
    joint = plan(r, {"v1": "a1", "v2": ("a1", "b1")})
    assert find_duplicates(r, joint) == []
    (e,) = find_duplicates(r, joint, joint=True)
    assert e.visit_ids == ("v1", "v2")
    # A third provider's visit there could go to either of them: an event again.
    r = r.replace(visits=[*r.visits, visit("v3", "c", 8 * H + 30 * M)])
    (e,) = find_duplicates(r, plan(r, {"v1": "a1", "v2": ("a1", "b1"), "v3": "c1"}))
    assert e.providers == ("A", "B", "C")
