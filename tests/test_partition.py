"""Splitting a large day into areas: sizes, what stays together, carers where the work is."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from carerun.model import Carer, Location, Provider, Roster, TimeWindow, Visit
from carerun.partition import split_day

SHIFT = {0: (TimeWindow(7 * 3600, 22 * 3600),)}
WEST, EAST = (52.65, -0.80), (52.65, -0.50)  # two towns ~20 km apart


def visit(i: int, town: tuple[float, float], **kw: object) -> Visit:
    lat, lon = town
    loc = Location(lat + (i % 7) * 1e-3, lon + (i % 5) * 1e-3)
    return Visit(f"v{i}", f"c{i % 40}", 0, TimeWindow(8 * 3600, 20 * 3600), 1800, loc, **kw)


def roster(
    n_west: int = 60, n_east: int = 20, carers_west: int = 6, carers_east: int = 6
) -> Roster:
    visits = [visit(i, WEST) for i in range(n_west)]
    visits += [visit(1000 + i, EAST) for i in range(n_east)]
    carers = [Carer(f"w{i}", "P", Location(*WEST), shifts=SHIFT) for i in range(carers_west)]
    carers += [Carer(f"e{i}", "P", Location(*EAST), shifts=SHIFT) for i in range(carers_east)]
    return Roster(tuple(visits), tuple(carers), (Provider("P"),))


def test_small_day_is_one_part() -> None:
    parts = split_day(roster(), 0, max_visits=500)
    assert len(parts) == 1 and parts[0].label == "Mon"
    assert len(parts[0].visits) == 80 and len(parts[0].carers) == 12


def test_two_towns_become_two_areas_with_carers_in_proportion() -> None:
    parts = split_day(roster(), 0, max_visits=50, seed=1)
    assert len(parts) == 2
    by_size = sorted(parts, key=lambda p: len(p.visits))
    small, big = by_size
    assert {v.location.lon < -0.7 for v in big.visits} == {True}  # the west town, whole
    assert len(big.visits) == 60 and len(small.visits) == 20
    # 60:20 demand → 9 of 12 carers to the west town, 3 east; nearest bases first.
    assert len(big.carers) == 9 and len(small.carers) == 3
    assert {c.carer_id[0] for c in small.carers} == {"e"}


def test_links_and_pins_stay_together() -> None:
    r = roster()
    visits = list(r.visits)
    # A west visit linked to an east one, and an east visit pinned to a west carer.
    visits[0] = dataclasses.replace(visits[0], follows="v1000", gap_min=0, gap_max=7200)
    visits[-1] = dataclasses.replace(
        visits[-1], pinned=True, carer_ids=("w0",), planned_start=9 * 3600
    )
    r = r.replace(visits=visits)
    parts = split_day(r, 0, max_visits=50, seed=1)
    where = {v.visit_id: p.area for p in parts for v in p.visits}
    assert where["v0"] == where["v1000"]
    carer_area = {c.carer_id: p.area for p in parts for c in p.carers}
    assert carer_area["w0"] == where[visits[-1].visit_id]


@settings(max_examples=25, deadline=None)
@given(
    n_west=st.integers(0, 120),
    n_east=st.integers(1, 120),
    cw=st.integers(1, 8),
    ce=st.integers(1, 8),
    cap=st.integers(10, 200),
    seed=st.integers(0, 5),
)
def test_every_visit_and_carer_in_exactly_one_part(
    n_west: int, n_east: int, cw: int, ce: int, cap: int, seed: int
) -> None:
    r = roster(n_west, n_east, cw, ce)
    parts = split_day(r, 0, max_visits=cap, seed=seed)
    visits = [v.visit_id for p in parts for v in p.visits]
    carers = [c.carer_id for p in parts for c in p.carers]
    assert sorted(visits) == sorted(v.visit_id for v in r.visits)
    assert sorted(carers) == sorted(c.carer_id for c in r.carers)
    points: dict[tuple[float, float], int] = {}
    for p in parts:
        for v in p.visits:
            assert points.setdefault(v.location.point, p.area) == p.area


def test_a_carer_pinned_in_two_towns_keeps_both_pins() -> None:
    r = roster()
    visits = list(r.visits)
    for k in (0, -1):  # one pinned visit in each town, both to w0
        visits[k] = dataclasses.replace(
            visits[k], pinned=True, carer_ids=("w0",), planned_start=9 * 3600 + 3600 * (k == 0)
        )
    parts = split_day(r.replace(visits=visits), 0, max_visits=50, seed=1)
    carer_area = {c.carer_id: p.area for p in parts for c in p.carers}
    where = {v.visit_id: p.area for p in parts for v in p.visits}
    assert where[visits[0].visit_id] == where[visits[-1].visit_id] == carer_area["w0"]
