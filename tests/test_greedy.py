"""The greedy first solution's use as a repair: keeping part of a plan, and moving synchronised
visits (double-handed, linked) by taking them out and putting them back."""

from __future__ import annotations

import random
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from carerun._day import Vehicle
from carerun._greedy import Greedy, rebuild_tied
from carerun._parts import partners_of
from carerun.model import Carer, Location, Mode, TimeWindow, Visit
from carerun.solve import SolveParams

MIN = 60
HOUR = 60 * MIN
HERE = Location(52.65, -0.70)  # the greedy reads places from the matrix, not from here


def visit(vid: str, **kw: object) -> Visit:
    args: dict[str, object] = {
        "client_id": vid,
        "day": 0,
        "duration": 30 * MIN,
        "window": TimeWindow(8 * HOUR, 12 * HOUR),
        "location": HERE,
    }
    args.update(kw)
    return Visit(visit_id=vid, **args)  # type: ignore[arg-type]


def greedy(visits: list[Visit], bases: list[float], spots: list[float]) -> Greedy:
    """A greedy over `visits` (node per copy) at `spots` (minutes along a road) for one carer
    per entry of `bases` (their homes along it), each working 07:00-14:00."""
    nodes = [(v, k) for v in visits for k in range(v.carers_required)]
    at = [spots[visits.index(v)] for v, _ in nodes] + bases
    travel = (np.abs(np.subtract.outer(at, at)) * MIN).astype(np.int64)
    vehicles = [
        Vehicle(Carer(f"C{k}", "P1", HERE), TimeWindow(7 * HOUR, 14 * HOUR), len(nodes) + k)
        for k in range(len(bases))
    ]
    return Greedy(
        nodes,
        vehicles,
        {Mode.DRIVE: travel},
        [list(range(len(bases))) for _ in nodes],
        np.zeros((len(bases), len(nodes)), dtype=np.int64),
        {},
        SolveParams(),
        0,
        None,
        None,
        delays=True,
    )


def test_kept_runs_stay_in_order_and_the_rest_is_placed_around_them() -> None:
    # Nodes 0 and 1 are the two copies of the hoist visit, 2 and 3 single visits.
    visits = [visit("hoist", carers_required=2), visit("a"), visit("b")]
    g = greedy(visits, [0, 0], [10, 20, 30])
    assert g.keep([[2], [3]], {})
    runs = g.run()
    assert [x for x in runs[0] if x >= 2] == [2] and [x for x in runs[1] if x >= 2] == [3]
    pair = {k: g.early[k][run.index(x)] for k, run in enumerate(runs) for x in (0, 1) if x in run}
    assert len(pair) == 2 and len(set(pair.values())) == 1


def test_a_held_start_the_shift_cannot_fit_keeps_nothing() -> None:
    g = greedy([visit("late", window=TimeWindow(8 * HOUR, 14 * HOUR))], [0], [10])
    # 13:50 plus 30 minutes' work and 10 minutes home is past the end of the shift at 14:00.
    assert not g.keep([[0]], {0: 13 * HOUR + 50 * MIN})
    assert g.runs == [[]] and g.lo[0] == 8 * HOUR
    assert g.run() == [[0]]


def test_a_pair_done_by_a_far_carer_moves_to_the_two_near_ones() -> None:
    # The hoist visit (nodes 0 and 1) is 10 minutes from carers 0 and 1 and 90 from carer 2,
    # who does it with carer 0: OR-Tools cannot move one copy without breaking the pair.
    visits = [visit("hoist", carers_required=2)]
    bases = [0.0, 0.0, 100.0]

    def make() -> Greedy:
        return greedy(visits, bases, [10])

    before = make()
    assert before.keep([[0], [], [1]], {0: 9 * HOUR, 1: 9 * HOUR})
    found = rebuild_tied(
        make,
        [[0], [], [1]],
        {0: 9 * HOUR, 1: 9 * HOUR},
        partners=partners_of(before.nodes),
        near=np.array(before.tr[0]),
        rng=random.Random(0),
        deadline=time.perf_counter() + 5,
    )
    assert found is not None
    assert sorted(map(sorted, found)) == [[], [0], [1]] and found[2] == []


@settings(max_examples=25, deadline=None)
@given(
    spots=st.lists(st.integers(0, 60), min_size=3, max_size=9),
    doubles=st.sets(st.integers(0, 8)),
    linked=st.sets(st.integers(1, 8)),
    seed=st.integers(0, 1000),
)
def test_rebuilt_plans_keep_every_visit_once_and_pairs_on_two_carers(
    spots: list[int], doubles: set[int], linked: set[int], seed: int
) -> None:
    visits = []
    for i in range(len(spots)):
        kw: dict[str, object] = {"carers_required": 2 if i in doubles else 1}
        if i in linked and i - 1 not in linked:
            kw.update(follows=f"v{i - 1}", gap_min=HOUR, gap_max=2 * HOUR)
        visits.append(visit(f"v{i}", **kw))
    bases = [0.0, 30.0, 60.0]

    def make() -> Greedy:
        return greedy(visits, bases, [float(s) for s in spots])

    first = make()
    runs = first.run()
    partners = partners_of(first.nodes)
    starts = {
        x: t
        for run, early in zip(runs, first.early, strict=True)
        for x, t in zip(run, early, strict=True)
        if partners[x]
    }
    found = rebuild_tied(
        make,
        runs,
        starts,
        partners=partners,
        near=np.array(first.tr[0]),
        rng=random.Random(seed),
        deadline=time.perf_counter() + 0.2,
    )
    if found is None:
        return
    placed = [x for run in found for x in run]
    assert len(placed) == len(set(placed))
    for v in visits:
        copies = [x for x, (w, _) in enumerate(first.nodes) if w is v]
        owners = [k for k, run in enumerate(found) for x in run if x in copies]
        assert len(owners) in (0, len(copies)) and len(set(owners)) == len(owners)
    # Every run of it still fits its carer's shift.
    assert make().keep(found, {})
