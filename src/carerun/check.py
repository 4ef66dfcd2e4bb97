"""Check any plan against its roster, independently of the optimiser.

Nothing here reads the solver's model: the rules are re-derived from the roster, so a plan from
:func:`carerun.solve.plan_week`, from the as-is allocation or from a spreadsheet edited by hand
is checked the same way. Hard violations break a rule of the service (a carer in two places at
once, a visit outside its carer's shift); soft ones are costs the plan chose to pay (lateness
within the limit, a gender preference under the soft rule, a pinned visit left undone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from carerun._errors import PlanCheckError
from carerun.matrix import TravelMatrix
from carerun.model import Assignment, Carer, Plan, Roster, Shift, Visit, day_name, format_time
from carerun.solve import SolveParams


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule of a plan."""

    kind: str
    message: str
    visit_id: str = ""
    carer_id: str = ""
    day: int | None = None
    hard: bool = True

    def __str__(self) -> str:
        tag = "hard" if self.hard else "soft"
        return f"[{tag}] {self.kind}: {self.message}"


def check(
    roster: Roster,
    plan: Plan,
    matrix: TravelMatrix | None = None,
    *,
    params: SolveParams | None = None,
) -> list[Violation]:
    """Every rule `plan` breaks, hard and soft.

    Parameters
    ----------
    roster
        The roster the plan is for. Only visits of the days the plan covers (days with an
        assignment or an unassigned visit) must appear in it.
    plan
        The plan to check.
    matrix
        Travel times; without it the plan's own ``travel_before`` and ``travel_home`` are used.
    params
        Tolerances (lateness limit, double-handed tolerance, gender rule) and whether visits
        must stay with their provider (``respect_providers``); default
        :class:`~carerun.solve.SolveParams`.
    """
    params = params or SolveParams()
    out: list[Violation] = []
    known_visits = {v.visit_id for v in roster.visits}
    known_carers = {c.carer_id for c in roster.carers}
    good: list[Assignment] = []
    for a in plan.assignments:
        if a.visit_id not in known_visits:
            out.append(Violation("unknown", f"visit {a.visit_id} is not in the roster", a.visit_id))
        elif a.carer_id not in known_carers:
            msg = f"visit {a.visit_id} is given to unknown carer {a.carer_id}"
            out.append(Violation("unknown", msg, a.visit_id, a.carer_id, a.day))
        elif a.day != roster.visit(a.visit_id).day:
            real = day_name(roster.visit(a.visit_id).day)
            msg = f"visit {a.visit_id} is on {real}, planned on {day_name(a.day)}"
            out.append(Violation("wrong_day", msg, a.visit_id, a.carer_id, a.day))
        else:
            good.append(a)
    for u in plan.unassigned:
        if u.visit_id not in known_visits:
            msg = f"unassigned visit {u.visit_id} is not in the roster"
            out.append(Violation("unknown", msg, u.visit_id))
    out += _check_coverage(roster, plan, good)
    by_visit: dict[str, list[Assignment]] = {}
    for a in good:
        by_visit.setdefault(a.visit_id, []).append(a)
    for a in good:
        out += _check_assignment(roster.visit(a.visit_id), roster.carer(a.carer_id), a, params)
    out += _check_together(roster, by_visit, plan, params)
    out += _check_runs(roster, plan, good, matrix)
    return out


def assert_valid(
    roster: Roster,
    plan: Plan,
    matrix: TravelMatrix | None = None,
    *,
    params: SolveParams | None = None,
) -> None:
    """Raise :class:`~carerun.PlanCheckError` listing every hard violation of `plan`."""
    hard = [v for v in check(roster, plan, matrix, params=params) if v.hard]
    if hard:
        lines = "\n".join(f"  - {v}" for v in hard[:50])
        more = f"\n  … and {len(hard) - 50} more" if len(hard) > 50 else ""
        msg = f"plan {plan.label} breaks {len(hard)} hard rule(s):\n{lines}{more}"
        raise PlanCheckError(msg)


def _check_coverage(roster: Roster, plan: Plan, good: list[Assignment]) -> list[Violation]:
    out: list[Violation] = []
    visit_ids = {v.visit_id for v in roster.visits}
    days = {a.day for a in good} | {
        roster.visit(u.visit_id).day for u in plan.unassigned if u.visit_id in visit_ids
    }
    carers: dict[str, list[str]] = {}
    for a in good:
        carers.setdefault(a.visit_id, []).append(a.carer_id)
    undone: dict[str, int] = {}
    for u in plan.unassigned:
        undone[u.visit_id] = undone.get(u.visit_id, 0) + 1
    for v in roster.visits:
        if v.day not in days:
            continue
        who = carers.get(v.visit_id, [])
        n_out = undone.get(v.visit_id, 0)
        where = (v.visit_id, "", v.day)
        if n_out > 1:
            out.append(
                Violation(
                    "duplicate_unassigned",
                    f"visit {v.visit_id} is listed unassigned {n_out} times",
                    *where,
                )
            )
        if who and n_out:
            out.append(
                Violation(
                    "assigned_and_unassigned",
                    f"visit {v.visit_id} is both assigned and listed unassigned",
                    *where,
                )
            )
        elif not who and not n_out:
            out.append(
                Violation(
                    "missing",
                    f"visit {v.visit_id} is neither assigned nor listed unassigned",
                    *where,
                )
            )
        if len(set(who)) != len(who):
            out.append(
                Violation(
                    "same_carer_twice", f"visit {v.visit_id} is given to {who[0]} twice", *where
                )
            )
        elif who and len(who) != v.carers_required:
            msg = f"visit {v.visit_id} needs {v.carers_required} carer(s), has {len(who)}"
            out.append(Violation("carer_count", msg, *where))
        if v.pinned and n_out:
            out.append(
                Violation("pinned", f"pinned visit {v.visit_id} is left undone", *where, hard=False)
            )
    return out


def _check_assignment(
    visit: Visit, carer: Carer, a: Assignment, params: SolveParams
) -> list[Violation]:
    out: list[Violation] = []
    where = (visit.visit_id, carer.carer_id, a.day)
    fixed = visit.fixed_start
    if fixed is not None and a.start != fixed:
        msg = (
            f"pinned visit {visit.visit_id} starts at {format_time(a.start)},"
            f" not {format_time(fixed)}"
        )
        out.append(Violation("pinned", msg, *where))
    if (
        visit.pinned
        and visit.carer_ids
        and len(visit.carer_ids) == visit.carers_required
        and carer.carer_id not in visit.carer_ids
    ):
        named = ", ".join(visit.carer_ids)
        msg = f"pinned visit {visit.visit_id} is given to {carer.carer_id}, not {named}"
        out.append(Violation("pinned", msg, *where))
    if fixed is None:
        if a.start < visit.window.start:
            msg = (
                f"visit {visit.visit_id} starts at {format_time(a.start)},"
                f" before its window {visit.window}"
            )
            out.append(Violation("early", msg, *where))
        late = a.start - visit.window.end
        if late > 0:
            limit = params.lateness_limit_min * 60
            msg = (
                f"visit {visit.visit_id} starts {late / 60:.0f} min after its window {visit.window}"
            )
            out.append(Violation("late", msg, *where, hard=late > limit))
    missing = visit.skills - carer.skills
    if missing:
        lacks = ", ".join(sorted(missing))
        msg = f"{carer.carer_id} lacks skill(s) {lacks} for visit {visit.visit_id}"
        out.append(Violation("skill", msg, *where))
    if carer.carer_id in visit.excluded_carers:
        msg = f"{carer.carer_id} is excluded from visit {visit.visit_id}"
        out.append(Violation("excluded", msg, *where))
    if params.respect_providers and visit.provider and carer.provider != visit.provider:
        msg = (
            f"visit {visit.visit_id} belongs to provider {visit.provider};"
            f" {carer.carer_id} works for {carer.provider}"
        )
        out.append(Violation("provider", msg, *where))
    pref = visit.gender_preference.strip().lower()
    if pref and carer.gender.strip().lower() != pref:
        msg = f"visit {visit.visit_id} asks for a {pref} carer; {carer.carer_id} is not"
        out.append(Violation("gender", msg, *where, hard=params.gender_rule == "hard"))
    return out


def _check_together(
    roster: Roster,
    by_visit: Mapping[str, list[Assignment]],
    plan: Plan,
    params: SolveParams,
) -> list[Violation]:
    """Double-handed synchrony, linked-visit gaps and linked visits' other carer."""
    out: list[Violation] = []
    undone = {u.visit_id for u in plan.unassigned}
    tol = params.double_handed_tolerance_min * 60
    for vid, group in by_visit.items():
        visit = roster.visit(vid)
        if visit.double_handed and len(group) == 2 and abs(group[0].start - group[1].start) > tol:
            msg = (
                f"double-handed visit {vid}: carers start at {format_time(group[0].start)}"
                f" and {format_time(group[1].start)}"
            )
            out.append(Violation("double_handed", msg, vid, day=visit.day))
        if not visit.follows:
            continue
        first = roster.visit(visit.follows)
        if first.day != visit.day:
            continue
        if first.visit_id in undone:
            msg = f"visit {vid} is done but the visit it follows, {first.visit_id}, is not"
            out.append(Violation("link", msg, vid, day=visit.day))
        elif first.visit_id in by_visit:
            shared = {a.carer_id for a in group} & {a.carer_id for a in by_visit[first.visit_id]}
            if visit.link_other_carer and shared:
                msg = (
                    f"visit {vid} must have another carer than {first.visit_id},"
                    f" but {', '.join(sorted(shared))} does both"
                )
                out.append(Violation("link", msg, vid, day=visit.day))
            gap = min(a.start for a in group) - min(a.start for a in by_visit[first.visit_id])
            # Gaps are start to start, in seconds like every time of the model.
            if not visit.gap_min <= gap <= visit.gap_max:
                msg = (
                    f"visit {vid} starts {gap / 60:.0f} min after {first.visit_id};"
                    f" allowed {visit.gap_min / 60:.0f}–{visit.gap_max / 60:.0f} min"
                )
                out.append(Violation("link", msg, vid, day=visit.day))
    return out


def _shift_of(shifts: tuple[Shift, ...], start: int, end: int) -> Shift | None:
    return next((s for s in shifts if s.start <= start and end <= s.end), None)


def _check_runs(
    roster: Roster, plan: Plan, good: list[Assignment], matrix: TravelMatrix | None
) -> list[Violation]:
    """Each carer's day: shifts, overlaps, travel between visits, working time."""
    out: list[Violation] = []
    runs: dict[tuple[str, int], list[Assignment]] = {}
    for a in good:
        runs.setdefault((a.carer_id, a.day), []).append(a)
    week: dict[str, int] = {}
    for (cid, day), run in sorted(runs.items()):
        carer = roster.carer(cid)
        run.sort(key=lambda a: (a.start, a.visit_id))
        shifts = carer.shifts_on(day)
        parts: dict[Shift, list[Assignment]] = {}
        for a in run:
            visit = roster.visit(a.visit_id)
            shift = _shift_of(shifts, a.start, a.start + visit.duration)
            if shift is None:
                msg = (
                    f"{cid} does visit {a.visit_id} at {format_time(a.start)}-"
                    f"{format_time(a.start + visit.duration)} outside their shifts"
                    f" on {day_name(day)}"
                )
                out.append(Violation("off_shift", msg, a.visit_id, cid, day))
            else:
                parts.setdefault(shift, []).append(a)
        for prev, nxt in pairwise(run):
            pv, nv = roster.visit(prev.visit_id), roster.visit(nxt.visit_id)
            need = _travel(matrix, carer, pv.location.point, nv.location.point, nxt.travel_before)
            if _shift_of(shifts, prev.start, prev.start) != _shift_of(shifts, nxt.start, nxt.start):
                need = 0  # a new shift part: checked from base below
            if prev.start + pv.duration + need > nxt.start:
                msg = (
                    f"{cid} cannot do {nxt.visit_id} at {format_time(nxt.start)}: {prev.visit_id}"
                    f" ends {format_time(prev.start + pv.duration)}"
                    f" and the journey takes {need // 60} min"
                )
                out.append(Violation("overlap", msg, nxt.visit_id, cid, day))
        working = 0
        ordered = sorted(parts.items(), key=lambda kv: kv[0].start)
        for n, (shift, part) in enumerate(ordered):
            first, last = part[0], part[-1]
            fv, lv = roster.visit(first.visit_id), roster.visit(last.visit_id)
            there = _travel(matrix, carer, carer.base.point, fv.location.point, first.travel_before)
            home_fallback = plan.travel_home.get((cid, day), 0) if n == len(ordered) - 1 else 0
            back = _travel(matrix, carer, lv.location.point, carer.base.point, home_fallback)
            if first.start - there < shift.start:
                msg = (
                    f"{cid} must leave base at {format_time(first.start - there)}"
                    f" for {first.visit_id},"
                    f" before their shift {shift} starts"
                )
                out.append(Violation("shift_start", msg, first.visit_id, cid, day))
            if last.start + lv.duration + back > shift.end:
                msg = (
                    f"{cid} gets back to base at {format_time(last.start + lv.duration + back)}"
                    f" after {last.visit_id}, after their shift {shift} ends"
                )
                out.append(Violation("shift_end", msg, last.visit_id, cid, day))
            working += last.start + lv.duration + back - (first.start - there)
        if carer.max_minutes_day is not None and working > carer.max_minutes_day * 60:
            msg = (
                f"{cid} works {working / 60:.0f} min on {day_name(day)},"
                f" over {carer.max_minutes_day}"
            )
            out.append(Violation("max_day", msg, carer_id=cid, day=day))
        week[cid] = week.get(cid, 0) + working
    for cid, working in sorted(week.items()):
        limit = roster.carer(cid).max_minutes_week
        if limit is not None and working > limit * 60:
            msg = f"{cid} works {working / 60:.0f} min in the week, over {limit}"
            out.append(Violation("max_week", msg, carer_id=cid))
    return out


def _travel(
    matrix: TravelMatrix | None,
    carer: Carer,
    a: tuple[float, float],
    b: tuple[float, float],
    recorded: int,
) -> int:
    """Travel by the carer's mode: from the matrix when given, else the plan's own figure."""
    if matrix is None:
        return recorded
    return matrix.time(carer.mode, a, b)
