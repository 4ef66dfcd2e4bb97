"""Road-graph build and many-to-many travel matrices on Rutland, against networkx's Dijkstra.

Measures, in one run: building the driving graph from the Rutland extract (empty cache, then
cached), and :func:`carerun.matrix.travel_matrix` for n random visit doors (seeded, within
~100 m of graph nodes; snapping included) against the plain networkx way of getting the same
numbers: ``nx.single_source_dijkstra_path_length(graph, s, weight="travel_time")`` on the same
graph from every distinct snapped node ``s`` (Dijkstra only: networkx is not charged for
snapping or for assembling a matrix, which favours it).

carerun is timed twice per size: *warm*, a further call on a network already used once (what a
study computing several matrices pays; the per-graph snapping index and routing core are built
on the first call), and *cold*, the first call on a freshly loaded network (index and core built
in the call). Both are medians of ``--repeats`` calls. networkx runs from every distinct node
when that fits ``--nx-budget`` seconds, else from a random sample and is extrapolated linearly
(marked ``*``); its time is the median of ``--repeats`` passes over the same sources. A second,
clearly labelled comparison charges networkx one Dijkstra per visit location (n), as a naive
caller would run it — always extrapolated from the per-source time.

``identical`` checks, for ``--check-sources`` random sources, every point at that node against
every other point: carerun's door-to-door seconds must equal exactly, and its metres to 1e-6 m,
what networkx's Dijkstra gives on exact integer weights (whole milliseconds, then decimetres as
the tie-break: the documented rule). Also reported: how carerun's whole seconds compare with
networkx's float ``travel_time`` sums. Peak memory is tracemalloc's peak over one more, untimed,
cold call. Before every timed call or pass the garbage collector is run (untimed), so garbage
left by earlier work (networkx's dictionaries, unpickled graphs) is not charged to whichever
call happens to trigger its collection. The machine's load average is recorded: it is shared.

    python benchmarks/matrix.py --json benchmarks/results/matrix.json
    python benchmarks/matrix.py --sizes 500 --repeats 1

Data: ``../shared/data/osm/rutland-latest.osm.pbf`` (© OpenStreetMap contributors, ODbL; see
``../shared/data/osm/PROVENANCE.md``).
"""

from __future__ import annotations

import argparse
import gc
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
import numpy as np

from carerun import settings as carerun_settings
from carerun.matrix import TravelMatrix, snap_points, travel_matrix
from carerun.model import Mode
from carerun.network import RoadNetwork, network_from_file

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CARERUN_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OSM = DATA / "osm" / "rutland-latest.osm.pbf"
TIE = 10**12  # decimetres never reach this: ms * TIE + dm orders by time, then distance


def timed_runs(run: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Wall-clock seconds of each of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        gc.collect()  # garbage left by earlier work is not charged to this call
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return times, result


def median_time(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall-clock seconds of `repeats` calls, and the last result."""
    times, result = timed_runs(run, repeats)
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


def exact_graph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """The reference graph: ``ms * TIE + dm`` in Python integers, the best of parallel edges."""
    simple = nx.DiGraph()
    for u, v, d in graph.edges(data=True):
        w = round(d["travel_time"] * 1000) * TIE + round(d["length"] * 10)
        if not simple.has_edge(u, v) or simple[u][v]["w"] > w:
            simple.add_edge(u, v, w=w)
    return simple


def millisecond_graph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """The earlier, kinder baseline: a simple graph of whole-millisecond weights, built untimed."""
    simple = nx.DiGraph()
    for u, v, d in graph.edges(data=True):
        ms = round(d["travel_time"] * 1000)
        if not simple.has_edge(u, v) or simple[u][v]["ms"] > ms:
            simple.add_edge(u, v, ms=ms)
    return simple


def time_networkx(
    graph: nx.DiGraph, weight: str, sources: list[Any], *, budget: float, repeats: int
) -> tuple[float, int]:
    """Median seconds of networkx from the sources that fit `budget`, and how many those are."""
    timed, spent = 0, 0.0
    gc.collect()
    started = time.perf_counter()
    while timed < len(sources) and (timed < 3 or spent < budget):
        nx.single_source_dijkstra_path_length(graph, sources[timed], weight=weight)
        timed += 1
        spent = time.perf_counter() - started
    sample = sources[:timed]

    def again() -> None:
        for s in sample:
            nx.single_source_dijkstra_path_length(graph, s, weight=weight)

    times = [spent] + [median_time(again, 1)[0] for _ in range(repeats - 1)]
    return statistics.median(times), timed


def check_against_networkx(
    network: RoadNetwork, m: TravelMatrix, sources: list[Any]
) -> dict[str, Any]:
    """carerun against networkx's Dijkstra from `sources`, to every point (see module doc)."""
    graph = network.graph(Mode.DRIVE)
    exact = exact_graph(graph)
    snapped = snap_points(graph, m.points, door_walk_kph=network.settings.door_walk_kph)
    nodes = snapped.node.tolist()
    acc_ms, acc_m = snapped.access_ms, snapped.access_metres
    secs, dist = m.seconds[Mode.DRIVE], m.metres[Mode.DRIVE]
    overhead = network.settings.stop_overhead_s[Mode.DRIVE]
    rows_of: dict[Any, list[int]] = {}
    for i, node in enumerate(nodes):
        rows_of.setdefault(node, []).append(i)
    identical, pairs, float_same, float_diff = True, 0, 0, 0
    for s in sources:
        road = nx.single_source_dijkstra_path_length(exact, s, weight="w")
        ms = np.array([road[n] // TIE for n in nodes], dtype=np.float64)
        dm = np.array([road[n] % TIE for n in nodes], dtype=np.float64)
        tt = nx.single_source_dijkstra_path_length(graph, s, weight="travel_time")
        floats = np.array([tt[n] * 1000.0 for n in nodes])
        for i in rows_of[s]:
            other = np.arange(len(nodes)) != i
            want = np.rint((ms + acc_ms[i] + acc_ms) / 1000) + overhead
            along = dm / 10 + acc_m[i] + acc_m
            identical &= bool((secs[i, other] == want[other]).all())
            identical &= bool((np.abs(dist[i, other] - along[other]) <= 1e-6).all())
            naive = np.rint((floats + acc_ms[i] + acc_ms) / 1000) + overhead
            gap = np.abs(secs[i, other] - naive[other])
            float_same += int((gap == 0).sum())
            float_diff = max(float_diff, int(gap.max(initial=0)))
            pairs += int(other.sum())
    return {
        "identical": identical,
        "pairs_checked": pairs,
        "float_travel_time_same_share": round(float_same / max(pairs, 1), 5),
        "float_travel_time_max_gap_s": float_diff,
    }


def bench_size(
    network: RoadNetwork,
    osm: Path,
    cache: Path,
    n: int,
    *,
    seed: int,
    repeats: int,
    budget: float,
    check_sources: int,
) -> dict[str, Any]:
    graph = network.graph(Mode.DRIVE)
    points = sample_points(network, n, seed)

    def fresh() -> RoadNetwork:  # a new graph object: nothing built for it yet
        return network_from_file(osm, modes=[Mode.DRIVE], cache_dir=cache)

    def cold() -> float:
        net = fresh()
        gc.collect()
        started = time.perf_counter()
        travel_matrix(net, points, modes=[Mode.DRIVE])
        return time.perf_counter() - started

    colds = [cold() for _ in range(repeats)]
    cold_seconds = statistics.median(colds)
    travel_matrix(network, points, modes=[Mode.DRIVE])
    warms, m = timed_runs(lambda: travel_matrix(network, points, modes=[Mode.DRIVE]), repeats)
    warm_seconds = statistics.median(warms)
    net = fresh()
    tracemalloc.start()
    travel_matrix(net, points, modes=[Mode.DRIVE])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    snapped = snap_points(graph, m.points, door_walk_kph=network.settings.door_walk_kph)
    sources = list(dict.fromkeys(snapped.node.tolist()))
    random.Random(seed).shuffle(sources)
    nx_spent, timed = time_networkx(graph, "travel_time", sources, budget=budget, repeats=repeats)
    per_source = nx_spent / timed
    nx_seconds = per_source * len(sources)
    ms_spent, ms_timed = time_networkx(
        millisecond_graph(graph), "ms", sources, budget=budget, repeats=repeats
    )
    ms_seconds = ms_spent / ms_timed * len(sources)
    check = check_against_networkx(network, m, sources[:check_sources])
    return {
        "n": n,
        "unique_nodes": len(sources),
        "seconds": round(warm_seconds, 4),
        "cold_seconds": round(cold_seconds, 4),
        "seconds_each": [round(t, 4) for t in warms],
        "cold_seconds_each": [round(t, 4) for t in colds],
        "networkx_seconds": round(nx_seconds, 2),
        "networkx_ms_per_source": round(per_source * 1000, 2),
        "networkx_sources_timed": timed,
        "networkx_extrapolated": timed < len(sources),
        "speedup": round(nx_seconds / warm_seconds, 1),
        "speedup_cold": round(nx_seconds / cold_seconds, 1),
        "networkx_simple_ms_seconds": round(ms_seconds, 2),
        "networkx_simple_ms_extrapolated": ms_timed < len(sources),
        "speedup_simple_ms": round(ms_seconds / warm_seconds, 1),
        "networkx_per_visit_seconds": round(per_source * n, 2),
        "speedup_per_visit": round(per_source * n / warm_seconds, 1),
        **check,
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
        default=30.0,
        help="seconds of networkx per pass and size, then extrapolate",
    )
    ap.add_argument(
        "--check-sources", type=int, default=100, help="sources checked against networkx"
    )
    ap.add_argument("--json", type=Path, help="write results here")
    args = ap.parse_args(argv)
    if not args.osm.is_file():
        print(f"no OSM extract at {args.osm}; pass --osm PATH", file=sys.stderr)
        return 2

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="carerun-bench-") as tmp:
        builds = []
        for i in range(args.repeats):
            started = time.perf_counter()
            network_from_file(args.osm, modes=[Mode.DRIVE], cache_dir=Path(tmp) / f"empty{i}")
            builds.append(time.perf_counter() - started)
        build = statistics.median(builds)
        cache = Path(tmp) / "empty0"
        cached, network = median_time(
            lambda: network_from_file(args.osm, modes=[Mode.DRIVE], cache_dir=cache),
            args.repeats,
        )
        graph = network.graph(Mode.DRIVE)
        print(f"{network}")
        print(f"drive graph build: {build:.2f} s (empty cache), {cached:.3f} s (cached)")

        carerun_settings.use_cache = False  # time the computation, not the matrix cache
        travel_matrix(network, sample_points(network, 10, args.seed), modes=[Mode.DRIVE])
        records = []
        print(
            f"{'n':>6} {'nodes':>6} {'warm s':>8} {'cold s':>8} {'networkx s':>11} "
            f"{'speedup':>8} {'cold':>7} {'simple':>7} {'per-visit':>10} {'identical':>10} "
            f"{'peak MB':>8}"
        )
        for n in args.sizes:
            rec = bench_size(
                network,
                args.osm,
                cache,
                n,
                seed=args.seed,
                repeats=args.repeats,
                budget=args.nx_budget,
                check_sources=args.check_sources,
            )
            records.append(rec)
            star = "*" if rec["networkx_extrapolated"] else " "
            print(
                f"{rec['n']:>6} {rec['unique_nodes']:>6} {rec['seconds']:>8.3f} "
                f"{rec['cold_seconds']:>8.3f} {rec['networkx_seconds']:>10.2f}{star} "
                f"{rec['speedup']:>7.1f}x {rec['speedup_cold']:>6.1f}x "
                f"{rec['speedup_simple_ms']:>6.1f}x "
                f"{rec['speedup_per_visit']:>9.1f}x {rec['identical']!s:>10} "
                f"{rec['peak_memory_mb']:>8.1f}"
            )
    load_after = os.getloadavg()
    if any(r["networkx_extrapolated"] for r in records):
        print("* networkx timed on a sample of sources and extrapolated linearly to all sources")
    print("speedup: warm call; cold: the first call on a freshly loaded network")
    print("simple: networkx on a pre-built simple DiGraph of whole-millisecond weights (untimed)")
    print("per-visit: networkx charged one Dijkstra per visit location (extrapolated)")
    print(f"load average (1, 5, 15 min): before {load_before}, after {load_after}")

    if args.json:
        out = {
            "osm": str(args.osm),
            "graph_nodes": len(graph),
            "graph_edges": len(graph.edges),
            "graph_build_seconds": round(build, 3),
            "graph_cached_seconds": round(cached, 3),
            "repeats": args.repeats,
            "baseline": "nx.single_source_dijkstra_path_length(graph, s, weight='travel_time') "
            "from each distinct snapped node, same MultiDiGraph",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "python": platform.python_version(),
            "records": records,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
