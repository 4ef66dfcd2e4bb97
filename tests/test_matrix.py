"""Travel matrices over road graphs: hand-built graphs whose answers are worked out below, and
the real Rutland and Leeds extracts checked against networkx's own Dijkstra."""

from __future__ import annotations

import math
import random
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carerun import InputError, NetworkError
from carerun.matrix import (
    TravelMatrix,
    roster_matrix,
    snap_points,
    straight_line_matrix,
    travel_matrix,
)
from carerun.model import Carer, Location, Mode, Provider, Roster, TimeWindow, Visit
from carerun.network import NetworkSettings, RoadNetwork, network_from_file

# One degree of latitude is ~111.2 km; at 52.6°N a degree of longitude is ~67.5 km.
LAT0, LON0 = 52.6, -0.7
DEG_LAT_M = 111_195.0


def line_graph(*, oneway: bool = False) -> nx.MultiDiGraph:
    """Three junctions on a meridian, 1 km apart: a -(100 s)- b -(50 s)- c, plus a slow
    parallel a→b edge (300 s) that must never be used."""
    g = nx.MultiDiGraph(crs="epsg:4326")
    for i, name in enumerate("abc"):
        g.add_node(name, x=LON0, y=LAT0 + i * 1000 / DEG_LAT_M)
    g.add_edge("a", "b", length=1000.0, travel_time=100.0)
    g.add_edge("a", "b", length=900.0, travel_time=300.0)
    g.add_edge("b", "c", length=1000.0, travel_time=50.0)
    if not oneway:
        g.add_edge("b", "a", length=1000.0, travel_time=100.0)
        g.add_edge("c", "b", length=1000.0, travel_time=50.0)
    else:
        g.add_edge("c", "a", length=2500.0, travel_time=400.0)
    return g


def node_point(g: nx.MultiDiGraph, n: str | int) -> tuple[float, float]:
    return (g.nodes[n]["y"], g.nodes[n]["x"])


def test_times_on_a_hand_built_graph() -> None:
    g = line_graph()
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 120}))
    pts = [node_point(g, n) for n in "abc"]
    m = travel_matrix(net, pts + pts[:1], snap="node")  # a repeated place shares a row
    assert len(m) == 3
    secs = m.seconds[Mode.DRIVE]
    # Fastest a→c is 100 + 50 s on the road, plus the 120 s stop overhead.
    assert secs.tolist() == [[0, 220, 270], [220, 0, 170], [270, 170, 0]]
    assert m.distance(Mode.DRIVE, pts[0], pts[2]) == pytest.approx(2000.0, abs=0.5)
    assert m.seconds[Mode.DRIVE].dtype == np.int32


def test_one_way_streets_make_the_matrix_asymmetric() -> None:
    g = line_graph(oneway=True)
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 0}))
    a, c = node_point(g, "a"), node_point(g, "c")
    m = travel_matrix(net, [a, c], snap="node")
    assert m.time(Mode.DRIVE, a, c) == 150
    assert m.time(Mode.DRIVE, c, a) == 400
    assert m.distance(Mode.DRIVE, c, a) == pytest.approx(2500.0)


def test_a_door_off_the_road_adds_the_walk_to_it() -> None:
    g = line_graph()
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 0}))
    # 100 m east of the road, 100 m north of a: the foot is 10 % along a→b, so the car joins at a.
    east = 100.0 / (DEG_LAT_M * math.cos(math.radians(LAT0)))
    door = (LAT0 + 100 / DEG_LAT_M, LON0 + east)
    snapped = snap_points(g, [door], snap="edge", door_walk_kph=4.8)
    assert snapped.node[0] == "a"
    assert snapped.door_metres[0] == pytest.approx(100.0, rel=0.01)
    # 100 m at 4.8 km/h is 75 s; the 100 m along a→b at that edge's speed is 10 s.
    assert snapped.access_ms[0] == pytest.approx(85_000, rel=0.01)
    c = node_point(g, "c")
    m = travel_matrix(net, [door, c])
    assert m.time(Mode.DRIVE, door, c) == 150 + 85
    assert m.distance(Mode.DRIVE, door, c) == pytest.approx(2000 + 200, rel=0.01)
    by_node = travel_matrix(net, [door, c], snap="node")
    assert by_node.time(Mode.DRIVE, door, c) == 150 + round(math.hypot(100, 100) / (4.8 / 3.6))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(LAT0 - 0.01, LAT0 + 0.03), st.floats(LON0 - 0.01, LON0 + 0.01)),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_matrix_invariants(points: list[tuple[float, float]]) -> None:
    net = RoadNetwork({Mode.WALK: line_graph()}, NetworkSettings())
    m = travel_matrix(net, points)
    secs, dist = m.seconds[Mode.WALK], m.metres[Mode.WALK]
    assert (np.diag(secs) == 0).all() and (np.diag(dist) == 0).all()
    off = ~np.eye(len(points), dtype=bool)
    assert (secs[off] >= 0).all() and (dist[off] >= 0).all()
    # Symmetric graph and symmetric access: the matrix is symmetric up to rounding.
    assert np.abs(secs - secs.T).max() <= 1


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_random_graphs_match_networkx(data: st.DataObject) -> None:
    """Trees with two-way roads (dead ends, pruned before Dijkstra) plus one-way shortcuts."""
    n = data.draw(st.integers(2, 9))
    times = st.integers(0, 500)
    g = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(n):
        g.add_node(i, x=LON0 + i * 0.01, y=LAT0 + (i % 3) * 0.01)
    for i in range(1, n):
        j = data.draw(st.integers(0, i - 1))
        g.add_edge(i, j, length=100.0, travel_time=float(data.draw(times)))
        g.add_edge(j, i, length=100.0, travel_time=float(data.draw(times)))
    for _ in range(data.draw(st.integers(0, 4))):
        i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
        g.add_edge(i, j, length=50.0, travel_time=float(data.draw(times)))
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 0}))
    pts = [node_point(g, i) for i in range(n)]
    secs = travel_matrix(net, pts, snap="node").seconds[Mode.DRIVE]
    for i in range(n):
        best = nx.single_source_dijkstra_path_length(g, i, weight="travel_time")
        assert [secs[i, j] for j in range(n)] == [round(best[j]) for j in range(n)]


def ring_with_trees() -> nx.MultiDiGraph:
    """A square of two-way roads r0..r3 (100 s each) with a tree hanging at r0:
    r0 -(10 s)- t1, t1 -(10 s)- t2, t1 -(20 s)- t3, and t3 -(5 s)- t4."""
    g = nx.MultiDiGraph(crs="epsg:4326")
    spots = {"r0": (0, 0), "r1": (0, 1), "r2": (1, 1), "r3": (1, 0)}
    spots |= {"t1": (-1, 0), "t2": (-2, 0), "t3": (-1, -1), "t4": (-2, -1)}
    for name, (dy, dx) in spots.items():
        g.add_node(name, x=LON0 + dx * 0.01, y=LAT0 + dy * 0.01)
    roads = [("r0", "r1", 100), ("r1", "r2", 100), ("r2", "r3", 100), ("r3", "r0", 100)]
    roads += [("r0", "t1", 10), ("t1", "t2", 10), ("t1", "t3", 20), ("t3", "t4", 5)]
    for a, b, secs in roads:
        g.add_edge(a, b, length=secs * 10.0, travel_time=float(secs))
        g.add_edge(b, a, length=secs * 10.0, travel_time=float(secs))
    return g


def test_two_points_in_one_dead_end_tree_stay_inside_it() -> None:
    g = ring_with_trees()
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 0}))
    names = ["t2", "t4", "r2", "t1", "r0"]
    m = travel_matrix(net, [node_point(g, n) for n in names], snap="node")
    secs = m.seconds[Mode.DRIVE]
    # t2 → t4 meets at t1: 10 + 20 + 5, not out through r0 and back (+ 20).
    assert secs[0, 1] == secs[1, 0] == 35
    # Out of the tree through its root r0, then half way round the square.
    assert secs[0, 2] == secs[2, 0] == 20 + 200
    assert secs[1, 2] == 35 + 200
    assert secs[3, 4] == 10 and secs[1, 3] == 25
    assert m.metres[Mode.DRIVE][0, 1] == pytest.approx(350.0)


def test_a_changed_graph_is_indexed_afresh() -> None:
    g = line_graph()
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 0}))
    a, c = node_point(g, "a"), node_point(g, "c")
    assert travel_matrix(net, [a, c], snap="node").time(Mode.DRIVE, a, c) == 150
    g.add_edge("a", "c", length=1500.0, travel_time=60.0)
    assert travel_matrix(net, [a, c], snap="node").time(Mode.DRIVE, a, c) == 60


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cores_with_trees_match_networkx_exactly(data: st.DataObject) -> None:
    """A ring (possibly one-way; or none) with random trees hanging off it, some tree roads
    one-way (then the graph may fall apart), zero times, parallel roads, extra shortcuts; points
    on a random subset of nodes. Seconds and metres must equal networkx's Dijkstra on the
    documented integer weights exactly, or both must find some pair unreachable."""
    ring = data.draw(st.sampled_from([0, 3, 4, 5]))
    n = max(ring, 1) + data.draw(st.integers(0, 10))
    ms = st.integers(0, 400_000)  # whole milliseconds
    dm = st.integers(0, 5_000)  # whole decimetres
    g = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(n):
        g.add_node(i, x=LON0 + i * 0.01, y=LAT0 + (i % 4) * 0.01)

    def road(a: int, b: int) -> None:
        g.add_edge(a, b, length=data.draw(dm) / 10, travel_time=data.draw(ms) / 1000)

    two_way_ring = data.draw(st.booleans())
    for i in range(ring):
        road(i, (i + 1) % ring)
        if two_way_ring:
            road((i + 1) % ring, i)
    for i in range(max(ring, 1), n):
        j = data.draw(st.integers(0, i - 1))
        one_way = data.draw(st.sampled_from([None, None, None, None, "in", "out"]))
        if one_way != "in":
            road(i, j)
        if one_way != "out":
            road(j, i)
        if data.draw(st.integers(0, 5)) == 0:
            road(j, i)  # a parallel road
    for _ in range(data.draw(st.integers(0, 2))):
        road(data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1)))
    chosen = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    net = RoadNetwork({Mode.DRIVE: g}, NetworkSettings(stop_overhead_s={Mode.DRIVE: 0}))
    pts = [node_point(g, i) for i in chosen]

    tie = 10**12
    exact = nx.DiGraph()
    exact.add_nodes_from(g)
    for u, v, d in g.edges(data=True):
        w = round(d["travel_time"] * 1000) * tie + round(d["length"] * 10)
        if not exact.has_edge(u, v) or exact[u][v]["w"] > w:
            exact.add_edge(u, v, w=w)
    best = {i: nx.single_source_dijkstra_path_length(exact, i, weight="w") for i in chosen}
    if any(j not in best[i] for i in chosen for j in chosen):
        with pytest.raises(NetworkError, match="cannot reach"):
            travel_matrix(net, pts, snap="node")
        return
    m = travel_matrix(net, pts, snap="node")
    secs, dist = m.seconds[Mode.DRIVE], m.metres[Mode.DRIVE]
    for a, i in enumerate(chosen):
        for b, j in enumerate(chosen):
            want_ms, want_dm = divmod(best[i][j], tie)
            assert secs[a, b] == round(want_ms / 1000)
            assert dist[a, b] == want_dm / 10


def test_unknown_mode_and_bad_points_fail_clearly() -> None:
    net = RoadNetwork({Mode.DRIVE: line_graph()})
    with pytest.raises(NetworkError, match="no 'walk' graph"):
        travel_matrix(net, [(LAT0, LON0)], modes=[Mode.WALK])
    with pytest.raises(InputError, match="latitude"):
        travel_matrix(net, [(float("nan"), LON0)])
    with pytest.raises(InputError, match="`snap`"):
        travel_matrix(net, [(LAT0, LON0)], snap="road")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rutland(rutland_pbf: Path, tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return network_from_file(
        rutland_pbf, modes=[Mode.DRIVE], cache_dir=tmp_path_factory.mktemp("cache")
    )


def near_nodes(graph: nx.MultiDiGraph, n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    nodes = list(graph.nodes)
    out = []
    for _ in range(n):
        d = graph.nodes[rng.choice(nodes)]
        out.append((d["y"] + rng.uniform(-0.001, 0.001), d["x"] + rng.uniform(-0.001, 0.001)))
    return out


def test_rutland_matches_networkx_dijkstra(rutland: RoadNetwork, tmp_path: Path) -> None:
    graph = rutland.graph(Mode.DRIVE)
    points = near_nodes(graph, 300, seed=7)
    m = travel_matrix(rutland, points, cache_dir=tmp_path)
    secs, dist = m.seconds[Mode.DRIVE], m.metres[Mode.DRIVE]
    snapped = snap_points(graph, m.points)
    # Plain networkx with Python's exact integers: whole milliseconds first, then decimetres to
    # break ties (the documented rule), the best of parallel edges.
    tie = 10**12
    simple = nx.DiGraph()
    for u, v, d in graph.edges(data=True):
        w = round(d["travel_time"] * 1000) * tie + round(d["length"] * 10)
        if not simple.has_edge(u, v) or simple[u][v]["w"] > w:
            simple.add_edge(u, v, w=w)
    overhead = rutland.settings.stop_overhead_s[Mode.DRIVE]
    rng = random.Random(3)
    for i in rng.sample(range(len(m)), 8):
        road = nx.single_source_dijkstra_path_length(simple, snapped.node[i], weight="w")
        for j in rng.sample(range(len(m)), 40):
            if i == j:
                continue
            ms, dm = divmod(road[snapped.node[j]], tie)
            total = ms + snapped.access_ms[i] + snapped.access_ms[j]
            assert secs[i, j] == round(total / 1000) + overhead
            along = dm / 10 + snapped.access_metres[i] + snapped.access_metres[j]
            assert dist[i, j] == pytest.approx(along, abs=1e-6)


def test_matrices_are_cached(rutland: RoadNetwork, tmp_path: Path) -> None:
    points = near_nodes(rutland.graph(Mode.DRIVE), 40, seed=11)
    first = travel_matrix(rutland, points, cache_dir=tmp_path)
    files = list((tmp_path / "matrices").glob("*.npz"))
    assert len(files) == 1
    # Tamper with the cached entry: a second call must return what the file holds.
    with np.load(files[0]) as data:
        secs, dist = data["seconds"].copy(), data["metres"]
    secs[0, 1] += 7
    np.savez(files[0], seconds=secs, metres=dist)
    second = travel_matrix(rutland, points, cache_dir=tmp_path)
    assert second.seconds[Mode.DRIVE][0, 1] == first.seconds[Mode.DRIVE][0, 1] + 7
    assert np.array_equal(second.metres[Mode.DRIVE], first.metres[Mode.DRIVE])
    other = travel_matrix(rutland, points, snap="node", cache_dir=tmp_path)
    assert len(list((tmp_path / "matrices").glob("*.npz"))) == 2
    assert isinstance(other, TravelMatrix)


def test_walking_is_slower_than_driving(leeds_pbf: Path, tmp_path: Path) -> None:
    net = network_from_file(leeds_pbf, cache_dir=tmp_path)
    # Two doors ~1 km apart across the Leeds extract.
    a, b = (53.8065, -1.5640), (53.8095, -1.5520)
    m = travel_matrix(net, [a, b], cache_dir=tmp_path)
    walk, drive, cycle = (m.time(mode, a, b) for mode in (Mode.WALK, Mode.DRIVE, Mode.CYCLE))
    assert walk > cycle and walk > drive
    assert 600 < walk < 1800  # 0.8–2.4 km of footpaths at 4.8 km/h
    line = straight_line_matrix([a, b], modes=[Mode.WALK])
    assert m.distance(Mode.WALK, a, b) >= line.distance(Mode.WALK, a, b) / 1.3 - 1


def test_roster_matrix_uses_the_carers_modes(leeds_pbf: Path, tmp_path: Path) -> None:
    net = network_from_file(leeds_pbf, modes=[Mode.WALK, Mode.DRIVE], cache_dir=tmp_path)
    home, base = Location(53.8065, -1.5640), Location(53.8095, -1.5520)
    roster = Roster(
        visits=(Visit("v1", "c1", 0, TimeWindow(8 * 3600, 9 * 3600), 1800, home),),
        carers=(Carer("k1", "p1", base, mode=Mode.WALK),),
        providers=(Provider("p1"),),
    )
    m = roster_matrix(net, roster, cache_dir=tmp_path)
    assert m.modes == (Mode.WALK,)
    assert home in m and base in m and m.time(Mode.WALK, home, base) > 0
