"""Realistic synthetic rosters on any road graph, with an as-is allocation.

:func:`synth_roster` builds a seeded week of care-at-home visits on a real road network: clients
at street addresses, the calls each needs, the carers of one in-house service and a few external
providers, and the allocation a coordinator would make by hand today. Same network + same
arguments + same `seed` give an identical roster; all randomness comes from one
:func:`numpy.random.default_rng`.

What "realistic" means here (each figure is an assumption, chosen to match the shape of English
home care as described by the UKHCA, Skills for Care and NICE NG21/QS123; none is calibrated on a
real council's data):

- **Where clients live.** Doors are sampled along the streets of the largest strongly connected
  part of the drive graph, in proportion to frontage (edge length capped at 150 m) times a weight
  by ``highway`` tag: residential and living streets 1, unclassified 0.5, tertiary and "road"
  (class unknown) 0.3, service 0.2, secondary 0.15, primary 0.05, trunk and motorways 0. Towns
  have dense residential streets, so clients cluster there without a population layer. A door is
  8–20 m off the street's centre line (the house's set-back), rounded to 1e-6°.
- **Sheltered housing.** About 6 % of clients live in schemes of 3–8 flats that share one door;
  residents of one scheme are deliberately served by two or more providers (councils commission
  per client), the source of duplicate multi-provider visits.
- **Care needs.** By default (``care_mix``) level 1 (25 % of clients): one call a day (some
  only 2–5 days a week); level 2 (30 %): morning and tea or bed; level 3 (25 %): morning,
  lunch, tea; level 4 (20 %): all four (``LIGHT_CARE_MIX``, 72/20/5/3 %, is mostly level 1).
  Calls start in bands morning 07:00–10:00, lunch 11:30–13:30, tea 16:30–18:00, bed 19:30–22:00
  (bed calls end by 22:00; times on the quarter hour, half of them near 08:00, 12:30, 17:00 or
  20:30, half spread evenly), at the same time every day. Durations are mostly 30 minutes, with
  15 (medication prompts), 45 and 60 (morning personal care). Windows are the requested time ± 30
  minutes (± 15 on time-critical medication calls).
- **Skills.** Needs per client: ``medication`` 50 % (every call but tea; 15 % of those are
  time-critical), ``dementia`` 25 %, ``catheter`` 6 % (morning and bed), ``peg_feeding`` 2 %;
  ``hoist`` on double-handed calls. Clients of level 2–4 are made double-handed until 11–14 % of
  visits need two carers. Gender preference: 6 % ask for a female carer, 1 % for a male one;
  3 % have priority 2 (e.g. just home from hospital). Linked calls: every time-critical (and 10 %
  of other) medication client with morning and lunch calls has lunch 4 h after the morning call,
  ``follows`` the morning visit with a start-to-start gap of 3–5 h (``gap_min``/``gap_max`` in
  seconds, like every time in the model).
- **Providers and patches.** Client locations are split into one patch per external provider by
  k-means (named by compass direction from the centre). Clients go to their patch's provider
  (80 %), another external one (10 %) or the in-house service (10 %); complex needs (PEG feeding,
  or double-handed, or dementia with a catheter) go in-house 60 % of the time.
- **Carers.** Shift patterns: split 07:00–13:30;16:30–22:00 (or 07:00–13:00;17:00–22:00), early
  07:00–14:00, late 15:00–22:00; 75 % work five days (two random days off), the rest three or
  four. Carers are added to a provider until, on every day and in every band, enough are on
  shift for the band's busiest five minutes (each visit's carer time spread evenly over its window
  plus duration, × 1.1 for travel and idle gaps), and at least two when the band has
  double-handed calls; the in-house service gets 25 % more for overflow. Bases (home addresses)
  are doors inside the provider's patch (anywhere for in-house). 82 % are female.
  Skills: medication 90 % (in-house 100 %), hoist 70 (90), dementia 55 (80), catheter 30 (60),
  PEG feeding 10 (40). Everyone may work 48 h a week (the Working Time Regulations);
  contracted hours are 16–37.5 h, and 40 % of external carers are on zero-hours contracts. Where
  the network has walk or cycle graphs, a quarter of carers based in a town walk and a tenth
  cycle; the rest drive.
- **As-is allocation.** Mimics manual planning, not an optimiser. Each provider (in-house first)
  plans its own clients, day by day, in order of requested time: a visit goes to the first of the
  provider's carers (the client's earlier carers first, for continuity) who has the skills, meets
  the gender preference, has weekly hours left (48 h) and can fit it into a free gap of a shift
  inside the client's window, getting there from the previous visit (or from home at the start of
  the shift) and on to the next by straight line × 1.3 at 30 km/h driving (4.8 walking, 15
  cycling). The rota time is the feasible time nearest the request, on five minutes where
  possible; a linked lunch keeps its gap to the morning call. A double-handed visit needs two such
  carers at one time. What a provider cannot place goes to the in-house service if one of its
  carers passes the same test; else it stays with the provider's least busy carers who are on
  shift and free in the window, with no time allowed for travel (the rota then has gaps too short
  to travel, so carers arrive late); else it stays unallocated (provider named, no carer).
  Afterwards 15 % of clients with dementia have their morning calls pinned to today's carer, and
  2 % of clients exclude one carer of their provider who does not visit them today.

What it is not: no population or address data (clients follow streets, not census output areas),
no hospital discharges mid-week, no sickness or cancellations, no waiting lists, the same calls
every week, and straight-line travel for the as-is; a real council's roster is lumpier.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import networkx as nx
import numpy as np

from carerun._errors import InputError, NetworkError
from carerun.matrix import EARTH_RADIUS_M, straight_line_matrix
from carerun.model import (
    DAY_NAMES,
    Carer,
    Location,
    Mode,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Visit,
)

IN_HOUSE = "council"
PROVIDER_NAMES = (
    ("acorn", "Acorn Homecare"),
    ("bluebell", "Bluebell Care Services"),
    ("castle", "Castle Home Support"),
    ("dale", "Dale Community Care"),
    ("elm", "Elm Tree Homecare"),
    ("fern", "Fernlea Care at Home"),
)

HIGHWAY_WEIGHT = {
    "residential": 1.0,
    "living_street": 1.0,
    "unclassified": 0.5,
    "tertiary": 0.3,
    "road": 0.3,
    "service": 0.2,
    "secondary": 0.15,
    "primary": 0.05,
}
FRONTAGE_CAP_M = 150.0

H = 3600
# Band: (earliest start, latest start, most common start) in seconds.
BANDS: dict[str, tuple[int, int, int]] = {
    "am": (7 * H, 10 * H, 8 * H),
    "lunch": (int(11.5 * H), int(13.5 * H), int(12.5 * H)),
    "tea": (int(16.5 * H), 18 * H, 17 * H),
    "bed": (int(19.5 * H), 22 * H, int(20.5 * H)),
}
DAY_END = 22 * H  # bed calls end by then, when the late shifts finish
BAND_ORDER = ("am", "lunch", "tea", "bed")
TASKS = {
    "am": "get up, wash, dress, breakfast",
    "lunch": "lunch, drink",
    "tea": "tea, drink",
    "bed": "undress, bed",
}
DURATIONS_MIN: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "am": ((30, 45, 60), (0.55, 0.30, 0.15)),
    "lunch": ((15, 30), (0.30, 0.70)),
    "tea": ((15, 30, 45), (0.15, 0.75, 0.10)),
    "bed": ((15, 30, 45), (0.10, 0.80, 0.10)),
}
TOLERANCE_MIN = 30
LINK_GAP = (3 * H, 5 * H)  # a linked lunch starts 3–5 h after the morning call starts
CRITICAL_TOLERANCE_MIN = 15
DOUBLE_HANDED_SHARE = (0.11, 0.14)
SHELTERED_SHARE = 0.06
# Shift patterns: (shifts as (start, end) hours, weight).
PATTERNS: tuple[tuple[tuple[tuple[float, float], ...], float], ...] = (
    (((7.0, 13.5), (16.5, 22.0)), 0.40),
    (((7.0, 13.0), (17.0, 22.0)), 0.15),
    (((7.0, 14.0),), 0.25),
    (((15.0, 22.0),), 0.20),
)
TRAVEL_FACTOR = 1.1  # carer time per contact minute at the band's peak (travel, idle gaps)
BIN = 300  # seconds: resolution of the demand profile
LATEST_BIN = 24 * H // BIN
IN_HOUSE_RESERVE = 1.25
CARER_SKILLS = {  # skill: (share of external carers, share of in-house carers)
    "medication": (0.90, 1.00),
    "hoist": (0.70, 0.90),
    "dementia": (0.55, 0.80),
    "catheter": (0.30, 0.60),
    "peg_feeding": (0.10, 0.40),
}
MAX_MINUTES_WEEK = 48 * 60
CARE_MIX = (0.25, 0.30, 0.25, 0.20)  # shares of clients at care-need levels 1–4
LIGHT_CARE_MIX = (0.72, 0.20, 0.05, 0.03)  # mostly one call a day: ~8.5 visits a client-week
COURT_NAMES = (
    "Abbey Court",
    "Beech House",
    "Chestnut Court",
    "Linden Lodge",
    "Meadow View",
    "Orchard Court",
    "Willow House",
    "Priory Gardens",
)
COMPASS = ("North", "North-East", "East", "South-East", "South", "South-West", "West", "North-West")


class GraphSource(Protocol):
    """Anything with road graphs per mode, like :class:`carerun.network.RoadNetwork`."""

    @property
    def graphs(self) -> Mapping[Mode, Any]: ...


def synth_roster(
    network: GraphSource,
    *,
    clients: int = 300,
    carers: int | None = None,
    providers: int = 3,
    days: Iterable[int] = range(7),
    seed: int = 0,
    week_start: dt.date | None = None,
    name: str = "",
    care_mix: Sequence[float] = CARE_MIX,
) -> Roster:
    """A realistic synthetic week of home care on `network`, with today's allocation.

    The module docstring lists every assumption behind "realistic".

    Parameters
    ----------
    network
        Road graphs per mode (osmnx conventions: node ``x``/``y`` lon/lat, edge ``highway``).
        Clients and bases are placed on the drive graph (else the first graph); carers walk or
        cycle only where the network has a graph for that mode.
    clients
        Number of clients (people receiving care).
    carers
        Total number of carers, shared between providers by demand; ``None`` derives each
        provider's number from its clients' calls.
    providers
        Number of external providers (1–6); an in-house service is always added.
    days
        Days of the week (0 = Monday) with visits.
    seed
        Seed of the random generator: the same seed gives the same roster.
    week_start
        The Monday of the week, if the roster should carry dates.
    name
        The roster's name (default ``synthetic seed=<seed>``).
    care_mix
        Shares of clients at care-need levels 1–4 (one to four calls a day). The default gives
        about 16 visits per client a week; :data:`LIGHT_CARE_MIX` about 8.5, the density of the
        benchmark weeks (300 clients, 2,500 visits).

    Returns
    -------
    Roster
        Visits with ``provider`` and ``carer_ids`` as allocated today, carers and providers.

    Raises
    ------
    InputError
        When a count is out of range or `days` is empty or not within 0–6.
    NetworkError
        When the network has no streets to place clients on.
    """
    day_list = sorted(set(days))
    if len(care_mix) != 4 or min(care_mix) < 0 or not math.isclose(sum(care_mix), 1.0):
        msg = f"`care_mix` must be four shares (levels 1–4) adding up to 1, not {care_mix}"
        raise InputError(msg)
    if clients < 1:
        msg = f"`clients` must be at least 1, not {clients}"
        raise InputError(msg)
    if not 1 <= providers <= len(PROVIDER_NAMES):
        msg = f"`providers` must be 1 to {len(PROVIDER_NAMES)}, not {providers}"
        raise InputError(msg)
    if carers is not None and carers < 2 * (providers + 1):
        msg = f"`carers` must be at least {2 * (providers + 1)} (two per provider), not {carers}"
        raise InputError(msg)
    if not day_list or not all(0 <= d <= 6 for d in day_list):
        msg = f"`days` must be a non-empty set of days 0 (Mon) … 6 (Sun), not {day_list}"
        raise InputError(msg)

    rng = np.random.default_rng(seed)
    graph = _placement_graph(network)
    streets = _streets(graph)
    people = _make_clients(streets, clients, day_list, rng, tuple(care_mix))
    patches = _assign_providers(people, providers, rng)
    calls = _make_calls(people, day_list)
    modes = [m for m in (Mode.WALK, Mode.CYCLE) if m in network.graphs]
    staff = _make_carers(streets, people, calls, patches, carers, modes, rng)
    _allocate(calls, staff)
    visits = _finish_visits(people, calls, staff, patches, rng)
    provider_list = [
        Provider(IN_HOUSE, "Council Home Care (in-house)", ProviderKind.IN_HOUSE, 32.0)
    ] + [
        Provider(pid, pname, ProviderKind.EXTERNAL, round(float(rng.uniform(23.0, 27.0)), 2))
        for pid, pname in PROVIDER_NAMES[:providers]
    ]
    return Roster(
        visits=tuple(visits),
        carers=tuple(staff),
        providers=tuple(provider_list),
        week_start=week_start,
        name=name or f"synthetic seed={seed}",
    )


# Streets and doors -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Streets:
    """Street segments clients can live on, with sampling probabilities."""

    a: np.ndarray  # (n, 2) lat, lon of one end
    b: np.ndarray  # (n, 2) lat, lon of the other end
    p: np.ndarray  # (n,) probability of a door on each segment
    names: tuple[str, ...]
    lat0: float
    lon0: float


def _placement_graph(network: GraphSource) -> Any:
    graphs = network.graphs
    if Mode.DRIVE in graphs:
        return graphs[Mode.DRIVE]
    if not graphs:
        raise NetworkError("the road network has no graphs to place clients on")
    return next(iter(graphs.values()))


def _highway(value: Any) -> str:
    # osmnx keeps a list where simplification merged ways of different classes.
    if isinstance(value, list | tuple) and value:
        value = value[0]
    return value if isinstance(value, str) else ""


def _street_name(value: Any) -> str:
    if isinstance(value, list | tuple) and value:
        value = value[0]
    return value if isinstance(value, str) else ""


def _streets(graph: Any) -> _Streets:
    if graph.number_of_nodes() == 0:
        raise NetworkError("the road network is empty: no streets to place clients on")
    # Only the largest strongly connected part: every door must be reachable both ways.
    parts = (
        nx.strongly_connected_components(graph)
        if graph.is_directed()
        else nx.connected_components(graph)
    )
    keep = max(parts, key=len)
    rows: list[tuple[float, float, float, float, float]] = []
    names: list[str] = []
    seen: set[frozenset[Any]] = set()
    for u, v, data in graph.edges(data=True):
        pair = frozenset((u, v))
        if u == v or pair in seen or u not in keep or v not in keep:
            continue
        seen.add(pair)
        nu, nv = graph.nodes[u], graph.nodes[v]
        weight = HIGHWAY_WEIGHT.get(_highway(data.get("highway")), 0.0)
        rows.append((nu["y"], nu["x"], nv["y"], nv["x"], weight))
        names.append(_street_name(data.get("name")))
    if not rows:
        raise NetworkError("the road network has no streets (edges) to place clients on")
    arr = np.array(rows, dtype=np.float64)
    if not (arr[:, 4] > 0).any():
        arr[:, 4] = 1.0  # no highway tags we know: every street counts the same
    lat0, lon0 = float(arr[:, [0, 2]].mean()), float(arr[:, [1, 3]].mean())
    a, b = arr[:, 0:2], arr[:, 2:4]
    length = np.hypot(*(_xy(b, lat0, lon0) - _xy(a, lat0, lon0)).T)
    frontage = arr[:, 4] * np.clip(length, 1.0, FRONTAGE_CAP_M)
    return _Streets(a, b, frontage / frontage.sum(), tuple(names), lat0, lon0)


def _xy(latlon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Local equirectangular metres (x east, y north) around ``(lat0, lon0)``."""
    rad = math.pi / 180.0
    x = EARTH_RADIUS_M * (latlon[:, 1] - lon0) * rad * math.cos(lat0 * rad)
    y = EARTH_RADIUS_M * (latlon[:, 0] - lat0) * rad
    return np.column_stack([x, y])


@dataclass(frozen=True)
class _Doors:
    latlon: np.ndarray  # (n, 2), rounded to 1e-6 degrees
    streets: tuple[str, ...]


def _sample_doors(streets: _Streets, n: int, rng: np.random.Generator) -> _Doors:
    seg = rng.choice(len(streets.p), size=n, p=streets.p)
    t = rng.uniform(0.1, 0.9, size=n)[:, None]
    a, b = streets.a[seg], streets.b[seg]
    point = a + t * (b - a)
    # Set the door back from the centre line, on a random side of the street.
    d = _xy(b, streets.lat0, streets.lon0) - _xy(a, streets.lat0, streets.lon0)
    norm = np.hypot(d[:, 0], d[:, 1])
    norm[norm == 0] = 1.0
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / norm[:, None]
    offset = rng.uniform(8.0, 20.0, size=n) * rng.choice([-1.0, 1.0], size=n)
    rad = math.pi / 180.0
    dlat = normal[:, 1] * offset / (EARTH_RADIUS_M * rad)
    dlon = normal[:, 0] * offset / (EARTH_RADIUS_M * rad * np.cos(point[:, 0] * rad))
    latlon = np.round(point + np.column_stack([dlat, dlon]), 6)
    return _Doors(latlon, tuple(streets.names[i] for i in seg))


def _address(number: int, street: str) -> str:
    return f"{number} {street}" if street else f"{number} (unnamed road)"


# Patches -----------------------------------------------------------------------------------


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding: (centres, label of each point)."""
    centres = [xy[rng.integers(len(xy))]]
    for _ in range(1, k):
        d2 = ((xy[:, None, :] - np.array(centres)[None]) ** 2).sum(-1).min(1)
        total = d2.sum()
        pick = rng.choice(len(xy), p=d2 / total) if total > 0 else rng.integers(len(xy))
        centres.append(xy[pick])
    c = np.array(centres, dtype=np.float64)
    labels = np.zeros(len(xy), dtype=np.int64)
    for _ in range(50):
        labels = ((xy[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        moved = np.array(
            [xy[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)]
        )
        if np.allclose(moved, c):
            break
        c = moved
    return c, labels


def _patch_names(centres: np.ndarray) -> list[str]:
    middle = centres.mean(0)
    off = centres - middle
    reach = np.hypot(off[:, 0], off[:, 1])
    names: list[str] = []
    for (dx, dy), r in zip(off, reach, strict=True):
        if r < 0.2 * max(reach.max(), 1.0):
            base = "Central"
        else:
            bearing = math.degrees(math.atan2(dx, dy)) % 360
            base = COMPASS[round(bearing / 45) % 8]
        label, n = base, 2
        while label in names:
            label, n = f"{base} {n}", n + 1
        names.append(label)
    return names


# Clients and their calls --------------------------------------------------------------------


@dataclass
class _Client:
    client_id: str
    location: Location
    xy: np.ndarray
    level: int
    bands: dict[str, tuple[int, int]] = field(default_factory=dict)  # band: (start, duration)
    days: tuple[int, ...] = ()
    needs: set[str] = field(default_factory=set)
    double: bool = False
    critical: bool = False
    linked: bool = False
    gender_preference: str = ""
    priority: int = 1
    patch: int = 0
    provider: str = ""
    sheltered: int = -1  # scheme number, or -1


@dataclass
class _Call:
    """A visit being built and allocated."""

    visit_id: str
    client: _Client
    day: int
    band: str
    start: int
    duration: int
    tolerance: int
    required: int
    skills: frozenset[str]
    provider: str
    follows: str = ""
    carer_ids: list[str] = field(default_factory=list)
    planned: int | None = None  # the rota time, inside the client's window
    strict: bool = False  # allocated by the on-time test (not the least-busy fallback)


def _quarter(x: float) -> int:
    return round(x / 900.0) * 900


def _make_clients(
    streets: _Streets,
    n: int,
    days: list[int],
    rng: np.random.Generator,
    care_mix: tuple[float, ...],
) -> list[_Client]:
    doors = _sample_doors(streets, n, rng)
    n_sheltered = round(SHELTERED_SHARE * n) if n >= 10 else 0
    schemes: list[int] = []
    while sum(schemes) < n_sheltered:
        size = int(rng.integers(3, 9))
        schemes.append(min(size, max(n_sheltered - sum(schemes), 3)))
    scheme_of = np.full(n, -1)
    at = 0
    for s, size in enumerate(schemes):
        size = min(size, n - at)
        scheme_of[at : at + size] = s
        doors.latlon[at : at + size] = doors.latlon[at]  # one shared front door
        at += size
    people: list[_Client] = []
    xy = _xy(doors.latlon, streets.lat0, streets.lon0)
    for i in range(n):
        lat, lon = float(doors.latlon[i, 0]), float(doors.latlon[i, 1])
        if scheme_of[i] >= 0:
            first = sum(schemes[: scheme_of[i]])
            street = doors.streets[first]
            address = f"Flat {i - first + 1}, {COURT_NAMES[scheme_of[i] % len(COURT_NAMES)]}"
            address += f", {street}" if street else ""
        else:
            address = _address(int(rng.integers(1, 121)), doors.streets[i])
        level = int(rng.choice(4, p=care_mix)) + 1
        c = _Client(
            f"C{i + 1:04d}", Location(lat, lon, address), xy[i], level, sheltered=int(scheme_of[i])
        )
        _plan_calls(c, days, rng)
        people.append(c)
    _choose_double_handed(people, rng)
    for c in people:
        if c.double:
            c.needs.add("hoist")
            for band, (start, _dur) in c.bands.items():
                dur = 45 * 60 if band == "am" else 30 * 60
                c.bands[band] = (min(start, DAY_END - dur), dur)
    return people


def _plan_calls(c: _Client, days: list[int], rng: np.random.Generator) -> None:
    if c.level == 1:
        bands = [str(rng.choice(BAND_ORDER, p=(0.5, 0.2, 0.2, 0.1)))]
    elif c.level == 2:
        bands = ["am", "bed" if rng.random() < 0.5 else "tea"]
    elif c.level == 3:
        bands = ["am", "lunch", "tea"]
    else:
        bands = list(BAND_ORDER)
    for band in bands:
        lo, hi, mode = BANDS[band]
        values, weights = DURATIONS_MIN[band]
        dur = int(rng.choice(values, p=weights)) * 60
        # Half the requests cluster around the band's favourite time; half spread evenly.
        hi = min(hi, DAY_END - dur)
        if rng.random() < 0.5:
            start = _quarter(float(rng.triangular(lo, min(mode, hi), hi)))
        else:
            start = _quarter(float(rng.uniform(lo, hi)))
        c.bands[band] = (min(max(start, lo), hi), dur)
    if c.level == 1 and rng.random() >= 0.55:
        k = min(int(rng.integers(2, 6)), len(days))
        c.days = tuple(sorted(int(d) for d in rng.choice(days, size=k, replace=False)))
    else:
        c.days = tuple(days)
    if rng.random() < 0.50:
        c.needs.add("medication")
        c.critical = rng.random() < 0.15
        if "am" in c.bands and "lunch" in c.bands and (c.critical or rng.random() < 0.10):
            c.linked = True
            am = c.bands["am"][0]
            lo, hi, _ = BANDS["lunch"]
            dur = c.bands["lunch"][1]
            c.bands["lunch"] = (min(max(am + 4 * H, lo), hi), dur)
    if rng.random() < 0.25:
        c.needs.add("dementia")
    if rng.random() < 0.06:
        c.needs.add("catheter")
    if rng.random() < 0.02:
        c.needs.add("peg_feeding")
    r = rng.random()
    c.gender_preference = "female" if r < 0.06 else "male" if r < 0.07 else ""
    c.priority = 2 if rng.random() < 0.03 else 1


def _choose_double_handed(people: list[_Client], rng: np.random.Generator) -> None:
    calls = np.array([len(c.bands) * len(c.days) for c in people])
    total = int(calls.sum())
    lo_share, hi_share = DOUBLE_HANDED_SHARE
    target = rng.uniform(lo_share, hi_share) * total
    done = 0
    for i in rng.permutation(len(people)):
        if done >= target:
            break
        if people[i].level >= 2 and done + calls[i] <= hi_share * total:
            people[i].double = True
            done += int(calls[i])


@dataclass(frozen=True)
class _Patches:
    """One patch per external provider: k-means centres (local metres) and compass names."""

    centres: np.ndarray
    names: list[str]
    providers: list[str]


def _assign_providers(people: list[_Client], providers: int, rng: np.random.Generator) -> _Patches:
    externals = [pid for pid, _ in PROVIDER_NAMES[:providers]]
    xy = np.array([c.xy for c in people])
    centres, labels = _kmeans(xy, providers, rng)
    everyone = [IN_HOUSE, *externals]
    for c, patch in zip(people, labels, strict=True):
        c.patch = int(patch)
        complex_needs = "peg_feeding" in c.needs or c.double or {"dementia", "catheter"} <= c.needs
        r = rng.random()
        if c.sheltered >= 0:
            c.provider = str(rng.choice(everyone))
        elif complex_needs and r < 0.6:
            c.provider = IN_HOUSE
        elif r < 0.8 or (len(externals) == 1 and r < 0.9):
            c.provider = externals[c.patch]
        elif r < 0.9:
            c.provider = str(rng.choice([p for p in externals if p != externals[c.patch]]))
        else:
            c.provider = IN_HOUSE
    # Councils commission per client: a scheme's residents end up with different providers.
    by_scheme: dict[int, list[_Client]] = {}
    for c in people:
        if c.sheltered >= 0:
            by_scheme.setdefault(c.sheltered, []).append(c)
    for residents in by_scheme.values():
        if len(residents) > 1 and len({c.provider for c in residents}) == 1:
            others = [p for p in everyone if p != residents[0].provider]
            residents[-1].provider = str(rng.choice(others))
    return _Patches(centres, _patch_names(centres), externals)


def _make_calls(people: list[_Client], days: list[int]) -> list[_Call]:
    calls: list[_Call] = []
    for day in days:
        for c in people:
            if day not in c.days:
                continue
            for band in BAND_ORDER:
                if band not in c.bands:
                    continue
                start, dur = c.bands[band]
                skills = set(c.needs) - {"medication", "catheter"}
                if "medication" in c.needs and band != "tea":
                    skills.add("medication")
                if "catheter" in c.needs and (band in ("am", "bed") or len(c.bands) < 2):
                    skills.add("catheter")
                timed = c.critical and "medication" in skills
                calls.append(
                    _Call(
                        visit_id=f"{c.client_id}-{DAY_NAMES[day]}-{band}",
                        client=c,
                        day=day,
                        band=band,
                        start=start,
                        duration=dur,
                        tolerance=(CRITICAL_TOLERANCE_MIN if timed else TOLERANCE_MIN) * 60,
                        required=2 if c.double else 1,
                        skills=frozenset(skills),
                        provider=c.provider,
                        follows=(
                            f"{c.client_id}-{DAY_NAMES[day]}-am"
                            if c.linked and band == "lunch"
                            else ""
                        ),
                    )
                )
    return calls


# Carers --------------------------------------------------------------------------------------


def _band_need(calls: Sequence[_Call], provider: str) -> dict[tuple[int, str], int]:
    """Carers a provider needs on shift per (day, band): the band's busiest five minutes.

    Each visit's carer time is spread evenly over the span it may occupy (window plus
    duration); the need at a moment is that density times :data:`TRAVEL_FACTOR`.
    """
    bins = LATEST_BIN
    load: dict[int, np.ndarray] = {}
    doubles: set[tuple[int, str]] = set()
    for call in calls:
        if call.provider != provider:
            continue
        lo = (call.start - call.tolerance) // BIN
        hi = -(-(call.start + call.tolerance + call.duration) // BIN)
        profile = load.setdefault(call.day, np.zeros(bins))
        profile[lo:hi] += call.duration * call.required / ((hi - lo) * BIN)
        if call.required == 2:
            doubles.add((call.day, call.band))
    reserve = IN_HOUSE_RESERVE if provider == IN_HOUSE else 1.0
    need: dict[tuple[int, str], int] = {}
    for day, profile in load.items():
        for band, (lo, hi, _) in BANDS.items():
            peak = float(profile[lo // BIN : hi // BIN].max()) * TRAVEL_FACTOR * reserve
            if peak > 0:
                need[day, band] = max(math.ceil(peak), 2 if (day, band) in doubles else 1)
    return need


def _covers(shifts: tuple[tuple[float, float], ...], band: str) -> bool:
    lo, hi, _ = BANDS[band]
    return any(a * H < hi and lo < b * H for a, b in shifts)


def _make_carers(
    streets: _Streets,
    people: list[_Client],
    calls: list[_Call],
    patches: _Patches,
    total: int | None,
    modes: list[Mode],
    rng: np.random.Generator,
) -> list[Carer]:
    ids = [IN_HOUSE, *patches.providers]
    needs = {p: _band_need(calls, p) for p in ids}
    counts: dict[str, int | None] = dict.fromkeys(ids)
    if total is not None:
        weight = np.array([max(sum(needs[p].values()), 1) for p in ids], dtype=np.float64)
        share = 2 + (total - 2 * len(ids)) * weight / weight.sum()
        base = np.floor(share).astype(int)
        for j in np.argsort(-(share - base), kind="stable")[: total - int(base.sum())]:
            base[j] += 1
        counts = {p: int(n) for p, n in zip(ids, base, strict=True)}
    xy = np.array([c.xy for c in people])
    carers: list[Carer] = []
    for p in ids:
        carers.extend(
            _provider_carers(
                p, ids, needs[p], counts[p], streets, patches.centres, patches.names, xy, modes, rng
            )
        )
    return carers


def _provider_carers(
    provider: str,
    ids: list[str],
    need: dict[tuple[int, str], int],
    count: int | None,
    streets: _Streets,
    centres: np.ndarray,
    patch_names: list[str],
    client_xy: np.ndarray,
    modes: list[Mode],
    rng: np.random.Generator,
) -> list[Carer]:
    in_house = provider == IN_HOUSE
    patch = None if in_house else ids.index(provider) - 1
    cover: Counter[tuple[int, str]] = Counter()
    out: list[Carer] = []
    weights = np.array([w for _, w in PATTERNS])

    def deficit() -> tuple[int, str] | None:
        short = [k for k, n in sorted(need.items()) if cover[k] < n]
        return short[0] if short else None

    while True:
        gap = deficit()
        if (gap is None) if count is None else len(out) >= count:
            break
        if gap is None:
            pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=weights / weights.sum()))][0]
            day = int(rng.integers(7))
        else:
            ok = [i for i, (s, _) in enumerate(PATTERNS) if _covers(s, gap[1])]
            w = weights[ok] / weights[ok].sum()
            pattern = PATTERNS[ok[int(rng.choice(len(ok), p=w))]][0]
            day = gap[0]
        n_days = 5 if rng.random() < 0.75 else int(rng.integers(3, 5))
        others = [d for d in range(7) if d != day]
        work = sorted([day, *(int(d) for d in rng.choice(others, size=n_days - 1, replace=False))])
        shifts = tuple(Shift(int(a * H), int(b * H)) for a, b in pattern)
        for d in work:
            for band in BAND_ORDER:
                if _covers(pattern, band):
                    cover[d, band] += 1
        out.append(
            _new_carer(
                provider,
                len(out) + 1,
                patch,
                work,
                shifts,
                streets,
                centres,
                patch_names,
                client_xy,
                modes,
                rng,
            )
        )
    return out


def _new_carer(
    provider: str,
    number: int,
    patch: int | None,
    work: list[int],
    shifts: tuple[Shift, ...],
    streets: _Streets,
    centres: np.ndarray,
    patch_names: list[str],
    client_xy: np.ndarray,
    modes: list[Mode],
    rng: np.random.Generator,
) -> Carer:
    in_house = patch is None
    doors = _sample_doors(streets, 40, rng)
    door_xy = _xy(doors.latlon, streets.lat0, streets.lon0)
    nearest = ((door_xy[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    if in_house:
        pick = 0
    else:
        inside = np.flatnonzero(nearest == patch)
        pick = (
            int(inside[0])
            if len(inside)
            else int(((door_xy - centres[patch]) ** 2).sum(1).argmin())
        )
    lat, lon = float(doors.latlon[pick, 0]), float(doors.latlon[pick, 1])
    base = Location(lat, lon, _address(int(rng.integers(1, 121)), doors.streets[pick]))
    k = 1 if in_house else 0
    skills = frozenset(s for s, shares in CARER_SKILLS.items() if rng.random() < shares[k])
    gender = "female" if rng.random() < 0.82 else "male"
    mode = Mode.DRIVE
    near = (((client_xy - door_xy[pick]) ** 2).sum(1) < 1200.0**2).sum()
    if modes and near >= max(8, 0.04 * len(client_xy)):
        r = rng.random()
        if r < 0.25 and Mode.WALK in modes:
            mode = Mode.WALK
        elif 0.25 <= r < 0.35 and Mode.CYCLE in modes:
            mode = Mode.CYCLE
    shift_minutes = sum(s.length for s in shifts) * len(work) // 60
    if in_house:
        contracted: int | None = min(shift_minutes, int(37.5 * 60))
    elif rng.random() < 0.4:
        contracted = None  # zero-hours contract
    else:
        contracted = min(shift_minutes, int(rng.choice([16, 20, 30, 37.5]) * 60))
    return Carer(
        carer_id=f"{provider}-{number:03d}",
        provider=provider,
        base=base,
        mode=mode,
        shifts={d: shifts for d in work},
        skills=skills,
        gender=gender,
        max_minutes_week=MAX_MINUTES_WEEK,
        contracted_minutes_week=contracted,
        team="" if patch is None else patch_names[patch],
    )


# As-is allocation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    start: int
    end: int
    point: int


class _Rota:
    """Today's rota as a coordinator keeps it: per carer and day, visits in time order."""

    def __init__(self, carers: Sequence[Carer], calls: Sequence[_Call]) -> None:
        self.carers = list(carers)
        points = [c.client.location.point for c in calls] + [c.base.point for c in carers]
        modes = sorted({c.mode for c in carers}, key=list(Mode).index)
        matrix = straight_line_matrix(points, modes=modes)
        self.secs = {m: matrix.seconds[m] for m in modes}
        self.point = {id(c): matrix.index(c.client.location) for c in calls}
        self.base = [matrix.index(c.base) for c in carers]
        self.runs: dict[tuple[int, int], list[_Slot]] = {}
        self.week = [0] * len(carers)
        self.busy: Counter[tuple[int, int]] = Counter()

    def eligible(self, k: int, call: _Call) -> bool:
        c = self.carers[k]
        pref = call.client.gender_preference
        return (
            call.skills <= c.skills
            and (not pref or c.gender == pref)
            and self.week[k] + call.duration <= MAX_MINUTES_WEEK * 60
        )

    def times(
        self, k: int, call: _Call, bounds: tuple[int, int], *, strict: bool
    ) -> tuple[int, int] | None:
        """Start times ``[lo, hi]`` at which carer `k` could do `call`, nearest the request.

        `bounds` are the earliest and latest start allowed (the window, narrowed by links).
        The carer must be on shift for the whole visit and free; when `strict`, also able to
        get there from the previous visit (or from home at the start of the shift) and on to
        the next by straight-line estimate. Otherwise travel is not rostered at all.
        """
        carer = self.carers[k]
        p = self.point[id(call)]
        secs = self.secs[carer.mode]
        earliest, latest = bounds
        run = self.runs.get((k, call.day), [])
        best: tuple[int, int] | None = None
        best_off = 0
        for shift in carer.shifts_on(call.day):
            if shift.end < earliest + call.duration or shift.start > latest:
                continue
            inside = [s for s in run if shift.start <= s.start < shift.end]
            for i in range(len(inside) + 1):
                prev = inside[i - 1] if i > 0 else None
                nxt = inside[i] if i < len(inside) else None
                if prev is None:
                    ready = shift.start + (int(secs[self.base[k], p]) if strict else 0)
                else:
                    ready = prev.end + (int(secs[prev.point, p]) if strict else 0)
                limit = (
                    shift.end
                    if nxt is None
                    else (nxt.start - (int(secs[p, nxt.point]) if strict else 0))
                )
                lo, hi = max(ready, earliest), min(latest, limit - call.duration)
                if lo > hi:
                    continue
                off = max(lo - call.start, call.start - hi, 0)
                if best is None or off < best_off:
                    best, best_off = (lo, hi), off
        return best

    def book(self, k: int, call: _Call, start: int) -> None:
        slot = _Slot(start, start + call.duration, self.point[id(call)])
        bisect.insort(self.runs.setdefault((k, call.day), []), slot, key=lambda s: s.start)
        self.week[k] += call.duration
        self.busy[k, call.day] += call.duration


def _rota_time(call: _Call, lo: int, hi: int) -> int:
    """The time a planner writes down: nearest the request, on five minutes where possible."""
    t = min(max(call.start, lo), hi)
    rounded = -(-t // 300) * 300 if t == lo else t // 300 * 300
    return rounded if lo <= rounded <= hi else t


def _pick(
    rota: _Rota, call: _Call, bounds: tuple[int, int], pool: Sequence[int], *, strict: bool
) -> tuple[list[int], int] | None:
    """First `call.required` carers of `pool` (in order) with a common start time."""
    if bounds[0] > bounds[1]:
        return None
    options = [
        (k, w)
        for k in pool
        if rota.eligible(k, call)
        if (w := rota.times(k, call, bounds, strict=strict)) is not None
    ]
    if call.required == 1:
        return ([options[0][0]], _rota_time(call, *options[0][1])) if options else None
    for i, (a, (alo, ahi)) in enumerate(options):
        for b, (blo, bhi) in options[i + 1 :]:
            lo, hi = max(alo, blo), min(ahi, bhi)
            if lo <= hi:
                return [a, b], _rota_time(call, lo, hi)
    return None


def _allocate(calls: list[_Call], carers: list[Carer]) -> None:
    """The as-is: each provider's greedy, time-ordered, first-fit planning (module docstring)."""
    rota = _Rota(carers, calls)
    by_provider: dict[str, list[int]] = {}
    for k, c in enumerate(carers):
        by_provider.setdefault(c.provider, []).append(k)
    regulars: dict[str, Counter[int]] = {}
    by_id = {c.visit_id: c for c in calls}
    follower = {c.follows: c for c in calls if c.follows}

    def bounds(call: _Call) -> tuple[int, int]:
        """The window, narrowed so linked visits keep their gap to those already planned."""
        lo, hi = call.start - call.tolerance, call.start + call.tolerance
        before = by_id.get(call.follows)
        if before is not None and before.planned is not None:
            lo, hi = max(lo, before.planned + LINK_GAP[0]), min(hi, before.planned + LINK_GAP[1])
        after = follower.get(call.visit_id)
        if after is not None and after.planned is not None:
            lo, hi = max(lo, after.planned - LINK_GAP[1]), min(hi, after.planned - LINK_GAP[0])
        return lo, hi

    def first_fit(call: _Call, provider: str) -> tuple[list[int], int] | None:
        pool = by_provider.get(provider, [])
        seen = regulars.get(call.client.client_id, Counter())
        order = [k for k, _ in seen.most_common() if k in pool]
        order += [k for k in pool if k not in seen]
        return _pick(rota, call, bounds(call), order, strict=True)

    def assign(call: _Call, provider: str, chosen: tuple[list[int], int], *, strict: bool) -> None:
        ks, start = chosen
        for k in ks:
            rota.book(k, call, start)
            regulars.setdefault(call.client.client_id, Counter())[k] += 1
        call.provider, call.planned, call.strict = provider, start, strict
        call.carer_ids = [carers[k].carer_id for k in ks]

    order = sorted(calls, key=lambda c: (c.day, c.start, -c.required, c.visit_id))
    left: list[_Call] = []
    for provider in by_provider:  # in-house first: it plans its own clients before overflow
        for call in order:
            if call.provider == provider:
                chosen = first_fit(call, provider)
                if chosen:
                    assign(call, provider, chosen, strict=True)
                else:
                    left.append(call)
    for call in sorted(left, key=lambda c: (c.day, c.start, c.visit_id)):
        chosen = first_fit(call, IN_HOUSE) if call.provider != IN_HOUSE else None
        if chosen:
            assign(call, IN_HOUSE, chosen, strict=True)
            continue
        # Kept by the provider: its least busy carers who are free, travel or not.
        pool = sorted(by_provider.get(call.provider, []), key=lambda k: (rota.busy[k, call.day], k))
        chosen = _pick(rota, call, bounds(call), pool, strict=False)
        if chosen:
            assign(call, call.provider, chosen, strict=False)


def _finish_visits(
    people: list[_Client],
    calls: list[_Call],
    carers: list[Carer],
    patches: _Patches,
    rng: np.random.Generator,
) -> list[Visit]:
    """Turn calls into visits, pinning a few dementia mornings and adding a few exclusions."""
    pinned_clients = {c.client_id for c in people if "dementia" in c.needs and rng.random() < 0.15}
    by_client: dict[str, set[str]] = {}
    for call in calls:
        by_client.setdefault(call.client.client_id, set()).update(call.carer_ids)
    excluded: dict[str, frozenset[str]] = {}
    for c in people:
        if rng.random() < 0.02:
            served = by_client.get(c.client_id, set())
            pool = [
                k.carer_id for k in carers if k.provider == c.provider and k.carer_id not in served
            ]
            if pool:
                excluded[c.client_id] = frozenset({str(rng.choice(pool))})
    visits: list[Visit] = []
    for call in sorted(calls, key=lambda c: (c.day, c.client.client_id, BAND_ORDER.index(c.band))):
        c = call.client
        visits.append(
            Visit(
                visit_id=call.visit_id,
                client_id=c.client_id,
                day=call.day,
                window=TimeWindow(call.start - call.tolerance, call.start + call.tolerance),
                duration=call.duration,
                location=c.location,
                carers_required=call.required,
                planned_start=call.start if call.planned is None else call.planned,
                skills=call.skills,
                provider=call.provider,
                carer_ids=tuple(call.carer_ids),
                priority=c.priority,
                excluded_carers=excluded.get(c.client_id, frozenset()),
                gender_preference=c.gender_preference,
                pinned=call.strict and call.band == "am" and c.client_id in pinned_clients,
                area=patches.names[c.patch],
                follows=call.follows,
                gap_min=LINK_GAP[0] if call.follows else 0,
                gap_max=LINK_GAP[1] if call.follows else 0,
                tasks=_tasks(call),
            )
        )
    return visits


def _tasks(call: _Call) -> str:
    extra = [s.replace("_", " ") for s in sorted(call.skills)]
    return "; ".join([TASKS[call.band], *extra])
