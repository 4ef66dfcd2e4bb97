"""Duplicate multi-provider events: carers of different providers at one place at one time.

Definitions (what every count here means):

- **Visit span**: ``[start, start + duration]`` where ``start`` is the visit's assigned start in
  the :class:`~carerun.model.Plan` (the earliest, if its carers start apart). Visits the plan
  leaves unassigned have no carer and take no part.
- **Same place**: the same client, or visits whose doors lie within `distance_m` metres of each
  other (sheltered housing, a row of neighbours). Distances are straight lines on a local
  equirectangular projection in metres (x = R·Δλ·cos φ₀, y = R·Δφ around the day's mean point;
  error under 0.1 % over a county), searched with a :class:`scipy.spatial.cKDTree`.
- **Linked**: two visits on one day at the same place whose spans overlap or whose gap (the later
  start minus the earlier end) is at most `gap_min` minutes.
- **Event**: a connected group of linked visits (union-find), of two or more visits, whose
  carers belong to two or more providers (carer → provider from the roster), one of which
  could be spared: another provider there has, in the group, at least as many carers as each
  of its visits needs. Links chain, so an event can span more than `gap_min`. A group where
  no provider could be spared is joint working, not duplication: a double-handed visit by
  carers of two providers, alone or next to a visit by one of those carers (each provider
  has one carer there, and the double-handed visit needs both).

**Travel saved** (an estimate): one carer of the event's *main* provider (the one doing the most
carer-visits; ties go to the most visit minutes, then the id) could do the whole group back to
back. The travel saved is what the other providers' carers spent reaching the event's visits
(their ``travel_before``), less the short walk the single carer would need from the nearest main
provider visit to each of those doors (zero within one building; straight line × 1.3 at
4.8 km/h next door), never below zero. A double-handed visit saves nothing unless the main
provider has two carers in the event to do it. It ignores that overlapping visits would have
to move a little in time, and the knock-on change in the other carers' runs.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from carerun._errors import InputError
from carerun._io import write_csv
from carerun.matrix import DETOUR_FACTOR, EARTH_RADIUS_M, STRAIGHT_LINE_KPH, haversine_metres
from carerun.model import DAY_NAMES, Mode, Plan, Roster, Visit, day_name, format_time

DEFAULT_DISTANCE_M = 50.0
DEFAULT_GAP_MIN = 30
ALL_AREAS = "all"
_WALK_MPS = STRAIGHT_LINE_KPH[Mode.WALK] / 3.6

FRAME_COLUMNS = [
    "event_id",
    "day",
    "start",
    "end",
    "lat",
    "lon",
    "area",
    "providers",
    "main_provider",
    "carer_ids",
    "client_ids",
    "visit_ids",
    "n_visits",
    "n_providers",
    "travel_saved_min",
]


@dataclass(frozen=True, slots=True)
class DuplicateEvent:
    """Visits at one place and time served by carers of two or more providers.

    ``start``/``end`` are seconds from midnight of ``day``; ``lat``/``lon`` the mean of the
    visits' doors; ``travel_saved`` seconds (see the module docstring for the estimate).
    """

    event_id: str
    day: int
    start: int
    end: int
    lat: float
    lon: float
    area: str
    providers: tuple[str, ...]
    main_provider: str
    carer_ids: tuple[str, ...]
    client_ids: tuple[str, ...]
    visit_ids: tuple[str, ...]
    travel_saved: int

    @property
    def provider_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every pair of the event's providers, each pair in name order."""
        return tuple(itertools.combinations(self.providers, 2))


@dataclass(frozen=True, slots=True)
class _Done:
    """A visit as the plan does it: span, carers and their travel to it."""

    visit: Visit
    start: int
    end: int
    carers: tuple[str, ...]
    travel: dict[str, int]


def check_plan_ids(roster: Roster, plan: Plan) -> None:
    """Raise :class:`InputError` when `plan` names a visit or carer that `roster` lacks
    (a plan of another roster)."""
    for kind, named, known in (
        (
            "visits",
            {a.visit_id for a in plan.assignments} | {u.visit_id for u in plan.unassigned},
            {v.visit_id for v in roster.visits},
        ),
        ("carers", {a.carer_id for a in plan.assignments}, {c.carer_id for c in roster.carers}),
    ):
        unknown = sorted(named - known)
        if unknown:
            msg = f"the plan names {kind} not in the roster: {', '.join(unknown[:10])}"
            raise InputError(msg)


def _done_visits(roster: Roster, plan: Plan) -> dict[int, list[_Done]]:
    by_visit: dict[str, list[tuple[str, int, int]]] = {}
    for a in plan.assignments:
        by_visit.setdefault(a.visit_id, []).append((a.carer_id, a.start, a.travel_before))
    days: dict[int, list[_Done]] = {}
    for visit_id, rows in sorted(by_visit.items()):
        visit = roster.visit(visit_id)
        start = min(s for _, s, _ in rows)
        done = _Done(
            visit=visit,
            start=start,
            end=start + visit.duration,
            carers=tuple(sorted({c for c, _, _ in rows})),
            travel={c: t for c, _, t in rows},
        )
        days.setdefault(visit.day, []).append(done)
    return days


def local_metres(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Project WGS84 degrees onto a local equirectangular plane in metres, ``(n, 2)``.

    Centred on the mean point; good to well under 1 % within a few tens of kilometres, which is
    all a distance threshold of metres needs.
    """
    lat0 = float(np.mean(lat))
    lon0 = float(np.mean(lon))
    x = EARTH_RADIUS_M * np.radians(lon - lon0) * np.cos(np.radians(lat0))
    y = EARTH_RADIUS_M * np.radians(lat - lat0)
    return np.column_stack([x, y])


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _linked_groups(done: list[_Done], distance_m: float, gap_s: int) -> list[list[int]]:
    pts = np.array([d.visit.location.point for d in done], dtype=np.float64)
    xy = local_metres(pts[:, 0], pts[:, 1])
    near = cKDTree(xy).query_pairs(r=distance_m, output_type="ndarray")
    by_client: dict[str, list[int]] = {}
    for i, d in enumerate(done):
        by_client.setdefault(d.visit.client_id, []).append(i)
    same_client = [(i, j) for idx in by_client.values() for i, j in itertools.combinations(idx, 2)]
    uf = _UnionFind(len(done))
    for i, j in itertools.chain(map(tuple, near.tolist()), same_client):
        a, b = done[i], done[j]
        # Negative gap = overlap; this covers either order.
        if max(a.start, b.start) - min(a.end, b.end) <= gap_s:
            uf.union(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(len(done)):
        groups.setdefault(uf.find(i), []).append(i)
    return [g for g in groups.values() if len(g) >= 2]


def _travel_saved(group: list[_Done], provider_of: dict[str, str], main: str) -> int:
    main_pts = np.array(
        [d.visit.location.point for d in group if any(provider_of[c] == main for c in d.carers)]
    )
    main_carers = {c for d in group for c in d.carers if provider_of[c] == main}
    saved = 0.0
    for d in group:
        others = [c for c in d.carers if provider_of[c] != main]
        # A double-handed visit still needs a second carer unless the main provider has two.
        if not others or d.visit.carers_required > len(main_carers):
            continue
        reached = sum(d.travel[c] for c in others)
        walk_m = float(haversine_metres(np.array([d.visit.location.point]), main_pts).min())
        walk_s = walk_m * DETOUR_FACTOR / _WALK_MPS
        saved += max(0.0, reached - walk_s * len(others))
    return round(saved)


def _one_could_be_spared(group: list[_Done], provider_of: dict[str, str]) -> bool:
    """Whether some provider's carers in `group` could do all another provider does there
    (ignoring that overlapping visits would have to move a little in time)."""
    carers: dict[str, set[str]] = {}
    needs: Counter[str] = Counter()
    for d in group:
        for c in d.carers:
            p = provider_of[c]
            carers.setdefault(p, set()).add(c)
            needs[p] = max(needs[p], d.visit.carers_required)
    return any(
        len(carers[stay]) >= needs[spared] for stay, spared in itertools.permutations(carers, 2)
    )


def _event(
    group: list[_Done], provider_of: dict[str, str], day: int, *, joint: bool
) -> DuplicateEvent | None:
    carer_visits = Counter(provider_of[c] for d in group for c in d.carers)
    if len(carer_visits) < 2 or not (joint or _one_could_be_spared(group, provider_of)):
        return None
    minutes: Counter[str] = Counter()
    for d in group:
        for c in d.carers:
            minutes[provider_of[c]] += d.visit.duration
    main = min(carer_visits, key=lambda p: (-carer_visits[p], -minutes[p], p))
    areas = Counter(d.visit.area for d in group if d.visit.area)
    return DuplicateEvent(
        event_id="",
        day=day,
        start=min(d.start for d in group),
        end=max(d.end for d in group),
        lat=float(np.mean([d.visit.location.lat for d in group])),
        lon=float(np.mean([d.visit.location.lon for d in group])),
        area=min(areas, key=lambda a: (-areas[a], a)) if areas else "",
        providers=tuple(sorted(carer_visits)),
        main_provider=main,
        carer_ids=tuple(sorted({c for d in group for c in d.carers})),
        client_ids=tuple(sorted({d.visit.client_id for d in group})),
        visit_ids=tuple(
            d.visit.visit_id for d in sorted(group, key=lambda d: (d.start, d.visit.visit_id))
        ),
        travel_saved=_travel_saved(group, provider_of, main),
    )


def find_duplicates(
    roster: Roster,
    plan: Plan,
    *,
    distance_m: float = DEFAULT_DISTANCE_M,
    gap_min: float = DEFAULT_GAP_MIN,
    joint: bool = False,
) -> list[DuplicateEvent]:
    """Find every duplicate multi-provider event in `plan` (as-is or optimised).

    Parameters
    ----------
    roster
        The roster the plan is for: visits (places, clients, durations) and carer → provider.
    plan
        Who does which visit when; an as-is plan (``asis_plan``) or an optimised one.
    distance_m
        Doors at most this many metres apart count as one place (default 50 m).
    gap_min
        Visits whose spans are at most this many minutes apart count as one time (default 30).
    joint
        Also return the groups where no provider could be spared (joint working, see the
        module docstring); default False.

    Returns
    -------
    list of DuplicateEvent
        Ordered by day, start and place, with ids ``D0001``, ``D0002``, …

    Raises
    ------
    InputError
        When `distance_m` or `gap_min` is negative, or the plan names a visit or carer the
        roster lacks.
    """
    if distance_m < 0:
        msg = f"`distance_m` must be zero or more, not {distance_m}"
        raise InputError(msg)
    if gap_min < 0:
        msg = f"`gap_min` must be zero or more, not {gap_min}"
        raise InputError(msg)
    check_plan_ids(roster, plan)
    provider_of = {c.carer_id: c.provider for c in roster.carers}
    gap_s = round(gap_min * 60)
    events: list[DuplicateEvent] = []
    for day, done in sorted(_done_visits(roster, plan).items()):
        for group in _linked_groups(done, distance_m, gap_s):
            event = _event([done[i] for i in group], provider_of, day, joint=joint)
            if event is not None:
                events.append(event)
    events.sort(key=lambda e: (e.day, e.start, e.lat, e.lon, e.visit_ids))
    return [_with_id(e, f"D{i:04d}") for i, e in enumerate(events, start=1)]


def _with_id(event: DuplicateEvent, event_id: str) -> DuplicateEvent:
    fields = {name: getattr(event, name) for name in DuplicateEvent.__slots__}
    fields["event_id"] = event_id
    return DuplicateEvent(**fields)


def duplicates_frame(events: Iterable[DuplicateEvent]) -> pd.DataFrame:
    """One row per event: day name, ``HH:MM`` times, ``;``-joined ids, travel saved in minutes."""
    rows = [
        {
            "event_id": e.event_id,
            "day": day_name(e.day),
            "start": format_time(e.start),
            "end": format_time(e.end),
            "lat": round(e.lat, 6),
            "lon": round(e.lon, 6),
            "area": e.area,
            "providers": ";".join(e.providers),
            "main_provider": e.main_provider,
            "carer_ids": ";".join(e.carer_ids),
            "client_ids": ";".join(e.client_ids),
            "visit_ids": ";".join(e.visit_ids),
            "n_visits": len(e.visit_ids),
            "n_providers": len(e.providers),
            "travel_saved_min": round(e.travel_saved / 60, 1),
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def duplicate_counts(events: Iterable[DuplicateEvent]) -> dict[str, pd.DataFrame]:
    """Counts of events, visits and travel saved by provider pair, by area and by day.

    Returns
    -------
    dict
        ``"provider_pair"`` (``provider_a``, ``provider_b``; an event of three providers counts
        once for each of its pairs), ``"area"`` (a visit's ``area``, or ``"all"`` when the
        roster has none) and ``"day"`` (``Mon`` … ``Sun``, days with no event included), each
        with columns ``events``, ``visits``, ``travel_saved_min``.
    """
    events = list(events)
    pair_rows = [
        {"provider_a": a, "provider_b": b, "n_visits": len(e.visit_ids), "saved": e.travel_saved}
        for e in events
        for a, b in e.provider_pairs
    ]
    area_rows = [
        {"area": e.area or ALL_AREAS, "n_visits": len(e.visit_ids), "saved": e.travel_saved}
        for e in events
    ]
    day_rows = [
        {"day": day_name(e.day), "n_visits": len(e.visit_ids), "saved": e.travel_saved}
        for e in events
    ]
    by_day = _count(day_rows, ["day"]).set_index("day").reindex(list(DAY_NAMES), fill_value=0)
    by_day = by_day.reset_index().astype({"events": int, "visits": int})
    return {
        "provider_pair": _count(pair_rows, ["provider_a", "provider_b"]),
        "area": _count(area_rows, ["area"]),
        "day": by_day,
    }


def _count(rows: list[dict[str, object]], keys: list[str]) -> pd.DataFrame:
    columns = [*keys, "events", "visits", "travel_saved_min"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object if c in keys else float) for c in columns})
    frame = pd.DataFrame(rows)
    out = frame.groupby(keys, sort=True).agg(
        events=("n_visits", "size"), visits=("n_visits", "sum"), saved=("saved", "sum")
    )
    out["travel_saved_min"] = (out.pop("saved") / 60).round(1)
    return out.reset_index()[columns]


def write_duplicates_csv(events: Iterable[DuplicateEvent], path: str | Path) -> Path:
    """Write ``duplicates.csv`` (one row per event) atomically, spreadsheet-safe; return path."""
    return write_safe_csv(duplicates_frame(events), path)


def write_safe_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` as CSV atomically, passing every text cell through ``safe_cell``."""
    return write_csv(frame, path)
