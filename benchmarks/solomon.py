"""Solomon / Gehring-Homberger VRPTW benchmark: carerun's optimiser against best-known costs.

Each instance is adapted into a carerun roster (see ``_solomon_io``) and solved through
carerun's own solver path (``carerun._ortools.solve_day``, with a load dimension for the
vehicle capacities), objective distance only. PyVRP and VROOM run side by side on the same
integer matrix with the same time limit, so the comparison is measured in one run.

    python benchmarks/solomon.py --time-limit 10 --json solomon.json
    python benchmarks/solomon.py C101 R105 --no-baselines
    python benchmarks/solomon.py --repeat 3 --json solomon.json

A run of carerun at a time limit depends on how many moves fit in the time, so the same
instance can land a point apart from one run to the next. ``--repeat N`` solves each instance
N times (seeds ``seed`` to ``seed + N - 1``) and reports the median run; the baselines run once.

Data: ``../shared/data/solomon`` and ``../shared/data/homberger`` (see their PROVENANCE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _solomon_io import SCALE, Instance, read_bks, read_instance, route_distance, to_carerun
from carerun import _ortools
from carerun.check import assert_valid
from carerun.solve import METAHEURISTICS, SolveParams

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CARERUN_SHARED_DATA", REPO.parent / "shared" / "data"))


def solve_carerun(
    inst: Instance,
    seconds: float,
    seed: int = 0,
    portfolio: int = 2,
    metaheuristic: str = "ITERATED_LOCAL_SEARCH",
) -> dict[str, Any]:
    roster, matrix, demand, capacity = to_carerun(inst)
    params = SolveParams(
        time_limit=seconds,
        seed=seed,
        duplicate=0,
        continuity=0,
        unassigned=10_000_000,
        first_solution="SAVINGS",
        portfolio=portfolio,
        share_depots=True,
        metaheuristic=metaheuristic,
    )
    started = time.perf_counter()
    plan = _ortools.solve_day(roster, matrix, 0, params, demand=demand, capacity=capacity).plan
    took = time.perf_counter() - started
    assert_valid(roster, plan, matrix, params=params)
    routes = [[int(a.visit_id[1:]) for a in run] for run in plan.routes().values()]
    load_ok = all(sum(int(inst.demand[c]) for c in r) <= inst.capacity for r in routes)
    return {
        "routes": routes,
        "vehicles": len(routes),
        "cost": route_distance(inst, routes),
        "served": sum(len(r) for r in routes),
        "feasible": load_ok,
        "seconds": round(took, 2),
    }


def solve_pyvrp(inst: Instance, seconds: float, seed: int = 0) -> dict[str, Any]:
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    dist = inst.distances()
    m = Model()
    # One location per instance node (even where coordinates repeat), so indices match.
    locs = [m.add_location(x=float(inst.x[n]), y=float(inst.y[n])) for n in range(len(inst.x))]
    early, late = int(inst.ready[0]) * SCALE, int(inst.due[0]) * SCALE
    m.add_depot(locs[0], tw_early=early, tw_late=late)
    m.add_vehicle_type(
        num_available=inst.vehicles, capacity=inst.capacity, tw_early=early, tw_late=late
    )
    for n in range(1, inst.customers + 1):
        m.add_client(
            locs[n],
            delivery=int(inst.demand[n]),
            service_duration=int(inst.service[n]) * SCALE,
            tw_early=int(inst.ready[n]) * SCALE,
            tw_late=int(inst.due[n]) * SCALE,
        )
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            if i != j:
                m.add_edge(a, b, distance=int(dist[i, j]), duration=int(dist[i, j]))
    started = time.perf_counter()
    res = m.solve(stop=MaxRuntime(seconds), seed=seed, display=False)
    took = time.perf_counter() - started
    # Activities index clients from 0; customer numbers start at 1.
    routes = [[a.idx + 1 for a in r if a.is_client()] for r in res.best.routes()]
    return {
        "routes": routes,
        "vehicles": len(routes),
        "cost": route_distance(inst, routes),
        "served": sum(len(r) for r in routes),
        "feasible": bool(res.is_feasible()),
        "seconds": round(took, 2),
    }


def solve_vroom(inst: Instance, seconds: float) -> dict[str, Any]:
    import vroom

    dist = inst.distances()
    problem = vroom.Input()
    problem.set_durations_matrix("car", dist.tolist())
    for k in range(inst.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                k + 1,
                start=0,
                end=0,
                capacity=[inst.capacity],
                time_window=vroom.TimeWindow(int(inst.ready[0]) * SCALE, int(inst.due[0]) * SCALE),
            )
        )
    for n in range(1, inst.customers + 1):
        problem.add_job(
            vroom.Job(
                n,
                location=n,
                default_service=int(inst.service[n]) * SCALE,
                delivery=[int(inst.demand[n])],
                time_windows=[
                    vroom.TimeWindow(int(inst.ready[n]) * SCALE, int(inst.due[n]) * SCALE)
                ],
            )
        )
    started = time.perf_counter()
    sol = problem.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=seconds))
    took = time.perf_counter() - started
    steps = sol.routes
    routes = [
        [int(i) for i in g["id"] if i is not None and i == i]
        for _, g in steps[steps["type"] == "job"].groupby("vehicle_id")
    ]
    return {
        "routes": routes,
        "vehicles": len(routes),
        "cost": route_distance(inst, routes),
        "served": sum(len(r) for r in routes),
        "feasible": True,
        "seconds": round(took, 2),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run, ranked by customers served (most first), then cost; of an even
    number, the better of the middle two."""
    ranked = sorted(runs, key=lambda r: (-r["served"], r["cost"]))
    return ranked[(len(ranked) - 1) // 2]


def _cell(value: float | None, width: int, places: int) -> str:
    """A table cell: the number, or a dash where there is none (no BKS)."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{places}f}"


def _gap(cost: float, bks: float | None) -> float | None:
    return None if bks is None else round(100 * (cost - bks) / bks, 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="instances (default: every Solomon file)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--homberger", action="store_true", help="also the Gehring-Homberger files")
    ap.add_argument("--no-baselines", action="store_true", help="skip PyVRP and VROOM")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--portfolio",
        type=int,
        default=2,
        help="carerun searches side by side per instance (SolveParams.portfolio; default 2,"
        " one per core)",
    )
    ap.add_argument(
        "--metaheuristic",
        default="ITERATED_LOCAL_SEARCH",
        choices=METAHEURISTICS,
        help="SolveParams.metaheuristic (default ITERATED_LOCAL_SEARCH: with --portfolio 2,"
        " one search recreating by local and one by parallel cheapest insertion)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="carerun runs per instance, seeds counting up from --seed; the median run is"
        " reported, every run kept under 'runs' (default 1)",
    )
    ap.add_argument("--json", type=Path, help="write results here")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    files = sorted((DATA / "solomon").glob("*.txt"))
    if args.homberger:
        files += sorted((DATA / "homberger").glob("*.txt"))
    if args.names:
        wanted = {n.upper() for n in args.names}
        files = [f for f in files if f.stem.upper() in wanted]
    if not files:
        print(f"no instances found under {DATA}", file=sys.stderr)
        return 2
    bks = read_bks(DATA / "solomon" / "bks.csv")

    rows: list[dict[str, Any]] = []
    header = f"{'instance':<10} {'n':>4} {'BKS':>8} {'carerun':>9} {'gap%':>6} {'rt':>3} {'s':>5}"
    if not args.no_baselines:
        header += f" {'PyVRP':>9} {'gap%':>6} {'VROOM':>9} {'gap%':>6} {'vsPyVRP':>7}"
    print(header)
    for f in files:
        inst = read_instance(f)
        best = bks.get(f.stem.upper())
        row: dict[str, Any] = {"name": f.stem, "customers": inst.customers, "bks": best}
        runs = [
            solve_carerun(inst, args.time_limit, args.seed + i, args.portfolio, args.metaheuristic)
            for i in range(args.repeat)
        ]
        ours = _median_run(runs)
        row.update(ours, gap_pct=_gap(ours["cost"], best))
        if args.repeat > 1:
            row["runs"] = [
                {
                    "seed": args.seed + i,
                    "cost": r["cost"],
                    "gap_pct": _gap(r["cost"], best),
                    "served": r["served"],
                    "seconds": r["seconds"],
                }
                for i, r in enumerate(runs)
            ]
        line = (
            f"{f.stem:<10} {inst.customers:>4} {_cell(best, 8, 1)} {ours['cost']:>9.1f}"
            f" {_cell(row['gap_pct'], 6, 2)} {ours['vehicles']:>3}"
            f" {ours['seconds']:>5.1f}"
        )
        notes = []
        if args.repeat > 1:
            gaps = [r["gap_pct"] for r in row["runs"] if r["gap_pct"] is not None]
            notes += [f"carerun runs {min(gaps):.2f}-{max(gaps):.2f} %"] if gaps else []
        if ours["served"] != inst.customers:
            notes.append(f"served {ours['served']}/{inst.customers}")
        if not args.no_baselines:
            baselines = {
                "pyvrp": solve_pyvrp(inst, args.time_limit, args.seed),
                "vroom": solve_vroom(inst, args.time_limit),
            }
            for key, res in baselines.items():
                res["gap_pct"] = _gap(res["cost"], best)
                row[key] = res
                line += f" {res['cost']:>9.1f} {_cell(res['gap_pct'], 6, 2)}"
            # carerun against PyVRP in the same run: a ratio even where no BKS is known.
            row["vs_pyvrp_pct"] = round(100 * (ours["cost"] / baselines["pyvrp"]["cost"] - 1), 2)
            line += f" {row['vs_pyvrp_pct']:>7.2f}"
        rows.append(row)
        print(line + "".join(f"  ({note})" for note in notes), flush=True)

    def mean(key: str, sub: str | None = None) -> float | None:
        vals = [(r[sub] if sub else r)["gap_pct"] for r in rows if r["bks"] is not None]
        return round(statistics.fmean(vals), 2) if vals else None

    summary: dict[str, Any] = {"carerun_mean_gap_pct": mean("gap_pct")}
    if args.repeat > 1:
        # The mean over instances of each seed's runs: the spread a single run can show.
        summary["carerun_mean_gap_pct_by_seed"] = [
            round(
                statistics.fmean(r["runs"][i]["gap_pct"] for r in rows if r["bks"] is not None),
                2,
            )
            for i in range(args.repeat)
        ]
    if not args.no_baselines:
        summary["pyvrp_mean_gap_pct"] = mean("gap_pct", "pyvrp")
        summary["vroom_mean_gap_pct"] = mean("gap_pct", "vroom")
        summary["carerun_vs_pyvrp_mean_pct"] = round(
            statistics.fmean(r["vs_pyvrp_pct"] for r in rows), 2
        )
    served_all = all(r["served"] == r["customers"] for r in rows)
    print(f"mean gap to BKS: {summary}; every customer served: {served_all}")
    if args.json:
        out = {
            "time_limit": args.time_limit,
            "portfolio": args.portfolio,
            "metaheuristic": args.metaheuristic,
            "repeat": args.repeat,
            "instances": rows,
            "summary": summary,
        }
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
