"""Exception reports: where a service manager must act, in plain English.

For each day and time band (morning 07–10, lunch 11–14, tea 16–19, bed 19–23 by default) the
**demand** — visit minutes, a double-handed visit counted once per carer — is set against the
**capacity** — carers' shift minutes, net of travel — by provider (and by area when the roster
has areas), and the report lists:

``capacity_short``
    demand > capacity in a band (high).
``capacity_near_short``
    demand > `near_short` × capacity (medium).
``over_daily_limit`` / ``over_weekly_limit``
    a carer's working minutes (visits + travel, the trip home included) above
    ``max_minutes_day`` / ``max_minutes_week`` (high).
``impossible_gap``
    a carer's next visit starts before the previous one ends plus the travel between them (high).
``spare_capacity``
    a carer with at least `spare_min` paid shift minutes in a band not spent on visits or travel,
    time that could be released to another provider's work (medium when another provider is
    short or nearly short in that band, else low).
``unassigned``
    every visit the plan leaves undone, with its reason (high for priority visits, else medium).

How minutes fall into bands: each interval counts in a band for the part of it that overlaps
the band (proportional overlap). A visit's interval is ``[start, start + duration]`` with the
start the plan assigns; for a visit without a carer (unassigned, or with no plan) the as-is
``planned_start``, else the middle of its window. Demand goes to the provider of the carer who
does it (the plan's, or the as-is ``carer_ids`` when there is no plan), else to the visit's
as-is ``provider``. Travel is the interval ``[start - travel_before, start]`` before each visit
and ``travel_home`` after the last; without a plan it is estimated as `travel_share` of the
shift minutes. A carer's area (for the capacity by area) is the area most of the visits they
do lie in.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from carerun._errors import InputError
from carerun.duplicates import check_plan_ids, write_safe_csv
from carerun.model import Plan, Roster, Visit, day_name, format_time

Band = tuple[str, int, int]
"""A time band: label, start and end in seconds from midnight."""

_H = 3600
DEFAULT_BANDS: tuple[Band, ...] = (
    ("morning", 7 * _H, 10 * _H),
    ("lunch", 11 * _H, 14 * _H),
    ("tea", 16 * _H, 19 * _H),
    ("bed", 19 * _H, 23 * _H),
)
DEFAULT_NEAR_SHORT = 0.9
DEFAULT_SPARE_MIN = 60
# A rough share of paid time spent travelling in UK home care, used only when there is no plan.
DEFAULT_TRAVEL_SHARE = 0.2
ALL = "all"

KINDS = (
    "capacity_short",
    "capacity_near_short",
    "over_daily_limit",
    "over_weekly_limit",
    "impossible_gap",
    "spare_capacity",
    "unassigned",
)
SEVERITIES = ("high", "medium", "low")
EXCEPTION_COLUMNS = [
    "kind",
    "severity",
    "day",
    "band",
    "provider",
    "area",
    "carer_id",
    "visit_id",
    "value",
    "message",
]
CAPACITY_COLUMNS = [
    "day",
    "band",
    "provider",
    "area",
    "demand_min",
    "shift_min",
    "travel_min",
    "capacity_min",
    "ratio",
]
GAP_COLUMNS = [
    "carer_id",
    "provider",
    "day",
    "prev_visit_id",
    "visit_id",
    "prev_end",
    "start",
    "travel_min",
    "gap_min",
    "short_min",
]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _check_bands(bands: Sequence[Band]) -> tuple[Band, ...]:
    labels = [b[0] for b in bands]
    if not bands:
        raise InputError("`bands` needs at least one (label, start, end) band")
    if len(set(labels)) != len(labels):
        msg = f"`bands` labels must be distinct, got {', '.join(labels)}"
        raise InputError(msg)
    for label, start, end in bands:
        if not 0 <= start < end:
            msg = f"band {label!r}: start must be before end (seconds from midnight)"
            raise InputError(msg)
    return tuple(bands)


def _band_text(band: Band) -> str:
    return f"{band[0]} ({format_time(band[1])}–{format_time(band[2])})"


def _expected_start(visit: Visit) -> int:
    if visit.planned_start is not None:
        return visit.planned_start
    return visit.window.start + visit.window.length // 2


@dataclass(frozen=True, slots=True)
class _Work:
    """One stretch of a day: a visit (demand) by a carer, or a carer's travel."""

    day: int
    start: float
    end: float
    carer_id: str
    provider: str
    area: str
    is_travel: bool = False


def _work(roster: Roster, plan: Plan | None) -> list[_Work]:
    """Visit and travel intervals; visits without a carer have ``carer_id == ""``."""
    provider_of = {c.carer_id: c.provider for c in roster.carers}
    out: list[_Work] = []
    done: Counter[str] = Counter()
    if plan is not None:
        for a in plan.assignments:
            v = roster.visit(a.visit_id)
            p = provider_of[a.carer_id]
            done[a.visit_id] += 1
            out.append(_Work(a.day, a.start, a.start + v.duration, a.carer_id, p, v.area))
            if a.travel_before:
                out.append(
                    _Work(a.day, a.start - a.travel_before, a.start, a.carer_id, p, v.area, True)
                )
        for (carer_id, day), run in plan.routes().items():
            home = plan.travel_home.get((carer_id, day), 0)
            if home:
                end = max(a.start + roster.visit(a.visit_id).duration for a in run)
                area = roster.visit(run[-1].visit_id).area
                out.append(_Work(day, end, end + home, carer_id, provider_of[carer_id], area, True))
    for v in roster.visits:
        start = _expected_start(v)
        carers = () if plan is not None else v.carer_ids
        for c in carers:
            out.append(_Work(v.day, start, start + v.duration, c, provider_of[c], v.area))
        missing = v.carers_required - done[v.visit_id] - len(carers)
        for _ in range(max(0, missing)):
            out.append(_Work(v.day, start, start + v.duration, "", v.provider, v.area))
    return out


def _carer_areas(work: Iterable[_Work]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for w in work:
        if w.carer_id and w.area and not w.is_travel:
            counts[w.carer_id][w.area] += 1
    return {c: min(n, key=lambda a: (-n[a], a)) for c, n in counts.items()}


def _capacity_records(
    roster: Roster,
    plan: Plan | None,
    bands: tuple[Band, ...],
    travel_share: float,
) -> list[dict[str, Any]]:
    work = _work(roster, plan)
    carer_area = _carer_areas(work)
    has_areas = any(v.area for v in roster.visits)
    # totals[(day, band, key, group)] = [demand, shift, travel] seconds; key is provider or area.
    totals: dict[tuple[int, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])

    def add(day: int, band: str, provider: str, area: str, i: int, secs: float) -> None:
        totals[(day, band, "provider", ALL)][i] += secs
        if provider:
            totals[(day, band, "provider", provider)][i] += secs
        if has_areas and area:
            totals[(day, band, "area", area)][i] += secs

    for w in work:
        for label, b0, b1 in bands:
            secs = _overlap(w.start, w.end, b0, b1)
            if secs:
                add(w.day, label, w.provider, w.area, 2 if w.is_travel else 0, secs)
    for c in roster.carers:
        area = carer_area.get(c.carer_id, "")
        for day in roster.days:
            for s in c.shifts_on(day):
                for label, b0, b1 in bands:
                    secs = _overlap(s.start, s.end, b0, b1)
                    add(day, label, c.provider, area, 1, secs)
                    if plan is None:
                        add(day, label, c.provider, area, 2, secs * travel_share)
    order = {b[0]: i for i, b in enumerate(bands)}
    rows = []
    for (day, band, key, group), (demand, shift, travel) in sorted(
        totals.items(),
        key=lambda kv: (
            kv[0][0],
            order[kv[0][1]],
            kv[0][2] != "provider",
            kv[0][3] != ALL,
            kv[0][3],
        ),
    ):
        if not demand and not shift:
            continue
        capacity = max(0.0, shift - travel)
        ratio = demand / capacity if capacity else float("inf") if demand else float("nan")
        rows.append(
            {
                "day": day_name(day),
                "band": band,
                "provider": group if key == "provider" else "",
                "area": group if key == "area" else "",
                "demand_min": round(demand / 60, 1),
                "shift_min": round(shift / 60, 1),
                "travel_min": round(travel / 60, 1),
                "capacity_min": round(capacity / 60, 1),
                "ratio": round(ratio, 3),
            }
        )
    return rows


def capacity_table(
    roster: Roster,
    plan: Plan | None = None,
    *,
    bands: Sequence[Band] = DEFAULT_BANDS,
    travel_share: float = DEFAULT_TRAVEL_SHARE,
) -> pd.DataFrame:
    """Demand against capacity per day, band and provider (``"all"`` = everyone pooled).

    Rows by area follow (``provider`` empty, ``area`` set) when the roster's visits have areas.
    Minutes throughout; ``ratio`` = demand / capacity (``inf`` when there is demand and no
    capacity). See the module docstring for how minutes fall into bands.

    Parameters
    ----------
    roster
        Visits, carers' shifts and carer → provider.
    plan
        The plan (as-is or optimised) giving starts and travel; ``None`` uses the roster's
        as-is allocation and estimates travel as `travel_share` of shift minutes.
    bands
        ``(label, start, end)`` with times in seconds from midnight.
    travel_share
        Share of shift time lost to travel when there is no plan (0 … 1).
    """
    bands = _check_bands(bands)
    if not 0.0 <= travel_share < 1.0:
        msg = f"`travel_share` must be from 0 up to (not including) 1, not {travel_share}"
        raise InputError(msg)
    if plan is not None:
        check_plan_ids(roster, plan)
    return pd.DataFrame(
        _capacity_records(roster, plan, bands, travel_share), columns=CAPACITY_COLUMNS
    )


def gap_shortfalls(roster: Roster, plan: Plan, *, planned: bool = False) -> pd.DataFrame:
    """Back-to-back visits a carer cannot make: the next start comes before the previous end
    plus the travel to the next door (``next.start < prev.start + prev.duration +
    next.travel_before``).

    Parameters
    ----------
    planned
        Measure on the roster's planned times (``planned_start``, else the window's start)
        instead of the plan's starts. An as-is plan is *played out* (a late carer starts on
        arrival), so its own starts never clash; what the roster asks of the carer does. The
        travel is still the plan's ``travel_before``, from the previous visit of the run.

    Returns
    -------
    pandas.DataFrame
        One row per such pair: ``carer_id``, ``provider``, ``day``, ``prev_visit_id``,
        ``visit_id``, ``prev_end`` and ``start`` (HH:MM), and minutes ``travel_min``,
        ``gap_min`` (previous end to next start) and ``short_min`` (travel less gap).
    """
    return pd.DataFrame([r for r, _ in _gap_records(roster, plan, planned)], columns=GAP_COLUMNS)


def _asked_start(visit: Visit) -> int:
    return visit.window.start if visit.planned_start is None else visit.planned_start


def _gap_records(roster: Roster, plan: Plan, planned: bool) -> list[tuple[dict[str, Any], int]]:
    rows = []
    for (carer_id, day), run in plan.routes().items():
        provider = roster.carer(carer_id).provider
        begin = {
            a.visit_id: _asked_start(roster.visit(a.visit_id)) if planned else a.start for a in run
        }
        for prev, nxt in itertools.pairwise(run):
            prev_end = begin[prev.visit_id] + roster.visit(prev.visit_id).duration
            gap = begin[nxt.visit_id] - prev_end
            if gap < nxt.travel_before:
                rows.append(
                    (
                        {
                            "carer_id": carer_id,
                            "provider": provider,
                            "day": day_name(day),
                            "prev_visit_id": prev.visit_id,
                            "visit_id": nxt.visit_id,
                            "prev_end": format_time(prev_end),
                            "start": format_time(begin[nxt.visit_id]),
                            "travel_min": round(nxt.travel_before / 60, 1),
                            "gap_min": round(gap / 60, 1),
                            "short_min": round((nxt.travel_before - gap) / 60, 1),
                        },
                        begin[nxt.visit_id],
                    )
                )
    return rows


def _row(kind: str, severity: str, message: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EXCEPTION_COLUMNS, "")
    row.update(fields, kind=kind, severity=severity, message=message)
    if row["value"] == "":
        row["value"] = float("nan")
    return row


def _capacity_exceptions(
    cap: list[dict[str, Any]], bands: tuple[Band, ...], near_short: float
) -> Iterator[dict[str, Any]]:
    band_of = {b[0]: b for b in bands}
    for r in cap:
        ratio = r["ratio"]
        if r["demand_min"] == 0 or ratio <= near_short:
            continue
        who = (
            "all providers together"
            if r["provider"] == ALL
            else f"provider {r['provider']}"
            if r["provider"]
            else f"area {r['area']}"
        )
        where = f"{r['day']} {_band_text(band_of[r['band']])}, {who}"
        need = (
            f"{r['demand_min']:.0f} min of visits against {r['capacity_min']:.0f} min"
            " of carer time after travel"
        )
        at = {k: r[k] for k in ("day", "band", "provider", "area")}
        if ratio > 1:
            short = r["demand_min"] - r["capacity_min"]
            yield _row(
                "capacity_short",
                "high",
                f"{where}: {need}; short by {short:.0f} min.",
                value=ratio,
                **at,
            )
        else:
            yield _row(
                "capacity_near_short",
                "medium",
                f"{where}: {need} ({ratio:.0%} used); little slack left.",
                value=ratio,
                **at,
            )


def _limit_exceptions(roster: Roster, plan: Plan) -> Iterator[dict[str, Any]]:
    week: Counter[str] = Counter()
    for (carer_id, day), run in plan.routes().items():
        carer = roster.carer(carer_id)
        secs = sum(roster.visit(a.visit_id).duration + a.travel_before for a in run)
        secs += plan.travel_home.get((carer_id, day), 0)
        week[carer_id] += secs
        limit = carer.max_minutes_day
        if limit is not None and secs > limit * 60:
            over = secs / 60 - limit
            yield _row(
                "over_daily_limit",
                "high",
                f"Carer {carer_id} ({carer.provider}) works {secs / 60:.0f} min on {day_name(day)}"
                f" (visits and travel), {over:.0f} min over their daily limit of {limit} min.",
                day=day_name(day),
                provider=carer.provider,
                carer_id=carer_id,
                value=round(over, 1),
            )
    for carer_id, secs in sorted(week.items()):
        carer = roster.carer(carer_id)
        limit = carer.max_minutes_week
        if limit is not None and secs > limit * 60:
            over = secs / 60 - limit
            yield _row(
                "over_weekly_limit",
                "high",
                f"Carer {carer_id} ({carer.provider}) works {secs / 60:.0f} min this week"
                f" (visits and travel), {over:.0f} min over their weekly limit of {limit} min.",
                provider=carer.provider,
                carer_id=carer_id,
                value=round(over, 1),
            )


def _gap_exceptions(
    roster: Roster, plan: Plan, bands: tuple[Band, ...], planned: bool
) -> Iterator[dict[str, Any]]:
    for r, t in _gap_records(roster, plan, planned):
        yield _row(
            "impossible_gap",
            "high",
            f"Carer {r['carer_id']} ({r['provider']}) on {r['day']} cannot reach visit"
            f" {r['visit_id']} by {r['start']}: visit {r['prev_visit_id']} ends {r['prev_end']}"
            f" and the journey takes {_minutes(r['travel_min'])}"
            f" ({_minutes(r['short_min'])} short).",
            day=r["day"],
            band=_band_of(t, bands),
            provider=r["provider"],
            area=roster.visit(r["visit_id"]).area,
            carer_id=r["carer_id"],
            visit_id=r["visit_id"],
            value=r["short_min"],
        )


def _minutes(x: float) -> str:
    return "under a minute" if 0 < x < 0.5 else f"{x:.0f} min"


def _band_of(t: int, bands: tuple[Band, ...]) -> str:
    return next((label for label, b0, b1 in bands if b0 <= t < b1), "")


def _spare_exceptions(
    roster: Roster,
    plan: Plan,
    bands: tuple[Band, ...],
    spare_min: float,
    tight: set[tuple[str, str, str]],
) -> Iterator[dict[str, Any]]:
    busy: dict[tuple[str, int, str], float] = defaultdict(float)
    for w in _work(roster, plan):
        if w.carer_id:
            for label, b0, b1 in bands:
                busy[(w.carer_id, w.day, label)] += _overlap(w.start, w.end, b0, b1)
    for c in roster.carers:
        for day in roster.days:
            for band in bands:
                label, b0, b1 = band
                paid = sum(_overlap(s.start, s.end, b0, b1) for s in c.shifts_on(day))
                spare = (paid - busy[(c.carer_id, day, label)]) / 60
                if spare < spare_min:
                    continue
                needed = sorted(
                    p
                    for d, b, p in tight
                    if d == day_name(day) and b == label and p not in (c.provider, ALL)
                )
                to = f" (needed by {', '.join(needed)})" if needed else ""
                yield _row(
                    "spare_capacity",
                    "medium" if needed else "low",
                    f"Carer {c.carer_id} ({c.provider}) has {spare:.0f} min of paid time free in"
                    f" the {day_name(day)} {_band_text(band)} band that could be released to"
                    f" another provider's work{to}.",
                    day=day_name(day),
                    band=label,
                    provider=c.provider,
                    carer_id=c.carer_id,
                    value=round(spare, 1),
                )


def _unassigned_exceptions(
    roster: Roster, plan: Plan, bands: tuple[Band, ...]
) -> Iterator[dict[str, Any]]:
    for u in plan.unassigned:
        v = roster.visit(u.visit_id)
        t = _expected_start(v)
        yield _row(
            "unassigned",
            "high" if v.priority > 1 else "medium",
            f"Visit {v.visit_id} for client {v.client_id} ({day_name(v.day)} {format_time(t)},"
            f" {v.duration / 60:.0f} min) is unassigned: {u.reason.value}.",
            day=day_name(v.day),
            band=_band_of(t, bands),
            provider=v.provider,
            area=v.area,
            visit_id=v.visit_id,
            value=round(v.duration / 60, 1),
        )


def exceptions_frame(
    roster: Roster,
    plan: Plan | None,
    *,
    bands: Sequence[Band] = DEFAULT_BANDS,
    near_short: float = DEFAULT_NEAR_SHORT,
    spare_min: float = DEFAULT_SPARE_MIN,
    travel_share: float = DEFAULT_TRAVEL_SHARE,
    planned_gaps: bool = False,
) -> pd.DataFrame:
    """Every exception a service manager should see, most severe first.

    Columns: ``kind`` (see the module docstring), ``severity`` (high / medium / low), ``day``,
    ``band``, ``provider``, ``area``, ``carer_id``, ``visit_id`` (empty where they do not
    apply), ``value`` (the kind's figure: demand/capacity ratio, minutes over the limit, minutes
    short, spare minutes, or the unassigned visit's minutes) and ``message``. Without a plan
    only the capacity exceptions (as-is allocation, estimated travel) can be found.

    Parameters
    ----------
    near_short
        Flag a band as nearly short when demand exceeds this share of capacity (0 … 1).
    spare_min
        Flag a carer with at least this many free paid minutes in a band.
    planned_gaps
        Find impossible gaps on the roster's planned times (use it for an as-is plan, which
        is played out); see :func:`gap_shortfalls`.
    """
    bands = _check_bands(bands)
    if not 0.0 < near_short <= 1.0:
        msg = f"`near_short` must be more than 0 and at most 1, not {near_short}"
        raise InputError(msg)
    if not 0.0 <= travel_share < 1.0:
        msg = f"`travel_share` must be from 0 up to (not including) 1, not {travel_share}"
        raise InputError(msg)
    if plan is not None:
        check_plan_ids(roster, plan)
    cap = _capacity_records(roster, plan, bands, travel_share)
    rows = list(_capacity_exceptions(cap, bands, near_short))
    if plan is not None:
        tight = {(r["day"], r["band"], r["provider"]) for r in rows if r["provider"]}
        rows += _limit_exceptions(roster, plan)
        rows += _gap_exceptions(roster, plan, bands, planned_gaps)
        rows += _spare_exceptions(roster, plan, bands, spare_min, tight)
        rows += _unassigned_exceptions(roster, plan, bands)
    frame = pd.DataFrame(rows, columns=EXCEPTION_COLUMNS)
    day_rank = {day_name(d): d for d in range(7)}
    band_rank = {b[0]: i for i, b in enumerate(bands)}
    keys = pd.DataFrame(
        {
            "s": frame["severity"].map(SEVERITIES.index),
            "k": frame["kind"].map(KINDS.index),
            "d": frame["day"].map(lambda d: day_rank.get(d, 7)),
            "b": frame["band"].map(lambda b: band_rank.get(b, len(bands))),
        }
    )
    order = keys.assign(i=range(len(frame))).sort_values(["s", "d", "b", "k", "i"]).index
    return frame.loc[order].reset_index(drop=True)


def exceptions_summary(frame: pd.DataFrame, plan: Plan | None = None) -> dict[str, Any]:
    """Counts for ``summary.json``: exceptions by kind and by severity, unassigned by reason."""
    out: dict[str, Any] = {
        "by_kind": {k: int((frame["kind"] == k).sum()) for k in KINDS},
        "by_severity": {s: int((frame["severity"] == s).sum()) for s in SEVERITIES},
    }
    if plan is not None:
        out["unassigned_by_reason"] = dict(
            sorted(Counter(u.reason.value for u in plan.unassigned).items())
        )
    return out


def write_exceptions_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``exceptions.csv`` atomically, every text cell spreadsheet-safe; return its path."""
    return write_safe_csv(frame, path)
