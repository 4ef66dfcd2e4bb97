"""Door-to-door travel times and distances between locations, per travel mode.

:class:`TravelMatrix` is what the optimiser, the checker and the studies read. It is keyed by
point ``(lat, lon)``: visits at one door share a row. Build one from a road network with
:func:`travel_matrix` (snapping + many-to-many shortest paths), or from arrays you already have
with :meth:`TravelMatrix.from_arrays` (benchmarks, tests, an external routing engine).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from carerun import settings as carerun_settings
from carerun._errors import InputError, NetworkError
from carerun._io import atomic_write
from carerun.model import Location, Mode, Roster

if TYPE_CHECKING:
    import networkx as nx

    from carerun.network import RoadNetwork

Point = tuple[float, float]
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Travel between a fixed list of distinct points, per mode.

    Attributes
    ----------
    points
        Distinct ``(lat, lon)`` pairs; row/column ``i`` of every array is ``points[i]``.
    seconds
        Per mode, an ``(n, n)`` int32 array of door-to-door seconds (stop overhead included
        between distinct points; zero on the diagonal).
    metres
        Per mode, an ``(n, n)`` float array of road distance in metres.
    """

    points: tuple[Point, ...]
    seconds: Mapping[Mode, np.ndarray]
    metres: Mapping[Mode, np.ndarray]
    _index: dict[Point, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.points)
        index = {p: i for i, p in enumerate(self.points)}
        if len(index) != n:
            raise InputError("`points` of a travel matrix must be distinct")
        for name, arrays in (("seconds", self.seconds), ("metres", self.metres)):
            for mode, a in arrays.items():
                if a.shape != (n, n):
                    msg = f"`{name}` for {mode} has shape {a.shape}, expected ({n}, {n})"
                    raise InputError(msg)
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_arrays(
        cls,
        points: Sequence[Point],
        seconds: Mapping[Mode, np.ndarray],
        metres: Mapping[Mode, np.ndarray] | None = None,
    ) -> TravelMatrix:
        """Wrap matrices computed elsewhere; `metres` defaults to zeros."""
        secs = {Mode(m): np.asarray(a, dtype=np.int32) for m, a in seconds.items()}
        dist = (
            {Mode(m): np.asarray(a, dtype=np.float64) for m, a in metres.items()}
            if metres is not None
            else {m: np.zeros_like(a, dtype=np.float64) for m, a in secs.items()}
        )
        return cls(tuple((float(a), float(b)) for a, b in points), secs, dist)

    @property
    def modes(self) -> tuple[Mode, ...]:
        return tuple(self.seconds)

    def __len__(self) -> int:
        return len(self.points)

    def __contains__(self, where: Location | Point) -> bool:
        return _point(where) in self._index

    def index(self, where: Location | Point) -> int:
        """Row of `where` in the arrays."""
        try:
            return self._index[_point(where)]
        except KeyError:
            msg = f"location {_point(where)} is not in the travel matrix"
            raise InputError(msg) from None

    def indices(self, places: Iterable[Location | Point]) -> np.ndarray:
        return np.fromiter((self.index(p) for p in places), dtype=np.int64)

    def _mode(self, mode: Mode) -> Mode:
        if mode not in self.seconds:
            have = ", ".join(m.value for m in self.seconds)
            msg = f"no travel times for mode {mode.value!r} (matrix has: {have})"
            raise InputError(msg)
        return mode

    def time(self, mode: Mode, a: Location | Point, b: Location | Point) -> int:
        """Seconds from `a` to `b` by `mode`."""
        return int(self.seconds[self._mode(mode)][self.index(a), self.index(b)])

    def distance(self, mode: Mode, a: Location | Point, b: Location | Point) -> float:
        """Metres from `a` to `b` by `mode`."""
        return float(self.metres[self._mode(mode)][self.index(a), self.index(b)])


def _point(where: Location | Point) -> Point:
    return where.point if isinstance(where, Location) else (float(where[0]), float(where[1]))


def haversine_metres(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle metres between every row of `a` and every row of `b` (``lat, lon`` degrees)."""
    lat1, lon1 = np.radians(a[:, 0])[:, None], np.radians(a[:, 1])[:, None]
    lat2, lon2 = np.radians(b[:, 0])[None, :], np.radians(b[:, 1])[None, :]
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# Straight-line speeds with a detour factor: used only where no road network is given.
STRAIGHT_LINE_KPH = {Mode.DRIVE: 30.0, Mode.WALK: 4.8, Mode.CYCLE: 15.0}
DETOUR_FACTOR = 1.3


def straight_line_matrix(
    places: Iterable[Location | Point],
    *,
    modes: Iterable[Mode] = tuple(Mode),
    kph: Mapping[Mode, float] | None = None,
    detour: float = DETOUR_FACTOR,
) -> TravelMatrix:
    """A matrix from great-circle distance times `detour`, at a constant speed per mode.

    For hand-built examples and quick looks only; real studies use :func:`travel_matrix`.
    """
    speeds = {**STRAIGHT_LINE_KPH, **(kph or {})}
    points = list(dict.fromkeys(_point(p) for p in places))
    arr = np.array(points, dtype=np.float64).reshape(-1, 2)
    metres = haversine_metres(arr, arr) * detour
    secs = {m: np.rint(metres / (speeds[m] / 3.6)).astype(np.int32) for m in modes}
    return TravelMatrix.from_arrays(points, secs, {m: metres for m in modes})


def roster_points(roster: Roster) -> list[Point]:
    """Every distinct point a roster needs travel between: visit doors and carer bases."""
    pts = [v.location.point for v in roster.visits] + [c.base.point for c in roster.carers]
    return list(dict.fromkeys(pts))


def roster_modes(roster: Roster) -> tuple[Mode, ...]:
    """The travel modes the roster's carers use, in a stable order."""
    used = {c.mode for c in roster.carers}
    return tuple(m for m in Mode if m in used) or (Mode.DRIVE,)


# --- travel times over a road network -------------------------------------------------------
#
# Exactness: each edge's `travel_time` is rounded once to whole milliseconds and its `length`
# to whole decimetres. The Dijkstra weight of an edge is ``ms * 2**k + dm``, with ``2**k`` above
# the total decimetres of the graph, so it orders paths by time and then by distance. Every
# partial sum is an integer below 2**53, exact in float64 whatever the order of additions:
# ``weight // 2**k`` is then exactly the fastest road time in milliseconds that networkx's
# Dijkstra finds with the same integer millisecond weights, and ``weight % 2**k`` the decimetres
# of the shortest of the fastest paths — distance along the same path in one Dijkstra run.

SnapMethod = Literal["edge", "node"]
MATRIX_CACHE_FORMAT = 1
# Cells of the (sources x graph nodes) float64 array per Dijkstra call: bounds memory (~160 MB).
_DIJKSTRA_CELLS = 20_000_000
_EXACT = 2.0**53


@dataclass(frozen=True)
class Snap:
    """Where each point joins one mode's graph.

    Attributes
    ----------
    node
        Graph node id per point: where the trip enters and leaves the road graph.
    door_metres
        Straight-line metres from the point to the road (``snap="edge"``) or the node
        (``snap="node"``), walked at ``door_walk_kph``.
    access_metres, access_ms
        Metres and milliseconds from the point to `node`: the door walk plus, with
        ``snap="edge"``, the stretch of the snapped edge between the foot of the perpendicular
        and its nearer end node, at that edge's speed. Added at both ends of every trip.
    """

    node: np.ndarray
    door_metres: np.ndarray
    access_metres: np.ndarray
    access_ms: np.ndarray


def snap_points(
    graph: nx.MultiDiGraph,
    points: Sequence[Point],
    *,
    snap: SnapMethod = "edge",
    door_walk_kph: float = 4.8,
) -> Snap:
    """Join `points` (``(lat, lon)``) to `graph`: nearest edge, entered at its nearer end node
    (``snap="edge"``), or nearest node (``snap="node"``). Distances are measured in the local
    UTM zone."""
    if snap not in ("edge", "node"):
        msg = f"`snap` must be 'edge' or 'node', got {snap!r}"
        raise InputError(msg)
    if len(graph) == 0:
        raise NetworkError("cannot snap points to an empty road graph")
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    node_ids = list(graph.nodes)
    node_lonlat = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in node_ids])
    to_metres = _utm_transformer(node_lonlat)
    px, py = to_metres.transform(pts[:, 1], pts[:, 0])
    door_ms_per_m = 3600.0 / door_walk_kph
    if snap == "node":
        from scipy.spatial import cKDTree

        nx_, ny_ = to_metres.transform(node_lonlat[:, 0], node_lonlat[:, 1])
        dist, idx = cKDTree(np.column_stack([nx_, ny_])).query(np.column_stack([px, py]))
        nodes = np.empty(len(pts), dtype=object)
        nodes[:] = [node_ids[i] for i in idx]
        return Snap(_as_ids(nodes), dist, dist.copy(), dist * door_ms_per_m)

    import shapely

    edges = list(graph.edges(data=True))
    us = [u for u, _, _ in edges]
    vs = [v for _, v, _ in edges]
    times = np.array([d["travel_time"] for _, _, d in edges], dtype=np.float64)
    lengths = np.array([d["length"] for _, _, d in edges], dtype=np.float64)
    # Simplified edges carry their curve; the others are straight between their end nodes.
    geoms = np.array([d.get("geometry") for _, _, d in edges], dtype=object)
    straight = np.flatnonzero([g is None for g in geoms])
    if len(straight):
        pos = {n: i for i, n in enumerate(node_ids)}
        ends = [(pos[us[e]], pos[vs[e]]) for e in straight]
        geoms[straight] = shapely.linestrings(node_lonlat[np.array(ends)])
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    ex, ey = to_metres.transform(xy[:, 0], xy[:, 1])
    lines = shapely.linestrings(np.column_stack([ex, ey]), indices=owner)
    where = shapely.points(px, py)
    (pi, li), door = shapely.STRtree(lines).query_nearest(
        where, return_distance=True, all_matches=False
    )
    order = np.argsort(pi, kind="stable")
    li, door = li[order], door[order]
    span = shapely.length(lines[li])
    along = shapely.line_locate_point(lines[li], where)
    frac = np.divide(along, span, out=np.zeros_like(along), where=span > 0)
    at_start = frac <= 0.5
    part = np.where(at_start, frac, 1.0 - frac)
    nodes = np.empty(len(pts), dtype=object)
    nodes[:] = [us[e] if s else vs[e] for e, s in zip(li, at_start, strict=True)]
    road_metres = part * lengths[li]
    road_ms = part * times[li] * 1000.0
    return Snap(_as_ids(nodes), door, door + road_metres, door * door_ms_per_m + road_ms)


def travel_matrix(
    network: RoadNetwork,
    places: Iterable[Location | Point],
    *,
    modes: Iterable[Mode] | None = None,
    snap: SnapMethod = "edge",
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> TravelMatrix:
    """Door-to-door travel times and distances between `places` over a road network.

    Each distinct point is snapped to each mode's graph (:func:`snap_points`); then one
    compiled Dijkstra (``scipy.sparse.csgraph``) per distinct snapped node gives the fastest
    road time to every other, and the distance along that path. Seconds between two distinct
    points are ``round((road ms + access ms at both ends) / 1000)`` plus the mode's stop
    overhead; the diagonal is zero.

    Parameters
    ----------
    network
        Road graphs per mode (:mod:`carerun.network`).
    places
        Locations or ``(lat, lon)`` pairs; repeats share a row.
    modes
        Modes to compute (default: every mode of `network`).
    snap
        ``"edge"`` (nearest road, default) or ``"node"`` (nearest junction).
    cache_dir
        Cache folder (default :data:`carerun.settings.cache_folder`); matrices are cached by
        network, points, mode and settings.
    progress
        Show a progress bar.

    Raises
    ------
    NetworkError
        A mode is missing from `network`, or a point cannot reach another by road.
    """
    points = list(dict.fromkeys(_point(p) for p in places))
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(arr).all() or (np.abs(arr) > (90.0, 180.0)).any():
        raise InputError("every place needs a finite latitude (-90…90) and longitude (-180…180)")
    chosen = tuple(dict.fromkeys(Mode(m) for m in modes)) if modes is not None else network.modes
    cache = _matrix_cache(network, cache_dir)
    seconds: dict[Mode, np.ndarray] = {}
    metres: dict[Mode, np.ndarray] = {}
    for mode in chosen:
        graph = network.graph(mode)
        overhead = int(network.settings.stop_overhead_s.get(mode, 0))
        door_kph = network.settings.door_walk_kph
        file = None
        if cache is not None:
            spec = [MATRIX_CACHE_FORMAT, network.key, mode.value, snap, door_kph, overhead]
            digest = hashlib.sha256(json.dumps(spec).encode() + arr.tobytes()).hexdigest()
            file = cache / f"{digest}.npz"
        cached = _read_npz(file, len(points))
        if cached is not None:
            seconds[mode], metres[mode] = cached
            continue
        where = snap_points(graph, points, snap=snap, door_walk_kph=door_kph)
        road_ms, road_m = _road_matrix(graph, where.node, label=mode.value, progress=progress)
        # In place: three (n, n) arrays of 2,000 points are 32 MB each.
        secs, dist = road_ms, road_m
        secs += where.access_ms[:, None]
        secs += where.access_ms[None, :]
        secs /= 1000.0
        np.rint(secs, out=secs)
        secs += overhead
        dist += where.access_metres[:, None]
        dist += where.access_metres[None, :]
        np.fill_diagonal(secs, 0)
        np.fill_diagonal(dist, 0.0)
        seconds[mode], metres[mode] = secs.astype(np.int32), dist
        if file is not None:
            with atomic_write(file, "wb") as fh:
                np.savez(fh, seconds=seconds[mode], metres=metres[mode])
    return TravelMatrix.from_arrays(points, seconds, metres)


def roster_matrix(
    network: RoadNetwork,
    roster: Roster,
    *,
    snap: SnapMethod = "edge",
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> TravelMatrix:
    """:func:`travel_matrix` over every door and base of `roster`, for the modes its carers use."""
    return travel_matrix(
        network,
        roster_points(roster),
        modes=roster_modes(roster),
        snap=snap,
        cache_dir=cache_dir,
        progress=progress,
    )


def _as_ids(nodes: np.ndarray) -> np.ndarray:
    """OSM node ids as int64 when they are integers; other hashables stay objects."""
    if all(isinstance(n, int | np.integer) for n in nodes):
        return nodes.astype(np.int64)
    return nodes


def _utm_transformer(lonlat: np.ndarray) -> Any:
    from pyproj import Transformer

    lon, lat = float(np.mean(lonlat[:, 0])), float(np.mean(lonlat[:, 1]))
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    return Transformer.from_crs(4326, epsg, always_xy=True)


def _road_matrix(
    graph: nx.MultiDiGraph, nodes: np.ndarray, *, label: str, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Fastest road milliseconds and its metres between every pair of `nodes` (one per point)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra
    from tqdm import tqdm

    index = {n: i for i, n in enumerate(graph.nodes)}
    size = len(index)
    edges = [
        (index[u], index[v], d["travel_time"], d["length"]) for u, v, d in graph.edges(data=True)
    ]
    table = np.array(edges, dtype=np.float64).reshape(-1, 4)
    u, v = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    ms, dm = np.rint(table[:, 2] * 1000.0), np.rint(table[:, 3] * 10.0)
    # Of parallel edges keep the fastest (then shortest): sort, take the first of each (u, v).
    order = np.lexsort((dm, ms, v, u))
    u, v, ms, dm = u[order], v[order], ms[order], dm[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, ms, dm = u[first], v[first], ms[first], dm[first]
    scale = 2.0 ** int(dm.sum()).bit_length()
    weight = ms * scale + dm
    if len(weight) and weight.max() >= _EXACT:
        msg = f"the {label} graph is too large for exact travel times; clip it with a bbox"
        raise NetworkError(msg)
    keep, root, up, down = _prune_dead_ends(size, u, v, weight)
    # Explicit zero weights (two nodes at one spot) stay edges in a CSR matrix for csgraph.
    csr = csr_matrix((weight[keep], (u[keep], v[keep])), shape=(size, size))

    unique, inverse = np.unique(
        np.array([index[n] for n in nodes], dtype=np.int64), return_inverse=True
    )
    roots, at_root = np.unique(root[unique], return_inverse=True)
    chunk = max(1, _DIJKSTRA_CELLS // max(size, 1))
    core = np.empty((len(roots), len(roots)), dtype=np.float64)
    with tqdm(
        total=len(roots), desc=f"{label} travel times", unit="source", disable=not progress
    ) as bar:
        for start in range(0, len(roots), chunk):
            sources = roots[start : start + chunk]
            found = dijkstra(csr, directed=True, indices=sources)
            core[start : start + len(sources)] = found[:, roots]
            bar.update(len(sources))
    road = core.take(at_root, axis=0).take(at_root, axis=1)
    road += up[unique][:, None]
    road += down[unique][None, :]
    np.fill_diagonal(road, 0.0)
    if not np.isfinite(road).all():
        msg = f"some places cannot reach each other on the {label} graph (it is not connected)"
        raise NetworkError(msg)
    if len(road) and road.max() >= _EXACT:
        msg = f"journeys on the {label} graph are too long for exact times; clip it with a bbox"
        raise NetworkError(msg)
    road_ms = np.floor(road / scale)
    road_dm = road - road_ms * scale
    # Rows then columns: two cache-friendly gathers, several times faster than ``np.ix_``.
    road_ms = road_ms.take(inverse, axis=0).take(inverse, axis=1)
    road_dm = road_dm.take(inverse, axis=0).take(inverse, axis=1)
    road_dm /= 10.0
    return road_ms, road_dm


def _prune_dead_ends(
    size: int, u: np.ndarray, v: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Take dead ends out of the Dijkstra graph; a third of a rural road graph's nodes.

    A dead end has one neighbour (its parent), reached both ways, and is no parent itself:
    every trip from it starts ``dead end → parent`` and every trip to it ends
    ``parent → dead end``. So distances from and to it are the parent's plus that edge, and two
    dead ends on one parent are ``up + down`` apart — exact, as every weight is an integer.

    Returns
    -------
    keep
        Per edge, whether it stays in the Dijkstra graph.
    root, up, down
        Per node, the node Dijkstra starts from (itself, or a dead end's parent) and the weights
        of the edges ``node → root`` and ``root → node`` (zero for a node that is its own root).
    """
    root = np.arange(size)
    up, down = np.zeros(size), np.zeros(size)
    plain = u != v  # self-loops never lie on a shortest path
    lo, hi = np.minimum(u, v)[plain], np.maximum(u, v)[plain]
    pairs = np.unique(lo * size + hi)
    a, b = pairs // size, pairs % size
    degree = np.bincount(np.concatenate([a, b]), minlength=size)
    parent = np.full(size, -1)
    parent[a[degree[a] == 1]] = b[degree[a] == 1]
    parent[b[degree[b] == 1]] = a[degree[b] == 1]
    leaf = np.flatnonzero(parent >= 0)
    leaf = leaf[degree[parent[leaf]] >= 2]  # keep one node of a two-node graph
    if len(leaf) == 0:
        return np.ones(len(u), dtype=bool), root, up, down
    keys = u * size + v
    order = np.argsort(keys)

    def lookup(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = x * size + y
        at = np.minimum(np.searchsorted(keys, q, sorter=order), len(keys) - 1)
        hit = order[at]
        return keys[hit] == q, weight[hit]

    has_up, w_up = lookup(leaf, parent[leaf])
    has_down, w_down = lookup(parent[leaf], leaf)
    both = has_up & has_down  # otherwise the graph is not strongly connected: leave it be
    leaf, w_up, w_down = leaf[both], w_up[both], w_down[both]
    root[leaf], up[leaf], down[leaf] = parent[leaf], w_up, w_down
    gone = np.zeros(size, dtype=bool)
    gone[leaf] = True
    return ~(gone[u] | gone[v]), root, up, down


def _matrix_cache(network: RoadNetwork, cache_dir: str | Path | None) -> Path | None:
    if not network.key or not carerun_settings.use_cache:
        return None
    root = Path(cache_dir) if cache_dir is not None else Path(carerun_settings.cache_folder)
    return root / "matrices"


def _read_npz(file: Path | None, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    if file is None or not file.is_file():
        return None
    try:
        with np.load(file) as data:
            secs, dist = data["seconds"], data["metres"]
    except (OSError, ValueError, KeyError):  # a damaged cache entry is recomputed
        return None
    if secs.shape != (n, n) or dist.shape != (n, n):
        return None
    return secs, dist
