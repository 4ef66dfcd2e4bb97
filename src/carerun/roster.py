"""Read, validate and write weekly rosters (visits, carers, providers).

A roster is one XLSX workbook with sheets ``visits``, ``carers`` and ``providers``, or a folder
holding ``visits.csv``, ``carers.csv`` and ``providers.csv`` (the schema is ``docs/roster.md``).
Reading checks every row and every cell and collects *every* problem, each naming the file (and
sheet), the row as a spreadsheet shows it (the header is row 1), the column and what is wrong.
Model objects are built only when there are no errors, so a caller gets a whole roster or none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import re
import statistics
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from carerun._errors import InputError
from carerun._io import FORMULA_PREFIXES, atomic_path, atomic_write, safe_cell
from carerun.model import (
    DAY_NAMES,
    LATEST_TIME,
    SECONDS_PER_DAY,
    Carer,
    Location,
    Mode,
    ModelError,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Visit,
    format_time,
)

__all__ = [
    "Problem",
    "RosterError",
    "Severity",
    "Validation",
    "bng_to_wgs84",
    "parse_day",
    "parse_shifts",
    "parse_time",
    "read_roster",
    "validate_roster",
    "write_roster",
]

KINDS = ("visits", "carers", "providers")
DEFAULT_TOLERANCE_MIN = 30
# UNISON Ethical Care Charter: no visits of 15 minutes or less for personal care.
SHORT_VISIT_SECONDS = 15 * 60
DAY_COLUMNS = tuple(name.lower() for name in DAY_NAMES)


# Problems -----------------------------------------------------------------------------------


class Severity(StrEnum):
    """An error stops the roster from being read; a warning is worth a look."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a roster, where a coordinator can find it.

    ``row`` is the row number a spreadsheet shows (the header is row 1); ``column`` is the
    column's name as written in the file. Either may be None for whole-file problems.
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.file + (f" sheet {self.sheet}" if self.sheet else "")
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        if parts:
            where += " " + ", ".join(parts)
        label = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}: {label}{self.message}"


class RosterError(InputError):
    """A roster has errors; ``problems`` lists every one (errors first, then warnings)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        errors = sum(p.severity is Severity.ERROR for p in self.problems)
        lines = [f"the roster has {errors} error{'s' if errors != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Validation:
    """The outcome of :func:`validate_roster`: the roster (None when there are errors) and
    every problem found."""

    roster: Roster | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return self.roster is not None and not self.errors

    def verdict(self) -> str:
        """One line: how many errors and warnings, and whether the roster can be used."""
        e, w = len(self.errors), len(self.warnings)
        counts = f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}"
        if self.ok:
            return f"Roster OK ({counts})."
        return f"Roster NOT usable ({counts}): fix the errors above and validate again."


# Cell parsers -------------------------------------------------------------------------------

_TIME_RE = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?(?:\s*([ap])\.?m\.?)?", re.IGNORECASE)
_COMPACT_TIME_RE = re.compile(r"(\d{2})(\d{2})")
_HOUR_RE = re.compile(r"(\d{1,2})\s*([ap])\.?m\.?", re.IGNORECASE)
_DAY_WORDS = {
    **{name.lower(): i for i, name in enumerate(DAY_NAMES)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}


def _show(value: Any) -> str:
    """A cell as a message quotes it."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clock(hours: int, minutes: int, seconds: int = 0) -> int:
    return hours * 3600 + minutes * 60 + seconds


def _time_seconds(value: Any, fmt: str | None) -> int | None:
    """Seconds from midnight in any form a spreadsheet or export holds a time, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime | dt.time):
        return _clock(value.hour, value.minute, value.second) + round(value.microsecond / 1e6)
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds())
    if isinstance(value, int | float):
        # Excel stores a time as a fraction of a day (1.0 and more with [h]:mm formats).
        return round(value * SECONDS_PER_DAY) if 0 <= value < 2 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if fmt:
        try:
            parsed = dt.datetime.strptime(text, fmt)
        except ValueError:
            pass
        else:
            return _clock(parsed.hour, parsed.minute, parsed.second)
    if m := _TIME_RE.fullmatch(text):
        hours, minutes, seconds = int(m[1]), int(m[2]), int(m[3] or 0)
        meridiem = m[4]
    elif m := _COMPACT_TIME_RE.fullmatch(text):
        hours, minutes, seconds, meridiem = int(m[1]), int(m[2]), 0, None
    elif m := _HOUR_RE.fullmatch(text):
        hours, minutes, seconds, meridiem = int(m[1]), 0, 0, m[2]
    else:
        try:
            stamp = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return _clock(stamp.hour, stamp.minute, stamp.second)
    if minutes > 59 or seconds > 59:
        return None
    if meridiem:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if meridiem.lower() == "p" else 0)
    return _clock(hours, minutes, seconds)


def parse_time(value: Any, *, fmt: str | None = None, end: bool = False) -> int:
    """Parse a time of day to seconds from midnight.

    Parameters
    ----------
    value
        ``HH:MM``, ``H:MM``, ``HH:MM:SS``, ``HHMM``, ``7:30 pm``, an ISO date-time, an Excel
        time (``datetime.time``, ``datetime.datetime``, ``timedelta`` or a fraction of a day).
    fmt
        A :func:`~datetime.datetime.strptime` format tried first (from a mapping file).
    end
        Allow times past midnight up to 36:00 (the end of a window or shift, as ``24:30``).

    Raises
    ------
    InputError
        The value is not a time, or an impossible one (``25:00`` unless `end`, ``12:61``).
    """
    latest = LATEST_TIME if end else SECONDS_PER_DAY - 1
    seconds = _time_seconds(value, fmt)
    if seconds is None or not 0 <= seconds <= latest:
        hint = "HH:MM; past midnight up to 36:00" if end else "HH:MM"
        msg = f"{_show(value)} is not a time of day ({hint})"
        raise InputError(msg)
    return seconds


def parse_day(value: Any, *, fmt: str | None = None) -> tuple[int, dt.date | None]:
    """Parse a day of the week: ``Mon`` … ``Sun``, full names (any case) or a date.

    Returns the day index (0 = Monday) and the date when the value is one, else None.

    Raises
    ------
    InputError
        The value is neither a weekday name nor a date (ISO or `fmt`).
    """
    if isinstance(value, dt.datetime):
        return value.weekday(), value.date()
    if isinstance(value, dt.date):
        return value.weekday(), value
    text = value.strip() if isinstance(value, str) else ""
    day = _DAY_WORDS.get(text.lower().rstrip("."))
    if day is not None:
        return day, None
    date: dt.date | None = None
    if text and fmt:
        try:
            date = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            date = None
    if date is None and text:
        try:
            date = dt.datetime.fromisoformat(text).date()
        except ValueError:
            date = None
    if date is None:
        example = dt.date(2024, 3, 4).strftime(fmt) if fmt else "2024-03-04"
        msg = f"{_show(value)} is not a day (Mon…Sun or a date like {example})"
        raise InputError(msg)
    return date.weekday(), date


def parse_shifts(value: Any, *, fmt: str | None = None) -> tuple[Shift, ...]:
    """Parse one day's shifts, ``07:00-13:30;16:30-22:00`` (empty for a day off).

    Shifts are separated by ``;`` or ``,``; start and end by ``-``, an en dash or ``to``. An end
    past midnight is written past 24:00 (``22:00-31:00``). Returns the shifts earliest first.

    Raises
    ------
    InputError
        A shift is malformed, ends before it starts, or two shifts overlap.
    """
    if value is None:
        return ()
    if not isinstance(value, str):
        msg = f"{_show(value)} is not a shift (HH:MM-HH:MM; split shifts separated by ';')"
        raise InputError(msg)
    shifts = []
    for part in re.split(r"[;,]", value.replace("–", "-").replace("—", "-")):
        part = part.strip()
        if not part:
            continue
        pieces = re.split(r"\s*(?:-|\bto\b)\s*", part)
        try:
            if len(pieces) != 2:
                raise InputError(part)
            start = parse_time(pieces[0], fmt=fmt)
            end = parse_time(pieces[1], fmt=fmt, end=True)
        except InputError:
            msg = f"{part!r} is not a shift (HH:MM-HH:MM; split shifts separated by ';')"
            raise InputError(msg) from None
        if end <= start:
            msg = (
                f"shift {part!r} ends before it starts "
                "(write an end past midnight as e.g. 22:00-31:00)"
            )
            raise InputError(msg)
        shifts.append(Shift(start, end))
    shifts.sort(key=lambda s: s.start)
    for a, b in itertools.pairwise(shifts):
        if b.start < a.end:
            msg = f"shifts {a} and {b} overlap"
            raise InputError(msg)
    return tuple(shifts)


def _parse_number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        msg = f"{_show(value)} is not a number"
        raise InputError(msg)
    return number


def _parse_int(value: Any) -> int:
    number = _parse_number(value)
    if not number.is_integer():
        msg = f"{_show(value)} is not a whole number"
        raise InputError(msg)
    return int(number)


def _parse_minutes(value: Any) -> int:
    """Minutes (whole or decimal) to whole seconds."""
    return round(_parse_number(value) * 60)


_TRUE = {"yes", "y", "true", "t", "1", "pinned", "x"}
_FALSE = {"no", "n", "false", "f", "0"}


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _to_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    msg = f"{_show(value)} is not yes or no"
    raise InputError(msg)


_MODES = {
    **{w: Mode.DRIVE for w in ("drive", "driving", "driver", "car")},
    **{w: Mode.WALK for w in ("walk", "walking", "walker", "foot", "on_foot")},
    **{w: Mode.CYCLE for w in ("cycle", "cycling", "bike", "bicycle", "cyclist")},
}


def _parse_mode(value: Any) -> Mode:
    mode = _MODES.get(_norm(_to_text(value)))
    if mode is None:
        msg = f"{_show(value)} is not a travel mode (drive, walk or cycle)"
        raise InputError(msg)
    return mode


_KINDS = {
    **{w: ProviderKind.IN_HOUSE for w in ("in_house", "inhouse", "internal", "council")},
    **{w: ProviderKind.EXTERNAL for w in ("external", "agency", "independent", "private")},
}


def _parse_kind(value: Any) -> ProviderKind:
    kind = _KINDS.get(_norm(_to_text(value)))
    if kind is None:
        msg = f"{_show(value)} is not a provider kind (in-house or external)"
        raise InputError(msg)
    return kind


def _parse_ids(value: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in _to_text(value).split(";") if p.strip())


def _parse_skills(value: Any) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in re.split(r"[;,]", _to_text(value)) if p.strip())


_GENDERS = {"f": "female", "female": "female", "woman": "female", "m": "male", "male": "male"}
_GENDERS["man"] = "male"


def _parse_gender(value: Any) -> str:
    text = _to_text(value).lower()
    return _GENDERS.get(text, text)


def _to_text(value: Any) -> str:
    """A cell as text: numbers Excel stored for ids (``101.0``) come back as ``101``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _norm(name: str) -> str:
    """A column name compared loosely: ``Duration (min)`` → ``duration_min``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


_UK_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}")


def _format_postcode(text: str) -> str:
    """A UK postcode as ``LS1 4AP``; any other postal code as written (spaces tidied)."""
    compact = re.sub(r"\s+", "", text).upper()
    if _UK_POSTCODE.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    return " ".join(text.split())


# Schema -------------------------------------------------------------------------------------

_LOCATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "lat": ("latitude", "y_lat"),
    "lon": ("longitude", "lng", "long", "x_lon"),
    "easting": ("os_easting", "oseast1m", "bng_easting"),
    "northing": ("os_northing", "osnrth1m", "bng_northing"),
    "postcode": ("post_code", "postal_code", "pcd", "pcds"),
    "address": ("address_line", "street_address", "full_address"),
}

SCHEMA: dict[str, dict[str, tuple[str, ...]]] = {
    "visits": {
        "visit_id": ("visit", "call_id", "call", "visit_ref", "call_ref", "visit_no"),
        "client_id": ("client", "service_user_id", "service_user", "su_id", "client_ref"),
        "day": ("date", "weekday", "visit_date", "day_of_week"),
        "start": ("start_time", "planned_start", "planned_time", "scheduled_start", "time"),
        "tolerance_min": ("tolerance", "tolerance_mins", "flex_min", "flexibility_min"),
        "window_start": ("earliest_start", "earliest"),
        "window_end": ("latest_start", "latest"),
        "duration_min": ("duration", "duration_mins", "length_min", "length", "minutes"),
        "carers_required": ("carers_needed", "staff_required", "workers_required"),
        **_LOCATION_COLUMNS,
        "skills": ("skills_required", "required_skills", "skill"),
        "provider": ("provider_id", "agency"),
        "carer_id": ("carer", "carer_ids", "worker_id", "worker", "staff_id", "staff"),
        "priority": (),
        "preferred_carers": ("preferred",),
        "excluded_carers": ("excluded",),
        "gender_preference": ("preferred_gender",),
        "pinned": ("locked", "fixed"),
        "area": ("zone", "patch"),
        "follows": ("after", "linked_to", "follows_visit"),
        "gap_min": ("min_gap",),
        "gap_max": ("max_gap",),
        "follows_other_carer": ("other_carer",),
        "tasks": ("task", "notes"),
    },
    "carers": {
        "carer_id": ("carer", "worker_id", "worker", "staff_id", "staff", "employee_id"),
        "provider": ("provider_id", "agency"),
        "mode": ("travel_mode", "transport"),
        **_LOCATION_COLUMNS,
        **{
            short: (full,)
            for short, full in zip(
                DAY_COLUMNS,
                ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
                strict=True,
            )
        },
        "skills": ("skill",),
        "gender": ("sex",),
        "max_minutes_day": ("max_day_min",),
        "max_minutes_week": ("max_week_min",),
        "contracted_minutes_week": ("contracted_minutes", "contract_minutes"),
        "cost_per_hour": ("hourly_cost", "pay_rate"),
        "team": (),
    },
    "providers": {
        "provider": ("provider_id", "agency", "id"),
        "name": ("provider_name", "agency_name"),
        "kind": ("type", "provider_kind"),
        "hourly_rate": ("rate",),
    },
}
_REQUIRED = {
    "visits": ("visit_id", "client_id", "day", "duration_min"),
    "carers": ("carer_id", "provider"),
    "providers": ("provider",),
}


def _aliases(kind: str) -> dict[str, str]:
    found = {name: name for name in SCHEMA[kind]}
    for name, aliases in SCHEMA[kind].items():
        for alias in aliases:
            found.setdefault(alias, name)
    return found


# Mapping file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mapping:
    """A mapping file read: column renames (all sheets or one), sheet/file names, formats and
    defaults for columns the export lacks."""

    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # kind or "" -> norm -> name
    sheets: dict[str, str] = field(default_factory=dict)
    time_format: str | None = None
    day_format: str | None = None
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)


def _read_mapping(path: Path, report: _Report) -> _Mapping | None:
    where = path.name

    def bad(message: str) -> None:
        report.add(where, None, None, None, message)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        bad(f"mapping file not found: {path}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        bad(f"cannot read the mapping file: {exc}")
        return None
    except tomllib.TOMLDecodeError as exc:
        bad(f"not a valid TOML mapping file: {exc}")
        return None
    before = len(report.problems)
    for section in data:
        if section not in ("columns", "sheets", "formats", "defaults"):
            bad(
                f"unknown section [{section}] (expected [columns], [sheets], [formats], [defaults])"
            )
    all_names = {name for kind in KINDS for name in SCHEMA[kind]}
    columns: dict[str, dict[str, str]] = {}
    for key, value in data.get("columns", {}).items():
        if isinstance(value, dict) and key in KINDS:
            targets, kind = value, key
        elif isinstance(value, str):
            targets, kind = {key: value}, ""
        else:
            bad(f"[columns] {key!r} must map to a column name in quotes, or be [columns.visits] …")
            continue
        known = set(SCHEMA[kind]) if kind else all_names
        for source, target in targets.items():
            if not isinstance(target, str) or (target and target not in known):
                bad(
                    f"[columns] {source!r} maps to {target!r}, which is not a roster column"
                    + (f" of {kind}" if kind else "")
                    + ' (see docs/roster.md; "" ignores a column)'
                )
                continue
            columns.setdefault(kind, {})[_norm(source)] = target
    sheets: dict[str, str] = {}
    for key, value in data.get("sheets", {}).items():
        if key not in KINDS or not isinstance(value, str):
            bad(f"[sheets] {key!r} must be one of visits, carers, providers, set to a name")
            continue
        sheets[key] = value
    formats = data.get("formats", {})
    for key in formats:
        if key not in ("time", "day"):
            bad(f"[formats] {key!r} is not a format (expected time, day)")
    time_format = formats.get("time")
    day_format = formats.get("day")
    sample = dt.datetime(2024, 3, 4, 19, 35)
    for key, fmt, check in (
        ("time", time_format, lambda p: (p.hour, p.minute) == (19, 35)),
        ("day", day_format, lambda p: p.date() == sample.date()),
    ):
        if fmt is None:
            continue
        try:
            ok = isinstance(fmt, str) and check(dt.datetime.strptime(sample.strftime(fmt), fmt))
        except ValueError:
            ok = False
        if not ok:
            bad(f"[formats] {key} = {fmt!r} cannot write and read back {sample:%Y-%m-%d %H:%M}")
    defaults: dict[str, dict[str, Any]] = {}
    for kind, values in data.get("defaults", {}).items():
        if kind not in KINDS or not isinstance(values, dict):
            bad(f"[defaults.{kind}] must be [defaults.visits], [defaults.carers] or …providers]")
            continue
        for name, value in values.items():
            if name not in SCHEMA[kind]:
                bad(f"[defaults.{kind}] {name!r} is not a column of {kind}")
            else:
                defaults.setdefault(kind, {})[name] = value
    if len(report.problems) > before:
        return None
    return _Mapping(columns, sheets, time_format, day_format, defaults)


# Tables -------------------------------------------------------------------------------------


class _Report:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(
        self,
        file: str,
        sheet: str | None,
        row: int | None,
        column: str | None,
        message: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.problems.append(Problem(file, sheet, row, column, message, severity))

    @property
    def has_errors(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)


@dataclass
class _Table:
    """One sheet or CSV file: raw cells by row, and which column holds each schema name."""

    kind: str
    file: str
    sheet: str | None
    headers: list[str]
    rows: list[tuple[int, Sequence[Any]]]
    index: dict[str, int] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str | None) -> str | None:
        return self.headers[self.index[name]] if name in self.index else name

    def has(self, name: str) -> bool:
        return name in self.index or name in self.defaults


def _decode(data: bytes) -> str | None:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _read_csv(path: Path, report: _Report) -> list[list[Any]] | None:
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        report.add(path.name, None, None, None, f"cannot read the file: {exc.strerror}")
        return None
    if text is None:
        report.add(path.name, None, None, None, "unknown text encoding: save it as CSV UTF-8")
        return None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _find_file(folder: Path, name: str) -> Path | None:
    wanted = {name.lower(), f"{name.lower()}.csv"}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower() in wanted:
            return path
    return None


def _load_tables(path: Path, mapping: _Mapping, report: _Report) -> dict[str, _Table]:
    """Raw rows of each sheet; problems for missing or unreadable ones."""
    raw: dict[str, tuple[str, str | None, list[list[Any]]]] = {}
    if path.is_dir():
        for kind in KINDS:
            name = mapping.sheets.get(kind, kind)
            found = _find_file(path, name)
            if found is None:
                filename = name if name.lower().endswith(".csv") else f"{name}.csv"
                report.add(filename, None, None, None, f"file not found in {path}")
                continue
            rows = _read_csv(found, report)
            if rows is not None:
                raw[kind] = (found.name, None, rows)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = openpyxl.load_workbook(path, data_only=True)
        except FileNotFoundError:
            report.add(path.name, None, None, None, f"no such file: {path}")
            return {}
        except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            report.add(path.name, None, None, None, f"not a readable Excel workbook ({exc})")
            return {}
        by_name = {ws.title.strip().lower(): ws for ws in book.worksheets}
        for kind in KINDS:
            name = mapping.sheets.get(kind, kind)
            ws = by_name.get(name.lower())
            if ws is None:
                titles = ", ".join(sheet.title for sheet in book.worksheets)
                report.add(
                    path.name, name, None, None, f"sheet is missing (sheets found: {titles})"
                )
                continue
            raw[kind] = (path.name, ws.title, [list(r) for r in ws.iter_rows(values_only=True)])
        book.close()
    elif not path.exists():
        report.add(path.name, None, None, None, f"no such file or folder: {path}")
    else:
        report.add(
            path.name,
            None,
            None,
            None,
            "a roster is a folder holding visits.csv, carers.csv and providers.csv, "
            "or an .xlsx workbook with sheets visits, carers and providers",
        )
    tables = {}
    for kind, (file, sheet, rows) in raw.items():
        table = _make_table(kind, file, sheet, rows, mapping, report)
        if table is not None:
            tables[kind] = table
    return tables


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _make_table(
    kind: str,
    file: str,
    sheet: str | None,
    rows: list[list[Any]],
    mapping: _Mapping,
    report: _Report,
) -> _Table | None:
    def bad(column: str | None, message: str, severity: Severity = Severity.ERROR) -> None:
        report.add(file, sheet, None, column, message, severity)

    if all(all(map(_blank, r)) for r in rows):
        bad(None, "is empty: it needs a header row (row 1) and one row per " + kind[:-1])
        return None
    if all(_blank(c) for c in rows[0]):
        bad(None, "row 1 is blank: row 1 must hold the column names")
        return None
    headers = [_to_text(c) for c in rows[0]]
    data: list[tuple[int, Sequence[Any]]] = [
        (i + 1, r) for i, r in enumerate(rows) if i > 0 and not all(map(_blank, r))
    ]
    table = _Table(kind, file, sheet, headers, data, defaults=dict(mapping.defaults.get(kind, {})))
    aliases = _aliases(kind)
    renames = {**mapping.columns.get("", {}), **mapping.columns.get(kind, {})}
    for i, header in enumerate(headers):
        if not header:
            continue
        key = _norm(header)
        if key in renames:
            name = renames[key]
            if not name or name not in SCHEMA[kind]:
                continue  # ignored on purpose, or mapped for another sheet
        elif key in aliases:
            name = aliases[key]
        else:
            bad(header, f"is not a {kind} column of the roster schema: ignored", Severity.WARNING)
            continue
        if name in table.index:
            bad(header, f"gives `{name}` again (already column {table.header(name)})")
            continue
        table.index[name] = i
    if not data:
        bad(None, f"has no rows: it needs one row per {kind[:-1]} below the header")
    for name in _REQUIRED[kind]:
        if not table.has(name):
            also = ", ".join(SCHEMA[kind][name][:4])
            bad(None, f"missing required column `{name}`" + (f" (or {also})" if also else ""))
    has = table.has
    if kind == "visits" and not has("start") and not (has("window_start") and has("window_end")):
        bad(None, "missing the visit time: give column `start`, or `window_start` and `window_end`")
    if kind in ("visits", "carers") and not (
        (has("lat") and has("lon")) or (has("easting") and has("northing")) or has("postcode")
    ):
        bad(
            None,
            "missing location columns: give `lat` and `lon`, `easting` and `northing`, "
            "or `postcode` (with a postcode lookup)",
        )
    if kind == "carers" and not any(has(d) for d in DAY_COLUMNS):
        bad(None, "missing shift columns: give `mon` … `sun` (e.g. 07:00-13:30;16:30-22:00)")
    return table


class _Row:
    """The cells of one row, read by schema name; problems are recorded against the row."""

    def __init__(self, table: _Table, number: int, cells: Sequence[Any], report: _Report):
        self.table, self.number, self.cells, self.report = table, number, cells, report
        self.ok = True

    def value(self, name: str) -> Any:
        """The cell (None when empty or the column is absent), text stripped of the
        apostrophe a spreadsheet-safe writer puts before ``=``, ``+``, ``-``, ``@``."""
        i = self.table.index.get(name)
        cell = self.cells[i] if i is not None and i < len(self.cells) else None
        if isinstance(cell, str):
            cell = cell.strip()
            if cell.startswith("'") and cell[1:2] and cell[1] in "".join(FORMULA_PREFIXES):
                cell = cell[1:]
        if _blank(cell):
            cell = self.table.defaults.get(name)
        return cell

    def text(self, name: str) -> str:
        return _to_text(self.value(name))

    def add(self, name: str | None, message: str, severity: Severity = Severity.ERROR) -> None:
        if severity is Severity.ERROR:
            self.ok = False
        t = self.table
        self.report.add(t.file, t.sheet, self.number, t.header(name), message, severity)

    def warn(self, name: str | None, message: str) -> None:
        self.add(name, message, Severity.WARNING)

    def parse(self, name: str, parser: Callable[..., Any], **options: Any) -> Any:
        """The parsed cell, or None when empty or unreadable (an error is recorded)."""
        value = self.value(name)
        if value is None:
            return None
        try:
            return parser(value, **options)
        except InputError as exc:
            self.add(name, str(exc))
            return None

    def required(self, name: str) -> str:
        text = self.text(name)
        if not text and self.table.has(name):
            self.add(name, f"is empty: every {self.table.kind[:-1]} needs a `{name}`")
        return text


# Locations ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _bng_transformer() -> Any:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def bng_to_wgs84(easting: float, northing: float) -> tuple[float, float]:
    """British National Grid (EPSG:27700) metres to WGS84 ``(lat, lon)``."""
    lon, lat = _bng_transformer().transform(easting, northing)
    return float(lat), float(lon)


def _in_gb(lat: float, lon: float) -> bool:
    return 49.8 <= lat <= 60.95 and -8.7 <= lon <= 1.9


Postcodes = dict[str, tuple[float, float]]


def _read_postcodes(path: Path, report: _Report) -> Postcodes | None:
    """A postcode lookup CSV (postcode with lat/lon or easting/northing; ONS names accepted)."""
    if not path.is_file():
        report.add(path.name, None, None, None, f"postcode lookup file not found: {path}")
        return None
    rows = _read_csv(path, report)
    if rows is None:
        return None
    before = len(report.problems)
    names = {name: name for name in _LOCATION_COLUMNS}
    names |= {alias: name for name, aliases in _LOCATION_COLUMNS.items() for alias in aliases}
    index: dict[str, int] = {}
    for i, header in enumerate(rows[0] if rows else []):
        name = names.get(_norm(str(header)))
        if name and name not in index:
            index[name] = i
    has_coords = ("lat" in index and "lon" in index) or ("easting" in index and "northing" in index)
    if "postcode" not in index or not has_coords:
        report.add(
            path.name,
            None,
            None,
            None,
            "a postcode lookup needs columns postcode and lat, lon (or easting, northing)",
        )
        return None
    lookup: Postcodes = {}
    for number, cells in enumerate(rows[1:], start=2):
        if all(map(_blank, cells)):
            continue

        def cell(name: str, cells: list[Any] = cells) -> str:
            i = index.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        key = re.sub(r"\s+", "", cell("postcode")).upper()
        try:
            if "lat" in index and cell("lat"):
                lat, lon = float(cell("lat")), float(cell("lon"))
            else:
                lat, lon = bng_to_wgs84(float(cell("easting")), float(cell("northing")))
            Location(lat, lon)
        except (ValueError, ModelError):
            report.add(path.name, None, number, None, "coordinates are not numbers in range")
            continue
        if key:
            lookup[key] = (lat, lon)
    return None if len(report.problems) > before else lookup


def _parse_location(row: _Row, postcodes: Postcodes | None) -> Location | None:
    address = row.text("address")
    raw_postcode = row.text("postcode")
    postcode = _format_postcode(raw_postcode) if raw_postcode else ""
    if row.value("lat") is not None or row.value("lon") is not None:
        lat = row.parse("lat", _parse_number)
        lon = row.parse("lon", _parse_number)
        for name, value in (("lat", lat), ("lon", lon)):
            if value is None and row.value(name) is None:
                row.add(name, "is empty: give both `lat` and `lon`")
        if lat is None or lon is None:
            return None
        if not -90 <= lat <= 90:
            hint = "; lat and lon look swapped" if -90 <= lon <= 90 else ""
            row.add("lat", f"latitude {lat} is outside -90…90{hint}")
            return None
        if not -180 <= lon <= 180:
            row.add("lon", f"longitude {lon} is outside -180…180")
            return None
        if not _in_gb(lat, lon) and _in_gb(lon, lat):
            row.add("lat", f"lat {lat}, lon {lon} look swapped (swapped they lie in Great Britain)")
            return None
        if lat == 0 and lon == 0:
            row.add("lat", "lat 0, lon 0 is not an address: the location is missing")
            return None
    elif row.value("easting") is not None or row.value("northing") is not None:
        easting = row.parse("easting", _parse_number)
        northing = row.parse("northing", _parse_number)
        for name, value in (("easting", easting), ("northing", northing)):
            if value is None and row.value(name) is None:
                row.add(name, "is empty: give both `easting` and `northing`")
        if easting is None or northing is None:
            return None
        if not (0 <= easting <= 700_000 and 0 <= northing <= 1_300_000):
            row.add(
                "easting",
                f"{easting:.0f}, {northing:.0f} is not a British National Grid "
                "point (easting 0…700000, northing 0…1300000 metres)",
            )
            return None
        lat, lon = bng_to_wgs84(easting, northing)
    elif raw_postcode:
        if postcodes is None:
            row.add("postcode", "a postcode needs a postcode lookup file (--postcodes) or lat, lon")
            return None
        found = postcodes.get(re.sub(r"\s+", "", raw_postcode).upper())
        if found is None:
            row.add("postcode", f"unknown postcode {raw_postcode!r} (not in the postcode lookup)")
            return None
        lat, lon = found
    else:
        column = next((c for c in ("lat", "easting", "postcode") if c in row.table.index), None)
        if column is not None:  # else the missing columns are reported once for the file
            row.add(column, "no location: give lat and lon, easting and northing, or a postcode")
        return None
    return Location(lat, lon, address=address, postcode=postcode)


# Rows to model arguments ------------------------------------------------------------------


@dataclass
class _Parsed:
    """One row's model arguments, kept with its row for cross-row checks."""

    row: _Row
    values: dict[str, Any]
    date: dt.date | None = None


def _parse_visit(row: _Row, mapping: _Mapping, postcodes: Postcodes | None) -> _Parsed:
    tf = mapping.time_format
    v: dict[str, Any] = {
        "visit_id": row.required("visit_id"),
        "client_id": row.required("client_id"),
    }
    row.required("day")
    day = row.parse("day", parse_day, fmt=mapping.day_format)
    v["day"], date = day if day is not None else (None, None)
    start = row.parse("start", parse_time, fmt=tf)
    w_start = row.parse("window_start", parse_time, fmt=tf)
    w_end = row.parse("window_end", parse_time, fmt=tf, end=True)
    tolerance = row.parse("tolerance_min", _parse_minutes)
    if tolerance is None:
        tolerance = DEFAULT_TOLERANCE_MIN * 60
    elif tolerance < 0:
        row.add("tolerance_min", "cannot be negative")
    given = {n: row.value(n) is not None for n in ("start", "window_start", "window_end")}
    if given["window_start"] or given["window_end"]:
        for name in ("window_start", "window_end"):
            if not given[name]:
                row.add(name, "is empty: give both `window_start` and `window_end`")
        if w_start is not None and w_end is not None:
            if w_end < w_start:
                row.add(
                    "window_end",
                    f"window ends ({format_time(w_end)}) before it starts ({format_time(w_start)})",
                )
            else:
                v["window"] = TimeWindow(w_start, w_end)
                if start is not None and not w_start <= start <= w_end:
                    row.warn(
                        "start",
                        f"planned start {format_time(start)} is outside the "
                        f"window {format_time(w_start)}-{format_time(w_end)}",
                    )
    elif start is not None:
        v["window"] = TimeWindow(max(0, start - tolerance), start + tolerance)
    elif not given["start"]:
        row.add("start", "is empty: give `start`, or `window_start` and `window_end`")
    v["planned_start"] = start
    row.required("duration_min")
    duration = row.parse("duration_min", _parse_minutes)
    if duration is not None:
        if duration <= 0:
            row.add(
                "duration_min",
                f"duration {_show(row.value('duration_min'))} must be more than 0 minutes",
            )
        elif duration <= SHORT_VISIT_SECONDS:
            row.warn(
                "duration_min",
                "a visit of 15 minutes or less is too short for personal "
                "care (UNISON Ethical Care Charter)",
            )
        v["duration"] = duration
    required = row.parse("carers_required", _parse_int)
    if required is not None and required not in (1, 2):
        row.add("carers_required", f"must be 1 or 2 (2 = double-handed), not {required}")
    v["carers_required"] = required if required in (1, 2) else 1
    v["location"] = _parse_location(row, postcodes)
    v["skills"] = _parse_skills(row.value("skills"))
    v["provider"] = row.text("provider")
    carer_ids = _parse_ids(row.value("carer_id"))
    if len(set(carer_ids)) != len(carer_ids):
        row.add("carer_id", "names the same carer twice")
    elif required in (1, 2) and len(carer_ids) > required:
        row.add("carer_id", f"{len(carer_ids)} carers given for a visit needing {required}")
    elif required == 2 and len(carer_ids) == 1:
        row.add("carer_id", "a double-handed visit has only one carer as-is: give both as A;B")
    v["carer_ids"] = carer_ids
    priority = row.parse("priority", _parse_int)
    v["priority"] = 1 if priority is None else priority
    v["preferred_carers"] = _parse_ids(row.value("preferred_carers"))
    v["excluded_carers"] = frozenset(_parse_ids(row.value("excluded_carers")))
    v["gender_preference"] = _parse_gender(row.value("gender_preference"))
    pinned = row.parse("pinned", _parse_bool)
    v["pinned"] = bool(pinned)
    if pinned and (not carer_ids or start is None):
        row.add(
            "pinned", "a pinned visit needs `carer_id` and `start` (the carer and time to keep)"
        )
    v["area"] = row.text("area")
    v["follows"] = row.text("follows")
    gap_min = row.parse("gap_min", _parse_minutes)
    gap_max = row.parse("gap_max", _parse_minutes)
    v["gap_min"] = gap_min or 0
    v["gap_max"] = gap_max or 0
    if v["follows"]:
        if v["follows"] == v["visit_id"]:
            row.add("follows", "a visit cannot follow itself")
        if row.value("gap_max") is None:
            row.add("gap_max", "is empty: a linked visit needs `gap_max` (minutes)")
        elif v["gap_min"] < 0 or v["gap_max"] < v["gap_min"]:
            row.add("gap_max", "must be at least `gap_min`, and neither negative")
    other = row.parse("follows_other_carer", _parse_bool)
    v["link_other_carer"] = bool(other)
    if other and not v["follows"]:
        row.add("follows_other_carer", "needs `follows` (the visit whose carer it must not have)")
    v["tasks"] = row.text("tasks")
    return _Parsed(row, v, date)


def _parse_carer(row: _Row, mapping: _Mapping, postcodes: Postcodes | None) -> _Parsed:
    c: dict[str, Any] = {"carer_id": row.required("carer_id"), "provider": row.required("provider")}
    mode = row.parse("mode", _parse_mode)
    c["mode"] = Mode.DRIVE if mode is None else mode
    c["base"] = _parse_location(row, postcodes)
    shifts = {}
    for day, name in enumerate(DAY_COLUMNS):
        day_shifts = row.parse(name, parse_shifts, fmt=mapping.time_format)
        if day_shifts:
            shifts[day] = day_shifts
    c["shifts"] = shifts
    if not shifts and row.ok:
        row.warn(None, "no shifts all week (mon … sun empty): this carer will get no visits")
    c["skills"] = _parse_skills(row.value("skills"))
    c["gender"] = _parse_gender(row.value("gender"))
    for name in ("max_minutes_day", "max_minutes_week", "contracted_minutes_week"):
        value = row.parse(name, _parse_int)
        if value is not None and value <= 0:
            row.add(name, "must be more than 0 minutes")
        c[name] = value
    cost = row.parse("cost_per_hour", _parse_number)
    if cost is not None and cost < 0:
        row.add("cost_per_hour", "cannot be negative")
    c["cost_per_hour"] = cost
    c["team"] = row.text("team")
    return _Parsed(row, c)


def _parse_provider(row: _Row, mapping: _Mapping, postcodes: Postcodes | None) -> _Parsed:
    p: dict[str, Any] = {"provider": row.required("provider"), "name": row.text("name")}
    kind = row.parse("kind", _parse_kind)
    p["kind"] = ProviderKind.EXTERNAL if kind is None else kind
    rate = row.parse("hourly_rate", _parse_number)
    if rate is not None and rate < 0:
        row.add("hourly_rate", "cannot be negative")
    p["hourly_rate"] = rate
    return _Parsed(row, p)


# Checks across rows ---------------------------------------------------------------------------


def _check_unique(parsed: list[_Parsed], key: str) -> None:
    first: dict[str, int] = {}
    for p in parsed:
        value = p.values[key]
        if not value:
            continue
        if value in first:
            p.row.add(key, f"{key} {value!r} is already used on row {first[value]}")
        else:
            first[value] = p.row.number


def _check_week(visits: list[_Parsed]) -> dt.date | None:
    week_start: dt.date | None = None
    first_row = 0
    for p in visits:
        if p.date is None:
            continue
        monday = p.date - dt.timedelta(days=p.date.weekday())
        if week_start is None:
            week_start, first_row = monday, p.row.number
        elif monday != week_start:
            p.row.add(
                "day",
                f"date {p.date.isoformat()} is in a different week from row "
                f"{first_row} (week of {week_start.isoformat()}): a roster holds one week",
            )
    return week_start


def _check_references(
    visits: list[_Parsed], carers: list[_Parsed], providers: list[_Parsed] | None
) -> None:
    provider_ids = None if providers is None else {p.values["provider"] for p in providers}
    carer_by_id = {c.values["carer_id"]: c.values for c in carers}
    if provider_ids is not None:
        for c in carers:
            if c.values["provider"] and c.values["provider"] not in provider_ids:
                c.row.add(
                    "provider", f"unknown provider {c.values['provider']!r} (not in providers)"
                )
    visit_day = {v.values["visit_id"]: v.values["day"] for v in visits}
    for v in visits:
        values = v.values
        if (
            provider_ids is not None
            and values["provider"]
            and values["provider"] not in provider_ids
        ):
            v.row.add("provider", f"unknown provider {values['provider']!r} (not in providers)")
        if carers:
            for cid in values["carer_ids"]:
                if cid not in carer_by_id:
                    v.row.add("carer_id", f"unknown carer {cid!r} (not in carers)")
            for name in ("preferred_carers", "excluded_carers"):
                unknown = sorted(set(values[name]) - set(carer_by_id))
                if unknown:
                    v.row.warn(name, f"unknown carer(s) {', '.join(unknown)} (not in carers)")
        known = [carer_by_id[c] for c in values["carer_ids"] if c in carer_by_id]
        if known and not values["provider"]:
            values["provider"] = known[0]["provider"]
        elif (
            known
            and (provider_ids is None or values["provider"] in provider_ids)
            and all(c["provider"] != values["provider"] for c in known)
        ):
            v.row.warn(
                "provider",
                f"carer {known[0]['carer_id']} works for "
                f"{known[0]['provider']}, not {values['provider']}",
            )
        follows = values["follows"]
        if follows and follows != values["visit_id"]:
            if follows not in visit_day:
                v.row.add("follows", f"follows unknown visit {follows!r} (not in visits)")
            elif visit_day[follows] != values["day"]:
                v.row.add("follows", f"follows visit {follows!r}, which is on another day")
    _check_cycles(visits)


def _check_cycles(visits: list[_Parsed]) -> None:
    after = {v.values["visit_id"]: v.values["follows"] for v in visits if v.values["follows"]}
    for v in visits:
        seen = {v.values["visit_id"]}
        current = after.get(v.values["visit_id"], "")
        while current in after:
            if current in seen:
                v.row.add("follows", "linked visits follow each other in a circle")
                break
            seen.add(current)
            current = after[current]


def _check_coverage(visits: list[_Parsed], carers: list[_Parsed]) -> None:
    """Warnings about visits no carer could do, and as-is allocations that cannot happen."""
    if not carers:
        return  # nothing to check against (the carers file is missing or empty)
    skills = set().union(*(c.values["skills"] for c in carers)) if carers else set()
    missing: dict[str, list[_Parsed]] = {}
    for v in visits:
        for skill in sorted(v.values["skills"] - skills):
            missing.setdefault(skill, []).append(v)
    for skill, rows in missing.items():
        ids = ", ".join(r.values["visit_id"] for r in rows[:5]) + (" …" if len(rows) > 5 else "")
        rows[0].row.warn(
            "skills",
            f"no carer has skill {skill!r}, needed by {len(rows)} "
            f"visit(s) ({ids}): they can never be assigned",
        )
    shifts = {c.values["carer_id"]: c.values["shifts"] for c in carers}
    busy: dict[tuple[str, int], list[tuple[int, int, _Parsed]]] = {}
    for v in visits:
        values = v.values
        if "window" not in values or "duration" not in values or values["day"] is None:
            continue
        day, window, duration = values["day"], values["window"], values["duration"]
        if carers and not any(
            s.start <= window.end and window.start + duration <= s.end
            for day_shifts in shifts.values()
            for s in day_shifts.get(day, ())
        ):
            v.row.warn(
                "start",
                f"no carer is on shift on {DAY_NAMES[day]} for this visit's window "
                f"{window} ({duration // 60} min): it cannot be assigned",
            )
        start = values["planned_start"]
        for cid in values["carer_ids"]:
            if cid not in shifts or start is None:
                continue
            if not any(
                s.start <= start and start + duration <= s.end for s in shifts[cid].get(day, ())
            ):
                v.row.warn(
                    "carer_id",
                    f"as-is carer {cid} is not on shift "
                    f"{format_time(start)}-{format_time(start + duration)} on {DAY_NAMES[day]}",
                )
            busy.setdefault((cid, day), []).append((start, start + duration, v))
    for (cid, _day), runs in busy.items():
        runs.sort(key=lambda r: r[0])
        for (_s1, e1, a), (s2, _e2, b) in itertools.pairwise(runs):
            if s2 < e1:
                b.row.warn(
                    "carer_id",
                    f"as-is carer {cid} is still at visit "
                    f"{a.values['visit_id']} (row {a.row.number}) when this one starts",
                )


def _check_locations(
    points: list[tuple[_Parsed, Location]], within: Callable[[float, float], bool] | None
) -> None:
    """Locations far from the rest that would fit if lat and lon were swapped; locations
    outside the road network (when `within` is given)."""
    if len(points) >= 5:
        mid_lat = statistics.median(loc.lat for _, loc in points)
        mid_lon = statistics.median(loc.lon for _, loc in points)
        for p, loc in points:
            far = abs(loc.lat - mid_lat) + abs(loc.lon - mid_lon) > 2
            swapped_near = abs(loc.lon - mid_lat) + abs(loc.lat - mid_lon) < 0.5
            if far and swapped_near:
                p.row.add(
                    "lat",
                    f"lat {loc.lat}, lon {loc.lon} look swapped (the other "
                    f"locations are near lat {mid_lat:.3f}, lon {mid_lon:.3f})",
                )
    if within is not None:
        for p, loc in points:
            if p.row.ok and not within(loc.lat, loc.lon):
                p.row.warn(
                    "lat",
                    f"location {loc.lat:.5f}, {loc.lon:.5f} is outside the road network's area",
                )


# Reading ------------------------------------------------------------------------------------

_PARSERS = {"visits": _parse_visit, "carers": _parse_carer, "providers": _parse_provider}


def validate_roster(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    postcodes: str | Path | None = None,
    within: Callable[[float, float], bool] | None = None,
) -> Validation:
    """Read a roster and report every problem in it.

    Parameters
    ----------
    path
        A folder holding ``visits.csv``, ``carers.csv``, ``providers.csv``, or an ``.xlsx``
        workbook with sheets ``visits``, ``carers``, ``providers``.
    mapping
        A TOML mapping file for another export's column names, sheet names and formats.
    postcodes
        A postcode lookup CSV (``postcode`` with ``lat``, ``lon`` or ``easting``, ``northing``).
    within
        ``within(lat, lon)`` is False for a location outside the road network's area (warned).

    Returns
    -------
    Validation
        The roster when there are no errors (else None), and every error and warning.
    """
    path = Path(path)
    report = _Report()
    rules = _Mapping() if mapping is None else _read_mapping(Path(mapping), report)
    lookup = None if postcodes is None else _read_postcodes(Path(postcodes), report)
    if rules is None or (postcodes is not None and lookup is None):
        return Validation(None, _ordered(report.problems))
    tables = _load_tables(path, rules, report)
    parsed: dict[str, list[_Parsed]] = {}
    for kind, table in tables.items():
        parse = _PARSERS[kind]
        parsed[kind] = [
            parse(_Row(table, n, cells, report), rules, lookup) for n, cells in table.rows
        ]
    visits, carers = parsed.get("visits", []), parsed.get("carers", [])
    providers = parsed.get("providers")
    for kind, key in (("visits", "visit_id"), ("carers", "carer_id"), ("providers", "provider")):
        _check_unique(parsed.get(kind, []), key)
    week_start = _check_week(visits)
    _check_references(visits, carers, providers)
    points = [(v, v.values["location"]) for v in visits if v.values["location"] is not None]
    points += [(c, c.values["base"]) for c in carers if c.values["base"] is not None]
    _check_locations(points, within)
    _check_coverage(visits, carers)
    if report.has_errors or len(parsed) < len(KINDS):
        return Validation(None, _ordered(report.problems))
    roster = _build(path, parsed, week_start, report)
    return Validation(roster, _ordered(report.problems))


def _build(
    path: Path, parsed: dict[str, list[_Parsed]], week_start: dt.date | None, report: _Report
) -> Roster | None:
    """Model objects from clean rows; any ModelError becomes a problem (a safety net)."""
    built: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    classes: dict[str, Callable[..., Any]] = {
        "visits": Visit,
        "carers": Carer,
        "providers": Provider,
    }
    for kind in KINDS:
        for p in parsed[kind]:
            try:
                built[kind].append(classes[kind](**p.values))
            except ModelError as exc:
                p.row.add(None, str(exc))
    if report.has_errors:
        return None
    try:
        return Roster(
            visits=tuple(built["visits"]),
            carers=tuple(built["carers"]),
            providers=tuple(built["providers"]),
            week_start=week_start,
            name=path.stem if path.suffix.lower() in (".xlsx", ".xlsm") else path.name,
        )
    except ModelError as exc:
        report.add(path.name, None, None, None, str(exc))
        return None


def _ordered(problems: list[Problem]) -> list[Problem]:
    """Errors first, then warnings, each in the order found."""
    return sorted(problems, key=lambda p: p.severity is Severity.WARNING)


def read_roster(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    postcodes: str | Path | None = None,
) -> Roster:
    """Read a roster (see :func:`validate_roster` for the arguments).

    Raises
    ------
    RosterError
        The roster has errors; the exception's ``problems`` lists every one.
    """
    validation = validate_roster(path, mapping=mapping, postcodes=postcodes)
    if validation.roster is None:
        raise RosterError(validation.problems)
    return validation.roster


# Writing ------------------------------------------------------------------------------------

_VISIT_COLUMNS = (
    "visit_id",
    "client_id",
    "day",
    "start",
    "window_start",
    "window_end",
    "duration_min",
    "carers_required",
    "lat",
    "lon",
    "address",
    "postcode",
    "skills",
    "provider",
    "carer_id",
    "priority",
    "preferred_carers",
    "excluded_carers",
    "gender_preference",
    "pinned",
    "area",
    "follows",
    "gap_min",
    "gap_max",
    "follows_other_carer",
    "tasks",
)
_CARER_COLUMNS = (
    "carer_id",
    "provider",
    "mode",
    "lat",
    "lon",
    "address",
    "postcode",
    *DAY_COLUMNS,
    "skills",
    "gender",
    "max_minutes_day",
    "max_minutes_week",
    "contracted_minutes_week",
    "cost_per_hour",
    "team",
)
_PROVIDER_COLUMNS = ("provider", "name", "kind", "hourly_rate")


def _minutes(seconds: int) -> int | float:
    return seconds // 60 if seconds % 60 == 0 else seconds / 60


def _time_cell(seconds: int | None) -> Any:
    """A time as a spreadsheet time (or ``HH:MM`` text past midnight, which Excel cannot hold)."""
    if seconds is None:
        return None
    if seconds < SECONDS_PER_DAY:
        return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    return _time_text(seconds)


def _time_text(seconds: int) -> str:
    text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def _shifts_text(shifts: Iterable[Shift]) -> str:
    return ";".join(f"{_time_text(s.start)}-{_time_text(s.end)}" for s in shifts)


def _coords(location: Location) -> tuple[float, float]:
    """Coordinates to 7 decimal places (about 1 cm): more than a spreadsheet keeps exactly."""
    return round(location.lat, 7), round(location.lon, 7)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _roster_rows(roster: Roster) -> dict[str, tuple[tuple[str, ...], list[list[Any]]]]:
    visits = []
    for v in roster.visits:
        date = roster.date_of(v.day)
        visits.append(
            [
                v.visit_id,
                v.client_id,
                date if date else DAY_NAMES[v.day],
                _time_cell(v.planned_start),
                _time_cell(v.window.start),
                _time_cell(v.window.end),
                _minutes(v.duration),
                v.carers_required,
                *_coords(v.location),
                v.location.address,
                v.location.postcode,
                ";".join(sorted(v.skills)),
                v.provider,
                ";".join(v.carer_ids),
                v.priority,
                ";".join(v.preferred_carers),
                ";".join(sorted(v.excluded_carers)),
                v.gender_preference,
                "yes" if v.pinned else "",
                v.area,
                v.follows,
                _minutes(v.gap_min) if v.follows or v.gap_min else None,
                _minutes(v.gap_max) if v.follows or v.gap_max else None,
                "yes" if v.link_other_carer else "",
                v.tasks,
            ]
        )
    carers = []
    for c in roster.carers:
        carers.append(
            [
                c.carer_id,
                c.provider,
                c.mode.value,
                *_coords(c.base),
                c.base.address,
                c.base.postcode,
                *(_shifts_text(c.shifts_on(d)) for d in range(7)),
                ";".join(sorted(c.skills)),
                c.gender,
                c.max_minutes_day,
                c.max_minutes_week,
                c.contracted_minutes_week,
                _money(c.cost_per_hour),
                c.team,
            ]
        )
    providers = [
        [p.provider, p.name, p.kind.value, _money(p.hourly_rate)] for p in roster.providers
    ]
    return {
        "visits": (_VISIT_COLUMNS, visits),
        "carers": (_CARER_COLUMNS, carers),
        "providers": (_PROVIDER_COLUMNS, providers),
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.time):
        return _time_text(value.hour * 3600 + value.minute * 60 + value.second)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(safe_cell(value))


def write_roster(roster: Roster, path: str | Path) -> Path:
    """Write a roster as a folder of CSVs, or as a workbook when `path` ends in ``.xlsx``.

    Every write is atomic and text cells are spreadsheet-safe. Coordinates are written to 7
    decimal places (about 1 cm) and money to 4; :func:`read_roster` reads the result back to an
    equal roster (apart from its ``name``, taken from the path).

    Returns
    -------
    Path
        The folder or workbook written.
    """
    path = Path(path)
    tables = _roster_rows(roster)
    if path.suffix.lower() == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        book.remove(book.active)  # type: ignore[arg-type]
        for kind, (columns, rows) in tables.items():
            ws = book.create_sheet(kind)
            ws.append(list(columns))
            for values in rows:
                ws.append([safe_cell(x) for x in values])
            for row in ws.iter_rows(min_row=2):
                for cell in row:
                    if isinstance(cell.value, dt.time):
                        cell.number_format = "hh:mm:ss" if cell.value.second else "hh:mm"
                    elif isinstance(cell.value, dt.date | dt.datetime):
                        cell.number_format = "yyyy-mm-dd"
        with atomic_path(path) as tmp:
            book.save(tmp)
        return path
    if path.suffix:
        msg = f"`path` {path} must be a folder (for CSVs) or end in .xlsx"
        raise InputError(msg)
    path.mkdir(parents=True, exist_ok=True)
    for kind, (columns, rows) in tables.items():
        with atomic_write(path / f"{kind}.csv", "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows([_csv_cell(x) for x in values] for values in rows)
    return path
