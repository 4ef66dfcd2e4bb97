"""Door-to-door travel times and distances between locations, per travel mode.

:class:`TravelMatrix` is what the optimiser, the checker and the studies read. It is keyed by
point ``(lat, lon)``: visits at one door share a row. Build one from a road network with
:func:`travel_matrix` (snapping + many-to-many shortest paths), or from arrays you already have
with :meth:`TravelMatrix.from_arrays` (benchmarks, tests, an external routing engine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from carerun._errors import InputError
from carerun.model import Location, Mode, Roster

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
