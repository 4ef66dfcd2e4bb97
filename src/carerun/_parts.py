"""Which part of a day's plan to re-solve next: the neighbourhoods of carerun's large
neighbourhood search (see :mod:`carerun._ortools`, which solves them).

A part is a few carers' routes that lie close together, the visits on them, and a few visits
left undone nearby. Re-solved as a small model, it can swap whole stretches of visits between
those carers, which one-visit-at-a-time moves over the whole day rarely find. Visits on the part's
routes whose double-handed partner or linked visit lies outside the part keep their start and may
not go to the partner's carer, so whatever the part does, the rest of the plan stays valid.

Nothing here imports OR-Tools: it works on node and vehicle numbers only.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from carerun.model import Visit

# Visits on the routes of one part (at least two routes are always taken).
PART_NODES = 35
# Visits left undone that a part may also try to place.
PART_UNDONE = 10


@dataclass(frozen=True)
class Part:
    """Vehicles and nodes to re-solve, and the nodes that must keep their start."""

    vehicles: list[int]
    nodes: list[int]
    fixed: dict[int, int]  # node -> its start, which the part may not move
    banned: dict[int, set[str]]  # node -> carers it may not go to (its partner's)


def partners_of(nodes: Sequence[tuple[Visit, int]]) -> list[list[int]]:
    """Per node, the nodes tied to it: the other copy of a double-handed visit, the visit it
    follows and the visits that follow it (every copy)."""
    copies: dict[str, list[int]] = {}
    for node, (v, _) in enumerate(nodes):
        copies.setdefault(v.visit_id, []).append(node)
    out: list[list[int]] = [[] for _ in nodes]
    for node, (v, _) in enumerate(nodes):
        out[node].extend(x for x in copies[v.visit_id] if x != node)
        for lead in copies.get(v.follows, []) if v.follows else []:
            out[node].append(lead)
            out[lead].append(node)
    return [sorted(set(p)) for p in out]


def choose_part(
    routes: Mapping[int, Sequence[tuple[int, int]]],
    undone: Sequence[int],
    *,
    travel: np.ndarray,
    owner: Sequence[str],
    allowed_of: Sequence[Sequence[int]],
    partners: Sequence[Sequence[int]],
    rng: random.Random,
    size: int = PART_NODES,
) -> Part | None:
    """A random route and its nearest neighbours, every vehicle of the carers concerned, and
    the nearest undone visits they may do. A route's nearness to the random one is the mean,
    over the random route's visits, of the journey to the route's nearest visit.

    `routes` maps each used vehicle to its ``(node, start)`` stops; `owner` gives each
    vehicle's carer. Routes are added while their visits number at most `size` (two routes
    at least). None when fewer than two routes are in use.
    """
    used = sorted(k for k, stops in routes.items() if stops)
    if len(used) < 2:
        return None
    seed = rng.choice(used)
    mine = [x for x, _ in routes[seed]]
    near = {
        k: float(travel[np.ix_(mine, [x for x, _ in routes[k]])].min(axis=1).mean())
        for k in used
    }
    near[seed] = -1.0
    chosen: list[int] = []
    count = 0
    for k in sorted(used, key=lambda k: (near[k], k)):
        if len(chosen) >= 2 and count + len(routes[k]) > size:
            break
        chosen.append(k)
        count += len(routes[k])
    # A carer's split shift is several vehicles: take them all, so daily limits stay whole.
    carers = {owner[k] for k in chosen}
    vehicles = sorted(k for k in range(len(owner)) if owner[k] in carers)
    on_route = [x for k in vehicles for x, _ in routes.get(k, ())]
    start_of = {x: t for stops in routes.values() for x, t in stops}
    carer_of = {x: owner[k] for k, stops in routes.items() for x, _ in stops}
    inside = set(on_route)
    fixed: dict[int, int] = {}
    banned: dict[int, set[str]] = {}
    for x in on_route:
        outside = [y for y in partners[x] if y not in inside and y in start_of]
        if outside:
            fixed[x] = start_of[x]
            banned[x] = {carer_of[y] for y in outside}
    fleet, idle = set(vehicles), set(undone)
    picked: list[int] = []
    candidates = [
        x for x in undone if fleet.intersection(allowed_of[x]) and _closed(x, partners, idle)
    ]
    if candidates and on_route:
        gap = travel[np.ix_(candidates, on_route)].min(axis=1)
        for i in np.argsort(gap, kind="stable")[:PART_UNDONE]:
            x = candidates[int(i)]
            picked.extend([x, *partners[x]])
    return Part(vehicles, on_route + sorted(set(picked)), fixed, banned)


def _closed(x: int, partners: Sequence[Sequence[int]], idle: set[int]) -> bool:
    """Whether `x` and the nodes tied to it are all undone and tied to nothing else, so they
    can enter a part together; only the lowest node of such a group stands for it."""
    group = {x, *partners[x]}
    return (
        min(group) == x
        and group <= idle
        and all(set(partners[y]) <= group for y in partners[x])
    )
