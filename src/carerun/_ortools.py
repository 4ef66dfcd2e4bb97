"""The routing model of one day, on OR-Tools; the only module that imports OR-Tools.

Shape of the model
------------------
- Nodes: one per visit (two for a double-handed visit, one per carer), then one base node per
  vehicle. Vehicles: one per carer shift of the day; a split shift gives the carer several
  vehicles, each leaving from and returning to the carer's base.
- Arc cost of a vehicle: ``travel`` × travel seconds by the carer's mode.
- ``time`` dimension: transit = travel (carer's mode) + the from-visit's duration; waiting is
  slack. Cumul at a visit = its start: hard range ``[window.start, window.end + lateness
  limit]``, soft upper bound ``window.end`` at ``lateness`` per second. A vehicle's start and
  end lie inside its shift; the daily (and remaining weekly) working time bounds the span of
  the carer's vehicles, summed over a split shift.
- ``penalty`` dimension: per-vehicle unary costs charged on visits done by a carer outside the
  client's preferred carers (``continuity``) or of the wrong gender (soft rule). Its span cost
  puts them in the objective, where the local search sees them.
- Co-located visits (duplicate multi-provider risk) get a soft same-vehicle constraint of cost
  ``duplicate``: one carer doing both costs nothing extra; this also charges two carers of one
  provider, a deliberate over-approximation that keeps the term inside the routing objective.
- Double-handed: both copies active or neither, vehicles of different carers, starts within
  the tolerance. Linked: the follower is active only if its predecessor is, and its start lies
  in ``[gap_min, gap_max]`` after the predecessor's.
- Every visit sits in a disjunction of penalty ``unassigned × priority``, so doing nothing is
  always feasible and a first solution always exists.

The results come back as carerun :class:`~carerun.model.Plan` objects; no OR-Tools type leaves
this module.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from carerun._errors import InputError, SolveError
from carerun.matrix import TravelMatrix, haversine_metres
from carerun.model import (
    LATEST_TIME,
    Assignment,
    Carer,
    Plan,
    Roster,
    Shift,
    Unassigned,
    UnassignedReason,
    Visit,
)
from carerun.solve import SolveParams

_STATUS = {
    0: "not solved",
    1: "success",
    2: "partial success (local optimum not reached)",
    3: "fail",
    4: "fail (time out)",
    5: "invalid",
    6: "infeasible",
    7: "optimal",
}


@dataclass(frozen=True)
class DayResult:
    """A day's plan and each carer's working seconds that day (for weekly budgets)."""

    plan: Plan
    work: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Vehicle:
    carer: Carer
    shift: Shift
    base: int  # row of the carer's base in the matrix


def gender_ok(visit: Visit, carer: Carer) -> bool:
    """Whether `carer` meets the visit's gender preference (no preference: anyone)."""
    pref = visit.gender_preference.strip().lower()
    return not pref or carer.gender.strip().lower() == pref


def solve_day(
    roster: Roster,
    matrix: TravelMatrix,
    day: int,
    params: SolveParams,
    *,
    preferred: Mapping[str, frozenset[str]] | None = None,
    seconds_left: Mapping[str, int] | None = None,
    demand: Mapping[str, int] | None = None,
    capacity: Mapping[str, int] | None = None,
) -> DayResult:
    """Build and solve the routing model of `day`.

    Parameters
    ----------
    preferred
        Per client, the carers counting as regular (continuity).
    seconds_left
        Per carer, working seconds left this week (absent: no weekly limit).
    demand, capacity
        Optional load per visit and per carer (a capacitated problem, used by the Solomon
        benchmark adapter); absent: no load dimension.
    """
    started = time.perf_counter()
    preferred = preferred or {}
    seconds_left = seconds_left or {}
    visits = roster.visits_on(day)
    for carer in roster.carers:
        if carer.shifts_on(day) and carer.mode not in matrix.seconds:
            msg = f"carer {carer.carer_id} travels by {carer.mode.value}, which the matrix lacks"
            raise InputError(msg)
    vehicles = [
        _Vehicle(c, s, matrix.index(c.base)) for c in roster.carers for s in c.shifts_on(day)
    ]
    late = params.lateness_limit_min * 60
    allowed, reasons = _precheck(visits, vehicles, matrix, late, params)

    todo = [v for v in visits if v.visit_id not in reasons]
    nodes: list[tuple[Visit, int]] = [(v, k) for v in todo for k in range(v.carers_required)]
    n_nodes = len(nodes) + len(vehicles)
    if not vehicles or not todo:
        plan = _empty_plan(visits, reasons, day, started)
        return DayResult(plan)

    rows = np.array(
        [matrix.index(v.location) for v, _ in nodes] + [veh.base for veh in vehicles],
        dtype=np.int64,
    )
    service = np.array([v.duration for v, _ in nodes] + [0] * len(vehicles), dtype=np.int64)
    modes = sorted({veh.carer.mode for veh in vehicles})
    travel = {m: matrix.seconds[m][np.ix_(rows, rows)].astype(np.int64) for m in modes}
    metres = {m: matrix.metres[m][np.ix_(rows, rows)] for m in modes}

    manager = pywrapcp.RoutingIndexManager(
        n_nodes, len(vehicles), [len(nodes) + i for i in range(len(vehicles))],
        [len(nodes) + i for i in range(len(vehicles))],
    )
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    # Matrices registered whole are evaluated in C++, never calling back into Python.
    cost_cb = {
        m: routing.RegisterTransitMatrix((travel[m] * params.travel).tolist()) for m in modes
    }
    time_cb = {
        m: routing.RegisterTransitMatrix((travel[m] + service[:, None]).tolist()) for m in modes
    }
    for k, veh in enumerate(vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[veh.carer.mode], k)
    routing.AddDimensionWithVehicleTransits(
        [time_cb[veh.carer.mode] for veh in vehicles], LATEST_TIME, LATEST_TIME, False, "time"
    )
    tdim = routing.GetDimensionOrDie("time")

    index_of: dict[tuple[str, int], int] = {}
    for node, (v, k) in enumerate(nodes):
        idx = manager.NodeToIndex(node)
        index_of[v.visit_id, k] = idx
        ok = _allowed(v, k, allowed[v.visit_id], vehicles)
        if len(ok) < len(vehicles):
            routing.VehicleVar(idx).SetValues([-1, *ok])  # -1: the visit may stay undone
        cumul = tdim.CumulVar(idx)
        if v.pinned and v.planned_start is not None:
            cumul.SetRange(v.planned_start, v.planned_start)
        else:
            cumul.SetRange(v.window.start, v.window.end + late)
            if late:
                tdim.SetCumulVarSoftUpperBound(idx, v.window.end, params.lateness)
        routing.AddDisjunction([idx], params.unassigned * max(1, v.priority))

    for k, veh in enumerate(vehicles):
        start, end = tdim.CumulVar(routing.Start(k)), tdim.CumulVar(routing.End(k))
        start.SetRange(veh.shift.start, veh.shift.end)
        end.SetRange(veh.shift.start, veh.shift.end)
        # Leave base as late and come back as early as the route allows: spans are working time.
        routing.AddVariableMaximizedByFinalizer(start)
        routing.AddVariableMinimizedByFinalizer(end)
    _limit_work(routing, tdim, vehicles, seconds_left)

    carer_no = {c.carer_id: i for i, c in enumerate(roster.carers)}
    for v in todo:
        if v.double_handed:
            a, b = index_of[v.visit_id, 0], index_of[v.visit_id, 1]
            solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
            owners = [carer_no[veh.carer.carer_id] for veh in vehicles]
            # Vehicle -1 (inactive) maps to distinct sentinels so "neither" stays feasible.
            who_a = solver.Element([-1, *owners], (routing.VehicleVar(a) + 1).Var())
            who_b = solver.Element([-2, *owners], (routing.VehicleVar(b) + 1).Var())
            solver.Add(who_a != who_b)
            tol = params.double_handed_tolerance_min * 60
            diff = tdim.CumulVar(a) - tdim.CumulVar(b)
            solver.Add(diff <= tol)
            solver.Add(diff >= -tol)
        if v.follows and (v.follows, 0) in index_of:
            u, w = index_of[v.follows, 0], index_of[v.visit_id, 0]
            on = routing.ActiveVar(w)
            solver.Add(on <= routing.ActiveVar(u))
            gap = tdim.CumulVar(w) - tdim.CumulVar(u)
            solver.Add(gap >= v.gap_min * 60 - LATEST_TIME * (1 - on))
            solver.Add(gap <= v.gap_max * 60 + LATEST_TIME * (1 - on))

    _add_penalties(routing, nodes, vehicles, preferred, params)
    for i, j in _colocated_pairs(nodes, params):
        routing.AddSoftSameVehicleConstraint(
            [manager.NodeToIndex(i), manager.NodeToIndex(j)], params.duplicate
        )
    if demand is not None and capacity is not None:
        load = [demand.get(v.visit_id, 0) for v, _ in nodes] + [0] * len(vehicles)
        load_cb = routing.RegisterUnaryTransitVector(load)
        routing.AddDimensionWithVehicleCapacity(
            load_cb, 0, [capacity.get(veh.carer.carer_id, 0) for veh in vehicles], True, "load"
        )

    # Insertion heuristics place one node at a time, which the double-handed and linked
    # constraints reject; the CP-propagating PATH_CHEAPEST_ARC places pairs together. With
    # such visits both are run, each on a share of the time limit, and the better plan kept.
    sync = any(v.double_handed or v.follows for v in todo)
    firsts = [params.first_solution]
    if sync and params.first_solution != "PATH_CHEAPEST_ARC":
        firsts.append("PATH_CHEAPEST_ARC")
    solver.ReSeed(params.seed)
    best: _Solution | None = None
    for first in firsts:
        found = routing.SolveWithParameters(_search_parameters(params, first, len(firsts)))
        if found is not None:
            read = _read(manager, routing, tdim, found)
            if best is None or read.objective < best.objective:
                best = read
    fallback = best is None
    if best is None:
        # Starting from "nothing done" is always feasible; local search then inserts visits.
        found = routing.SolveWithParameters(_search_parameters(params, "ALL_UNPERFORMED", 1))
        if found is None:
            msg = f"the solver found no plan for day {day} (status {status_name(routing.status())})"
            raise SolveError(msg)
        best = _read(manager, routing, tdim, found)

    assignments: list[Assignment] = []
    travel_home: dict[tuple[str, int], int] = {}
    distance_home: dict[tuple[str, int], float] = {}
    work: dict[str, int] = {}
    for k, (stops, begin, finish) in best.routes.items():
        veh = vehicles[k]
        cid, mode = veh.carer.carer_id, veh.carer.mode
        prev = len(nodes) + k
        for node, start in stops:
            assignments.append(
                Assignment(
                    visit_id=nodes[node][0].visit_id,
                    carer_id=cid,
                    day=day,
                    start=start,
                    travel_before=int(travel[mode][prev, node]),
                    distance_before=float(metres[mode][prev, node]),
                )
            )
            prev = node
        base = len(nodes) + k
        # A split shift goes home after each part: travel_home sums those closing legs.
        travel_home[cid, day] = travel_home.get((cid, day), 0) + int(travel[mode][prev, base])
        distance_home[cid, day] = distance_home.get((cid, day), 0.0) + float(
            metres[mode][prev, base]
        )
        work[cid] = work.get(cid, 0) + finish - begin

    done = {a.visit_id for a in assignments}
    for v in todo:
        if v.visit_id not in done:
            lost_link = bool(v.follows) and v.follows not in done
            reasons[v.visit_id] = UnassignedReason.LINK if lost_link else UnassignedReason.CAPACITY
    plan = Plan(
        assignments=tuple(assignments),
        unassigned=tuple(Unassigned(v.visit_id, reasons[v.visit_id]) for v in visits
                         if v.visit_id in reasons),
        travel_home=travel_home,
        distance_home=distance_home,
        label=f"day {day}",
        stats={
            "objective": float(best.objective),
            "seconds": time.perf_counter() - started,
            "status": float(routing.status()),
            "fallback": float(fallback),
            "vehicles": float(len(vehicles)),
        },
    )
    return DayResult(plan, work)


@dataclass(frozen=True)
class _Solution:
    """A solution read out of OR-Tools: per used vehicle, (node, start) stops and its span."""

    objective: int
    routes: dict[int, tuple[list[tuple[int, int]], int, int]]


def _read(
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    tdim: pywrapcp.RoutingDimension,
    found: pywrapcp.Assignment,
) -> _Solution:
    manager_routes: dict[int, tuple[list[tuple[int, int]], int, int]] = {}
    for k in range(routing.vehicles()):
        if not routing.IsVehicleUsed(found, k):
            continue
        stops = []
        idx = found.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(idx):
            stops.append((manager.IndexToNode(idx), int(found.Value(tdim.CumulVar(idx)))))
            idx = found.Value(routing.NextVar(idx))
        begin = int(found.Value(tdim.CumulVar(routing.Start(k))))
        finish = int(found.Value(tdim.CumulVar(routing.End(k))))
        manager_routes[k] = (stops, begin, finish)
    return _Solution(int(found.ObjectiveValue()), manager_routes)


def status_name(code: float) -> str:
    """Plain words for the numeric ``status`` of a plan's stats."""
    return _STATUS.get(int(code), "unknown")


def _empty_plan(
    visits: tuple[Visit, ...], reasons: dict[str, UnassignedReason], day: int, started: float
) -> Plan:
    return Plan(
        assignments=(),
        unassigned=tuple(
            Unassigned(v.visit_id, reasons.get(v.visit_id, UnassignedReason.NO_SHIFT))
            for v in visits
        ),
        label=f"day {day}",
        stats={"objective": 0.0, "seconds": time.perf_counter() - started, "status": 0.0},
    )


def _fits(veh: _Vehicle, visit: Visit, matrix: TravelMatrix, late: int) -> bool:
    """Whether the visit fits in the shift at all, counting travel from and back to base."""
    mode, at = veh.carer.mode, matrix.index(visit.location)
    there = int(matrix.seconds[mode][veh.base, at])
    back = int(matrix.seconds[mode][at, veh.base])
    if visit.pinned and visit.planned_start is not None:
        earliest = latest = visit.planned_start
    else:
        earliest, latest = visit.window.start, visit.window.end + late
    begin = max(earliest, veh.shift.start + there)
    return begin <= latest and begin + visit.duration + back <= veh.shift.end


def _precheck(
    visits: tuple[Visit, ...],
    vehicles: list[_Vehicle],
    matrix: TravelMatrix,
    late: int,
    params: SolveParams,
) -> tuple[dict[str, list[int]], dict[str, UnassignedReason]]:
    """Vehicles allowed for each visit, and a reason for each visit nobody can do."""
    allowed: dict[str, list[int]] = {}
    reasons: dict[str, UnassignedReason] = {}
    for v in visits:
        skilled = [k for k, veh in enumerate(vehicles) if v.skills <= veh.carer.skills]
        willing = [
            k for k in skilled
            if vehicles[k].carer.carer_id not in v.excluded_carers
            and (params.gender_rule == "soft" or gender_ok(v, vehicles[k].carer))
        ]
        fitting = [k for k in willing if _fits(vehicles[k], v, matrix, late)]
        fitting_people = {vehicles[k].carer.carer_id for k in fitting}
        need = v.carers_required
        if len({veh.carer.carer_id for veh in vehicles}) < need:
            reasons[v.visit_id] = UnassignedReason.NO_SHIFT
        elif len({vehicles[k].carer.carer_id for k in skilled}) < need:
            reasons[v.visit_id] = UnassignedReason.NO_SKILL
        elif len({vehicles[k].carer.carer_id for k in willing}) < need:
            reasons[v.visit_id] = UnassignedReason.EXCLUDED
        elif len(fitting_people) < need or (
            v.pinned and not set(v.carer_ids) <= fitting_people
        ):
            reasons[v.visit_id] = UnassignedReason.NO_SHIFT
        allowed[v.visit_id] = fitting
    # A follower whose predecessor (same day) cannot be done cannot be done either.
    same_day = {v.visit_id for v in visits}
    changed = True
    while changed:
        changed = False
        for v in visits:
            if (
                v.follows in same_day and v.follows in reasons and v.visit_id not in reasons
            ):
                reasons[v.visit_id] = UnassignedReason.LINK
                changed = True
    return allowed, reasons


def _allowed(visit: Visit, copy: int, fitting: list[int], vehicles: list[_Vehicle]) -> list[int]:
    """Vehicles one copy of a visit may use: a pinned copy keeps its named carer."""
    if not visit.pinned or copy >= len(visit.carer_ids):
        return fitting
    cid = visit.carer_ids[copy]
    return [k for k in fitting if vehicles[k].carer.carer_id == cid]


def _limit_work(
    routing: pywrapcp.RoutingModel,
    tdim: pywrapcp.RoutingDimension,
    vehicles: list[_Vehicle],
    seconds_left: Mapping[str, int],
) -> None:
    by_carer: dict[str, list[int]] = {}
    for k, veh in enumerate(vehicles):
        by_carer.setdefault(veh.carer.carer_id, []).append(k)
    for cid, ks in by_carer.items():
        carer = vehicles[ks[0]].carer
        limits = [seconds_left[cid]] if cid in seconds_left else []
        if carer.max_minutes_day is not None:
            limits.append(carer.max_minutes_day * 60)
        if not limits:
            continue
        limit = min(limits)
        for k in ks:
            tdim.SetSpanUpperBoundForVehicle(limit, k)
        if len(ks) > 1:
            spans = [
                tdim.CumulVar(routing.End(k)) - tdim.CumulVar(routing.Start(k)) for k in ks
            ]
            routing.solver().Add(routing.solver().Sum(spans) <= limit)


def _add_penalties(
    routing: pywrapcp.RoutingModel,
    nodes: list[tuple[Visit, int]],
    vehicles: list[_Vehicle],
    preferred: Mapping[str, frozenset[str]],
    params: SolveParams,
) -> None:
    """Per-(visit, carer) costs: continuity and soft gender, as a span-costed dimension."""
    vectors: dict[str, int] = {}
    evaluators: list[int] = []
    any_cost = False
    for veh in vehicles:
        cid = veh.carer.carer_id
        if cid not in vectors:
            costs = []
            for v, _ in nodes:
                regular = preferred.get(v.client_id, frozenset())
                c = params.continuity if regular and cid not in regular else 0
                if params.gender_rule == "soft" and not gender_ok(v, veh.carer):
                    c += params.gender
                costs.append(c)
            any_cost = any_cost or any(costs)
            vectors[cid] = routing.RegisterUnaryTransitVector(costs + [0] * len(vehicles))
        evaluators.append(vectors[cid])
    if not any_cost:
        return
    total = sum(params.continuity + params.gender for _ in nodes) + 1
    routing.AddDimensionWithVehicleTransits(evaluators, 0, total, True, "penalty")
    routing.GetDimensionOrDie("penalty").SetSpanCostCoefficientForAllVehicles(1)


def _colocated_pairs(nodes: list[tuple[Visit, int]], params: SolveParams) -> list[tuple[int, int]]:
    """Node pairs of single-handed visits at one place whose times overlap or nearly do."""
    if params.duplicate == 0:
        return []
    single = [i for i, (v, _) in enumerate(nodes) if not v.double_handed]
    if len(single) < 2:
        return []
    pts = np.array([nodes[i][0].location.point for i in single], dtype=np.float64)
    close = haversine_metres(pts, pts) <= params.duplicate_metres
    gap = params.duplicate_gap_min * 60
    pairs = []
    for a in range(len(single)):
        for b in range(a + 1, len(single)):
            if not close[a, b]:
                continue
            u, w = nodes[single[a]][0], nodes[single[b]][0]
            if (
                u.window.start <= w.end_latest + gap and w.window.start <= u.end_latest + gap
            ):
                pairs.append((single[a], single[b]))
    return pairs


def _search_parameters(params: SolveParams, first: str, share: int) -> object:
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    search.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic
    )
    search.time_limit.FromMilliseconds(max(1, round(params.time_limit * 1000 / share)))
    if params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    search.log_search = params.log
    return search
