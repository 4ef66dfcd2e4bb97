"""What-if changes on a hand-built roster: each does what it says and leaves the input alone."""

from __future__ import annotations

import pytest

from carerun._errors import InputError
from carerun.model import Carer, Location, Mode, Provider, ProviderKind, Roster, TimeWindow, Visit
from carerun.scenarios import (
    AddCarers,
    CarerSelection,
    ChangeMode,
    ChangeTolerance,
    DropProvider,
    MoveBase,
    RemoveCarers,
    scenario_from_dict,
    scenario_points,
)

HOME = Location(52.67, -0.73)
SHIFT = {0: (TimeWindow(7 * 3600, 14 * 3600),)}


def roster() -> Roster:
    carers = (
        Carer("A1", "A", HOME, shifts=SHIFT, team="north"),
        Carer("A2", "A", HOME, shifts=SHIFT, team="south"),
        Carer("B1", "B", HOME, shifts=SHIFT),
    )
    visits = (
        Visit(
            "v1",
            "c1",
            0,
            TimeWindow(8 * 3600, 9 * 3600),
            1800,
            Location(52.671, -0.731),
            planned_start=8 * 3600 + 1800,
            provider="A",
            carer_ids=("A1",),
        ),
        Visit(
            "v2",
            "c2",
            0,
            TimeWindow(10 * 3600, 11 * 3600),
            1800,
            Location(52.672, -0.732),
            planned_start=10 * 3600 + 1800,
            provider="B",
            carer_ids=("B1",),
            pinned=True,
        ),
    )
    providers = (Provider("A", kind=ProviderKind.IN_HOUSE), Provider("B"))
    return Roster(visits, carers, providers)


def test_move_base_of_a_team() -> None:
    r = roster()
    moved = MoveBase(CarerSelection(team="north"), 52.7, -0.7).apply(r)
    assert moved.carer("A1").base.point == (52.7, -0.7)
    assert moved.carer("A2").base == HOME
    assert r.carer("A1").base == HOME  # input untouched


def test_change_mode_share_is_seeded() -> None:
    r = roster()
    half = ChangeMode(CarerSelection(provider="A"), Mode.WALK, share=0.5, seed=3)
    a, b = half.apply(r), half.apply(r)
    walkers = [c.carer_id for c in a.carers if c.mode is Mode.WALK]
    assert len(walkers) == 1
    assert walkers == [c.carer_id for c in b.carers if c.mode is Mode.WALK]


def test_tolerance_recentres_windows_on_planned_start() -> None:
    wide = ChangeTolerance(45).apply(roster())
    assert wide.visit("v1").window == TimeWindow(8 * 3600 + 1800 - 2700, 8 * 3600 + 1800 + 2700)


def test_add_and_remove_carers() -> None:
    more = AddCarers("B1", 2).apply(roster())
    assert [c.carer_id for c in more.carers_of_provider("B")] == ["B1", "B1+1", "B1+2"]
    fewer = RemoveCarers(("B1",)).apply(roster())
    assert "B1" not in {c.carer_id for c in fewer.carers}
    assert fewer.visit("v2").carer_ids == ()
    assert not fewer.visit("v2").pinned  # a pin to a removed carer cannot hold


def test_drop_provider_unallocates_its_visits() -> None:
    dropped = DropProvider("B").apply(roster())
    assert [p.provider for p in dropped.providers] == ["A"]
    assert dropped.visit("v2").provider == ""
    assert dropped.visit("v2").carer_ids == ()


def test_unknown_names_are_clear_errors() -> None:
    with pytest.raises(InputError, match="unknown carer"):
        RemoveCarers(("nobody",)).apply(roster())
    with pytest.raises(InputError, match="unknown provider"):
        DropProvider("Z").apply(roster())
    with pytest.raises(InputError, match="unknown key"):
        scenario_from_dict({"name": "x", "pool": True})
    with pytest.raises(InputError, match="needs a `name`"):
        scenario_from_dict({})


def test_scenario_from_dict_and_points() -> None:
    s = scenario_from_dict(
        {
            "name": "new base",
            "move_base": {"provider": "B", "lat": 52.8, "lon": -0.6},
            "tolerance_min": 60,
            "pool_providers": False,
            "time_limit": 3,
        }
    )
    assert s.run == "plan" and not s.pool_providers and s.settings == {"time_limit": 3}
    assert len(s.changes) == 2
    pts = scenario_points(roster(), [s])
    assert (52.8, -0.6) in pts
    assert HOME.point in pts  # provider A's carers still start there
