"""Council scale: a synthetic week of about 10,000 visits on Rutland's roads, planned end to end.

The week (about 1,200 clients at the light care mix, 170 carers, seed fixed) is planned by
:func:`carerun.solve.plan_week` split into days and, within a day, areas of at most
``--max-visits`` visits, solved in parallel worker processes. The cost of splitting is measured
against a reference in the same run: each day solved whole, in one model, with a long time limit.

    python benchmarks/council_week.py --json council_week.json
    python benchmarks/council_week.py --workers 1 2 --reference-time-limit 300

Reported: wall-clock seconds end to end (roster, roads, matrix, plan, check), peak memory of this
process and its worker processes, travel per contact hour of the split plan and of the reference,
and ``split_cost_pct`` (how much worse the split plan's travel per contact hour is). Targets:
at most 15 minutes and 6 GB on the 2-core machine; split cost within 3%. The road network and the
Rutland extract are described in ``../shared/data/osm/PROVENANCE.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from carerun._io import atomic_write
from carerun.matrix import roster_matrix
from carerun.metrics import plan_kpis
from carerun.model import Roster
from carerun.network import load_network
from carerun.solve import SolveParams, plan_week
from carerun.synth import LIGHT_CARE_MIX, synth_roster

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OSM = REPO.parent / "shared" / "data" / "osm" / "rutland-latest.osm.pbf"


def peak_memory_mb() -> float:
    """Peak resident memory of this process plus its largest finished child (MB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + children) / 1024, 1)


def tpch(roster: Roster, plan: Any) -> float:
    return float(plan_kpis(roster, plan)["travel_per_contact_hour"] or 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--osm", type=Path, default=DEFAULT_OSM)
    ap.add_argument("--clients", type=int, default=1200)
    ap.add_argument("--carers", type=int, default=170)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds per area sub-problem")
    ap.add_argument("--max-visits", type=int, default=350, help="largest area sub-problem")
    ap.add_argument("--workers", type=int, nargs="+", default=[2], help="worker counts to compare")
    ap.add_argument(
        "--reference-time-limit",
        type=float,
        default=240.0,
        help="seconds per whole-day reference solve (0 skips the reference)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not args.osm.exists():
        print(f"no OSM extract at {args.osm}; pass --osm", file=sys.stderr)
        return 2

    began = time.perf_counter()
    network = load_network(args.osm)
    roster = synth_roster(
        network, clients=args.clients, carers=args.carers, seed=args.seed, care_mix=LIGHT_CARE_MIX
    )
    matrix = roster_matrix(network, roster)
    prepared = time.perf_counter() - began
    print(
        f"{len(roster.visits)} visits, {len(roster.client_ids)} clients, {len(roster.carers)}"
        f" carers; roads + roster + matrix {prepared:.1f} s",
        file=sys.stderr,
    )
    params = SolveParams(time_limit=args.time_limit, seed=args.seed)
    runs = []
    for workers in args.workers:
        t0 = time.perf_counter()
        plan = plan_week(roster, matrix, params, workers=workers, max_visits=args.max_visits)
        seconds = time.perf_counter() - t0
        runs.append(
            {
                "workers": workers,
                "plan_seconds": round(seconds, 1),
                "travel_per_contact_hour": round(tpch(roster, plan), 3),
                "unassigned": len(plan.unassigned),
                "parts": int(plan.stats.get("parts", 0)),
            }
        )
        print(f"  {workers} worker(s): {seconds:.0f} s, {runs[-1]}", file=sys.stderr)
    main_run = runs[-1]
    reference = None
    if args.reference_time_limit > 0:
        ref_params = SolveParams(time_limit=args.reference_time_limit, seed=args.seed)
        t0 = time.perf_counter()
        ref_plan = plan_week(
            roster, matrix, ref_params, workers=max(args.workers), max_visits=10**9
        )
        reference = {
            "seconds": round(time.perf_counter() - t0, 1),
            "travel_per_contact_hour": round(tpch(roster, ref_plan), 3),
            "unassigned": len(ref_plan.unassigned),
        }
    record: dict[str, Any] = {
        "visits": len(roster.visits),
        "clients": len(roster.client_ids),
        "carers": len(roster.carers),
        "prepare_seconds": round(prepared, 1),
        "seconds": round(prepared + main_run["plan_seconds"], 1),
        "peak_memory_mb": peak_memory_mb(),
        "travel_per_contact_hour": main_run["travel_per_contact_hour"],
        "unassigned": main_run["unassigned"],
        "runs": runs,
        "reference_time_limit": args.reference_time_limit,
        "reference_travel_per_contact_hour": None
        if reference is None
        else reference["travel_per_contact_hour"],
        "reference": reference,
        "split_cost_pct": None
        if reference is None or not reference["travel_per_contact_hour"]
        else round(
            (main_run["travel_per_contact_hour"] / reference["travel_per_contact_hour"] - 1) * 100,
            2,
        ),
    }
    if len(runs) > 1:
        one = next((r for r in runs if r["workers"] == 1), None)
        if one is not None:
            record["speedup"] = {
                str(r["workers"]): round(one["plan_seconds"] / r["plan_seconds"], 2) for r in runs
            }
    print(f"{'measure':<40} {'value':>12}")
    for key in (
        "visits",
        "carers",
        "seconds",
        "peak_memory_mb",
        "travel_per_contact_hour",
        "reference_travel_per_contact_hour",
        "split_cost_pct",
        "unassigned",
    ):
        print(f"{key:<40} {record[key]!s:>12}")
    for r in runs:
        print(f"{'plan seconds, ' + str(r['workers']) + ' worker(s)':<40} {r['plan_seconds']:>12}")
    if args.json:
        with atomic_write(args.json, encoding="utf-8") as fh:
            json.dump(record, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
