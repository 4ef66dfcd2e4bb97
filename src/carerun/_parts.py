"""Which part of a day's plan to re-solve next: the neighbourhoods of carerun's large
neighbourhood search (:func:`choose_part`, around a random route) and the parts around a
co-located group that the search left to several providers (:func:`part_around`). See
:mod:`carerun._ortools`, which solves them.

A part is a few carers' routes that lie close together, the visits on them, and a few visits
left undone nearby. Re-solved as a small model, it can swap whole stretches of visits between
those carers, which one-visit-at-a-time moves over the whole day rarely find. Visits on the part's
routes whose double-handed partner or linked visit lies outside the part keep their start and may
not go to the partner's carer, so whatever the part does, the rest of the plan stays valid.

Nothing here imports OR-Tools: it works on node and vehicle numbers only.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from carerun.model import Visit

# Visits on the routes of one part (at least two routes are always taken).
PART_NODES = 35
# Visits left undone that a part may also try to place.
PART_UNDONE = 10
# Preferred routes a part around some nodes takes beyond its size (see part_around).
PART_PREFERRED = 2


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


def tied_closure(nodes: Iterable[int], partners: Sequence[Sequence[int]]) -> set[int]:
    """`nodes` and every node tied to them, directly or through others (see
    :func:`partners_of`)."""
    todo = list(nodes)
    out: set[int] = set()
    while todo:
        x = todo.pop()
        if x not in out:
            out.add(x)
            todo.extend(partners[x])
    return out


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
    return part_around(
        routes,
        [x for x, _ in routes[seed]],
        undone,
        travel=travel,
        owner=owner,
        allowed_of=allowed_of,
        partners=partners,
        size=size,
    )


def part_around(
    routes: Mapping[int, Sequence[tuple[int, int]]],
    around: Sequence[int],
    undone: Sequence[int],
    *,
    travel: np.ndarray,
    owner: Sequence[str],
    allowed_of: Sequence[Sequence[int]],
    partners: Sequence[Sequence[int]],
    size: int = PART_NODES,
    prefer: Collection[int] = (),
) -> Part | None:
    """The routes doing the nodes `around`, the routes nearest them (those of vehicles in
    `prefer` first, used or not), every vehicle of the carers concerned, and the nearest
    undone visits they may do. A route's nearness is the mean, over the nodes `around`, of
    the journey to the route's nearest visit (to its base when it has none); `travel` has a
    row per node, then one per vehicle's base.

    Routes are added while their visits number at most `size` (every route doing a node of
    `around`, and two routes at least), and the nearest PART_PREFERRED preferred ones
    whatever their size. None when fewer than two routes could be taken.
    """
    used = sorted(k for k, stops in routes.items() if stops)
    unused = sorted(k for k in prefer if not routes.get(k))
    if len(used) + len(unused) < 2 or not around:
        return None
    first_base = len(travel) - len(owner)
    doing = {k for k in used if any(x in around for x, _ in routes[k])}

    def nearness(k: int) -> tuple[int, float]:
        if k in doing:
            return (0, -1.0)
        stops = [x for x, _ in routes[k]] if k in used else [first_base + k]
        return (
            1 if k in prefer else 2,
            float(travel[np.ix_(list(around), stops)].min(axis=1).mean()),
        )

    near = {k: nearness(k) for k in [*used, *unused]}
    chosen: list[int] = []
    count = 0
    for k in sorted(near, key=lambda k: (near[k], k)):
        full = len(chosen) >= max(2, len(doing)) and count + len(routes.get(k, ())) > size
        # However full, the nearest preferred routes come in: without them the part has no
        # way to do what it is for.
        if full and not (k in prefer and len(set(chosen) - doing) < PART_PREFERRED):
            break
        chosen.append(k)
        count += len(routes.get(k, ()))
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
    return min(group) == x and group <= idle and all(set(partners[y]) <= group for y in partners[x])
