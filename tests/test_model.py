"""The domain model validates itself: every impossible value raises ModelError."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from carerun.model import (
    LATEST_TIME,
    Carer,
    Location,
    ModelError,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Visit,
    format_time,
)

HOME = Location(60.17, 24.94)


def visit(**changes: Any) -> Visit:
    values: dict[str, Any] = {
        "visit_id": "V1",
        "client_id": "C1",
        "day": 0,
        "window": TimeWindow(8 * 3600, 9 * 3600),
        "duration": 1800,
        "location": HOME,
    }
    return Visit(**(values | changes))


def carer(**changes: Any) -> Carer:
    values: dict[str, Any] = {"carer_id": "A", "provider": "HEL", "base": HOME}
    return Carer(**(values | changes))


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: Location(91, 0), "latitude 91"),
        (lambda: Location(0, -181), "longitude -181"),
        (lambda: TimeWindow(3600, 0), "ends (00:00) before it starts (01:00)"),
        (lambda: TimeWindow(0, LATEST_TIME + 1), "outside the day"),
        (lambda: TimeWindow(-1, 10), "outside the day"),
        (lambda: visit(visit_id=""), "needs a `visit_id`"),
        (lambda: visit(client_id=""), "needs a `client_id`"),
        (lambda: visit(day=7), "day 7"),
        (lambda: visit(duration=0), "duration must be more than zero"),
        (lambda: visit(carers_required=3), "carers_required must be 1 or 2, not 3"),
        (lambda: visit(carer_ids=("A", "B")), "2 carers given for a visit needing 1"),
        (lambda: visit(carers_required=2, carer_ids=("A", "A")), "named twice"),
        (lambda: visit(follows="V0", gap_min=600, gap_max=300), "gap_max is less than gap_min"),
        (lambda: visit(follows="V1"), "cannot follow itself"),
        (lambda: Provider(""), "needs a `provider` id"),
        (lambda: Provider("X", hourly_rate=-1), "hourly_rate cannot be negative"),
        (lambda: carer(carer_id=""), "needs a `carer_id`"),
        (lambda: carer(provider=""), "needs a `provider`"),
        (lambda: carer(shifts={7: (Shift(0, 60),)}), "shift day 7"),
        (
            lambda: carer(shifts={1: (Shift(36000, 43200), Shift(25200, 39600))}),
            "shifts 07:00-11:00 and 10:00-12:00 on Tue overlap",
        ),
        (lambda: carer(max_minutes_day=0), "`max_minutes_day` must be more than zero"),
    ],
)
def test_impossible_values_raise_model_error(build: Any, words: str) -> None:
    with pytest.raises(ModelError) as info:
        build()
    assert words in str(info.value)


PROVIDERS = (Provider("HEL", kind=ProviderKind.IN_HOUSE), Provider("EXT"))


@pytest.mark.parametrize(
    ("visits", "carers", "providers", "words"),
    [
        ((visit(), visit()), (), PROVIDERS, "visit id 'V1' appears more than once"),
        ((), (carer(), carer()), PROVIDERS, "carer id 'A' appears more than once"),
        ((), (), (Provider("X"), Provider("X")), "provider id 'X' appears more than once"),
        ((), (carer(provider="NOPE"),), PROVIDERS, "unknown provider 'NOPE'"),
        ((visit(provider="NOPE"),), (), PROVIDERS, "unknown provider 'NOPE'"),
        ((visit(carer_ids=("Z",)),), (carer(),), PROVIDERS, "unknown carer 'Z'"),
        ((visit(follows="V9", gap_max=60),), (), PROVIDERS, "follows unknown visit 'V9'"),
    ],
)
def test_roster_checks_ids_and_references(
    visits: tuple[Visit, ...],
    carers: tuple[Carer, ...],
    providers: tuple[Provider, ...],
    words: str,
) -> None:
    with pytest.raises(ModelError, match=words):
        Roster(visits, carers, providers)


def test_roster_lookups_and_summary() -> None:
    early = carer(shifts={0: (Shift(25200, 50400),)})
    roster = Roster(
        (
            visit(carer_ids=("A",), provider="HEL"),
            visit(visit_id="V2", day=2, carers_required=2, follows="", pinned=False),
        ),
        (early, carer(carer_id="B", provider="EXT")),
        PROVIDERS,
        week_start=dt.date(2024, 3, 4),
        name="week 10",
    )
    assert roster.visit("V2").double_handed
    assert roster.carers_on(0) == (early,)
    assert roster.days == (0, 2)
    assert roster.date_of(2) == dt.date(2024, 3, 6)
    assert roster.client_ids == ("C1",)
    summary = roster.summary()
    assert "Roster week 10, week of 2024-03-04" in summary
    assert "2 visits for 1 clients, 1.5 carer-hours" in summary
    assert "visits per day: Mon 1, Wed 1" in summary


def test_format_time_runs_past_midnight() -> None:
    assert format_time(0) == "00:00"
    assert format_time(24 * 3600 + 30 * 60) == "24:30"


def test_only_a_pinned_visit_with_a_planned_start_has_a_fixed_start() -> None:
    assert visit(pinned=True, planned_start=8 * 3600).fixed_start == 8 * 3600
    assert visit(pinned=False, planned_start=8 * 3600).fixed_start is None
    assert visit(pinned=True).fixed_start is None
