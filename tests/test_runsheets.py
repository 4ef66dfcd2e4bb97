"""Run sheets: the workbook opens, holds one sheet per carer, and neither output runs text."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl

from carerun.asis import asis_plan
from carerun.model import Location, Plan, Provider, Roster, TimeWindow, Visit
from carerun.runsheets import (
    HEADINGS,
    _sheet_title,
    runsheet_days,
    runsheets_html,
    write_runsheets_html,
    write_runsheets_xlsx,
)
from test_asis import A, B, C, carer, hm, make_matrix, visit


def two_carer_roster() -> Roster:
    """c1 works Mon and Tue; c2 joins c1 on a double-handed visit on Monday."""
    tue = Visit("t1", "client-t1", 1, TimeWindow(hm(9), hm(10)), 1800, C, carer_ids=("c1",))
    nasty = Visit(
        "v9",
        '=HYPERLINK("http://evil.example","click")',
        0,
        TimeWindow(hm(13), hm(14)),
        1800,
        Location(C.lat, C.lon, "<script>alert(1)</script> Flat 2", "LE15 6AA"),
        carer_ids=("c1",),
        tasks="@SUM(A1) meds & tea",
    )
    return Roster(
        visits=(
            visit("v1", A, hm(9), 30),
            visit("d", B, hm(10), 30, ("c1", "c2")),
            nasty,
            tue,
        ),
        carers=(carer("c1"), carer("c2", "P2")),
        providers=(Provider("P1"), Provider("P2")),
    )


def test_runsheet_days_lay_out_each_carer_day() -> None:
    roster = two_carer_roster()
    days = runsheet_days(roster, asis_plan(roster, make_matrix()))
    assert [(d.carer_id, d.day) for d in days] == [("c1", "Mon"), ("c1", "Tue"), ("c2", "Mon")]
    mon = days[0]
    assert [r.visit_id for r in mon.rows] == ["v1", "d", "v9"]
    assert [r.partner for r in mon.rows] == ["", "c2", ""]
    assert mon.rows[0].start == "09:00" and mon.rows[0].end == "09:30"
    assert mon.rows[0].travel_before_min == 10.0 and mon.travel_home_min == 15.0
    assert days[2].rows[0].partner == "c1"


def test_xlsx_opens_one_sheet_per_carer_cells_neutralised(tmp_path: Path) -> None:
    roster = two_carer_roster()
    path = write_runsheets_xlsx(roster, asis_plan(roster, make_matrix()), tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["c1", "c2"]
    values = [c for row in wb["c1"].iter_rows(values_only=True) for c in row if c is not None]
    assert set(HEADINGS) <= set(values)
    texts = [v for v in values if isinstance(v, str)]
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))]
    assert '\'=HYPERLINK("http://evil.example","click")' in texts
    assert "'@SUM(A1) meds & tea" in texts
    # Two day blocks for c1, each with its heading row.
    assert sum(v == "Start" for v in values) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


def test_html_one_page_per_carer_day_and_escaped(tmp_path: Path) -> None:
    roster = two_carer_roster()
    plan = asis_plan(roster, make_matrix())
    text = write_runsheets_html(roster, plan, tmp_path / "r.html").read_text(encoding="utf-8")
    assert text.count('<section class="sheet">') == 3
    assert "page-break-after: always" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "meds &amp; tea" in text
    # Self-contained: no external stylesheet, script or image.
    assert not re.search(r"<(link|script|img)\b", text)


def test_empty_plan_still_writes_valid_files(tmp_path: Path) -> None:
    roster = two_carer_roster()
    empty = Plan(assignments=())
    wb = openpyxl.load_workbook(write_runsheets_xlsx(roster, empty, tmp_path / "e.xlsx"))
    assert len(wb.sheetnames) == 1
    assert "assigns no visits" in runsheets_html(roster, empty)


def test_sheet_titles_are_valid_and_unique() -> None:
    taken: set[str] = set()
    titles = [_sheet_title(x, taken) for x in ("a/b", "a:b", "'q'", "x" * 40, "x" * 40)]
    assert titles[:3] == ["a_b", "a_b~2", "q"]
    assert all(len(t) <= 31 for t in titles) and len(set(titles)) == len(titles)


def test_what_to_do_lists_each_task_once() -> None:
    from carerun.runsheets import _what_to_do

    assert _what_to_do("supper, help to bed; medication", "medication;hoist") == (
        "supper, help to bed; medication; hoist"
    )
    assert _what_to_do("", "") == ""
