"""Road graphs per mode from real OpenStreetMap extracts (../shared/data/osm, see PROVENANCE.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
import shapely

import carerun.network as network_module
from carerun import NetworkError
from carerun import settings as carerun_settings
from carerun.model import Mode
from carerun.network import (
    WAY_FILTERS,
    NetworkSettings,
    RoadNetwork,
    default_network,
    load_network,
    network_from_file,
    network_from_place,
    save_graphml,
    way_allowed,
)

# Around the Institute for Transport Studies, Leeds: the tiny extract spans about 2 x 1 km.
LEEDS_CENTRE = (53.8085, -1.5585)


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("carerun-cache")


@pytest.fixture(scope="session")
def rutland_drive(rutland_pbf: Path, cache_root: Path) -> RoadNetwork:
    return network_from_file(rutland_pbf, modes=[Mode.DRIVE], cache_dir=cache_root)


@pytest.fixture(scope="session")
def leeds(leeds_pbf: Path, cache_root: Path) -> RoadNetwork:
    return network_from_file(leeds_pbf, cache_dir=cache_root)


def assert_osmnx_conventions(graph: nx.MultiDiGraph, net: RoadNetwork) -> None:
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.graph["crs"].lower() == "epsg:4326"
    assert nx.is_strongly_connected(graph)
    west, south, east, north = net.bounds
    for _, data in graph.nodes(data=True):
        assert west <= data["x"] <= east and south <= data["y"] <= north
    for _, _, data in graph.edges(data=True):
        assert data["length"] >= 0 and data["speed_kph"] > 0
        assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6))


def test_rutland_drive_graph_is_a_connected_osmnx_graph(rutland_drive: RoadNetwork) -> None:
    graph = rutland_drive.graph(Mode.DRIVE)
    assert len(graph) > 1000  # a county of towns and villages, simplified
    assert_osmnx_conventions(graph, rutland_drive)
    west, south, east, north = rutland_drive.bounds
    assert -1.0 < west < east < -0.3 and 52.4 < south < north < 52.9  # Rutland
    assert rutland_drive.contains(52.670, -0.727)  # Oakham
    assert not rutland_drive.contains(51.507, -0.128)  # London
    assert "drive:" in str(rutland_drive) and "nodes" in str(rutland_drive)


def test_drive_speeds_use_maxspeed_then_the_uk_table(rutland_drive: RoadNetwork) -> None:
    graph = rutland_drive.graph(Mode.DRIVE)
    tagged = untagged = 0
    for _, _, data in graph.edges(data=True):
        if data.get("maxspeed") == "30 mph":
            assert data["speed_kph"] == pytest.approx(30 * 1.60934)
            tagged += 1
        elif "maxspeed" not in data and data["highway"] == "residential":
            assert data["speed_kph"] == 32
            untagged += 1
    assert tagged and untagged


def test_every_mode_of_leeds(leeds: RoadNetwork) -> None:
    assert leeds.modes == (Mode.DRIVE, Mode.WALK, Mode.CYCLE)
    for mode in leeds.modes:
        assert_osmnx_conventions(leeds.graph(mode), leeds)
    walk = leeds.graph(Mode.WALK)
    assert len(walk) > len(leeds.graph(Mode.DRIVE))  # footways and paths
    assert all(walk.has_edge(v, u) for u, v in walk.edges())  # one-way rules do not apply
    assert {d["speed_kph"] for *_, d in walk.edges(data=True)} == {4.8}
    assert {d["speed_kph"] for *_, d in leeds.graph(Mode.CYCLE).edges(data=True)} == {15.0}
    assert leeds.contains(*LEEDS_CENTRE)


def test_settings_override_speeds(leeds_pbf: Path, tmp_path: Path) -> None:
    slow = NetworkSettings(drive_kph={"residential": 20}, walk_kph=3.0)
    net = network_from_file(
        leeds_pbf, modes=[Mode.DRIVE, Mode.WALK], settings=slow, cache_dir=tmp_path
    )
    residential = [
        d
        for *_, d in net.graph(Mode.DRIVE).edges(data=True)
        if d["highway"] == "residential" and "maxspeed" not in d
    ]
    assert residential and all(d["speed_kph"] == 20 for d in residential)
    assert {d["speed_kph"] for *_, d in net.graph(Mode.WALK).edges(data=True)} == {3.0}
    assert net.settings.drive_kph["motorway"] == 96  # the rest of the table stays


@pytest.mark.parametrize(
    "bad", [{"walk_kph": 0}, {"drive_kph": {"primary": -5}}, {"stop_overhead_s": {"drive": -1}}]
)
def test_settings_reject_impossible_values(bad: dict) -> None:
    with pytest.raises(NetworkError, match="must"):
        NetworkSettings(**bad)


def test_way_filters_copy_osmnx() -> None:
    from osmnx._overpass import _get_network_filter

    for mode, network_type in network_module.OSMNX_NETWORK_TYPE.items():
        text = _get_network_filter(network_type)
        rules = re.findall(r'\["([^"]+)"!~"([^"]+)"\]', text)
        assert tuple(rules) == WAY_FILTERS[mode]


@pytest.mark.parametrize(
    ("tags", "drive", "walk", "cycle"),
    [
        ({"highway": "residential"}, True, True, True),
        ({"highway": "unclassified", "oneway": "yes"}, True, True, True),
        ({"highway": "footway"}, False, True, False),
        ({"highway": "cycleway"}, False, False, True),
        ({"highway": "motorway"}, True, False, False),
        ({"highway": "service", "service": "driveway"}, False, True, True),
        ({"highway": "residential", "access": "private"}, False, False, False),
        ({"highway": "primary", "sidewalk": "separate"}, True, False, True),
        ({"highway": "track", "bicycle": "no"}, False, True, False),
        ({"building": "yes"}, False, False, False),
    ],
)
def test_way_allowed(tags: dict[str, str], drive: bool, walk: bool, cycle: bool) -> None:
    assert (
        way_allowed(tags, Mode.DRIVE),
        way_allowed(tags, Mode.WALK),
        way_allowed(tags, Mode.CYCLE),
    ) == (drive, walk, cycle)


def test_bbox_and_polygon_clip(leeds_pbf: Path, leeds: RoadNetwork, tmp_path: Path) -> None:
    west, south, east, north = leeds.bounds
    mid = (west + east) / 2
    box = (west, south, mid, north)
    clipped = network_from_file(leeds_pbf, modes=[Mode.WALK], bbox=box, cache_dir=tmp_path)
    graph = clipped.graph(Mode.WALK)
    assert 0 < len(graph) < len(leeds.graph(Mode.WALK))
    # Simplified edges may bend outside, but every node (junction or dead end) is inside.
    assert all(
        west <= d["x"] <= mid and south <= d["y"] <= north for _, d in graph.nodes(data=True)
    )
    poly = shapely.box(*box)
    same = network_from_file(leeds_pbf, modes=[Mode.WALK], polygon=poly, cache_dir=tmp_path)
    assert set(same.graph(Mode.WALK).nodes) == set(graph.nodes)


def test_area_without_roads_fails_clearly(leeds_pbf: Path, tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="no drive roads inside the area"):
        network_from_file(
            leeds_pbf, modes=[Mode.DRIVE], bbox=(0.0, 50.0, 0.1, 50.1), cache_dir=tmp_path
        )
    with pytest.raises(NetworkError, match="west < east"):
        network_from_file(leeds_pbf, bbox=(1.0, 50.0, 0.0, 51.0), cache_dir=tmp_path)


def test_graphml_round_trip(leeds: RoadNetwork, tmp_path: Path) -> None:
    path = save_graphml(leeds, tmp_path / "leeds-drive.graphml", mode=Mode.DRIVE)
    back = network_from_file(path, modes=[Mode.DRIVE], cache_dir=tmp_path / "cache")
    before, after = leeds.graph(Mode.DRIVE), back.graph(Mode.DRIVE)
    assert set(before.nodes) == set(after.nodes)
    assert set(before.edges(keys=True)) == set(after.edges(keys=True))
    for u, v, k, data in before.edges(keys=True, data=True):
        assert after.edges[u, v, k]["travel_time"] == pytest.approx(data["travel_time"])


# Builds an extract's graphs, cache off, and prints each edge's values that readers use.
_EDGES_SCRIPT = """
import json, sys
from carerun import settings
from carerun.model import Mode
from carerun.network import network_from_file
settings.use_cache = False
net = network_from_file(sys.argv[1], modes=[Mode.DRIVE, Mode.CYCLE])
print(json.dumps([
    [m.value, u, v, k, d["travel_time"], str(d.get("highway")), str(d.get("name"))]
    for m in (Mode.DRIVE, Mode.CYCLE)
    for u, v, k, d in sorted(net.graph(m).edges(keys=True, data=True), key=lambda e: e[:3])
]))
"""


def test_the_same_extract_gives_the_same_graphs_in_any_process(leeds_pbf: Path) -> None:
    # Simplification merges ways' names and classes into lists built from a set, in an order
    # that follows each process's string hashing; carerun sorts them.
    def edges(hash_seed: str) -> list[list[object]]:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        cmd = [sys.executable, "-c", _EDGES_SCRIPT, str(leeds_pbf)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    first = edges("1")
    assert any(row[6].startswith("[") for row in first)  # the extract has merged names
    assert edges("2") == first


def test_second_load_comes_from_the_cache(
    leeds_pbf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = network_from_file(leeds_pbf, modes=[Mode.DRIVE, Mode.CYCLE], cache_dir=tmp_path)
    assert len(list((tmp_path / "graphs").glob("*.pickle"))) == 2

    def no_reading(path: Path) -> None:
        raise AssertionError("the OSM file was read again")

    monkeypatch.setattr(network_module, "_read_highways", no_reading)
    # Same contents under another name: keyed by contents, so still a cache hit.
    copy = tmp_path / "renamed.osm.pbf"
    shutil.copyfile(leeds_pbf, copy)
    second = network_from_file(copy, modes=[Mode.CYCLE, Mode.DRIVE], cache_dir=tmp_path)
    for mode in (Mode.DRIVE, Mode.CYCLE):
        a, b = first.graph(mode), second.graph(mode)
        assert nx.utils.edges_equal(
            a.edges(keys=True, data="travel_time"), b.edges(keys=True, data="travel_time")
        )
    # A different speed is a different graph: it must be built, so the file is read.
    with pytest.raises(AssertionError, match="read again"):
        network_from_file(
            copy, modes=[Mode.CYCLE], settings=NetworkSettings(cycle_kph=12), cache_dir=tmp_path
        )


def test_cache_can_be_turned_off(
    leeds_pbf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(carerun_settings, "use_cache", False)
    network_from_file(leeds_pbf, modes=[Mode.DRIVE], cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_bad_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="does not exist"):
        network_from_file(tmp_path / "missing.osm.pbf")
    text = tmp_path / "roads.txt"
    text.write_text("hello")
    with pytest.raises(NetworkError, match="unknown road-network file type"):
        network_from_file(text)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    with pytest.raises(NetworkError, match="not a readable OpenStreetMap file"):
        network_from_file(broken, cache_dir=tmp_path)
    nothing = tmp_path / "empty.osm"
    nothing.write_text('<?xml version="1.0"?>\n<osm version="0.6"></osm>\n')
    with pytest.raises(NetworkError, match="no roads usable"):
        network_from_file(nothing, cache_dir=tmp_path)


def test_place_name_offline_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    # Nothing listens on port 9 of this machine: the geocoder call fails at once, as offline.
    monkeypatch.setattr(ox.settings, "nominatim_url", "http://127.0.0.1:9/")
    monkeypatch.setattr(carerun_settings, "requests_timeout", 2)
    with pytest.raises(NetworkError, match=r"needs the internet.*--osm FILE"):
        network_from_place("Oakham, Rutland, UK", cache_dir=tmp_path)
    with pytest.raises(NetworkError, match="needs the internet"):
        load_network("Oakham, Rutland, UK", cache_dir=tmp_path)
    assert ox.settings.requests_timeout != 2  # osmnx's own settings are restored


def test_load_network_reads_files_and_the_default(leeds_pbf: Path, tmp_path: Path) -> None:
    net = load_network(str(leeds_pbf), modes=[Mode.WALK], cache_dir=tmp_path)
    assert net.modes == (Mode.WALK,)
    with pytest.raises(NetworkError, match="does not exist"):
        load_network("no-such-town.osm.pbf", cache_dir=tmp_path)
    helsinki = load_network("default", modes=[Mode.DRIVE], cache_dir=tmp_path)
    assert helsinki.contains(60.170, 24.945)  # central Helsinki
    assert default_network(modes=[Mode.DRIVE], cache_dir=tmp_path).key == helsinki.key


def test_missing_mode_is_named(leeds: RoadNetwork) -> None:
    one = RoadNetwork({Mode.WALK: leeds.graph(Mode.WALK)})
    with pytest.raises(NetworkError, match="no 'drive' graph"):
        one.graph(Mode.DRIVE)
