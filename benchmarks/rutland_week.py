"""Rutland week: a synthetic week of home care on Rutland's real roads, as-is against planned.

A seeded synthetic roster (:func:`carerun.synth.synth_roster`) on the Rutland OpenStreetMap
extract (``../shared/data/osm``, see its PROVENANCE.md) is played out as it stands today
(:func:`carerun.asis.asis_plan`) and planned with default settings
(:func:`carerun.solve.plan_week`, which checks its plan). Both are measured the same way: travel
minutes, travel per contact hour, duplicate multi-provider events, different carers per client and
unassigned visits.

    python benchmarks/rutland_week.py --json rutland_week.json
    python benchmarks/rutland_week.py --time-limit 5 --seed 1

The week has the issue's shape: 300 clients with the light care mix (mostly one call a day,
:data:`carerun.synth.LIGHT_CARE_MIX`), about 2,500 visits, and 45 carers. The counts actually
generated are printed and written to the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from carerun._errors import SolveError
from carerun._io import atomic_write
from carerun.asis import asis_plan, asis_within_rules
from carerun.continuity import continuity_summary, continuity_table
from carerun.duplicates import find_duplicates
from carerun.matrix import roster_matrix
from carerun.metrics import plan_kpis
from carerun.model import DAY_NAMES, Plan, Roster
from carerun.network import load_network
from carerun.solve import SolveParams, plan_week
from carerun.synth import LIGHT_CARE_MIX, synth_roster

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OSM = REPO.parent / "shared" / "data" / "osm" / "rutland-latest.osm.pbf"
CLIENTS = 300
CARERS = 45


def measure(roster: Roster, plan: Plan) -> dict[str, Any]:
    """The benchmark's figures for one plan (as-is or planned)."""
    kpis = plan_kpis(roster, plan)
    continuity = continuity_summary(continuity_table(roster, plan))
    events = len(find_duplicates(roster, plan))
    return {
        "travel_min": kpis["travel_min"],
        "travel_per_contact_hour": kpis["travel_per_contact_hour"],
        "contact_hours": kpis["contact_hours"],
        "duplicate_events": events,
        # Multi-provider groups that are not events: no provider's carers could be spared.
        "joint_working_groups": len(find_duplicates(roster, plan, joint=True)) - events,
        "carers_per_client": continuity["mean_carers"],
        "unassigned": kpis["visits_unassigned"],
        "late_visits": kpis["late_visits"],
    }


def run(
    osm: Path,
    *,
    seed: int,
    time_limit: float,
    clients: int,
    carers: int,
    drop_links: bool,
    days: list[int] | None = None,
) -> dict[str, Any]:
    began = time.perf_counter()
    network = load_network(osm)
    roster = synth_roster(
        network, clients=clients, carers=carers, seed=seed, care_mix=LIGHT_CARE_MIX
    )
    if drop_links:
        roster = roster.replace(
            visits=[dataclasses.replace(v, follows="", gap_min=0, gap_max=0) for v in roster.visits]
        )
    matrix = roster_matrix(network, roster)
    prepared = time.perf_counter() - began
    asis = asis_plan(roster, matrix, days=days)
    params = SolveParams(time_limit=time_limit, seed=seed)
    before = measure(roster, asis)
    # A visit the as-is staffs in full but the plan leaves undone is a regression.
    full_asis = {
        v.visit_id
        for v in roster.visits
        if len(v.carer_ids) == v.carers_required and (days is None or v.day in days)
    }
    within_rules = asis_within_rules(roster, matrix, days=days, asis=asis)
    error = ""
    lost_within_rules = None
    events_adding_care = None
    started = time.perf_counter()
    try:
        plan = plan_week(roster, matrix, params, days=days)
    except SolveError as exc:  # reported, not hidden: the figures then cover the as-is only
        error = str(exc)
    seconds = time.perf_counter() - started
    if error:
        after: dict[str, Any] = dict.fromkeys(before)
        lost = None
    else:
        after = measure(roster, plan)
        lost = sum(u.visit_id in full_asis for u in plan.unassigned)
        lost_within_rules = sum(u.visit_id in within_rules for u in plan.unassigned)
        # Events at a door where the plan does a visit the as-is leaves undone: the price of
        # more care, not a duplicate the roster had.
        done_asis = {a.visit_id for a in asis.assignments}
        events_adding_care = sum(
            any(v not in done_asis for v in e.visit_ids) for e in find_duplicates(roster, plan)
        )
    out: dict[str, Any] = {
        "seed": seed,
        "time_limit": time_limit,
        "clients": len(roster.client_ids),
        "visits": len(roster.visits),
        "carers": len(roster.carers),
        "providers": len(roster.providers),
        "double_handed": sum(v.double_handed for v in roster.visits),
        "linked": sum(bool(v.follows) for v in roster.visits),
        "links_dropped": drop_links,
        "days": "week" if days is None else ",".join(DAY_NAMES[d] for d in days),
        "asis_fully_staffed": len(full_asis),
    }
    for side, figures in (("asis", before), ("plan", after)):
        for key, value in figures.items():
            out[f"{side}_{key}"] = value
    out["plan_unassigned_done_asis"] = lost
    out["asis_within_rules"] = len(within_rules)
    out["plan_unassigned_done_asis_within_rules"] = lost_within_rules
    out["plan_duplicate_events_with_visits_asis_leaves_undone"] = events_adding_care
    out["plan_error"] = error
    out["seconds"] = round(seconds, 2)
    out["prepare_seconds"] = round(prepared, 2)
    return out


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return "-"
    return f"{100 * (after - before) / before:+.1f}%"


def format_table(r: dict[str, Any]) -> str:
    lines = [
        f"Rutland week, seed {r['seed']}: {r['clients']} clients, {r['visits']} visits"
        f" ({r['double_handed']} double-handed), {r['carers']} carers of {r['providers']}"
        f" providers; {r['days']}, {r['time_limit']:g} s per day"
        + (" (linked visits unlinked)" if r["links_dropped"] else ""),
        f"{'':<28} {'as-is':>10} {'plan':>10} {'change':>10}",
    ]
    for name, key in (
        ("travel minutes", "travel_min"),
        ("travel min / contact hour", "travel_per_contact_hour"),
        ("duplicate events", "duplicate_events"),
        ("joint-working groups", "joint_working_groups"),
        ("carers per client (mean)", "carers_per_client"),
        ("unassigned visits", "unassigned"),
        ("late visits", "late_visits"),
    ):
        b, a = r[f"asis_{key}"], r[f"plan_{key}"]
        cells = [
            "-" if x is None else f"{x:.1f}" if isinstance(x, float) else str(x) for x in (b, a)
        ]
        lines.append(f"{name:<28} {cells[0]:>10} {cells[1]:>10} {_change(b, a):>10}")
    if r["plan_error"]:
        lines.append(f"planning FAILED: {r['plan_error']}")
    else:
        lines.append(
            f"plan-unassigned visits the as-is staffs in full: {r['plan_unassigned_done_asis']}"
            f"; of them done within the rules as-is: "
            f"{r['plan_unassigned_done_asis_within_rules']}"
        )
        lines.append(
            "plan duplicate events with a visit the as-is leaves undone: "
            f"{r['plan_duplicate_events_with_visits_asis_leaves_undone']}"
        )
    lines.append(f"planning took {r['seconds']:.1f} s (+{r['prepare_seconds']:.1f} s to prepare)")
    return "\n".join(lines)


def _days(text: str) -> list[int]:
    names = [n.lower() for n in DAY_NAMES]
    return sorted({names.index(part.strip().lower()[:3]) for part in text.split(",")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, default=DEFAULT_OSM, help="OSM extract of Rutland")
    parser.add_argument("--seed", type=int, default=0, help="roster and solver seed (default 0)")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=SolveParams().time_limit,
        help="seconds of search per day sub-problem (default: SolveParams)",
    )
    parser.add_argument("--clients", type=int, default=CLIENTS, help=f"default {CLIENTS}")
    parser.add_argument("--carers", type=int, default=CARERS, help=f"default {CARERS}")
    parser.add_argument(
        "--drop-links",
        action="store_true",
        help="plan without linked visits (follows/gap), to see what links cost",
    )
    parser.add_argument("--days", help="plan only these days, e.g. Mon,Tue (default: the week)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not args.osm.is_file():
        print(
            f"rutland_week: no OSM extract at {args.osm} (see ../shared/data/osm)", file=sys.stderr
        )
        return 2
    result = run(
        args.osm,
        seed=args.seed,
        time_limit=args.time_limit,
        clients=args.clients,
        carers=args.carers,
        drop_links=args.drop_links,
        days=_days(args.days) if args.days else None,
    )
    print(format_table(result))
    if args.json:
        with atomic_write(args.json) as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
