"""Plan visits: who does which visit, when, in what order.

:func:`plan_day` builds one routing model per day (see :mod:`carerun._ortools`, the only module
that talks to OR-Tools) and returns a :class:`~carerun.model.Plan`; :func:`plan_week` plans days
in order, carrying continuity (carers a client saw earlier in the week, then their carers as it
stands, are preferred) and each carer's weekly working-time budget, and checks every
plan it returns with :func:`carerun.check.assert_valid`.

All weights are integers in the objective's unit, one unit being one second of travel at the
default ``travel = 1``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from carerun._errors import InputError, SolveError
from carerun.matrix import TravelMatrix
from carerun.model import Plan, Roster, day_name
from carerun.partition import DEFAULT_MAX_VISITS, Part

FIRST_SOLUTIONS = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "GLOBAL_CHEAPEST_ARC",
    "LOCAL_CHEAPEST_ARC",
    "PATH_CHEAPEST_ARC",
    "SAVINGS",
    "CHRISTOFIDES",
    "ALL_UNPERFORMED",
)
METAHEURISTICS = (
    "GUIDED_LOCAL_SEARCH",
    "SIMULATED_ANNEALING",
    "TABU_SEARCH",
    "GENERIC_TABU_SEARCH",
    "GREEDY_DESCENT",
    "ITERATED_LOCAL_SEARCH",
)
# Ways the iterated local search may re-insert the visits it took out (``SolveParams.recreate``).
RECREATES = (
    "LOCAL_CHEAPEST_INSERTION",
    "PARALLEL_CHEAPEST_INSERTION",
    "SEQUENTIAL_CHEAPEST_INSERTION",
)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SolveParams:
    """Options of the optimiser; every field has a sensible default.

    Parameters
    ----------
    time_limit
        Seconds of search per day sub-problem.
    seed
        Seed of the solver's random choices (large-neighbourhood moves). The same seed gives
        the same plan when each day's search ends at `solution_limit`; a search that ends at
        the time limit ends where the machine's speed and load allow, so two runs may differ.
    solution_limit
        Stop a day after this many improving solutions. With it (and a time limit that is not
        reached) runs are reproducible whatever the machine's speed; ``None`` = no limit.
    lateness_limit_min
        How far past the end of its window a visit may start, in minutes (soft, see `lateness`).
        Beyond it the visit is not done at all.
    travel
        Cost of one second of travel.
    lateness
        Cost of each second a visit starts after its window ends.
    worst_lateness
        Cost of each second of the day's largest lateness, on top of `lateness`: how long the
        longest-waiting client waits past their window (0 = not charged). OR-Tools''
        search cannot charge it (its objective charges each visit's lateness on its own);
        carerun charges it wherever it chooses between plans (and a day whose search restarts
        squeezes it whatever this weight, see `lns`).
    unassigned
        Cost of leaving a visit undone, multiplied by its priority; it must dominate travel so
        that no visit is dropped to save a journey.
    staffed_today
        Multiplies `unassigned` for visits the roster as it stands does in full within the
        rules (:func:`carerun.asis.asis_within_rules`): when there are not enough carers for
        everything, a plan takes no visit away from a client who has a carer today before it
        leaves undone a visit that has none: with the default 8, it leaves up to seven new
        visits of the same priority undone rather than one visit staffed today (a new visit
        of priority 2, say just home from hospital, counts as two). On the Rutland week 8 also
        searched better than 2, over eight runs each: no such visit lost (with 2, three runs
        of the eight lost one), fewer duplicate events and undone visits
        (benchmarks/README.md).
    continuity
        Cost of a visit done by a carer the client does not know (only for clients who know
        some): free for the client's ``preferred_carers`` and the carers the plan gave them on
        earlier days; half this for the carers named for the client's visits as it stands
        (``carer_ids``, any day of the week), so that the first day planned already keeps them
        and later days keep to the few the plan chose.
    duplicate
        Cost of each visit of a co-located group (see below) done by a carer of another provider
        than the one chosen for the group (the provider staffing most of it as it stands):
        this is what removes duplicate multi-provider events. With a time limit (no
        `solution_limit`), a day with such groups keeps the second half of it to re-solve the
        groups still split between providers, each with its provider changed where that
        costs less.
    duplicate_metres, duplicate_gap_min
        Visits of one client, or within this distance, whose times overlap or lie within this
        gap are co-located.
    respect_providers
        When true, a visit may only be done by carers of its own ``provider`` as it stands
        (today's contracts); a visit without a provider may go to anyone. When false (the
        default) the providers form one pool.
    gender
        Cost of a visit done by a carer of the other gender when `gender_rule` is ``"soft"``.
    gender_rule
        ``"hard"`` (never break a gender preference) or ``"soft"`` (break it at a cost).
    double_handed_tolerance_min
        The two carers of a double-handed visit start within this many minutes of each other.
    first_solution
        OR-Tools first-solution strategy, one of :data:`FIRST_SOLUTIONS`.
    metaheuristic
        OR-Tools local-search metaheuristic, one of :data:`METAHEURISTICS`.
        ``"ITERATED_LOCAL_SEARCH"`` is OR-Tools' ruin and recreate: take out strings of nearby
        visits, put them back (see `recreate`), descend to a local optimum, and accept the
        result by simulated annealing at temperatures OR-Tools sets from the day. Its ruin draws
        do not follow `seed` (OR-Tools seeds them itself). It searches the whole day; the
        searches of `lns` parts and of days with double-handed or linked visits stay guided
        local search (on such days, HHCRSP, it did far worse). On Solomon VRPTW it beat guided
        local search in 10 s (benchmarks/README.md); on care days it is not the default because
        it has not been measured against the duplicate multi-provider events there.
    recreate
        With ``metaheuristic="ITERATED_LOCAL_SEARCH"``: how the visits taken out are put back,
        one of :data:`RECREATES`.
    lns
        Once the metaheuristic's search of the whole day stalls (no better plan for a tenth of the
        time limit, or 60 % of its time is spent: a tenth on a day of over 200 visits and
        double-handed copies), spend the rest re-solving parts of the plan: a few nearby carers'
        routes and the undone visits near them, each as a small model, keeping what costs less
        (large neighbourhood search). On a day of over 200 visits and copies that has double-handed
        or linked visits, the whole day is first searched in rounds that hold those visits at their
        starts and rounds that move them, until neither gains; with `lns` for at most 60 % of the
        time, then parts; without, the rest takes 20 visits tied to no other out of the plan at a
        time and puts them back, keeping what costs less (ruin and recreate). On a smaller day with
        such visits, the search without `lns` starts afresh from its best plan whenever it finds no
        better one for 15 % of the time limit, in turn moving no visit later than it is (a
        quicker search, which cannot trade travel for lateness), allowing visits three quarters
        of the plan's largest lateness (from the plan without the visits later than that), and
        from a plan in which carerun's greedy has put some double-handed and linked visits
        elsewhere (no move of OR-Tools takes both of a pair at once). Not used with a
        `solution_limit`, whose runs stay reproducible whatever the machine's speed. Off by
        default: it helps days of many short routes and hurts days of few long ones (Solomon
        VRPTW), and on the Rutland week it has not beaten the plain search on duplicate
        multi-provider events (benchmarks/README.md).
        ``portfolio=2`` runs both.
    share_depots
        Carers leaving from one place (the same base) share one depot node in the routing
        model instead of one each. OR-Tools then sees them as one class of vehicle and searches
        far better for travel (Solomon VRPTW: mean gap to the best known 2.40 % → 1.50 %), but
        on the Rutland week it left more duplicate multi-provider events than one node per
        carer (5 against 2 when measured, benchmarks/README.md), so it is off by default.
    portfolio
        Searches of each day run side by side, one per process (more searches than cores share the
        cores), with seeds counting up from `seed`: the second has `lns` switched the other way
        (with the iterated local search, it recreates with the other of the first two
        :data:`RECREATES` instead), the third weighs lateness twice as much (the weight of a soft
        penalty shapes what a search finds), the fourth does both, and so on in fours; on a day of
        at most 200 visits (a double-handed one counts twice) where lateness is allowed and charged,
        the second and third swap; on a larger such day the second is the first started from a
        first solution that charges each insertion the delays it causes further along its run
        (the first's is blind to them: neither suits every day). Each plan is then valued at
        these parameters' weights and the plan of least cost wins. 1 (the default): one search
        as configured, in this process. Ignored where this process may not start others (a Dask
        worker, or a platform without ``fork``), so it combines safely with ``workers``.
    log
        Print the solver's search log.
    """

    time_limit: float = 10.0
    seed: int = 0
    solution_limit: int | None = None
    lateness_limit_min: int = 0
    travel: int = 1
    lateness: int = 2
    worst_lateness: int = 0
    unassigned: int = 1_000_000
    staffed_today: int = 8
    continuity: int = 1_800
    duplicate: int = 3_600
    duplicate_metres: float = 50.0
    duplicate_gap_min: int = 30
    gender: int = 3_600
    gender_rule: Literal["hard", "soft"] = "hard"
    double_handed_tolerance_min: int = 0
    respect_providers: bool = False
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    recreate: str = "LOCAL_CHEAPEST_INSERTION"
    lns: bool = False
    share_depots: bool = False
    portfolio: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        if self.time_limit <= 0:
            raise InputError("`time_limit` must be more than zero seconds")
        if self.solution_limit is not None and self.solution_limit <= 0:
            raise InputError("`solution_limit` must be more than zero")
        for name in (
            "lateness_limit_min",
            "travel",
            "lateness",
            "worst_lateness",
            "unassigned",
            "continuity",
            "duplicate",
            "gender",
            "double_handed_tolerance_min",
            "duplicate_gap_min",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                msg = f"`{name}` must be a whole number, zero or more (got {value!r})"
                raise InputError(msg)
        if (
            not isinstance(self.portfolio, int)
            or isinstance(self.portfolio, bool)
            or (self.portfolio < 1)
        ):
            msg = f"`portfolio` must be a whole number, 1 or more (got {self.portfolio!r})"
            raise InputError(msg)
        if self.staffed_today < 1:
            raise InputError("`staffed_today` must be at least 1 (1 = no preference)")
        for name in ("respect_providers", "lns", "share_depots", "log"):
            if not isinstance(getattr(self, name), bool):
                msg = f"`{name}` must be true or false"
                raise InputError(msg)
        if self.duplicate_metres < 0:
            raise InputError("`duplicate_metres` cannot be negative")
        if self.gender_rule not in ("hard", "soft"):
            msg = f"`gender_rule` must be 'hard' or 'soft', not {self.gender_rule!r}"
            raise InputError(msg)
        if self.first_solution not in FIRST_SOLUTIONS:
            msg = f"`first_solution` must be one of {', '.join(FIRST_SOLUTIONS)}"
            raise InputError(msg)
        if self.metaheuristic not in METAHEURISTICS:
            msg = f"`metaheuristic` must be one of {', '.join(METAHEURISTICS)}"
            raise InputError(msg)
        if self.recreate not in RECREATES:
            msg = f"`recreate` must be one of {', '.join(RECREATES)}"
            raise InputError(msg)

    @classmethod
    def from_toml(cls, path: str | Path) -> SolveParams:
        """Read parameters from a TOML file: top-level keys, or a ``[solve]`` table.

        Unknown keys raise :class:`~carerun.InputError` naming them.
        """
        path = Path(path)
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            msg = f"{path}: no such parameter file"
            raise InputError(msg) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            msg = f"{path}: not valid TOML ({e})"
            raise InputError(msg) from None
        if isinstance(data.get("solve"), dict) and len(data) == 1:
            data = data["solve"]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = (
                f"{path}: unknown parameter(s) {', '.join(unknown)};"
                f" known: {', '.join(sorted(known))}"
            )
            raise InputError(msg)
        if isinstance(data.get("time_limit"), int):
            data["time_limit"] = float(data["time_limit"])
        if "duplicate_metres" in data and isinstance(data["duplicate_metres"], int):
            data["duplicate_metres"] = float(data["duplicate_metres"])
        try:
            return cls(**data)
        except InputError as e:
            msg = f"{path}: {e}"
            raise InputError(msg) from None


def plan_day(
    roster: Roster,
    matrix: TravelMatrix,
    day: int,
    params: SolveParams | None = None,
    *,
    history: Plan | None = None,
) -> Plan:
    """Plan one day's visits.

    Parameters
    ----------
    roster
        The week's visits and carers; only visits and shifts on `day` are used.
    matrix
        Travel times covering every visit and every carer base, for every carer's mode.
    day
        0 (Monday) … 6 (Sunday).
    params
        Optimiser options (defaults: :class:`SolveParams`).
    history
        A plan of earlier days: carers who served a client there become the client's regular
        carers (continuity; see ``SolveParams.continuity`` for the carers as it stands), and
        their working time counts against their weekly maximum.

    Returns
    -------
    Plan
        Assignments of the day and every visit of the day left undone, with its reason.
    """
    params = params or SolveParams()
    if not 0 <= day <= 6:
        msg = f"`day` must be 0 (Mon) … 6 (Sun), not {day}"
        raise InputError(msg)
    regulars = _regular_carers(roster, history)
    used = _work_by_carer(roster, history, matrix) if history is not None else {}
    from carerun.asis import asis_within_rules

    within = asis_within_rules(roster, matrix, days=[day])
    return _plan_one(roster, matrix, day, params, regulars, used, within)[0]


def plan_week(
    roster: Roster,
    matrix: TravelMatrix,
    params: SolveParams | None = None,
    *,
    days: Iterable[int] | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    max_visits: int = DEFAULT_MAX_VISITS,
) -> Plan:
    """Plan several days (default: every day with visits), then check the result.

    The week is split into sub-problems: one per day, and within a day of more than
    `max_visits` visits one per area (:func:`carerun.partition.split_day`). Visits an area
    leaves undone for lack of capacity are then offered to every carer of the day
    (:func:`carerun.place.absorb_unassigned`), keeping everything already planned.

    With ``workers=1`` and no `scheduler` the sub-problems are solved in this process, in
    order, carrying continuity (a client's regular carers are their preferred carers and the
    carers the plan gave them on earlier days, then their carers as it stands; see
    ``SolveParams.continuity``) and each carer's ``max_minutes_week`` consumed day by day.
    Otherwise they run at once on Dask (:mod:`carerun.parallel`: `workers` local processes, or
    the cluster at `scheduler`); continuity then comes from the roster as it stands and each
    carer's weekly maximum is shared between their days being planned: each day gets what the
    carer works that day as it stands, and the rest of the maximum is shared evenly.
    Planned in order, a day may use what the earlier days left of the maximum, less what the
    carer works on the later days as it stands: planning Monday never takes the time that
    Sunday's visits need today (:func:`carerun.asis.asis_plan`).
    `progress`, if given, is called as ``progress(done, total, label)`` after each sub-problem.

    Raises
    ------
    PlanCheckError
        If the plan breaks a hard rule (a bug in carerun, reported loudly).
    """
    from carerun.asis import asis_plan, asis_within_rules
    from carerun.check import assert_valid
    from carerun.partition import split_day
    from carerun.place import absorb_unassigned

    params = params or SolveParams()
    todo = sorted(set(roster.days if days is None else days))
    for d in todo:
        if not 0 <= d <= 6:
            msg = f"`days` must hold days 0 (Mon) … 6 (Sun), not {d}"
            raise InputError(msg)
    if not todo:
        raise SolveError("nothing to plan: the roster has no visits on the days asked for")
    if max_visits < 1:
        msg = f"`max_visits` must be at least 1, not {max_visits}"
        raise InputError(msg)
    parts = [p for d in todo for p in split_day(roster, d, max_visits=max_visits, seed=params.seed)]
    asis = asis_plan(roster, matrix, days=todo)
    kept = _asis_work_kept(roster, asis, matrix, todo)
    within = asis_within_rules(roster, matrix, days=todo, asis=asis)
    if workers == 1 and scheduler is None:
        plans = _plan_in_order(roster, matrix, params, parts, kept, within, progress)
    else:
        from carerun.parallel import run_tasks

        plans = run_tasks(
            _plan_part,
            parts,
            shared={
                "roster": roster,
                "matrix": matrix,
                "params": params,
                "budget": _daily_budget(roster, todo, kept),
                "within": within,
            },
            workers=workers,
            scheduler=scheduler,
            labels=[p.label for p in parts],
            progress=progress,
        )
    label = "plan" if days is None else "plan " + "+".join(map(day_name, todo))
    plan = _merge(plans, label=label)
    if len(parts) > len(todo) or workers > 1 or scheduler is not None:
        plan = absorb_unassigned(roster, plan, matrix, respect_providers=params.respect_providers)
    assert_valid(roster, plan, matrix, params=params)
    return plan


def _plan_in_order(
    roster: Roster,
    matrix: TravelMatrix,
    params: SolveParams,
    parts: list[Part],
    kept: Mapping[tuple[str, int], int],
    within: Collection[str],
    progress: Progress | None,
) -> list[Plan]:
    regulars: dict[str, set[str]] = {}
    used: dict[str, int] = {}
    plans: list[Plan] = []
    for n, part in enumerate(parts, start=1):
        taken = dict(used)
        for (cid, day), secs in kept.items():
            if day > part.day:
                taken[cid] = taken.get(cid, 0) + secs
        plan, work = _plan_one(roster, matrix, part.day, params, regulars, taken, within, part=part)
        plans.append(plan)
        for a in plan.assignments:
            regulars.setdefault(roster.visit(a.visit_id).client_id, set()).add(a.carer_id)
        for cid, secs in work.items():
            used[cid] = used.get(cid, 0) + secs
        if progress is not None:
            progress(n, len(parts), part.label)
    return plans


def _plan_part(
    part: Part,
    *,
    roster: Roster,
    matrix: TravelMatrix,
    params: SolveParams,
    budget: Mapping[tuple[str, int], int],
    within: Collection[str],
) -> Plan:
    """One sub-problem on a worker: continuity from the roster, a day's share of the week."""
    return _plan_one(roster, matrix, part.day, params, {}, {}, within, part=part, budget=budget)[0]


def _asis_work_kept(
    roster: Roster, asis: Plan, matrix: TravelMatrix, days: Collection[int]
) -> dict[tuple[str, int], int]:
    """Working seconds of each carer with a weekly maximum on each day of `asis` (the roster
    as it stands), counted day by day only while the maximum lasts: what each day keeps for
    the visits it has today."""
    from carerun.metrics import working_seconds

    work = working_seconds(roster, asis, matrix)
    out: dict[tuple[str, int], int] = {}
    for c in roster.carers:
        if c.max_minutes_week is None:
            continue
        left = c.max_minutes_week * 60
        for d in sorted(days):
            out[c.carer_id, d] = min(left, work.get((c.carer_id, d), 0))
            left -= out[c.carer_id, d]
    return out


def _daily_budget(
    roster: Roster, days: Collection[int], kept: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Each carer's weekly maximum (seconds) shared between their days being planned: what
    they work that day as it stands, plus an even share of the rest."""
    out = {}
    for c in roster.carers:
        working = [d for d in days if c.shifts_on(d)]
        if c.max_minutes_week is None or not working:
            continue
        spare = c.max_minutes_week * 60 - sum(kept.get((c.carer_id, d), 0) for d in days)
        for d in working:
            out[c.carer_id, d] = kept.get((c.carer_id, d), 0) + spare // len(working)
    return out


def _weigh_done_today(roster: Roster, within: Collection[str], factor: int) -> Roster:
    """`roster` with the priority of the visits in `within` (done in full within the rules as
    it stands) multiplied by `factor` (the solver's cost of leaving a visit undone is
    ``unassigned × priority``)."""
    if factor == 1 or not within:
        return roster
    return roster.replace(
        visits=[
            dataclasses.replace(v, priority=max(1, v.priority) * factor)
            if v.visit_id in within
            else v
            for v in roster.visits
        ]
    )


def _part_roster(roster: Roster, part: Part) -> Roster:
    """The part's visits and carers as a roster of their own (links and pins kept inside it)."""
    inside = {c.carer_id for c in part.carers}
    ids = {v.visit_id for v in part.visits}
    visits = []
    for v in part.visits:
        kept = tuple(c for c in v.carer_ids if c in inside)
        changes: dict[str, Any] = {}
        if kept != v.carer_ids:
            changes.update(carer_ids=kept, pinned=v.pinned and len(kept) == len(v.carer_ids))
        if v.follows and v.follows not in ids:
            changes.update(follows="", gap_min=0, gap_max=0)
        visits.append(dataclasses.replace(v, **changes) if changes else v)
    return roster.replace(visits=visits, carers=part.carers)


def _plan_one(
    roster: Roster,
    matrix: TravelMatrix,
    day: int,
    params: SolveParams,
    regulars: Mapping[str, Collection[str]],
    used: Mapping[str, int],
    within: Collection[str],
    *,
    part: Part | None = None,
    budget: Mapping[tuple[str, int], int] | None = None,
) -> tuple[Plan, dict[str, int]]:
    from carerun import _ortools

    if budget is not None:
        left = {cid: secs for (cid, d), secs in budget.items() if d == day}
    else:
        left = {
            c.carer_id: max(0, c.max_minutes_week * 60 - used.get(c.carer_id, 0))
            for c in roster.carers
            if c.max_minutes_week is not None
        }
    # Continuity looks at the client's whole week, whatever part of it is planned here.
    preferred, familiar = {}, {}
    visits = roster.visits_on(day) if part is None else part.visits
    for client in {v.client_id for v in visits}:
        theirs = roster.visits_of_client(client)
        preferred[client] = frozenset(regulars.get(client, ())).union(
            *(v.preferred_carers for v in theirs)
        )
        familiar[client] = frozenset(c for v in theirs for c in v.carer_ids)
    sub = roster if part is None or part.area < 0 else _part_roster(roster, part)
    sub = _weigh_done_today(sub, within, params.staffed_today)
    result = _ortools.solve_day(
        sub, matrix, day, params, preferred=preferred, familiar=familiar, seconds_left=left
    )
    return result.plan, result.work


def _regular_carers(roster: Roster, history: Plan | None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    if history is not None:
        for a in history.assignments:
            out.setdefault(roster.visit(a.visit_id).client_id, set()).add(a.carer_id)
    return out


def _work_by_carer(roster: Roster, plan: Plan, matrix: TravelMatrix) -> dict[str, int]:
    """Working seconds per carer in `plan`, over all its days."""
    from carerun.metrics import working_seconds

    out: dict[str, int] = {}
    for (cid, _), secs in working_seconds(roster, plan, matrix).items():
        out[cid] = out.get(cid, 0) + secs
    return out


def _merge(parts: list[Plan], *, label: str) -> Plan:
    stats: dict[str, float] = {}
    for key in (
        "objective",
        "seconds",
        "parts_tried",
        "parts_improved",
        "groups_regrouped",
        "whole_rounds",
        "restarts_tried",
        "restarts_improved",
    ):
        stats[key] = float(sum(p.stats.get(key, 0.0) for p in parts))
    stats["parts"] = float(len(parts))
    return Plan(
        assignments=tuple(a for p in parts for a in p.assignments),
        unassigned=tuple(u for p in parts for u in p.unassigned),
        travel_home={k: v for p in parts for k, v in p.travel_home.items()},
        distance_home={k: v for p in parts for k, v in p.distance_home.items()},
        label=label,
        stats=stats,
    )
