"""Continuity of care on a hand-built week."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from carerun import (
    Assignment,
    Carer,
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
from carerun.continuity import continuity_summary, continuity_table, worst_served

H = 3600
HOME = Location(52.67, -0.73)


def visit(vid: str, client: str, day: int, **kw: Any) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=client,
        day=day,
        window=TimeWindow(8 * H, 9 * H),
        duration=1800,
        location=HOME,
        **kw,
    )


def week() -> tuple[Roster, Plan]:
    """X: 7 visits by c1 ×4, c2 ×2, c3 ×1. Y: 2 double-handed by c1+c2, 1 single by c3.
    Z: prefers c3, done by c3, c3, c1. V: 7 visits by 7 carers. W: never assigned."""
    carers = tuple(
        Carer(f"c{i}", "P", HOME, shifts={d: (Shift(7 * H, 20 * H),) for d in range(7)})
        for i in range(1, 8)
    )
    visits: list[Visit] = []
    who: list[tuple[str, str, int]] = []
    for d, c in enumerate(["c1", "c1", "c2", "c1", "c2", "c3", "c1"]):
        visits.append(visit(f"x{d}", "X", d))
        who.append((f"x{d}", c, d))
    for d in range(2):
        visits.append(visit(f"y{d}", "Y", d, carers_required=2))
        who += [(f"y{d}", "c1", d), (f"y{d}", "c2", d)]
    visits.append(visit("y2", "Y", 2))
    who.append(("y2", "c3", 2))
    for d, c in enumerate(["c3", "c3", "c1"]):
        visits.append(visit(f"z{d}", "Z", d, preferred_carers=("c3",)))
        who.append((f"z{d}", c, d))
    for d in range(7):
        visits.append(visit(f"v{d}", "V", d))
        who.append((f"v{d}", f"c{d + 1}", d))
    visits.append(visit("w0", "W", 0))
    roster = Roster(tuple(visits), carers, (Provider("P"),))
    plan = Plan(
        tuple(Assignment(v, c, d, 8 * H) for v, c, d in who),
        unassigned=(Unassigned("w0", UnassignedReason.CAPACITY),),
    )
    return roster, plan


def test_table_counts_carers_and_share_by_regular() -> None:
    table = continuity_table(*week()).set_index("client_id")
    assert table.loc["X", "carers"] == 3
    assert table.loc["X", "regular_carers"] == "c1"
    assert table.loc["X", "share_regular"] == pytest.approx(4 / 7)
    # Double-handed: the two most frequent are regular; each carer-visit counts.
    assert table.loc["Y", "carer_visits"] == 5
    assert table.loc["Y", "regular_carers"] == "c1;c2"
    assert table.loc["Y", "share_regular"] == pytest.approx(4 / 5)
    # Preferred carers override the most-frequent rule.
    assert table.loc["Z", "share_regular"] == pytest.approx(2 / 3)
    # Seven carers once each: one regular, not seven.
    assert table.loc["V", "carers"] == 7
    assert table.loc["V", "share_regular"] == pytest.approx(1 / 7)
    assert table.loc["W", "carers"] == 0
    assert table.loc["W", "unassigned"] == 1
    assert math.isnan(table.loc["W", "share_regular"])


def test_worst_served_first() -> None:
    table = continuity_table(*week())
    assert list(table["client_id"]) == ["V", "X", "Y", "Z", "W"]
    assert list(worst_served(table, 2)["client_id"]) == ["V", "X"]


def test_summary_by_hand() -> None:
    summary = continuity_summary(continuity_table(*week()), worst=3)
    # Served clients see 3 (X), 3 (Y), 2 (Z) and 7 (V) carers.
    assert summary["clients"] == 5
    assert summary["clients_served"] == 4
    assert summary["mean_carers"] == pytest.approx(15 / 4)
    assert summary["median_carers"] == 3.0
    assert summary["max_carers"] == 7
    assert summary["share_regular"] == pytest.approx(round((4 + 4 + 2 + 1) / (7 + 5 + 3 + 7), 4))
    assert summary["histogram"] == {"2": 1, "3": 2, "7": 1}
    assert summary["worst_served"] == ["V", "X", "Y"]
    json.dumps(summary)


def test_empty_plan() -> None:
    roster, _ = week()
    summary = continuity_summary(continuity_table(roster, Plan(())))
    assert summary["clients_served"] == 0
    assert summary["share_regular"] is None
    assert summary["mean_carers"] is None
    json.dumps(summary)
