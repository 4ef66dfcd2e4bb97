"""Home health care routing and scheduling (HHCRSP) instances: readers, adapter, scorer.

Two published formats are read into one :class:`Instance`:

- Mankowska, Meisel & Bierwirth (2014), ``InstanzCPLEX_HCSRP_*.txt`` / ``InstanzVNS_HCSRP_*.txt``
  (keyword line, then values; node 0 and the last node are copies of the depot);
- Ceschia, Di Gaspero, Rosati & Schaerf (2024), the JSON instances on Italian cities.

:func:`adapt_instance` turns an instance into a carerun :class:`~carerun.model.Roster` plus a
:class:`~carerun.matrix.TravelMatrix`; :func:`score_routes` recomputes the published objective
``(travel + total tardiness + max tardiness) / 3`` and checks feasibility from the routes alone,
independently of carerun's own statistics and checker.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carerun._errors import InputError
from carerun.matrix import TravelMatrix
from carerun.model import (
    LATEST_TIME,
    Carer,
    Location,
    Mode,
    Plan,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Visit,
)

SIMULTANEOUS = "simultaneous"
SEQUENTIAL = "sequential"
PROVIDER = "hhc"
# One instance time unit becomes one carerun minute: carerun's linked-visit gaps and lateness
# limit are whole minutes, and the published instances' gaps are whole units.
SCALE = 60
# Start times are compared after a round trip through integer seconds; this absorbs float noise.
EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient: a window on the start of each service and one or two services.

    For a double-service patient ``services[0]`` is the one that starts first; ``gap`` bounds
    ``start(services[1]) - start(services[0])`` (``(0, 0)`` when ``sync`` is simultaneous).
    """

    patient_id: str
    node: int
    window: tuple[float, float]
    services: tuple[tuple[str, float], ...]
    sync: str = ""
    gap: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Caregiver:
    """A caregiver with the services they are qualified for; `shift` is ``None`` when unbounded."""

    caregiver_id: str
    abilities: frozenset[str]
    shift: tuple[float, float] | None = None


@dataclass(frozen=True)
class Instance:
    """An HHCRSP instance in its own time unit; `travel` row/column 0 is the depot."""

    name: str
    patients: tuple[Patient, ...]
    caregivers: tuple[Caregiver, ...]
    travel: np.ndarray
    source: str

    @property
    def n_tasks(self) -> int:
        """Number of (patient, service) pairs to serve."""
        return sum(len(p.services) for p in self.patients)

    @property
    def double_service(self) -> tuple[Patient, ...]:
        return tuple(p for p in self.patients if len(p.services) == 2)


# Readers ------------------------------------------------------------------------------------

MANKOWSKA_KEYS = (
    "nbNodes",
    "nbVehi",
    "nbServi",
    "r",
    "DS",
    "a",
    "x",
    "y",
    "d",
    "p",
    "mind",
    "maxd",
    "e",
    "l",
)


def _mankowska_blocks(path: Path) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    key = ""
    for line in path.read_text().splitlines():
        word = line.strip()
        if word in MANKOWSKA_KEYS:
            key = word
            blocks[key] = []
        elif word and key:
            blocks[key].append(word)
        elif word:
            msg = f"{path.name}: values before the first keyword line ({word[:20]!r})"
            raise InputError(msg)
    missing = [k for k in MANKOWSKA_KEYS if k not in blocks]
    if missing:
        msg = f"{path.name}: missing block(s) {', '.join(missing)}"
        raise InputError(msg)
    return blocks


def _numbers(lines: list[str], shape: tuple[int, ...], path: Path, key: str) -> np.ndarray:
    values = np.array(" ".join(lines).split(), dtype=np.float64)
    if values.size != math.prod(shape):
        msg = f"{path.name}: block `{key}` has {values.size} values, expected {math.prod(shape)}"
        raise InputError(msg)
    return values.reshape(shape)


def read_mankowska(path: str | Path) -> Instance:
    """Read a Mankowska et al. (2014) instance.

    Patients are nodes ``1 … nbNodes-2`` (ids ``"1"`` …); services are ``"s1"`` … (columns of
    ``r``). ``DS`` lists double-service patients by 1-based row of ``r``, so its values are
    the patients' node numbers plus one. A double-service patient with ``mind == 0`` is
    simultaneous; otherwise its lower-numbered service starts first, the other
    ``mind … maxd`` later. The processing time of a service must not depend on the caregiver
    (true of every published file).
    """
    path = Path(path)
    b = _mankowska_blocks(path)
    n_nodes, n_vehicles, n_services = (int(b[k][0]) for k in ("nbNodes", "nbVehi", "nbServi"))
    need = _numbers(b["r"], (n_nodes, n_services), path, "r").astype(bool)
    able = _numbers(b["a"], (n_vehicles, n_services), path, "a").astype(bool)
    dist = _numbers(b["d"], (n_nodes, n_nodes), path, "d")
    proc = _numbers(b["p"], (n_nodes, n_vehicles, n_services), path, "p")
    mind, maxd, e, l_ = (_numbers(b[k], (n_nodes,), path, k) for k in ("mind", "maxd", "e", "l"))
    double = {int(v) - 1 for v in " ".join(b["DS"]).split()}
    if not (proc == proc[:, :1, :]).all():
        msg = f"{path.name}: processing times differ between caregivers; carerun needs one"
        raise InputError(msg)
    if not np.allclose(dist[-1], dist[0]) or not np.allclose(dist[:, -1], dist[:, 0]):
        msg = f"{path.name}: the last node is not a copy of the depot"
        raise InputError(msg)
    patients = []
    for node in range(1, n_nodes - 1):
        wanted = [int(s) for s in np.flatnonzero(need[node])]
        if len(wanted) != (2 if node in double else 1):
            msg = f"{path.name}: patient {node} requires {len(wanted)} services"
            raise InputError(msg)
        services = tuple((f"s{s + 1}", float(proc[node, 0, s])) for s in wanted)
        sync = ""
        if node in double:
            sync = SIMULTANEOUS if mind[node] <= 0 else SEQUENTIAL
        gap = (float(mind[node]), float(maxd[node])) if sync == SEQUENTIAL else (0.0, 0.0)
        patients.append(
            Patient(str(node), node, (float(e[node]), float(l_[node])), services, sync, gap)
        )
    caregivers = tuple(
        Caregiver(str(v + 1), frozenset(f"s{s + 1}" for s in np.flatnonzero(able[v])))
        for v in range(n_vehicles)
    )
    return Instance(path.stem, tuple(patients), caregivers, dist[:-1, :-1].copy(), "mankowska")


def read_italian(path: str | Path) -> Instance:
    """Read a Ceschia et al. (2024) JSON instance (one central office, first in `distances`).

    A service without a ``duration`` takes its ``default_duration``. Sequential services start
    in the order listed, the second ``distance[0] … distance[1]`` after the first. A caregiver's
    ``working_shift`` ``[start, end]`` is read when present (none of the published files has one).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        msg = f"{path.name}: not valid JSON ({err})"
        raise InputError(msg) from None
    if len(data.get("central_offices", ())) != 1:
        msg = f"{path.name}: expected exactly one central office"
        raise InputError(msg)
    defaults = {s["id"]: float(s["default_duration"]) for s in data["services"]}
    patients = []
    for node, p in enumerate(data["patients"], start=1):
        services = tuple(
            (r["service"], float(r.get("duration", defaults[r["service"]])))
            for r in p["required_caregivers"]
        )
        sync_data = p.get("synchronization") or {}
        sync = sync_data.get("type", "")
        if len(services) == 2 and sync not in (SIMULTANEOUS, SEQUENTIAL):
            msg = f"{path.name}: patient {p['id']} needs two services but no synchronisation"
            raise InputError(msg)
        gap = (0.0, 0.0)
        if sync == SEQUENTIAL:
            gap = _pair(sync_data["distance"])
        patients.append(Patient(p["id"], node, _pair(p["time_window"]), services, sync, gap))
    caregivers = tuple(
        Caregiver(
            c["id"],
            frozenset(c["abilities"]),
            _pair(c["working_shift"]) if "working_shift" in c else None,
        )
        for c in data["caregivers"]
    )
    travel = np.asarray(data["distances"], dtype=np.float64)
    if travel.shape != (len(patients) + 1,) * 2:
        msg = f"{path.name}: `distances` is {travel.shape}, expected {len(patients) + 1} square"
        raise InputError(msg)
    return Instance(path.stem, tuple(patients), caregivers, travel, "italian")


def _pair(values: Sequence[float]) -> tuple[float, float]:
    return (float(values[0]), float(values[1]))


def read_instance(path: str | Path) -> Instance:
    """Read either format, chosen by the file's suffix (``.json`` = Ceschia et al.)."""
    path = Path(path)
    return read_italian(path) if path.suffix.lower() == ".json" else read_mankowska(path)


# Adapter into carerun ------------------------------------------------------------------------


@dataclass(frozen=True)
class Adapted:
    """An instance as carerun sees it; carerun seconds are instance units × :data:`SCALE`."""

    roster: Roster
    matrix: TravelMatrix
    tasks: Mapping[str, tuple[str, str]]  # visit_id -> (patient_id, service)


def visit_id(patient_id: str, service: str) -> str:
    return f"{patient_id}-{service}"


def _point(node: int) -> Location:
    # Synthetic, distinct keys ~1 km apart (so no two look co-located); travel comes from the
    # instance's own matrix.
    return Location(lat=50.0 + node * 0.01, lon=0.0, address=f"node {node}")


def adapt_instance(inst: Instance) -> Adapted:
    """Build a one-day carerun roster and travel matrix from `inst`.

    Each (patient, service) is a :class:`Visit` with ``skills={service}``, a window on its
    start ``[e, l]`` (lateness past ``l`` is for the solver to allow) and the service's
    duration. The second service of a double-service patient is linked to the first with
    ``follows`` and a start gap ``[min, max]`` minutes (``[0, 0]`` when simultaneous), done by
    another caregiver (``link_other_carer``): carerun's double-handed visits need the same
    skills from both carers, whereas here the two carers deliver different services. Every
    caregiver is a :class:`Carer` with one shift on day 0 (the horizon, or their
    ``working_shift``) starting and ending at the depot.

    One instance time unit is one carerun minute (:data:`SCALE` seconds). Travel and
    durations are rounded *up* to whole seconds, so a schedule feasible for carerun is
    feasible in the instance's own fractional units.
    """
    visits: list[Visit] = []
    tasks: dict[str, tuple[str, str]] = {}
    for p in inst.patients:
        e, l_ = math.ceil(p.window[0] * SCALE - EPS), round(p.window[1] * SCALE)
        first = ""
        for k, (service, duration) in enumerate(p.services):
            vid = visit_id(p.patient_id, service)
            linked = k == 1 and bool(p.sync)
            visits.append(
                Visit(
                    visit_id=vid,
                    client_id=p.patient_id,
                    day=0,
                    window=TimeWindow(e, l_),
                    duration=max(1, math.ceil(duration * SCALE - EPS)),
                    location=_point(p.node),
                    skills=frozenset({service}),
                    follows=first if linked else "",
                    # Gaps are seconds in carerun's model, like every time.
                    gap_min=_minutes(p.gap[0], inst.name) * SCALE if linked else 0,
                    gap_max=_minutes(p.gap[1], inst.name) * SCALE if linked else 0,
                    # The published model: a patient's two services need two caregivers.
                    link_other_carer=linked,
                )
            )
            tasks[vid] = (p.patient_id, service)
            first = first or vid
    depot = _point(0)
    carers = tuple(
        Carer(
            carer_id=c.caregiver_id,
            provider=PROVIDER,
            base=depot,
            mode=Mode.DRIVE,
            shifts={0: (_shift(c.shift),)},
            skills=c.abilities,
        )
        for c in inst.caregivers
    )
    roster = Roster(
        tuple(visits), carers, (Provider(PROVIDER, kind=ProviderKind.IN_HOUSE),), name=inst.name
    )
    seconds = np.ceil(inst.travel * SCALE - EPS).astype(np.int64)
    np.fill_diagonal(seconds, 0)
    points = [_point(node).point for node in range(len(inst.travel))]
    matrix = TravelMatrix.from_arrays(points, {Mode.DRIVE: seconds})
    return Adapted(roster, matrix, tasks)


def _minutes(units: float, name: str) -> int:
    if units != round(units):
        msg = f"{name}: synchronisation gap {units} is not whole; carerun gaps are whole minutes"
        raise InputError(msg)
    return round(units)


def _shift(shift: tuple[float, float] | None) -> Shift:
    if shift is None:
        return Shift(0, LATEST_TIME)
    return Shift(math.ceil(shift[0] * SCALE), min(LATEST_TIME, math.floor(shift[1] * SCALE)))


Route = list[tuple[str, str, float]]
"""One caregiver's (patient_id, service, start) in visiting order, in instance units."""


def routes_from_plan(adapted: Adapted, plan: Plan) -> dict[str, Route]:
    """Each caregiver's route from a carerun plan, times back in the instance's units."""
    routes: dict[str, Route] = {c.carer_id: [] for c in adapted.roster.carers}
    for (carer_id, _day), run in plan.routes().items():
        routes[carer_id] = [(*adapted.tasks[a.visit_id], a.start / SCALE) for a in run]
    return routes


# Scoring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """The published objective's parts, recomputed from routes, and what is infeasible."""

    travel: float
    total_tardiness: float
    max_tardiness: float
    problems: tuple[str, ...]

    @property
    def objective(self) -> float:
        return (self.travel + self.total_tardiness + self.max_tardiness) / 3

    @property
    def feasible(self) -> bool:
        return not self.problems


def score_routes(inst: Instance, routes: Mapping[str, Sequence[tuple[str, str, float]]]) -> Score:
    """Travel, total and max tardiness of `routes`, and every hard rule they break.

    Rules: every (patient, service) served exactly once, by a qualified caregiver; a start no
    earlier than the window opens nor than the caregiver can arrive (leaving the depot at
    time 0 or their shift start, travel from the instance's matrix); the two services of a
    patient by two different caregivers (the Italian format's ``required_caregivers``),
    simultaneous ones starting together, sequential ones ``gap`` apart, in order; a caregiver
    with a shift back by its end. Tardiness of a service is ``max(0, start - window end)``.
    """
    patients = {p.patient_id: p for p in inst.patients}
    caregivers = {c.caregiver_id: c for c in inst.caregivers}
    starts: dict[tuple[str, str], float] = {}
    served_by: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    travel = 0.0
    for cid, route in routes.items():
        carer = caregivers.get(cid)
        if carer is None:
            problems.append(f"unknown caregiver {cid}")
            continue
        node, free = 0, carer.shift[0] if carer.shift else 0.0
        for pid, service, start in route:
            p = patients.get(pid)
            duration = dict(p.services).get(service) if p else None
            if p is None or duration is None:
                problems.append(f"{cid}: patient {pid} does not need {service}")
                continue
            if (pid, service) in starts:
                problems.append(f"{pid}/{service} is served twice")
            starts[pid, service] = start
            served_by[pid, service] = cid
            if service not in carer.abilities:
                problems.append(f"{cid} is not qualified for {service} ({pid})")
            hop = float(inst.travel[node, p.node])
            travel += hop
            if start < p.window[0] - EPS:
                problems.append(f"{pid}/{service} starts at {start:g}, before {p.window[0]:g}")
            if start < free + hop - EPS:
                problems.append(
                    f"{cid} cannot reach {pid}/{service} by {start:g} (earliest {free + hop:g})"
                )
            node, free = p.node, start + duration
        back = float(inst.travel[node, 0])
        travel += back
        if carer.shift and free + back > carer.shift[1] + EPS:
            problems.append(f"{cid} is back at {free + back:g}, after their shift")
    tardiness = []
    for p in inst.patients:
        for service, _ in p.services:
            begun = starts.get((p.patient_id, service))
            if begun is None:
                problems.append(f"{p.patient_id}/{service} is not served")
            else:
                tardiness.append(max(0.0, begun - p.window[1]))
        if p.sync and all((p.patient_id, s) in starts for s, _ in p.services):
            if len({served_by[p.patient_id, s] for s, _ in p.services}) == 1:
                problems.append(f"{p.patient_id}: both services by one caregiver")
            gap = starts[p.patient_id, p.services[1][0]] - starts[p.patient_id, p.services[0][0]]
            if not p.gap[0] - EPS <= gap <= p.gap[1] + EPS:
                problems.append(
                    f"{p.patient_id}: {p.sync} services start {gap:g} apart,"
                    f" not {p.gap[0]:g}…{p.gap[1]:g}"
                )
    return Score(travel, sum(tardiness), max(tardiness, default=0.0), tuple(problems))


# Published results ---------------------------------------------------------------------------

# Columns holding an objective value of a feasible solution (not bounds, means or times).
OBJECTIVE_COLUMNS = {
    "mankowska2014_and_fo2019_table2_sbpo2019.csv": ("mankowska2014_best_obj", "fo2019_best_obj"),
    "kummer2021_brkga_mp_ipr_tableC3_A1.csv": (
        "mankowska2014_best",
        "lasfargeas2019_best",
        "kummer2019_fo_best",
        "brkga_mp_ipr_best",
        "cplex_2h_final_sol",
    ),
    "kummer_gecco2020_tools_bks.csv": ("bks",),
    "ceschia2024_mankowska_best.csv": ("total_cost",),
    "ceschia2024_italian_best.csv": ("total_cost",),
}


def published_results(results_dir: str | Path) -> dict[str, dict[str, float]]:
    """Every published objective per instance name (file stem), keyed ``"file.csv:column"``.

    Tables keyed by set letter (``A1`` …) are matched through the ``file`` column of the tables
    that have one.
    """
    results_dir = Path(results_dir)
    rows: dict[str, list[dict[str, str]]] = {}
    for name in OBJECTIVE_COLUMNS:
        path = results_dir / name
        rows[name] = list(csv.DictReader(path.open())) if path.exists() else []
    letter_to_stem = {
        r["instance"]: Path(r["file"]).stem for table in rows.values() for r in table if "file" in r
    }
    found: dict[str, dict[str, float]] = {}
    for name, columns in OBJECTIVE_COLUMNS.items():
        for r in rows[name]:
            stem = Path(r["file"]).stem if "file" in r else Path(r["instance"]).stem
            stem = letter_to_stem.get(stem, stem)
            for col in columns:
                value = (r.get(col) or "").strip()
                if value:
                    found.setdefault(stem, {})[f"{name}:{col}"] = float(value)
    return found


def best_published(name: str, results: Mapping[str, Mapping[str, float]]) -> tuple[float, str]:
    """The lowest published objective for instance `name` and where it comes from."""
    values = results.get(name)
    if not values:
        msg = f"no published result for instance {name!r}"
        raise InputError(msg)
    source = min(values, key=lambda k: values[k])
    return values[source], source
