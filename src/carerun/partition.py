"""Split a large day into independent areas, each with its own visits and carers.

One OR-Tools routing model per council-sized day is slow to search well; areas of a few hundred
visits solve well in seconds and can run in parallel. The split must not cost much quality, so:

- visits are grouped by place (k-means on projected coordinates, seeded): carers rarely cross a
  county between two visits, so an area boundary cuts few good routes;
- everything that must be decided together stays together: visits at one point, a linked visit
  and the visit it follows, a pinned visit and its carer;
- carers go to the area nearest their base, in proportion to each area's demand (visit minutes,
  double-handed counted twice), so no area is starved while another has idle carers;
- whatever an area leaves undone is offered to every carer of the day afterwards
  (see :func:`carerun.solve.plan_week`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2

from carerun.model import Carer, Roster, Visit

DEFAULT_MAX_VISITS = 500


@dataclass(frozen=True)
class Part:
    """One sub-problem: a day's visits in one area and the carers who work there."""

    day: int
    area: int
    visits: tuple[Visit, ...]
    carers: tuple[Carer, ...]

    @property
    def label(self) -> str:
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        return names[self.day] if self.area < 0 else f"{names[self.day]} area {self.area + 1}"


def split_day(
    roster: Roster, day: int, *, max_visits: int = DEFAULT_MAX_VISITS, seed: int = 0
) -> list[Part]:
    """The day as one part, or as areas of at most about `max_visits` visits each."""
    visits = roster.visits_on(day)
    carers = roster.carers_on(day)
    if len(visits) <= max_visits or len(carers) < 2:
        return [Part(day, -1, visits, carers)]
    k = min(math.ceil(len(visits) / max_visits), len(carers))
    clustered, centres = _cluster(visits, k, seed)
    labels = _keep_together(visits, clustered)
    k = len(centres)
    demand = np.zeros(k)
    for v, lab in zip(visits, labels, strict=True):
        demand[lab] += v.duration * v.carers_required
    owner = _assign_carers(visits, labels, carers, centres, demand)
    labels = _follow_pinned_carers(visits, labels, owner)
    parts = []
    for a in range(k):
        part_visits = tuple(v for v, lab in zip(visits, labels, strict=True) if lab == a)
        part_carers = tuple(c for c in carers if owner[c.carer_id] == a)
        if part_visits or part_carers:
            parts.append(Part(day, a, part_visits, part_carers))
    return parts


def _xy(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    """Local equirectangular metres around latitude `lat0`: plenty for grouping in a county."""
    return np.column_stack(
        [np.radians(lon) * 6_371_000 * math.cos(math.radians(lat0)), np.radians(lat) * 6_371_000]
    )


def _lat0(visits: Sequence[Visit]) -> float:
    return float(np.mean([v.location.lat for v in visits]))


def _cluster(visits: Sequence[Visit], k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([v.location.lat for v in visits])
    lon = np.array([v.location.lon for v in visits])
    xy = _xy(lat, lon, _lat0(visits))
    centres, labels = kmeans2(xy, k, minit="++", seed=np.random.default_rng(seed))
    # Empty clusters are possible with ++ init on duplicated points; renumber densely.
    used = np.unique(labels)
    remap = {int(old): new for new, old in enumerate(used)}
    return np.array([remap[int(x)] for x in labels]), centres[used]


def _keep_together(visits: Sequence[Visit], labels: np.ndarray) -> list[int]:
    """Same point → same area; a linked visit goes where the visit it follows goes."""
    out = [int(x) for x in labels]
    by_point: dict[tuple[float, float], int] = {}
    index = {v.visit_id: i for i, v in enumerate(visits)}
    for i, v in enumerate(visits):
        out[i] = by_point.setdefault(v.location.point, out[i])
    for _ in range(len(visits)):  # chains of links settle in at most this many passes
        changed = False
        for i, v in enumerate(visits):
            j = index.get(v.follows)
            if j is not None and out[i] != out[j]:
                out[i] = out[j]
                changed = True
        if not changed:
            break
    return out


def _follow_pinned_carers(
    visits: Sequence[Visit], labels: list[int], owner: dict[str, int]
) -> list[int]:
    """A carer pinned to visits in two areas works in one: move the other pinned visits (and
    the visits linked to them) to the carer's area, so every pin can be kept."""
    out = list(labels)
    index = {v.visit_id: i for i, v in enumerate(visits)}
    followers: dict[str, list[int]] = {}
    for i, v in enumerate(visits):
        if v.follows in index:
            followers.setdefault(v.follows, []).append(i)
    for i, v in enumerate(visits):
        areas = {owner[c] for c in v.carer_ids if c in owner}
        if not v.pinned or len(areas) != 1:
            continue
        target = areas.pop()
        chain, todo = set(), [i]
        while todo:  # the whole chain of links through this visit, both ways
            j = todo.pop()
            if j in chain:
                continue
            chain.add(j)
            w = visits[j]
            todo += followers.get(w.visit_id, [])
            if w.follows in index:
                todo.append(index[w.follows])
        for j in chain:
            out[j] = target
    return out


def _assign_carers(
    visits: Sequence[Visit],
    labels: Sequence[int],
    carers: Sequence[Carer],
    centres: np.ndarray,
    demand: np.ndarray,
) -> dict[str, int]:
    """Each carer to one area: pinned carers where their pinned visits are, the rest nearest
    first while the area's share of carers (by demand) is not yet filled."""
    k = len(centres)
    quota = np.maximum(1, np.round(demand / demand.sum() * len(carers))).astype(int)
    owner: dict[str, int] = {}
    for v, lab in zip(visits, labels, strict=True):
        if v.pinned:
            for cid in v.carer_ids:
                owner.setdefault(cid, lab)
    filled = np.zeros(k, dtype=int)
    for a in owner.values():
        filled[a] += 1
    free = [c for c in carers if c.carer_id not in owner]
    if not free:
        return owner
    bases = _xy(
        np.array([c.base.lat for c in free]), np.array([c.base.lon for c in free]), _lat0(visits)
    )
    dist = np.linalg.norm(bases[:, None, :] - centres[None, :, :], axis=2)
    for flat in np.argsort(dist, axis=None, kind="stable"):
        ci, a = divmod(int(flat), k)
        cid = free[ci].carer_id
        if cid in owner or filled[a] >= quota[a]:
            continue
        owner[cid] = a
        filled[a] += 1
    for ci, c in enumerate(free):  # quotas rounded down: the rest go to their nearest area
        if c.carer_id not in owner:
            owner[c.carer_id] = int(np.argmin(dist[ci]))
    return owner
