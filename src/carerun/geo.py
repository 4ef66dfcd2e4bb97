"""Coverage overlays for coordination meetings: who serves where, and where they meet.

Every layer is a :class:`geopandas.GeoDataFrame` in a projected CRS in metres (British National
Grid, EPSG:27700, for data in Great Britain; else the UTM zone of the data), so that areas are
m² and buffers are metres. :func:`coverage_layers` builds them all; :func:`write_coverage` puts
them in one GeoPackage, one layer each.

Layers meant to be shared between providers (``demand``, ``provider_areas``, ``overlap``,
``duplicates``, ``unmet_need``) are aggregated to a fixed hexagonal grid and never carry client
ids, names or addresses. Cells holding fewer than ``min_clients`` distinct clients are
**dropped** from ``demand``, ``overlap`` and ``unmet_need`` (not merged into a neighbour: merging
would move hours to a place they do not belong, and a coordinator reading the map would act on
the wrong street). The hours dropped are counted in ``GeoDataFrame.attrs`` (``suppressed_cells``,
``suppressed_hours``) so that totals can still be reported. The grid is anchored at the CRS
origin, so cell ids are the same from one week to the next.

How much is dropped depends on the cell size: a small cell holds few clients, so in rural areas
most hours can fall under the threshold. :func:`coverage_layers` warns when more than half of
the demand hours are hidden, suggesting a larger ``cell_m``.

The ``routes`` layer follows carers' days on the roads: it is for a provider's own use, and
carries carer ids, provider and day, but no client ids. A carer's base is often their home, so
a route runs from the first visit to the last only, starting and ending at road nodes, never
at a base or a door.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from carerun._errors import InputError
from carerun._io import atomic_path
from carerun.model import Carer, Mode, Plan, ProviderKind, Roster, Visit, day_name

if TYPE_CHECKING:
    import networkx as nx

WGS84 = CRS.from_epsg(4326)
BRITISH_NATIONAL_GRID = CRS.from_epsg(27700)
ISOCHRONE_MINUTES = (5, 10, 15, 20)
LAYER_ORDER = (
    "demand",
    "provider_areas",
    "overlap",
    "duplicates",
    "isochrones",
    "unmet_need",
    "routes",
)
UNALLOCATED = ""


class DuplicateLike(Protocol):
    """What the overlays read from a duplicate multi-provider event (``carerun.duplicates``)."""

    @property
    def day(self) -> int: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def providers(self) -> Sequence[str]: ...
    @property
    def visit_ids(self) -> Sequence[str]: ...


class NetworkLike(Protocol):
    """A road network: one osmnx-style graph per travel mode (``carerun.network.RoadNetwork``)."""

    @property
    def graphs(self) -> Mapping[Mode, nx.MultiDiGraph]: ...


# CRS --------------------------------------------------------------------------------------


def in_great_britain(lat: float, lon: float) -> bool:
    """Whether a point lies in the area British National Grid is meant for.

    A coarse test: the grid's area of use less a box around the island of Ireland (which has
    its own grid); good enough to choose a CRS, not to draw a border.
    """
    west, south, east, north = -8.82, 49.79, 1.92, 60.94
    if not (west <= lon <= east and south <= lat <= north):
        return False
    return not (lon < -5.45 and 51.3 < lat < 55.25)


def projected_crs(lat: float | Iterable[float], lon: float | Iterable[float]) -> CRS:
    """The CRS in metres for data at (`lat`, `lon`): EPSG:27700 in Great Britain, else UTM.

    Given many points, the choice is made at their median.
    """
    lat_arr = np.atleast_1d(np.asarray(lat if np.isscalar(lat) else list(lat), dtype=float))  # type: ignore[arg-type]
    lon_arr = np.atleast_1d(np.asarray(lon if np.isscalar(lon) else list(lon), dtype=float))  # type: ignore[arg-type]
    if lat_arr.size == 0 or lat_arr.size != lon_arr.size:
        msg = "`lat` and `lon` must be non-empty and of the same length"
        raise InputError(msg)
    mlat, mlon = float(np.median(lat_arr)), float(np.median(lon_arr))
    if in_great_britain(mlat, mlon):
        return BRITISH_NATIONAL_GRID
    zone = int((mlon + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if mlat >= 0 else 32700) + zone)


def roster_crs(roster: Roster) -> CRS:
    """The projected CRS for a roster's visits and carer bases."""
    points = [v.location.point for v in roster.visits] + [c.base.point for c in roster.carers]
    if not points:
        msg = "the roster has no visits or carers to place on a map"
        raise InputError(msg)
    lats, lons = zip(*points, strict=True)
    return projected_crs(lats, lons)


def _resolve_crs(roster: Roster, crs: Any) -> CRS:
    best = roster_crs(roster)
    if crs is None:
        return best
    chosen = CRS.from_user_input(crs)
    if not chosen.is_projected:
        msg = f"`crs` must be projected (in metres); {chosen.to_string()} is not"
        raise InputError(msg)
    if chosen != best:
        warnings.warn(
            f"using {chosen.to_string()} as asked; {best.to_string()} would suit this data",
            stacklevel=3,
        )
    return chosen


@functools.lru_cache(maxsize=16)
def _transformer(source: CRS, target: CRS) -> Transformer:
    # Building a transformer costs tens of milliseconds; reuse them.
    return Transformer.from_crs(source, target, always_xy=True)


def _project(crs: CRS, lat: Sequence[float], lon: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    tr = _transformer(WGS84, crs)
    x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


# Hexagonal grid -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HexGrid:
    """Pointy-top hexagons `cell_m` across (flat side to flat side), anchored at the origin."""

    cell_m: float

    def __post_init__(self) -> None:
        if not self.cell_m > 0:
            msg = f"`cell_m` must be more than zero, not {self.cell_m}"
            raise InputError(msg)

    @property
    def radius(self) -> float:
        """Centre-to-corner distance."""
        return self.cell_m / math.sqrt(3.0)

    @property
    def area(self) -> float:
        """Area of one cell in m²."""
        return math.sqrt(3.0) / 2.0 * self.cell_m**2

    def cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Axial coordinates ``(q, r)`` of the cell holding each point."""
        size = self.radius
        qf = (math.sqrt(3.0) / 3.0 * x - y / 3.0) / size
        rf = (2.0 / 3.0 * y) / size
        sf = -qf - rf
        q, r, s = np.rint(qf), np.rint(rf), np.rint(sf)
        dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        q = np.where(fix_q, -r - s, q)
        r = np.where(fix_r, -q - s, r)
        return q.astype(np.int64), r.astype(np.int64)

    def centre(self, q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size = self.radius
        x = size * math.sqrt(3.0) * (q + r / 2.0)
        y = size * 1.5 * r
        return x, y

    def polygons(self, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Shapely hexagons for the cells ``(q, r)``."""
        cx, cy = self.centre(np.asarray(q), np.asarray(r))
        angles = np.radians(30.0 + 60.0 * np.arange(6))
        xs = cx[:, None] + self.radius * np.cos(angles)[None, :]
        ys = cy[:, None] + self.radius * np.sin(angles)[None, :]
        rings = np.stack([xs, ys], axis=-1)
        return shapely.polygons(rings)


def _cell_id(q: int, r: int) -> str:
    return f"{q}_{r}"


# Who serves each visit ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Served:
    """One carer's share of a visit (or the visit itself when nobody is allocated)."""

    visit: Visit
    provider: str
    hours: float


def _served(roster: Roster, plan: Plan | None) -> list[_Served]:
    """Split each visit's contact hours by provider: per the plan, or as the roster stands.

    A double-handed visit counts its duration once per carer (carer-hours of contact).
    """
    providers = {c.carer_id: c.provider for c in roster.carers}
    rows: list[_Served] = []
    carers_of: dict[str, list[str]] = defaultdict(list)
    for a in plan.assignments if plan is not None else ():
        carers_of[a.visit_id].append(a.carer_id)
    for v in roster.visits:
        hours = v.duration / 3600.0
        carer_ids = carers_of.get(v.visit_id, []) if plan is not None else list(v.carer_ids)
        for cid in carer_ids:
            rows.append(_Served(v, providers.get(cid, UNALLOCATED), hours))
        missing = v.carers_required - len(carer_ids)
        if missing > 0:
            provider = v.provider if plan is None else UNALLOCATED
            rows.append(_Served(v, provider, hours * missing))
    return rows


def _provider_ids(roster: Roster) -> list[str]:
    return sorted(p.provider for p in roster.providers)


def hours_column(provider: str) -> str:
    """Column holding a provider's hours in the ``demand`` and ``overlap`` layers."""
    return f"hours_{provider}"


def _cells_frame(roster: Roster, rows: Sequence[_Served], crs: CRS, grid: HexGrid) -> pd.DataFrame:
    """One row per served share with its cell ``q``, ``r``."""
    frame = pd.DataFrame(
        {
            "client": [s.visit.client_id for s in rows],
            "visit": [s.visit.visit_id for s in rows],
            "provider": [s.provider for s in rows],
            "hours": [s.hours for s in rows],
        }
    )
    x, y = _project(crs, [s.visit.location.lat for s in rows], [s.visit.location.lon for s in rows])
    frame["q"], frame["r"] = grid.cells(x, y)
    return frame


def _suppress(gdf: gpd.GeoDataFrame, *, min_clients: int, hours: str = "hours") -> gpd.GeoDataFrame:
    keep = gdf["clients"] >= min_clients
    out = gdf.loc[keep].reset_index(drop=True)
    out.attrs["suppressed_cells"] = int((~keep).sum())
    out.attrs["suppressed_hours"] = float(gdf.loc[~keep, hours].sum())
    out.attrs["min_clients"] = min_clients
    return out


def _empty(columns: Sequence[str], crs: CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)


def _check_min_clients(min_clients: int) -> None:
    if min_clients < 1:
        msg = f"`min_clients` must be 1 or more, not {min_clients}"
        raise InputError(msg)


# Layers -------------------------------------------------------------------------------------


def demand_cells(
    roster: Roster,
    *,
    plan: Plan | None = None,
    cell_m: float = 500.0,
    min_clients: int = 3,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Contact hours per hexagonal cell, in total and per provider.

    Parameters
    ----------
    roster
        The week of visits.
    plan
        When given, hours go to the provider of the carer the plan assigns; else to the
        provider as the roster stands. Hours with no provider are in ``hours_unallocated``.
    cell_m
        Width of a hexagon (flat side to flat side) in metres.
    min_clients
        Cells with fewer distinct clients are dropped (privacy).
    crs
        A projected CRS; by default :func:`roster_crs`.

    Returns
    -------
    GeoDataFrame
        Columns ``cell_id``, ``clients``, ``visits``, ``hours``, ``hours_<provider>`` for each
        provider, ``hours_unallocated``, ``geometry`` (hexagon).
    """
    _check_min_clients(min_clients)
    target = _resolve_crs(roster, crs)
    grid = HexGrid(cell_m)
    providers = _provider_ids(roster)
    columns = ["cell_id", "clients", "visits", "hours"]
    columns += [hours_column(p) for p in providers] + ["hours_unallocated"]
    rows = _served(roster, plan)
    if not rows:
        return _empty(columns, target)
    frame = _cells_frame(roster, rows, target, grid)
    by_cell = frame.groupby(["q", "r"], sort=True)
    out = pd.DataFrame(
        {
            "clients": by_cell["client"].nunique(),
            "visits": by_cell["visit"].nunique(),
            "hours": by_cell["hours"].sum(),
        }
    )
    per = frame.pivot_table(index=["q", "r"], columns="provider", values="hours", aggfunc="sum")
    for p in providers:
        out[hours_column(p)] = per.get(p, 0.0)
    out["hours_unallocated"] = per.get(UNALLOCATED, 0.0)
    out = out.fillna(0.0).reset_index()
    q, r = out.pop("q").to_numpy(), out.pop("r").to_numpy()
    out.insert(0, "cell_id", [_cell_id(a, b) for a, b in zip(q, r, strict=True)])
    gdf = gpd.GeoDataFrame(out, geometry=grid.polygons(q, r), crs=target)
    gdf.attrs["cell_m"] = cell_m
    return _suppress(gdf, min_clients=min_clients)


def provider_areas(
    roster: Roster,
    *,
    plan: Plan | None = None,
    cell_m: float = 500.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """The area each provider actually serves: the union of the hex cells holding its visits.

    The union of occupied cells is used rather than a concave hull of the visit points because
    (a) a hull's corners are client addresses, which must not be shared, (b) a hull bridges
    empty country between two clusters and so claims ground nobody serves, and (c) cells match
    the ``demand`` and ``overlap`` layers exactly, so shared areas are whole cells that can be
    counted. Cells are not suppressed here: the outline of a union of 500 m cells names no one.

    Returns
    -------
    GeoDataFrame
        One row per provider with visits: ``provider``, ``name``, ``kind``, ``cells``,
        ``area_m2``, ``clients``, ``hours``, ``geometry`` (multi-polygon).
    """
    target = _resolve_crs(roster, crs)
    grid = HexGrid(cell_m)
    columns = ["provider", "name", "kind", "cells", "area_m2", "clients", "hours"]
    rows = [s for s in _served(roster, plan) if s.provider != UNALLOCATED]
    if not rows:
        return _empty(columns, target)
    frame = _cells_frame(roster, rows, target, grid)
    records = []
    geoms = []
    for provider, sub in frame.groupby("provider", sort=True):
        cells = sub[["q", "r"]].drop_duplicates().to_numpy()
        area = shapely.union_all(grid.polygons(cells[:, 0], cells[:, 1]))
        p = roster.provider(str(provider))
        records.append(
            {
                "provider": p.provider,
                "name": p.name or p.provider,
                "kind": p.kind.value,
                "cells": len(cells),
                "area_m2": float(area.area),
                "clients": int(sub["client"].nunique()),
                "hours": float(sub["hours"].sum()),
            }
        )
        geoms.append(area)
    gdf = gpd.GeoDataFrame(pd.DataFrame(records), geometry=geoms, crs=target)
    gdf.attrs["cell_m"] = cell_m
    return gdf


def provider_overlap(
    roster: Roster,
    *,
    plan: Plan | None = None,
    cell_m: float = 500.0,
    min_clients: int = 3,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Where two or more providers serve the same cells: the coordination opportunities.

    Cells served by the same set of providers are merged into one row. Cells with fewer than
    `min_clients` distinct clients (all providers together) are dropped first.

    Returns
    -------
    GeoDataFrame
        ``providers`` (``;``-joined ids), ``n_providers``, ``kinds`` (``;``-joined, in the order
        of ``providers``), ``in_house_external`` (True where both an in-house and an external
        provider serve), ``cells``, ``area_m2``, ``clients``, ``hours`` (all providers) and
        ``hours_<provider>`` per provider (0 where absent), ``geometry``.
    """
    _check_min_clients(min_clients)
    target = _resolve_crs(roster, crs)
    grid = HexGrid(cell_m)
    providers = _provider_ids(roster)
    columns = ["providers", "n_providers", "kinds", "in_house_external", "cells", "area_m2"]
    columns += ["clients", "hours", *(hours_column(p) for p in providers)]
    rows = [s for s in _served(roster, plan) if s.provider != UNALLOCATED]
    if not rows:
        return _empty(columns, target)
    frame = _cells_frame(roster, rows, target, grid)
    by_cell = frame.groupby(["q", "r"], sort=True)
    cells = pd.DataFrame(
        {
            "set": by_cell["provider"].agg(lambda s: ";".join(sorted(set(s)))),
            "n": by_cell["provider"].nunique(),
            "clients": by_cell["client"].nunique(),
            "hours": by_cell["hours"].sum(),
        }
    )
    per = frame.pivot_table(index=["q", "r"], columns="provider", values="hours", aggfunc="sum")
    for p in providers:
        cells[hours_column(p)] = per.get(p, 0.0)
    cells = cells.fillna(0.0)
    shared = cells[cells["n"] >= 2]
    keep = shared["clients"] >= min_clients
    suppressed = shared[~keep]
    shared = shared[keep]
    frame_keys = frame.set_index(["q", "r"])
    records = []
    geoms = []
    for provider_set, group in shared.groupby("set", sort=True):
        names = str(provider_set).split(";")
        kinds = [roster.provider(p).kind for p in names]
        q = group.index.get_level_values("q").to_numpy()
        r = group.index.get_level_values("r").to_numpy()
        area = shapely.union_all(grid.polygons(q, r))
        clients = frame_keys.loc[list(group.index), "client"].nunique()
        record: dict[str, Any] = {
            "providers": provider_set,
            "n_providers": len(names),
            "kinds": ";".join(k.value for k in kinds),
            "in_house_external": (ProviderKind.IN_HOUSE in kinds)
            and (ProviderKind.EXTERNAL in kinds),
            "cells": len(group),
            "area_m2": float(area.area),
            "clients": int(clients),
            "hours": float(group["hours"].sum()),
        }
        for p in providers:
            record[hours_column(p)] = float(group[hours_column(p)].sum())
        records.append(record)
        geoms.append(area)
    gdf = (
        gpd.GeoDataFrame(pd.DataFrame(records, columns=columns), geometry=geoms, crs=target)
        if records
        else _empty(columns, target)
    )
    gdf.attrs.update(
        cell_m=cell_m,
        min_clients=min_clients,
        suppressed_cells=len(suppressed),
        suppressed_hours=float(suppressed["hours"].sum()),
    )
    return gdf


def duplicate_points(
    duplicates: Iterable[DuplicateLike],
    *,
    crs: Any,
    cell_m: float = 500.0,
) -> gpd.GeoDataFrame:
    """Duplicate multi-provider events counted per cell, as points at the cell centres.

    Snapping to the centre of the hexagon keeps the client's door off the map. Cells are not
    suppressed: each event is something the meeting has to settle.

    Returns
    -------
    GeoDataFrame
        ``cell_id``, ``events``, ``visits``, ``days`` (``Mon;Tue``…), ``providers``
        (``;``-joined), ``geometry`` (point).
    """
    target = CRS.from_user_input(crs)
    grid = HexGrid(cell_m)
    columns = ["cell_id", "events", "visits", "days", "providers"]
    events = list(duplicates)
    if not events:
        return _empty(columns, target)
    x, y = _project(target, [e.lat for e in events], [e.lon for e in events])
    q, r = grid.cells(x, y)
    groups: dict[tuple[int, int], list[DuplicateLike]] = defaultdict(list)
    for e, a, b in zip(events, q, r, strict=True):
        groups[(int(a), int(b))].append(e)
    records = []
    keys = sorted(groups)
    for key in keys:
        evs = groups[key]
        records.append(
            {
                "cell_id": _cell_id(*key),
                "events": len(evs),
                "visits": len({vid for e in evs for vid in e.visit_ids}),
                "days": ";".join(day_name(d) for d in sorted({e.day for e in evs})),
                "providers": ";".join(sorted({p for e in evs for p in e.providers})),
            }
        )
    cq = np.array([k[0] for k in keys])
    cr = np.array([k[1] for k in keys])
    cx, cy = grid.centre(cq, cr)
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=shapely.points(cx, cy), crs=target)


def unmet_need_cells(
    roster: Roster,
    *,
    plan: Plan | None = None,
    cell_m: float = 500.0,
    min_clients: int = 3,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Visits nobody does, per cell: the plan's unassigned visits, or (with no plan) visits
    the roster gives no provider or carer.

    Returns
    -------
    GeoDataFrame
        ``cell_id``, ``clients``, ``visits``, ``hours``, ``reasons`` (``reason: count; …``),
        ``geometry``; cells with fewer than `min_clients` distinct clients are dropped.
    """
    _check_min_clients(min_clients)
    target = _resolve_crs(roster, crs)
    grid = HexGrid(cell_m)
    columns = ["cell_id", "clients", "visits", "hours", "reasons"]
    if plan is not None:
        reason_of = {u.visit_id: u.reason.value for u in plan.unassigned}
    else:
        reason_of = {
            v.visit_id: "no provider or carer in the roster"
            for v in roster.visits
            if not v.provider and not v.carer_ids
        }
    visits = [v for v in roster.visits if v.visit_id in reason_of]
    if not visits:
        gdf = _empty(columns, target)
        gdf.attrs.update(suppressed_cells=0, suppressed_hours=0.0, min_clients=min_clients)
        return gdf
    x, y = _project(target, [v.location.lat for v in visits], [v.location.lon for v in visits])
    q, r = grid.cells(x, y)
    frame = pd.DataFrame(
        {
            "q": q,
            "r": r,
            "client": [v.client_id for v in visits],
            "hours": [v.duration * v.carers_required / 3600.0 for v in visits],
            "reason": [reason_of[v.visit_id] for v in visits],
        }
    )
    by_cell = frame.groupby(["q", "r"], sort=True)
    out = pd.DataFrame(
        {
            "clients": by_cell["client"].nunique(),
            "visits": by_cell.size(),
            "hours": by_cell["hours"].sum(),
            "reasons": by_cell["reason"].agg(
                lambda s: "; ".join(f"{k}: {n}" for k, n in sorted(s.value_counts().items()))
            ),
        }
    ).reset_index()
    qa, ra = out.pop("q").to_numpy(), out.pop("r").to_numpy()
    out.insert(0, "cell_id", [_cell_id(a, b) for a, b in zip(qa, ra, strict=True)])
    gdf = gpd.GeoDataFrame(out, geometry=grid.polygons(qa, ra), crs=target)
    gdf.attrs["cell_m"] = cell_m
    return _suppress(gdf, min_clients=min_clients)


# Road graphs --------------------------------------------------------------------------------


class GraphIndex:
    """A road graph made ready for many shortest-path queries in a projected CRS.

    Parallel edges are reduced to the quickest; each kept edge has its geometry (the OSM
    geometry when the graph has one, else the straight segment) in `crs`.
    """

    def __init__(self, graph: nx.MultiDiGraph, crs: CRS) -> None:
        if graph.number_of_nodes() == 0:
            msg = "the road graph is empty"
            raise InputError(msg)
        self.crs = crs
        graph_crs = graph.graph.get("crs")
        if graph_crs is None:
            warnings.warn("road graph has no `crs`; taking it as EPSG:4326", stacklevel=3)
        source = CRS.from_user_input(graph_crs) if graph_crs is not None else WGS84
        tr = _transformer(source, crs)
        self.nodes = list(graph.nodes)
        pos = {n: i for i, n in enumerate(self.nodes)}
        xs = np.fromiter((d["x"] for _, d in graph.nodes(data=True)), dtype=float)
        ys = np.fromiter((d["y"] for _, d in graph.nodes(data=True)), dtype=float)
        px, py = tr.transform(xs, ys)
        self.xy = np.column_stack([px, py])
        self._tree = cKDTree(self.xy)
        best: dict[tuple[int, int], tuple[float, Any]] = {}
        for u, v, d in graph.edges(data=True):
            t = d.get("travel_time")
            if t is None:
                msg = "road graph edges need `travel_time` (seconds)"
                raise InputError(msg)
            key = (pos[u], pos[v])
            if key[0] != key[1] and (key not in best or float(t) < best[key][0]):
                best[key] = (float(t), d.get("geometry"))
        keys = list(best)
        n = len(self.nodes)
        self.edges = np.array(keys, dtype=np.int64).reshape(-1, 2)
        self.times = np.array([best[k][0] for k in keys], dtype=float)
        # csgraph treats explicit zeros as missing edges: floor times at a millisecond.
        self.matrix = sparse.csr_matrix(
            (np.maximum(self.times, 1e-3), (self.edges[:, 0], self.edges[:, 1])), shape=(n, n)
        )
        self.edge_row = {k: i for i, k in enumerate(keys)}
        self.lines = self._edge_lines([best[k][1] for k in keys], tr)

    def _edge_lines(self, geoms: list[Any], tr: Transformer) -> np.ndarray:
        coords: list[np.ndarray] = []
        for g in geoms:
            if g is None:
                coords.append(np.array([[np.nan, np.nan]]))  # filled from projected nodes
            else:
                coords.append(np.asarray(g.coords, dtype=float)[:, :2])
        flat = np.concatenate(coords) if coords else np.empty((0, 2))
        px, py = tr.transform(flat[:, 0], flat[:, 1])
        flat = np.column_stack([px, py])
        lines = np.empty(len(coords), dtype=object)
        start = 0
        for i, c in enumerate(coords):
            end = start + len(c)
            if np.isnan(c[0, 0]):
                a, b = self.edges[i]
                lines[i] = shapely.linestrings(self.xy[[a, b]])
            else:
                lines[i] = shapely.linestrings(flat[start:end])
            start = end
        return lines

    def nearest(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the nearest graph node to each projected point."""
        _, idx = self._tree.query(np.column_stack([x, y]))
        return np.asarray(idx, dtype=np.int64)

    def times_from(self, source: int, *, limit: float = np.inf) -> np.ndarray:
        """Seconds from node `source` to every node (``inf`` beyond `limit`)."""
        return np.asarray(dijkstra(self.matrix, indices=source, limit=limit), dtype=float)

    def reach_areas(
        self, times: np.ndarray, seconds: Sequence[float], buffer_m: float
    ) -> list[Any]:
        """Areas along the roads reachable within each of `seconds` (ascending), given node
        `times` from a source: the reached edges buffered by `buffer_m`.

        An edge whose far end is out of reach contributes the part that can be travelled in the
        time left. Each area is built on the one before (a longer time reaches a superset), so
        only newly reached edges are buffered and merged.
        """
        start = times[self.edges[:, 0]]
        done = np.zeros(len(self.edges), dtype=bool)
        area: Any = shapely.Polygon()
        tolerance = buffer_m / 5.0  # simplifying first makes the buffers far quicker
        out = []
        for limit in seconds:
            reached = start <= limit
            full = reached & (start + self.times <= limit)
            parts = list(self.lines[full & ~done])
            for i in np.flatnonzero(reached & ~full):
                frac = (limit - start[i]) / self.times[i]
                if frac > 0:
                    parts.append(shapely.ops.substring(self.lines[i], 0.0, frac, normalized=True))
            done |= full
            if parts:
                pieces = shapely.buffer(
                    shapely.simplify(np.array(parts, dtype=object), tolerance),
                    buffer_m,
                    quad_segs=4,
                )
                area = shapely.union_all([area, *pieces])
            out.append(area)
        return out

    def path(self, predecessors: np.ndarray, target: int) -> list[int]:
        """Node indices from the source of `predecessors` to `target` (empty if unreachable)."""
        out = [target]
        while predecessors[out[-1]] >= 0:
            out.append(int(predecessors[out[-1]]))
        return out[::-1]


def _network_graph(network: NetworkLike | Mapping[Mode, Any], mode: Mode) -> Any:
    graphs = network.graphs if hasattr(network, "graphs") else network
    return graphs.get(mode)


def _team_key(c: Carer) -> tuple[str, str, Mode]:
    return (c.provider, c.team or c.provider, c.mode)


def isochrones(
    roster: Roster,
    network: NetworkLike | Mapping[Mode, nx.MultiDiGraph],
    *,
    minutes: Sequence[float] = ISOCHRONE_MINUTES,
    buffer_m: float = 75.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Areas each team can reach from its base within each number of `minutes`, on the roads.

    Carers are grouped by provider, team (the provider when blank) and travel mode. A group's
    base is the centroid of its carers' bases snapped to the nearest node of that mode's road
    graph: one base per team keeps the map readable, and a centroid of several homes names
    nobody's door. Travel times come from Dijkstra on the edges' ``travel_time``; the area is
    the reached roads (partly reached edges cut where the time runs out) buffered by
    `buffer_m` — the last stretch on foot from the kerb — so rivers, railways and dead ends show.

    Returns
    -------
    GeoDataFrame
        ``provider``, ``team``, ``mode``, ``minutes``, ``carers``, ``area_m2``, ``geometry``;
        larger areas first so that smaller ones draw on top.
    """
    target = _resolve_crs(roster, crs)
    if not minutes or any(m <= 0 for m in minutes):
        msg = f"`minutes` must be positive numbers, not {list(minutes)}"
        raise InputError(msg)
    if buffer_m <= 0:
        msg = f"`buffer_m` must be more than zero, not {buffer_m}"
        raise InputError(msg)
    columns = ["provider", "team", "mode", "minutes", "carers", "area_m2"]
    teams: dict[tuple[str, str, Mode], list[Carer]] = defaultdict(list)
    for c in roster.carers:
        teams[_team_key(c)].append(c)
    indexes: dict[Mode, GraphIndex] = {}
    records = []
    geoms = []
    for (provider, team, mode), carers in sorted(teams.items()):
        graph = _network_graph(network, mode)
        if graph is None:
            warnings.warn(
                f"no {mode.value} road graph: no isochrones for team {team!r} of {provider!r}",
                stacklevel=2,
            )
            continue
        if mode not in indexes:
            indexes[mode] = GraphIndex(graph, target)
        index = indexes[mode]
        bx, by = _project(target, [c.base.lat for c in carers], [c.base.lon for c in carers])
        source = int(index.nearest(np.array([bx.mean()]), np.array([by.mean()]))[0])
        times = index.times_from(source, limit=max(minutes) * 60.0)
        ascending = sorted(minutes)
        areas = index.reach_areas(times, [m * 60.0 for m in ascending], buffer_m)
        base = shapely.Point(index.xy[source]).buffer(buffer_m, quad_segs=4)
        for m, area in reversed(list(zip(ascending, areas, strict=True))):
            area = shapely.union_all([area, base])
            records.append(
                {
                    "provider": provider,
                    "team": team,
                    "mode": mode.value,
                    "minutes": float(m),
                    "carers": len(carers),
                    "area_m2": float(area.area),
                }
            )
            geoms.append(area)
    if not records:
        return _empty(columns, target)
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=geoms, crs=target)


def route_lines(
    roster: Roster,
    plan: Plan,
    network: NetworkLike | Mapping[Mode, nx.MultiDiGraph],
    *,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Each carer's day as a line on the roads, from the first visit to the last.

    The legs from the carer's base to the first visit and from the last visit back are left
    out: a base is often the carer's home, and a line that starts and ends there would point at
    it (their travel time is kept as a figure, ``base_travel_min``). The line runs from the
    nearest road node of the first visit to that of the last, never from a door, and follows the
    quickest path between the nearest road nodes of consecutive visits. A day of one visit (or of
    visits at one node) has an empty line.

    Returns
    -------
    GeoDataFrame
        ``carer_id``, ``provider``, ``day``, ``day_name``, ``visits``, ``travel_min`` (the
        plan's travel between visits), ``base_travel_min`` (the plan's travel from and back to
        base, not drawn), ``length_m`` (of the line), ``geometry``; never client ids.
    """
    target = _resolve_crs(roster, crs)
    columns = [
        "carer_id",
        "provider",
        "day",
        "day_name",
        "visits",
        "travel_min",
        "base_travel_min",
        "length_m",
    ]
    runs_by_mode: dict[Mode, list[tuple[tuple[str, int], list[Any]]]] = defaultdict(list)
    routes = plan.routes()
    for (carer_id, day), run in routes.items():
        stops = [roster.visit(a.visit_id).location for a in run]
        runs_by_mode[roster.carer(carer_id).mode].append(((carer_id, day), stops))
    records = []
    geoms = []
    for mode, runs in sorted(runs_by_mode.items()):
        graph = _network_graph(network, mode)
        if graph is None:
            msg = f"no {mode.value} road graph: its carers' routes are left out"
            warnings.warn(msg, stacklevel=2)
            continue
        index = GraphIndex(graph, target)
        stop_nodes = []
        for _, stops in runs:
            x, y = _project(target, [s.lat for s in stops], [s.lon for s in stops])
            stop_nodes.append(index.nearest(x, y))
        sources = np.unique(np.concatenate([s[:-1] for s in stop_nodes]))
        row_of = {int(s): i for i, s in enumerate(sources)}
        pred = (
            dijkstra(index.matrix, indices=sources, return_predecessors=True)[1]
            if len(sources)
            else np.empty((0, len(index.nodes)), dtype=np.int32)  # only one-stop days
        )
        for ((carer_id, day), _), nodes in zip(runs, stop_nodes, strict=True):
            path: list[int] = [int(nodes[0])]
            for a, b in itertools.pairwise(nodes):
                if a == b:
                    continue
                leg = index.path(pred[row_of[int(a)]], int(b))
                if leg[0] != a:  # unreachable: draw the gap straight rather than hide it
                    leg = [int(a), int(b)]
                path.extend(leg[1:])
            coords = _path_coords(index, path)
            line = shapely.linestrings(coords) if len(coords) >= 2 else shapely.LineString()
            run = routes[(carer_id, day)]
            between = sum(a.travel_before for a in run[1:])
            base = run[0].travel_before + plan.travel_home.get((carer_id, day), 0)
            records.append(
                {
                    "carer_id": carer_id,
                    "provider": roster.carer(carer_id).provider,
                    "day": day,
                    "day_name": day_name(day),
                    "visits": len(run),
                    "travel_min": between / 60.0,
                    "base_travel_min": base / 60.0,
                    "length_m": float(line.length),
                }
            )
            geoms.append(line)
    if not records:
        return _empty(columns, target)
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=geoms, crs=target)


def _path_coords(index: GraphIndex, path: Sequence[int]) -> np.ndarray:
    """The road geometry along a node path (straight segments where an edge has none)."""
    parts: list[np.ndarray] = [index.xy[[path[0]]]]
    for a, b in itertools.pairwise(path):
        row = index.edge_row.get((a, b))
        if row is None:
            parts.append(index.xy[[b]])
        else:
            parts.append(shapely.get_coordinates(index.lines[row])[1:])
    return np.concatenate(parts)


# All together ------------------------------------------------------------------------------


def coverage_layers(
    roster: Roster,
    *,
    plan: Plan | None = None,
    network: NetworkLike | Mapping[Mode, nx.MultiDiGraph] | None = None,
    duplicates: Sequence[DuplicateLike] | None = None,
    cell_m: float = 500.0,
    min_clients: int = 3,
    minutes: Sequence[float] = ISOCHRONE_MINUTES,
    crs: Any = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Every overlay the data allows, keyed by layer name, all in one projected CRS.

    ``demand``, ``provider_areas``, ``overlap`` and ``unmet_need`` always; ``duplicates`` when
    `duplicates` is given; ``isochrones`` when `network` is; ``routes`` when both `plan` and
    `network` are. See the module docstring for what is suppressed for privacy.

    Warns
    -----
    UserWarning
        When cells with fewer than `min_clients` clients hold more than half of the demand
        hours: the map would then show less than it hides; a larger `cell_m` helps.
    """
    target = _resolve_crs(roster, crs)
    with warnings.catch_warnings():
        # The CRS choice was warned about once above.
        warnings.simplefilter("ignore", UserWarning)
        kw: dict[str, Any] = {"plan": plan, "cell_m": cell_m, "crs": target}
        layers = {
            "demand": demand_cells(roster, min_clients=min_clients, **kw),
            "provider_areas": provider_areas(roster, **kw),
            "overlap": provider_overlap(roster, min_clients=min_clients, **kw),
        }
    if duplicates is not None:
        layers["duplicates"] = duplicate_points(duplicates, crs=target, cell_m=cell_m)
    if network is not None:
        layers["isochrones"] = isochrones(roster, network, minutes=minutes, crs=target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        layers["unmet_need"] = unmet_need_cells(
            roster, plan=plan, cell_m=cell_m, min_clients=min_clients, crs=target
        )
    if plan is not None and network is not None:
        layers["routes"] = route_lines(roster, plan, network, crs=target)
    _warn_if_mostly_hidden(layers["demand"], cell_m=cell_m, min_clients=min_clients)
    return layers


def _warn_if_mostly_hidden(demand: gpd.GeoDataFrame, *, cell_m: float, min_clients: int) -> None:
    """Warn when the privacy threshold hides more than half of the demand hours."""
    hidden = float(demand.attrs.get("suppressed_hours", 0.0))
    total = hidden + float(demand["hours"].sum())
    if total <= 0 or hidden <= total / 2:
        return
    warnings.warn(
        f"{hidden:,.0f} of {total:,.0f} contact hours ({hidden / total:.0%}) are hidden for"
        f" privacy: they lie in {demand.attrs.get('suppressed_cells', 0)} cells of {cell_m:g} m"
        f" with fewer than {min_clients} clients each. A larger `cell_m`"
        f" (e.g. {2 * cell_m:g}) puts more clients in each cell and keeps more on the map.",
        stacklevel=3,
    )


def write_coverage(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write the overlay layers to one GeoPackage, one layer each, atomically.

    Every layer must have a CRS; a layer whose CRS differs from the first is written in its own
    CRS (GeoPackage allows that) with a warning, never reprojected silently.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        msg = f"`path` must end in .gpkg, not {path.name!r}"
        raise InputError(msg)
    if not layers:
        msg = "no layers to write"
        raise InputError(msg)
    first: CRS | None = None
    for name, gdf in layers.items():
        if gdf.crs is None:
            msg = f"layer {name!r} has no CRS"
            raise InputError(msg)
        if first is None:
            first = gdf.crs
        elif gdf.crs != first:
            warnings.warn(
                f"layer {name!r} is in {gdf.crs.to_string()}, not {first.to_string()}",
                stacklevel=2,
            )
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            out = gdf.copy()
            out.attrs = {}
            kwargs: dict[str, Any] = {}
            if out.empty:
                kwargs["geometry_type"] = "Unknown"
            out.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", **kwargs)
    return path
