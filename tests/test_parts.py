"""Choosing the parts of a plan that the large neighbourhood search re-solves."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from carerun._parts import choose_part, part_around, partners_of, tied_closure
from carerun.model import Location, TimeWindow, Visit

HERE = Location(52.65, -0.70)


def visit(vid: str, **kw: object) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=vid,
        day=0,
        window=TimeWindow(9 * 3600, 10 * 3600),
        duration=1800,
        location=HERE,
        **kw,  # type: ignore[arg-type]
    )


def line_travel(n: int) -> np.ndarray:
    """Nodes on a line, one minute apart."""
    pos = np.arange(n)
    return np.abs(pos[:, None] - pos[None, :]) * 60


def test_partners_tie_double_handed_copies_and_linked_visits() -> None:
    hoist = visit("hoist", carers_required=2)
    later = visit("later", follows="hoist", gap_min=3600, gap_max=7200)
    nodes = [(hoist, 0), (hoist, 1), (later, 0), (visit("alone"), 0)]
    assert partners_of(nodes) == [[1, 2], [0, 2], [0, 1], []]


def test_the_closure_of_a_tie_reaches_through_a_chain_of_linked_visits() -> None:
    # first <- second <- third: the third is tied to the first only through the second.
    first, alone = visit("first"), visit("alone")
    second = visit("second", follows="first", gap_min=0, gap_max=3600)
    third = visit("third", follows="second", gap_min=0, gap_max=3600)
    partners = partners_of([(first, 0), (second, 0), (third, 0), (alone, 0)])
    assert tied_closure([2], partners) == {0, 1, 2}
    assert tied_closure([3], partners) == {3}
    assert tied_closure([], partners) == set()


def test_a_copy_whose_partner_stays_outside_keeps_its_start_and_avoids_its_carer() -> None:
    # Nodes 0..5 on a line; A does 0-1, B does 2-3 (3 is a double-handed copy), C does 4 and
    # far-off D does 5, the other copy of node 3. A part of at most a few nodes around A's route
    # takes A and B (nearest) but not D: node 3 must stay at its start and away from D.
    hoist = visit("hoist", carers_required=2)
    nodes = [(visit(f"v{i}"), 0) for i in range(3)] + [(hoist, 0), (visit("v4"), 0), (hoist, 1)]
    routes = {0: [(0, 100), (1, 200)], 1: [(2, 300), (3, 400)], 2: [(4, 500)], 3: [(5, 400)]}
    travel = line_travel(6)
    travel[5, :] = travel[:, 5] = 10_000
    travel[5, 5] = 0
    rng = random.Random(0)
    seen = False
    for _ in range(20):
        part = choose_part(
            routes,
            [],
            travel=travel,
            owner=["A", "B", "C", "D"],
            allowed_of=[[0, 1, 2, 3]] * 6,
            partners=partners_of(nodes),
            rng=rng,
            size=4,
        )
        assert part is not None
        if 1 in part.vehicles and 3 not in part.vehicles:
            seen = True
            assert part.fixed == {3: 400}
            assert part.banned == {3: {"D"}}
    assert seen


def test_a_part_around_a_group_takes_its_routes_then_the_preferred_carers_used_or_not() -> None:
    # Nodes 0..3 on a line, then the bases of vehicles 0..3 (rows 4..7). A does 0, B does 1, C
    # does 2-3 and D has nothing; the group is {0, 1}. C's route is nearer than D's base, but
    # D is preferred (say, the provider chosen for the group), so room for one more route
    # goes to D.
    nodes = [(visit(f"v{i}"), 0) for i in range(4)]
    routes = {0: [(0, 100)], 1: [(1, 200)], 2: [(2, 300), (3, 400)]}
    common = {
        "travel": line_travel(8),
        "owner": ["A", "B", "C", "D"],
        "allowed_of": [[0, 1, 2, 3]] * 4,
        "partners": partners_of(nodes),
    }
    part = part_around(routes, [0, 1], [], **common, size=2, prefer={3})
    assert part is not None
    assert part.vehicles == [0, 1, 3]
    assert sorted(part.nodes) == [0, 1]
    plain = part_around(routes, [0, 1], [], **common, size=4)
    assert plain is not None
    assert plain.vehicles == [0, 1, 2]


def test_a_split_shift_carer_comes_whole_and_nearby_undone_visits_join() -> None:
    nodes = [(visit(f"v{i}"), 0) for i in range(6)]
    # Carer A works two shifts (vehicles 0 and 2); B is vehicle 1. Node 4 is undone and near,
    # node 5 is undone but nobody in the part may do it.
    routes = {0: [(0, 100)], 1: [(1, 200)], 2: [(2, 300), (3, 400)]}
    part = choose_part(
        routes,
        [4, 5],
        travel=line_travel(6),
        owner=["A", "B", "A"],
        allowed_of=[[0, 1, 2]] * 5 + [[3]],
        partners=partners_of(nodes),
        rng=random.Random(1),
    )
    assert part is not None
    assert part.vehicles == [0, 1, 2]
    assert sorted(part.nodes) == [0, 1, 2, 3, 4]
    assert not part.fixed


def test_one_route_makes_no_part() -> None:
    nodes = [(visit("v0"), 0)]
    assert (
        choose_part(
            {0: [(0, 1)]},
            [],
            travel=line_travel(1),
            owner=["A"],
            allowed_of=[[0]],
            partners=partners_of(nodes),
            rng=random.Random(0),
        )
        is None
    )


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=8),
    seed=st.integers(0, 1000),
)
def test_every_part_holds_its_routes_whole(sizes: list[int], seed: int) -> None:
    # Whatever is chosen, a part holds every stop of each vehicle it takes, and no node twice.
    n = sum(sizes)
    nodes = [(visit(f"v{i}"), 0) for i in range(n)]
    routes, x = {}, 0
    for k, size in enumerate(sizes):
        routes[k] = [(x + i, 0) for i in range(size)]
        x += size
    part = choose_part(
        routes,
        [],
        travel=line_travel(n),
        owner=[f"C{k}" for k in range(len(sizes))],
        allowed_of=[list(range(len(sizes)))] * n,
        partners=partners_of(nodes),
        rng=random.Random(seed),
    )
    assert part is not None and len(part.vehicles) >= 2
    assert sorted(part.nodes) == sorted(x for k in part.vehicles for x, _ in routes[k])
