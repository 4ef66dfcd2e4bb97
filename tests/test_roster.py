"""Reading, validating and writing rosters: every failure case has a bad-input folder under
tests/data/bad/ and must name the right file, row and column."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carerun._errors import InputError
from carerun.cli import main
from carerun.examples import example_roster_path
from carerun.model import (
    LATEST_TIME,
    SECONDS_PER_DAY,
    Carer,
    Location,
    Mode,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Visit,
)
from carerun.roster import (
    Problem,
    RosterError,
    Severity,
    Validation,
    parse_day,
    parse_shifts,
    parse_time,
    read_roster,
    validate_roster,
    write_roster,
)

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def validate_case(folder: Path) -> Validation:
    """Validate a case folder, with its mapping.toml / postcodes.csv when it has one."""
    mapping = folder / "mapping.toml"
    postcodes = folder / "postcodes.csv"
    return validate_roster(
        folder,
        mapping=mapping if mapping.exists() else None,
        postcodes=postcodes if postcodes.exists() else None,
    )


# (case folder, file, row, column, words in the message)
BAD = [
    ("time_25", "visits.csv", 2, "start", "'25:00' is not a time of day"),
    ("minute_61", "visits.csv", 3, "start", "'12:61' is not a time of day"),
    ("day_unknown", "visits.csv", 4, "day", "'Funday' is not a day"),
    ("dates_two_weeks", "visits.csv", 4, "day", "different week"),
    ("window_end_before_start", "visits.csv", 2, "window_end", "before it starts"),
    ("window_half", "visits.csv", 3, "window_end", "give both"),
    ("duration_zero", "visits.csv", 4, "duration_min", "more than 0 minutes"),
    ("duration_negative", "visits.csv", 2, "duration_min", "more than 0 minutes"),
    ("duration_text", "visits.csv", 3, "duration_min", "'forty' is not a number"),
    ("carers_required_3", "visits.csv", 3, "carers_required", "must be 1 or 2"),
    ("double_handed_one_carer", "visits.csv", 3, "carer_id", "only one carer"),
    ("unknown_carer", "visits.csv", 4, "carer_id", "unknown carer 'Z'"),
    ("unknown_provider_visit", "visits.csv", 2, "provider", "unknown provider 'NOPE'"),
    ("unknown_provider_carer", "carers.csv", 3, "provider", "unknown provider 'XYZ'"),
    ("unknown_follows", "visits.csv", 3, "follows", "unknown visit 'V9'"),
    ("follows_other_day", "visits.csv", 3, "follows", "another day"),
    ("duplicate_visit_id", "visits.csv", 4, "visit_id", "already used on row 2"),
    ("duplicate_carer_id", "carers.csv", 3, "carer_id", "already used on row 2"),
    ("lat_out_of_range", "visits.csv", 3, "lat", "outside -90…90"),
    ("lat_not_number", "visits.csv", 3, "lat", "'sixty' is not a number"),
    ("lat_lon_swapped_gb", "visits.csv", 3, "lat", "look swapped"),
    ("lat_lon_swapped_median", "visits.csv", 4, "lat", "look swapped"),
    ("location_missing", "visits.csv", 3, "lat", "no location"),
    ("shift_malformed", "carers.csv", 2, "mon", "'07:00-' is not a shift"),
    ("shift_overlap", "carers.csv", 3, "tue", "overlap"),
    ("shift_backwards", "carers.csv", 3, "tue", "ends before it starts"),
    ("mode_unknown", "carers.csv", 3, "mode", "'bus' is not a travel mode"),
    ("kind_unknown", "providers.csv", 3, "kind", "not a provider kind"),
    ("pinned_not_bool", "visits.csv", 2, "pinned", "'maybe' is not yes or no"),
    ("pinned_without_carer", "visits.csv", 3, "pinned", "needs `carer_id`"),
    ("empty_id", "visits.csv", 3, "client_id", "is empty"),
    ("missing_column", "visits.csv", None, None, "missing required column `duration_min`"),
    ("no_location_columns", "carers.csv", None, None, "missing location columns"),
    ("empty_file", "carers.csv", None, None, "is empty"),
    ("header_only", "visits.csv", None, None, "has no rows"),
    ("missing_file", "providers.csv", None, None, "file not found"),
    ("postcode_unknown", "visits.csv", 3, "postcode", "unknown postcode 'LS2 9ZZ'"),
    ("mapping_target", "mapping.toml", None, None, "'client_number', which is not a roster"),
    ("mapping_syntax", "mapping.toml", None, None, "not a valid TOML"),
    ("mapping_format", "mapping.toml", None, None, "[formats] time = '%Y'"),
]

WARN = [
    ("skill_nobody_has", "visits.csv", 2, "skills", "no carer has skill 'catheter'"),
    ("short_visit", "visits.csv", 4, "duration_min", "Ethical Care Charter"),
    ("carer_no_shifts", "carers.csv", 4, None, "no shifts all week"),
    ("asis_off_shift", "visits.csv", 4, "carer_id", "as-is carer B is not on shift"),
    ("unknown_column", "visits.csv", None, "colour", "not a visits column"),
]


def find(problems: list[Problem], file: str, row: int | None, column: str | None) -> Problem:
    hits = [p for p in problems if (p.file, p.row, p.column) == (file, row, column)]
    assert hits, f"no problem at {file} row {row} column {column}: {[str(p) for p in problems]}"
    return hits[0]


def test_every_bad_case_folder_is_tested() -> None:
    folders = {p.name for p in (DATA / "bad").iterdir()}
    assert folders == {case for case, *_ in BAD}


@pytest.mark.parametrize(("case", "file", "row", "column", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_row_and_column(
    case: str, file: str, row: int | None, column: str | None, words: str
) -> None:
    result = validate_case(DATA / "bad" / case)
    assert not result.ok
    assert result.roster is None
    problem = find(result.errors, file, row, column)
    assert words in problem.message
    assert str(problem).startswith(file)


@pytest.mark.parametrize(("case", "file", "row", "column", "words"), WARN, ids=[w[0] for w in WARN])
def test_warnings_do_not_stop_the_roster(
    case: str, file: str, row: int | None, column: str | None, words: str
) -> None:
    result = validate_case(DATA / "warn" / case)
    assert result.ok, [str(p) for p in result.errors]
    assert result.roster is not None
    problem = find(result.warnings, file, row, column)
    assert problem.severity is Severity.WARNING
    assert words in problem.message
    assert "warning:" in str(problem)


def test_problem_str_reads_like_a_spreadsheet_location() -> None:
    p = Problem("visits.csv", None, 7, "start", "'25:00' is not a time of day (HH:MM)")
    assert str(p) == "visits.csv row 7, column start: '25:00' is not a time of day (HH:MM)"
    q = Problem("week.xlsx", "visits", 3, "day", "bad")
    assert str(q) == "week.xlsx sheet visits row 3, column day: bad"


def test_every_problem_is_collected_not_just_the_first(tmp_path: Path) -> None:
    good = DATA / "good" / "minimal"
    for name in ("carers.csv", "providers.csv"):
        (tmp_path / name).write_bytes((good / name).read_bytes())
    (tmp_path / "visits.csv").write_text(
        "visit_id,client_id,day,start,duration_min,lat,lon\n"
        "V1,C1,Mon,25:00,0,60.17,24.94\n"
        "V2,C2,Someday,08:00,30,95,24.94\n"
        "V2,C3,Tue,08:00,30,60.17,24.94\n"
    )
    result = validate_roster(tmp_path)
    where = {(p.row, p.column) for p in result.errors}
    assert {(2, "start"), (2, "duration_min"), (3, "day"), (3, "lat"), (4, "visit_id")} <= where
    with pytest.raises(RosterError) as info:
        read_roster(tmp_path)
    assert len(info.value.problems) == len(result.problems)
    for p in result.errors:
        assert str(p) in str(info.value)


# CLI ------------------------------------------------------------------------------------


def test_cli_validate_bad_roster_exits_2_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["validate", str(DATA / "bad" / "time_25")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "visits.csv row 2, column start: '25:00' is not a time of day" in out
    assert "NOT usable" in out
    assert "Traceback" not in out + err


def test_cli_validate_bad_mapping_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    case = DATA / "bad" / "mapping_syntax"
    code = main(["validate", str(case), "--mapping", str(case / "mapping.toml")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "mapping.toml" in out
    assert "Traceback" not in out + err


def test_cli_validate_missing_roster_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["validate", str(tmp_path / "nowhere.xlsx")])
    out, _ = capsys.readouterr()
    assert code == 2
    assert "nowhere.xlsx" in out


def test_cli_validate_example_exits_0_and_prints_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["validate", str(example_roster_path())])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "Roster OK (0 errors, 0 warnings)" in out
    assert "visits for 28 clients" in out


def test_cli_validate_warnings_still_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "warn" / "short_visit")]) == 0
    assert "warning:" in capsys.readouterr().out


# The bundled example ---------------------------------------------------------------------


def test_example_roster_is_clean_and_inside_the_helsinki_extract() -> None:
    result = validate_roster(example_roster_path())
    assert result.problems == []
    roster = result.roster
    assert roster is not None
    points = [v.location for v in roster.visits] + [c.base for c in roster.carers]
    assert all(60.1650 <= p.lat <= 60.1780 and 24.9370 <= p.lon <= 24.9520 for p in points)
    assert len(roster.client_ids) == 28
    assert 10 <= len(roster.carers) <= 12
    assert {p.kind for p in roster.providers} == {ProviderKind.IN_HOUSE, ProviderKind.EXTERNAL}
    assert roster.days == tuple(range(7))
    doubles = [v for v in roster.visits if v.double_handed]
    assert doubles and all(len(v.carer_ids) in (0, 2) for v in doubles)
    assert any(v.follows for v in roster.visits)
    assert any(v.pinned for v in roster.visits)
    assert {"medication", "hoist", "catheter"} <= set().union(*(v.skills for v in roster.visits))
    assert any(len(c.shifts_on(0)) == 2 for c in roster.carers)  # split shifts


def test_example_asis_allocation_is_plausible() -> None:
    """Every as-is carer is on shift for the whole visit and never in two places at once."""
    roster = read_roster(example_roster_path())
    runs: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for v in roster.visits:
        if not v.carer_ids:
            continue
        assert v.planned_start is not None and v.window.contains(v.planned_start)
        end = v.planned_start + v.duration
        for cid in v.carer_ids:
            carer = roster.carer(cid)
            assert v.skills <= carer.skills
            assert any(s.start <= v.planned_start and end <= s.end for s in carer.shifts_on(v.day))
            runs.setdefault((cid, v.day), []).append((v.planned_start, end))
    for spans in runs.values():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))


def test_callmonitoring_example_reads_with_its_mapping() -> None:
    roster = read_roster(
        EXAMPLES / "callmonitoring", mapping=EXAMPLES / "mapping-callmonitoring.toml"
    )
    assert roster.week_start == dt.date(2024, 3, 4)
    v = roster.visit("CM-1006")
    assert (v.day, v.planned_start, v.carers_required) == (1, 19 * 3600 + 30 * 60, 2)
    assert v.window == TimeWindow(v.planned_start - 15 * 60, v.planned_start + 15 * 60)
    assert roster.carer("S14").shifts_on(1) == (Shift(7 * 3600, 10 * 3600), Shift(57600, 79200))
    assert roster.provider("NCL").name == "Northside Care Ltd"


# Formats ----------------------------------------------------------------------------------


def test_xlsx_with_real_excel_time_and_date_cells(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "Visits"
    ws.append(["Visit", "Client", "Date", "Start Time", "Duration", "Latitude", "Longitude"])
    ws.append(["V1", 101, dt.datetime(2024, 3, 5), dt.time(7, 30), 45, 60.17, 24.94])
    ws.append(["V2", 102, dt.datetime(2024, 3, 6), 0.5, 30.0, 60.171, 24.941])
    ws["D2"].number_format = "hh:mm"
    carers = book.create_sheet("carers")
    carers.append(["staff_id", "provider", "lat", "lon", "tue", "wed"])
    carers.append(["A", "HEL", 60.17, 24.94, "07:00-14:00", "07:00-14:00"])
    providers = book.create_sheet("providers")
    providers.append(["provider", "kind"])
    providers.append(["HEL", "In-House"])
    path = tmp_path / "week.xlsx"
    book.save(path)
    roster = read_roster(path)
    assert roster.name == "week"
    assert roster.week_start == dt.date(2024, 3, 4)
    v1, v2 = roster.visits
    assert (v1.client_id, v1.day, v1.planned_start, v1.duration) == ("101", 1, 27000, 2700)
    assert (v2.day, v2.planned_start) == (2, 12 * 3600)
    assert roster.provider("HEL").kind is ProviderKind.IN_HOUSE


def test_xlsx_problems_name_workbook_and_sheet(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "visits"
    ws.append(["visit_id", "client_id", "day", "start", "duration_min", "lat", "lon"])
    ws.append(["V1", "C1", "Mon", "25:00", 30, 60.17, 24.94])
    book.create_sheet("carers")
    path = tmp_path / "week.xlsx"
    book.save(path)
    result = validate_roster(path)
    assert str(find(result.errors, "week.xlsx", 2, "start")).startswith(
        "week.xlsx sheet visits row 2, column start: '25:00'"
    )
    empty = [p for p in result.errors if p.sheet == "carers"]
    assert empty and "is empty" in empty[0].message
    missing = [p for p in result.errors if p.sheet == "providers"]
    assert missing and "sheet is missing" in missing[0].message


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "week.xlsx"
    path.write_text("not a zip")
    result = validate_roster(path)
    assert "not a readable Excel workbook" in result.errors[0].message


def _copy_good(tmp_path: Path, visits: bytes) -> Path:
    good = DATA / "good" / "minimal"
    tmp_path.mkdir(exist_ok=True)
    for name in ("carers.csv", "providers.csv"):
        (tmp_path / name).write_bytes((good / name).read_bytes())
    (tmp_path / "visits.csv").write_bytes(visits)
    return tmp_path


VISITS_WITH_ADDRESS = (
    "visit_id,client_id,day,start,duration_min,lat,lon,address\n"
    "V1,C1,Mon,08:00,30,60.171,24.941,Café Müller\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    roster = read_roster(_copy_good(tmp_path, VISITS_WITH_ADDRESS.encode(encoding)))
    assert roster.visits[0].location.address == "Café Müller"
    assert roster.visits[0].visit_id == "V1"  # no BOM glued to the first column name


def test_semicolon_separated_csv(tmp_path: Path) -> None:
    text = VISITS_WITH_ADDRESS.replace(",", ";").encode()
    assert read_roster(_copy_good(tmp_path, text)).visits[0].duration == 1800


def test_british_national_grid(tmp_path: Path) -> None:
    visits = (
        "visit_id,client_id,day,start,duration_min,easting,northing\n"
        "V1,C1,Mon,08:00,30,530000,180000\n"
    )
    loc = read_roster(_copy_good(tmp_path, visits.encode())).visits[0].location
    # By hand: the OS inverse transverse Mercator (OSGB36) gives 51.50348, -0.12675; the
    # OSGB36 -> WGS84 shift in London is about +0.0005 lat, -0.0016 lon (some 100 m).
    assert loc.lat == pytest.approx(51.5040, abs=2e-4)
    assert loc.lon == pytest.approx(-0.1284, abs=2e-4)


def test_postcode_lookup_normalises_spacing_and_case(tmp_path: Path) -> None:
    visits = (
        "visit_id,client_id,day,start,duration_min,postcode\n"
        "V1,C1,Mon,08:00,30,ls1 4ap\n"
        "V2,C2,Mon,09:00,30,  SW1A2AA \n"
    )
    lookup = tmp_path / "lookup.csv"
    lookup.write_text("pcds,oseast1m,osnrth1m\nLS14AP,430000,433000\nSW1A 2AA,530047,179951\n")
    roster = read_roster(_copy_good(tmp_path / "r", visits.encode()), postcodes=lookup)
    leeds, london = (v.location for v in roster.visits)
    assert leeds.postcode == "LS1 4AP" and london.postcode == "SW1A 2AA"
    assert 53.7 < leeds.lat < 53.9 and -1.6 < leeds.lon < -1.4
    assert london.lat == pytest.approx(51.5034, abs=1e-3)


def test_postcode_without_lookup_is_an_error(tmp_path: Path) -> None:
    visits = "visit_id,client_id,day,start,duration_min,postcode\nV1,C1,Mon,08:00,30,LS1 4AP\n"
    result = validate_roster(_copy_good(tmp_path, visits.encode()))
    assert "--postcodes" in find(result.errors, "visits.csv", 2, "postcode").message


def test_mapping_with_formats_defaults_and_ignored_columns(tmp_path: Path) -> None:
    visits = (
        "Call,Service User,When,At,Mins,Lat,Lon,Notes\n"
        "X1,Mrs A,05/03/2024,10:15 AM,30,60.171,24.941,rings twice\n"
    )
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[columns]\n"Service User" = "client_id"\nWhen = "day"\nAt = "start"\n'
        'Mins = "duration_min"\nNotes = ""\n'
        '[formats]\ntime = "%I:%M %p"\nday = "%d/%m/%Y"\n'
        "[defaults.visits]\ntolerance_min = 10\n"
    )
    result = validate_roster(_copy_good(tmp_path / "r", visits.encode()), mapping=mapping)
    assert result.problems == [], [str(p) for p in result.problems]
    assert result.roster is not None
    v = result.roster.visits[0]
    assert (v.visit_id, v.client_id, v.day, v.planned_start) == ("X1", "Mrs A", 1, 36900)
    assert v.window == TimeWindow(36900 - 600, 36900 + 600)


def test_within_hook_warns_about_locations_outside_the_network() -> None:
    result = validate_roster(DATA / "good" / "minimal", within=lambda lat, lon: lat < 60.1705)
    assert result.ok
    outside = [p for p in result.warnings if "outside the road network" in p.message]
    assert {(p.file, p.row) for p in outside} == {
        ("visits.csv", 2),
        ("visits.csv", 4),
        ("carers.csv", 3),
    }


def test_write_refuses_an_odd_path(tmp_path: Path) -> None:
    roster = read_roster(DATA / "good" / "minimal")
    with pytest.raises(InputError, match=r"\.xlsx"):
        write_roster(roster, tmp_path / "roster.csv")


def test_written_cells_are_spreadsheet_safe(tmp_path: Path) -> None:
    roster = read_roster(DATA / "good" / "minimal")
    visit = dataclasses.replace(roster.visits[0], tasks='=HYPERLINK("x")')
    roster = roster.replace(visits=(visit, *roster.visits[1:]))
    write_roster(roster, tmp_path / "out")
    assert "'=HYPERLINK" in (tmp_path / "out" / "visits.csv").read_text(encoding="utf-8-sig")
    write_roster(roster, tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["visits"]
    assert ws.cell(2, ws.max_column).data_type == "s"  # text, not a formula
    assert read_roster(tmp_path / "out.xlsx").visits[0].tasks == '=HYPERLINK("x")'


# Parsers (property tests) ----------------------------------------------------------------


@given(st.integers(0, SECONDS_PER_DAY - 1))
def test_time_round_trips_through_every_form(seconds: int) -> None:
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    assert parse_time(f"{h:02d}:{m:02d}:{s:02d}") == seconds
    assert parse_time(f"{h}:{m:02d}") == seconds - s
    assert parse_time(dt.time(h, m, s)) == seconds
    assert parse_time(seconds / SECONDS_PER_DAY) == seconds  # Excel fraction of a day
    assert parse_time(dt.datetime(2024, 3, 4, h, m, s)) == seconds
    twelve = dt.time(h, m).strftime("%I:%M %p")
    assert parse_time(twelve) == seconds - s
    assert parse_time(twelve, fmt="%I:%M %p") == seconds - s


@given(st.integers(0, LATEST_TIME))
def test_end_times_may_run_past_midnight(seconds: int) -> None:
    text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    assert parse_time(text, end=True) == seconds - seconds % 60


@given(st.integers(24, 99), st.integers(0, 59))
def test_hours_past_the_day_are_rejected(hours: int, minutes: int) -> None:
    with pytest.raises(InputError, match="is not a time of day"):
        parse_time(f"{hours}:{minutes:02d}")


@given(st.integers(0, 23), st.integers(60, 99))
def test_impossible_minutes_are_rejected(hours: int, minutes: int) -> None:
    with pytest.raises(InputError, match="is not a time of day"):
        parse_time(f"{hours:02d}:{minutes}")


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_day_from_a_date(date: dt.date) -> None:
    assert parse_day(date.isoformat()) == (date.weekday(), date)
    assert parse_day(date.strftime("%d/%m/%Y"), fmt="%d/%m/%Y") == (date.weekday(), date)
    assert parse_day(date.strftime("%A").upper()) == (date.weekday(), None)
    assert parse_day(date.strftime("%a").lower()) == (date.weekday(), None)


@st.composite
def day_shifts(draw: st.DrawFn) -> tuple[Shift, ...]:
    minutes = sorted(draw(st.sets(st.integers(0, LATEST_TIME // 60), max_size=6)))
    if minutes and minutes[0] >= SECONDS_PER_DAY // 60:
        return ()
    pairs = list(zip(minutes[::2], minutes[1::2], strict=False))
    return tuple(Shift(a * 60, b * 60) for a, b in pairs if a * 60 < SECONDS_PER_DAY)


@given(day_shifts())
def test_shift_strings_round_trip(shifts: tuple[Shift, ...]) -> None:
    def hhmm(t: int) -> str:
        return f"{t // 3600:02d}:{t // 60 % 60:02d}"

    text = ";".join(f"{hhmm(s.start)}-{hhmm(s.end)}" for s in reversed(shifts))
    assert parse_shifts(text) == shifts


def test_shift_separators() -> None:
    assert parse_shifts("7:00 – 13:30, 16:30 to 22:00") == (
        Shift(25200, 48600),
        Shift(59400, 79200),
    )
    assert parse_shifts("") == ()
    with pytest.raises(InputError, match="overlap"):
        parse_shifts("07:00-12:00;11:59-13:00")


# Round trip (property test) -----------------------------------------------------------------

ids = st.text("ABCXYZ0123-=@ ", min_size=1, max_size=6).map(str.strip).filter(bool)
words = st.text("abcdefgh ,=", max_size=8).map(str.strip)
skills = st.frozensets(st.sampled_from(["medication", "hoist", "catheter", "peg"]), max_size=3)


@st.composite
def locations(draw: st.DrawFn) -> Location:
    # Keep clear of Great Britain swapped, which validation reports as lat/lon swapped.
    lat = round(draw(st.floats(40.0, 70.0, allow_nan=False)), 7)
    lon = round(draw(st.floats(5.0, 40.0, allow_nan=False)), 7)
    return Location(lat, lon, address=draw(words), postcode=draw(st.sampled_from(["", "LS1 4AP"])))


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    provider_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    providers = tuple(
        Provider(
            p,
            name=draw(words),
            kind=draw(st.sampled_from(ProviderKind)),
            hourly_rate=draw(st.none() | st.floats(0, 100).map(lambda x: round(x, 2))),
        )
        for p in provider_ids
    )
    carer_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    carers = []
    for cid in carer_ids:
        shifts = {d: s for d in range(7) if (s := draw(day_shifts()))}
        carers.append(
            Carer(
                cid,
                draw(st.sampled_from(provider_ids)),
                draw(locations()),
                mode=draw(st.sampled_from(Mode)),
                shifts=shifts,
                skills=draw(skills),
                gender=draw(st.sampled_from(["", "female", "male"])),
                max_minutes_day=draw(st.none() | st.integers(1, 900)),
                contracted_minutes_week=draw(st.none() | st.integers(1, 3000)),
                cost_per_hour=draw(st.none() | st.floats(0, 50).map(lambda x: round(x, 2))),
                team=draw(words),
            )
        )
    provider_of = {c.carer_id: c.provider for c in carers}
    visit_ids = draw(st.lists(ids, min_size=1, max_size=6, unique=True))
    visits: list[Visit] = []
    for vid in visit_ids:
        start = draw(st.integers(0, SECONDS_PER_DAY - 1))
        end = draw(st.integers(start, LATEST_TIME))
        required = draw(st.sampled_from([1, 2]))
        assigned = tuple(draw(st.lists(st.sampled_from(carer_ids), unique=True, max_size=2)))
        if len(assigned) != required:
            assigned = ()
        planned = draw(st.none() | st.integers(0, SECONDS_PER_DAY - 1))
        earlier = [v for v in visits if v.day == 0]
        follows = draw(st.sampled_from(["", *(v.visit_id for v in earlier)]))
        gap_min = draw(st.integers(0, 300)) * 60 if follows else 0
        provider = (
            provider_of[assigned[0]] if assigned else draw(st.sampled_from(["", *provider_ids]))
        )
        visits.append(
            Visit(
                vid,
                draw(ids),
                0 if follows else draw(st.integers(0, 6)),
                TimeWindow(start, end),
                draw(st.integers(16, 240)) * 60 + draw(st.sampled_from([0, 30])),
                draw(locations()),
                carers_required=required,
                planned_start=planned if assigned or planned is None else None,
                skills=draw(skills),
                provider=provider,
                carer_ids=assigned,
                priority=draw(st.integers(0, 5)),
                preferred_carers=tuple(draw(st.lists(st.sampled_from(carer_ids), unique=True))),
                excluded_carers=frozenset(draw(st.lists(st.sampled_from(carer_ids)))),
                gender_preference=draw(st.sampled_from(["", "female"])),
                pinned=bool(assigned) and planned is not None and draw(st.booleans()),
                area=draw(words),
                follows=follows,
                gap_min=gap_min,
                gap_max=gap_min + draw(st.integers(0, 120)) * 60 if follows else 0,
                tasks=draw(words),
            )
        )
    monday = draw(st.none() | st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)))
    week_start = None if monday is None else monday - dt.timedelta(days=monday.weekday())
    return Roster(tuple(visits), tuple(carers), providers, week_start=week_start)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rosters(), st.sampled_from(["folder", "xlsx"]))
def test_write_then_read_gives_an_equal_roster(
    tmp_path_factory: pytest.TempPathFactory, roster: Roster, form: str
) -> None:
    folder = tmp_path_factory.mktemp("rt")
    path = write_roster(roster, folder / ("r.xlsx" if form == "xlsx" else "r"))
    result = validate_roster(path)
    assert result.errors == [], [str(p) for p in result.errors]
    assert result.roster is not None
    assert dataclasses.replace(result.roster, name="") == roster


def test_follows_other_carer_round_trips_and_needs_follows(tmp_path: Path) -> None:
    import csv
    import dataclasses

    from carerun.examples import example_roster_path

    roster = read_roster(example_roster_path())
    linked = next(v for v in roster.visits if v.follows)
    visits = [
        dataclasses.replace(v, link_other_carer=True) if v is linked else v for v in roster.visits
    ]
    out = write_roster(roster.replace(visits=visits), tmp_path / "week")
    assert read_roster(out).visit(linked.visit_id).link_other_carer

    rows = list(csv.DictReader((out / "visits.csv").open(encoding="utf-8")))
    unlinked = next(r for r in rows if not r["follows"])
    unlinked["follows_other_carer"] = "yes"
    with (out / "visits.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = validate_roster(out)
    assert not result.ok
    row = rows.index(unlinked) + 2  # header is row 1
    assert any(p.row == row and p.column == "follows_other_carer" for p in result.errors), [
        str(p) for p in result.errors
    ]


def test_validate_with_osm_warns_about_doors_off_the_network(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from carerun.examples import example_roster_path

    # The bundled week lies in Helsinki, on the embedded network: no warning, exit 0.
    assert main(["validate", str(example_roster_path()), "--osm", "default"]) == 0
    assert "outside" not in capsys.readouterr().out.lower()


def test_validate_with_osm_warns_about_a_week_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    from carerun.examples import example_roster_path

    roster = read_roster(example_roster_path())
    north = [
        dataclasses.replace(v, location=dataclasses.replace(v.location, lat=v.location.lat + 1))
        for v in roster.visits
    ]
    moved = write_roster(roster.replace(visits=north), tmp_path / "moved")
    assert main(["validate", str(moved), "--osm", "default"]) == 0  # warnings only
    assert "outside" in capsys.readouterr().out.lower()
