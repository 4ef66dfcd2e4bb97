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
- ``penalty`` dimension: per-(carer, visit) unary costs whose span cost puts them in the
  objective, where the local search sees them: ``continuity`` for a carer the client does not
  know (half of it for one they know only from the as-is), ``gender`` for the wrong gender
  (soft rule), and ``duplicate`` for a carer of another provider than the one chosen for a
  group of co-located visits (see below). Each node's costs count above its cheapest vehicle.
- Duplicate multi-provider events: visits at one place (same client, or doors within
  ``duplicate_metres``) whose possible times overlap or come within ``duplicate_gap_min`` form
  groups (connected components). Each group gets one provider: among those with enough carers
  able to staff every visit of it (two for a double-handed one), the one staffing most of it as
  it stands, then the one that took most of it in a first greedy solution; every node done by
  a carer of another provider costs ``duplicate``. Overlapping visits at one door can never
  share a carer, but they can share a provider, so the cost is avoidable where the roster
  allows.
- Double-handed: both copies active or neither, vehicles of different carers, starts within
  the tolerance. Linked: the follower is active only if its predecessor is, and its start lies
  ``gap_min`` … ``gap_max`` seconds after the predecessor's start; with ``link_other_carer``
  the carer (a person, over all their vehicles) of each differs.
- Every visit sits in a disjunction of penalty ``unassigned × priority``, so doing nothing is
  always feasible.

Search
------
OR-Tools' insertion heuristics place one node at a time, which the double-handed and linked
constraints reject, so on a real week they return nothing. The first solution is built by
carerun instead (:class:`carerun._greedy.Greedy`: each visit at its cheapest feasible place,
counting the lateness it causes further along the run (on a day of over ``_LARGE_DAY_NODES``
nodes not, unless a portfolio's second search says so), hardest visits first or all in time
order, whichever costs less; both copies of a double-handed visit together on two carers at
one start; a visit others follow where they still have a place, and they next, inside their
gap), handed to OR-Tools with ``ReadAssignmentFromRoutes``. Without synchronised visits
OR-Tools' own first solution (``first_solution``) is also built, on a short budget, and the
better one is kept.

The metaheuristic then searches the whole day for the rest of the time limit (of its first half
when the day has co-located groups, see below). ``metaheuristic="ITERATED_LOCAL_SEARCH"`` is
OR-Tools' ``SolveWithIteratedLocalSearch``, which builds its own first solution and runs before
anything else on the model; the greedy's plan is kept should it cost less. Days with
double-handed or linked visits are searched by guided local search whatever the metaheuristic;
on such a day of up to ``_LARGE_DAY_NODES`` nodes without ``lns``, the search starts afresh
from the best plan each time it finds no better one for 15 % of the time limit, in turn on a
capped model that moves no visit later (:func:`_restart`), on a squeezed one that allows less
lateness than the plan's largest (:func:`_squeezed`: a visit left late at the end of a route
is a local optimum for OR-Tools' moves of one or two visits), and on the whole model from a
plan in which carerun's greedy has moved synchronised visits, which OR-Tools' moves cannot take
out in pairs (:func:`_rebuild_tied`).
With ``SolveParams.lns`` the search of the whole day stops once it has found no better plan for
a tenth of the limit (at least 1 s), or at 60 % of its time (a tenth on a day of over
``_LARGE_DAY_NODES`` nodes; the iterated local search at 60 %), and the rest goes to a large
neighbourhood search (:func:`_improve_by_parts`): a few nearby carers' routes and undone visits
near them (:mod:`carerun._parts`) are built as a model of their own (:class:`_DayModel`),
searched from their current routes for about 0.01 s a visit, and kept when they cost less.
OR-Tools' moves shift one or two visits at a time across a whole day; a small model lets the
same moves reshape several routes together. Visits tied to ones outside the part keep their
start and stay off the partner's carer, so the plan stays valid. After eight parts in a row gain
nothing, the whole day is searched again for as long as it keeps finding better plans (on
Mankowska's 400-node G1 that one round took 251 of the 300 s, and rounds cut to 30 s did worse:
benchmarks/README.md).

On a day of over ``_LARGE_DAY_NODES`` nodes with synchronised visits (double-handed copies,
linked visits) the constraints tying each pair of them are checked by OR-Tools' constraint
solver after its fast filters, and most moves fail there: on Mankowska's 400-node 300_1 the
search tries about 1,000 moves a second, against 15,000 with those constraints left out. Such a
day is searched in rounds instead (:func:`_alternate`): a held round keeps every synchronised
visit at its start, so its pairs need no constraint and the search moves everything else (and
which carers do the held visits) quickly; on a day of over ``_CAPPED_DAY_NODES`` nodes a capped
round moves every visit but none later than it is, charging no lateness, so that the pairs'
times can be precedences that OR-Tools' filters check; a free round, the whole model, then
trades travel for lateness. Each round lasts while it finds better plans, until a whole cycle of
them finds none (with ``lns``, at most _WHOLE_SHARE of the time, then parts as above). The time
left goes to ruin and recreate (:func:`_ruin_and_recreate`): visits tied to no other are taken
out of the plan a few at a time and a capped model puts them back. These searches add two moves
OR-Tools leaves out by default (_WIDE_MOVES), which took the large Mankowska instances 1.7-3.9 %
lower.

On a day with co-located groups, the second half of the time limit goes to the groups that
the search left to carers of several providers (:func:`_regroup`). A group's provider is
chosen before the search, so a group split one visit each between two providers is stuck:
moving either visit alone costs a penalty. Each such group (the ones whose visits meet in
time first) has the part of the plan around it re-solved, with the provider changed to each
other provider doing some of it, then with its own. The part holds the routes doing the group,
the nearest routes of the provider's carers able to take the rest of it (used or idle) and
the nearest others. A new part is kept when the day, with that provider chosen, costs less.
Rounds repeat while one brings some group to one provider, and the time left searches the
whole day again with the providers as now chosen.
With a ``solution_limit`` the day is searched once, whole, so runs stay reproducible.

Plans found in parts are valued in a model of the whole day that has never searched: one
that has fails to restore even its own best plan on days with double-handed visits.

With ``SolveParams.portfolio`` above 1, several such searches of the day run side by side in
forked processes, differing as :func:`_portfolio` says, and the plan cheapest at the given
weights wins.

The results come back as carerun :class:`~carerun.model.Plan` objects; no OR-Tools type leaves
this module.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import random
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2

from carerun._day import (
    Vehicle,
    allowed_vehicles,
    capable_providers,
    charge_groups,
    colocated_groups,
    group_provider,
    known_carers,
    precheck,
    settled_providers,
    unary_costs,
    work_limits,
)
from carerun._errors import InputError, SolveError
from carerun._greedy import ORDERS, Greedy, rebuild_tied
from carerun._parts import Part, choose_part, part_around, partners_of, tied_closure
from carerun.matrix import TravelMatrix
from carerun.model import (
    LATEST_TIME,
    Assignment,
    Mode,
    Plan,
    Roster,
    Unassigned,
    UnassignedReason,
    Visit,
)
from carerun.solve import RECREATES, SolveParams

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
# Share of the time limit OR-Tools' own first solution may take (the rest is local search).
_FIRST_SHARE = 0.2
# The whole day is searched until it finds no better plan for this share of the time limit
# (at least 1 s), for at most _WHOLE_SHARE of its time; also the length of a later round.
_WHOLE_ROUND = 0.1
_WHOLE_SHARE = 0.6
# On a day of more nodes than _LARGE_DAY_NODES the first search is cut to _LARGE_WHOLE_SHARE:
# there it improves slowly without stalling, and parts do better (Mankowska 300_1, 400 nodes,
# 300 s: 75 % above the best published plan with 0.6, 16 % with 0.1; 200_1, 260 nodes: 1433.9
# with 0.6, 1372.4 with 0.1); on the Italian instances (63-162 nodes, 60 s) the long first
# search does better (benchmarks/README.md).
# Such a day is also searched in alternating rounds when it has synchronised visits (see
# _alternate): on smaller ones a free search is fast enough, and holding the times did worse
# where tardiness dominates (Mankowska 50_1: 1.0 % above the best published plan at 60 s without,
# 11.3 % with; 100_1: 2.6 against 9.2 %).
_LARGE_DAY_NODES = 200  # SolveParams.portfolio's docstring names it too
_LARGE_WHOLE_SHARE = 0.1
# Seconds of search per visit of a part (and at least _PART_MIN_SECONDS).
_PART_SECONDS_PER_NODE = 0.01
_PART_MIN_SECONDS = 0.2
# A round of _alternate ends once it has found no better plan for this share of the time
# limit (at least 1 s), a capped round for _CAPPED_STALL times that; a free round lasts at
# most _FREE_ROUND of it. The capped round finds better plans more slowly, and more of them
# later (Mankowska 300_3 at 300 s, one search: 13.9 % above the best published plan with
# capped rounds as long as the others, 11.0 % three times as long, 17.2 % six times, where a
# single capped round took all the time; benchmarks/README.md).
_ROUND_STALL = 0.02
_FREE_ROUND = 0.05
_ROUNDS = ("held", "capped", "free")
_CAPPED_STALL = 3
# Capped rounds only on days of over this many nodes. On Mankowska's 400-node 300_x at 300 s
# they did better in every run (300_2: 8.9-12.3 % above the best published plan against
# 14.5-15.4 % without), but on the 260-node 200_1 two runs of three came out at 13.5 and
# 14.5 % (6.7 and 10.7 % without). Runs of 200_1 without them also range from 6.7 to 14.5 %,
# so that is no clear loss either; the smaller days keep the search that was measured on them
# over three runs (benchmarks/README.md).
_CAPPED_DAY_NODES = 300
# Once alternating gains no more (and without `lns`), _ruin_and_recreate takes this many
# visits out at a time and gives a try at most _RECREATE_SECONDS. On Mankowska's 200- and
# 300-patient instances at 300 s (three runs each) the medians went from 10.7, 9.1, 9.5, 8.8,
# 12.2 and 11.0 % above the best published plans to 5.4, 5.8, 4.6, 9.0, 6.8 and 9.7 %
# (benchmarks/README.md).
_RECREATE_VISITS = 20
_RECREATE_SECONDS = 5.0
# On a smaller day with synchronised visits (and without `lns`) the guided local search starts
# afresh from the best plan once it has found no better one for this share of the time limit
# (_restart): its penalties, grown over a long stall, steer it away from where the best plans
# are. On the Italian HHCRSP instances at 60 s the mean gap to the best published plans went
# from 5.1 to 4.0-4.6 % in three runs (a tenth of the limit: 4.9 %; ruin and recreate in place
# of the restarts: 6.3 %; benchmarks/README.md). Every other restart searches a capped model
# (see _restart): Italian 4.6 -> 4.2 % (two runs), Mankowska up to 100 patients 3.0 -> 2.3 %.
# The other restarts start from a plan in which the greedy moved synchronised visits (see
# _TIE_SECONDS); with them, 15 % of the limit beat a quarter: Italian 2.4 -> 2.1 %, Mankowska
# 1.8 -> 1.4 % (eighteenth session).
_RESTART_STALL = 0.15
# Seconds at most of one search by the greedy for other places of synchronised visits, from
# which the whole day's restart then searches (_rebuild_tied). In place of restarts from the
# best plan as it stood: Italian at 60 s 4.2 -> 2.4 % (025 13.1 -> 0.9 %, 015 6.5 -> 4.1 %),
# Mankowska up to 100 patients 2.9 -> 1.8 % (benchmarks/README.md, eighteenth session).
_TIE_SECONDS = 5.0
# Every third restart allows visits this share of the plan's largest lateness (see _squeezed).
# Until the twenty-first session only with SolveParams.worst_lateness; at any weight, Italian
# 010 went from 5.4-7.4 % above the best published plan to 3.8 % in each of three runs (its
# largest lateness 29 -> 5 units) and the Italian mean of medians 2.4 -> 1.9 %; Mankowska up to
# 100 patients stayed at 1.4 % (benchmarks/README.md).
_SQUEEZE = 0.75
# Moves OR-Tools leaves out by default, added to the searches of such days (the models of _alternate
# and _ruin_and_recreate, and the free search after them): exchanging the ends of two routes and
# moving a visit next to a near one. On Mankowska's 200- and 300-patient instances at 300 s they
# took each of 200_1, 300_1, 300_2 and 300_3 1.7-3.9 % lower (one search each,
# benchmarks/README.md). Days that do not alternate search as before: on Solomon's eight R and RC
# instances the plain search with them came to 2.91 % against 2.11 % without.
_WIDE_MOVES = ("use_cross_exchange", "use_relocate_neighbors")
# Parts in a row that gain nothing before the whole day is searched again for a round.
_PART_FAILURES = 8
# Share of the time limit kept for re-solving the co-located groups the search left to
# several providers (_regroup), when the day has such groups.
_REGROUP_SHARE = 0.5
# Visits on the routes of a part re-solved around a group (few: the routes doing the group
# and the nearest one or two of the chosen provider's carers able to take it).
_REGROUP_PART_NODES = 20
# Some searches of a portfolio weigh lateness this many times more (see _portfolio), and every
# plan is then valued at the given weights: the weight of a soft penalty shapes what a search
# finds. On the Italian HHCRSP instances the plain search at twice the weight found plans
# cheaper at the given weight, on Mankowska's C1 far dearer; on days of over _LARGE_DAY_NODES
# nodes and on Solomon's (no lateness) the other `lns` is what pays (benchmarks/README).
_PORTFOLIO_LATENESS = 2
# The iterated local search (SolveParams.metaheuristic): strings of about this many visits in
# all are taken out at a time, none longer than _RUIN_STRING, a string now and then keeping
# some of its middle (_RUIN_BYPASS: OR-Tools' SISR ruin). On eight Solomon instances at 10 s,
# 20 visits did better than 10 (benchmarks/README.md).
_ILS = "ITERATED_LOCAL_SEARCH"
_RUIN_VISITS = 20
_RUIN_STRING = 10
_RUIN_BYPASS = 0.01


@dataclass(frozen=True)
class DayResult:
    """A day's plan and each carer's working seconds that day (for weekly budgets)."""

    plan: Plan
    work: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Given:
    """What :func:`solve_day` is told beyond the roster (see its parameters)."""

    preferred: Mapping[str, frozenset[str]] | None
    familiar: Mapping[str, frozenset[str]] | None
    seconds_left: Mapping[str, int] | None
    demand: Mapping[str, int] | None
    capacity: Mapping[str, int] | None


def solve_day(
    roster: Roster,
    matrix: TravelMatrix,
    day: int,
    params: SolveParams,
    *,
    preferred: Mapping[str, frozenset[str]] | None = None,
    familiar: Mapping[str, frozenset[str]] | None = None,
    seconds_left: Mapping[str, int] | None = None,
    demand: Mapping[str, int] | None = None,
    capacity: Mapping[str, int] | None = None,
) -> DayResult:
    """Build and solve the routing model of `day`.

    Parameters
    ----------
    preferred
        Per client, the carers counting as regular (continuity: free).
    familiar
        Per client, carers they know less well, e.g. their carers as it stands (continuity:
        half the cost of a stranger).
    seconds_left
        Per carer, working seconds left this week (absent: no weekly limit).
    demand, capacity
        Optional load per visit and per carer (a capacitated problem, used by the Solomon
        benchmark adapter); absent: no load dimension.

    With ``params.portfolio`` > 1 that many searches run side by side, the others in forked
    processes, and the plan of least cost wins (see :class:`~carerun.solve.SolveParams`).
    """
    given = _Given(preferred, familiar, seconds_left, demand, capacity)
    if params.portfolio <= 1 or not _can_fork():
        return _solve_one_day(roster, matrix, day, params, given=given)
    visits = roster.visits_on(day)
    variants = _portfolio(params, sum(v.carers_required for v in visits))
    # Each other search runs in a forked process that inherits the day's data as it is (nothing
    # is pickled on the way in) and sends its result back through a pipe. Not a process pool:
    # its feeder thread needs the GIL, which OR-Tools holds while this process searches, so
    # the others would only start once this one ends.
    context = multiprocessing.get_context("fork")
    others = []
    for variant, delays in variants[1:]:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_solve_into,
            args=(send, roster, matrix, day, variant, given, delays),
            daemon=True,
        )
        process.start()
        send.close()
        others.append((process, receive))
    try:
        results = [_solve_one_day(roster, matrix, day, *variants[0], given=given)]
    except BaseException:
        # Bad input (or an interrupt): the other searches would fail the same way or be wasted.
        for process, _ in others:
            process.terminate()
            process.join()
        raise
    for process, receive in others:
        try:
            outcome = receive.recv()
        except EOFError:
            outcome = f"the process died (exit code {process.exitcode})"
        process.join()
        if isinstance(outcome, str):
            msg = f"a search of the portfolio failed: {outcome}"
            raise SolveError(msg)
        results.append(outcome)
    # Lateness is charged past a visit's window, except on a visit pinned to its time.
    windows = {v.visit_id: v.window.end for v in visits if v.fixed_start is None}
    costs = [
        _objective_at(r.plan, params, variant, windows)
        for r, (variant, _) in zip(results, variants, strict=True)
    ]
    winner = costs.index(min(costs))
    best = results[winner]
    stats = {**best.plan.stats, "objective": costs[winner], "portfolio_winner": float(winner)}
    return DayResult(dataclasses.replace(best.plan, stats=stats), best.work)


def _portfolio(params: SolveParams, nodes: int) -> list[tuple[SolveParams, bool | None]]:
    """The searches of a portfolio (see :class:`~carerun.solve.SolveParams`), each with
    whether its first solution charges the delays an insertion causes (None: as
    :func:`_solve_one_day` chooses by the day's size): `params`, then the other `lns` (under
    the iterated local search, the other recreate), then lateness at _PORTFOLIO_LATENESS
    times the weight, then both, and so on in fours. Where lateness is allowed and charged,
    the second search is instead the heavier weight on a day of at most _LARGE_DAY_NODES
    nodes (visit copies), and `params` from the first solution that charges delays on a
    larger one."""
    if params.metaheuristic == _ILS:
        recreate = RECREATES[1] if params.recreate == RECREATES[0] else RECREATES[0]
        other = dataclasses.replace(params, recreate=recreate)
    else:
        other = dataclasses.replace(params, lns=not params.lns)
    kinds = [
        params,
        other,
        dataclasses.replace(params, lateness=params.lateness * _PORTFOLIO_LATENESS),
        dataclasses.replace(other, lateness=params.lateness * _PORTFOLIO_LATENESS),
    ]
    charged = bool(params.lateness and params.lateness_limit_min)
    large = nodes > _LARGE_DAY_NODES
    if charged and not large:
        kinds[1], kinds[2] = kinds[2], kinds[1]
    elif charged:
        # On large days the first search beat the one with `lns` in every run kept since the
        # eighth session, and which first solution suits a day varies (benchmarks/README.md).
        kinds[1] = params
    return [
        (
            dataclasses.replace(kinds[i % 4], portfolio=1, seed=params.seed + i),
            True if charged and large and i % 4 == 1 else None,
        )
        for i in range(params.portfolio)
    ]


def _objective_at(
    plan: Plan, params: SolveParams, searched: SolveParams, window_ends: Mapping[str, int]
) -> float:
    """The objective of `plan`, found by a search with `searched`'s weights, at `params`'s:
    they differ in the weight of lateness alone (see _PORTFOLIO_LATENESS)."""
    late = sum(
        max(0, a.start - window_ends[a.visit_id])
        for a in plan.assignments
        if a.visit_id in window_ends
    )
    return plan.stats.get("objective", 0.0) - (searched.lateness - params.lateness) * late


def _solve_into(
    send: Connection,
    roster: Roster,
    matrix: TravelMatrix,
    day: int,
    params: SolveParams,
    given: _Given,
    delays: bool | None,
) -> None:
    """A portfolio search in a forked process: its result, or what went wrong, to `send`."""
    try:
        send.send(_solve_one_day(roster, matrix, day, params, delays, given=given))
    except Exception as e:  # reported to the parent, which raises
        send.send(f"{type(e).__name__}: {e}")
    finally:
        send.close()


def _can_fork() -> bool:
    """Whether this process may start worker processes (a daemon, e.g. a Dask worker, may not;
    nor may a platform without fork)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def _solve_one_day(
    roster: Roster,
    matrix: TravelMatrix,
    day: int,
    params: SolveParams,
    delays: bool | None = None,
    *,
    given: _Given,
) -> DayResult:
    """One search of the day (see :func:`solve_day`); `delays`: whether its first solution
    charges an insertion the delays it causes (None: on a day of at most _LARGE_DAY_NODES
    nodes)."""
    preferred, familiar, seconds_left = given.preferred, given.familiar, given.seconds_left
    demand, capacity = given.demand, given.capacity
    started = time.perf_counter()
    known = known_carers(preferred or {}, familiar or {})
    visits = roster.visits_on(day)
    for carer in roster.carers:
        if carer.shifts_on(day) and carer.mode not in matrix.seconds:
            msg = f"carer {carer.carer_id} travels by {carer.mode.value}, which the matrix lacks"
            raise InputError(msg)
    vehicles = [
        Vehicle(c, s, matrix.index(c.base)) for c in roster.carers for s in c.shifts_on(day)
    ]
    late = params.lateness_limit_min * 60
    allowed, reasons = precheck(visits, vehicles, matrix, late, params)

    todo = [v for v in visits if v.visit_id not in reasons]
    nodes: list[tuple[Visit, int]] = [(v, k) for v in todo for k in range(v.carers_required)]
    if not vehicles or not todo:
        return DayResult(_empty_plan(visits, reasons, day, started))

    rows = np.array(
        [matrix.index(v.location) for v, _ in nodes] + [veh.base for veh in vehicles],
        dtype=np.int64,
    )
    service = np.array([v.duration for v, _ in nodes] + [0] * len(vehicles), dtype=np.int64)
    modes = sorted({veh.carer.mode for veh in vehicles})
    travel = {m: matrix.seconds[m][np.ix_(rows, rows)].astype(np.int64) for m in modes}
    metres = {m: matrix.metres[m][np.ix_(rows, rows)] for m in modes}
    allowed_of = [allowed_vehicles(v, k, allowed[v.visit_id], vehicles) for v, k in nodes]
    groups = (
        colocated_groups(nodes, params, late)
        if params.duplicate and not params.respect_providers
        else []
    )
    capable = [capable_providers(nodes, g, vehicles, allowed_of) for g in groups]
    targets = [
        group_provider(roster, [nodes[i][0] for i in g], g, vehicles, allowed_of, able)
        for g, able in zip(groups, capable, strict=True)
    ]
    plain = unary_costs(nodes, vehicles, known, params)
    extra = charge_groups(plain, vehicles, groups, targets, params.duplicate)
    limits = work_limits(vehicles, seconds_left or {})
    load = [demand.get(v.visit_id, 0) for v, _ in nodes] if demand is not None else None
    caps = (
        [capacity.get(veh.carer.carer_id, 0) for veh in vehicles] if capacity is not None else None
    )

    search_began = time.perf_counter()
    # Co-located visits go early, while carers of their group's provider are still free.
    grouped = {nodes[i][0].visit_id for g in groups for i in g}

    # A large day starts from a first solution blind to the delays an insertion causes,
    # unless told: on Mankowska 300_2 (300 s, seeds 0-2) its searches end 6.7, 6.1, 8.3 %
    # above the best published plan, against 12.1, 10.1, 12.4 % from one that charges them;
    # on 300_3 11.0, 12.4 against 7.3 % (benchmarks/README.md).
    if delays is None:
        delays = len(nodes) <= _LARGE_DAY_NODES

    def greedy(order: str) -> Greedy:
        built = Greedy(
            nodes,
            vehicles,
            travel,
            allowed_of,
            extra,
            limits,
            params,
            late,
            load,
            caps,
            delays=delays,
        )
        built.run(order=order, early=grouped)
        return built

    if groups:
        # A group's provider as it stands may lack the carers to do it all; give each group to
        # the provider that took most of it in a first greedy solution.
        runs = greedy("hardest").runs
        targets = settled_providers(runs, vehicles, groups, targets, capable)
        extra = charge_groups(plain, vehicles, groups, targets, params.duplicate)
    # Neither order wins everywhere (hardest first suits few carers, time order suits many);
    # both are cheap, so build both and keep the cheaper.
    first_routes = min((greedy(order) for order in ORDERS), key=lambda g: g.cost()).runs

    data = _DayModel(
        nodes, vehicles, travel, service, params, late, limits, allowed_of, extra, load, caps
    )
    model = data.build()
    deadline = search_began + params.time_limit
    timed = params.solution_limit is None
    searched = deadline - params.time_limit * _REGROUP_SHARE if groups and timed else deadline
    best, first = model.search(first_routes, params, search_began, stop=searched)
    parts, ruins, restarts, regrouped, rounds = (0, 0), (0, 0), (0, 0), 0, 0
    if model.alternates(params):
        # With `lns`, parts get what is left after _WHOLE_SHARE at the latest.
        share = _WHOLE_SHARE if params.lns else 1.0
        best, rounds = _alternate(data, best, search_began + (searched - search_began) * share)
        if not params.lns:
            best, ruins = _ruin_and_recreate(data, best, searched)
            if searched - time.perf_counter() > _PART_MIN_SECONDS:
                # Nothing to ruin (every visit is tied to another): one long free search, as
                # on a day without pairs.
                tail = data.build(wide=True).solve_part(
                    _node_lists(best.routes, len(vehicles)),
                    dataclasses.replace(params, seed=params.seed + rounds + 1),
                    searched - time.perf_counter(),
                )
                best = best if tail is None else tail
    if model.restarts(params):
        best, restarts = _restart(data, best, searched)
    if params.lns and timed:
        best, parts = _improve_by_parts(data, best, searched)
    if groups and timed:
        best, regrouped, extra = _regroup(data, best, groups, targets, capable, plain, deadline)
        # Time left over goes to the whole day again, with the providers as now chosen.
        if deadline - time.perf_counter() > _PART_MIN_SECONDS:
            again_model = dataclasses.replace(data, extra=extra).build()
            every = _node_lists(best.routes, len(vehicles))
            again = again_model.solve_part(every, params, max(deadline - time.perf_counter(), 0.01))
            if again is not None:
                best = again

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
        unassigned=tuple(
            Unassigned(v.visit_id, reasons[v.visit_id]) for v in visits if v.visit_id in reasons
        ),
        travel_home=travel_home,
        distance_home=distance_home,
        label=f"day {day}",
        stats={
            "objective": float(best.objective),
            "seconds": time.perf_counter() - started,
            "status": float(model.routing.status()),
            "fallback": float(first == "ALL_UNPERFORMED"),
            "first_objective": float(model.first_objective),
            "first_from_ortools": float(first not in ("carerun", "ALL_UNPERFORMED")),
            "vehicles": float(len(vehicles)),
            "parts_tried": float(parts[0]),
            "parts_improved": float(parts[1]),
            "ruins_tried": float(ruins[0]),
            "ruins_improved": float(ruins[1]),
            "restarts_tried": float(restarts[0]),
            "restarts_improved": float(restarts[1]),
            "groups_regrouped": float(regrouped),
            "whole_rounds": float(rounds),
        },
    )
    return DayResult(plan, work)


@dataclass(frozen=True)
class _DayModel:
    """Everything a routing model of the day is built from, so that a part of the day (some
    vehicles and nodes) can be built as a model of its own."""

    nodes: list[tuple[Visit, int]]
    vehicles: list[Vehicle]
    travel: Mapping[Mode, np.ndarray]
    service: np.ndarray
    params: SolveParams
    late: int
    limits: Mapping[str, int]
    allowed_of: list[list[int]]
    extra: np.ndarray
    load: list[int] | None
    caps: list[int] | None

    def build(
        self,
        fixed: Mapping[int, int] | None = None,
        latest: Mapping[int, int] | None = None,
        *,
        wide: bool = False,
    ) -> _Model:
        """The model of the whole day (`fixed`, `latest`, `wide`: as in _Model)."""
        return self._model(
            self.nodes,
            self.vehicles,
            self.travel,
            self.service,
            self.allowed_of,
            self.extra,
            self.load,
            self.caps,
            fixed or {},
            latest,
            wide=wide,
        )

    def held(self, routes: Mapping[int, _Route]) -> _Model:
        """The model of the whole day with every synchronised visit (a double-handed copy, a
        linked visit or one that others follow) that `routes` do held at its start there."""
        partners = partners_of(self.nodes)
        return self.build(
            {x: start for stops, _, _ in routes.values() for x, start in stops if partners[x]},
            wide=True,
        )

    def capped(self, routes: Mapping[int, _Route]) -> _Model:
        """The model of the whole day charging no lateness, where no visit may start later
        than its window's end or, if later, its start in `routes`: no soft bounds, so the
        pairs' times can be node precedences, which OR-Tools' filters check (see
        :meth:`_Model.add_synchrony`)."""
        starts = {x: start for stops, _, _ in routes.values() for x, start in stops}
        latest = {
            x: max(v.window.end, starts.get(x, v.window.end)) for x, (v, _) in enumerate(self.nodes)
        }
        return self.build(latest=latest, wide=True)

    def valuer(self) -> _Model:
        """A closed model of the whole day that only values plans (see :meth:`_Model.restore`)."""
        model = self.build()
        model.close(self.params)
        return model

    def part(self, part: Part) -> _Model:
        """The model of `part` alone: its nodes and vehicles, numbered in their order there."""
        keep, fleet = part.nodes, part.vehicles
        n = len(self.nodes)
        rows = [*keep, *(n + k for k in fleet)]
        at = {k: i for i, k in enumerate(fleet)}
        allowed = [
            [
                at[k]
                for k in self.allowed_of[x]
                if k in at and self.vehicles[k].carer.carer_id not in part.banned.get(x, ())
            ]
            for x in keep
        ]
        extra = self.extra[np.ix_(fleet, keep)]
        return self._model(
            [self.nodes[x] for x in keep],
            [self.vehicles[k] for k in fleet],
            {m: t[np.ix_(rows, rows)] for m, t in self.travel.items()},
            self.service[rows],
            allowed,
            # Costs count above each node's cheapest vehicle of the part (see _day.unary_costs).
            extra - extra.min(axis=0),
            None if self.load is None else [self.load[x] for x in keep],
            None if self.caps is None else [self.caps[k] for k in fleet],
            {i: part.fixed[x] for i, x in enumerate(keep) if x in part.fixed},
        )

    def _model(
        self,
        nodes: list[tuple[Visit, int]],
        vehicles: list[Vehicle],
        travel: Mapping[Mode, np.ndarray],
        service: np.ndarray,
        allowed_of: list[list[int]],
        extra: np.ndarray,
        load: list[int] | None,
        caps: list[int] | None,
        fixed: Mapping[int, int],
        latest: Mapping[int, int] | None = None,
        *,
        wide: bool = False,
    ) -> _Model:
        model = _Model(
            nodes, vehicles, travel, service, self.params, self.late, fixed, latest, wide=wide
        )
        model.add_work_limits(self.limits)
        model.add_allowed(allowed_of)
        model.add_synchrony(self.params)
        model.add_unary_costs(extra)
        if load is not None and caps is not None:
            model.add_load(load, caps)
        return model


def _alternate(data: _DayModel, best: _Solution, deadline: float) -> tuple[_Solution, int]:
    """Search the whole day in rounds of _ROUNDS (capped ones on days of over
    _CAPPED_DAY_NODES nodes) until `deadline` or until a whole cycle of them gains nothing;
    returns the plan and how many rounds ran.

    A held round (:meth:`_DayModel.held`) keeps every synchronised visit at its start: the
    constraints tying pairs of visits drop out, so OR-Tools tries some fifteen times as many
    moves a second (Mankowska's 300_1), and can still move the rest and change which carers
    do the held ones. A capped round (:meth:`_DayModel.capped`) moves every visit, the held
    times too, but none later than it now is, and charges no lateness: the pairs are then
    checked by OR-Tools' filters, and it tries some 250 times as many moves a second as a
    free round (300_2). A free round, the whole model, trades travel for lateness. Each lasts
    while it keeps finding better plans (a capped one _CAPPED_STALL times as long, since it
    finds them more slowly); a free round at most _FREE_ROUND of the time limit.
    """
    params = data.params
    n = len(data.vehicles)
    valuer = data.valuer()
    window = _stall_window(params, _ROUND_STALL)
    kinds = [k for k in _ROUNDS if k != "capped" or len(data.nodes) > _CAPPED_DAY_NODES]
    rounds = fruitless = 0
    while fruitless < len(kinds):
        kind = kinds[rounds % len(kinds)]
        left = deadline - time.perf_counter()
        if left < _PART_MIN_SECONDS:
            break
        rounds += 1
        if kind == "held":
            model = data.held(best.routes)
        elif kind == "capped":
            model = data.capped(best.routes)
        else:
            model = data.build(wide=True)
        model.watch_stall()
        model.stall.arm(window * (_CAPPED_STALL if kind == "capped" else 1))
        seconds = min(left, params.time_limit * _FREE_ROUND) if kind == "free" else left
        round_params = dataclasses.replace(params, seed=params.seed + rounds)
        found = model.solve_part(_node_lists(best.routes, n), round_params, seconds)
        if found is not None and kind != "free":
            # Valued in the whole model, which charges lateness and may time held visits better.
            valued = valuer.restore(_node_lists(found.routes, n), params)
            found = None if valued is None else valuer.read(valued)
        if found is None or found.objective >= best.objective:
            fruitless += 1
            continue
        fruitless = 0
        best = found
    return best, rounds


def _restart(
    data: _DayModel, best: _Solution, deadline: float
) -> tuple[_Solution, tuple[int, int]]:
    """Until `deadline`: search from `best` afresh (a new model, so no penalties of the guided
    local search carry over, and a new seed), in turn a capped model of the day
    (:meth:`_DayModel.capped`) until it stalls as a capped round of :func:`_alternate` does,
    a squeezed day (:func:`_squeezed`) as long, and the whole day until it stalls for
    _RESTART_STALL of the time limit (at least 1 s), from `best` with some synchronised visits
    moved by the greedy (:func:`_rebuild_tied`); keep what the whole model values lower. Also
    returns how many searches ran and how many improved the plan.

    A capped search moves no visit past its window or its start in `best`, so it cannot trade
    travel for lateness, but OR-Tools' filters check its pairs and it tries far more moves a
    second; the whole day's search then trades again. OR-Tools cannot charge the largest
    lateness, only each visit's, and its moves seldom take a late visit off the end of a
    route: a squeezed search does, whatever `worst_lateness` is. No OR-Tools move takes
    both copies of a double-handed visit (or a linked pair) elsewhere at once; the greedy does,
    and the whole day's search starts from where that leaves the plan, off the local optimum
    the earlier searches ended in."""
    params = data.params
    n = len(data.vehicles)
    valuer = data.valuer()
    kinds = ["capped", "squeezed", "ties"]
    # Stall windows: a capped or squeezed search's, as a capped round's; the whole day's.
    quick = _stall_window(params, _ROUND_STALL) * _CAPPED_STALL
    slow = _stall_window(params, _RESTART_STALL)
    tried = improved = 0
    while (left := deadline - time.perf_counter()) > _PART_MIN_SECONDS:
        tried += 1
        kind = kinds[(tried - 1) % len(kinds)]
        squeezed = _squeezed(data, best.routes) if kind == "squeezed" else None
        rebuilt = _rebuild_tied(data, best, params.seed + tried, left) if kind == "ties" else None
        lowered = False
        if rebuilt is not None:
            best, lowered = _keep_lower_routes(valuer, rebuilt, best, params)
            left = deadline - time.perf_counter()
            if left <= _PART_MIN_SECONDS:
                improved += lowered
                break
        if kind == "capped":
            model, routes, window = data.capped(best.routes), _node_lists(best.routes, n), quick
        elif squeezed is not None:
            (model, routes), window = squeezed, quick
        else:  # the whole day, also in place of a squeeze when no visit is late
            model, window = data.build(), slow
            routes = rebuilt if rebuilt is not None else _node_lists(best.routes, n)
        model.watch_stall()
        model.stall.arm(window)
        again = dataclasses.replace(params, seed=params.seed + tried)
        found = model.solve_part(routes, again, left)
        best, gained = _keep_lower(valuer, found, best, params, n)
        improved += gained or lowered
    return best, (tried, improved)


def _rebuild_tied(
    data: _DayModel, best: _Solution, seed: int, seconds: float
) -> list[list[int]] | None:
    """`best` with some synchronised visits put back elsewhere by the greedy
    (:func:`carerun._greedy.rebuild_tied`, for at most _TIE_SECONDS of `seconds`): the lowest
    plan found or, if none is lower, where its walk ended, as nodes per vehicle; None when it
    took no try."""
    partners = partners_of(data.nodes)
    runs = _node_lists(best.routes, len(data.vehicles))
    starts = {x: t for stops, _, _ in best.routes.values() for x, t in stops if partners[x]}

    def make() -> Greedy:
        return Greedy(
            data.nodes,
            data.vehicles,
            data.travel,
            data.allowed_of,
            data.extra,
            data.limits,
            data.params,
            data.late,
            data.load,
            data.caps,
            delays=True,
        )

    return rebuild_tied(
        make,
        runs,
        starts,
        partners=partners,
        near=next(iter(data.travel.values())),
        rng=random.Random(seed),
        deadline=time.perf_counter() + min(seconds, _TIE_SECONDS),
    )


def _squeezed(
    data: _DayModel, routes: Mapping[int, _Route]
) -> tuple[_Model, list[list[int]]] | None:
    """The whole day allowing visits _SQUEEZE of the largest lateness in `routes`, and
    `routes` without the visits later than that (nor the visits tied to them), for the search
    to put back; None when no visit is late."""
    worst = _worst_lateness(data.nodes, routes)
    if not worst:
        return None
    late = int(worst * _SQUEEZE)
    out = tied_closure(
        [
            x
            for stops, _, _ in routes.values()
            for x, start in stops
            if data.nodes[x][0].fixed_start is None and start - data.nodes[x][0].window.end > late
        ],
        partners_of(data.nodes),
    )
    kept = [[x for x in stops if x not in out] for stops in _node_lists(routes, len(data.vehicles))]
    return dataclasses.replace(data, late=late).build(), kept


def _worst_lateness(nodes: Sequence[tuple[Visit, int]], routes: Mapping[int, _Route]) -> int:
    """The largest lateness, in seconds, of a visit in `routes` without a fixed start (none
    when every visit is on time)."""
    return max(
        (
            max(0, start - nodes[x][0].window.end)
            for stops, _, _ in routes.values()
            for x, start in stops
            if nodes[x][0].fixed_start is None
        ),
        default=0,
    )


def _stall_window(params: SolveParams, share: float) -> float:
    """Seconds without a better plan that end a search: `share` of the time limit, at least
    1 s (see :class:`_Stall`)."""
    return max(1.0, params.time_limit * share)


def _keep_lower(
    valuer: _Model, found: _Solution | None, best: _Solution, params: SolveParams, n: int
) -> tuple[_Solution, bool]:
    """`found` as `valuer` (see :meth:`_DayModel.valuer`) values it if that is lower than
    `best`, else `best`; and whether it was."""
    if found is None:
        return best, False
    return _keep_lower_routes(valuer, _node_lists(found.routes, n), best, params)


def _keep_lower_routes(
    valuer: _Model, routes: list[list[int]], best: _Solution, params: SolveParams
) -> tuple[_Solution, bool]:
    """:func:`_keep_lower` of a plan given as nodes per vehicle."""
    valued = valuer.restore(routes, params)
    if valued is None:
        return best, False
    lower = valuer.read(valued)
    return (lower, True) if lower.objective < best.objective else (best, False)


def _ruin_and_recreate(
    data: _DayModel, best: _Solution, deadline: float
) -> tuple[_Solution, tuple[int, int]]:
    """Until `deadline`: take _RECREATE_VISITS visits tied to no other (nearest a random
    one) out of the plan, let a capped model (:meth:`_DayModel.capped`) put them back by
    greedy descent, and keep the result when the whole model values it lower. Also returns
    how many tries were made and how many improved the plan.

    When alternating rounds gain no more, each of them is at a local optimum; taking visits
    out moves the plan off it, and a capped model is quick to search. Visits tied to others
    stay: a capped model puts one back only with its partner, which no move does.
    """
    params = data.params
    rng = random.Random(params.seed)
    partners = partners_of(data.nodes)
    near = next(iter(data.travel.values()))  # as in _improve_by_parts
    n = len(data.vehicles)
    valuer = data.valuer()
    descent = dataclasses.replace(params, metaheuristic="GREEDY_DESCENT")
    tried = improved = 0
    while (left := deadline - time.perf_counter()) > _PART_MIN_SECONDS:
        singles = [x for stops, _, _ in best.routes.values() for x, _ in stops if not partners[x]]
        if len(singles) <= _RECREATE_VISITS:
            break
        around = rng.choice(singles)
        nearest = np.argsort(near[around, singles], kind="stable")[:_RECREATE_VISITS]
        out = {singles[int(i)] for i in nearest}
        ruined = [[x for x in route if x not in out] for route in _node_lists(best.routes, n)]
        found = data.capped(best.routes).solve_part(ruined, descent, min(left, _RECREATE_SECONDS))
        tried += 1
        best, gained = _keep_lower(valuer, found, best, params, n)
        improved += gained
    return best, (tried, improved)


def _improve_by_parts(
    data: _DayModel, best: _Solution, deadline: float
) -> tuple[_Solution, tuple[int, int]]:
    """Large neighbourhood search: re-solve parts of the plan (a few nearby carers' routes and
    undone visits near them, see :mod:`carerun._parts`) as small models until `deadline`,
    keeping each new part that costs less; after _PART_FAILURES parts in a row gain nothing,
    search the whole day again for a round. Also returns how many parts were tried and how
    many of them improved the plan."""
    params = data.params
    rng = random.Random(params.seed)
    partners = partners_of(data.nodes)
    owner = [veh.carer.carer_id for veh in data.vehicles]
    # Nearness of visits by the first mode's journeys: only used to choose parts.
    near = next(iter(data.travel.values()))
    routes = dict(best.routes)  # vehicle -> (stops, begin, finish), as in _Solution
    objective = best.objective
    n = len(data.vehicles)
    valuer = data.valuer()
    rounds = failures = tried = improved = 0
    chunk = _stall_window(params, _WHOLE_ROUND)
    while True:
        rounds += 1
        stops_of = {k: stops for k, (stops, _, _) in routes.items()}
        if failures >= _PART_FAILURES and time.perf_counter() + chunk <= deadline:
            failures = 0
            every = _node_lists(routes, n)
            # As long as it keeps finding better plans, then back to parts. A fresh model:
            # one that has searched may fail to restore a plan (see _Model.restore).
            whole = data.build()
            whole.watch_stall()
            whole.stall.arm(chunk)
            again = whole.solve_part(every, params, deadline - time.perf_counter())
            if again is not None:
                routes, objective = dict(again.routes), again.objective
            continue
        done = {x for stops in stops_of.values() for x, _ in stops}
        undone = [x for x in range(len(data.nodes)) if x not in done]
        part = choose_part(
            stops_of,
            undone,
            travel=near,
            owner=owner,
            allowed_of=data.allowed_of,
            partners=partners,
            rng=rng,
        )
        if part is None:
            break
        seconds = max(_PART_MIN_SECONDS, _PART_SECONDS_PER_NODE * len(part.nodes))
        if time.perf_counter() + seconds > deadline:
            break
        part_params = dataclasses.replace(params, seed=params.seed + rounds)
        found = data.part(part).solve_part(_part_routes(part, routes), part_params, seconds)
        tried += 1
        if found is None:
            failures += 1
            continue
        candidate = _with_part(routes, part, found)
        every = _node_lists(candidate, n)
        # The whole model values the candidate: parts count costs above their own cheapest
        # carers, so their objectives do not add up to the day's; and a part's model is looser
        # than the day's where a constraint reaches outside it (seen on a 400-visit Rutland
        # day), so what the whole day rejects is never kept.
        valued = valuer.restore(every, params)
        cost = None if valued is None else valuer.value(valued)
        if cost is None or cost >= objective:
            failures += 1
            continue
        failures = 0
        improved += 1
        routes, objective = candidate, cost
    return _Solution(objective, routes), (tried, improved)


def _regroup(
    data: _DayModel,
    best: _Solution,
    groups: Sequence[list[int]],
    targets: Sequence[str],
    capable: Sequence[set[str]],
    plain: np.ndarray,
    deadline: float,
) -> tuple[_Solution, int, np.ndarray]:
    """Re-solve, until `deadline`, the part of the plan around each co-located group that the
    search left to carers of several providers, once for each other able provider doing some
    of it and once for its own, keeping what costs less with that provider chosen; again,
    with the next seed, while a round brings some group to one provider.

    The provider of a group is chosen before the search, so a group split one visit each
    between two providers is stuck: moving either visit costs a duplicate penalty until the
    other moves too. Here the provider may change, and the part's model moves both together.
    Returns the plan (its objective with the providers as now chosen), how many groups it
    brought to one provider, and the unary costs of the providers as now chosen.
    """
    partners = partners_of(data.nodes)
    owner = [veh.carer.carer_id for veh in data.vehicles]
    provider = [veh.carer.provider for veh in data.vehicles]
    near = next(iter(data.travel.values()))
    n = len(data.vehicles)
    chosen = list(targets)
    extra = data.extra
    routes = dict(best.routes)
    objective = best.objective
    valuer = data.valuer()
    regrouped = 0

    def unary(costs: np.ndarray, of: Mapping[int, _Route]) -> int:
        return int(sum(costs[k, x] for k, (stops, _, _) in of.items() for x, _ in stops))

    def providers(group: list[int]) -> set[str]:
        return {provider[k] for k, (stops, _, _) in routes.items() for x, _ in stops if x in group}

    round_ = 0
    while True:
        params = dataclasses.replace(data.params, seed=data.params.seed + round_)
        round_, before = round_ + 1, regrouped
        for g in _split_groups(data, groups, routes):
            group = groups[g]
            # The search could not bring the group to its provider: try the others first.
            options = [*sorted((providers(group) & capable[g]) - {chosen[g]}), chosen[g]]
            for target in options:
                stops_of = {k: stops for k, (stops, _, _) in routes.items()}
                done = {x for stops in stops_of.values() for x, _ in stops}
                # The target's carers able to do what others do of the group come first: they
                # must take it.
                elsewhere = [
                    x
                    for k, (stops, _, _) in routes.items()
                    for x, _ in stops
                    if x in group and provider[k] != target
                ]
                able = {k for x in elsewhere for k in data.allowed_of[x] if provider[k] == target}
                part = part_around(
                    stops_of,
                    group,
                    [x for x in range(len(data.nodes)) if x not in done],
                    travel=near,
                    owner=owner,
                    allowed_of=data.allowed_of,
                    partners=partners,
                    prefer=able,
                    size=_REGROUP_PART_NODES,
                )
                if part is None:
                    break
                seconds = max(_PART_MIN_SECONDS, _PART_SECONDS_PER_NODE * len(part.nodes))
                if time.perf_counter() + seconds > deadline:
                    return _Solution(objective, routes), regrouped, extra
                tried = [*chosen[:g], target, *chosen[g + 1 :]]
                costs = (
                    extra
                    if target == chosen[g]
                    else charge_groups(plain, data.vehicles, groups, tried, data.params.duplicate)
                )
                found = (
                    dataclasses.replace(data, extra=costs)
                    .part(part)
                    .solve_part(_part_routes(part, routes), params, seconds)
                )
                if found is None:
                    continue
                candidate = _with_part(routes, part, found)
                if not _fair_trade(data, done, candidate):
                    continue
                valued = valuer.restore(_node_lists(candidate, n), params)
                if valued is None:
                    continue
                # The valuer charges the providers chosen before the search: swap its unary
                # costs for those of the providers chosen now.
                cost = valuer.value(valued) - unary(data.extra, candidate) + unary(costs, candidate)
                if cost >= objective - unary(extra, routes) + unary(costs, routes):
                    continue
                routes, objective, extra, chosen = candidate, cost, costs, tried
                regrouped += len(providers(group)) < 2
                break
        if regrouped == before:
            return _Solution(objective, routes), regrouped, extra


def _node_lists(routes: Mapping[int, _Route], n: int) -> list[list[int]]:
    """The nodes each of `n` vehicles visits, in order (none for a vehicle `routes` lacks)."""
    return [[x for x, _ in routes[k][0]] if k in routes else [] for k in range(n)]


def _part_routes(part: Part, routes: Mapping[int, _Route]) -> list[list[int]]:
    """The part's vehicles' routes as they stand, numbered as the part's nodes."""
    position = {x: i for i, x in enumerate(part.nodes)}
    return [[position[x] for x, _ in routes[k][0]] if k in routes else [] for k in part.vehicles]


def _with_part(routes: Mapping[int, _Route], part: Part, found: _Solution) -> dict[int, _Route]:
    """`routes` with the part's vehicles' routes replaced by those `found` for the part."""
    merged = {k: r for k, r in routes.items() if k not in part.vehicles}
    for i, (stops, begin, finish) in found.routes.items():
        merged[part.vehicles[i]] = ([(part.nodes[x], t) for x, t in stops], begin, finish)
    return merged


def _fair_trade(
    data: _DayModel,
    done: Collection[int],
    candidate: Mapping[int, _Route],
) -> bool:
    """Whether `candidate` leaves undone only visits of no higher priority than every visit it
    does instead. Putting a group with one provider may cost a visit for another (the costs
    decide), but never a visit that outranks it: two plain visits do not buy one a client has
    a carer for today (:func:`carerun.solve._weigh_done_today`)."""
    now = {x for stops, _, _ in candidate.values() for x, _ in stops}
    lost = [data.nodes[x][0].priority for x in done if x not in now]
    gained = [data.nodes[x][0].priority for x in now if x not in done]
    return not lost or max(lost) <= min(gained, default=0)


def _split_groups(
    data: _DayModel,
    groups: Sequence[list[int]],
    routes: Mapping[int, _Route],
) -> list[int]:
    """The groups done by carers of several providers, those whose visits of different
    providers come within the duplicate gap first (the duplicate events), then by size."""
    gap = data.params.duplicate_gap_min * 60
    done = {
        x: (data.vehicles[k].carer.provider, t, t + int(data.service[x]))
        for k, (stops, _, _) in routes.items()
        for x, t in stops
    }
    ranked = []
    for g, group in enumerate(groups):
        ours = [done[x] for x in group if x in done]
        if len({p for p, _, _ in ours}) < 2:
            continue
        event = any(
            p != q and s1 <= e2 + gap and s2 <= e1 + gap
            for (p, s1, e1), (q, s2, e2) in itertools.combinations(ours, 2)
        )
        ranked.append((not event, -len(group), g))
    return [g for *_, g in sorted(ranked)]


class _Stall:
    """A search limit that stops a search once it has found no better plan for a while."""

    def __init__(self, routing: pywrapcp.RoutingModel) -> None:
        self.routing = routing
        self.window = 0.0
        self.best = 0
        self.last = 0.0

    def arm(self, window: float) -> None:
        self.window, self.best, self.last = window, 2**62, time.perf_counter()

    def disarm(self) -> None:
        self.window = 0.0

    def seen(self) -> None:
        cost = self.routing.CostVar().Value()
        if self.window and cost < self.best:
            self.best, self.last = cost, time.perf_counter()

    def stalled(self) -> bool:
        return bool(self.window) and time.perf_counter() - self.last > self.window


# One vehicle's route: its (node, start) stops, and when it begins and finishes.
_Route = tuple[list[tuple[int, int]], int, int]


@dataclass(frozen=True)
class _Solution:
    """A solution read out of OR-Tools: per used vehicle, its route."""

    objective: int
    routes: dict[int, _Route]


class _Model:
    """The OR-Tools routing model of one day and its search."""

    def __init__(
        self,
        nodes: list[tuple[Visit, int]],
        vehicles: list[Vehicle],
        travel: Mapping[Mode, np.ndarray],
        service: np.ndarray,
        params: SolveParams,
        late: int,
        fixed: Mapping[int, int] | None = None,
        latest: Mapping[int, int] | None = None,
        *,
        wide: bool = False,
    ) -> None:
        """`fixed` maps nodes that must be done, at the given start (a part's visits tied to
        visits outside it). `latest`: a capped model (see :meth:`_DayModel.capped`), which
        charges no lateness and starts each node by ``latest[node]`` (absent: its window's
        end). `wide`: searched with the moves of _WIDE_MOVES too (OR-Tools builds its moves
        when the model closes, so this is the model's, not a search's)."""
        self.nodes, self.vehicles = nodes, vehicles
        self.wide = wide
        self.worst_lateness = params.worst_lateness
        fixed = fixed or {}
        self.fixed = fixed
        self.latest = latest
        self.visit_types: dict[int, int] = {}
        self.synchronised = any(v.double_handed or v.follows for v, _ in nodes)
        self.first_objective = 0
        self.closed = False
        # With `share_depots`, vehicles leaving from one place share one depot node; otherwise
        # each has its own (see SolveParams.share_depots for what each costs).
        n = len(nodes)
        depot: dict[int, int] = {}
        rows = list(range(n))
        ends = []
        for k, veh in enumerate(vehicles):
            key = veh.base if params.share_depots else -1 - k
            if key not in depot:
                depot[key] = n + len(depot)
                rows.append(n + k)
            ends.append(depot[key])
        self.depots = len(depot)
        travel = {m: t[np.ix_(rows, rows)] for m, t in travel.items()}
        service = service[rows]
        self.manager = pywrapcp.RoutingIndexManager(n + self.depots, len(vehicles), ends, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing, manager = self.routing, self.manager
        # Stops the whole-day search once it stalls (only registered with `lns`).
        self.stall = _Stall(routing)
        modes = sorted({veh.carer.mode for veh in vehicles})
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
        self.tdim = tdim = routing.GetDimensionOrDie("time")
        self.index_of: dict[tuple[str, int], int] = {}
        for node, (v, k) in enumerate(nodes):
            idx = manager.NodeToIndex(node)
            self.index_of[v.visit_id, k] = idx
            cumul = tdim.CumulVar(idx)
            if node in fixed:
                cumul.SetRange(fixed[node], fixed[node])
            elif v.fixed_start is not None:
                cumul.SetRange(v.fixed_start, v.fixed_start)
            elif latest is not None:
                cumul.SetRange(v.window.start, latest.get(node, v.window.end))
            else:
                cumul.SetRange(v.window.start, v.window.end + late)
            if late and v.fixed_start is None and latest is None:
                tdim.SetCumulVarSoftUpperBound(idx, v.window.end, params.lateness)
            if node not in fixed:
                routing.AddDisjunction([idx], params.unassigned * max(1, v.priority))
        for k, veh in enumerate(vehicles):
            start, end = tdim.CumulVar(routing.Start(k)), tdim.CumulVar(routing.End(k))
            start.SetRange(veh.shift.start, veh.shift.end)
            end.SetRange(veh.shift.start, veh.shift.end)
            # Leave base as late and come back as early as the route allows: spans are work.
            routing.AddVariableMaximizedByFinalizer(start)
            routing.AddVariableMinimizedByFinalizer(end)

    def add_allowed(self, allowed_of: list[list[int]]) -> None:
        for node, ok in enumerate(allowed_of):
            if len(ok) < len(self.vehicles):
                # -1: the visit may stay undone.
                self.routing.VehicleVar(self.manager.NodeToIndex(node)).SetValues([-1, *ok])

    def add_work_limits(self, limits: Mapping[str, int]) -> None:
        by_carer: dict[str, list[int]] = {}
        for k, veh in enumerate(self.vehicles):
            by_carer.setdefault(veh.carer.carer_id, []).append(k)
        solver, routing, tdim = self.routing.solver(), self.routing, self.tdim
        for cid, ks in by_carer.items():
            if cid not in limits:
                continue
            for k in ks:
                tdim.SetSpanUpperBoundForVehicle(limits[cid], k)
            if len(ks) > 1:
                spans = [
                    tdim.CumulVar(routing.End(k)) - tdim.CumulVar(routing.Start(k)) for k in ks
                ]
                solver.Add(solver.Sum(spans) <= limits[cid])

    def add_synchrony(self, params: SolveParams) -> None:
        """Double-handed pairs and linked visits, as constraints on the CP solver; in a
        capped model their times as node precedences and, where every vehicle is a different
        person, their "other carer" as visit types, which OR-Tools' filters check before the
        constraint solver (with soft bounds on the times that check is a linear program per
        move, so only a capped model, which has none, does it)."""
        solver, routing, tdim, index_of = (
            self.routing.solver(),
            self.routing,
            self.tdim,
            self.index_of,
        )
        people: dict[str, int] = {}
        owners = [people.setdefault(veh.carer.carer_id, len(people)) for veh in self.vehicles]
        capped = self.latest is not None
        by_type = capped and len(people) == len(owners)
        tol = params.double_handed_tolerance_min * 60
        for v, k in self.nodes:
            if k:
                continue
            if v.double_handed and (v.visit_id, 1) in index_of:
                a, b = index_of[v.visit_id, 0], index_of[v.visit_id, 1]
                self._different_carers(a, b, owners, by_type=by_type)
                # Both fixed: their starts come from a valid plan and agree already.
                if not self._both_fixed(a, b):
                    solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
                    if capped:
                        tdim.AddNodePrecedence(a, b, -tol)
                        tdim.AddNodePrecedence(b, a, -tol)
                    else:
                        diff = tdim.CumulVar(a) - tdim.CumulVar(b)
                        solver.Add(diff <= tol)
                        solver.Add(diff >= -tol)
            if v.follows and (v.follows, 0) in index_of:
                u, w = index_of[v.follows, 0], index_of[v.visit_id, 0]
                if v.link_other_carer:
                    self._other_carers(v, owners, by_type=by_type)
                if self._both_fixed(u, w):
                    continue
                on = routing.ActiveVar(w)
                solver.Add(on <= routing.ActiveVar(u))
                # Start to start, in seconds like every time of the model.
                if capped:
                    tdim.AddNodePrecedence(u, w, v.gap_min)
                    tdim.AddNodePrecedence(w, u, -v.gap_max)
                else:
                    gap = tdim.CumulVar(w) - tdim.CumulVar(u)
                    solver.Add(gap >= v.gap_min - LATEST_TIME * (1 - on))
                    solver.Add(gap <= v.gap_max + LATEST_TIME * (1 - on))

    def _different_carers(self, a: int, b: int, owners: list[int], *, by_type: bool) -> None:
        """Nodes `a` and `b` (routing indices) go to two people: by visit types that may not
        share a vehicle when `by_type` (each vehicle a different person), else by constraint."""
        routing = self.routing
        if by_type:
            for idx in (a, b):
                if idx not in self.visit_types:
                    self.visit_types[idx] = len(self.visit_types)
                    routing.SetVisitType(idx, self.visit_types[idx], routing.TYPE_ADDED_TO_VEHICLE)
            routing.AddHardTypeIncompatibility(self.visit_types[a], self.visit_types[b])
            return
        solver = routing.solver()
        # Vehicle -1 (inactive) maps to distinct sentinels so "neither" stays feasible.
        who_a = solver.Element([-1, *owners], (routing.VehicleVar(a) + 1).Var())
        who_b = solver.Element([-2, *owners], (routing.VehicleVar(b) + 1).Var())
        solver.Add(who_a != who_b)

    def _both_fixed(self, a: int, b: int) -> bool:
        """Whether both nodes (routing indices) are done at fixed starts: these come from a
        valid plan, so the times of a pair of them agree already and need no constraint
        (whose checks are most of the search's time on a day with many such pairs)."""
        node = self.manager.IndexToNode
        return node(a) in self.fixed and node(b) in self.fixed

    def _other_carers(self, v: Visit, owners: list[int], *, by_type: bool) -> None:
        """No person (a split shift is several vehicles of one) does both `v` and the visit
        it follows: carer identities, not vehicles, must differ."""
        index_of = self.index_of
        lead = v.follows
        for a, b in itertools.product(
            (idx for (vid, _), idx in index_of.items() if vid == lead),
            (idx for (vid, _), idx in index_of.items() if vid == v.visit_id),
        ):
            self._different_carers(a, b, owners, by_type=by_type)

    def add_unary_costs(self, extra: np.ndarray) -> None:
        """Per-(vehicle, node) costs as a dimension whose span is charged in the objective."""
        if not extra.any():
            return
        routing = self.routing
        by_carer: dict[str, int] = {}
        evaluators = []
        for k, veh in enumerate(self.vehicles):
            cid = veh.carer.carer_id
            if cid not in by_carer:
                costs = [int(c) for c in extra[k]] + [0] * self.depots
                by_carer[cid] = routing.RegisterUnaryTransitVector(costs)
            evaluators.append(by_carer[cid])
        total = int(extra.max(axis=0).sum()) + 1
        routing.AddDimensionWithVehicleTransits(evaluators, 0, total, True, "penalty")
        routing.GetDimensionOrDie("penalty").SetSpanCostCoefficientForAllVehicles(1)

    def add_load(self, load: list[int], caps: list[int]) -> None:
        cb = self.routing.RegisterUnaryTransitVector(load + [0] * self.depots)
        self.routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "load")

    def search(
        self, first_routes: list[list[int]], params: SolveParams, began: float, *, stop: float
    ) -> tuple[_Solution, str]:
        """Improve the best first solution until `stop` (the time limit counts from `began`).

        Returns the solution and where its first solution came from: ``"carerun"`` (the
        greedy), an OR-Tools strategy name, or ``"ALL_UNPERFORMED"`` (the fallback).
        """
        routing, manager = self.routing, self.manager
        if (params.lns and params.solution_limit is None) or self.restarts(params):
            self.watch_stall()
        if params.metaheuristic == _ILS and not self.synchronised:
            return self._search_iterated(first_routes, params, began, stop=stop)
        self.close(params)
        routing.solver().ReSeed(params.seed)
        routes = [[manager.NodeToIndex(n) for n in route] for route in first_routes]
        start: pywrapcp.Assignment | None = routing.ReadAssignmentFromRoutes(routes, True)
        origin = "carerun"
        greedy_cost = None if start is None else self.value(start)
        if not self.synchronised:
            share = params.time_limit * _FIRST_SHARE
            own = routing.SolveWithParameters(
                self._search(params, params.first_solution, share, first_only=True)
            )
            if own is not None and (greedy_cost is None or self.value(own) < greedy_cost):
                start, origin = own, params.first_solution
            elif greedy_cost is not None:
                # Solving again reuses the model's assignments: read the greedy routes anew.
                start = routing.ReadAssignmentFromRoutes(routes, True)
        if start is None:
            # A bug in the greedy: starting from "nothing done" is always feasible.
            origin = "ALL_UNPERFORMED"
            start = routing.SolveWithParameters(self._search(params, origin, 0.0, first_only=True))
            if start is None:
                msg = f"the solver found no plan (status {status_name(routing.status())})"
                raise SolveError(msg)
        self.first_objective = self.value(start)
        if self.alternates(params):
            return self.read(start), origin  # the caller alternates (_alternate)
        if not params.lns or params.solution_limit is not None:
            left = max(stop - time.perf_counter(), params.time_limit * 0.1)
            if self.restarts(params):
                self.stall.arm(_stall_window(params, _RESTART_STALL))
            found = routing.SolveFromAssignmentWithParameters(
                start, self._search(params, params.first_solution, left)
            )
            return self.read(found if found is not None else start), origin
        # One guided local search of the whole day until it stalls (no better plan for a
        # while); what is left of the time goes to re-solving parts (_improve_by_parts).
        share = _LARGE_WHOLE_SHARE if len(self.nodes) > _LARGE_DAY_NODES else _WHOLE_SHARE
        whole = began + (stop - began) * share
        self.stall.arm(_stall_window(params, _WHOLE_ROUND))
        found = routing.SolveFromAssignmentWithParameters(
            start,
            self._search(params, params.first_solution, max(whole - time.perf_counter(), 0.1)),
        )
        self.stall.disarm()
        return self.read(found if found is not None else start), origin

    def _search_iterated(
        self, first_routes: list[list[int]], params: SolveParams, began: float, *, stop: float
    ) -> tuple[_Solution, str]:
        """:meth:`search` by OR-Tools' iterated local search, from its own first solution;
        the greedy's plan when that is cheaper or the search finds none. The search's own
        first solution is not seen, so :attr:`first_objective` is the greedy's."""
        # The search goes first: on a model that has already searched, it finds less
        # (a plain model of Solomon R205, 10 s: 983.8 after a first-solution search, 963.3
        # without).
        end = stop if not params.lns else began + (stop - began) * _WHOLE_SHARE
        routing = self.routing
        found = routing.SolveWithIteratedLocalSearch(
            self._search(
                params, params.first_solution, max(end - time.perf_counter(), 0.1), ils=True
            )
        )
        self.closed = True
        greedy = self.restore(first_routes, params)
        if greedy is not None:
            self.first_objective = self.value(greedy)
            if found is None or self.first_objective < self.value(found):
                return self.read(greedy), "carerun"
        if found is None:
            # A bug in the greedy: "nothing done" is always feasible.
            found = self.restore([[] for _ in self.vehicles], params)
            if found is None:
                msg = f"the solver found no plan (status {status_name(routing.status())})"
                raise SolveError(msg)
            self.first_objective = self.value(found)
            return self.read(found), "ALL_UNPERFORMED"
        return self.read(found), params.first_solution

    def alternates(self, params: SolveParams) -> bool:
        """Whether this day is searched in held and free rounds (:func:`_alternate`): a timed
        search of a large day with synchronised visits."""
        return (
            self.synchronised
            and params.solution_limit is None
            and len(self.nodes) > _LARGE_DAY_NODES
        )

    def restarts(self, params: SolveParams) -> bool:
        """Whether this day's search starts afresh when it stalls (:func:`_restart`): a timed
        search without `lns` of a day with synchronised visits that does not alternate."""
        return (
            self.synchronised
            and params.solution_limit is None
            and not params.lns
            and not self.alternates(params)
        )

    def watch_stall(self) -> None:
        """Let :attr:`stall` stop this model's searches (before the model is closed)."""
        self.routing.AddAtSolutionCallback(self.stall.seen)
        self.routing.AddSearchMonitor(self.routing.solver().CustomLimit(self.stall.stalled))

    def close(self, params: SolveParams) -> None:
        """Close the model (no more constraints), once."""
        if not self.closed:
            self.routing.CloseModelWithParameters(self._search(params, params.first_solution, 1.0))
            self.closed = True

    def solve_part(
        self, routes: Sequence[Sequence[int]], params: SolveParams, seconds: float
    ) -> _Solution | None:
        """Re-solve this (part) model from `routes` (nodes per vehicle): the better solution
        found, or None when it is no better."""
        routing = self.routing
        self.close(params)
        routing.solver().ReSeed(params.seed)
        start = self.restore(routes, params)
        if start is None:
            return None
        found = routing.SolveFromAssignmentWithParameters(
            start, self._search(params, params.first_solution, seconds)
        )
        if found is None:
            return None
        better = self.read(found)
        return better if better.objective < self.value(start) else None

    def restore(
        self, routes: Sequence[Sequence[int]], params: SolveParams
    ) -> pywrapcp.Assignment | None:
        """The solution of `routes` (nodes per vehicle) in this closed model, or None when the
        model rejects them. Not ``ReadAssignmentFromRoutes``: it runs under the time limit of
        the model's last search, so after a search that used all its time it always fails.
        Value plans in a model that has not searched (:meth:`_DayModel.valuer`): on a day with
        double-handed visits a model that has searched fails to restore even its own best
        plan (seen on every Rutland day)."""
        routing, manager = self.routing, self.manager
        given = routing.solver().Assignment()
        indices = [[manager.NodeToIndex(n) for n in route] for route in routes]
        if not routing.RoutesToAssignment(indices, True, True, given):
            return None
        # The first solution of a search from `given` is `given` itself, valued and timed.
        return routing.SolveFromAssignmentWithParameters(
            given,
            self._search(params, params.first_solution, 10.0, first_only=True),
        )

    def _search(
        self,
        params: SolveParams,
        first: str,
        seconds: float,
        *,
        first_only: bool = False,
        ils: bool = False,
    ) -> object:
        """OR-Tools' parameters for a search of this model, with its moves (see `wide`)."""
        return _search_parameters(
            params, first, seconds, first_only=first_only, wide=self.wide, ils=ils
        )

    def read(self, found: pywrapcp.Assignment) -> _Solution:
        routing, manager, tdim = self.routing, self.manager, self.tdim
        routes: dict[int, _Route] = {}
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
            routes[k] = (stops, begin, finish)
        objective = int(found.ObjectiveValue())
        if self.worst_lateness:
            objective += self.worst_lateness * _worst_lateness(self.nodes, routes)
        return _Solution(objective, routes)

    def value(self, found: pywrapcp.Assignment) -> int:
        """What `found` costs: OR-Tools' objective plus, with `worst_lateness`, the cost of
        its largest lateness, which OR-Tools cannot charge (its routing objective charges each
        visit's lateness on its own)."""
        if not self.worst_lateness:
            return int(found.ObjectiveValue())
        return self.read(found).objective


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


def _search_parameters(
    params: SolveParams,
    first: str,
    seconds: float,
    *,
    first_only: bool = False,
    wide: bool = False,
    ils: bool = False,
) -> object:
    """OR-Tools' search parameters; `wide` adds the moves of _WIDE_MOVES to the defaults.

    With `ils`, those of the iterated local search (``SolveWithIteratedLocalSearch``); without,
    a search under ``metaheuristic="ITERATED_LOCAL_SEARCH"`` (a part, a round) is guided.
    """
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    heuristic = params.metaheuristic
    if ils:
        heuristic = "GREEDY_DESCENT"  # each perturbed plan descends to its local optimum
        _set_iterated_search(search, params.recreate)
    elif heuristic == _ILS:
        heuristic = "GUIDED_LOCAL_SEARCH"
    search.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, heuristic
    )
    if seconds > 0:
        search.time_limit.FromMilliseconds(max(1, round(seconds * 1000)))
    if first_only:
        search.solution_limit = 1
    elif params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    search.log_search = params.log
    if wide:
        for move in _WIDE_MOVES:
            setattr(search.local_search_operators, move, pywrapcp.BOOL_TRUE)
    return search


def _set_iterated_search(search: Any, recreate: str) -> None:
    """Ruin by strings of nearby visits (SISR), recreate by `recreate`, improve each plan so
    made and accept it by simulated annealing at temperatures OR-Tools derives from the day."""
    search.use_iterated_local_search = True
    ils = search.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    ruin_recreate = ils.ruin_recreate_parameters
    ruin = ruin_recreate.ruin_strategies.add().sisr
    ruin.avg_num_removed_visits = _RUIN_VISITS
    ruin.max_removed_sequence_size = _RUIN_STRING
    ruin.bypass_factor = _RUIN_BYPASS
    ruin_recreate.ruin_composition_strategy = (
        routing_ils_pb2.RuinCompositionStrategy.RUN_ALL_SEQUENTIALLY
    )
    ruin_recreate.recreate_strategy.heuristic = getattr(
        routing_enums_pb2.FirstSolutionStrategy, recreate
    )
    ils.improve_perturbed_solution = True
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    annealing.automatic_temperatures = True
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
