"""The before/after report on a hand-built week whose headline figures can be worked out by hand.

The week (Oakham, Rutland; straight-line travel): clients ``cl-alpha`` and ``cl-beta`` share a
door. As it stands, carer A (provider P1) visits alpha at 08:00 while carer B (provider
``<b>X&Y</b>``, a name that must be escaped) visits beta at the same door at 08:00: one
duplicate multi-provider event. One of gamma's visits has no carer, and delta's 10:00 visit starts
15 minutes after its window closes. The plan gives both 08:00 visits to A (no event), finds a
carer for gamma's visit and is on time.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carerun import (
    Assignment,
    Carer,
    Location,
    Mode,
    Plan,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Visit,
    _browser,
)
from carerun.matrix import TravelMatrix, roster_points, straight_line_matrix
from carerun.report import provider_colours, report_figures, report_summary, write_report

H, M = 3600, 60
ODD = "<b>X&Y</b>"
OAKHAM = (52.6700, -0.7300)
SECRET_ADDRESS = "1 Secret Street"


def near(north_m: float = 0.0, east_m: float = 0.0, address: str = "") -> Location:
    lat = OAKHAM[0] + math.degrees(north_m / 6_371_008.8)
    lon = OAKHAM[1] + math.degrees(east_m / (6_371_008.8 * math.cos(math.radians(OAKHAM[0]))))
    return Location(lat, lon, address=address)


DOOR = near(address=SECRET_ADDRESS)  # alpha and beta live here
GAMMA = near(0, 1500, address="2 Elm Road")
DELTA = near(2000, 0, address="3 Oak Lane")
BASE = near(-800, -600, address="Office")


def visit(vid: str, client: str, where: Location, day: int, start: int, minutes: int) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=client,
        day=day,
        window=TimeWindow(start - 30 * M, start + 30 * M),
        duration=minutes * M,
        location=where,
        planned_start=start,
    )


VISITS = (
    visit("V1", "cl-alpha", DOOR, 0, 8 * H, 30),
    visit("V2", "cl-beta", DOOR, 0, 8 * H, 30),
    visit("V3", "cl-gamma", GAMMA, 0, 9 * H, 30),
    visit("V4", "cl-delta", DELTA, 0, 10 * H, 45),
    visit("V5", "cl-alpha", DOOR, 0, 12 * H, 30),
    visit("V6", "cl-gamma", GAMMA, 0, 12 * H + 30 * M, 30),
    visit("V7", "cl-alpha", DOOR, 1, 8 * H, 30),
    visit("V8", "cl-delta", DELTA, 1, 9 * H, 30),
)


def make_roster(odd: str = ODD, name: str = "Rutland <test> & co") -> Roster:
    shifts = {d: (Shift(7 * H, 20 * H),) for d in range(7)}
    return Roster(
        visits=VISITS,
        carers=(
            Carer("A", "P1", BASE, shifts=shifts),
            Carer("B", odd, BASE, shifts=shifts),
            Carer("C", "P1", BASE, shifts=shifts),
        ),
        providers=(
            Provider("P1", kind=ProviderKind.IN_HOUSE, hourly_rate=12.0),
            Provider(odd),
        ),
        name=name,
    )


def make_plan(
    matrix: TravelMatrix,
    runs: dict[tuple[str, int], list[tuple[str, int]]],
    *,
    label: str,
    unassigned: tuple[Unassigned, ...] = (),
) -> Plan:
    """A plan from each carer-day's (visit, start) list; travel from `matrix` leg by leg."""
    by_id = {v.visit_id: v for v in VISITS}
    assignments, home, home_m = [], {}, {}
    for (carer, day), stops in runs.items():
        here = BASE
        for vid, start in stops:
            there = by_id[vid].location
            assignments.append(
                Assignment(
                    vid,
                    carer,
                    day,
                    start,
                    travel_before=matrix.time(Mode.DRIVE, here, there),
                    distance_before=matrix.distance(Mode.DRIVE, here, there),
                )
            )
            here = there
        home[carer, day] = matrix.time(Mode.DRIVE, here, BASE)
        home_m[carer, day] = matrix.distance(Mode.DRIVE, here, BASE)
    return Plan(tuple(assignments), unassigned, home, home_m, label=label)


ASIS_RUNS = {
    ("A", 0): [("V1", 8 * H), ("V4", 10 * H + 45 * M)],  # 15 min past V4's window
    ("B", 0): [("V2", 8 * H), ("V3", 9 * H)],
    ("C", 0): [("V5", 12 * H)],
    ("A", 1): [("V7", 8 * H)],
    ("B", 1): [("V8", 9 * H)],
}
PLAN_RUNS = {
    ("A", 0): [("V1", 8 * H), ("V2", 8 * H + 30 * M), ("V4", 10 * H), ("V5", 12 * H)],
    ("B", 0): [("V3", 9 * H), ("V6", 12 * H + 30 * M)],
    ("A", 1): [("V7", 8 * H)],
    ("B", 1): [("V8", 9 * H)],
}


Week = tuple[Roster, Plan, Plan, TravelMatrix]


@pytest.fixture(scope="module")
def week() -> Week:
    roster = make_roster()
    matrix = straight_line_matrix(roster_points(roster), modes=(Mode.DRIVE,))
    asis = make_plan(
        matrix,
        ASIS_RUNS,
        label="as-is",
        unassigned=(Unassigned("V6", UnassignedReason.NO_CARER_ASIS),),
    )
    plan = make_plan(matrix, PLAN_RUNS, label="plan")
    return roster, asis, plan, matrix


@pytest.fixture(scope="module")
def report(week: Week, tmp_path_factory: pytest.TempPathFactory) -> Path:
    roster, asis, plan, matrix = week
    out = tmp_path_factory.mktemp("report") / "out" / "report.html"
    return write_report(roster, asis, plan, out, matrix=matrix, extra_kpis={"solver <seed>": 7})


def travel(
    matrix: TravelMatrix, runs: dict[tuple[str, int], list[tuple[str, int]]]
) -> tuple[float, float, float]:
    """Travel seconds, metres and contact seconds of `runs`, summed by hand."""
    secs = metres = contact = 0.0
    by_id = {v.visit_id: v for v in VISITS}
    for stops in runs.values():
        path = [BASE, *(by_id[v].location for v, _ in stops), BASE]
        for a, b in itertools.pairwise(path):
            secs += matrix.time(Mode.DRIVE, a, b)
            metres += matrix.distance(Mode.DRIVE, a, b)
        contact += sum(by_id[v].duration for v, _ in stops)
    return secs, metres, contact


def hours_minutes(minutes: float) -> str:
    h, m = divmod(round(minutes), 60)
    return f"{h:,} h {m:02d} min" if h else f"{m} min"


def kpi_row(text: str, key: str) -> list[str]:
    """The text of each cell of one headline row: measure, as-is[, plan, change]."""
    found = re.search(rf'<tr id="kpi-{key}">(.*?)</tr>', text, re.S)
    assert found, f"no headline row {key}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells]


def section(text: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', text, re.S)
    assert found, f"no section {name}"
    return found.group(1)


def test_report_has_five_parts_with_the_headline_figures(week: Week, report: Path) -> None:
    matrix = week[3]
    text = report.read_text(encoding="utf-8")
    for name in ("headline", "charts", "exceptions", "duplicates", "charter"):
        section(text, name)

    for runs, column in ((ASIS_RUNS, 1), (PLAN_RUNS, 2)):
        secs, metres, contact = travel(matrix, runs)
        assert kpi_row(text, "travel_min")[column] == hours_minutes(secs / 60)
        assert kpi_row(text, "distance_km")[column] == f"{metres / 1000:,.1f} km"
        per_hour = secs / 60 / (contact / 3600)
        assert kpi_row(text, "travel_per_contact_hour")[column] == f"{per_hour:.1f} min"
    assert kpi_row(text, "travel_min")[3].startswith("▼")  # the plan travels less

    # One event as it stands (alpha and beta at 08:00, two providers), none in the plan.
    assert kpi_row(text, "duplicate_events")[1:] == ["1", "0", "▼ 1 (100%) better"]
    # Carers per client: alpha 2 (A, C), beta 1, gamma 1, delta 2 -> 1.50; plan 1, 1, 1, 2.
    assert kpi_row(text, "mean_carers_per_client")[1:3] == ["1.50", "1.25"]
    # By regular carers: as-is 5 of 7 carer-visits, plan 7 of 8; higher is better.
    share = kpi_row(text, "share_regular")
    assert share[1:3] == [f"{100 * 5 / 7:.0f}%", f"{100 * 7 / 8:.0f}%"]
    assert share[3] == f"▲ {100 * (7 / 8 - 5 / 7):.0f} points better"
    assert kpi_row(text, "visits_unassigned")[1:3] == ["1", "0"]
    assert kpi_row(text, "lateness_min_total")[1:] == ["15 min", "0 min", "▼ 15 min (100%) better"]
    assert kpi_row(text, "impossible_gaps")[1:] == ["0", "0", "no change"]
    # The cards repeat the plan's figures with the as-is beneath.
    card = re.search(r'id="card-duplicate_events">(.*?)</div></div>', text, re.S)
    assert card and "as-is 1" in card.group(1)
    assert "Run details" in text and "solver &lt;seed&gt;" in text


def test_summary_carries_the_same_numbers(week: Week) -> None:
    roster, asis, plan, matrix = week
    summary = report_summary(roster, asis, plan, matrix=matrix)
    secs, metres, _ = travel(matrix, ASIS_RUNS)
    assert summary["asis"]["travel_min"] == pytest.approx(secs / 60, abs=0.01)
    assert summary["asis"]["distance_km"] == pytest.approx(metres / 1000, abs=0.001)
    assert (summary["asis"]["duplicate_events"], summary["plan"]["duplicate_events"]) == (1, 0)
    assert summary["asis"]["mean_carers_per_client"] == 1.5
    assert summary["plan"]["share_regular"] == pytest.approx(7 / 8, abs=1e-4)
    assert summary["asis"]["lateness_min_total"] == 15
    assert summary["change"]["visits_unassigned"] == -1
    figures = report_figures(roster, asis, plan, matrix=matrix)
    assert figures["summary"] == summary
    assert figures["duplicates"]["asis"]["by_provider_pair"] == [
        {"providers": sorted(["P1", ODD]), "events": 1, "visits": 2}
    ]
    assert figures["duplicates"]["asis"]["by_day"]["Mon"] == 1
    assert figures["continuity_histogram"]["plan"] == {"1": 3, "2": 1}
    json.dumps(figures, allow_nan=False)  # JSON-ready, as summary.json needs


def test_analyse_report_shows_the_asis_alone(week: Week, tmp_path: Path) -> None:
    roster, asis, _, _ = week
    text = write_report(roster, asis, None, tmp_path / "report.html").read_text()
    for name in ("headline", "charts", "exceptions", "duplicates", "charter"):
        section(text, name)
    assert "Change" not in section(text, "headline")
    assert "as it stands" in text
    secs, _, _ = travel(straight_line_matrix(roster_points(roster), modes=(Mode.DRIVE,)), ASIS_RUNS)
    assert kpi_row(text, "travel_min")[1:] == [hours_minutes(secs / 60)]
    assert report_summary(roster, asis, None)["plan"] is None


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text, re.I)
    assert "http://" not in text and "https://" not in text
    for tag in ("<script", "<link", "<img", "@import", "url(http", "<iframe"):
        assert tag not in text.lower()


def test_text_is_escaped(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert ODD not in text
    assert "&lt;b&gt;X&amp;Y&lt;/b&gt;" in text
    assert "Rutland &lt;test&gt; &amp; co" in text


def test_duplicates_part_names_no_client_or_address(report: Path) -> None:
    part = section(report.read_text(encoding="utf-8"), "duplicates")
    assert "Mon" in part and "08:00" in part
    for private in ("cl-alpha", "cl-beta", SECRET_ADDRESS, "V1", "V2"):
        assert private not in part


def test_provider_colours_are_fixed_by_sorted_id() -> None:
    a = provider_colours(["b", "a", "c"])
    assert a == provider_colours(["c", "a", "b", "a"])
    assert len(set(a.values())) == 3
    assert a["a"] == provider_colours(["a"])["a"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() and s != "P1"))
def test_any_provider_name_is_escaped(name: str) -> None:
    roster = make_roster(odd=name, name=name)
    matrix = straight_line_matrix(roster_points(roster), modes=(Mode.DRIVE,))
    asis = make_plan(matrix, ASIS_RUNS, label="as-is")
    with tempfile.TemporaryDirectory() as tmp:
        text = write_report(roster, asis, None, Path(tmp) / "r.html").read_bytes().decode()
    body = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
    # Markup characters of the name never reach the page raw: tags stay the report's own.
    tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", body))
    assert tags <= {
        "html", "head", "meta", "title", "body", "header", "div", "h1", "h2", "h3", "dl",
        "dt", "dd", "span", "main", "nav", "a", "section", "table", "thead", "tbody", "tr",
        "th", "td", "figure", "figcaption", "svg", "defs", "pattern", "rect", "line", "text",
        "tspan", "i", "b", "p", "code", "details", "summary", "footer",
    }  # fmt: skip
    assert html.escape(name) in body


# --- in a real browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = _browser.ensure_chromium()
    if exe is None:
        pytest.skip("Chromium is absent and cannot be installed here (apt-get needs root)")
    return exe


def test_report_opens_in_headless_chromium(
    week: Week, report: Path, tmp_path: Path, chromium: str
) -> None:
    matrix = week[3]
    page = _browser.load_page(report, chromium=chromium)  # offline: every request fails
    assert not page.console, page.console
    dom = page.dom
    assert 'id="kpi-travel_min"' in dom and 'id="charter"' in dom
    secs, _, _ = travel(matrix, PLAN_RUNS)
    assert hours_minutes(secs / 60) in dom
    assert "&lt;b&gt;X&amp;Y&lt;/b&gt;" in dom

    shot = _browser.screenshot(
        report, tmp_path / "report.png", chromium=chromium, size=(1280, 2400)
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
