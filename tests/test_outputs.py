"""The plan folder and the travel study folder: every file, its columns, safe cells, atomicity."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from carerun import InputError
from carerun.asis import asis_plan
from carerun.model import Assignment, Plan, Unassigned, UnassignedReason
from carerun.outputs import (
    ASSIGNMENT_COLUMNS,
    UNASSIGNED_COLUMNS,
    write_csv,
    write_plan_folder,
    write_travel_study,
)
from test_asis import hm, make_matrix
from test_runsheets import two_carer_roster

FOLDER = ["assignments.csv", "runsheets.xlsx", "runsheets.html", "unassigned.csv", "summary.json"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def better_plan() -> Plan:
    """A hand-made 'optimised' Monday: c1 alone does v1 and v9 (A then C), c1+c2 do d; the
    Tuesday visit is left undone."""
    return Plan(
        assignments=(
            Assignment("v1", "c1", 0, hm(9), travel_before=600, distance_before=6000.0),
            Assignment("d", "c1", 0, hm(10), travel_before=300, distance_before=3000.0),
            Assignment("d", "c2", 0, hm(10), travel_before=800, distance_before=8000.0),
            Assignment("v9", "c1", 0, hm(13), travel_before=420, distance_before=4200.0),
        ),
        unassigned=(Unassigned("t1", UnassignedReason.CAPACITY),),
        travel_home={("c1", 0): 900, ("c2", 0): 900},
        distance_home={("c1", 0): 9000.0, ("c2", 0): 9000.0},
        label="optimised",
    )


def test_plan_folder_files_columns_and_summary(tmp_path: Path) -> None:
    roster = two_carer_roster()
    matrix = make_matrix()
    asis = asis_plan(roster, matrix)
    paths = write_plan_folder(
        roster, better_plan(), tmp_path / "plan", asis=asis, matrix=matrix, extra={"seed": 7}
    )
    assert [p.name for p in paths] == FOLDER
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == sorted(FOLDER)

    rows = read_csv(tmp_path / "plan" / "assignments.csv")
    assert list(rows[0]) == ASSIGNMENT_COLUMNS
    assert len(rows) == 4  # one row per carer per visit
    first = rows[0]
    assert (first["visit_id"], first["carer_id"], first["day"], first["start"]) == (
        "v1",
        "c1",
        "Mon",
        "09:00",
    )
    assert (first["window"], first["travel_before_min"], first["distance_before_km"]) == (
        "08:30-09:30",
        "10.0",
        "6.0",
    )
    assert {r["provider"] for r in rows if r["visit_id"] == "d"} == {"P1", "P2"}

    (undone,) = read_csv(tmp_path / "plan" / "unassigned.csv")
    assert list(undone) == UNASSIGNED_COLUMNS
    assert (undone["visit_id"], undone["day"], undone["reason"]) == (
        "t1",
        "Tue",
        UnassignedReason.CAPACITY.value,
    )

    summary = json.loads((tmp_path / "plan" / "summary.json").read_text(encoding="utf-8"))
    before, after, diff = summary["before"], summary["after"], summary["difference"]
    assert before["label"] == "as-is" and after["label"] == "optimised"
    assert after["travel_min"] == pytest.approx((600 + 300 + 800 + 420 + 900 + 900) / 60, abs=0.01)
    assert diff["travel_min"] == pytest.approx(after["travel_min"] - before["travel_min"])
    assert (before["visits_unassigned"], after["visits_unassigned"]) == (0, 1)
    assert "impossible_gaps" in before and "impossible_gaps" in after
    assert summary["extra"] == {"seed": 7}


def test_formula_injection_neutralised_in_csv(tmp_path: Path) -> None:
    roster = two_carer_roster()
    write_plan_folder(roster, asis_plan(roster, make_matrix()), tmp_path)
    rows = read_csv(tmp_path / "assignments.csv")
    clients = {r["client_id"] for r in rows}
    assert '\'=HYPERLINK("http://evil.example","click")' in clients
    assert not [c for c in clients if c.startswith(("=", "+", "-", "@"))]
    wb = openpyxl.load_workbook(tmp_path / "runsheets.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows(values_only=True) for c in row]
    assert not [c for c in cells if isinstance(c, str) and c.startswith(("=", "+", "-", "@"))]


def test_failing_write_leaves_the_earlier_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = two_carer_roster()
    plan = asis_plan(roster, make_matrix())
    write_plan_folder(roster, plan, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def half_then_fail(self: pd.DataFrame, fh: object, **kwargs: object) -> None:
        fh.write("visit_id,client_id\nhalf")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_plan_folder(roster, better_plan(), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files


def test_summary_that_cannot_be_json_fails_before_writing_anything(tmp_path: Path) -> None:
    roster = two_carer_roster()
    with pytest.raises(InputError, match=r"summary\.json"):
        write_plan_folder(roster, asis_plan(roster, make_matrix()), tmp_path, extra={"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_not_modified(tmp_path: Path) -> None:
    roster = two_carer_roster()
    plan = asis_plan(roster, make_matrix())
    snapshot = (roster.visits, plan.assignments, dict(plan.travel_home))
    write_plan_folder(roster, plan, tmp_path, asis=plan, matrix=make_matrix())
    assert (roster.visits, plan.assignments, dict(plan.travel_home)) == snapshot


def test_write_csv_rounds_and_neutralises(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["+44 123", "ok"], "x": [1 / 3, 2.0]})
    text = write_csv(frame, tmp_path / "t.csv").read_text(encoding="utf-8")
    assert text.splitlines() == ["name,x", "'+44 123,0.33", "ok,2.0"]


def test_travel_study_folder(tmp_path: Path) -> None:
    roster = two_carer_roster()
    matrix = make_matrix()
    kpis, paths = write_travel_study(roster, asis_plan(roster, matrix), matrix, tmp_path)
    assert [p.name for p in paths] == [
        "travel_by_carer.csv",
        "travel_by_provider.csv",
        "travel_by_day.csv",
        "impossible_gaps.csv",
        "summary.json",
    ]
    assert json.loads(paths[-1].read_text(encoding="utf-8"))["kpis"] == kpis
    by_provider = read_csv(tmp_path / "travel_by_provider.csv")
    assert [r["provider"] for r in by_provider] == ["P1", "P2"]
