"""Geo mapping: every coverage overlay and the offline meeting map for a Rutland week.

A seeded synthetic week (:func:`carerun.synth.synth_roster`, ~300 clients) on the Rutland
OpenStreetMap extract (``../shared/data/osm``, see its PROVENANCE.md), as it stands today
(:func:`carerun.asis.asis_plan` on :func:`carerun.matrix.roster_matrix`), with its duplicate
multi-provider events (:func:`carerun.duplicates.find_duplicates`). Timed: all overlays
(:func:`carerun.geo.coverage_layers`), the map (:func:`carerun.maps.write_map`) and the
GeoPackage (:func:`carerun.geo.write_coverage`); each overlay function is also timed on its own.
Building the road network (with an empty cache), the matrix, the roster, the as-is plan and the
duplicates are reported apart, not in the timed total.

    python benchmarks/geo.py --json benchmarks/results/geo.json
    python benchmarks/geo.py --seed 1 --repeat 5

Targets: overlays + map under 30 s on a 2-core machine; ``map.html`` under 10 MB. Times are
medians of ``--repeat`` runs, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from carerun._io import atomic_write
from carerun.asis import asis_plan
from carerun.duplicates import find_duplicates
from carerun.geo import (
    LAYER_ORDER,
    coverage_layers,
    demand_cells,
    duplicate_points,
    isochrones,
    provider_areas,
    provider_overlap,
    roster_crs,
    route_lines,
    unmet_need_cells,
    write_coverage,
)
from carerun.maps import coverage_figures, write_map
from carerun.matrix import roster_matrix
from carerun.network import load_network
from carerun.synth import synth_roster

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OSM = REPO.parent / "shared" / "data" / "osm" / "rutland-latest.osm.pbf"
CLIENTS = 300
TARGET_SECONDS = 30.0
TARGET_MAP_MB = 10.0
MB = 1_000_000

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - began


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def run(osm: Path, *, seed: int, clients: int, cell_m: float, repeat: int) -> dict[str, Any]:
    """Prepare the week once, then time the overlays, map and GeoPackage `repeat` times."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: the build is timed in full
        network, network_s = _timed(partial(load_network, osm, cache_dir=cache))
        roster, synth_s = _timed(partial(synth_roster, network, clients=clients, seed=seed))
        matrix, matrix_s = _timed(partial(roster_matrix, network, roster, cache_dir=cache))
    plan, asis_s = _timed(lambda: asis_plan(roster, matrix))
    dups, dups_s = _timed(lambda: find_duplicates(roster, plan))
    crs = roster_crs(roster)
    kw: dict[str, Any] = {"plan": plan, "cell_m": cell_m, "crs": crs}
    steps: dict[str, Callable[[], Any]] = {
        "demand": lambda: demand_cells(roster, **kw),
        "provider_areas": lambda: provider_areas(roster, **kw),
        "overlap": lambda: provider_overlap(roster, **kw),
        "duplicates": lambda: duplicate_points(dups, crs=crs, cell_m=cell_m),
        "isochrones": lambda: isochrones(roster, network, crs=crs),
        "unmet_need": lambda: unmet_need_cells(roster, **kw),
        "routes": lambda: route_lines(roster, plan, network, crs=crs),
    }
    times: dict[str, list[float]] = {k: [] for k in ("overlays", "map", "gpkg", *steps)}
    layers: dict[str, Any] = {}
    map_bytes = gpkg_bytes = 0
    caught: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                layers, t = _timed(
                    partial(
                        coverage_layers,
                        roster,
                        plan=plan,
                        network=network,
                        duplicates=dups,
                        cell_m=cell_m,
                    )
                )
            caught = sorted({str(w.message) for w in seen})
            times["overlays"].append(t)
            figures = coverage_figures(layers, roster)
            html, t = _timed(
                partial(write_map, layers, Path(tmp) / "map.html", network=network, figures=figures)
            )
            times["map"].append(t)
            gpkg, t = _timed(partial(write_coverage, layers, Path(tmp) / "coverage.gpkg"))
            times["gpkg"].append(t)
            map_bytes, gpkg_bytes = html.stat().st_size, gpkg.stat().st_size
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name, step in steps.items():
                    times[name].append(_timed(step)[1])
    med = {k: _median(v) for k, v in times.items()}
    seconds = round(med["overlays"] + med["map"], 3)
    demand = layers["demand"]
    return {
        "seed": seed,
        "repeat": repeat,
        "cell_m": cell_m,
        "clients": len(roster.client_ids),
        "visits": len(roster.visits),
        "carers": len(roster.carers),
        "providers": len(roster.providers),
        "duplicate_events": len(dups),
        "seconds": seconds,
        "seconds_with_gpkg": round(seconds + med["gpkg"], 3),
        "overlays_seconds": med["overlays"],
        "map_seconds": med["map"],
        "gpkg_seconds": med["gpkg"],
        "step_seconds": {name: med[name] for name in steps},
        "all_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "map_mb": round(map_bytes / MB, 2),
        "gpkg_mb": round(gpkg_bytes / MB, 2),
        "rows": {name: len(layers[name]) for name in LAYER_ORDER if name in layers},
        "suppressed_cells": int(demand.attrs.get("suppressed_cells", 0)),
        "suppressed_hours": round(float(demand.attrs.get("suppressed_hours", 0.0)), 1),
        "demand_hours": round(float(demand["hours"].sum()), 1),
        "warnings": caught,
        "untimed_seconds": {
            "network": round(network_s, 3),
            "synth": round(synth_s, 3),
            "matrix": round(matrix_s, 3),
            "asis": round(asis_s, 3),
            "duplicates": round(dups_s, 3),
        },
        "target_seconds": TARGET_SECONDS,
        "target_map_mb": TARGET_MAP_MB,
        "met": seconds < TARGET_SECONDS and map_bytes / MB < TARGET_MAP_MB,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }


def format_table(r: dict[str, Any]) -> str:
    lines = [
        f"Geo overlays and map, Rutland week, seed {r['seed']}: {r['clients']} clients,"
        f" {r['visits']:,} visits, {r['carers']} carers, {r['providers']} providers,"
        f" {r['duplicate_events']} duplicate events; {r['cell_m']:g} m cells;"
        f" median of {r['repeat']}",
        f"{'step':<24} {'seconds':>8} {'rows':>6}",
    ]
    for name, s in r["step_seconds"].items():
        lines.append(f"  {name:<22} {s:>8.2f} {r['rows'].get(name, ''):>6}")
    for label, key in (
        ("all overlays", "overlays_seconds"),
        ("map.html", "map_seconds"),
        ("coverage.gpkg", "gpkg_seconds"),
    ):
        lines.append(f"{label:<24} {r[key]:>8.2f}")
    verdict = "met" if r["met"] else "NOT met"
    lines += [
        f"overlays + map: {r['seconds']:.2f} s (target < {r['target_seconds']:g} s);"
        f" map {r['map_mb']:.2f} MB (target < {r['target_map_mb']:g} MB): {verdict}",
        f"GeoPackage {r['gpkg_mb']:.2f} MB; hidden for privacy: {r['suppressed_hours']:,.0f} of"
        f" {r['suppressed_hours'] + r['demand_hours']:,.0f} h in {r['suppressed_cells']} cells",
        "untimed: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["untimed_seconds"].items()),
        f"load average {r['load_average'][0]:.1f} → {r['load_average'][1]:.1f} on {r['cpus']} CPUs",
    ]
    lines += [f"warning: {w}" for w in r["warnings"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, default=DEFAULT_OSM, help="OSM extract of Rutland")
    parser.add_argument("--seed", type=int, default=0, help="roster seed (default 0)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help=f"default {CLIENTS}")
    parser.add_argument("--cell-m", type=float, default=500.0, help="hexagon width (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take medians of (3)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not args.osm.is_file():
        print(f"geo: no OSM extract at {args.osm} (see ../shared/data/osm)", file=sys.stderr)
        return 2
    if args.repeat < 1:
        print("geo: --repeat must be 1 or more", file=sys.stderr)
        return 2
    result = run(
        args.osm, seed=args.seed, clients=args.clients, cell_m=args.cell_m, repeat=args.repeat
    )
    print(format_table(result))
    if args.json:
        with atomic_write(args.json) as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
