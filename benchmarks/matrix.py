"""Road-graph build and many-to-many travel matrices on Rutland, against networkx's Dijkstra.

Measures, in one run: building the driving graph from the Rutland extract (empty cache, then
cached), and :func:`carerun.matrix.travel_matrix` for n random visit locations (seeded, near
graph nodes) against the networkx baseline, ``nx.single_source_dijkstra_path_length`` from every
distinct source node on the same whole-millisecond weights. The baseline is timed on a sample of
sources and extrapolated linearly to all sources when the full run would pass ``--nx-budget``
seconds (the output says so); it is charged for Dijkstra only, not for snapping, which favours
it. Every timing is the median of ``--repeats`` runs (the machine is shared and noisy); peak
memory is tracemalloc's peak over one more, untimed run.

    python benchmarks/matrix.py --json benchmarks/results/matrix.json
    python benchmarks/matrix.py --sizes 500 --repeats 1

Data: ``../shared/data/osm/rutland-latest.osm.pbf`` (© OpenStreetMap contributors, ODbL; see
``../shared/data/osm/PROVENANCE.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx

from carerun import settings as carerun_settings
from carerun.matrix import snap_points, travel_matrix
from carerun.model import Mode
from carerun.network import RoadNetwork, network_from_file

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CARERUN_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OSM = DATA / "osm" / "rutland-latest.osm.pbf"


def median_time(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall-clock seconds of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def sample_points(network: RoadNetwork, n: int, seed: int) -> list[tuple[float, float]]:
    """`n` visit doors within ~100 m of random driving-graph nodes."""
    graph = network.graph(Mode.DRIVE)
    rng = random.Random(seed)
    nodes = list(graph.nodes)
    points = []
    for _ in range(n):
        d = graph.nodes[rng.choice(nodes)]
        points.append((d["y"] + rng.uniform(-0.001, 0.001), d["x"] + rng.uniform(-0.001, 0.001)))
    return points


def millisecond_graph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """The baseline's graph: whole-millisecond weights, the fastest of parallel edges."""
    simple = nx.DiGraph()
    for u, v, d in graph.edges(data=True):
        ms = round(d["travel_time"] * 1000)
        if not simple.has_edge(u, v) or simple[u][v]["ms"] > ms:
            simple.add_edge(u, v, ms=ms)
    return simple


def bench_size(
    network: RoadNetwork, simple: nx.DiGraph, n: int, *, seed: int, repeats: int, budget: float
) -> dict[str, Any]:
    graph = network.graph(Mode.DRIVE)
    points = sample_points(network, n, seed)
    seconds, m = median_time(lambda: travel_matrix(network, points, modes=[Mode.DRIVE]), repeats)
    tracemalloc.start()
    travel_matrix(network, points, modes=[Mode.DRIVE])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    snapped = snap_points(graph, m.points, door_walk_kph=network.settings.door_walk_kph)
    sources = list(dict.fromkeys(snapped.node.tolist()))
    rng = random.Random(seed)
    rng.shuffle(sources)
    secs = m.seconds[Mode.DRIVE]
    overhead = network.settings.stop_overhead_s[Mode.DRIVE]
    rows_of: dict[Any, list[int]] = {}
    for i, node in enumerate(snapped.node.tolist()):
        rows_of.setdefault(node, []).append(i)
    # Choose the sources networkx can do within the budget, then time that same sample
    # `repeats` times and take the median (the check of results runs once, untimed).
    timed, spent, identical, pairs = 0, 0.0, True, 0
    while timed < len(sources) and (timed < 3 or spent < budget):
        started = time.perf_counter()
        road = nx.single_source_dijkstra_path_length(simple, sources[timed], weight="ms")
        spent += time.perf_counter() - started
        # Every point at this source node, to every point: the door-to-door seconds must match.
        for i in rows_of[sources[timed]]:
            for j, node in enumerate(snapped.node.tolist()):
                if i != j:
                    total = road[node] + snapped.access_ms[i] + snapped.access_ms[j]
                    identical &= bool(secs[i, j] == round(total / 1000) + overhead)
                    pairs += 1
        timed += 1
    sample = sources[:timed]
    spent, _ = median_time(
        lambda: [nx.single_source_dijkstra_path_length(simple, s, weight="ms") for s in sample],
        max(1, repeats - 1),
    )
    nx_seconds = spent / timed * len(sources)
    return {
        "n": n,
        "unique_nodes": len(sources),
        "seconds": round(seconds, 3),
        "networkx_seconds": round(nx_seconds, 2),
        "networkx_sources_timed": timed,
        "networkx_extrapolated": timed < len(sources),
        "speedup": round(nx_seconds / seconds, 1),
        "identical": identical,
        "pairs_checked": pairs,
        "peak_memory_mb": round(peak / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--osm", type=Path, default=DEFAULT_OSM, help="OSM extract (.osm.pbf)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--repeats", type=int, default=3, help="timings are the median of these")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--nx-budget",
        type=float,
        default=20.0,
        help="seconds of networkx per size, then extrapolate",
    )
    ap.add_argument("--json", type=Path, help="write results here")
    args = ap.parse_args(argv)
    if not args.osm.is_file():
        print(f"no OSM extract at {args.osm}; pass --osm PATH", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="carerun-bench-") as tmp:
        builds = []
        for i in range(args.repeats):
            started = time.perf_counter()
            network_from_file(args.osm, modes=[Mode.DRIVE], cache_dir=Path(tmp) / f"empty{i}")
            builds.append(time.perf_counter() - started)
        build = statistics.median(builds)
        cached, network = median_time(
            lambda: network_from_file(args.osm, modes=[Mode.DRIVE], cache_dir=Path(tmp) / "empty0"),
            args.repeats,
        )
    graph = network.graph(Mode.DRIVE)
    print(f"{network}")
    print(f"drive graph build: {build:.2f} s (empty cache), {cached:.3f} s (cached)")

    carerun_settings.use_cache = False  # time the computation, not the matrix cache
    simple = millisecond_graph(graph)
    travel_matrix(network, sample_points(network, 10, args.seed), modes=[Mode.DRIVE])  # imports
    records = []
    print(
        f"{'n':>6} {'nodes':>6} {'carerun s':>10} {'networkx s':>11} {'speedup':>8} "
        f"{'identical':>10} {'peak MB':>8}"
    )
    for n in args.sizes:
        rec = bench_size(
            network, simple, n, seed=args.seed, repeats=args.repeats, budget=args.nx_budget
        )
        records.append(rec)
        star = "*" if rec["networkx_extrapolated"] else " "
        print(
            f"{rec['n']:>6} {rec['unique_nodes']:>6} {rec['seconds']:>10.3f} "
            f"{rec['networkx_seconds']:>10.2f}{star} {rec['speedup']:>7.1f}x "
            f"{rec['identical']!s:>10} {rec['peak_memory_mb']:>8.1f}"
        )
    if any(r["networkx_extrapolated"] for r in records):
        print("* networkx timed on a sample of sources and extrapolated linearly to all sources")

    if args.json:
        out = {
            "osm": str(args.osm),
            "graph_nodes": len(graph),
            "graph_edges": len(graph.edges),
            "graph_build_seconds": round(build, 3),
            "graph_cached_seconds": round(cached, 3),
            "repeats": args.repeats,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(),
            "records": records,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
