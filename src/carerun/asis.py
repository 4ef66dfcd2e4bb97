"""The roster as it stands today (the as-is), played out on real travel times.

A roster names, for each visit, the carers doing it today (``carer_ids``) and the time planned
(``planned_start``). :func:`asis_plan` turns that allocation into a :class:`~carerun.model.Plan`
so that every KPI, check and output that reads a plan reads the as-is too, and a plan can be
compared with it like for like.

The as-is is played out, not taken on trust: each carer does their visits of a day in order of
planned start, leaving base just in time for the first one; when the previous visit plus the
travel from it ends after the next visit's planned start, the carer starts on arrival (late), and
the delay runs on through the rest of their day. Both carers of a double-handed visit start it
together, when the later of the two arrives.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from carerun.matrix import TravelMatrix
from carerun.model import Assignment, Plan, Roster, Unassigned, UnassignedReason, Visit

ASIS_LABEL = "as-is"


def planned_start(visit: Visit) -> int:
    """The time the roster asks `visit` to start: its planned start, else its window's start.

    A visit given only as a window is done as early as the window allows, as a carer following
    the roster would do it.
    """
    return visit.window.start if visit.planned_start is None else visit.planned_start


def asis_plan(
    roster: Roster, matrix: TravelMatrix, *, days: Iterable[int] | None = None
) -> Plan:
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
        with only one carer named.
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

    legs: dict[tuple[str, int], list[tuple[int, float]]] = {}
    home: dict[tuple[str, int], tuple[int, float]] = {}
    for (cid, day), run in runs.items():
        carer = roster.carer(cid)
        stops = [carer.base, *(v.location for v in run), carer.base]
        legs[cid, day] = [
            (matrix.time(carer.mode, a, b), matrix.distance(carer.mode, a, b))
            for a, b in itertools.pairwise(stops)
        ]
        home[cid, day] = legs[cid, day].pop()

    starts = _play_out(runs, legs)
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
    short = sum(
        0 < len(v.carer_ids) < v.carers_required for v in roster.visits if v.day in keep
    )
    return Plan(
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        travel_home={k: secs for k, (secs, _) in home.items()},
        distance_home={k: metres for k, (_, metres) in home.items()},
        label=ASIS_LABEL,
        stats={"visits_short_of_carers": float(short)},
    )


def _play_out(
    runs: dict[tuple[str, int], list[Visit]],
    legs: dict[tuple[str, int], list[tuple[int, float]]],
) -> dict[str, int]:
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
