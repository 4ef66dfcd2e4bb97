"""Place a new package of care into a plan that is already running.

A client comes home from hospital and the provider for their area cannot take them: which
provider could, with which carers, at what extra travel? :func:`place_package` answers for each
provider alone and for "any provider", without touching anyone else's care: every existing
assignment keeps its carer and its start time.

Method (greedy cheapest insertion, per option):

1. The package's visits are taken in time order (day, window start). Each goes into the carer-day
   where it is cheapest to insert: a carer of the option who has the skills, is not excluded,
   meets the gender preference (always a hard rule here: a new client gets what they asked for)
   and is on shift, between two stops of the same shift part (a stop is a visit or the carer's
   base at the start or end of the shift part). The carer may wait, so the visit starts at the
   earliest time at or after its window opens that they can get there; they must still reach
   the next visit by its fixed start, or get home by the end of the shift, and stay within
   their daily and weekly working-time limits (measured as :func:`carerun.check.check` does).
2. Cheapest means: fewest carers the client has not seen yet in this placement (continuity
   first), then least extra travel (``t(prev, new) + t(new, next) - t(prev, next)``), then carer
   id. A carer on shift with no visits that day is a candidate too (from base and back).
3. A double-handed visit needs two different carers whose feasible start intervals overlap; it
   starts at the earliest common time. A linked visit (``follows``) must start within its gap
   after the visit it follows, which must have been placed.
4. The merged plan (old + new) is checked with :func:`carerun.check.check`; a hard violation
   that the old plan did not already have is a bug and raises :class:`~carerun.PlanCheckError`.

Options are ranked by visits absorbed (most first), then extra travel, then different carers.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path

import pandas as pd

from carerun._errors import InputError, PlanCheckError
from carerun._io import FORMULA_PREFIXES
from carerun.check import check
from carerun.matrix import TravelMatrix
from carerun.model import (
    Assignment,
    Carer,
    Plan,
    Roster,
    Shift,
    Unassigned,
    UnassignedReason,
    Visit,
    day_name,
    format_time,
)
from carerun.outputs import write_csv

ANY_PROVIDER = "any"
PLACEMENT_COLUMNS = [
    "rank",
    "option",
    "absorbed",
    "visits",
    "extra_travel_min",
    "different_carers",
    "carer_ids",
    "not_absorbed",
]
PLACEMENT_VISIT_COLUMNS = [
    "rank",
    "option",
    "visit_id",
    "day",
    "window",
    "carers_required",
    "carer_ids",
    "start",
    "extra_travel_min",
    "reason",
]


class PlaceReason(StrEnum):
    """Why a visit of the package could not be absorbed by an option."""

    NO_SKILL = UnassignedReason.NO_SKILL.value
    EXCLUDED = UnassignedReason.EXCLUDED.value
    NO_SHIFT = "no shift covers the window"
    HOURS = "every gap would break a working-time limit"
    NO_GAP = "no gap in any route"
    LINK = "the visit it follows could not be absorbed"


_AS_UNASSIGNED = {
    PlaceReason.NO_SKILL: UnassignedReason.NO_SKILL,
    PlaceReason.EXCLUDED: UnassignedReason.EXCLUDED,
    PlaceReason.NO_SHIFT: UnassignedReason.NO_SHIFT,
    PlaceReason.HOURS: UnassignedReason.CAPACITY,
    PlaceReason.NO_GAP: UnassignedReason.CAPACITY,
    PlaceReason.LINK: UnassignedReason.LINK,
}


@dataclass(frozen=True, slots=True)
class NotAbsorbed:
    """A visit of the package an option cannot take, and why."""

    visit_id: str
    reason: PlaceReason


@dataclass(frozen=True)
class Placement:
    """One way of absorbing the package: a provider (or ``"any"``) and what it gives.

    Attributes
    ----------
    option
        The provider id whose carers may take the visits, or :data:`ANY_PROVIDER`.
    assignments
        The new visits' assignments (a double-handed visit has two).
    not_absorbed
        The visits left out, each with its reason.
    extra_by_visit
        Per absorbed visit, the seconds of travel its insertion added (both carers' when
        double-handed).
    plan
        The whole merged plan: the old one untouched plus the new assignments (and the visits
        left out as unassigned), checked against the roster with the package added.
    """

    option: str
    assignments: tuple[Assignment, ...]
    not_absorbed: tuple[NotAbsorbed, ...]
    extra_by_visit: Mapping[str, int]
    plan: Plan = field(repr=False)

    @property
    def extra_travel(self) -> int:
        """Seconds of travel the placement adds to the carers' days."""
        return sum(self.extra_by_visit.values())

    @property
    def visits(self) -> int:
        """How many visits the package has."""
        return len({a.visit_id for a in self.assignments}) + len(self.not_absorbed)

    @property
    def absorbed(self) -> int:
        return len({a.visit_id for a in self.assignments})

    @property
    def carer_ids(self) -> tuple[str, ...]:
        """The different carers the client would see, by id."""
        return tuple(sorted({a.carer_id for a in self.assignments}))


# Reading -----------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Undo :func:`~carerun._io.safe_cell`'s apostrophe on a cell read back."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def read_plan_folder(path: str | Path, roster: Roster, matrix: TravelMatrix | None = None) -> Plan:
    """Rebuild the :class:`~carerun.model.Plan` of a plan folder from its ``assignments.csv``.

    Parameters
    ----------
    path
        A plan folder written by :func:`carerun.outputs.write_plan_folder` (or a spreadsheet
        edited by hand and saved with the same columns: ``visit_id``, ``carer_id``, ``start``).
    roster
        The roster the plan is for.
    matrix
        Travel times: each assignment's ``travel_before`` and every shift part's journey home are
        recomputed from it (the file keeps minutes rounded to two decimals); without it the
        file's ``travel_before_min`` is used and journeys home are unknown (zero).

    Returns
    -------
    Plan
        The assignments (starts to the minute, as the file holds them) and, as unassigned, every
        visit of the planned days without a carer (reason from ``unassigned.csv`` when listed).

    Raises
    ------
    InputError
        The folder or its ``assignments.csv`` is missing, or a row names a visit or carer the
        roster lacks, or is malformed.
    """
    from carerun.roster import parse_time

    folder = Path(path)
    if not folder.is_dir():
        msg = f"no plan folder at {folder}"
        raise InputError(msg)
    rows = _read_rows(folder / "assignments.csv", required=True)
    visit_ids = {v.visit_id for v in roster.visits}
    carer_ids = {c.carer_id for c in roster.carers}
    assignments: list[Assignment] = []
    for n, row in enumerate(rows, start=2):
        where = f"{folder.name}/assignments.csv row {n}"
        vid, cid = _plain(row.get("visit_id", "")), _plain(row.get("carer_id", ""))
        if vid not in visit_ids:
            msg = f"{where}: visit {vid!r} is not in the roster"
            raise InputError(msg)
        if cid not in carer_ids:
            msg = f"{where}: carer {cid!r} is not in the roster"
            raise InputError(msg)
        try:
            start = parse_time(row.get("start", ""), end=True)
            travel = round(float(row.get("travel_before_min") or 0) * 60)
        except (InputError, ValueError) as exc:
            msg = f"{where}: {exc}"
            raise InputError(msg) from None
        assignments.append(Assignment(vid, cid, roster.visit(vid).day, start, max(0, travel)))
    reasons = {
        _plain(r.get("visit_id", "")): r.get("reason", "")
        for r in _read_rows(folder / "unassigned.csv", required=False)
    }
    known = {r.value: r for r in UnassignedReason}
    days = {a.day for a in assignments} | {roster.visit(v).day for v in reasons if v in visit_ids}
    done = {a.visit_id for a in assignments}
    unassigned = tuple(
        Unassigned(v.visit_id, known.get(reasons.get(v.visit_id, ""), UnassignedReason.CAPACITY))
        for v in roster.visits
        if v.day in days and v.visit_id not in done
    )
    plan = Plan(tuple(assignments), unassigned, label=folder.name)
    return plan if matrix is None else _with_travel(roster, plan, matrix)


def _read_rows(path: Path, *, required: bool) -> list[dict[str, str]]:
    if not path.is_file():
        if required:
            msg = f"{path.parent}: not a plan folder (no {path.name})"
            raise InputError(msg)
        return []
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    need = {"visit_id", "carer_id", "start"} if path.name == "assignments.csv" else {"visit_id"}
    missing = sorted(need - {(h or "").strip().lower() for h in reader.fieldnames or ()})
    if missing:
        msg = f"{path}: missing column(s) {', '.join(missing)}"
        raise InputError(msg)
    return [
        {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
    ]


def read_package(path: str | Path, roster: Roster) -> tuple[Visit, ...]:
    """Read a new client's visits (a visits CSV in the roster schema) against `roster`.

    The file is read by :func:`carerun.roster.read_roster` beside the roster's own carers and
    providers, so it accepts every column, alias and format a roster's ``visits.csv`` does, and
    names ``carer_id``, ``provider`` etc. only as `roster` knows them.

    Parameters
    ----------
    path
        A ``.csv`` of visits, or a folder holding ``visits.csv``.
    roster
        The roster the package joins (its carers and providers).

    Raises
    ------
    RosterError
        The visits have errors (each with row and column).
    InputError
        The file is missing, or a visit id is already used in `roster`.
    """
    from carerun.roster import RosterError, read_roster, write_roster

    source = Path(path)
    if source.is_dir():
        source = source / "visits.csv"
    if not source.is_file():
        msg = f"no package of visits at {path} (a visits .csv, or a folder holding visits.csv)"
        raise InputError(msg)
    if source.suffix.lower() != ".csv":
        msg = f"{source}: a package is a visits .csv in the roster schema"
        raise InputError(msg)
    with tempfile.TemporaryDirectory(prefix="carerun-package-") as tmp:
        folder = Path(tmp) / "package"
        write_roster(roster.replace(visits=()), folder)
        shutil.copyfile(source, folder / "visits.csv")
        try:
            visits = read_roster(folder).visits
        except RosterError as exc:
            # Name the user's file, not the temporary copy.
            problems = [
                p if p.file != "visits.csv" else dataclasses.replace(p, file=source.name)
                for p in exc.problems
            ]
            raise RosterError(problems) from None
    clash = sorted({v.visit_id for v in visits} & {v.visit_id for v in roster.visits})
    if clash:
        msg = f"{source.name}: visit id(s) already in the roster: {', '.join(clash[:10])}"
        raise InputError(msg)
    if not visits:
        msg = f"{source.name}: the package has no visits"
        raise InputError(msg)
    return visits


# Placing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stop:
    visit: Visit
    start: int

    @property
    def end(self) -> int:
        return self.start + self.visit.duration


@dataclass(frozen=True, slots=True)
class _Gap:
    """Where a visit can go in one carer's shift part: feasible starts ``[lo, hi]``."""

    carer: Carer
    lo: int
    hi: int
    extra: int


class _Routes:
    """The carer-days of a plan as stops, with travel and working time, updated as we insert."""

    def __init__(self, roster: Roster, plan: Plan, matrix: TravelMatrix) -> None:
        self.roster = roster
        self.matrix = matrix
        self.stops: dict[tuple[str, int], list[_Stop]] = {}
        for (cid, day), run in plan.routes().items():
            self.stops[cid, day] = [_Stop(roster.visit(a.visit_id), a.start) for a in run]
        self.work_day = {
            key: self._work(roster.carer(key[0]), key[1], run) for key, run in self.stops.items()
        }
        self.work_week: dict[str, int] = {}
        for (cid, _), secs in self.work_day.items():
            self.work_week[cid] = self.work_week.get(cid, 0) + secs

    def time(self, carer: Carer, a: Visit | None, b: Visit | None) -> int:
        """Seconds from `a` to `b` by the carer's mode; None is the carer's base."""
        pa = carer.base.point if a is None else a.location.point
        pb = carer.base.point if b is None else b.location.point
        return self.matrix.time(carer.mode, pa, pb)

    def _work(self, carer: Carer, day: int, run: Sequence[_Stop]) -> int:
        """Working seconds as :func:`carerun.check.check` counts them: per shift part, leaving
        base to getting back."""
        total = 0
        for shift in carer.shifts_on(day):
            part = [s for s in run if shift.start <= s.start and s.end <= shift.end]
            if part:
                first, last = part[0], part[-1]
                total += last.end + self.time(carer, last.visit, None)
                total -= first.start - self.time(carer, None, first.visit)
        return total

    def gaps(
        self, carer: Carer, visit: Visit, earliest: int, latest: int
    ) -> tuple[list[_Gap], bool]:
        """Every place `visit` fits in `carer`'s day, starting in ``[earliest, latest]``; and
        whether some fitted in time but broke a working-time limit."""
        day = visit.day
        run = self.stops.get((carer.carer_id, day), [])
        out: list[_Gap] = []
        over_hours = False
        for shift in carer.shifts_on(day):
            part = [s for s in run if shift.start <= s.start and s.end <= shift.end]
            outside = [s for s in run if s not in part]
            bounds: list[_Stop | None] = [None, *part, None]
            for prev, nxt in pairwise(bounds):
                gap = self._fit(carer, shift, visit, prev, nxt, earliest, latest)
                if gap is None or any(
                    s.start < gap.lo + visit.duration and gap.lo < s.end for s in outside
                ):
                    continue
                if self.over_hours(carer, day, visit, gap.lo):
                    over_hours = True
                    continue
                out.append(gap)
        return out, over_hours

    def _fit(
        self,
        carer: Carer,
        shift: Shift,
        visit: Visit,
        prev: _Stop | None,
        nxt: _Stop | None,
        earliest: int,
        latest: int,
    ) -> _Gap | None:
        there = self.time(carer, None if prev is None else prev.visit, visit)
        back = self.time(carer, visit, None if nxt is None else nxt.visit)
        free = shift.start if prev is None else prev.end
        due = shift.end if nxt is None else nxt.start
        lo = max(earliest, free + there)
        hi = min(latest, due - back - visit.duration)
        if lo > hi:
            return None
        before = 0
        if prev is not None or nxt is not None:
            before = self.time(
                carer, None if prev is None else prev.visit, None if nxt is None else nxt.visit
            )
        return _Gap(carer, lo, hi, there + back - before)

    def over_hours(self, carer: Carer, day: int, visit: Visit, start: int) -> bool:
        if carer.max_minutes_day is None and carer.max_minutes_week is None:
            return False
        key = (carer.carer_id, day)
        run = sorted([*self.stops.get(key, []), _Stop(visit, start)], key=lambda s: s.start)
        added = self._work(carer, day, run) - self.work_day.get(key, 0)
        if carer.max_minutes_day is not None and (
            self.work_day.get(key, 0) + added > carer.max_minutes_day * 60
        ):
            return True
        return carer.max_minutes_week is not None and (
            self.work_week.get(carer.carer_id, 0) + added > carer.max_minutes_week * 60
        )

    def insert(self, carer: Carer, visit: Visit, start: int) -> None:
        key = (carer.carer_id, visit.day)
        run = sorted([*self.stops.get(key, []), _Stop(visit, start)], key=lambda s: s.start)
        self.stops[key] = run
        work = self._work(carer, visit.day, run)
        self.work_week[carer.carer_id] = (
            self.work_week.get(carer.carer_id, 0) + work - self.work_day.get(key, 0)
        )
        self.work_day[key] = work


def _suitable(visit: Visit, carer: Carer) -> bool:
    pref = visit.gender_preference.strip().lower()
    return carer.carer_id not in visit.excluded_carers and (
        not pref or carer.gender.strip().lower() == pref
    )


def _on_shift(routes: _Routes, carer: Carer, visit: Visit, earliest: int, latest: int) -> bool:
    """Whether some shift could hold the visit on an empty day (from base and back)."""
    for shift in carer.shifts_on(visit.day):
        begin = max(earliest, shift.start + routes.time(carer, None, visit))
        back = routes.time(carer, visit, None)
        if begin <= latest and begin + visit.duration + back <= shift.end:
            return True
    return False


def _why(
    routes: _Routes,
    visit: Visit,
    pool: Sequence[Carer],
    earliest: int,
    latest: int,
    over_hours: bool,
) -> PlaceReason:
    need = visit.carers_required
    skilled = [c for c in pool if visit.skills <= c.skills]
    if len(skilled) < need:
        return PlaceReason.NO_SKILL
    allowed = [c for c in skilled if _suitable(visit, c)]
    if len(allowed) < need:
        return PlaceReason.EXCLUDED
    if sum(_on_shift(routes, c, visit, earliest, latest) for c in allowed) < need:
        return PlaceReason.NO_SHIFT
    return PlaceReason.HOURS if over_hours else PlaceReason.NO_GAP


def _best_single(gaps: list[_Gap], seen: set[str]) -> tuple[_Gap, ...] | None:
    if not gaps:
        return None
    best = min(gaps, key=lambda g: (g.carer.carer_id not in seen, g.extra, g.carer.carer_id, g.lo))
    return (best,)


def _best_pair(gaps: list[_Gap], seen: set[str]) -> tuple[_Gap, ...] | None:
    best: tuple[tuple[int, int, str, str, int], tuple[_Gap, ...]] | None = None
    for i, a in enumerate(gaps):
        for b in gaps[i + 1 :]:
            if a.carer.carer_id == b.carer.carer_id:
                continue
            start = max(a.lo, b.lo)
            if start > min(a.hi, b.hi):
                continue
            first, second = sorted((a, b), key=lambda g: g.carer.carer_id)
            new = (a.carer.carer_id not in seen) + (b.carer.carer_id not in seen)
            key = (new, a.extra + b.extra, first.carer.carer_id, second.carer.carer_id, start)
            if best is None or key < best[0]:
                best = (
                    key,
                    (_Gap(a.carer, start, start, a.extra), _Gap(b.carer, start, start, b.extra)),
                )
    return None if best is None else best[1]


def _place_option(
    roster: Roster,
    plan: Plan,
    package: Sequence[Visit],
    matrix: TravelMatrix,
    option: str,
) -> tuple[list[Assignment], list[NotAbsorbed], dict[str, int]]:
    routes = _Routes(roster, plan, matrix)
    pool = [c for c in roster.carers if option == ANY_PROVIDER or c.provider == option]
    seen: set[str] = set()
    # A package visit may follow one already in the plan, as well as one of its own.
    starts: dict[str, int] = {}
    for a in plan.assignments:
        starts[a.visit_id] = min(a.start, starts.get(a.visit_id, a.start))
    placed: list[Assignment] = []
    left: list[NotAbsorbed] = []
    extra: dict[str, int] = {}
    for visit in sorted(package, key=lambda v: (v.day, v.window.start, v.visit_id)):
        prefer = seen | set(visit.preferred_carers)
        earliest, latest = visit.window.start, visit.window.end
        if visit.fixed_start is not None:
            earliest = latest = visit.fixed_start
        if visit.follows:
            if visit.follows not in starts:
                left.append(NotAbsorbed(visit.visit_id, PlaceReason.LINK))
                continue
            # The model holds gaps in seconds, like every time (roster.py, synth.py).
            earliest = max(earliest, starts[visit.follows] + visit.gap_min)
            latest = min(latest, starts[visit.follows] + visit.gap_max)
        candidates = pool
        if visit.pinned and len(visit.carer_ids) == visit.carers_required:
            candidates = [c for c in pool if c.carer_id in visit.carer_ids]
        gaps: list[_Gap] = []
        over_hours = False
        if earliest <= latest:
            for carer in candidates:
                if visit.skills <= carer.skills and _suitable(visit, carer):
                    found, over = routes.gaps(carer, visit, earliest, latest)
                    gaps += found
                    over_hours |= over
        choose = _best_pair if visit.double_handed else _best_single
        chosen = choose(gaps, prefer)
        # A pair starts at their common time, which may move a carer's working time: re-test.
        while chosen is not None and any(
            routes.over_hours(g.carer, visit.day, visit, g.lo) for g in chosen
        ):
            over_hours = True
            drop = {
                g.carer.carer_id
                for g in chosen
                if routes.over_hours(g.carer, visit.day, visit, g.lo)
            }
            gaps = [g for g in gaps if g.carer.carer_id not in drop]
            chosen = choose(gaps, prefer)
        if chosen is None:
            reason = _why(routes, visit, candidates, earliest, latest, over_hours)
            left.append(NotAbsorbed(visit.visit_id, reason))
            continue
        for gap in chosen:
            routes.insert(gap.carer, visit, gap.lo)
            placed.append(Assignment(visit.visit_id, gap.carer.carer_id, visit.day, gap.lo))
            seen.add(gap.carer.carer_id)
            extra[visit.visit_id] = extra.get(visit.visit_id, 0) + gap.extra
        starts[visit.visit_id] = chosen[0].lo
    return placed, left, extra


def place_package(
    roster: Roster,
    plan: Plan,
    package: Iterable[Visit],
    matrix: TravelMatrix,
    *,
    options: Iterable[str] | None = None,
) -> list[Placement]:
    """Rank the ways `plan` could absorb a new client's visits, leaving everyone else's alone.

    Parameters
    ----------
    roster
        The roster `plan` is for (without the package).
    plan
        The plan running now (e.g. :func:`read_plan_folder`); its assignments never change.
    package
        The new visits (:func:`read_package`); their ids must be new to `roster`.
    matrix
        Travel times covering the roster's doors and bases and the package's doors.
    options
        Provider ids to try alone; default every provider of `roster`. ``"any"``
        (:data:`ANY_PROVIDER`, any carer of any provider) is always tried as well.

    Returns
    -------
    list of Placement
        Best first: most visits absorbed, then least extra travel, then fewest different
        carers, then option name.

    Raises
    ------
    InputError
        A package visit id is already in `roster`, or an option names an unknown provider.
    PlanCheckError
        A placement breaks a hard rule the plan did not already break (a bug in carerun).
    """
    visits = tuple(package)
    clash = sorted({v.visit_id for v in visits} & {v.visit_id for v in roster.visits})
    if clash:
        msg = f"`package` visit id(s) already in the roster: {', '.join(clash[:10])}"
        raise InputError(msg)
    known = [p.provider for p in roster.providers]
    chosen = list(dict.fromkeys(known if options is None else options))
    unknown = [o for o in chosen if o not in known and o != ANY_PROVIDER]
    if unknown:
        msg = f"`options`: unknown provider(s) {', '.join(unknown)}; known: {', '.join(known)}"
        raise InputError(msg)
    if ANY_PROVIDER not in chosen:
        chosen.append(ANY_PROVIDER)
    merged_roster = roster.replace(visits=(*roster.visits, *visits))
    all_out = tuple(Unassigned(v.visit_id, UnassignedReason.CAPACITY) for v in visits)
    baseline = _hard(
        merged_roster,
        _with_travel(merged_roster, Plan(plan.assignments, (*plan.unassigned, *all_out)), matrix),
        matrix,
    )
    results = []
    for option in chosen:
        placed, left, extra = _place_option(merged_roster, plan, visits, matrix, option)
        merged = _with_travel(
            merged_roster,
            Plan(
                (*plan.assignments, *placed),
                (
                    *plan.unassigned,
                    *(Unassigned(n.visit_id, _AS_UNASSIGNED[n.reason]) for n in left),
                ),
                label=f"{plan.label} + package ({option})",
            ),
            matrix,
        )
        new = sorted(_hard(merged_roster, merged, matrix) - baseline)
        if new:
            msg = f"placing the package with {option} breaks hard rules:\n  " + "\n  ".join(new)
            raise PlanCheckError(msg)
        results.append(Placement(option, tuple(placed), tuple(left), extra, merged))
    results.sort(
        key=lambda p: (
            -p.absorbed,
            p.extra_travel,
            len(p.carer_ids),
            p.option == ANY_PROVIDER,
            p.option,
        )
    )
    return results


def absorb_unassigned(
    roster: Roster,
    plan: Plan,
    matrix: TravelMatrix,
    *,
    respect_providers: bool = False,
) -> Plan:
    """Offer the visits `plan` left undone for lack of capacity to every carer with room.

    Used after a week is planned area by area: a visit one area could not staff may fit a gap
    of a carer planned in another. Everything already planned keeps its carer and time; the
    same insertion rules as :func:`place_package` apply (skills, exclusions, gender, shifts,
    working-time limits, double-handed pairs, links). With `respect_providers`, a visit only
    goes to carers of its own provider.
    """
    todo = [
        roster.visit(u.visit_id) for u in plan.unassigned if u.reason is UnassignedReason.CAPACITY
    ]
    if not todo:
        return plan
    kept = tuple(u for u in plan.unassigned if u.reason is not UnassignedReason.CAPACITY)
    assignments = list(plan.assignments)
    left: list[str] = []
    groups: dict[str, list[Visit]] = {}
    for v in todo:
        groups.setdefault(
            v.provider if respect_providers and v.provider else ANY_PROVIDER, []
        ).append(v)
    for option, visits in sorted(groups.items()):
        current = Plan(tuple(assignments), kept)
        placed, missed, _ = _place_option(roster, current, visits, matrix, option)
        assignments += placed
        left += [m.visit_id for m in missed]
    undone = kept + tuple(Unassigned(vid, UnassignedReason.CAPACITY) for vid in sorted(left))
    merged = _with_travel(roster, Plan(tuple(assignments), undone), matrix)
    stats = {**plan.stats, "absorbed": float(len(todo) - len(left))}
    return Plan(
        merged.assignments,
        merged.unassigned,
        merged.travel_home,
        merged.distance_home,
        plan.label,
        stats,
    )


def _hard(roster: Roster, plan: Plan, matrix: TravelMatrix) -> set[str]:
    return {str(v) for v in check(roster, plan, matrix) if v.hard}


def _with_travel(roster: Roster, plan: Plan, matrix: TravelMatrix) -> Plan:
    """`plan` with every journey from the matrix: from base at the start of each shift part,
    between visits within it, and home at its end (summed per carer-day, as the solver does)."""
    out: list[Assignment] = []
    home: dict[tuple[str, int], int] = {}
    dist_home: dict[tuple[str, int], float] = {}
    for (cid, day), run in plan.routes().items():
        carer = roster.carer(cid)
        shifts = carer.shifts_on(day)
        prev_point = carer.base.point
        prev_shift: Shift | None = None
        for n, a in enumerate(run):
            visit = roster.visit(a.visit_id)
            shift = next((s for s in shifts if s.start <= a.start <= s.end), None)
            if n and shift != prev_shift:
                _go_home(matrix, carer, prev_point, (cid, day), home, dist_home)
                prev_point = carer.base.point
            point = visit.location.point
            out.append(
                Assignment(
                    a.visit_id,
                    cid,
                    day,
                    a.start,
                    matrix.time(carer.mode, prev_point, point),
                    matrix.distance(carer.mode, prev_point, point),
                )
            )
            prev_point, prev_shift = point, shift
        _go_home(matrix, carer, prev_point, (cid, day), home, dist_home)
    return Plan(tuple(out), plan.unassigned, home, dist_home, plan.label, plan.stats)


def _go_home(
    matrix: TravelMatrix,
    carer: Carer,
    point: tuple[float, float],
    key: tuple[str, int],
    home: dict[tuple[str, int], int],
    dist_home: dict[tuple[str, int], float],
) -> None:
    home[key] = home.get(key, 0) + matrix.time(carer.mode, point, carer.base.point)
    dist_home[key] = dist_home.get(key, 0.0) + matrix.distance(carer.mode, point, carer.base.point)


# Reporting ---------------------------------------------------------------------------------


def placement_frame(placements: Sequence[Placement]) -> pd.DataFrame:
    """One row per option, best first (``PLACEMENT_COLUMNS``)."""
    rows = [
        {
            "rank": rank,
            "option": p.option,
            "absorbed": p.absorbed,
            "visits": p.visits,
            "extra_travel_min": p.extra_travel / 60,
            "different_carers": len(p.carer_ids),
            "carer_ids": ";".join(p.carer_ids),
            "not_absorbed": len(p.not_absorbed),
        }
        for rank, p in enumerate(placements, start=1)
    ]
    return pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)


def placement_visits_frame(
    placements: Sequence[Placement], package: Iterable[Visit]
) -> pd.DataFrame:
    """One row per option per package visit: its carers and start, or why it was left out."""
    visits = sorted(package, key=lambda v: (v.day, v.window.start, v.visit_id))
    rows = []
    for rank, p in enumerate(placements, start=1):
        why = {n.visit_id: n.reason.value for n in p.not_absorbed}
        by_visit: dict[str, list[Assignment]] = {}
        for a in p.assignments:
            by_visit.setdefault(a.visit_id, []).append(a)
        for v in visits:
            done = by_visit.get(v.visit_id, [])
            rows.append(
                {
                    "rank": rank,
                    "option": p.option,
                    "visit_id": v.visit_id,
                    "day": day_name(v.day),
                    "window": str(v.window),
                    "carers_required": v.carers_required,
                    "carer_ids": ";".join(sorted(a.carer_id for a in done)),
                    "start": format_time(done[0].start) if done else "",
                    "extra_travel_min": p.extra_by_visit[v.visit_id] / 60 if done else None,
                    "reason": why.get(v.visit_id, ""),
                }
            )
    return pd.DataFrame(rows, columns=PLACEMENT_VISIT_COLUMNS)


def format_placements(placements: Sequence[Placement], *, top: int | None = None) -> str:
    """The ranked table and, per option shown, the visits it cannot absorb with reasons."""
    shown = list(placements[:top] if top else placements)
    lines = [
        f"{'rank':>4}  {'option':<12} {'absorbed':>9} {'extra travel':>13} {'carers':>7}  carer ids"
    ]
    for rank, p in enumerate(shown, start=1):
        lines.append(
            f"{rank:>4}  {p.option:<12} {f'{p.absorbed}/{p.visits}':>9}"
            f" {f'{p.extra_travel / 60:.1f} min':>13} {len(p.carer_ids):>7}  "
            + (", ".join(p.carer_ids) or "-")
        )
    for p in shown:
        if p.not_absorbed:
            lines.append(f"{p.option}: {len(p.not_absorbed)} visit(s) not absorbed")
            lines += [f"  {n.visit_id}: {n.reason.value}" for n in p.not_absorbed]
    return "\n".join(lines)


def write_placements(
    placements: Sequence[Placement], package: Iterable[Visit], out_dir: str | Path
) -> list[Path]:
    """Write ``placement.csv`` (the ranked options) and ``placement_visits.csv`` (per option,
    each visit's carers and start or the reason it is left out) into `out_dir`, atomically."""
    out = Path(out_dir)
    return [
        write_csv(placement_frame(placements), out / "placement.csv"),
        write_csv(placement_visits_frame(placements, package), out / "placement_visits.csv"),
    ]
