"""Domain model: locations, visits, carers, providers, rosters and plans.

Every object validates itself on construction and raises :class:`ModelError` with a plain
message. Times of day are integer seconds from midnight of the visit's day; a day is an integer
0 (Monday) to 6 (Sunday). Objects are frozen: build a new one to change anything.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SECONDS_PER_DAY = 24 * 3600
# A visit or shift may run past midnight (a 23:30 bed call); nothing runs past the next noon.
LATEST_TIME = SECONDS_PER_DAY + 12 * 3600


class ModelError(ValueError):
    """An object of the domain model was given values it cannot hold."""


class Mode(StrEnum):
    """How a carer travels between visits."""

    DRIVE = "drive"
    WALK = "walk"
    CYCLE = "cycle"


class ProviderKind(StrEnum):
    """Whether the council runs the service itself or buys it in."""

    IN_HOUSE = "in-house"
    EXTERNAL = "external"


def format_time(seconds: int) -> str:
    """Format seconds from midnight as ``HH:MM`` (``24:30`` past midnight)."""
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_name(day: int) -> str:
    """Return ``Mon`` … ``Sun`` for a day index 0 … 6."""
    return DAY_NAMES[day]


@dataclass(frozen=True, slots=True)
class Location:
    """A point in WGS84 (EPSG:4326), with the address a carer needs to find it."""

    lat: float
    lon: float
    address: str = ""
    postcode: str = ""

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            msg = f"latitude {self.lat} is outside -90…90"
            raise ModelError(msg)
        if not -180.0 <= self.lon <= 180.0:
            msg = f"longitude {self.lon} is outside -180…180"
            raise ModelError(msg)

    @property
    def point(self) -> tuple[float, float]:
        """The coordinates alone, ``(lat, lon)``: two visits at one door share this key."""
        return (self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """An interval ``[start, end]`` in seconds from midnight; ``end >= start``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= LATEST_TIME or not 0 <= self.end <= LATEST_TIME:
            msg = f"time window {self.start}–{self.end} s is outside the day"
            raise ModelError(msg)
        if self.end < self.start:
            end, start = format_time(self.end), format_time(self.start)
            msg = f"time window ends ({end}) before it starts ({start})"
            raise ModelError(msg)

    @property
    def length(self) -> int:
        return self.end - self.start

    def contains(self, t: int) -> bool:
        return self.start <= t <= self.end

    def __str__(self) -> str:
        return f"{format_time(self.start)}-{format_time(self.end)}"


Shift = TimeWindow
"""A period a carer is working; a split shift is two or more of these on one day."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One visit occurrence: a client's call on one day of the week.

    ``window`` bounds the visit's *start*. ``carer_ids`` and ``provider`` describe the
    allocation as it stands today (the as-is), which may be empty.
    """

    visit_id: str
    client_id: str
    day: int
    window: TimeWindow
    duration: int
    location: Location
    carers_required: int = 1
    planned_start: int | None = None
    skills: frozenset[str] = frozenset()
    provider: str = ""
    carer_ids: tuple[str, ...] = ()
    priority: int = 1
    preferred_carers: tuple[str, ...] = ()
    excluded_carers: frozenset[str] = frozenset()
    gender_preference: str = ""
    pinned: bool = False
    area: str = ""
    follows: str = ""
    gap_min: int = 0
    gap_max: int = 0
    tasks: str = ""
    # The carer(s) of this visit must differ from those of the visit it `follows`.
    link_other_carer: bool = False

    def __post_init__(self) -> None:
        if not self.visit_id:
            raise ModelError("a visit needs a `visit_id`")
        if not self.client_id:
            msg = f"visit {self.visit_id} needs a `client_id`"
            raise ModelError(msg)
        if not 0 <= self.day <= 6:
            msg = f"visit {self.visit_id}: day {self.day} is not 0 (Mon) … 6 (Sun)"
            raise ModelError(msg)
        if self.duration <= 0:
            msg = f"visit {self.visit_id}: duration must be more than zero"
            raise ModelError(msg)
        if self.carers_required not in (1, 2):
            msg = (
                f"visit {self.visit_id}: carers_required must be 1 or 2, not {self.carers_required}"
            )
            raise ModelError(msg)
        if len(self.carer_ids) > self.carers_required:
            msg = (
                f"visit {self.visit_id}: {len(self.carer_ids)} carers given for a visit "
                f"needing {self.carers_required}"
            )
            raise ModelError(msg)
        if len(set(self.carer_ids)) != len(self.carer_ids):
            msg = f"visit {self.visit_id}: the same carer is named twice"
            raise ModelError(msg)
        if self.follows and self.gap_max < self.gap_min:
            msg = f"visit {self.visit_id}: gap_max is less than gap_min"
            raise ModelError(msg)
        if self.follows == self.visit_id:
            msg = f"visit {self.visit_id} cannot follow itself"
            raise ModelError(msg)
        if self.link_other_carer and not self.follows:
            msg = f"visit {self.visit_id}: link_other_carer needs `follows`"
            raise ModelError(msg)

    @property
    def double_handed(self) -> bool:
        return self.carers_required == 2

    @property
    def fixed_start(self) -> int | None:
        """The start a pinned visit keeps (its planned start); None when the visit may move."""
        return self.planned_start if self.pinned else None

    @property
    def end_latest(self) -> int:
        return self.window.end + self.duration


@dataclass(frozen=True, slots=True)
class Provider:
    """An organisation supplying carers: the council's in-house service or an external agency."""

    provider: str
    name: str = ""
    kind: ProviderKind = ProviderKind.EXTERNAL
    hourly_rate: float | None = None

    def __post_init__(self) -> None:
        if not self.provider:
            raise ModelError("a provider needs a `provider` id")
        if self.hourly_rate is not None and self.hourly_rate < 0:
            msg = f"provider {self.provider}: hourly_rate cannot be negative"
            raise ModelError(msg)


@dataclass(frozen=True, slots=True)
class Carer:
    """A care worker with a travel mode, a base and shifts on some days of the week."""

    carer_id: str
    provider: str
    base: Location
    mode: Mode = Mode.DRIVE
    shifts: Mapping[int, tuple[Shift, ...]] = field(default_factory=dict)
    skills: frozenset[str] = frozenset()
    gender: str = ""
    max_minutes_day: int | None = None
    max_minutes_week: int | None = None
    contracted_minutes_week: int | None = None
    cost_per_hour: float | None = None
    team: str = ""

    def __post_init__(self) -> None:
        if not self.carer_id:
            raise ModelError("a carer needs a `carer_id`")
        if not self.provider:
            msg = f"carer {self.carer_id} needs a `provider`"
            raise ModelError(msg)
        for day, shifts in self.shifts.items():
            if not 0 <= day <= 6:
                msg = f"carer {self.carer_id}: shift day {day} is not 0 (Mon) … 6 (Sun)"
                raise ModelError(msg)
            ordered = sorted(shifts, key=lambda s: s.start)
            for a, b in itertools.pairwise(ordered):
                if b.start < a.end:
                    msg = f"carer {self.carer_id}: shifts {a} and {b} on {day_name(day)} overlap"
                    raise ModelError(msg)
        for name in ("max_minutes_day", "max_minutes_week", "contracted_minutes_week"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                msg = f"carer {self.carer_id}: `{name}` must be more than zero"
                raise ModelError(msg)

    def shifts_on(self, day: int) -> tuple[Shift, ...]:
        """The carer's shifts on `day`, earliest first (empty when off)."""
        return tuple(sorted(self.shifts.get(day, ()), key=lambda s: s.start))

    @property
    def working_days(self) -> tuple[int, ...]:
        return tuple(sorted(d for d, s in self.shifts.items() if s))


@dataclass(frozen=True)
class Roster:
    """A week of visits with the carers and providers that can do them."""

    visits: tuple[Visit, ...]
    carers: tuple[Carer, ...]
    providers: tuple[Provider, ...]
    week_start: dt.date | None = None
    name: str = ""

    def __post_init__(self) -> None:
        for kind, ids in (
            ("visit", [v.visit_id for v in self.visits]),
            ("carer", [c.carer_id for c in self.carers]),
            ("provider", [p.provider for p in self.providers]),
        ):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    msg = f"{kind} id {i!r} appears more than once"
                    raise ModelError(msg)
                seen.add(i)
        providers = {p.provider for p in self.providers}
        for c in self.carers:
            if c.provider not in providers:
                msg = f"carer {c.carer_id}: unknown provider {c.provider!r}"
                raise ModelError(msg)
        carers = {c.carer_id for c in self.carers}
        visits = {v.visit_id for v in self.visits}
        for v in self.visits:
            if v.provider and v.provider not in providers:
                msg = f"visit {v.visit_id}: unknown provider {v.provider!r}"
                raise ModelError(msg)
            for cid in v.carer_ids:
                if cid not in carers:
                    msg = f"visit {v.visit_id}: unknown carer {cid!r}"
                    raise ModelError(msg)
            if v.follows and v.follows not in visits:
                msg = f"visit {v.visit_id}: follows unknown visit {v.follows!r}"
                raise ModelError(msg)

    # Look-ups -----------------------------------------------------------------------------

    @cached_property
    def _visit_by_id(self) -> dict[str, Visit]:
        return {v.visit_id: v for v in self.visits}

    @cached_property
    def _carer_by_id(self) -> dict[str, Carer]:
        return {c.carer_id: c for c in self.carers}

    @cached_property
    def _provider_by_id(self) -> dict[str, Provider]:
        return {p.provider: p for p in self.providers}

    def visit(self, visit_id: str) -> Visit:
        return self._visit_by_id[visit_id]

    def carer(self, carer_id: str) -> Carer:
        return self._carer_by_id[carer_id]

    def provider(self, provider: str) -> Provider:
        return self._provider_by_id[provider]

    @property
    def days(self) -> tuple[int, ...]:
        """Days that have at least one visit, Monday first."""
        return tuple(sorted({v.day for v in self.visits}))

    @cached_property
    def _visits_by_day(self) -> dict[int, tuple[Visit, ...]]:
        out: dict[int, list[Visit]] = {}
        for v in self.visits:
            out.setdefault(v.day, []).append(v)
        return {d: tuple(vs) for d, vs in out.items()}

    @cached_property
    def _visits_by_client(self) -> dict[str, tuple[Visit, ...]]:
        out: dict[str, list[Visit]] = {}
        for v in self.visits:
            out.setdefault(v.client_id, []).append(v)
        return {c: tuple(vs) for c, vs in out.items()}

    def visits_on(self, day: int) -> tuple[Visit, ...]:
        return self._visits_by_day.get(day, ())

    def visits_of_client(self, client_id: str) -> tuple[Visit, ...]:
        return self._visits_by_client.get(client_id, ())

    def carers_of_provider(self, provider: str) -> tuple[Carer, ...]:
        return tuple(c for c in self.carers if c.provider == provider)

    def carers_on(self, day: int) -> tuple[Carer, ...]:
        return tuple(c for c in self.carers if c.shifts_on(day))

    @property
    def client_ids(self) -> tuple[str, ...]:
        return tuple(sorted({v.client_id for v in self.visits}))

    def date_of(self, day: int) -> dt.date | None:
        """The calendar date of `day` when the roster knows its week, else None."""
        return None if self.week_start is None else self.week_start + dt.timedelta(days=day)

    def replace(
        self,
        *,
        visits: Iterable[Visit] | None = None,
        carers: Iterable[Carer] | None = None,
        providers: Iterable[Provider] | None = None,
    ) -> Roster:
        """A copy with some parts swapped (validated again)."""
        return Roster(
            visits=tuple(self.visits if visits is None else visits),
            carers=tuple(self.carers if carers is None else carers),
            providers=tuple(self.providers if providers is None else providers),
            week_start=self.week_start,
            name=self.name,
        )

    def summary(self) -> str:
        """A few lines a coordinator can read at a glance."""
        hours = sum(v.duration * v.carers_required for v in self.visits) / 3600
        lines = [
            f"Roster {self.name or '(unnamed)'}"
            + (f", week of {self.week_start.isoformat()}" if self.week_start else ""),
            f"  {len(self.visits)} visits for {len(self.client_ids)} clients,"
            f" {hours:.1f} carer-hours of contact",
            f"  {sum(v.double_handed for v in self.visits)} double-handed,"
            f" {sum(bool(v.follows) for v in self.visits)} linked,"
            f" {sum(v.pinned for v in self.visits)} pinned",
            f"  {len(self.carers)} carers from {len(self.providers)} providers",
        ]
        for p in self.providers:
            n_carers = len(self.carers_of_provider(p.provider))
            n_visits = sum(v.provider == p.provider for v in self.visits)
            lines.append(
                f"    {p.provider:<12} {p.kind.value:<9} {n_carers:>4} carers"
                f" {n_visits:>6} visits as-is"
            )
        lines.append(
            "  visits per day: "
            + ", ".join(f"{day_name(d)} {len(self.visits_on(d))}" for d in self.days)
        )
        return "\n".join(lines)


# Plans ------------------------------------------------------------------------------------


class UnassignedReason(StrEnum):
    """Why a visit has no carer in a plan."""

    NO_SKILL = "no carer has the skills"
    NO_SHIFT = "no carer's shift covers the window"
    EXCLUDED = "every suitable carer is excluded or of the wrong gender"
    LINK = "the visit it is linked to cannot be done"
    CAPACITY = "not enough carer time"
    NOT_IN_PLAN = "not planned (outside the days planned)"
    NO_CARER_ASIS = "no carer in the roster as it stands"


@dataclass(frozen=True, slots=True)
class Assignment:
    """One carer doing one visit: when they start and the travel to get there."""

    visit_id: str
    carer_id: str
    day: int
    start: int
    travel_before: int = 0
    distance_before: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.start <= LATEST_TIME:
            msg = f"assignment of visit {self.visit_id}: start {self.start} s is outside the day"
            raise ModelError(msg)
        if self.travel_before < 0:
            msg = f"assignment of visit {self.visit_id}: travel cannot be negative"
            raise ModelError(msg)


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A visit a plan leaves undone, with the reason."""

    visit_id: str
    reason: UnassignedReason


@dataclass(frozen=True)
class Plan:
    """Who does which visit, when: assignments plus the visits left undone.

    ``travel_home`` holds, per ``(carer_id, day)``, the travel seconds from the last visit back
    to base (the run's closing leg), so that travel totals need no matrix.
    """

    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...] = ()
    travel_home: Mapping[tuple[str, int], int] = field(default_factory=dict)
    distance_home: Mapping[tuple[str, int], float] = field(default_factory=dict)
    label: str = "plan"
    stats: Mapping[str, float] = field(default_factory=dict)

    def routes(self) -> dict[tuple[str, int], tuple[Assignment, ...]]:
        """Each carer's day in visiting order, keyed ``(carer_id, day)``."""
        runs: dict[tuple[str, int], list[Assignment]] = {}
        for a in self.assignments:
            runs.setdefault((a.carer_id, a.day), []).append(a)
        return {
            k: tuple(sorted(v, key=lambda a: (a.start, a.visit_id)))
            for k, v in sorted(runs.items())
        }

    def carers_of(self, visit_id: str) -> tuple[str, ...]:
        return tuple(sorted(a.carer_id for a in self.assignments if a.visit_id == visit_id))

    @property
    def travel_seconds(self) -> int:
        return sum(a.travel_before for a in self.assignments) + sum(self.travel_home.values())

    @property
    def distance_metres(self) -> float:
        return sum(a.distance_before for a in self.assignments) + sum(self.distance_home.values())

    def summary(self) -> str:
        n_visits = len({a.visit_id for a in self.assignments})
        return (
            f"Plan {self.label}: {n_visits} visits assigned in {len(self.routes())} carer-days,"
            f" {len(self.unassigned)} unassigned, travel {self.travel_seconds / 3600:.1f} h"
            f" ({self.distance_metres / 1000:.1f} km)"
        )

    def __str__(self) -> str:
        return self.summary()
