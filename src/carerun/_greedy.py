"""carerun's own first solution of a day: cheapest insertion that honours every hard rule.

OR-Tools' first-solution strategies know nothing of synchronised visits (double-handed copies
starting together, linked visits a gap apart) and often find no solution at all on a day that
has many; this one always does, and the search (:mod:`carerun._ortools`) starts from it.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from carerun._day import Vehicle
from carerun._parts import tied_closure
from carerun.model import Mode, Visit
from carerun.solve import SolveParams

# Orders in which the greedy first solution takes the visits (see Greedy.run).
ORDERS = ("hardest", "time")
# A run re-timed with one more stop: its nodes, their earliest and latest starts, its span.
_State = tuple[list[int], list[int], list[int], int]
# Cheapest places of a visit that others follow tried for one that leaves them a place, before
# the cheapest place is taken regardless (each try looks at every run).
LOOKAHEAD_PLACES = 20
# Cheapest places per vehicle tried when pairing the two carers of a double-handed visit.
PAIR_OPTIONS = 4
# rebuild_tied: groups of tied visits and other visits taken out at most per try, tries in a
# row finding nothing lower that end it, and how far above the lowest plan a try may be taken.
# Measured on Italian 015, 020, 025, 029 at 60 s (benchmarks/README.md).
TIE_GROUPS = 4
TIE_SINGLES = 10
TIE_FAILURES = 3000
TIE_SLACK = 0.03


class Greedy:
    """A first solution that honours every hard rule, built by cheapest insertion.

    Visits go in order of difficulty (pinned, double-handed, linked, the rest) or, with
    ``order="time"``, pinned first and the rest together; then by priority and window. Each
    goes where it adds least cost (travel, unary costs, lateness); a follower waits for the
    visit it follows.
    A run keeps, per stop, its earliest and latest feasible start, so trying a place costs
    O(1) and only a chosen insertion re-times the run. Where lateness is allowed and charged
    (and `delays`), an insertion also delays the stops after it, perhaps past their windows:
    the cheapest places are then re-timed, in order of their cost without that, until the next
    costs more without it than the best so far with it (a delay never makes a stop less late).
    Synchronised stops (double-handed copies, linked visits) are fixed at the start chosen for
    them, so later insertions cannot move them apart.
    """

    def __init__(
        self,
        nodes: list[tuple[Visit, int]],
        vehicles: list[Vehicle],
        travel: Mapping[Mode, np.ndarray],
        allowed_of: list[list[int]],
        extra: np.ndarray,
        limits: Mapping[str, int],
        params: SolveParams,
        late: int,
        load: list[int] | None,
        caps: list[int] | None,
        *,
        delays: bool,
    ) -> None:
        self.nodes, self.vehicles, self.allowed_of = nodes, vehicles, allowed_of
        self.params, self.limits = params, limits
        self.load, self.caps = load, caps
        lists = {m: t.tolist() for m, t in travel.items()}
        self.tr: list[list[list[int]]] = [lists[veh.carer.mode] for veh in vehicles]
        self.extra: list[list[int]] = extra.tolist()
        n = len(nodes)
        self.base = [n + k for k in range(len(vehicles))]
        self.dur = [v.duration for v, _ in nodes] + [0] * len(vehicles)
        self.due = [v.window.end for v, _ in nodes]
        self.lo: list[int] = []
        self.hi: list[int] = []
        for v, _ in nodes:
            if v.fixed_start is not None:
                self.lo.append(v.fixed_start)
                self.hi.append(v.fixed_start)
            else:
                self.lo.append(v.window.start)
                self.hi.append(v.window.end + late)
        self.runs: list[list[int]] = [[] for _ in vehicles]
        self.early: list[list[int]] = [[] for _ in vehicles]
        self.latest: list[list[int]] = [[] for _ in vehicles]
        self.span = [0] * len(vehicles)
        self.worked: dict[str, int] = {}
        self.loaded = [0] * len(vehicles)
        # Whether an insertion is charged the lateness it causes further along its run.
        self.delays = delays and params.lateness > 0 and late > 0
        self.start_of: dict[str, int] = {}  # visit id -> start of its copy 0, once placed
        self.carers_of: dict[str, set[str]] = {}  # visit id -> carers doing it, once placed
        self.copies: dict[str, list[int]] = {}  # visit id -> its nodes
        for node, (v, _) in enumerate(nodes):
            self.copies.setdefault(v.visit_id, []).append(node)
        self.kept: set[int] = set()  # nodes kept from a plan (see keep)
        self.following: dict[str, list[Visit]] = {}  # visit id -> the visits that follow it
        for v, k in nodes:
            if k == 0 and v.follows in self.copies:
                self.following.setdefault(v.follows, []).append(v)

    def keep(self, runs: Sequence[Sequence[int]], starts: Mapping[int, int]) -> bool:
        """Start from `runs` (nodes per vehicle, in visiting order), each node in `starts` (the
        synchronised ones) held at its start there; :meth:`run` then places the rest. Every
        copy of a visit, and every visit tied to it, must be kept or left out together.
        False (nothing kept) when a run cannot be timed so."""
        bounds = {x: (self.lo[x], self.hi[x]) for x in starts}
        for x, t in starts.items():
            self.lo[x] = self.hi[x] = t
        states: list[_State] = []
        for k, run in enumerate(runs):
            timed = self._retime(k, list(run))
            if timed is None:
                for x, (lo, hi) in bounds.items():
                    self.lo[x], self.hi[x] = lo, hi
                return False
            states.append((list(run), *timed))
        for k, state in enumerate(states):
            cid = self.vehicles[k].carer.carer_id
            self.worked[cid] = self.worked.get(cid, 0) + state[3]
            self.runs[k], self.early[k], self.latest[k], self.span[k] = state
            for x in state[0]:
                if self.load is not None:
                    self.loaded[k] += self.load[x]
                self.carers_of.setdefault(self.nodes[x][0].visit_id, set()).add(cid)
                self.kept.add(x)
        for x, t in starts.items():
            v, copy = self.nodes[x]
            if copy == 0:
                self.start_of[v.visit_id] = t
        return True

    def run(self, *, order: str = "hardest", early: Collection[str] = ()) -> list[list[int]]:
        """Place every visit it can (but those kept, see :meth:`keep`); `order` ``"hardest"``
        takes pinned visits first, then double-handed ones and those in `early`, then linked
        ones; ``"time"`` only pinned ones first; then by priority and window."""
        copies, leaders = self.copies, self.following
        visits = {
            v.visit_id: v
            for v, _ in self.nodes
            if not all(x in self.kept for x in copies[v.visit_id])
        }

        def rank(v: Visit) -> tuple[int, int, int, int, str]:
            linked = bool(v.follows) or v.visit_id in leaders
            kind = (
                0
                if v.pinned
                else 1
                if v.double_handed or v.visit_id in early
                else 2
                if linked
                else 3
            )
            if order == "time":
                kind = min(kind, 1)
            return (kind, -v.priority, v.window.start, v.window.end, v.visit_id)

        waiting: dict[str, list[Visit]] = {}
        done = {v.visit_id for v, _ in self.nodes if v.visit_id not in visits}
        queue = sorted(visits.values(), key=rank)
        while queue:
            v = queue.pop(0)
            linked = v.follows in self.copies
            if linked and v.follows not in done:
                waiting.setdefault(v.follows, []).append(v)
                continue
            done.add(v.visit_id)
            self._place(v, copies[v.visit_id], linked=linked, fixed=linked or v.visit_id in leaders)
            # The visits following this one go next, before others take the places left
            # for them (see _followers_fit).
            after = waiting.pop(v.visit_id, [])
            if v.visit_id in self.following:
                after += [f for f in queue if f.follows == v.visit_id]
                queue = [f for f in queue if f.follows != v.visit_id]
            queue[:0] = sorted(after, key=rank)
        return self.runs

    def cost(self) -> int:
        """The objective of the runs built, as OR-Tools counts it, each stop at its earliest
        start (OR-Tools may time stops tied to others better)."""
        placed = {x for run in self.runs for x in run}
        total = sum(
            self.params.unassigned * max(1, v.priority)
            for x, (v, _) in enumerate(self.nodes)
            if x not in placed
        )
        for k, run in enumerate(self.runs):
            tr, stops = self.tr[k], [self.base[k], *run, self.base[k]]
            total += self.params.travel * sum(tr[a][b] for a, b in itertools.pairwise(stops))
            total += sum(self.extra[k][x] for x in run)
            total += self.params.lateness * self._lateness(k)
        return total

    def _place(self, v: Visit, nodes: list[int], *, linked: bool, fixed: bool) -> None:
        banned: Collection[str] = ()
        if linked and v.link_other_carer:
            banned = self.carers_of.get(v.follows, set())
        if linked:
            if v.follows not in self.start_of:
                return  # its predecessor is undone, so it is too
            t = self.start_of[v.follows]
            for x in nodes:
                self.lo[x] = max(self.lo[x], t + v.gap_min)
                self.hi[x] = min(self.hi[x], t + v.gap_max)
                if self.lo[x] > self.hi[x]:
                    return
        if len(nodes) == 1:
            self._place_one(v, nodes[0], fixed=fixed, banned=banned)
        else:
            self._place_pair(v, nodes[0], nodes[1], banned=banned)

    def _options(self, k: int, x: int) -> list[tuple[int, int, int, int]]:
        """Feasible places of node `x` in run `k`: (cost, earliest, latest start, position)."""
        if (
            self.load is not None
            and self.caps is not None
            and self.loaded[k] + self.load[x] > self.caps[k]
        ):
            return []
        tr, base, shift = self.tr[k], self.base[k], self.vehicles[k].shift
        run, early, latest, dur = self.runs[k], self.early[k], self.latest[k], self.dur
        lo, hi = self.lo[x], self.hi[x]
        weight, lateness, unary = self.params.travel, self.params.lateness, self.extra[k][x]
        out = []
        for p in range(len(run) + 1):
            if p:
                a = run[p - 1]
                if early[p - 1] > hi:
                    break  # every later place starts later still
                arrive = early[p - 1] + dur[a] + tr[a][x]
            else:
                a = base
                arrive = shift.start + tr[base][x]
            if p < len(run):
                b = run[p]
                leave_by = latest[p] - tr[x][b] - dur[x]
            else:
                b = base
                leave_by = shift.end - tr[x][base] - dur[x]
            first, last = max(lo, arrive), min(hi, leave_by)
            if first > last:
                continue
            cost = (tr[a][x] + tr[x][b] - tr[a][b]) * weight + unary
            cost += lateness * max(0, first - self.due[x])
            out.append((cost, first, last, p))
        return out

    def _retime(self, k: int, run: list[int]) -> tuple[list[int], list[int], int] | None:
        """Earliest and latest starts of `run` on vehicle `k` and its least span, or None."""
        tr, base, shift, dur = self.tr[k], self.base[k], self.vehicles[k].shift, self.dur
        early: list[int] = []
        t, prev = shift.start, base
        for x in run:
            s = max(self.lo[x], t + tr[prev][x])
            if s > self.hi[x]:
                return None
            early.append(s)
            t, prev = s + dur[x], x
        if t + tr[prev][base] > shift.end:
            return None
        if not run:
            return [], [], 0
        latest = [0] * len(run)
        due, nxt = shift.end, base
        for i in range(len(run) - 1, -1, -1):
            x = run[i]
            due = min(self.hi[x], due - tr[x][nxt] - dur[x])
            latest[i], nxt = due, x
        # Leaving as late as possible gives the least span (waiting only shrinks).
        depart = latest[0] - tr[base][run[0]]
        t, prev = depart, base
        for x in run:
            t = max(self.lo[x], t + tr[prev][x]) + dur[x]
            prev = x
        return early, latest, t + tr[prev][base] - depart

    def _try(self, k: int, x: int, p: int, at: int | None) -> _State | None:
        saved = self.lo[x], self.hi[x]
        if at is not None:
            self.lo[x] = self.hi[x] = at
        run = [*self.runs[k][:p], x, *self.runs[k][p:]]
        timed = self._retime(k, run)
        self.lo[x], self.hi[x] = saved
        if timed is None:
            return None
        cid = self.vehicles[k].carer.carer_id
        limit = self.limits.get(cid)
        if limit is not None and self.worked.get(cid, 0) - self.span[k] + timed[2] > limit:
            return None
        return run, timed[0], timed[1], timed[2]

    def _apply(self, k: int, x: int, at: int | None, state: _State) -> None:
        if at is not None:
            self.lo[x] = self.hi[x] = at
        cid = self.vehicles[k].carer.carer_id
        self.worked[cid] = self.worked.get(cid, 0) - self.span[k] + state[3]
        self.runs[k], self.early[k], self.latest[k], self.span[k] = state
        if self.load is not None:
            self.loaded[k] += self.load[x]
        self.carers_of.setdefault(self.nodes[x][0].visit_id, set()).add(cid)

    def _place_one(self, v: Visit, x: int, *, fixed: bool, banned: Collection[str] = ()) -> None:
        options = sorted(
            (cost, first, last, k, p)
            for k in self._open(x, banned)
            for cost, first, last, p in self._options(k, x)
        )
        best: tuple[int, int, int, int | None, _State] | None = None
        for lookahead in self._lookaheads(v):
            aligned = self._aligned(v) if lookahead else []
            for tried, (cost, first, last, k, p) in enumerate(options):
                if best is not None and cost >= best[0]:
                    break
                if lookahead and tried == LOOKAHEAD_PLACES:
                    break
                carer = {self.vehicles[k].carer.carer_id}
                start = self._start(v, first, last, carer, aligned) if lookahead else first
                if start is None:
                    continue
                at = start if fixed else None
                state = self._try(k, x, p, at)
                if state is None:
                    continue
                own = self.params.lateness * max(0, first - self.due[x])
                best = (cost - own + self._late_cost(k, state), k, p, at, state)
                if not self.delays:
                    break
            if best is not None:
                break
        if best is not None:
            _, k, p, at, state = best
            self._apply(k, x, at, state)
            if fixed:
                self.start_of[v.visit_id] = state[1][p]

    def _open(self, x: int, banned: Collection[str]) -> list[int]:
        """Vehicles allowed for node `x` whose carer is not `banned`."""
        return [k for k in self.allowed_of[x] if self.vehicles[k].carer.carer_id not in banned]

    def _place_pair(self, v: Visit, x: int, y: int, *, banned: Collection[str] = ()) -> None:
        """Both copies on two different carers at one start, at least total cost."""
        mine = {
            (node, k): sorted(self._options(k, node))[:PAIR_OPTIONS]
            for node in (x, y)
            for k in self._open(node, banned)
        }
        combos = []
        for kx in self._open(x, banned):
            for ky in self._open(y, banned):
                if self.vehicles[kx].carer.carer_id == self.vehicles[ky].carer.carer_id:
                    continue
                for cx, fx, lx, px in mine[x, kx]:
                    for cy, fy, ly, py in mine[y, ky]:
                        first, last = max(fx, fy), min(lx, ly)
                        if first <= last:
                            own = max(0, fx - self.due[x]) + max(0, fy - self.due[y])
                            combos.append((cx + cy, first, last, kx, px, ky, py, own))
        combos.sort()
        best: tuple[int, int, int, _State, int, _State] | None = None
        for lookahead in self._lookaheads(v):
            aligned = self._aligned(v) if lookahead else []
            for tried, (cost, earliest, last, kx, px, ky, py, own) in enumerate(combos):
                if best is not None and cost >= best[0]:
                    break
                if lookahead and tried == LOOKAHEAD_PLACES:
                    break
                carers = {self.vehicles[kx].carer.carer_id, self.vehicles[ky].carer.carer_id}
                start = self._start(v, earliest, last, carers, aligned) if lookahead else earliest
                if start is None:
                    continue
                sx = self._try(kx, x, px, start)
                sy = self._try(ky, y, py, start) if sx is not None else None
                if sx is None or sy is None:
                    continue
                late = self._late_cost(kx, sx) + self._late_cost(ky, sy)
                best = (cost - self.params.lateness * own + late, start, kx, sx, ky, sy)
                if not self.delays:
                    break
            if best is not None:
                break
        if best is not None:
            _, first, kx, sx, ky, sy = best
            self._apply(kx, x, first, sx)
            self._apply(ky, y, first, sy)
            self.start_of[v.visit_id] = first

    def _lateness(self, k: int, state: _State | None = None) -> int:
        """Seconds late over the stops of run `k` (or of `state`, a re-timed run of `k`), each
        at its earliest start."""
        run, early = (self.runs[k], self.early[k]) if state is None else state[:2]
        return sum(max(0, t - self.due[x]) for x, t in zip(run, early, strict=True))

    def _late_cost(self, k: int, state: _State) -> int:
        """What run `k` costs in lateness more as `state` (the run re-timed with one more stop)
        than as it is; 0 where lateness is not charged."""
        if not self.delays:
            return 0
        return self.params.lateness * (self._lateness(k, state) - self._lateness(k))

    def _lookaheads(self, v: Visit) -> tuple[bool, ...]:
        """Whether to look ahead to the visits following `v` in each pass over its places: a
        visit others follow first looks for a place that leaves them one, then any place."""
        return (True, False) if v.visit_id in self.following else (False,)

    def _aligned(self, v: Visit) -> list[tuple[int, int]]:
        """Ranges of starts of `v` that would let some visit following it start in a place it
        has as the runs stand."""
        return [
            (first - f.gap_max, last - f.gap_min)
            for f in self.following.get(v.visit_id, ())
            for x in self.copies[f.visit_id]
            for k in self._open(x, ())
            for _, first, last, _ in self._options(k, x)
        ]

    def _start(
        self,
        v: Visit,
        first: int,
        last: int,
        carers: Collection[str],
        aligned: list[tuple[int, int]],
    ) -> int | None:
        """The earliest start of `v` in `first` … `last`, done by `carers`, that leaves the
        visits following it a place: `first`, else the earliest such start among `aligned`
        (see _aligned); None if neither does."""
        if self._followers_fit(v, first, carers):
            return first
        start = min(
            (max(first, a) for a, b in aligned if max(first, a) <= min(last, b)), default=None
        )
        return start if start is not None and self._followers_fit(v, start, carers) else None

    def _followers_fit(self, v: Visit, start: int, carers: Collection[str]) -> bool:
        """Whether each visit following `v`, were `v` to start at `start` done by `carers`,
        still has a place (a carer for each copy) as the runs stand, `v` not yet among them."""
        for f in self.following.get(v.visit_id, ()):
            banned = carers if f.link_other_carer else ()
            nodes = self.copies[f.visit_id]
            able: set[str] = set()
            for x in nodes:
                saved = self.lo[x], self.hi[x]
                self.lo[x] = max(self.lo[x], start + f.gap_min)
                self.hi[x] = min(self.hi[x], start + f.gap_max)
                if self.lo[x] <= self.hi[x]:
                    able.update(
                        self.vehicles[k].carer.carer_id
                        for k in self._open(x, banned)
                        if self._options(k, x)
                    )
                self.lo[x], self.hi[x] = saved
            if len(able) < len(nodes):
                return False
        return True


def rebuild_tied(
    make: Callable[[], Greedy],
    runs: Sequence[Sequence[int]],
    starts: Mapping[int, int],
    *,
    partners: Sequence[Sequence[int]],
    near: np.ndarray,
    rng: random.Random,
    deadline: float,
) -> list[list[int]] | None:
    """Move synchronised visits where OR-Tools cannot: until `deadline`, or until
    TIE_FAILURES tries in a row find nothing lower, take up to TIE_GROUPS groups of visits tied
    together (nearest a random one) and up to TIE_SINGLES other visits near it out of the plan,
    and let a greedy from `make` put them back among the rest, kept as they are. A try is
    taken when the greedy values it at most TIE_SLACK above the lowest plan seen, so the plan
    wanders off its local optimum (record-to-record travel).

    `runs` are nodes per vehicle and `starts` the start of each tied node in them; `near` is a
    travel matrix to rank nodes by. Returns the lowest plan found, if lower than `runs`, else
    where the walk ended (for a search to start from), or None when no try was taken.

    OR-Tools' moves take one node at a time, so they cannot move a double-handed visit or a
    linked pair to other carers at another time: each copy alone breaks the tie.
    """
    current = make()
    if not current.keep(runs, starts):
        return None
    lowest = current.cost()
    walk, found = [list(r) for r in runs], dict(starts)
    best: list[list[int]] | None = None
    failures, moved = 0, False
    while failures < TIE_FAILURES and time.perf_counter() < deadline:
        groups = _tied_groups([x for run in walk for x in run], partners)
        if not groups:
            break
        around = rng.choice(groups)[0]
        groups.sort(key=lambda g: near[around, g[0]])
        out = {x for g in groups[: rng.randint(1, TIE_GROUPS)] for x in g}
        singles = sorted((x for run in walk for x in run if not partners[x]), key=near[around].item)
        out.update(singles[: rng.randint(0, TIE_SINGLES)])
        greedy = make()
        if not greedy.keep(
            [[x for x in run if x not in out] for run in walk],
            {x: t for x, t in found.items() if x not in out},
        ):
            break
        greedy.run(order=rng.choice(ORDERS))
        trial = greedy.cost()
        failures = 0 if trial < lowest else failures + 1
        if trial > lowest * (1 + TIE_SLACK):
            continue
        moved, walk = True, [list(r) for r in greedy.runs]
        found = {
            x: t
            for run, early in zip(greedy.runs, greedy.early, strict=True)
            for x, t in zip(run, early, strict=True)
            if partners[x]
        }
        if trial < lowest:
            lowest, best = trial, walk
    if best is not None:
        return best
    return walk if moved else None


def _tied_groups(placed: Sequence[int], partners: Sequence[Sequence[int]]) -> list[list[int]]:
    """The groups of `placed` nodes tied together (see :func:`carerun._parts.tied_closure`),
    each a sorted list, in order of their first node."""
    seen: set[int] = set()
    groups = []
    for x in sorted(placed):
        if x not in seen and partners[x]:
            group = tied_closure([x], partners)
            seen |= group
            groups.append(sorted(group))
    return groups
