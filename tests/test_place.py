"""Placing a new package of care: hand-built plans whose best placement can be worked out."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from carerun import InputError
from carerun.check import check
from carerun.cli import main
from carerun.matrix import TravelMatrix
from carerun.model import (
    Assignment,
    Carer,
    Location,
    Mode,
    Plan,
    Provider,
    Roster,
    TimeWindow,
    Visit,
)
from carerun.outputs import write_plan_folder
from carerun.place import (
    ANY_PROVIDER,
    PlaceReason,
    format_placements,
    place_package,
    read_package,
    read_plan_folder,
    write_placements,
)
from carerun.roster import write_roster

MON = 0


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


# One point per name, far enough apart to be distinct; travel comes from TRAVEL, not from here.
NAMES = ("baseA", "baseB", "baseC", "X1", "X2", "Y1", "Y2", "N")
POINT = {name: Location(52.60 + i / 100, -0.70) for i, name in enumerate(NAMES)}
# Seconds between points (both ways); every other pair is an hour apart, too far for any gap.
TRAVEL = {
    ("baseA", "X1"): 600,
    ("X1", "X2"): 600,
    ("X2", "baseA"): 600,
    ("X1", "N"): 300,
    ("N", "X2"): 420,
    ("baseB", "Y1"): 600,
    ("Y1", "Y2"): 600,
    ("Y2", "baseB"): 600,
    ("baseC", "N"): 600,
}
FAR = 3600


def hand_matrix() -> TravelMatrix:
    n = len(NAMES)
    secs = np.full((n, n), FAR, dtype=np.int32)
    np.fill_diagonal(secs, 0)
    for (a, b), s in TRAVEL.items():
        i, j = NAMES.index(a), NAMES.index(b)
        secs[i, j] = secs[j, i] = s
    return TravelMatrix.from_arrays([POINT[p].point for p in NAMES], {Mode.DRIVE: secs})


def shift() -> dict[int, tuple[TimeWindow, ...]]:
    return {MON: (TimeWindow(hm("08:00"), hm("12:00")),)}


def visit(
    vid: str, client: str, where: str, start: str, end: str, minutes: int, **more: object
) -> Visit:
    return Visit(
        vid, client, MON, TimeWindow(hm(start), hm(end)), minutes * 60, POINT[where], **more
    )  # type: ignore[arg-type]


def hand_roster(*, spare_carer: bool = False) -> Roster:
    """Carer A (provider p1) has a gap between X1 and X2 that the new visit at N fits; carer B
    (p2) has none. With `spare_carer`, carer C (p1) is on shift with nothing to do."""
    carers = [
        Carer("A", "p1", POINT["baseA"], shifts=shift()),
        Carer("B", "p2", POINT["baseB"], shifts=shift()),
    ]
    if spare_carer:
        carers.append(Carer("C", "p1", POINT["baseC"], shifts=shift()))
    visits = [
        visit("a1", "old1", "X1", "08:30", "08:30", 30),
        visit("a2", "old2", "X2", "10:00", "10:00", 30),
        visit("b1", "old3", "Y1", "08:30", "08:30", 60),
        visit("b2", "old4", "Y2", "10:00", "10:00", 60),
    ]
    return Roster(tuple(visits), tuple(carers), (Provider("p1"), Provider("p2")))


def hand_plan() -> Plan:
    return Plan(
        (
            Assignment("a1", "A", MON, hm("08:30")),
            Assignment("a2", "A", MON, hm("10:00")),
            Assignment("b1", "B", MON, hm("08:30")),
            Assignment("b2", "B", MON, hm("10:00")),
        ),
        label="now",
    )


def new_visit(**more: object) -> Visit:
    return visit("n1", "new", "N", "09:00", "09:30", 20, **more)


def test_hand_plan_is_valid() -> None:
    hard = [v for v in check(hand_roster(), hand_plan(), hand_matrix()) if v.hard]
    assert hard == []


def test_visit_fitting_one_gap_ranks_its_provider_first() -> None:
    ranked = place_package(hand_roster(), hand_plan(), [new_visit()], hand_matrix())
    assert [p.option for p in ranked] == ["p1", ANY_PROVIDER, "p2"]
    best = ranked[0]
    assert best.absorbed == 1 and best.visits == 1
    # X1 -> N -> X2 instead of X1 -> X2: 300 + 420 - 600 seconds.
    assert best.extra_travel == 120
    (a,) = best.assignments
    # A leaves X1 at 09:00 and drives 5 minutes; the window opens at 09:00.
    assert (a.carer_id, a.start) == ("A", hm("09:05"))
    assert best.carer_ids == ("A",)
    worst = ranked[-1]
    assert worst.absorbed == 0
    assert [(n.visit_id, n.reason) for n in worst.not_absorbed] == [("n1", PlaceReason.NO_GAP)]
    text = format_placements(ranked)
    assert "p1" in text and "2.0 min" in text and PlaceReason.NO_GAP.value in text


def test_existing_assignments_are_unchanged() -> None:
    before = {(a.visit_id, a.carer_id, a.start) for a in hand_plan().assignments}
    for p in place_package(hand_roster(), hand_plan(), [new_visit()], hand_matrix()):
        after = {(a.visit_id, a.carer_id, a.start) for a in p.plan.assignments}
        assert before <= after
        assert after - before == {(a.visit_id, a.carer_id, a.start) for a in p.assignments}


def test_visit_needing_a_skill_nobody_has_is_not_absorbed() -> None:
    peg = new_visit(skills=frozenset({"peg_feeding"}))
    for p in place_package(hand_roster(), hand_plan(), [peg], hand_matrix()):
        assert p.absorbed == 0
        assert [n.reason.value for n in p.not_absorbed] == ["no carer has the skills"]


def test_window_outside_every_shift_says_so() -> None:
    late = visit("n1", "new", "N", "21:00", "21:30", 30)
    (p, *_) = place_package(hand_roster(), hand_plan(), [late], hand_matrix())
    assert [n.reason for n in p.not_absorbed] == [PlaceReason.NO_SHIFT]


def test_excluded_carer_is_never_chosen() -> None:
    ranked = place_package(
        hand_roster(spare_carer=True),
        hand_plan(),
        [new_visit(excluded_carers=frozenset({"A"}))],
        hand_matrix(),
    )
    best = ranked[0]
    # Only C is left: from base and back, 600 s each way.
    assert best.carer_ids == ("C",) and best.extra_travel == 1200


def test_double_handed_visit_gets_two_carers_at_one_start() -> None:
    pair = new_visit(carers_required=2)
    roster, plan, matrix = hand_roster(spare_carer=True), hand_plan(), hand_matrix()
    by_option = {p.option: p for p in place_package(roster, plan, [pair], matrix)}
    best = by_option["p1"]
    assert best.absorbed == 1
    starts = {a.carer_id: a.start for a in best.assignments}
    # A can start at 09:05 at the earliest, C at 09:00: together at 09:05.
    assert starts == {"A": hm("09:05"), "C": hm("09:05")}
    assert best.extra_travel == 120 + 1200
    # p2 has one carer: a double-handed visit cannot be absorbed there.
    assert by_option["p2"].absorbed == 0


def test_linked_visit_starts_within_its_gap() -> None:
    roster = hand_roster(spare_carer=True)
    first = new_visit()
    # Start-to-start 60-90 minutes after n1 (gaps in seconds, like every time in the model).
    second = visit("n2", "new", "N", "09:00", "11:30", 20, follows="n1", gap_min=3600, gap_max=5400)
    best = place_package(roster, hand_plan(), [second, first], hand_matrix())[0]
    starts = {a.visit_id: a.start for a in best.assignments}
    # n1 goes to A at 09:05 (cheapest). n2 may start 10:05-10:35; A is at X2 until 10:30 and
    # would reach N at 10:37, so n2 goes to C, on shift with nothing else to do.
    assert starts == {"n1": hm("09:05"), "n2": hm("10:05")}
    assert best.carer_ids == ("A", "C")


def test_linked_visit_after_an_unplaceable_one_is_not_absorbed() -> None:
    first = new_visit(skills=frozenset({"peg_feeding"}))
    second = visit("n2", "new", "N", "09:00", "11:30", 20, follows="n1", gap_min=3600, gap_max=5400)
    best = place_package(
        hand_roster(spare_carer=True), hand_plan(), [first, second], hand_matrix()
    )[0]
    reasons = {n.visit_id: n.reason for n in best.not_absorbed}
    assert reasons == {"n1": PlaceReason.NO_SKILL, "n2": PlaceReason.LINK}


def test_unknown_option_and_clashing_ids_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown provider"):
        place_package(hand_roster(), hand_plan(), [new_visit()], hand_matrix(), options=["zz"])
    with pytest.raises(InputError, match="already in the roster"):
        place_package(
            hand_roster(),
            hand_plan(),
            [visit("a1", "new", "N", "09:00", "09:30", 20)],
            hand_matrix(),
        )


def _write_package(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _package_row(**more: str) -> dict[str, str]:
    p = POINT["N"]
    row = {
        "visit_id": "n1",
        "client_id": "new",
        "day": "Mon",
        "window_start": "09:00",
        "window_end": "09:30",
        "duration_min": "20",
        "lat": str(p.lat),
        "lon": str(p.lon),
    }
    return row | more


def test_read_package_and_plan_folder_round_trip(tmp_path: Path) -> None:
    roster, plan, matrix = hand_roster(), hand_plan(), hand_matrix()
    write_plan_folder(roster, plan, tmp_path / "plan")
    back = read_plan_folder(tmp_path / "plan", roster, matrix)
    assert {(a.visit_id, a.carer_id, a.start) for a in back.assignments} == {
        (a.visit_id, a.carer_id, a.start) for a in plan.assignments
    }
    assert back.travel_seconds == 600 * 4 + 600 * 2  # both carers' days
    package = read_package(_write_package(tmp_path / "new.csv", [_package_row()]), roster)
    assert package == (new_visit(),)
    ranked = place_package(roster, back, package, matrix)
    paths = write_placements(ranked, package, tmp_path / "out")
    assert [p.name for p in paths] == ["placement.csv", "placement_visits.csv"]
    with paths[0].open(encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert (first["option"], first["absorbed"], first["extra_travel_min"]) == ("p1", "1", "2.0")


def test_read_package_names_the_file_in_errors(tmp_path: Path) -> None:
    bad = _write_package(tmp_path / "discharge.csv", [_package_row(duration_min="soon")])
    with pytest.raises(InputError, match=r"discharge\.csv row 2"):
        read_package(bad, hand_roster())
    with pytest.raises(InputError, match="no package"):
        read_package(tmp_path / "missing.csv", hand_roster())


def test_cli_missing_plan_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster_dir = write_roster(hand_roster(), tmp_path / "roster")
    package = _write_package(tmp_path / "new.csv", [_package_row()])
    code = main(
        [
            "place",
            str(package),
            "--plan",
            str(tmp_path / "nope"),
            "--roster",
            str(roster_dir),
            "--osm",
            "default",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "no plan folder at" in err and "Traceback" not in err


@pytest.mark.shared_data
def test_cli_places_a_held_out_client_on_real_roads(
    leeds_pbf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    from carerun.asis import asis_plan
    from carerun.matrix import roster_matrix
    from carerun.network import load_network
    from carerun.synth import synth_roster

    network = load_network(leeds_pbf)
    full = synth_roster(network, clients=12, providers=1, days=[MON], seed=3)
    held = full.client_ids[0]
    package = [
        dataclasses.replace(
            v, provider="", carer_ids=(), pinned=False, follows="", gap_min=0, gap_max=0
        )
        for v in full.visits_of_client(held)
    ]
    roster = full.replace(
        visits=[
            dataclasses.replace(v, follows="", gap_min=0, gap_max=0)
            for v in full.visits
            if v.client_id != held
        ]
    )
    write_plan_folder(roster, asis_plan(roster, roster_matrix(network, roster)), tmp_path / "plan")
    write_roster(roster, tmp_path / "roster")
    write_roster(roster.replace(visits=package), tmp_path / "package")
    code = main(
        [
            "place",
            str(tmp_path / "package"),
            "--plan",
            str(tmp_path / "plan"),
            "--roster",
            str(tmp_path / "roster"),
            "--osm",
            str(leeds_pbf),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    shown = capsys.readouterr().out
    assert f"Placing {len(package)} visit(s) of {held}" in shown
    with (tmp_path / "out" / "placement.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    options = [p.provider for p in roster.providers]
    assert sorted(r["option"] for r in rows) == sorted([ANY_PROVIDER, *options])
    for r in rows:
        assert int(r["visits"]) == len(package)
        assert int(r["absorbed"]) + int(r["not_absorbed"]) == len(package)
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))


def test_absorb_unassigned_fills_a_gap_and_keeps_the_rest() -> None:
    from carerun.model import Unassigned, UnassignedReason
    from carerun.place import absorb_unassigned

    roster = hand_roster()
    roster = roster.replace(visits=(*roster.visits, new_visit(provider="p2")))
    undone = Plan(hand_plan().assignments, (Unassigned("n1", UnassignedReason.CAPACITY),))
    pooled = absorb_unassigned(roster, undone, hand_matrix())
    assert pooled.carers_of("n1") == ("A",)  # A's gap, whichever provider it belongs to
    assert not pooled.unassigned and pooled.stats["absorbed"] == 1
    before = {(a.visit_id, a.carer_id, a.start) for a in undone.assignments}
    assert before <= {(a.visit_id, a.carer_id, a.start) for a in pooled.assignments}
    assert not [v for v in check(roster, pooled, hand_matrix()) if v.hard]
    # Held to its own provider p2, whose only carer has no gap: it stays undone, same reason.
    held = absorb_unassigned(roster, undone, hand_matrix(), respect_providers=True)
    assert held.unassigned == (Unassigned("n1", UnassignedReason.CAPACITY),)
