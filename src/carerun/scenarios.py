"""What-if changes to a roster, for travel-time studies.

Each change is a small frozen dataclass with ``apply(roster) -> Roster``; it never modifies its
input. A :class:`Scenario` is a name, a list of changes and whether to analyse the roster as it
stands (``run="asis"``) or to plan it (``run="plan"``). Scenarios are read from a study file's
``[[scenario]]`` tables (see :mod:`carerun.study`).

Changes
-------
``pool_providers = true``
    Plan across provider patches: any suitable carer may take any visit (plans only).
``move_base = {carers = [...] | provider = "..." | team = "...", lat = .., lon = ..}``
    Move (or add, for a new team) the base of the chosen carers.
``change_mode = {carers = [...] | provider = ".." | team = "..", mode = "walk", share = 1.0}``
    Change the travel mode of the chosen carers (a seeded `share` of them).
``tolerance_min = 45``
    Re-centre every visit's window on its planned start with this tolerance.
``add_carers = {like = "C001", count = 3}``
    Add carers copied from `like` (provider, base, shifts, skills) with new ids.
``remove_carers = ["C001", ...]``
    Remove carers; their as-is visits become unallocated.
``drop_provider = "P2"``
    Remove a provider and its carers; its visits become unallocated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from carerun._errors import InputError
from carerun.model import Carer, Location, Mode, Roster, TimeWindow, Visit

Run = Literal["asis", "plan"]


@dataclass(frozen=True)
class CarerSelection:
    """Which carers a change applies to: listed ids, or a whole provider or team."""

    carers: tuple[str, ...] = ()
    provider: str = ""
    team: str = ""

    def pick(self, roster: Roster) -> tuple[Carer, ...]:
        if not (self.carers or self.provider or self.team):
            return roster.carers
        known = {c.carer_id for c in roster.carers}
        missing = [c for c in self.carers if c not in known]
        if missing:
            msg = f"unknown carer(s) {', '.join(missing)} in a scenario"
            raise InputError(msg)
        if self.provider and not roster.carers_of_provider(self.provider):
            msg = f"unknown provider {self.provider!r} in a scenario"
            raise InputError(msg)
        return tuple(
            c
            for c in roster.carers
            if c.carer_id in self.carers
            or (self.provider and c.provider == self.provider)
            or (self.team and c.team == self.team)
        )


@dataclass(frozen=True)
class MoveBase:
    who: CarerSelection
    lat: float
    lon: float

    def apply(self, roster: Roster) -> Roster:
        chosen = {c.carer_id for c in self.who.pick(roster)}
        base = Location(self.lat, self.lon, address="(scenario base)")
        return roster.replace(
            carers=[
                dataclasses.replace(c, base=base) if c.carer_id in chosen else c
                for c in roster.carers
            ]
        )


@dataclass(frozen=True)
class ChangeMode:
    who: CarerSelection
    mode: Mode
    share: float = 1.0
    seed: int = 0

    def apply(self, roster: Roster) -> Roster:
        chosen = [c.carer_id for c in self.who.pick(roster)]
        n = round(len(chosen) * self.share)
        picked = set(np.random.default_rng(self.seed).permutation(chosen)[:n].tolist())
        return roster.replace(
            carers=[
                dataclasses.replace(c, mode=self.mode) if c.carer_id in picked else c
                for c in roster.carers
            ]
        )


@dataclass(frozen=True)
class ChangeTolerance:
    minutes: int

    def apply(self, roster: Roster) -> Roster:
        tol = self.minutes * 60

        def widen(v: Visit) -> Visit:
            centre = v.planned_start if v.planned_start is not None else v.window.start
            window = TimeWindow(max(0, centre - tol), centre + tol)
            return dataclasses.replace(v, window=window)

        return roster.replace(visits=[widen(v) for v in roster.visits])


@dataclass(frozen=True)
class AddCarers:
    like: str
    count: int

    def apply(self, roster: Roster) -> Roster:
        template = _carer(roster, self.like)
        taken = {c.carer_id for c in roster.carers}
        new: list[Carer] = []
        i = 1
        while len(new) < self.count:
            cid = f"{template.carer_id}+{i}"
            if cid not in taken:
                new.append(dataclasses.replace(template, carer_id=cid))
            i += 1
        return roster.replace(carers=[*roster.carers, *new])


@dataclass(frozen=True)
class RemoveCarers:
    carers: tuple[str, ...]

    def apply(self, roster: Roster) -> Roster:
        for cid in self.carers:
            _carer(roster, cid)
        gone = set(self.carers)
        return roster.replace(
            carers=[c for c in roster.carers if c.carer_id not in gone],
            visits=[_without_carers(v, gone) for v in roster.visits],
        )


@dataclass(frozen=True)
class DropProvider:
    provider: str

    def apply(self, roster: Roster) -> Roster:
        if self.provider not in {p.provider for p in roster.providers}:
            msg = f"unknown provider {self.provider!r} in a scenario"
            raise InputError(msg)
        gone = {c.carer_id for c in roster.carers_of_provider(self.provider)}
        visits = [
            dataclasses.replace(_without_carers(v, gone), provider="")
            if v.provider == self.provider
            else _without_carers(v, gone)
            for v in roster.visits
        ]
        return roster.replace(
            carers=[c for c in roster.carers if c.carer_id not in gone],
            providers=[p for p in roster.providers if p.provider != self.provider],
            visits=visits,
        )


Change = MoveBase | ChangeMode | ChangeTolerance | AddCarers | RemoveCarers | DropProvider


@dataclass(frozen=True)
class Scenario:
    """A named what-if: changes to the roster, and whether to analyse or plan it."""

    name: str
    changes: tuple[Change, ...] = ()
    run: Run = "plan"
    pool_providers: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, roster: Roster) -> Roster:
        for change in self.changes:
            roster = change.apply(roster)
        return roster


def _carer(roster: Roster, carer_id: str) -> Carer:
    try:
        return roster.carer(carer_id)
    except KeyError:
        msg = f"unknown carer {carer_id!r} in a scenario"
        raise InputError(msg) from None


def _without_carers(visit: Visit, gone: set[str]) -> Visit:
    if not gone.intersection(visit.carer_ids):
        return visit
    kept = tuple(c for c in visit.carer_ids if c not in gone)
    return dataclasses.replace(visit, carer_ids=kept, pinned=visit.pinned and bool(kept))


# Reading scenarios from a study file -----------------------------------------------------

KNOWN_KEYS = {
    "name",
    "run",
    "pool_providers",
    "move_base",
    "change_mode",
    "tolerance_min",
    "add_carers",
    "remove_carers",
    "drop_provider",
    "time_limit",
    "seed",
}


def scenario_from_dict(
    table: Mapping[str, Any], *, default_run: Run = "plan", where: str = "scenario"
) -> Scenario:
    """Build a :class:`Scenario` from one ``[[scenario]]`` table of a study file."""
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        msg = (
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}"
        )
        raise InputError(msg)
    name = str(table.get("name") or "").strip()
    if not name:
        msg = f"{where}: every scenario needs a `name`"
        raise InputError(msg)
    run = table.get("run", default_run)
    if run not in ("asis", "plan"):
        msg = f"{where} ({name}): `run` must be 'asis' or 'plan', not {run!r}"
        raise InputError(msg)
    changes: list[Change] = []
    try:
        if "move_base" in table:
            t = table["move_base"]
            changes.append(MoveBase(_selection(t), float(t["lat"]), float(t["lon"])))
        if "change_mode" in table:
            t = table["change_mode"]
            changes.append(
                ChangeMode(
                    _selection(t),
                    Mode(t["mode"]),
                    float(t.get("share", 1.0)),
                    int(t.get("seed", 0)),
                )
            )
        if "tolerance_min" in table:
            changes.append(ChangeTolerance(int(table["tolerance_min"])))
        if "add_carers" in table:
            t = table["add_carers"]
            changes.append(AddCarers(str(t["like"]), int(t.get("count", 1))))
        if "remove_carers" in table:
            changes.append(RemoveCarers(tuple(str(c) for c in table["remove_carers"])))
        if "drop_provider" in table:
            changes.append(DropProvider(str(table["drop_provider"])))
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"{where} ({name}): cannot read a change: {exc}"
        raise InputError(msg) from None
    settings = {k: table[k] for k in ("time_limit", "seed") if k in table}
    return Scenario(name, tuple(changes), run, bool(table.get("pool_providers", True)), settings)


def _selection(table: Mapping[str, Any]) -> CarerSelection:
    return CarerSelection(
        carers=tuple(str(c) for c in table.get("carers", ())),
        provider=str(table.get("provider", "")),
        team=str(table.get("team", "")),
    )


def scenario_points(roster: Roster, scenarios: Iterable[Scenario]) -> list[tuple[float, float]]:
    """Every point any scenario needs travel between (visit doors and all bases)."""
    pts: dict[tuple[float, float], None] = {}
    for s in scenarios:
        r = s.apply(roster)
        for v in r.visits:
            pts[v.location.point] = None
        for c in r.carers:
            pts[c.base.point] = None
    return list(pts)


def scenario_modes(roster: Roster, scenarios: Sequence[Scenario]) -> tuple[Mode, ...]:
    used = {c.mode for s in scenarios for c in s.apply(roster).carers}
    return tuple(m for m in Mode if m in used) or (Mode.DRIVE,)
