"""A day's routing problem as carerun sees it before any solver does.

Carers' shifts as vehicles, which vehicles may do each visit (and why a visit nobody can do is
undone), working-time limits, the unary costs of continuity and soft gender, and the co-located
groups of visits (a duplicate multi-provider event can only arise inside one) with the provider
each should go to. Plain Python and numpy: :mod:`carerun._ortools` builds its models from these,
and :mod:`carerun._greedy` its first solutions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from carerun.matrix import TravelMatrix, haversine_metres
from carerun.model import Carer, Roster, Shift, UnassignedReason, Visit
from carerun.solve import SolveParams


@dataclass(frozen=True)
class Vehicle:
    """One shift of one carer: a vehicle of the routing model."""

    carer: Carer
    shift: Shift
    base: int  # row of the carer's base in the matrix


def gender_ok(visit: Visit, carer: Carer) -> bool:
    """Whether `carer` meets the visit's gender preference (no preference: anyone)."""
    pref = visit.gender_preference.strip().lower()
    return not pref or carer.gender.strip().lower() == pref


def fits(veh: Vehicle, visit: Visit, matrix: TravelMatrix, late: int) -> bool:
    """Whether the visit fits in the shift at all, counting travel from and back to base."""
    mode, at = veh.carer.mode, matrix.index(visit.location)
    there = int(matrix.seconds[mode][veh.base, at])
    back = int(matrix.seconds[mode][at, veh.base])
    if visit.fixed_start is not None:
        earliest = latest = visit.fixed_start
    else:
        earliest, latest = visit.window.start, visit.window.end + late
    begin = max(earliest, veh.shift.start + there)
    return begin <= latest and begin + visit.duration + back <= veh.shift.end


def precheck(
    visits: tuple[Visit, ...],
    vehicles: list[Vehicle],
    matrix: TravelMatrix,
    late: int,
    params: SolveParams,
) -> tuple[dict[str, list[int]], dict[str, UnassignedReason]]:
    """Vehicles allowed for each visit, and a reason for each visit nobody can do.

    With ``respect_providers`` only carers of the visit's own provider count, so a visit whose
    provider has nobody on shift is ``NO_SHIFT``.
    """
    allowed: dict[str, list[int]] = {}
    reasons: dict[str, UnassignedReason] = {}
    for v in visits:
        mine = [
            k
            for k, veh in enumerate(vehicles)
            if not (params.respect_providers and v.provider) or veh.carer.provider == v.provider
        ]
        skilled = [k for k in mine if v.skills <= vehicles[k].carer.skills]
        willing = [
            k
            for k in skilled
            if vehicles[k].carer.carer_id not in v.excluded_carers
            and (params.gender_rule == "soft" or gender_ok(v, vehicles[k].carer))
        ]
        fitting = [k for k in willing if fits(vehicles[k], v, matrix, late)]
        fitting_people = {vehicles[k].carer.carer_id for k in fitting}
        need = v.carers_required
        if len({vehicles[k].carer.carer_id for k in mine}) < need:
            reasons[v.visit_id] = UnassignedReason.NO_SHIFT
        elif len({vehicles[k].carer.carer_id for k in skilled}) < need:
            reasons[v.visit_id] = UnassignedReason.NO_SKILL
        elif len({vehicles[k].carer.carer_id for k in willing}) < need:
            reasons[v.visit_id] = UnassignedReason.EXCLUDED
        elif len(fitting_people) < need or (v.pinned and not set(v.carer_ids) <= fitting_people):
            reasons[v.visit_id] = UnassignedReason.NO_SHIFT
        allowed[v.visit_id] = fitting
    # A follower whose predecessor (same day) cannot be done cannot be done either.
    same_day = {v.visit_id for v in visits}
    changed = True
    while changed:
        changed = False
        for v in visits:
            if v.follows in same_day and v.follows in reasons and v.visit_id not in reasons:
                reasons[v.visit_id] = UnassignedReason.LINK
                changed = True
    return allowed, reasons


def allowed_vehicles(
    visit: Visit, copy: int, fitting: list[int], vehicles: list[Vehicle]
) -> list[int]:
    """Vehicles one copy of a visit may use: a pinned copy keeps its named carer."""
    if not visit.pinned or copy >= len(visit.carer_ids):
        return fitting
    cid = visit.carer_ids[copy]
    return [k for k in fitting if vehicles[k].carer.carer_id == cid]


def work_limits(vehicles: list[Vehicle], seconds_left: Mapping[str, int]) -> dict[str, int]:
    """Per carer on shift, the working seconds allowed today (day and week), if limited."""
    out: dict[str, int] = {}
    for veh in vehicles:
        carer = veh.carer
        limits = [seconds_left[carer.carer_id]] if carer.carer_id in seconds_left else []
        if carer.max_minutes_day is not None:
            limits.append(carer.max_minutes_day * 60)
        if limits:
            out[carer.carer_id] = min(limits)
    return out


def unary_costs(
    nodes: list[tuple[Visit, int]],
    vehicles: list[Vehicle],
    known: Mapping[str, dict[str, float]],
    params: SolveParams,
) -> np.ndarray:
    """Cost of each vehicle doing each node: continuity and soft gender, each node's over its
    cheapest vehicle (see :func:`charge_groups`, which adds the co-located groups)."""
    out = np.zeros((len(vehicles), len(nodes)), dtype=np.int64)
    for k, veh in enumerate(vehicles):
        for node, (v, _) in enumerate(nodes):
            share = known.get(v.client_id)
            if share:
                out[k, node] += round(params.continuity * share.get(veh.carer.carer_id, 1.0))
            if params.gender_rule == "soft" and not gender_ok(v, veh.carer):
                out[k, node] += params.gender
    return out - out.min(axis=0)


def charge_groups(
    plain: np.ndarray,
    vehicles: list[Vehicle],
    groups: Sequence[list[int]],
    targets: Sequence[str],
    duplicate: int,
) -> np.ndarray:
    """`plain` (:func:`unary_costs`) plus, for each co-located group, `duplicate` for a
    carer of another provider than the group's target. Each node's cost is charged over its
    cheapest vehicle (an unavoidable cost is no cost)."""
    out = plain.copy()
    provider_of = np.array([veh.carer.provider for veh in vehicles])
    for group, target in zip(groups, targets, strict=True):
        out[np.ix_(provider_of != target, group)] += duplicate
    # OR-Tools also needs a zero-cost vehicle for every node: without one the dimension fails
    # even with the node undone.
    return out - out.min(axis=0)


def known_carers(
    preferred: Mapping[str, frozenset[str]], familiar: Mapping[str, frozenset[str]]
) -> dict[str, dict[str, float]]:
    """Per client, the share of the continuity cost each carer they know costs."""
    out: dict[str, dict[str, float]] = {}
    for client, carers in familiar.items():
        out.setdefault(client, {}).update(dict.fromkeys(carers, 0.5))
    for client, carers in preferred.items():
        out.setdefault(client, {}).update(dict.fromkeys(carers, 0.0))
    return out


def settled_providers(
    routes: list[list[int]],
    vehicles: list[Vehicle],
    groups: Sequence[list[int]],
    targets: Sequence[str],
    capable: Sequence[set[str]],
) -> list[str]:
    """Per group, the provider able to staff it that does most of it in `routes` (ties: the
    old target, then the name); the old target when no able provider does any of it."""
    provider_of = {
        node: vehicles[k].carer.provider for k, route in enumerate(routes) for node in route
    }
    out = []
    for group, target, able in zip(groups, targets, capable, strict=True):
        count: dict[str, int] = {}
        for node in group:
            p = provider_of.get(node)
            if p is not None and (p in able or not able):
                count[p] = count.get(p, 0) + 1
        best = max(count.values(), default=0)
        if not count or count.get(target, 0) == best:
            out.append(target)
        else:
            out.append(min(p for p, n in count.items() if n == best))
    return out


def colocated_groups(
    nodes: list[tuple[Visit, int]], params: SolveParams, late: int
) -> list[list[int]]:
    """Groups of nodes (two or more visits) at one place whose times may overlap or nearly do.

    The same rule as :func:`carerun.duplicates.find_duplicates`, applied to the times each
    visit *could* have (its window, plus the lateness limit), so whatever the plan does, a
    duplicate event can only arise inside a group.
    """
    n = len(nodes)
    if n < 2:
        return []
    pts = np.array([v.location.point for v, _ in nodes], dtype=np.float64)
    clients = np.array([v.client_id for v, _ in nodes])
    start = np.array([v.window.start for v, _ in nodes], dtype=np.int64)
    end = np.array([v.end_latest + late for v, _ in nodes], dtype=np.int64)
    gap = params.duplicate_gap_min * 60
    near = (haversine_metres(pts, pts) <= params.duplicate_metres) | (
        clients[:, None] == clients[None, :]
    )
    meets = (start[:, None] <= end[None, :] + gap) & (start[None, :] <= end[:, None] + gap)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(near & meets, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len({nodes[i][0].visit_id for i in g}) > 1]


def capable_providers(
    nodes: list[tuple[Visit, int]],
    group: list[int],
    vehicles: list[Vehicle],
    allowed_of: list[list[int]],
) -> set[str]:
    """Providers with enough carers able to do each visit of a group (two for a double)."""
    able: dict[tuple[str, str], set[str]] = {}
    for node in group:
        v = nodes[node][0]
        for k in allowed_of[node]:
            carer = vehicles[k].carer
            able.setdefault((v.visit_id, carer.provider), set()).add(carer.carer_id)
    providers = {veh.carer.provider for veh in vehicles}
    return {
        p
        for p in providers
        if all(
            len(able.get((nodes[node][0].visit_id, p), ())) >= nodes[node][0].carers_required
            for node in group
        )
    }


def group_provider(
    roster: Roster,
    visits: Sequence[Visit],
    group: list[int],
    vehicles: list[Vehicle],
    allowed_of: list[list[int]],
    capable: set[str],
) -> str:
    """The provider a co-located group should go to: one able to staff all of it, doing most
    of it as it stands, with the most carers able to do some of it."""
    asis: dict[str, int] = {}
    for v in {v.visit_id: v for v in visits}.values():
        named = {roster.carer(c).provider for c in v.carer_ids} | ({v.provider} - {""})
        for p in named:
            asis[p] = asis.get(p, 0) + 1
    able: dict[str, set[str]] = {}
    for node in group:
        for k in allowed_of[node]:
            able.setdefault(vehicles[k].carer.provider, set()).add(vehicles[k].carer.carer_id)
    candidates = sorted({veh.carer.provider for veh in vehicles})
    return max(
        candidates,
        key=lambda p: (p in capable, asis.get(p, 0), len(able.get(p, ())), -candidates.index(p)),
    )
