"""Read Solomon / Gehring-Homberger VRPTW instances and adapt them to carerun's model.

The adapter maps an instance onto a one-day roster: the depot is every carer's base; each
vehicle is a carer with one shift ``[depot ready, depot due]``; each customer is a visit whose
start window is ``[ready, due]`` and whose duration is the service time. Distances follow the
CVRPLIB distance-only convention (Euclidean, truncated to one decimal) and are scaled by 10 to
integers, used as both travel seconds and cost; times are scaled by 10 to match.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from carerun.matrix import TravelMatrix
from carerun.model import Carer, Location, Mode, Provider, Roster, TimeWindow, Visit

SCALE = 10


@dataclass(frozen=True)
class Instance:
    """A VRPTW instance; row 0 of every array is the depot."""

    name: str
    vehicles: int
    capacity: int
    x: np.ndarray
    y: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray

    @property
    def customers(self) -> int:
        return len(self.x) - 1

    def distances(self) -> np.ndarray:
        """Integer distances ×10: Euclidean truncated to one decimal (CVRPLIB convention)."""
        dx = self.x[:, None] - self.x[None, :]
        dy = self.y[:, None] - self.y[None, :]
        # The small epsilon keeps exact decimals (e.g. 5.0) from truncating to 4.9.
        return np.floor(np.hypot(dx, dy) * SCALE + 1e-9).astype(np.int64)


def read_instance(path: str | Path) -> Instance:
    """Parse a Solomon-format text file (``VEHICLE`` then ``CUSTOMER`` blocks)."""
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines()]
    rows = [ln for ln in lines if ln and all(_is_number(t) for t in ln)]
    vehicles, capacity = (int(t) for t in rows[0])
    table = np.array([[float(t) for t in r] for r in rows[1:]])
    if table.shape[1] != 7:
        msg = f"{path}: expected 7 customer columns, found {table.shape[1]}"
        raise ValueError(msg)
    return Instance(
        name=lines[0][0] if lines[0] else path.stem,
        vehicles=vehicles,
        capacity=capacity,
        x=table[:, 1],
        y=table[:, 2],
        demand=table[:, 3].astype(np.int64),
        ready=table[:, 4].astype(np.int64),
        due=table[:, 5].astype(np.int64),
        service=table[:, 6].astype(np.int64),
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_bks(path: str | Path) -> dict[str, float]:
    """Distance-only best-known costs (``distonly_opt_distance``) by upper-case instance name."""
    out: dict[str, float] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            value = row.get("distonly_opt_distance") or ""
            if value.strip():
                out[row["instance"].upper()] = float(value)
    return out


def _location(x: float, y: float) -> Location:
    # Plane coordinates become tiny degree offsets: only the points' identity matters, travel
    # comes from the instance's own distances.
    return Location(lat=round(y / 1000, 6), lon=round(x / 1000, 6))


def to_carerun(inst: Instance) -> tuple[Roster, TravelMatrix, dict[str, int], dict[str, int]]:
    """The instance as a carerun roster + matrix, with visit demands and carer capacities."""
    places = [_location(float(a), float(b)) for a, b in zip(inst.x, inst.y, strict=True)]
    points = list(dict.fromkeys(p.point for p in places))
    dist = inst.distances()
    first: dict[tuple[float, float], int] = {}
    for node, p in enumerate(places):
        first.setdefault(p.point, node)
    rep = np.array([first[p] for p in points])
    secs = dist[np.ix_(rep, rep)]
    matrix = TravelMatrix.from_arrays(points, {Mode.DRIVE: secs}, {Mode.DRIVE: secs / SCALE})
    shift = TimeWindow(int(inst.ready[0]) * SCALE, int(inst.due[0]) * SCALE)
    carers = tuple(
        Carer(f"v{k + 1}", "fleet", places[0], Mode.DRIVE, shifts={0: (shift,)})
        for k in range(inst.vehicles)
    )
    visits = tuple(
        Visit(
            visit_id=f"c{n}",
            client_id=f"c{n}",
            day=0,
            window=TimeWindow(int(inst.ready[n]) * SCALE, int(inst.due[n]) * SCALE),
            duration=int(inst.service[n]) * SCALE,
            location=places[n],
        )
        for n in range(1, len(places))
    )
    roster = Roster(visits, carers, (Provider("fleet"),), name=inst.name)
    demand = {f"c{n}": int(inst.demand[n]) for n in range(1, len(places))}
    capacity = {c.carer_id: inst.capacity for c in carers}
    return roster, matrix, demand, capacity


def route_distance(inst: Instance, routes: list[list[int]]) -> float:
    """Distance-only cost of routes given as customer numbers (depot implied at both ends)."""
    dist = inst.distances()
    total = 0
    for r in routes:
        path = [0, *r, 0]
        total += sum(int(dist[a, b]) for a, b in pairwise(path))
    return total / SCALE
