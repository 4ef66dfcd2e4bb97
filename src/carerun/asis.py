"""The roster as it stands today (the as-is), played out on real travel times.

A roster names, for each visit, the carers doing it today (``carer_ids``) and the time planned
(``planned_start``). :func:`asis_plan` turns that allocation into a :class:`~carerun.model.Plan`
so that every KPI, check and output that reads a plan reads the as-is too, and a plan can be
compared with it like for like.

The as-is is played out, not taken on trust: each carer does their visits of a day in order of
planned start, leaving base just in time for the first one; when the previous visit plus the
travel from it ends after the next visit's planned start, the carer starts on arrival (late), and
the delay runs on through the rest of their day. Both carers of a double-handed visit start it
together, when the later of the two arrives. A visit that the delays push past the end of its
carer's day (the end of their last shift that day, or its own planned start if the roster plans
it later) is not done: it is unassigned with reason ``CAPACITY`` (not enough carer time), its
carers go on to their next visit, and ``stats["visits_past_day_end"]`` counts such visits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from carerun.matrix import TravelMatrix
from carerun.model import (
    LATEST_TIME,
    Assignment,
    Plan,
    Roster,
    Unassigned,
    UnassignedReason,
    Visit,
)

ASIS_LABEL = "as-is"


def planned_start(visit: Visit) -> int:
    """The time the roster asks `visit` to start: its planned start, else its window's start.

    A visit given only as a window is done as early as the window allows, as a carer following
    the roster would do it.
    """
    return visit.window.start if visit.planned_start is None else visit.planned_start


def asis_plan(roster: Roster, matrix: TravelMatrix, *, days: Iterable[int] | None = None) -> Plan:
    """The roster's allocation as it stands, as a plan labelled ``"as-is"``.

    Parameters
    ----------
    roster
        The week; each visit's ``carer_ids`` and ``planned_start`` are the allocation today.
    matrix
        Travel between every visit and carer base, for every mode the carers use.
    days
        Only these days (0 = Mon … 6 = Sun), to compare like for like with a plan of some days;
        default every day.

    Returns
    -------
    Plan
        One :class:`~carerun.model.Assignment` per carer per visit, with the start the carer can
        actually make (the planned start, or arrival when later), the travel and distance from
        the previous visit (from base for the first), and each carer-day's travel home. Visits
        with no carer today are :class:`~carerun.model.Unassigned` with reason
        ``NO_CARER_ASIS``. ``stats["visits_short_of_carers"]`` counts double-handed visits
        with only one carer named; ``stats["visits_past_day_end"]`` counts visits unassigned
        (reason ``CAPACITY``) because the delays pushed them past their carer's day.
    """
    runs: dict[tuple[str, int], list[Visit]] = {}
    unassigned: list[Unassigned] = []
    keep = set(range(7) if days is None else days)
    for v in roster.visits:
        if v.day not in keep:
            continue
        if not v.carer_ids:
            unassigned.append(Unassigned(v.visit_id, UnassignedReason.NO_CARER_ASIS))
        for cid in v.carer_ids:
            runs.setdefault((cid, v.day), []).append(v)
    for run in runs.values():
        # Every run is sorted by the same key, so precedence between runs never forms a cycle.
        run.sort(key=lambda v: (planned_start(v), v.visit_id))

    # Play out; drop the first visit of each run that delays push past the carer's day, then
    # play out again (the rest of that run may now be on time), until nothing is past.
    past_end: list[str] = []
    while True:
        legs, home = _legs(roster, matrix, runs)
        starts = _play_out(runs, legs)
        past = {
            next(v.visit_id for v in run if starts[v.visit_id] > _latest_start(roster, cid, v))
            for (cid, _), run in runs.items()
            if any(starts[v.visit_id] > _latest_start(roster, cid, v) for v in run)
        }
        if not past:
            break
        past_end += sorted(past)
        runs = {k: [v for v in run if v.visit_id not in past] for k, run in runs.items()}
        runs = {k: run for k, run in runs.items() if run}
    unassigned += [Unassigned(vid, UnassignedReason.CAPACITY) for vid in past_end]

    assignments = [
        Assignment(
            visit_id=v.visit_id,
            carer_id=cid,
            day=day,
            start=starts[v.visit_id],
            travel_before=secs,
            distance_before=metres,
        )
        for (cid, day), run in runs.items()
        for v, (secs, metres) in zip(run, legs[cid, day], strict=True)
    ]
    short = sum(0 < len(v.carer_ids) < v.carers_required for v in roster.visits if v.day in keep)
    return Plan(
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        travel_home={k: secs for k, (secs, _) in home.items()},
        distance_home={k: metres for k, (_, metres) in home.items()},
        label=ASIS_LABEL,
        stats={"visits_short_of_carers": float(short), "visits_past_day_end": float(len(past_end))},
    )


def _latest_start(roster: Roster, carer_id: str, visit: Visit) -> int:
    """The latest a carer can start `visit` as it stands: by the end of their last shift that
    day, or later if the roster itself plans it later; never past the model's last time."""
    shifts = roster.carer(carer_id).shifts_on(visit.day)
    day_end = shifts[-1].end if shifts else LATEST_TIME
    return min(LATEST_TIME, max(day_end, planned_start(visit)))


_Legs = dict[tuple[str, int], list[tuple[int, float]]]


def _legs(
    roster: Roster, matrix: TravelMatrix, runs: dict[tuple[str, int], list[Visit]]
) -> tuple[_Legs, dict[tuple[str, int], tuple[int, float]]]:
    """Per run, (seconds, metres) to each visit from the previous stop, and the leg home."""
    legs: _Legs = {}
    home: dict[tuple[str, int], tuple[int, float]] = {}
    for (cid, day), run in runs.items():
        carer = roster.carer(cid)
        stops = [carer.base, *(v.location for v in run), carer.base]
        legs[cid, day] = [
            (matrix.time(carer.mode, a, b), matrix.distance(carer.mode, a, b))
            for a, b in itertools.pairwise(stops)
        ]
        home[cid, day] = legs[cid, day].pop()
    return legs, home


def _play_out(runs: dict[tuple[str, int], list[Visit]], legs: _Legs) -> dict[str, int]:
    """Start of every visit when each carer starts on arrival if late, and double-handed
    visits start when both carers are there. Starts only ever move later, so this settles
    after at most one pass per visit in the longest chain of runs."""
    starts = {v.visit_id: planned_start(v) for run in runs.values() for v in run}
    changed = True
    while changed:
        changed = False
        for key, run in runs.items():
            free_at: int | None = None  # when the carer leaves the previous visit
            for v, (secs, _) in zip(run, legs[key], strict=True):
                arrival = starts[v.visit_id] if free_at is None else free_at + secs
                if arrival > starts[v.visit_id]:
                    starts[v.visit_id] = arrival
                    changed = True
                free_at = starts[v.visit_id] + v.duration
    return starts


def asis_within_rules(
    roster: Roster,
    matrix: TravelMatrix,
    *,
    days: Iterable[int] | None = None,
    asis: Plan | None = None,
) -> set[str]:
    """Visits the roster as it stands does in full without breaking a hard rule.

    A visit counts when every carer it needs is named today and the independent checker
    (:func:`carerun.check.check`) finds nothing wrong with it or with its carers' day (late past
    its window, overlapping, off shift, over the daily maximum), and the carer had not used up
    their weekly maximum working time before that day (days in order, Monday first). These are
    the visits a plan should never leave undone: the roster proves they can be done.
    `asis` is :func:`asis_plan` of the same `days`, when the caller has it already.
    """
    from carerun.check import check
    from carerun.metrics import working_seconds

    days = None if days is None else set(days)
    if asis is None:
        asis = asis_plan(roster, matrix, days=days)
    hard = [v for v in check(roster, asis, matrix) if v.hard]
    broken = {v.visit_id for v in hard if v.visit_id}
    broken_days = {(v.carer_id, v.day) for v in hard if not v.visit_id and v.day is not None}
    # The days a carer worked once their weekly maximum was used up.
    over_week = {v.carer_id for v in hard if v.kind == "max_week"}
    worked: dict[str, int] = {}
    for (cid, day), secs in sorted(working_seconds(roster, asis, matrix).items()):
        worked[cid] = worked.get(cid, 0) + secs
        limit = roster.carer(cid).max_minutes_week
        if cid in over_week and limit is not None and worked[cid] > limit * 60:
            broken_days.add((cid, day))
    broken |= {a.visit_id for a in asis.assignments if (a.carer_id, a.day) in broken_days}
    broken |= {u.visit_id for u in asis.unassigned}
    return {
        v.visit_id
        for v in roster.visits
        if v.visit_id not in broken
        and len(v.carer_ids) == v.carers_required
        and (days is None or v.day in days)
    }
